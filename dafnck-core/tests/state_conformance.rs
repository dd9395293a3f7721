//! Every state store passes the conformance suite, capability by
//! capability.

use dafnck_core::state::{testing, FileStore, MemoryStore};

const ALL: testing::Checked = testing::Checked {
    lock: true,
    history: true,
    channel: true,
};

#[tokio::test]
async fn memory_store_conforms() {
    assert_eq!(testing::conformance(&MemoryStore::new()).await, ALL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_store_conforms() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = FileStore::new(dir.path().join(".dafnck"));
    assert_eq!(testing::conformance(&store).await, ALL);
    // Again on the same directory, holding the first run's data, with a new
    // store value that has seen none of it.
    testing::conformance(&FileStore::new(dir.path().join(".dafnck"))).await;
}

#[tokio::test]
async fn file_store_conforms_on_a_current_thread_runtime() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    testing::conformance(&FileStore::new(dir.path())).await;
}

/// A store that keeps only snapshots and journals: the suite checks what it
/// has, the engine plans against it and refuses to write without a lock.
mod minimal {
    use async_trait::async_trait;
    use dafnck_core::engine::Engine;
    use dafnck_core::state::{
        testing, ControlChannel, MemoryStore, Record, State, StateError, StateHistory, StateLock,
        StateStore, Stored,
    };
    use dafnck_core::testing::resources::Network;
    use dafnck_core::testing::FakeCloud;
    use dafnck_core::{Providers, Stack};

    /// Snapshot and journal only.
    struct JournalOnly(MemoryStore);

    #[async_trait]
    impl StateStore for JournalOnly {
        fn describe(&self) -> String {
            "journal-only".into()
        }
        async fn read(&self, stack: &str) -> Result<Stored, StateError> {
            self.0.read(stack).await
        }
        async fn append(&self, stack: &str, records: &[Record]) -> Result<(), StateError> {
            self.0.append(stack, records).await
        }
        async fn compact(&self, stack: &str, snapshot: &State) -> Result<(), StateError> {
            self.0.compact(stack, snapshot).await
        }
        fn locks(&self) -> Option<&dyn StateLock> {
            None
        }
        fn history(&self) -> Option<&dyn StateHistory> {
            None
        }
        fn channel(&self) -> Option<&dyn ControlChannel> {
            None
        }
    }

    #[tokio::test]
    async fn only_the_state_checks_run() {
        let checked = testing::conformance(&JournalOnly(MemoryStore::new())).await;
        assert_eq!(checked, testing::Checked::default());
    }

    #[tokio::test]
    #[should_panic(expected = "the store has no lock")]
    async fn a_lock_check_on_a_store_without_one_fails() {
        testing::check_lock(&JournalOnly(MemoryStore::new())).await;
    }

    fn program(stack: &mut Stack) -> dafnck_core::Result<()> {
        stack.add(
            "net",
            Network {
                cidr: "10.0.0.0/16".into(),
                ..Default::default()
            },
        );
        Ok(())
    }

    #[tokio::test]
    async fn the_engine_previews_but_does_not_write_without_a_lock() {
        let cloud = FakeCloud::new();
        let engine = Engine::new(
            "dev",
            JournalOnly(MemoryStore::new()),
            Providers::new().with(cloud.clone()),
        );
        let preview = engine.preview(program, false).await.unwrap();
        assert!(preview.plan.has_changes());
        let err = engine.up(program, false).await.unwrap_err().to_string();
        assert!(
            err.contains("journal-only") && err.contains("keeps no lock") && err.contains("`up`"),
            "{err}"
        );
        assert!(cloud.objects().is_empty(), "nothing was created");
        let err = engine.history().await.unwrap_err().to_string();
        assert!(err.contains("keeps no history"), "{err}");
    }
}

/// The suite has teeth: stores with a known bug fail the check meant for it.
mod broken {
    use async_trait::async_trait;
    use dafnck_core::state::{
        testing, ControlChannel, LockInfo, LockRequest, MemoryStore, Message, Record, State,
        StateError, StateHistory, StateLock, StateStore, Stored,
    };

    /// A store with one deliberate bug.
    struct Broken {
        inner: MemoryStore,
        keeps_records_on_compact: bool,
        locks_twice: bool,
        repeats_messages: bool,
    }

    impl Broken {
        fn new() -> Self {
            Broken {
                inner: MemoryStore::new(),
                keeps_records_on_compact: false,
                locks_twice: false,
                repeats_messages: false,
            }
        }
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
        fn locks(&self) -> Option<&dyn StateLock> {
            Some(self)
        }
        fn history(&self) -> Option<&dyn StateHistory> {
            Some(&self.inner)
        }
        fn channel(&self) -> Option<&dyn ControlChannel> {
            Some(self)
        }
    }

    #[async_trait]
    impl StateLock for Broken {
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

    #[async_trait]
    impl ControlChannel for Broken {
        async fn send(&self, stack: &str, message: &Message) -> Result<(), StateError> {
            self.inner.send(stack, message).await
        }
        async fn take(&self, stack: &str, topic: &str) -> Result<Vec<Message>, StateError> {
            let taken = self.inner.take(stack, topic).await?;
            if self.repeats_messages {
                // Taken, but left behind as well.
                for m in &taken {
                    self.inner.send(stack, m).await?;
                }
            }
            Ok(taken)
        }
    }

    #[tokio::test]
    #[should_panic(expected = "conformance check `compact` failed for `broken`")]
    async fn a_compaction_that_keeps_covered_records_fails() {
        let store = Broken {
            keeps_records_on_compact: true,
            ..Broken::new()
        };
        testing::check_compact(&store).await;
    }

    #[tokio::test]
    #[should_panic(expected = "conformance check `lock-exclusive` failed for `broken`")]
    async fn a_lock_that_is_not_exclusive_fails() {
        let store = Broken {
            locks_twice: true,
            ..Broken::new()
        };
        testing::check_lock_exclusive(&store).await;
    }

    #[tokio::test]
    #[should_panic(expected = "conformance check `channel` failed for `broken`")]
    async fn a_channel_that_hands_a_message_out_twice_fails() {
        let store = Broken {
            repeats_messages: true,
            ..Broken::new()
        };
        testing::conformance(&store).await;
    }
}

#[tokio::test]
async fn a_damaged_message_file_is_reported_not_skipped() {
    use dafnck_core::state::{ControlChannel, Message, StateError};
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path());
    let m = Message {
        topic: "web".into(),
        body: serde_json::json!("abort"),
        at: 1,
        by: "me@here".into(),
    };
    store.send("dev", &m).await.unwrap();
    let controls = dir.path().join("dev/controls");
    let file = std::fs::read_dir(&controls)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&file, "{not json").unwrap();
    let err = store.take("dev", "web").await.unwrap_err();
    assert!(
        matches!(&err, StateError::Corrupt { location, .. } if location.contains("controls")),
        "{err}"
    );
    assert!(file.exists(), "left for a person to look at");
}
