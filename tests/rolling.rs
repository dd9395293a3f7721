//! Rolling rollouts on real processes: a `RollingRollout` replacing demo
//! app processes (`examples/demo_app.rs`) one batch at a time behind a real
//! nginx of the test's own (`DAFNCK_NGINX_BIN`), each batch health checked
//! by `HttpCheck` before nginx sends it traffic, while a bounded load runs
//! through nginx. The engine drives canary and blue-green only, so this is
//! the library's rolling rollout with a fleet of the test's own. Skipped
//! with a message without nginx, unless `DAFNCK_REQUIRE_SERVERS=1`.

mod support;

#[path = "../dafnck-strategies/tests/net/mod.rs"]
mod net;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use dafnck::strategies::{
    AnalysisSet, BatchSize, HttpCheck, NginxRouter, Phase, Rolling, RollingFleet, RollingRollout,
    TrafficRouter, Verdict, Weights,
};
use net::{closed_port, server_env, Client, Nginx, Outcome};
use tokio::io::AsyncBufReadExt;
use tokio::sync::Mutex;

/// One test at a time: each reloads nginx and runs a load.
static SERIAL: Mutex<()> = Mutex::const_new(());

/// How long an instance taken out of nginx keeps its in-flight requests
/// before it is stopped (a load balancer's deregistration delay).
const DRAIN: Duration = Duration::from_millis(300);

/// One running demo app process.
struct Instance {
    version: String,
    port: u16,
    /// Killed when dropped.
    _child: tokio::process::Child,
}

/// Starts the demo app as `version` with `extra` arguments; `Err` when it
/// exits before it listens (a version that cannot start).
async fn start(exe: &PathBuf, version: &str, extra: &[&str]) -> Result<Instance, String> {
    let mut child = tokio::process::Command::new(exe)
        .args(["--port", "0", "--version", version])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    // "demo_app v1 listening on http://127.0.0.1:PORT (...)"
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .map_err(|_| format!("{version} did not start within 10 s"))?
        .map_err(|e| e.to_string())?;
    let port = line
        .as_deref()
        .and_then(|l| l.split("127.0.0.1:").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok());
    match port {
        Some(port) => Ok(Instance {
            version: version.into(),
            port,
            _child: child,
        }),
        None => {
            let out = child.wait_with_output().await.map_err(|e| e.to_string())?;
            Err(format!(
                "{version} exited at start ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }
}

/// A slot of the fleet: the instance serving in it (if any), whether nginx
/// sends it traffic, and the health check of a replacement.
struct Slot {
    instance: Option<Instance>,
    in_nginx: bool,
    check: Option<HttpCheck>,
}

/// Demo app processes behind nginx's upstream `app`, replaced in place.
struct DemoFleet {
    exe: PathBuf,
    nginx: Arc<Nginx>,
    old: (String, Vec<String>),
    new: (String, Vec<String>),
    size: usize,
    slots: Mutex<Vec<Slot>>,
}

impl DemoFleet {
    async fn new(
        exe: PathBuf,
        nginx: Arc<Nginx>,
        size: usize,
        old: (&str, &[&str]),
        new: (&str, &[&str]),
    ) -> DemoFleet {
        let mut slots = Vec::new();
        for _ in 0..size {
            slots.push(Slot {
                instance: Some(start(&exe, old.0, old.1).await.unwrap()),
                in_nginx: true,
                check: None,
            });
        }
        let owned = |(v, a): (&str, &[&str])| {
            (
                v.to_string(),
                a.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
        };
        let fleet = DemoFleet {
            exe,
            nginx,
            old: owned(old),
            new: owned(new),
            size,
            slots: Mutex::new(slots),
        };
        fleet.route(&fleet.slots.lock().await).await.unwrap();
        fleet
    }

    /// Points nginx at every slot it should serve, and waits for the reload.
    async fn route(&self, slots: &[Slot]) -> Result<(), String> {
        let backends: Vec<String> = slots
            .iter()
            .filter(|s| s.in_nginx)
            .filter_map(|s| s.instance.as_ref())
            .map(|i| format!("127.0.0.1:{}", i.port))
            .collect();
        NginxRouter::new(
            self.nginx.config(),
            self.nginx.upstream_file(),
            "app",
            backends,
            Vec::<String>::new(),
        )?
        .binary(&self.nginx.bin)
        .prefix(self.nginx.prefix())
        .pid_file(self.nginx.pid_file())
        .set_weights(Weights::to_new(0))
        .await
    }

    /// Takes `batch` out of nginx, lets it drain, and stops it.
    async fn take_out(&self, slots: &mut [Slot], batch: &[usize]) -> Result<(), String> {
        for &i in batch {
            slots[i].in_nginx = false;
        }
        self.route(slots).await?;
        tokio::time::sleep(DRAIN).await;
        for &i in batch {
            slots[i].instance = None;
            slots[i].check = None;
        }
        Ok(())
    }

    async fn versions(&self) -> Vec<String> {
        self.slots
            .lock()
            .await
            .iter()
            .map(|s| {
                s.instance
                    .as_ref()
                    .map_or("-".to_string(), |i| i.version.clone())
            })
            .collect()
    }
}

/// The rollout gets the fleet through a shared reference; the test keeps
/// one to look at it.
struct Shared(Arc<DemoFleet>);

#[async_trait]
impl RollingFleet for Shared {
    fn describe(&self) -> String {
        self.0.describe()
    }
    fn size(&self) -> usize {
        self.0.size()
    }
    async fn replace(&self, batch: &[usize]) -> Result<(), String> {
        self.0.replace(batch).await
    }
    async fn healthy(&self, batch: &[usize]) -> Verdict {
        self.0.healthy(batch).await
    }
    async fn restore(&self, replaced: &[usize]) -> Result<(), String> {
        self.0.restore(replaced).await
    }
}

#[async_trait]
impl RollingFleet for DemoFleet {
    fn describe(&self) -> String {
        format!("demo app processes behind nginx {}", self.nginx.addr())
    }

    fn size(&self) -> usize {
        self.size
    }

    async fn replace(&self, batch: &[usize]) -> Result<(), String> {
        let mut slots = self.slots.lock().await;
        self.take_out(&mut slots, batch).await?;
        let args: Vec<&str> = self.new.1.iter().map(String::as_str).collect();
        for &i in batch {
            // A version that cannot start leaves its slot empty: its health
            // check is refused until the batch times out.
            let instance = start(&self.exe, &self.new.0, &args).await.ok();
            let port = instance.as_ref().map_or_else(closed_port, |i| i.port);
            slots[i].instance = instance;
            slots[i].check = Some(
                HttpCheck::new(format!("http://127.0.0.1:{port}/health"))
                    .timeout(Duration::from_secs(1))
                    .successes(2),
            );
        }
        Ok(())
    }

    async fn healthy(&self, batch: &[usize]) -> Verdict {
        let mut slots = self.slots.lock().await;
        let mut verdict = Verdict::Pass;
        for &i in batch {
            let Some(check) = &slots[i].check else {
                return Verdict::Fail(format!("instance {i} was not replaced"));
            };
            use dafnck::strategies::Analysis;
            verdict = verdict.worst(check.run().await);
        }
        // Healthy: nginx starts sending the batch traffic.
        if verdict.is_pass() && batch.iter().any(|&i| !slots[i].in_nginx) {
            for &i in batch {
                slots[i].in_nginx = true;
            }
            if let Err(e) = self.route(&slots).await {
                return Verdict::Fail(e);
            }
        }
        verdict
    }

    async fn restore(&self, replaced: &[usize]) -> Result<(), String> {
        let mut slots = self.slots.lock().await;
        self.take_out(&mut slots, replaced).await?;
        let args: Vec<&str> = self.old.1.iter().map(String::as_str).collect();
        for &i in replaced {
            let instance = start(&self.exe, &self.old.0, &args).await?;
            let check = AnalysisSet::new().with(
                HttpCheck::new(format!("http://127.0.0.1:{}/health", instance.port)).successes(1),
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while !check.run().await.is_pass() {
                if Instant::now() > deadline {
                    return Err(format!("the restored {} is not healthy", self.old.0));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            slots[i].instance = Some(instance);
            slots[i].in_nginx = true;
        }
        self.route(&slots).await
    }
}

/// `200 v2`, or how the request failed.
fn key(outcome: Outcome) -> String {
    match outcome {
        Outcome::Answered(status, body) => {
            let body = body.trim();
            format!(
                "{status} {}",
                body.strip_prefix("hello from ").unwrap_or(body)
            )
        }
        other => format!("{other:?}"),
    }
}

/// Two clients through nginx (keep-alive, retrying a GET once when a
/// reload closed its idle connection; and one connection per request),
/// until `stop` or two minutes: answers by key, and the retries.
fn load(
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<(BTreeMap<String, u64>, u64)>> {
    [true, false]
        .into_iter()
        .map(|keep_alive| {
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut client = Client::new(addr, keep_alive);
                let (mut seen, mut retried) = (BTreeMap::new(), 0);
                let until = Instant::now() + Duration::from_secs(120);
                while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                    let (outcome, again) = client.get_retrying("/").await;
                    retried += u64::from(again);
                    *seen.entry(key(outcome)).or_default() += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                (seen, retried)
            })
        })
        .collect()
}

async fn totals(
    clients: Vec<tokio::task::JoinHandle<(BTreeMap<String, u64>, u64)>>,
) -> (BTreeMap<String, u64>, u64) {
    let (mut all, mut retried) = (BTreeMap::new(), 0);
    for c in clients {
        let (seen, r) = c.await.unwrap();
        retried += r;
        for (k, n) in seen {
            *all.entry(k).or_default() += n;
        }
    }
    (all, retried)
}

async fn sample(addr: std::net::SocketAddr, n: usize) -> BTreeMap<String, u64> {
    let mut seen = BTreeMap::new();
    let mut client = Client::new(addr, false);
    for _ in 0..n {
        *seen.entry(key(client.get("/").await)).or_default() += 1;
    }
    seen
}

fn policy(batch_timeout_secs: u64) -> Rolling {
    Rolling {
        batch: BatchSize::Percent(25),
        batch_timeout: Duration::from_secs(batch_timeout_secs),
        max_failed_batches: 2,
        deadline: Duration::from_secs(120),
        poll_interval: Duration::from_millis(200),
        batch_pause: Duration::ZERO,
    }
}

async fn nginx(test: &str) -> Option<Arc<Nginx>> {
    let bin = server_env(test, "DAFNCK_NGINX_BIN", "nginx.sh")?;
    let placeholder = format!("upstream app {{ server 127.0.0.1:{}; }}\n", closed_port());
    Some(Arc::new(Nginx::start(&bin, &placeholder).await))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_update_replaces_every_instance_behind_nginx_with_no_failed_request() {
    let test = "a_rolling_update_replaces_every_instance_behind_nginx_with_no_failed_request";
    let _one = SERIAL.lock().await;
    let Some(nginx) = nginx(test).await else {
        return;
    };
    let exe = support::example("demo_app");
    let fleet =
        Arc::new(DemoFleet::new(exe, Arc::clone(&nginx), 4, ("v1", &[]), ("v2", &[])).await);
    assert_eq!(
        sample(nginx.addr(), 8).await,
        BTreeMap::from([("200 v1".into(), 8)])
    );
    let stop = Arc::new(AtomicBool::new(false));
    let clients = load(nginx.addr(), Arc::clone(&stop));
    let started = Instant::now();
    let done = RollingRollout::new("web", &policy(10), Shared(Arc::clone(&fleet)))
        .unwrap()
        .run(None)
        .await
        .unwrap();
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (seen, retried) = totals(clients).await;

    assert_eq!(done.phase, Phase::Completed, "{done:?}");
    assert_eq!(fleet.versions().await, vec!["v2"; 4]);
    let other: Vec<_> = seen
        .keys()
        .filter(|k| *k != "200 v1" && *k != "200 v2")
        .collect();
    assert!(other.is_empty(), "{seen:?}");
    assert!(seen["200 v1"] > 0 && seen["200 v2"] > 0, "{seen:?}");
    assert_eq!(
        sample(nginx.addr(), 8).await,
        BTreeMap::from([("200 v2".into(), 8)])
    );
    eprintln!(
        "{test}: 4 instances replaced one at a time in {took:.1?}; answers {seen:?}; {retried} keep-alive request(s) retried after a reload; failed requests: 0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_update_whose_version_never_gets_healthy_is_rolled_back_after_two_batches() {
    let test = "a_rolling_update_whose_version_never_gets_healthy_is_rolled_back_after_two_batches";
    let _one = SERIAL.lock().await;
    let Some(nginx) = nginx(test).await else {
        return;
    };
    let exe = support::example("demo_app");
    // v3 ships a configuration it rejects at start: it never listens.
    let fleet = Arc::new(
        DemoFleet::new(
            exe,
            Arc::clone(&nginx),
            4,
            ("v1", &[]),
            ("v3", &["--fail-rate", "1.5"]),
        )
        .await,
    );
    let stop = Arc::new(AtomicBool::new(false));
    let clients = load(nginx.addr(), Arc::clone(&stop));
    let started = Instant::now();
    let done = RollingRollout::new("web", &policy(2), Shared(Arc::clone(&fleet)))
        .unwrap()
        .run(None)
        .await
        .unwrap();
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (seen, retried) = totals(clients).await;

    assert_eq!(done.phase, Phase::RolledBack, "{done:?}");
    let why = done.message.clone().unwrap_or_default();
    assert!(
        why.starts_with("2 failed batches in a row") && why.contains("not healthy within 2s"),
        "{why}"
    );
    assert_eq!(fleet.versions().await, vec!["v1"; 4]);
    // Nothing but v1 ever answered: the bad instance never got traffic.
    assert_eq!(seen.keys().collect::<Vec<_>>(), ["200 v1"], "{seen:?}");
    assert_eq!(
        sample(nginx.addr(), 8).await,
        BTreeMap::from([("200 v1".into(), 8)])
    );
    eprintln!(
        "{test}: rolled back after two failed attempts at the first batch, {took:.1?} in all ({} ms from the second failure to every instance restored); answers {seen:?}; {retried} retried after a reload; failed requests: 0",
        done.rollback_time_ms().unwrap_or_default()
    );
}
