//! The PostgreSQL state store against a real server on 127.0.0.1.
//!
//! Tests take the server's URL from `DAFNCK_POSTGRES_URL` (set by
//! `scripts/servers/postgres.sh start` or `scripts/test.sh`); without it a
//! test says it is skipped and passes, unless `DAFNCK_REQUIRE_SERVERS=1`,
//! when it fails. Each test works in its own PostgreSQL schema
//! (`?schema=t_<test>_<random>`), so tests run in parallel and never see
//! each other's rows. Some tests run this test binary again as child
//! processes (`--ignored --exact <child>`), as the engine's crash test does.
#![cfg(feature = "postgres")]

mod damage;
mod processes;
#[path = "../common/race.rs"]
mod race;
mod references;
mod secrets;
mod store;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use dafnck_core::state::new_id;

pub(crate) use race::{engine, program};

/// The server's URL with a fresh schema for `test`, or `None` (skipped).
pub(crate) fn url_for(test: &str) -> Option<String> {
    let Ok(base) = std::env::var("DAFNCK_POSTGRES_URL") else {
        let why = "PostgreSQL is not available (set DAFNCK_POSTGRES_URL: scripts/servers/postgres.sh start, or scripts/test.sh)";
        if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
            panic!("{test}: {why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
        }
        let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
        return None;
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}schema=t_{test}_{}", &new_id()[..10]))
}

/// A raw client on the same database, to look at and damage rows.
pub(crate) async fn raw(url: &str) -> tokio_postgres::Client {
    let base = url.split_once('?').map_or(url, |(b, _)| b);
    let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls)
        .await
        .expect("a raw connection to the test server");
    tokio::spawn(conn);
    client
}

/// The schema a test URL names.
pub(crate) fn schema_of(url: &str) -> String {
    url.rsplit_once("schema=").expect("a schema").1.to_owned()
}

/// Runs this test binary again as the child test `name` (`--ignored
/// --exact`), with the store's URL and the fake cloud's directory.
pub(crate) fn spawn_child(name: &str, url: &str, cloud_dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            name,
            "--nocapture",
            "--test-threads=1",
        ])
        .env("DAFNCK_TEST_URL", url)
        .env("DAFNCK_TEST_CLOUD", cloud_dir)
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn a child")
}
