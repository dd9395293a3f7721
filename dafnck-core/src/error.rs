//! The engine's top-level error, and [`Diagnostic`]: one problem, pointing
//! at the declaration in the user's program when it can.

use std::fmt;

use crate::resource::Location;

/// One problem found in a program or a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The resource concerned, if any.
    pub resource: Option<String>,
    /// Where that resource (or export) was declared, if known.
    pub location: Option<Location>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        if let Some(r) = &self.resource {
            write!(f, "resource {r:?}: ")?;
        }
        f.write_str(&self.message)
    }
}

fn planned_handover(h: &Option<String>) -> String {
    match h {
        Some(h) => format!("hands it over with {h:?}"),
        None => "changes it without a handover".to_owned(),
    }
}

fn declared_handover(h: &Option<String>) -> String {
    match h {
        Some(h) => format!("declares {h:?}"),
        None => "declares no handover for it".to_owned(),
    }
}

fn list(items: &[Diagnostic]) -> String {
    items
        .iter()
        .map(|d| format!("\n  - {d}"))
        .collect::<String>()
}

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The program's declarations are inconsistent (every problem is listed).
    #[error("the program has {} problem(s):{}", .0.len(), list(.0))]
    Program(Vec<Diagnostic>),
    /// A configuration value the program requires is not set.
    #[error("stack {stack:?} has no configuration value {key:?}")]
    Config {
        /// The stack.
        stack: String,
        /// The missing key.
        key: String,
    },
    /// A configuration value is not of the type the program reads it as.
    #[error("config value {key:?} of stack {stack:?} is not a {expected}: {message}")]
    ConfigType {
        /// The stack.
        stack: String,
        /// The key.
        key: String,
        /// The type the program asked for.
        expected: String,
        /// Why the value is not one.
        message: String,
    },
    /// The plan would delete or replace protected resources (each is named).
    #[error("the plan is refused:{}", list(.0))]
    PlanRefused(Vec<Diagnostic>),
    /// Policy rules enforced as mandatory are violated (each is named, with
    /// the line that declared the resource); nothing was changed.
    #[error("the plan is refused by policy: {} mandatory violation(s):{}", .0.len(), list(.0))]
    PolicyViolations(Vec<Diagnostic>),
    /// A saved plan no longer matches the state it was made from.
    #[error("the saved plan is stale: it was made for {expected}, but the state is now {found}; preview again")]
    StalePlan {
        /// The state the plan was made against.
        expected: String,
        /// The state found now.
        found: String,
    },
    /// A saved plan's change was planned with a handover (a deployment
    /// policy) the program no longer declares for that resource, or the
    /// program declares one the plan was made without; nothing was applied.
    #[error("resource {resource:?}: the saved plan {}, but the program now {}; nothing was applied: preview again (`preview --out`) and apply the new plan", planned_handover(.planned), declared_handover(.declared))]
    PlanHandover {
        /// The resource.
        resource: String,
        /// The handover the plan shows (`deploy by canary 10% → 100%`).
        planned: Option<String>,
        /// The handover the program declares now.
        declared: Option<String>,
    },
    /// A saved plan belongs to another stack.
    #[error("the saved plan is for stack {plan:?}, not {stack:?}")]
    PlanStack {
        /// The plan's stack.
        plan: String,
        /// The stack being applied.
        stack: String,
    },
    /// A saved plan file could not be read.
    #[error("cannot read the saved plan {path}: {message}")]
    PlanFile {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// No provider serves a resource's type.
    #[error("{}resource {resource:?}: no provider for type {type_name:?} (package {package:?}{})", .location.as_ref().map(|l| format!("{l}: ")).unwrap_or_default(), .instance.as_ref().map(|i| format!(", instance {i:?}")).unwrap_or_default())]
    NoProvider {
        /// The resource.
        resource: String,
        /// Its type.
        type_name: String,
        /// The package no provider serves.
        package: String,
        /// The named instance asked for (none: the package's default).
        instance: Option<Box<str>>,
        /// Where it was declared.
        location: Option<Location>,
    },
    /// The stack has never been applied (no state in the store).
    #[error(
        "stack {stack:?} has no state in {store}; run `up` first, or check --stack and --state-dir"
    )]
    NoState {
        /// The stack.
        stack: String,
        /// The store that was looked in.
        store: String,
    },
    /// The command line was used wrongly.
    #[error("{0}")]
    Usage(String),
    /// A handover (a rollout) a dead run left under way could not be reset;
    /// nothing else was done.
    #[error("resource {resource:?}: a handover (rollout) interrupted by an earlier run could not be reset: {message}")]
    Handover {
        /// The resource.
        resource: String,
        /// Why.
        message: String,
    },
    /// Reading or writing the state failed.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// One or more steps failed while applying; the report names each.
    #[error("{0}")]
    Apply(Box<crate::report::ApplyReport>),
    /// Resources could not be read back (refresh, drift, recovery).
    #[error("reading resources failed:{}", list(.0))]
    Read(Vec<Diagnostic>),
}

/// `Result` with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
