//! Locking: while another run holds the stack's lock, a run that would
//! write is refused with an error naming the holder and the lock id, and
//! writes nothing; `force_unlock` with that id releases the lock.

use std::time::Duration;

use dafnck_core::state::{
    ControlChannel, LockInfo, LockRequest, StateError, StateHistory, StateLock, StateStore,
};
use dafnck_core::testing::TestStack;
use dafnck_core::{Error, Stack};

use crate::common::node;

fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
    stack.add("n", node("x", "k", vec![]));
    Ok(())
}

/// Another run, on another machine, takes the lock.
async fn held_elsewhere(t: &TestStack, lease: Duration) -> LockInfo {
    let request = LockRequest {
        owner: "alice".into(),
        host: "ci-runner-7".into(),
        pid: 4242,
        operation: "up".into(),
        lease,
    };
    t.store().lock("dev", &request).await.unwrap()
}

fn assert_locked_by(err: &Error, lock: &LockInfo) {
    match err {
        Error::State(StateError::Locked { stack, holder }) => {
            assert_eq!(stack, "dev");
            assert_eq!(**holder, *lock);
        }
        other => panic!("expected StateError::Locked, got {other:?}"),
    }
    let text = err.to_string();
    for part in [
        "alice",
        "ci-runner-7",
        "4242",
        lock.id.as_str(),
        "force-unlock",
    ] {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
}

#[tokio::test]
async fn a_run_while_another_holds_the_lock_is_refused_naming_the_holder() {
    let t = TestStack::new("dev");
    t.up(infra).await.unwrap();
    let stored = t.store().read("dev").await.unwrap();
    let lock = held_elsewhere(&t, Duration::from_secs(600)).await;

    let program = |stack: &mut Stack| {
        stack.add("n", node("changed", "k", vec![]));
        Ok(())
    };
    assert_locked_by(&t.up(program).await.unwrap_err(), &lock);
    assert_locked_by(&t.destroy().await.unwrap_err(), &lock);
    assert_locked_by(&t.engine().refresh().await.unwrap_err(), &lock);

    assert_eq!(
        t.store().read("dev").await.unwrap(),
        stored,
        "nothing written"
    );
    assert_eq!(t.cloud().calls().len(), 1, "only the first run's create");
    assert_eq!(
        t.store().lock_info("dev").await.unwrap(),
        Some(lock),
        "the lock is still theirs"
    );
}

#[tokio::test]
async fn force_unlock_with_the_lock_id_releases_it_and_the_next_run_proceeds() {
    let t = TestStack::new("dev");
    let lock = held_elsewhere(&t, Duration::from_secs(600)).await;
    assert_locked_by(&t.up(infra).await.unwrap_err(), &lock);
    assert!(t.cloud().calls().is_empty());

    let wrong = t.engine().force_unlock("not-the-id").await.unwrap_err();
    assert!(
        matches!(wrong, Error::State(StateError::LockLost { .. })),
        "{wrong:?}"
    );
    assert!(t.store().lock_info("dev").await.unwrap().is_some());

    t.engine().force_unlock(&lock.id).await.unwrap();
    assert_eq!(t.store().lock_info("dev").await.unwrap(), None);
    t.up(infra).await.unwrap();
    assert_eq!(t.cloud().objects().len(), 1);
    assert_eq!(
        t.store().lock_info("dev").await.unwrap(),
        None,
        "the run released its own lock"
    );
}

#[tokio::test]
async fn a_lock_whose_lease_ran_out_is_taken_over() {
    let t = TestStack::new("dev");
    held_elsewhere(&t, Duration::ZERO).await;
    t.up(infra).await.unwrap();
    assert_eq!(t.cloud().objects().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_runs_at_once_one_applies_and_the_other_is_refused() {
    let cloud = dafnck_core::testing::FakeCloud::new().with_latency(Duration::from_millis(30));
    let t = TestStack::with_cloud("dev", cloud);
    let other = t.clone();
    let (a, b) = tokio::join!(t.up(infra), other.up(infra));
    let (won, lost) = match (a, b) {
        (Ok(r), Err(e)) | (Err(e), Ok(r)) => (r, e),
        (a, b) => panic!("expected one success and one refusal, got {a:?} and {b:?}"),
    };
    assert!(won.is_success());
    match &lost {
        Error::State(StateError::Locked { holder, .. }) => {
            assert_eq!(holder.pid, std::process::id());
            assert_eq!(holder.operation, "up");
        }
        other => panic!("expected StateError::Locked, got {other:?}"),
    }
    assert_eq!(t.cloud().objects().len(), 1, "created once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_run_renews_its_lease_so_it_is_not_taken_over() {
    use dafnck_core::engine::Settings;
    let cloud = dafnck_core::testing::FakeCloud::new().with_latency(Duration::from_millis(400));
    let t = TestStack::with_cloud("dev", cloud).settings(Settings {
        lease: Duration::from_millis(150),
        retry: dafnck_core::testing::fast_retry(),
        ..Settings::default()
    });
    let probe = async {
        // Well past the first lease, while the create is still running.
        tokio::time::sleep(Duration::from_millis(250)).await;
        let request = LockRequest {
            owner: "bob".into(),
            host: "laptop".into(),
            pid: 1,
            operation: "up".into(),
            lease: Duration::from_secs(60),
        };
        t.store().lock("dev", &request).await
    };
    let (run, taken) = tokio::join!(t.up(infra), probe);
    assert!(
        matches!(taken, Err(StateError::Locked { .. })),
        "the running apply's lock was taken over: {taken:?}"
    );
    assert!(run.unwrap().is_success());
    assert_eq!(t.store().lock_info("dev").await.unwrap(), None);
}

/// A store whose first renewals fail for a moment (a network store's
/// dropped connection).
struct FlakyRenewals {
    inner: dafnck_core::state::MemoryStore,
    failures_left: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl StateStore for FlakyRenewals {
    fn describe(&self) -> String {
        "flaky".into()
    }
    async fn read(&self, stack: &str) -> Result<dafnck_core::state::Stored, StateError> {
        self.inner.read(stack).await
    }
    async fn append(
        &self,
        stack: &str,
        records: &[dafnck_core::state::Record],
    ) -> Result<(), StateError> {
        self.inner.append(stack, records).await
    }
    async fn compact(
        &self,
        stack: &str,
        snapshot: &dafnck_core::state::State,
    ) -> Result<(), StateError> {
        self.inner.compact(stack, snapshot).await
    }
    fn locks(&self) -> Option<&dyn StateLock> {
        Some(self)
    }
    fn history(&self) -> Option<&dyn StateHistory> {
        Some(&self.inner)
    }
    fn channel(&self) -> Option<&dyn ControlChannel> {
        Some(&self.inner)
    }
}

#[async_trait::async_trait]
impl StateLock for FlakyRenewals {
    async fn lock(&self, stack: &str, request: &LockRequest) -> Result<LockInfo, StateError> {
        self.inner.lock(stack, request).await
    }
    async fn renew(&self, stack: &str, lock: &LockInfo) -> Result<LockInfo, StateError> {
        use std::sync::atomic::Ordering;
        if self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(StateError::Backend {
                backend: "flaky".into(),
                message: "connection reset".into(),
            });
        }
        self.inner.renew(stack, lock).await
    }
    async fn unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError> {
        self.inner.unlock(stack, lock_id).await
    }
    async fn lock_info(&self, stack: &str) -> Result<Option<LockInfo>, StateError> {
        self.inner.lock_info(stack).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_that_fails_for_a_moment_is_retried_before_the_lease_ends() {
    use dafnck_core::engine::{Engine, Settings};
    let memory = dafnck_core::state::MemoryStore::new();
    let store = FlakyRenewals {
        inner: memory.clone(),
        failures_left: 1.into(),
    };
    let cloud = dafnck_core::testing::FakeCloud::new().with_latency(Duration::from_millis(400));
    let engine = Engine::new(
        "dev",
        store,
        dafnck_core::Providers::new().with(cloud.clone()),
    )
    .settings(Settings {
        lease: Duration::from_millis(150),
        retry: dafnck_core::testing::fast_retry(),
        ..Settings::default()
    });
    let probe = async {
        // Past the first lease: only a retried renewal keeps the lock.
        tokio::time::sleep(Duration::from_millis(250)).await;
        let request = LockRequest {
            owner: "bob".into(),
            host: "laptop".into(),
            pid: 1,
            operation: "up".into(),
            lease: Duration::from_secs(60),
        };
        memory.lock("dev", &request).await
    };
    let (run, taken) = tokio::join!(engine.up(infra, false), probe);
    assert!(
        matches!(taken, Err(StateError::Locked { .. })),
        "the lock was taken over after one failed renewal: {taken:?}"
    );
    assert!(run.unwrap().is_success());
}

#[tokio::test]
async fn with_a_lock_timeout_a_run_waits_for_the_holder_then_goes_on() {
    use dafnck_core::engine::Settings;
    let t = TestStack::new("dev").settings(Settings {
        lock_timeout: Duration::from_secs(5),
        retry: dafnck_core::testing::fast_retry(),
        ..Settings::default()
    });
    let lock = held_elsewhere(&t, Duration::from_secs(60)).await;
    let release = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        t.store().unlock("dev", &lock.id).await.unwrap();
    };
    let started = std::time::Instant::now();
    let (run, ()) = tokio::join!(t.up(infra), release);
    assert!(run.unwrap().is_success());
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(t.cloud().objects().len(), 1);
}

#[tokio::test]
async fn a_lock_timeout_that_runs_out_fails_naming_the_holder() {
    use dafnck_core::engine::Settings;
    let t = TestStack::new("dev").settings(Settings {
        lock_timeout: Duration::from_millis(400),
        ..Settings::default()
    });
    let lock = held_elsewhere(&t, Duration::from_secs(60)).await;
    let started = std::time::Instant::now();
    let err = t.up(infra).await.unwrap_err();
    assert_locked_by(&err, &lock);
    assert!(started.elapsed() >= Duration::from_millis(200), "it waited");
    assert!(t.cloud().objects().is_empty());
}
