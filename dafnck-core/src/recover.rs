//! Pending operations: intents with no result, left by a run that crashed
//! (or by a provider call that panicked or timed out). Each is resolved by
//! reading the object back — by id, or by the idempotency token the create
//! carried — and recording what exists, so nothing created is lost track of.

use crate::error::{Diagnostic, Error};
use crate::provider::{Observed, ProviderError, Providers, ReadRequest, RetryPolicy};
use crate::state::{Entry, Intent, OpKind, Outcome, ResourceState, State};

pub use crate::report::Resolution;

/// Reads back the object of one pending intent and says what to record.
///
/// # Errors
/// The provider's error when the object cannot be read.
pub async fn resolve_one(
    stack: &str,
    op: u64,
    intent: &Intent,
    providers: &Providers,
    retry: &RetryPolicy,
) -> Result<Resolution, Error> {
    let r = &intent.resource;
    let provider = providers.for_instance(
        &r.name,
        &r.type_name,
        r.provider.as_deref(),
        r.location.as_ref(),
    )?;
    let by_token = matches!(intent.kind, OpKind::Create | OpKind::CreateReplacement);
    let req = ReadRequest {
        name: r.name.clone(),
        stack: stack.to_owned(),
        type_name: r.type_name.clone(),
        id: (!r.id.is_empty()).then(|| r.id.clone()),
        token: by_token.then(|| intent.token.clone()),
        inputs: r.inputs.clone(),
    };
    let found: Option<Observed> =
        retry
            .run(op, || provider.read(req.clone()))
            .await
            .map_err(|e: ProviderError| {
                Error::Read(vec![Diagnostic {
                    resource: Some(r.name.clone()),
                    location: r.location.clone(),
                    message: format!("cannot read back the interrupted {:?}: {e}", intent.kind),
                }])
            })?;
    let (outcome, entries) = settle(op, intent, found);
    tracing::info!(op, name = %r.name, kind = ?intent.kind, %outcome, "resolved a pending operation");
    Ok(Resolution {
        op,
        kind: intent.kind,
        name: r.name.clone(),
        outcome,
        entries,
    })
}

fn settle(op: u64, intent: &Intent, found: Option<Observed>) -> (String, Vec<Entry>) {
    let r = &intent.resource;
    let found = found.map(|mut o| {
        o.inputs = o.inputs.with_secrets_of(&r.inputs);
        o
    });
    let failed = |why: &str| Entry::Failed {
        op,
        error: format!("interrupted; {why}"),
    };
    let put = |o: &Observed| Entry::Put {
        resource: ResourceState {
            id: o.id.clone(),
            inputs: o.inputs.clone(),
            outputs: o.outputs.clone(),
            ..r.clone()
        },
    };
    match (intent.kind, found) {
        (OpKind::Create | OpKind::CreateReplacement | OpKind::Import, Some(o)) => (
            format!("created as {} (adopted)", o.id),
            vec![Entry::Done {
                op,
                outcome: Outcome::Created {
                    id: o.id,
                    outputs: o.outputs,
                    inputs: Some(o.inputs),
                },
            }],
        ),
        (OpKind::Create | OpKind::CreateReplacement | OpKind::Import, None) => {
            ("not created".into(), vec![failed("no object was created")])
        }
        (OpKind::Update, Some(o)) => (
            format!("{} recorded as read back", o.id),
            vec![failed("the object was read back"), put(&o)],
        ),
        (OpKind::Update, None) => (
            format!("{} is gone", r.id),
            vec![
                failed("the object is gone"),
                Entry::Remove {
                    name: r.name.clone(),
                },
            ],
        ),
        (OpKind::Delete | OpKind::DeleteDeposed, None) => (
            format!("{} deleted", r.id),
            vec![Entry::Done {
                op,
                outcome: Outcome::Deleted,
            }],
        ),
        (OpKind::Delete | OpKind::DeleteDeposed, Some(o)) => (
            format!("{} still exists", o.id),
            vec![failed("the object still exists")],
        ),
    }
}

/// Resolves every pending operation of `state`, reading back at most
/// `parallelism` objects at once. Returns them in `op` order.
///
/// # Errors
/// [`Error::Read`] naming every resource that could not be read back.
pub async fn resolve_pending(
    state: &State,
    providers: &Providers,
    retry: &RetryPolicy,
    parallelism: usize,
) -> Result<Vec<Resolution>, Error> {
    // Futures built first (see drift::refresh).
    let futures: Vec<_> = state
        .pending
        .iter()
        .map(|(op, intent)| resolve_one(&state.stack, *op, intent, providers, retry))
        .collect();
    let results: Vec<Result<Resolution, Error>> = crate::drift::bounded(futures, parallelism).await;
    let mut done = Vec::new();
    let mut problems = Vec::new();
    for r in results {
        match r {
            Ok(res) => done.push(res),
            Err(Error::Read(mut d)) => problems.append(&mut d),
            Err(e) => problems.push(Diagnostic {
                resource: None,
                location: None,
                message: e.to_string(),
            }),
        }
    }
    if problems.is_empty() {
        Ok(done)
    } else {
        Err(Error::Read(problems))
    }
}
