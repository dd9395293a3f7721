//! Every kubernetes type passes the provider conformance suite; changes
//! and deletes out of band are made by another client, as `kubectl edit`
//! and `kubectl delete` would.

use async_trait::async_trait;
use dafnck_core::prelude::*;
use dafnck_core::provider::Observed;
use dafnck_core::testing::conformance::{conformance, OutOfBand, Sample};
use dafnck_providers::kubernetes::{
    ConfigMap, Deployment, HorizontalPodAutoscaler, Ingress, Manifest, Namespace, Secret, Service,
};
use kube::api::{Api, DeleteParams, DynamicObject, Patch};
use serde_json::{json, Value as Json};

use super::support::{by, cluster, unique, SOMEONE};

/// Someone else at the cluster, for one kind.
struct Console {
    api: Api<DynamicObject>,
    /// A merge patch that changes a field the sample sets.
    change: Json,
}

fn object_name(found: &Observed) -> String {
    found
        .outputs
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

#[async_trait]
impl OutOfBand for Console {
    async fn change(&self, found: &Observed) -> Result<bool, String> {
        self.api
            .patch(
                &object_name(found),
                &by(SOMEONE),
                &Patch::Merge(&self.change),
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(true)
    }

    /// Deletes the object and waits until it is gone (a namespace
    /// terminates first).
    async fn delete(&self, found: &Observed) -> Result<(), String> {
        let name = object_name(found);
        self.api
            .delete(&name, &DeleteParams::default())
            .await
            .map_err(|e| e.to_string())?;
        for _ in 0..600 {
            if self
                .api
                .get_opt(&name)
                .await
                .map_err(|e| e.to_string())?
                .is_none()
            {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Err(format!("{name} is still there a minute after its delete"))
    }
}

fn spec<T: serde::de::DeserializeOwned>(v: Json) -> T {
    serde_json::from_value(v).expect("a spec")
}

pub(crate) fn deployment_spec(
    image: &str,
    replicas: Option<i32>,
) -> k8s_openapi::api::apps::v1::DeploymentSpec {
    let mut s = json!({
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "web", "image": image,
                                              "ports": [{"containerPort": 8080}]}]}}
    });
    if let Some(r) = replicas {
        s["replicas"] = json!(r);
    }
    spec(s)
}

fn ingress_spec(host: &str) -> k8s_openapi::api::networking::v1::IngressSpec {
    spec(json!({"rules": [{"host": host, "http": {"paths": [{
        "path": "/", "pathType": "Prefix",
        "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}))
}

fn hpa_spec(max: i32) -> k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerSpec {
    spec(json!({
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 2, "maxReplicas": max,
        "metrics": [
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
            {"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 80}}}
        ]
    }))
}

#[tokio::test]
async fn every_kubernetes_type_passes_the_conformance_suite() {
    let Some(c) = cluster("every_kubernetes_type_passes_the_conformance_suite").await else {
        return;
    };
    let ns: Input<String> = c.namespace.clone().into();
    let console = |api_version: &str, kind: &str, plural: &str, change: Json| Console {
        api: c.api(api_version, kind, plural),
        change,
    };
    let labels = |v: &str| [("tier".to_string(), v.to_string())].into();
    let secret =
        |v: &str| -> std::collections::BTreeMap<String, Input<dafnck_core::Secret<String>>> {
            [(
                "password".to_string(),
                dafnck_core::Secret::new(v.to_string()).into(),
            )]
            .into()
        };
    let cm = |v: &str| ConfigMap {
        name: "settings".into(),
        namespace: ns.clone(),
        data: [("mode".to_string(), v.to_string())].into(),
        ..Default::default()
    };
    let manifest = |v: &str| {
        let object: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": "generic", "namespace": c.namespace},
            "data": {"mode": v}
        }))
        .unwrap();
        Manifest::of(&object).expect("a manifest")
    };
    let namespace = unique("conf-ns");
    let samples = vec![
        Sample::new(
            Namespace {
                name: namespace.clone(),
                labels: labels("a"),
                ..Default::default()
            },
            Namespace {
                name: namespace.clone(),
                labels: labels("b"),
                ..Default::default()
            },
            console(
                "v1",
                "Namespace",
                "namespaces",
                json!({"metadata": {"labels": {"tier": "by-hand"}}}),
            ),
        ),
        Sample::new(
            cm("a"),
            cm("b"),
            console(
                "v1",
                "ConfigMap",
                "configmaps",
                json!({"data": {"mode": "by-hand"}}),
            ),
        ),
        Sample::new(
            Secret {
                name: "creds".into(),
                namespace: ns.clone(),
                data: secret("one"),
                ..Default::default()
            },
            Secret {
                name: "creds".into(),
                namespace: ns.clone(),
                data: secret("two"),
                ..Default::default()
            },
            // "by-hand", base64-encoded.
            console(
                "v1",
                "Secret",
                "secrets",
                json!({"data": {"password": "YnktaGFuZA=="}}),
            ),
        ),
        Sample::new(
            Deployment {
                name: "web".into(),
                namespace: ns.clone(),
                spec: deployment_spec("nginx:1.26", Some(2)),
                ..Default::default()
            },
            Deployment {
                name: "web".into(),
                namespace: ns.clone(),
                spec: deployment_spec("nginx:1.27", Some(2)),
                ..Default::default()
            },
            console(
                "apps/v1",
                "Deployment",
                "deployments",
                json!({"spec": {"replicas": 3}}),
            ),
        ),
        Sample::new(
            Service {
                name: "web".into(),
                namespace: ns.clone(),
                spec: spec(
                    json!({"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}),
                ),
                ..Default::default()
            },
            Service {
                name: "web".into(),
                namespace: ns.clone(),
                spec: spec(
                    json!({"selector": {"app": "web"}, "ports": [{"port": 8080, "targetPort": 8080}]}),
                ),
                ..Default::default()
            },
            console(
                "v1",
                "Service",
                "services",
                json!({"spec": {"selector": {"app": "by-hand"}}}),
            ),
        ),
        Sample::new(
            Ingress {
                name: "web".into(),
                namespace: ns.clone(),
                spec: ingress_spec("a.example.com"),
                ..Default::default()
            },
            Ingress {
                name: "web".into(),
                namespace: ns.clone(),
                spec: ingress_spec("b.example.com"),
                ..Default::default()
            },
            console(
                "networking.k8s.io/v1",
                "Ingress",
                "ingresses",
                json!({"spec": {"rules": []}}),
            ),
        ),
        Sample::new(
            HorizontalPodAutoscaler {
                name: "web".into(),
                namespace: ns.clone(),
                spec: hpa_spec(10),
                ..Default::default()
            },
            HorizontalPodAutoscaler {
                name: "web".into(),
                namespace: ns.clone(),
                spec: hpa_spec(100),
                ..Default::default()
            },
            console(
                "autoscaling/v2",
                "HorizontalPodAutoscaler",
                "horizontalpodautoscalers",
                json!({"spec": {"maxReplicas": 5}}),
            ),
        ),
        Sample::new(
            manifest("a"),
            manifest("b"),
            console(
                "v1",
                "ConfigMap",
                "configmaps",
                json!({"data": {"mode": "by-hand"}}),
            ),
        ),
    ];
    let result = conformance(&c.provider, &samples).await;
    c.end().await;
    if let Err(failures) = result {
        panic!("{failures}");
    }
}
