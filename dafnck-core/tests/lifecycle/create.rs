//! Creating resources: every declared resource becomes one object, created
//! after what it refers to, with references resolved to real outputs.

use dafnck_core::testing::resources::{Instance, Network, Subnet};
use dafnck_core::testing::{FakeOp, TestStack};
use dafnck_core::{Action, Stack, Value};

use crate::common::{assert_before, call, count, instance, network, subnet};

fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
    let net = stack.add("net", network("10.0.0.0/16"));
    let sub = stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
    let web = stack.add("web", instance(sub.out().subnet_id, "small"));
    stack.export("web_arn", web.out().arn);
    Ok(())
}

#[tokio::test]
async fn preview_of_a_new_stack_plans_one_create_per_resource_and_changes_nothing() {
    let t = TestStack::new("dev");
    let plan = t.preview(infra).await.unwrap();
    for name in ["net", "sub", "web"] {
        assert_eq!(plan.action(name), Some(Action::Create), "{name}");
    }
    assert_eq!(plan.summary().create, 3);
    assert!(t.cloud().calls().is_empty());
    assert!(t.state().await.resources.is_empty());
}

#[tokio::test]
async fn up_creates_every_object_dependencies_first_with_references_resolved() {
    let t = TestStack::new("dev");
    let report = t.up(infra).await.unwrap();
    assert!(report.is_success());
    let cloud = t.cloud();
    assert_eq!(cloud.objects().len(), 3);
    assert_eq!(count(cloud, FakeOp::Create), 3);
    assert_before(
        &call(cloud, FakeOp::Create, "net"),
        &call(cloud, FakeOp::Create, "sub"),
    );
    assert_before(
        &call(cloud, FakeOp::Create, "sub"),
        &call(cloud, FakeOp::Create, "web"),
    );

    // The subnet was created with the network's real id, not a placeholder.
    let net = cloud.object_named("net");
    let sub = cloud.object_named("sub");
    assert_eq!(
        sub.inputs.get("network_id"),
        Some(&Value::from(net.id.clone()))
    );
    assert_eq!(
        cloud.object_named("web").inputs.get("subnet_id"),
        Some(&Value::from(sub.id.clone()))
    );
}

#[tokio::test]
async fn up_records_each_object_with_its_id_outputs_and_dependencies() {
    let t = TestStack::new("dev");
    let report = t.up(infra).await.unwrap();
    let state = t.state().await;
    assert_eq!(state.resources.len(), 3);
    assert!(state.pending.is_empty());
    assert!(!state.lineage.is_empty());
    let net = t.cloud().object_named("net");
    assert_eq!(state.resources["net"].id, net.id);
    assert_eq!(state.resources["sub"].dependencies, vec!["net".to_string()]);
    assert_eq!(t.outputs_of::<Network>("net").await.network_id.0, net.id);
    let sub = t.outputs_of::<Subnet>("sub").await;
    assert_eq!(sub.subnet_id.0, t.cloud().object_named("sub").id);
    let web = t.outputs_of::<Instance>("web").await;
    assert_eq!(report.outputs["web_arn"], Value::from(web.arn.clone()));
    assert_eq!(state.outputs["web_arn"], Value::from(web.arn));
}

#[tokio::test]
async fn a_second_run_of_the_same_program_changes_nothing() {
    let t = TestStack::new("dev");
    t.up(infra).await.unwrap();
    let calls = t.cloud().calls().len();
    let serial = t.state().await.serial;
    assert!(!t.preview(infra).await.unwrap().has_changes());
    let report = t.up(infra).await.unwrap();
    assert!(report.is_success());
    assert_eq!(t.cloud().calls().len(), calls);
    assert_eq!(t.cloud().objects().len(), 3);
    assert_eq!(t.state().await.serial, serial, "a no-op run writes nothing");
}
