//! Drift: objects changed or deleted outside the program are reported with
//! the fields that differ; a refreshing preview plans the correction; a
//! refreshing `up` repairs it.

use dafnck_core::drift::{DriftKind, FieldDrift};
use dafnck_core::testing::{FakeOp, TestStack};
use dafnck_core::{Action, Stack, Value};

use crate::common::{calls, find, instance, network, node, subnet};

fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
    let net = stack.add("net", network("10.0.0.0/16"));
    let sub = stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
    stack.add("web", instance(sub.out().subnet_id, "small"));
    stack.add("cache", node("c", "k", vec![]));
    stack.add("steady", node("s", "k", vec![]));
    Ok(())
}

fn set(obj: &mut Value, field: &str, value: Value) {
    if let Value::Map(m) = obj {
        m.insert(field.into(), value);
    }
}

/// Deploys, then someone resizes `web` in the console and deletes `cache`.
async fn drifted() -> TestStack {
    let t = TestStack::new("dev");
    t.up(infra).await.unwrap();
    let web = t.cloud().object_named("web").id;
    t.cloud().mutate(&web, |o| {
        set(&mut o.inputs, "size", "xlarge".into());
        set(&mut o.outputs, "size", "xlarge".into());
    });
    let cache = t.cloud().object_named("cache").id;
    t.cloud().remove(&cache);
    t
}

#[tokio::test]
async fn drift_reports_changed_fields_and_deleted_objects_and_changes_nothing() {
    let t = drifted().await;
    let state = t.state().await;
    let report = t.engine().drift().await.unwrap();
    assert!(report.has_drift());
    assert_eq!(report.checked, 5);
    assert_eq!(report.drifted.len(), 2, "{report:?}");
    let web = report.get("web").unwrap();
    assert_eq!(web.kind, DriftKind::Changed);
    assert_eq!(
        web.fields,
        vec![FieldDrift {
            field: "size".into(),
            recorded: "small".into(),
            actual: "xlarge".into(),
        }]
    );
    let cache = report.get("cache").unwrap();
    assert_eq!(cache.kind, DriftKind::Deleted);
    assert!(report.get("steady").is_none());
    let text = report.render();
    assert!(text.contains(r#"size: "small" → "xlarge""#), "{text}");
    assert!(
        text.contains("cache (fake:graph:Node): deleted outside the program"),
        "{text}"
    );
    assert_eq!(t.state().await, state, "drift only reports");
    assert_eq!(t.cloud().objects().len(), 4);
}

#[tokio::test]
async fn a_preview_without_refresh_does_not_see_drift() {
    let t = drifted().await;
    let preview = t.engine().preview(infra, false).await.unwrap();
    assert!(preview.drift.is_none());
    assert!(!preview.plan.has_changes());
}

#[tokio::test]
async fn a_refreshing_preview_plans_the_correction() {
    let t = drifted().await;
    let state = t.state().await;
    let preview = t.engine().preview(infra, true).await.unwrap();
    assert_eq!(preview.drift.as_ref().map(|d| d.drifted.len()), Some(2));
    let web = preview.plan.change("web").unwrap();
    assert_eq!(web.action, Action::Update);
    assert_eq!(web.fields, vec!["size".to_string()]);
    assert_eq!(preview.plan.action("cache"), Some(Action::Create));
    assert_eq!(preview.plan.action("steady"), Some(Action::NoOp));
    assert_eq!(t.state().await, state, "preview writes nothing");
    assert_eq!(calls(t.cloud(), FakeOp::Update, "web").len(), 0);
}

#[tokio::test]
async fn a_refreshing_up_recreates_the_deleted_and_updates_the_changed() {
    let t = drifted().await;
    let web_id = t.cloud().object_named("web").id;
    let mark = t.cloud().calls().len();
    t.engine().up(infra, true).await.unwrap();
    let run = &t.cloud().calls()[mark..];
    assert_eq!(find(run, FakeOp::Update, "web").id, web_id);
    find(run, FakeOp::Create, "cache");
    assert!(
        run.iter()
            .all(|c| c.op == FakeOp::Read || c.name == "web" || c.name == "cache"),
        "{run:?}"
    );

    assert_eq!(t.cloud().objects().len(), 5);
    assert_eq!(
        t.cloud().object_named("web").inputs.get("size"),
        Some(&Value::from("small"))
    );
    let state = t.state().await;
    assert_eq!(
        state.resources["cache"].id,
        t.cloud().object_named("cache").id
    );
    assert!(!t.engine().drift().await.unwrap().has_drift());
    assert!(!t
        .engine()
        .preview(infra, true)
        .await
        .unwrap()
        .plan
        .has_changes());
}

#[tokio::test]
async fn up_after_a_refreshing_preview_applies_the_shown_plan_without_reading_again() {
    let t = drifted().await;
    let preview = t.engine().preview(infra, true).await.unwrap();
    let reads = calls(t.cloud(), FakeOp::Read, "web").len();
    let mark = t.cloud().calls().len();
    t.engine().up_previewed(infra, &preview).await.unwrap();
    let run = &t.cloud().calls()[mark..];
    assert!(
        run.iter().all(|c| c.op != FakeOp::Read),
        "the preview's reads are recorded, not made again: {run:?}"
    );
    assert_eq!(calls(t.cloud(), FakeOp::Read, "web").len(), reads);
    find(run, FakeOp::Update, "web");
    find(run, FakeOp::Create, "cache");
    assert_eq!(t.cloud().objects().len(), 5);
    assert!(!t.engine().drift().await.unwrap().has_drift());
}

#[tokio::test]
async fn up_after_a_refreshing_preview_refuses_when_the_state_moved() {
    let t = drifted().await;
    let preview = t.engine().preview(infra, true).await.unwrap();
    // Another run records what it read in between.
    t.engine().refresh().await.unwrap();
    let state = t.state().await;
    let mark = t.cloud().calls().len();
    let err = t.engine().up_previewed(infra, &preview).await.unwrap_err();
    assert!(matches!(err, dafnck_core::Error::StalePlan { .. }), "{err}");
    assert_eq!(t.cloud().calls().len(), mark, "nothing is called");
    assert_eq!(t.state().await, state, "nothing is written");
}

#[tokio::test]
async fn refresh_records_what_it_found() {
    let t = drifted().await;
    let report = t.engine().refresh().await.unwrap();
    assert_eq!(report.drifted.len(), 2);
    let state = t.state().await;
    assert!(!state.resources.contains_key("cache"));
    assert_eq!(
        state.resources["web"].inputs.get("size"),
        Some(&Value::from("xlarge"))
    );
    assert_eq!(
        calls(t.cloud(), FakeOp::Update, "web").len(),
        0,
        "refresh changes no object"
    );
}

#[tokio::test]
async fn a_secret_output_the_provider_cannot_read_back_is_kept_by_a_refresh() {
    let cloud = dafnck_core::testing::FakeCloud::new();
    cloud.outputs_for("fake:compute:Instance", |id, _| {
        let mut m = std::collections::BTreeMap::new();
        m.insert("instance_id".to_owned(), Value::from(id));
        m.insert("arn".to_owned(), Value::from(format!("arn:fake:{id}")));
        m.insert(
            "private_key".to_owned(),
            Value::Secret(Box::new(Value::from("-----BEGIN KEY-----"))),
        );
        Value::Map(m.into())
    });
    let t = TestStack::with_cloud("dev", cloud);
    t.up(infra).await.unwrap();
    // What a cloud returns on a later read: no private key (it is given
    // only once, on create), and an output that really went away.
    let web = t.cloud().object_named("web").id;
    t.cloud().mutate(&web, |o| {
        if let Value::Map(m) = &mut o.outputs {
            m.remove("private_key");
            m.remove("arn");
        }
    });
    t.engine().refresh().await.unwrap();
    let outputs = &t.state().await.resources["web"].outputs;
    assert_eq!(
        outputs.get("private_key"),
        Some(&Value::Secret(Box::new(Value::from("-----BEGIN KEY-----")))),
        "the secret the read could not return is kept"
    );
    assert_eq!(
        outputs.get("arn"),
        None,
        "a plain output that went away goes"
    );
}
