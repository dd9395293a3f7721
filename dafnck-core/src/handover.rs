//! Handovers: the engine's one hook for changes that are not made in
//! place. A resource declared with [`Options::hand_over`](crate::Options::hand_over)
//! is replaced beside the old object whenever its inputs change: the
//! executor creates the new object, hands both objects to the resource's
//! [`Handover`], and then deletes the old object — or, when the hook
//! declines the new one, deletes the new object and makes the old one
//! current again.
//!
//! The engine knows nothing of what happens in between. Deployment policies
//! (canary, blue-green, rolling: [`crate::deploy`], `dafnck-strategies`)
//! are handovers; so could be a data migration or a manual approval.
//!
//! # Guarantees
//! - A handover is marked active in the state before the new object is
//!   created. A run that finds an active handover it did not start (the
//!   process died) first calls [`Handover::reset`], deletes the new object
//!   and restores the old one; then it plans as usual. A hook is never left
//!   half-done with no run watching it.
//! - Every record the hook writes ([`HandoverContext::record`]) is
//!   journaled before the call returns.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::value::Value;

/// What runs between creating a resource's new object and deleting the old.
#[async_trait]
pub trait Handover: Send + Sync {
    /// How the plan shows it beside the change (`deploy by canary 5% → 100%`).
    fn describe(&self) -> String;

    /// Takes the new object into service in place of the old one. Both
    /// objects exist; their outputs are in `context`.
    ///
    /// # Errors
    /// [`HandoverError::Declined`] when the old object is to stay: the engine
    /// deletes the new object. [`HandoverError::Stuck`] when neither can be
    /// said to serve: the engine keeps both, and the next run resets.
    async fn hand_over(&self, context: HandoverContext) -> Result<(), HandoverError>;

    /// Puts the old object back in service after a run died mid-handover
    /// (idempotent). `context.new` is null when the new object was never
    /// created.
    ///
    /// # Errors
    /// It could not be put back; the message says why.
    async fn reset(&self, context: HandoverContext) -> Result<(), String>;
}

/// How a handover ended, if not with the new object in service.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandoverError {
    /// The old object stays; the new one is to be deleted.
    #[error("rolled back: {0}")]
    Declined(String),
    /// Neither object can be said to serve alone.
    #[error("stuck: {0}")]
    Stuck(String),
}

/// Where a handover under way records its progress and takes messages sent
/// to it from other processes; the executor provides it.
#[async_trait]
pub trait HandoverIo: Send + Sync {
    /// Durably records `record` as the handover's progress.
    async fn record(&self, record: serde_json::Value) -> Result<(), String>;

    /// Takes the message bodies sent to this handover since it started,
    /// oldest first.
    async fn take_messages(&self) -> Result<Vec<serde_json::Value>, String>;
}

/// One handover: the resource, its two objects' outputs, and the hook's
/// own record of its last handover.
#[derive(Clone)]
pub struct HandoverContext {
    /// The resource's name.
    pub name: String,
    /// The outputs of the object in service now.
    pub old: Value,
    /// The outputs of the new object (null when it was never created).
    pub new: Value,
    /// The hook's record of this resource's last handover, if any (a retry
    /// numbers its attempt from it).
    pub previous: serde_json::Value,
    io: Option<Arc<dyn HandoverIo>>,
}

impl fmt::Debug for HandoverContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandoverContext")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl HandoverContext {
    /// A context whose records go nowhere and which receives no messages
    /// (a reset, or a test of a hook).
    pub fn new(name: &str, old: Value, new: Value, previous: serde_json::Value) -> Self {
        HandoverContext {
            name: name.to_string(),
            old,
            new,
            previous,
            io: None,
        }
    }

    /// The same, recording into and taking messages from `io`.
    pub fn with_io(mut self, io: Arc<dyn HandoverIo>) -> Self {
        self.io = Some(io);
        self
    }

    /// Durably records `record` as the handover's progress (kept in the
    /// state, given back as `previous` next time).
    ///
    /// # Errors
    /// The journal could not be written.
    pub async fn record(&self, record: serde_json::Value) -> Result<(), String> {
        match &self.io {
            Some(io) => io.record(record).await,
            None => Ok(()),
        }
    }

    /// Takes the message bodies sent to this handover since it started,
    /// oldest first; empty when the run has nowhere to take them from.
    ///
    /// # Errors
    /// The store could not be read; the message says why.
    pub async fn take_messages(&self) -> Result<Vec<serde_json::Value>, String> {
        match &self.io {
            Some(io) => io.take_messages().await,
            None => Ok(Vec::new()),
        }
    }
}

/// A resource's handover hook, shared by the declaration and the run.
#[derive(Clone)]
pub struct HandoverHook(Arc<dyn Handover>);

impl HandoverHook {
    /// Wraps a hook.
    pub fn new(hook: impl Handover + 'static) -> Self {
        HandoverHook(Arc::new(hook))
    }

    /// The hook.
    pub fn hook(&self) -> &dyn Handover {
        &*self.0
    }
}

impl fmt::Debug for HandoverHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HandoverHook({})", self.0.describe())
    }
}

/// Two declarations have the same hook when they share the object.
impl PartialEq for HandoverHook {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn _object_safe(_: Box<dyn Handover>, _: Box<dyn HandoverIo>) {}

    #[tokio::test]
    async fn a_context_without_io_records_nowhere_and_receives_nothing() {
        let c = HandoverContext::new("web", Value::Null, Value::Null, serde_json::Value::Null);
        assert_eq!(c.record(serde_json::json!({"step": 1})).await, Ok(()));
        assert_eq!(c.take_messages().await, Ok(Vec::new()));
    }
}
