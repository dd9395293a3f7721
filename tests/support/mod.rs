//! What the workspace's integration tests share: the path of an example
//! program, built on demand, and a run of one watched while it goes.

mod cargo_env;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// One build at a time: tests of one binary ask for examples concurrently.
static BUILD: Mutex<()> = Mutex::new(());

/// The path of the example `name`, built as a normal program.
///
/// `cargo test` builds examples as normal programs beside the test binaries
/// (`target/<profile>/examples/<name>`), but `cargo test --all-targets`
/// builds them in test mode under a hashed name only; so the example is
/// built here with the same cargo, target directory and profile (an
/// up-to-date build is a no-op).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = profile_dir.join("examples").join(name);
    let _one = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let target_dir = profile_dir.parent().expect("target directory");
    let mut build = Command::new(env!("CARGO"));
    // Not what cargo set for this test process: the build's units stay
    // those of the outer run (see `cargo_env`).
    cargo_env::without_test_vars(&mut build)
        .args(["build", "--quiet", "--example", name, "--manifest-path"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    // The features this test was built with, so the library is not
    // rebuilt with another set.
    let features: Vec<&str> = [
        ("local", cfg!(feature = "local")),
        ("aws", cfg!(feature = "aws")),
        ("postgres", cfg!(feature = "postgres")),
        ("s3", cfg!(feature = "s3")),
        ("gcp", cfg!(feature = "gcp")),
        ("gcs", cfg!(feature = "gcs")),
        ("azblob", cfg!(feature = "azblob")),
        ("kubernetes", cfg!(feature = "kubernetes")),
        ("azure", cfg!(feature = "azure")),
    ]
    .into_iter()
    .filter_map(|(f, on)| on.then_some(f))
    .collect();
    build.arg("--no-default-features");
    if !features.is_empty() {
        build.arg("--features").arg(features.join(","));
    }
    if profile_dir.file_name().is_some_and(|p| p == "release") {
        build.arg("--release");
    }
    let status = build
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the example {name}: {e}"));
    assert!(
        status.success() && path.exists(),
        "building the example {name} failed ({status}); see cargo's output above"
    );
    path
}

/// A finished run of an example.
#[allow(dead_code)] // Not every test reads every part.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

#[allow(dead_code)] // Not every test runs an example.
impl Run {
    /// The run that ended with `out`.
    pub fn of(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts the run exited with `code`, showing its output if not.
    pub fn expect(&self, code: i32) {
        assert_eq!(
            self.code, code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
    }
}

/// Runs `command` (the example `what`) to its end while calling `watch`
/// every 10 ms; returns the run and each distinct value `watch` gave, in
/// order (the first one read before the run started, the last one after
/// it ended).
#[allow(dead_code)] // Not every test watches a run.
pub async fn watching<T, F, Fut>(mut command: Command, what: &str, mut watch: F) -> (Run, Vec<T>)
where
    T: PartialEq + std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    // How it was before the run.
    let mut seen: Vec<T> = vec![watch().await];
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start the {what} example: {e}"));
    let waiting = tokio::task::spawn_blocking(move || child.wait_with_output());
    let deadline = Instant::now() + Duration::from_secs(300);
    while !waiting.is_finished() {
        let now = watch().await;
        if seen.last() != Some(&now) {
            seen.push(now);
        }
        assert!(Instant::now() < deadline, "up ran for 5 minutes: {seen:?}");
        // Often: against moto a reset to the serving object can be
        // followed by the next rollout's first step within a few hundred
        // milliseconds.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let out = waiting.await.unwrap().unwrap();
    let now = watch().await;
    if seen.last() != Some(&now) {
        seen.push(now);
    }
    (Run::of(out), seen)
}
