//! The executor: carries out a [`Plan`] through providers.
//!
//! A plan's changes become steps (a replacement is two) in a step graph.
//! A step starts as soon as every step it waits for is done — not level by
//! level — with at most `parallelism` provider calls at once; of the steps
//! ready to start, those with the longest expected time ahead of them (their
//! own and that of the longest chain of steps after them) go first, so the
//! critical path is never kept waiting. Expected times are how long calls of
//! the same kind on objects of the same type took in earlier runs
//! ([`Timings`], learned at the end of every apply), else what the
//! provider expects of such a call ([`Provider::expected_duration`]); while
//! nothing is known, each step counts as one.
//! Each provider call is preceded by a durable intent record and followed by
//! its result in the [`Journal`]. A failed step stops the steps that depend
//! on it while independent ones finish; a panic or timeout inside a provider
//! call is contained, and the object it may have touched is read back.
//!
//! [`Provider::expected_duration`]: crate::provider::Provider::expected_duration

mod handover;
mod outputs;
mod step;
mod steps;
mod turns;

pub use crate::report::{ApplyReport, StepKind, StepReport, StepStatus};
pub(crate) use handover::reset_interrupted;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;

use crate::plan::Plan;
use crate::provider::{Providers, RetryPolicy};
use crate::state::{CallKind, Entry, Journal, State, Timings};

use outputs::LiveOutputs;
use step::{StepContext, StepOutput};

/// How to apply.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// At most this many provider calls at once (default 10).
    pub parallelism: usize,
    /// At most this many steps under way at once, counting those that
    /// have journaled their intent and wait for one of the `parallelism`
    /// call slots (default 256; never fewer than `parallelism`). Their
    /// intents share the journal's group commits, which is what lets fast
    /// provider calls go faster than one fsync per few steps. Each intent
    /// is durable before its call as always; after a crash, every intent
    /// without a result is read back by its token, so a larger value only
    /// means more to read back then.
    pub journal_ahead: usize,
    /// Retries of retryable provider errors.
    pub retry: RetryPolicy,
    /// Mixed into idempotency tokens: unique per run.
    pub run_id: String,
    /// Told when each step starts and ends (progress displays).
    pub observer: Option<Arc<dyn ApplyObserver>>,
    /// The handover hooks of the program's resources, by name: a
    /// replacement planned with a handover needs its hook here.
    pub handovers: std::collections::HashMap<String, crate::handover::HandoverHook>,
    /// Where handovers under way take messages sent from other processes:
    /// the stack's state store, when it has a control channel.
    pub channel: Option<Arc<dyn crate::state::StateStore>>,
    /// Checks policy rules over a resource's resolved inputs before its
    /// create, update or import call (for inputs not known at plan time);
    /// a violation of a mandatory rule fails the step before the call.
    pub guard: Option<Arc<crate::policy::PolicyGuard>>,
}

/// The default of [`ApplyOptions::journal_ahead`].
pub const DEFAULT_JOURNAL_AHEAD: usize = 256;

/// Watches an apply: the executor calls it as steps start and end, from
/// one task, in order.
pub trait ApplyObserver: Send + Sync {
    /// A step started.
    fn started(&self, step: &StepInfo);
    /// A step ended (done, failed, or skipped because another failed).
    fn finished(&self, step: &StepInfo, status: &StepStatus, elapsed: std::time::Duration);
}

/// Which step an [`ApplyObserver`] hears of.
#[derive(Clone, Debug)]
pub struct StepInfo {
    /// The resource.
    pub name: String,
    /// Its type.
    pub type_name: String,
    /// What the step does.
    pub kind: StepKind,
}

impl std::fmt::Debug for dyn ApplyObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApplyObserver")
    }
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            parallelism: 10,
            journal_ahead: DEFAULT_JOURNAL_AHEAD,
            retry: RetryPolicy::default(),
            run_id: crate::state::new_id(),
            observer: None,
            handovers: std::collections::HashMap::new(),
            channel: None,
            guard: None,
        }
    }
}

/// Carries out `plan` on top of `state` (the state the plan was made from,
/// as the journal's writer holds it), journaling every step.
///
/// Never returns early: every step ends done, failed or skipped, and the
/// report says which. Outputs of finished steps are substituted into the
/// inputs of their dependents as those start.
pub async fn execute(
    plan: &Plan,
    state: &State,
    providers: &Providers,
    journal: &Journal,
    options: &ApplyOptions,
) -> ApplyReport {
    let started = Instant::now();
    let graph = steps::build(plan, state);
    let n = graph.steps.len();
    let ctx = Arc::new(StepContext {
        stack: plan.stack.clone(),
        providers: providers.clone(),
        journal: journal.clone(),
        retry: options.retry,
        run_id: options.run_id.clone(),
        handovers: options.handovers.clone(),
        channel: options.channel.clone(),
        guard: options.guard.clone(),
        records: state
            .handovers
            .iter()
            .map(|(name, mark)| (name.clone(), mark.record.clone()))
            .collect(),
    });

    // Outputs as known now; finished steps overwrite them.
    let mut live = LiveOutputs::new(plan, &graph, state);

    let mut waiting: Vec<usize> = (0..n).map(|i| graph.deps.predecessors(i).count()).collect();
    // Ready steps start longest expected remaining time first (critical-path
    // list scheduling); ties go in plan order.
    let ahead = graph
        .deps
        .longest_paths(expected_costs(plan, &graph, &state.timings, providers));
    let rank = |i: usize| (ahead[i], Reverse(i));
    let mut ready: BinaryHeap<(u64, Reverse<usize>)> =
        (0..n).filter(|&i| waiting[i] == 0).map(rank).collect();
    let mut status: Vec<Option<StepStatus>> = vec![None; n];
    let mut elapsed = vec![std::time::Duration::ZERO; n];
    let mut running: JoinSet<(usize, StepOutput)> = JoinSet::new();
    let parallelism = options.parallelism.max(1);
    let under_way = options.journal_ahead.max(parallelism);
    let (asks, mut asked) = tokio::sync::mpsc::unbounded_channel();
    let mut turns = turns::Turns::new(n, parallelism);
    // Whether the observer heard of a step's start (at its turn, or as it
    // ends when it needed no provider call).
    let mut announced = vec![false; n];
    // Each running step's turn, until the executor takes its end.
    let mut taken: Vec<Option<turns::Turn>> = (0..n).map(|_| None).collect();
    let mut just_taken: Vec<turns::Turn> = Vec::new();
    let info = |i: usize| {
        let c = &plan.changes[graph.steps[i].change];
        StepInfo {
            name: c.name.to_string(),
            type_name: c.type_name.to_string(),
            kind: graph.steps[i].kind,
        }
    };
    let observe_end = |i: usize, status: &StepStatus, elapsed: std::time::Duration| {
        if let Some(o) = &options.observer {
            o.finished(&info(i), status, elapsed);
        }
    };

    'run: loop {
        while running.len() < under_way {
            let Some((_, Reverse(i))) = ready.pop() else {
                break;
            };
            let step = &graph.steps[i];
            let change = &plan.changes[step.change];
            let prepared = step::prepare(step, change, &live, state);
            if steps::reads_inputs(step.kind) {
                live.read_by(&change.dependencies);
            }
            match prepared {
                Ok(prepared) => {
                    turns.started(i, rank(i));
                    let ctx = ctx.clone();
                    let turn = turns::Turn::new(i, asks.clone(), journal);
                    taken[i] = Some(turn.clone());
                    // The runtime's clock (virtual on a paused test clock).
                    let t0 = tokio::time::Instant::now();
                    running.spawn(async move {
                        let out = turn.clone().scope(step::run(ctx, prepared)).await;
                        turn.ended();
                        // Timed from its turn at the provider, when it had one.
                        let from = turn.granted().unwrap_or(t0);
                        (
                            i,
                            StepOutput {
                                elapsed: from.elapsed(),
                                ..out
                            },
                        )
                    });
                }
                Err(message) => {
                    let failed = StepStatus::Failed {
                        error: message,
                        retryable: false,
                    };
                    observe_end(i, &failed, std::time::Duration::ZERO);
                    status[i] = Some(failed);
                    for s in skip_dependents(plan, &graph, i, &mut status) {
                        observe_end(
                            s,
                            status[s].as_ref().unwrap_or(&StepStatus::Done),
                            std::time::Duration::ZERO,
                        );
                    }
                }
            }
        }
        for turn in just_taken.drain(..) {
            turn.taken();
        }
        for i in turns.grant() {
            announced[i] = true;
            if let Some(o) = &options.observer {
                o.started(&info(i));
            }
        }
        let joined = tokio::select! {
            // Asks first: a step that asked is never left waiting behind a
            // join that could have let it go.
            biased;
            Some(ask) = asked.recv() => {
                // And whoever else asked meanwhile: the slots go by rank
                // among all of them.
                let mut next = Some(ask);
                while let Some(ask) = next {
                    match ask {
                        turns::Ask::Turn(i, go) => turns.asked(i, go),
                        turns::Ask::Done(i) => {
                            turns.ended(i);
                        }
                    }
                    next = asked.try_recv().ok();
                }
                continue;
            }
            joined = running.join_next() => joined,
        };
        // Every step that has ended by now, not one a turn of the loop:
        // what they readied starts together, and their slots are free.
        let mut joined = joined;
        loop {
            let Some(next) = joined else {
                break 'run;
            };
            // Step tasks catch panics themselves; a JoinError here means
            // the runtime is shutting down.
            let Ok((i, out)) = next else { break 'run };
            turns.ended(i);
            // Released once the steps it readied have started (and announced
            // their intents), so the journal never sees a gap between.
            if let Some(turn) = taken[i].take() {
                just_taken.push(turn);
            }
            if !std::mem::replace(&mut announced[i], true) {
                if let Some(o) = &options.observer {
                    o.started(&info(i));
                }
            }
            elapsed[i] = out.elapsed;
            match out.result {
                Ok(outputs) => {
                    if let Some(outputs) = outputs {
                        live.set(&plan.changes[graph.steps[i].change].name, outputs);
                    }
                    observe_end(i, &StepStatus::Done, out.elapsed);
                    status[i] = Some(StepStatus::Done);
                    for s in graph.deps.successors(i) {
                        waiting[s] -= 1;
                        if waiting[s] == 0 && status[s].is_none() {
                            ready.push(rank(s));
                        }
                    }
                }
                Err(e) => {
                    let failed = StepStatus::Failed {
                        error: e.message,
                        retryable: e.retryable,
                    };
                    observe_end(i, &failed, out.elapsed);
                    status[i] = Some(failed);
                    for s in skip_dependents(plan, &graph, i, &mut status) {
                        observe_end(
                            s,
                            status[s].as_ref().unwrap_or(&StepStatus::Done),
                            std::time::Duration::ZERO,
                        );
                    }
                }
            }
            joined = running.try_join_next();
            if joined.is_none() {
                break;
            }
        }
    }

    // Exports: resolved from what is known now; a reference to an output
    // that is not known (its resource failed) leaves that export out.
    let mut outputs = BTreeMap::new();
    for (name, value) in &plan.exports {
        let resolved = value.resolve_refs(&mut |r| {
            live.get(&r.resource)
                .and_then(|o| o.get(&r.field))
                .cloned()
                .ok_or(None)
        });
        match resolved {
            Ok(v) => {
                outputs.insert(name.clone(), v);
            }
            Err(Some(e)) => tracing::warn!("export {name:?} left out: {e}"),
            Err(None) => {}
        }
    }
    let learned = learn(plan, &graph, &status, &elapsed, &state.timings);
    if learned != state.timings {
        journal.record(Entry::Timings { timings: learned });
    }

    let targeted = !plan.targets.is_empty();
    if targeted {
        outputs.clone_from(&state.outputs);
    } else if outputs != state.outputs && !plan.destroy {
        journal.record(Entry::Outputs {
            outputs: outputs.clone(),
        });
    }
    if plan.destroy && !state.outputs.is_empty() {
        journal.record(Entry::Outputs {
            outputs: BTreeMap::new(),
        });
        outputs.clear();
    }
    let succeeded = status.iter().all(|s| matches!(s, Some(StepStatus::Done)));
    if let Some(reads) = reads_to_record(plan, state, succeeded) {
        journal.record(Entry::Reads { reads });
    }

    let steps = graph
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let c = &plan.changes[s.change];
            StepReport {
                name: c.name.to_string(),
                type_name: c.type_name.to_string(),
                kind: s.kind,
                // Only an ordering cycle between steps leaves one unstarted;
                // say so rather than pretend it was skipped.
                status: status[i].clone().unwrap_or(StepStatus::Failed {
                    error: "not started: it waits on steps that wait on it (an ordering cycle in the engine)".into(),
                    retryable: false,
                }),
                elapsed: elapsed[i],
                location: c.location.as_deref().cloned(),
            }
        })
        .collect();
    ApplyReport {
        stack: plan.stack.clone(),
        steps,
        outputs,
        elapsed: started.elapsed(),
        pending_resolved: Vec::new(),
    }
}

/// The provider call a step of this kind makes, when its duration is
/// learned.
fn call_kind(kind: StepKind) -> Option<CallKind> {
    match kind {
        StepKind::Create | StepKind::CreateReplacement => Some(CallKind::Create),
        StepKind::Update => Some(CallKind::Update),
        StepKind::Delete | StepKind::DeleteReplaced | StepKind::DeleteDeposed => {
            Some(CallKind::Delete)
        }
        // A re-check may or may not update; an import reads; a record and a
        // forget call nothing.
        StepKind::Recheck | StepKind::Import | StepKind::Record | StepKind::Forget => None,
    }
}

/// Each step's expected duration in microseconds, for ordering: what was
/// learned of its kind of call on its type, else what its provider expects
/// of such a call ([`Provider::expected_duration`]), else the typical known
/// call (the mean of the learned means, or while nothing is learned, of the
/// provider priors of the plan's types); a state-only step counts next to
/// nothing. Knowing nothing at all, every step counts 1, and the longest
/// path ahead of a step is counted in steps.
///
/// [`Provider::expected_duration`]: crate::provider::Provider::expected_duration
fn expected_costs<'a>(
    plan: &'a Plan,
    graph: &'a steps::StepGraph,
    timings: &'a Timings,
    providers: &Providers,
) -> impl Fn(usize) -> u64 + 'a {
    let micros = |d: std::time::Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
    // Asked once per type and kind of call the plan has, not per step.
    let mut priors: HashMap<(&str, CallKind), u64> = HashMap::new();
    for step in &graph.steps {
        let change = &plan.changes[step.change];
        let Some(kind) = call_kind(step.kind) else {
            continue;
        };
        let key = (change.type_name.as_str(), kind);
        if priors.contains_key(&key) || timings.get(key.0, kind).is_some() {
            continue;
        }
        let prior = providers
            .for_instance(
                &change.name,
                &change.type_name,
                change.flags.provider.as_deref(),
                None,
            )
            .ok()
            .and_then(|p| p.expected_duration(&change.type_name, kind));
        if let Some(prior) = prior {
            priors.insert(key, micros(prior));
        }
    }
    let typical = timings.typical().map(micros).or_else(|| {
        let n = priors.len() as u64;
        priors.values().sum::<u64>().checked_div(n)
    });
    move |i: usize| {
        let Some(typical) = typical else { return 1 };
        let step = &graph.steps[i];
        let type_name = plan.changes[step.change].type_name.as_str();
        match step.kind {
            StepKind::Record | StepKind::Forget => 1,
            kind => call_kind(kind)
                .and_then(|k| {
                    timings
                        .get(type_name, k)
                        .map(|t| t.mean_us.max(1))
                        .or_else(|| priors.get(&(type_name, k)).copied())
                })
                .unwrap_or(typical),
        }
    }
}

/// `timings` with what this run's finished provider calls took. Steps of a
/// change that is handed over are left out: their time is the hook's, not
/// the call's.
fn learn(
    plan: &Plan,
    graph: &steps::StepGraph,
    status: &[Option<StepStatus>],
    elapsed: &[std::time::Duration],
    timings: &Timings,
) -> Timings {
    let mut runs: BTreeMap<(&str, CallKind), (std::time::Duration, u32)> = BTreeMap::new();
    for (i, step) in graph.steps.iter().enumerate() {
        let change = &plan.changes[step.change];
        let Some(kind) = call_kind(step.kind) else {
            continue;
        };
        if !matches!(status[i], Some(StepStatus::Done)) || change.flags.handover.is_some() {
            continue;
        }
        let run = runs.entry((&change.type_name, kind)).or_default();
        run.0 += elapsed[i];
        run.1 += 1;
    }
    let mut learned = timings.clone();
    for ((type_name, kind), (total, calls)) in runs {
        learned.learn(type_name, kind, total, calls);
    }
    learned
}

/// Marks every step that waits (transitively) on `failed` as skipped;
/// returns them.
fn skip_dependents(
    plan: &Plan,
    graph: &steps::StepGraph,
    failed: usize,
    status: &mut [Option<StepStatus>],
) -> Vec<usize> {
    let step = &graph.steps[failed];
    let because = format!("{} {}", step.kind.as_str(), plan.changes[step.change].name);
    let mut stack: Vec<usize> = graph.deps.successors(failed).collect();
    let mut skipped = Vec::new();
    while let Some(s) = stack.pop() {
        if status[s].is_some() {
            continue;
        }
        status[s] = Some(StepStatus::Skipped {
            because: because.clone(),
        });
        skipped.push(s);
        stack.extend(graph.deps.successors(s));
    }
    skipped
}

/// The data-source reads to record after applying `plan` to `state`, when
/// they differ from the recorded ones: those the plan read, after an
/// untargeted `up` whose steps all `succeeded` (a read no longer declared
/// is dropped); none after `destroy`. A failed or targeted run leaves the
/// recorded reads as they were, so the next preview still shows how an
/// answer changed; so does a plan that carries no answers (saved by a
/// dafnck from before reads were recorded).
fn reads_to_record(
    plan: &Plan,
    state: &State,
    succeeded: bool,
) -> Option<BTreeMap<String, crate::state::ReadState>> {
    let reads = if plan.destroy {
        BTreeMap::new()
    } else if succeeded && plan.targets.is_empty() {
        let read: Option<Vec<_>> = plan
            .reads
            .iter()
            .filter(|r| r.kind == crate::lookup::ReadKind::Data)
            .map(|r| r.record.clone())
            .collect();
        crate::state::reads::carry_times(&state.reads, read?)
    } else {
        return None;
    };
    (reads != state.reads).then_some(reads)
}
