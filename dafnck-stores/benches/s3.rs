//! The S3 state store's costs against a moto server on 127.0.0.1
//! (`DAFNCK_MOTO_URL`, from `scripts/servers/moto.sh start`). moto is a
//! Python fake, so these are request counts made visible, not AWS's
//! latencies (tens of milliseconds a request):
//!
//! - `append/1`, `append/10`: one journal append of 1 or 10 records (one
//!   conditional PutObject);
//! - `read/N`: reading a stack whose journal holds N records in batches of
//!   10 (one listing, N/10 GetObjects, 16 at a time);
//! - `lock+unlock`: taking and releasing a stack's lock (a conditional
//!   PutObject, a GetObject, a conditional DeleteObject);
//! - `up/N` with `s3` and `file` stores: `Engine::up` of N creates (a chain
//!   of fake-cloud nodes with no latency) from an empty state, to compare
//!   the store's share of an apply with the file store's.
//!
//! `cargo bench -p dafnck-stores --features s3 --bench s3` measures;
//! `cargo test --benches` runs each once at a tiny size. Without
//! `DAFNCK_MOTO_URL` it says it is skipped, unless
//! `DAFNCK_REQUIRE_SERVERS=1`.

use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use dafnck_core::engine::Engine;
use dafnck_core::prelude::*;
use dafnck_core::state::StateLock;
use dafnck_core::state::{new_id, Entry, FileStore, LockRequest, Record, StateStore};
use dafnck_core::testing::resources::Node;
use dafnck_core::testing::FakeCloud;
use dafnck_stores::s3::S3Store;

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

fn bench(c: &mut Criterion, endpoint: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let store = rt.block_on(async {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await;
        let bucket = format!("bench-{}", &new_id()[..10]);
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        )
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create the benchmark bucket");
        S3Store::with_config(&format!("s3://{bucket}/bench"), &config)
            .await
            .expect("open the benchmark bucket")
    });
    let mut group = c.benchmark_group("s3");
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
    for batch in records.chunks(10) {
        rt.block_on(store.append(&stack, batch)).expect("append");
    }
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
    group.bench_function(BenchmarkId::new("s3", n), |b| {
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
    let Ok(url) = std::env::var("DAFNCK_MOTO_URL") else {
        let why = "moto is not available (set DAFNCK_MOTO_URL: scripts/servers/moto.sh start, or scripts/test.sh)";
        if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
            panic!("bench s3: {why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
        }
        eprintln!("skipped bench s3: {why}");
        return;
    };
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &url);
    c.final_summary();
}
