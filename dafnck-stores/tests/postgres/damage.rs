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
