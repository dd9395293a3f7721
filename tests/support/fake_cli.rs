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

/// The command `fake_cloud ARGS` in `dir`, its environment cleared of the
/// variables that would steer it.
pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(crate::support::example("fake_cloud"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("DAFNCK_STACK")
        .env_remove("DAFNCK_STATE_DIR")
        .env_remove("DAFNCK_STATE")
        .env_remove("DAFNCK_HISTORY_RETENTION")
        .env_remove("DAFNCK_COMMIT")
        .env_remove("DAFNCK_COMMIT_TIME")
        .env("NO_COLOR", "1")
        .env("DAFNCK_PASSPHRASE", "the cli tests' passphrase");
    cmd
}

/// Runs `fake_cloud ARGS` in `dir` with extra environment variables.
pub fn run_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = command(dir, args)
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

/// The ids the stack `stack` records, by resource name.
pub fn recorded_ids(dir: &Path, stack: &str) -> std::collections::BTreeMap<String, String> {
    let r = run(dir, &["state", "list", "--stack", stack]);
    expect(&r, 0);
    r.stdout
        .lines()
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            (cols[0].to_owned(), cols[2].to_owned())
        })
        .collect()
}

/// Deletes the fake cloud's object of resource `name` of `stack` behind
/// the program's back (an `up --no-refresh` that updates it then fails).
pub fn delete_object(dir: &Path, stack: &str, name: &str) {
    let id = recorded_ids(dir, stack)
        .remove(name)
        .unwrap_or_else(|| panic!("stack {stack:?} records no {name:?}"));
    std::fs::remove_file(dir.join(format!(".dafnck/fake-cloud/{id}.json")))
        .expect("the fake cloud's object file");
}
