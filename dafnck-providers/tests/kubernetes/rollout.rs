//! Readiness: a Deployment's create and update return only once its
//! rollout is done, and a rollout past its progress deadline fails with
//! the deployment's name and the `Progressing` condition's message.

use dafnck_core::prelude::*;
use dafnck_core::provider::{CreateRequest, UpdateRequest};
use dafnck_core::Provider as _;
use dafnck_core::Value;
use dafnck_providers::kubernetes::Deployment;
use serde_json::json;

use super::conformance::deployment_spec;
use super::support::cluster;

fn web(ns: &str, image: &str) -> Value {
    Value::from_serialize(&Deployment {
        name: "web".into(),
        namespace: ns.to_owned().into(),
        spec: deployment_spec(image, Some(3)),
        ..Default::default()
    })
    .unwrap()
}

/// Whether the live deployment's rollout of its latest spec is done.
fn done(live: &serde_json::Value) -> bool {
    let s = &live["status"];
    s["observedGeneration"] == live["metadata"]["generation"]
        && s["updatedReplicas"] == 3
        && s["availableReplicas"] == 3
        && s["replicas"] == 3
}

#[tokio::test]
async fn create_and_update_return_once_the_rollout_is_done() {
    let Some(c) = cluster("create_and_update_return_once_the_rollout").await else {
        return;
    };
    let deployments = c.api("apps/v1", "Deployment", "deployments");
    let created = c
        .provider
        .create(CreateRequest {
            name: "web".into(),
            stack: "test".into(),
            type_name: <Deployment as Resource>::TYPE.into(),
            inputs: web(&c.namespace, "nginx:1.26"),
            token: "t-1".into(),
        })
        .await
        .unwrap();
    let live = c.get(&deployments, "web").await.unwrap();
    assert!(
        done(&live),
        "the create returned before the rollout was done: {}",
        live["status"]
    );

    c.provider
        .update(UpdateRequest {
            name: "web".into(),
            stack: "test".into(),
            type_name: <Deployment as Resource>::TYPE.into(),
            id: created.id.clone(),
            old_inputs: web(&c.namespace, "nginx:1.26"),
            new_inputs: web(&c.namespace, "nginx:1.27"),
            old_outputs: created.outputs.clone(),
            changed: vec!["spec".into()],
        })
        .await
        .unwrap();
    let live = c.get(&deployments, "web").await.unwrap();
    assert_eq!(live["metadata"]["generation"], 2);
    assert!(
        done(&live),
        "the update returned before the rollout was done: {}",
        live["status"]
    );
    c.end().await;
}

#[tokio::test]
async fn a_stalled_rollout_fails_with_the_progressing_condition() {
    let Some(c) = cluster("a_stalled_rollout_fails").await else {
        return;
    };
    // An image that cannot be pulled never becomes available (on a real
    // cluster); the fake is told to stall by the annotation.
    let mut spec = deployment_spec("registry.invalid/dafnck/never:1", Some(1));
    spec.progress_deadline_seconds = Some(1);
    let inputs = Value::from_serialize(&Deployment {
        name: "stuck".into(),
        namespace: c.namespace.clone().into(),
        annotations: [("fake.dafnck.dev/rollout".to_string(), "stall".to_string())].into(),
        spec,
        ..Default::default()
    })
    .unwrap();
    let e = c
        .provider
        .create(CreateRequest {
            name: "stuck".into(),
            stack: "test".into(),
            type_name: <Deployment as Resource>::TYPE.into(),
            inputs,
            token: "t-1".into(),
        })
        .await
        .unwrap_err();
    assert!(!e.retryable);
    assert!(e.message.contains("deployment \"stuck\""), "{}", e.message);
    assert!(
        e.message.contains("ProgressDeadlineExceeded"),
        "{}",
        e.message
    );
    // The condition's own message, as the controller wrote it.
    let live = c
        .get(&c.api("apps/v1", "Deployment", "deployments"), "stuck")
        .await
        .unwrap();
    let condition = live["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Progressing")
        .cloned()
        .unwrap_or(json!({}));
    let message = condition["message"].as_str().unwrap();
    assert!(!message.is_empty());
    assert!(
        e.message.contains(message),
        "{} lacks {message:?}",
        e.message
    );
    c.end().await;
}
