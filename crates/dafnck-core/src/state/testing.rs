//! The conformance suite every [`StateStore`] must pass.
//!
//! [`conformance`] runs every check against a store; each check is also a
//! public function (`check_*`) so a store can run them one by one, e.g. to
//! skip the lease check on a backend whose clock is not the machine's.
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

use std::collections::BTreeMap;
use std::fmt::{Debug, Display};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::model::{new_id, now_millis};
use super::{
    load, Entry, Intent, LockInfo, LockRequest, OpKind, Outcome, Record, ResourceState, State,
    StateError, StateStore, Stored,
};
use crate::resource::Location;
use crate::value::{OutputRef, Value};

/// Runs every check of the suite against `store`.
///
/// # Panics
/// When a check fails, with a message naming the check and the store.
pub async fn conformance<S: StateStore>(store: &S) {
    let store: &dyn StateStore = store;
    check_empty_stack(store).await;
    check_append_read(store).await;
    check_compact(store).await;
    check_isolation(store).await;
    check_lock_exclusive(store).await;
    check_lease_expiry(store).await;
    check_lock_info(store).await;
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
    let lock = c.ok(
        store.lock_info(&stack).await,
        "lock_info of a never-written stack",
    );
    c.eq(&lock, &None, "lock_info of a never-written stack");
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

/// What is done to one stack (append, compact, lock) does not show in
/// another, even one whose name extends the first's.
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

    let lock = c.ok(
        store
            .lock(&a, &request("isolation", Duration::from_secs(60)))
            .await,
        "lock of the first stack",
    );
    c.eq(
        &c.ok(store.lock_info(&b).await, "lock_info"),
        &None,
        "lock of the second stack while the first is locked",
    );
    let unrelated = format!("conformance-isolation-{}", new_id());
    c.eq(
        &c.ok(store.read(&unrelated).await, "read"),
        &Stored::default(),
        "a third, never-written stack",
    );
    c.ok(store.unlock(&a, &lock.id).await, "unlock");
}

/// A stack's lock excludes a second holder (naming the first), does not
/// block other stacks, refuses an unlock with a wrong id, and can be taken
/// again once released.
///
/// # Panics
/// When the store does otherwise.
pub async fn check_lock_exclusive(store: &dyn StateStore) {
    let c = Check::new("lock-exclusive", store);
    let stack = c.stack();
    let other = c.stack();
    let mut first_req = request("up", Duration::from_secs(60));
    first_req.owner = "conformance-first".into();
    let mut second_req = request("destroy", Duration::from_secs(60));
    second_req.owner = "conformance-second".into();

    let first = c.ok(store.lock(&stack, &first_req).await, "first lock");
    c.eq(&first.owner, &first_req.owner, "owner of the granted lock");
    c.eq(&first.host, &first_req.host, "host of the granted lock");
    c.eq(&first.pid, &first_req.pid, "pid of the granted lock");
    c.eq(
        &first.operation,
        &first_req.operation,
        "operation of the granted lock",
    );
    c.expect_locked(
        store.lock(&stack, &second_req).await,
        &stack,
        &first,
        "a second lock on the same stack",
    );

    let elsewhere = c.ok(
        store.lock(&other, &second_req).await,
        "a lock on another stack while the first is held",
    );

    match store.unlock(&stack, "not-the-lock-id").await {
        Err(StateError::LockLost { .. }) => {}
        other => c.fail(format!(
            "unlock with a wrong id: expected LockLost, got {other:?}"
        )),
    }
    c.expect_locked(
        store.lock(&stack, &second_req).await,
        &stack,
        &first,
        "a lock after an unlock with a wrong id",
    );

    c.ok(store.unlock(&stack, &first.id).await, "unlock");
    let again = c.ok(store.lock(&stack, &second_req).await, "lock after unlock");
    if again.id == first.id {
        c.fail("a new lock got the id of the released one");
    }
    c.eq(&again.owner, &second_req.owner, "owner of the new lock");
    c.ok(store.unlock(&stack, &again.id).await, "unlock");
    c.ok(
        store.unlock(&other, &elsewhere.id).await,
        "unlock of the other stack",
    );
}

/// A lease that is not renewed expires and the lock can be taken over; the
/// old holder's `renew` and `unlock` then fail with `LockLost`. Renewing a
/// live lease extends it.
///
/// # Panics
/// When the store does otherwise.
pub async fn check_lease_expiry(store: &dyn StateStore) {
    let c = Check::new("lease-expiry", store);
    let stack = c.stack();
    let lease = Duration::from_millis(300);
    // This process's pid and host: a store that takes over locks of dead
    // processes must take this one over because its lease ran out.
    let first = c.ok(
        store.lock(&stack, &request("up", lease)).await,
        "lock with a 300 ms lease",
    );

    sleep_wall_clock(Duration::from_millis(50)).await;
    let asked = now_millis();
    let renewed = c.ok(store.renew(&stack, &first).await, "renew of a live lease");
    c.eq(&renewed.id, &first.id, "id of the renewed lock");
    if renewed.expires_at <= first.expires_at || renewed.expires_at < asked + 300 {
        c.fail(format!(
            "renew did not extend the lease by 300 ms: expires_at {} -> {} (renewed at {asked})",
            first.expires_at, renewed.expires_at
        ));
    }
    let shown = c.ok(store.lock_info(&stack).await, "lock_info after renew");
    c.eq(
        &shown.map(|l| l.expires_at),
        &Some(renewed.expires_at),
        "expires_at shown after renew",
    );

    // Not renewed again: wait past the lease (about 500 ms in all).
    let wait = (renewed.expires_at + 200).saturating_sub(now_millis());
    sleep_wall_clock(Duration::from_millis(wait)).await;
    let second = c.ok(
        store
            .lock(&stack, &request("takeover", Duration::from_secs(60)))
            .await,
        "lock after the first lease expired",
    );
    if second.id == first.id {
        c.fail("the takeover lock has the expired lock's id");
    }
    match store.renew(&stack, &first).await {
        Err(StateError::LockLost { .. }) => {}
        other => c.fail(format!(
            "renew by the expired holder: expected LockLost, got {other:?}"
        )),
    }
    match store.unlock(&stack, &first.id).await {
        Err(StateError::LockLost { .. }) => {}
        other => c.fail(format!(
            "unlock by the expired holder: expected LockLost, got {other:?}"
        )),
    }
    c.eq(
        &c.ok(store.lock_info(&stack).await, "lock_info"),
        &Some(second.clone()),
        "holder after the takeover",
    );
    c.ok(
        store.unlock(&stack, &second.id).await,
        "unlock by the new holder",
    );
}

/// `lock_info` shows the holder while a lock is held and `None` after it is
/// released.
///
/// # Panics
/// When the store does otherwise.
pub async fn check_lock_info(store: &dyn StateStore) {
    let c = Check::new("lock-info", store);
    let stack = c.stack();
    c.eq(
        &c.ok(store.lock_info(&stack).await, "lock_info"),
        &None,
        "lock_info before any lock",
    );
    let held = c.ok(
        store
            .lock(&stack, &request("up", Duration::from_secs(60)))
            .await,
        "lock",
    );
    c.eq(
        &c.ok(store.lock_info(&stack).await, "lock_info"),
        &Some(held.clone()),
        "lock_info while locked",
    );
    c.ok(store.unlock(&stack, &held.id).await, "unlock");
    c.eq(
        &c.ok(store.lock_info(&stack).await, "lock_info"),
        &None,
        "lock_info after unlock",
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
struct Check<'a> {
    name: &'static str,
    store: &'a dyn StateStore,
}

impl<'a> Check<'a> {
    fn new(name: &'static str, store: &'a dyn StateStore) -> Self {
        Check { name, store }
    }

    /// A fresh stack name for this check.
    fn stack(&self) -> String {
        format!("conformance-{}-{}", self.name, new_id())
    }

    #[track_caller]
    fn fail(&self, message: impl Display) -> ! {
        panic!(
            "state store conformance check `{}` failed for `{}`: {message}",
            self.name,
            self.store.describe()
        )
    }

    #[track_caller]
    fn ok<T>(&self, result: Result<T, StateError>, what: &str) -> T {
        match result {
            Ok(v) => v,
            Err(e) => self.fail(format!("{what}: unexpected error: {e}")),
        }
    }

    #[track_caller]
    fn eq<T: PartialEq + Debug + ?Sized>(&self, got: &T, want: &T, what: &str) {
        if got != want {
            self.fail(format!("{what}:\n  got:  {got:?}\n  want: {want:?}"));
        }
    }

    #[track_caller]
    fn expect_locked(
        &self,
        result: Result<LockInfo, StateError>,
        stack: &str,
        holder: &LockInfo,
        what: &str,
    ) {
        match result {
            Err(StateError::Locked {
                stack: s,
                holder: h,
            }) => {
                self.eq(
                    s.as_str(),
                    stack,
                    &format!("{what}: the stack named by Locked"),
                );
                let fields = |l: &LockInfo| (l.id.clone(), l.owner.clone(), l.host.clone(), l.pid);
                self.eq(
                    &fields(&h),
                    &fields(holder),
                    &format!("{what}: the holder named by Locked (id, owner, host, pid)"),
                );
            }
            other => self.fail(format!(
                "{what}: expected StateError::Locked, got {other:?}"
            )),
        }
    }
}

/// A lock request of this process (its real pid and host).
fn request(operation: &str, lease: Duration) -> LockRequest {
    let mut req = LockRequest::for_this_process(operation, lease);
    req.owner = "conformance".into();
    req
}

/// Sleeps by the system clock, which leases are measured with (tokio's
/// clock may be paused in tests).
async fn sleep_wall_clock(duration: Duration) {
    if tokio::runtime::Handle::try_current().is_ok() {
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(duration)).await;
    } else {
        std::thread::sleep(duration);
    }
}

fn record(seq: u64, entry: Entry) -> Record {
    Record {
        seq,
        at: now_millis(),
        entry,
    }
}

fn init(seq: u64, lineage: &str) -> Record {
    record(
        seq,
        Entry::Init {
            lineage: lineage.into(),
        },
    )
}

fn put(seq: u64, name: &str, size: Value) -> Record {
    let mut r = resource(name, &format!("{name}-id"));
    r.inputs = map([("size", size)]);
    record(seq, Entry::Put { resource: r })
}

fn resource(name: &str, id: &str) -> ResourceState {
    ResourceState {
        name: name.into(),
        type_name: "conformance:test:Thing".into(),
        id: id.into(),
        inputs: Value::Null,
        outputs: Value::Null,
        dependencies: vec![],
        protect: false,
        retain_on_delete: false,
        location: None,
    }
}

fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

fn secret(v: Value) -> Value {
    Value::Secret(Box::new(v))
}

fn intent(seq: u64, kind: OpKind, resource: ResourceState) -> Record {
    record(
        seq,
        Entry::Intent(Intent {
            kind,
            resource,
            token: format!("token-{seq}"),
        }),
    )
}

/// A journal of every kind of entry, with values that test a store's
/// encoding (secrets, nested maps, escapes, extreme numbers), that replays
/// without error. Its seqs are 1..=17.
fn sample_journal(stack: &str) -> Vec<Record> {
    let tricky = "line\nbreak\ttab \"quotes\" \\ back\u{0}nul é ü 雪 🦀";
    let mut db = resource("db", "");
    db.inputs = map([
        ("password", secret(Value::String("hunter2".into()))),
        (
            "tags",
            map([
                ("env", Value::String("dev".into())),
                (
                    "nested",
                    map([(
                        "deeper",
                        map([(
                            "list",
                            Value::List(vec![
                                Value::Int(i64::MIN),
                                Value::Int(i64::MAX),
                                Value::Float(2.5),
                                Value::Float(-0.125),
                                Value::Bool(true),
                                Value::Null,
                                Value::String(tricky.into()),
                            ]),
                        )]),
                    )]),
                ),
                (
                    "secret-map",
                    secret(map([
                        ("user", Value::String("admin".into())),
                        ("token", Value::String("t0k".into())),
                    ])),
                ),
            ]),
        ),
        (
            "subnet",
            Value::Ref(Box::new(OutputRef {
                stack: stack.into(),
                resource: "net".into(),
                field: "id".into(),
            })),
        ),
        ("later", Value::Unknown),
        ("", Value::String("empty key".into())),
    ]);
    db.dependencies = vec!["net".into()];
    db.location = Some(Location {
        file: "src/main.rs".into(),
        line: 12,
        column: 5,
    });
    let mut net = resource("net", "net-1");
    net.protect = true;
    net.retain_on_delete = true;
    net.outputs = map([
        ("id", Value::String("net-1".into())),
        ("cidr", Value::String("10.0.0.0/16".into())),
    ]);
    let mut db_update = db.clone();
    db_update.id = "db-1".into();
    db_update.inputs = map([("password", secret(Value::String("hunter3".into())))]);
    let mut db_old = db.clone();
    db_old.id = "db-1".into();
    let mut imported = resource("imported", "");

    imported.inputs = map([("name", Value::String("legacy".into()))]);
    vec![
        init(1, &format!("lineage-{}", new_id())),
        record(2, Entry::Put { resource: net }),
        intent(3, OpKind::Create, db.clone()),
        record(
            4,
            Entry::Done {
                op: 3,
                outcome: Outcome::Created {
                    id: "db-1".into(),
                    outputs: map([
                        ("endpoint", Value::String("db.internal:5432".into())),
                        (
                            "conn",
                            secret(map([
                                ("user", Value::String("app".into())),
                                ("pass", Value::String(tricky.into())),
                            ])),
                        ),
                    ]),
                    inputs: None,
                },
            },
        ),
        intent(5, OpKind::Update, db_update),
        record(
            6,
            Entry::Failed {
                op: 5,
                error: format!("provider said: {tricky}"),
            },
        ),
        record(
            7,
            Entry::Outputs {
                outputs: BTreeMap::from([
                    (
                        "url".to_owned(),
                        Value::String("https://example.invalid".into()),
                    ),
                    ("key".to_owned(), secret(Value::Int(42))),
                ]),
            },
        ),
        intent(8, OpKind::CreateReplacement, db.clone()),
        record(
            9,
            Entry::Done {
                op: 8,
                outcome: Outcome::Created {
                    id: "db-2".into(),
                    outputs: map([("endpoint", Value::String("db2.internal".into()))]),
                    inputs: None,
                },
            },
        ),
        intent(10, OpKind::DeleteDeposed, db_old),
        record(
            11,
            Entry::Done {
                op: 10,
                outcome: Outcome::Deleted,
            },
        ),
        intent(12, OpKind::Import, imported),
        record(
            13,
            Entry::Done {
                op: 12,
                outcome: Outcome::Created {
                    id: "legacy-7".into(),
                    outputs: Value::Null,
                    inputs: Some(map([
                        ("name", Value::String("legacy".into())),
                        ("size", Value::Int(3)),
                    ])),
                },
            },
        ),
        record(
            14,
            Entry::Rename {
                from: "net".into(),
                to: "network".into(),
            },
        ),
        record(
            15,
            Entry::RemoveDeposed {
                id: "never-deposed".into(),
            },
        ),
        record(
            16,
            Entry::Remove {
                name: "imported".into(),
            },
        ),
        intent(17, OpKind::Delete, resource("ghost", "ghost-1")),
    ]
}
