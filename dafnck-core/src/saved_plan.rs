//! Saved plans: a plan written to a file by `preview --out` and applied
//! exactly by `up --plan`, its secrets sealed with the stack's key. The
//! plan itself is pure data ([`crate::plan`]); the file format, its
//! versions and the sealing of its values are here.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::error::Error;
use crate::plan::Plan;
use crate::state::encryption::{
    self, open_value_in_place, seal_value_in_place, visit_resource_mut, Encryption,
};
use crate::state::envelope::{self, Unit};
use crate::state::StateError;
use crate::value::Value;

use crate::plan::PLAN_FORMAT;

/// The format of a plan saved with its secrets sealed.
const PLAN_FORMAT_SEALED: u32 = 2;

/// Writes `plan` to a file (pretty JSON after a header line with the state
/// format and a checksum, [`envelope`]), secrets included as they are in
/// the plan: in plain text unless it was sealed first. The command line saves
/// plans with [`Engine::save_plan`](crate::engine::Engine::save_plan),
/// which seals them.
///
/// # Errors
/// [`Error::PlanFile`] when the file cannot be written, or the plan holds a
/// value the program computes (a closure cannot be saved; see
/// [`crate::computed`]).
pub fn save(plan: &Plan, path: &Path) -> crate::Result<()> {
    if let Some((name, c)) = computed_value(plan) {
        return Err(plan_file(
            path,
            format!(
                "{name} holds a value computed by the program (declared at {}), which a saved \
                 plan cannot carry: apply with `up` instead of `preview --out` and `up --plan`",
                c.location()
            ),
        ));
    }
    let mut json = serde_json::to_vec_pretty(plan).map_err(|e| plan_file(path, e))?;
    json.push(b'\n');
    let bytes = envelope::encode(Unit::Plan, &json);
    std::fs::write(path, bytes).map_err(|e| plan_file(path, e))
}

/// Reads a plan written by [`save`] (its secrets still sealed, if they
/// were; [`Engine::load_plan`](crate::engine::Engine::load_plan) opens
/// them).
///
/// Files written before plans carried a checksum (format 1) are read too.
///
/// # Errors
/// [`Error::PlanFile`] when the file cannot be read or parsed, or was
/// written by an incompatible version (a newer state format too), or its
/// bytes do not match its checksum (damaged).
pub fn load(path: &Path) -> crate::Result<Plan> {
    let text = std::fs::read(path).map_err(|e| plan_file(path, e))?;
    let location = path.display().to_string();
    let plan: Plan = match envelope::decode_json(Unit::Plan, &text, &location, "the plan") {
        Ok(plan) => plan,
        Err(StateError::Corrupt { message, .. }) => return Err(plan_file(path, message)),
        Err(StateError::Damaged { message, .. }) => {
            return Err(plan_file(
                path,
                format!("the file is damaged: {message}; nothing was applied (make the plan again with `preview --out`)"),
            ))
        }
        Err(e @ StateError::NewerFormat { .. }) => return Err(plan_file(path, e)),
        Err(e) => return Err(e.into()),
    };
    if !(PLAN_FORMAT..=PLAN_FORMAT_SEALED).contains(&plan.version) {
        return Err(plan_file(
            path,
            format!(
                "plan format {} is not supported (expected {PLAN_FORMAT} or {PLAN_FORMAT_SEALED})",
                plan.version
            ),
        ));
    }
    Ok(plan)
}

/// An error about the plan file at `path`.
pub(crate) fn plan_file(path: &Path, e: impl fmt::Display) -> Error {
    Error::PlanFile {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// The first resource (or export) whose planned inputs hold a computed
/// value, and that value.
fn computed_value(plan: &Plan) -> Option<(String, &crate::computed::Computed)> {
    let find = crate::computed::find;
    plan.changes
        .iter()
        .find_map(|c| {
            Some((
                format!("resource {:?}", c.name.as_str()),
                find(c.inputs.as_deref()?)?,
            ))
        })
        .or_else(|| {
            plan.exports
                .iter()
                .find_map(|(k, v)| Some((format!("export {k:?}"), find(v)?)))
        })
}

/// Whether a plan's inputs, recorded objects, exports or data-source
/// answers hold a secret.
pub(crate) fn holds_secrets(plan: &Plan) -> bool {
    plan.changes.iter().any(|c| {
        c.after.as_ref().is_some_and(Value::contains_secret)
            || c.inputs.as_ref().is_some_and(|v| v.contains_secret())
            || c.before
                .as_ref()
                .is_some_and(|b| b.inputs.contains_secret() || b.outputs.contains_secret())
    }) || plan.exports.values().any(Value::contains_secret)
        || plan.reads.iter().any(|r| {
            r.record
                .as_ref()
                .is_some_and(|rec| rec.query.contains_secret() || rec.answer.contains_secret())
                || r.changed.iter().any(|c| {
                    c.before.as_ref().is_some_and(Value::contains_secret)
                        || c.after.as_ref().is_some_and(Value::contains_secret)
                })
        })
}

/// A copy of `plan` with every secret sealed under `header`'s key, marked
/// as the sealed format.
pub(crate) fn sealed(plan: &Plan, header: Encryption, cipher: &encryption::Cipher) -> Plan {
    let mut sealed = plan.clone();
    let _ = visit_mut(&mut sealed, &mut |v| {
        seal_value_in_place(v, cipher);
        Ok::<(), std::convert::Infallible>(())
    });
    sealed.encryption = Some(header);
    sealed.version = PLAN_FORMAT_SEALED;
    sealed
}

/// Opens every sealed secret of a plan loaded from `path`.
///
/// # Errors
/// [`Error::PlanFile`] when a sealed value does not open.
pub(crate) fn open(plan: &mut Plan, cipher: &encryption::Cipher, path: &Path) -> crate::Result<()> {
    visit_mut(plan, &mut |v| open_value_in_place(v, cipher)).map_err(|e| plan_file(path, e))?;
    plan.encryption = None;
    plan.version = PLAN_FORMAT;
    Ok(())
}

/// Calls `f` for every value of a plan, to change it.
fn visit_mut<E>(plan: &mut Plan, f: &mut impl FnMut(&mut Value) -> Result<(), E>) -> Result<(), E> {
    for c in &mut plan.changes {
        if let Some(before) = &mut c.before {
            // Shared with the state in memory: changed here, copied first.
            visit_resource_mut(Arc::make_mut(before), f)?;
        }
        if let Some(after) = &mut c.after {
            f(after)?;
        }
        if let Some(inputs) = &mut c.inputs {
            // Shared with the program in memory; a plan being saved or
            // loaded gets its own copy.
            f(Arc::make_mut(inputs))?;
        }
    }
    for v in plan.exports.values_mut() {
        f(v)?;
    }
    for read in &mut plan.reads {
        if let Some(rec) = &mut read.record {
            f(&mut rec.query)?;
            f(&mut rec.answer)?;
        }
        for c in &mut read.changed {
            for v in [&mut c.before, &mut c.after].into_iter().flatten() {
                f(v)?;
            }
        }
    }
    Ok(())
}
