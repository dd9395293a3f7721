//! Replacing, create-before-delete (the default): the new object is created
//! first, dependents are moved to it, and only then is the old one deleted.

use dafnck_core::plan::ReplaceOrder;
use dafnck_core::testing::{FakeOp, TestStack};
use dafnck_core::{Action, ProviderError, Stack, Value};

use crate::common::{apply_failure, assert_before, find, instance, network, node, subnet};

fn infra(cidr: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let net = stack.add("net", network(cidr));
        let sub = stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
        stack.add("web", instance(sub.out().subnet_id, "small"));
        Ok(())
    }
}

#[tokio::test]
async fn changing_a_force_new_field_plans_a_create_before_delete_replacement() {
    let t = TestStack::new("dev");
    t.up(infra("10.0.0.0/16")).await.unwrap();
    let plan = t.preview(infra("10.1.0.0/16")).await.unwrap();
    let net = plan.change("net").unwrap();
    assert_eq!(net.action, Action::Replace);
    assert_eq!(net.replace_because, vec!["cidr".to_string()]);
    assert_eq!(net.replace_order, ReplaceOrder::CreateBeforeDelete);
    // The dependents' force-new references become unknown: replaced too.
    assert_eq!(
        plan.change("sub").unwrap().replace_because,
        vec!["network_id".to_string()]
    );
    assert_eq!(
        plan.change("web").unwrap().replace_because,
        vec!["subnet_id".to_string()]
    );
    let text = plan.render();
    assert!(
        text.contains("+/- net (fake:net:Network) (forced by cidr)"),
        "{text}"
    );
    assert!(text.contains("# forces replacement"), "{text}");
}

#[tokio::test]
async fn new_objects_are_created_before_any_old_one_is_deleted_dependents_deleted_first() {
    let t = TestStack::new("dev");
    t.up(infra("10.0.0.0/16")).await.unwrap();
    let old: Vec<String> = ["net", "sub", "web"]
        .iter()
        .map(|n| t.cloud().object_named(n).id)
        .collect();
    let mark = t.cloud().calls().len();

    t.up(infra("10.1.0.0/16")).await.unwrap();
    let run = &t.cloud().calls()[mark..];
    let create = |n| find(run, FakeOp::Create, n);
    let delete = |n| find(run, FakeOp::Delete, n);
    // New objects: dependencies first.
    assert_before(&create("net"), &create("sub"));
    assert_before(&create("sub"), &create("web"));
    // Every old object goes only after its replacement exists...
    for n in ["net", "sub", "web"] {
        assert_before(&create(n), &delete(n));
    }
    // ... and after its dependents have left it (were moved or deleted).
    assert_before(&create("web"), &delete("sub"));
    assert_before(&delete("web"), &delete("sub"));
    assert_before(&create("sub"), &delete("net"));
    assert_before(&delete("sub"), &delete("net"));
    assert_eq!(
        ["net", "sub", "web"].map(|n| delete(n).id).to_vec(),
        old,
        "the deletes are of the old objects"
    );

    let state = t.state().await;
    assert!(state.deposed.is_empty());
    assert!(state.pending.is_empty());
    assert_eq!(t.cloud().objects().len(), 3);
    let net = t.cloud().object_named("net");
    assert_ne!(net.id, old[0]);
    assert_eq!(state.resources["net"].id, net.id);
    assert_eq!(
        t.cloud().object_named("sub").inputs.get("network_id"),
        Some(&Value::from(net.id))
    );
}

#[tokio::test]
async fn a_dependent_updated_in_place_is_moved_before_the_old_object_is_deleted() {
    let program = |key: &'static str| {
        move |stack: &mut Stack| {
            let a = stack.add("a", node("a", key, vec![]));
            stack.add("b", node("b", "k", vec![a.out().node_id]));
            Ok(())
        }
    };
    let t = TestStack::new("dev");
    t.up(program("k1")).await.unwrap();
    let old_a = t.cloud().object_named("a").id;
    let b_id = t.cloud().object_named("b").id;
    let plan = t.preview(program("k2")).await.unwrap();
    assert_eq!(plan.action("a"), Some(Action::Replace));
    assert_eq!(
        plan.action("b"),
        Some(Action::Update),
        "refs is not force-new"
    );
    let mark = t.cloud().calls().len();

    t.up(program("k2")).await.unwrap();
    let run = &t.cloud().calls()[mark..];
    let update_b = find(run, FakeOp::Update, "b");
    assert_before(&find(run, FakeOp::Create, "a"), &update_b);
    assert_before(&update_b, &find(run, FakeOp::Delete, "a"));
    assert_eq!(find(run, FakeOp::Delete, "a").id, old_a);

    let new_a = t.cloud().object_named("a").id;
    let b = t.cloud().object_named("b");
    assert_eq!(b.id, b_id, "b was updated, not replaced");
    assert_eq!(b.inputs.get("refs"), Some(&Value::List(vec![new_a.into()])));
}

#[tokio::test]
async fn when_the_new_object_cannot_be_created_the_old_one_is_kept() {
    let t = TestStack::new("dev");
    t.up(infra("10.0.0.0/16")).await.unwrap();
    let before = t.state().await.resources;
    let objects = t.cloud().objects();
    t.cloud().inject(
        Some(FakeOp::Create),
        Some("net"),
        None,
        dafnck_core::testing::Fault::Error(ProviderError::new("no address space left")),
    );

    let report = apply_failure(t.up(infra("10.1.0.0/16")).await);
    assert_eq!(report.failed().count(), 1);
    assert_eq!(report.failed().next().unwrap().name, "net");
    assert_eq!(
        t.cloud().calls_of(FakeOp::Delete).len(),
        0,
        "nothing is deleted"
    );
    assert_eq!(t.cloud().objects(), objects);
    let state = t.state().await;
    assert_eq!(state.resources, before);
    assert!(state.deposed.is_empty() && state.pending.is_empty());
}

#[tokio::test]
async fn an_old_object_whose_delete_failed_is_deleted_by_the_next_run() {
    let t = TestStack::new("dev");
    t.up(infra("10.0.0.0/16")).await.unwrap();
    let old_net = t.cloud().object_named("net").id;
    t.cloud().inject(
        Some(FakeOp::Delete),
        Some("net"),
        Some(1),
        dafnck_core::testing::Fault::Error(ProviderError::new("still in use")),
    );
    apply_failure(t.up(infra("10.1.0.0/16")).await);
    let state = t.state().await;
    assert_eq!(
        state
            .deposed
            .iter()
            .map(|d| d.id.as_str())
            .collect::<Vec<_>>(),
        [old_net.as_str()]
    );
    assert_ne!(
        state.resources["net"].id, old_net,
        "the new object is current"
    );

    let plan = t.preview(infra("10.1.0.0/16")).await.unwrap();
    assert!(plan
        .changes
        .iter()
        .any(|c| c.deposed && c.action == Action::Delete));
    assert!(
        plan.render().contains("(deposed object)"),
        "{}",
        plan.render()
    );
    t.up(infra("10.1.0.0/16")).await.unwrap();
    assert!(!t.cloud().objects().contains_key(&old_net));
    assert!(t.state().await.deposed.is_empty());
    assert_eq!(t.cloud().objects().len(), 3);
}

#[tokio::test]
async fn an_old_object_left_by_a_failed_replacement_outlives_its_dependents() {
    // The new network is created, the new subnet fails: the old network is
    // left deposed, the old subnet still in it.
    let t = TestStack::new("dev");
    t.up(infra("10.0.0.0/16")).await.unwrap();
    let old_net = t.cloud().object_named("net").id;
    let old_sub = t.cloud().object_named("sub").id;
    t.cloud().inject(
        Some(FakeOp::Create),
        Some("sub"),
        Some(1),
        dafnck_core::testing::Fault::Error(ProviderError::new("subnet quota exceeded")),
    );
    apply_failure(t.up(infra("10.1.0.0/16")).await);
    assert_eq!(t.state().await.deposed.len(), 1);
    let mark = t.cloud().calls().len();

    // The next run moves the subnet (and its instance) to the new network,
    // and only then deletes the old network.
    t.up(infra("10.1.0.0/16")).await.unwrap();
    let run = &t.cloud().calls()[mark..];
    let deletes = |id: &str| {
        run.iter()
            .find(|c| c.op == FakeOp::Delete && c.id == id && !c.failed)
            .cloned()
            .unwrap_or_else(|| panic!("{id} was not deleted: {run:?}"))
    };
    assert_before(&deletes(&old_sub), &deletes(&old_net));
    assert_before(&find(run, FakeOp::Create, "sub"), &deletes(&old_net));
    assert_eq!(t.cloud().objects().len(), 3);
    assert!(t.state().await.deposed.is_empty());
}

#[tokio::test]
async fn a_resource_whose_type_changes_is_replaced() {
    let t = TestStack::new("dev");
    t.up(|stack: &mut Stack| {
        stack.add("thing", network("10.0.0.0/16"));
        Ok(())
    })
    .await
    .unwrap();
    let old = t.cloud().object_named("thing");
    let program = |stack: &mut Stack| {
        stack.add("thing", node("v", "k", vec![]));
        Ok(())
    };
    let plan = t.preview(program).await.unwrap();
    let c = plan.change("thing").unwrap();
    assert_eq!(c.action, Action::Replace);
    assert_eq!(c.replace_because, vec!["type".to_string()]);

    t.up(program).await.unwrap();
    assert!(!t.cloud().objects().contains_key(&old.id));
    let new = t.cloud().object_named("thing");
    assert_eq!(new.type_name, "fake:graph:Node");
    assert_eq!(
        t.state().await.resources["thing"].type_name,
        "fake:graph:Node"
    );
}
