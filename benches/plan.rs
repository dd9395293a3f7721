//! Planning cost: 1k / 10k / 100k resources on three graph shapes — a
//! layered random DAG (~2 edges per node), a chain, a wide fan-out — with
//! no changes and with 10% changed.
//!
//! `cargo bench --bench plan` measures; `cargo test --benches` runs each
//! case once at a tiny size (what CI checks).

mod common;

use criterion::{BatchSize, BenchmarkId, Criterion};
use dafnck::core::planner;
use dafnck::core::testing::FakeCloud;
use dafnck::core::Providers;

use common::{benchmarking, chain, desired, fan_out, layered, recorded, Shape};

fn sizes() -> Vec<usize> {
    if benchmarking() {
        vec![1_000, 10_000, 100_000]
    } else {
        vec![100]
    }
}

fn shapes(n: usize) -> Vec<Shape> {
    vec![layered(n, 0x9E37_79B9_7F4A_7C15), chain(n), fan_out(n)]
}

fn bench_plan(c: &mut Criterion) {
    let providers = Providers::new().with(FakeCloud::new());
    let mut group = c.benchmark_group("plan");
    group.sample_size(10);
    for n in sizes() {
        for shape in shapes(n) {
            let unchanged = desired(&shape, None);
            let state = recorded(&unchanged);
            let changed = desired(&shape, Some(10));
            let id = |case: &str| BenchmarkId::new(format!("{}/{case}", shape.name), n);
            group.bench_function(id("no_changes"), |b| {
                b.iter(|| {
                    let plan = planner::plan(&unchanged, &state, &providers).expect("plans");
                    assert!(!plan.has_changes());
                    plan
                })
            });
            group.bench_function(id("ten_percent_changed"), |b| {
                b.iter(|| {
                    let plan = planner::plan(&changed, &state, &providers).expect("plans");
                    assert_eq!(plan.summary().update, n.div_ceil(10));
                    plan
                })
            });
            if shape.name != "layered" {
                continue;
            }
            // The same with the CPU caches flushed first (64 MB written):
            // below ~10k resources the working set otherwise stays cached
            // from one iteration to the next, which no real run enjoys.
            let mut scratch = vec![0u8; if benchmarking() { 64 << 20 } else { 1 << 10 }];
            group.bench_function(id("no_changes_cold_caches"), |b| {
                b.iter_batched(
                    || {
                        for (i, x) in scratch.iter_mut().enumerate() {
                            *x = x.wrapping_add(i as u8);
                        }
                    },
                    // Dropped inside, as the plans above are.
                    |()| drop(planner::plan(&unchanged, &state, &providers).expect("plans")),
                    BatchSize::PerIteration,
                )
            });
            // Part of every plan (on a second thread from 2,000 resources
            // on): the state's hash, which binds saved plans.
            group.bench_function(id("state_fingerprint"), |b| b.iter(|| state.fingerprint()));
            group.bench_function(id("declare_and_check"), |b| {
                b.iter_batched(|| (), |()| desired(&shape, None), BatchSize::PerIteration)
            });
        }
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_plan(&mut c);
    c.final_summary();
}
