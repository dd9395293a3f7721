//! What the benchmarks share: graph shapes, the programs that declare them,
//! the state an apply of them records, and the bench/test switch.
//!
//! Each bench binary uses a part of this module.
#![allow(dead_code)]

pub mod schedule;

use dafnck::core::stack::Desired;
use dafnck::core::state::{ResourceState, State};
use dafnck::core::testing::resources::Node;
use dafnck::core::{Handle, Stack, Value};

/// Whether the binary runs as a benchmark (`cargo bench` passes `--bench`)
/// rather than once at a tiny size (`cargo test --benches`, what CI checks).
pub fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A dependency graph: `deps[i]` are the nodes node `i` refers to, all
/// lower than `i`.
#[derive(Clone, Debug)]
pub struct Shape {
    /// Its name in reports.
    pub name: &'static str,
    /// Dependencies of each node.
    pub deps: Vec<Vec<usize>>,
}

impl Shape {
    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.deps.len()
    }

    /// The number of edges.
    pub fn edges(&self) -> usize {
        self.deps.iter().map(Vec::len).sum()
    }
}

/// A deterministic xorshift generator (no dependency, same numbers on
/// every machine).
pub struct Rng(u64);

impl Rng {
    /// A generator from a nonzero seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// The next number.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// A layered random DAG: each node refers to up to two of the 64 before it
/// (~2 edges per node), mostly nearby, so it is deep as well as wide.
pub fn layered(n: usize, seed: u64) -> Shape {
    let mut rng = Rng::new(seed);
    let deps = (0..n)
        .map(|i| {
            let mut d: Vec<usize> = (0..2)
                .filter(|_| i > 0)
                .map(|_| i - 1 - (rng.next() as usize % i.min(64)))
                .collect();
            d.sort_unstable();
            d.dedup();
            d
        })
        .collect();
    Shape {
        name: "layered",
        deps,
    }
}

/// A chain: each node refers to the one before it (depth n).
pub fn chain(n: usize) -> Shape {
    Shape {
        name: "chain",
        deps: (0..n)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect(),
    }
}

/// A wide fan-out: one root that every other node refers to (depth 2).
pub fn fan_out(n: usize) -> Shape {
    Shape {
        name: "fan_out",
        deps: (0..n)
            .map(|i| if i == 0 { vec![] } else { vec![0] })
            .collect(),
    }
}

/// The resource name of node `i`.
pub fn name(i: usize) -> String {
    format!("node-{i:06}")
}

/// The node index in a resource name made by [`name`].
pub fn index_of(name: &str) -> usize {
    name.strip_prefix("node-")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Declares `shape` in `stack`: node `i` is a [`Node`] referring to the ids
/// of its dependencies; those for which `changed(i)` get another value.
pub fn declare(stack: &mut Stack, shape: &Shape, changed: impl Fn(usize) -> bool) {
    let mut handles: Vec<Handle<Node>> = Vec::with_capacity(shape.len());
    for (i, deps) in shape.deps.iter().enumerate() {
        let node = Node {
            value: if changed(i) { "v2" } else { "v1" }.into(),
            key: "k".into(),
            refs: deps.iter().map(|&d| handles[d].out().node_id).collect(),
        };
        handles.push(stack.add(&name(i), node));
    }
}

/// A program that declares `shape`, unchanged.
pub fn program(shape: &Shape) -> impl FnOnce(&mut Stack) -> dafnck::core::Result<()> + '_ {
    move |stack| {
        declare(stack, shape, |_| false);
        Ok(())
    }
}

/// The checked program of `shape`; every `changed_every`-th node changed.
pub fn desired(shape: &Shape, changed_every: Option<usize>) -> Desired {
    let mut stack = Stack::new("bench");
    declare(&mut stack, shape, |i| {
        changed_every.is_some_and(|k| i % k == 0)
    });
    stack.into_desired().expect("a valid program")
}

/// The state an apply of `desired` (unchanged) would have recorded.
pub fn recorded(desired: &Desired) -> State {
    let mut state = State::empty("bench");
    state.lineage = "bench".into();
    state.serial = desired.nodes.len() as u64;
    let id = |name: &str| format!("id-{name}");
    for node in &desired.nodes {
        let inputs = node
            .inputs
            .resolve_refs(&mut |r| {
                Ok::<_, dafnck_core::computed::ComputeError>(Value::from(id(&r.resource)))
            })
            .expect("references resolve");
        let outputs: dafnck_core::ValueMap =
            [("node_id".to_string(), Value::from(id(&node.name)))].into();
        state.resources.insert(
            node.name.to_string(),
            ResourceState {
                name: node.name.to_string(),
                type_name: node.type_name.to_string(),
                id: id(&node.name),
                inputs,
                outputs: Value::Map(outputs),
                dependencies: node.dependencies.iter().map(|d| d.to_string()).collect(),
                protect: false,
                retain_on_delete: false,
                location: Some((*node.location).clone()),
                provider: None,
            }
            .into(),
        );
    }
    state
}

/// The longest path through `shape` when node `i` takes `cost[i]`, and the
/// sum of all costs: the two lower bounds of any schedule's makespan.
pub fn critical_path_and_work(shape: &Shape, cost: &[f64]) -> (f64, f64) {
    let mut finish = vec![0.0f64; shape.len()];
    for (i, deps) in shape.deps.iter().enumerate() {
        let start = deps.iter().map(|&d| finish[d]).fold(0.0, f64::max);
        finish[i] = start + cost[i];
    }
    (
        finish.iter().copied().fold(0.0, f64::max),
        cost.iter().sum(),
    )
}

/// `VmHWM` (peak resident set) of this process, in bytes.
pub fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The machine's load averages (1, 5, 15 minutes), for the reports.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
