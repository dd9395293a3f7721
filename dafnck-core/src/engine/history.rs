//! The engine's side of state history: each run that writes the state
//! leaves a numbered version in the store.

use std::time::Duration;

use super::Engine;
use crate::error::Error;
use crate::state::{self, LockRequest, State};

impl Engine {
    /// Numbers and keeps `state` as the stack's next version (under the
    /// lock, after a run that wrote it).
    pub(super) async fn save_version(
        &self,
        operation: &str,
        summary: String,
        state: &State,
        outcome: state::RunOutcome,
    ) -> crate::Result<()> {
        self.save_version_as(operation, summary, state, outcome, false)
            .await
    }

    /// [`Engine::save_version`]; `compacted`: `state` is what the store's
    /// snapshot holds, just compacted (the store may copy it).
    pub(super) async fn save_version_as(
        &self,
        operation: &str,
        summary: String,
        state: &State,
        outcome: state::RunOutcome,
        compacted: bool,
    ) -> crate::Result<()> {
        // A store without history keeps no versions; the run is no less done.
        let Some(history) = self.store.history() else {
            return Ok(());
        };
        let mut info = self
            .next_version(history, operation, summary, state)
            .await?;
        info.outcome = Some(outcome);
        info.commit = self.settings.commit.clone();
        if compacted {
            history
                .save_compacted_version(&self.stack, &info, state)
                .await?;
        } else {
            history.save_version(&self.stack, &info, state).await?;
        }
        self.apply_retention(history).await;
        Ok(())
    }

    /// The entry of the stack's next version: numbered after the last,
    /// now, by this user and host.
    pub(super) async fn next_version(
        &self,
        history: &dyn state::StateHistory,
        operation: &str,
        summary: String,
        state: &State,
    ) -> crate::Result<state::VersionInfo> {
        let last = history
            .versions(&self.stack)
            .await?
            .last()
            .map_or(0, |v| v.version);
        let me = LockRequest::for_this_process(operation, Duration::ZERO);
        Ok(state::VersionInfo {
            version: last + 1,
            at: state::now_millis(),
            by: format!("{}@{}", me.owner, me.host),
            operation: operation.to_string(),
            summary,
            serial: state.serial,
            ..Default::default()
        })
    }

    /// Applies the engine's retention after a version was saved. The run
    /// is done by then: a failure to prune is a warning, not its failure.
    async fn apply_retention(&self, history: &dyn state::StateHistory) {
        if self.settings.retention.keeps_everything() {
            return;
        }
        let pruned = state::prune(
            history,
            &self.stack,
            &self.settings.retention,
            state::now_millis(),
        )
        .await;
        match pruned {
            Ok(dropped) if !dropped.is_empty() => {
                tracing::info!(stack = %self.stack, ?dropped, retention = %self.settings.retention, "dropped old versions");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(stack = %self.stack, error = %e, "could not apply the history retention");
            }
        }
    }

    /// Reads the list of versions (whose last number the run's version
    /// follows), to refuse a run on a damaged history before it starts.
    pub(super) async fn check_history(&self) -> crate::Result<()> {
        if let Some(history) = self.store.history() {
            history.versions(&self.stack).await?;
        }
        Ok(())
    }

    /// The stack's versions, oldest first: one per run that wrote its state
    /// (`up`, `destroy`, `import`, `refresh`).
    ///
    /// # Errors
    /// [`state::StateError::Unsupported`] when the store keeps no history;
    /// the store's errors.
    pub async fn history(&self) -> crate::Result<Vec<state::VersionInfo>> {
        Ok(self.store_history()?.versions(&self.stack).await?)
    }

    pub(super) fn store_history(&self) -> Result<&dyn state::StateHistory, state::StateError> {
        history_of(&*self.store)
    }

    /// Checks every stored unit of the stack, as stored (secrets sealed):
    /// see [`state::verify`].
    pub async fn verify(&self) -> state::Verification {
        state::verify(&*self.raw_store, &self.stack).await
    }

    /// Accepts a hand edit of the stack's snapshot, under the lock: reads
    /// the edited snapshot without its checksum, calls `confirm` with it
    /// and the stack's last version (to show what changed), and if it says
    /// yes, writes it again with a checksum of its bytes and records a
    /// version `state verify --accept` by this user and host. Returns the
    /// accepted state, or `None` when `confirm` declined.
    ///
    /// # Errors
    /// [`Error::Usage`] when the snapshot matches its checksum (there is
    /// nothing to accept) or there is none; [`state::StateError::Unsupported`] when
    /// the store cannot accept edits; [`state::StateError::Damaged`] when
    /// the edited snapshot does not parse; the store's errors.
    pub async fn accept_edit<F>(&self, confirm: F) -> crate::Result<Option<State>>
    where
        F: FnOnce(&State, Option<(u64, &State)>) -> crate::Result<bool> + Send,
    {
        const OPERATION: &str = "state verify --accept";
        let raw = self.raw_store.clone();
        self.locked(OPERATION, |this| async move {
            let edits = raw.edits().ok_or_else(|| state::StateError::Unsupported {
                store: raw.describe(),
                missing: "cannot accept a hand edit of a snapshot".into(),
            })?;
            let Some(edited) = edits.read_edited(&this.stack).await? else {
                return Err(Error::Usage(format!(
                    "stack {:?} has no edited snapshot to accept: there is none, or it matches its checksum (`state verify` checks every unit)",
                    this.stack
                )));
            };
            let history = raw.history();
            let last_number = match history {
                Some(h) => h.versions(&this.stack).await?.last().map(|v| v.version),
                None => None,
            };
            let last = match (history, last_number) {
                (Some(h), Some(n)) => h.read_version(&this.stack, n).await?.map(|s| (n, s)),
                _ => None,
            };
            if !confirm(&edited, last.as_ref().map(|(n, s)| (*n, s)))? {
                return Ok(None);
            }
            edits.accept_edited(&this.stack, &edited).await?;
            // The journal's records after the snapshot still apply.
            let accepted = state::load(&*raw, &this.stack).await?;
            if let Some(h) = history {
                let summary = format!(
                    "accepted a hand edit of the snapshot (serial {})",
                    edited.serial
                );
                let info = this.next_version(h, OPERATION, summary, &accepted).await?;
                h.save_version(&this.stack, &info, &accepted).await?;
            }
            Ok(Some(accepted))
        })
        .await
    }

    /// The stack's state as version `version` left it.
    ///
    /// # Errors
    /// [`Error::Usage`] when there is no such version;
    /// [`state::StateError::Unsupported`] when the store keeps no history;
    /// the store's errors.
    pub async fn version(&self, version: u64) -> crate::Result<State> {
        self.store_history()?
            .read_version(&self.stack, version)
            .await?
            .ok_or_else(|| {
                Error::Usage(format!(
                    "stack {:?} has no version {version}; `state history` lists them",
                    self.stack
                ))
            })
    }
}

/// The store's history, or an error saying it keeps none.
pub(super) fn history_of(
    store: &dyn state::StateStore,
) -> Result<&dyn state::StateHistory, state::StateError> {
    store
        .history()
        .ok_or_else(|| state::StateError::Unsupported {
            store: store.describe(),
            missing: "keeps no history of state versions".into(),
        })
}
