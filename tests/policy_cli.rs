//! Policy as code through a program's command line (the `fake_cloud`
//! example, whose resources take tags): `preview --sarif` checked by the
//! SARIF 2.1.0 schema and by Microsoft's SARIF Multitool (installed by
//! `scripts/tools/validators.sh`), a mandatory policy refusing `up` before
//! any change, `policy list` and `policy report`.
//!
//! `policy.required_tags=owner` makes every resource of the example
//! violate DAF-GEN-002 (the `generic` pack, on by default, advisory).

#[path = "support/fake_cli.rs"]
mod fake_cli;
mod support;
#[path = "support/validators.rs"]
mod validators;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use validators::validator;

/// The example's five resources, in the order they are declared.
const RESOURCES: [&str; 5] = ["main", "public-a", "public-b", "web-0", "web-1"];

/// Runs the example in `dir` with `args`.
fn run(dir: &Path, args: &[&str]) -> Output {
    fake_cli::command(dir, args)
        .output()
        .expect("run the example")
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The errors and warnings the SARIF Multitool finds in `file`, read from
/// the log it writes (it exits 0 whatever it finds).
fn multitool_findings(multitool: &str, file: &Path) -> Vec<String> {
    let log = file.with_extension("validation.sarif");
    let out = Command::new(multitool)
        .arg("validate")
        .arg(file)
        .arg("--output")
        .arg(&log)
        .output()
        .expect("run the SARIF Multitool");
    assert!(out.status.success(), "the Multitool failed: {}", text(&out));
    let log: Value = serde_json::from_str(&std::fs::read_to_string(&log).unwrap()).unwrap();
    log["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|run| run["results"].as_array().cloned().unwrap_or_default())
        .filter(|r| matches!(r["level"].as_str(), Some("error" | "warning") | None))
        .map(|r| format!("{} {}", r["ruleId"], r["message"]))
        .collect()
}

/// Whether check-jsonschema accepts `file` against the schema at `schema`.
fn schema_accepts(checker: &str, schema: &str, file: &Path) -> (bool, String) {
    let out = Command::new(checker)
        .arg("--schemafile")
        .arg(schema)
        .arg(file)
        .output()
        .expect("run check-jsonschema");
    (out.status.success(), text(&out))
}

#[test]
fn preview_writes_sarif_that_the_schema_and_microsofts_validator_accept() {
    let test = "preview_writes_sarif_that_the_schema_and_microsofts_validator_accept";
    let (Some(multitool), Some(schema), Some(checker)) = (
        validator("DAFNCK_SARIF_MULTITOOL", test),
        validator("DAFNCK_SARIF_SCHEMA", test),
        validator("DAFNCK_CHECK_JSONSCHEMA", test),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();

    // The checkers reject a broken log: a driver without its name and a
    // result without a message's text.
    let broken = dir.path().join("broken.sarif");
    std::fs::write(
        &broken,
        r#"{"version":"2.1.0","runs":[{"tool":{"driver":{}},"results":[{"message":{}}]}]}"#,
    )
    .unwrap();
    let (ok, said) = schema_accepts(&checker, &schema, &broken);
    assert!(!ok, "the schema accepted a broken log: {said}");
    let found = multitool_findings(&multitool, &broken);
    assert!(
        found.iter().any(|f| f.contains("JSON1002")),
        "the Multitool found nothing wrong in a broken log: {found:?}"
    );

    let sarif = dir.path().join("policy.sarif");
    let out = run(
        dir.path(),
        &[
            "preview",
            "--config",
            "policy.required_tags=owner",
            "--sarif",
            sarif.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let (ok, said) = schema_accepts(&checker, &schema, &sarif);
    assert!(ok, "the SARIF 2.1.0 schema rejects the log: {said}");
    let found = multitool_findings(&multitool, &sarif);
    assert!(found.is_empty(), "the Multitool found: {found:#?}");

    // One result per resource, each at the program line declaring it.
    let log: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    let results = log["runs"][0]["results"].as_array().unwrap();
    let named: Vec<(&str, &str, &str)> = results
        .iter()
        .map(|r| {
            let at = &r["locations"][0];
            (
                r["ruleId"].as_str().unwrap(),
                at["logicalLocations"][0]["name"].as_str().unwrap(),
                at["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        named,
        RESOURCES
            .iter()
            .map(|r| ("DAF-GEN-002", *r, "examples/fake_cloud.rs"))
            .collect::<Vec<_>>()
    );
    assert!(results
        .iter()
        .all(|r| r["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64() > Some(0)));
}

#[test]
fn a_mandatory_policy_refuses_up_before_anything_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            "up",
            "--yes",
            "--config",
            "policy.required_tags=owner",
            "--config",
            "policy.enforcement=mandatory",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refused by policy: 5 mandatory violation(s)"),
        "{err}"
    );
    for r in RESOURCES {
        assert!(
            err.contains(&format!("resource \"{r}\": violates DAF-GEN-002")),
            "{r} not named: {err}"
        );
    }
    assert!(
        err.contains("examples/fake_cloud.rs:"),
        "no program line: {err}"
    );
    // Nothing was made in the fake cloud, and no state was written.
    let cloud = dir.path().join(".dafnck/fake-cloud");
    let made = std::fs::read_dir(&cloud).map_or(0, |d| d.count());
    assert_eq!(made, 0, "objects were made in {}", cloud.display());
    let out = run(dir.path(), &["state", "list"]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("main"),
        "{}",
        text(&out)
    );

    // Advisory, the same violations are shown and `up` goes ahead.
    let out = run(
        dir.path(),
        &["up", "--yes", "--config", "policy.required_tags=owner"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("advisory"), "{}", text(&out));
}

#[test]
fn policy_list_names_each_rule_with_its_enforcement() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            "policy",
            "list",
            "--json",
            "--config",
            "policy.mandatory=DAF-GEN-002",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let generic = list["packs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "generic")
        .expect("the generic pack");
    assert_eq!(generic["enabled"], true);
    let rules: Vec<(&str, &str)> = generic["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap(),
                r["enforcement"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(rules.len(), 6, "{rules:?}");
    for (id, enforcement) in rules {
        let expected = if id == "DAF-GEN-002" {
            "mandatory"
        } else {
            "advisory"
        };
        assert_eq!(enforcement, expected, "{id}");
    }

    // A pack the program does not register is a clear error.
    let out = run(
        dir.path(),
        &["policy", "list", "--config", "policy.packs=nosuch"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("policy.packs names pack \"nosuch\""),
        "{}",
        text(&out)
    );
}

#[test]
fn policy_report_fails_the_control_a_violated_rule_covers_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let report = |config: &[&str]| {
        let mut args = vec!["policy", "report", "--standard", "soc2", "--json"];
        args.extend_from_slice(config);
        let out = run(dir.path(), &args);
        let json: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out)));
        (out.status.code(), json)
    };
    let control = |json: &Value, id: &str| {
        json["controls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no control {id} in {json}"))
    };

    let (code, json) = report(&[]);
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["passes"], true);

    let (code, json) = report(&["--config", "policy.required_tags=owner"]);
    assert_eq!(code, Some(2), "{json}");
    assert_eq!(json["passes"], false);
    let cc8 = control(&json, "CC8.1");
    assert_eq!(
        (cc8["passes"].as_bool(), cc8["violations"].as_u64()),
        (Some(false), Some(5))
    );
    assert!(cc8["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == "DAF-GEN-002"));
    assert_eq!(control(&json, "CC6.1")["passes"], true);

    // An unknown standard names the ones there are.
    let out = run(dir.path(), &["policy", "report", "--standard", "iso27001"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("soc2"), "{}", text(&out));
}
