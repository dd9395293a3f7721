//! Every row the store keeps for a stack (the snapshot, each journal
//! record, each version's entry and state), damaged by a flipped bit, a
//! truncation and an appended byte, is refused by name and left as it is.

use std::sync::Arc;

use async_trait::async_trait;
use dafnck_core::testing::damage::{check_damage, StoredUnit, UnitAccess, UnitKind};
use dafnck_stores::postgres::PostgresStore;

use super::{raw, schema_of, url_for};

/// Rows, addressed by keys `table|column|number` (number: the journal
/// record's seq or the version).
struct Rows {
    db: tokio_postgres::Client,
    schema: String,
    stack: String,
}

impl Rows {
    /// The statement's `WHERE` for a unit's key, and the column.
    fn place(&self, key: &str) -> (String, String, String) {
        let mut parts = key.split('|');
        let (table, column, n) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let filter = match table {
            "snapshots" => format!("stack = '{}'", self.stack),
            "journal" => format!("stack = '{}' AND seq = {n}", self.stack),
            _ => format!("stack = '{}' AND version = {n}", self.stack),
        };
        (
            format!("\"{}\".{table}", self.schema),
            column.to_owned(),
            filter,
        )
    }
}

#[async_trait]
impl UnitAccess for Rows {
    async fn units(&self, stack: &str) -> Vec<StoredUnit> {
        let s = &self.schema;
        let row = |table: &str, what: String| format!("{s}.{table}, row {what}");
        let mut units = Vec::new();
        let q = |sql: String| async move { self.db.query(&sql, &[&stack]).await.unwrap() };
        if !q(format!("SELECT 1 FROM \"{s}\".snapshots WHERE stack = $1"))
            .await
            .is_empty()
        {
            units.push(StoredUnit {
                key: "snapshots|state|0".into(),
                kind: UnitKind::Snapshot,
                name: row("snapshots", format!("stack = {stack:?}")),
            });
        }
        for r in q(format!(
            "SELECT seq FROM \"{s}\".journal WHERE stack = $1 ORDER BY seq"
        ))
        .await
        {
            let seq: i64 = r.get(0);
            units.push(StoredUnit {
                key: format!("journal|record|{seq}"),
                kind: UnitKind::Journal { torn_tail: false },
                name: row("journal", format!("(stack = {stack:?}, seq = {seq})")),
            });
        }
        for r in q(format!(
            "SELECT version FROM \"{s}\".versions WHERE stack = $1 ORDER BY version"
        ))
        .await
        {
            let v: i64 = r.get(0);
            let at = format!("(stack = {stack:?}, version = {v})");
            units.push(StoredUnit {
                key: format!("versions|info|{v}"),
                kind: UnitKind::History,
                name: row("versions", format!("{at}, column info")),
            });
            units.push(StoredUnit {
                key: format!("versions|state|{v}"),
                kind: UnitKind::Version(v as u64),
                name: row("versions", format!("{at}, column state")),
            });
        }
        units
    }

    async fn read_unit(&self, unit: &StoredUnit) -> Vec<u8> {
        let (table, column, filter) = self.place(&unit.key);
        let row = self
            .db
            .query_one(&format!("SELECT {column} FROM {table} WHERE {filter}"), &[])
            .await
            .unwrap();
        row.get::<_, String>(0).into_bytes()
    }

    async fn write_unit(&self, unit: &StoredUnit, bytes: Vec<u8>) {
        let (table, column, filter) = self.place(&unit.key);
        let text = String::from_utf8(bytes).expect("damage keeps the text UTF-8");
        let n = self
            .db
            .execute(
                &format!("UPDATE {table} SET {column} = $1 WHERE {filter}"),
                &[&text],
            )
            .await
            .unwrap();
        assert_eq!(n, 1, "{}", unit.key);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_damaged_row_is_refused_by_name_and_left_as_it_is() {
    let Some(url) = url_for("damage") else {
        return;
    };
    let store = Arc::new(PostgresStore::connect(&url).await.unwrap());
    let rows = Rows {
        db: raw(&url).await,
        schema: schema_of(&url),
        stack: "dev".into(),
    };
    let trials = check_damage(store, &rows, "dev").await;
    // The snapshot, two journal records, two versions of two columns each:
    // seven units, three ways.
    assert_eq!(trials, 7 * 3);
}

/// A unit's text without its header line: as state format 1 wrote it.
fn format_1(text: &str) -> String {
    text.split_once('\n').expect("a header line").1.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_of_format_1_load_and_a_hand_edit_loads_once_accepted() {
    use dafnck_core::state::{self, Entry, Record, StateHistory, StateStore};
    use dafnck_core::testing::FakeCloud;
    use std::time::Duration;

    let Some(url) = url_for("format1") else {
        return;
    };
    let store = PostgresStore::connect(&url).await.unwrap();
    let (db, s) = (raw(&url).await, schema_of(&url));
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

    // Every row as format 1 wrote it: no header, no checksum.
    for (table, column) in [
        ("snapshots", "state"),
        ("versions", "state"),
        ("versions", "info"),
    ] {
        let rows = db
            .query(&format!("SELECT {column} FROM \"{s}\".{table}"), &[])
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        let text: String = rows[0].get(0);
        assert!(text.starts_with("dafnck-"), "{text}");
        db.execute(
            &format!("UPDATE \"{s}\".{table} SET {column} = $1"),
            &[&format_1(&text)],
        )
        .await
        .unwrap();
    }
    let text: String = db
        .query_one(&format!("SELECT record FROM \"{s}\".journal"), &[])
        .await
        .unwrap()
        .get(0);
    let (_, json) = text.split_once('\t').unwrap();
    db.execute(&format!("UPDATE \"{s}\".journal SET record = $1"), &[&json])
        .await
        .unwrap();
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
    let text: String = db
        .query_one(&format!("SELECT state FROM \"{s}\".snapshots"), &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        text.starts_with(&format!(
            "dafnck-state/{} ",
            dafnck_core::state::envelope::FORMAT
        )),
        "{text}"
    );
    let edited = text.replace("\"value\":\"b\"", "\"value\":\"hand\"");
    assert_ne!(edited, text);
    db.execute(
        &format!("UPDATE \"{s}\".snapshots SET state = $1"),
        &[&edited],
    )
    .await
    .unwrap();
    let e = state::load(&store, "dev").await.unwrap_err().to_string();
    assert!(
        e.contains(&format!("{s}.snapshots")) && e.contains("damaged"),
        "{e}"
    );
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
