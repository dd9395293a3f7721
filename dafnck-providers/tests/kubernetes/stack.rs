//! A web stack through the engine: a namespace, a ConfigMap, a Secret, a
//! Deployment, a Service, an Ingress and an autoscaler go up; the Secret's
//! value is never in a plan, a drift report or the state; replicas the
//! autoscaler sets are not drift; destroy leaves nothing.

use dafnck_core::prelude::*;
use dafnck_providers::kubernetes::{
    ConfigMap, Deployment, HorizontalPodAutoscaler, Ingress, Namespace, ObjectOutputs, Secret,
    Service,
};
use serde_json::json;

use super::conformance::deployment_spec;
use super::support::{by, cluster, outputs, unique};

const PASSWORD: &str = "correct-horse-battery-staple";

fn spec<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("a spec")
}

fn program(ns: String, password: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let ns = stack.add(
            "ns",
            Namespace {
                name: ns.clone(),
                ..Default::default()
            },
        );
        stack.add(
            "config",
            ConfigMap {
                name: "web-config".into(),
                namespace: ns.out().name,
                data: [("GREETING".to_string(), "hello".to_string())].into(),
                ..Default::default()
            },
        );
        stack.add(
            "creds",
            Secret {
                name: "web-creds".into(),
                namespace: ns.out().name,
                data: [(
                    "DB_PASSWORD".to_string(),
                    dafnck_core::Secret::new(password.to_string()).into(),
                )]
                .into(),
                ..Default::default()
            },
        );
        let web = stack.add(
            "web",
            Deployment {
                name: "web".into(),
                namespace: ns.out().name,
                spec: deployment_spec("nginx:1.27", None),
                ..Default::default()
            },
        );
        stack.add("svc", Service {
            name: "web".into(),
            namespace: ns.out().name,
            spec: spec(json!({"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]})),
            ..Default::default()
        });
        stack.add(
            "ingress",
            Ingress {
                name: "web".into(),
                namespace: ns.out().name,
                spec: spec(
                    json!({"rules": [{"host": "web.example.com", "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}),
                ),
                ..Default::default()
            },
        );
        stack.add_with("hpa", HorizontalPodAutoscaler {
            name: "web".into(),
            namespace: ns.out().name,
            spec: spec(json!({
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2, "maxReplicas": 100,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                             "target": {"type": "Utilization", "averageUtilization": 70}}}]
            })),
            ..Default::default()
        }, Options::new().depends_on(&web));
        Ok(())
    }
}

#[tokio::test]
async fn a_web_stack_goes_up_keeps_its_secret_and_is_destroyed() {
    let Some(c) = cluster("a_web_stack_goes_up").await else {
        return;
    };
    let name = unique("web-stack");
    let engine = c.engine();
    let preview = engine
        .preview(program(name.clone(), PASSWORD), false)
        .await
        .unwrap();
    assert_eq!(preview.plan.changes.len(), 7, "{}", preview.plan.render());
    assert!(
        !preview.plan.render().contains(PASSWORD),
        "{}",
        preview.plan.render()
    );

    let report = engine
        .up(program(name.clone(), PASSWORD), false)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(!format!("{report:?}").contains(PASSWORD));
    let web: ObjectOutputs = outputs(&engine, "web").await;
    assert_eq!(
        (web.name.as_str(), web.namespace.as_str()),
        ("web", name.as_str())
    );
    assert!(!web.uid.is_empty());
    // The cluster has the secret's value, base64-encoded; the state not.
    let secrets =
        kube::Api::<k8s_openapi::api::core::v1::Secret>::namespaced(c.client.clone(), &name);
    let s = secrets.get("web-creds").await.unwrap();
    assert_eq!(s.data.unwrap()["DB_PASSWORD"].0, PASSWORD.as_bytes());
    let state = engine.state().await.unwrap();
    assert!(!format!("{state:?}").contains(PASSWORD));

    // The autoscaler (or, on a real cluster without metrics, someone in
    // its place) scales the deployment: not drift.
    let deployments =
        kube::Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(c.client.clone(), &name);
    deployments
        .patch_scale(
            "web",
            &by("horizontal-pod-autoscaler"),
            &kube::api::Patch::Merge(json!({"spec": {"replicas": 7}})),
        )
        .await
        .unwrap();
    let drift = engine.drift().await.unwrap();
    assert!(!drift.has_drift(), "{}", drift.render());

    // A new password: an update, shown as a secret.
    let preview = engine
        .preview(program(name.clone(), "another-one"), true)
        .await
        .unwrap();
    assert!(preview.plan.has_changes());
    let text = preview.plan.render();
    assert!(
        !text.contains(PASSWORD) && !text.contains("another-one"),
        "{text}"
    );
    engine
        .up(program(name.clone(), "another-one"), false)
        .await
        .unwrap();
    let s = secrets.get("web-creds").await.unwrap();
    assert_eq!(s.data.unwrap()["DB_PASSWORD"].0, b"another-one");
    assert_eq!(
        deployments.get("web").await.unwrap().spec.unwrap().replicas,
        Some(7)
    );

    let report = engine.destroy().await.unwrap();
    assert!(report.is_success(), "{report:?}");
    let namespaces = kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(c.client.clone());
    assert!(namespaces.get_opt(&name).await.unwrap().is_none());
    c.end().await;
}
