//! The damage test every state store with persistent units runs: each
//! stored unit (snapshot, journal record or batch, the list of versions,
//! each version), damaged by one flipped bit, a truncation and one
//! appended byte, is refused by every command that reads it with an error
//! naming the unit, before any provider call, and nothing is written.
//!
//! A store's test gives [`check_damage`] the store and a [`UnitAccess`]: a
//! way to list the units it keeps for a stack and to read and write their
//! bytes directly (files, rows, objects), as damage would.
//!
//! [`MemoryStore`](crate::state::MemoryStore) keeps values, not bytes, and
//! persists nothing: it has no units to damage and is exempt.

use std::sync::Arc;

use async_trait::async_trait;

use crate::engine::{Engine, Settings};
use crate::provider::Providers;
use crate::stack::Stack;
use crate::state::{self, Entry, Record, SecretsKey, StateStore};
use crate::testing::resources::Node;
use crate::testing::{fast_retry, FakeCloud};

/// What a stored unit holds, which says which commands read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnitKind {
    /// The snapshot: every command that loads the state reads it.
    Snapshot,
    /// Journal records (a file, a row, a batch object).
    Journal {
        /// A final line that is cut short or fails its checksum is read as
        /// the torn write of a crash and dropped (the file store's
        /// journal): only a flipped bit in an earlier line is checked.
        torn_tail: bool,
    },
    /// The list of versions (an index file, a version's entry): every
    /// command that writes reads it before it starts, and `state history`.
    History,
    /// The state of version N: `state show --version N` reads it.
    Version(u64),
}

/// One stored unit.
#[derive(Clone, Debug)]
pub struct StoredUnit {
    /// Where it is, for [`UnitAccess::read_unit`] and
    /// [`UnitAccess::write_unit`] (a path, a row's key, an object key).
    pub key: String,
    /// What it holds.
    pub kind: UnitKind,
    /// Text every refusal of it must contain (its path, row or key).
    pub name: String,
}

/// Direct access to a store's stored units, below the store.
#[async_trait]
pub trait UnitAccess: Send + Sync {
    /// The units the store keeps for `stack`, in a stable order.
    async fn units(&self, stack: &str) -> Vec<StoredUnit>;
    /// A unit's bytes.
    async fn read_unit(&self, unit: &StoredUnit) -> Vec<u8>;
    /// Replaces a unit's bytes.
    async fn write_unit(&self, unit: &StoredUnit, bytes: Vec<u8>);
}

/// A way to damage a unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Damage {
    /// Bit 0 of one byte (a third of the way in, or inside the first line
    /// of a journal with a torn tail) flipped: ASCII stays ASCII, so a
    /// text column can hold it.
    FlipBit,
    /// Cut to half its length.
    Truncate,
    /// One byte (`x`) appended.
    AppendByte,
}

impl Damage {
    /// Every damage.
    pub const ALL: [Damage; 3] = [Damage::FlipBit, Damage::Truncate, Damage::AppendByte];

    /// `bytes` damaged this way.
    pub fn apply(self, bytes: &[u8], kind: &UnitKind) -> Vec<u8> {
        let mut out = bytes.to_vec();
        match self {
            Damage::FlipBit => {
                let at = match kind {
                    UnitKind::Journal { torn_tail: true } => 12.min(out.len() - 1),
                    _ => out.len() / 3,
                };
                out[at] ^= 1;
            }
            Damage::Truncate => out.truncate(out.len() / 2),
            Damage::AppendByte => out.push(b'x'),
        }
        out
    }
}

/// A command's result, its value dropped and its error as text.
fn text<T>(r: crate::Result<T>) -> Result<(), String> {
    r.map(|_| ()).map_err(|e| e.to_string())
}

fn program(value: &'static str) -> impl Fn(&mut Stack) -> crate::Result<()> + Send + Sync {
    move |stack| {
        let a = stack.add(
            "a",
            Node {
                value: value.into(),
                key: "k".into(),
                refs: vec![],
            },
        );
        stack.add(
            "b",
            Node {
                value: "b".into(),
                key: "k".into(),
                refs: vec![a.out().node_id],
            },
        );
        stack.export("b", "b");
        Ok(())
    }
}

/// Builds stack `stack` in `store` (two runs, so two versions; then two
/// journal records after the snapshot), then damages each unit `access`
/// lists in each [`Damage`] way and checks that every command reading it
/// refuses, naming it, with no provider call, and that every unit's bytes
/// are as they were; the unit is restored after each trial. Returns how
/// many trials ran. Panics on the first failure.
pub async fn check_damage(
    store: Arc<dyn StateStore>,
    access: &dyn UnitAccess,
    stack: &str,
) -> usize {
    let cloud = FakeCloud::new();
    let engine = Engine::with_store(stack, store.clone(), Providers::new().with(cloud.clone()))
        .settings(Settings {
            retry: fast_retry(),
            ..Settings::default()
        })
        .secrets_key(SecretsKey::generate());
    engine.up(program("one"), false).await.expect("first up");
    engine.up(program("two"), false).await.expect("second up");
    for _ in 0..2 {
        let state = state::load(&*store, stack).await.expect("load");
        let record = Record {
            seq: state.serial + 1,
            at: state::now_millis(),
            entry: Entry::Outputs {
                outputs: state.outputs.clone(),
            },
        };
        store.append(stack, &[record]).await.expect("append");
    }
    let verified = engine.verify().await;
    assert!(
        !verified.is_damaged(),
        "the stack before damage:\n{verified}"
    );

    let units = access.units(stack).await;
    let kinds = |f: fn(&UnitKind) -> bool| units.iter().any(|u| f(&u.kind));
    assert!(kinds(|k| *k == UnitKind::Snapshot), "no snapshot listed");
    assert!(
        kinds(|k| matches!(k, UnitKind::Journal { .. })),
        "no journal listed"
    );
    assert!(kinds(|k| *k == UnitKind::History), "no history listed");
    assert!(
        kinds(|k| matches!(k, UnitKind::Version(_))),
        "no version listed"
    );
    let mut pristine = Vec::new();
    for u in &units {
        pristine.push(access.read_unit(u).await);
    }

    let mut trials = 0;
    for (unit, original) in units.iter().zip(&pristine) {
        for damage in Damage::ALL {
            if unit.kind == (UnitKind::Journal { torn_tail: true }) && damage != Damage::FlipBit {
                continue;
            }
            let damaged = damage.apply(original, &unit.kind);
            access.write_unit(unit, damaged.clone()).await;
            let calls = cloud.calls().len();
            let what = format!("{} damaged by {damage:?}", unit.key);
            let refused = |name: &str, r: Result<(), String>| match r {
                Err(e) => assert!(
                    e.contains(&unit.name),
                    "{what}: `{name}` refused without naming {:?}: {e}",
                    unit.name
                ),
                Ok(()) => panic!("{what}: `{name}` did not refuse"),
            };
            match &unit.kind {
                UnitKind::Snapshot | UnitKind::Journal { .. } => {
                    refused(
                        "preview",
                        text(engine.preview(program("three"), false).await),
                    );
                    refused("up", text(engine.up(program("three"), false).await));
                    refused("refresh", text(engine.refresh().await));
                    refused("destroy", text(engine.destroy().await));
                    refused("state list", text(engine.existing_state().await));
                }
                UnitKind::History => {
                    refused("up", text(engine.up(program("three"), false).await));
                    refused("refresh", text(engine.refresh().await));
                    refused("destroy", text(engine.destroy().await));
                    refused("state history", text(engine.history().await));
                }
                UnitKind::Version(n) => {
                    refused("state show --version", text(engine.version(*n).await));
                }
            }
            let verified = engine.verify().await;
            let named = verified
                .units
                .iter()
                .any(|u| matches!(&u.result, Err(e) if e.to_string().contains(&unit.name)));
            assert!(
                verified.is_damaged() && named,
                "{what}: `state verify` did not name it:\n{verified}"
            );
            assert_eq!(cloud.calls().len(), calls, "{what}: a provider was called");
            let now = access.units(stack).await;
            assert_eq!(
                now.iter().map(|u| &u.key).collect::<Vec<_>>(),
                units.iter().map(|u| &u.key).collect::<Vec<_>>(),
                "{what}: units were added or removed"
            );
            for (u, before) in units.iter().zip(&pristine) {
                let expected = if u.key == unit.key { &damaged } else { before };
                assert!(
                    access.read_unit(u).await == *expected,
                    "{what}: the bytes of {} changed",
                    u.key
                );
            }
            access.write_unit(unit, original.clone()).await;
            trials += 1;
        }
    }
    let verified = engine.verify().await;
    assert!(
        !verified.is_damaged(),
        "the stack after the trials:\n{verified}"
    );
    trials
}
