//! What each provider namespace adds to the generic write path of
//! [`crate::store`]: validation and defaults, what happens when an
//! operation succeeds, and computed fields on GET.

use crate::error::ArmError;
use crate::ops::OpKind;
use crate::store::{Resource, State};
use crate::types::TypeDef;
use crate::{compute, insights, network};
use serde_json::Value;

/// What a write is of: the context [`prepare`] validates a body in.
#[derive(Debug, Clone, Copy)]
pub struct Write<'a> {
    /// The type written.
    pub def: &'static TypeDef,
    /// The resource's id.
    pub id: &'a str,
    /// What was there.
    pub existing: Option<&'a Value>,
    /// A child's parent (its new body when written with it).
    pub parent: Option<&'a Value>,
}

/// Validates and completes `body`, the stored form of write `w`.
pub fn prepare(state: &mut State, w: &Write<'_>, body: &mut Value) -> Result<(), ArmError> {
    match w.def.namespace {
        "Microsoft.Network" => network::prepare(state, w, body),
        "Microsoft.Compute" => compute::prepare(state, w, body),
        "Microsoft.Insights" => insights::prepare(state, w.id, body),
        _ => Ok(()),
    }
}

/// After an operation of `kind` on the resource at key `k` succeeded.
pub fn completed(state: &mut State, k: &str, kind: OpKind) {
    let Some(ns) = state.resources.get(k).map(|r| r.def.namespace) else {
        return;
    };
    match ns {
        "Microsoft.Network" => network::completed(state, k),
        "Microsoft.Compute" => compute::completed(state, k, kind),
        "Microsoft.Insights" => insights::completed(state, k),
        _ => {}
    }
}

/// Adds computed fields to `v`, what GET shows of `r`, and hides secrets.
pub fn render(state: &State, r: &Resource, v: &mut Value) {
    match r.def.namespace {
        "Microsoft.Network" => network::render(state, r, v),
        "Microsoft.Compute" => compute::render(state, r, v),
        _ => {}
    }
}
