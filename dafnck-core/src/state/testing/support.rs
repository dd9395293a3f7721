//! What the conformance checks share: the failure reporter and the
//! journal records they write.
use std::collections::BTreeMap;
use std::fmt::{Debug, Display};
use std::time::Duration;

use crate::resource::Location;
use crate::state::model::{new_id, now_millis};
use crate::state::{
    ControlChannel, Entry, Intent, LockInfo, LockRequest, OpKind, Outcome, ReadState, Record,
    ResourceState, StateError, StateHistory, StateLock, StateStore,
};
use crate::value::{OutputRef, Value};

pub(super) struct Check<'a> {
    name: &'static str,
    store: &'a dyn StateStore,
}

impl<'a> Check<'a> {
    pub(super) fn new(name: &'static str, store: &'a dyn StateStore) -> Self {
        Check { name, store }
    }

    /// A fresh stack name for this check.
    pub(super) fn stack(&self) -> String {
        format!("conformance-{}-{}", self.name, new_id())
    }

    #[track_caller]
    pub(super) fn fail(&self, message: impl Display) -> ! {
        panic!(
            "state store conformance check `{}` failed for `{}`: {message}",
            self.name,
            self.store.describe()
        )
    }

    /// The store's lock; the check fails if it has none.
    #[track_caller]
    pub(super) fn locks(&self) -> &'a dyn StateLock {
        self.store
            .locks()
            .unwrap_or_else(|| self.fail("the store has no lock (`StateStore::locks` is None)"))
    }

    /// The store's history; the check fails if it has none.
    #[track_caller]
    pub(super) fn history(&self) -> &'a dyn StateHistory {
        self.store.history().unwrap_or_else(|| {
            self.fail("the store keeps no history (`StateStore::history` is None)")
        })
    }

    /// The store's control channel; the check fails if it has none.
    #[track_caller]
    pub(super) fn channel(&self) -> &'a dyn ControlChannel {
        self.store.channel().unwrap_or_else(|| {
            self.fail("the store has no control channel (`StateStore::channel` is None)")
        })
    }

    #[track_caller]
    pub(super) fn ok<T>(&self, result: Result<T, StateError>, what: &str) -> T {
        match result {
            Ok(v) => v,
            Err(e) => self.fail(format!("{what}: unexpected error: {e}")),
        }
    }

    #[track_caller]
    pub(super) fn eq<T: PartialEq + Debug + ?Sized>(&self, got: &T, want: &T, what: &str) {
        if got != want {
            self.fail(format!("{what}:\n  got:  {got:?}\n  want: {want:?}"));
        }
    }

    #[track_caller]
    pub(super) fn expect_locked(
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
pub(super) fn request(operation: &str, lease: Duration) -> LockRequest {
    let mut req = LockRequest::for_this_process(operation, lease);
    req.owner = "conformance".into();
    req
}

/// Sleeps by the system clock, which leases are measured with (tokio's
/// clock may be paused in tests).
pub(super) async fn sleep_wall_clock(duration: Duration) {
    if tokio::runtime::Handle::try_current().is_ok() {
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(duration)).await;
    } else {
        std::thread::sleep(duration);
    }
}

pub(super) fn record(seq: u64, entry: Entry) -> Record {
    Record {
        seq,
        at: now_millis(),
        entry,
    }
}

pub(super) fn init(seq: u64, lineage: &str) -> Record {
    record(
        seq,
        Entry::Init {
            lineage: lineage.into(),
        },
    )
}

pub(super) fn put(seq: u64, name: &str, size: Value) -> Record {
    let mut r = resource(name, &format!("{name}-id"));
    r.inputs = map([("size", size)]);
    record(seq, Entry::Put { resource: r })
}

pub(super) fn resource(name: &str, id: &str) -> ResourceState {
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
        provider: None,
    }
}

pub(super) fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

pub(super) fn secret(v: Value) -> Value {
    Value::Secret(Box::new(v))
}

pub(super) fn intent(seq: u64, kind: OpKind, resource: ResourceState) -> Record {
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
pub(super) fn sample_journal(stack: &str) -> Vec<Record> {
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
        record(
            18,
            Entry::Reads {
                reads: BTreeMap::from([(
                    "image".to_owned(),
                    ReadState {
                        name: "image".into(),
                        type_name: "aws:ec2:AmiLookup".into(),
                        query: map([("name", Value::String(tricky.into()))]),
                        answer: map([
                            ("image_id", Value::String("ami-1".into())),
                            ("token", secret(Value::String("t0k".into()))),
                        ]),
                        at: 1_700_000_000_000,
                        provider: Some("eu".into()),
                    },
                )]),
            },
        ),
    ]
}
