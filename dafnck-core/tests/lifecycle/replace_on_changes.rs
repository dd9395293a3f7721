//! `replace_on_changes`: a change of a named field replaces the resource,
//! although its type would update that field in place; other fields still
//! update in place.

use dafnck_core::testing::{FakeOp, TestStack};
use dafnck_core::{Action, Options, Stack};

use crate::common::{count, node};

fn infra(value: &'static str, with_ref: bool) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let other = stack.add("other", node("o", "k", vec![]));
        let refs = if with_ref {
            vec![other.out().node_id]
        } else {
            vec![]
        };
        stack.add_with(
            "n",
            node(value, "k", refs),
            Options::new().replace_on_changes(["value"]),
        );
        Ok(())
    }
}

#[tokio::test]
async fn a_change_of_a_named_field_plans_a_replacement_forced_by_it() {
    let t = TestStack::new("dev");
    t.up(infra("v1", false)).await.unwrap();
    let plan = t.preview(infra("v2", false)).await.unwrap();
    let n = plan.change("n").unwrap();
    assert_eq!(n.action, Action::Replace);
    assert_eq!(n.replace_because, vec!["value".to_string()]);
    assert!(
        plan.render()
            .contains(r#"value: "v1" → "v2"  # forces replacement"#),
        "{}",
        plan.render()
    );
}

#[tokio::test]
async fn up_replaces_the_object_instead_of_updating_it() {
    let t = TestStack::new("dev");
    t.up(infra("v1", false)).await.unwrap();
    let old = t.cloud().object_named("n").id;
    t.up(infra("v2", false)).await.unwrap();
    assert_eq!(count(t.cloud(), FakeOp::Update), 0);
    assert_eq!(count(t.cloud(), FakeOp::Create), 3);
    assert_eq!(count(t.cloud(), FakeOp::Delete), 1);
    let new = t.cloud().object_named("n");
    assert_ne!(new.id, old);
    assert_eq!(t.state().await.resources["n"].id, new.id);
}

#[tokio::test]
async fn fields_not_named_still_update_in_place() {
    let t = TestStack::new("dev");
    t.up(infra("v1", false)).await.unwrap();
    let id = t.cloud().object_named("n").id;
    let plan = t.preview(infra("v1", true)).await.unwrap();
    assert_eq!(plan.action("n"), Some(Action::Update));
    t.up(infra("v1", true)).await.unwrap();
    assert_eq!(count(t.cloud(), FakeOp::Update), 1);
    assert_eq!(t.cloud().object_named("n").id, id);
}
