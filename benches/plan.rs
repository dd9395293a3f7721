//! Planning cost: 1k / 10k / 100k resources on a layered random DAG (~2
//! edges per node), with no changes and with 10% changed.
//!
//! `cargo bench --bench plan` measures; `cargo test --benches` runs each
//! case once at a tiny size (what CI checks).

use std::collections::BTreeMap;

use criterion::{BatchSize, BenchmarkId, Criterion};
use dafnck::core::planner;
use dafnck::core::stack::Desired;
use dafnck::core::state::{ResourceState, State};
use dafnck::core::testing::resources::Node;
use dafnck::core::testing::FakeCloud;
use dafnck::core::{Handle, Providers, Stack, Value};

/// A deterministic layered DAG: node i refers to up to two earlier nodes.
fn program(n: usize, changed_every: Option<usize>) -> Desired {
    let mut stack = Stack::new("bench");
    let mut handles: Vec<Handle<Node>> = Vec::with_capacity(n);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..n {
        let mut refs = Vec::new();
        for _ in 0..2 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i > 0 {
                // Mostly nearby nodes, so the graph is deep as well as wide.
                let back = 1 + (x as usize % i.min(64));
                refs.push(handles[i - back].out().node_id);
            }
        }
        let changed = changed_every.is_some_and(|k| i % k == 0);
        let node = Node {
            value: if changed { "v2" } else { "v1" }.into(),
            key: "k".into(),
            refs,
        };
        handles.push(stack.add(&format!("node-{i:06}"), node));
    }
    stack.into_desired().expect("a valid program")
}

/// The state an apply of `desired` (unchanged) would have recorded.
fn recorded(desired: &Desired) -> State {
    let mut state = State::empty("bench");
    state.lineage = "bench".into();
    state.serial = desired.nodes.len() as u64;
    let id = |name: &str| format!("id-{name}");
    for node in &desired.nodes {
        let inputs = node
            .inputs
            .resolve_refs(&mut |r| Ok::<_, ()>(Value::from(id(&r.resource))))
            .expect("references resolve");
        let outputs: BTreeMap<String, Value> =
            [("node_id".to_string(), Value::from(id(&node.name)))].into();
        state.resources.insert(
            node.name.clone(),
            ResourceState {
                name: node.name.clone(),
                type_name: node.type_name.clone(),
                id: id(&node.name),
                inputs,
                outputs: Value::Map(outputs),
                dependencies: node.dependencies.clone(),
                protect: false,
                retain_on_delete: false,
                location: Some(node.location.clone()),
            },
        );
    }
    state
}

fn sizes() -> Vec<usize> {
    // `cargo bench` passes --bench; `cargo test --benches` does not.
    if std::env::args().any(|a| a == "--bench") {
        vec![1_000, 10_000, 100_000]
    } else {
        vec![100]
    }
}

fn bench_plan(c: &mut Criterion) {
    let providers = Providers::new().with(FakeCloud::new());
    let mut group = c.benchmark_group("plan");
    group.sample_size(10);
    for n in sizes() {
        let desired = program(n, None);
        let state = recorded(&desired);
        let changed = program(n, Some(10));
        group.bench_with_input(BenchmarkId::new("no_changes", n), &n, |b, _| {
            b.iter(|| {
                let plan = planner::plan(&desired, &state, &providers).expect("plans");
                assert!(!plan.has_changes());
                plan
            })
        });
        group.bench_with_input(BenchmarkId::new("ten_percent_changed", n), &n, |b, _| {
            b.iter(|| {
                let plan = planner::plan(&changed, &state, &providers).expect("plans");
                assert_eq!(plan.summary().update, n.div_ceil(10));
                plan
            })
        });
        // Part of every plan: the state's hash, which binds saved plans.
        group.bench_with_input(BenchmarkId::new("state_fingerprint", n), &n, |b, _| {
            b.iter(|| state.fingerprint())
        });
        group.bench_with_input(BenchmarkId::new("declare_and_check", n), &n, |b, _| {
            b.iter_batched(|| (), |()| program(n, None), BatchSize::PerIteration)
        });
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_plan(&mut c);
    c.final_summary();
}
