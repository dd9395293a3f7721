//! `examples/two_stacks` with the network stack in a team store
//! (PostgreSQL, S3) and the app stack in the file store, reading the
//! network's exports by the store's URL (config `network_state`), as the
//! command line's registered backends open it. Shared by
//! `tests/cli_postgres.rs` and `tests/cli_s3.rs`, which include it with
//! `#[path = "support/references.rs"] mod references;` (and the example's
//! runner, `support/two_stacks_cli.rs`, beside it).

use std::path::Path;

use dafnck::core::state::redact_url;

use crate::two_stacks_cli::files_holding;

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
    crate::two_stacks_cli::run(dir, env, args, stdin, PASSPHRASE, TOKEN)
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
