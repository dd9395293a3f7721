//! What the workspace's integration tests share: the path of an example
//! program, built on demand.

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
    build
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
