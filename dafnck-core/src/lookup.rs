//! What a program reads but does not own: other stacks' exports
//! ([`crate::reference`]) and data sources ([`crate::data`]).
//!
//! # Design
//!
//! A program is a synchronous function that declares; reading a store or a
//! cloud is asynchronous. So a read is declared first and resolved later:
//! [`Stack::reference`](crate::Stack::reference) and
//! [`Stack::read`](crate::Stack::read) record a *lookup* (what to read,
//! and the program line that asked) and hand back [`Input`](crate::Input)s
//! that are computed values (see [`crate::computed`]) over the lookup's
//! answer. Between running the program and planning, the
//! [`Engine`](crate::engine::Engine) resolves every lookup — loading the
//! referenced stacks' states, calling the providers' data sources — and
//! fills in the answers; the planner then computes those inputs like any
//! other computed value with known sources. Both `preview` and `up` read
//! afresh; nothing read is recorded as an object of the stack, so nothing
//! read is ever deleted. The plan lists the reads ([`Plan::reads`]).
//!
//! Errors name the program line: a referenced stack with no state, a read
//! a provider refused, a missing export or one of another type than asked
//! come back as [`Error::Program`] diagnostics with the location of the
//! call that declared them, before anything is planned.
//!
//! Tests supply answers without a backend or a cloud with
//! [`TestStack::stack_exports`](crate::testing::TestStack::stack_exports)
//! and [`TestStack::data`](crate::testing::TestStack::data) (the engine's
//! [`Lookups`]).
//!
//! [`Plan::reads`]: crate::Plan::reads
//! [`Error::Program`]: crate::Error::Program

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use crate::error::Diagnostic;
use crate::resource::Location;
use crate::state::reads::AnswerChange;
use crate::state::ReadState;
use crate::value::Value;

/// The answer of one lookup, once the engine has resolved it: the exports
/// of a stack (a map of them) or a data source's outputs.
pub(crate) type Answer = Arc<OnceLock<Value>>;

/// A check of one value taken from an answer (its type).
pub(crate) type Check = Arc<dyn Fn(&Value) -> Result<(), String> + Send + Sync>;

/// One value the program takes from a lookup's answer: an export by key
/// (stack references), checked for the type asked.
#[derive(Clone)]
pub(crate) struct Want {
    pub key: String,
    pub location: Location,
    pub check: Check,
}

/// What a lookup reads.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    /// The exports of `stack`, in the store at `store` (none: this stack's).
    Stack {
        stack: String,
        store: Option<String>,
    },
    /// A data source of `type_name`, asked `query`.
    Data {
        name: String,
        type_name: &'static str,
        query: Value,
        provider: Option<String>,
    },
}

/// One declared read.
#[derive(Clone)]
pub(crate) struct Lookup {
    pub source: Source,
    pub location: Location,
    pub answer: Answer,
    /// For a stack reference, the exports taken from it.
    pub wants: Arc<Mutex<Vec<Want>>>,
    /// For a data source, the check of its outputs' type.
    pub check: Option<Check>,
}

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lookup({:?} at {})", self.source, self.location)
    }
}

impl Lookup {
    pub(crate) fn new(source: Source, location: Location) -> Self {
        Lookup {
            source,
            location,
            answer: Arc::new(OnceLock::new()),
            wants: Arc::new(Mutex::new(Vec::new())),
            check: None,
        }
    }

    /// What the plan shows of it.
    pub(crate) fn read(&self) -> Read {
        match &self.source {
            Source::Stack { stack, store } => Read {
                name: stack.clone(),
                kind: ReadKind::StackExports,
                type_name: None,
                store: store.as_deref().map(crate::state::redact_url),
                keys: self
                    .wants
                    .lock()
                    .map(|w| w.iter().map(|w| w.key.clone()).collect())
                    .unwrap_or_default(),
                location: self.location.clone(),
                record: None,
                changed: Vec::new(),
                affects: Vec::new(),
                to_record: false,
            },
            Source::Data {
                name, type_name, ..
            } => Read {
                name: name.clone(),
                kind: ReadKind::Data,
                type_name: Some((*type_name).to_owned()),
                store: None,
                keys: Vec::new(),
                location: self.location.clone(),
                record: None,
                changed: Vec::new(),
                affects: Vec::new(),
                to_record: false,
            },
        }
    }
}

/// A computed input over a lookup's answer: `pick` takes the value out of
/// the resolved answer.
pub(crate) fn input_over<T>(
    answer: &Answer,
    what: String,
    read: Option<Arc<str>>,
    location: Location,
    pick: impl Fn(&Value) -> Result<Value, String> + Send + Sync + 'static,
) -> crate::Input<T> {
    let answer = Arc::clone(answer);
    crate::computed::over_answer(
        move || {
            match answer.get() {
            Some(v) => pick(v),
            None => Err(format!(
                "{what} was not read: plan through the Engine (or a TestStack), which reads it first"
            )),
        }
        },
        read,
        location,
    )
}

/// What kind of read a [`Read`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadKind {
    /// Another stack's exports.
    StackExports,
    /// A data source.
    Data,
}

/// One read a plan made: shown in the preview, never an object of the
/// stack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Read {
    /// The data source's name in the program, or the referenced stack.
    pub name: String,
    /// Exports of a stack, or a data source.
    pub kind: ReadKind,
    /// The data source's type name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// The store of a referenced stack given by URL (credentials redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// The exports the program took from a referenced stack.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// Where the program declared the read.
    pub location: Location,
    /// For a data source: what the state records of it once an `up` of
    /// this plan succeeds (its query and answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<ReadState>,
    /// For a data source read before: how its answer differs from the one
    /// the state records (empty: the same, or never recorded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<AnswerChange>,
    /// For a changed answer: the resources the plan changes that take a
    /// value from this read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affects: Vec<String>,
    /// For a data source: the state does not record it as read now (a new
    /// read, or its query or answer changed), so an `up` records it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub to_record: bool,
}

impl Read {
    /// The lines the preview shows of it: [`Read::describe`], then for an
    /// answer that changed since the recorded one, a line per output that
    /// differs and one naming the resources the change affects.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![self.describe()];
        for c in &self.changed {
            lines.push(format!("    {}", c.describe()));
        }
        if !self.changed.is_empty() {
            lines.push(if self.affects.is_empty() {
                "    changes no resource".to_owned()
            } else {
                format!("    affects: {}", self.affects.join(", "))
            });
        }
        lines
    }

    /// One line for the preview: `read data source "ami" (aws:ec2:AmiLookup)`,
    /// `read exports of stack "network": vpc_id, subnet_id`; a data source
    /// whose answer changed since it was recorded ends `: answer changed`.
    pub fn describe(&self) -> String {
        match self.kind {
            ReadKind::Data => format!(
                "read data source {:?} ({}){}",
                self.name,
                self.type_name.as_deref().unwrap_or("?"),
                if self.changed.is_empty() {
                    ""
                } else {
                    ": answer changed"
                }
            ),
            ReadKind::StackExports => {
                let mut line = format!("read exports of stack {:?}", self.name);
                if let Some(store) = &self.store {
                    line.push_str(&format!(" in {store}"));
                }
                if !self.keys.is_empty() {
                    line.push_str(": ");
                    line.push_str(&self.keys.join(", "));
                }
                line
            }
        }
    }
}

/// Answers given in place of the stores and the providers (tests): a
/// referenced stack's exports by stack name, a data source's outputs by
/// its name in the program.
#[derive(Clone, Debug, Default)]
pub struct Lookups {
    /// Exports by stack name.
    pub exports: BTreeMap<String, BTreeMap<String, Value>>,
    /// Data source outputs by the name the program gave the read.
    pub data: BTreeMap<String, Value>,
}

/// Checks what the program took from a resolved stack reference: each key
/// exported, each of the type asked.
pub(crate) fn check_wants(lookup: &Lookup, stack: &str, problems: &mut Vec<Diagnostic>) {
    let Some(Value::Map(exports)) = lookup.answer.get() else {
        return;
    };
    let wants = lookup.wants.lock().map(|w| w.clone()).unwrap_or_default();
    for want in wants {
        let message = match exports.get(&want.key) {
            None => {
                let known: Vec<&str> = exports.keys().map(String::as_str).collect();
                Some(format!(
                    "stack {stack:?} has no export {:?} (it exports: {})",
                    want.key,
                    if known.is_empty() {
                        "nothing".to_owned()
                    } else {
                        known.join(", ")
                    }
                ))
            }
            Some(v) => crate::engine::sealed_message(v)
                .map(str::to_owned)
                .or_else(|| (want.check)(v).err())
                .map(|e| format!("export {:?} of stack {stack:?} {e}", want.key)),
        };
        if let Some(message) = message {
            problems.push(Diagnostic {
                resource: None,
                location: Some(want.location.clone()),
                message,
            });
        }
    }
}

/// The check that a value reads as a `T` (revealed: a secret export is
/// checked by its content).
pub(crate) fn type_check<T: serde::de::DeserializeOwned>() -> Check {
    Arc::new(|v: &Value| {
        v.revealed()
            .deserialize_into::<T>()
            .map(|_| ())
            .map_err(|e| {
                format!(
                    "is {} but the program asks for {}: {e}",
                    kind_of(v),
                    crate::config::short_type_name(std::any::type_name::<T>())
                )
            })
    })
}

/// A short description of a value's kind, never its content (it may be a
/// secret).
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Int(_) | Value::Float(_) => "a number",
        Value::String(_) => "a string",
        Value::List(_) => "a list",
        Value::Map(_) => "a map",
        Value::Secret(inner) => kind_of(inner),
        _ => "not known",
    }
}

/// A data source's answer as a [`ResourceRef`](crate::ResourceRef) carries
/// it, so the typed output references of its `Outputs` read from it.
#[derive(Clone)]
pub(crate) struct AnswerRef {
    pub answer: Answer,
    pub what: Arc<str>,
    pub location: Location,
    /// The data source's name: the computed inputs over the answer carry
    /// it, so a plan can say which resources take a value from the read.
    pub read: Arc<str>,
}

/// Two references to one read are equal.
impl PartialEq for AnswerRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.answer, &other.answer)
    }
}

impl Eq for AnswerRef {}

impl std::hash::Hash for AnswerRef {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

impl std::fmt::Debug for AnswerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (declared at {})", self.what, self.location)
    }
}

impl AnswerRef {
    /// The output `field` of the answer, as a computed input.
    pub(crate) fn field<T>(&self, field: &str) -> crate::Input<T> {
        let (what, wanted) = (self.what.clone(), field.to_owned());
        input_over(
            &self.answer,
            self.what.to_string(),
            Some(Arc::clone(&self.read)),
            self.location.clone(),
            move |outputs: &Value| {
                outputs
                    .get(&wanted)
                    .cloned()
                    .ok_or_else(|| format!("{what} has no output {wanted:?}"))
            },
        )
    }
}
