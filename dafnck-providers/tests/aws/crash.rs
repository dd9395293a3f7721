//! Crash safety with the real provider: a child process (this test binary,
//! re-run with `--ignored --exact crash::crash_child`) applies a stack
//! through the aws provider against moto and is SIGKILLed right after
//! RunInstances went through, before the engine could journal the result.
//! The rerun finds the pending create, reads the instance back by its
//! token tag and adopts it: one instance, counted through the SDK.
//!
//! The child's provider is a wrapper that lives only here: it passes every
//! call to the aws provider, and after an instance's create returns it
//! says so on standard output and never returns, so the parent's SIGKILL
//! lands between the call and its journal record.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use async_trait::async_trait;
use dafnck_core::engine::{Engine, Settings};
use dafnck_core::prelude::*;
use dafnck_core::provider::{
    CreateRequest, Created, DeleteRequest, Diff, DiffRequest, Observed, ProviderError, ReadRequest,
    UpdateRequest,
};
use dafnck_core::state::{self, FileStore};
use dafnck_core::testing::fast_retry;
use dafnck_core::Value;
use dafnck_providers::aws::ec2::{Instance, Subnet, Vpc};
use dafnck_providers::aws::{self, NAME_TAG};

use crate::support::{moto, sdk_config};

const STACK: &str = "test";
/// What the child prints once RunInstances went through.
const SENT: &str = "RunInstances sent";

fn program(ami: String) -> impl FnOnce(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let vpc = stack.add(
            "vpc",
            Vpc {
                cidr_block: "10.7.0.0/16".into(),
                ..Default::default()
            },
        );
        let subnet = stack.add(
            "subnet",
            Subnet {
                vpc_id: vpc.out().vpc_id,
                cidr_block: "10.7.1.0/24".into(),
                ..Default::default()
            },
        );
        stack.add(
            "web",
            Instance {
                ami: ami.into(),
                instance_type: "t3.micro".into(),
                subnet_id: subnet.out().subnet_id,
                ..Default::default()
            },
        );
        Ok(())
    }
}

fn engine(state_dir: &Path, provider: impl dafnck_core::Provider) -> Engine {
    Engine::new(
        STACK,
        FileStore::new(state_dir),
        Providers::new().with(provider),
    )
    .settings(Settings {
        retry: fast_retry(),
        ..Settings::default()
    })
}

/// The aws provider, except that an instance's create hangs once it is
/// made, after saying so.
struct HangAfterRunInstances(aws::Provider);

#[async_trait]
impl dafnck_core::Provider for HangAfterRunInstances {
    fn package(&self) -> &str {
        self.0.package()
    }

    fn diff(&self, req: &DiffRequest<'_>) -> Diff {
        self.0.diff(req)
    }

    async fn create(&self, req: CreateRequest) -> Result<Created, ProviderError> {
        let instance = req.type_name == Instance::TYPE;
        let created = self.0.create(req).await?;
        if instance {
            println!("{SENT}: {}", created.id);
            std::io::stdout().flush().expect("flush the child's output");
            std::future::pending::<()>().await;
        }
        Ok(created)
    }

    async fn read(&self, req: ReadRequest) -> Result<Option<Observed>, ProviderError> {
        self.0.read(req).await
    }

    async fn update(&self, req: UpdateRequest) -> Result<Value, ProviderError> {
        self.0.update(req).await
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError> {
        self.0.delete(req).await
    }
}

/// The child: applies the stack with the hanging wrapper. Run only by
/// `a_killed_apply_leaves_an_instance_the_rerun_adopts`.
#[test]
#[ignore = "run as a child process by a_killed_apply_leaves_an_instance_the_rerun_adopts"]
fn crash_child() {
    let state_dir = std::env::var("DAFNCK_CRASH_STATE").expect("DAFNCK_CRASH_STATE");
    let url = std::env::var("DAFNCK_MOTO_URL").expect("DAFNCK_MOTO_URL");
    let ami = std::env::var("DAFNCK_CRASH_AMI").expect("DAFNCK_CRASH_AMI");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let provider = aws::Provider::with_config(sdk_config(&url).await)
            .poll_interval(Duration::from_millis(50));
        let engine = engine(Path::new(&state_dir), HangAfterRunInstances(provider));
        engine
            .up(program(ami), false)
            .await
            .expect("the child's apply");
        println!("applied");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_apply_leaves_an_instance_the_rerun_adopts() {
    let Some(m) = moto("a_killed_apply_leaves_an_instance_the_rerun_adopts").await else {
        return;
    };
    let ami = m.ami().await;
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var("DAFNCK_MOTO_URL").unwrap();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "crash::crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("DAFNCK_CRASH_STATE", dir.path())
        .env("DAFNCK_CRASH_AMI", &ami)
        .env("DAFNCK_MOTO_URL", &url)
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the child");
    // The child's output is read with blocking calls, off the runtime.
    let (made, status) = tokio::task::spawn_blocking(move || {
        let mut made = None;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.expect("the child's output");
            // The harness's `test crash::crash_child ... ` has no newline.
            if let Some((_, id)) = line.split_once(&format!("{SENT}: ")) {
                made = Some(id.trim().to_owned());
                break;
            }
            assert_ne!(line, "applied", "the child finished instead of hanging");
        }
        // SIGKILL: no destructor, no flush, no unlock.
        let _ = child.kill();
        (made, child.wait().expect("wait for the child"))
    })
    .await
    .unwrap();
    assert!(!status.success(), "the child was killed");
    let made = made.expect("the child never reached RunInstances");

    // The killed run left a pending create and one live instance.
    let left = state::load(&FileStore::new(dir.path()), STACK)
        .await
        .unwrap_or_else(|e| panic!("the state does not load after the kill: {e}"));
    assert_eq!(left.pending.len(), 1, "the create of web is pending");
    assert!(!left.resources.contains_key("web"));
    let live = m.live_instances().await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].instance_id(), Some(made.as_str()));

    // The rerun adopts it instead of launching a second one.
    let engine = engine(dir.path(), m.provider.clone());
    let report = engine.up(program(ami.clone()), false).await.unwrap();
    assert_eq!(
        report.pending_resolved.len(),
        1,
        "{:?}",
        report.pending_resolved
    );
    assert!(
        report.pending_resolved[0].outcome.contains("adopted"),
        "{:?}",
        report.pending_resolved
    );
    let state = engine.state().await.unwrap();
    assert!(state.pending.is_empty());
    assert_eq!(state.resources["web"].id, made);
    let live = m.live_instances().await;
    assert_eq!(live.len(), 1, "no second instance");
    assert_eq!(live[0].instance_id(), Some(made.as_str()));
    let name = live[0].tags().iter().find(|t| t.key() == Some(NAME_TAG));
    assert_eq!(name.and_then(|t| t.value()), Some("web"));
    assert!(!engine
        .preview(program(ami.clone()), true)
        .await
        .unwrap()
        .plan
        .has_changes());
    engine.destroy().await.unwrap();
    assert!(m.live_instances().await.is_empty());
}
