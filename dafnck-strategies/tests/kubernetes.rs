//! The Kubernetes routers against the project's own Kubernetes API server
//! (dafnck-kube-fake, run in process on 127.0.0.1), through kube-rs over
//! real HTTP: canary rollouts whose weights are read from the canary
//! Ingress's annotations while they run, promotion switching the serving
//! Service, rollback and reset leaving the serving objects as they were,
//! and blue-green by a Service selector switch and back. The fake runs no
//! pods and no ingress controller: these tests show what the routers
//! write, which is what ingress-nginx and kube-proxy act on.
#![cfg(feature = "kubernetes")]

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dafnck_strategies::kubernetes::{
    Cluster, IngressCanaryRouter, Labels, ServiceSwitchRouter, FIELD_MANAGER,
};
use dafnck_strategies::{
    AnalysisSet, BlueGreen, Canary, MemoryFleet, Phase, Step, TrafficRollout, TrafficRouter,
    Verdict, Weights,
};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::{fail, Script};

const NS: &str = "shop";

/// A fake API server with the serving objects of a `web` app at v1: an
/// Ingress routing `shop.example/` to Service `web`, which selects
/// `app=web,version=v1`.
struct Rig {
    _server: dafnck_kube_fake::Running,
    client: kube::Client,
    cluster: Cluster,
    _dir: tempfile::TempDir,
}

fn labels(version: &str) -> Labels {
    BTreeMap::from([
        ("app".to_owned(), "web".to_owned()),
        ("version".to_owned(), version.to_owned()),
    ])
}

/// Applies `body` as the program's provider would (field manager
/// `dafnck`).
async fn declare<K>(api: Api<K>, body: serde_json::Value)
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = body["metadata"]["name"].as_str().unwrap().to_owned();
    api.patch(&name, &PatchParams::apply("dafnck"), &Patch::Apply(body))
        .await
        .unwrap();
}

impl Rig {
    async fn new() -> Rig {
        let server = dafnck_kube_fake::spawn().expect("the fake API server starts");
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = server
            .write_kubeconfig(dir.path().join("kubeconfig"))
            .unwrap();
        // The routers' own way to a cluster: a kubeconfig.
        let cluster = Cluster::from_kubeconfig(&kubeconfig, None);
        let client = cluster
            .client()
            .await
            .expect("a client from the kubeconfig");
        declare(
            Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone()),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
        )
        .await;
        declare(
            Api::<Service>::namespaced(client.clone(), NS),
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web", "namespace": NS},
                "spec": {"selector": labels("v1"),
                         "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
            }),
        )
        .await;
        declare(
            Api::<Ingress>::namespaced(client.clone(), NS),
            json!({
                "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": "web", "namespace": NS},
                "spec": {"ingressClassName": "nginx", "rules": [{"host": "shop.example", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix",
                     "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]},
            }),
        )
        .await;
        Rig {
            _server: server,
            client,
            cluster,
            _dir: dir,
        }
    }

    fn canary_router(&self) -> IngressCanaryRouter {
        IngressCanaryRouter::new(
            self.cluster.clone(),
            NS,
            "web",
            "web",
            labels("v1"),
            labels("v2"),
        )
    }

    /// A canary rollout of v2 by `steps` through the ingress router.
    fn canary(&self, steps: &[u8]) -> TrafficRollout<MemoryFleet, IngressCanaryRouter> {
        TrafficRollout::canary(
            "web",
            &canary(steps),
            MemoryFleet::new(),
            self.canary_router(),
        )
        .unwrap()
    }

    fn switch_router(&self) -> ServiceSwitchRouter {
        ServiceSwitchRouter::new(self.cluster.clone(), NS, "web", labels("v1"), labels("v2"))
    }

    async fn ingress(&self, name: &str) -> Option<Ingress> {
        Api::<Ingress>::namespaced(self.client.clone(), NS)
            .get_opt(name)
            .await
            .unwrap()
    }

    async fn service(&self, name: &str) -> Option<Service> {
        Api::<Service>::namespaced(self.client.clone(), NS)
            .get_opt(name)
            .await
            .unwrap()
    }

    async fn selector(&self) -> Labels {
        self.service("web")
            .await
            .and_then(|s| s.spec)
            .and_then(|s| s.selector)
            .unwrap_or_default()
    }

    /// The canary Ingress's weight annotation, if the Ingress exists.
    async fn canary_weight(&self) -> Option<String> {
        let ingress = self.ingress("web-canary").await?;
        let a = ingress.metadata.annotations.unwrap_or_default();
        assert_eq!(
            a.get("nginx.ingress.kubernetes.io/canary")
                .map(String::as_str),
            Some("true"),
            "the canary Ingress is marked as one: {a:?}"
        );
        a.get("nginx.ingress.kubernetes.io/canary-weight").cloned()
    }

    /// What a watcher polling every 5 ms saw while `run` ran: each distinct
    /// (canary weight, serving selector's version) in order.
    async fn watching<T>(
        &self,
        run: impl std::future::Future<Output = T>,
    ) -> (T, Vec<(Option<String>, String)>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        // How it was before.
        self.look(&seen).await;
        let watch = async {
            loop {
                self.look(&seen).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        let out = tokio::select! {
            out = run => out,
            () = watch => unreachable!(),
        };
        // And how it was left.
        self.look(&seen).await;
        let seen = seen.lock().unwrap().clone();
        (out, seen)
    }

    /// Adds the (canary weight, serving version) now to `seen` if it
    /// changed.
    async fn look(&self, seen: &Mutex<Vec<(Option<String>, String)>>) {
        let now = (
            self.canary_weight().await,
            self.selector()
                .await
                .get("version")
                .cloned()
                .unwrap_or_default(),
        );
        let mut s = seen.lock().unwrap();
        if s.last() != Some(&now) {
            s.push(now);
        }
    }

    /// The serving Ingress still routes to Service `web` only.
    async fn serving_ingress_is_untouched(&self) {
        let ingress = self.ingress("web").await.expect("the serving Ingress");
        let rules = serde_json::to_value(ingress.spec.unwrap().rules).unwrap();
        assert_eq!(
            rules[0]["http"]["paths"][0]["backend"]["service"]["name"],
            "web"
        );
        assert!(ingress.metadata.annotations.unwrap_or_default().is_empty());
    }
}

fn canary(steps: &[u8]) -> Canary {
    Canary {
        analysis_interval: Duration::from_millis(50),
        ..Canary::with_steps(
            steps
                .iter()
                .map(|w| Step::new(*w, Duration::from_millis(300))),
        )
    }
}

fn weight(w: Option<&str>, version: &str) -> (Option<String>, String) {
    (w.map(str::to_owned), version.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_moves_the_canary_ingress_weight_step_by_step_then_switches_the_service() {
    let rig = Rig::new().await;
    let mut rollout = rig.canary(&[20, 50]);
    let (done, seen) = rig.watching(rollout.run(None)).await;
    assert_eq!(done.unwrap().phase, Phase::Completed);
    // Promotion gives the canary 100%, points the serving Service at v2,
    // then deletes the canary: the 100% states may be too brief to see.
    let steps: Vec<_> = seen
        .iter()
        .filter(|s| s.0.as_deref() != Some("100"))
        .cloned()
        .collect();
    assert_eq!(
        steps,
        vec![
            weight(None, "v1"),
            weight(Some("20"), "v1"),
            weight(Some("50"), "v1"),
            weight(None, "v2"),
        ],
        "the canary Ingress's weights in order: {seen:?}"
    );
    assert!(rig.ingress("web-canary").await.is_none());
    assert!(rig.service("web-canary").await.is_none());
    assert_eq!(rig.selector().await, labels("v2"));
    rig.serving_ingress_is_untouched().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_canary_objects_copy_the_serving_rules_and_ports_onto_the_new_pods() {
    let rig = Rig::new().await;
    rig.canary_router()
        .set_weights(Weights::to_new(30))
        .await
        .unwrap();
    let ingress = rig.ingress("web-canary").await.unwrap();
    let spec = serde_json::to_value(ingress.spec.unwrap()).unwrap();
    assert_eq!(spec["ingressClassName"], "nginx");
    let path = &spec["rules"][0]["http"]["paths"][0];
    assert_eq!(spec["rules"][0]["host"], "shop.example");
    assert_eq!(path["path"], "/");
    assert_eq!(path["backend"]["service"]["name"], "web-canary");
    assert_eq!(path["backend"]["service"]["port"]["number"], 80);
    let service = rig.service("web-canary").await.unwrap().spec.unwrap();
    assert_eq!(service.selector.unwrap(), labels("v2"));
    let ports = serde_json::to_value(service.ports.unwrap()).unwrap();
    assert_eq!(
        (
            &ports[0]["name"],
            &ports[0]["port"],
            &ports[0]["targetPort"]
        ),
        (&json!("http"), &json!(80), &json!(8080))
    );
    // Written by the router's own field manager.
    let managers: Vec<String> = ingress
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(managers, vec![FIELD_MANAGER.to_owned()]);
    // The serving objects are as they were.
    assert_eq!(rig.selector().await, labels("v1"));
    rig.serving_ingress_is_untouched().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_analysis_rolls_back_and_deletes_the_canary_objects() {
    let rig = Rig::new().await;
    let mut rollout = rig
        .canary(&[20, 50])
        .analysis(AnalysisSet::new().with(Script::always(fail("5xx at 40%"))));
    let (done, seen) = rig.watching(rollout.run(None)).await;
    let done = done.unwrap();
    assert_eq!(done.phase, Phase::RolledBack, "{done:?}");
    assert_eq!(
        seen,
        vec![
            weight(None, "v1"),
            weight(Some("20"), "v1"),
            weight(None, "v1")
        ],
        "20% and no more, then the canary gone"
    );
    assert!(rig.service("web-canary").await.is_none());
    assert_eq!(rig.selector().await, labels("v1"));
    rig.serving_ingress_is_untouched().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_after_an_interrupted_promotion_puts_the_service_back_on_the_stable_pods() {
    let rig = Rig::new().await;
    let router = rig.canary_router();
    router.set_weights(Weights::to_new(50)).await.unwrap();
    // What a run that died inside the promotion leaves: the serving
    // Service on v2, the canary still there.
    ServiceSwitchRouter::new(rig.cluster.clone(), NS, "web", labels("v1"), labels("v2"))
        .set_weights(Weights::to_new(100))
        .await
        .unwrap();
    assert_eq!(rig.selector().await, labels("v2"));
    router.set_weights(Weights::to_new(0)).await.unwrap();
    assert_eq!(rig.selector().await, labels("v1"));
    assert!(rig.ingress("web-canary").await.is_none());
    assert!(rig.service("web-canary").await.is_none());
    // Idempotent.
    router.set_weights(Weights::to_new(0)).await.unwrap();
    assert_eq!(rig.selector().await, labels("v1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blue_green_switches_the_service_selector_and_switches_back_on_rollback() {
    let rig = Rig::new().await;
    let policy = BlueGreen {
        pre_switch_analysis: Duration::ZERO,
        rollback_window: Duration::from_millis(300),
        analysis_interval: Duration::from_millis(50),
        ..BlueGreen::default()
    };
    // Promoted: the Service selects v2.
    let mut rollout =
        TrafficRollout::blue_green("web", &policy, MemoryFleet::new(), rig.switch_router())
            .unwrap();
    let (done, seen) = rig.watching(rollout.run(None)).await;
    assert_eq!(done.unwrap().phase, Phase::Completed);
    assert_eq!(seen, vec![weight(None, "v1"), weight(None, "v2")]);

    // v3 fails in its rollback window: switched to v3, then back to v2.
    let router =
        ServiceSwitchRouter::new(rig.cluster.clone(), NS, "web", labels("v2"), labels("v3"));
    let mut rollout = TrafficRollout::blue_green("web", &policy, MemoryFleet::new(), router)
        .unwrap()
        .analysis(
            AnalysisSet::new().with(Script::new(vec![Verdict::Pass], fail("p99 latency 2 s"))),
        );
    let (done, seen) = rig.watching(rollout.run(None)).await;
    assert_eq!(done.unwrap().phase, Phase::RolledBack);
    assert_eq!(
        seen,
        vec![weight(None, "v2"), weight(None, "v3"), weight(None, "v2")]
    );
    assert!(
        rig.ingress("web-canary").await.is_none(),
        "no canary objects"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_routers_refuse_what_they_cannot_do_naming_the_object() {
    let rig = Rig::new().await;
    let err = rig
        .switch_router()
        .set_weights(Weights::to_new(30))
        .await
        .unwrap_err();
    assert!(
        err.contains("Service shop/web") && err.contains("30%"),
        "{err}"
    );
    assert_eq!(rig.selector().await, labels("v1"), "nothing switched");

    let missing = IngressCanaryRouter::new(
        rig.cluster.clone(),
        NS,
        "api",
        "web",
        labels("v1"),
        labels("v2"),
    );
    let err = missing.set_weights(Weights::to_new(20)).await.unwrap_err();
    assert!(
        err.contains("Ingress shop/api") && err.contains("not found"),
        "{err}"
    );

    // An Ingress whose rules route elsewhere would give the new version
    // nothing: refused.
    let elsewhere = IngressCanaryRouter::new(
        rig.cluster.clone(),
        NS,
        "web",
        "other",
        labels("v1"),
        labels("v2"),
    );
    declare(
        Api::<Service>::namespaced(rig.client.clone(), NS),
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "other", "namespace": NS},
            "spec": {"selector": labels("v1"), "ports": [{"port": 80}]}}),
    )
    .await;
    let err = elsewhere
        .set_weights(Weights::to_new(20))
        .await
        .unwrap_err();
    assert!(
        err.contains("Ingress shop/web") && err.contains("no backend routes to Service other"),
        "{err}"
    );

    let nowhere = Cluster::from_kubeconfig("/nonexistent/kubeconfig", None);
    let err = ServiceSwitchRouter::new(nowhere, NS, "web", labels("v1"), labels("v2"))
        .set_weights(Weights::to_new(100))
        .await
        .unwrap_err();
    assert!(err.contains("kubeconfig /nonexistent/kubeconfig"), "{err}");
}
