//! The command line with its state in S3: the `fake_cloud` example (whose
//! instances have secret passwords) run as a process with `--state
//! s3://...` (or `DAFNCK_STATE`) against a moto server, found through the
//! AWS environment (`AWS_ENDPOINT_URL`, ...) as a user's program finds it.
//!
//! The server's URL comes from `DAFNCK_MOTO_URL` (set by
//! `scripts/servers/moto.sh start` or `scripts/test.sh`); without it the
//! tests say they are skipped and pass, unless `DAFNCK_REQUIRE_SERVERS=1`.
//! Each test uses its own bucket. `examples/two_stacks` runs with its
//! network stack in S3 and its app stack reading it by `s3://` URL. The
//! test looks at the bucket with plain HTTP requests (moto does not check
//! signatures), so this package needs no AWS SDK of its own.
#![cfg(feature = "s3")]

#[cfg(feature = "local")]
#[path = "support/references.rs"]
mod references;
mod support;
#[cfg(feature = "local")]
#[path = "support/two_stacks_cli.rs"]
mod two_stacks_cli;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output};

use dafnck::core::state::new_id;

const PASSPHRASE: &str = "cli s3 test passphrase";
/// The example's secrets.
const SECRETS: [&str; 2] = ["s3cret-0", "s3cret-1"];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the example in `dir` with the AWS environment pointing at moto,
/// and checks it printed no secret.
fn run(dir: &Path, endpoint: &str, env_state: Option<&str>, args: &[&str]) -> Run {
    let mut command = Command::new(support::example("fake_cloud"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("DAFNCK_STACK")
        .env_remove("DAFNCK_STATE_DIR")
        .env_remove("DAFNCK_STATE")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("DAFNCK_PASSPHRASE", PASSPHRASE)
        .env("NO_COLOR", "1");
    if let Some(url) = env_state {
        command.env("DAFNCK_STATE", url);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("run the example");
    let r = Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    for s in SECRETS.iter().chain([&PASSPHRASE]) {
        assert!(
            !r.stdout.contains(s) && !r.stderr.contains(s),
            "{args:?} printed a secret:\n{}\n{}",
            r.stdout,
            r.stderr
        );
    }
    r
}

#[track_caller]
fn expect(r: &Run, code: i32) {
    assert_eq!(r.code, code, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}

fn moto_for(test: &str) -> Option<String> {
    let Ok(endpoint) = std::env::var("DAFNCK_MOTO_URL") else {
        let why = "moto is not available (set DAFNCK_MOTO_URL: scripts/servers/moto.sh start, or scripts/test.sh)";
        if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
            panic!("{test}: {why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
        }
        let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
        return None;
    };
    Some(endpoint)
}

/// One plain HTTP/1.0 request to moto: the status and the body.
fn http(endpoint: &str, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host).expect("connect to moto");
    // An Authorization header moto does not check, but which makes the
    // request the account's rather than anonymous (objects are private).
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: {}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let status_line = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, response[split + 4..].to_vec())
}

/// Every key in `bucket`.
fn keys(endpoint: &str, bucket: &str) -> Vec<String> {
    let (status, body) = http(endpoint, "GET", &format!("/{bucket}?list-type=2"), b"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let text = String::from_utf8(body).unwrap();
    assert!(!text.contains("<IsTruncated>true"), "{text}");
    text.split("<Key>")
        .skip(1)
        .map(|rest| rest.split("</Key>").next().unwrap().to_owned())
        .collect()
}

#[test]
fn state_in_s3_end_to_end() {
    let Some(endpoint) = moto_for("cli_s3") else {
        return;
    };
    let bucket = format!("t-cli-{}", &new_id()[..10]);
    let (status, _) = http(&endpoint, "PUT", &format!("/{bucket}"), b"");
    assert_eq!(status, 200, "create the bucket");
    let url = format!("s3://{bucket}/team");
    let dir = tempfile::tempdir().unwrap();

    let r = run(
        dir.path(),
        &endpoint,
        None,
        &["--state", &url, "up", "--yes"],
    );
    expect(&r, 0);
    assert!(r.stdout.contains("Apply complete"), "{}", r.stdout);
    // Nothing of the stack's state went to files.
    assert!(!dir.path().join(".dafnck/dev").exists());
    let stored = keys(&endpoint, &bucket);
    assert!(
        stored.contains(&"team/dev/snapshot.json".to_owned()),
        "{stored:?}"
    );

    // DAFNCK_STATE works like --state.
    let r = run(
        dir.path(),
        &endpoint,
        Some(&url),
        &["preview", "--detailed-exitcode"],
    );
    expect(&r, 0);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
    let r = run(dir.path(), &endpoint, Some(&url), &["state", "list"]);
    expect(&r, 0);
    assert_eq!(r.stdout.lines().count(), 5, "{}", r.stdout);
    let r = run(dir.path(), &endpoint, Some(&url), &["state", "history"]);
    expect(&r, 0);
    assert!(r.stdout.contains("up"), "{}", r.stdout);
    assert!(
        !stored.iter().any(|k| k.ends_with("lock.json")),
        "no lock left"
    );

    // A live lock held elsewhere refuses the run, naming holder and id;
    // force-unlock with that id releases it.
    let lock = format!(
        r#"{{"id":"held-by-test","owner":"alice","host":"ci-7","pid":4242,"operation":"up","acquired_at":{now},"expires_at":{later},"lease_ms":600000}}"#,
        now = dafnck::core::state::now_millis(),
        later = dafnck::core::state::now_millis() + 600_000
    );
    let (status, _) = http(
        &endpoint,
        "PUT",
        &format!("/{bucket}/team/dev/lock.json"),
        lock.as_bytes(),
    );
    assert_eq!(status, 200);
    let r = run(
        dir.path(),
        &endpoint,
        Some(&url),
        &["up", "--yes", "--config", "size=large"],
    );
    expect(&r, 1);
    assert!(
        r.stderr.contains("is locked by alice@ci-7") && r.stderr.contains("lock id held-by-test"),
        "{}",
        r.stderr
    );
    let r = run(
        dir.path(),
        &endpoint,
        Some(&url),
        &["state", "force-unlock", "held-by-test"],
    );
    expect(&r, 0);
    let (status, _) = http(
        &endpoint,
        "GET",
        &format!("/{bucket}/team/dev/lock.json"),
        b"",
    );
    assert_eq!(status, 404, "the lock object is gone");

    let r = run(
        dir.path(),
        &endpoint,
        Some(&url),
        &["up", "--yes", "--config", "size=large"],
    );
    expect(&r, 0);
    expect(
        &run(dir.path(), &endpoint, Some(&url), &["destroy", "--yes"]),
        0,
    );
    let r = run(dir.path(), &endpoint, Some(&url), &["state", "list"]);
    expect(&r, 0);
    assert_eq!(r.stdout.trim(), "", "{}", r.stdout);

    // No object holds a secret (the example's passwords were in the state
    // from the first up to the destroy, in every version).
    let stored = keys(&endpoint, &bucket);
    assert!(
        stored.iter().any(|k| k.contains("/versions/")),
        "{stored:?}"
    );
    for key in &stored {
        let (status, bytes) = http(&endpoint, "GET", &format!("/{bucket}/{key}"), b"");
        assert_eq!(status, 200, "{key}");
        let text = String::from_utf8_lossy(&bytes);
        for s in SECRETS {
            assert!(!text.contains(s), "{key} holds {s:?}:\n{text}");
        }
    }
}

#[test]
fn a_missing_bucket_and_an_unreachable_endpoint_are_clear_errors() {
    let Some(endpoint) = moto_for("cli_s3_errors") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("t-missing-{}", &new_id()[..10]);
    let r = run(
        dir.path(),
        &endpoint,
        None,
        &["--state", &format!("s3://{missing}/team"), "preview"],
    );
    expect(&r, 1);
    assert!(
        r.stderr
            .contains(&format!("the bucket {missing:?} does not exist")),
        "{}",
        r.stderr
    );
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let nowhere = format!("http://127.0.0.1:{port}");
    let r = run(
        dir.path(),
        &nowhere,
        Some("s3://team-state/infra"),
        &["preview"],
    );
    expect(&r, 1);
    assert!(
        r.stderr.contains(&format!("cannot reach S3 at {nowhere}")),
        "{}",
        r.stderr
    );
}

#[test]
fn state_migrate_copies_file_state_into_s3_and_refuses_to_overwrite() {
    let Some(endpoint) = moto_for("cli_s3_migrate") else {
        return;
    };
    let bucket = format!("t-migrate-{}", &new_id()[..10]);
    let (status, _) = http(&endpoint, "PUT", &format!("/{bucket}"), b"");
    assert_eq!(status, 200, "create the bucket");
    let url = format!("s3://{bucket}/team");
    let dir = tempfile::tempdir().unwrap();
    expect(&run(dir.path(), &endpoint, None, &["up", "--yes"]), 0);

    let r = run(
        dir.path(),
        &endpoint,
        None,
        &["state", "migrate", "--to", &url],
    );
    expect(&r, 0);
    assert!(
        r.stdout.contains("Copied stack \"dev\" (5 resource(s)"),
        "{}",
        r.stdout
    );
    // The migrated state is the stack's state: nothing to change.
    let r = run(
        dir.path(),
        &endpoint,
        Some(&url),
        &["preview", "--detailed-exitcode"],
    );
    expect(&r, 0);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
    let before = keys(&endpoint, &bucket);

    // A second migration would overwrite: refused, nothing written.
    let r = run(
        dir.path(),
        &endpoint,
        None,
        &["state", "migrate", "--to", &url],
    );
    expect(&r, 1);
    assert!(r.stderr.contains("already has state"), "{}", r.stderr);
    assert_eq!(keys(&endpoint, &bucket), before);
}

#[cfg(feature = "local")]
#[test]
fn an_app_stack_reads_a_network_stack_in_s3_by_url() {
    let Some(endpoint) = moto_for("references") else {
        return;
    };
    let bucket = format!("t-refs-{}", &new_id()[..10]);
    let (status, _) = http(&endpoint, "PUT", &format!("/{bucket}"), b"");
    assert_eq!(status, 200, "create bucket {bucket}");
    references::the_app_reads_the_network_by_url(
        &format!("s3://{bucket}/state"),
        &[
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    );
}
