//! Server-side apply: dafnck owns only the fields it sets. Another
//! manager's fields (replicas scaled, a label added, a ConfigMap key of
//! theirs) are not drift; a field dafnck sets, changed by another manager,
//! is drift, and `up --refresh` takes it back while leaving theirs alone.
//! Creates are idempotent by name: a create's own object is adopted, an
//! object dafnck did not make is a clear error.

use dafnck_core::prelude::*;
use dafnck_core::provider::CreateRequest;
use dafnck_core::Provider as _;
use dafnck_core::Value;
use dafnck_providers::kubernetes::{
    ConfigMap, Deployment, FIELD_MANAGER, MANAGED_BY_LABEL, TOKEN_ANNOTATION,
};
use kube::api::{Patch, PostParams};
use serde_json::json;

use super::conformance::deployment_spec;
use super::support::{by, cluster, SOMEONE};

fn program(ns: String, image: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        stack.add(
            "web",
            Deployment {
                name: "web".into(),
                namespace: ns.clone().into(),
                labels: [("app".to_string(), "web".to_string())].into(),
                // No replicas: an autoscaler's (or anyone's) business.
                spec: deployment_spec(image, None),
                ..Default::default()
            },
        );
        stack.add(
            "settings",
            ConfigMap {
                name: "settings".into(),
                namespace: ns.clone().into(),
                data: [("mode".to_string(), "fast".to_string())].into(),
                ..Default::default()
            },
        );
        Ok(())
    }
}

/// The managers owning field `path` (`f:` keys) of `object`.
fn owners(object: &serde_json::Value, path: &[&str]) -> Vec<String> {
    object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| {
            let mut at = &e["fieldsV1"];
            path.iter().all(|k| {
                at = &at[*k];
                !at.is_null()
            })
        })
        .filter_map(|e| e["manager"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn other_managers_fields_are_not_drift_and_ours_changed_by_them_are() {
    let Some(c) = cluster("other_managers_fields_are_not_drift").await else {
        return;
    };
    let engine = c.engine();
    let report = engine
        .up(program(c.namespace.clone(), "nginx:1.27"), false)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    let deployments = c.api("apps/v1", "Deployment", "deployments");
    let configmaps = c.api("v1", "ConfigMap", "configmaps");
    let live = c
        .get(&deployments, "web")
        .await
        .expect("the deployment exists");
    assert!(live["metadata"]["annotations"][TOKEN_ANNOTATION].is_string());
    assert_eq!(live["metadata"]["labels"][MANAGED_BY_LABEL], FIELD_MANAGER);
    assert_eq!(owners(&live, &["f:spec", "f:template"]), [FIELD_MANAGER]);

    // Someone scales it (as an autoscaler would), labels it, and adds a
    // key to the ConfigMap: theirs, not drift.
    c.edit(
        &deployments,
        "web",
        json!({"spec": {"replicas": 4}, "metadata": {"labels": {"team": "theirs"}}}),
    )
    .await;
    c.edit(
        &configmaps,
        "settings",
        json!({"data": {"extra": "theirs"}}),
    )
    .await;
    let drift = engine.drift().await.unwrap();
    assert!(!drift.has_drift(), "{}", drift.render());
    let preview = engine
        .preview(program(c.namespace.clone(), "nginx:1.27"), true)
        .await
        .unwrap();
    assert!(!preview.plan.has_changes(), "{}", preview.plan.render());

    // Someone changes the image dafnck set, and the ConfigMap's key: drift.
    deployments
        .patch(
            "web",
            &by(SOMEONE),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:by-hand"}]}}}})),
        )
        .await
        .unwrap();
    c.edit(&configmaps, "settings", json!({"data": {"mode": "slow"}}))
        .await;
    let drift = engine.drift().await.unwrap();
    assert_eq!(drift.drifted.len(), 2, "{}", drift.render());
    let fields: Vec<&str> = drift
        .get("web")
        .expect("web drifted")
        .fields
        .iter()
        .map(|f| f.field.as_str())
        .collect();
    assert_eq!(fields, ["spec"], "{}", drift.render());
    let fields: Vec<&str> = drift
        .get("settings")
        .expect("settings drifted")
        .fields
        .iter()
        .map(|f| f.field.as_str())
        .collect();
    assert_eq!(fields, ["data"], "{}", drift.render());

    // up --refresh takes ours back, and leaves theirs.
    let report = engine
        .up(program(c.namespace.clone(), "nginx:1.27"), true)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    let live = c.get(&deployments, "web").await.unwrap();
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    assert_eq!(live["spec"]["replicas"], 4, "replicas are not dafnck's");
    assert_eq!(live["metadata"]["labels"]["team"], "theirs");
    assert_eq!(live["metadata"]["labels"]["app"], "web");
    let cm = c.get(&configmaps, "settings").await.unwrap();
    assert_eq!(cm["data"], json!({"mode": "fast", "extra": "theirs"}));
    let drift = engine.drift().await.unwrap();
    assert!(!drift.has_drift(), "{}", drift.render());

    // A removed field of ours goes; theirs stays.
    let report = engine.destroy().await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(c.get(&deployments, "web").await.is_none());
    c.end().await;
}

#[tokio::test]
async fn a_create_adopts_its_own_object_and_refuses_anyone_elses() {
    let Some(c) = cluster("a_create_adopts_its_own_object").await else {
        return;
    };
    let create = |name: &str, token: &str| CreateRequest {
        name: "settings".into(),
        stack: "test".into(),
        type_name: <ConfigMap as Resource>::TYPE.into(),
        inputs: Value::from_serialize(&ConfigMap {
            name: name.into(),
            namespace: c.namespace.clone().into(),
            data: [("mode".to_string(), "fast".to_string())].into(),
            ..Default::default()
        })
        .unwrap(),
        token: token.into(),
    };
    let first = c.provider.create(create("mine", "token-1")).await.unwrap();
    // The same create again (its answer was lost): the same object.
    let again = c.provider.create(create("mine", "token-1")).await.unwrap();
    assert_eq!(again, first);
    // Another create of the same name: refused, naming the object.
    let e = c
        .provider
        .create(create("mine", "token-2"))
        .await
        .unwrap_err();
    assert!(!e.retryable);
    assert!(
        e.message
            .contains(&format!("ConfigMap {}/mine", c.namespace)),
        "{}",
        e.message
    );
    assert!(e.message.contains("already exists"), "{}", e.message);

    // An object someone else made: refused too, and left alone.
    let theirs: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "theirs"}, "data": {"mode": "theirs"}
    }))
    .unwrap();
    kube::Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(c.client.clone(), &c.namespace)
        .create(&PostParams::default(), &theirs)
        .await
        .unwrap();
    let e = c
        .provider
        .create(create("theirs", "token-3"))
        .await
        .unwrap_err();
    assert!(
        e.message.contains("kubernetes:core:ConfigMap \"settings\""),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("import it, or choose another name"),
        "{}",
        e.message
    );
    let cm = c
        .get(&c.api("v1", "ConfigMap", "configmaps"), "theirs")
        .await
        .unwrap();
    assert_eq!(cm["data"]["mode"], "theirs");
    c.end().await;
}
