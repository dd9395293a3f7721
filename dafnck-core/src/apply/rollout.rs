//! A replacement rolled out by a deployment policy: the new object is
//! created beside the old one, the policy moves traffic, and the old object
//! is deleted by the replacement's second step — or, on rollback, the new
//! object is deleted here and the old one restored. See [`crate::deploy`].

use std::collections::HashMap;

use crate::deploy::{DeployError, Deployment, Rollout};
use crate::plan::Change;
use crate::provider::{Provider, ProviderError, Providers, RetryPolicy};
use crate::state::{Entry, Journal, OpKind, ResourceState, RolloutMark, State};
use crate::value::Value;

use super::step::{create, delete, desired_state, StepContext};

/// Creates the new object, runs the rollout and returns the new object's
/// outputs when promoted; an error (the old object current again) when
/// rolled back.
pub(super) async fn deploy_replacement(
    ctx: &StepContext,
    provider: &dyn Provider,
    c: &Change,
    old: &ResourceState,
    inputs: Value,
) -> Result<Value, ProviderError> {
    let policy = ctx.deployments.get(c.name.as_str()).ok_or_else(|| {
        ProviderError::new(format!(
            "its deployment policy ({}) is not in this run: a change with a deployment is applied by `up`, which runs the program",
            c.flags.deploy.as_deref().unwrap_or("?")
        ))
    })?;
    let previous = ctx
        .rollouts
        .get(c.name.as_str())
        .cloned()
        .unwrap_or_default();
    // Marked active before the new object exists: a run that dies from here
    // on leaves a mark the next run resets from.
    mark(ctx, c, true, previous.clone()).await?;
    let (id, outputs) =
        match create(ctx, provider, c, inputs.clone(), OpKind::CreateReplacement).await {
            Ok(created) => created,
            Err(e) => {
                mark(ctx, c, false, previous).await?;
                return Err(e);
            }
        };
    let mut rollout = Rollout::new(
        &c.name,
        old.outputs.clone(),
        outputs.clone(),
        previous,
        Some(ctx.journal.clone()),
    );
    if let Some(store) = &ctx.controls {
        rollout = rollout.with_controls(store.clone(), &ctx.stack);
    }
    let log = rollout.log();
    tracing::info!(resource = %c.name, policy = c.flags.deploy.as_deref().unwrap_or(""), "rolling out");
    match policy.policy().deploy(rollout).await {
        Ok(()) => {
            mark(ctx, c, false, log.last()).await?;
            Ok(outputs)
        }
        Err(DeployError::RolledBack(why)) => {
            let new = desired_state(c, inputs, id, outputs);
            delete(ctx, provider, &c.name, c.flags.timeouts.delete, &new, OpKind::Delete)
                .await
                .map_err(|e| {
                    ProviderError::new(format!(
                        "rolled back ({why}), but deleting the new object failed: {}; the next run finishes the rollback",
                        e.message
                    ))
                })?;
            write(ctx, Entry::Restore { id: old.id.clone() }).await?;
            mark(ctx, c, false, log.last()).await?;
            Err(ProviderError::new(format!("rolled back: {why}")))
        }
        Err(DeployError::Stuck(why)) => Err(ProviderError::new(format!(
            "the rollout is stuck: {why}; both objects are kept, and the next run resets traffic to the old one"
        ))),
    }
}

/// Resets every rollout a dead run left active: traffic back to the old
/// object (through the policy), the new object deleted, the old one
/// current again. A failure names the resource.
pub(crate) async fn reset_interrupted(
    stack: &str,
    state: &State,
    deployments: &HashMap<String, Deployment>,
    providers: &Providers,
    journal: &Journal,
    retry: RetryPolicy,
) -> Result<(), (String, String)> {
    let ctx = StepContext {
        stack: stack.to_string(),
        providers: providers.clone(),
        journal: journal.clone(),
        retry,
        run_id: crate::state::new_id(),
        deployments: HashMap::new(),
        rollouts: HashMap::new(),
        controls: None,
    };
    for (name, mark) in state.rollouts.iter().filter(|(_, m)| m.active) {
        let fail = |message: String| (name.clone(), message);
        let policy = deployments.get(name).ok_or_else(|| {
            fail("the program no longer declares it with a deployment policy, so its traffic cannot be reset; declare it as it was, run `up`, then change it".into())
        })?;
        let current = state.resources.get(name);
        let old = state.deposed.iter().rev().find(|d| &d.name == name);
        tracing::warn!(resource = %name, "resetting a rollout an earlier run left under way");
        let Some(old) = old else {
            // The new object was never created: traffic is on the current.
            if let Some(current) = current {
                let rollout = Rollout::new(
                    name,
                    current.outputs.clone(),
                    Value::Null,
                    mark.record.clone(),
                    None,
                );
                policy.policy().reset(rollout).await.map_err(fail)?;
            }
            mark_as(&ctx, name, false, mark.record.clone())
                .await
                .map_err(|e| fail(e.message))?;
            continue;
        };
        let new_outputs = current.map_or(Value::Null, |c| c.outputs.clone());
        let rollout = Rollout::new(
            name,
            old.outputs.clone(),
            new_outputs,
            mark.record.clone(),
            None,
        );
        policy.policy().reset(rollout).await.map_err(fail)?;
        if let Some(new) = current.filter(|c| c.id != old.id) {
            let provider = providers
                .for_type(name, &new.type_name, None)
                .map_err(|e| fail(e.to_string()))?
                .clone();
            delete(&ctx, &*provider, name, None, new, OpKind::Delete)
                .await
                .map_err(|e| {
                    fail(format!(
                        "deleting the new object {:?} failed: {}",
                        new.id, e.message
                    ))
                })?;
        }
        write(&ctx, Entry::Restore { id: old.id.clone() })
            .await
            .map_err(|e| fail(e.message))?;
        mark_as(&ctx, name, false, mark.record.clone())
            .await
            .map_err(|e| fail(e.message))?;
    }
    Ok(())
}

async fn mark(
    ctx: &StepContext,
    c: &Change,
    active: bool,
    record: serde_json::Value,
) -> Result<(), ProviderError> {
    mark_as(ctx, &c.name, active, record).await
}

async fn mark_as(
    ctx: &StepContext,
    name: &str,
    active: bool,
    record: serde_json::Value,
) -> Result<(), ProviderError> {
    write(
        ctx,
        Entry::Rollout {
            name: name.to_string(),
            mark: RolloutMark { active, record },
        },
    )
    .await
}

async fn write(ctx: &StepContext, entry: Entry) -> Result<(), ProviderError> {
    ctx.journal
        .write(entry)
        .await
        .map(|_| ())
        .map_err(|e| ProviderError::new(format!("cannot journal the rollout: {e}")))
}
