use serde_yaml::Value;

use super::*;

fn pipeline() -> Pipeline {
    Pipeline::new(
        "cargo run --release --locked --bin infra --",
        vec!["dev".into(), "staging".into(), "prod".into()],
    )
}

fn yaml(p: &Pipeline, platform: Platform) -> Value {
    let (_, text) = p.file(platform).unwrap();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{platform:?}: {e}\n{text}"))
}

fn scripts_of(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Sequence(items) => items.iter().for_each(|i| scripts_of(i, out)),
        Value::Mapping(m) => m.values().for_each(|i| scripts_of(i, out)),
        _ => {}
    }
}

#[test]
fn the_last_of_several_stages_waits_for_approval_by_default() {
    assert_eq!(pipeline().approve, vec!["prod".to_owned()]);
    assert!(Pipeline::new("x", vec!["dev".into()]).approve.is_empty());
}

/// A change that makes a pipeline invalid.
type Spoil = fn(&mut Pipeline);

#[test]
fn bad_values_are_refused_naming_them() {
    let cases: [(Spoil, &str); 7] = [
        (|p| p.stages.clear(), "at least one stage"),
        (|p| p.stages.push("Prod East".into()), "stage \"Prod East\""),
        (|p| p.stages.push("dev".into()), "given twice"),
        (|p| p.approve = vec!["qa".into()], "--approve \"qa\""),
        (|p| p.branch = "main; rm -rf /".into(), "branch"),
        (|p| p.drift_cron = "daily".into(), "five cron fields"),
        (|p| p.run = "cargo run -- '$(id)'".into(), "--run"),
    ];
    for (spoil, expected) in cases {
        let mut p = pipeline();
        spoil(&mut p);
        let e = p.file(Platform::Github).unwrap_err().to_string();
        assert!(e.contains(expected), "{e:?} should name {expected:?}");
    }
}

#[test]
fn github_previews_pull_requests_and_applies_stages_in_order() {
    let p = pipeline();
    let w = yaml(&p, Platform::Github);
    let jobs = &w["jobs"];
    assert_eq!(jobs["preview"]["if"], "github.event_name == 'pull_request'");
    let matrix: Vec<&str> = jobs["preview"]["strategy"]["matrix"]["stage"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(matrix, ["dev", "staging", "prod"]);
    assert_eq!(jobs["up-dev"]["needs"], "test");
    assert_eq!(jobs["up-staging"]["needs"], "up-dev");
    assert_eq!(jobs["up-prod"]["needs"], "up-staging");
    assert_eq!(jobs["up-prod"]["environment"], "prod");
    assert_eq!(jobs["up-prod"]["concurrency"]["group"], "dafnck-prod");
    assert_eq!(w["on"]["schedule"][0]["cron"], "0 6 * * *");
    assert_eq!(jobs["drift"]["if"], "github.event_name == 'schedule'");
    assert_eq!(
        jobs["up-prod"]["env"]["DAFNCK_PASSPHRASE"],
        "${{ secrets.DAFNCK_PASSPHRASE }}"
    );
    // No OIDC permission or AWS step unless asked.
    assert!(jobs["up-prod"].get("permissions").is_none());
}

#[test]
fn with_aws_github_and_gitlab_use_oidc_and_the_others_secrets() {
    let mut p = pipeline();
    p.aws = true;
    let w = yaml(&p, Platform::Github);
    assert_eq!(w["jobs"]["up-dev"]["permissions"]["id-token"], "write");
    let steps = w["jobs"]["up-dev"]["steps"].as_sequence().unwrap();
    assert!(steps
        .iter()
        .any(|s| s["uses"] == "aws-actions/configure-aws-credentials@v4"));
    let g = yaml(&p, Platform::Gitlab);
    assert_eq!(
        g["up:dev"]["id_tokens"]["AWS_ID_TOKEN"]["aud"],
        "sts.amazonaws.com"
    );
    let (_, jenkins) = p.file(Platform::Jenkins).unwrap();
    assert!(jenkins.contains("AWS_SECRET_ACCESS_KEY = credentials('aws-secret-access-key')"));
    let a = yaml(&p, Platform::Azure);
    let mut all = Vec::new();
    scripts_of(&a, &mut all);
    assert!(all.iter().any(|s| s == "$(AWS_SECRET_ACCESS_KEY)"));
}

#[test]
fn gitlab_makes_approved_stages_manual_and_blocking() {
    let g = yaml(&pipeline(), Platform::Gitlab);
    assert_eq!(g["up:prod"]["rules"][0]["when"], "manual");
    assert_eq!(g["up:prod"]["allow_failure"], false);
    assert!(g["up:dev"]["rules"][0].get("when").is_none());
    assert_eq!(g["up:staging"]["needs"][0], "up:dev");
    assert_eq!(g["up:prod"]["environment"]["name"], "prod");
    assert_eq!(g["up:prod"]["resource_group"], "dafnck-prod");
    assert_eq!(
        g["preview:staging"]["rules"][0]["if"],
        "$CI_PIPELINE_SOURCE == \"merge_request_event\""
    );
    assert_eq!(
        g["drift:prod"]["rules"][0]["if"],
        "$CI_PIPELINE_SOURCE == \"schedule\""
    );
    assert_eq!(g["preview:dev"]["artifacts"]["paths"][0], "dafnck-plans/");
}

#[test]
fn azure_deploys_each_stage_to_its_environment_after_the_one_before() {
    let a = yaml(&pipeline(), Platform::Azure);
    let stages = a["stages"].as_sequence().unwrap();
    let names: Vec<&str> = stages
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "test",
            "preview",
            "up_dev",
            "up_staging",
            "up_prod",
            "drift"
        ]
    );
    let prod = &stages[4];
    assert_eq!(prod["dependsOn"], "up_staging");
    assert_eq!(prod["jobs"][0]["environment"], "prod");
    assert_eq!(a["schedules"][0]["cron"], "0 6 * * *");
    assert_eq!(prod["jobs"][0]["variables"]["STAGE"], "prod");
}

#[test]
fn jenkins_asks_before_an_approved_stage_only() {
    let (_, j) = pipeline().file(Platform::Jenkins).unwrap();
    assert_eq!(j.matches("input {").count(), 1);
    let prod = &j[j.find("stage('Up prod')").unwrap()..];
    assert!(prod.find("input {").unwrap() < prod.find("stage('Drift dev')").unwrap());
    for s in ["dev", "staging", "prod"] {
        for kind in ["Preview", "Up", "Drift"] {
            assert!(j.contains(&format!("stage('{kind} {s}')")), "{kind} {s}");
        }
    }
    assert!(j.contains("cron('0 6 * * *')"));
}

#[test]
fn every_platform_previews_applies_and_checks_drift_of_every_stage() {
    let p = pipeline();
    for platform in [
        Platform::Github,
        Platform::Gitlab,
        Platform::Jenkins,
        Platform::Azure,
    ] {
        let (path, text) = p.file(platform).unwrap();
        assert_eq!(path, Path::new(platform.path()));
        assert!(text.contains("preview --detailed-exitcode"), "{platform:?}");
        assert!(text.contains("up --yes"), "{platform:?}");
        assert!(text.contains("--color never drift"), "{platform:?}");
        assert!(text.contains("cargo test --locked"), "{platform:?}");
        assert!(text.contains("dafnck-plans/$STAGE.md"), "{platform:?}");
        // Secrets are named, never written.
        assert!(text.contains("DAFNCK_PASSPHRASE"), "{platform:?}");
    }
}

#[test]
fn the_preview_script_keeps_text_and_markdown_and_fails_only_on_errors() {
    let dir = tempfile::tempdir().unwrap();
    // A stand-in program: exits with the code the test gives it.
    let prog = dir.path().join("prog");
    std::fs::write(&prog, "#!/bin/sh\necho \"plan of $2\"\nexit \"$CODE\"\n").unwrap();
    let mut perms = std::fs::metadata(&prog).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&prog, perms).unwrap();
    let p = Pipeline::new(prog.display().to_string(), vec!["dev".into()]);
    for (code, ok) in [(0, true), (2, true), (1, false)] {
        let status = std::process::Command::new("sh")
            .args(["-ec", &p.preview_script()])
            .current_dir(dir.path())
            .env("STAGE", "dev")
            .env("CODE", code.to_string())
            .status()
            .unwrap();
        assert_eq!(status.success(), ok, "exit {code}");
    }
    let md = std::fs::read_to_string(dir.path().join("dafnck-plans/dev.md")).unwrap();
    assert_eq!(md, "### dafnck preview of `dev`\n\n```\nplan of dev\n```\n");
}

#[test]
fn writing_keeps_a_different_file_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline();
    let path = p
        .write(Platform::Github, dir.path(), false)
        .unwrap()
        .unwrap();
    assert_eq!(path, dir.path().join(".github/workflows/dafnck.yml"));
    assert_eq!(p.write(Platform::Github, dir.path(), false).unwrap(), None);
    std::fs::write(&path, "# mine\n").unwrap();
    let e = p.write(Platform::Github, dir.path(), false).unwrap_err();
    assert!(e.to_string().contains("--force"), "{e}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");
    p.write(Platform::Github, dir.path(), true).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        p.file(Platform::Github).unwrap().1
    );
}
