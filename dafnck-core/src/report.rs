//! What an apply did, step by step, and how pending operations of a
//! crashed run were resolved: plain data, below the executor and the
//! errors that carry it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::resource::Location;
use crate::state::{Entry, OpKind};
use crate::value::Value;

/// What a step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Creates an object.
    Create,
    /// Adopts an existing object (and updates it to match if needed).
    Import,
    /// Updates an object in place.
    Update,
    /// Resolves an unchanged resource's inputs again after a dependency was
    /// updated in place, and updates it if they changed.
    Recheck,
    /// Creates the new object of a replacement.
    CreateReplacement,
    /// Deletes the old object of a replacement.
    DeleteReplaced,
    /// Deletes an object.
    Delete,
    /// Deletes an old object left by an unfinished replacement.
    DeleteDeposed,
    /// Forgets an object without deleting it (`retain_on_delete`).
    Forget,
    /// Records a rename or changed options; no provider call.
    Record,
}

impl StepKind {
    /// A short lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Create => "create",
            StepKind::Import => "import",
            StepKind::Update => "update",
            StepKind::Recheck => "recheck",
            StepKind::CreateReplacement => "create replacement",
            StepKind::DeleteReplaced => "delete replaced",
            StepKind::Delete => "delete",
            StepKind::DeleteDeposed => "delete deposed",
            StepKind::Forget => "forget",
            StepKind::Record => "record",
        }
    }
}

/// How a step ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum StepStatus {
    /// It succeeded.
    Done,
    /// It failed; nothing was recorded for it beyond what the provider did.
    Failed {
        /// The error.
        error: String,
        /// Whether a later retry may succeed.
        retryable: bool,
    },
    /// It did not run because a step it waits for failed.
    Skipped {
        /// The step that failed (`create web`).
        because: String,
    },
}

/// One step of an apply.
#[derive(Clone, Debug, Serialize)]
pub struct StepReport {
    /// The resource.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// What the step does.
    pub kind: StepKind,
    /// How it ended.
    pub status: StepStatus,
    /// How long it took.
    pub elapsed: Duration,
    /// Where the resource was declared.
    pub location: Option<Location>,
}

impl StepReport {
    /// Whether the step failed because its handover (a canary or
    /// blue-green rollout) was rolled back.
    pub fn is_rolled_back(&self) -> bool {
        matches!(&self.status, StepStatus::Failed { error, .. } if error.starts_with("rolled back"))
    }
}

/// What an apply did.
#[derive(Clone, Debug, Serialize)]
pub struct ApplyReport {
    /// The stack.
    pub stack: String,
    /// Every step, in plan order.
    pub steps: Vec<StepReport>,
    /// The stack's exported values after the apply.
    pub outputs: BTreeMap<String, Value>,
    /// Wall time.
    pub elapsed: Duration,
    /// Pending operations of an earlier run resolved before planning.
    pub pending_resolved: Vec<Resolution>,
}

impl ApplyReport {
    /// Whether every step succeeded.
    pub fn is_success(&self) -> bool {
        self.steps.iter().all(|s| s.status == StepStatus::Done)
    }

    /// The failed steps.
    pub fn failed(&self) -> impl Iterator<Item = &StepReport> {
        self.steps
            .iter()
            .filter(|s| matches!(s.status, StepStatus::Failed { .. }))
    }

    /// The skipped steps.
    pub fn skipped(&self) -> impl Iterator<Item = &StepReport> {
        self.steps
            .iter()
            .filter(|s| matches!(s.status, StepStatus::Skipped { .. }))
    }

    /// The status of the (last) step of resource `name`.
    pub fn status(&self, name: &str) -> Option<&StepStatus> {
        self.steps
            .iter()
            .rev()
            .find(|s| s.name == name)
            .map(|s| &s.status)
    }
}

impl fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = self
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Done)
            .count();
        write!(
            f,
            "apply of stack {:?}: {done} done, {} failed, {} skipped",
            self.stack,
            self.failed().count(),
            self.skipped().count()
        )?;
        for s in &self.steps {
            let at = s
                .location
                .as_ref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default();
            match &s.status {
                StepStatus::Done => {}
                StepStatus::Failed { error, .. } => {
                    write!(f, "\n  failed: {} {}{at}: {error}", s.kind.as_str(), s.name)?;
                }
                StepStatus::Skipped { because } => {
                    write!(
                        f,
                        "\n  skipped: {} {}{at}, because {because} failed",
                        s.kind.as_str(),
                        s.name
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// How one pending operation was resolved.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Resolution {
    /// The intent's `seq`.
    pub op: u64,
    /// What the interrupted call was doing.
    pub kind: OpKind,
    /// The resource.
    pub name: String,
    /// What was found, in words (`created as i-123 (adopted)`, `not created`).
    pub outcome: String,
    /// The records that settle it, in order.
    #[serde(skip)]
    pub entries: Vec<Entry>,
}
