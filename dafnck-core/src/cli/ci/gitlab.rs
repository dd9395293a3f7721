//! GitLab CI/CD: `.gitlab-ci.yml`.
//!
//! `DAFNCK_PASSPHRASE` and `DAFNCK_STATE` are masked CI/CD variables
//! (scoped to an environment to differ per stage); each `up` job deploys to
//! the environment of its stage, one at a time (`resource_group`), and a
//! stage that waits for approval is a manual job that blocks the stages
//! after it. AWS credentials come from OIDC: the job's ID token is handed
//! to the AWS SDK as a web identity token for the role in the CI/CD
//! variable `AWS_ROLE_ARN`.

use super::{header, indent, Pipeline};

const MERGE_REQUEST: &str = "$CI_PIPELINE_SOURCE == \"merge_request_event\"";
const SCHEDULE: &str = "$CI_PIPELINE_SOURCE == \"schedule\"";

/// The lines of a job that runs the program for `stage`.
fn program_job(p: &Pipeline, stage: &str) -> String {
    let mut s = format!("  variables:\n    STAGE: {stage}\n");
    if p.aws {
        s.push_str(
            "  id_tokens:\n    AWS_ID_TOKEN:\n      aud: sts.amazonaws.com\n  before_script:\n    - |\n      \
             printf '%s' \"$AWS_ID_TOKEN\" > \"$CI_PROJECT_DIR/.aws-web-identity-token\"\n      \
             export AWS_WEB_IDENTITY_TOKEN_FILE=\"$CI_PROJECT_DIR/.aws-web-identity-token\"\n",
        );
    }
    s
}

fn script(text: &str) -> String {
    format!("  script:\n    - |\n{}", indent(text, 6))
}

pub(super) fn pipeline(p: &Pipeline) -> String {
    let mut y = header(p, "#", "a manual job that blocks the stages after it");
    y.push_str(&format!(
        "workflow:\n  rules:\n    - if: {MERGE_REQUEST}\n    - if: $CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS\n      \
         when: never\n    - if: $CI_COMMIT_BRANCH\n"
    ));
    y.push_str("stages: [test, preview, up, drift]\n");
    y.push_str("default:\n  image: rust:1\n");
    y.push_str("variables:\n  CARGO_TERM_COLOR: never\n");
    y.push_str(&format!(
        "test:\n  stage: test\n  rules:\n    - if: {SCHEDULE}\n      when: never\n    - when: on_success\n  \
         script:\n    - cargo test --locked\n"
    ));
    for stage in &p.stages {
        y.push_str(&format!(
            "preview:{stage}:\n  stage: preview\n  needs: [test]\n  rules:\n    - if: {MERGE_REQUEST}\n"
        ));
        y.push_str(&program_job(p, stage));
        y.push_str(&script(&p.preview_script()));
        y.push_str("  artifacts:\n    when: always\n    paths:\n      - dafnck-plans/\n");
    }
    let on_push = format!(
        "$CI_COMMIT_BRANCH == \"{}\" && $CI_PIPELINE_SOURCE == \"push\"",
        p.branch
    );
    for (stage, before) in p.stages_after() {
        let needs = before.map_or("test".to_owned(), |b| format!("\"up:{b}\""));
        y.push_str(&format!(
            "up:{stage}:\n  stage: up\n  needs: [{needs}]\n  rules:\n    - if: {on_push}\n"
        ));
        if p.approves(stage) {
            y.push_str("      when: manual\n  allow_failure: false\n");
        }
        y.push_str(&format!(
            "  environment:\n    name: {stage}\n  resource_group: dafnck-{stage}\n"
        ));
        y.push_str(&program_job(p, stage));
        y.push_str(&script(&p.up_script()));
    }
    for stage in &p.stages {
        y.push_str(&format!(
            "drift:{stage}:\n  stage: drift\n  needs: []\n  rules:\n    - if: {SCHEDULE}\n"
        ));
        y.push_str(&program_job(p, stage));
        y.push_str(&script(&p.drift_script()));
    }
    y
}
