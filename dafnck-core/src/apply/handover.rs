//! A replacement with a handover: the new object is created beside the old
//! one, the hook takes it into service, and the old object is deleted by
//! the replacement's second step — or, when the hook declines, the new
//! object is deleted here and the old one restored. See
//! [`crate::handover`].

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::handover::{HandoverContext, HandoverError, HandoverHook, HandoverIo};
use crate::plan::Change;
use crate::provider::{Provider, ProviderError, Providers, RetryPolicy};
use crate::state::{Entry, HandoverMark, Journal, OpKind, ResourceState, State, StateStore};
use crate::value::Value;

use super::step::{create, delete, desired_state, StepContext};

/// Creates the new object, runs the handover and returns the new object's
/// outputs when it took; an error (the old object current again) when the
/// hook declined.
pub(super) async fn replace_and_hand_over(
    ctx: &StepContext,
    provider: &dyn Provider,
    c: &Change,
    old: &ResourceState,
    inputs: Value,
) -> Result<Value, ProviderError> {
    let hook = ctx.handovers.get(c.name.as_str()).ok_or_else(|| {
        ProviderError::new(format!(
            "its handover ({}) is not in this run: a change with a handover is applied by `up`, which runs the program",
            c.flags.handover.as_deref().unwrap_or("?")
        ))
    })?;
    let previous = ctx
        .records
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
    let io = Arc::new(RunIo {
        name: c.name.to_string(),
        stack: ctx.stack.clone(),
        journal: ctx.journal.clone(),
        channel: ctx.channel.clone(),
        since: crate::state::now_millis(),
        last: std::sync::Mutex::new(previous.clone()),
    });
    let context = HandoverContext::new(&c.name, old.outputs.clone(), outputs.clone(), previous)
        .with_io(io.clone());
    tracing::info!(resource = %c.name, hook = c.flags.handover.as_deref().unwrap_or(""), "handing over");
    match hook.hook().hand_over(context).await {
        Ok(()) => {
            mark(ctx, c, false, io.last()).await?;
            Ok(outputs)
        }
        Err(HandoverError::Declined(why)) => {
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
            mark(ctx, c, false, io.last()).await?;
            Err(ProviderError::new(format!("rolled back: {why}")))
        }
        Err(HandoverError::Stuck(why)) => Err(ProviderError::new(format!(
            "the handover is stuck: {why}; both objects are kept, and the next run resets it to the old one"
        ))),
    }
}

/// Resets every handover a dead run left active: the old object back in
/// service (through the hook), the new object deleted, the old one current
/// again. A failure names the resource.
pub(crate) async fn reset_interrupted(
    stack: &str,
    state: &State,
    handovers: &HashMap<String, HandoverHook>,
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
        handovers: HashMap::new(),
        records: HashMap::new(),
        channel: None,
        guard: None,
    };
    for (name, mark) in state.handovers.iter().filter(|(_, m)| m.active) {
        let fail = |message: String| (name.clone(), message);
        let hook = handovers.get(name).ok_or_else(|| {
            fail("the program no longer declares it with the handover it had (its deployment policy, say), so it cannot be reset; declare it as it was, run `up`, then change it".into())
        })?;
        let current = state.resources.get(name);
        let old = state.deposed.iter().rev().find(|d| &d.name == name);
        tracing::warn!(resource = %name, "resetting a handover an earlier run left under way");
        let Some(old) = old else {
            // The new object was never created: the current one serves.
            if let Some(current) = current {
                let context = HandoverContext::new(
                    name,
                    current.outputs.clone(),
                    Value::Null,
                    mark.record.clone(),
                );
                hook.hook().reset(context).await.map_err(fail)?;
            }
            mark_as(&ctx, name, false, mark.record.clone())
                .await
                .map_err(|e| fail(e.message))?;
            continue;
        };
        let new_outputs = current.map_or(Value::Null, |c| c.outputs.clone());
        let context =
            HandoverContext::new(name, old.outputs.clone(), new_outputs, mark.record.clone());
        hook.hook().reset(context).await.map_err(fail)?;
        if let Some(new) = current.filter(|c| c.id != old.id) {
            let provider = providers
                .for_instance(name, &new.type_name, new.provider.as_deref(), None)
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
        Entry::Handover {
            name: name.to_string(),
            mark: HandoverMark { active, record },
        },
    )
    .await
}

async fn write(ctx: &StepContext, entry: Entry) -> Result<(), ProviderError> {
    ctx.journal
        .write(entry)
        .await
        .map(|_| ())
        .map_err(|e| ProviderError::new(format!("cannot journal the handover: {e}")))
}

/// A handover's records go to the run's journal; its messages come from
/// the store's control channel, if it has one.
struct RunIo {
    name: String,
    stack: String,
    journal: Journal,
    channel: Option<Arc<dyn StateStore>>,
    /// Messages sent before the handover started are stale.
    since: u64,
    /// The last record written (the final mark keeps it).
    last: std::sync::Mutex<serde_json::Value>,
}

impl RunIo {
    fn last(&self) -> serde_json::Value {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait]
impl HandoverIo for RunIo {
    async fn record(&self, record: serde_json::Value) -> Result<(), String> {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = record.clone();
        self.journal
            .write(Entry::Handover {
                name: self.name.clone(),
                mark: HandoverMark {
                    active: true,
                    record,
                },
            })
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn take_messages(&self) -> Result<Vec<serde_json::Value>, String> {
        let Some(channel) = self.channel.as_ref().and_then(|s| s.channel()) else {
            return Ok(Vec::new());
        };
        let taken = channel
            .take(&self.stack, &self.name)
            .await
            .map_err(|e| e.to_string())?;
        Ok(taken
            .into_iter()
            .filter(|m| m.at >= self.since)
            .map(|m| {
                tracing::info!(resource = %self.name, by = %m.by, message = %m.body, "message to a handover");
                m.body
            })
            .collect())
    }
}
