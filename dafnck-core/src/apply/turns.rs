//! Turns at the provider: how steps share the `parallelism` call slots.
//!
//! A step journals its intent *before* it waits for a slot, so more steps
//! can be under way than there are slots (up to [`ApplyOptions::journal_ahead`]).
//! Their intents then share one group commit of the journal instead of
//! each waiting for an fsync of its own; with fast provider calls the
//! journal's fsyncs, not the calls, were what an apply waited on (one per
//! four steps at `parallelism` 10). A step's intent is still durable before
//! its provider call, so the crash contract is unchanged: an intent whose
//! step never got its turn is read back by its token on the next run, like
//! any intent without a result.
//!
//! The executor hands out the turns in priority order (longest expected
//! time ahead first), and keeps a free slot for each step of higher
//! priority still journaling its intent, so a step on the critical path
//! never waits behind one that merely journaled sooner.
//!
//! [`ApplyOptions::journal_ahead`]: super::ApplyOptions::journal_ahead

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use crate::state::Journal;

/// A step's priority: longest expected time ahead, then plan order.
pub(super) type Rank = (u64, Reverse<usize>);

/// What a step tells the executor about its turn.
pub(super) enum Ask {
    /// Step `.0` asks for a turn; `.1` is where to say "go".
    Turn(usize, oneshot::Sender<()>),
    /// Step `.0` is done with the provider (its task is ending): its slot
    /// is free before the executor gets to its end.
    Done(usize),
}

tokio::task_local! {
    static TURN: Turn;
}

/// One step's turn, as its task holds it.
#[derive(Clone)]
pub(super) struct Turn(Arc<TurnInner>);

struct TurnInner {
    step: usize,
    asks: mpsc::UnboundedSender<Ask>,
    /// Whether the journal expects a record of this step soon: from its
    /// start to its intent, and from its end until the executor took it.
    announced: AtomicBool,
    journal: Journal,
    /// When the turn was given; `None` while the step has not had one.
    granted: Mutex<Option<tokio::time::Instant>>,
}

impl Turn {
    /// The turn of step `step`, asked for through `asks`.
    /// The journal is told a record of the step is on its way.
    pub(super) fn new(step: usize, asks: mpsc::UnboundedSender<Ask>, journal: &Journal) -> Turn {
        journal.expect();
        Turn(Arc::new(TurnInner {
            step,
            asks,
            announced: AtomicBool::new(true),
            journal: journal.clone(),
            granted: Mutex::new(None),
        }))
    }

    /// The step's task ended: its slot (if it had one) is free, and the
    /// executor is about to take it (and start what waited on it), so the
    /// journal expects records again.
    pub(super) fn ended(&self) {
        if self.granted().is_some() {
            let _ = self.0.asks.send(Ask::Done(self.0.step));
        }
        if !self.0.announced.swap(true, Ordering::AcqRel) {
            self.0.journal.expect();
        }
    }

    /// The executor took the ended step.
    pub(super) fn taken(&self) {
        if self.0.announced.swap(false, Ordering::AcqRel) {
            self.0.journal.arrived();
        }
    }

    /// Runs `step` with this turn as its task's.
    pub(super) async fn scope<F: std::future::Future>(self, step: F) -> F::Output {
        TURN.scope(self, step).await
    }

    /// When the step got its turn, if it asked for one.
    pub(super) fn granted(&self) -> Option<tokio::time::Instant> {
        *self.0.granted.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running step sent its intent: the journal no longer waits for it.
pub(crate) fn sent() {
    let _ = TURN.try_with(|turn| {
        if turn.0.announced.swap(false, Ordering::AcqRel) {
            turn.0.journal.arrived();
        }
    });
}

/// Waits for the running step's turn at its provider; returns at once when
/// the step holds it already, or runs outside the executor (a handover's
/// reset after a crash has no executor to ask).
///
/// Call it after the step's intent is durable and before its provider call.
pub(crate) async fn take() {
    let Ok(turn) = TURN.try_with(Turn::clone) else {
        return;
    };
    if turn.granted().is_some() {
        return;
    }
    let (tx, rx) = oneshot::channel();
    if turn.0.asks.send(Ask::Turn(turn.0.step, tx)).is_ok() {
        // A closed channel means the executor is gone: nothing to wait for.
        let _ = rx.await;
    }
    *turn.0.granted.lock().unwrap_or_else(|e| e.into_inner()) = Some(tokio::time::Instant::now());
}

/// The executor's side: who is journaling, who asks, who holds a slot.
pub(super) struct Turns {
    slots: usize,
    holding: usize,
    /// Steps started that have neither asked nor ended, by rank.
    journaling: BTreeSet<Rank>,
    /// Steps waiting for a slot, best first.
    asking: BinaryHeap<Rank>,
    waiting: Vec<Option<oneshot::Sender<()>>>,
    held: Vec<bool>,
    ranks: Vec<Rank>,
}

impl Turns {
    /// Turns for `steps` steps, at most `slots` held at once.
    pub(super) fn new(steps: usize, slots: usize) -> Turns {
        Turns {
            slots: slots.max(1),
            holding: 0,
            journaling: BTreeSet::new(),
            asking: BinaryHeap::new(),
            waiting: (0..steps).map(|_| None).collect(),
            held: vec![false; steps],
            ranks: vec![(0, Reverse(0)); steps],
        }
    }

    /// Step `i`, of rank `rank`, started.
    pub(super) fn started(&mut self, i: usize, rank: Rank) {
        self.ranks[i] = rank;
        self.journaling.insert(rank);
    }

    /// Step `i` asks for a slot.
    pub(super) fn asked(&mut self, i: usize, go: oneshot::Sender<()>) {
        self.journaling.remove(&self.ranks[i]);
        self.waiting[i] = Some(go);
        self.asking.push(self.ranks[i]);
    }

    /// Step `i` is done with its slot (said so, or ended); whether it had
    /// held one until now.
    pub(super) fn ended(&mut self, i: usize) -> bool {
        self.journaling.remove(&self.ranks[i]);
        let held = std::mem::take(&mut self.held[i]);
        if held {
            self.holding -= 1;
        }
        held
    }

    /// Gives free slots to the best askers, keeping one for each step of
    /// higher rank that is still journaling (it asks within one group
    /// commit); returns the steps given one, in order.
    pub(super) fn grant(&mut self) -> Vec<usize> {
        let mut granted = Vec::new();
        while self.holding < self.slots {
            let Some(&best) = self.asking.peek() else {
                break;
            };
            // Steps of higher rank still journaling will ask within one
            // group commit: keep a slot for each of them.
            let above = self
                .journaling
                .range((Bound::Excluded(best), Bound::Unbounded))
                .count();
            if self.holding + above >= self.slots {
                break;
            }
            self.asking.pop();
            let Reverse(i) = best.1;
            if let Some(go) = self.waiting[i].take() {
                // A step whose task is gone cannot hold its slot.
                if go.send(()).is_ok() {
                    self.held[i] = true;
                    self.holding += 1;
                    granted.push(i);
                }
            }
        }
        granted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rank(cost: u64, i: usize) -> Rank {
        (cost, Reverse(i))
    }

    #[test]
    fn slots_go_to_the_best_asker_and_wait_for_a_better_step_still_journaling() {
        let mut turns = Turns::new(4, 1);
        for (i, cost) in [(0, 1), (1, 5), (2, 3), (3, 9)] {
            turns.started(i, rank(cost, i));
        }
        let mut rx = Vec::new();
        for i in [0, 2] {
            let (tx, r) = oneshot::channel();
            turns.asked(i, tx);
            rx.push(r);
        }
        // Steps 1 and 3 (costs 5 and 9) still journal: nothing is given.
        assert!(turns.grant().is_empty());
        let (tx3, _rx3) = oneshot::channel();
        turns.asked(3, tx3);
        // Step 3 is the best; step 1 journals but ranks below it.
        assert_eq!(turns.grant(), vec![3]);
        // One slot: nobody else until step 3 ends.
        let (tx1, _rx1) = oneshot::channel();
        turns.asked(1, tx1);
        assert!(turns.grant().is_empty());
        assert!(turns.ended(3));
        assert_eq!(turns.grant(), vec![1]);
        assert!(turns.ended(1));
        assert_eq!(turns.grant(), vec![2]);
        assert!(turns.ended(2));
        assert_eq!(turns.grant(), vec![0]);
        assert!(turns.ended(0));
        assert!(turns.grant().is_empty());
    }

    #[test]
    fn a_step_that_ends_without_asking_stops_holding_back_the_others() {
        let mut turns = Turns::new(2, 1);
        turns.started(0, rank(1, 0));
        turns.started(1, rank(7, 1));
        let (tx, _rx) = oneshot::channel();
        turns.asked(0, tx);
        assert!(turns.grant().is_empty());
        // Step 1 needed no provider call (a state-only step).
        assert!(!turns.ended(1));
        assert_eq!(turns.grant(), vec![0]);
    }

    #[test]
    fn a_free_slot_is_given_when_one_is_left_for_each_better_step_journaling() {
        let mut turns = Turns::new(3, 2);
        turns.started(0, rank(1, 0));
        turns.started(1, rank(7, 1));
        turns.started(2, rank(4, 2));
        let (tx, _rx) = oneshot::channel();
        turns.asked(0, tx);
        // Steps 1 and 2 journal and rank above step 0: two slots for them.
        assert!(turns.grant().is_empty());
        let (tx, _rx2) = oneshot::channel();
        turns.asked(2, tx);
        // Step 2 goes; step 0 still waits, as step 1 needs the other slot.
        assert_eq!(turns.grant(), vec![2]);
        assert!(turns.ended(2));
        // Now one slot is left for step 1 and one for step 0.
        assert_eq!(turns.grant(), vec![0]);
    }

    #[tokio::test]
    async fn take_is_a_no_op_outside_the_executor_and_once_held() {
        // No task-local turn: returns at once.
        take().await;
        let (journal, _task) = Journal::start(
            Arc::new(crate::state::MemoryStore::default()),
            "dev",
            crate::state::State::empty("dev"),
        );
        let (tx, mut rx) = mpsc::unbounded_channel();
        let turn = Turn::new(3, tx, &journal);
        let probe = turn.clone();
        let task = tokio::spawn(turn.scope(async {
            take().await;
            // Held now: a second take does not ask again.
            take().await;
        }));
        let Some(Ask::Turn(step, go)) = rx.recv().await else {
            panic!("the step asks")
        };
        assert_eq!(step, 3);
        go.send(()).unwrap();
        task.await.unwrap();
        assert!(probe.granted().is_some());
        assert!(rx.try_recv().is_err(), "asked only once");
    }
}
