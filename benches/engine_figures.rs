//! Figures of the engine that are not the time of one function, printed as
//! the markdown tables of BENCHMARKS.md:
//!
//! - apply of N creates with durable state: time per resource, state bytes
//!   written (must grow as N), fsyncs;
//! - makespan of applies over random DAGs with provider latencies of
//!   20–500 ms, against the lower bound max(critical path, work / P): with
//!   nothing known of the latencies, and with six resource types whose
//!   calls take different times, on a first run (knowing nothing, or with
//!   the provider's priors) and on a second run that has learned them;
//!   and where the gap is: a stronger lower bound on the optimum and the
//!   best of many list schedules (`typed_makespan`, `common::schedule`);
//! - refresh of N resources with latency L at parallelism P, against N·L/P;
//! - peak memory per resource at 100k resources;
//! - how planning time grows from 10k to 100k resources, each size in a
//!   fresh process, taking turns so the machine's load swings fall on both
//!   (`plan_scaling`).
//!
//! Makespans and refreshes run on tokio's paused clock: a provider's sleep
//! advances virtual time only, so the figures are exact and the same on a
//! loaded machine (the engine's own CPU time counts as zero there; the
//! apply table and one real-clock refresh measure it).
//!
//! `cargo bench --bench engine_figures` prints the tables (`-- plan`, or
//! any of apply, makespan, refresh, memory: only those); `cargo test
//! --benches` runs everything once at a tiny size (what CI checks).

mod common;
#[path = "engine_figures/plan_scaling.rs"]
mod plan_scaling;
#[path = "engine_figures/typed_makespan.rs"]
mod typed_makespan;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use dafnck::core::engine::{Engine, Settings};
use dafnck::core::provider::{
    CreateRequest, Created, DeleteRequest, Observed, ReadRequest, UpdateRequest,
};
use dafnck::core::state::{
    ControlChannel, FileStore, LockInfo, LockRequest, MemoryStore, Record, State, StateError,
    StateHistory, StateLock, StateStore, Stored,
};
use dafnck::core::testing::{FakeCloud, FakeOp};
use dafnck::core::{Provider, ProviderError, Providers, Value};

use common::schedule::Instance;
use common::{
    benchmarking, critical_path_and_work, desired, index_of, layered, load_average, peak_rss,
    program, recorded, Rng, Shape,
};

/// The child-process switch of the memory figure.
const MEMORY_CHILD: &str = "DAFNCK_FIGURES_MEMORY";

fn main() {
    if let Ok(what) = std::env::var(MEMORY_CHILD) {
        memory_child(&what);
        return;
    }
    if let Ok(what) = std::env::var(plan_scaling::PLAN_CHILD) {
        plan_scaling::plan_child(&what);
        return;
    }
    let full = benchmarking();
    println!(
        "engine figures ({} sizes); machine load at start: {}",
        if full { "benchmark" } else { "tiny" },
        load_average()
    );
    // `cargo bench --bench engine_figures -- plan makespan` prints only the
    // sections named (apply, makespan, refresh, memory, plan); none: all.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |section: &str| only.is_empty() || only.iter().any(|o| o == section);
    common::schedule::check();
    if wanted("apply") {
        apply_table(full);
    }
    if wanted("makespan") {
        makespan_table(full);
        typed_makespan::learned_makespan_table(full);
    }
    if wanted("refresh") {
        refresh_table(full);
    }
    if wanted("memory") {
        memory_table(full);
    }
    if wanted("plan") {
        plan_scaling::plan_scaling_table(full);
    }
    println!("\nmachine load at end: {}", load_average());
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A runtime on the paused clock: sleeps advance virtual time at once
/// when every task waits on a timer.
fn paused() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime")
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

// ---------------------------------------------------------------- apply

fn apply_table(full: bool) {
    let sizes: &[usize] = if full { &[1_000, 10_000] } else { &[100] };
    let runs = if full { 3 } else { 1 };
    println!("\n### Apply of N creates (zero-latency fake cloud, parallelism 10)\n");
    println!(
        "| N | file store: time | per resource | state bytes written | per resource | fsyncs | per resource | memory store: per resource |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let rt = multi_thread();
    for &n in sizes {
        let shape = layered(n, 7);
        let mut file_times = Vec::new();
        let mut figures = (0, 0);
        for _ in 0..runs {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let store = FileStore::new(dir.path());
            let engine = Engine::new("bench", store.clone(), fake());
            file_times.push(up(&rt, &engine, &shape));
            figures = (store.bytes_written("bench"), store.fsyncs());
        }
        let mut memory_times = Vec::new();
        for _ in 0..runs {
            let engine = Engine::new("bench", MemoryStore::new(), fake());
            memory_times.push(up(&rt, &engine, &shape));
        }
        let (file, memory) = (median(file_times), median(memory_times));
        let (bytes, fsyncs) = figures;
        println!(
            "| {n} | {} | {} | {bytes} | {} | {fsyncs} | {:.3} | {} |",
            ms(file),
            us(file / n as u32),
            bytes / n as u64,
            fsyncs as f64 / n as f64,
            us(memory / n as u32),
        );
    }
}

fn fake() -> Providers {
    Providers::new().with(FakeCloud::new())
}

/// One `up` of `shape` from an empty state; its wall time.
fn up(rt: &tokio::runtime::Runtime, engine: &Engine, shape: &Shape) -> Duration {
    let t0 = Instant::now();
    let report = rt
        .block_on(engine.up(program(shape), false))
        .expect("the apply succeeds");
    let took = t0.elapsed();
    assert_eq!(report.steps.len(), shape.len());
    took
}

// -------------------------------------------------------------- makespan

/// A random DAG whose nodes refer to up to two uniformly chosen earlier
/// nodes: shallow and wide, unlike [`layered`].
fn uniform(n: usize, seed: u64) -> Shape {
    let mut rng = Rng::new(seed);
    let deps = (0..n)
        .map(|i| {
            let mut d: Vec<usize> = (0..2)
                .filter(|_| i > 0)
                .map(|_| rng.next() as usize % i)
                .collect();
            d.sort_unstable();
            d.dedup();
            d
        })
        .collect();
    Shape {
        name: "uniform",
        deps,
    }
}

/// Seeded latencies in 20..=500 ms, one per node.
fn latencies(n: usize, seed: u64) -> Arc<Vec<Duration>> {
    let mut rng = Rng::new(seed);
    Arc::new(
        (0..n)
            .map(|_| Duration::from_millis(rng.between(20, 500)))
            .collect(),
    )
}

fn makespan_table(full: bool) {
    let n = if full { 1_000 } else { 50 };
    println!(
        "\n### Makespan against the lower bound ({n} creates, latencies 20–500 ms, paused clock)\n"
    );
    println!(
        "The last column is a list schedule that knows every latency in advance \
         (longest remaining time first), simulated: what a clairvoyant greedy \
         scheduler gets against the same bound.\n"
    );
    println!(
        "| graph | parallelism | critical path | work / P | lower bound | makespan | makespan / bound | clairvoyant / bound |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for shape in [layered(n, 11), uniform(n, 13)] {
        let lat = latencies(n, 17);
        let cost: Vec<f64> = lat.iter().map(Duration::as_secs_f64).collect();
        let (critical, work) = critical_path_and_work(&shape, &cost);
        for p in [1usize, 10, 100] {
            let bound = critical.max(work / p as f64);
            let makespan = makespan(&shape, &lat, p);
            println!(
                "| {} ({} edges) | {p} | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {:.3} | {:.3} |",
                shape.name,
                shape.edges(),
                critical,
                work / p as f64,
                bound,
                makespan,
                makespan / bound,
                Instance::new(&shape, &cost, p).clairvoyant() / bound
            );
        }
    }
    // One graph and one draw of latencies can be lucky: the same over more
    // seeds, at the parallelism where neither bound dominates by far.
    let seeds: u64 = if full { 10 } else { 2 };
    println!("\nOver {seeds} seeds per graph kind, parallelism 10 (mean / worst):\n");
    println!("| graph | makespan / bound | clairvoyant / bound |");
    println!("| --- | --- | --- |");
    for kind in ["layered", "uniform"] {
        let (mut engine, mut ideal) = (Vec::new(), Vec::new());
        for seed in 0..seeds {
            let shape = match kind {
                "layered" => layered(n, 100 + seed),
                _ => uniform(n, 200 + seed),
            };
            let lat = latencies(n, 300 + seed);
            let cost: Vec<f64> = lat.iter().map(Duration::as_secs_f64).collect();
            let (critical, work) = critical_path_and_work(&shape, &cost);
            let bound = critical.max(work / 10.0);
            engine.push(makespan(&shape, &lat, 10) / bound);
            ideal.push(Instance::new(&shape, &cost, 10).clairvoyant() / bound);
        }
        let summary = |xs: &[f64]| {
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            let worst = xs.iter().copied().fold(0.0, f64::max);
            format!("{mean:.3} / {worst:.3}")
        };
        println!("| {kind} | {} | {} |", summary(&engine), summary(&ideal));
    }
}

/// The virtual time one `up` of `shape` takes when creating node `i` takes
/// `lat[i]`, at parallelism `p`.
fn makespan(shape: &Shape, lat: &Arc<Vec<Duration>>, p: usize) -> f64 {
    let cloud = FakeCloud::new();
    let lat = Arc::clone(lat);
    cloud.set_latency(move |op, name| match op {
        FakeOp::Create => lat[index_of(name)],
        _ => Duration::ZERO,
    });
    let engine = Engine::new(
        "bench",
        MemoryStore::new(),
        Providers::new().with(cloud.clone()),
    )
    .parallelism(p);
    paused().block_on(async {
        let t0 = tokio::time::Instant::now();
        engine
            .up(program(shape), false)
            .await
            .expect("the apply succeeds");
        let took = t0.elapsed();
        assert!(cloud.max_concurrency() <= p);
        took.as_secs_f64()
    })
}

// --------------------------------------------------------------- refresh

fn refresh_table(full: bool) {
    let n = if full { 1_000 } else { 50 };
    println!("\n### Refresh of {n} resources\n");
    println!(
        "| clock | read latency | parallelism | ideal: N·L/P (equal reads), max(slowest, ΣL/P) | refresh | refresh / ideal |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    let shape = layered(n, 19);
    let fixed = Duration::from_millis(100);
    let varied = latencies(n, 23);
    // Equal reads: ceil(N / P) rounds of L.
    let rounds = |p: usize| n.div_ceil(p) as f64;
    for p in [1usize, 10, 100] {
        let ideal = fixed.as_secs_f64() * rounds(p);
        let took = refresh(&shape, p, true, move |_| fixed);
        row("paused", "100 ms", p, ideal, took);
    }
    for p in [1usize, 10, 100] {
        // Reads of different lengths: at best the slowest one or the total
        // spread evenly over the P slots.
        let total: f64 = varied.iter().map(Duration::as_secs_f64).sum();
        let slowest = varied.iter().max().map_or(0.0, Duration::as_secs_f64);
        let ideal = slowest.max(total / p as f64);
        let v = Arc::clone(&varied);
        let took = refresh(&shape, p, true, move |i| v[i]);
        row("paused", "20–500 ms", p, ideal, took);
    }
    // On the real clock the engine's own time counts too.
    let real = Duration::from_millis(20);
    for p in [10usize, 100] {
        let ideal = real.as_secs_f64() * rounds(p);
        let took = refresh(&shape, p, false, move |_| real);
        row("real", "20 ms", p, ideal, took);
    }
}

fn row(clock: &str, latency: &str, p: usize, ideal: f64, took: f64) {
    println!(
        "| {clock} | {latency} | {p} | {:.2} s | {:.2} s | {:.3} |",
        ideal,
        took,
        took / ideal
    );
}

/// The time `Engine::refresh` takes over the applied `shape` when reading
/// node `i` takes `read(i)`.
fn refresh(
    shape: &Shape,
    p: usize,
    paused_clock: bool,
    read: impl Fn(usize) -> Duration + Send + Sync + 'static,
) -> f64 {
    let cloud = FakeCloud::new();
    let engine = Engine::new(
        "bench",
        MemoryStore::new(),
        Providers::new().with(cloud.clone()),
    )
    .parallelism(p);
    let rt = if paused_clock {
        paused()
    } else {
        multi_thread()
    };
    rt.block_on(async {
        engine
            .up(program(shape), false)
            .await
            .expect("the apply succeeds");
        cloud.set_latency(move |op, name| match op {
            FakeOp::Read => read(index_of(name)),
            _ => Duration::ZERO,
        });
        let t0 = tokio::time::Instant::now();
        let report = engine.refresh().await.expect("the refresh succeeds");
        let took = t0.elapsed();
        assert_eq!(report.checked, shape.len());
        assert!(cloud.max_concurrency() <= p);
        took.as_secs_f64()
    })
}

// ---------------------------------------------------------------- memory

fn memory_table(full: bool) {
    let n: usize = if full { 100_000 } else { 1_000 };
    let run = |what: &str| -> u64 {
        let out = std::process::Command::new(std::env::current_exe().expect("this program"))
            .env(MEMORY_CHILD, format!("{what}:{n}"))
            .output()
            .expect("the child runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{what}: {text}");
        text.trim().parse().expect("the child prints a byte count")
    };
    let declared = run("declare");
    let with_state = run("state");
    let applied = run("apply");
    let kb = |b: u64| format!("{:.2} KB", b as f64 / n as f64 / 1024.0);
    println!("\n### Peak memory, {n} resources (peak RSS growth of a fresh process)\n");
    println!("| what the process did | peak growth | per resource |");
    println!("| --- | --- | --- |");
    println!(
        "| declared the program (the resources' desired data) | {:.1} MB | {} |",
        declared as f64 / 1e6,
        kb(declared)
    );
    println!(
        "| declared it and built the state an apply records (the resources' own data) | {:.1} MB | {} |",
        with_state as f64 / 1e6,
        kb(with_state)
    );
    println!(
        "| declared, planned and applied it (`Engine::up`) | {:.1} MB | {} |",
        applied as f64 / 1e6,
        kb(applied)
    );
    println!(
        "| **the engine beyond the resources' own data** | {:.1} MB | **{}** |",
        applied.saturating_sub(with_state) as f64 / 1e6,
        kb(applied.saturating_sub(with_state))
    );
}

/// In a fresh process: does `what` for `n` resources and prints how much
/// the peak resident set grew.
fn memory_child(spec: &str) {
    let (what, n) = spec.split_once(':').expect("what:n");
    let n: usize = n.parse().expect("a size");
    let shape = layered(n, 29);
    let rt = multi_thread();
    let base = peak_rss();
    match what {
        "declare" => {
            let d = desired(&shape, None);
            assert_eq!(d.nodes.len(), n);
        }
        "state" => {
            let d = desired(&shape, None);
            let s = recorded(&d);
            assert_eq!(s.resources.len(), n);
        }
        "apply" => {
            // A provider and a store that keep nothing: what is measured is
            // the engine, not a simulated cloud or an in-memory store.
            let engine = Engine::new("bench", NullStore, Providers::new().with(NullCloud))
                .settings(Settings::default());
            let report = rt
                .block_on(engine.up(program(&shape), false))
                .expect("the apply succeeds");
            assert_eq!(report.steps.len(), n);
        }
        other => panic!("unknown memory figure {other:?}"),
    }
    println!("{}", peak_rss().saturating_sub(base));
}

/// A provider that creates objects and keeps none: ids and outputs as the
/// recorded state in `common::recorded` has them.
struct NullCloud;

#[async_trait]
impl Provider for NullCloud {
    fn package(&self) -> &str {
        "fake"
    }

    async fn create(&self, req: CreateRequest) -> Result<Created, ProviderError> {
        let id = format!("id-{}", req.name);
        let outputs: dafnck_core::ValueMap =
            [("node_id".to_string(), Value::from(id.as_str()))].into();
        Ok(Created {
            id,
            outputs: Value::Map(outputs),
        })
    }

    async fn read(&self, _: ReadRequest) -> Result<Option<Observed>, ProviderError> {
        Ok(None)
    }

    async fn update(&self, req: UpdateRequest) -> Result<Value, ProviderError> {
        Ok(req.old_outputs)
    }

    async fn delete(&self, _: DeleteRequest) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// A state store that keeps nothing: every stack starts empty.
struct NullStore;

#[async_trait]
impl StateStore for NullStore {
    fn describe(&self) -> String {
        "null".into()
    }

    async fn read(&self, _: &str) -> Result<Stored, StateError> {
        Ok(Stored::default())
    }

    async fn append(&self, _: &str, _: &[Record]) -> Result<(), StateError> {
        Ok(())
    }

    async fn compact(&self, _: &str, _: &State) -> Result<(), StateError> {
        Ok(())
    }

    fn locks(&self) -> Option<&dyn StateLock> {
        Some(self)
    }

    fn history(&self) -> Option<&dyn StateHistory> {
        None
    }

    fn channel(&self) -> Option<&dyn ControlChannel> {
        None
    }
}

#[async_trait]
impl StateLock for NullStore {
    async fn lock(&self, _: &str, request: &LockRequest) -> Result<LockInfo, StateError> {
        Ok(LockInfo::grant(request))
    }

    async fn renew(&self, _: &str, lock: &LockInfo) -> Result<LockInfo, StateError> {
        Ok(lock.clone())
    }

    async fn unlock(&self, _: &str, _: &str) -> Result<(), StateError> {
        Ok(())
    }

    async fn lock_info(&self, _: &str) -> Result<Option<LockInfo>, StateError> {
        Ok(None)
    }
}
