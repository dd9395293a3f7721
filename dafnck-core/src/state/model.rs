//! The state model and the journal records, and how a record changes a state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::encryption::Encryption;
use super::reads::ReadState;
use super::timings::Timings;
use super::StateError;
use crate::resource::Location;
use crate::value::Value;

/// What the state records of one object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceState {
    /// The resource's name in its stack.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The provider's id for the object.
    pub id: String,
    /// The resolved inputs it was created or last updated with.
    pub inputs: Value,
    /// What the provider reported.
    pub outputs: Value,
    /// Names of the resources it depended on when last applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    /// Deletion and replacement are refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// Deleting only forgets the object.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retain_on_delete: bool,
    /// Where it was last declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The named provider instance that manages it (none: its package's
    /// default instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

/// A stack's recorded state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The stack's name.
    pub stack: String,
    /// A random id given when the state was first written; a saved plan is
    /// bound to it.
    pub lineage: String,
    /// The `seq` of the last journal record applied (0 for a new state).
    pub serial: u64,
    /// The objects, by resource name. Shared (`Arc`): a plan refers to the
    /// recorded objects it updates, replaces or deletes instead of copying
    /// them; change one with `Arc::make_mut`.
    pub resources: BTreeMap<String, Arc<ResourceState>>,
    /// Old objects of replacements whose deletion has not happened yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deposed: Vec<ResourceState>,
    /// The stack's exported values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, Value>,
    /// The data sources the program read in the last `up` that succeeded,
    /// by the name the program gave each ([`super::reads`]; state format 3).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reads: BTreeMap<String, ReadState>,
    /// Intents without a result, by op (the intent's `seq`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<u64, Intent>,
    /// The last handover of each resource whose changes are handed over
    /// ([`crate::handover`]), by resource name. Kept under the name
    /// `rollouts` on disk, as earlier versions wrote it.
    #[serde(
        rename = "rollouts",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub handovers: BTreeMap<String, HandoverMark>,
    /// How long provider calls took in earlier runs, by resource type: the
    /// executor starts the steps with the longest expected time ahead of
    /// them first.
    #[serde(default, skip_serializing_if = "Timings::is_empty")]
    pub timings: Timings,
    /// How the state's secrets are encrypted; `None` for a state written
    /// without a key (before encryption existed, or with plain text allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
}

/// One numbered version of a stack's state: what a run that wrote it left.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// 1 for the first run, one more for each run after.
    pub version: u64,
    /// When it was written, Unix milliseconds.
    pub at: u64,
    /// Who ran it (`user@host`).
    pub by: String,
    /// The command (`up`, `destroy`, `import`, `refresh`).
    pub operation: String,
    /// What it did (`create 2, update 1, replace 0, delete 0`).
    pub summary: String,
    /// The state's serial then.
    pub serial: u64,
    /// How the run ended; `None` in versions written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<RunOutcome>,
    /// The commit of the program the run applied, when known (from
    /// `DAFNCK_COMMIT`/`DAFNCK_COMMIT_TIME`, else `git`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<Commit>,
}

/// How a run that wrote a version ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Every step succeeded.
    Succeeded,
    /// A step failed.
    Failed,
    /// A step's rollout was rolled back (a policy's analysis failed), and
    /// no step failed otherwise.
    RolledBack,
}

impl RunOutcome {
    /// Whether the run failed or was rolled back.
    pub fn is_failure(self) -> bool {
        self != RunOutcome::Succeeded
    }
}

/// The commit a run applied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    /// Its id (a git SHA), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When it was committed, Unix milliseconds, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<u64>,
    /// The SHA-256 of the program's executable that ran (`sha256:<hex>`),
    /// if known: `promote` checks it is the build the earlier stage ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
}

/// A message left in a store's [`ControlChannel`](super::ControlChannel)
/// for the run holding the stack's lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Whom it is for: the name of the resource whose handover it concerns.
    pub topic: String,
    /// What it says, in its sender's terms (the store keeps it as is).
    pub body: serde_json::Value,
    /// When it was sent, Unix milliseconds: a taker ignores messages sent
    /// before it started.
    pub at: u64,
    /// Who sent it (`user@host`).
    pub by: String,
}

/// A resource's last handover ([`crate::handover`]), as the state keeps it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HandoverMark {
    /// Whether it is under way: both the old object (deposed) and the new
    /// one exist and the hook has not finished. A run finding an active
    /// handover it did not start resets it through the hook and removes the
    /// new object.
    pub active: bool,
    /// The hook's own record of its progress; opaque to the engine.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub record: serde_json::Value,
}

/// What a provider call is about to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// Create a new object.
    Create,
    /// Create the new object of a replacement; the current one becomes deposed.
    CreateReplacement,
    /// Update an object in place.
    Update,
    /// Delete the current object of a resource.
    Delete,
    /// Delete a deposed object (the old one of a replacement).
    DeleteDeposed,
    /// Adopt an existing object.
    Import,
}

/// The record written before a provider call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    /// What the call does.
    pub kind: OpKind,
    /// The object as it will be recorded if the call succeeds (for a
    /// create, `id` is empty and `outputs` null until the result).
    pub resource: ResourceState,
    /// The idempotency token sent with a create.
    pub token: String,
}

/// The result of a provider call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    /// The object now exists with this id and these outputs (create,
    /// replacement, import).
    Created {
        /// The provider's id.
        id: String,
        /// Its outputs.
        outputs: Value,
        /// Its inputs as read (imports); `None` keeps the intent's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inputs: Option<Value>,
    },
    /// The object was updated and has these outputs.
    Updated {
        /// Its outputs.
        outputs: Value,
    },
    /// The object is gone.
    Deleted,
}

/// One journal record's content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "entry")]
pub enum Entry {
    /// Starts a new state with this lineage.
    Init {
        /// The new lineage.
        lineage: String,
    },
    /// From here on the state's secrets are encrypted as this says.
    Encryption {
        /// The cipher, how the key is derived, and the key's check value.
        header: Encryption,
    },
    /// A provider call is about to be made.
    Intent(Intent),
    /// The call of intent `op` succeeded.
    Done {
        /// The intent's `seq`.
        op: u64,
        /// What it did.
        #[serde(flatten)]
        outcome: Outcome,
    },
    /// The call of intent `op` failed, or recovery found it made no object:
    /// nothing changed.
    Failed {
        /// The intent's `seq`.
        op: u64,
        /// Why.
        error: String,
    },
    /// Records an object as read (refresh, recovery).
    Put {
        /// The object.
        resource: ResourceState,
    },
    /// Forgets a resource (deleted outside the program, `state rm`).
    Remove {
        /// Its name.
        name: String,
    },
    /// Forgets a deposed object.
    RemoveDeposed {
        /// Its id.
        id: String,
    },
    /// A resource was renamed (an alias matched).
    Rename {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// The stack's exported values.
    Outputs {
        /// All of them.
        outputs: BTreeMap<String, Value>,
    },
    /// A handover of a resource started, progressed or ended (`rollout`
    /// on disk, as earlier versions wrote it).
    #[serde(rename = "rollout")]
    Handover {
        /// The resource.
        name: String,
        /// Its mark from now on.
        #[serde(flatten)]
        mark: HandoverMark,
    },
    /// The data sources the program read, all of them (written at the end
    /// of an `up` whose steps all succeeded, when they differ from the
    /// recorded ones; emptied by `destroy`). State format 3.
    Reads {
        /// Every read, by name.
        reads: BTreeMap<String, ReadState>,
    },
    /// What was learned of how long provider calls take, all of it (written
    /// at the end of an apply that made provider calls).
    Timings {
        /// Every type's timings.
        timings: Timings,
    },
    /// A rolled-back replacement: the deposed object with this id is the
    /// resource's current object again (its replacement was deleted).
    Restore {
        /// The deposed object's id.
        id: String,
    },
}

/// A journal record: an entry and its sequence number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Strictly increasing, contiguous within a stack, starting at 1.
    pub seq: u64,
    /// When it was written, Unix milliseconds.
    pub at: u64,
    /// What happened.
    #[serde(flatten)]
    pub entry: Entry,
}

/// What a store returns for a stack.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stored {
    /// The last compacted snapshot, if any.
    pub snapshot: Option<State>,
    /// The records appended since, in order (some may be covered by the
    /// snapshot after a crash mid-compaction; replay skips those).
    pub journal: Vec<Record>,
}

/// Who asks for a lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRequest {
    /// The user.
    pub owner: String,
    /// The machine.
    pub host: String,
    /// The process.
    pub pid: u32,
    /// What the run does (`up`, `destroy`, ...).
    pub operation: String,
    /// How long the lock lives without renewal.
    pub lease: Duration,
}

impl LockRequest {
    /// A request for this process, user and host.
    pub fn for_this_process(operation: &str, lease: Duration) -> Self {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        LockRequest {
            owner: env("USER")
                .or_else(|| env("USERNAME"))
                .unwrap_or_else(|| "unknown".into()),
            host: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .or_else(|| env("HOSTNAME"))
                .unwrap_or_else(|| "unknown".into()),
            pid: std::process::id(),
            operation: operation.to_owned(),
            lease,
        }
    }
}

/// A held lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Unique per acquisition; `force-unlock` takes it.
    pub id: String,
    /// The user.
    pub owner: String,
    /// The machine.
    pub host: String,
    /// The process.
    pub pid: u32,
    /// What the run does.
    pub operation: String,
    /// When it was taken, Unix milliseconds.
    pub acquired_at: u64,
    /// When the lease runs out unless renewed, Unix milliseconds.
    pub expires_at: u64,
}

impl LockInfo {
    /// A new lock for `request`, taken now.
    pub fn grant(request: &LockRequest) -> Self {
        let now = now_millis();
        LockInfo {
            id: new_id(),
            owner: request.owner.clone(),
            host: request.host.clone(),
            pid: request.pid,
            operation: request.operation.clone(),
            acquired_at: now,
            expires_at: now.saturating_add(request.lease.as_millis() as u64),
        }
    }

    /// Whether the lease has run out.
    pub fn is_expired(&self) -> bool {
        now_millis() >= self.expires_at
    }
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let age = now_millis().saturating_sub(self.acquired_at) / 1000;
        write!(
            f,
            "{}@{} (pid {}, `{}`, lock id {}, held for {age}s",
            self.owner, self.host, self.pid, self.operation, self.id
        )?;
        let left = self.expires_at.saturating_sub(now_millis()) / 1000;
        write!(f, ", lease ends in {left}s)")
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A random 128-bit hex id (lineages, lock ids, run ids).
pub fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::with_capacity(32);
    for salt in 0..2u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(salt);
        h.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

impl State {
    /// An empty state for `stack` with no lineage yet.
    pub fn empty(stack: &str) -> Self {
        State {
            stack: stack.to_owned(),
            ..State::default()
        }
    }

    /// Rebuilds a state from what a store returned.
    ///
    /// # Errors
    /// [`StateError::Corrupt`] when records skip a number or do not fit the
    /// state (a result for no intent); `origin` names the store.
    pub fn replay(stack: &str, stored: Stored, origin: &str) -> Result<State, StateError> {
        let mut state = stored.snapshot.unwrap_or_else(|| State::empty(stack));
        for record in stored.journal {
            if record.seq <= state.serial {
                continue;
            }
            if record.seq != state.serial + 1 {
                return Err(StateError::Corrupt {
                    location: format!("{origin}, journal record {}", record.seq),
                    message: format!(
                        "expected record {} next; records are missing",
                        state.serial + 1
                    ),
                });
            }
            state
                .apply(&record)
                .map_err(|message| StateError::Corrupt {
                    location: format!("{origin}, journal record {}", record.seq),
                    message,
                })?;
        }
        Ok(state)
    }

    /// Applies one record. This is the meaning of every record.
    ///
    /// # Errors
    /// A message when the record does not fit this state.
    pub fn apply(&mut self, record: &Record) -> Result<(), String> {
        match &record.entry {
            Entry::Init { lineage } => self.lineage = lineage.clone(),
            Entry::Encryption { header } => self.encryption = Some(header.clone()),
            Entry::Intent(intent) => {
                self.pending.insert(record.seq, intent.clone());
            }
            Entry::Failed { op, .. } => {
                self.pending
                    .remove(op)
                    .ok_or_else(|| format!("a failure for operation {op}, which is not pending"))?;
            }
            Entry::Done { op, outcome } => {
                let intent = self
                    .pending
                    .remove(op)
                    .ok_or_else(|| format!("a result for operation {op}, which is not pending"))?;
                self.apply_outcome(intent, outcome)?;
            }
            Entry::Put { resource } => {
                self.resources
                    .insert(resource.name.clone(), Arc::new(resource.clone()));
            }
            Entry::Remove { name } => {
                self.resources.remove(name);
            }
            Entry::RemoveDeposed { id } => self.deposed.retain(|d| &d.id != id),
            Entry::Rename { from, to } => {
                let mut r = self
                    .resources
                    .remove(from)
                    .ok_or_else(|| format!("rename of {from:?}, which is not recorded"))?;
                Arc::make_mut(&mut r).name = to.clone();
                self.resources.insert(to.clone(), r);
                let renamed = |other: &mut ResourceState| {
                    for d in &mut other.dependencies {
                        if d == from {
                            *d = to.clone();
                        }
                    }
                };
                for other in self.resources.values_mut() {
                    if other.dependencies.iter().any(|d| d == from) {
                        renamed(Arc::make_mut(other));
                    }
                }
                self.deposed.iter_mut().for_each(renamed);
            }
            Entry::Outputs { outputs } => self.outputs = outputs.clone(),
            Entry::Reads { reads } => self.reads = reads.clone(),
            Entry::Timings { timings } => self.timings = timings.clone(),
            Entry::Handover { name, mark } => {
                self.handovers.insert(name.clone(), mark.clone());
            }
            Entry::Restore { id } => {
                let i = self
                    .deposed
                    .iter()
                    .position(|d| &d.id == id)
                    .ok_or_else(|| format!("restore of {id:?}, which is not deposed"))?;
                let old = &self.deposed[i];
                if let Some(current) = self.resources.get(&old.name) {
                    return Err(format!(
                        "restore of {id:?} as {:?}, which still has object {:?}",
                        old.name, current.id
                    ));
                }
                let old = self.deposed.remove(i);
                self.resources.insert(old.name.clone(), Arc::new(old));
            }
        }
        self.serial = record.seq;
        Ok(())
    }

    fn apply_outcome(&mut self, intent: Intent, outcome: &Outcome) -> Result<(), String> {
        let Intent {
            kind, mut resource, ..
        } = intent;
        let name = resource.name.clone();
        match (kind, outcome) {
            (
                OpKind::Create | OpKind::Import | OpKind::CreateReplacement,
                Outcome::Created {
                    id,
                    outputs,
                    inputs,
                },
            ) => {
                resource.id = id.clone();
                resource.outputs = outputs.clone();
                if let Some(inputs) = inputs {
                    resource.inputs = inputs.clone();
                }
                if let Some(old) = self.resources.insert(name, Arc::new(resource)) {
                    if kind == OpKind::CreateReplacement && old.id != id.as_str() {
                        self.deposed.push(Arc::unwrap_or_clone(old));
                    }
                }
            }
            (OpKind::Update, Outcome::Updated { outputs }) => {
                resource.outputs = outputs.clone();
                self.resources.insert(name, Arc::new(resource));
            }
            (OpKind::Delete, Outcome::Deleted) => {
                if self
                    .resources
                    .get(&name)
                    .is_some_and(|r| r.id == resource.id)
                {
                    self.resources.remove(&name);
                }
            }
            (OpKind::DeleteDeposed, Outcome::Deleted) => {
                self.deposed.retain(|d| d.id != resource.id);
            }
            (kind, outcome) => {
                return Err(format!(
                    "outcome {outcome:?} does not fit a {kind:?} of {name:?}"
                ));
            }
        }
        Ok(())
    }

    /// A SHA-256 of the state's content, bound into saved plans: every
    /// field, hashed in a binary form (no JSON text is made), so it changes
    /// with any change to the state.
    pub fn fingerprint(&self) -> String {
        use std::fmt::Write;
        let mut hex = String::with_capacity(64);
        for b in super::digest::sha256(self) {
            let _ = write!(hex, "{b:02x}");
        }
        hex
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(name: &str, id: &str) -> ResourceState {
        ResourceState {
            name: name.into(),
            type_name: "fake:t:T".into(),
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

    fn rec(seq: u64, entry: Entry) -> Record {
        Record { seq, at: 0, entry }
    }

    #[test]
    fn intent_then_done_records_the_object() {
        let mut s = State::empty("dev");
        let intent = Intent {
            kind: OpKind::Create,
            resource: res("a", ""),
            token: "t".into(),
        };
        s.apply(&rec(1, Entry::Intent(intent))).unwrap();
        assert_eq!(s.pending.len(), 1);
        s.apply(&rec(
            2,
            Entry::Done {
                op: 1,
                outcome: Outcome::Created {
                    id: "a-1".into(),
                    outputs: Value::Null,
                    inputs: None,
                },
            },
        ))
        .unwrap();
        assert!(s.pending.is_empty());
        assert_eq!(s.resources["a"].id, "a-1");
        assert_eq!(s.serial, 2);
    }

    #[test]
    fn replacement_deposes_the_old_object() {
        let mut s = State::empty("dev");
        s.resources.insert("a".into(), res("a", "a-1").into());
        let intent = Intent {
            kind: OpKind::CreateReplacement,
            resource: res("a", ""),
            token: "t".into(),
        };
        s.apply(&rec(1, Entry::Intent(intent))).unwrap();
        s.apply(&rec(
            2,
            Entry::Done {
                op: 1,
                outcome: Outcome::Created {
                    id: "a-2".into(),
                    outputs: Value::Null,
                    inputs: None,
                },
            },
        ))
        .unwrap();
        assert_eq!(s.resources["a"].id, "a-2");
        assert_eq!(s.deposed[0].id, "a-1");
    }

    #[test]
    fn replay_refuses_gaps_and_orphan_results() {
        let stored = Stored {
            snapshot: None,
            journal: vec![
                rec(
                    1,
                    Entry::Init {
                        lineage: "l".into(),
                    },
                ),
                rec(3, Entry::Remove { name: "x".into() }),
            ],
        };
        let err = State::replay("dev", stored, "test")
            .unwrap_err()
            .to_string();
        assert!(err.contains("record 3") && err.contains("missing"), "{err}");
        let stored = Stored {
            snapshot: None,
            journal: vec![rec(
                1,
                Entry::Done {
                    op: 9,
                    outcome: Outcome::Deleted,
                },
            )],
        };
        let err = State::replay("dev", stored, "test")
            .unwrap_err()
            .to_string();
        assert!(err.contains("operation 9"), "{err}");
    }

    #[test]
    fn replay_skips_records_the_snapshot_covers() {
        let mut snap = State::empty("dev");
        snap.serial = 2;
        snap.lineage = "l".into();
        let stored = Stored {
            snapshot: Some(snap),
            journal: vec![
                rec(
                    2,
                    Entry::Init {
                        lineage: "other".into(),
                    },
                ),
                rec(
                    3,
                    Entry::Put {
                        resource: res("a", "a-1"),
                    },
                ),
            ],
        };
        let s = State::replay("dev", stored, "test").unwrap();
        assert_eq!(s.lineage, "l");
        assert_eq!(s.serial, 3);
        assert!(s.resources.contains_key("a"));
    }
}
