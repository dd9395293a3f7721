//! The makespan figure with six resource types whose calls take different
//! times: a first run knowing nothing, a first run with the provider's
//! priors, a second run with learned durations, and where the remaining
//! gap to the lower bound is (`common::schedule`).

use std::sync::Arc;
use std::time::Duration;

use dafnck::core::engine::Engine;
use dafnck::core::resource::Resource;
use dafnck::core::state::{CallKind, MemoryStore};
use dafnck::core::testing::resources::{Node, NodeOutputs};
use dafnck::core::testing::{FakeCloud, FakeOp};
use dafnck::core::{Input, Providers, Stack, Value};

use crate::common::schedule::Instance;
use crate::common::{self, index_of, layered, Rng, Shape};
use crate::{paused, uniform};

/// The resource types of the learned-latency figure and how long a call on
/// each takes on average (names only for reading: they are fake types).
const TYPES: [(&str, u64); 6] = [
    ("fake:bench:Role", 20),
    ("fake:bench:SecurityGroup", 116),
    ("fake:bench:Subnet", 212),
    ("fake:bench:Volume", 308),
    ("fake:bench:Database", 404),
    ("fake:bench:Instance", 500),
];

/// A [`Node`] declared as resource type `TYPES[T]`.
#[derive(serde::Serialize)]
#[serde(transparent)]
struct Typed<const T: usize>(Node);

macro_rules! typed {
    ($($t:literal),*) => {$(
        impl Resource for Typed<$t> {
            const TYPE: &'static str = TYPES[$t].0;
            type Outputs = NodeOutputs;
            fn force_new_fields() -> &'static [&'static str] {
                Node::force_new_fields()
            }
        }
    )*};
}
typed!(0, 1, 2, 3, 4, 5);

/// Declares `shape` with node `i` of type `TYPES[types[i]]`; its id
/// reference for the nodes after it.
fn declare_typed(stack: &mut Stack, shape: &Shape, types: &[usize]) {
    let mut ids: Vec<Input<String>> = Vec::with_capacity(shape.len());
    for (i, deps) in shape.deps.iter().enumerate() {
        let node = Node {
            value: "v1".into(),
            key: "k".into(),
            refs: deps.iter().map(|&d| ids[d].clone()).collect(),
        };
        let name = common::name(i);
        let id = match types[i] {
            0 => stack.add(&name, Typed::<0>(node)).out().node_id,
            1 => stack.add(&name, Typed::<1>(node)).out().node_id,
            2 => stack.add(&name, Typed::<2>(node)).out().node_id,
            3 => stack.add(&name, Typed::<3>(node)).out().node_id,
            4 => stack.add(&name, Typed::<4>(node)).out().node_id,
            _ => stack.add(&name, Typed::<5>(node)).out().node_id,
        };
        ids.push(id);
    }
}

/// Seeded types for `n` nodes, and two runs' latencies: each call takes its
/// type's mean ±25% (drawn anew for every call of every run).
fn typed_latencies(n: usize, seed: u64) -> (Vec<usize>, [Arc<Vec<Duration>>; 2]) {
    let mut rng = Rng::new(seed);
    let types: Vec<usize> = (0..n).map(|_| rng.next() as usize % TYPES.len()).collect();
    let mut run = || {
        let lat = types
            .iter()
            .map(|&t| {
                let jitter = rng.between(750, 1250);
                // Whole milliseconds: tokio's timer has 1 ms ticks.
                Duration::from_millis(TYPES[t].1 * jitter / 1000)
            })
            .collect();
        Arc::new(lat)
    };
    let first = run();
    let second = run();
    (types, [first, second])
}

/// The makespans of two `up`s of the typed `shape` at parallelism `p`, on
/// the paused clock: the first from an empty state (nothing learned), the
/// second after a `destroy`, with what the first run learned. Run `r`'s
/// create of node `i` takes `lat[r][i]`; deletes take no time. With
/// `priors`, the provider tells the engine each type's mean create time
/// (`Provider::expected_duration`), as one that knows its types would.
fn learned_makespans(
    shape: &Shape,
    types: &[usize],
    lat: &[Arc<Vec<Duration>>; 2],
    p: usize,
    priors: bool,
) -> [f64; 2] {
    let cloud = FakeCloud::new();
    for (type_name, mean) in TYPES {
        cloud.outputs_for(type_name, |id, _| {
            Value::Map([("node_id".to_string(), Value::from(id))].into())
        });
        if priors {
            cloud.expect_duration(type_name, CallKind::Create, Duration::from_millis(mean));
        }
    }
    let engine = Engine::new(
        "bench",
        MemoryStore::new(),
        Providers::new().with(cloud.clone()),
    )
    .parallelism(p);
    let program = |stack: &mut Stack| {
        declare_typed(stack, shape, types);
        Ok(())
    };
    paused().block_on(async {
        let mut took = [0.0; 2];
        for (run, lat) in lat.iter().enumerate() {
            let lat = Arc::clone(lat);
            cloud.set_latency(move |op, name| match op {
                FakeOp::Create => lat[index_of(name)],
                _ => Duration::ZERO,
            });
            if run > 0 {
                engine.destroy().await.expect("the destroy succeeds");
            }
            let t0 = tokio::time::Instant::now();
            engine.up(program, false).await.expect("the apply succeeds");
            took[run] = t0.elapsed().as_secs_f64();
        }
        assert!(cloud.max_concurrency() <= p);
        took
    })
}

/// One typed graph at one parallelism, every figure a ratio.
#[derive(Clone, Copy, Default)]
struct TypedFigures {
    /// Makespan / simple bound: first run knowing nothing, first run with
    /// the provider's priors, second run (learned), clairvoyant list
    /// schedule (second run's latencies).
    first: f64,
    priors: f64,
    second: f64,
    clairvoyant: f64,
    /// Where the gap is, for the first run with priors ([0]) and the
    /// second run ([1]), each on its own latencies: makespan / strong
    /// bound, best list schedule found / simple bound, and / strong bound.
    strong: [f64; 2],
    /// Strong bound / simple bound: no schedule does better than this.
    floor: [f64; 2],
    best: [f64; 2],
    best_strong: [f64; 2],
}

/// The figures of `shape` with types and latencies drawn from `seed`.
fn typed_figures(shape: &Shape, seed: u64, p: usize, tries: usize) -> TypedFigures {
    let (types, lat) = typed_latencies(shape.len(), seed);
    let unknown = learned_makespans(shape, &types, &lat, p, false);
    let known = learned_makespans(shape, &types, &lat, p, true);
    let mut f = TypedFigures::default();
    for run in 0..2 {
        let cost: Vec<f64> = lat[run].iter().map(Duration::as_secs_f64).collect();
        let instance = Instance::new(shape, &cost, p);
        let (simple, strong) = (instance.simple_bound(), instance.strong_bound());
        let best = instance.best_found(tries, seed);
        // The run with priors; the second run is learned either way.
        let ours = [known[0], unknown[1]][run];
        f.strong[run] = ours / strong;
        f.floor[run] = strong / simple;
        f.best[run] = best / simple;
        f.best_strong[run] = best / strong;
        if run == 0 {
            f.first = unknown[0] / simple;
            f.priors = known[0] / simple;
        } else {
            f.second = unknown[1] / simple;
            f.clairvoyant = instance.clairvoyant() / simple;
        }
    }
    f
}

pub fn learned_makespan_table(full: bool) {
    let n = if full { 1_000 } else { 50 };
    let tries = if full { 2_000 } else { 20 };
    let types = TYPES
        .iter()
        .map(|(t, ms)| format!("{} {ms} ms", t.rsplit(':').next().unwrap_or(t)))
        .collect::<Vec<_>>()
        .join(", ");
    println!("\n### Makespan with learned durations ({n} creates of six types, paused clock)\n");
    println!(
        "Types drawn per resource; a call takes its type's mean ±25%, drawn anew \
         per call and per run ({types}). The first run knows nothing learned: each \
         step counts one, or the provider gives each type's mean as a prior. The \
         second, after a destroy, orders by the durations the first learned per \
         type. Each run against its own bound max(critical path, work / P).\n"
    );
    println!(
        "| graph | parallelism | first run, nothing known | first run, provider priors | second run (learned) | clairvoyant (second run) |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut fixed = Vec::new();
    for shape in [layered(n, 11), uniform(n, 13)] {
        for p in [1usize, 10, 100] {
            let f = typed_figures(&shape, 31, p, tries);
            println!(
                "| {} | {p} | {:.3} | {:.3} | {:.3} | {:.3} |",
                shape.name, f.first, f.priors, f.second, f.clairvoyant
            );
            fixed.push((shape.name, p, f));
        }
    }
    let seeds: u64 = if full { 10 } else { 2 };
    let summary = |xs: &mut dyn Iterator<Item = f64>| {
        let xs: Vec<f64> = xs.collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let worst = xs.iter().copied().fold(0.0, f64::max);
        format!("{mean:.3} / {worst:.3}")
    };
    println!("\nOver {seeds} seeds per graph kind, parallelism 10 (mean / worst):\n");
    println!(
        "| graph | first run, nothing known | first run, provider priors | second run (learned) | clairvoyant (second run) |"
    );
    println!("| --- | --- | --- | --- | --- |");
    let mut per_seed = Vec::new();
    for kind in ["layered", "uniform"] {
        let figures: Vec<TypedFigures> = (0..seeds)
            .map(|seed| {
                let shape = match kind {
                    "layered" => layered(n, 100 + seed),
                    _ => uniform(n, 200 + seed),
                };
                typed_figures(&shape, 400 + seed, 10, tries)
            })
            .collect();
        println!(
            "| {kind} | {} | {} | {} | {} |",
            summary(&mut figures.iter().map(|f| f.first)),
            summary(&mut figures.iter().map(|f| f.priors)),
            summary(&mut figures.iter().map(|f| f.second)),
            summary(&mut figures.iter().map(|f| f.clairvoyant)),
        );
        per_seed.push((kind, figures));
    }

    println!("\n### Where the gap is (the same runs)\n");
    println!(
        "The simple bound is max(critical path, work / P); the strong bound adds, \
         per resource, lower bounds on its start and on the time after it from its \
         ancestors' and descendants' paths and work, and an energetic bound over \
         time windows (`benches/common/schedule.rs`). \"Best found\": the \
         shortest of {tries} list schedules with randomly perturbed clairvoyant \
         priorities, an upper bound on the optimum.\n"
    );
    println!(
        "| graph | P | run | makespan / simple | strong bound / simple | makespan / strong | best found / simple | best found / strong |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let runs = ["first, priors", "second, learned"];
    let ours = |f: &TypedFigures, run: usize| [f.priors, f.second][run];
    for (name, p, f) in &fixed {
        for (run, label) in runs.iter().enumerate() {
            println!(
                "| {name} | {p} | {label} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
                ours(f, run),
                f.floor[run],
                f.strong[run],
                f.best[run],
                f.best_strong[run]
            );
        }
    }
    for (kind, figures) in &per_seed {
        for (run, label) in runs.iter().enumerate() {
            println!(
                "| {kind}, {seeds} seeds (mean / worst) | 10 | {label} | {} | {} | {} | {} | {} |",
                summary(&mut figures.iter().map(|f| ours(f, run))),
                summary(&mut figures.iter().map(|f| f.floor[run])),
                summary(&mut figures.iter().map(|f| f.strong[run])),
                summary(&mut figures.iter().map(|f| f.best[run])),
                summary(&mut figures.iter().map(|f| f.best_strong[run])),
            );
        }
    }
}
