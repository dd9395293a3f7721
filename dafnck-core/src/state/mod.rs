//! The recorded state of a stack, the journal that changes it, and the
//! [`StateStore`] trait that keeps both.
//!
//! A stack's state is a compacted [`State`] snapshot plus the journal
//! [`Record`]s appended since. Every provider call is preceded by an
//! [`Entry::Intent`] and followed by an [`Entry::Done`] or [`Entry::Failed`];
//! an intent with neither is a pending operation, resolved by reading the
//! object back ([`crate::recover`]). [`State::apply`] is the one place that
//! says what a record means; stores only keep bytes.

mod backend;
mod digest;
pub mod encryption;
mod file;
mod journal;
mod memory;
mod migrate;
mod model;
pub mod testing;
mod timings;

pub use backend::{redact_url, FileBackend, StoreBackend, StoreBackends};
pub use encryption::{Encryption, KeySource, SealingStore, SecretsKey};
pub use file::FileStore;
pub use journal::{Journal, JournalTask, DEFAULT_COMPACT_EVERY};
pub use memory::MemoryStore;
pub use migrate::migrate;
pub use model::{
    new_id, now_millis, ControlMessage, Entry, Intent, LockInfo, LockRequest, OpKind, Outcome,
    Record, ResourceState, RolloutControl, RolloutMark, State, Stored, VersionInfo,
};
pub use timings::{CallKind, Timing, Timings};

use std::sync::Arc;

use async_trait::async_trait;

/// Errors of the state and its stores.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// An I/O operation on a path failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Stored state or journal cannot be parsed or is inconsistent; nothing
    /// was written.
    #[error("the state at {location} is corrupt: {message} (nothing was changed; repair or restore it by hand)")]
    Corrupt {
        /// Where: a file and line, a row, an object.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// Another run holds the stack's lock.
    #[error("stack {stack:?} is locked by {holder}; if that run is dead, wait for its lease to expire or run `state force-unlock {}`", holder.id)]
    Locked {
        /// The stack.
        stack: String,
        /// The lock's holder.
        holder: Box<LockInfo>,
    },
    /// The lock this run held was released or taken over.
    #[error("the lock {id} on stack {stack:?} is no longer held by this run")]
    LockLost {
        /// The stack.
        stack: String,
        /// The lock id this run had.
        id: String,
    },
    /// The passphrase or key given is not the one the state's secrets were
    /// encrypted with; nothing was read or written.
    #[error("{location}: the {what} does not match the one this state was encrypted with (nothing was read or changed)")]
    WrongKey {
        /// The store and stack.
        location: String,
        /// What was given (`passphrase (DAFNCK_PASSPHRASE)`, ...).
        what: String,
    },
    /// Secrets cannot be written or opened as asked: no key was given, or
    /// a key of the wrong kind; nothing was written.
    #[error("{location}: {message}")]
    Secrets {
        /// The store and stack.
        location: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A backend-specific failure.
    #[error("state backend {backend}: {message}")]
    Backend {
        /// Which backend.
        backend: String,
        /// What went wrong.
        message: String,
    },
}

/// Where stacks' states are kept: a narrow interface of read, append,
/// compact and lock, which every store implements and
/// [`testing::conformance`] checks.
///
/// # Guarantees a store gives
/// - `append` returns only once the records are durable (fsynced, committed).
/// - `read` returns the last compacted snapshot and every record appended
///   after it, in order; a torn final record (a crash mid-append) is
///   dropped, any other damage is [`StateError::Corrupt`].
/// - `compact` atomically replaces the snapshot and drops the records it
///   covers (`seq <= snapshot.serial`); after a crash mid-compaction `read`
///   returns the old or the new snapshot, with the records still needed.
/// - `lock` gives at most one live lease per stack; a lease that is not
///   renewed expires and may be taken over.
#[async_trait]
pub trait StateStore: Send + Sync + 'static {
    /// A short description for messages (`file .dafnck/dev`).
    fn describe(&self) -> String;

    /// The snapshot and the journal records after it; empty for a stack
    /// that has never been written.
    async fn read(&self, stack: &str) -> Result<Stored, StateError>;

    /// Appends records durably, in order.
    async fn append(&self, stack: &str, records: &[Record]) -> Result<(), StateError>;

    /// Replaces the snapshot with `snapshot` and drops the records it covers.
    async fn compact(&self, stack: &str, snapshot: &State) -> Result<(), StateError>;

    /// Takes the stack's lock, or fails at once with [`StateError::Locked`]
    /// naming the live holder.
    async fn lock(&self, stack: &str, request: &LockRequest) -> Result<LockInfo, StateError>;

    /// Extends a held lease by `request.lease` from now.
    async fn renew(&self, stack: &str, lock: &LockInfo) -> Result<LockInfo, StateError>;

    /// Releases the lock with this id (also how `force-unlock` works).
    async fn unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError>;

    /// The lock on a stack, if one is held (live or expired).
    async fn lock_info(&self, stack: &str) -> Result<Option<LockInfo>, StateError>;

    /// Keeps `state` as version `info.version` of the stack, beside the
    /// versions before it (the engine calls it under the lock after every
    /// run that wrote the state). The default keeps nothing, for a store
    /// without history; [`testing::check_history`] checks one that keeps it.
    async fn save_version(
        &self,
        stack: &str,
        info: &VersionInfo,
        state: &State,
    ) -> Result<(), StateError> {
        let _ = (stack, info, state);
        Ok(())
    }

    /// The stack's versions, oldest first (empty for a store without
    /// history).
    async fn versions(&self, stack: &str) -> Result<Vec<VersionInfo>, StateError> {
        let _ = stack;
        Ok(Vec::new())
    }

    /// The state as version `version` left it; `None` when there is no such
    /// version.
    async fn read_version(&self, stack: &str, version: u64) -> Result<Option<State>, StateError> {
        let _ = (stack, version);
        Ok(None)
    }

    /// Leaves a command for a rollout under way in the run that holds the
    /// stack's lock (`rollout abort web` from another terminal). The
    /// default refuses: a store carries commands only if it says so.
    async fn send_control(&self, stack: &str, message: &ControlMessage) -> Result<(), StateError> {
        let _ = (stack, message);
        Err(StateError::Backend {
            backend: self.describe(),
            message: "this state store does not carry rollout commands".into(),
        })
    }

    /// Takes (removes and returns, oldest first) the commands left for
    /// `resource`'s rollout.
    async fn take_controls(
        &self,
        stack: &str,
        resource: &str,
    ) -> Result<Vec<ControlMessage>, StateError> {
        let _ = (stack, resource);
        Ok(Vec::new())
    }
}

#[async_trait]
impl<S: StateStore + ?Sized> StateStore for Arc<S> {
    fn describe(&self) -> String {
        (**self).describe()
    }
    async fn read(&self, stack: &str) -> Result<Stored, StateError> {
        (**self).read(stack).await
    }
    async fn append(&self, stack: &str, records: &[Record]) -> Result<(), StateError> {
        (**self).append(stack, records).await
    }
    async fn compact(&self, stack: &str, snapshot: &State) -> Result<(), StateError> {
        (**self).compact(stack, snapshot).await
    }
    async fn lock(&self, stack: &str, request: &LockRequest) -> Result<LockInfo, StateError> {
        (**self).lock(stack, request).await
    }
    async fn renew(&self, stack: &str, lock: &LockInfo) -> Result<LockInfo, StateError> {
        (**self).renew(stack, lock).await
    }
    async fn unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError> {
        (**self).unlock(stack, lock_id).await
    }
    async fn lock_info(&self, stack: &str) -> Result<Option<LockInfo>, StateError> {
        (**self).lock_info(stack).await
    }
    async fn save_version(
        &self,
        stack: &str,
        info: &VersionInfo,
        state: &State,
    ) -> Result<(), StateError> {
        (**self).save_version(stack, info, state).await
    }
    async fn versions(&self, stack: &str) -> Result<Vec<VersionInfo>, StateError> {
        (**self).versions(stack).await
    }
    async fn read_version(&self, stack: &str, version: u64) -> Result<Option<State>, StateError> {
        (**self).read_version(stack, version).await
    }
    async fn send_control(&self, stack: &str, message: &ControlMessage) -> Result<(), StateError> {
        (**self).send_control(stack, message).await
    }
    async fn take_controls(
        &self,
        stack: &str,
        resource: &str,
    ) -> Result<Vec<ControlMessage>, StateError> {
        (**self).take_controls(stack, resource).await
    }
}

impl std::fmt::Debug for dyn StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StateStore({})", self.describe())
    }
}

/// Loads a stack's state: the snapshot with the journal replayed over it.
///
/// # Errors
/// The store's errors, or [`StateError::Corrupt`] when the journal does not
/// follow its snapshot.
pub async fn load(store: &dyn StateStore, stack: &str) -> Result<State, StateError> {
    let stored = store.read(stack).await?;
    State::replay(stack, stored, &store.describe())
}
