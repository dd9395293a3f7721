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

/// An object's bytes without their header line: as state format 1 wrote
/// them.
fn format_1(bytes: &[u8]) -> Vec<u8> {
    let newline = bytes.iter().position(|&b| b == b'\n').expect("a header");
    bytes[newline + 1..].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_of_format_1_load_and_a_hand_edit_loads_once_accepted() {
    use dafnck_core::state::{self, Entry, Record, StateHistory, StateStore};
    use dafnck_core::testing::FakeCloud;
    use std::time::Duration;

    let Some(moto) = moto("format1").await else {
        return;
    };
    let store = moto.store().await;
    let cloud = FakeCloud::new();
    let engine = super::engine(store.clone(), "dev", &cloud, Duration::from_secs(60));
    engine.up(super::program("a"), false).await.unwrap();
    let state = state::load(&store, "dev").await.unwrap();
    let record = Record {
        seq: state.serial + 1,
        at: 1,
        entry: Entry::Outputs {
            outputs: state.outputs.clone(),
        },
    };
    store.append("dev", &[record]).await.unwrap();

    // Every object as format 1 wrote it: no header, no checksum.
    let keys: Vec<String> = moto
        .keys()
        .await
        .into_iter()
        .filter(|k| k.starts_with("state/dev/") && !k.ends_with("lock.json"))
        .collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    for key in &keys {
        let bytes = moto.get(key).await;
        assert!(bytes.starts_with(b"dafnck-"), "{key}");
        moto.put(key, &format_1(&bytes)).await;
    }
    assert_eq!(
        state::load(&store, "dev").await.unwrap().serial,
        state.serial + 1
    );
    assert_eq!(store.versions("dev").await.unwrap().len(), 1);
    assert!(store.read_version("dev", 1).await.unwrap().is_some());
    let verified = engine.verify().await;
    assert!(!verified.is_damaged(), "{verified}");

    // A run writes the current format; a hand edit of it is refused until
    // accepted.
    engine.up(super::program("b"), false).await.unwrap();
    let key = "state/dev/snapshot.json";
    let text = String::from_utf8(moto.get(key).await).unwrap();
    assert!(
        text.starts_with(&format!(
            "dafnck-state/{} ",
            dafnck_core::state::envelope::FORMAT
        )),
        "{text}"
    );
    let edited = text.replace("\"value\":\"b\"", "\"value\":\"hand\"");
    assert_ne!(edited, text);
    moto.put(key, edited.as_bytes()).await;
    let e = state::load(&store, "dev").await.unwrap_err().to_string();
    assert!(e.contains(key) && e.contains("damaged"), "{e}");
    let accepted = engine
        .accept_edit(|_, last| {
            assert_eq!(last.map(|(n, _)| n), Some(2));
            Ok(true)
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        accepted.resources["n0"]
            .inputs
            .get("value")
            .unwrap()
            .as_str(),
        Some("hand")
    );
    assert_eq!(state::load(&store, "dev").await.unwrap(), accepted);
    let versions = store.versions("dev").await.unwrap();
    assert_eq!(versions.last().unwrap().operation, "state verify --accept");
    assert!(!engine.verify().await.is_damaged());
}
