//! Azure Pipelines (Azure DevOps): `azure-pipelines.yml`.
//!
//! Secrets are secret variables of the variable group `dafnck`
//! (`DAFNCK_PASSPHRASE`, `DAFNCK_STATE`, and with AWS `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`), mapped into each script's
//! environment as Azure requires for secrets. Each `up` is a deployment
//! job to the environment of its stage: approvals and checks set on that
//! environment make it wait. (OIDC to AWS needs the AWS Toolkit extension's
//! service connection, which this file does not assume.)

use super::{header, indent, Pipeline};

fn script(p: &Pipeline, text: &str, display: &str, pad: usize) -> String {
    let mut s = format!("- script: |\n{}", indent(text, 4));
    s.push_str(&format!("  displayName: {display}\n  env:\n"));
    let mut vars = vec!["DAFNCK_PASSPHRASE", "DAFNCK_STATE"];
    if p.aws {
        vars.extend(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"]);
    }
    for v in vars {
        s.push_str(&format!("    {v}: $({v})\n"));
    }
    indent(&s, pad)
}

const POOL: &str = "pool:\n  vmImage: ubuntu-latest\n";

pub(super) fn pipeline(p: &Pipeline) -> String {
    let mut y = header(p, "#", "approvals on its Azure DevOps environment");
    y.push_str(&format!(
        "trigger:\n  branches:\n    include: [{b}]\npr:\n  branches:\n    include: [{b}]\n",
        b = p.branch
    ));
    y.push_str(&format!(
        "schedules:\n  - cron: \"{}\"\n    displayName: dafnck drift\n    branches:\n      include: [{}]\n    always: \"true\"\n",
        p.drift_cron, p.branch
    ));
    y.push_str("variables:\n  - group: dafnck\n  - name: CARGO_TERM_COLOR\n    value: never\n");
    y.push_str("stages:\n");
    y.push_str(&format!(
        "  - stage: test\n    condition: ne(variables['Build.Reason'], 'Schedule')\n    jobs:\n      - job: test\n{}        \
         steps:\n          - checkout: self\n          - script: cargo test --locked\n            displayName: cargo test\n",
        indent(POOL, 8)
    ));
    y.push_str(
        "  - stage: preview\n    dependsOn: test\n    \
         condition: and(succeeded(), eq(variables['Build.Reason'], 'PullRequest'))\n    jobs:\n",
    );
    for s in &p.stages {
        y.push_str(&format!("      - job: preview_{}\n", s.replace('-', "_")));
        y.push_str(&indent(POOL, 8));
        y.push_str(&format!("        variables:\n          STAGE: {s}\n        steps:\n          - checkout: self\n"));
        y.push_str(&script(p, &p.preview_script(), "Preview", 10));
        y.push_str(&format!(
            "          - publish: dafnck-plans\n            artifact: dafnck-plans-{s}\n            condition: always()\n"
        ));
    }
    let on_push = format!(
        "and(succeeded(), eq(variables['Build.SourceBranch'], 'refs/heads/{}'), \
         in(variables['Build.Reason'], 'IndividualCI', 'BatchedCI', 'Manual'))",
        p.branch
    );
    for (s, before) in p.stages_after() {
        let depends = before.map_or("test".to_owned(), |b| format!("up_{}", b.replace('-', "_")));
        y.push_str(&format!(
            "  - stage: up_{id}\n    dependsOn: {depends}\n    condition: {on_push}\n    jobs:\n      - deployment: up\n",
            id = s.replace('-', "_")
        ));
        if p.approves(s) {
            y.push_str("        # Waits for the approvals set on this environment.\n");
        }
        y.push_str(&format!("        environment: {s}\n"));
        y.push_str(&indent(POOL, 8));
        y.push_str(&format!(
            "        variables:\n          STAGE: {s}\n        strategy:\n          runOnce:\n            deploy:\n              \
             steps:\n                - checkout: self\n"
        ));
        y.push_str(&script(p, &p.up_script(), "Up", 16));
    }
    y.push_str(
        "  - stage: drift\n    dependsOn: []\n    condition: eq(variables['Build.Reason'], 'Schedule')\n    jobs:\n",
    );
    for s in &p.stages {
        y.push_str(&format!("      - job: drift_{}\n", s.replace('-', "_")));
        y.push_str(&indent(POOL, 8));
        y.push_str(&format!("        variables:\n          STAGE: {s}\n        steps:\n          - checkout: self\n"));
        y.push_str(&script(p, &p.drift_script(), "Drift", 10));
    }
    y
}
