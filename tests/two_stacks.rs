//! `examples/two_stacks` as a user runs it, in a temporary directory: a
//! secret config value set from stdin, `up` of the network stack, `up` of
//! the app stack reading its exports (and a file it owns, as a data
//! source), the app's computed URLs in `outputs --json`, a change of the
//! network planned as the app's dependent updates (the data source's
//! changed answer shown with what it changes, and counted in the app's
//! history), and the errors of an app run before the network exists.
#![cfg(feature = "local")]

mod support;

#[path = "support/two_stacks_cli.rs"]
mod two_stacks_cli;

use std::path::Path;

use two_stacks_cli::files_holding;

const PASSPHRASE: &str = "two stacks test passphrase";
const TOKEN: &str = "tok-7c1d9";

fn run(dir: &Path, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    two_stacks_cli::run(dir, &[], args, stdin, PASSPHRASE, TOKEN)
}

#[track_caller]
fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = run(dir, args, None);
    assert_eq!(code, 0, "{args:?}\nstdout:\n{out}\nstderr:\n{err}");
    out
}

#[test]
fn the_app_stack_builds_on_the_network_stacks_exports() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // Before the network exists, the app's reference is an error naming
    // the program line.
    let (code, _, err) = run(d, &["--stack", "app", "preview"], None);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("examples/two_stacks.rs:")
            && err.contains("the referenced stack \"network\" has no state in"),
        "{err}"
    );

    let args = [
        "--stack",
        "network",
        "config",
        "set",
        "api_token",
        "--secret",
    ];
    let (code, _, err) = run(d, &args, Some(&format!("{TOKEN}\n")));
    assert_eq!(code, 0, "{err}");
    ok(d, &["--stack", "network", "up", "--yes"]);

    let preview = ok(d, &["--stack", "app", "preview"]);
    assert!(
        preview.contains("<= read exports of stack \"network\": port, api_token, hosts_path"),
        "{preview}"
    );
    assert!(
        preview.contains("<= read data source \"hosts\" (local:fs:FileContent)"),
        "{preview}"
    );
    assert!(
        preview.contains("blue/\n") && preview.contains("green/\n"),
        "{preview}"
    );
    assert!(!preview.contains("DAF-GEN-001"), "{preview}");
    ok(d, &["--stack", "app", "up", "--yes"]);

    let outputs: serde_json::Value =
        serde_json::from_str(&ok(d, &["--stack", "app", "outputs", "--json"])).unwrap();
    assert_eq!(
        outputs,
        serde_json::json!({
            "blue_url": "http://127.0.0.1:8080/blue/",
            "green_url": "http://127.0.0.1:8080/green/",
        })
    );
    let index = std::fs::read_to_string(d.join("two-stacks/app/green/index.html")).unwrap();
    assert!(
        index.contains("http://127.0.0.1:8080/green/") && index.contains("port 8080"),
        "{index}"
    );
    // The secret export reached the files that need it, and no state.
    assert_eq!(
        files_holding(d, TOKEN),
        [
            "two-stacks/app/blue/site.env",
            "two-stacks/app/green/site.env"
        ]
    );

    // The network changes: the app plans the dependent updates only.
    ok(
        d,
        &["--stack", "network", "up", "--yes", "--config", "port=9090"],
    );
    let preview = ok(d, &["--stack", "app", "preview"]);
    assert!(
        preview.contains("Plan: 0 to create, 2 to update, 0 to replace, 0 to delete."),
        "{preview}"
    );
    assert!(
        preview.contains("~ blue/index") && preview.contains("~ green/index"),
        "{preview}"
    );
    // The hosts file the app reads changed with the port: the preview says
    // how its answer changed since the app's last `up`, and what it changes.
    assert!(
        preview.contains(" <= read data source \"hosts\" (local:fs:FileContent): answer changed\n")
            && preview.contains("        content: ")
            && preview.contains("port 9090")
            && preview.contains("        affects: blue/index, green/index\n"),
        "{preview}"
    );
    ok(d, &["--stack", "app", "up", "--yes"]);
    let history = ok(d, &["--stack", "app", "state", "history"]);
    let summaries: Vec<&str> = history
        .lines()
        .map(|l| l.rsplit('\t').next().unwrap())
        .collect();
    assert_eq!(
        summaries,
        [
            "create 4, update 0, replace 0, delete 0; data sources: 1 new",
            "create 0, update 2, replace 0, delete 0; data sources: 1 changed",
        ],
        "{history}"
    );
    let outputs = ok(d, &["--stack", "app", "outputs", "--json"]);
    assert!(outputs.contains("http://127.0.0.1:9090/blue/"), "{outputs}");

    ok(d, &["--stack", "app", "destroy", "--yes"]);
    ok(d, &["--stack", "network", "destroy", "--yes"]);
    assert!(!d.join("two-stacks/network").exists());
}
