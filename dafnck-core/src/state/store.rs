//! The store traits: [`StateStore`] keeps a stack's snapshot and journal,
//! and says which further capabilities it has — a lock ([`StateLock`]),
//! history ([`StateHistory`]), a control channel ([`ControlChannel`]). A
//! store implements what it supports and nothing else. Only
//! [`SnapshotEdits`], added after the others, has a default (none), so
//! stores written before it still build.

use std::sync::Arc;

use async_trait::async_trait;

use super::{LockInfo, LockRequest, Message, Record, State, StateError, Stored, VersionInfo};

/// Where stacks' states are kept: read, append and compact, which every
/// store implements and [`super::testing::check_state`] checks; and the
/// store's answer to which further capabilities it has.
///
/// # Guarantees a store gives
/// - `append` returns only once the records are durable (fsynced, committed).
/// - `read` returns the last compacted snapshot and every record appended
///   after it, in order; a torn final record (a crash mid-append) is
///   dropped, any other damage is [`StateError::Corrupt`].
/// - `compact` atomically replaces the snapshot and drops the records it
///   covers (`seq <= snapshot.serial`); after a crash mid-compaction `read`
///   returns the old or the new snapshot, with the records still needed.
///
/// # Capabilities
/// The engine writes a stack only under a lock, so a store without
/// [`StateLock`] can be read and planned against but not applied to. A
/// store without [`StateHistory`] keeps no versions (`history` commands say
/// so); one without [`ControlChannel`] cannot carry commands to a run in
/// another process.
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

    /// The store's lock on stacks, if it keeps one.
    fn locks(&self) -> Option<&dyn StateLock>;

    /// The store's history of state versions, if it keeps one.
    fn history(&self) -> Option<&dyn StateHistory>;

    /// The store's channel for messages to the run holding a stack's lock,
    /// if it carries them.
    fn channel(&self) -> Option<&dyn ControlChannel>;

    /// The store's way to accept a hand edit of a snapshot, if it has one
    /// (`state verify --accept`). None by default.
    fn edits(&self) -> Option<&dyn SnapshotEdits> {
        None
    }
}

/// Accepting a hand edit of a stack's snapshot: every unit carries a
/// checksum ([`envelope`](super::envelope)), so an edited snapshot is refused as damaged
/// until it is accepted, which writes it again with a checksum of its new
/// bytes. `state verify --accept` shows the edit, then accepts it and
/// records who did in the history.
#[async_trait]
pub trait SnapshotEdits: Send + Sync {
    /// The stack's snapshot as a hand edit left it, parsed *without*
    /// checking its checksum; `None` when there is none, or it matches its
    /// checksum (nothing to accept).
    async fn read_edited(&self, stack: &str) -> Result<Option<State>, StateError>;

    /// Writes `snapshot` (what [`read_edited`](Self::read_edited) returned)
    /// as the stack's snapshot with a checksum of its bytes, if the stored
    /// one still reads as `snapshot`; the journal is left as it is.
    async fn accept_edited(&self, stack: &str, snapshot: &State) -> Result<(), StateError>;
}

/// A lease-based lock per stack.
///
/// # Guarantees
/// At most one live lease per stack; a lease that is not renewed expires
/// and may be taken over. [`super::testing::check_lock`] checks it.
#[async_trait]
pub trait StateLock: Send + Sync {
    /// Takes the stack's lock, or fails at once with [`StateError::Locked`]
    /// naming the live holder.
    async fn lock(&self, stack: &str, request: &LockRequest) -> Result<LockInfo, StateError>;

    /// Extends a held lease by `request.lease` from now.
    async fn renew(&self, stack: &str, lock: &LockInfo) -> Result<LockInfo, StateError>;

    /// Releases the lock with this id (also how `force-unlock` works).
    async fn unlock(&self, stack: &str, lock_id: &str) -> Result<(), StateError>;

    /// The lock on a stack, if one is held (live or expired).
    async fn lock_info(&self, stack: &str) -> Result<Option<LockInfo>, StateError>;
}

/// Earlier versions of each stack's state, kept whole.
/// [`super::testing::check_history`] checks it.
#[async_trait]
pub trait StateHistory: Send + Sync {
    /// Keeps `state` as version `info.version` of the stack, beside the
    /// versions before it (the engine calls it under the lock after every
    /// run that wrote the state); a version number is kept once.
    async fn save_version(
        &self,
        stack: &str,
        info: &VersionInfo,
        state: &State,
    ) -> Result<(), StateError>;

    /// Like [`StateHistory::save_version`], for the state the stack's
    /// snapshot holds as this store last compacted it (the engine calls it
    /// right after a run's final compaction): a store may copy its snapshot
    /// rather than encode the state again. By default, `save_version`.
    async fn save_compacted_version(
        &self,
        stack: &str,
        info: &VersionInfo,
        state: &State,
    ) -> Result<(), StateError> {
        self.save_version(stack, info, state).await
    }

    /// The stack's versions, oldest first.
    async fn versions(&self, stack: &str) -> Result<Vec<VersionInfo>, StateError>;

    /// The state as version `version` left it; `None` when there is no such
    /// version.
    async fn read_version(&self, stack: &str, version: u64) -> Result<Option<State>, StateError>;

    /// Drops the listed versions (entry and state) of the stack: how a
    /// retention policy ([`Retention`](super::Retention)) is applied.
    /// Numbers it does not keep are ignored, and the newest version is
    /// always kept, even when listed, so the next version is still numbered
    /// after every version there ever was. None by default: a store written
    /// before it refuses with [`StateError::Unsupported`].
    async fn drop_versions(&self, stack: &str, versions: &[u64]) -> Result<(), StateError> {
        let _ = versions;
        Err(StateError::Unsupported {
            store: format!("of stack {stack:?}"),
            missing: "cannot drop versions of its history (no retention)".into(),
        })
    }
}

/// The numbers in `drop` that may be dropped from a history listing
/// `kept`: those it lists, except its newest. Stores use it to keep their
/// guarantee of never dropping the newest version.
pub fn droppable(kept: &[VersionInfo], drop: &[u64]) -> Vec<u64> {
    let newest = kept.iter().map(|v| v.version).max();
    kept.iter()
        .map(|v| v.version)
        .filter(|v| Some(*v) != newest && drop.contains(v))
        .collect()
}

/// Messages left for the run that holds a stack's lock, by topic (a
/// resource's name): another process's way to reach a long operation under
/// way. The store keeps bytes; what a message means is its sender's and
/// taker's business. [`super::testing::check_channel`] checks it.
#[async_trait]
pub trait ControlChannel: Send + Sync {
    /// Leaves `message` for its topic.
    async fn send(&self, stack: &str, message: &Message) -> Result<(), StateError>;

    /// Takes (removes and returns, oldest first) the messages left for
    /// `topic`.
    async fn take(&self, stack: &str, topic: &str) -> Result<Vec<Message>, StateError>;
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
    fn locks(&self) -> Option<&dyn StateLock> {
        (**self).locks()
    }
    fn history(&self) -> Option<&dyn StateHistory> {
        (**self).history()
    }
    fn channel(&self) -> Option<&dyn ControlChannel> {
        (**self).channel()
    }
    fn edits(&self) -> Option<&dyn SnapshotEdits> {
        (**self).edits()
    }
}

/// The error for a store that lacks a capability an operation needs.
pub(crate) fn unsupported(store: &dyn StateStore, missing: impl Into<String>) -> StateError {
    StateError::Unsupported {
        store: store.describe(),
        missing: missing.into(),
    }
}

/// The store's lock, or an error saying `operation` needs one.
///
/// # Errors
/// [`StateError::Unsupported`] when the store keeps no lock.
pub fn require_lock<'a>(
    store: &'a dyn StateStore,
    operation: &str,
) -> Result<&'a dyn StateLock, StateError> {
    store.locks().ok_or_else(|| {
        unsupported(
            store,
            format!("keeps no lock, and `{operation}` writes a stack only under one"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn _object_safe(
        _: Box<dyn StateStore>,
        _: Box<dyn StateLock>,
        _: Box<dyn StateHistory>,
        _: Box<dyn ControlChannel>,
        _: Box<dyn SnapshotEdits>,
    ) {
    }
}
