//! Stack references to a stack kept in PostgreSQL: an app stack in
//! another store reads the network stack's exports by its `postgres://`
//! URL, opened with the backend `dafnck::cli::run` registers.

use std::sync::Arc;

#[path = "../common/references.rs"]
mod common;

use dafnck_core::state::StoreBackends;
use dafnck_stores::postgres::PostgresStore;

use super::url_for;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_in_another_store_reads_the_exports_by_postgres_url() {
    let Some(url) = url_for("references") else {
        return;
    };
    let store = PostgresStore::connect(&url).await.unwrap();
    let mut backends = StoreBackends::new();
    backends.insert(Arc::new(dafnck_stores::postgres::backend()));
    common::an_app_reads_the_network_by_url(store, &url, backends).await;
}
