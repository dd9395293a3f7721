//! The engine's side of deployment policies: the program's policies by
//! resource, resetting rollouts a dead run left under way, and commands to
//! a rollout under way in another process.

use std::collections::HashMap;
use std::time::Duration;

use super::Engine;
use crate::apply;
use crate::deploy::Deployment;
use crate::error::Error;
use crate::stack::Desired;
use crate::state::{self, LockInfo, LockRequest, State};

impl Engine {
    /// Sends `control` to the rollout of `resource` under way in the run
    /// that holds the stack's lock (from another process: `rollout abort
    /// web`); returns that lock. The rollout acts on it within about a
    /// second.
    ///
    /// # Errors
    /// [`Error::Usage`] when no rollout of `resource` is under way or no run
    /// holds the lock; the store's errors.
    pub async fn send_rollout_control(
        &self,
        resource: &str,
        control: state::RolloutControl,
    ) -> crate::Result<LockInfo> {
        let state = self.state().await?;
        let active = state.rollouts.get(resource).is_some_and(|m| m.active);
        let lock = self.store.lock_info(&self.stack).await?;
        let lock = match lock {
            Some(lock) if active && lock.expires_at > state::now_millis() => lock,
            _ => {
                return Err(Error::Usage(format!(
                    "no rollout of {resource:?} is under way in stack {:?}; `rollout status` shows the last one",
                    self.stack
                )))
            }
        };
        let me = LockRequest::for_this_process("rollout", Duration::ZERO);
        let message = state::ControlMessage {
            resource: resource.to_string(),
            control,
            at: state::now_millis(),
            by: format!("{}@{}", me.owner, me.host),
        };
        self.store.send_control(&self.stack, &message).await?;
        Ok(lock)
    }

    /// Under the lock: resets rollouts a dead run left under way (see
    /// [`crate::deploy`]), journaling it.
    pub(super) async fn reset_rollouts(
        &self,
        state: State,
        deployments: &HashMap<String, Deployment>,
    ) -> crate::Result<State> {
        if !state.rollouts.values().any(|m| m.active) {
            return Ok(state);
        }
        let (journal, task) = self.journal(state.clone());
        let reset = apply::reset_interrupted(
            &self.stack,
            &state,
            deployments,
            &self.providers,
            &journal,
            self.settings.retry,
        )
        .await;
        drop(journal);
        let state = task.finish().await?;
        reset.map_err(|(resource, message)| Error::Rollout { resource, message })?;
        Ok(state)
    }
}

/// The deployment policies the program declared, by resource name.
pub(super) fn deployments_of(desired: &Desired) -> HashMap<String, Deployment> {
    desired
        .nodes
        .iter()
        .filter_map(|n| Some((n.name.to_string(), n.options.deploy.clone()?)))
        .collect()
}
