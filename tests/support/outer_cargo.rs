//! Building a program of a user's own (a copy of `templates/infra`, a
//! program `adopt` wrote) against this checkout: its dependencies by path,
//! this workspace's `Cargo.lock`, and the outer run's target directory, so
//! it reuses what is already built and needs no network. Included by
//! `tests/template.rs` and the `tests/adopt_*.rs` files.

#![allow(dead_code)]

include!("cargo_env.rs");

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The checkout's root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The outer run's target directory.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // A test runs as <target>/<profile>/deps/<name>-<hash>.
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// Runs `cargo ARGS` in `dir` against the outer run's target directory,
/// with `env` set.
pub fn cargo_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    // Not what cargo set for this test process (see `cargo_env.rs`).
    without_test_vars(&mut cmd);
    cmd.args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        // The program's own state and local files stay in its directory.
        .env_remove("DAFNCK_STATE")
        .env_remove("DAFNCK_STATE_DIR")
        .env_remove("DAFNCK_STACK")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    println!(
        "$ cargo {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `cargo ARGS` in `dir` against the outer run's target directory.
pub fn cargo(dir: &Path, args: &[&str]) -> Output {
    cargo_with(dir, args, &[])
}

/// What `out` printed.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Starts the program in `dir` from this workspace's `Cargo.lock`, so
/// nothing new is fetched.
pub fn copy_lock(dir: &Path) {
    std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
}
