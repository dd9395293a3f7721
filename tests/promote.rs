//! `promote --from staging --to prod` through the command line, on the file
//! store and the fake cloud: it applies prod with the build staging
//! verified, and refuses a failed, unsoaked, stale or other-build staging.

#[path = "support/fake_cli.rs"]
mod fake_cli;
mod support;

use std::path::Path;

use dafnck::core::state::{Commit, FileStore, RunOutcome, StateStore, VersionInfo};
use fake_cli::{expect, run};

fn listed(dir: &Path, stack: &str) -> usize {
    let r = run(dir, &["state", "list", "--stack", stack]);
    if r.code == 0 {
        r.stdout.lines().count()
    } else {
        0
    }
}

fn promote(dir: &Path, extra: &[&str]) -> fake_cli::Run {
    let mut args = vec!["promote", "--from", "staging", "--to", "prod", "--yes"];
    args.extend_from_slice(extra);
    run(dir, &args)
}

#[tokio::test]
async fn promote_applies_what_staging_verified_and_refuses_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let r = promote(d, &[]);
    expect(&r, 1);
    assert!(r.stderr.contains("has no deployment"), "{}", r.stderr);

    expect(&run(d, &["up", "--yes", "--stack", "staging"]), 0);
    let r = promote(d, &["--soak", "1h"]);
    expect(&r, 1);
    assert!(
        r.stderr
            .contains("stage \"staging\" cannot be promoted to \"prod\"")
            && r.stderr.contains("less than the soak time of 3600s"),
        "{}",
        r.stderr
    );
    let r = promote(d, &["--max-age", "0s"]);
    expect(&r, 1);
    assert!(r.stderr.contains("older than --max-age"), "{}", r.stderr);
    assert_eq!(listed(d, "prod"), 0, "nothing was applied");

    let r = promote(d, &[]);
    expect(&r, 0);
    assert!(
        r.stdout
            .contains("Promoting to \"prod\" the build \"staging\" deployed in version 1"),
        "{}",
        r.stdout
    );
    assert_eq!(listed(d, "prod"), 5);
    // Recorded as prod's deployment: `report` counts it.
    let r = run(d, &["report", "--stack", "prod", "--json"]);
    expect(&r, 0);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["stacks"][0]["metrics"]["deployments"], 1);

    // A failed staging deployment is not promoted.
    fake_cli::delete_object(d, "staging", "web-1");
    let r = run(
        d,
        &[
            "up",
            "--yes",
            "--stack",
            "staging",
            "--no-refresh",
            "--config",
            "size=large",
        ],
    );
    expect(&r, 1);
    let r = promote(d, &["--config", "size=large"]);
    expect(&r, 1);
    assert!(
        r.stderr.contains("its last deployment (version 2") && r.stderr.contains("failed"),
        "{}",
        r.stderr
    );

    // Another build deployed staging last: refused.
    let store = FileStore::new(d.join(".dafnck"));
    let history = store.history().unwrap();
    let state = dafnck::core::state::load(&store, "staging").await.unwrap();
    let info = VersionInfo {
        version: 3,
        at: dafnck::core::state::now_millis(),
        by: "ci@elsewhere".into(),
        operation: "up".into(),
        summary: String::new(),
        serial: state.serial,
        outcome: Some(RunOutcome::Succeeded),
        commit: Some(Commit {
            id: Some("0ther".into()),
            at: None,
            program: Some("sha256:another-build".into()),
        }),
    };
    history
        .save_version("staging", &info, &state)
        .await
        .unwrap();
    let r = promote(d, &[]);
    expect(&r, 1);
    assert!(
        r.stderr.contains(
            "ran another build of the program (program sha256:another-build, commit 0ther"
        ),
        "{}",
        r.stderr
    );

    let r = run(d, &["promote", "--from", "prod", "--stack", "prod"]);
    expect(&r, 1);
    assert!(
        r.stderr.contains("names the stage being applied"),
        "{}",
        r.stderr
    );
}
