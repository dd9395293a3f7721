//! The engine's side of [`crate::policy`]: checking a program against the
//! policies set on the engine, refusing before any change, and guarding
//! apply-time values.

use std::sync::Arc;

use super::Engine;
use crate::error::Error;
use crate::plan::{Plan, StateBinding};
use crate::policy::{self, Checker, Policies, PolicyGuard, PolicyReport};
use crate::stack::Desired;
use crate::state::State;

/// What checking a program against the policies in force found, and the
/// guard for values known only at apply (none when there are none).
pub(crate) type Checked = (PolicyReport, Option<Arc<PolicyGuard>>);

impl Engine {
    /// Checks every program this engine previews or applies against
    /// `policies`, adjusted by the stack's configuration (see
    /// [`Policies::configured`]). A violation of a mandatory rule makes
    /// [`Engine::up`] refuse before any change; values known only at apply
    /// are checked then, before the provider call.
    pub fn policies(mut self, policies: Policies) -> Self {
        self.policies = Some(Arc::new(policies));
        self
    }

    /// Estimates the monthly cost of every program this engine previews,
    /// and of the stack as recorded ([`Preview::cost`](super::Preview)).
    pub fn cost_model(mut self, model: Arc<crate::cost::CostModel>) -> Self {
        self.cost = Some(model);
        self
    }

    /// The policies in force for this stack: as set, with the stack's
    /// configuration applied.
    ///
    /// # Errors
    /// [`Error::Usage`] naming a `policy.*` configuration value that
    /// cannot be read.
    pub fn policies_in_force(&self) -> crate::Result<Option<Arc<Policies>>> {
        let Some(p) = &self.policies else {
            return Ok(None);
        };
        if !self.config.keys().any(|k| k.starts_with("policy.")) {
            return Ok(Some(Arc::clone(p)));
        }
        let configured = (**p)
            .clone()
            .configured(&self.config)
            .map_err(|e| Error::Usage(format!("stack {:?}: {e}", self.stack)))?;
        Ok(Some(Arc::new(configured)))
    }

    /// Plans `desired` against `state` and checks it against the policies
    /// in force as it plans (each resource when the planner reaches it):
    /// the plan, and the report with the guard for values known only at
    /// apply (no guard when there are none; no report without policies).
    pub(crate) fn plan_checked(
        &self,
        desired: &Desired,
        state: &State,
        base: Option<StateBinding>,
    ) -> crate::Result<(Plan, Option<Checked>)> {
        let Some(policies) = self.policies_in_force()? else {
            return Ok((self.plan(desired, state, base, None)?, None));
        };
        let mut checker = Checker::new(&policies);
        let plan = self.plan(desired, state, base, Some(&mut checker))?;
        let report = checker.finish(desired, Some(&plan));
        let guard = PolicyGuard::new(policies, desired, &report);
        let guard = (!guard.is_empty()).then(|| Arc::new(guard));
        Ok((plan, Some((report, guard))))
    }

    /// Refuses `desired` when it violates a mandatory rule, before any
    /// lock is taken or anything is read or written; else the policies in
    /// force and what they found (none without policies).
    pub(crate) fn refuse_by_policy(
        &self,
        desired: &Desired,
    ) -> crate::Result<Option<(Arc<Policies>, PolicyReport)>> {
        let Some(policies) = self.policies_in_force()? else {
            return Ok(None);
        };
        let report = policy::check(&policies, desired, None);
        match report.refusal() {
            Some(refusal) => Err(refusal),
            None => Ok(Some((policies, report))),
        }
    }

    /// This engine with `guard` checking apply-time values.
    pub(crate) fn guarded(&self, guard: Option<Arc<PolicyGuard>>) -> Engine {
        let mut e = self.clone();
        e.guard = guard;
        e
    }
}
