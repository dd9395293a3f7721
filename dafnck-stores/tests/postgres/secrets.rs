//! No plaintext in PostgreSQL: every row of every table in the store's
//! schema, after applying a program with secrets.

use std::collections::BTreeMap;

#[path = "../common/secrets.rs"]
mod common;

use dafnck_stores::postgres::PostgresStore;

use super::{raw, schema_of, url_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_any_row() {
    let Some(url) = url_for("secrets") else {
        return;
    };
    let store = PostgresStore::connect(&url).await.unwrap();
    common::apply_with_secrets(store).await;
    let schema = schema_of(&url);
    let db = raw(&url).await;
    let tables: Vec<String> = db
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
            &[&schema],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for table in ["snapshots", "journal", "versions", "locks", "controls"] {
        assert!(tables.iter().any(|t| t == table), "{table} in {tables:?}");
    }
    let mut rows = BTreeMap::new();
    for table in &tables {
        // Each row whole, as PostgreSQL writes it out.
        let found = db
            .query(
                &format!("SELECT t::text FROM \"{schema}\".\"{table}\" AS t"),
                &[],
            )
            .await
            .unwrap();
        for (i, row) in found.iter().enumerate() {
            let text: String = row.get(0);
            rows.insert(format!("{schema}.{table} row {i}"), text.into_bytes());
        }
    }
    assert!(
        rows.keys().any(|k| k.contains(".snapshots row"))
            && rows.keys().any(|k| k.contains(".versions row")),
        "{:?}",
        rows.keys()
    );
    common::assert_no_plaintext(&rows);
}
