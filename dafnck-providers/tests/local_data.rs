//! The local provider's data sources against this machine: a file and a
//! directory the stack does not own, and a program's output, read at
//! preview and up, used as inputs, recorded in the state, never deleted; a
//! missing file, or a program that fails or runs past its timeout, is an
//! error naming the data source, the program line (and the command).
#![cfg(feature = "local")]

use dafnck_core::engine::Engine;
use dafnck_core::prelude::*;
use dafnck_core::state::MemoryStore;
use dafnck_core::{Error, Value};
use dafnck_providers::local::{self, CommandOutput, DirectoryListing, File, FileContent};

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

/// A stamp file holding what a program prints: the version in
/// `given/VERSION`, read with `cat` (no shell), and a count from `grep`,
/// whose exit code 1 (nothing matched) is an answer.
fn stamp(stack: &mut Stack) -> dafnck_core::Result<()> {
    let version = stack.read(
        "version",
        CommandOutput {
            program: "cat".into(),
            args: vec!["VERSION".into()],
            dir: Some("given".into()),
            ..Default::default()
        },
    );
    let todo = stack.read(
        "todo",
        CommandOutput {
            program: "grep".into(),
            args: vec!["-c".into(), "TODO".into(), "given/VERSION".into()],
            ok_exit_codes: vec![1],
            ..Default::default()
        },
    );
    stack.add(
        "stamp",
        File {
            path: "stamp.txt".into(),
            content: version.out().stdout,
            mode: None,
        },
    );
    stack.export("todo", todo.out().stdout);
    stack.export("todo_exit", todo.out().exit_code);
    Ok(())
}

#[tokio::test]
async fn a_programs_output_is_read_at_preview_recorded_by_up_and_followed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("given")).unwrap();
    std::fs::write(dir.path().join("given/VERSION"), "1.4.0\n").unwrap();
    let e = engine(dir.path());

    // The preview runs it: the stamp's content is known, trimmed.
    let plan = e.preview(stamp, false).await.unwrap().plan;
    let after = plan.change("stamp").unwrap().after.as_ref().unwrap();
    assert_eq!(after.get("content"), Some(&Value::from("1.4.0")));
    let render = plan.render();
    assert!(
        render.contains("<= read data source \"version\" (local:exec:CommandOutput)"),
        "{render}"
    );
    assert!(
        e.state().await.unwrap().reads.is_empty(),
        "a preview records nothing"
    );

    e.up(stamp, false).await.unwrap();
    let state = e.state().await.unwrap();
    assert_eq!(state.resources.keys().collect::<Vec<_>>(), ["stamp"]);
    assert_eq!(state.outputs["todo"], Value::from("0"));
    assert_eq!(state.outputs["todo_exit"], Value::from(1));
    // Recorded in the state: type, query and answer.
    let read = &state.reads["version"];
    assert_eq!(read.type_name, "local:exec:CommandOutput");
    assert_eq!(read.query.get("program"), Some(&Value::from("cat")));
    assert_eq!(read.answer.get("stdout"), Some(&Value::from("1.4.0")));
    assert_eq!(read.answer.get("exit_code"), Some(&Value::from(0)));

    // Its answer changes: the preview says so and plans the update.
    std::fs::write(dir.path().join("given/VERSION"), "1.5.0\n").unwrap();
    let plan = e.preview(stamp, false).await.unwrap().plan;
    assert_eq!(plan.action("stamp"), Some(dafnck_core::Action::Update));
    let render = plan.render();
    assert!(
        render
            .contains("<= read data source \"version\" (local:exec:CommandOutput): answer changed")
            && render.contains("stdout: \"1.4.0\" -> \"1.5.0\"")
            && render.contains("affects: stamp"),
        "{render}"
    );
    e.up(stamp, false).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("stamp.txt")).unwrap(),
        "1.5.0"
    );
    assert_eq!(
        e.state().await.unwrap().reads["version"]
            .answer
            .get("stdout"),
        Some(&Value::from("1.5.0"))
    );
}

#[tokio::test]
async fn a_failing_or_hanging_program_is_an_error_naming_the_read_and_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let line = line!() + 2;
    let failing = |stack: &mut Stack| {
        let v = stack.read(
            "version",
            CommandOutput {
                program: "ls".into(),
                args: vec!["no-such-dir".into()],
                ..Default::default()
            },
        );
        stack.export("v", v.out().stdout);
        Ok(())
    };
    let problems = match engine(dir.path()).preview(failing, false).await {
        Err(Error::Program(p)) => p,
        other => panic!("expected a program error, got {other:?}"),
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].location.as_ref().unwrap().line, line);
    let m = &problems[0].message;
    assert!(
        m.starts_with(
            "data source \"version\" (local:exec:CommandOutput) could not be read: \
             command `ls no-such-dir` exited with code 2; last lines of its standard error:\n"
        ) && m.contains("no-such-dir"),
        "{m}"
    );

    let hanging = |stack: &mut Stack| {
        let v = stack.read(
            "slow",
            CommandOutput {
                program: "sleep".into(),
                args: vec!["30".into()],
                timeout_secs: Some(1),
                ..Default::default()
            },
        );
        stack.export("v", v.out().stdout);
        Ok(())
    };
    let started = std::time::Instant::now();
    let problems = match engine(dir.path()).preview(hanging, false).await {
        Err(Error::Program(p)) => p,
        other => panic!("expected a program error, got {other:?}"),
    };
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(
        problems[0].message,
        "data source \"slow\" (local:exec:CommandOutput) could not be read: command `sleep 30` \
         did not finish within 1s (timeout_secs) and was stopped; its standard error was empty"
    );
}
