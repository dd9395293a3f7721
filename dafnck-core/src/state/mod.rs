//! The recorded state of a stack, the journal that changes it, and the
//! store traits that keep them: [`StateStore`] (snapshot and journal, which
//! every store has) and the capabilities a store may add, [`StateLock`],
//! [`StateHistory`] and [`ControlChannel`].
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
pub mod envelope;
mod file;
mod journal;
mod memory;
mod migrate;
mod model;
mod portable;
pub mod reads;
mod retention;
mod store;
pub mod testing;
mod timings;
mod verify;

pub use backend::{redact_url, FileBackend, StoreBackend, StoreBackends};
pub use encryption::{Encryption, KeySource, SealingStore, SecretsKey};
pub use file::FileStore;
pub use journal::{Journal, JournalTask, DEFAULT_COMPACT_EVERY};
pub use memory::MemoryStore;
pub use migrate::migrate;
pub use model::{
    new_id, now_millis, Commit, Entry, HandoverMark, Intent, LockInfo, LockRequest, Message,
    OpKind, Outcome, Record, ResourceState, RunOutcome, State, Stored, VersionInfo,
};
pub use portable::{sha256_tag, Exported, ExportedVersion, EXPORT_FORMAT};
pub use reads::ReadState;
pub use retention::{parse_duration, prune, Retention};
pub(crate) use store::unsupported;
pub use store::{
    droppable, require_lock, ControlChannel, SnapshotEdits, StateHistory, StateLock, StateStore,
};
pub use timings::{CallKind, Timing, Timings};
pub use verify::{verify, UnitCheck, Verification};

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
    /// A stored unit (a snapshot, a history version, a journal record, a
    /// saved plan) is not the bytes that were written: its checksum or
    /// length does not match, or its header is broken. Nothing was written.
    #[error("{location} is damaged: {message}. Nothing was changed. `state verify` checks every unit of the stack; restore this one from a backup or an earlier version (`state history`, `state show --version N`), or, if it was edited by hand on purpose, accept the edit with `state verify --accept`")]
    Damaged {
        /// The file, row or object (and line).
        location: String,
        /// What does not match.
        message: String,
    },
    /// A stored unit was written in a newer state format than this code
    /// reads ([`envelope::FORMAT`]); nothing was read or written.
    #[error("{location} is in state format {found}, and this program's dafnck reads formats up to {supported}: a newer dafnck wrote it. Upgrade this program's dafnck to use this state (nothing was changed; if no newer dafnck ever wrote it, the unit is damaged: `state verify`)")]
    NewerFormat {
        /// The file, row or object.
        location: String,
        /// The unit's format.
        found: u32,
        /// The newest format this code reads.
        supported: u32,
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
    /// The store does not offer a capability the operation needs (a lock,
    /// history, a control channel); nothing was written.
    #[error("state store {store} {missing}")]
    Unsupported {
        /// The store ([`StateStore::describe`]).
        store: String,
        /// What it lacks and what needed it (`keeps no history, which
        /// \`history\` reads`).
        missing: String,
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
