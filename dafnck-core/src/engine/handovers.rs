//! The engine's side of handovers: the program's hooks by resource, and
//! resetting handovers a dead run left under way.

use std::collections::HashMap;

use super::Engine;
use crate::apply;
use crate::error::Error;
use crate::handover::HandoverHook;
use crate::stack::Desired;
use crate::state::State;

impl Engine {
    /// Under the lock: resets handovers a dead run left under way (see
    /// [`crate::handover`]), journaling it.
    pub(super) async fn reset_handovers(
        &self,
        state: State,
        hooks: &HashMap<String, HandoverHook>,
    ) -> crate::Result<State> {
        if !state.handovers.values().any(|m| m.active) {
            return Ok(state);
        }
        let (journal, task) = self.journal(state.clone());
        let reset = apply::reset_interrupted(
            &self.stack,
            &state,
            hooks,
            &self.providers,
            &journal,
            self.settings.retry,
        )
        .await;
        drop(journal);
        let state = task.finish().await?;
        reset.map_err(|(resource, message)| Error::Handover { resource, message })?;
        Ok(state)
    }
}

/// The handover hooks the program declared, by resource name.
pub(super) fn handovers_of(desired: &Desired) -> HashMap<String, HandoverHook> {
    desired
        .nodes
        .iter()
        .filter_map(|n| Some((n.name.to_string(), n.options.handover.clone()?)))
        .collect()
}
