//! What each provider namespace adds to the generic write path of
//! [`crate::store`]: validation and defaults, what happens when an
//! operation succeeds, and computed fields on GET.

use crate::error::ArmError;
use crate::ops::OpKind;
use crate::store::{Resource, State};
use crate::types::TypeDef;
use crate::{compute, insights, network};
use serde_json::Value;

/// Validates and completes `body`, the stored form of a write of resource
/// `id` of `def` (`existing`: what was there; `parent`: a child's parent).
pub fn prepare(
    state: &mut State,
    def: &TypeDef,
    id: &str,
    body: &mut Value,
    existing: Option<&Value>,
    parent: Option<&Value>,
) -> Result<(), ArmError> {
    match def.namespace {
        "Microsoft.Network" => network::prepare(state, def, id, body, existing, parent),
        "Microsoft.Compute" => compute::prepare(state, def, id, body, existing),
        "Microsoft.Insights" => insights::prepare(state, id, body),
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
