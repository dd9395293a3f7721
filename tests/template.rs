//! `templates/infra/`, the starting point of a user's infrastructure
//! repository, works as the README's "Start your own infrastructure repo"
//! says: copied out of this checkout with its dependencies pointed here by
//! path, it builds, its own unit tests pass, and its program previews,
//! applies, updates and destroys its resources.
//!
//! The copy builds into the target directory of the outer run
//! (`CARGO_TARGET_DIR` if set, else the one this test was built in) and
//! starts from this workspace's `Cargo.lock`, so it reuses what is already
//! built and needs no network.

use std::path::Path;

#[path = "support/outer_cargo.rs"]
mod outer_cargo;

use outer_cargo::{cargo, root, stdout};

/// Copies directory `from` to `to`, leaving out what a build or a run of
/// the template leaves in it.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if ["target", ".dafnck", ".dafnck-local", "public", "Cargo.lock"]
            .iter()
            .any(|n| name == *n)
        {
            continue;
        }
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}

#[test]
fn the_template_builds_tests_previews_applies_updates_and_destroys_from_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("infra");
    copy_dir(&root().join("templates/infra"), &repo);

    // Point the template's path dependencies at this checkout.
    let manifest = std::fs::read_to_string(repo.join("Cargo.toml")).unwrap();
    let here = format!("path = \"{}/", root().display());
    let rewritten = manifest.replace("path = \"../../", &here);
    assert_eq!(
        rewritten.matches(&here).count(),
        2,
        "dafnck-core and dafnck-providers by path:\n{manifest}"
    );
    std::fs::write(repo.join("Cargo.toml"), rewritten).unwrap();
    // The versions this workspace builds with, so nothing new is fetched.
    outer_cargo::copy_lock(&repo);

    let out = cargo(&repo, &["test", "--offline"]);
    assert!(out.status.success(), "the template's own tests fail");
    assert!(
        stdout(&out).contains("test result: ok. 3 passed"),
        "the template's three unit tests ran"
    );

    let out = cargo(&repo, &["run", "--offline", "-q", "--", "preview"]);
    assert!(out.status.success(), "preview fails");
    let plan = stdout(&out);
    for line in ["+ public", "+ index"] {
        assert!(plan.contains(line), "preview shows {line:?}:\n{plan}");
    }
    assert!(!repo.join("public").exists(), "a preview makes nothing");

    let out = cargo(&repo, &["run", "--offline", "-q", "--", "up", "--yes"]);
    assert!(out.status.success(), "up fails");
    let page = std::fs::read_to_string(repo.join("public/index.html")).unwrap();
    assert_eq!(page, "<h1>hello</h1>\n");

    let out = cargo(
        &repo,
        &[
            "run",
            "--offline",
            "-q",
            "--",
            "up",
            "--yes",
            "--config",
            "greeting=hi",
        ],
    );
    assert!(out.status.success(), "up with a new greeting fails");
    assert!(
        stdout(&out).contains("~ index"),
        "the page is updated in place"
    );
    let page = std::fs::read_to_string(repo.join("public/index.html")).unwrap();
    assert_eq!(page, "<h1>hi</h1>\n");

    let out = cargo(&repo, &["run", "--offline", "-q", "--", "destroy", "--yes"]);
    assert!(out.status.success(), "destroy fails");
    assert!(
        !repo.join("public").exists(),
        "destroy removes the directory"
    );
}
