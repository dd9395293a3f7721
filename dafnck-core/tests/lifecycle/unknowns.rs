//! Unknowns: outputs of resources that will be created or replaced are not
//! known while planning; fields referring to them are `Value::Unknown` in
//! the plan, never a guess; an unknown force-new field plans a replacement.

use dafnck_core::testing::TestStack;
use dafnck_core::{Action, Stack, Value};

use crate::common::{after, instance, network, node, subnet};

fn infra(cidr: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let net = stack.add("net", network(cidr));
        let sub = stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
        stack.add("web", instance(sub.out().subnet_id, "small"));
        Ok(())
    }
}

#[tokio::test]
async fn references_to_resources_being_created_are_unknown_in_the_plan() {
    let t = TestStack::new("dev");
    let plan = t.preview(infra("10.0.0.0/16")).await.unwrap();
    assert_eq!(after(&plan, "sub", "network_id"), Some(&Value::Unknown));
    assert_eq!(after(&plan, "web", "subnet_id"), Some(&Value::Unknown));
    // What the program states directly is known.
    assert_eq!(
        after(&plan, "sub", "cidr"),
        Some(&Value::from("10.0.1.0/24"))
    );
    assert_eq!(
        after(&plan, "net", "cidr"),
        Some(&Value::from("10.0.0.0/16"))
    );
    assert!(
        plan.render().contains("network_id = (known after apply)"),
        "{}",
        plan.render()
    );
}

#[tokio::test]
async fn references_to_a_resource_being_replaced_are_unknown_not_its_old_outputs() {
    let t = TestStack::new("dev");
    t.up(infra("10.0.0.0/16")).await.unwrap();
    let old = t.cloud().object_named("net").id;
    let plan = t.preview(infra("10.1.0.0/16")).await.unwrap();
    assert_eq!(after(&plan, "sub", "network_id"), Some(&Value::Unknown));
    let sub_after = plan.change("sub").unwrap().after.as_ref().unwrap().render();
    assert!(
        !sub_after.contains(&old),
        "the old id is not guessed: {sub_after}"
    );
}

#[tokio::test]
async fn an_unknown_force_new_field_plans_a_replacement() {
    let t = TestStack::new("dev");
    t.up(infra("10.0.0.0/16")).await.unwrap();
    let plan = t.preview(infra("10.1.0.0/16")).await.unwrap();
    let sub = plan.change("sub").unwrap();
    assert_eq!(sub.action, Action::Replace);
    assert_eq!(sub.replace_because, vec!["network_id".to_string()]);
    assert!(
        plan.render().contains("network_id: \"")
            && plan
                .render()
                .contains("→ (known after apply)  # forces replacement"),
        "{}",
        plan.render()
    );
}

#[tokio::test]
async fn an_unknown_updatable_field_plans_an_update() {
    let program = |key: &'static str| {
        move |stack: &mut Stack| {
            let a = stack.add("a", node("a", key, vec![]));
            stack.add("b", node("b", "k", vec![a.out().node_id]));
            Ok(())
        }
    };
    let t = TestStack::new("dev");
    t.up(program("k1")).await.unwrap();
    let plan = t.preview(program("k2")).await.unwrap();
    assert_eq!(plan.action("b"), Some(Action::Update));
    assert_eq!(
        after(&plan, "b", "refs"),
        Some(&Value::List(vec![Value::Unknown]))
    );
}

#[tokio::test]
async fn references_to_resources_updated_in_place_keep_their_recorded_values() {
    let program = |value: &'static str| {
        move |stack: &mut Stack| {
            let a = stack.add("a", node(value, "k", vec![]));
            stack.add("b", node("b", "k", vec![a.out().node_id]));
            Ok(())
        }
    };
    let t = TestStack::new("dev");
    t.up(program("v1")).await.unwrap();
    let a = t.cloud().object_named("a").id;
    let plan = t.preview(program("v2")).await.unwrap();
    assert_eq!(plan.action("a"), Some(Action::Update));
    // Had `a`'s id been unknown, `refs` would differ and `b` be updated.
    // It is a no-op (showing no inputs: the recorded ones stand), re-checked
    // at apply in case the update changes the id after all.
    let b = plan.change("b").unwrap();
    assert_eq!((b.action, b.recheck), (Action::NoOp, true));
    assert_eq!(b.after, None);
    t.up(program("v2")).await.unwrap();
    assert_eq!(
        t.state().await.resources["b"].inputs.get("refs"),
        Some(&Value::List(vec![a.into()]))
    );
}
