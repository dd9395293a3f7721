//! The harness of the end-to-end rollout tests: the canary example
//! (`examples/canary.rs`) run as a process in a temp dir, with its own
//! nginx and the shared Prometheus, and a bounded load through nginx that
//! tallies every answer. Included by `tests/rollouts.rs` and
//! `tests/rolling_engine.rs`, whose crates declare `support` and `net`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dafnck::core::engine::Engine;
use dafnck::core::state::{FileStore, State};
use dafnck::core::Providers;
use dafnck::strategies::RolloutRecord;

use crate::net::{closed_port, server_env, Client, Nginx, Outcome};
use crate::support;

/// A deployment of the canary example in a temp dir, with its own nginx.
pub struct World {
    pub test: &'static str,
    pub dir: tempfile::TempDir,
    pub nginx: Nginx,
    targets_file: PathBuf,
    prometheus_url: String,
    exe: PathBuf,
}

/// A finished run of the example.
pub struct Run {
    pub code: i32,
    pub out: String,
}

pub async fn world(test: &'static str) -> Option<World> {
    let bin = server_env(test, "DAFNCK_NGINX_BIN", "nginx.sh")?;
    let prometheus_url = server_env(test, "DAFNCK_PROMETHEUS_URL", "prometheus.sh")?;
    let targets = server_env(test, "DAFNCK_PROMETHEUS_TARGETS_DIR", "prometheus.sh")?;
    let exe = support::example("canary");
    // nginx must start with a valid upstream; the program's `route`
    // resource replaces it on the first `up`.
    let nginx = Nginx::start(
        &bin,
        &format!("upstream app {{ server 127.0.0.1:{}; }}\n", closed_port()),
    )
    .await;
    Some(World {
        test,
        dir: tempfile::tempdir().unwrap(),
        nginx,
        targets_file: Path::new(&targets).join(format!("rollouts-{test}.json")),
        prometheus_url,
        exe,
    })
}

impl World {
    /// The example with this world's servers and `config` on top.
    pub fn command(&self, args: &[&str], config: &[(&str, &str)]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.exe);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1");
        let nginx = self.nginx.bin.display().to_string();
        let conf = self.nginx.config().display().to_string();
        let prefix = self.nginx.prefix().display().to_string();
        let upstream = self.nginx.upstream_file().display().to_string();
        let targets = self.targets_file.display().to_string();
        // The pid file is not given: the program reads it from nginx.conf.
        let base = [
            ("nginx_bin", nginx.as_str()),
            ("nginx_conf", &conf),
            ("nginx_prefix", &prefix),
            ("nginx_upstream_file", &upstream),
            ("nginx_upstream", "app"),
            ("prometheus_url", &self.prometheus_url),
            ("prometheus_targets_file", &targets),
        ];
        for (k, v) in base.iter().chain(config) {
            cmd.arg("--config").arg(format!("{k}={v}"));
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    pub async fn run(&self, args: &[&str], config: &[(&str, &str)]) -> Run {
        let out = self.command(args, config).output().await.unwrap();
        finished(out)
    }

    pub async fn up(&self, config: &[(&str, &str)]) -> Run {
        self.run(&["up", "--yes"], config).await
    }

    pub async fn state(&self) -> State {
        let store = FileStore::new(self.dir.path().join(".dafnck"));
        Engine::new("dev", store, Providers::new())
            .existing_state()
            .await
            .unwrap()
    }

    /// The last rollout of `web`, as journaled.
    pub async fn record(&self) -> Option<RolloutRecord> {
        let state = self.state().await;
        let mark = state.handovers.get("web")?;
        serde_json::from_value(mark.record.clone()).ok()
    }

    /// The processes of this world's demo app serving `version`.
    pub fn serving(&self, version: &str) -> Vec<u32> {
        processes(&self.exe, self.dir.path(), version)
    }

    /// `n` requests through nginx, each on its own connection: the bodies.
    pub async fn sample(&self, n: usize) -> BTreeMap<String, u64> {
        let mut seen = BTreeMap::new();
        let mut client = Client::new(self.nginx.addr(), false);
        for _ in 0..n {
            *seen.entry(key(client.get("/").await)).or_default() += 1;
        }
        seen
    }

    /// Waits until the journaled rollout satisfies `ready`.
    pub async fn wait_for(&self, what: &str, ready: impl Fn(&RolloutRecord) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.record().await.is_some_and(|r| ready(&r)) {
                return;
            }
            assert!(Instant::now() < deadline, "{}: never {what}", self.test);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // Whatever happened, stop the services this test started.
        let _ = std::process::Command::new(&self.exe)
            .args(["destroy", "--yes"])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_file(&self.targets_file);
    }
}

pub fn finished(out: std::process::Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        out: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Live (not zombie) processes running `exe serve ... --version <version>`
/// in `dir`.
pub fn processes(exe: &Path, dir: &Path, version: &str) -> Vec<u32> {
    let dir = std::fs::canonicalize(dir).unwrap();
    let exe = std::fs::canonicalize(exe).unwrap();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let ours = args
            .first()
            .is_some_and(|a| Path::new(&*String::from_utf8_lossy(a)) == exe.as_path())
            && args.get(1) == Some(&&b"serve"[..])
            && args
                .windows(2)
                .any(|w| w[0] == b"--version" && w[1] == version.as_bytes());
        let here = std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|c| c == dir);
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true);
        if ours && here && !zombie {
            found.push(pid);
        }
    }
    found
}

/// `200 v2`, `500 v3`, or what went wrong on the way.
pub fn key(outcome: Outcome) -> String {
    match outcome {
        Outcome::Answered(status, body) => {
            let body = body.trim();
            let version = body
                .strip_prefix("hello from ")
                .or_else(|| body.split_whitespace().next().filter(|_| status == 500))
                .unwrap_or(body);
            format!("{status} {version}")
        }
        other => format!("{other:?}"),
    }
}

/// What the load saw through nginx.
#[derive(Debug, Default)]
pub struct Tally {
    /// Answers by `status version`, and failed requests by how they failed.
    pub seen: BTreeMap<String, u64>,
    /// Keep-alive connections nginx closed on a reload just as a request
    /// went out on them, retried once on a new connection (as browsers and
    /// HTTP clients do for a GET).
    pub retried: u64,
}

impl Tally {
    pub fn count(&self, key: &str) -> u64 {
        self.seen.get(key).copied().unwrap_or(0)
    }

    /// Keys other than `allowed`.
    pub fn other(&self, allowed: &[&str]) -> Vec<&String> {
        self.seen
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .collect()
    }
}

/// A bounded load through nginx: two clients (one keep-alive, one with a
/// connection per request), a request every 2 ms each at most, until
/// `stop` or two minutes.
pub struct Load {
    stop: Arc<AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<Tally>>,
}

impl Load {
    pub fn start(addr: std::net::SocketAddr) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let clients = [true, false]
            .into_iter()
            .map(|keep_alive| {
                let stop = Arc::clone(&stop);
                tokio::spawn(async move {
                    let mut client = Client::new(addr, keep_alive);
                    let mut tally = Tally::default();
                    let until = Instant::now() + Duration::from_secs(120);
                    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                        let (outcome, retried) = client.get_retrying("/").await;
                        tally.retried += u64::from(retried);
                        *tally.seen.entry(key(outcome)).or_default() += 1;
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    tally
                })
            })
            .collect();
        Load { stop, clients }
    }

    pub async fn stop(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Tally::default();
        for c in self.clients {
            let t = c.await.unwrap();
            all.retried += t.retried;
            for (k, n) in t.seen {
                *all.seen.entry(k).or_default() += n;
            }
        }
        all
    }
}
