//! Jenkins: a declarative `Jenkinsfile` for a multibranch pipeline.
//!
//! Secrets are Jenkins credentials (secret text) bound with
//! `credentials(...)`: `dafnck-passphrase`, `dafnck-state` and, with AWS,
//! `aws-access-key-id` and `aws-secret-access-key` (Jenkins has no OIDC of
//! its own). A stage that waits for approval has an `input` step; the
//! schedule is a `cron` trigger, and the drift stages run only when it
//! fired the build.

use super::{header, indent, Pipeline};

/// `script` as a Groovy triple-single-quoted string (no interpolation:
/// `$` reaches the shell as written).
fn sh(script: &str) -> String {
    let body = script.replace('\\', "\\\\");
    format!("sh '''\n{}'''\n", indent(&body, 0))
}

fn stage(
    name: &str,
    when: &str,
    input: Option<&str>,
    env_stage: &str,
    script: &str,
    post: &str,
) -> String {
    // With an input, `when` is checked first: only a build that would apply asks.
    let before_input = if input.is_some() {
        "beforeInput true\n"
    } else {
        ""
    };
    let mut s = format!("        stage('{name}') {{\n            when {{\n");
    s.push_str(&indent(&format!("{before_input}{when}\n"), 16));
    s.push_str("            }\n");
    if let Some(message) = input {
        s.push_str(&format!(
            "            input {{\n                message '{message}'\n                ok 'Apply'\n            }}\n"
        ));
    }
    s.push_str(&format!(
        "            environment {{\n                STAGE = '{env_stage}'\n            }}\n            steps {{\n"
    ));
    s.push_str(&indent(&sh(script), 16));
    s.push_str("            }\n");
    s.push_str(post);
    s.push_str("        }\n");
    s
}

pub(super) fn jenkinsfile(p: &Pipeline) -> String {
    let mut g = header(p, "//", "an input step in its stage");
    g.push_str("pipeline {\n    agent any\n");
    g.push_str(&format!(
        "    triggers {{\n        cron('{}')\n    }}\n",
        p.drift_cron
    ));
    g.push_str("    options {\n        disableConcurrentBuilds()\n    }\n");
    g.push_str("    environment {\n        CARGO_TERM_COLOR = 'never'\n");
    g.push_str("        DAFNCK_PASSPHRASE = credentials('dafnck-passphrase')\n");
    g.push_str("        DAFNCK_STATE = credentials('dafnck-state')\n");
    if p.aws {
        g.push_str("        AWS_ACCESS_KEY_ID = credentials('aws-access-key-id')\n");
        g.push_str("        AWS_SECRET_ACCESS_KEY = credentials('aws-secret-access-key')\n");
    }
    g.push_str("    }\n    stages {\n");
    let not_timer = "not { triggeredBy 'TimerTrigger' }";
    g.push_str(&format!(
        "        stage('Test') {{\n            when {{\n                {not_timer}\n            }}\n            steps {{\n                \
         sh 'cargo test --locked'\n            }}\n        }}\n"
    ));
    let keep_plans = "            post {\n                always {\n                    \
                      archiveArtifacts artifacts: 'dafnck-plans/**', allowEmptyArchive: true\n                \
                      }\n            }\n";
    for s in &p.stages {
        g.push_str(&stage(
            &format!("Preview {s}"),
            "changeRequest()",
            None,
            s,
            &p.preview_script(),
            keep_plans,
        ));
    }
    let on_push = format!("allOf {{\n    branch '{}'\n    {not_timer}\n}}", p.branch);
    for s in &p.stages {
        let input = p.approves(s).then(|| format!("Apply to {s}?"));
        g.push_str(&stage(
            &format!("Up {s}"),
            &on_push,
            input.as_deref(),
            s,
            &p.up_script(),
            "",
        ));
    }
    for s in &p.stages {
        g.push_str(&stage(
            &format!("Drift {s}"),
            "triggeredBy 'TimerTrigger'",
            None,
            s,
            &p.drift_script(),
            "",
        ));
    }
    g.push_str("    }\n}\n");
    g
}
