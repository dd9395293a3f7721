//! State recovery through the command line, on the file store: `state
//! restore` of an earlier version (refused while locked, itself undoable),
//! history retention (`state prune`, `--history-retention`), and `state
//! export` / `state import` of a stack with its history.

#[path = "support/fake_cli.rs"]
mod fake_cli;
mod support;

use std::path::Path;
use std::time::Duration;

use dafnck::core::state::{FileStore, LockRequest, StateStore};
use fake_cli::{expect, recorded_ids as ids, run, run_with};

/// `state history`: (version, operation, summary) per line.
fn history(dir: &Path, stack: &str) -> Vec<(u64, String, String)> {
    let r = run(dir, &["state", "history", "--stack", stack]);
    expect(&r, 0);
    r.stdout
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].parse().unwrap(), f[3].to_owned(), f[4].to_owned())
        })
        .collect()
}

fn numbers(h: &[(u64, String, String)]) -> Vec<u64> {
    h.iter().map(|v| v.0).collect()
}

#[test]
fn restore_writes_an_earlier_version_back_and_can_be_undone_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    expect(&run(dir.path(), &["up", "--yes"]), 0);
    let small = ids(dir.path(), "dev");
    expect(
        &run(dir.path(), &["up", "--yes", "--config", "size=large"]),
        0,
    );
    let large = ids(dir.path(), "dev");
    assert_ne!(small, large, "the large size replaces objects");

    // Without --yes and without a terminal: the difference is shown, and
    // nothing is written.
    let snapshot = dir.path().join(".dafnck/dev/snapshot.json");
    let before = std::fs::read(&snapshot).unwrap();
    let r = run(dir.path(), &["state", "restore", "1"]);
    expect(&r, 1);
    assert!(
        r.stdout.contains("Restoring version 1 of stack \"dev\"")
            && r.stdout.contains(&format!(
                "~ public-a (fake:net:Subnet, id {})",
                small["public-a"]
            )),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("pass --yes"), "{}", r.stderr);
    assert_eq!(std::fs::read(&snapshot).unwrap(), before);

    let r = run(dir.path(), &["state", "restore", "1", "--yes"]);
    expect(&r, 0);
    assert!(r.stdout.contains("Restored version 1"), "{}", r.stdout);
    assert_eq!(ids(dir.path(), "dev"), small);
    let h = history(dir.path(), "dev");
    assert_eq!(numbers(&h), [1, 2, 3]);
    assert_eq!(h[2].1, "state restore");
    assert_eq!(h[2].2, "restored version 1 (5 resource(s))");

    // The restore is a version: restoring the one before it undoes it.
    expect(
        &run(dir.path(), &["state", "restore", "--version", "2", "--yes"]),
        0,
    );
    assert_eq!(ids(dir.path(), "dev"), large);
    assert_eq!(numbers(&history(dir.path(), "dev")), [1, 2, 3, 4]);
    // And the restored state is one `up` works from: nothing to change.
    let r = run(
        dir.path(),
        &["preview", "--config", "size=large", "--detailed-exitcode"],
    );
    expect(&r, 0);

    let r = run(dir.path(), &["state", "restore", "9", "--yes"]);
    expect(&r, 1);
    assert!(r.stderr.contains("has no version 9"), "{}", r.stderr);

    // A state that does not parse is never overwritten.
    std::fs::write(&snapshot, b"dafnck-state/2 crc32=00000000 len=2\n{}").unwrap();
    let damaged = std::fs::read(&snapshot).unwrap();
    let r = run(dir.path(), &["state", "restore", "1", "--yes"]);
    expect(&r, 1);
    assert!(r.stderr.contains("damaged"), "{}", r.stderr);
    assert_eq!(std::fs::read(&snapshot).unwrap(), damaged);
    assert_eq!(numbers(&history(dir.path(), "dev")), [1, 2, 3, 4]);
}

#[tokio::test]
async fn restore_is_refused_while_another_run_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    expect(&run(dir.path(), &["up", "--yes"]), 0);
    expect(
        &run(dir.path(), &["up", "--yes", "--config", "size=large"]),
        0,
    );
    let large = ids(dir.path(), "dev");
    let store = FileStore::new(dir.path().join(".dafnck"));
    let locks = store.locks().unwrap();
    let held = locks
        .lock(
            "dev",
            &LockRequest::for_this_process("up", Duration::from_secs(300)),
        )
        .await
        .unwrap();
    let r = run(dir.path(), &["state", "restore", "1", "--yes"]);
    expect(&r, 1);
    assert!(r.stderr.contains("is locked by"), "{}", r.stderr);
    assert_eq!(ids(dir.path(), "dev"), large);
    assert_eq!(numbers(&history(dir.path(), "dev")), [1, 2]);
    locks.unlock("dev", &held.id).await.unwrap();
    expect(&run(dir.path(), &["state", "restore", "1", "--yes"]), 0);
}

#[test]
fn prune_drops_what_the_retention_does_not_keep_on_demand_and_after_each_run() {
    let dir = tempfile::tempdir().unwrap();
    for size in ["small", "large", "small", "large"] {
        let config = format!("size={size}");
        expect(&run(dir.path(), &["up", "--yes", "--config", &config]), 0);
    }
    assert_eq!(numbers(&history(dir.path(), "dev")), [1, 2, 3, 4]);

    let r = run(
        dir.path(),
        &["state", "prune", "--keep", "last=2", "--dry-run"],
    );
    expect(&r, 0);
    assert!(
        r.stdout
            .contains("Would drop 2 version(s) of stack \"dev\" (last=2): 1, 2"),
        "{}",
        r.stdout
    );
    assert_eq!(numbers(&history(dir.path(), "dev")), [1, 2, 3, 4]);
    let r = run(dir.path(), &["state", "prune", "--keep", "last=2"]);
    expect(&r, 0);
    assert!(r.stdout.contains("Dropped 2 version(s)"), "{}", r.stdout);
    assert_eq!(numbers(&history(dir.path(), "dev")), [3, 4]);
    let r = run(dir.path(), &["state", "show", "--version", "1"]);
    expect(&r, 1);
    assert!(r.stderr.contains("has no version 1"), "{}", r.stderr);
    // Everything is younger than a day: nothing to drop.
    let r = run(dir.path(), &["state", "prune", "--keep", "within=1d"]);
    expect(&r, 0);
    assert!(
        r.stdout.contains("keeps every version (within=1d)"),
        "{}",
        r.stdout
    );

    // The program's setting, applied after each run; versions keep their numbers.
    let r = run_with(
        dir.path(),
        &["up", "--yes", "--config", "size=small"],
        &[("DAFNCK_HISTORY_RETENTION", "last=1")],
    );
    expect(&r, 0);
    assert_eq!(numbers(&history(dir.path(), "dev")), [5]);
    let r = run(
        dir.path(),
        &[
            "up",
            "--yes",
            "--config",
            "size=large",
            "--history-retention",
            "last=2",
        ],
    );
    expect(&r, 0);
    assert_eq!(numbers(&history(dir.path(), "dev")), [5, 6]);

    let r = run(dir.path(), &["state", "prune"]);
    expect(&r, 1);
    assert!(r.stderr.contains("say what to keep"), "{}", r.stderr);
    let r = run(dir.path(), &["state", "prune", "--keep", "newest=3"]);
    expect(&r, 1);
    assert!(
        r.stderr.contains("\"newest\" in the retention"),
        "{}",
        r.stderr
    );
}

#[test]
fn export_and_import_move_a_stack_with_its_history_and_refuse_what_would_lose_state() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    expect(&run(d, &["up", "--yes"]), 0);
    expect(&run(d, &["up", "--yes", "--config", "size=large"]), 0);
    let file = d.join("dev.export.json");
    let file_arg = file.to_str().unwrap();
    let r = run(d, &["state", "export", "--out", file_arg]);
    expect(&r, 0);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\"format\": \"dafnck-state-export/2\""));
    assert!(text.contains("\"checksum\": \"sha256:"));
    assert!(
        !text.contains("s3cret"),
        "secrets stay sealed in the export"
    );

    // Into another store with its history.
    let other = tempfile::tempdir().unwrap();
    let r = run(other.path(), &["state", "import", file_arg]);
    expect(&r, 0);
    assert!(
        r.stdout.contains("2 version(s) added to its history"),
        "{}",
        r.stdout
    );
    assert_eq!(ids(other.path(), "dev"), ids(d, "dev"));
    let h = history(other.path(), "dev");
    assert_eq!(numbers(&h), [1, 2, 3]);
    assert_eq!(h[..2], history(d, "dev")[..]);
    assert_eq!(h[2].1, "state import");
    let r = run(other.path(), &["state", "show", "--version", "1"]);
    expect(&r, 0);
    assert_eq!(r.stdout.lines().count(), 5, "{}", r.stdout);

    // Into another stack of the same cloud: only with --force, and then the
    // state is one the program applies without change (its secrets open).
    let r = run(d, &["state", "import", file_arg, "--stack", "prod"]);
    expect(&r, 1);
    assert!(
        r.stderr
            .contains("the export is of stack \"dev\", not \"prod\""),
        "{}",
        r.stderr
    );
    expect(
        &run(
            d,
            &["state", "import", file_arg, "--stack", "prod", "--force"],
        ),
        0,
    );
    let r = run(
        d,
        &[
            "preview",
            "--stack",
            "prod",
            "--config",
            "size=large",
            "--detailed-exitcode",
        ],
    );
    expect(&r, 0);

    // The same state again: nothing to write.
    let r = run(d, &["state", "import", file_arg]);
    expect(&r, 0);
    assert!(
        r.stdout.contains("already holds the exported state"),
        "{}",
        r.stdout
    );

    // Newer state is not replaced silently.
    expect(&run(d, &["up", "--yes", "--config", "size=small"]), 0);
    let newer = ids(d, "dev");
    let r = run(d, &["state", "import", file_arg]);
    expect(&r, 1);
    assert!(r.stderr.contains("its state is newer"), "{}", r.stderr);
    assert_eq!(ids(d, "dev"), newer);

    // Another lineage is refused.
    let third = tempfile::tempdir().unwrap();
    expect(&run(third.path(), &["up", "--yes"]), 0);
    let r = run(third.path(), &["state", "import", file_arg]);
    expect(&r, 1);
    assert!(r.stderr.contains("lineage"), "{}", r.stderr);

    // A document that fails its checksum is refused, even with --force.
    let tampered = d.join("tampered.json");
    std::fs::write(
        &tampered,
        text.replacen("\"size\": \"large\"", "\"size\": \"huge\"", 1),
    )
    .unwrap();
    let r = run(
        other.path(),
        &["state", "import", tampered.to_str().unwrap(), "--force"],
    );
    expect(&r, 1);
    assert!(
        r.stderr.contains("is damaged") && r.stderr.contains("checksum"),
        "{}",
        r.stderr
    );
    assert_eq!(numbers(&history(other.path(), "dev")), [1, 2, 3]);
}
