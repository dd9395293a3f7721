//! Applying N creates (1k, 10k) through `Engine::up`: a zero-latency fake
//! cloud, durable state (a `FileStore` in a temporary directory: the
//! journal, fsynced in groups), a layered DAG (~2 edges per node),
//! parallelism 10. Measures the engine's own cost per resource; prints the
//! state bytes written and fsyncs of one run per size.
//!
//! `cargo bench --bench apply` measures; `cargo test --benches` runs it
//! once at a tiny size (what CI checks).

mod common;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use dafnck::core::engine::Engine;
use dafnck::core::state::FileStore;
use dafnck::core::testing::FakeCloud;
use dafnck::core::Providers;

use common::{benchmarking, layered, program, Shape};

/// A fresh engine over a new fake cloud and an empty file store.
fn fresh() -> (tempfile::TempDir, FileStore, Engine) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = FileStore::new(dir.path());
    let engine = Engine::new(
        "bench",
        store.clone(),
        Providers::new().with(FakeCloud::new()),
    );
    (dir, store, engine)
}

/// One `up` of `shape` from an empty state.
fn up(rt: &tokio::runtime::Runtime, engine: &Engine, shape: &Shape) {
    let report = rt
        .block_on(engine.up(program(shape), false))
        .expect("the apply succeeds");
    assert_eq!(report.steps.len(), shape.len());
}

fn bench_apply(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let sizes = if benchmarking() {
        vec![1_000, 10_000]
    } else {
        vec![100]
    };
    let mut group = c.benchmark_group("apply");
    group.sample_size(10);
    for n in sizes {
        let shape = layered(n, 7);
        let (_dir, store, engine) = fresh();
        up(&rt, &engine, &shape);
        let (bytes, fsyncs) = (store.bytes_written("bench"), store.fsyncs());
        eprintln!(
            "apply/creates/{n}: {bytes} state bytes written ({} per resource), {fsyncs} fsyncs",
            bytes / n as u64
        );
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("creates", n), |b| {
            b.iter_batched(
                fresh,
                |(dir, _, engine)| {
                    up(&rt, &engine, &shape);
                    dir
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_apply(&mut c);
    c.final_summary();
}
