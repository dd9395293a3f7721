//! Deployment policies: a resource declared with
//! [`Options::deploy_with`](crate::Options::deploy_with) is not updated in
//! place. When its inputs change, the executor creates the new object
//! beside the old one, hands both to the policy's [`Deploy`] (which moves
//! traffic over step by step, analysing as it goes), and then deletes the
//! old object — or, when the policy rolls back, deletes the new one and
//! makes the old one current again. `dafnck-strategies` implements
//! [`Deploy`] for canary and blue-green rollouts.
//!
//! # Guarantees
//! - An active rollout is marked in the state before the new object is
//!   created. A run that finds a rollout it did not finish (the process
//!   died) first resets traffic to the old object through the policy's
//!   [`Deploy::reset`], deletes the new object and restores the old one;
//!   then it plans as usual, which deploys the new version afresh. Traffic
//!   is never left split with no run watching it.
//! - Every transition the policy reports is journaled
//!   ([`crate::state::Entry::Rollout`]).

use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::state::{Entry, Journal, RolloutControl, RolloutMark, StateStore};
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

/// One rollout: the resource, its two objects' outputs, and where the
/// policy records its progress.
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
    log: RolloutLog,
    controls: Option<Controls>,
}

/// Where a rollout reads commands sent from other processes.
#[derive(Clone)]
struct Controls {
    store: Arc<dyn StateStore>,
    stack: String,
    since: u64,
}

impl fmt::Debug for Rollout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rollout")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Rollout {
    pub(crate) fn new(
        name: &str,
        old: Value,
        new: Value,
        previous: serde_json::Value,
        journal: Option<Journal>,
    ) -> Self {
        Rollout {
            name: name.to_string(),
            old,
            new,
            previous,
            log: RolloutLog {
                name: name.to_string(),
                journal,
                last: Arc::new(Mutex::new(serde_json::Value::Null)),
            },
            controls: None,
        }
    }

    pub(crate) fn with_controls(mut self, store: Arc<dyn StateStore>, stack: &str) -> Self {
        self.controls = Some(Controls {
            store,
            stack: stack.to_string(),
            since: crate::state::now_millis(),
        });
        self
    }

    /// Takes the commands sent to this rollout from other processes
    /// (`rollout pause|resume|promote|abort NAME`) since it started, oldest
    /// first. A policy polls this while it runs; empty when the run has no
    /// store to take them from.
    ///
    /// # Errors
    /// The store could not be read; the message says why.
    pub async fn controls(&self) -> Result<Vec<RolloutControl>, String> {
        let Some(c) = &self.controls else {
            return Ok(Vec::new());
        };
        let taken = c
            .store
            .take_controls(&c.stack, &self.name)
            .await
            .map_err(|e| e.to_string())?;
        Ok(taken
            .into_iter()
            .filter(|m| m.at >= c.since)
            .map(|m| {
                tracing::info!(resource = %self.name, control = ?m.control, by = %m.by, "rollout command");
                m.control
            })
            .collect())
    }

    /// Where the policy records each transition.
    pub fn log(&self) -> RolloutLog {
        self.log.clone()
    }
}

/// Journals a rollout's transitions as [`Entry::Rollout`] records.
#[derive(Clone)]
pub struct RolloutLog {
    name: String,
    journal: Option<Journal>,
    last: Arc<Mutex<serde_json::Value>>,
}

impl fmt::Debug for RolloutLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RolloutLog")
            .field("name", &self.name)
            .finish()
    }
}

impl RolloutLog {
    /// Durably records `record` as the rollout's progress (it stays active).
    ///
    /// # Errors
    /// The journal could not be written.
    pub async fn record(&self, record: serde_json::Value) -> Result<(), String> {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = record.clone();
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        journal
            .write(Entry::Rollout {
                name: self.name.clone(),
                mark: RolloutMark {
                    active: true,
                    record,
                },
            })
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The last record written.
    pub(crate) fn last(&self) -> serde_json::Value {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
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

/// A resource's deployment policy, shared by the declaration and the plan.
#[derive(Clone)]
pub struct Deployment(pub(crate) Arc<dyn Deploy>);

impl Deployment {
    /// Wraps a policy.
    pub fn new(policy: impl Deploy + 'static) -> Self {
        Deployment(Arc::new(policy))
    }

    /// The policy.
    pub fn policy(&self) -> &dyn Deploy {
        &*self.0
    }
}

impl fmt::Debug for Deployment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Deployment({})", self.0.describe())
    }
}

/// Two declarations have the same policy when they share the object.
impl PartialEq for Deployment {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn _object_safe(_: Box<dyn Deploy>) {}
}
