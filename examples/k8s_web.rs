//! A web app on Kubernetes: a namespace, a config map and a secret for the
//! app, a Deployment of the demo app's image, a Service and an Ingress in
//! front of it, and a HorizontalPodAutoscaler (CPU 70%, memory 80%, 2..100
//! replicas). Each new image version is rolled out by a canary through
//! ingress-nginx's canary annotations (or blue-green by the Service's
//! selector), with automatic rollback.
//!
//! ```text
//! export DAFNCK_PASSPHRASE=...   # seals the Secret's value in the state
//! cargo run --features kubernetes --example k8s_web -- up --yes
//! cargo run --features kubernetes --example k8s_web -- up --yes --config version=v2
//! cargo run --features kubernetes --example k8s_web -- destroy --yes
//! ```
//!
//! The cluster is the one of `DAFNCK_KUBE_URL` (a plain-HTTP test server),
//! else the kubeconfig `DAFNCK_KUBECONFIG` (context `DAFNCK_KUBE_CONTEXT`),
//! else `KUBECONFIG`, `~/.kube/config` or in-cluster; against the project's
//! own test API server: `eval "$(scripts/servers/kube.sh start)"`.
//!
//! # Rolling out a new version
//!
//! Each version is a Deployment of its own, `web-<version>`, whose pods
//! carry `app.kubernetes.io/instance: web-<version>`; the Service `web`
//! selects the serving version's pods by that label. The Deployment
//! carries the rollout policy (`Options::deploy_with`): a new `version`
//! creates `web-<version>` beside the serving Deployment (awaiting its
//! rollout), then
//!
//! - `rollout=canary` (default): a canary Ingress `web-canary`, with the
//!   Ingress's rules and ingress-nginx's `canary` / `canary-weight`
//!   annotations, routes the step's share of requests to a Service
//!   `web-canary` selecting the new pods (`canary_steps`, `PERCENT:SECONDS`
//!   pairs, default `20:30,50:30`). Promoted, the Service `web` selects the
//!   new pods and the canary objects go;
//! - `rollout=blue-green`: the Service `web`'s selector switches to the new
//!   pods, and stays through `rollback_window_secs` (default 30) of
//!   analysis.
//!
//! Then the old Deployment is deleted and the Service, the autoscaler's
//! target and the outputs follow the new one. Rolled back, the new
//! Deployment (and the canary objects) are deleted and the old one serves
//! on, untouched. Kubernetes' own rolling update (25% max surge, 25% max
//! unavailable) applies to a change that keeps the version (`rollout=none`
//! keeps the name `web` and rolls every change that way).
//!
//! The checks (`{version}` in each is replaced by the new version): before
//! any traffic, with `ready_url`, an HTTP GET of it must answer 200; then
//! every `analysis_interval_ms` (default 1000), with `check_url`, a GET of
//! it must answer 200, and with `prometheus_url`, the PromQL `error_query`
//! must stay at most `max_error_rate` (default 0.05; no data passes). In a
//! cluster, point the URLs at the new version (through its canary Service,
//! or the Ingress with ingress-nginx's `canary-by-header`) and
//! `error_query` at ingress-nginx's metrics.
//!
//! Configuration (`--config KEY=VALUE`, or `dafnck.<stack>.json`):
//! `namespace` (default `web`), `image` (default `ghcr.io/dafnck/demo-app`;
//! the tag is `version`), `version` (default `v1`), `host` (the Ingress's
//! host, default `web.example.com`), `ingress_class` (default `nginx`),
//! `greeting` (in the config map, default `hello`), `api_key` (a secret
//! config value, `config set api_key --secret`; default a development key),
//! `rollout`, `canary_steps`, `rollback_window_secs`,
//! `analysis_interval_ms`, `ready_timeout_secs` (default 120), `ready_url`,
//! `check_url`,
//! `prometheus_url`, `error_query`, `max_error_rate`.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use dafnck::core::prelude::*;
use dafnck::core::{Error, Value};
use dafnck::providers::kubernetes::{
    ConfigMap, Deployment, HorizontalPodAutoscaler, Ingress, Namespace, ObjectOutputs, Provider,
    Secret, Service,
};
use dafnck::strategies::kubernetes::{Cluster, IngressCanaryRouter, Labels, ServiceSwitchRouter};
use dafnck::strategies::{
    AnalysisSet, BlueGreen, Canary, HttpCheck, MetricGate, NoData, Prometheus, Strategy, Threshold,
};
use serde_json::json;

#[path = "support/stack_config.rs"]
mod stack_config;

use stack_config::{config, number, steps};

/// The app's name: its Service, Ingress and the label its pods share.
const APP: &str = "web";

/// A typed Kubernetes spec from its JSON form.
fn spec<T: serde::de::DeserializeOwned>(what: &str, body: serde_json::Value) -> Result<T, Error> {
    serde_json::from_value(body).map_err(|e| Error::Usage(format!("the {what} spec: {e}")))
}

/// The labels that select the pods of the Deployment named `deployment`.
fn pods_of(deployment: &str) -> Labels {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), APP.to_owned()),
        (
            "app.kubernetes.io/instance".to_owned(),
            deployment.to_owned(),
        ),
    ])
}

/// The pod labels of a Deployment's outputs (a Deployment never created
/// selects nothing).
fn pods(outputs: &Value) -> Labels {
    let name = outputs
        .deserialize_into::<ObjectOutputs>()
        .map(|o| o.name)
        .unwrap_or_default();
    pods_of(&name)
}

/// The Deployment's options: its rollout policy, moving traffic in
/// namespace `namespace`.
fn rollout(stack: &Stack, namespace: &str, version: &str) -> Result<Options, Error> {
    let interval = Duration::from_millis(number(stack, "analysis_interval_ms", "1000")?);
    let ready_timeout = Duration::from_secs(number(stack, "ready_timeout_secs", "120")?);
    let cluster = Cluster::from_env();
    let ns = namespace.to_owned();
    let strategy = match config(stack, "rollout", "canary").as_str() {
        "none" => return Ok(Options::new()),
        "canary" => Strategy::canary(
            Canary {
                analysis_interval: interval,
                ready_timeout,
                ..Canary::with_steps(steps(&config(stack, "canary_steps", "20:30,50:30"))?)
            },
            move |old: &Value, new: &Value| {
                Ok(IngressCanaryRouter::new(
                    cluster.clone(),
                    ns.clone(),
                    APP,
                    APP,
                    pods(old),
                    pods(new),
                ))
            },
        ),
        "blue-green" => Strategy::blue_green(
            BlueGreen {
                rollback_window: Duration::from_secs(number(stack, "rollback_window_secs", "30")?),
                analysis_interval: interval,
                ready_timeout,
                ..BlueGreen::default()
            },
            move |old: &Value, new: &Value| {
                Ok(ServiceSwitchRouter::new(
                    cluster.clone(),
                    ns.clone(),
                    APP,
                    pods(old),
                    pods(new),
                ))
            },
        ),
        other => {
            return Err(Error::Usage(format!(
                "config rollout={other:?}: use canary, blue-green or none"
            )))
        }
    }
    .map_err(|e| Error::Usage(format!("the rollout policy: {e}")))?;
    let (ready, during) = (
        checks(stack, version, Checks::Readiness)?,
        checks(stack, version, Checks::Analysis)?,
    );
    Ok(Options::new().deploy_with(
        strategy
            .readiness(move |_, _| ready())
            .analysis(move |_, _| during()),
    ))
}

/// Which checks of a rollout.
#[derive(Clone, Copy, PartialEq)]
enum Checks {
    /// Before any traffic: `ready_url`.
    Readiness,
    /// At every analysis interval: `check_url` and the Prometheus gate.
    Analysis,
}

/// What a rollout of version `version` is judged by (`which` checks), made
/// afresh for every rollout.
///
/// # Errors
/// `prometheus_url` without `error_query`, or a `max_error_rate` that is
/// not a number.
fn checks(
    stack: &Stack,
    version: &str,
    which: Checks,
) -> Result<impl Fn() -> AnalysisSet + Send + Sync + 'static, Error> {
    let key = match which {
        Checks::Readiness => "ready_url",
        Checks::Analysis => "check_url",
    };
    let check_url = stack.config(key).map(|u| u.replace("{version}", version));
    let prometheus = match stack.config("prometheus_url") {
        Some(url) if which == Checks::Analysis => {
            let query = stack.config("error_query").ok_or_else(|| {
                Error::Usage("config prometheus_url needs error_query (PromQL)".into())
            })?;
            Some((url.to_owned(), query.replace("{version}", version)))
        }
        _ => None,
    };
    let max: f64 = number(stack, "max_error_rate", "0.05")?;
    let version = version.to_owned();
    Ok(move || {
        let mut set = AnalysisSet::new();
        if let Some(url) = &check_url {
            set = set.with(
                HttpCheck::new(url.clone())
                    .named(format!("GET {key} of version {version}"))
                    .timeout(Duration::from_secs(5)),
            );
        }
        if let Some((url, query)) = &prometheus {
            set = set.with(
                MetricGate::new(
                    "error rate",
                    Prometheus::new(url.clone()).timeout(Duration::from_secs(3)),
                    query.clone(),
                    Threshold::AtMost(max),
                )
                .on_no_data(NoData::Pass),
            );
        }
        set
    })
}

fn infra(stack: &mut Stack) -> dafnck::core::Result<()> {
    let namespace = config(stack, "namespace", "web");
    let version = config(stack, "version", "v1");
    let image = format!(
        "{}:{version}",
        config(stack, "image", "ghcr.io/dafnck/demo-app")
    );
    let host = config(stack, "host", "web.example.com");
    let api_key = match stack.secret_config::<String>("api_key") {
        Ok(key) => key,
        Err(Error::Config { .. }) => dafnck::core::Secret::new("dev-key".to_owned()),
        Err(e) => return Err(e),
    };
    let ns = stack.add(
        "namespace",
        Namespace {
            name: namespace.clone(),
            ..Default::default()
        },
    );
    let settings = stack.add(
        "settings",
        ConfigMap {
            name: "web-settings".into(),
            namespace: ns.out().name,
            data: BTreeMap::from([("GREETING".to_owned(), config(stack, "greeting", "hello"))]),
            ..Default::default()
        },
    );
    let secrets = stack.add(
        "secrets",
        Secret {
            name: "web-secrets".into(),
            namespace: ns.out().name,
            data: BTreeMap::from([("API_KEY".to_owned(), api_key.into())]),
            ..Default::default()
        },
    );

    // One Deployment per version, beside the serving one while it rolls
    // out; `rollout=none` keeps one name and Kubernetes' rolling update.
    let per_version = config(stack, "rollout", "canary") != "none";
    let name = if per_version {
        format!("{APP}-{version}")
    } else {
        APP.to_owned()
    };
    let mut labels = pods_of(&name);
    let selector = labels.clone();
    labels.insert("app.kubernetes.io/version".into(), version.clone());
    let web = stack.add_with(
        "web",
        Deployment {
            name: name.clone(),
            namespace: ns.out().name,
            labels: labels.clone(),
            // `replicas` left unset: the autoscaler owns it.
            spec: spec(
                "Deployment",
                json!({
                    "selector": {"matchLabels": selector},
                    "strategy": {"type": "RollingUpdate",
                                 "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{
                            "name": APP,
                            "image": image,
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "envFrom": [{"configMapRef": {"name": "web-settings"}},
                                        {"secretRef": {"name": "web-secrets"}}],
                            "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}},
                            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                        }]},
                    },
                }),
            )?,
            ..Default::default()
        },
        rollout(stack, &namespace, &version)?
            .depends_on(&settings)
            .depends_on(&secrets),
    );
    // Selects the serving version's pods: updated once a new version is
    // promoted (after the rollout, before the old Deployment goes).
    let service = stack.add_with(
        "service",
        Service {
            name: APP.into(),
            namespace: ns.out().name,
            spec: spec(
                "Service",
                json!({"selector": selector,
                       "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}),
            )?,
            ..Default::default()
        },
        Options::new().depends_on(&web),
    );
    stack.add_with(
        "ingress",
        Ingress {
            name: APP.into(),
            namespace: ns.out().name,
            spec: spec(
                "Ingress",
                json!({
                    "ingressClassName": config(stack, "ingress_class", "nginx"),
                    "rules": [{"host": host, "http": {"paths": [{
                        "path": "/", "pathType": "Prefix",
                        "backend": {"service": {"name": APP, "port": {"name": "http"}}},
                    }]}}],
                }),
            )?,
            ..Default::default()
        },
        Options::new().depends_on(&service),
    );
    stack.add_with(
        "autoscaler",
        HorizontalPodAutoscaler {
            name: APP.into(),
            namespace: ns.out().name,
            spec: spec(
                "HorizontalPodAutoscaler",
                json!({
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                    "minReplicas": 2,
                    "maxReplicas": 100,
                    "metrics": [
                        {"type": "Resource", "resource": {"name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 70}}},
                        {"type": "Resource", "resource": {"name": "memory",
                            "target": {"type": "Utilization", "averageUtilization": 80}}},
                    ],
                }),
            )?,
            ..Default::default()
        },
        Options::new().depends_on(&web),
    );
    stack.export("deployment", web.out().name);
    stack.export("url", format!("http://{host}/"));
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    dafnck::cli::run(infra).provider(Provider::from_env()).await
}
