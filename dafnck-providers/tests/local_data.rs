//! The local provider's data sources against this machine: a file and a
//! directory the stack does not own, read at preview and up, used as
//! inputs, never deleted; a missing one is an error naming the program
//! line.
#![cfg(feature = "local")]

use dafnck_core::engine::Engine;
use dafnck_core::prelude::*;
use dafnck_core::state::MemoryStore;
use dafnck_core::{Error, Value};
use dafnck_providers::local::{self, DirectoryListing, File, FileContent};

fn engine(work: &std::path::Path) -> Engine {
    Engine::new(
        "test",
        MemoryStore::new(),
        Providers::new().with(local::Provider::new(work)),
    )
}

fn copy(stack: &mut Stack) -> dafnck_core::Result<()> {
    let source = stack.read(
        "source",
        FileContent {
            path: "given/source.txt".into(),
        },
    );
    let listing = stack.read(
        "given",
        DirectoryListing {
            path: "given".into(),
        },
    );
    stack.add(
        "copy",
        File {
            path: "copy.txt".into(),
            content: source.out().content,
            mode: None,
        },
    );
    stack.export("sha256", source.out().sha256);
    stack.export("entries", listing.out().entries);
    Ok(())
}

#[tokio::test]
async fn a_file_it_does_not_own_is_read_at_every_run_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("given")).unwrap();
    std::fs::write(dir.path().join("given/source.txt"), "v1\n").unwrap();
    std::fs::write(dir.path().join("given/other"), "").unwrap();
    let e = engine(dir.path());

    let preview = e.preview(copy, false).await.unwrap().plan;
    let after = preview.change("copy").unwrap().after.as_ref().unwrap();
    assert_eq!(after.get("content"), Some(&Value::from("v1\n")));
    let render = preview.render();
    assert!(
        render.contains("<= read data source \"source\" (local:fs:FileContent)"),
        "{render}"
    );
    assert!(
        render.contains("<= read data source \"given\" (local:fs:DirectoryListing)"),
        "{render}"
    );

    e.up(copy, false).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("copy.txt")).unwrap(),
        "v1\n"
    );
    let state = e.state().await.unwrap();
    assert_eq!(state.resources.keys().collect::<Vec<_>>(), ["copy"]);
    assert_eq!(
        state.outputs["entries"],
        Value::List(vec!["other".into(), "source.txt".into()])
    );

    // Changed by hand: the next run reads it again and updates the copy.
    std::fs::write(dir.path().join("given/source.txt"), "v2\n").unwrap();
    let plan = e.preview(copy, false).await.unwrap().plan;
    assert_eq!(plan.action("copy"), Some(dafnck_core::Action::Update));
    e.up(copy, false).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("copy.txt")).unwrap(),
        "v2\n"
    );

    // Destroy deletes the copy, never what it read.
    e.destroy().await.unwrap();
    assert!(!dir.path().join("copy.txt").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("given/source.txt")).unwrap(),
        "v2\n"
    );
}

#[tokio::test]
async fn a_missing_file_is_an_error_naming_the_read_and_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let line = line!() + 2;
    let program = |stack: &mut Stack| {
        let f = stack.read(
            "conf",
            FileContent {
                path: "absent.conf".into(),
            },
        );
        stack.export("c", f.out().content);
        Ok(())
    };
    let problems = match engine(dir.path()).preview(program, false).await {
        Err(Error::Program(p)) => p,
        other => panic!("expected a program error, got {other:?}"),
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].location.as_ref().unwrap().line, line);
    let expected = format!(
        "data source \"conf\" (local:fs:FileContent) could not be read: no file at {}",
        dir.path().join("absent.conf").display()
    );
    assert_eq!(problems[0].message, expected);
}
