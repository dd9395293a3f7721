//! The stages declared once (`dafnck.stages.json`) and read by `ci`,
//! `promote` and `report` through the command line, on the file store and
//! the fake cloud: the pipeline's jobs follow the declaration, `promote
//! --to prod` verifies the stage before it with that stage's soak time and
//! applies prod's config overlay, and `report` covers every stage.

#[path = "support/fake_cli.rs"]
mod fake_cli;
mod support;

use fake_cli::{expect, run};

const STAGES: &str = r#"{
  "config": {"size": "small"},
  "stages": [
    {"name": "dev"},
    {"name": "staging", "soak": "1h"},
    {"name": "prod", "approve": true, "config": {"size": "large"}}
  ]
}"#;

#[test]
fn ci_promote_and_report_follow_the_declared_stages() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("dafnck.stages.json"), STAGES).unwrap();

    // ci: a job per declared stage, in order; prod waits for approval.
    let r = run(d, &["ci", "github", "--out", "."]);
    expect(&r, 0);
    let workflow = std::fs::read_to_string(d.join(".github/workflows/dafnck.yml")).unwrap();
    let at = |s: &str| {
        workflow
            .find(&format!("environment: {s}\n"))
            .unwrap_or_else(|| panic!("no up job for {s}:\n{workflow}"))
    };
    assert!(at("dev") < at("staging") && at("staging") < at("prod"));
    assert_eq!(
        workflow.matches("Waits for the required reviewers").count(),
        1
    );
    let waits = workflow.find("Waits for the required reviewers").unwrap();
    assert!(at("staging") < waits && waits < at("prod"), "{workflow}");

    // promote: from the stage before prod, with staging's declared soak.
    expect(&run(d, &["up", "--yes", "--stack", "staging"]), 0);
    let r = run(d, &["promote", "--to", "prod", "--yes"]);
    expect(&r, 1);
    assert!(
        r.stderr
            .contains("stage \"staging\" cannot be promoted to \"prod\"")
            && r.stderr.contains("less than the soak time of 3600s"),
        "{}",
        r.stderr
    );
    let r = run(
        d,
        &["promote", "--to", "staging", "--from", "prod", "--yes"],
    );
    expect(&r, 1);
    assert!(r.stderr.contains("promote forwards only"), "{}", r.stderr);
    let r = run(d, &["promote", "--to", "dev", "--yes"]);
    expect(&r, 1);
    assert!(
        r.stderr.contains("\"dev\" is the first declared stage"),
        "{}",
        r.stderr
    );
    let r = run(d, &["promote", "--to", "prod", "--soak", "0s", "--yes"]);
    expect(&r, 0);
    assert!(
        r.stdout
            .contains("Promoting to \"prod\" the build \"staging\""),
        "{}",
        r.stdout
    );
    // Prod's overlay (size=large) made its first subnet larger; staging
    // has the shared value.
    let cidr = |stack: &str| {
        let r = run(d, &["state", "show", "public-a", "--stack", stack]);
        expect(&r, 0);
        r.stdout
    };
    assert!(cidr("prod").contains("10.0.0.0/23"), "{}", cidr("prod"));
    assert!(
        cidr("staging").contains("10.0.1.0/24"),
        "{}",
        cidr("staging")
    );
    // The stack's own --config still wins over the overlay: nothing to do.
    let r = run(
        d,
        &[
            "preview",
            "--stack",
            "prod",
            "--config",
            "size=small",
            "--detailed-exitcode",
        ],
    );
    expect(&r, 2);

    // report: every declared stage, in order.
    let r = run(d, &["report", "--json"]);
    expect(&r, 0);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let stacks: Vec<&str> = doc["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stack"].as_str().unwrap())
        .collect();
    assert_eq!(stacks, ["dev", "staging", "prod"]);
    assert_eq!(doc["stacks"][1]["metrics"]["deployments"], 1);
    assert_eq!(doc["stacks"][2]["metrics"]["deployments"], 1);
    assert_eq!(doc["together"]["deployments"], 2);
    let r = run(d, &["report"]);
    expect(&r, 0);
    assert!(r.stdout.contains("Stage \"prod\""), "{}", r.stdout);

    // A broken declaration is named.
    std::fs::write(
        d.join("dafnck.stages.json"),
        r#"{"stages": [{"name": "a"}, {"name": "a"}]}"#,
    )
    .unwrap();
    let r = run(d, &["report"]);
    expect(&r, 1);
    assert!(
        r.stderr
            .contains("dafnck.stages.json: stages: stage \"a\" is declared twice"),
        "{}",
        r.stderr
    );
}
