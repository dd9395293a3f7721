//! The `report` verb's DORA metrics through the command line, on the file
//! store: exact figures over a history of known events, and counts over a
//! history made by real applies on the fake cloud, one of them failing.

#[path = "support/fake_cli.rs"]
mod fake_cli;
mod support;

use std::path::Path;

use dafnck::core::state::{Commit, FileStore, RunOutcome, State, StateStore, VersionInfo};
use fake_cli::{expect, run, run_with};
use serde_json::Value;

const T: u64 = 1_800_000_000; // the window's end, Unix seconds
const H: u64 = 3_600;
const D: u64 = 86_400;

/// Saves versions `(at, operation, outcome, commit time)` (seconds) as the
/// history of `stack`.
async fn history(dir: &Path, stack: &str, events: &[(u64, &str, RunOutcome, Option<u64>)]) {
    let store = FileStore::new(dir.join(".dafnck"));
    let history = store.history().unwrap();
    for (i, (at, operation, outcome, commit)) in events.iter().enumerate() {
        let info = VersionInfo {
            version: i as u64 + 1,
            at: at * 1000,
            by: "tester@host".into(),
            operation: (*operation).into(),
            summary: String::new(),
            serial: i as u64 + 1,
            outcome: Some(*outcome),
            commit: commit.map(|c| Commit {
                id: Some(format!("c{i}")),
                at: Some(c * 1000),
                program: None,
            }),
        };
        history
            .save_version(stack, &info, &State::empty(stack))
            .await
            .unwrap();
    }
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[tokio::test]
async fn each_figure_over_a_known_history_per_stack_and_together() {
    use RunOutcome::*;
    let dir = tempfile::tempdir().unwrap();
    history(
        dir.path(),
        "staging",
        &[
            (T - 8 * D, "up", Succeeded, Some(T - 8 * D - 60)), // before the window
            (T - 6 * D, "up", Succeeded, Some(T - 6 * D - H)),  // lead 1 h
            (T - 5 * D, "up", Failed, None),
            (T - 5 * D + 1_800, "up", Succeeded, Some(T - 5 * D - 2 * H)), // restored in 30 min, lead 2.5 h
            (T - 3 * D, "refresh", Succeeded, None),                       // not a deployment
            (T - 2 * D, "up", RolledBack, None),
            (T - 2 * D + 600, "up", Failed, None),
            (T - 2 * D + H, "up", Succeeded, Some(T - 2 * D)), // restored in 1 h, lead 1 h
        ],
    )
    .await;
    history(
        dir.path(),
        "prod",
        &[
            (T - 4 * D, "up", Succeeded, Some(T - 5 * D)), // lead 1 day
            (T - D, "up", Failed, None),                   // not restored
        ],
    )
    .await;
    let until = T.to_string();
    let r = run(
        dir.path(),
        &[
            "report", "--of", "staging", "--of", "prod", "--window", "7d", "--until", &until,
            "--json",
        ],
    );
    expect(&r, 0);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(f(&doc["window"]["days"]), 7.0);
    assert_eq!(doc["window"]["until"], T * 1000);
    let staging = &doc["stacks"][0]["metrics"];
    assert_eq!(doc["stacks"][0]["stack"], "staging");
    assert_eq!(staging["deployments"], 6);
    assert_eq!(staging["succeeded"], 3);
    assert_eq!(staging["failed"], 2);
    assert_eq!(staging["rolled_back"], 1);
    assert_eq!(f(&staging["deployment_frequency_per_day"]), 6.0 / 7.0);
    assert_eq!(staging["deployment_frequency_band"], "high");
    assert_eq!(staging["lead_time"]["count"], 3);
    assert_eq!(f(&staging["lead_time"]["median_seconds"]), 3_600.0);
    assert_eq!(f(&staging["lead_time"]["mean_seconds"]), 5_400.0);
    assert_eq!(staging["lead_time_band"], "elite");
    assert_eq!(f(&staging["change_failure_rate"]), 0.5);
    assert_eq!(staging["change_failure_rate_band"], "low");
    assert_eq!(staging["time_to_restore"]["count"], 2);
    assert_eq!(f(&staging["time_to_restore"]["median_seconds"]), 2_700.0);
    assert_eq!(staging["time_to_restore_band"], "elite");
    assert_eq!(staging["unrestored"], 0);

    let prod = &doc["stacks"][1]["metrics"];
    assert_eq!(prod["deployments"], 2);
    assert_eq!(f(&prod["deployment_frequency_per_day"]), 2.0 / 7.0);
    assert_eq!(f(&prod["lead_time"]["median_seconds"]), 86_400.0);
    assert_eq!(prod["lead_time_band"], "high");
    assert_eq!(f(&prod["change_failure_rate"]), 0.5);
    assert_eq!(prod["time_to_restore"]["count"], 0);
    assert_eq!(prod["time_to_restore"]["median_seconds"], Value::Null);
    assert_eq!(prod["time_to_restore_band"], Value::Null);
    assert_eq!(prod["unrestored"], 1);

    let all = &doc["together"];
    assert_eq!(all["deployments"], 8);
    assert_eq!(f(&all["deployment_frequency_per_day"]), 8.0 / 7.0);
    assert_eq!(all["deployment_frequency_band"], "elite");
    assert_eq!(f(&all["lead_time"]["median_seconds"]), 6_300.0);
    assert_eq!(f(&all["lead_time"]["mean_seconds"]), 25_650.0);
    assert_eq!(f(&all["change_failure_rate"]), 0.5);
    assert_eq!(all["unrestored"], 1);

    // A narrower window: prod's failure alone.
    let r = run(
        dir.path(),
        &[
            "report", "--of", "prod", "--window", "2d", "--until", &until, "--json",
        ],
    );
    expect(&r, 0);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["stacks"][0]["metrics"]["deployments"], 1);
    assert_eq!(f(&doc["stacks"][0]["metrics"]["change_failure_rate"]), 1.0);

    // The text report says the same.
    let r = run(
        dir.path(),
        &[
            "report", "--of", "staging", "--of", "prod", "--window", "7d", "--until", &until,
        ],
    );
    expect(&r, 0);
    for line in [
        "Stack \"staging\"",
        "deployments           6 (3 succeeded, 2 failed, 1 rolled back)",
        "deployment frequency  0.86 a day (high)",
        "lead time             median 60.0 min (elite), over 3 deployment(s) with a commit time",
        "change failure rate   50.0 % (low)",
        "time to restore       median 45.0 min (elite), over 2 restore(s)",
        "time to restore       - (no restore(s)); 1 failure(s) not restored yet",
        "Together",
    ] {
        assert!(r.stdout.contains(line), "{line:?} in:\n{}", r.stdout);
    }

    let r = run(dir.path(), &["report", "--window", "7x"]);
    expect(&r, 1);
    assert!(r.stderr.contains("is not a duration"), "{}", r.stderr);
}

#[test]
fn real_applies_with_a_failure_and_its_repair() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let commit_time = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 600)
        .to_string();
    let env = [
        ("DAFNCK_COMMIT", "abc123"),
        ("DAFNCK_COMMIT_TIME", commit_time.as_str()),
    ];
    expect(&run_with(d, &["up", "--yes"], &env), 0);
    // web-1's object is deleted outside; an `up` that does not read the
    // objects first fails updating it, and the next one (which does) repairs it.
    fake_cli::delete_object(d, "dev", "web-1");
    let r = run_with(
        d,
        &["up", "--yes", "--no-refresh", "--config", "size=large"],
        &env,
    );
    expect(&r, 1);
    expect(
        &run_with(d, &["up", "--yes", "--config", "size=large"], &env),
        0,
    );
    expect(&run(d, &["refresh", "--yes"]), 0);

    let r = run(d, &["report", "--json"]);
    expect(&r, 0);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    let m = &doc["stacks"][0]["metrics"];
    assert_eq!(m["deployments"], 3, "{}", r.stdout);
    assert_eq!(m["succeeded"], 2);
    assert_eq!(m["failed"], 1);
    assert_eq!(f(&m["change_failure_rate"]), 1.0 / 3.0);
    assert_eq!(m["time_to_restore"]["count"], 1);
    assert_eq!(m["unrestored"], 0);
    assert_eq!(m["lead_time"]["count"], 2);
    let lead = f(&m["lead_time"]["median_seconds"]);
    assert!((600.0..900.0).contains(&lead), "lead time {lead}");
    let restore = f(&m["time_to_restore"]["median_seconds"]);
    assert!(
        restore > 0.0 && restore < 600.0,
        "time to restore {restore}"
    );
}
