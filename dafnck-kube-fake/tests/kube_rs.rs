//! The fake API server driven by kube-rs, the client the `kubernetes`
//! provider will use: discovery (both forms), server-side apply with typed
//! k8s-openapi objects, conflicts as kube's `Status` errors, a rollout
//! awaited with kube-runtime's condition, watches through kube-runtime's
//! watcher, and deletes answered as kube expects.

mod support;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube::runtime::watcher;
use kube::{Client, Config, Discovery};
use serde_json::json;
use std::time::Duration;
use support::Fake;

async fn client(fake: &Fake) -> Client {
    // A workspace build with every feature gives rustls both providers.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kubeconfig = Kubeconfig::read_from(&fake.kubeconfig).expect("the kubeconfig parses");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kube reads the kubeconfig");
    Client::try_from(config).expect("a kube client")
}

fn deployment(replicas: i32, image: &str) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": image}]}}
        }
    }))
    .expect("a Deployment")
}

#[tokio::test]
async fn kube_rs_discovers_the_served_kinds_both_ways() {
    let fake = Fake::still();
    let client = client(&fake).await;
    for discovery in [
        Discovery::new(client.clone())
            .run()
            .await
            .expect("unaggregated discovery"),
        Discovery::new(client.clone())
            .run_aggregated()
            .await
            .expect("aggregated discovery"),
    ] {
        let kinds: Vec<String> = discovery
            .groups()
            .flat_map(|g| g.recommended_resources())
            .map(|(r, _)| r.kind)
            .collect();
        for kind in [
            "Namespace",
            "ConfigMap",
            "Secret",
            "Service",
            "Deployment",
            "Ingress",
            "HorizontalPodAutoscaler",
        ] {
            assert!(
                kinds.iter().any(|k| k == kind),
                "{kind} missing from {kinds:?}"
            );
        }
    }
}

#[tokio::test]
async fn kube_rs_applies_awaits_a_rollout_meets_conflicts_and_deletes() {
    let fake = Fake::start();
    let client = client(&fake).await;
    let ours = PatchParams::apply("dafnck");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
    )
    .unwrap();
    namespaces
        .patch("shop", &ours, &Patch::Apply(&ns))
        .await
        .expect("the namespace is applied");

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "shop");
    let applied = deployments
        .patch("web", &ours, &Patch::Apply(&deployment(3, "demo:1")))
        .await
        .expect("the deployment is applied");
    assert_eq!(applied.metadata.generation, Some(1));
    let managers: Vec<String> = applied
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(managers, ["dafnck"]);

    let done = await_condition(
        deployments.clone(),
        "web",
        conditions::is_deployment_completed(),
    );
    let done = tokio::time::timeout(Duration::from_secs(20), done)
        .await
        .expect("the rollout completes within 20 s")
        .expect("the condition is awaited")
        .expect("the deployment exists");
    assert_eq!(done.status.and_then(|s| s.available_replicas), Some(3));

    // Another manager owns replicas after an update; our apply of another
    // value is a conflict kube reports as a 409 Status.
    let theirs = PatchParams {
        field_manager: Some("autoscaler".into()),
        ..PatchParams::default()
    };
    deployments
        .patch(
            "web",
            &theirs,
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .expect("the merge patch is taken");
    let err = deployments
        .patch("web", &ours, &Patch::Apply(&deployment(3, "demo:2")))
        .await
        .expect_err("a conflict");
    match err {
        kube::Error::Api(status) => {
            assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
            assert!(
                status.message.contains("conflict with \"autoscaler\""),
                "{}",
                status.message
            );
        }
        other => panic!("expected an API error, got {other}"),
    }
    let forced = deployments
        .patch(
            "web",
            &ours.clone().force(),
            &Patch::Apply(&deployment(3, "demo:2")),
        )
        .await
        .expect("a forced apply");
    assert_eq!(forced.spec.and_then(|s| s.replicas), Some(3));

    // Deletes: an object that goes at once answers a Status (kube's Right).
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "shop");
    let cm: ConfigMap = serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}})).unwrap();
    config_maps
        .patch("c", &ours, &Patch::Apply(&cm))
        .await
        .expect("the config map is applied");
    let deleted = config_maps
        .delete("c", &DeleteParams::default())
        .await
        .expect("the delete is taken");
    assert!(deleted.is_right(), "a deleted object answers a Status");
    assert!(config_maps.get_opt("c").await.expect("a read").is_none());
}

#[tokio::test]
async fn kube_runtime_watcher_lists_then_streams_changes() {
    let fake = Fake::still();
    let client = client(&fake).await;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm = |name: &str| -> ConfigMap {
        serde_json::from_value(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}),
        )
        .unwrap()
    };
    config_maps
        .patch(
            "first",
            &PatchParams::apply("dafnck"),
            &Patch::Apply(&cm("first")),
        )
        .await
        .unwrap();
    let mut events = watcher(config_maps.clone(), watcher::Config::default()).boxed();
    let mut seen = Vec::new();
    let writer = config_maps.clone();
    let collect = async {
        while let Some(event) = events.try_next().await.expect("the watch streams") {
            match event {
                watcher::Event::InitApply(c) => {
                    seen.push(format!("init {}", c.metadata.name.unwrap()))
                }
                watcher::Event::InitDone => {
                    seen.push("init done".into());
                    writer
                        .patch(
                            "second",
                            &PatchParams::apply("dafnck"),
                            &Patch::Apply(&cm("second")),
                        )
                        .await
                        .unwrap();
                }
                watcher::Event::Apply(c) => {
                    seen.push(format!("apply {}", c.metadata.name.unwrap()));
                    return;
                }
                watcher::Event::Delete(_) | watcher::Event::Init => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), collect)
        .await
        .expect("the watcher sees the change");
    assert_eq!(seen, ["init first", "init done", "apply second"]);
}
