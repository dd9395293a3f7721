//! `examples/two_stacks` with the network stack in a team store
//! (PostgreSQL, S3) and the app stack in the file store, reading the
//! network's exports by the store's URL (config `network_state`), as the
//! command line's registered backends open it. Shared by
//! `tests/cli_postgres.rs` and `tests/cli_s3.rs`, which include it with
//! `#[path = "support/references.rs"] mod references;`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use dafnck::core::state::redact_url;

const PASSPHRASE: &str = "cli references test passphrase";
const TOKEN: &str = "tok-across-stores-5e1";

/// Runs the example in `dir` with `env` added, `stdin` given, and checks
/// it printed no secret.
fn run(
    dir: &Path,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: Option<&str>,
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
        .env("DAFNCK_PASSPHRASE", PASSPHRASE)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("run the example");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        !stdout.contains(TOKEN) && !stderr.contains(TOKEN),
        "{args:?} printed the secret:\n{stdout}\n{stderr}"
    );
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// Every file under `dir` whose bytes hold `text`.
fn files_holding(dir: &Path, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if String::from_utf8_lossy(&std::fs::read(&path).unwrap()).contains(text) {
                found.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

/// The network stack `up` in the store at `url`, the app stack (file
/// store) reading its exports by that URL: the preview lists the read
/// with its store, the port arrives as a number (the computed URLs hold
/// it), the secret token reaches the files that need it and no state, and
/// a change of the network plans the app's dependent updates.
pub fn the_app_reads_the_network_by_url(url: &str, env: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = |args: &[&str]| {
        let (code, out, err) = run(d, env, args, None);
        assert_eq!(code, 0, "{args:?}\nstdout:\n{out}\nstderr:\n{err}");
        out
    };
    let config = format!("network_state={url}");
    let app = |verb: &[&str]| {
        let mut args = vec!["--stack", "app"];
        args.extend_from_slice(verb);
        args.extend(["--config", config.as_str()]);
        ok(&args)
    };

    let (code, _, err) = run(
        d,
        env,
        &[
            "--stack",
            "network",
            "config",
            "set",
            "api_token",
            "--secret",
        ],
        Some(&format!("{TOKEN}\n")),
    );
    assert_eq!(code, 0, "{err}");
    ok(&["--stack", "network", "--state", url, "up", "--yes"]);
    // Nothing of the network stack went to the file store.
    assert!(!d.join(".dafnck/network").exists());

    let preview = app(&["preview"]);
    assert!(
        preview.contains(&format!(
            "<= read exports of stack \"network\" in {}: port, api_token, hosts_path",
            redact_url(url)
        )),
        "{preview}"
    );
    app(&["up", "--yes"]);
    assert!(d.join(".dafnck/app").exists());
    let outputs: serde_json::Value = serde_json::from_str(&app(&["outputs", "--json"])).unwrap();
    assert_eq!(
        outputs,
        serde_json::json!({
            "blue_url": "http://127.0.0.1:8080/blue/",
            "green_url": "http://127.0.0.1:8080/green/",
        })
    );
    // The secret export reached the files that need it, and no state.
    assert_eq!(
        files_holding(d, TOKEN),
        [
            "two-stacks/app/blue/site.env",
            "two-stacks/app/green/site.env"
        ]
    );

    // The network changes in its store: the app plans the dependent
    // updates.
    ok(&[
        "--stack",
        "network",
        "--state",
        url,
        "up",
        "--yes",
        "--config",
        "port=9090",
    ]);
    let preview = app(&["preview"]);
    assert!(
        preview.contains("Plan: 0 to create, 2 to update, 0 to replace, 0 to delete."),
        "{preview}"
    );

    // Without the URL, the app looks in its own store and names it.
    let (code, _, err) = run(d, env, &["--stack", "app", "preview"], None);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("the referenced stack \"network\" has no state in"),
        "{err}"
    );
    app(&["destroy", "--yes"]);
    ok(&["--stack", "network", "--state", url, "destroy", "--yes"]);
}
