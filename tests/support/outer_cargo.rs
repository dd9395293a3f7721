//! Building a program of a user's own (a copy of `templates/infra`, a
//! program `adopt` wrote) against this checkout: its dependencies by path,
//! this workspace's `Cargo.lock`, and the outer run's target directory, so
//! it reuses what is already built and needs no network. Included by
//! `tests/template.rs` and the `tests/adopt_*.rs` files.

#![allow(dead_code)]

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
    // What cargo set for this test process describes this package, not the
    // build: a build script that reruns when one changes (ring's watches
    // `CARGO_MANIFEST_DIR` and `CARGO_PKG_NAME`) would run again with them,
    // which dirties everything above it (rustls, every AWS SDK) in the
    // shared target directory; the outer run then rebuilds them in turn.
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(set_for_the_test) {
            cmd.env_remove(key);
        }
    }
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

/// Whether cargo sets `key` for the test process it runs (the variables
/// cargo sets for crates: `CARGO_PKG_*`, `CARGO_MANIFEST_DIR`, ..), as
/// opposed to one set where `cargo test` itself ran.
fn set_for_the_test(key: &str) -> bool {
    key.starts_with("CARGO_PKG_")
        || matches!(
            key,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_MANIFEST_LINKS"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
                | "CARGO_RUSTC_CURRENT_DIR"
                | "OUT_DIR"
        )
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
