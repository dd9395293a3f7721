//! `dashboard`: the read-only web page of the stacks, through its HTTP API
//! (the fake-cloud example, no servers) and in a real headless browser,
//! Debian's chromium (`DAFNCK_CHROMIUM`, installed by
//! `scripts/tools/chromium.sh`): the page shows the stack, its resource
//! graph, the changes of its last version and the DORA charts, and during a
//! live canary of the canary example (its own nginx, the shared
//! Prometheus) the new version's weight as it changes. The browser parts
//! are skipped with a message naming chromium when it is missing, unless
//! `DAFNCK_REQUIRE_SERVERS=1`.

#[path = "support/fake_cli.rs"]
mod fake_cli;
mod support;

#[path = "../dafnck-strategies/tests/net/mod.rs"]
mod net;

#[path = "support/world.rs"]
mod world;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use fake_cli::{expect, run};

/// A running `dashboard`, stopped when dropped.
struct Dashboard {
    child: Child,
    /// `127.0.0.1:PORT`.
    addr: String,
}

impl Dashboard {
    /// Starts `cmd` (a `dashboard --port 0` command) and reads the URL it
    /// prints.
    fn start(mut cmd: std::process::Command) -> Dashboard {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the dashboard");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("the dashboard printed {line:?}"))
            .to_owned();
        Dashboard { child, addr }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// A raw HTTP exchange: `request` (a method and path) with `host`;
    /// the status and the body.
    fn exchange(&self, request: &str, host: &str) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        write!(
            s,
            "{request} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text[9..12].parse().unwrap();
        let body = text.split_once("\r\n\r\n").map(|b| b.1).unwrap_or("");
        (status, body.to_owned())
    }

    fn get_json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.exchange(&format!("GET {path}"), &self.addr);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Chromium, or `None` (after saying it is missing) when the test is to be
/// skipped; a panic under `DAFNCK_REQUIRE_SERVERS=1`.
fn chromium(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("DAFNCK_CHROMIUM")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::split_paths(&std::env::var_os("PATH")?)
                .map(|d| d.join("chromium"))
                .find(|p| p.is_file())
        });
    if found.is_none() {
        let why = "chromium is missing (eval \"$(scripts/tools/chromium.sh install)\", or apt-get install chromium)";
        if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
            panic!("{test}: {why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
        }
        let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
    }
    found
}

/// The page at `url` as chromium renders it after its script has run
/// (`--dump-dom` once a second of virtual time has passed).
fn rendered(chromium: &Path, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=1500",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium failed on {url}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of attribute `name` in the tag text `tag`.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    tag[start..].split('"').next()
}

/// The `(phase, weight)` the rendered page shows for `resource`'s rollout.
fn rollout_shown(dom: &str, resource: &str) -> Option<(String, u64)> {
    dom.match_indices("<tr class=\"rollout\"")
        .find_map(|(i, _)| {
            let tag = &dom[i..i + dom[i..].find('>')?];
            (attr(tag, "data-resource")? == resource).then(|| {
                (
                    attr(tag, "data-phase").unwrap_or("").to_owned(),
                    attr(tag, "data-weight")
                        .and_then(|w| w.parse().ok())
                        .unwrap_or(0),
                )
            })
        })
}

#[test]
fn the_dashboard_serves_stacks_history_diffs_policy_and_charts_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    expect(&run(d, &["up", "--yes"]), 0);
    expect(&run(d, &["up", "--yes", "--config", "size=large"]), 0);
    let dash = Dashboard::start(fake_cli::command(d, &["dashboard", "--port", "0"]));
    assert!(dash.addr.starts_with("127.0.0.1:"), "{}", dash.addr);

    let overview = dash.get_json("/api/overview");
    assert_eq!(overview["stacks"][0]["name"], "dev");
    assert_eq!(overview["stacks"][0]["resources"], 5);
    assert_eq!(overview["stacks"][0]["last"]["version"], 2);
    let stack = dash.get_json("/api/stack?name=dev");
    assert_eq!(stack["history"].as_array().unwrap().len(), 2);
    assert_eq!(stack["resources"].as_array().unwrap().len(), 5);
    assert_eq!(
        stack["graph_svg"]
            .as_str()
            .unwrap()
            .matches("class=\"edge\"")
            .count(),
        6
    );
    assert!(
        stack["policy"]["rules"].as_u64().unwrap() > 0,
        "{}",
        stack["policy"]
    );
    assert!(
        stack["policy"]["violations"].is_array(),
        "{}",
        stack["policy"]
    );
    let diff = dash.get_json("/api/diff?stack=dev&version=2");
    assert_eq!(diff["previous"], 1);
    let lines: Vec<&str> = diff["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let changed = lines
        .iter()
        .position(|l| l.starts_with("~ public-a ("))
        .unwrap_or_else(|| panic!("public-a is not listed as changed: {lines:?}"));
    // Under it, the fields that changed, one line each.
    assert!(
        lines
            .get(changed + 1)
            .is_some_and(|l| l.starts_with("    ") && l.contains(" -> ")),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("public-b")), "{lines:?}");
    let first = dash.get_json("/api/diff?stack=dev&version=1");
    assert_eq!(first["lines"].as_array().unwrap().len(), 6, "{first}");
    let report = dash.get_json("/api/report");
    assert_eq!(report["together"]["deployments"], 2);
    assert_eq!(report["charts"].as_array().unwrap().len(), 4);

    // Read-only, and only for this machine's names.
    assert_eq!(dash.exchange("POST /api/overview", &dash.addr).0, 405);
    assert_eq!(
        dash.exchange("GET /api/overview", "rebound.example:80").0,
        421
    );
    assert_eq!(dash.exchange("GET /api/stack?name=prod", &dash.addr).0, 404);
    assert_eq!(dash.exchange("GET /nothing", &dash.addr).0, 404);
    // No external asset: nothing is loaded from elsewhere.
    let (status, page) = dash.exchange("GET /", &dash.addr);
    assert_eq!(status, 200);
    for external in ["src=\"http", "href=\"http", "src=\"//", "@import", "<link"] {
        assert!(!page.contains(external), "the page loads {external}");
    }

    let Some(chromium) =
        chromium("the_dashboard_serves_stacks_history_diffs_policy_and_charts_read_only")
    else {
        return;
    };
    let dom = rendered(&chromium, &dash.url());
    assert!(
        dom.contains("<tr class=\"selected\" data-stack=\"dev\">"),
        "{dom}"
    );
    assert_eq!(
        dom.matches("<g class=\"node\"").count(),
        5,
        "the resource graph"
    );
    assert!(
        dom.contains("id=\"diff-version\">2 (from 1)</span>"),
        "{dom}"
    );
    assert!(dom.contains("~ public-a ("), "the last version's changes");
    assert_eq!(dom.matches("data-version=").count(), 2, "the history");
    assert!(dom.contains("No violations of the"), "the policy check");
    assert!(
        dom.contains("id=\"dora-deployments\">2 (2 succeeded"),
        "{dom}"
    );
    assert_eq!(
        dom.matches("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\"")
            .count(),
        4,
        "the DORA charts"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_sees_a_live_canary_s_weight_change() {
    const TEST: &str = "chromium_sees_a_live_canary_s_weight_change";
    let Some(chromium) = chromium(TEST) else {
        return;
    };
    let Some(w) = world::world(TEST).await else {
        return;
    };
    let first = w.up(&[("version", "v1")]).await;
    assert_eq!(first.code, 0, "{}", first.out);
    let mut cmd = std::process::Command::new(support::example("canary"));
    cmd.args(["dashboard", "--port", "0"])
        .current_dir(w.dir.path())
        .env("NO_COLOR", "1");
    let dash = Dashboard::start(cmd);

    let canary = [
        ("version", "v2"),
        ("policy", "canary"),
        ("steps", "20:8,50:8"),
    ];
    let mut up = w.command(&["up", "--yes"], &canary).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen: Vec<(String, u64)> = Vec::new();
    let finished = loop {
        if let Some(status) = up.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the canary did not finish");
        let url = dash.url();
        let browser = chromium.clone();
        let dom = tokio::task::spawn_blocking(move || rendered(&browser, &url))
            .await
            .unwrap();
        if let Some(shown) = rollout_shown(&dom, "web") {
            if seen.last() != Some(&shown) {
                seen.push(shown);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let out = world::finished(up.wait_with_output().await.unwrap());
    assert!(finished.success(), "{}", out.out);
    let weights: Vec<u64> = seen
        .iter()
        .filter(|(phase, _)| phase == "Progressing")
        .map(|s| s.1)
        .collect();
    assert!(
        weights.contains(&20) && weights.contains(&50),
        "the page showed {seen:?} during the canary"
    );
    // After the rollout, the page shows it completed at 100 %.
    let dom = rendered(&chromium, &dash.url());
    assert_eq!(
        rollout_shown(&dom, "web"),
        Some(("Completed".into(), 100)),
        "{dom}"
    );
    println!("chromium saw the canary go through {seen:?}");
}
