//! The `k8s_web` example end to end against the project's own Kubernetes
//! API server (dafnck-kube-fake, started in process on 127.0.0.1; the
//! example reaches it as `DAFNCK_KUBE_URL`): up, a preview with nothing to
//! do, a new image version rolled out by canary with the canary Ingress's
//! weight read while `up` runs, a version the analysis rejects rolled back
//! (its Deployment deleted), drift after a change made by hand, destroy
//! leaving nothing; and blue-green by the Service's selector, switched and
//! switched back.
//!
//! The fake runs no pods and no ingress controller, so no request reaches
//! any version: the rollouts' checks GET a small HTTP server of this test
//! (a stand-in answering for each version), and what the tests assert is
//! what the cluster's API shows, which ingress-nginx and kube-proxy act on.
#![cfg(feature = "kubernetes")]

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;
use support::Run;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NS: &str = "web";

/// The fake API server, a client of it, and the checks' stand-in.
struct Rig {
    server: dafnck_kube_fake::Running,
    client: kube::Client,
    /// `http://127.0.0.1:PORT`: answers `GET /<version>/health` with 200,
    /// and `GET /<version>/check` with 200, except 500 for version v3.
    checks: String,
    dir: tempfile::TempDir,
}

/// Serves the checks' stand-in until the test ends.
async fn stand_in() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]);
                let path = request.split_whitespace().nth(1).unwrap_or("/");
                let status = if path == "/v3/check" {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let body = format!("{path}\n");
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(answer.as_bytes()).await;
            });
        }
    });
    url
}

impl Rig {
    async fn new() -> Rig {
        let server = dafnck_kube_fake::spawn().expect("the fake API server starts");
        let config = kube::Config::new(server.url().parse().unwrap());
        dafnck::providers::kubernetes::install_tls_provider();
        let client = kube::Client::try_from(config).unwrap();
        Rig {
            server,
            client,
            checks: stand_in().await,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The config of a rollout of `version` by `rollout`.
    fn config(&self, version: &str, rollout: &str, extra: &[&str]) -> Vec<String> {
        [
            format!("version={version}"),
            format!("rollout={rollout}"),
            "image=registry.example/demo-app".into(),
            "canary_steps=20:1,50:1".into(),
            "rollback_window_secs=1".into(),
            "analysis_interval_ms=200".into(),
            format!("ready_url={}/{{version}}/health", self.checks),
            format!("check_url={}/{{version}}/check", self.checks),
        ]
        .into_iter()
        .chain(extra.iter().map(|s| (*s).to_owned()))
        .collect()
    }

    fn command(&self, args: &[&str], config: &[String]) -> Command {
        let mut cmd = Command::new(support::example("k8s_web"));
        cmd.args(args)
            .current_dir(self.dir())
            .env("NO_COLOR", "1")
            // The Secret's value is sealed in the state with this.
            .env("DAFNCK_PASSPHRASE", "k8s-web-test")
            .env_remove("DAFNCK_STACK")
            .env_remove("DAFNCK_STATE_DIR")
            .env_remove("DAFNCK_KUBECONFIG")
            .env_remove("DAFNCK_KUBE_CONTEXT")
            .env("KUBECONFIG", self.dir().join("no-kubeconfig"))
            .env("DAFNCK_KUBE_URL", self.server.url());
        for c in config {
            cmd.args(["--config", c]);
        }
        cmd
    }

    fn run(&self, args: &[&str], config: &[String]) -> Run {
        Run::of(
            self.command(args, config)
                .output()
                .expect("run the example"),
        )
    }

    /// `up --yes` while reading `watch` every 10 ms.
    async fn up_watching<T, F, Fut>(&self, config: &[String], watch: F) -> (Run, Vec<T>)
    where
        T: PartialEq + std::fmt::Debug,
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        support::watching(self.command(&["up", "--yes"], config), "k8s_web", watch).await
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), NS)
    }

    /// How many objects of kind `K` the namespace holds.
    async fn count<K>(&self) -> usize
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        <K as kube::Resource>::DynamicType: Default,
    {
        let list = self.api::<K>().list(&ListParams::default()).await;
        list.unwrap().items.len()
    }

    /// The names of the Deployments in the namespace, sorted.
    async fn deployments(&self) -> Vec<String> {
        let list = self
            .api::<Deployment>()
            .list(&ListParams::default())
            .await
            .unwrap();
        let mut names: Vec<String> = list
            .items
            .into_iter()
            .filter_map(|d| d.metadata.name)
            .collect();
        names.sort();
        names
    }

    /// The Deployment the Service `web` selects (its pods' instance label).
    async fn serving(&self) -> String {
        let service = self.api::<Service>().get("web").await.unwrap();
        service
            .spec
            .and_then(|s| s.selector)
            .and_then(|s| s.get("app.kubernetes.io/instance").cloned())
            .unwrap_or_default()
    }

    /// The canary Ingress's weight, if it exists.
    async fn canary_weight(&self) -> Option<String> {
        let ingress = self.api::<Ingress>().get_opt("web-canary").await.unwrap()?;
        let a = ingress.metadata.annotations.unwrap_or_default();
        assert_eq!(
            a.get("nginx.ingress.kubernetes.io/canary")
                .map(String::as_str),
            Some("true")
        );
        a.get("nginx.ingress.kubernetes.io/canary-weight").cloned()
    }

    /// (canary weight, serving Deployment) now.
    async fn traffic(&self) -> (Option<String>, String) {
        (self.canary_weight().await, self.serving().await)
    }

    /// No canary Ingress or Service is left.
    async fn no_canary(&self) {
        assert!(self
            .api::<Ingress>()
            .get_opt("web-canary")
            .await
            .unwrap()
            .is_none());
        assert!(self
            .api::<Service>()
            .get_opt("web-canary")
            .await
            .unwrap()
            .is_none());
    }

    /// The autoscaler's target.
    async fn scaled(&self) -> String {
        let hpa = self
            .api::<HorizontalPodAutoscaler>()
            .get("web")
            .await
            .unwrap();
        hpa.spec.unwrap().scale_target_ref.name
    }
}

fn traffic(weight: Option<&str>, serving: &str) -> (Option<String>, String) {
    (weight.map(str::to_owned), serving.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_app_is_rolled_out_by_canary_rolled_back_checked_for_drift_and_destroyed() {
    let rig = Rig::new().await;

    // v1: everything created.
    let v1 = rig.config("v1", "canary", &[]);
    rig.run(&["up", "--yes"], &v1).expect(0);
    assert_eq!(rig.deployments().await, vec!["web-v1"]);
    let web = rig.api::<Deployment>().get("web-v1").await.unwrap();
    let pod = web.spec.unwrap().template;
    assert_eq!(
        pod.spec.unwrap().containers[0].image.as_deref(),
        Some("registry.example/demo-app:v1")
    );
    assert_eq!(
        pod.metadata.unwrap().labels.unwrap()["app.kubernetes.io/version"],
        "v1"
    );
    assert_eq!(rig.serving().await, "web-v1");
    let settings = rig.api::<ConfigMap>().get("web-settings").await.unwrap();
    assert_eq!(settings.data.unwrap()["GREETING"], "hello");
    let secrets = rig.api::<Secret>().get("web-secrets").await.unwrap();
    assert_eq!(secrets.data.unwrap()["API_KEY"].0, b"dev-key");
    let ingress = rig.api::<Ingress>().get("web").await.unwrap();
    let rule = serde_json::to_value(&ingress.spec.unwrap().rules.unwrap()[0]).unwrap();
    assert_eq!(rule["host"], "web.example.com");
    assert_eq!(
        rule["http"]["paths"][0]["backend"]["service"]["name"],
        "web"
    );
    let hpa = rig
        .api::<HorizontalPodAutoscaler>()
        .get("web")
        .await
        .unwrap()
        .spec
        .unwrap();
    assert_eq!((hpa.min_replicas, hpa.max_replicas), (Some(2), 100));
    let targets: BTreeMap<String, i32> = hpa
        .metrics
        .unwrap()
        .into_iter()
        .map(|m| {
            let r = m.resource.unwrap();
            (r.name, r.target.average_utilization.unwrap())
        })
        .collect();
    assert_eq!(
        targets,
        BTreeMap::from([("cpu".into(), 70), ("memory".into(), 80)])
    );
    assert_eq!(rig.scaled().await, "web-v1");

    // Nothing to do.
    let r = rig.run(&["preview", "--detailed-exitcode"], &v1);
    r.expect(0);

    // v2 by canary: the canary Ingress's weight follows the steps, then
    // the Service selects v2 and the canary objects and v1 are gone.
    let v2 = rig.config("v2", "canary", &[]);
    let r = rig.run(&["preview"], &v2);
    r.expect(0);
    assert!(r.stdout.contains("deploy by canary 20%"), "{}", r.stdout);
    let (r, seen) = rig.up_watching(&v2, || rig.traffic()).await;
    r.expect(0);
    // Promotion gives the canary 100% for a moment before the Service
    // switches and the canary goes.
    let steps: Vec<_> = seen
        .iter()
        .filter(|t| t.0.as_deref() != Some("100"))
        .cloned()
        .collect();
    assert_eq!(
        steps,
        vec![
            traffic(None, "web-v1"),
            traffic(Some("20"), "web-v1"),
            traffic(Some("50"), "web-v1"),
            traffic(None, "web-v2"),
        ],
        "{seen:?}\n{}",
        r.stderr
    );
    assert_eq!(rig.deployments().await, vec!["web-v2"]);
    rig.no_canary().await;
    assert_eq!(rig.scaled().await, "web-v2");
    rig.run(&["preview", "--detailed-exitcode"], &v2).expect(0);

    // v3 fails its analysis at 20%: rolled back, its Deployment deleted,
    // v2 serving as before.
    let v3 = rig.config("v3", "canary", &[]);
    let (r, seen) = rig.up_watching(&v3, || rig.traffic()).await;
    assert_ne!(r.code, 0, "a rolled-back rollout fails the run");
    assert!(
        r.stderr.contains("rolled back") && r.stderr.contains("/v3/check"),
        "the run says why:\n{}",
        r.stderr
    );
    assert_eq!(
        seen,
        vec![
            traffic(None, "web-v2"),
            traffic(Some("20"), "web-v2"),
            traffic(None, "web-v2"),
        ]
    );
    assert_eq!(rig.deployments().await, vec!["web-v2"]);
    rig.no_canary().await;
    let r = rig.run(&["drift", "--json"], &v2);
    r.expect(0);
    assert_eq!(r.stdout.trim(), "[]", "nothing drifted");

    // A change made by hand to a field the program sets is drift; the
    // next `up` sets it back.
    rig.api::<ConfigMap>()
        .patch(
            "web-settings",
            &PatchParams {
                field_manager: Some("kubectl-edit".into()),
                ..PatchParams::default()
            },
            &Patch::Merge(json!({"data": {"GREETING": "hacked"}})),
        )
        .await
        .unwrap();
    let r = rig.run(&["drift", "--json"], &v2);
    r.expect(2);
    let drift: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        drift,
        json!([{"fields": ["data"], "kind": "changed", "name": "settings",
                "type": "kubernetes:core:ConfigMap"}])
    );
    rig.run(&["up", "--yes"], &v2).expect(0);
    let settings = rig.api::<ConfigMap>().get("web-settings").await.unwrap();
    assert_eq!(settings.data.unwrap()["GREETING"], "hello");

    // Destroy leaves nothing.
    rig.run(&["destroy", "--yes"], &v2).expect(0);
    let namespaces: Api<Namespace> = Api::all(rig.client.clone());
    assert!(namespaces.get_opt(NS).await.unwrap().is_none());
    assert!(rig.deployments().await.is_empty());
    assert_eq!(rig.count::<Service>().await, 0);
    assert_eq!(rig.count::<Ingress>().await, 0);
    assert_eq!(rig.count::<ConfigMap>().await, 0);
    assert_eq!(rig.count::<Secret>().await, 0);
    assert_eq!(rig.count::<HorizontalPodAutoscaler>().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blue_green_switches_the_service_selector_and_switches_back_on_rollback() {
    let rig = Rig::new().await;
    rig.run(&["up", "--yes"], &rig.config("v1", "blue-green", &[]))
        .expect(0);
    assert_eq!(rig.serving().await, "web-v1");

    let v2 = rig.config("v2", "blue-green", &[]);
    let (r, seen) = rig.up_watching(&v2, || rig.traffic()).await;
    r.expect(0);
    assert_eq!(
        seen,
        vec![traffic(None, "web-v1"), traffic(None, "web-v2")],
        "{}",
        r.stderr
    );
    assert_eq!(rig.deployments().await, vec!["web-v2"]);

    // v3 fails in its rollback window: switched to v3 and back to v2.
    let v3 = rig.config("v3", "blue-green", &[]);
    let (r, seen) = rig.up_watching(&v3, || rig.traffic()).await;
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("rolled back"), "{}", r.stderr);
    assert_eq!(
        seen,
        vec![
            traffic(None, "web-v2"),
            traffic(None, "web-v3"),
            traffic(None, "web-v2"),
        ]
    );
    assert_eq!(rig.deployments().await, vec!["web-v2"]);
    rig.no_canary().await;
    rig.run(&["destroy", "--yes"], &v3).expect(0);
    assert!(rig.deployments().await.is_empty());
}
