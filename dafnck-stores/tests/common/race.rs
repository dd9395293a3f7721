//! Twenty `up` processes racing for one stack, shared by the state
//! stores' tests (PostgreSQL, S3, GCS, Azure Blob): the child's loop, the probe that prints when
//! it held the lock, and the parent's checks that every racer got the lock
//! once, no two holds overlapped, and the final state is whole.
//!
//! A test crate includes it with `#[path = "../common/race.rs"] mod race;`
//! and runs its own binary as the children.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use dafnck_core::engine::{Engine, Settings};
use dafnck_core::prelude::*;
use dafnck_core::state::{
    self, ControlChannel, LockInfo, LockRequest, Record, State, StateError, StateHistory,
    StateLock, StateStore, Stored,
};
use dafnck_core::testing::resources::Node;
use dafnck_core::testing::{fast_retry, FakeCloud};

/// How many processes race.
pub(crate) const RACERS: usize = 20;

/// How many resources the test program declares.
pub(crate) const NODES: usize = 6;

/// A chain of [`NODES`] fake-cloud nodes, each with `value`.
pub(crate) fn program(value: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let mut previous: Option<Handle<Node>> = None;
        for i in 0..NODES {
            let node = Node {
                value: value.into(),
                key: "k".into(),
                refs: previous.iter().map(|p| p.out().node_id).collect(),
            };
            previous = Some(stack.add(&format!("n{i}"), node));
        }
        Ok(())
    }
}

/// An engine on `stack` with this store, cloud and lease.
pub(crate) fn engine(
    store: impl StateStore,
    stack: &str,
    cloud: &FakeCloud,
    lease: Duration,
) -> Engine {
    Engine::new(stack, store, Providers::new().with(cloud.clone())).settings(Settings {
        parallelism: 2,
        retry: fast_retry(),
        lease,
        ..Settings::default()
    })
}

/// A child's runtime.
pub(crate) fn child_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Nanoseconds since the Unix epoch: the children share this machine's
/// clock, so their grant and release times compare.
fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A store that prints when this run got the lock (`GRANT <ns>`, right
/// after it was granted) and when it let go (`RELEASE <ns>`, right before
/// it is released), so the parent can check no two holds overlap.
struct Probe<S> {
    store: S,
}

#[async_trait]
impl<S: StateStore + StateLock> StateStore for Probe<S> {
    fn describe(&self) -> String {
        self.store.describe()
    }
    async fn read(&self, stack: &str) -> Result<Stored, StateError> {
        self.store.read(stack).await
    }
    async fn append(&self, stack: &str, records: &[Record]) -> Result<(), StateError> {
        self.store.append(stack, records).await
    }
    async fn compact(&self, stack: &str, snapshot: &State) -> Result<(), StateError> {
        self.store.compact(stack, snapshot).await
    }
    fn locks(&self) -> Option<&dyn StateLock> {
        Some(self)
    }
    fn history(&self) -> Option<&dyn StateHistory> {
        self.store.history()
    }
    fn channel(&self) -> Option<&dyn ControlChannel> {
        self.store.channel()
    }
}

#[async_trait]
impl<S: StateStore + StateLock> StateLock for Probe<S> {
    async fn lock(&self, stack: &str, request: &LockRequest) -> Result<LockInfo, StateError> {
        let lock = self.store.lock(stack, request).await?;
        println!("GRANT {}", now_nanos());
        // Hold it a while, so the others really meet a held lock.
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(lock)
    }
    async fn renew(&self, stack: &str, lock: &LockInfo) -> Result<LockInfo, StateError> {
        self.store.renew(stack, lock).await
    }
    async fn unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError> {
        println!("RELEASE {}", now_nanos());
        self.store.unlock(stack, lock_id).await
    }
    async fn lock_info(&self, stack: &str) -> Result<Option<LockInfo>, StateError> {
        self.store.lock_info(stack).await
    }
}

/// A child's part: runs `up` with `store` until it gets the lock once;
/// prints each refusal.
pub(crate) async fn race_child(store: impl StateStore + StateLock, cloud_dir: &Path) {
    let probe = Probe { store };
    // Every racer declares the same stack; the first to get the lock
    // creates it, the others find nothing to change.
    let cloud = FakeCloud::in_dir(cloud_dir).unwrap();
    let engine = engine(probe, "shared", &cloud, Duration::from_secs(60));
    println!("ready");
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        match engine.up(program("a"), false).await {
            Ok(report) => {
                assert!(report.is_success());
                println!("UP OK");
                return;
            }
            Err(e @ dafnck_core::Error::State(StateError::Locked { .. })) => {
                println!("LOCKED {e}");
                assert!(Instant::now() < deadline, "never got the lock");
                let jitter = u64::from(std::process::id() % 40);
                tokio::time::sleep(Duration::from_millis(10 + jitter)).await;
            }
            Err(e) => panic!("up failed: {e}"),
        }
    }
}

/// The parent's checks over the racers' `(success, stdout, stderr)`: each
/// got the lock exactly once, refusals name the holder, no two holds
/// overlap, and the final state in `store` is whole and matches the cloud
/// in `cloud_dir`.
pub(crate) async fn check_race(
    outputs: &[(bool, String, String)],
    store: &(impl StateStore + StateLock),
    cloud_dir: &Path,
) {
    for (ok, stdout, stderr) in outputs {
        assert!(ok, "a racer failed:\n{stdout}\n{stderr}");
        assert!(stdout.contains("UP OK"), "{stdout}");
    }
    let refusals: Vec<&str> = outputs
        .iter()
        .flat_map(|(_, out, _)| out.lines())
        .filter(|l| l.starts_with("LOCKED "))
        .collect();
    assert!(!refusals.is_empty(), "no racer ever met a held lock");
    for refusal in &refusals {
        assert!(
            refusal.contains("is locked by")
                && refusal.contains("lock id ")
                && refusal.contains("force-unlock"),
            "a refusal names the holder and the lock id: {refusal}"
        );
    }
    // Each racer held the lock exactly once, and no two holds overlap.
    let mut holds: Vec<(u128, u128)> = Vec::new();
    for (_, stdout, _) in outputs {
        let times = |tag: &str| -> Vec<u128> {
            stdout
                .lines()
                .filter_map(|l| l.strip_prefix(tag))
                .map(|t| t.parse().unwrap())
                .collect()
        };
        let (grants, releases) = (times("GRANT "), times("RELEASE "));
        assert_eq!(
            (grants.len(), releases.len()),
            (1, 1),
            "one grant and one release per racer:\n{stdout}"
        );
        holds.push((grants[0], releases[0]));
    }
    holds.sort_unstable();
    for pair in holds.windows(2) {
        assert!(
            pair[0].1 < pair[1].0,
            "two racers held the lock at once: {:?} and {:?}",
            pair[0],
            pair[1]
        );
    }

    // The final state is consistent: loads, nothing pending, exactly the
    // program's resources, each once in the cloud.
    let state = state::load(store, "shared").await.unwrap();
    assert!(state.pending.is_empty());
    assert_eq!(state.resources.len(), NODES);
    let cloud = FakeCloud::in_dir(cloud_dir).unwrap();
    let objects: std::collections::BTreeSet<String> = cloud.objects().into_keys().collect();
    let ids: std::collections::BTreeSet<String> =
        state.resources.values().map(|r| r.id.clone()).collect();
    assert_eq!(objects, ids, "every resource was created once");
    assert_eq!(store.lock_info("shared").await.unwrap(), None);
    println!("{RACERS} racers: {} refusals", refusals.len());
}

/// Waits (at most a minute) until `child`, running `up` on stack `dev`,
/// is inside a provider call (an intent with no result is in `store`'s
/// journal), then SIGKILLs it: no destructor, no unlock, its lease left
/// to run out.
#[allow(dead_code)]
pub(crate) async fn kill_mid_operation(mut child: std::process::Child, store: &impl StateStore) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while state::load(store, "dev").await.unwrap().pending.is_empty() {
        if Instant::now() >= deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the child never started a provider call:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// After a killed holder's lease runs out, `rerun` takes the lock over
/// (within 30 s, retrying while it is still held) and converges on
/// stack `dev`: nothing pending, the program's resources each once in
/// `cloud`, no lock left in `store`. (The GCS tests kill no holder.)
#[allow(dead_code)]
pub(crate) async fn rerun_takes_over(
    rerun: &Engine,
    store: &(impl StateLock + ?Sized),
    cloud: &FakeCloud,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let report = loop {
        match rerun.up(program("a"), false).await {
            Ok(report) => break report,
            Err(dafnck_core::Error::State(StateError::Locked { .. })) => {
                assert!(
                    Instant::now() < deadline,
                    "the expired lease was never taken over"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the rerun failed: {e}"),
        }
    };
    assert!(report.is_success());
    let state = rerun.state().await.unwrap();
    assert!(state.pending.is_empty(), "pending operations were resolved");
    assert_eq!(state.resources.len(), NODES);
    cloud.reload().unwrap();
    let objects: std::collections::BTreeSet<String> = cloud.objects().into_keys().collect();
    let ids: std::collections::BTreeSet<String> =
        state.resources.values().map(|r| r.id.clone()).collect();
    assert_eq!(objects, ids, "the cloud holds exactly the recorded objects");
    assert_eq!(store.lock_info("dev").await.unwrap(), None);
}

/// Waits for every racer: `(success, stdout, stderr)` of each.
pub(crate) async fn wait_all(children: Vec<std::process::Child>) -> Vec<(bool, String, String)> {
    tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|child| {
                let out = child.wait_with_output().expect("wait for a racer");
                (
                    out.status.success(),
                    String::from_utf8_lossy(&out.stdout).into_owned(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                )
            })
            .collect()
    })
    .await
    .unwrap()
}
