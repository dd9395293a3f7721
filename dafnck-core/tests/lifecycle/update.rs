//! Updating in place: a change to a field that does not force a
//! replacement updates the same object, and nothing else is touched.

use dafnck_core::testing::{FakeOp, TestStack};
use dafnck_core::{Action, Stack, Value};

use crate::common::{call, count, instance, network, node, subnet};

fn infra(size: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let net = stack.add("net", network("10.0.0.0/16"));
        let sub = stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
        stack.add("web", instance(sub.out().subnet_id, size));
        Ok(())
    }
}

#[tokio::test]
async fn changing_an_updatable_field_plans_an_update_of_that_field_only() {
    let t = TestStack::new("dev");
    t.up(infra("small")).await.unwrap();
    let plan = t.preview(infra("large")).await.unwrap();
    let web = plan.change("web").unwrap();
    assert_eq!(web.action, Action::Update);
    assert_eq!(web.fields, vec!["size".to_string()]);
    assert!(web.replace_because.is_empty());
    assert_eq!(plan.action("net"), Some(Action::NoOp));
    assert_eq!(plan.action("sub"), Some(Action::NoOp));
    assert!(
        plan.render().contains(r#"size: "small" → "large""#),
        "{}",
        plan.render()
    );
}

#[tokio::test]
async fn up_updates_the_same_object_in_place_and_records_the_new_inputs() {
    let t = TestStack::new("dev");
    t.up(infra("small")).await.unwrap();
    let id = t.cloud().object_named("web").id;
    let creates = count(t.cloud(), FakeOp::Create);

    t.up(infra("large")).await.unwrap();
    let cloud = t.cloud();
    assert_eq!(
        count(cloud, FakeOp::Create),
        creates,
        "no object is created"
    );
    assert_eq!(count(cloud, FakeOp::Delete), 0, "no object is deleted");
    assert_eq!(count(cloud, FakeOp::Update), 1);
    assert_eq!(call(cloud, FakeOp::Update, "web").id, id);
    let web = cloud.object_named("web");
    assert_eq!(web.id, id);
    assert_eq!(web.inputs.get("size"), Some(&Value::from("large")));

    let state = t.state().await;
    assert_eq!(state.resources["web"].id, id);
    assert_eq!(
        state.resources["web"].inputs.get("size"),
        Some(&Value::from("large"))
    );
    assert_eq!(
        state.resources["web"].outputs.get("size"),
        Some(&Value::from("large"))
    );
    assert!(!t.preview(infra("large")).await.unwrap().has_changes());
}

#[tokio::test]
async fn updating_a_resource_leaves_its_dependents_alone() {
    // `b` refers to `a`'s id, which an in-place update does not change.
    let program = |value: &'static str| {
        move |stack: &mut Stack| {
            let a = stack.add("a", node(value, "k", vec![]));
            stack.add("b", node("b", "k", vec![a.out().node_id]));
            Ok(())
        }
    };
    let t = TestStack::new("dev");
    t.up(program("one")).await.unwrap();
    let plan = t.preview(program("two")).await.unwrap();
    assert_eq!(plan.action("a"), Some(Action::Update));
    assert_eq!(plan.action("b"), Some(Action::NoOp));
    t.up(program("two")).await.unwrap();
    assert_eq!(count(t.cloud(), FakeOp::Update), 1);
    call(t.cloud(), FakeOp::Update, "a");
}

/// `b` refers to an output of `a` that an in-place update of `a` changes.
fn chained(value: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let a = stack.add("a", node(value, "k", vec![]));
        let echoed = a.resource_ref().output::<String>("value");
        stack.add("b", node("b", "k", vec![echoed]));
        Ok(())
    }
}

#[tokio::test]
async fn a_dependent_follows_an_output_an_update_changed_in_the_same_run() {
    let t = TestStack::new("dev");
    t.up(chained("one")).await.unwrap();
    let plan = t.preview(chained("two")).await.unwrap();
    assert_eq!(plan.action("a"), Some(Action::Update));
    let b = plan.change("b").unwrap();
    assert_eq!(b.action, Action::NoOp);
    assert!(
        b.recheck,
        "b is re-checked at apply because a is updated in place"
    );
    t.up(chained("two")).await.unwrap();
    assert_eq!(
        t.cloud().object_named("b").inputs.get("refs"),
        Some(&Value::List(vec![Value::from("two")])),
        "b was updated in the same run"
    );
    assert_eq!(count(t.cloud(), FakeOp::Update), 2);
    assert!(!t.preview(chained("two")).await.unwrap().has_changes());
}

#[tokio::test]
async fn a_recheck_that_finds_its_inputs_unchanged_calls_no_provider() {
    let tagged = |team: &'static str| {
        move |stack: &mut Stack| {
            let mut n = network("10.0.0.0/16");
            n.tags.insert("team".into(), team.into());
            let net = stack.add("net", n);
            stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
            Ok(())
        }
    };
    let t = TestStack::new("dev");
    t.up(tagged("a")).await.unwrap();
    let plan = t.preview(tagged("b")).await.unwrap();
    assert_eq!(plan.action("net"), Some(Action::Update));
    assert!(plan.change("sub").unwrap().recheck);
    let report = t.up(tagged("b")).await.unwrap();
    assert_eq!(
        count(t.cloud(), FakeOp::Update),
        1,
        "only the network is updated: its id did not change"
    );
    assert!(report
        .steps
        .iter()
        .any(|s| s.name == "sub" && s.kind == dafnck_core::apply::StepKind::Recheck));
    assert!(!t.preview(tagged("b")).await.unwrap().has_changes());
}
