//! Whole canary rollouts on real servers: a `TrafficRollout` moving traffic
//! with the `NginxRouter` through a real nginx (`DAFNCK_NGINX_BIN`),
//! readiness by `HttpCheck`, and an error-rate `MetricGate` on the real
//! Prometheus (`DAFNCK_PROMETHEUS_URL`, `DAFNCK_PROMETHEUS_TARGETS_DIR`)
//! scraping the new version's `/metrics`, while a bounded load runs through
//! nginx. Skipped with a message without the servers, unless
//! `DAFNCK_REQUIRE_SERVERS=1`.

mod net;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dafnck_strategies::{
    AnalysisSet, Canary, HttpCheck, MemoryFleet, MemoryLog, MetricGate, NginxRouter, NoData, Phase,
    Prometheus, Step, Threshold, TrafficRollout,
};
use net::{server_env, Backend, Client, Nginx, Outcome};

/// A version of the app: answers `/` with its name (every `fail_every`-th
/// request with a 500), `/healthz` with 200, and counts requests by code
/// on `/metrics` like the demo app.
async fn app(version: &'static str, fail_every: u64) -> Backend {
    let total = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    Backend::start(Arc::new(move |path| match path {
        "/" => {
            let n = total.fetch_add(1, Ordering::Relaxed) + 1;
            if fail_every > 0 && n.is_multiple_of(fail_every) {
                failed.fetch_add(1, Ordering::Relaxed);
                (500, format!("{version} failed"))
            } else {
                (200, version.to_string())
            }
        }
        "/healthz" => (200, "ok".into()),
        "/metrics" => {
            let (t, f) = (
                total.load(Ordering::Relaxed),
                failed.load(Ordering::Relaxed),
            );
            (
                200,
                format!(
                    "# TYPE demo_requests_total counter\n\
                     demo_requests_total{{version=\"{version}\",code=\"200\"}} {}\n\
                     demo_requests_total{{version=\"{version}\",code=\"500\"}} {f}\n",
                    t - f
                ),
            )
        }
        _ => (404, "not found".into()),
    }))
    .await
}

struct World {
    nginx: Nginx,
    router: Arc<NginxRouter>,
    prom: Prometheus,
    stable: Backend,
    new: Backend,
    targets_file: std::path::PathBuf,
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.targets_file);
    }
}

async fn world(test: &str, new_version: &'static str, fail_every: u64) -> Option<World> {
    let bin = server_env(test, "DAFNCK_NGINX_BIN", "nginx.sh")?;
    let url = server_env(test, "DAFNCK_PROMETHEUS_URL", "prometheus.sh")?;
    let dir = server_env(test, "DAFNCK_PROMETHEUS_TARGETS_DIR", "prometheus.sh")?;
    let stable = app("v1", 0).await;
    let new = app(new_version, fail_every).await;
    let nginx = Nginx::start(
        &bin,
        &format!("upstream app {{ server {}; }}\n", stable.host_port()),
    )
    .await;
    let router = Arc::new(
        NginxRouter::new(
            nginx.config(),
            nginx.upstream_file(),
            "app",
            [stable.host_port()],
            [new.host_port()],
        )
        .unwrap()
        .binary(&bin)
        .prefix(nginx.prefix())
        .pid_file(nginx.pid_file()),
    );
    let targets_file = std::path::Path::new(&dir).join(format!("{test}.json"));
    let tmp = targets_file.with_extension("tmp");
    std::fs::write(&tmp, format!(r#"[{{"targets": ["{}"]}}]"#, new.host_port())).unwrap();
    std::fs::rename(&tmp, &targets_file).unwrap();
    let prom = Prometheus::new(url).timeout(Duration::from_secs(3));
    let w = World {
        nginx,
        router,
        prom,
        stable,
        new,
        targets_file,
    };
    // The gate must see the new version's metrics before traffic moves:
    // wait for its first scrape (a few seconds) rather than sleeping.
    let up = format!("up{{instance=\"{}\"}}", w.new.host_port());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        use dafnck_strategies::MetricSource;
        if w.prom.query(&up).await == Ok(Some(1.0)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Prometheus never scraped {}",
            w.new.host_port()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Some(w)
}

/// The new version's error ratio over the last 5 s. Before any request
/// reaches it the ratio is 0/0 (NaN, no data): the gate passes then,
/// which is safe because the version has served nobody yet.
fn error_gate(w: &World) -> MetricGate<Prometheus> {
    let sel = format!("instance=\"{}\"", w.new.host_port());
    MetricGate::new(
        "error rate",
        w.prom.clone(),
        format!(
            "sum(rate(demo_requests_total{{{sel},code=~\"5..\"}}[5s])) / sum(rate(demo_requests_total{{{sel}}}[5s]))"
        ),
        Threshold::AtMost(0.05),
    )
    .on_no_data(NoData::Pass)
}

/// Answers seen through nginx, by outcome.
type Seen = BTreeMap<String, u64>;

/// Two clients (one keep-alive, retrying a GET once when a reload closed
/// its idle connection; one with a connection per request) until `stop`.
fn load(addr: std::net::SocketAddr, stop: Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<Seen>> {
    [true, false]
        .into_iter()
        .map(|keep_alive| {
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut client = Client::new(addr, keep_alive);
                let mut seen = Seen::new();
                while !stop.load(Ordering::Relaxed) {
                    let key = match client.get_retrying("/").await.0 {
                        Outcome::Answered(status, body) => format!("{status} {body}"),
                        other => format!("{other:?}"),
                    };
                    *seen.entry(key).or_default() += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                seen
            })
        })
        .collect()
}

async fn totals(clients: Vec<tokio::task::JoinHandle<Seen>>) -> Seen {
    let mut all = Seen::new();
    for c in clients {
        for (k, n) in c.await.unwrap() {
            *all.entry(k).or_default() += n;
        }
    }
    all
}

fn canary(steps: &[(u8, u64)]) -> Canary {
    Canary {
        analysis_interval: Duration::from_secs(1),
        ready_timeout: Duration::from_secs(10),
        ..Canary::with_steps(
            steps
                .iter()
                .map(|&(w, s)| Step::new(w, Duration::from_secs(s))),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_canary_is_promoted_through_nginx_with_no_failed_request() {
    let test = "a_healthy_canary_is_promoted_through_nginx_with_no_failed_request";
    let Some(w) = world(test, "v2", 0).await else {
        return;
    };
    let stop = Arc::new(AtomicBool::new(false));
    let clients = load(w.nginx.addr(), Arc::clone(&stop));
    let log = MemoryLog::new();
    let mut rollout = TrafficRollout::canary(
        "web",
        &canary(&[(20, 3), (50, 3)]),
        MemoryFleet::new(),
        Arc::clone(&w.router),
    )
    .unwrap()
    .readiness(AnalysisSet::new().with(HttpCheck::new(w.new.url("/healthz")).successes(2)))
    .ready_poll(Duration::from_millis(200))
    .analysis(AnalysisSet::new().with(error_gate(&w)))
    .log(log.clone());
    let done = rollout.run(None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let seen = totals(clients).await;
    eprintln!("{test}: {seen:?}");

    assert_eq!(done.phase, Phase::Completed, "{done:?}");
    assert_eq!(done.weight, 100);
    // Only 200s from one version or the other, nothing else.
    let other: Vec<_> = seen
        .keys()
        .filter(|k| *k != "200 v1" && *k != "200 v2")
        .collect();
    assert!(other.is_empty(), "{seen:?}");
    assert!(seen["200 v1"] > 50 && seen["200 v2"] > 50, "{seen:?}");
    // All traffic on v2 now.
    let before = w.stable.served();
    let mut c = Client::new(w.nginx.addr(), false);
    for _ in 0..20 {
        assert!(matches!(c.get("/").await, Outcome::Answered(200, b) if b == "v2"));
    }
    assert_eq!(w.stable.served(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_failing_a_fifth_of_requests_is_rolled_back_by_its_metric_gate() {
    let test = "a_canary_failing_a_fifth_of_requests_is_rolled_back_by_its_metric_gate";
    let Some(w) = world(test, "v3", 5).await else {
        return;
    };
    let stop = Arc::new(AtomicBool::new(false));
    let clients = load(w.nginx.addr(), Arc::clone(&stop));
    let log = MemoryLog::new();
    let mut rollout = TrafficRollout::canary(
        "web",
        &canary(&[(20, 60), (50, 60)]),
        MemoryFleet::new(),
        Arc::clone(&w.router),
    )
    .unwrap()
    .readiness(AnalysisSet::new().with(HttpCheck::new(w.new.url("/healthz"))))
    .ready_poll(Duration::from_millis(200))
    .analysis(AnalysisSet::new().with(error_gate(&w)))
    .log(log.clone());
    let started = std::time::Instant::now();
    let done = rollout.run(None).await.unwrap();
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let seen = totals(clients).await;

    assert_eq!(done.phase, Phase::RolledBack, "{done:?}");
    assert_eq!(done.weight, 0);
    let why = done.message.clone().unwrap_or_default();
    assert!(
        why.contains("error rate") && why.contains("the gate needs <= 0.05"),
        "{why}"
    );
    // Caught within the first 60 s step, not at its end.
    assert!(took < Duration::from_secs(40), "took {took:?}");
    let rollback_ms = done.rollback_time_ms().unwrap();
    let step_started = log
        .records()
        .iter()
        .find_map(|r| (r.weight == 20).then_some(r.step_started_at).flatten())
        .unwrap();
    let detection_ms = done.failed_at.unwrap() - step_started;
    eprintln!(
        "{test}: 20% to v3 at t=0; gate failed at {detection_ms} ms ({why}); 0% on v3 {rollback_ms} ms later; whole rollout {took:?}; answers {seen:?}"
    );
    assert!(
        rollback_ms < 5_000,
        "{rollback_ms} ms from the failing analysis to 0%"
    );

    // The only failures are the 500s v3 itself answered; none from nginx
    // or the connections.
    let other: Vec<_> = seen
        .keys()
        .filter(|k| !["200 v1", "200 v3", "500 v3 failed"].contains(&k.as_str()))
        .collect();
    assert!(other.is_empty(), "{seen:?}");
    assert!(
        seen.get("500 v3 failed").copied().unwrap_or(0) > 0,
        "{seen:?}"
    );
    // Nothing reaches v3 any more.
    let mut c = Client::new(w.nginx.addr(), false);
    for _ in 0..20 {
        assert!(matches!(c.get("/").await, Outcome::Answered(200, b) if b == "v1"));
    }
}
