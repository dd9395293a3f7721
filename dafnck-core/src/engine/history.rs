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
    ) -> crate::Result<()> {
        // A store without history keeps no versions; the run is no less done.
        let Some(history) = self.store.history() else {
            return Ok(());
        };
        let last = history
            .versions(&self.stack)
            .await?
            .last()
            .map_or(0, |v| v.version);
        let me = LockRequest::for_this_process(operation, Duration::ZERO);
        let info = state::VersionInfo {
            version: last + 1,
            at: state::now_millis(),
            by: format!("{}@{}", me.owner, me.host),
            operation: operation.to_string(),
            summary,
            serial: state.serial,
        };
        history.save_version(&self.stack, &info, state).await?;
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

    fn store_history(&self) -> Result<&dyn state::StateHistory, state::StateError> {
        self.store
            .history()
            .ok_or_else(|| state::StateError::Unsupported {
                store: self.store.describe(),
                missing: "keeps no history of state versions".into(),
            })
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
