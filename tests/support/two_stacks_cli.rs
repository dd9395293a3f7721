//! Running `examples/two_stacks` as a user does, in a directory of its
//! own. Shared by `tests/two_stacks.rs` (file stores) and
//! `tests/support/references.rs` (the network stack in a team store), each
//! including it with `#[path = "support/two_stacks_cli.rs"] mod
//! two_stacks_cli;`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs the example in `dir` with `args`, `env` added and `stdin` given,
/// `passphrase` as the state's; checks it printed neither `secret` (the
/// program's secret config value) on stdout nor on stderr. Returns the
/// exit code, stdout and stderr.
pub fn run(
    dir: &Path,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: Option<&str>,
    passphrase: &str,
    secret: &str,
) -> (i32, String, String) {
    let mut command = Command::new(crate::support::example("two_stacks"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("DAFNCK_STACK")
        .env_remove("DAFNCK_STATE")
        .env_remove("DAFNCK_STATE_DIR")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env("DAFNCK_PASSPHRASE", passphrase)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("run the example");
    let mut input = child.stdin.take().expect("the example's stdin");
    if let Some(text) = stdin {
        input
            .write_all(text.as_bytes())
            .expect("write to the example");
    }
    drop(input);
    let out = child.wait_with_output().expect("the example's output");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        !stdout.contains(secret) && !stderr.contains(secret),
        "{args:?} printed the secret:\n{stdout}\n{stderr}"
    );
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// Every file under `dir` whose bytes hold `text`, by path relative to it.
pub fn files_holding(dir: &Path, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read a directory") {
            let path = e.expect("a directory entry").path();
            if path.is_dir() {
                todo.push(path);
            } else if String::from_utf8_lossy(&std::fs::read(&path).expect("read a file"))
                .contains(text)
            {
                found.push(
                    path.strip_prefix(dir)
                        .expect("under the directory")
                        .display()
                        .to_string(),
                );
            }
        }
    }
    found.sort();
    found
}
