//! [`Engine::preview`]: the plan of a program against the state, read
//! back from the providers first (a refresh) unless asked not to.

use std::sync::Arc;

use super::{lookups, Engine};
use crate::drift::{self, DriftReport};
use crate::plan::{Plan, StateBinding};
use crate::recover::Resolution;
use crate::stack::Stack;
use crate::state::{self, Entry};

/// What a preview found.
#[derive(Clone, Debug)]
pub struct Preview {
    /// The plan.
    pub plan: Plan,
    /// With `refresh`: what drifted.
    pub drift: Option<DriftReport>,
    /// Pending operations of a crashed run, resolved (in memory only) to plan.
    pub pending: Vec<Resolution>,
    /// Resources whose handover (a rollout) a dead run left under way: `up`
    /// resets them to the old object first (see [`crate::handover`]).
    pub interrupted: Vec<String>,
    /// With policies set ([`Engine::policies`]): what checking the program
    /// against them found.
    pub policy: Option<crate::policy::PolicyReport>,
    /// With a cost model set ([`Engine::cost_model`]): the monthly cost of
    /// the stack as recorded and as declared.
    pub cost: Option<crate::cost::CostReport>,
    /// Checks at apply time of the resources with values not known now.
    pub(super) guard: Option<Arc<crate::policy::PolicyGuard>>,
    /// What the refresh read, as journal entries: [`Engine::up_previewed`]
    /// records exactly these before it applies the plan, so the state it
    /// writes is the one the plan was made against.
    pub(super) refreshed: Vec<Entry>,
}

impl Preview {
    /// Whether `up` has anything to do: changes, pending operations to
    /// record, drift to correct, an interrupted handover to reset, or
    /// data-source reads to record or drop.
    pub fn has_work(&self) -> bool {
        self.plan.has_changes()
            || self.plan.records_reads()
            || !self.pending.is_empty()
            || !self.interrupted.is_empty()
            || self.drift.as_ref().is_some_and(|d| d.has_drift())
    }
}

/// The recorded side of a preview: what [`Engine::preview_for`] plans
/// against.
struct Recorded {
    /// The state planned against: as stored, or as resolved and refreshed.
    current: Arc<crate::state::State>,
    /// The crashed run's operations resolved in memory.
    pending: Vec<Resolution>,
    /// Resources whose handover a dead run left under way.
    interrupted: Vec<String>,
    /// The binding of the state as stored, when it is not `current`.
    base: Option<StateBinding>,
    /// With a refresh: what drifted.
    drift: Option<DriftReport>,
    /// With a refresh: what it read, as journal entries.
    refreshed: Vec<Entry>,
}

/// From how many resources a preview frees what it planned from on
/// another thread.
const DROP_ASIDE_FROM: usize = 10_000;

impl Engine {
    /// Plans without changing anything. Pending operations of a crashed run
    /// are resolved in memory (and reported), and with `refresh` the plan is
    /// made against the objects as read now, so it corrects drift.
    ///
    /// # Errors
    /// Program problems, a refused plan (protected resources), read errors.
    pub async fn preview<F>(&self, program: F, refresh: bool) -> crate::Result<Preview>
    where
        F: FnOnce(&mut Stack) -> crate::Result<()>,
    {
        self.preview_for("preview", program, refresh).await
    }

    /// [`Engine::preview`] as the first step of `operation` (the command
    /// line's `up`): a refresh refused for want of the key is refused as
    /// that operation's, from the state this preview loads anyway.
    pub(crate) async fn preview_for<F>(
        &self,
        operation: &str,
        program: F,
        refresh: bool,
    ) -> crate::Result<Preview>
    where
        F: FnOnce(&mut Stack) -> crate::Result<()>,
    {
        // The recorded side (reading and parsing the state, resolving a
        // crashed run's operations, the refresh's reads) needs nothing of
        // the program: it runs on the runtime's workers while the program
        // declares its resources on this thread.
        let recorded = tokio::spawn(self.clone().recorded(operation.to_owned(), refresh));
        let declared = self.desired(program);
        let desired = match declared {
            Ok(desired) => desired,
            Err(e) => {
                // Only reads are under way: nothing is lost by stopping them.
                recorded.abort();
                return Err(e);
            }
        };
        let reads = self.resolve_lookups(&desired).await?;
        let Recorded {
            current,
            pending,
            interrupted,
            base,
            drift,
            refreshed,
        } = self.joined(recorded.await, "reading the state")??;
        let (mut plan, checked) = self.plan_checked(&desired, &current, base)?;
        plan.reads = reads;
        lookups::compare_reads(&mut plan, &current, &desired);
        let (policy, guard) = checked.unzip();
        let cost = self.cost.as_ref().map(|model| {
            crate::cost::CostReport::new(
                model.of_state(&current),
                model.of_program(&desired),
                model.prices(),
            )
        });
        if current.resources.len() >= DROP_ASIDE_FROM {
            // Freeing a large program and state takes a while (a tenth of
            // a preview of 100k resources): another thread does it.
            std::thread::spawn(move || drop((desired, current)));
        }
        Ok(Preview {
            plan,
            drift,
            pending,
            interrupted,
            policy,
            cost,
            guard: guard.flatten(),
            refreshed,
        })
    }

    /// The recorded side of a preview of `operation` (see
    /// [`Engine::preview_for`]): the state as stored, with a crashed run's
    /// operations resolved in memory and, with `refresh`, the objects read
    /// back.
    async fn recorded(self, operation: String, refresh: bool) -> crate::Result<Recorded> {
        let stored = state::load(&*self.store, &self.stack).await?;
        if refresh && operation == "preview" {
            self.require_key_to_compare(&operation, &stored)?;
        } else if refresh {
            self.require_key(&operation, &stored, false)?;
        }
        // The plan is bound to the state as stored. When nothing is resolved
        // or refreshed in memory, that is the state planned against, which
        // the planner hashes itself (alongside planning, for a large one).
        // Hashed on another thread while the refresh reads.
        let stored = Arc::new(stored);
        let hashing = (refresh || !stored.pending.is_empty()).then(|| {
            let stored = Arc::clone(&stored);
            tokio::task::spawn_blocking(move || StateBinding::of(&stored))
        });
        let interrupted = stored
            .handovers
            .iter()
            .filter(|(_, m)| m.active)
            .map(|(name, _)| name.clone())
            .collect();
        let (mut current, pending) = if stored.pending.is_empty() {
            (stored, Vec::new())
        } else {
            let (resolved, pending) = self.resolved_in_memory((*stored).clone()).await?;
            (Arc::new(resolved), pending)
        };
        let mut drift = None;
        let mut refreshed = Vec::new();
        if refresh {
            let (report, entries, changed) = drift::refresh_changes(
                &current,
                &self.providers,
                &self.settings.retry,
                self.settings.parallelism,
            )
            .await?;
            if let Some(changed) = changed {
                current = Arc::new(changed);
            }
            drift = Some(report);
            refreshed = entries;
        }
        let base = match hashing {
            Some(hashing) => Some(self.joined(hashing.await, "hashing the state")?),
            None => None,
        };
        Ok(Recorded {
            current,
            pending,
            interrupted,
            base,
            drift,
            refreshed,
        })
    }

    /// What a task beside the preview (`what`) gave: its panic goes on
    /// here; a task the runtime dropped is an error of the state store.
    fn joined<T>(&self, result: Result<T, tokio::task::JoinError>, what: &str) -> crate::Result<T> {
        result.map_err(|e| {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic())
            }
            state::StateError::Backend {
                backend: self.store.describe(),
                message: format!("{what} did not finish: {e}"),
            }
            .into()
        })
    }
}
