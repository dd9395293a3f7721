//! Running one step: resolve its inputs, journal the intent, call the
//! provider (with retries, a time limit, and panics contained), journal the
//! result.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;

use crate::plan::{Change, ReplaceOrder};
use crate::provider::{
    CreateRequest, DeleteRequest, DiffRequest, Provider, ProviderError, Providers, ReadRequest,
    RetryPolicy, UpdateRequest,
};
use crate::recover;
use crate::state::{Entry, Intent, Journal, OpKind, Outcome, ResourceState, State};
use crate::value::{OutputRef, Value};

use super::outputs::LiveOutputs;
use super::steps::{reads_inputs, Step};
use crate::report::StepKind;

/// What every step task shares.
pub(crate) struct StepContext {
    pub stack: String,
    pub providers: Providers,
    pub journal: Journal,
    pub retry: RetryPolicy,
    pub run_id: String,
    /// Handover hooks of the program's resources, by name.
    pub handovers: std::collections::HashMap<String, crate::handover::HandoverHook>,
    /// Each resource's last handover record, as the state had it.
    pub records: std::collections::HashMap<String, serde_json::Value>,
    /// Where handovers take messages from other processes.
    pub channel: Option<Arc<dyn crate::state::StateStore>>,
    /// Policy checks of resolved inputs before a create, update or import.
    pub guard: Option<Arc<crate::policy::PolicyGuard>>,
}

/// A step ready to run: its inputs resolved.
pub(crate) struct Prepared {
    kind: StepKind,
    first: bool,
    /// What the step needs of its change (not what the plan shows).
    change: Change,
    resolved: Option<Value>,
}

/// What a step task returns: new outputs of its resource, if any.
pub(crate) struct StepOutput {
    pub result: Result<Option<Value>, ProviderError>,
    pub elapsed: Duration,
}

/// Resolves the step's inputs from the outputs known now. A re-checked
/// no-op carries no recorded object (the planner copies none); it is read
/// from `state`, the state the plan was made against.
pub(crate) fn prepare(
    step: &Step,
    change: &Change,
    live: &LiveOutputs<'_>,
    state: &State,
) -> Result<Prepared, String> {
    let resolved = match (&change.inputs, reads_inputs(step.kind)) {
        (Some(inputs), true) => Some(inputs.resolve_refs(&mut |r: &OutputRef| {
            live.get(&r.resource)
                .and_then(|o| o.get(&r.field))
                .cloned()
                .ok_or_else(|| {
                    format!(
                        "input refers to output {:?} of {:?}, which that resource did not report",
                        r.field, r.resource
                    )
                })
        })?),
        _ => None,
    };
    let before = match (&change.before, step.kind) {
        (Some(b), _) => Some(Arc::clone(b)),
        (None, StepKind::Recheck) => state
            .resources
            .get(change.renamed_from.as_deref().unwrap_or(&change.name))
            .cloned(),
        (None, _) => None,
    };
    Ok(Prepared {
        kind: step.kind,
        first: step.first,
        change: for_step(change, before),
        resolved,
    })
}

/// The parts of a change a step uses: not what the plan only shows (the
/// inputs as planned, changed fields), so starting a step copies little.
fn for_step(c: &Change, before: Option<Arc<ResourceState>>) -> Change {
    Change {
        name: c.name.clone(),
        type_name: c.type_name.clone(),
        action: c.action,
        before,
        after: None,
        inputs: None,
        fields: Vec::new(),
        replace_because: Vec::new(),
        replace_order: c.replace_order,
        dependencies: c.dependencies.clone(),
        flags: c.flags.clone(),
        import_id: c.import_id.clone(),
        renamed_from: c.renamed_from.clone(),
        deposed: c.deposed,
        recheck: c.recheck,
        location: c.location.clone(),
    }
}

/// Runs a prepared step to its end.
pub(crate) async fn run(ctx: Arc<StepContext>, p: Prepared) -> StepOutput {
    let result = run_inner(&ctx, p).await;
    StepOutput {
        result,
        elapsed: Duration::ZERO,
    }
}

async fn run_inner(ctx: &StepContext, p: Prepared) -> Result<Option<Value>, ProviderError> {
    let c = &p.change;
    if p.first {
        if let Some(from) = &c.renamed_from {
            ctx.journal.record(Entry::Rename {
                from: from.clone(),
                to: c.name.to_string(),
            });
        }
    }
    let before = c.before.as_deref();
    // A delete goes through the instance that made the object; everything
    // else through the one the program names now.
    let instance = match (p.kind, before) {
        (StepKind::Delete | StepKind::DeleteReplaced | StepKind::DeleteDeposed, Some(b)) => {
            b.provider.as_deref()
        }
        _ => c.flags.provider.as_deref(),
    };
    let provider = ctx
        .providers
        .for_instance(&c.name, &c.type_name, instance, c.location.as_deref())
        .map_err(|e| ProviderError::new(e.to_string()))?
        .clone();
    if let (Some(guard), Some(inputs)) = (&ctx.guard, &p.resolved) {
        if matches!(
            p.kind,
            StepKind::Create
                | StepKind::CreateReplacement
                | StepKind::Update
                | StepKind::Recheck
                | StepKind::Import
        ) {
            guard.check(&c.name, inputs).map_err(ProviderError::new)?;
        }
    }
    match p.kind {
        StepKind::Record => {
            let b = before.ok_or_else(|| ProviderError::new("nothing recorded to update"))?;
            ctx.journal.record(Entry::Put {
                resource: desired_state(c, b.inputs.clone(), b.id.clone(), b.outputs.clone()),
            });
            Ok(Some(b.outputs.clone()))
        }
        StepKind::Forget => {
            ctx.journal.record(Entry::Remove {
                name: c.name.to_string(),
            });
            Ok(None)
        }
        StepKind::Create | StepKind::CreateReplacement => {
            let inputs = p.resolved.unwrap_or(Value::Null);
            let kind = if p.kind == StepKind::Create
                || c.replace_order == ReplaceOrder::DeleteBeforeCreate
            {
                OpKind::Create
            } else {
                OpKind::CreateReplacement
            };
            if p.kind == StepKind::CreateReplacement
                && kind == OpKind::CreateReplacement
                && c.flags.handover.is_some()
            {
                let before =
                    before.ok_or_else(|| ProviderError::new("nothing recorded to replace"))?;
                return super::handover::replace_and_hand_over(ctx, &*provider, c, before, inputs)
                    .await
                    .map(Some);
            }
            let (_, outputs) = create(ctx, &*provider, c, inputs, kind).await?;
            Ok(Some(outputs))
        }
        StepKind::Update | StepKind::Recheck => {
            let b = before.ok_or_else(|| ProviderError::new("nothing recorded to update"))?;
            let inputs = p.resolved.unwrap_or(Value::Null);
            update(ctx, &*provider, c, b, inputs).await.map(Some)
        }
        StepKind::Import => {
            let inputs = p.resolved.unwrap_or(Value::Null);
            import(ctx, &*provider, c, inputs).await.map(Some)
        }
        StepKind::Delete | StepKind::DeleteReplaced | StepKind::DeleteDeposed => {
            let b = before.ok_or_else(|| ProviderError::new("nothing recorded to delete"))?;
            let deposed = p.kind == StepKind::DeleteDeposed
                || (p.kind == StepKind::DeleteReplaced
                    && c.replace_order == ReplaceOrder::CreateBeforeDelete);
            if c.flags.retain_on_delete {
                ctx.journal.record(if deposed {
                    Entry::RemoveDeposed { id: b.id.clone() }
                } else {
                    Entry::Remove {
                        name: c.name.to_string(),
                    }
                });
                return Ok(None);
            }
            let kind = if deposed {
                OpKind::DeleteDeposed
            } else {
                OpKind::Delete
            };
            delete(ctx, &*provider, &c.name, c.flags.timeouts.delete, b, kind).await?;
            Ok(None)
        }
    }
}

/// The object as the state will record it once the step succeeds.
pub(super) fn desired_state(
    c: &Change,
    inputs: Value,
    id: String,
    outputs: Value,
) -> ResourceState {
    ResourceState {
        name: c.name.to_string(),
        type_name: c.type_name.to_string(),
        id,
        inputs,
        outputs,
        dependencies: c.dependencies.iter().map(|d| d.to_string()).collect(),
        protect: c.flags.protect,
        retain_on_delete: c.flags.retain_on_delete,
        location: c.location.as_deref().cloned(),
        provider: c.flags.provider.clone(),
    }
}

/// How a provider call can end besides success.
enum CallError {
    /// The provider said no: nothing changed.
    Failed(ProviderError),
    /// We do not know what happened (panic, time limit): read it back.
    Unknown(String),
}

async fn call<T, F, Fut>(
    retry: &RetryPolicy,
    seed: u64,
    limit: Option<Duration>,
    f: F,
) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    tracing::debug!(op = seed, "provider call started");
    let attempt = AssertUnwindSafe(retry.run(seed, f)).catch_unwind();
    let outcome = match limit {
        Some(limit) => match tokio::time::timeout(limit, attempt).await {
            Ok(r) => r,
            Err(_) => return Err(CallError::Unknown(format!("timed out after {limit:?}"))),
        },
        None => attempt.await,
    };
    match outcome {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(CallError::Failed(e)),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(CallError::Unknown(format!("the provider panicked: {msg}")))
        }
    }
}

async fn intent(
    ctx: &StepContext,
    kind: OpKind,
    resource: ResourceState,
    token: String,
) -> Result<(u64, Intent), ProviderError> {
    let intent = Intent {
        kind,
        resource,
        token,
    };
    let durable = ctx.journal.send(Entry::Intent(intent.clone()));
    super::turns::sent();
    let op = match durable {
        Ok(durable) => durable.await,
        Err(e) => Err(e),
    }
    .map_err(|e| ProviderError::new(format!("cannot journal the intent: {e}")))?;
    // Durable now: wait for a call slot (a step may journal ahead of one).
    super::turns::take().await;
    Ok((op, intent))
}

/// Settles an intent after a call that failed or whose outcome is unknown.
async fn settle(ctx: &StepContext, op: u64, intent: &Intent, err: CallError) -> ProviderError {
    match err {
        CallError::Failed(e) => {
            ctx.journal.record(Entry::Failed {
                op,
                error: e.message.clone(),
            });
            e
        }
        CallError::Unknown(why) => {
            match recover::resolve_one(&ctx.stack, op, intent, &ctx.providers, &ctx.retry).await {
                Ok(res) => {
                    for e in res.entries {
                        ctx.journal.record(e);
                    }
                    ProviderError::new(format!("{why}; read back: {}", res.outcome))
                }
                Err(e) => ProviderError::new(format!(
                    "{why}; reading it back failed too ({e}); the operation stays pending and the next run resolves it"
                )),
            }
        }
    }
}

/// Creates the object; its id and outputs.
pub(super) async fn create(
    ctx: &StepContext,
    provider: &dyn Provider,
    c: &Change,
    inputs: Value,
    kind: OpKind,
) -> Result<(String, Value), ProviderError> {
    let token = format!("{}-{}", ctx.run_id, c.name);
    let (op, intent) = intent(
        ctx,
        kind,
        desired_state(c, inputs.clone(), String::new(), Value::Null),
        token.clone(),
    )
    .await?;
    let req = CreateRequest {
        name: c.name.to_string(),
        stack: ctx.stack.clone(),
        type_name: c.type_name.to_string(),
        inputs,
        token,
    };
    match call(&ctx.retry, op, c.flags.timeouts.create, || {
        provider.create(req.clone())
    })
    .await
    {
        Ok(created) => {
            ctx.journal.record(Entry::Done {
                op,
                outcome: Outcome::Created {
                    id: created.id.clone(),
                    outputs: created.outputs.clone(),
                    inputs: None,
                },
            });
            Ok((created.id, created.outputs))
        }
        Err(e) => Err(settle(ctx, op, &intent, e).await),
    }
}

async fn update(
    ctx: &StepContext,
    provider: &dyn Provider,
    c: &Change,
    before: &ResourceState,
    inputs: Value,
) -> Result<Value, ProviderError> {
    // Outputs are known now: the diff may have narrowed since planning.
    let diff = provider.diff(&DiffRequest {
        name: &c.name,
        type_name: &c.type_name,
        old_inputs: &before.inputs,
        new_inputs: &inputs,
        force_new: &c.flags.force_new,
        ignore_changes: &c.flags.ignore_changes,
    });
    if !diff.replace_because.is_empty() {
        return Err(ProviderError::new(format!(
            "at apply time {} changed, which forces a replacement the plan did not show; preview again",
            diff.replace_because.join(", ")
        )));
    }
    if diff.is_empty() {
        // Nothing for the provider to do; record only options that changed.
        let recorded = desired_state(
            c,
            before.inputs.clone(),
            before.id.clone(),
            before.outputs.clone(),
        );
        if recorded != *before {
            ctx.journal.record(Entry::Put { resource: recorded });
        }
        return Ok(before.outputs.clone());
    }
    let (op, intent) = intent(
        ctx,
        OpKind::Update,
        desired_state(c, inputs.clone(), before.id.clone(), before.outputs.clone()),
        String::new(),
    )
    .await?;
    let req = UpdateRequest {
        name: c.name.to_string(),
        stack: ctx.stack.clone(),
        type_name: c.type_name.to_string(),
        id: before.id.clone(),
        old_inputs: before.inputs.clone(),
        new_inputs: inputs,
        old_outputs: before.outputs.clone(),
        changed: diff.changed,
    };
    match call(&ctx.retry, op, c.flags.timeouts.update, || {
        provider.update(req.clone())
    })
    .await
    {
        Ok(outputs) => {
            ctx.journal.record(Entry::Done {
                op,
                outcome: Outcome::Updated {
                    outputs: outputs.clone(),
                },
            });
            Ok(outputs)
        }
        Err(e) => Err(settle(ctx, op, &intent, e).await),
    }
}

async fn import(
    ctx: &StepContext,
    provider: &dyn Provider,
    c: &Change,
    inputs: Value,
) -> Result<Value, ProviderError> {
    let id = c.import_id.clone().unwrap_or_default();
    let (op, intent) = intent(
        ctx,
        OpKind::Import,
        desired_state(c, inputs.clone(), id.clone(), Value::Null),
        String::new(),
    )
    .await?;
    let req = ReadRequest {
        name: c.name.to_string(),
        stack: ctx.stack.clone(),
        type_name: c.type_name.to_string(),
        id: Some(id.clone()),
        token: None,
        inputs: inputs.clone(),
    };
    let found = match call(&ctx.retry, op, None, || provider.read(req.clone())).await {
        Ok(found) => found,
        Err(e) => return Err(settle(ctx, op, &intent, e).await),
    };
    let Some(mut observed) = found else {
        let e = ProviderError::new(format!(
            "there is no {} with id {id:?} to import",
            c.type_name
        ));
        return Err(settle(ctx, op, &intent, CallError::Failed(e)).await);
    };
    observed.inputs = observed.inputs.with_secrets_of(&inputs);
    let diff = provider.diff(&DiffRequest {
        name: &c.name,
        type_name: &c.type_name,
        old_inputs: &observed.inputs,
        new_inputs: &inputs,
        force_new: &c.flags.force_new,
        ignore_changes: &c.flags.ignore_changes,
    });
    if !diff.replace_because.is_empty() {
        // Adopting it would only plan its replacement next: refuse, as the
        // object is not what the program describes.
        let e = ProviderError::new(format!(
            "refusing to import {}: it differs from the program in {}, which would force a replacement; \
             change the program to match the object",
            observed.id,
            diff.replace_because.join(", ")
        ));
        return Err(settle(ctx, op, &intent, CallError::Failed(e)).await);
    }
    ctx.journal.record(Entry::Done {
        op,
        outcome: Outcome::Created {
            id: observed.id.clone(),
            outputs: observed.outputs.clone(),
            inputs: Some(observed.inputs.clone()),
        },
    });
    // Recorded as it is: an import changes nothing; a difference from the
    // program is what the next `up` updates.
    Ok(observed.outputs)
}

/// Deletes `before`, recorded under `name`, within `limit`.
pub(super) async fn delete(
    ctx: &StepContext,
    provider: &dyn Provider,
    name: &str,
    limit: Option<Duration>,
    before: &ResourceState,
    kind: OpKind,
) -> Result<(), ProviderError> {
    // After a rename (journaled by the change's first step) the object is
    // recorded under the change's name; the intent must name it so.
    let recorded = ResourceState {
        name: name.to_string(),
        ..before.clone()
    };
    let (op, intent) = intent(ctx, kind, recorded, String::new()).await?;
    let req = DeleteRequest {
        name: before.name.clone(),
        stack: ctx.stack.clone(),
        type_name: before.type_name.clone(),
        id: before.id.clone(),
        inputs: before.inputs.clone(),
        outputs: before.outputs.clone(),
    };
    match call(&ctx.retry, op, limit, || provider.delete(req.clone())).await {
        Ok(()) => {
            ctx.journal.record(Entry::Done {
                op,
                outcome: Outcome::Deleted,
            });
            Ok(())
        }
        Err(e) => Err(settle(ctx, op, &intent, e).await),
    }
}
