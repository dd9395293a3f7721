//! The plan: pure data saying what an apply will do to each resource, and
//! why. A plan can be rendered, asserted on in tests, saved to a file and
//! applied later exactly as shown — or refused if the state moved on.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::name::Name;
use crate::resource::{Location, Timeouts};
use crate::state::{ResourceState, State};
use crate::value::Value;

/// What happens to one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Nothing to do.
    #[serde(rename = "noop")]
    NoOp,
    /// A new object is created.
    Create,
    /// The object is changed in place.
    Update,
    /// A new object replaces the current one (see [`Change::replace_order`]).
    Replace,
    /// The object is deleted.
    Delete,
    /// An existing object is adopted.
    Import,
}

impl Action {
    /// Whether this is a replacement.
    pub fn is_replace(self) -> bool {
        self == Action::Replace
    }

    /// Whether an existing object is destroyed (delete or replace).
    pub fn is_destructive(self) -> bool {
        matches!(self, Action::Delete | Action::Replace)
    }

    /// Whether anything happens.
    pub fn is_change(self) -> bool {
        self != Action::NoOp
    }

    /// The lowercase name used in JSON and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::NoOp => "noop",
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Import => "import",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The order of a replacement's two halves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplaceOrder {
    /// Create the new object, move dependents to it, then delete the old one.
    #[default]
    CreateBeforeDelete,
    /// Delete the old object first (names that must be unique, quotas).
    DeleteBeforeCreate,
}

/// One resource's entry in a plan.
///
/// What a change shares with the program rather than copies — names,
/// dependency names, inputs, force-new fields, the declaration site — is
/// held as [`Name`] or `Arc`: planning a large stack allocates little per
/// resource, and cloning a change is cheap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The resource's name.
    pub name: Name,
    /// Its type.
    #[serde(rename = "type")]
    pub type_name: Name,
    /// What happens.
    pub action: Action,
    /// The recorded object, for an update, a replacement, a delete, and a
    /// no-op with something to record (a rename, changed options): shared
    /// with the state planned against, not copied. None for a create or an
    /// import, and for every other no-op — a re-checked one included, whose
    /// recorded object the executor reads from the state the plan is bound
    /// to.
    pub before: Option<Arc<ResourceState>>,
    /// The desired inputs as far as known now: references to outputs not yet
    /// known are [`Value::Unknown`]. None for a delete and for a no-op (its
    /// inputs are the recorded ones, in the state the plan is bound to).
    pub after: Option<Value>,
    /// The desired inputs with their references, resolved when applied:
    /// for a create, an import, an update, a replacement and a re-checked
    /// no-op. Shared with the program's declaration ([`Node::inputs`]), not
    /// copied.
    ///
    /// [`Node::inputs`]: crate::stack::Node::inputs
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Arc<Value>>,
    /// Top-level input fields that differ, sorted.
    pub fields: Vec<String>,
    /// For a replace: the changed fields that forced it (`type` when the
    /// type itself changed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace_because: Vec<String>,
    /// For a replace: which half comes first.
    #[serde(default)]
    pub replace_order: ReplaceOrder,
    /// Resources this one depends on in the program (shared with the
    /// program's [`Node::dependencies`](crate::stack::Node::dependencies)).
    #[serde(default, skip_serializing_if = "<[Name]>::is_empty")]
    pub dependencies: Arc<[Name]>,
    /// Options that matter when applying: shared by the changes of every
    /// resource of a type declared without such options (most of a large
    /// program), so a change carries a pointer, not a copy.
    #[serde(default)]
    pub flags: Arc<ChangeFlags>,
    /// The object's id to adopt, for an import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_id: Option<String>,
    /// The old name, when an alias matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// Whether this deletes a deposed object (the old half of a replacement
    /// that did not finish), not the current one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deposed: bool,
    /// For a no-op: a resource it depends on is updated in place, so its
    /// inputs are resolved again at apply and it is updated then if an
    /// output it uses changed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recheck: bool,
    /// Where the resource was declared (for deletes: where it was last).
    pub location: Option<Arc<Location>>,
}

/// The declaration options a change carries into apply.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangeFlags {
    /// Refuse to delete or replace.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// Forget instead of deleting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retain_on_delete: bool,
    /// Fields whose changes are ignored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_changes: Vec<String>,
    /// Fields whose change forces a replacement (shared with the program).
    #[serde(default, skip_serializing_if = "<[String]>::is_empty")]
    pub force_new: Arc<[String]>,
    /// Per-call time limits.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// The handover ([`crate::handover`]) that takes this change's new
    /// object into service, as the plan shows it (a replacement beside the
    /// old object).
    #[serde(default, alias = "deploy", skip_serializing_if = "Option::is_none")]
    pub handover: Option<String>,
    /// The named provider instance that manages the new object (none: the
    /// package's default instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

/// The state a plan was made against; a saved plan applies only to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateBinding {
    /// The state's lineage (empty for a stack never applied).
    pub lineage: String,
    /// Its serial.
    pub serial: u64,
    /// Its fingerprint ([`State::fingerprint`]).
    pub fingerprint: String,
}

impl StateBinding {
    /// No state yet: what a plan holds until its binding is set.
    pub(crate) fn unbound() -> Self {
        StateBinding {
            lineage: String::new(),
            serial: 0,
            fingerprint: String::new(),
        }
    }

    /// The binding of `state`.
    pub fn of(state: &State) -> Self {
        StateBinding {
            lineage: state.lineage.clone(),
            serial: state.serial,
            fingerprint: state.fingerprint(),
        }
    }
}

impl fmt::Display for StateBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = |s: &str| s.chars().take(12).collect::<String>();
        write!(
            f,
            "lineage {} serial {} hash {}",
            if self.lineage.is_empty() {
                "(new)".into()
            } else {
                short(&self.lineage)
            },
            self.serial,
            short(&self.fingerprint)
        )
    }
}

/// Counts of changes by action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Creates and imports.
    pub create: usize,
    /// In-place updates.
    pub update: usize,
    /// Replacements.
    pub replace: usize,
    /// Deletes.
    pub delete: usize,
    /// Unchanged resources.
    pub noop: usize,
}

/// What an apply will do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Format version of saved plans.
    pub version: u32,
    /// The stack.
    pub stack: String,
    /// The state the plan was made against.
    pub base: StateBinding,
    /// One entry per desired or recorded resource: desired ones in
    /// dependency order, then deletes.
    pub changes: Vec<Change>,
    /// Exported values, possibly holding references.
    pub exports: BTreeMap<String, Value>,
    /// Whether this plan destroys the whole stack.
    #[serde(default)]
    pub destroy: bool,
    /// The resources a targeted plan was limited to (empty: all); a
    /// targeted apply leaves the stack's exports as they were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// In a saved plan whose secrets are sealed: how (see
    /// [`Engine::save_plan`](crate::engine::Engine::save_plan)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<crate::state::Encryption>,
    /// What the plan read and does not own: other stacks' exports, data
    /// sources (see [`crate::lookup`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<crate::lookup::Read>,
    /// Data sources the state records that the program no longer reads,
    /// with their types: an `up` drops them from the state (deleting
    /// nothing).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dropped_reads: BTreeMap<String, String>,
}

/// The format version of a plan as data (a saved plan whose secrets are
/// sealed is marked with the next one, see [`crate::saved_plan`]).
pub(crate) const PLAN_FORMAT: u32 = 1;

impl Plan {
    pub(crate) fn new(stack: &str, base: StateBinding, destroy: bool) -> Self {
        Plan {
            version: PLAN_FORMAT,
            stack: stack.to_owned(),
            base,
            changes: Vec::new(),
            exports: BTreeMap::new(),
            destroy,
            targets: Vec::new(),
            encryption: None,
            reads: Vec::new(),
            dropped_reads: BTreeMap::new(),
        }
    }

    /// Whether an `up` of this plan changes the data-source reads the
    /// state records: a read new or changed since (its query or answer),
    /// or one to drop. Such an `up` has work even with no resource
    /// change.
    pub fn records_reads(&self) -> bool {
        self.reads.iter().any(|r| r.to_record) || !self.dropped_reads.is_empty()
    }

    /// The change for resource `name` (deposed deletes excluded).
    pub fn change(&self, name: &str) -> Option<&Change> {
        self.changes.iter().find(|c| c.name == name && !c.deposed)
    }

    /// The action for resource `name`, if the plan mentions it.
    pub fn action(&self, name: &str) -> Option<Action> {
        self.change(name).map(|c| c.action)
    }

    /// Whether anything would change.
    pub fn has_changes(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.action.is_change() || c.renamed_from.is_some())
    }

    /// Counts by action.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create | Action::Import => s.create += 1,
                Action::Update => s.update += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.delete += 1,
                Action::NoOp => s.noop += 1,
            }
        }
        s
    }
}
