//! Crash safety: a real child process applies a graph and is killed with
//! SIGKILL at many points. Every time, the state loads, and a rerun
//! converges with no leaked object. The fake cloud keeps its objects in a
//! directory, so they outlive the killed process and can be counted.
//!
//! The child is this test binary itself, re-run with `--ignored --exact
//! crash_child` and the directories in the environment.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use dafnck_core::engine::{Engine, Settings};
use dafnck_core::prelude::*;
use dafnck_core::state::{self, FileStore};
use dafnck_core::testing::resources::Node;
use dafnck_core::testing::{fast_retry, FakeCloud};

const STACK: &str = "crash";
const NODES: usize = 40;

/// Version 1 creates a layered graph; version 2 removes some nodes, updates
/// some in place and replaces others (some delete-first).
fn program(version: u32) -> impl FnOnce(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let mut handles: Vec<Option<Handle<Node>>> = Vec::new();
        for i in 0..NODES {
            let removed = version == 2 && i % 9 == 8;
            let refs = [i.wrapping_mul(7) % (i.max(1)), i / 2]
                .into_iter()
                .filter(|&d| d < i)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .filter_map(|d| handles[d].as_ref().map(|h| h.out().node_id))
                .collect();
            if removed {
                handles.push(None);
                continue;
            }
            let value = if version == 2 && i % 3 == 0 { "b" } else { "a" };
            let key = if version == 2 && i % 7 == 0 {
                "k1"
            } else {
                "k0"
            };
            let options = if i % 2 == 0 {
                Options::new().delete_before_replace()
            } else {
                Options::new()
            };
            let node = Node {
                value: value.into(),
                key: key.into(),
                refs,
            };
            handles.push(Some(stack.add_with(&format!("n{i:02}"), node, options)));
        }
        Ok(())
    }
}

fn engine(state_dir: &Path, cloud: &FakeCloud) -> Engine {
    Engine::new(
        STACK,
        FileStore::new(state_dir),
        Providers::new().with(cloud.clone()),
    )
    .settings(Settings {
        parallelism: 4,
        retry: fast_retry(),
        ..Settings::default()
    })
}

fn cloud(dir: &Path) -> FakeCloud {
    let cloud = FakeCloud::in_dir(dir).expect("the fake cloud's directory");
    // Latency spread by name so the kill lands in different steps.
    cloud.set_latency(|_, name| {
        let h = name
            .bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
        Duration::from_millis(3 + h % 12)
    });
    cloud
}

/// The child: applies one version and exits. Run only by `crash_at_many_points`.
#[test]
#[ignore = "run as a child process by crash_at_many_points"]
fn crash_child() {
    let state_dir = std::env::var("DAFNCK_CRASH_STATE").expect("DAFNCK_CRASH_STATE");
    let cloud_dir = std::env::var("DAFNCK_CRASH_CLOUD").expect("DAFNCK_CRASH_CLOUD");
    let version: u32 = std::env::var("DAFNCK_CRASH_VERSION")
        .expect("version")
        .parse()
        .expect("a number");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let cloud = cloud(Path::new(&cloud_dir));
        let engine = engine(Path::new(&state_dir), &cloud);
        println!("applying");
        engine
            .up(program(version), false)
            .await
            .expect("the child's apply");
        println!("applied");
    });
}

/// Runs the child on `version` and SIGKILLs it `delay` after it starts
/// applying (or lets it finish when `delay` is None). Returns whether it
/// finished by itself.
fn run_child(state_dir: &Path, cloud_dir: &Path, version: u32, delay: Option<Duration>) -> bool {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("DAFNCK_CRASH_STATE", state_dir)
        .env("DAFNCK_CRASH_CLOUD", cloud_dir)
        .env("DAFNCK_CRASH_VERSION", version.to_string())
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the child");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.expect("the child's output").contains("applying") {
            break;
        }
    }
    if let Some(delay) = delay {
        std::thread::sleep(delay);
        // SIGKILL on Unix: no destructor, no flush, no unlock.
        let _ = child.kill();
    }
    let status = child.wait().expect("wait for the child");
    status.success()
}

struct Outcome {
    pending: usize,
    recorded: usize,
}

async fn check_after_kill(state_dir: &Path, cloud_dir: &Path, version: u32) -> Outcome {
    // The state a killed run left must load.
    let left = state::load(&FileStore::new(state_dir), STACK)
        .await
        .unwrap_or_else(|e| panic!("the state does not load after a kill: {e}"));
    let outcome = Outcome {
        pending: left.pending.len(),
        recorded: left.resources.len(),
    };
    // A rerun converges, taking over the dead run's lock.
    let cloud = cloud(cloud_dir);
    let engine = engine(state_dir, &cloud);
    let report = engine
        .up(program(version), false)
        .await
        .unwrap_or_else(|e| panic!("the rerun failed: {e}"));
    assert!(report.is_success());
    let state = engine.state().await.unwrap();
    assert!(state.pending.is_empty() && state.deposed.is_empty());
    let desired: BTreeSet<String> = engine
        .desired(program(version))
        .unwrap()
        .nodes
        .iter()
        .map(|n| n.name.to_string())
        .collect();
    let recorded: BTreeSet<String> = state.resources.keys().cloned().collect();
    assert_eq!(
        recorded, desired,
        "the state records exactly the program's resources"
    );
    cloud.reload().unwrap();
    let objects: BTreeSet<String> = cloud.objects().into_keys().collect();
    let ids: BTreeSet<String> = state.resources.values().map(|r| r.id.clone()).collect();
    assert_eq!(
        objects, ids,
        "the cloud holds exactly the recorded objects (no leak, no orphan)"
    );
    assert!(
        !engine
            .preview(program(version), true)
            .await
            .unwrap()
            .plan
            .has_changes(),
        "a refreshed preview after the rerun is empty"
    );
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_at_many_points() {
    let mut with_pending = 0;
    let mut partial = 0;
    let mut kills = 0;
    for version in [1u32, 2] {
        for k in 0..12u64 {
            let dir = tempfile::tempdir().unwrap();
            let (state_dir, cloud_dir) = (dir.path().join("state"), dir.path().join("cloud"));
            if version == 2 {
                assert!(
                    run_child(&state_dir, &cloud_dir, 1, None),
                    "version 1 applies"
                );
            }
            let delay = Duration::from_millis(2 + k * 9);
            if run_child(&state_dir, &cloud_dir, version, Some(delay)) {
                // Finished before the kill: still must be consistent.
            } else {
                kills += 1;
            }
            let o = check_after_kill(&state_dir, &cloud_dir, version).await;
            with_pending += usize::from(o.pending > 0);
            partial += usize::from(o.recorded > 0 && o.recorded < NODES);
        }
    }
    eprintln!("kills {kills}, left pending {with_pending}, partly applied {partial}");
    // The kills must have landed mid-apply, or this test would prove nothing.
    assert!(
        kills >= 12,
        "only {kills} of 24 runs were killed before they finished"
    );
    assert!(
        with_pending >= 3,
        "only {with_pending} kills left a pending operation"
    );
    assert!(
        partial >= 3,
        "only {partial} kills left a partly applied stack"
    );
}
