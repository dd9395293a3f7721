//! Replacing delete-first (`delete_before_replace`): the old object is
//! deleted before the new one is created, and dependents that are replaced
//! with it are deleted first too (else the order would be a cycle).

use dafnck_core::plan::ReplaceOrder;
use dafnck_core::testing::{FakeOp, TestStack};
use dafnck_core::{Action, Options, ProviderError, Stack};

use crate::common::{apply_failure, assert_before, find, instance, network, node, subnet};

fn infra(cidr: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let net = stack.add_with("net", network(cidr), Options::new().delete_before_replace());
        let sub = stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
        stack.add("web", instance(sub.out().subnet_id, "small"));
        Ok(())
    }
}

#[tokio::test]
async fn the_plan_shows_delete_first_for_the_resource_and_its_replaced_dependents() {
    let t = TestStack::new("dev");
    t.up(infra("10.0.0.0/16")).await.unwrap();
    let plan = t.preview(infra("10.1.0.0/16")).await.unwrap();
    for name in ["net", "sub", "web"] {
        let c = plan.change(name).unwrap();
        assert_eq!(c.action, Action::Replace, "{name}");
        assert_eq!(c.replace_order, ReplaceOrder::DeleteBeforeCreate, "{name}");
    }
    assert!(
        plan.render().contains("-/+ net (fake:net:Network)"),
        "{}",
        plan.render()
    );
}

#[tokio::test]
async fn old_objects_are_deleted_dependents_first_before_new_ones_are_created() {
    let t = TestStack::new("dev");
    t.up(infra("10.0.0.0/16")).await.unwrap();
    let old_net = t.cloud().object_named("net").id;
    let mark = t.cloud().calls().len();

    t.up(infra("10.1.0.0/16")).await.unwrap();
    let run = &t.cloud().calls()[mark..];
    let create = |n| find(run, FakeOp::Create, n);
    let delete = |n| find(run, FakeOp::Delete, n);
    assert_before(&delete("web"), &delete("sub"));
    assert_before(&delete("sub"), &delete("net"));
    for n in ["net", "sub", "web"] {
        assert_before(&delete(n), &create(n));
    }
    assert_before(&create("net"), &create("sub"));
    assert_before(&create("sub"), &create("web"));
    assert_eq!(delete("net").id, old_net);

    assert_eq!(t.cloud().objects().len(), 3);
    let state = t.state().await;
    assert!(state.deposed.is_empty() && state.pending.is_empty());
    assert_eq!(state.resources["net"].id, t.cloud().object_named("net").id);
    assert!(!t.preview(infra("10.1.0.0/16")).await.unwrap().has_changes());
}

#[tokio::test]
async fn when_the_new_object_cannot_be_created_the_state_no_longer_records_the_old_one() {
    let t = TestStack::new("dev");
    t.up(infra("10.0.0.0/16")).await.unwrap();
    t.cloud().inject(
        Some(FakeOp::Create),
        Some("net"),
        None,
        dafnck_core::testing::Fault::Error(ProviderError::new("no address space left")),
    );
    let report = apply_failure(t.up(infra("10.1.0.0/16")).await);
    assert_eq!(
        report.failed().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["net"]
    );
    // The old objects were deleted, and the state says so.
    assert!(t.cloud().objects().is_empty());
    let state = t.state().await;
    assert!(state.resources.is_empty(), "{:?}", state.resources.keys());
    assert!(state.deposed.is_empty() && state.pending.is_empty());

    t.cloud().clear_faults();
    t.up(infra("10.1.0.0/16")).await.unwrap();
    assert_eq!(t.cloud().objects().len(), 3);
}

/// Found by the property test: `b` is replaced and now depends on `a`
/// through `mid`, a new resource; its old object depended on `a`. Created
/// first, new `b` would wait on new `a`, which waits on deleting old `a`,
/// which waits on deleting old `b`, which waits on new `b`: a cycle.
#[tokio::test]
async fn a_replaced_resource_that_depends_on_a_delete_first_one_through_others_is_deleted_first_too(
) {
    let before = |stack: &mut Stack| {
        let a = stack.add("a", node("v", "k1", vec![]));
        stack.add("b", node("v", "k1", vec![a.out().node_id]));
        Ok(())
    };
    let after = |stack: &mut Stack| {
        let a = stack.add_with(
            "a",
            node("v", "k2", vec![]),
            Options::new().delete_before_replace(),
        );
        let mid = stack.add("mid", node("v", "k", vec![a.out().node_id]));
        stack.add("b", node("v", "k2", vec![mid.out().node_id]));
        Ok(())
    };
    let t = TestStack::new("dev");
    t.up(before).await.unwrap();
    let plan = t.preview(after).await.unwrap();
    assert_eq!(
        plan.change("b").unwrap().replace_order,
        ReplaceOrder::DeleteBeforeCreate
    );
    let mark = t.cloud().calls().len();
    t.up(after).await.unwrap();
    let run = &t.cloud().calls()[mark..];
    assert_before(
        &find(run, FakeOp::Delete, "b"),
        &find(run, FakeOp::Delete, "a"),
    );
    assert_before(
        &find(run, FakeOp::Create, "mid"),
        &find(run, FakeOp::Create, "b"),
    );
    assert!(!t.preview(after).await.unwrap().has_changes());
}
