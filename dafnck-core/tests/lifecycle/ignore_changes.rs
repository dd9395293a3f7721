//! `ignore_changes`: after creation, changes of the named fields are not
//! planned, and the recorded value is what gets sent when another field
//! changes.

use std::collections::BTreeMap;

use dafnck_core::testing::{FakeOp, TestStack};
use dafnck_core::{Action, Options, Stack, Value};

use crate::common::{count, network, node};

fn infra(
    value: &'static str,
    key: &'static str,
    team: &'static str,
) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let n = node(value, key, vec![]);
        stack.add_with("n", n, Options::new().ignore_changes(["value", "key"]));
        let mut net = network("10.0.0.0/16");
        net.tags = BTreeMap::from([("team".to_string(), team.to_string())]);
        stack.add_with("net", net, Options::new().ignore_changes(["tags"]));
        Ok(())
    }
}

#[tokio::test]
async fn the_first_create_uses_the_ignored_fields() {
    let t = TestStack::new("dev");
    t.up(infra("v1", "k1", "a")).await.unwrap();
    let n = t.cloud().object_named("n");
    assert_eq!(n.inputs.get("value"), Some(&Value::from("v1")));
    assert_eq!(n.inputs.get("key"), Some(&Value::from("k1")));
}

#[tokio::test]
async fn changes_of_ignored_fields_plan_nothing_and_call_nothing() {
    let t = TestStack::new("dev");
    t.up(infra("v1", "k1", "a")).await.unwrap();
    let state = t.state().await;
    let calls = t.cloud().calls().len();

    // `key` is force-new: ignoring it also avoids the replacement.
    let plan = t.preview(infra("v2", "k2", "b")).await.unwrap();
    assert_eq!(plan.action("n"), Some(Action::NoOp));
    assert_eq!(plan.action("net"), Some(Action::NoOp));
    assert!(!plan.has_changes());

    t.up(infra("v2", "k2", "b")).await.unwrap();
    assert_eq!(t.cloud().calls().len(), calls);
    assert_eq!(t.state().await.resources, state.resources);
    let n = t.cloud().object_named("n");
    assert_eq!(n.inputs.get("value"), Some(&Value::from("v1")));
}

#[tokio::test]
async fn an_update_of_another_field_sends_the_recorded_value_of_an_ignored_one() {
    let program = |value: &'static str, refs: bool| {
        move |stack: &mut Stack| {
            let other = stack.add("other", node("o", "k", vec![]));
            let refs = if refs {
                vec![other.out().node_id]
            } else {
                vec![]
            };
            stack.add_with(
                "n",
                node(value, "k", refs),
                Options::new().ignore_changes(["value"]),
            );
            Ok(())
        }
    };
    let t = TestStack::new("dev");
    t.up(program("v1", false)).await.unwrap();
    let plan = t.preview(program("v2", true)).await.unwrap();
    let n = plan.change("n").unwrap();
    assert_eq!(n.action, Action::Update);
    assert_eq!(n.fields, vec!["refs".to_string()]);
    assert_eq!(
        n.after.as_ref().unwrap().get("value"),
        Some(&Value::from("v1"))
    );

    t.up(program("v2", true)).await.unwrap();
    assert_eq!(count(t.cloud(), FakeOp::Update), 1);
    let obj = t.cloud().object_named("n");
    assert_eq!(
        obj.inputs.get("value"),
        Some(&Value::from("v1")),
        "the ignored field kept its value"
    );
    let other = t.cloud().object_named("other").id;
    assert_eq!(
        obj.inputs.get("refs"),
        Some(&Value::List(vec![other.into()]))
    );
    let recorded = &t.state().await.resources["n"];
    assert_eq!(recorded.inputs.get("value"), Some(&Value::from("v1")));
    assert!(!t.preview(program("v2", true)).await.unwrap().has_changes());
}
