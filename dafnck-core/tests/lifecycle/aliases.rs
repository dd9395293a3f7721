//! Aliases: renaming a resource and naming its old name in `aliases` moves
//! the recorded object to the new name — no create, no delete.

use dafnck_core::testing::{FakeOp, TestStack};
use dafnck_core::{Action, Options, Stack, Value};

use crate::common::{assert_before, count, network, subnet};

fn before(stack: &mut Stack) -> dafnck_core::Result<()> {
    let net = stack.add("vpc", network("10.0.0.0/16"));
    stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
    Ok(())
}

fn renamed(cidr: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let net = stack.add_with(
            "main-network",
            network(cidr),
            Options::new().aliases(["vpc"]),
        );
        stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
        Ok(())
    }
}

#[tokio::test]
async fn the_plan_shows_a_rename_not_a_replacement() {
    let t = TestStack::new("dev");
    t.up(before).await.unwrap();
    let plan = t.preview(renamed("10.0.0.0/16")).await.unwrap();
    let c = plan.change("main-network").unwrap();
    assert_eq!(c.action, Action::NoOp);
    assert_eq!(c.renamed_from.as_deref(), Some("vpc"));
    assert_eq!(plan.change("vpc"), None, "the old name is not deleted");
    assert_eq!(
        plan.action("sub"),
        Some(Action::NoOp),
        "its dependent still sees the same id"
    );
    assert!(plan.has_changes());
    assert!(
        plan.render()
            .contains("main-network (fake:net:Network) (renamed from vpc)"),
        "{}",
        plan.render()
    );
}

#[tokio::test]
async fn a_rename_makes_no_provider_call_and_records_the_object_under_the_new_name() {
    let t = TestStack::new("dev");
    t.up(before).await.unwrap();
    let id = t.cloud().object_named("vpc").id;
    let calls = t.cloud().calls().len();

    t.up(renamed("10.0.0.0/16")).await.unwrap();
    assert_eq!(
        t.cloud().calls().len(),
        calls,
        "no create, update or delete"
    );
    let state = t.state().await;
    assert!(!state.resources.contains_key("vpc"));
    assert_eq!(state.resources["main-network"].id, id);
    assert_eq!(state.resources["main-network"].name, "main-network");
    assert_eq!(
        state.resources["sub"].dependencies,
        vec!["main-network".to_string()]
    );
    assert!(!t
        .preview(renamed("10.0.0.0/16"))
        .await
        .unwrap()
        .has_changes());
}

#[tokio::test]
async fn a_renamed_resource_can_change_in_the_same_run() {
    let t = TestStack::new("dev");
    t.up(before).await.unwrap();
    let old = t.cloud().object_named("vpc").id;
    t.up(renamed("10.1.0.0/16")).await.unwrap();
    assert_eq!(
        count(t.cloud(), FakeOp::Delete),
        2,
        "old network and subnet"
    );
    let state = t.state().await;
    assert!(!state.resources.contains_key("vpc"));
    assert!(state.deposed.is_empty());
    let net = &state.resources["main-network"];
    assert_ne!(net.id, old);
    assert_eq!(net.inputs.get("cidr"), Some(&Value::from("10.1.0.0/16")));
    assert_eq!(t.cloud().objects().len(), 2);
}

#[tokio::test]
async fn a_renamed_resource_replaced_in_the_same_run_outlives_its_old_dependents() {
    let t = TestStack::new("dev");
    t.up(before).await.unwrap();
    let old_net = t.cloud().object_named("vpc").id;
    let old_sub = t.cloud().object_named("sub").id;
    let mark = t.cloud().calls().len();
    t.up(renamed("10.1.0.0/16")).await.unwrap();
    let run = &t.cloud().calls()[mark..];
    let delete_of = |id: &str| {
        run.iter()
            .find(|c| c.op == FakeOp::Delete && c.id == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} was not deleted: {run:?}"))
    };
    // The subnet recorded its dependency under the old name.
    assert_before(&delete_of(&old_sub), &delete_of(&old_net));
    let new_sub = run
        .iter()
        .find(|c| c.op == FakeOp::Create && c.name == "sub")
        .unwrap();
    assert_before(new_sub, &delete_of(&old_net));
}

#[tokio::test]
async fn a_renamed_resource_replaced_delete_first_is_forgotten_once_deleted() {
    let program = |stack: &mut Stack| {
        stack.add_with(
            "main-network",
            network("10.1.0.0/16"),
            Options::new().aliases(["vpc"]).delete_before_replace(),
        );
        Ok(())
    };
    let t = TestStack::new("dev");
    t.up(|stack: &mut Stack| {
        stack.add("vpc", network("10.0.0.0/16"));
        Ok(())
    })
    .await
    .unwrap();
    t.cloud().inject(
        Some(FakeOp::Create),
        None,
        Some(1),
        dafnck_core::testing::Fault::Error(dafnck_core::ProviderError::new("no capacity")),
    );
    crate::common::apply_failure(t.up(program).await);
    assert!(t.cloud().objects().is_empty(), "the old object was deleted");
    let state = t.state().await;
    assert!(
        state.resources.is_empty(),
        "the state must not record a deleted object: {:?}",
        state.resources
    );

    t.cloud().clear_faults();
    t.up(program).await.unwrap();
    assert_eq!(t.cloud().objects().len(), 1);
    assert_eq!(
        t.state().await.resources["main-network"].id,
        t.cloud().object_named("main-network").id
    );
}
