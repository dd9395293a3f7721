//! Finding every value of a record or a state, and sealing or opening the
//! secrets inside.

use super::{Cipher, OpenError, SEALED_KEY};
use crate::state::{Entry, Outcome, Record, ResourceState, State};
use crate::value::Value;

/// Whether `value` is a sealed secret (one the key has not opened).
pub fn is_sealed(value: &Value) -> bool {
    sealed_text(value).is_some()
}

/// The sealed text of a sealed secret.
pub(crate) fn sealed_text(value: &Value) -> Option<&str> {
    match value {
        Value::Secret(inner) => sealed_content(inner),
        _ => None,
    }
}

/// The sealed text, if a secret's content is the sealed marker.
fn sealed_content(inner: &Value) -> Option<&str> {
    match inner {
        Value::Map(m) if m.len() == 1 => m.get(SEALED_KEY).and_then(Value::as_str),
        _ => None,
    }
}

/// Whether a secret in plain text appears anywhere in the state.
pub fn holds_plaintext_secrets(state: &State) -> bool {
    let mut found = false;
    visit_state(state, &mut |v| found = found || has_plaintext(v));
    found
}

/// Whether a sealed secret (not opened: no key was given) appears anywhere
/// in the state.
pub fn holds_sealed_secrets(state: &State) -> bool {
    let mut found = false;
    visit_state(state, &mut |v| found = found || has_sealed(v));
    found
}

pub(crate) fn has_plaintext(v: &Value) -> bool {
    match v {
        Value::Secret(_) => !is_sealed(v),
        Value::List(items) => items.iter().any(has_plaintext),
        Value::Map(m) => m.values().any(has_plaintext),
        _ => false,
    }
}

pub(crate) fn has_sealed(v: &Value) -> bool {
    match v {
        Value::Secret(_) => is_sealed(v),
        Value::List(items) => items.iter().any(has_sealed),
        Value::Map(m) => m.values().any(has_sealed),
        _ => false,
    }
}

/// Seals every secret in plain text inside `v`.
pub(crate) fn seal(v: &mut Value, cipher: &Cipher) {
    match v {
        // A sealed secret (one this run could not open) stays as it is.
        Value::Secret(inner) if sealed_content(inner).is_none() => {
            **inner = cipher.seal_value(inner);
        }
        Value::List(items) => items.iter_mut().for_each(|v| seal(v, cipher)),
        Value::Map(m) => m.values_mut().for_each(|v| seal(v, cipher)),
        _ => {}
    }
}

/// Opens every sealed secret inside `v`.
pub(crate) fn open(v: &mut Value, cipher: &Cipher) -> Result<(), OpenError> {
    match v {
        Value::Secret(_) => {
            if let Some(text) = sealed_text(v) {
                let opened = cipher.open_value(text)?;
                *v = Value::Secret(Box::new(opened));
            }
        }
        Value::List(items) => {
            for item in items {
                open(item, cipher)?;
            }
        }
        Value::Map(m) => {
            for item in m.values_mut() {
                open(item, cipher)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn visit_resource<'a>(r: &'a ResourceState, f: &mut impl FnMut(&'a Value)) {
    f(&r.inputs);
    f(&r.outputs);
}

pub(crate) fn visit_resource_mut<E>(
    r: &mut ResourceState,
    f: &mut impl FnMut(&mut Value) -> Result<(), E>,
) -> Result<(), E> {
    f(&mut r.inputs)?;
    f(&mut r.outputs)
}

/// Calls `f` for every value of a state.
pub(crate) fn visit_state<'a>(state: &'a State, f: &mut impl FnMut(&'a Value)) {
    for r in state.resources.values() {
        visit_resource(r, f);
    }
    for r in &state.deposed {
        visit_resource(r, f);
    }
    for intent in state.pending.values() {
        visit_resource(&intent.resource, f);
    }
    state.outputs.values().for_each(&mut *f);
    for r in state.reads.values() {
        f(&r.query);
        f(&r.answer);
    }
}

/// Calls `f` for every value of a state, to change it.
pub(crate) fn visit_state_mut<E>(
    state: &mut State,
    f: &mut impl FnMut(&mut Value) -> Result<(), E>,
) -> Result<(), E> {
    for r in state.resources.values_mut() {
        // Unshared when the state was just read; shared with a plan, copied.
        visit_resource_mut(std::sync::Arc::make_mut(r), f)?;
    }
    for r in &mut state.deposed {
        visit_resource_mut(r, f)?;
    }
    for intent in state.pending.values_mut() {
        visit_resource_mut(&mut intent.resource, f)?;
    }
    for v in state.outputs.values_mut() {
        f(v)?;
    }
    for r in state.reads.values_mut() {
        f(&mut r.query)?;
        f(&mut r.answer)?;
    }
    Ok(())
}

/// Calls `f` for every value of a record.
pub(crate) fn visit_record<'a>(record: &'a Record, f: &mut impl FnMut(&'a Value)) {
    match &record.entry {
        Entry::Intent(intent) => visit_resource(&intent.resource, f),
        Entry::Put { resource } => visit_resource(resource, f),
        Entry::Done { outcome, .. } => match outcome {
            Outcome::Created {
                outputs, inputs, ..
            } => {
                f(outputs);
                if let Some(inputs) = inputs {
                    f(inputs);
                }
            }
            Outcome::Updated { outputs } => f(outputs),
            Outcome::Deleted => {}
        },
        Entry::Outputs { outputs } => outputs.values().for_each(f),
        Entry::Reads { reads } => {
            for r in reads.values() {
                f(&r.query);
                f(&r.answer);
            }
        }
        Entry::Init { .. }
        | Entry::Encryption { .. }
        | Entry::Failed { .. }
        | Entry::Remove { .. }
        | Entry::RemoveDeposed { .. }
        | Entry::Rename { .. }
        | Entry::Handover { .. }
        | Entry::Timings { .. }
        | Entry::Restore { .. } => {}
    }
}

/// Calls `f` for every value of a record, to change it.
pub(crate) fn visit_record_mut<E>(
    record: &mut Record,
    f: &mut impl FnMut(&mut Value) -> Result<(), E>,
) -> Result<(), E> {
    match &mut record.entry {
        Entry::Intent(intent) => visit_resource_mut(&mut intent.resource, f),
        Entry::Put { resource } => visit_resource_mut(resource, f),
        Entry::Done { outcome, .. } => match outcome {
            Outcome::Created {
                outputs, inputs, ..
            } => {
                f(outputs)?;
                match inputs {
                    Some(inputs) => f(inputs),
                    None => Ok(()),
                }
            }
            Outcome::Updated { outputs } => f(outputs),
            Outcome::Deleted => Ok(()),
        },
        Entry::Outputs { outputs } => outputs.values_mut().try_for_each(f),
        Entry::Reads { reads } => reads.values_mut().try_for_each(|r| {
            f(&mut r.query)?;
            f(&mut r.answer)
        }),
        Entry::Init { .. }
        | Entry::Encryption { .. }
        | Entry::Failed { .. }
        | Entry::Remove { .. }
        | Entry::RemoveDeposed { .. }
        | Entry::Rename { .. }
        | Entry::Handover { .. }
        | Entry::Timings { .. }
        | Entry::Restore { .. } => Ok(()),
    }
}
