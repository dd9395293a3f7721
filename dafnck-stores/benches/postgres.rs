//! The PostgreSQL state store's costs against a server on 127.0.0.1
//! (`DAFNCK_POSTGRES_URL`, from `scripts/servers/postgres.sh start`):
//!
//! - `append/1`, `append/10`: one journal append of 1 or 10 records (one
//!   statement, one commit);
//! - `read/N`: reading a stack whose journal holds N records;
//! - `lock+unlock`: taking and releasing a stack's lock;
//! - `up/N` with `postgres` and `file` stores: `Engine::up` of N creates
//!   (a chain of fake-cloud nodes with no latency, parallelism 10) from an
//!   empty state, to compare the store's share of an apply with the file
//!   store's.
//!
//! `cargo bench -p dafnck-stores --features postgres` measures; `cargo test
//! --benches` runs each once at a tiny size. Without `DAFNCK_POSTGRES_URL`
//! it says it is skipped, unless `DAFNCK_REQUIRE_SERVERS=1`.

use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use dafnck_core::engine::Engine;
use dafnck_core::prelude::*;
use dafnck_core::state::StateLock;
use dafnck_core::state::{new_id, Entry, FileStore, LockRequest, Record, StateStore};
use dafnck_core::testing::resources::Node;
use dafnck_core::testing::FakeCloud;
use dafnck_stores::postgres::PostgresStore;

fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn record(seq: u64) -> Record {
    Record {
        seq,
        at: 1_795_000_000_000,
        entry: if seq == 1 {
            Entry::Init { lineage: new_id() }
        } else {
            // A small record (the store keeps bytes; it does not replay).
            Entry::Failed {
                op: seq - 1,
                error: format!("throttled: arn:fake:compute:instance/i-{seq:08x}"),
            }
        },
    }
}

fn chain(n: usize) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let mut previous: Option<Handle<Node>> = None;
        for i in 0..n {
            let node = Node {
                value: format!("v{i}").into(),
                key: "k".into(),
                refs: previous.iter().map(|p| p.out().node_id).collect(),
            };
            previous = Some(stack.add(&format!("n{i:05}"), node));
        }
        Ok(())
    }
}

fn bench(c: &mut Criterion, url: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let sep = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{sep}schema=bench_{}", &new_id()[..10]);
    let store = rt
        .block_on(PostgresStore::connect(&url))
        .expect("connect to the benchmark server");
    let mut group = c.benchmark_group("postgres");
    group.sample_size(if benchmarking() { 50 } else { 10 });
    group.measurement_time(Duration::from_secs(if benchmarking() { 5 } else { 1 }));

    for batch in [1u64, 10] {
        let stack = format!("append-{batch}");
        let mut next = 1u64;
        group.throughput(Throughput::Elements(batch));
        group.bench_function(BenchmarkId::new("append", batch), |b| {
            b.iter(|| {
                let records: Vec<Record> = (next..next + batch).map(record).collect();
                next += batch;
                rt.block_on(store.append(&stack, &records)).expect("append");
            })
        });
    }

    let n = if benchmarking() { 1_000 } else { 50 };
    let stack = format!("read-{n}");
    let records: Vec<Record> = (1..=n).map(record).collect();
    rt.block_on(store.append(&stack, &records)).expect("append");
    group.throughput(Throughput::Elements(n));
    group.bench_function(BenchmarkId::new("read", n), |b| {
        b.iter(|| {
            let stored = rt.block_on(store.read(&stack)).expect("read");
            assert_eq!(stored.journal.len() as u64, n);
        })
    });

    group.throughput(Throughput::Elements(1));
    let request = LockRequest::for_this_process("bench", Duration::from_secs(60));
    group.bench_function("lock+unlock", |b| {
        b.iter(|| {
            rt.block_on(async {
                let lock = store.lock("locks", &request).await.expect("lock");
                store.unlock("locks", &lock.id).await.expect("unlock");
            })
        })
    });
    group.finish();

    let mut group = c.benchmark_group("up");
    group.sample_size(10);
    let n = if benchmarking() { 200 } else { 10 };
    group.throughput(Throughput::Elements(n as u64));
    let up = |store: Box<dyn StateStore>| {
        let engine = Engine::with_store(
            format!("up-{}", new_id()),
            store.into(),
            Providers::new().with(FakeCloud::new()),
        );
        let report = rt.block_on(engine.up(chain(n), false)).expect("up");
        assert_eq!(report.steps.len(), n);
    };
    group.bench_function(BenchmarkId::new("postgres", n), |b| {
        b.iter(|| up(Box::new(store.clone())))
    });
    group.bench_function(BenchmarkId::new("file", n), |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("a temporary directory"),
            |dir| {
                up(Box::new(FileStore::new(dir.path())));
                dir
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn main() {
    let Ok(url) = std::env::var("DAFNCK_POSTGRES_URL") else {
        let why = "PostgreSQL is not available (set DAFNCK_POSTGRES_URL: scripts/servers/postgres.sh start, or scripts/test.sh)";
        if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
            panic!("bench postgres: {why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
        }
        eprintln!("skipped bench postgres: {why}");
        return;
    };
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &url);
    c.final_summary();
}
