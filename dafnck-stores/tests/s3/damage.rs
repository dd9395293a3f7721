//! Every object the store keeps for a stack (snapshot, journal batches,
//! each version's entry and state), damaged by a flipped bit, a truncation
//! and an appended byte, is refused by name and left as it is.

use std::sync::Arc;

use async_trait::async_trait;
use dafnck_core::testing::damage::{check_damage, StoredUnit, UnitAccess, UnitKind};

use super::{moto, Moto};

struct Objects<'a>(&'a Moto);

#[async_trait]
impl UnitAccess for Objects<'_> {
    async fn units(&self, stack: &str) -> Vec<StoredUnit> {
        let prefix = format!("state/{stack}/");
        let mut keys: Vec<String> = self
            .0
            .keys()
            .await
            .into_iter()
            .filter(|k| k.starts_with(&prefix))
            .collect();
        keys.sort();
        keys.into_iter()
            .filter_map(|key| {
                let rest = &key[prefix.len()..];
                let kind = if rest == "snapshot.json" {
                    UnitKind::Snapshot
                } else if rest.starts_with("journal/") {
                    UnitKind::Journal { torn_tail: false }
                } else if let Some(v) = rest.strip_prefix("versions/") {
                    let (n, file) = v.split_once('/')?;
                    match file {
                        "info.json" => UnitKind::History,
                        "state.json" => UnitKind::Version(n.parse().ok()?),
                        _ => return None,
                    }
                } else {
                    return None; // the lock, control messages
                };
                Some(StoredUnit {
                    name: key.clone(),
                    key,
                    kind,
                })
            })
            .collect()
    }

    async fn read_unit(&self, unit: &StoredUnit) -> Vec<u8> {
        self.0.get(&unit.key).await
    }

    async fn write_unit(&self, unit: &StoredUnit, bytes: Vec<u8>) {
        self.0.put(&unit.key, &bytes).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_damaged_object_is_refused_by_name_and_left_as_it_is() {
    let Some(moto) = moto("damage").await else {
        return;
    };
    let store = Arc::new(moto.store().await);
    let trials = check_damage(store, &Objects(&moto), "dev").await;
    // The snapshot, two batches, two versions of two objects each: seven
    // objects, three ways.
    assert_eq!(trials, 7 * 3);
}
