//! Refresh and drift: read every recorded object through its provider (at
//! most `parallelism` reads at once; objects of a type whose provider reads
//! in batches, up to [`READ_BATCH`] a call) and report what changed outside
//! the program — fields that differ, objects that are gone. `drift` also
//! reads the recorded data sources again ([`crate::state::reads`]) and
//! reports an answer that changed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use serde::Serialize;

use crate::error::{Diagnostic, Error};
use crate::provider::{
    standard_diff, DiffRequest, Observed, Providers, ReadRequest, RetryPolicy, READ_BATCH,
};
use crate::state::reads::AnswerChange;
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

/// A data source whose answer differs from the one the state records
/// (see [`crate::state::reads`]): read again with its recorded query.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReadDrift {
    /// The read's name in the program.
    pub name: String,
    /// The data source's type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The outputs that differ.
    pub changes: Vec<AnswerChange>,
}

/// What a refresh found.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DriftReport {
    /// Drifted resources, by name.
    pub drifted: Vec<Drifted>,
    /// How many objects were read.
    pub checked: usize,
    /// `drift` only: the recorded data sources whose answer changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<ReadDrift>,
    /// `drift` only: how many recorded data sources were read again.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reads_checked: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl DriftReport {
    /// Whether anything drifted, or a data source answers differently.
    pub fn has_drift(&self) -> bool {
        !self.drifted.is_empty() || !self.reads.is_empty()
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
        for r in &self.reads {
            let _ = writeln!(
                out,
                "~ data source {:?} ({}): answers differently than recorded (the next `up` records it)",
                r.name, r.type_name
            );
            for c in &r.changes {
                let _ = writeln!(out, "    {}", c.describe());
            }
        }
        let _ = writeln!(
            out,
            "Drift: {} of {} resources changed outside the program.",
            self.drifted.len(),
            self.checked
        );
        if self.reads_checked > 0 {
            let _ = writeln!(
                out,
                "Reads: {} of {} data sources answer differently than recorded.",
                self.reads.len(),
                self.reads_checked
            );
        }
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
/// At most `parallelism` reads run at once, on as many tasks, so on a
/// multi-threaded runtime the reads (and comparing each answer with the
/// record) use every worker thread.
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
    let (report, entries, changed) = refresh_changes(state, providers, retry, parallelism).await?;
    Ok(Refresh {
        report,
        state: changed.unwrap_or_else(|| state.clone()),
        entries,
    })
}

/// [`refresh`], with the refreshed state only when it differs from
/// `state` (no copy of a large state that did not drift).
pub(crate) async fn refresh_changes(
    state: &State,
    providers: &Providers,
    retry: &RetryPolicy,
    parallelism: usize,
) -> crate::Result<(DriftReport, Vec<Entry>, Option<State>)> {
    let units = read_units(
        state
            .resources
            .values()
            .enumerate()
            .map(|(i, r)| (i, Arc::clone(r))),
        providers,
    );
    let units = Arc::new(units);
    let next = Arc::new(AtomicUsize::new(0));
    let shared = Arc::new((state.stack.clone(), providers.clone(), *retry));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..parallelism.clamp(1, units.len().max(1)) {
        let (units, next, shared) = (units.clone(), next.clone(), shared.clone());
        workers.spawn(async move {
            let (stack, providers, retry) = &*shared;
            let mut done = Vec::new();
            while let Some((unit, batched)) = units.get(next.fetch_add(1, Ordering::Relaxed)) {
                let refs: Vec<&ResourceState> = unit.iter().map(|(_, r)| &**r).collect();
                let answers = read_unit(stack, &refs, *batched, providers, retry).await;
                for ((i, r), answer) in unit.iter().zip(answers) {
                    done.push((*i, compare(r, answer)));
                }
            }
            done
        });
    }
    // Each object's answer, in the state's order.
    let mut compared: Vec<Option<Compared>> = (0..state.resources.len()).map(|_| None).collect();
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(done) => {
                for (i, c) in done {
                    compared[i] = Some(c);
                }
            }
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => {
                return Err(Error::Read(vec![Diagnostic {
                    resource: None,
                    location: None,
                    message: format!("the refresh did not finish: {e}"),
                }]))
            }
        }
    }
    let mut report = DriftReport {
        drifted: Vec::new(),
        checked: state.resources.len(),
        ..DriftReport::default()
    };
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for (r, compared) in state.resources.values().zip(compared) {
        let compared = compared
            .unwrap_or_else(|| Compared::Failed(format!("cannot read {}: no answer", r.id)));
        match compared {
            Compared::Failed(message) => problems.push(Diagnostic {
                resource: Some(r.name.clone()),
                location: r.location.clone(),
                message,
            }),
            Compared::Deleted => {
                report.drifted.push(Drifted {
                    name: r.name.clone(),
                    type_name: r.type_name.clone(),
                    kind: DriftKind::Deleted,
                    fields: Vec::new(),
                });
                entries.push(Entry::Remove {
                    name: r.name.clone(),
                });
            }
            Compared::Found { drifted, updated } => {
                if let Some(drifted) = drifted {
                    report.drifted.push(drifted);
                }
                if let Some(updated) = updated {
                    entries.push(Entry::Put { resource: *updated });
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::Read(problems));
    }
    let changed = (!entries.is_empty()).then(|| {
        let mut refreshed = state.clone();
        for e in &entries {
            match e {
                Entry::Remove { name } => {
                    refreshed.resources.remove(name);
                }
                Entry::Put { resource } => {
                    refreshed
                        .resources
                        .insert(resource.name.clone(), Arc::new(resource.clone()));
                }
                _ => {}
            }
        }
        refreshed
    });
    Ok((report, entries, changed))
}

/// One recorded object read back, compared with its record.
enum Compared {
    /// It could not be read: why.
    Failed(String),
    /// It is gone.
    Deleted,
    /// It exists: how its inputs drifted, and its record when anything
    /// read differs.
    Found {
        drifted: Option<Drifted>,
        updated: Option<Box<ResourceState>>,
    },
}

fn compare(r: &ResourceState, read: Result<Option<Observed>, String>) -> Compared {
    let mut o = match read {
        Err(message) => return Compared::Failed(message),
        Ok(None) => return Compared::Deleted,
        Ok(Some(o)) => o,
    };
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
    let drifted = (!diff.is_empty()).then(|| {
        let field = |v: &Value, f: &str| v.get(f).cloned().unwrap_or(Value::Null);
        Drifted {
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
        }
    });
    let updated =
        (o.inputs != r.inputs || o.outputs != r.outputs || o.id != r.id).then(|| ResourceState {
            id: o.id,
            inputs: o.inputs,
            outputs: o.outputs,
            ..r.clone()
        });
    Compared::Found {
        drifted,
        updated: updated.map(Box::new),
    }
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

/// What [`read_units`] groups: a recorded object, or one with where it
/// stands in a list.
pub(crate) trait Recorded {
    /// The recorded object.
    fn recorded(&self) -> &ResourceState;
}

impl Recorded for &ResourceState {
    fn recorded(&self) -> &ResourceState {
        self
    }
}

impl Recorded for (usize, Arc<ResourceState>) {
    fn recorded(&self) -> &ResourceState {
        &self.1
    }
}

/// The calls a refresh makes: one resource each, or — for a type whose
/// provider reads in batches — up to [`READ_BATCH`] resources of the type
/// managed by the same provider instance (`true`).
pub(crate) fn read_units<T: Recorded>(
    resources: impl Iterator<Item = T>,
    providers: &Providers,
) -> Vec<(Vec<T>, bool)> {
    let mut units: Vec<(Vec<T>, bool)> = Vec::new();
    // The unit each batched type of each provider instance is filling.
    let mut open: HashMap<(String, Option<String>), usize> = HashMap::new();
    for item in resources {
        let r = item.recorded();
        let batched = providers
            .for_instance(
                &r.name,
                &r.type_name,
                r.provider.as_deref(),
                r.location.as_ref(),
            )
            .is_ok_and(|p| p.reads_in_batches(&r.type_name));
        if !batched {
            units.push((vec![item], false));
            continue;
        }
        let key = (r.type_name.clone(), r.provider.clone());
        match open.get(&key) {
            Some(&i) if units[i].0.len() < READ_BATCH => units[i].0.push(item),
            _ => {
                open.insert(key, units.len());
                units.push((vec![item], true));
            }
        }
    }
    units
}

/// Reads the resources of one unit back: one `read`, or one `read_many`;
/// an answer (or an error message) per resource, in order.
pub(crate) async fn read_unit(
    stack: &str,
    unit: &[&ResourceState],
    batched: bool,
    providers: &Providers,
    retry: &RetryPolicy,
) -> Vec<Result<Option<Observed>, String>> {
    let Some(first) = unit.first() else {
        return Vec::new();
    };
    let provider = match providers.for_instance(
        &first.name,
        &first.type_name,
        first.provider.as_deref(),
        first.location.as_ref(),
    ) {
        Ok(p) => p,
        Err(e) => return vec![Err(e.to_string()); unit.len()],
    };
    // Built for each attempt (a retry is rare): no copy kept aside.
    let request = |r: &ResourceState| ReadRequest {
        name: r.name.clone(),
        stack: stack.to_owned(),
        type_name: r.type_name.clone(),
        id: Some(r.id.clone()),
        token: None,
        inputs: r.inputs.clone(),
    };
    let answers = if batched {
        retry
            .run(0, || {
                provider.read_many(unit.iter().map(|r| request(r)).collect())
            })
            .await
    } else {
        retry
            .run(0, || provider.read(request(first)))
            .await
            .map(|found| vec![found])
    };
    match answers {
        Ok(found) if found.len() == unit.len() => found.into_iter().map(Ok).collect(),
        Ok(found) => unit
            .iter()
            .map(|r| {
                Err(format!(
                    "cannot read {}: {} answers for {} objects",
                    r.id,
                    found.len(),
                    unit.len()
                ))
            })
            .collect(),
        Err(e) => unit
            .iter()
            .map(|r| Err(format!("cannot read {}: {e}", r.id)))
            .collect(),
    }
}
