//! The conformance suite every [`StateStore`] must pass, capability by
//! capability.
//!
//! [`conformance`] runs [`check_state`] against a store, then the checks of
//! each capability the store says it has ([`check_lock`],
//! [`check_history`], [`check_channel`]), and returns which ran. Each check
//! is also a public function (`check_*`) so a store can run them one by
//! one, e.g. to skip the lease check on a backend whose clock is not the
//! machine's.
//! Checks use fresh stack names (`conformance-<check>-<random id>`), so they
//! can run against a store that already holds data, and against the same
//! store several times. A failing check panics with a message naming the
//! check and the store ([`StateStore::describe`]).
//!
//! The lease check waits about half a second of wall-clock time (leases are
//! measured with the system clock, not tokio's), on tokio's blocking pool
//! when it runs in a tokio runtime.
//!
//! # A new store
//!
//! Add a test that builds the store against a scratch location and runs the
//! suite:
//!
//! ```no_run
//! use dafnck_core::state::{testing, FileStore};
//!
//! # async fn example() {
//! // In a `#[tokio::test]` of the new store's crate:
//! let dir = std::env::temp_dir().join("my-store-conformance");
//! let store = FileStore::new(dir); // your store here
//! testing::conformance(&store).await;
//!
//! // Or one check at a time:
//! testing::check_lock_exclusive(&store).await;
//! # }
//! ```

use std::sync::atomic::{AtomicBool, Ordering};

use super::model::new_id;
use super::{load, Entry, State, StateStore, Stored};
use crate::value::Value;

/// Which capabilities [`conformance`] checked besides snapshot and journal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checked {
    /// [`StateLock`](super::StateLock): [`check_lock`] ran.
    pub lock: bool,
    /// [`StateHistory`](super::StateHistory): [`check_history`] ran.
    pub history: bool,
    /// [`ControlChannel`](super::ControlChannel): [`check_channel`] ran.
    pub channel: bool,
}

/// Runs the suite against `store`, capability by capability: snapshot and
/// journal ([`check_state`]) always, then each capability the store says
/// it has ([`check_lock`], [`check_history`], [`check_channel`]). Returns
/// which ran, so a store's test can assert it offers what it should.
///
/// # Panics
/// When a check fails, with a message naming the check and the store.
pub async fn conformance<S: StateStore>(store: &S) -> Checked {
    let store: &dyn StateStore = store;
    check_state(store).await;
    let checked = Checked {
        lock: store.locks().is_some(),
        history: store.history().is_some(),
        channel: store.channel().is_some(),
    };
    if checked.lock {
        check_lock(store).await;
    }
    if checked.history {
        check_history(store).await;
    }
    if checked.channel {
        check_channel(store).await;
    }
    checked
}

/// The checks every store must pass: snapshot and journal.
///
/// # Panics
/// When a check fails.
pub async fn check_state(store: &dyn StateStore) {
    check_empty_stack(store).await;
    check_append_read(store).await;
    check_compact(store).await;
    check_isolation(store).await;
    check_ordered_appends(store).await;
}

/// A stack that was never written reads as empty ([`Stored::default`]) and
/// loads as an empty [`State`].
///
/// # Panics
/// When the store does otherwise.
pub async fn check_empty_stack(store: &dyn StateStore) {
    let c = Check::new("empty-stack", store);
    let stack = c.stack();
    let stored = c.ok(store.read(&stack).await, "read of a never-written stack");
    c.eq(&stored, &Stored::default(), "read of a never-written stack");
    let state = c.ok(load(store, &stack).await, "load of a never-written stack");
    c.eq(
        &state,
        &State::empty(&stack),
        "load of a never-written stack",
    );
    if let Some(locks) = store.locks() {
        let lock = c.ok(
            locks.lock_info(&stack).await,
            "lock_info of a never-written stack",
        );
        c.eq(&lock, &None, "lock_info of a never-written stack");
    }
}

/// Appended records read back exactly and in order, across several appends,
/// including secrets, nested maps, references, unknowns and strings that
/// need escaping; an empty append changes nothing.
///
/// # Panics
/// When the store does otherwise.
pub async fn check_append_read(store: &dyn StateStore) {
    let c = Check::new("append-read", store);
    let stack = c.stack();
    let records = sample_journal(&stack);
    let mut appended = 0;
    for batch in [&records[..1], &records[1..5], &records[5..6], &records[6..]] {
        c.ok(store.append(&stack, batch).await, "append");
        appended += batch.len();
        let stored = c.ok(store.read(&stack).await, "read after append");
        c.eq(
            &stored,
            &Stored {
                snapshot: None,
                journal: records[..appended].to_vec(),
            },
            &format!("read after appending {appended} records"),
        );
    }
    c.ok(store.append(&stack, &[]).await, "append of no records");
    let stored = c.ok(store.read(&stack).await, "read after an empty append");
    c.eq(&stored.journal, &records, "read after an empty append");
    let secret = stored.journal.iter().find_map(|r| match &r.entry {
        Entry::Intent(i) => i.resource.inputs.get("password").cloned(),
        _ => None,
    });
    c.eq(
        &secret,
        &Some(Value::Secret(Box::new(Value::String("hunter2".into())))),
        "a secret input read back",
    );
    let state = c.ok(load(store, &stack).await, "load of the appended journal");
    c.eq(&state.serial, &(records.len() as u64), "serial after load");
    c.eq(
        &state
            .reads
            .get("image")
            .and_then(|r| r.answer.get("token").cloned()),
        &Some(Value::Secret(Box::new(Value::String("t0k".into())))),
        "a data source's secret answer read back",
    );
}

/// `compact(snapshot)` makes `read` return that snapshot and only the
/// records after it, and loading gives the same state as before.
///
/// # Panics
/// When the store does otherwise.
pub async fn check_compact(store: &dyn StateStore) {
    let c = Check::new("compact", store);
    let stack = c.stack();
    let mut records = sample_journal(&stack);
    c.ok(store.append(&stack, &records).await, "append");
    let before = c.ok(load(store, &stack).await, "load before compaction");

    let k = 9;
    let snapshot = c.ok(
        State::replay(
            &stack,
            Stored {
                snapshot: None,
                journal: records[..k].to_vec(),
            },
            "test",
        ),
        "replay of the first records",
    );
    c.eq(
        &snapshot.serial,
        &(k as u64),
        "serial of the snapshot to compact",
    );
    c.ok(store.compact(&stack, &snapshot).await, "compact");
    let stored = c.ok(store.read(&stack).await, "read after compaction");
    c.eq(
        &stored.snapshot.as_ref(),
        &Some(&snapshot),
        "snapshot after compaction",
    );
    c.eq(
        &stored.journal,
        &records[k..].to_vec(),
        "journal after compaction",
    );
    let after = c.ok(load(store, &stack).await, "load after compaction");
    c.eq(&after, &before, "state after compaction");

    // Appends continue after the snapshot; a full compaction empties the journal.
    let next = records.len() as u64 + 1;
    let more = vec![
        put(next, "late", Value::Int(1)),
        put(next + 1, "later", Value::Int(2)),
    ];
    c.ok(store.append(&stack, &more).await, "append after compaction");
    records.extend(more);
    let full = c.ok(
        load(store, &stack).await,
        "load after compaction and append",
    );
    c.eq(
        &full.serial,
        &(records.len() as u64),
        "serial after compaction and append",
    );
    let stored = c.ok(store.read(&stack).await, "read after compaction and append");
    c.eq(
        &stored.journal,
        &records[k..].to_vec(),
        "journal after compaction and append",
    );
    c.ok(store.compact(&stack, &full).await, "full compaction");
    let stored = c.ok(store.read(&stack).await, "read after full compaction");
    c.eq(
        &stored,
        &Stored {
            snapshot: Some(full.clone()),
            journal: vec![],
        },
        "read after full compaction",
    );
    c.eq(
        &c.ok(load(store, &stack).await, "load after full compaction"),
        &full,
        "state after full compaction",
    );

    // A stack that only ever had a snapshot.
    let fresh = c.stack();
    let mut empty = State::empty(&fresh);
    empty.lineage = new_id();
    c.ok(
        store.compact(&fresh, &empty).await,
        "compact of a never-written stack",
    );
    let stored = c.ok(
        store.read(&fresh).await,
        "read after compacting a never-written stack",
    );
    c.eq(
        &stored,
        &Stored {
            snapshot: Some(empty),
            journal: vec![],
        },
        "read after compacting a never-written stack",
    );
}

/// What is done to one stack (append, compact) does not show in another,
/// even one whose name extends the first's.
///
/// # Panics
/// When the store does otherwise.
pub async fn check_isolation(store: &dyn StateStore) {
    let c = Check::new("isolation", store);
    let a = c.stack();
    let b = format!("{a}-b");
    let ra = sample_journal(&a)[..3].to_vec();
    let rb = vec![init(1, "lineage-b"), put(2, "only-in-b", Value::Bool(true))];
    c.ok(store.append(&a, &ra).await, "append to the first stack");
    c.ok(store.append(&b, &rb).await, "append to the second stack");
    c.eq(
        &c.ok(store.read(&a).await, "read").journal,
        &ra,
        "records of the first stack",
    );
    c.eq(
        &c.ok(store.read(&b).await, "read").journal,
        &rb,
        "records of the second stack",
    );

    let snap = c.ok(load(store, &a).await, "load of the first stack");
    c.ok(store.compact(&a, &snap).await, "compact of the first stack");
    let stored_b = c.ok(store.read(&b).await, "read of the second stack");
    c.eq(
        &stored_b,
        &Stored {
            snapshot: None,
            journal: rb,
        },
        "second stack after compacting the first",
    );

    let unrelated = format!("conformance-isolation-{}", new_id());
    c.eq(
        &c.ok(store.read(&unrelated).await, "read"),
        &Stored::default(),
        "a third, never-written stack",
    );
}

/// A single writer's appends (200 records in 20 batches) read back as seq
/// 1..=200 in order, and reads made while they happen each see a
/// gap-free prefix that never shrinks.
///
/// # Panics
/// When the store does otherwise.
pub async fn check_ordered_appends(store: &dyn StateStore) {
    let c = Check::new("ordered-appends", store);
    let stack = c.stack();
    let mut records = vec![init(1, &new_id())];
    records.extend((2..=200).map(|seq| put(seq, &format!("r{seq}"), Value::Int(seq as i64))));
    let done = AtomicBool::new(false);

    let writer = async {
        for batch in records.chunks(10) {
            c.ok(store.append(&stack, batch).await, "append of a batch");
            tokio::task::yield_now().await;
        }
        done.store(true, Ordering::SeqCst);
    };
    let reader = async {
        let mut seen = 0;
        loop {
            let finished = done.load(Ordering::SeqCst);
            let stored = c.ok(store.read(&stack).await, "read during appends");
            if stored.snapshot.is_some() {
                c.fail("a snapshot appeared without compaction");
            }
            let seqs: Vec<u64> = stored.journal.iter().map(|r| r.seq).collect();
            let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
            if seqs != expected {
                c.fail(format!(
                    "a read during appends is not 1..={}: {seqs:?}",
                    seqs.len()
                ));
            }
            if seqs.len() < seen {
                c.fail(format!(
                    "a read saw {} records after an earlier one saw {seen}",
                    seqs.len()
                ));
            }
            seen = seqs.len();
            if finished {
                break;
            }
            tokio::task::yield_now().await;
        }
    };
    futures::join!(writer, reader);

    let stored = c.ok(store.read(&stack).await, "read after the appends");
    let seqs: Vec<u64> = stored.journal.iter().map(|r| r.seq).collect();
    c.eq(
        &seqs,
        &(1..=200).collect::<Vec<u64>>(),
        "seqs after 20 appends of 10",
    );
    c.eq(&stored.journal, &records, "records after 20 appends of 10");
}

/// One check's context: its name, the store, and how it fails.
mod lock;
mod support;

pub use lock::*;
use support::*;

/// Messages are taken per topic, oldest first, each exactly once, bodies
/// as sent; stacks do not share them.
///
/// # Panics
/// When the store does otherwise, or has no control channel.
pub async fn check_channel(store: &dyn StateStore) {
    use super::Message;
    let c = Check::new("channel", store);
    let channel = c.channel();
    let stack = c.stack();
    let other = c.stack();
    let msg = |topic: &str, body: serde_json::Value, at| Message {
        topic: topic.into(),
        body,
        at,
        by: "tester@host".into(),
    };
    let none = c.ok(channel.take(&stack, "web").await, "take with nothing sent");
    c.eq(&none, &Vec::new(), "take with nothing sent");
    let nested =
        serde_json::json!({"do": "pause", "why": "line \"1\"\nline 2", "n": [1, 2.5, null]});
    for m in [
        msg("web", serde_json::json!("pause"), 1_000),
        msg("api", serde_json::json!("abort"), 1_500),
        msg("web", nested.clone(), 2_000),
    ] {
        c.ok(channel.send(&stack, &m).await, "send");
    }
    c.ok(
        channel
            .send(&other, &msg("web", serde_json::json!("abort"), 3_000))
            .await,
        "send to another stack",
    );
    let web = c.ok(channel.take(&stack, "web").await, "take web's");
    c.eq(
        &web,
        &vec![
            msg("web", serde_json::json!("pause"), 1_000),
            msg("web", nested, 2_000),
        ],
        "web's messages, oldest first",
    );
    let again = c.ok(channel.take(&stack, "web").await, "take web's again");
    c.eq(&again, &Vec::new(), "a message is taken once");
    let api = c.ok(channel.take(&stack, "api").await, "take api's");
    c.eq(
        &api,
        &vec![msg("api", serde_json::json!("abort"), 1_500)],
        "api's message",
    );
    let theirs = c.ok(channel.take(&other, "web").await, "take the other stack's");
    c.eq(
        &theirs,
        &vec![msg("web", serde_json::json!("abort"), 3_000)],
        "the other stack's message",
    );
}

/// Versions read back as saved, listed oldest first, each number once;
/// stacks keep their own.
///
/// # Panics
/// When the store does otherwise.
pub async fn check_history(store: &dyn StateStore) {
    use super::VersionInfo;
    let c = Check::new("history", store);
    let history = c.history();
    let stack = c.stack();
    let other = c.stack();
    let none = c.ok(history.versions(&stack).await, "versions of a new stack");
    c.eq(&none, &Vec::new(), "versions of a new stack");
    let missing = c.ok(
        history.read_version(&stack, 1).await,
        "read of a missing version",
    );
    c.eq(&missing, &None, "read of a missing version");
    let info = |version: u64| VersionInfo {
        version,
        at: 1_000 * version,
        by: "tester@host".into(),
        operation: "up".into(),
        summary: format!("create {version}, update 0, replace 0, delete 0"),
        serial: 10 * version,
        ..Default::default()
    };
    let mut states = Vec::new();
    for v in 1..=3u64 {
        let mut state = State::empty(&stack);
        state.lineage = "history-lineage".into();
        state.serial = 10 * v;
        state.outputs.insert("version".into(), Value::Int(v as i64));
        c.ok(
            history.save_version(&stack, &info(v), &state).await,
            "save_version",
        );
        states.push(state);
    }
    let listed = c.ok(history.versions(&stack).await, "versions");
    c.eq(
        &listed,
        &vec![info(1), info(2), info(3)],
        "versions, oldest first",
    );
    for (i, state) in states.iter().enumerate() {
        let read = c.ok(
            history.read_version(&stack, i as u64 + 1).await,
            "read_version",
        );
        c.eq(&read.as_ref(), &Some(state), "a version read back");
    }
    let again = history.save_version(&stack, &info(2), &states[0]).await;
    if again.is_ok() {
        c.fail("saving a version number twice was not refused");
    }
    let kept = c.ok(
        history.read_version(&stack, 2).await,
        "read_version after a refused save",
    );
    c.eq(
        &kept.as_ref(),
        &Some(&states[1]),
        "a refused save changes nothing",
    );
    let theirs = c.ok(history.versions(&other).await, "versions of another stack");
    c.eq(&theirs, &Vec::new(), "another stack's versions");
    check_drop_versions(store).await;
}

/// Dropping versions (how a retention policy is applied): the dropped
/// ones are gone, the others read back as saved (with how their run ended
/// and its commit), numbers not kept are ignored, the newest is never
/// dropped, the next version is saved after it, and other stacks are
/// untouched.
///
/// # Panics
/// When the store does otherwise.
pub async fn check_drop_versions(store: &dyn StateStore) {
    use super::VersionInfo;
    let c = Check::new("drop_versions", store);
    let history = c.history();
    let stack = c.stack();
    let other = c.stack();
    let info = |version: u64| VersionInfo {
        version,
        at: 60_000 * version,
        by: "ci@runner".into(),
        operation: if version == 3 { "refresh" } else { "up" }.into(),
        summary: format!("version {version}"),
        serial: version,
        outcome: Some(if version.is_multiple_of(2) {
            super::RunOutcome::Failed
        } else {
            super::RunOutcome::Succeeded
        }),
        commit: Some(super::Commit {
            id: Some(format!("commit-{version}")),
            at: Some(50_000 * version),
            program: Some("sha256:program".into()),
        }),
    };
    let state = |version: u64| {
        let mut state = State::empty(&stack);
        state.lineage = "retention-lineage".into();
        state.serial = version;
        state
            .outputs
            .insert("version".into(), Value::Int(version as i64));
        state
    };
    for v in 1..=5u64 {
        c.ok(
            history.save_version(&stack, &info(v), &state(v)).await,
            "save_version",
        );
    }
    c.ok(
        history.save_version(&other, &info(1), &state(1)).await,
        "save_version of another stack",
    );
    c.ok(
        history.drop_versions(&stack, &[1, 3, 5, 42]).await,
        "drop_versions of 1, 3, the newest (5) and a missing one",
    );
    let listed = c.ok(history.versions(&stack).await, "versions after a drop");
    c.eq(
        &listed,
        &vec![info(2), info(4), info(5)],
        "versions after dropping 1 and 3 (5 is the newest: kept)",
    );
    for v in [1, 3] {
        let read = c.ok(
            history.read_version(&stack, v).await,
            "read of a dropped version",
        );
        c.eq(&read, &None, "a dropped version");
    }
    for v in [2, 4, 5] {
        let read = c.ok(
            history.read_version(&stack, v).await,
            "read of a kept version",
        );
        c.eq(&read, &Some(state(v)), "a kept version read back");
    }
    c.ok(
        history.save_version(&stack, &info(6), &state(6)).await,
        "save_version after a drop",
    );
    let listed = c.ok(history.versions(&stack).await, "versions after a save");
    c.eq(
        &listed,
        &vec![info(2), info(4), info(5), info(6)],
        "the next version follows the newest",
    );
    c.ok(
        history.drop_versions(&stack, &[]).await,
        "drop_versions of nothing",
    );
    let theirs = c.ok(history.versions(&other).await, "versions of another stack");
    c.eq(
        &theirs,
        &vec![info(1)],
        "another stack's versions after a drop",
    );
}
