//! Runs as processes: a holder SIGKILLed while it holds the lock, and
//! twenty `up` processes racing for one stack. The children are this test
//! binary, run again with `--ignored --exact processes::<child>`; they open
//! the store with `S3Store::connect`, from the AWS environment.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use dafnck_core::state::{
    self, ControlChannel, LockInfo, LockRequest, Record, State, StateError, StateHistory,
    StateLock, StateStore, Stored,
};
use dafnck_core::testing::FakeCloud;
use dafnck_stores::s3::S3Store;

use super::{engine, moto, program, spawn_child, NODES};

fn child_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

// Lease expiry: a run SIGKILLed while it holds the lock.

/// The child: applies `program("a")` with a 2 s lease against a fake cloud
/// whose creates take a minute, so it is killed mid-operation.
#[test]
#[ignore = "run as a child process by a_killed_holder_is_taken_over_after_its_lease"]
fn lease_child() {
    let url = std::env::var("DAFNCK_TEST_URL").expect("DAFNCK_TEST_URL");
    let cloud_dir = std::env::var("DAFNCK_TEST_CLOUD").expect("DAFNCK_TEST_CLOUD");
    child_runtime().block_on(async {
        let store = S3Store::connect(&url).await.unwrap();
        let cloud = FakeCloud::in_dir(Path::new(&cloud_dir))
            .unwrap()
            .with_latency(Duration::from_secs(60));
        let engine = engine(store, "dev", &cloud, Duration::from_secs(2));
        println!("applying");
        engine.up(program("a"), false).await.unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_holder_is_taken_over_after_its_lease_and_its_pending_work_recovered() {
    let Some(moto) = moto("lease").await else {
        return;
    };
    let cloud_dir = tempfile::tempdir().unwrap();
    let store = moto.store().await;
    let mut child = spawn_child("processes::lease_child", &moto, cloud_dir.path());
    let child_pid = child.id();

    // Wait until the child is inside a provider call: an intent with no
    // result is in the journal.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = state::load(&store, "dev").await.unwrap();
        if !state.pending.is_empty() {
            break;
        }
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
    // SIGKILL: no destructor, no unlock; its lease is left to run out.
    child.kill().unwrap();
    child.wait().unwrap();

    let cloud = FakeCloud::in_dir(cloud_dir.path()).unwrap();
    let rerun = engine(store.clone(), "dev", &cloud, Duration::from_secs(60));
    let e = rerun.up(program("a"), false).await.unwrap_err();
    let dafnck_core::Error::State(StateError::Locked { holder, .. }) = &e else {
        panic!("expected the dead run's live lease to refuse the rerun, got {e}");
    };
    assert_eq!(holder.pid, child_pid);
    let text = e.to_string();
    assert!(
        text.contains(&format!("lock id {}", holder.id)) && text.contains("force-unlock"),
        "{text}"
    );

    // A preview (no lock needed) sees the dead run's pending operation.
    let preview = rerun.preview(program("a"), false).await.unwrap();
    assert!(
        !preview.pending.is_empty(),
        "the pending operation is found"
    );

    // After the lease the rerun takes the lock over and converges.
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

// Race: twenty processes run `up` on one stack at once.

const RACERS: usize = 20;

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
struct Probe {
    store: S3Store,
}

#[async_trait]
impl StateStore for Probe {
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
impl StateLock for Probe {
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

/// The child: runs `up` until it gets the lock once; prints each refusal.
#[test]
#[ignore = "run as a child process by twenty_concurrent_ups_take_turns"]
fn race_child() {
    let url = std::env::var("DAFNCK_TEST_URL").expect("DAFNCK_TEST_URL");
    let cloud_dir = std::env::var("DAFNCK_TEST_CLOUD").expect("DAFNCK_TEST_CLOUD");
    child_runtime().block_on(async {
        let probe = Probe {
            store: S3Store::connect(&url).await.unwrap(),
        };
        // Every racer declares the same stack; the first to get the lock
        // creates it, the others find nothing to change.
        let cloud = FakeCloud::in_dir(Path::new(&cloud_dir)).unwrap();
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
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_ups_take_turns() {
    let Some(moto) = moto("race").await else {
        return;
    };
    let store = moto.store().await;
    let cloud_dir = tempfile::tempdir().unwrap();

    let children: Vec<Child> = (0..RACERS)
        .map(|_| spawn_child("processes::race_child", &moto, cloud_dir.path()))
        .collect();
    let outputs: Vec<(bool, String, String)> = tokio::task::spawn_blocking(move || {
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
    .unwrap();

    for (ok, stdout, stderr) in &outputs {
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
    for (_, stdout, _) in &outputs {
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
    let state = state::load(&store, "shared").await.unwrap();
    assert!(state.pending.is_empty());
    assert_eq!(state.resources.len(), NODES);
    let cloud = FakeCloud::in_dir(cloud_dir.path()).unwrap();
    let objects: std::collections::BTreeSet<String> = cloud.objects().into_keys().collect();
    let ids: std::collections::BTreeSet<String> =
        state.resources.values().map(|r| r.id.clone()).collect();
    assert_eq!(objects, ids, "every resource was created once");
    assert_eq!(store.lock_info("shared").await.unwrap(), None);
    println!("{RACERS} racers: {} refusals", refusals.len());
}
