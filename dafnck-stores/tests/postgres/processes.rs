//! Runs as processes: a holder SIGKILLed while it holds the lock, and
//! twenty `up` processes racing for one stack. The children are this test
//! binary, run again with `--ignored --exact processes::<child>`.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use dafnck_core::state::{
    self, ControlChannel, LockInfo, LockRequest, Record, State, StateError, StateHistory,
    StateLock, StateStore, Stored,
};
use dafnck_core::testing::FakeCloud;
use dafnck_stores::postgres::PostgresStore;

use super::{engine, program, raw, schema_of, spawn_child, url_for, NODES};

// Lease expiry: a run SIGKILLed while it holds the lock.

/// The child: applies `program("a")` with a 2 s lease against a fake cloud
/// whose creates take a minute, so it is killed mid-operation.
#[test]
#[ignore = "run as a child process by a_killed_holder_is_taken_over_after_its_lease"]
fn lease_child() {
    let url = std::env::var("DAFNCK_TEST_URL").expect("DAFNCK_TEST_URL");
    let cloud_dir = std::env::var("DAFNCK_TEST_CLOUD").expect("DAFNCK_TEST_CLOUD");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = PostgresStore::connect(&url).await.unwrap();
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
    let Some(url) = url_for("lease") else {
        return;
    };
    let cloud_dir = tempfile::tempdir().unwrap();
    let store = PostgresStore::connect(&url).await.unwrap();
    let mut child = spawn_child("processes::lease_child", &url, cloud_dir.path());
    let child_pid = child.id();

    // Wait until the child is inside a provider call: an intent with no
    // result is in the journal.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = state::load(&store, "dev").await.unwrap();
        if !state.pending.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the child never started a provider call"
        );
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

pub(crate) const RACERS: usize = 20;

/// A store that counts, in the database, how many runs hold the lock at
/// once: +1 right after a lock is granted, -1 right before it is released,
/// with the highest count kept in `max_holders`.
struct Probe {
    store: PostgresStore,
    db: tokio_postgres::Client,
    table: String,
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
        self.db
            .execute(
                &format!(
                    "UPDATE {} SET holders = holders + 1, grants = grants + 1,
                     max_holders = greatest(max_holders, holders + 1)",
                    self.table
                ),
                &[],
            )
            .await
            .expect("count the holder");
        // Hold it a while, so the others really meet a held lock.
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(lock)
    }
    async fn renew(&self, stack: &str, lock: &LockInfo) -> Result<LockInfo, StateError> {
        self.store.renew(stack, lock).await
    }
    async fn unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError> {
        self.db
            .execute(
                &format!("UPDATE {} SET holders = holders - 1", self.table),
                &[],
            )
            .await
            .expect("count the release");
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = PostgresStore::connect(&url).await.unwrap();
        let probe = Probe {
            table: format!("\"{}\".probe", schema_of(&url)),
            db: raw(&url).await,
            store,
        };
        // Every racer declares the same stack; the first to get the lock
        // creates it, the others find nothing to change.
        let cloud = FakeCloud::in_dir(Path::new(&cloud_dir)).unwrap();
        let engine = engine(probe, "shared", &cloud, Duration::from_secs(60));
        println!("ready");
        let deadline = Instant::now() + Duration::from_secs(120);
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
    let Some(url) = url_for("race") else {
        return;
    };
    let schema = schema_of(&url);
    // Create the tables first, so the racers race for the lock, not the
    // schema (a separate test below races the schema).
    let store = PostgresStore::connect(&url).await.unwrap();
    let db = raw(&url).await;
    db.batch_execute(&format!(
        "CREATE TABLE \"{schema}\".probe (holders int NOT NULL, max_holders int NOT NULL, grants int NOT NULL);
         INSERT INTO \"{schema}\".probe VALUES (0, 0, 0);"
    ))
    .await
    .unwrap();
    let cloud_dir = tempfile::tempdir().unwrap();

    let children: Vec<Child> = (0..RACERS)
        .map(|_| spawn_child("processes::race_child", &url, cloud_dir.path()))
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
    let probe = db
        .query_one(
            &format!("SELECT holders, max_holders, grants FROM \"{schema}\".probe"),
            &[],
        )
        .await
        .unwrap();
    let (holders, max_holders, grants): (i32, i32, i32) =
        (probe.get(0), probe.get(1), probe.get(2));
    assert_eq!(
        max_holders, 1,
        "at most one racer held the lock at any moment"
    );
    assert_eq!(holders, 0, "every racer released the lock");
    assert_eq!(
        grants as usize, RACERS,
        "each racer got the lock exactly once"
    );

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
    println!(
        "{RACERS} racers: {} refusals, {} grants",
        refusals.len(),
        grants
    );
}
