//! The `report` verb's DORA metrics through the command line, on the file
//! store: exact figures over a history of known events, and counts over a
//! history made by real applies on the fake cloud, one of them failing.

#[path = "support/fake_cli.rs"]
mod fake_cli;
mod support;

use std::path::Path;

use dafnck::core::state::{
    Commit, FileStore, HandoverMark, RunOutcome, State, StateStore, VersionInfo,
};
use fake_cli::{expect, run, run_with};
use serde_json::Value;

const T: u64 = 1_800_000_000; // the window's end, Unix seconds
const H: u64 = 3_600;
const D: u64 = 86_400;

/// Saves versions `(at, operation, outcome, commit time)` (seconds) as the
/// history of `stack`.
async fn history(dir: &Path, stack: &str, events: &[(u64, &str, RunOutcome, Option<u64>)]) {
    history_with(dir, stack, events, |_| State::empty(stack)).await;
}

/// The same, each version's state made by `state(index)`.
async fn history_with(
    dir: &Path,
    stack: &str,
    events: &[(u64, &str, RunOutcome, Option<u64>)],
    state: impl Fn(usize) -> State,
) {
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
        history.save_version(stack, &info, &state(i)).await.unwrap();
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

/// A state whose `web` rollout was rolled back: analysis failed at
/// `failed` ms, traffic off the new version at `off` ms.
fn rolled_back_state(stack: &str, attempt: u64, failed: u64, off: u64) -> State {
    let mut state = State::empty(stack);
    state.handovers.insert(
        "web".into(),
        HandoverMark {
            active: false,
            record: serde_json::json!({"phase": "RolledBack", "attempt": attempt, "weight": 0,
                "failed_at": failed, "traffic_off_at": off, "aborted": false,
                "message": "error rate 0.2 > 0.05"}),
        },
    );
    state
}

#[tokio::test]
async fn each_rolled_back_rollout_has_its_rollback_time_and_the_charts_draw_the_daily_figures() {
    use RunOutcome::*;
    let dir = tempfile::tempdir().unwrap();
    let events = [
        (T - 3 * D - H, "up", Succeeded, Some(T - 3 * D - H - 120)),
        (T - 2 * D - H, "up", RolledBack, None),
        (T - 2 * D - H + 60, "up", RolledBack, None),
        (T - D - H, "up", Succeeded, Some(T - D - H - 600)),
        (T - D - H + 60, "up", Succeeded, Some(T - D - H - 60)),
    ];
    history_with(dir.path(), "prod", &events, |i| match i {
        1 => rolled_back_state("prod", 1, 5_000, 5_140),
        2 => rolled_back_state("prod", 2, 9_000, 9_030),
        // A later version still holds the last record: not another rollback.
        _ => rolled_back_state("prod", 2, 9_000, 9_030),
    })
    .await;
    let until = T.to_string();
    let charts = dir.path().join("charts");
    let r = run(
        dir.path(),
        &[
            "report",
            "--of",
            "prod",
            "--window",
            "7d",
            "--until",
            &until,
            "--json",
            "--svg",
            charts.to_str().unwrap(),
        ],
    );
    expect(&r, 0);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    let rollbacks = doc["stacks"][0]["rollbacks"].as_array().unwrap();
    assert_eq!(rollbacks.len(), 2, "{}", r.stdout);
    assert_eq!(rollbacks[0]["resource"], "web");
    assert_eq!(rollbacks[0]["version"], 2);
    assert_eq!(rollbacks[0]["attempt"], 1);
    assert_eq!(rollbacks[0]["rollback_ms"], 140);
    assert_eq!(rollbacks[1]["version"], 3);
    assert_eq!(rollbacks[1]["rollback_ms"], 30);

    let daily = doc["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 7);
    let per_day: Vec<u64> = daily
        .iter()
        .map(|d| d["deployments"].as_u64().unwrap())
        .collect();
    assert_eq!(per_day, [0, 0, 0, 1, 2, 2, 0]);
    assert_eq!(f(&daily[4]["change_failure_rate"]), 1.0);
    assert_eq!(f(&daily[5]["change_failure_rate"]), 0.0);
    assert_eq!(f(&daily[5]["lead_time_median_seconds"]), 360.0);
    // The failures of day 5 were restored a day after the first of them.
    assert_eq!(f(&daily[5]["time_to_restore_median_seconds"]), D as f64);

    // Each chart is XML a real parser reads, and its bars carry the same
    // figures as `daily`.
    for (file, key) in [
        ("deployment-frequency.svg", "deployments"),
        ("lead-time.svg", "lead_time_median_seconds"),
        ("change-failure-rate.svg", "change_failure_rate"),
        ("time-to-restore.svg", "time_to_restore_median_seconds"),
    ] {
        let svg = std::fs::read_to_string(charts.join(file)).unwrap();
        let bars = svg_bars(&svg);
        let expected: Vec<f64> = daily.iter().filter_map(|d| d[key].as_f64()).collect();
        let drawn: Vec<f64> = bars.iter().map(|b| b.1).collect();
        assert_eq!(drawn, expected, "{file}");
        assert!(bars.iter().all(|b| b.0.len() == 10), "{file}: {bars:?}");
    }

    let r = run(
        dir.path(),
        &[
            "report", "--of", "prod", "--window", "7d", "--until", &until,
        ],
    );
    expect(&r, 0);
    assert!(
        r.stdout.contains(
            "rollback of web (version 2, attempt 1): traffic off the new version 140 ms after its analysis failed (error rate 0.2 > 0.05)"
        ),
        "{}",
        r.stdout
    );
}

/// The `(data-day, data-value)` of each `rect class="bar"` of an SVG
/// document, read by quick-xml; panics when it is not well-formed XML or
/// not SVG.
fn svg_bars(svg: &str) -> Vec<(String, f64)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(svg);
    reader.config_mut().check_end_names = true;
    let mut bars = Vec::new();
    let mut root = None;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                root.get_or_insert_with(|| {
                    let ns = e.try_get_attribute("xmlns").unwrap().expect("xmlns");
                    assert_eq!(&*ns.value, b"http://www.w3.org/2000/svg");
                    name.clone()
                });
                let attr = |k: &str| {
                    e.try_get_attribute(k)
                        .unwrap()
                        .map(|a| String::from_utf8(a.value.to_vec()).unwrap())
                };
                if name == "rect" && attr("class").as_deref() == Some("bar") {
                    bars.push((
                        attr("data-day").expect("data-day"),
                        attr("data-value").expect("data-value").parse().unwrap(),
                    ));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(root.as_deref(), Some("svg"));
    bars
}
