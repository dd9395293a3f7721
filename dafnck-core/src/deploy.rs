//! Deployment policies: a resource declared with
//! [`Options::deploy_with`](crate::Options::deploy_with) is handed over
//! ([`crate::handover`]) by its policy. When its inputs change, the
//! executor creates the new object beside the old one, the policy's
//! [`Deploy`] moves traffic over step by step, analysing as it goes, and
//! then the old object is deleted — or, when the policy rolls back, the new
//! one. `dafnck-strategies` implements [`Deploy`] for canary, blue-green
//! and rolling rollouts.
//!
//! This module sits above the engine: the engine knows only handovers; a
//! policy's control messages ([`RolloutControl`]) travel as opaque message
//! bodies through the store's [`ControlChannel`](crate::state::ControlChannel),
//! and its progress records as opaque handover records.
//!
//! # Guarantees
//! - An active rollout is marked in the state before the new object is
//!   created. A run that finds a rollout it did not finish (the process
//!   died) first resets traffic to the old object through the policy's
//!   [`Deploy::reset`], deletes the new object and restores the old one;
//!   then it plans as usual, which deploys the new version afresh. Traffic
//!   is never left split with no run watching it.
//! - Every transition the policy reports ([`RolloutLog::record`]) is
//!   journaled before the call returns.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::Error;
use crate::handover::{Handover, HandoverContext, HandoverError};
use crate::resource::Options;
use crate::state::{self, LockInfo, LockRequest, Message};
use crate::value::Value;

/// A deployment policy, as the engine drives it.
#[async_trait]
pub trait Deploy: Send + Sync {
    /// What the plan shows, e.g. `canary 5% → 25% → 50% → 100%`.
    fn describe(&self) -> String;

    /// Moves all traffic from the old object to the new one under the
    /// policy. Both objects exist; their outputs are in `rollout`.
    ///
    /// # Errors
    /// [`DeployError::RolledBack`] when the policy rolled back (all traffic
    /// is on the old object again): the engine deletes the new object.
    /// [`DeployError::Stuck`] when traffic could not be moved off the new
    /// object: the engine leaves both, and the next run resets.
    async fn deploy(&self, rollout: Rollout) -> Result<(), DeployError>;

    /// Puts all traffic back on the old object after a run died mid-rollout
    /// (idempotent).
    ///
    /// # Errors
    /// The traffic could not be reset; the message says why.
    async fn reset(&self, rollout: Rollout) -> Result<(), String>;
}

/// How a rollout ended, if not promoted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeployError {
    /// The policy rolled back: all traffic is on the old object.
    #[error("rolled back: {0}")]
    RolledBack(String),
    /// Traffic could not be moved off the new object.
    #[error("stuck: {0}")]
    Stuck(String),
}

/// What a person tells a rollout under way (`rollout pause|resume|promote|abort NAME`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutControl {
    /// Hold at the current step.
    Pause,
    /// Go on after a pause.
    Resume,
    /// All traffic to the new version now.
    Promote,
    /// Roll back now.
    Abort,
}

/// One rollout: the resource, its two objects' outputs, and where the
/// policy records its progress.
#[derive(Debug)]
pub struct Rollout {
    /// The resource.
    pub name: String,
    /// The outputs of the object serving now.
    pub old: Value,
    /// The outputs of the new object (null when it was never created).
    pub new: Value,
    /// The policy's record of this resource's last rollout, if any (a retry
    /// numbers its attempt from it).
    pub previous: serde_json::Value,
    context: HandoverContext,
}

impl Rollout {
    /// A rollout of the handover `context`.
    pub fn new(context: HandoverContext) -> Self {
        Rollout {
            name: context.name.clone(),
            old: context.old.clone(),
            new: context.new.clone(),
            previous: context.previous.clone(),
            context,
        }
    }

    /// Takes the commands sent to this rollout from other processes
    /// (`rollout pause|resume|promote|abort NAME`) since it started, oldest
    /// first. A policy polls this while it runs; empty when the run has no
    /// store to take them from. A message that is not a command is skipped
    /// with a warning.
    ///
    /// # Errors
    /// The store could not be read; the message says why.
    pub async fn controls(&self) -> Result<Vec<RolloutControl>, String> {
        let bodies = self.context.take_messages().await?;
        Ok(bodies
            .into_iter()
            .filter_map(|body| match serde_json::from_value(body.clone()) {
                Ok(control) => Some(control),
                Err(e) => {
                    tracing::warn!(resource = %self.name, %body, error = %e, "not a rollout command; skipped");
                    None
                }
            })
            .collect())
    }

    /// Where the policy records each transition.
    pub fn log(&self) -> RolloutLog {
        RolloutLog {
            context: self.context.clone(),
        }
    }
}

/// Journals a rollout's transitions as its handover's records.
#[derive(Clone, Debug)]
pub struct RolloutLog {
    context: HandoverContext,
}

impl RolloutLog {
    /// Durably records `record` as the rollout's progress (it stays active).
    ///
    /// # Errors
    /// The journal could not be written.
    pub async fn record(&self, record: serde_json::Value) -> Result<(), String> {
        self.context.record(record).await
    }
}

/// A policy as the engine's handover hook.
struct PolicyHandover<P>(P);

#[async_trait]
impl<P: Deploy> Handover for PolicyHandover<P> {
    fn describe(&self) -> String {
        format!("deploy by {}", self.0.describe())
    }

    async fn hand_over(&self, context: HandoverContext) -> Result<(), HandoverError> {
        self.0
            .deploy(Rollout::new(context))
            .await
            .map_err(|e| match e {
                DeployError::RolledBack(why) => HandoverError::Declined(why),
                DeployError::Stuck(why) => HandoverError::Stuck(why),
            })
    }

    async fn reset(&self, context: HandoverContext) -> Result<(), String> {
        self.0.reset(Rollout::new(context)).await
    }
}

impl Options {
    /// Rolls out every change of this resource's inputs by `policy`: the
    /// new object is created beside the old one, the policy moves traffic
    /// over (canary, blue-green, rolling, from `dafnck-strategies`), then
    /// the old object is deleted, or on rollback the new one. See
    /// [`crate::deploy`].
    pub fn deploy_with(self, policy: impl Deploy + 'static) -> Self {
        self.hand_over(PolicyHandover(policy))
    }
}

impl Engine {
    /// Sends `control` to the rollout of `resource` under way in the run
    /// that holds the stack's lock (from another process: `rollout abort
    /// web`); returns that lock. The rollout acts on it within about a
    /// second.
    ///
    /// # Errors
    /// [`Error::Usage`] when no rollout of `resource` is under way or no run
    /// holds the lock; [`state::StateError::Unsupported`] when the store
    /// carries no messages; the store's errors.
    pub async fn send_rollout_control(
        &self,
        resource: &str,
        control: RolloutControl,
    ) -> crate::Result<LockInfo> {
        let state = self.state().await?;
        let store = self.store();
        let channel = store
            .channel()
            .ok_or_else(|| state::StateError::Unsupported {
                store: store.describe(),
                missing: "carries no messages to a run under way, which `rollout` commands need"
                    .into(),
            })?;
        let active = state.handovers.get(resource).is_some_and(|m| m.active);
        let lock = match store.locks() {
            Some(locks) => locks.lock_info(self.stack()).await?,
            None => None,
        };
        let lock = match lock {
            Some(lock) if active && lock.expires_at > state::now_millis() => lock,
            _ => {
                return Err(Error::Usage(format!(
                    "no rollout of {resource:?} is under way in stack {:?}; `rollout status` shows the last one",
                    self.stack()
                )))
            }
        };
        let me = LockRequest::for_this_process("rollout", Duration::ZERO);
        let body = serde_json::to_value(control).map_err(|e| Error::Usage(e.to_string()))?;
        let message = Message {
            topic: resource.to_string(),
            body,
            at: state::now_millis(),
            by: format!("{}@{}", me.owner, me.host),
        };
        channel.send(self.stack(), &message).await?;
        Ok(lock)
    }
}

impl fmt::Display for RolloutControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RolloutControl::Pause => "pause",
            RolloutControl::Resume => "resume",
            RolloutControl::Promote => "promote",
            RolloutControl::Abort => "abort",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn _object_safe(_: Box<dyn Deploy>) {}

    #[test]
    fn a_command_travels_as_its_snake_case_name() {
        let body = serde_json::to_value(RolloutControl::Abort).unwrap();
        assert_eq!(body, serde_json::json!("abort"));
        let back: RolloutControl = serde_json::from_value(body).unwrap();
        assert_eq!(back, RolloutControl::Abort);
    }
}
