//! Importing: a declaration with `import(id)` adopts an existing object
//! instead of creating one; an id that does not exist is a clear error; an
//! adopted object that differs from the program in an updatable field is
//! recorded as read, and the next `up` updates it.

use std::collections::BTreeMap;

use dafnck_core::resource::Resource;
use dafnck_core::testing::resources::Network;
use dafnck_core::testing::{FakeObject, FakeOp, TestStack};
use dafnck_core::{Action, Options, Stack, Value};

use crate::common::{apply_failure, count, network};

const NET_LINE: u32 = line!() + 6;

fn infra(id: &'static str, team: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let mut net = network("10.0.0.0/16");
        net.tags = BTreeMap::from([("team".to_string(), team.to_string())]);
        stack.add_with("net", net, Options::new().import(id));
        Ok(())
    }
}

/// An object made outside the program, as `infra(_, team)` would declare it.
fn existing(id: &str, team: &str) -> FakeObject {
    let mut net = network("10.0.0.0/16");
    net.tags = BTreeMap::from([("team".to_string(), team.to_string())]);
    let inputs = Value::from_serialize(&net).unwrap();
    let mut outputs = inputs.as_map().unwrap().clone();
    outputs.insert("network_id".into(), id.into());
    outputs.insert("arn".into(), format!("arn:legacy:{id}").into());
    FakeObject {
        id: id.into(),
        type_name: Network::TYPE.into(),
        name: "made-by-hand".into(),
        stack: String::new(),
        token: String::new(),
        inputs,
        outputs: Value::Map(outputs),
    }
}

#[tokio::test]
async fn an_existing_object_is_adopted_by_id_without_creating_anything() {
    let t = TestStack::new("dev");
    t.cloud().insert(existing("vpc-legacy", "core"));
    let plan = t.preview(infra("vpc-legacy", "core")).await.unwrap();
    let c = plan.change("net").unwrap();
    assert_eq!(c.action, Action::Import);
    assert_eq!(c.import_id.as_deref(), Some("vpc-legacy"));
    assert!(
        plan.render().contains("(import vpc-legacy)"),
        "{}",
        plan.render()
    );

    t.up(infra("vpc-legacy", "core")).await.unwrap();
    assert_eq!(count(t.cloud(), FakeOp::Create), 0);
    assert_eq!(count(t.cloud(), FakeOp::Update), 0);
    assert_eq!(t.cloud().objects().len(), 1);
    let state = t.state().await;
    let r = &state.resources["net"];
    assert_eq!(r.id, "vpc-legacy");
    assert_eq!(
        r.outputs.get("arn"),
        Some(&Value::from("arn:legacy:vpc-legacy"))
    );
    assert_eq!(
        t.outputs_of::<Network>("net").await.network_id.0,
        "vpc-legacy"
    );
    assert!(!t
        .preview(infra("vpc-legacy", "core"))
        .await
        .unwrap()
        .has_changes());
}

#[tokio::test]
async fn importing_an_id_that_does_not_exist_fails_clearly_and_records_nothing() {
    let t = TestStack::new("dev");
    t.cloud().insert(existing("vpc-legacy", "core"));
    let report = apply_failure(t.up(infra("vpc-nope", "core")).await);
    let failed: Vec<_> = report.failed().collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].name, "net");
    assert_eq!(failed[0].location.as_ref().map(|l| l.line), Some(NET_LINE));
    let text = report.to_string();
    assert!(
        text.contains("vpc-nope") && text.contains("fake:net:Network"),
        "{text}"
    );
    assert!(text.contains(&format!("{}:{NET_LINE}:", file!())), "{text}");
    assert!(text.contains("no") && text.contains("import"), "{text}");

    let state = t.state().await;
    assert!(state.resources.is_empty());
    assert!(state.pending.is_empty());
    assert_eq!(
        count(t.cloud(), FakeOp::Create),
        0,
        "no object is created instead"
    );
    assert_eq!(t.cloud().objects().len(), 1);
}

#[tokio::test]
async fn an_imported_object_that_differs_in_an_updatable_field_is_recorded_as_read_and_updated_next(
) {
    let t = TestStack::new("dev");
    t.cloud().insert(existing("vpc-legacy", "old-team"));
    t.up(infra("vpc-legacy", "core")).await.unwrap();
    assert_eq!(count(t.cloud(), FakeOp::Create), 0);
    assert_eq!(
        count(t.cloud(), FakeOp::Update),
        0,
        "an import updates nothing"
    );
    let team = |state: &dafnck_core::state::State| {
        state.resources["net"]
            .inputs
            .get("tags")
            .and_then(|t| t.get("team"))
            .cloned()
    };
    let state = t.state().await;
    assert_eq!(state.resources["net"].id, "vpc-legacy");
    assert_eq!(team(&state), Some(Value::from("old-team")));
    // The difference is what the next `up` changes.
    let plan = t.preview(infra("vpc-legacy", "core")).await.unwrap();
    assert_eq!(plan.change("net").unwrap().action, Action::Update);
    t.up(infra("vpc-legacy", "core")).await.unwrap();
    assert_eq!(count(t.cloud(), FakeOp::Update), 1);
    let obj = &t.cloud().objects()["vpc-legacy"];
    assert_eq!(
        obj.inputs.get("tags").and_then(|t| t.get("team")),
        Some(&Value::from("core"))
    );
    assert_eq!(team(&t.state().await), Some(Value::from("core")));
    assert!(!t
        .preview(infra("vpc-legacy", "core"))
        .await
        .unwrap()
        .has_changes());
}

#[tokio::test]
async fn an_import_that_would_force_a_replacement_is_refused_and_nothing_adopted() {
    let t = TestStack::new("dev");
    let mut obj = existing("vpc-legacy", "core");
    obj.inputs = Value::from_serialize(&network("172.16.0.0/12")).unwrap();
    t.cloud().insert(obj);
    let report = apply_failure(t.up(infra("vpc-legacy", "core")).await);
    let text = report.to_string();
    assert!(
        text.contains("refusing to import") && text.contains("cidr"),
        "{report}"
    );
    assert_eq!(count(t.cloud(), FakeOp::Delete), 0);
    assert_eq!(count(t.cloud(), FakeOp::Create), 0);
    assert_eq!(count(t.cloud(), FakeOp::Update), 0);
    assert!(
        !t.state().await.resources.contains_key("net"),
        "the object is not adopted"
    );
    assert_eq!(
        t.cloud().objects()["vpc-legacy"].inputs.get("cidr"),
        Some(&Value::from("172.16.0.0/12"))
    );
}

#[tokio::test]
async fn dependents_of_an_imported_object_get_its_outputs() {
    let t = TestStack::new("dev");
    t.cloud().insert(existing("vpc-legacy", "core"));
    t.up(|stack: &mut Stack| {
        let mut net = network("10.0.0.0/16");
        net.tags = BTreeMap::from([("team".to_string(), "core".to_string())]);
        let net = stack.add_with("net", net, Options::new().import("vpc-legacy"));
        stack.add(
            "sub",
            crate::common::subnet(net.out().network_id, "10.0.1.0/24"),
        );
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(
        t.cloud().object_named("sub").inputs.get("network_id"),
        Some(&Value::from("vpc-legacy"))
    );
}

#[tokio::test]
async fn importing_an_object_another_resource_manages_is_refused_at_plan_time() {
    let t = TestStack::new("dev");
    t.up(|stack: &mut Stack| {
        stack.add("net", network("10.0.0.0/16"));
        Ok(())
    })
    .await
    .unwrap();
    let managed = t.state().await.resources["net"].id.clone();
    let line = line!() + 4;
    let err = t
        .preview(|stack: &mut Stack| {
            stack.add("net", network("10.0.0.0/16"));
            stack.add_with(
                "copy",
                network("10.0.0.0/16"),
                Options::new().import(managed.clone()),
            );
            Ok(())
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("copy") && err.contains("already manages") && err.contains("\"net\""),
        "{err}"
    );
    assert!(err.contains(&format!("import.rs:{line}")), "{err}");
}
