//! Every state store passes the conformance suite.

use dafnck_core::state::{testing, FileStore, MemoryStore};

#[tokio::test]
async fn memory_store_conforms() {
    testing::conformance(&MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_store_conforms() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = FileStore::new(dir.path().join(".dafnck"));
    testing::conformance(&store).await;
    // Again on the same directory, holding the first run's data, with a new
    // store value that has seen none of it.
    testing::conformance(&FileStore::new(dir.path().join(".dafnck"))).await;
}

#[tokio::test]
async fn file_store_conforms_on_a_current_thread_runtime() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    testing::conformance(&FileStore::new(dir.path())).await;
}

/// The suite has teeth: stores with a known bug fail the check meant for it.
mod broken {
    use async_trait::async_trait;
    use dafnck_core::state::{
        testing, LockInfo, LockRequest, MemoryStore, Record, State, StateError, StateStore, Stored,
    };

    /// A store with one deliberate bug.
    struct Broken {
        inner: MemoryStore,
        keeps_records_on_compact: bool,
        locks_twice: bool,
    }

    #[async_trait]
    impl StateStore for Broken {
        fn describe(&self) -> String {
            "broken".into()
        }
        async fn read(&self, stack: &str) -> Result<Stored, StateError> {
            self.inner.read(stack).await
        }
        async fn append(&self, stack: &str, records: &[Record]) -> Result<(), StateError> {
            self.inner.append(stack, records).await
        }
        async fn compact(&self, stack: &str, snapshot: &State) -> Result<(), StateError> {
            if self.keeps_records_on_compact {
                let journal = self.inner.read(stack).await?.journal;
                self.inner.compact(stack, &State::empty(stack)).await?;
                let mut s = snapshot.clone();
                s.serial = 0;
                self.inner.compact(stack, &s).await?;
                return self.inner.append(stack, &journal).await;
            }
            self.inner.compact(stack, snapshot).await
        }
        async fn lock(&self, stack: &str, request: &LockRequest) -> Result<LockInfo, StateError> {
            if self.locks_twice {
                return Ok(LockInfo::grant(request));
            }
            self.inner.lock(stack, request).await
        }
        async fn renew(&self, stack: &str, lock: &LockInfo) -> Result<LockInfo, StateError> {
            self.inner.renew(stack, lock).await
        }
        async fn unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError> {
            self.inner.unlock(stack, lock_id).await
        }
        async fn lock_info(&self, stack: &str) -> Result<Option<LockInfo>, StateError> {
            self.inner.lock_info(stack).await
        }
    }

    #[tokio::test]
    #[should_panic(expected = "conformance check `compact` failed for `broken`")]
    async fn a_compaction_that_keeps_covered_records_fails() {
        let store = Broken {
            inner: MemoryStore::new(),
            keeps_records_on_compact: true,
            locks_twice: false,
        };
        testing::check_compact(&store).await;
    }

    #[tokio::test]
    #[should_panic(expected = "conformance check `lock-exclusive` failed for `broken`")]
    async fn a_lock_that_is_not_exclusive_fails() {
        let store = Broken {
            inner: MemoryStore::new(),
            keeps_records_on_compact: false,
            locks_twice: true,
        };
        testing::check_lock_exclusive(&store).await;
    }
}

#[tokio::test]
async fn the_memory_and_file_stores_carry_rollout_commands() {
    testing::check_controls(&MemoryStore::new()).await;
    let dir = tempfile::tempdir().unwrap();
    testing::check_controls(&FileStore::new(dir.path().join(".dafnck"))).await;
}

#[tokio::test]
async fn a_damaged_command_file_is_reported_not_skipped() {
    use dafnck_core::state::{ControlMessage, RolloutControl, StateError, StateStore};
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path());
    let m = ControlMessage {
        resource: "web".into(),
        control: RolloutControl::Abort,
        at: 1,
        by: "me@here".into(),
    };
    store.send_control("dev", &m).await.unwrap();
    let controls = dir.path().join("dev/controls");
    let file = std::fs::read_dir(&controls)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&file, "{not json").unwrap();
    let err = store.take_controls("dev", "web").await.unwrap_err();
    assert!(
        matches!(&err, StateError::Corrupt { location, .. } if location.contains("controls")),
        "{err}"
    );
    assert!(file.exists(), "left for a person to look at");
}
