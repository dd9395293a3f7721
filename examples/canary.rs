//! Progressive delivery on this machine: the demo app as a local service
//! behind a real nginx, each new version rolled out by a canary (or
//! blue-green) policy that moves nginx's traffic step by step, checks the
//! new version's health, and rolls it back when its error rate, as a real
//! Prometheus scrapes it, goes over the limit.
//!
//! ```text
//! eval "$(scripts/servers/nginx.sh start)"; eval "$(scripts/servers/prometheus.sh start)"
//! cargo run --example canary -- up --yes --config listen_port=18090
//! curl http://127.0.0.1:18090/                                # hello from v1
//! cargo run --example canary -- up --yes --config listen_port=18090 --config version=v2
//! cargo run --example canary -- up --yes --config listen_port=18090 --config version=v3 --config fail_rate=0.2
//!                                                             # rolled back by the error-rate gate
//! cargo run --example canary -- rollout status web
//! cargo run --example canary -- rollout abort web             # from another terminal, mid-rollout
//! cargo run --example canary -- destroy --yes
//! ```
//!
//! Each version is a `Service` named after it (`demo-v2`), on a port
//! chosen when it starts (`port: 0`), so the new object starts beside the
//! old one; the `web` resource carries the policy
//! (`Options::deploy_with`). The `route` resource (see
//! `support/nginx_upstream.rs`) points nginx at the serving version
//! between rollouts.
//!
//! With `policy=rolling`, `web` is a `ServiceGroup` of `replicas` replicas
//! instead: a new version's replicas all start beside the old ones, then
//! nginx's upstream swaps them in a batch at a time, each new replica
//! joining only once it answers `check_path`; two failed batches in a row
//! put every old replica back. No Prometheus is needed for it.
//!
//! ```text
//! cargo run --example canary -- up --yes --config policy=rolling --config listen_port=18090
//! cargo run --example canary -- up --yes --config policy=rolling --config listen_port=18090 --config version=v2
//! ```
//!
//! Configuration (`--config KEY=VALUE`, or `dafnck.<stack>.json`):
//!
//! | key | default | |
//! | --- | --- | --- |
//! | `version` | `v1` | the version to deploy; it names the service, so change it with every deploy |
//! | `fail_rate` | `0` | the fraction of `GET /` the version answers with 500 |
//! | `policy` | `canary` | `canary`, `blue-green` or `rolling` |
//! | `replicas` | `4` | rolling: how many replicas of the app run (a `ServiceGroup`) |
//! | `batch_percent` | `25` | rolling: the share of replicas swapped per batch |
//! | `batch_timeout_secs` | `60` | rolling: how long a batch's new replicas may take to pass their checks |
//! | `batch_pause_ms` | `0` | rolling: the wait after each batch before the next |
//! | `check_path` | `/` | rolling: each new replica must answer `GET <path>` with 200 before it joins nginx's upstream |
//! | `steps` | `20:10,50:10` | canary steps, `PERCENT:SECONDS`, comma-separated |
//! | `pre_switch_secs` | `0` | blue-green: analysis before the switch, with no traffic |
//! | `rollback_window_secs` | `10` | blue-green: analysis after the switch, old version kept |
//! | `ready_timeout_secs` | `30` | how long the new version may take to pass its readiness checks |
//! | `analysis_interval_ms` | `1000` | how often the gate runs |
//! | `max_error_rate` | `0.05` | the gate: the new version's 5xx ratio must stay at most this |
//! | `error_window` | `5s` | the gate's rate window (Prometheus duration) |
//! | `nginx_bin` | `$DAFNCK_NGINX_BIN`, else `nginx` | |
//! | `nginx_conf` | `$DAFNCK_NGINX_CONF` | nginx's main configuration (required) |
//! | `nginx_prefix` | none | nginx's `-p` prefix, if it runs with one |
//! | `nginx_pid_file` | the `pid` directive of `nginx_conf` | |
//! | `nginx_upstream_file` | `$DAFNCK_NGINX_INCLUDE_DIR/demo-upstream.conf` | the file this program owns; nginx's `http {}` must include it |
//! | `nginx_upstream` | `demo` | the upstream's name |
//! | `listen_port` | none | also write `demo-site.conf` beside the upstream file: a server on 127.0.0.1:PORT proxying to the upstream |
//! | `prometheus_url` | `$DAFNCK_PROMETHEUS_URL` | required |
//! | `prometheus_targets_file` | `$DAFNCK_PROMETHEUS_TARGETS_DIR/dafnck-demo-<stack>.json` | Prometheus' file-discovery list the program writes the app's targets to |
//!
//! Where nginx and Prometheus are comes from configuration, which is per
//! stack (a staging and a production stack point at different servers),
//! falling back to the environment variables the server scripts under
//! `scripts/servers/` print, so `eval "$(scripts/servers/nginx.sh start)"`
//! is all a local run needs. The program never guesses nginx's pid file:
//! it reads the `pid` directive of the configuration nginx runs with.

#[path = "support/demo_server.rs"]
mod demo_server;
#[path = "support/nginx_upstream.rs"]
mod nginx_upstream;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use dafnck::core::prelude::*;
use dafnck::core::{Error, Value};
use dafnck::providers::local::{Service, ServiceGroup, ServiceGroupOutputs, ServiceOutputs};
use dafnck::strategies::{
    Analysis, AnalysisSet, BatchSize, BlueGreen, Canary, HttpCheck, Member, MetricGate, NoData,
    PoolFleet, Prometheus, Rolling, Step, Strategy, Threshold, Verdict,
};
use nginx_upstream::{pid_file_of, write_scrape_targets, DemoProvider, NginxSite, Upstream};

fn usage(message: String) -> Error {
    Error::Usage(message)
}

fn config<T: std::str::FromStr>(stack: &Stack, key: &str, default: T) -> dafnck::core::Result<T> {
    match stack.config(key) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| usage(format!("config {key}={v:?} is not valid"))),
    }
}

/// A config value, else an environment variable's, else `None`.
fn config_or_env(stack: &Stack, key: &str, var: &str) -> Option<String> {
    stack
        .config(key)
        .map(str::to_string)
        .or_else(|| std::env::var(var).ok())
        .filter(|v| !v.is_empty())
}

fn required(stack: &Stack, key: &str, var: &str) -> dafnck::core::Result<String> {
    config_or_env(stack, key, var).ok_or_else(|| {
        usage(format!(
            "config {key} is not set, nor is {var} (eval \"$(scripts/servers/...sh start)\" sets it)"
        ))
    })
}

/// `20:10,50:10` → 20% for 10 s, then 50% for 10 s.
fn parse_steps(text: &str) -> Result<Vec<Step>, String> {
    text.split(',')
        .map(|s| {
            let (w, secs) = s
                .trim()
                .split_once(':')
                .ok_or_else(|| format!("step {s:?} is not PERCENT:SECONDS"))?;
            let w: u8 = w
                .parse()
                .map_err(|_| format!("step {s:?}: {w:?} is not a percentage"))?;
            let secs: f64 = secs
                .parse()
                .ok()
                .filter(|x: &f64| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| format!("step {s:?}: {secs:?} is not a number of seconds"))?;
            Ok(Step::new(w, Duration::from_secs_f64(secs)))
        })
        .collect()
}

/// The address and URL of a service from its outputs (`None` for an
/// object that was never created).
fn backend(outputs: &Value) -> Option<(String, String)> {
    let o: ServiceOutputs = outputs.deserialize_into().ok()?;
    (o.port != 0).then(|| (format!("127.0.0.1:{}", o.port), o.url))
}

/// A readiness check that always fails, saying why.
struct Refused(String);

#[async_trait::async_trait]
impl Analysis for Refused {
    fn name(&self) -> &str {
        "scrape target"
    }
    async fn run(&self) -> Verdict {
        Verdict::Fail(self.0.clone())
    }
}

/// What every rollout of `web` is checked with.
#[derive(Clone)]
struct Gates {
    prometheus: Prometheus,
    scrape_file: PathBuf,
    max_error_rate: f64,
    window: String,
    version: String,
}

impl Gates {
    /// Before any traffic: the new object answers its health check, and
    /// Prometheus has scraped it (else the error-rate gate would judge
    /// nothing). Registering it as a scrape target happens here, when the
    /// rollout starts and the new object's port is known.
    fn readiness(&self, old: &Value, new: &Value) -> AnalysisSet {
        let (Some((old_addr, _)), Some((new_addr, new_url))) = (backend(old), backend(new)) else {
            return AnalysisSet::new();
        };
        let mut checks = AnalysisSet::new().with(
            HttpCheck::new(format!("{new_url}/health"))
                .named("health of the new version")
                .successes(2),
        );
        let scraped = MetricGate::new(
            "Prometheus scrapes the new version",
            self.prometheus.clone(),
            format!("up{{instance=\"{new_addr}\"}}"),
            Threshold::AtLeast(1.0),
        )
        .on_no_data(NoData::Fail);
        match write_scrape_targets(&self.scrape_file, &[old_addr, new_addr.clone()]) {
            Ok(()) => checks = checks.with(scraped),
            // Without its metrics the gate could not judge the new version:
            // it gets no traffic, and the rollout rolls back saying why.
            Err(e) => checks = checks.with(Refused(e)),
        }
        checks
    }

    /// During every step: the new object's ratio of 5xx answers.
    fn analysis(&self, new: &Value) -> AnalysisSet {
        let Some((addr, _)) = backend(new) else {
            return AnalysisSet::new();
        };
        // The object's own series: its version and, as a version may be
        // rolled out again, its address.
        let sel = format!("version=\"{}\",instance=\"{addr}\"", self.version);
        let w = &self.window;
        AnalysisSet::new().with(
            MetricGate::new(
                "error rate",
                self.prometheus.clone(),
                format!(
                    "sum(rate(demo_requests_total{{{sel},code=~\"5..\"}}[{w}])) / sum(rate(demo_requests_total{{{sel}}}[{w}]))"
                ),
                Threshold::AtMost(self.max_error_rate),
            )
            // 0/0 before any request reached it: it has served nobody yet.
            .on_no_data(NoData::Pass),
        )
    }
}

fn infra(stack: &mut Stack) -> dafnck::core::Result<()> {
    let version: String = config(stack, "version", "v1".to_string())?;
    let fail_rate: f64 = config(stack, "fail_rate", 0.0)?;
    let policy: String = config(stack, "policy", "canary".to_string())?;
    let steps = parse_steps(&config(stack, "steps", "20:10,50:10".to_string())?)
        .map_err(|e| usage(format!("config steps: {e}")))?;
    let interval = Duration::from_millis(config(stack, "analysis_interval_ms", 1000)?);
    let ready_timeout = Duration::from_secs(config(stack, "ready_timeout_secs", 30)?);

    let nginx_conf = required(stack, "nginx_conf", "DAFNCK_NGINX_CONF")?;
    let upstream_file = match config_or_env(stack, "nginx_upstream_file", "") {
        Some(f) => f,
        None => {
            let dir = required(stack, "nginx_upstream_file", "DAFNCK_NGINX_INCLUDE_DIR")?;
            format!("{dir}/demo-upstream.conf")
        }
    };
    let pid_file = config_or_env(stack, "nginx_pid_file", "")
        .or_else(|| pid_file_of(Path::new(&nginx_conf)))
        .unwrap_or_else(|| "/run/nginx.pid".into());
    let listen: Option<u16> = match stack.config("listen_port") {
        None => None,
        Some(_) => Some(config(stack, "listen_port", 0)?),
    };
    let site_file = listen.map(|_| {
        Path::new(&upstream_file)
            .with_file_name("demo-site.conf")
            .display()
            .to_string()
    });
    let nginx = NginxSite {
        bin: config_or_env(stack, "nginx_bin", "DAFNCK_NGINX_BIN")
            .unwrap_or_else(|| "nginx".into()),
        config: nginx_conf,
        prefix: config_or_env(stack, "nginx_prefix", ""),
        pid_file,
        upstream_file,
        upstream: config(stack, "nginx_upstream", "demo".to_string())?,
        site_file,
        listen,
    };

    let me = std::env::current_exe()
        .map_err(|e| usage(format!("cannot find this program's own path: {e}")))?
        .display()
        .to_string();
    let args = vec![
        "serve".into(),
        "--port".into(),
        "{port}".into(),
        "--version".into(),
        version.clone(),
        "--fail-rate".into(),
        fail_rate.to_string(),
    ];
    if policy == "rolling" {
        return rolling(stack, nginx, me, args);
    }

    let prometheus_url = required(stack, "prometheus_url", "DAFNCK_PROMETHEUS_URL")?;
    let scrape_file = match config_or_env(stack, "prometheus_targets_file", "") {
        Some(f) => f,
        None => {
            let dir = required(
                stack,
                "prometheus_targets_file",
                "DAFNCK_PROMETHEUS_TARGETS_DIR",
            )?;
            format!("{dir}/dafnck-demo-{}.json", stack.name())
        }
    };
    let gates = Gates {
        prometheus: Prometheus::new(prometheus_url).timeout(Duration::from_secs(3)),
        scrape_file: PathBuf::from(&scrape_file),
        max_error_rate: config(stack, "max_error_rate", 0.05)?,
        window: config(stack, "error_window", "5s".to_string())?,
        version: version.clone(),
    };

    let site = nginx.clone();
    let router = move |old: &Value, new: &Value| {
        let (old, _) = backend(old).ok_or("the serving object has no port")?;
        site.router(vec![old], backend(new).map(|b| b.0).into_iter().collect())
    };
    let strategy = match policy.as_str() {
        "canary" => Strategy::canary(
            Canary {
                steps,
                analysis_interval: interval,
                ready_timeout,
                failure_limit: 0,
            },
            router,
        ),
        "blue-green" => Strategy::blue_green(
            BlueGreen {
                pre_switch_analysis: Duration::from_secs(config(stack, "pre_switch_secs", 0)?),
                rollback_window: Duration::from_secs(config(stack, "rollback_window_secs", 10)?),
                analysis_interval: interval,
                ready_timeout,
                failure_limit: 0,
            },
            router,
        ),
        other => {
            return Err(usage(format!(
                "config policy={other:?}: use canary, blue-green or rolling"
            )))
        }
    }
    .map_err(|e| usage(format!("the {policy} policy: {e}")))?;
    let (ready, checks) = (gates.clone(), gates);
    let strategy = strategy
        .readiness(move |old, new| ready.readiness(old, new))
        .analysis(move |_old, new| checks.analysis(new));

    let web = stack.add_with(
        "web",
        Service {
            name: format!("demo-{version}"),
            command: me,
            args,
            port: 0,
            health_path: Some("/health".into()),
            ..Default::default()
        },
        Options::new().deploy_with(strategy),
    );
    stack.add(
        "route",
        Upstream {
            nginx,
            port: web.out().port,
            ports: Vec::new().into(),
            scrape_file: Some(scrape_file),
        },
    );
    stack.export("url", web.out().url);
    Ok(())
}

/// `web` as replicas of the app, each version rolled out a batch at a time.
fn rolling(
    stack: &mut Stack,
    nginx: NginxSite,
    command: String,
    args: Vec<String>,
) -> dafnck::core::Result<()> {
    let policy = Rolling {
        batch: BatchSize::Percent(config(stack, "batch_percent", 25)?),
        batch_timeout: Duration::from_secs(config(stack, "batch_timeout_secs", 60)?),
        poll_interval: Duration::from_millis(config(stack, "analysis_interval_ms", 1000)?),
        batch_pause: Duration::from_millis(config(stack, "batch_pause_ms", 0)?),
        ..Rolling::default()
    };
    let check_path: String = config(stack, "check_path", "/".to_string())?;
    let site = nginx.clone();
    let replicas = |outputs: &Value| {
        outputs
            .deserialize_into::<ServiceGroupOutputs>()
            .map(|o| o.ports)
            .unwrap_or_default()
    };
    let strategy = Strategy::rolling(policy, move |old, new| {
        let old: Vec<String> = replicas(old)
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let new = replicas(new)
            .iter()
            .map(|p| {
                let check = HttpCheck::new(format!("http://127.0.0.1:{p}{check_path}"))
                    .named("GET of the new replica");
                Member::new(format!("127.0.0.1:{p}"), AnalysisSet::new().with(check))
            })
            .collect();
        PoolFleet::new(site.router(old.clone(), Vec::new())?, old, new)
    })
    .map_err(|e| usage(format!("the rolling policy: {e}")))?;
    let web = stack.add_with(
        "web",
        ServiceGroup {
            name: "demo".into(),
            replicas: config(stack, "replicas", 4)?,
            command,
            args,
            health_path: Some("/health".into()),
            ..Default::default()
        },
        Options::new().deploy_with(strategy),
    );
    stack.add(
        "route",
        Upstream {
            nginx,
            port: 0.into(),
            ports: web.out().ports,
            scrape_file: None,
        },
    );
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        return demo_server::run(&args[2..]);
    }
    dafnck::core::cli::run(infra)
        .provider(dafnck::providers::local::Provider::default())
        .provider(DemoProvider)
        .await
}
