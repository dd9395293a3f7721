//! A refresh of N AWS objects against moto, with batched reads and with one
//! read per object, at the same parallelism: the time of each and the
//! number of describe calls it made.
//!
//! The stack is N objects: one VPC per hundred, the rest subnets and
//! security groups spread over them (AWS's limits per VPC hold). It is
//! created once through the engine; then `Engine::drift` runs twice on the
//! same state, through a provider that counts calls (each `read` or
//! `read_many` is one describe) and, the second time, says no type reads
//! in batches.
//!
//! Needs `DAFNCK_MOTO_URL` (`eval "$(scripts/servers/moto.sh start)"`);
//! skips with a message without it. `cargo bench -p dafnck-providers
//! --features aws --bench refresh_aws` runs N = 1000
//! (`DAFNCK_REFRESH_OBJECTS` sets another); `cargo test --benches` runs it
//! once with N = 20 (what CI checks).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_ec2::config::Credentials;
use dafnck_core::engine::{Engine, Settings};
use dafnck_core::provider::{
    CreateRequest, Created, DeleteRequest, Diff, DiffRequest, Observed, ReadRequest, UpdateRequest,
};
use dafnck_core::state::{CallKind, MemoryStore};
use dafnck_core::{Provider, ProviderError, Providers, Stack, Value};
use dafnck_providers::aws;
use dafnck_providers::aws::ec2::{SecurityGroup, Subnet, Vpc};

/// The engine's default, for both runs.
const PARALLELISM: usize = 10;

/// The aws provider, counting the describe calls a refresh makes; with
/// `batched` off it reads every object alone.
struct Counting {
    inner: aws::Provider,
    batched: bool,
    describes: Arc<AtomicUsize>,
}

#[async_trait]
impl Provider for Counting {
    fn package(&self) -> &str {
        self.inner.package()
    }

    fn diff(&self, req: &DiffRequest<'_>) -> Diff {
        self.inner.diff(req)
    }

    fn expected_duration(&self, type_name: &str, call: CallKind) -> Option<Duration> {
        self.inner.expected_duration(type_name, call)
    }

    async fn create(&self, req: CreateRequest) -> Result<Created, ProviderError> {
        self.inner.create(req).await
    }

    async fn read(&self, req: ReadRequest) -> Result<Option<Observed>, ProviderError> {
        self.describes.fetch_add(1, Ordering::Relaxed);
        self.inner.read(req).await
    }

    fn reads_in_batches(&self, type_name: &str) -> bool {
        self.batched && self.inner.reads_in_batches(type_name)
    }

    async fn read_many(
        &self,
        reqs: Vec<ReadRequest>,
    ) -> Result<Vec<Option<Observed>>, ProviderError> {
        self.describes.fetch_add(1, Ordering::Relaxed);
        self.inner.read_many(reqs).await
    }

    async fn update(&self, req: UpdateRequest) -> Result<Value, ProviderError> {
        self.inner.update(req).await
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError> {
        self.inner.delete(req).await
    }
}

/// N objects: a VPC per hundred, then subnets and security groups in turn.
fn objects(n: usize, stack: &mut Stack) -> dafnck_core::Result<()> {
    let vpcs: Vec<_> = (0..n.div_ceil(100))
        .map(|v| {
            stack.add(
                &format!("vpc-{v}"),
                Vpc {
                    cidr_block: format!("10.{v}.0.0/16").into(),
                    ..Default::default()
                },
            )
        })
        .collect();
    for i in 0..n - vpcs.len() {
        // Subnets and groups take turns; each kind spreads over the VPCs.
        let k = i / 2;
        let v = k % vpcs.len();
        let vpc_id = vpcs[v].out().vpc_id;
        if i % 2 == 0 {
            stack.add(
                &format!("subnet-{k}"),
                Subnet {
                    vpc_id,
                    cidr_block: format!("10.{v}.{}.0/24", k / vpcs.len()).into(),
                    ..Default::default()
                },
            );
        } else {
            stack.add(
                &format!("group-{k}"),
                SecurityGroup {
                    name: format!("group-{k}").into(),
                    description: "refresh benchmark".to_string().into(),
                    vpc_id,
                    ..Default::default()
                },
            );
        }
    }
    Ok(())
}

/// One refresh of the stack in `store`; its time and describe calls.
async fn refresh(
    config: &aws_config::SdkConfig,
    store: &MemoryStore,
    batched: bool,
    n: usize,
) -> (Duration, usize) {
    let describes = Arc::new(AtomicUsize::new(0));
    let engine = engine(config, store, batched, &describes);
    let start = Instant::now();
    let report = engine.drift().await.expect("drift");
    let took = start.elapsed();
    assert_eq!(report.checked, n, "{report:?}");
    assert!(!report.has_drift(), "{report:?}");
    (took, describes.load(Ordering::Relaxed))
}

fn engine(
    config: &aws_config::SdkConfig,
    store: &MemoryStore,
    batched: bool,
    describes: &Arc<AtomicUsize>,
) -> Engine {
    let provider = Counting {
        inner: aws::Provider::with_config(config.clone()),
        batched,
        describes: describes.clone(),
    };
    Engine::new("refresh", store.clone(), Providers::new().with(provider)).settings(Settings {
        parallelism: PARALLELISM,
        ..Settings::default()
    })
}

/// `POST /moto-api/reset`, so every run starts from an empty moto.
async fn reset(url: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to moto at {url}: {e}"));
    let request = format!(
        "POST /moto-api/reset HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.contains(" 200 "), "moto did not reset: {response}");
}

fn main() {
    let Ok(url) = std::env::var("DAFNCK_MOTO_URL") else {
        eprintln!(
            "SKIPPED refresh_aws: DAFNCK_MOTO_URL is not set \
             (eval \"$(scripts/servers/moto.sh start)\")"
        );
        return;
    };
    // `cargo bench` passes `--bench`; `cargo test --benches` does not.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let n: usize = match std::env::var("DAFNCK_REFRESH_OBJECTS") {
        Ok(n) => n.parse().expect("DAFNCK_REFRESH_OBJECTS: a number"),
        Err(_) if benchmarking => 1000,
        Err(_) => 20,
    };
    assert!(n >= 2, "at least a VPC and one object in it");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        reset(&url).await;
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&url)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .load()
            .await;
        let store = MemoryStore::new();
        let start = Instant::now();
        let unused = Arc::new(AtomicUsize::new(0));
        engine(&config, &store, true, &unused)
            .up(|stack| objects(n, stack), false)
            .await
            .expect("up");
        eprintln!("created {n} objects in {:.1?}", start.elapsed());

        let (batched, batched_calls) = refresh(&config, &store, true, n).await;
        let (single, single_calls) = refresh(&config, &store, false, n).await;
        println!("| refresh of {n} objects, parallelism {PARALLELISM} | time | describe calls |");
        println!("|---|---:|---:|");
        println!(
            "| batched reads | {:.2} s | {batched_calls} |",
            batched.as_secs_f64()
        );
        println!(
            "| one read per object | {:.2} s | {single_calls} |",
            single.as_secs_f64()
        );
        println!(
            "| speed-up | {:.1}× | {:.0}× fewer |",
            single.as_secs_f64() / batched.as_secs_f64(),
            single_calls as f64 / batched_calls as f64
        );
        reset(&url).await;
    });
}
