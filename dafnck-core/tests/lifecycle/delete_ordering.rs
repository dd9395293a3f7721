//! Deleting: resources removed from the program are deleted dependents
//! first; destroy tears the whole stack down in reverse dependency order;
//! a resource that stays but stops referring to a removed one is updated
//! before that one is deleted.

use dafnck_core::testing::{FakeOp, TestStack};
use dafnck_core::{Action, Stack};

use crate::common::{assert_before, call, find, instance, network, node, subnet};

fn chain(stack: &mut Stack) -> dafnck_core::Result<()> {
    let a = stack.add("a", node("a", "k", vec![]));
    let b = stack.add("b", node("b", "k", vec![a.out().node_id]));
    stack.add("c", node("c", "k", vec![b.out().node_id]));
    stack.add("keep", node("keep", "k", vec![]));
    Ok(())
}

fn only_keep(stack: &mut Stack) -> dafnck_core::Result<()> {
    stack.add("keep", node("keep", "k", vec![]));
    Ok(())
}

#[tokio::test]
async fn resources_removed_from_the_program_are_deleted_dependents_first() {
    let t = TestStack::new("dev");
    t.up(chain).await.unwrap();
    let plan = t.preview(only_keep).await.unwrap();
    for name in ["a", "b", "c"] {
        assert_eq!(plan.action(name), Some(Action::Delete), "{name}");
    }
    assert_eq!(plan.action("keep"), Some(Action::NoOp));

    t.up(only_keep).await.unwrap();
    let cloud = t.cloud();
    assert_before(
        &call(cloud, FakeOp::Delete, "c"),
        &call(cloud, FakeOp::Delete, "b"),
    );
    assert_before(
        &call(cloud, FakeOp::Delete, "b"),
        &call(cloud, FakeOp::Delete, "a"),
    );
    assert_eq!(cloud.objects().len(), 1);
    let state = t.state().await;
    assert_eq!(state.resources.keys().collect::<Vec<_>>(), ["keep"]);
}

#[tokio::test]
async fn destroy_deletes_everything_in_reverse_dependency_order() {
    let t = TestStack::new("dev");
    t.up(|stack: &mut Stack| {
        let net = stack.add("net", network("10.0.0.0/16"));
        let sub = stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
        let web = stack.add("web", instance(sub.out().subnet_id, "small"));
        stack.export("web", web.out().instance_id);
        stack.add("other", node("x", "k", vec![]));
        Ok(())
    })
    .await
    .unwrap();
    let mark = t.cloud().calls().len();

    let report = t.destroy().await.unwrap();
    assert!(report.is_success());
    assert!(report.outputs.is_empty());
    let run = &t.cloud().calls()[mark..];
    assert_eq!(run.len(), 4, "one delete per object: {run:?}");
    assert_before(
        &find(run, FakeOp::Delete, "web"),
        &find(run, FakeOp::Delete, "sub"),
    );
    assert_before(
        &find(run, FakeOp::Delete, "sub"),
        &find(run, FakeOp::Delete, "net"),
    );
    find(run, FakeOp::Delete, "other");
    assert!(t.cloud().objects().is_empty());
    let state = t.state().await;
    assert!(state.resources.is_empty());
    assert!(state.outputs.is_empty());
    assert!(state.pending.is_empty());
}

#[tokio::test]
async fn a_kept_resource_that_stops_referring_to_a_removed_one_is_updated_first() {
    let t = TestStack::new("dev");
    t.up(|stack: &mut Stack| {
        let old = stack.add("old", node("old", "k", vec![]));
        stack.add("user", node("user", "k", vec![old.out().node_id]));
        Ok(())
    })
    .await
    .unwrap();
    let user_id = t.cloud().object_named("user").id;
    let program = |stack: &mut Stack| {
        stack.add("user", node("user", "k", vec![]));
        Ok(())
    };
    let plan = t.preview(program).await.unwrap();
    assert_eq!(plan.action("user"), Some(Action::Update));
    assert_eq!(plan.action("old"), Some(Action::Delete));

    t.up(program).await.unwrap();
    let cloud = t.cloud();
    assert_before(
        &call(cloud, FakeOp::Update, "user"),
        &call(cloud, FakeOp::Delete, "old"),
    );
    assert_eq!(cloud.object_named("user").id, user_id);
    let state = t.state().await;
    assert!(state.resources["user"].dependencies.is_empty());
    assert!(!state.resources.contains_key("old"));
}

#[tokio::test]
async fn retain_on_delete_forgets_the_object_but_leaves_it_in_the_cloud() {
    let t = TestStack::new("dev");
    t.up(|stack: &mut Stack| {
        stack.add_with(
            "kept",
            node("x", "k", vec![]),
            dafnck_core::Options::new().retain_on_delete(),
        );
        Ok(())
    })
    .await
    .unwrap();
    t.up(|_: &mut Stack| Ok(())).await.unwrap();
    assert_eq!(t.cloud().calls_of(FakeOp::Delete).len(), 0);
    assert_eq!(t.cloud().objects().len(), 1);
    assert!(t.state().await.resources.is_empty());
}
