//! The command line with its state in PostgreSQL: the `fake_cloud` example
//! run as a process with `--state postgres://...` (or `DAFNCK_STATE`), and
//! `state migrate` from the file store into PostgreSQL.
//!
//! The server's URL comes from `DAFNCK_POSTGRES_URL` (set by
//! `scripts/servers/postgres.sh start` or `scripts/test.sh`); without it the
//! tests say they are skipped and pass, unless `DAFNCK_REQUIRE_SERVERS=1`.
//! Each test uses its own PostgreSQL schema. `examples/two_stacks` runs
//! with its network stack in PostgreSQL and its app stack reading it by
//! `postgres://` URL.
#![cfg(feature = "postgres")]

#[cfg(feature = "local")]
#[path = "support/references.rs"]
mod references;
mod support;
#[cfg(feature = "local")]
#[path = "support/two_stacks_cli.rs"]
mod two_stacks_cli;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use dafnck::core::state::{self, new_id, StateLock};
use dafnck::stores::postgres::PostgresStore;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(dir: &Path, env_state: Option<&str>, args: &[&str]) -> Run {
    let mut command = Command::new(support::example("fake_cloud"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("DAFNCK_STACK")
        .env_remove("DAFNCK_STATE_DIR")
        .env_remove("DAFNCK_STATE")
        // The example's instances have secret passwords: `up` refuses to
        // write them without a key.
        .env("DAFNCK_PASSPHRASE", "cli postgres test passphrase")
        .env("NO_COLOR", "1");
    if let Some(url) = env_state {
        command.env("DAFNCK_STATE", url);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("run the example");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

#[track_caller]
fn expect(r: &Run, code: i32) {
    assert_eq!(r.code, code, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}

fn url_for(test: &str) -> Option<String> {
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

#[tokio::test]
async fn state_in_postgres_end_to_end() {
    let Some(url) = url_for("cli") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), None, &["--state", &url, "up", "--yes"]);
    expect(&r, 0);
    assert!(r.stdout.contains("Apply complete"), "{}", r.stdout);
    // Nothing of the stack's state went to files.
    assert!(!dir.path().join(".dafnck/dev").exists());

    // DAFNCK_STATE works like --state.
    let r = run(dir.path(), Some(&url), &["preview", "--detailed-exitcode"]);
    expect(&r, 0);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
    let r = run(dir.path(), Some(&url), &["state", "list"]);
    expect(&r, 0);
    assert_eq!(r.stdout.lines().count(), 5, "{}", r.stdout);

    // The rows hold what the CLI applied, and no lock is left.
    let store = PostgresStore::connect(&url).await.unwrap();
    let recorded = state::load(&store, "dev").await.unwrap();
    assert_eq!(recorded.resources.len(), 5);
    assert!(recorded.pending.is_empty());
    assert_eq!(store.lock_info("dev").await.unwrap(), None);

    // A lock held elsewhere refuses the run, naming holder and id.
    let held = store
        .lock(
            "dev",
            &state::LockRequest::for_this_process("up", std::time::Duration::from_secs(60)),
        )
        .await
        .unwrap();
    let r = run(
        dir.path(),
        Some(&url),
        &["up", "--yes", "--config", "size=large"],
    );
    expect(&r, 1);
    assert!(
        r.stderr.contains("is locked by") && r.stderr.contains(&format!("lock id {}", held.id)),
        "{}",
        r.stderr
    );
    let r = run(dir.path(), Some(&url), &["state", "force-unlock", &held.id]);
    expect(&r, 0);
    assert_eq!(store.lock_info("dev").await.unwrap(), None);

    expect(&run(dir.path(), Some(&url), &["destroy", "--yes"]), 0);
    let recorded = state::load(&store, "dev").await.unwrap();
    assert!(recorded.resources.is_empty());
}

#[test]
fn unknown_schemes_and_unreachable_databases_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        None,
        &["--state", "ftp://host/state", "preview"],
    );
    expect(&r, 1);
    assert!(
        r.stderr.contains("no state store for ftp://")
            && r.stderr.contains("knows: file, postgres"),
        "{}",
        r.stderr
    );
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("postgres://ci:hunter2@127.0.0.1:{port}/infra");
    let r = run(dir.path(), Some(&url), &["preview"]);
    expect(&r, 1);
    assert!(
        r.stderr
            .contains(&format!("cannot connect to PostgreSQL at 127.0.0.1:{port}")),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
}

#[tokio::test]
async fn state_migrate_copies_file_state_into_postgres_and_refuses_to_overwrite() {
    let Some(url) = url_for("migrate") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    expect(&run(dir.path(), None, &["up", "--yes"]), 0);
    let file_state = state::load(&state::FileStore::new(dir.path().join(".dafnck")), "dev")
        .await
        .unwrap();

    let r = run(dir.path(), None, &["state", "migrate", "--to", &url]);
    expect(&r, 0);
    assert!(
        r.stdout.contains("Copied stack \"dev\" (5 resource(s)"),
        "{}",
        r.stdout
    );
    let store = PostgresStore::connect(&url).await.unwrap();
    assert_eq!(state::load(&store, "dev").await.unwrap(), file_state);
    assert_eq!(store.lock_info("dev").await.unwrap(), None);

    // The migrated state is the stack's state: nothing to change.
    let r = run(dir.path(), Some(&url), &["preview", "--detailed-exitcode"]);
    expect(&r, 0);

    // A second migration would overwrite: refused, both left as they were.
    let r = run(dir.path(), None, &["state", "migrate", "--to", &url]);
    expect(&r, 1);
    assert!(r.stderr.contains("already has state"), "{}", r.stderr);
    assert_eq!(state::load(&store, "dev").await.unwrap(), file_state);
    // And back to files, into an empty directory.
    let back = format!("file://{}", dir.path().join("copy").display());
    let r = run(dir.path(), Some(&url), &["state", "migrate", "--to", &back]);
    expect(&r, 0);
    let copied = state::load(&state::FileStore::new(dir.path().join("copy")), "dev")
        .await
        .unwrap();
    assert_eq!(copied, file_state);
}

/// The versions `state history` lists: (number, operation).
fn versions(dir: &Path, url: &str) -> Vec<(String, String)> {
    let r = run(dir, Some(url), &["state", "history"]);
    expect(&r, 0);
    r.stdout
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_owned(), f[3].to_owned())
        })
        .collect()
}

#[tokio::test]
async fn export_and_import_move_a_stack_with_its_history_into_postgres_where_restore_and_prune_work(
) {
    let Some(url) = url_for("export") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    expect(&run(d, None, &["up", "--yes"]), 0);
    let small = run(d, None, &["state", "list"]).stdout;
    expect(&run(d, None, &["up", "--yes", "--config", "size=large"]), 0);
    let file = d.join("dev.json");
    let file = file.to_str().unwrap();
    expect(&run(d, None, &["state", "export", "--out", file]), 0);

    expect(&run(d, Some(&url), &["state", "import", file]), 0);
    let listed = versions(d, &url);
    assert_eq!(
        listed,
        [("1", "up"), ("2", "up"), ("3", "state import")]
            .map(|(n, o)| (n.to_owned(), o.to_owned()))
    );
    expect(&run(d, Some(&url), &["state", "restore", "1", "--yes"]), 0);
    assert_eq!(run(d, Some(&url), &["state", "list"]).stdout, small);
    assert_eq!(versions(d, &url).last().unwrap().1, "state restore");
    let r = run(d, Some(&url), &["state", "prune", "--keep", "last=2"]);
    expect(&r, 0);
    let numbers: Vec<String> = versions(d, &url).into_iter().map(|v| v.0).collect();
    assert_eq!(numbers, ["3", "4"]);
}

#[cfg(feature = "local")]
#[test]
fn an_app_stack_reads_a_network_stack_in_postgres_by_url() {
    let Some(url) = url_for("refs") else {
        return;
    };
    references::the_app_reads_the_network_by_url(&url, &[]);
}
