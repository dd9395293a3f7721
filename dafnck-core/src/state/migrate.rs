//! [`migrate`]: copies a stack's state from one store to another.

use std::time::Duration;

use super::{load, LockRequest, State, StateError, StateStore, Stored};

/// The lease both locks are taken with: a copy is a read and one write, so
/// it needs no renewal.
const LEASE: Duration = Duration::from_secs(300);

/// Copies `stack`'s state from `from` to `to`: the snapshot with the
/// journal folded in (pending operations included) becomes the target's
/// snapshot. Both stacks' locks are held while it runs.
///
/// # Errors
/// - [`StateError::Locked`] when a run holds either lock;
/// - [`StateError::Backend`] when both are the same store, the source
///   records nothing, or the target already holds state for the stack
///   (nothing is overwritten);
/// - [`StateError::Corrupt`] when the source cannot be loaded;
/// - the stores' errors.
pub async fn migrate(
    from: &dyn StateStore,
    to: &dyn StateStore,
    stack: &str,
) -> Result<State, StateError> {
    let request = LockRequest::for_this_process("state migrate", LEASE);
    let (from_locks, to_locks) = (
        super::require_lock(from, "state migrate")?,
        super::require_lock(to, "state migrate")?,
    );
    let source_lock = from_locks.lock(stack, &request).await?;
    let result = match to_locks.lock(stack, &request).await {
        Ok(target_lock) => {
            let copied = copy(from, to, stack).await;
            let released = to_locks.unlock(stack, &target_lock.id).await;
            copied.and_then(|state| released.map(|()| state))
        }
        // The lock just taken on the source: the target is the same store.
        Err(StateError::Locked { holder, .. }) if holder.id == source_lock.id => {
            Err(StateError::Backend {
                backend: to.describe(),
                message: format!(
                    "stack {stack:?} is already kept there; migrate copies between two stores"
                ),
            })
        }
        Err(e) => Err(e),
    };
    let released = from_locks.unlock(stack, &source_lock.id).await;
    result.and_then(|state| released.map(|()| state))
}

async fn copy(
    from: &dyn StateStore,
    to: &dyn StateStore,
    stack: &str,
) -> Result<State, StateError> {
    let state = load(from, stack).await?;
    if state.lineage.is_empty() && state.serial == 0 {
        return Err(StateError::Backend {
            backend: from.describe(),
            message: format!("stack {stack:?} has no state there to migrate"),
        });
    }
    if to.read(stack).await? != Stored::default() {
        return Err(StateError::Backend {
            backend: to.describe(),
            message: format!(
                "stack {stack:?} already has state there; migrate refuses to overwrite it (remove it by hand first if it is not needed)"
            ),
        });
    }
    to.compact(stack, &state).await?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::super::{MemoryStore, Record};
    use super::*;
    use crate::state::Entry;
    use crate::state::StateLock;

    fn init(seq: u64) -> Record {
        Record {
            seq,
            at: 1,
            entry: Entry::Init {
                lineage: "l-1".into(),
            },
        }
    }

    #[tokio::test]
    async fn copies_the_folded_state_and_refuses_a_non_empty_target() {
        let from = MemoryStore::new();
        let to = MemoryStore::new();
        from.append("dev", &[init(1)]).await.unwrap();
        let copied = migrate(&from, &to, "dev").await.unwrap();
        assert_eq!(copied.lineage, "l-1");
        let stored = to.read("dev").await.unwrap();
        assert_eq!(stored.snapshot.as_ref(), Some(&copied));
        assert!(stored.journal.is_empty());
        assert_eq!(
            load(&to, "dev").await.unwrap(),
            load(&from, "dev").await.unwrap()
        );
        assert_eq!(from.lock_info("dev").await.unwrap(), None);
        assert_eq!(to.lock_info("dev").await.unwrap(), None);

        let e = migrate(&from, &to, "dev").await.unwrap_err().to_string();
        assert!(e.contains("already has state"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let files = super::super::FileStore::new(dir.path());
        let e = migrate(&files, &files.clone(), "dev")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("already kept there"), "{e}");
        let e = migrate(&from, &MemoryStore::new(), "prod")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("no state there"), "{e}");
    }

    #[tokio::test]
    async fn refuses_while_a_run_holds_a_lock() {
        let from = MemoryStore::new();
        let to = MemoryStore::new();
        from.append("dev", &[init(1)]).await.unwrap();
        let held = to
            .lock("dev", &LockRequest::for_this_process("up", LEASE))
            .await
            .unwrap();
        assert!(matches!(
            migrate(&from, &to, "dev").await,
            Err(StateError::Locked { .. })
        ));
        // The source's lock was released again.
        assert_eq!(from.lock_info("dev").await.unwrap(), None);
        to.unlock("dev", &held.id).await.unwrap();
    }
}
