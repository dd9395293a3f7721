//! [`Engine`]: the operations a program's command line offers — preview,
//! up, destroy, refresh, drift, saved plans — each a short composition of
//! the planner, the executor, recovery and the state store.
//!
//! Every operation that writes takes the stack's lock first (renewing its
//! lease while it runs), resolves pending operations left by a crashed run
//! before anything else, and compacts the journal at the end.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::apply::{self, ApplyObserver, ApplyOptions, ApplyReport};
use crate::drift::{self, DriftReport};
use crate::error::Error;
use crate::handover::HandoverHook;
use crate::plan::{Plan, StateBinding};
use crate::planner;
use crate::provider::Providers;
use crate::recover::{self, Resolution};
use crate::stack::{Desired, Stack};
use crate::state::encryption::{KeySource, SealingStore, SecretsKey};
use crate::state::{self, Entry, Journal, LockInfo, LockRequest, Record, State, StateStore};

mod generate;
mod handovers;
mod history;
mod import;
mod lookups;
mod policy;
mod preview;
pub(crate) use preview::drop_aside;
mod recovery;
mod refresh;
mod secrets;
mod settings;
mod shown;

pub use generate::Generated;
use handovers::handovers_of;
pub use import::{ImportFile, ImportPreview, ImportReport, ImportSpec};
pub(crate) use lookups::sealed_message;
pub use preview::Preview;
pub use recovery::ImportOutcome;
pub use settings::Settings;

use secrets::desired_holds_secrets;

/// Runs a program's operations on one stack.
///
/// ```
/// use dafnck_core::engine::Engine;
/// use dafnck_core::state::MemoryStore;
/// use dafnck_core::testing::{resources::Network, FakeCloud};
/// use dafnck_core::{Providers, Stack};
///
/// fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
///     stack.add("net", Network { cidr: "10.0.0.0/16".into(), ..Default::default() });
///     Ok(())
/// }
///
/// # tokio_test_block(async {
/// let cloud = FakeCloud::new();
/// let engine = Engine::new("dev", MemoryStore::new(), Providers::new().with(cloud.clone()));
/// let report = engine.up(infra, false).await.unwrap();
/// assert!(report.is_success());
/// assert_eq!(cloud.objects().len(), 1);
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone)]
pub struct Engine {
    stack: String,
    config: BTreeMap<String, String>,
    secret_config: BTreeMap<String, crate::Secret<String>>,
    /// The store as given.
    raw_store: Arc<dyn StateStore>,
    /// `raw_store` behind the sealing of secrets: what every operation uses.
    sealing: Arc<SealingStore>,
    store: Arc<dyn StateStore>,
    providers: Providers,
    settings: Settings,
    /// The policy packs the program is checked against, if any.
    policies: Option<Arc<crate::policy::Policies>>,
    cost: Option<Arc<crate::cost::CostModel>>,
    /// Set on the engine that carries out one checked plan.
    guard: Option<Arc<crate::policy::PolicyGuard>>,
    /// Answers to the program's reads given instead of reading (tests).
    lookups: Arc<crate::lookup::Lookups>,
    /// The backends stack references with a store URL open.
    backends: state::StoreBackends,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("stack", &self.stack)
            .field("store", &self.store.describe())
            .field("settings", &self.settings)
            .finish()
    }
}

struct Held {
    lock: LockInfo,
    renewal: JoinHandle<()>,
}

impl Engine {
    /// An engine for `stack`, keeping state in `store`.
    pub fn new(stack: impl Into<String>, store: impl StateStore, providers: Providers) -> Self {
        Engine::with_store(stack, Arc::new(store), providers)
    }

    /// Like [`Engine::new`] with a shared store.
    pub fn with_store(
        stack: impl Into<String>,
        store: Arc<dyn StateStore>,
        providers: Providers,
    ) -> Self {
        let sealing = Arc::new(SealingStore::new(Arc::clone(&store), KeySource::None));
        Engine {
            stack: stack.into(),
            config: BTreeMap::new(),
            secret_config: BTreeMap::new(),
            raw_store: store,
            store: sealing.clone(),
            sealing,
            providers,
            settings: Settings::default(),
            policies: None,
            cost: None,
            guard: None,
            lookups: Arc::default(),
            backends: state::StoreBackends::new(),
        }
    }

    /// Sets where the key for the stack's secrets comes from (by default
    /// nowhere: see [`KeySource::None`]).
    ///
    /// Every secret written to the state — in journal records and
    /// snapshots, whatever the store — is sealed with XChaCha20-Poly1305
    /// under that key (see [`state::encryption`]).
    pub fn key_source(mut self, source: KeySource) -> Self {
        self.sealing = Arc::new(SealingStore::new(Arc::clone(&self.raw_store), source));
        self.store = self.sealing.clone();
        self
    }

    /// Encrypts the state's secrets with this key, supplied by the program
    /// (from a key management service, say).
    pub fn secrets_key(self, key: SecretsKey) -> Self {
        self.key_source(KeySource::Key(key))
    }

    /// Encrypts the state's secrets with a key derived from this passphrase
    /// by Argon2id (what the command line does with `DAFNCK_PASSPHRASE`).
    pub fn secrets_passphrase(self, passphrase: impl Into<String>) -> Self {
        self.key_source(KeySource::Passphrase(crate::Secret::new(passphrase.into())))
    }

    /// Writes secrets to the state in plain text instead of refusing when no
    /// key is given. For throwaway stacks only.
    pub fn insecure_plaintext_secrets(self) -> Self {
        self.key_source(KeySource::InsecurePlaintext)
    }

    /// Sets the stack's secret configuration values (read with
    /// [`Stack::config_as`] as [`Secret`](crate::Secret)s).
    pub fn secret_config(mut self, secrets: BTreeMap<String, crate::Secret<String>>) -> Self {
        self.secret_config = secrets;
        self
    }

    /// Sets the stack's configuration values (read with [`Stack::config`]).
    pub fn config(mut self, config: BTreeMap<String, String>) -> Self {
        self.config = config;
        self
    }

    /// Replaces the settings.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Plans and applies only these resources and what they depend on
    /// (like Terraform's `-target`).
    pub fn targets(mut self, targets: Vec<String>) -> Self {
        self.settings.targets = targets;
        self
    }

    /// Reports every step to `observer` as it starts and ends.
    pub fn observer(mut self, observer: Arc<dyn ApplyObserver>) -> Self {
        self.settings.observer = Some(observer);
        self
    }

    /// Sets how many provider calls may run at once.
    pub fn parallelism(mut self, parallelism: usize) -> Self {
        self.settings.parallelism = parallelism.max(1);
        self
    }

    /// Sets how many steps may be under way at once, counting those that
    /// journaled their intent and wait for a call slot
    /// ([`ApplyOptions::journal_ahead`]).
    pub fn journal_ahead(mut self, steps: usize) -> Self {
        self.settings.journal_ahead = steps.max(1);
        self
    }

    /// Waits up to `timeout` for a lock another run holds (see
    /// [`Settings::lock_timeout`]).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.settings.lock_timeout = timeout;
        self
    }

    /// Keeps the history by `retention` after every run that saves a
    /// version (see [`Settings::retention`]).
    pub fn retention(mut self, retention: state::Retention) -> Self {
        self.settings.retention = retention;
        self
    }

    /// Records `commit` as the program's commit in each version a run
    /// saves (see [`Settings::commit`]).
    pub fn commit(mut self, commit: Option<state::Commit>) -> Self {
        self.settings.commit = commit;
        self
    }

    /// The stack's name.
    pub fn stack(&self) -> &str {
        &self.stack
    }

    /// The state store, behind the sealing of secrets: what is written
    /// through it is sealed, what is read is opened when the key is known.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    /// The state store as it was given, below the sealing of secrets: what
    /// it holds is sealed. `state migrate` copies from it as it is, so the
    /// target holds the same ciphertext and the same key opens it (and no
    /// key is needed to move a state).
    pub fn raw_store(&self) -> &Arc<dyn StateStore> {
        &self.raw_store
    }

    /// Runs the program and checks what it declared.
    ///
    /// # Errors
    /// The program's own error, or [`Error::Program`] with every problem.
    pub fn desired<F>(&self, program: F) -> crate::Result<Desired>
    where
        F: FnOnce(&mut Stack) -> crate::Result<()>,
    {
        let mut stack = Stack::with_config(self.stack.clone(), self.config.clone())
            .with_secret_config(self.secret_config.clone());
        program(&mut stack)?;
        stack.into_desired()
    }

    /// The recorded state (snapshot with the journal replayed).
    ///
    /// # Errors
    /// When the store cannot be read or the state is corrupt.
    pub async fn state(&self) -> crate::Result<State> {
        Ok(state::load(&*self.store, &self.stack).await?)
    }

    /// Plans and applies. With `refresh`, objects are read back first and
    /// the state records what was found.
    ///
    /// # Errors
    /// Program problems, a refused plan, a held lock, state errors, and
    /// [`Error::Apply`] when any step failed (its report names each failed
    /// resource and where it was declared).
    pub async fn up<F>(&self, program: F, refresh: bool) -> crate::Result<ApplyReport>
    where
        F: FnOnce(&mut Stack) -> crate::Result<()>,
    {
        let desired = self.desired(program)?;
        let reads = self.resolve_lookups(&desired).await?;
        let checked = self.refuse_by_policy(&desired)?;
        let handovers = handovers_of(&desired);
        let secrets = desired_holds_secrets(&desired);
        self.locked("up", |this| async move {
            let (state, pending, _) = this.prepare("up", refresh, secrets).await?;
            let state = this.reset_handovers(state, &handovers).await?;
            let mut plan = this.plan(&desired, &state, None, None)?;
            plan.reads = reads;
            lookups::compare_reads(&mut plan, &state, &desired);
            // The rules were checked before the lock was taken; the plan
            // says only what is checked again at apply.
            let guard = checked.and_then(|(policies, mut report)| {
                report.at_apply = crate::policy::at_apply(&plan);
                let guard = crate::policy::PolicyGuard::new(policies, &desired, &report);
                (!guard.is_empty()).then(|| Arc::new(guard))
            });
            this.guarded(guard)
                .execute("up", &plan, state, pending, handovers)
                .await
        })
        .await
    }

    /// The plan [`Engine::destroy`] would carry out.
    ///
    /// # Errors
    /// [`Error::PlanRefused`] naming protected resources; state errors.
    pub async fn preview_destroy(&self) -> crate::Result<Plan> {
        let stored = self.state().await?;
        let base = StateBinding::of(&stored);
        let (current, _) = self.resolved_in_memory(stored).await?;
        planner::plan_destroy_bound(&current, base)
    }

    /// The recorded state, or [`Error::NoState`] for a stack never applied.
    ///
    /// # Errors
    /// [`Error::NoState`], and state errors.
    pub async fn existing_state(&self) -> crate::Result<State> {
        let state = self.state().await?;
        if state.lineage.is_empty() && state.serial == 0 {
            return Err(Error::NoState {
                stack: self.stack.clone(),
                store: self.store.describe(),
            });
        }
        Ok(state)
    }

    /// Deletes everything the stack records, dependents first.
    ///
    /// # Errors
    /// [`Error::PlanRefused`] naming protected resources, and the errors of
    /// [`Engine::up`].
    pub async fn destroy(&self) -> crate::Result<ApplyReport> {
        self.locked("destroy", |this| async move {
            let (state, pending, _) = this.prepare("destroy", false, false).await?;
            let plan = planner::plan_destroy(&state)?;
            this.execute("destroy", &plan, state, pending, HashMap::new())
                .await
        })
        .await
    }

    /// Forgets a recorded resource without deleting its object (`state rm`).
    ///
    /// # Errors
    /// [`Error::Program`] when the stack records no such resource; lock and
    /// state errors.
    pub async fn forget(&self, name: &str) -> crate::Result<()> {
        self.locked("state rm", |this| async move {
            let state = this.state().await?;
            if !state.resources.contains_key(name) {
                return Err(Error::Program(vec![unknown_resource(
                    name,
                    "recorded in the state",
                )]));
            }
            this.require_key("state rm", &state, false)?;
            let opening = this.opening_entries(&state)?;
            let (journal, task) = this.journal(state);
            opening.into_iter().for_each(|e| journal.record(e));
            journal.record(Entry::Remove {
                name: name.to_owned(),
            });
            let state = task.finish().await?;
            this.store.compact(&this.stack, &state).await?;
            Ok(())
        })
        .await
    }

    /// Releases the stack's lock by id, whoever holds it.
    ///
    /// # Errors
    /// [`state::StateError::LockLost`] when no lock with that id is held.
    pub async fn force_unlock(&self, lock_id: &str) -> crate::Result<()> {
        let locks = state::require_lock(&*self.store, "state force-unlock")?;
        Ok(locks.unlock(&self.stack, lock_id).await?)
    }

    /// Plans `desired` against `state`; with `checker`, checking each
    /// resource against its policies as it plans (the caller finishes the
    /// check with the plan this returns).
    fn plan<'a>(
        &self,
        desired: &'a Desired,
        state: &State,
        base: Option<StateBinding>,
        checker: Option<&mut crate::policy::Checker<'a>>,
    ) -> crate::Result<Plan> {
        let mut plan = planner::plan_bound(desired, state, &self.providers, base, checker)?;
        if !self.settings.targets.is_empty() {
            planner::restrict(&mut plan, desired, &self.settings.targets)?;
        }
        Ok(plan)
    }

    async fn locked<'a, T, F, Fut>(&'a self, operation: &str, f: F) -> crate::Result<T>
    where
        F: FnOnce(&'a Engine) -> Fut,
        Fut: std::future::Future<Output = crate::Result<T>> + 'a,
    {
        let held = self.lock(operation).await?;
        tracing::debug!(stack = %self.stack, operation, lock = %held.lock.id, "took the stack's lock");
        // The run ends by numbering a new version after the last one: a
        // history that cannot be read refuses the run before it starts.
        let result = match self.check_history().await {
            Ok(()) => f(self).await,
            Err(e) => Err(e),
        };
        held.renewal.abort();
        let released = match self.store.locks() {
            Some(locks) => locks.unlock(&self.stack, &held.lock.id).await,
            None => Ok(()),
        };
        match (result, released) {
            (Ok(v), Ok(())) => Ok(v),
            (Ok(_), Err(e)) => Err(e.into()),
            (Err(e), _) => Err(e),
        }
    }

    async fn lock(&self, operation: &str) -> crate::Result<Held> {
        let request = LockRequest::for_this_process(operation, self.settings.lease);
        let deadline = tokio::time::Instant::now() + self.settings.lock_timeout;
        let mut pause = Duration::from_millis(100);
        let locks = state::require_lock(&*self.store, operation)?;
        let lock = loop {
            match locks.lock(&self.stack, &request).await {
                Ok(lock) => break lock,
                Err(state::StateError::Locked { .. })
                    if tokio::time::Instant::now() + pause <= deadline =>
                {
                    tracing::info!(stack = %self.stack, wait = ?pause, "the stack is locked; waiting");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(e) => return Err(e.into()),
            }
        };
        let store = self.store.clone();
        let stack = self.stack.clone();
        let every = self.settings.lease / 3;
        let mut current = lock.clone();
        let renewal = tokio::spawn(async move {
            let mut wait = every;
            loop {
                tokio::time::sleep(wait).await;
                let Some(locks) = store.locks() else { break };
                match locks.renew(&stack, &current).await {
                    Ok(l) => {
                        current = l;
                        wait = every;
                    }
                    Err(e @ state::StateError::LockLost { .. }) => {
                        tracing::error!(error = %e, "lost the stack's lock; another run may write now");
                        break;
                    }
                    // A store across a network can fail for a moment; the
                    // lease has two thirds left, so try again soon.
                    Err(e) => {
                        tracing::warn!(error = %e, "could not renew the stack's lock; trying again");
                        wait = every / 4;
                    }
                }
            }
        });
        Ok(Held { lock, renewal })
    }

    fn journal(&self, state: State) -> (Journal, state::JournalTask) {
        Journal::start_with(
            self.store.clone(),
            &self.stack,
            state,
            self.settings.compact_every,
        )
    }

    /// Under the lock: loads the state, settles pending operations and
    /// optionally refreshes, journaling all of it.
    async fn prepare(
        &self,
        operation: &str,
        refresh: bool,
        program_secrets: bool,
    ) -> crate::Result<(State, Vec<Resolution>, Option<DriftReport>)> {
        let state = self.state().await?;
        self.require_key(operation, &state, program_secrets)?;
        let (journal, task) = self.journal(state.clone());
        let (state, pending) = self.resolve_pending(&journal, task, state).await?;
        if !refresh {
            return Ok((state, pending, None));
        }
        let r = drift::refresh(
            &state,
            &self.providers,
            &self.settings.retry,
            self.settings.parallelism,
        )
        .await?;
        let (journal, task) = self.journal(state);
        for e in r.entries {
            journal.record(e);
        }
        Ok((task.finish().await?, pending, Some(r.report)))
    }

    async fn resolve_pending(
        &self,
        journal: &Journal,
        task: state::JournalTask,
        state: State,
    ) -> crate::Result<(State, Vec<Resolution>)> {
        for e in self.opening_entries(&state)? {
            journal.record(e);
        }
        let resolved = if state.pending.is_empty() {
            Vec::new()
        } else {
            recover::resolve_pending(
                &state,
                &self.providers,
                &self.settings.retry,
                self.settings.parallelism,
            )
            .await?
        };
        for r in &resolved {
            for e in &r.entries {
                journal.record(e.clone());
            }
        }
        Ok((task.finish().await?, resolved))
    }

    async fn resolved_in_memory(
        &self,
        mut state: State,
    ) -> crate::Result<(State, Vec<Resolution>)> {
        if state.pending.is_empty() {
            return Ok((state, Vec::new()));
        }
        let resolved = recover::resolve_pending(
            &state,
            &self.providers,
            &self.settings.retry,
            self.settings.parallelism,
        )
        .await?;
        for r in &resolved {
            for e in &r.entries {
                let record = Record {
                    seq: state.serial + 1,
                    at: state::now_millis(),
                    entry: e.clone(),
                };
                state
                    .apply(&record)
                    .map_err(|message| state::StateError::Corrupt {
                        location: self.store.describe(),
                        message,
                    })?;
            }
        }
        Ok((state, resolved))
    }

    async fn execute(
        &self,
        operation: &str,
        plan: &Plan,
        state: State,
        pending: Vec<Resolution>,
        handovers: HashMap<String, HandoverHook>,
    ) -> crate::Result<ApplyReport> {
        let opening = self.opening_entries(&state)?;
        let (journal, task) = self.journal(state.clone());
        for e in opening {
            journal.record(e);
        }
        let options = ApplyOptions {
            parallelism: self.settings.parallelism,
            journal_ahead: self.settings.journal_ahead,
            retry: self.settings.retry,
            run_id: state::new_id(),
            observer: self.settings.observer.clone(),
            handovers,
            channel: Some(self.store.clone()),
            guard: self.guard.clone(),
        };
        let summary = plan.summary();
        tracing::info!(stack = %self.stack, create = summary.create, update = summary.update,
            replace = summary.replace, delete = summary.delete, "applying");
        let mut report = apply::execute(plan, &state, &self.providers, &journal, &options).await;
        tracing::info!(elapsed = ?report.elapsed, success = report.is_success(), "applied");
        drop(journal);
        let final_state = task.finish_compacting().await?;
        let mut text = format!(
            "create {}, update {}, replace {}, delete {}",
            summary.create, summary.update, summary.replace, summary.delete
        );
        let failed = report.failed().count();
        if failed > 0 {
            text.push_str(&format!(" ({failed} failed)"));
        }
        if let Some(reads) = state::reads::summary(&state.reads, &final_state.reads) {
            text.push_str(&format!("; {reads}"));
        }
        let outcome = if report.is_success() {
            state::RunOutcome::Succeeded
        } else if report.failed().all(|s| s.is_rolled_back()) {
            state::RunOutcome::RolledBack
        } else {
            state::RunOutcome::Failed
        };
        // The journal's last act was compacting exactly this state.
        self.save_version_as(operation, text, &final_state, outcome, true)
            .await?;
        report.pending_resolved = pending;
        if report.is_success() {
            Ok(report)
        } else {
            Err(Error::Apply(Box::new(report)))
        }
    }
}

fn unknown_resource(name: &str, where_: &str) -> crate::Diagnostic {
    crate::Diagnostic {
        resource: Some(name.to_owned()),
        location: None,
        message: format!("there is no resource {name:?} {where_}"),
    }
}
