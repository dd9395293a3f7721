//! The generic `Manifest`: a kind found by discovery, namespaced or not,
//! and clear errors for a kind the cluster does not serve or a namespace
//! where none belongs.

use dafnck_core::prelude::*;
use dafnck_core::provider::{CreateRequest, ReadRequest};
use dafnck_core::Provider as _;
use dafnck_core::Value;
use dafnck_providers::kubernetes::Manifest;
use serde_json::json;

use super::support::{cluster, unique};

fn create(m: &Manifest, token: &str) -> CreateRequest {
    CreateRequest {
        name: "generic".into(),
        stack: "test".into(),
        type_name: <Manifest as Resource>::TYPE.into(),
        inputs: Value::from_serialize(m).unwrap(),
        token: token.into(),
    }
}

#[tokio::test]
async fn a_manifest_applies_any_served_kind_and_names_what_is_wrong() {
    let Some(c) = cluster("a_manifest_applies_any_served_kind").await else {
        return;
    };
    // A cluster-wide kind.
    let name = unique("generic-ns");
    let ns = Manifest {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        name: name.clone(),
        labels: [("team".to_string(), "a".to_string())].into(),
        ..Default::default()
    };
    let made = c.provider.create(create(&ns, "t-1")).await.unwrap();
    assert_eq!(made.id, name);
    let found = c
        .provider
        .read(ReadRequest {
            name: "generic".into(),
            stack: "test".into(),
            type_name: <Manifest as Resource>::TYPE.into(),
            id: Some(made.id.clone()),
            token: None,
            inputs: Value::from_serialize(&ns).unwrap(),
        })
        .await
        .unwrap()
        .expect("found");
    assert_eq!(found.inputs, Value::from_serialize(&ns).unwrap());

    // A namespaced kind with its body.
    let svc = Manifest {
        api_version: "v1".into(),
        kind: "Service".into(),
        name: "web".into(),
        namespace: c.namespace.clone().into(),
        body: [(
            "spec".to_string(),
            json!({"selector": {"app": "web"}, "ports": [{"port": 80}]}),
        )]
        .into(),
        ..Default::default()
    };
    c.provider.create(create(&svc, "t-2")).await.unwrap();
    let live = c
        .get(&c.api("v1", "Service", "services"), "web")
        .await
        .unwrap();
    assert_eq!(live["spec"]["ports"][0]["port"], 80);

    // What is wrong is named.
    let e = c
        .provider
        .create(create(
            &Manifest {
                namespace: "".into(),
                ..svc.clone()
            },
            "t-3",
        ))
        .await
        .unwrap_err();
    assert!(e.message.contains("Service is namespaced"), "{}", e.message);
    let e = c
        .provider
        .create(create(
            &Manifest {
                namespace: c.namespace.clone().into(),
                ..ns.clone()
            },
            "t-4",
        ))
        .await
        .unwrap_err();
    assert!(
        e.message.contains("Namespace is cluster-wide"),
        "{}",
        e.message
    );
    let e = c
        .provider
        .create(create(
            &Manifest {
                api_version: "example.com/v1".into(),
                kind: "Widget".into(),
                ..svc.clone()
            },
            "t-5",
        ))
        .await
        .unwrap_err();
    assert!(
        e.message
            .contains("kubernetes:generic:Manifest \"generic\""),
        "{}",
        e.message
    );
    assert!(e.message.contains("example.com/v1 Widget"), "{}", e.message);

    let _ = kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(c.client.clone())
        .delete(&name, &Default::default())
        .await;
    c.end().await;
}
