//! Running the `fake_cloud` example as a user would, in a directory of its
//! own (its state and its fake cloud live there). Include with
//! `#[path = "support/fake_cli.rs"] mod fake_cli;` beside `mod support;`.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// What a run printed and how it exited.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `fake_cloud ARGS` in `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Run {
    run_with(dir, args, &[])
}

/// Runs `fake_cloud ARGS` in `dir` with extra environment variables.
pub fn run_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(crate::support::example("fake_cloud"))
        .args(args)
        .current_dir(dir)
        .env_remove("DAFNCK_STACK")
        .env_remove("DAFNCK_STATE_DIR")
        .env_remove("DAFNCK_STATE")
        .env_remove("DAFNCK_HISTORY_RETENTION")
        .env_remove("DAFNCK_COMMIT")
        .env_remove("DAFNCK_COMMIT_TIME")
        .env("NO_COLOR", "1")
        .env("DAFNCK_PASSPHRASE", "the cli tests' passphrase")
        .envs(env.iter().copied())
        .output()
        .expect("run the example");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Asserts the run exited with `code`, showing its output otherwise.
#[track_caller]
pub fn expect(r: &Run, code: i32) {
    assert_eq!(r.code, code, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}
