//! Secrets at rest through the command line: the `fake_cloud` example (whose
//! instances have secret passwords) run as a process with and without
//! `DAFNCK_PASSPHRASE`. No byte of the state directory, of a saved plan or
//! of the output holds a secret; a wrong passphrase is a clear error that
//! changes nothing; without one, `preview` works and `up` refuses.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PASSPHRASE: &str = "cli secrets test passphrase";
/// The example's secrets: `s3cret-0`, `s3cret-1`.
const SECRETS: [&str; 2] = ["s3cret-0", "s3cret-1"];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(dir: &Path, passphrase: Option<&str>, args: &[&str]) -> Run {
    let output = command(dir, passphrase, args).output();
    checked(args, passphrase, output.expect("run the example"))
}

/// The example run in `dir` with `args`, with or without a passphrase.
fn command(dir: &Path, passphrase: Option<&str>, args: &[&str]) -> Command {
    let mut cmd = Command::new(support::example("fake_cloud"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("DAFNCK_STACK")
        .env_remove("DAFNCK_STATE_DIR")
        .env("NO_COLOR", "1");
    match passphrase {
        Some(p) => cmd.env("DAFNCK_PASSPHRASE", p),
        None => cmd.env_remove("DAFNCK_PASSPHRASE"),
    };
    cmd
}

/// A run's outcome, checked to print no secret (nor the passphrase).
fn checked(args: &[&str], passphrase: Option<&str>, output: Output) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = output;
    let r = Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    for s in SECRETS {
        assert!(
            !r.stdout.contains(s) && !r.stderr.contains(s),
            "{args:?} printed a secret:\n{}\n{}",
            r.stdout,
            r.stderr
        );
    }
    if let Some(p) = passphrase {
        assert!(
            !r.stdout.contains(p) && !r.stderr.contains(p),
            "printed the passphrase"
        );
    }
    r
}

#[track_caller]
fn expect(r: &Run, code: i32) {
    assert_eq!(r.code, code, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}

/// Every file under `dir` (the fake cloud's objects excepted: a cloud keeps
/// secrets, as a real one does) and its bytes.
fn state_files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.ends_with("fake-cloud") {
                continue;
            }
            if path.is_dir() {
                todo.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn assert_no_plaintext(dir: &Path) {
    let files = state_files(dir);
    assert!(
        files.keys().any(|p| p.ends_with("snapshot.json")),
        "{files:?}"
    );
    for (path, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        for s in SECRETS {
            assert!(!text.contains(s), "{} holds {s:?}:\n{text}", path.display());
        }
    }
}

#[test]
fn no_secret_in_the_state_a_saved_plan_or_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let p = Some(PASSPHRASE);
    expect(&run(dir.path(), p, &["up", "--yes"]), 0);
    let plan = dir.path().join("large.plan");
    let plan_arg = plan.to_str().unwrap();
    expect(
        &run(
            dir.path(),
            p,
            &["preview", "--config", "size=large", "--out", plan_arg],
        ),
        0,
    );
    assert!(std::fs::read_to_string(&plan).unwrap().contains("$sealed"));
    expect(&run(dir.path(), p, &["up", "--yes", "--plan", plan_arg]), 0);
    let r = run(dir.path(), p, &["state", "show", "web-0"]);
    expect(&r, 0);
    assert!(r.stdout.contains("\"(secret)\""), "{}", r.stdout);
    expect(&run(dir.path(), p, &["drift"]), 0);
    expect(&run(dir.path(), p, &["preview", "--json"]), 0);
    assert_no_plaintext(dir.path());
}

#[test]
fn a_wrong_passphrase_is_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    expect(&run(dir.path(), Some(PASSPHRASE), &["up", "--yes"]), 0);
    let before = state_files(dir.path());
    for args in [
        &["preview"][..],
        &["up", "--yes", "--config", "size=large"],
        &["destroy", "--yes"],
        &["refresh", "--yes"],
        &["state", "rm", "web-0"],
    ] {
        let r = run(dir.path(), Some("wrong passphrase"), args);
        expect(&r, 1);
        assert!(
            r.stderr.contains(
                "the passphrase (DAFNCK_PASSPHRASE) does not match the one this state was encrypted with"
            ),
            "{args:?}: {}",
            r.stderr
        );
    }
    assert_eq!(state_files(dir.path()), before, "byte-identical");
}

#[test]
fn without_a_passphrase_only_preview_without_refresh_works() {
    let dir = tempfile::tempdir().unwrap();
    // A new stack: its secrets would be written in plain text.
    let r = run(dir.path(), None, &["up", "--yes"]);
    expect(&r, 1);
    assert!(
        r.stderr.contains("in plain text") && r.stderr.contains("DAFNCK_PASSPHRASE"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join(".dafnck/dev/snapshot.json").exists());

    expect(&run(dir.path(), Some(PASSPHRASE), &["up", "--yes"]), 0);
    let before = state_files(dir.path());
    // A refreshing preview compares the recorded secrets with what the
    // provider reports, so it needs the key; without a refresh it does not.
    let r = run(dir.path(), None, &["preview", "--config", "size=large"]);
    expect(&r, 1);
    assert!(
        r.stderr.contains("set DAFNCK_PASSPHRASE") && r.stderr.contains("preview --no-refresh"),
        "{}",
        r.stderr
    );
    let r = run(
        dir.path(),
        None,
        &["preview", "--no-refresh", "--config", "size=large"],
    );
    expect(&r, 0);
    assert!(
        r.stdout
            .contains("admin_password: (secret) → (secret)  # may change"),
        "{}",
        r.stdout
    );
    for args in [
        &["up", "--yes", "--config", "size=large"][..],
        &["destroy", "--yes"],
    ] {
        let r = run(dir.path(), None, args);
        expect(&r, 1);
        assert!(
            r.stderr.contains("encrypted and no key was given")
                && r.stderr.contains("set DAFNCK_PASSPHRASE"),
            "{args:?}: {}",
            r.stderr
        );
    }
    assert_eq!(state_files(dir.path()), before, "nothing was written");
}

/// `config set` through the example, the value on stdin.
fn set_config(dir: &Path, passphrase: Option<&str>, args: &[&str], value: &str) -> Run {
    use std::io::Write;
    let mut child = command(dir, passphrase, args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the example");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(value.as_bytes()).unwrap();
    drop(stdin);
    checked(args, passphrase, child.wait_with_output().unwrap())
}

#[test]
fn a_secret_config_value_is_read_from_stdin_and_kept_sealed_in_the_config_file() {
    const VALUE: &str = "cfg-s3cret-77";
    let dir = tempfile::tempdir().unwrap();
    let p = Some(PASSPHRASE);
    let args = ["config", "set", "admin_password", "--secret"];
    let r = set_config(dir.path(), p, &args, &format!("{VALUE}\n"));
    expect(&r, 0);
    assert!(!r.stdout.contains(VALUE) && !r.stderr.contains(VALUE));
    let file = std::fs::read_to_string(dir.path().join("dafnck.dev.json")).unwrap();
    assert!(file.contains("$sealed") && !file.contains(VALUE), "{file}");
    // A plain value beside it, from stdin too.
    expect(
        &set_config(dir.path(), p, &["config", "set", "size"], "large"),
        0,
    );

    let r = run(dir.path(), p, &["up", "--yes"]);
    expect(&r, 0);
    assert!(!r.stdout.contains(VALUE) && !r.stderr.contains(VALUE));
    // The provider got the opened value (the fake cloud keeps what it got,
    // as a real one does); the state holds it sealed.
    let cloud = std::fs::read_dir(dir.path().join(".dafnck/fake-cloud"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect::<String>();
    assert!(cloud.contains(VALUE), "the instances got the config value");
    assert!(cloud.contains("large"), "the plain value was read too");
    for (path, bytes) in state_files(dir.path()) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(VALUE), "{} holds the value", path.display());
    }

    // Without the passphrase the file's secret cannot be opened.
    let r = run(dir.path(), None, &["preview"]);
    expect(&r, 1);
    assert!(
        r.stderr.contains(
            "dafnck.dev.json: holds the secret value \"admin_password\": set DAFNCK_PASSPHRASE to open it"
        ),
        "{}",
        r.stderr
    );
    // With another passphrase neither reading nor adding a secret works.
    let r = set_config(dir.path(), Some("wrong passphrase"), &args, "other");
    expect(&r, 1);
    assert!(
        r.stderr.contains("does not open its secret values"),
        "{}",
        r.stderr
    );
    // No value on stdin is refused.
    let r = set_config(dir.path(), p, &["config", "set", "size"], "");
    expect(&r, 1);
    assert!(r.stderr.contains("no value on stdin"), "{}", r.stderr);
}
