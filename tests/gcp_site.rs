//! The `gcp_site` example as a user runs it, against gcp-storage-emulator
//! on 127.0.0.1: up (the bucket and every file of the site, served by the
//! emulator) → a redeploy with one file changed (the plan lists that file;
//! exactly one object gets a new generation, and the new page is served) →
//! an object changed by hand is reported by `drift` → destroy (the bucket
//! is gone).
//!
//! Needs `DAFNCK_GCS_EMULATOR_URL` (`scripts/servers/gcs.sh start`, or
//! `scripts/test.sh`); without it the test says it is skipped, unless
//! `DAFNCK_REQUIRE_SERVERS=1`, when it fails.
#![cfg(feature = "gcp")]

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

/// A finished run of the example.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(dir: &Path, url: &str, args: &[&str], config: &[String]) -> Run {
    let mut cmd = Command::new(support::example("gcp_site"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("DAFNCK_STACK")
        .env_remove("DAFNCK_STATE_DIR")
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .env("DAFNCK_GCS_ENDPOINT", url)
        .env("GOOGLE_CLOUD_PROJECT", "dafnck-tests");
    for c in config {
        cmd.args(["--config", c]);
    }
    let out = cmd.output().expect("run the gcp_site example");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[track_caller]
fn expect(r: &Run, code: i32) {
    assert_eq!(r.code, code, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}

/// One HTTP/1.0 request to the emulator: status and body.
fn http(url: &str, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(host).unwrap_or_else(|e| panic!("the emulator at {url}: {e}"));
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut response = Vec::new();
    s.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response[split + 4..].to_vec())
}

/// Every object in `bucket`: name → generation.
fn generations(url: &str, bucket: &str) -> BTreeMap<String, String> {
    let (status, body) = http(url, "GET", &format!("/storage/v1/b/{bucket}/o"), b"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let listed: serde_json::Value = serde_json::from_slice(&body).unwrap();
    listed["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            (
                o["name"].as_str().unwrap().to_owned(),
                o["generation"].to_string(),
            )
        })
        .collect()
}

fn served(url: &str, bucket: &str, name: &str) -> String {
    let (status, body) = http(url, "GET", &format!("/{bucket}/{name}"), b"");
    assert_eq!(status, 200, "{name} is served");
    String::from_utf8(body).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn the_site_deploys_redeploys_one_file_reports_drift_and_is_destroyed() {
    let Ok(url) = std::env::var("DAFNCK_GCS_EMULATOR_URL") else {
        let why =
            "the GCS emulator is not running (scripts/servers/gcs.sh start, or scripts/test.sh)";
        if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
            panic!("{why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
        }
        let _ = writeln!(std::io::stderr(), "SKIPPED gcp_site: {why}");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let site = work.path().join("site");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/site"),
        &site,
    );
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let bucket = format!("dafnck-site-{nanos:x}");
    let config = [
        format!("bucket={bucket}"),
        format!("site_dir={}", site.display()),
    ];

    expect(&run(work.path(), &url, &["up", "--yes"], &config), 0);
    let first = generations(&url, &bucket);
    let names: Vec<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["404.html", "about.html", "css/site.css", "index.html"]
    );
    assert!(served(&url, &bucket, "index.html").contains("Version 1."));
    let outputs = run(work.path(), &url, &["outputs"], &config);
    expect(&outputs, 0);
    assert!(
        outputs.stdout.contains(&format!("{url}/{bucket}/")),
        "{}",
        outputs.stdout
    );

    // Version 2: one page changed.
    let index = site.join("index.html");
    let v2 = std::fs::read_to_string(&index)
        .unwrap()
        .replace("Version 1.", "Version 2.");
    std::fs::write(&index, v2).unwrap();
    let preview = run(work.path(), &url, &["preview"], &config);
    expect(&preview, 0);
    assert!(
        preview.stdout.contains("/index.html: {"),
        "{}",
        preview.stdout
    );
    assert!(
        !preview.stdout.contains("/about.html"),
        "{}",
        preview.stdout
    );
    expect(&run(work.path(), &url, &["up", "--yes"], &config), 0);
    let second = generations(&url, &bucket);
    let uploaded: Vec<&str> = second
        .iter()
        .filter(|(name, generation)| first.get(*name) != Some(generation))
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(uploaded, ["index.html"], "exactly one upload");
    assert!(served(&url, &bucket, "index.html").contains("Version 2."));

    // Someone overwrites a page by hand: drift (exit code 2) names it.
    let (status, _) = http(
        &url,
        "POST",
        &format!("/upload/storage/v1/b/{bucket}/o?uploadType=media&name=about.html"),
        b"defaced",
    );
    assert_eq!(status, 200);
    let drift = run(work.path(), &url, &["drift"], &config);
    expect(&drift, 2);
    assert!(drift.stdout.contains("/about.html"), "{}", drift.stdout);

    expect(&run(work.path(), &url, &["destroy", "--yes"], &config), 0);
    let (status, _) = http(&url, "GET", &format!("/storage/v1/b/{bucket}"), b"");
    assert_eq!(status, 404, "the bucket is gone");
}
