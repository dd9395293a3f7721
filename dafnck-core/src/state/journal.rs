//! [`Journal`]: the one writer of a stack's journal during a run.
//!
//! Every step sends its records here. A single task numbers them, applies
//! them to the run's copy of the state (so the state is always what replaying
//! the journal gives), and hands them to the store in batches: whatever
//! queued up while the previous batch was being made durable goes out in one
//! `append`, so concurrent steps share one fsync (group commit). Before an
//! append it lets the other tasks run while more records keep coming or are
//! announced ([`Journal::expect`]: steps just started, about to journal
//! their intents), for at most 200 µs. A batch nobody waits on (results,
//! sent with [`Journal::record`]) is not appended on its own: it goes with
//! the next batch someone waits on, or after 5 ms without one — which is
//! all `record` ever promised (durable once a later `write` or `flush`
//! returns).
//!
//! During a long run it also compacts, so the journal stays about as long
//! as the snapshot: after the batch following the one in which the records
//! since the last compaction reached `compact_every` *and* twice the
//! resources the last snapshot held (one batch later, so a compaction that
//! falls due as a run ends is not done just before the end's own). The
//! snapshots written so grow geometrically, so a run of N records writes
//! O(N) snapshot bytes in all (a fixed period would write O(N²)), and
//! replaying the journal after a crash costs about what loading the
//! snapshot does.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::model::now_millis;
use super::{Entry, Record, State, StateError, StateStore};

// Nearly every message is an `Append`; boxing its entry would cost an
// allocation per record to shrink the rare `Flush` and `Stop`.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Append {
        entry: Entry,
        reply: Option<oneshot::Sender<Result<u64, String>>>,
    },
    Flush(oneshot::Sender<Result<(), String>>),
    /// Ends the writer once everything before it is written (the reply
    /// says whether it was); records sent after it are refused.
    Stop(oneshot::Sender<Result<(), String>>),
}

/// A cheap handle to the journal writer; clones share it.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::UnboundedSender<Msg>,
    backend: Arc<str>,
    /// Records announced with [`Journal::expect`] and not yet sent: a batch
    /// someone waits on waits a little for them, to share its fsync.
    coming: Arc<AtomicUsize>,
}

/// The writer task; [`JournalTask::finish`] stops it and returns the state.
pub struct JournalTask {
    handle: JoinHandle<Written>,
    journal: Journal,
    store: Arc<dyn StateStore>,
    stack: String,
}

/// What the writer leaves: the state, its first failure, and the serial of
/// the last snapshot it compacted (if it did).
struct Written {
    state: State,
    failed: Option<String>,
    compacted: Option<u64>,
}

/// The fewest records between two compactions during a run (more once the
/// state is large: see the module's documentation); a run's end compacts
/// too.
pub const DEFAULT_COMPACT_EVERY: u64 = 50_000;

impl Journal {
    /// Starts the writer for `stack`, whose current state is `state`.
    /// Must be called within a tokio runtime.
    pub fn start(store: Arc<dyn StateStore>, stack: &str, state: State) -> (Journal, JournalTask) {
        Journal::start_with(store, stack, state, DEFAULT_COMPACT_EVERY)
    }

    /// Like [`Journal::start`], compacting every `compact_every` records.
    pub fn start_with(
        store: Arc<dyn StateStore>,
        stack: &str,
        state: State,
        compact_every: u64,
    ) -> (Journal, JournalTask) {
        let (tx, rx) = mpsc::unbounded_channel();
        let coming = Arc::new(AtomicUsize::new(0));
        let journal = Journal {
            tx,
            backend: store.describe().into(),
            coming: coming.clone(),
        };
        let handle = tokio::spawn(writer(
            store.clone(),
            stack.to_owned(),
            state,
            rx,
            coming,
            compact_every.max(1),
        ));
        (
            journal.clone(),
            JournalTask {
                handle,
                journal,
                store,
                stack: stack.to_owned(),
            },
        )
    }

    fn error(&self, message: String) -> StateError {
        StateError::Backend {
            backend: self.backend.to_string(),
            message,
        }
    }

    /// Appends `entry` and waits until it is durable; returns its `seq`.
    ///
    /// # Errors
    /// When the store failed (now or earlier in the run): the journal stops
    /// accepting records after its first failure.
    pub async fn write(&self, entry: Entry) -> Result<u64, StateError> {
        self.send(entry)?.await
    }

    /// Sends `entry` now; the future it returns waits until it is durable
    /// and gives its `seq` (what [`Journal::write`] does in one).
    pub(crate) fn send(
        &self,
        entry: Entry,
    ) -> Result<impl std::future::Future<Output = Result<u64, StateError>> + '_, StateError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Append {
                entry,
                reply: Some(reply),
            })
            .map_err(|_| self.error("the journal writer has stopped".into()))?;
        Ok(async move {
            rx.await
                .map_err(|_| self.error("the journal writer has stopped".into()))?
                .map_err(|m| self.error(m))
        })
    }

    /// Announces a record that is about to be sent (a step that started
    /// and will journal its intent within microseconds): an fsync about to
    /// start waits briefly for it, so steps started together share one.
    /// Each call is matched by one [`Journal::arrived`].
    pub(crate) fn expect(&self) {
        self.coming.fetch_add(1, Ordering::AcqRel);
    }

    /// The record announced by [`Journal::expect`] was sent (or will not be).
    pub(crate) fn arrived(&self) {
        self.coming.fetch_sub(1, Ordering::AcqRel);
    }

    /// Queues `entry`; it is durable once a later [`Journal::write`] or
    /// [`Journal::flush`] returns. Records keep their order.
    pub fn record(&self, entry: Entry) {
        // A send error means the writer stopped; the next write or flush reports it.
        let _ = self.tx.send(Msg::Append { entry, reply: None });
    }

    /// Waits until everything queued so far is durable.
    ///
    /// # Errors
    /// As [`Journal::write`].
    pub async fn flush(&self) -> Result<(), StateError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Flush(reply))
            .map_err(|_| self.error("the journal writer has stopped".into()))?;
        rx.await
            .map_err(|_| self.error("the journal writer has stopped".into()))?
            .map_err(|m| self.error(m))
    }
}

impl JournalTask {
    /// Makes everything durable, stops the writer and returns the run's
    /// final state (what replaying the journal gives).
    ///
    /// # Errors
    /// The first store failure of the run, if any.
    pub async fn finish(self) -> Result<State, StateError> {
        self.stop().await.map(|(state, _)| state)
    }

    /// Like [`JournalTask::finish`], then compacts the final state into the
    /// store's snapshot, unless the writer's last compaction already wrote
    /// exactly that state (a run's end: the snapshot is never written twice
    /// in a row).
    ///
    /// # Errors
    /// As [`JournalTask::finish`], and the store's compaction error.
    pub async fn finish_compacting(self) -> Result<State, StateError> {
        let (store, stack) = (self.store.clone(), self.stack.clone());
        let (state, compacted) = self.stop().await?;
        if compacted != Some(state.serial) {
            store.compact(&stack, &state).await?;
        }
        Ok(state)
    }

    async fn stop(self) -> Result<(State, Option<u64>), StateError> {
        let JournalTask {
            handle, journal, ..
        } = self;
        let (reply, rx) = oneshot::channel();
        let stopped = match journal.tx.send(Msg::Stop(reply)) {
            Ok(()) => rx.await.unwrap_or(Ok(())),
            Err(_) => Ok(()),
        };
        let written = handle.await.map_err(|e| StateError::Backend {
            backend: "journal".into(),
            message: format!("the journal writer panicked: {e}"),
        })?;
        stopped.map_err(|m| journal.error(m))?;
        match written.failed {
            Some(message) => Err(StateError::Backend {
                backend: "journal".into(),
                message,
            }),
            None => Ok((written.state, written.compacted)),
        }
    }
}

async fn writer(
    store: Arc<dyn StateStore>,
    stack: String,
    mut state: State,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    coming: Arc<AtomicUsize>,
    compact_every: u64,
) -> Written {
    let mut out = Out {
        store: &*store,
        stack: &stack,
        failed: None,
        compaction: Compaction {
            every: compact_every,
            since: 0,
            grown_to: 2 * state.resources.len() as u64,
            due: false,
            done: None,
        },
    };
    let mut stopping = false;
    // Records applied to the state but not yet handed to the store: a
    // batch in which nobody waits (results, recorded with `record`) is kept
    // until a later batch needs an fsync anyway, or `DEFER` passes.
    let mut deferred: Vec<Record> = Vec::new();
    loop {
        let first = if deferred.is_empty() {
            rx.recv().await
        } else {
            match tokio::time::timeout(DEFER, rx.recv()).await {
                Ok(m) => m,
                Err(_) => {
                    let records = std::mem::take(&mut deferred);
                    out.append(&state, records, stopping).await;
                    continue;
                }
            }
        };
        let Some(first) = first else {
            break;
        };
        // Let the tasks that are ready run first (the steps the last batch's
        // replies woke): their records join this batch instead of each
        // waiting for a batch and an fsync of its own. It costs a trip
        // through the scheduler, microseconds, against an fsync per batch.
        // Steps started together send their records microseconds apart:
        // keep taking while more come, or more are announced (`expect`).
        let mut waited_on = !matches!(first, Msg::Append { reply: None, .. });
        let mut batch = vec![first];
        let gathering = std::time::Instant::now();
        while gathering.elapsed() < MAX_GATHER {
            tokio::task::yield_now().await;
            let before = batch.len();
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            // Only a batch someone waits on waits for announced records.
            waited_on = waited_on
                || batch[before..]
                    .iter()
                    .any(|m| !matches!(m, Msg::Append { reply: None, .. }));
            let quiet =
                batch.len() == before && (!waited_on || coming.load(Ordering::Acquire) == 0);
            if quiet || batch.len() >= MAX_BATCH {
                break;
            }
        }
        let mut replies = Vec::new();
        let mut flushes = Vec::new();
        for msg in batch {
            match msg {
                Msg::Stop(reply) => {
                    stopping = true;
                    flushes.push(reply);
                }
                Msg::Flush(reply) => flushes.push(reply),
                Msg::Append { entry, reply } => {
                    if stopping {
                        if let Some(r) = reply {
                            let _ = r.send(Err("the journal was closed".into()));
                        }
                        continue;
                    }
                    if out.failed.is_some() {
                        if let Some(r) = reply {
                            replies.push((r, 0));
                        }
                        continue;
                    }
                    let record = Record {
                        seq: state.serial + 1,
                        at: now_millis(),
                        entry,
                    };
                    if let Err(e) = state.apply(&record) {
                        // An engine bug: refuse to write a record that does not fit.
                        out.failed = Some(format!("refusing an inconsistent journal record: {e}"));
                        if let Some(r) = reply {
                            replies.push((r, 0));
                        }
                        continue;
                    }
                    if let Some(r) = reply {
                        replies.push((r, record.seq));
                    }
                    deferred.push(record);
                }
            }
        }
        if !replies.is_empty() || !flushes.is_empty() || stopping {
            let records = std::mem::take(&mut deferred);
            out.append(&state, records, stopping).await;
        }
        for (reply, seq) in replies {
            let _ = reply.send(match &out.failed {
                Some(m) => Err(m.clone()),
                None => Ok(seq),
            });
        }
        for reply in flushes {
            let _ = reply.send(match &out.failed {
                Some(m) => Err(m.clone()),
                None => Ok(()),
            });
        }
        if stopping {
            break;
        }
    }
    if !deferred.is_empty() {
        // Every handle is gone without a stop: write what was recorded.
        out.append(&state, deferred, stopping).await;
    }
    Written {
        state,
        failed: out.failed,
        compacted: out.compaction.done,
    }
}

/// The most records one append takes.
const MAX_BATCH: usize = 8192;

/// How long the writer may gather one batch, letting other tasks run, as
/// long as each turn brings more records or more are announced.
const MAX_GATHER: std::time::Duration = std::time::Duration::from_micros(200);

/// How long records nobody waits for may stay unwritten when no other
/// record comes to share their fsync (a step's result, after its intent).
const DEFER: std::time::Duration = std::time::Duration::from_millis(5);

/// When the writer compacts during a run.
struct Compaction {
    /// The fewest records between two compactions.
    every: u64,
    /// Records appended since the last compaction.
    since: u64,
    /// Twice the resources of the last snapshot this run wrote (or found).
    grown_to: u64,
    /// The records since reached the threshold: compact after the next
    /// append, unless the run is stopping then (its end compacts anyway;
    /// compacting the batch before would write the snapshot twice).
    due: bool,
    /// The serial of the last snapshot this run wrote.
    done: Option<u64>,
}

/// Where the writer's batches go, and what came of them.
struct Out<'a> {
    store: &'a dyn StateStore,
    stack: &'a str,
    /// The first failure; nothing is written after it.
    failed: Option<String>,
    compaction: Compaction,
}

impl Out<'_> {
    /// Hands `records` (already applied to `state`) to the store in one
    /// append, and compacts when one is due.
    async fn append(&mut self, state: &State, records: Vec<Record>, stopping: bool) {
        if self.failed.is_some() || records.is_empty() {
            return;
        }
        let compaction = &mut self.compaction;
        compaction.since += records.len() as u64;
        tracing::trace!(records = records.len(), "journal: appending a batch");
        if let Err(e) = self.store.append(self.stack, &records).await {
            self.failed = Some(e.to_string());
            return;
        }
        if !compaction.due {
            compaction.due = compaction.since >= compaction.every.max(compaction.grown_to);
            return;
        }
        if stopping {
            return;
        }
        tracing::debug!(serial = state.serial, "journal: compacting during the run");
        match self.store.compact(self.stack, state).await {
            Ok(()) => {
                compaction.since = 0;
                compaction.due = false;
                compaction.done = Some(state.serial);
                compaction.grown_to = 2 * state.resources.len() as u64;
            }
            Err(e) => self.failed = Some(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::state::{
        ControlChannel, MemoryStore, ResourceState, StateHistory, StateLock, Stored,
    };
    use crate::value::Value;

    /// A memory store that remembers the serial of every compaction.
    #[derive(Default)]
    struct Counting {
        inner: MemoryStore,
        compacted: Mutex<Vec<(u64, usize)>>,
    }

    #[async_trait]
    impl StateStore for Counting {
        fn describe(&self) -> String {
            "counting".into()
        }
        async fn read(&self, stack: &str) -> Result<Stored, StateError> {
            self.inner.read(stack).await
        }
        async fn append(&self, stack: &str, records: &[Record]) -> Result<(), StateError> {
            self.inner.append(stack, records).await
        }
        async fn compact(&self, stack: &str, snapshot: &State) -> Result<(), StateError> {
            self.compacted
                .lock()
                .unwrap()
                .push((snapshot.serial, snapshot.resources.len()));
            self.inner.compact(stack, snapshot).await
        }
        fn locks(&self) -> Option<&dyn StateLock> {
            None
        }
        fn history(&self) -> Option<&dyn StateHistory> {
            None
        }
        fn channel(&self) -> Option<&dyn ControlChannel> {
            None
        }
    }

    fn put(name: String) -> Entry {
        Entry::Put {
            resource: ResourceState {
                name: name.clone(),
                type_name: "fake:t:T".into(),
                id: format!("{name}-id"),
                inputs: Value::Map(crate::value::ValueMap::new()),
                outputs: Value::Null,
                dependencies: vec![],
                protect: false,
                retain_on_delete: false,
                location: None,
                provider: None,
            },
        }
    }

    #[tokio::test]
    async fn compactions_during_a_run_grow_geometrically_and_the_end_is_not_compacted_twice() {
        let store = Arc::new(Counting::default());
        let (journal, task) = Journal::start_with(store.clone(), "dev", State::empty("dev"), 10);
        for i in 0..1_000 {
            // One record a batch: the writer decides after every append.
            journal.write(put(format!("r{i}"))).await.unwrap();
        }
        drop(journal);
        let state = task.finish_compacting().await.unwrap();
        assert_eq!(state.resources.len(), 1_000);
        let compacted = store.compacted.lock().unwrap().clone();
        // The batch after the records since reach 10, then twice the
        // resources of the last snapshot: 11, 34, 103, 310, 931; the end.
        let serials: Vec<u64> = compacted.iter().map(|c| c.0).collect();
        assert_eq!(serials, vec![11, 34, 103, 310, 931, 1_000]);
        let written: usize = compacted.iter().map(|c| c.1).sum();
        assert!(written < 3 * 1_000, "{written} resources written in all");
        assert_eq!(store.read("dev").await.unwrap().snapshot, Some(state));

        // A run whose compaction falls due in its last batch is compacted
        // once, at its end.
        let store = Arc::new(Counting::default());
        let (journal, task) = Journal::start_with(store.clone(), "dev", State::empty("dev"), 10);
        for i in 0..10 {
            journal.write(put(format!("r{i}"))).await.unwrap();
        }
        drop(journal);
        task.finish_compacting().await.unwrap();
        assert_eq!(*store.compacted.lock().unwrap(), vec![(10, 10)]);
    }
}
