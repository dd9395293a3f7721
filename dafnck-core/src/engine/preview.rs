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
    /// The state as stored, with a crashed run's operations resolved.
    current: Arc<crate::state::State>,
    /// Those operations.
    pending: Vec<Resolution>,
    /// Resources whose handover a dead run left under way.
    interrupted: Vec<String>,
    /// The binding of the state as stored, being computed when the state
    /// planned against may not be that one.
    hashing: Option<tokio::task::JoinHandle<StateBinding>>,
    /// With a refresh: its reads, under way.
    refreshing: Option<Aborting<Refreshed>>,
}

/// What a refresh gives: the drift report, the entries recording what was
/// read, and the refreshed state when it differs.
type Refreshed = crate::Result<(DriftReport, Vec<Entry>, Option<crate::state::State>)>;

/// A task of a preview, stopped if the preview is dropped or returns
/// before it is joined.
struct Aborting<T>(tokio::task::JoinHandle<T>);

impl<T> Aborting<T> {
    async fn join(mut self) -> Result<T, tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl<T> Drop for Aborting<T> {
    fn drop(&mut self) {
        // A task that ended is not affected.
        self.0.abort();
    }
}

/// From how many resources a preview frees what it planned from on
/// another thread.
const DROP_ASIDE_FROM: usize = 10_000;

/// Frees `value`, which holds `size` resources, on another thread when
/// that is many: freeing a large program, state or plan takes a while (a
/// tenth of a preview of 100k resources) that nobody needs to wait for.
pub(crate) fn drop_aside<T: Send + 'static>(value: T, size: usize) {
    if size >= DROP_ASIDE_FROM {
        // No thread to be had: the value is freed here as the closure is.
        let _ = std::thread::Builder::new()
            .name("dafnck-free".into())
            .spawn(move || drop(value));
    }
}

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
        // crashed run's operations, starting the refresh's reads) needs
        // nothing of the program: it runs on the runtime's workers while
        // the program declares its resources on this thread. Whatever of it
        // is under way stops if this returns early (only reads are lost).
        let recorded = Aborting(tokio::spawn(
            self.clone().recorded(operation.to_owned(), refresh),
        ));
        let desired = self.desired(program)?;
        tracing::debug!(
            resources = desired.nodes.len(),
            "preview: the program declared"
        );
        let reads = self.resolve_lookups(&desired).await?;
        let Recorded {
            mut current,
            pending,
            interrupted,
            hashing,
            refreshing,
        } = self.joined(recorded.join().await, "reading the state")??;
        let mut drift = None;
        let mut refreshed = Vec::new();
        let mut planned = None;
        if let Some(refreshing) = refreshing {
            // Planned against the state as recorded while the refresh
            // reads, and kept when nothing drifted (its binding is set
            // below); else planned again against what the refresh found.
            let early = self.plan_checked(&desired, &current, Some(StateBinding::unbound()));
            let (report, entries, changed) =
                self.joined(refreshing.join().await, "refreshing the state")??;
            tracing::debug!("preview: the state refreshed");
            drift = Some(report);
            refreshed = entries;
            match changed {
                Some(changed) => current = Arc::new(changed),
                None => planned = Some(early),
            }
        }
        let base = match hashing {
            Some(hashing) => Some(self.joined(hashing.await, "hashing the state")?),
            None => None,
        };
        let (mut plan, checked) = match planned {
            Some(early) => early?,
            None => self.plan_checked(&desired, &current, base.clone())?,
        };
        if let Some(base) = base {
            plan.base = base;
        }
        tracing::debug!(changes = plan.changes.len(), "preview: planned");
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
        let size = current.resources.len();
        drop_aside((desired, current), size);
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
    /// operations resolved in memory; with `refresh`, the objects' reads
    /// started.
    async fn recorded(self, operation: String, refresh: bool) -> crate::Result<Recorded> {
        let stored = state::load(&*self.store, &self.stack).await?;
        tracing::debug!(
            resources = stored.resources.len(),
            "preview: the state read"
        );
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
        let (current, pending) = if stored.pending.is_empty() {
            (stored, Vec::new())
        } else {
            let (resolved, pending) = self.resolved_in_memory((*stored).clone()).await?;
            (Arc::new(resolved), pending)
        };
        let refreshing = refresh.then(|| {
            let state = Arc::clone(&current);
            Aborting(tokio::spawn(async move {
                drift::refresh_changes(
                    &state,
                    &self.providers,
                    &self.settings.retry,
                    self.settings.parallelism,
                )
                .await
            }))
        });
        Ok(Recorded {
            current,
            pending,
            interrupted,
            hashing,
            refreshing,
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
