//! Applying a plan that was shown: what a preview showed
//! ([`Engine::up_previewed`]) or a saved plan ([`Engine::apply_plan`]),
//! exactly, or refused when the state moved since.

use std::collections::HashMap;

use super::handovers::handovers_of;
use super::{Engine, Preview};
use crate::apply::ApplyReport;
use crate::error::Error;
use crate::handover::HandoverHook;
use crate::plan::{Plan, StateBinding};
use crate::stack::Stack;
use crate::state::State;

impl Engine {
    /// Applies what `preview` showed (made by [`Engine::preview`] of the same
    /// `program`): exactly that plan, refused with [`Error::StalePlan`] if
    /// the state moved since. A refreshed preview's reads are recorded first
    /// (not read again), so the plan applies to the state it was made
    /// against. A preview that needs the state written first (pending
    /// operations to recover, an interrupted handover to reset), or whose
    /// changes are handed over (a hook runs with the program), is planned
    /// again under the lock instead, from the same program.
    ///
    /// # Errors
    /// As [`Engine::apply_plan`] and [`Engine::up`].
    pub async fn up_previewed<F>(&self, program: F, preview: &Preview) -> crate::Result<ApplyReport>
    where
        F: FnOnce(&mut Stack) -> crate::Result<()>,
    {
        if let Some(refusal) = preview.policy.as_ref().and_then(|p| p.refusal()) {
            return Err(refusal);
        }
        let refresh = preview.drift.is_some();
        let handed_over = preview
            .plan
            .changes
            .iter()
            .any(|c| c.flags.handover.is_some());
        if !preview.pending.is_empty() || !preview.interrupted.is_empty() || handed_over {
            self.up(program, refresh).await
        } else if refresh {
            self.guarded(preview.guard.clone())
                .apply_refreshed(preview)
                .await
        } else {
            self.guarded(preview.guard.clone())
                .apply_plan(&preview.plan)
                .await
        }
    }

    /// Under the lock: records what `preview`'s refresh read, then applies
    /// its plan; refused with [`Error::StalePlan`] if the state moved since
    /// the preview read it.
    async fn apply_refreshed(&self, preview: &Preview) -> crate::Result<ApplyReport> {
        let plan = &preview.plan;
        self.locked("up", |this| async move {
            let state = this.planned_against(plan).await?;
            let (journal, task) = this.journal(state);
            for e in &preview.refreshed {
                journal.record(e.clone());
            }
            drop(journal);
            let state = task.finish().await?;
            this.execute("up", plan, state, Vec::new(), HashMap::new())
                .await
        })
        .await
    }

    /// Applies a saved plan exactly, or refuses it if the state changed since
    /// it was made. A plan whose changes are handed over (deployment
    /// policies) needs the program's hooks: apply it with
    /// [`Engine::apply_plan_with`].
    ///
    /// # Errors
    /// [`Error::PlanStack`] for another stack's plan, [`Error::PlanHandover`]
    /// for a plan with handovers (nothing applied), [`Error::StalePlan`]
    /// when the state moved on (or holds pending operations), and the errors
    /// of [`Engine::up`].
    pub async fn apply_plan(&self, plan: &Plan) -> crate::Result<ApplyReport> {
        self.apply_with_hooks(plan, HashMap::new()).await
    }

    /// Applies a saved plan exactly, with the handovers (deployment
    /// policies) `program` declares: the plan keeps each handover's
    /// description, and each must still be the one the program declares for
    /// that resource (a policy removed, added or changed since the plan was
    /// made refuses the whole plan before anything is applied). The program
    /// is only run for its hooks: the plan is not made again.
    ///
    /// # Errors
    /// As [`Engine::apply_plan`]; [`Error::PlanHandover`] naming the first
    /// resource whose handover no longer matches; program errors.
    pub async fn apply_plan_with<F>(&self, plan: &Plan, program: F) -> crate::Result<ApplyReport>
    where
        F: FnOnce(&mut Stack) -> crate::Result<()>,
    {
        let desired = self.desired(program)?;
        self.apply_with_hooks(plan, handovers_of(&desired)).await
    }

    async fn apply_with_hooks(
        &self,
        plan: &Plan,
        handovers: HashMap<String, HandoverHook>,
    ) -> crate::Result<ApplyReport> {
        if plan.stack != self.stack {
            return Err(Error::PlanStack {
                plan: plan.stack.clone(),
                stack: self.stack.clone(),
            });
        }
        check_handovers(plan, &handovers)?;
        self.locked("up", |this| async move {
            let state = this.planned_against(plan).await?;
            this.execute("up", plan, state, Vec::new(), handovers).await
        })
        .await
    }

    /// Under the lock: the stored state, if it is the one `plan` was made
    /// against (same lineage, serial and hash, no pending operations) and
    /// the key its secrets need is given; else [`Error::StalePlan`].
    async fn planned_against(&self, plan: &Plan) -> crate::Result<State> {
        let state = self.state().await?;
        self.require_key("up", &state, crate::saved_plan::holds_secrets(plan))?;
        let found = StateBinding::of(&state);
        if found != plan.base || !state.pending.is_empty() {
            return Err(Error::StalePlan {
                expected: plan.base.to_string(),
                found: if state.pending.is_empty() {
                    found.to_string()
                } else {
                    format!("{found} with {} pending operation(s)", state.pending.len())
                },
            });
        }
        Ok(state)
    }
}

/// Refuses `plan` when a change's handover (as the plan describes it) is
/// not the one `hooks` declares for that resource: removed, added or
/// changed since the plan was made. Deletes are not handed over.
fn check_handovers(plan: &Plan, hooks: &HashMap<String, HandoverHook>) -> crate::Result<()> {
    for c in plan
        .changes
        .iter()
        .filter(|c| c.action.is_change() && c.action != crate::plan::Action::Delete)
    {
        let declared = hooks.get(c.name.as_str()).map(|h| h.hook().describe());
        if c.flags.handover != declared {
            return Err(Error::PlanHandover {
                resource: c.name.to_string(),
                planned: c.flags.handover.clone(),
                declared,
            });
        }
    }
    Ok(())
}
