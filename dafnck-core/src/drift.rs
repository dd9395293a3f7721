//! Refresh and drift: read every recorded object through its provider (at
//! most `parallelism` reads at once) and report what changed outside the
//! program — fields that differ, objects that are gone.

use futures::stream::{self, StreamExt};
use serde::Serialize;

use crate::error::{Diagnostic, Error};
use crate::provider::{standard_diff, DiffRequest, Observed, Providers, ReadRequest, RetryPolicy};
use crate::state::{Entry, ResourceState, State};
use crate::value::Value;

/// How a recorded object drifted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// Some input fields differ from what was recorded.
    Changed,
    /// The object no longer exists.
    Deleted,
}

/// One field changed outside the program.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldDrift {
    /// The input field.
    pub field: String,
    /// What the state recorded (secrets redacted when rendered).
    pub recorded: Value,
    /// What the provider reports now.
    pub actual: Value,
}

/// One drifted resource.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Drifted {
    /// The resource.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Changed or deleted.
    pub kind: DriftKind,
    /// For a change: the fields that differ.
    pub fields: Vec<FieldDrift>,
}

/// What a refresh found.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DriftReport {
    /// Drifted resources, by name.
    pub drifted: Vec<Drifted>,
    /// How many objects were read.
    pub checked: usize,
}

impl DriftReport {
    /// Whether anything drifted.
    pub fn has_drift(&self) -> bool {
        !self.drifted.is_empty()
    }

    /// The drift of resource `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Drifted> {
        self.drifted.iter().find(|d| d.name == name)
    }

    /// A text rendering, one line per drifted resource and per field.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        for d in &self.drifted {
            match d.kind {
                DriftKind::Deleted => {
                    let _ = writeln!(
                        out,
                        "- {} ({}): deleted outside the program",
                        d.name, d.type_name
                    );
                }
                DriftKind::Changed => {
                    let _ = writeln!(
                        out,
                        "~ {} ({}): changed outside the program",
                        d.name, d.type_name
                    );
                    for f in &d.fields {
                        let _ = writeln!(out, "    {}: {} → {}", f.field, f.recorded, f.actual);
                    }
                }
            }
        }
        let _ = writeln!(
            out,
            "Drift: {} of {} resources changed outside the program.",
            self.drifted.len(),
            self.checked
        );
        out
    }
}

/// The result of a refresh: the report, the refreshed state, and the
/// records that write it.
#[derive(Clone, Debug)]
pub struct Refresh {
    /// What drifted.
    pub report: DriftReport,
    /// The state with every object as read.
    pub state: State,
    /// `Put` / `Remove` records that turn the old state into `state`.
    pub entries: Vec<Entry>,
}

/// Reads back every recorded object (current, not deposed).
///
/// # Errors
/// [`Error::Read`] naming every object that could not be read, and where
/// it was declared.
pub async fn refresh(
    state: &State,
    providers: &Providers,
    retry: &RetryPolicy,
    parallelism: usize,
) -> crate::Result<Refresh> {
    // Futures built first: a closure inside the stream would make the
    // whole future `Send` only for one lifetime (a rustc limitation).
    let futures: Vec<_> = state
        .resources
        .values()
        .map(|r| read_back(&state.stack, r, providers, retry))
        .collect();
    let reads = bounded(futures, parallelism).await;
    let mut refreshed = state.clone();
    let mut report = DriftReport {
        drifted: Vec::new(),
        checked: reads.len(),
    };
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for (r, read) in state.resources.values().zip(reads) {
        match read {
            Err(message) => problems.push(Diagnostic {
                resource: Some(r.name.clone()),
                location: r.location.clone(),
                message,
            }),
            Ok(None) => {
                report.drifted.push(Drifted {
                    name: r.name.clone(),
                    type_name: r.type_name.clone(),
                    kind: DriftKind::Deleted,
                    fields: Vec::new(),
                });
                refreshed.resources.remove(&r.name);
                entries.push(Entry::Remove {
                    name: r.name.clone(),
                });
            }
            Ok(Some(mut o)) => {
                o.inputs = o.inputs.with_secrets_of(&r.inputs);
                o.outputs = keep_unreadable_secrets(o.outputs, &r.outputs);
                let diff = standard_diff(&DiffRequest {
                    name: &r.name,
                    type_name: &r.type_name,
                    old_inputs: &r.inputs,
                    new_inputs: &o.inputs,
                    force_new: &[],
                    ignore_changes: &[],
                });
                if !diff.is_empty() {
                    let field = |v: &Value, f: &str| v.get(f).cloned().unwrap_or(Value::Null);
                    report.drifted.push(Drifted {
                        name: r.name.clone(),
                        type_name: r.type_name.clone(),
                        kind: DriftKind::Changed,
                        fields: diff
                            .changed
                            .iter()
                            .map(|f| FieldDrift {
                                field: f.clone(),
                                recorded: field(&r.inputs, f),
                                actual: field(&o.inputs, f),
                            })
                            .collect(),
                    });
                }
                if o.inputs != r.inputs || o.outputs != r.outputs || o.id != r.id {
                    let updated = ResourceState {
                        id: o.id,
                        inputs: o.inputs,
                        outputs: o.outputs,
                        ..(**r).clone()
                    };
                    refreshed
                        .resources
                        .insert(r.name.clone(), std::sync::Arc::new(updated.clone()));
                    entries.push(Entry::Put { resource: updated });
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::Read(problems));
    }
    Ok(Refresh {
        report,
        state: refreshed,
        entries,
    })
}

/// Secret outputs a provider cannot read back (a private key the cloud
/// returned only when it made the object) are kept as recorded: an output
/// field recorded as a secret that the read reports as missing or null.
fn keep_unreadable_secrets(observed: Value, recorded: &Value) -> Value {
    match (observed, recorded.as_map()) {
        (Value::Map(mut seen), Some(was)) => {
            for (field, value) in was {
                if matches!(value, Value::Secret(_))
                    && matches!(seen.get(field), None | Some(Value::Null))
                {
                    seen.insert(field.clone(), value.clone());
                }
            }
            Value::Map(seen)
        }
        (other, _) => other,
    }
}

/// Runs `futures`, at most `parallelism` at once, and returns their
/// outputs in order. A slot is refilled as soon as any future in it ends
/// (not in order, as `buffered` does, where one slow call at the head
/// leaves finished slots idle behind it).
pub(crate) async fn bounded<F: std::future::Future>(
    futures: Vec<F>,
    parallelism: usize,
) -> Vec<F::Output> {
    use futures::FutureExt;
    let n = futures.len();
    let indexed: Vec<_> = futures
        .into_iter()
        .enumerate()
        .map(|(i, f)| f.map(move |out| (i, out)))
        .collect();
    let mut done: Vec<(usize, F::Output)> = stream::iter(indexed)
        .buffer_unordered(parallelism.max(1))
        .collect()
        .await;
    debug_assert_eq!(done.len(), n);
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, out)| out).collect()
}

async fn read_back(
    stack: &str,
    r: &ResourceState,
    providers: &Providers,
    retry: &RetryPolicy,
) -> Result<Option<Observed>, String> {
    let provider = providers
        .for_instance(
            &r.name,
            &r.type_name,
            r.provider.as_deref(),
            r.location.as_ref(),
        )
        .map_err(|e| e.to_string())?;
    let req = ReadRequest {
        name: r.name.clone(),
        stack: stack.to_owned(),
        type_name: r.type_name.clone(),
        id: Some(r.id.clone()),
        token: None,
        inputs: r.inputs.clone(),
    };
    retry
        .run(0, || provider.read(req.clone()))
        .await
        .map_err(|e| format!("cannot read {}: {e}", r.id))
}
