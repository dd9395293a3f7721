//! Pending operations: an intent journaled by a run that crashed before
//! its result is resolved by the next run, before anything else, by reading
//! the object back — an object the crashed create made is adopted, never
//! created twice. `preview` reports what it found without writing it.

use dafnck_core::provider::{CreateRequest, DeleteRequest};
use dafnck_core::resource::Resource;
use dafnck_core::state::{now_millis, Entry, Intent, OpKind, Record, ResourceState, StateStore};
use dafnck_core::testing::resources::Network;
use dafnck_core::testing::{FakeOp, Fault, TestStack};
use dafnck_core::{Action, Provider, ProviderError, Stack, Value};

use crate::common::{apply_failure, calls, network, node, subnet};

fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
    let net = stack.add("net", network("10.0.0.0/16"));
    stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
    stack.add("other", node("x", "k", vec![]));
    Ok(())
}

fn just_other(stack: &mut Stack) -> dafnck_core::Result<()> {
    stack.add("other", node("x", "k", vec![]));
    Ok(())
}

/// Appends an intent to the journal, as a run that crashed right after
/// journaling it would have left it.
async fn crash_after_intent(t: &TestStack, kind: OpKind, resource: ResourceState, token: &str) {
    let seq = t.state().await.serial + 1;
    let record = Record {
        seq,
        at: now_millis(),
        entry: Entry::Intent(Intent {
            kind,
            resource,
            token: token.into(),
        }),
    };
    t.store().append("dev", &[record]).await.unwrap();
    assert_eq!(t.state().await.pending.len(), 1);
}

/// The intent of creating `net` as `infra` declares it.
fn net_intent() -> ResourceState {
    ResourceState {
        name: "net".into(),
        type_name: Network::TYPE.into(),
        id: String::new(),
        inputs: Value::from_serialize(&network("10.0.0.0/16")).unwrap(),
        outputs: Value::Null,
        dependencies: vec![],
        protect: false,
        retain_on_delete: false,
        location: None,
        provider: None,
    }
}

/// A crashed run: it journaled the create of `net`, the provider made the
/// object, and the process died before the result was journaled.
async fn crashed_create(t: &TestStack) -> String {
    t.up(just_other).await.unwrap();
    crash_after_intent(t, OpKind::Create, net_intent(), "crashed-run-net").await;
    let created = t
        .cloud()
        .create(CreateRequest {
            name: "net".into(),
            stack: "dev".into(),
            type_name: Network::TYPE.into(),
            inputs: net_intent().inputs,
            token: "crashed-run-net".into(),
        })
        .await
        .unwrap();
    created.id
}

#[tokio::test]
async fn preview_reports_a_pending_create_and_plans_with_the_object_adopted() {
    let t = TestStack::new("dev");
    let id = crashed_create(&t).await;
    let before = t.state().await;

    let preview = t.engine().preview(infra, false).await.unwrap();
    assert_eq!(preview.pending.len(), 1);
    let p = &preview.pending[0];
    assert_eq!((p.kind, p.name.as_str()), (OpKind::Create, "net"));
    assert!(
        p.outcome.contains(&id) && p.outcome.contains("adopted"),
        "{}",
        p.outcome
    );
    assert_eq!(preview.plan.action("net"), Some(Action::NoOp));
    assert_eq!(preview.plan.action("sub"), Some(Action::Create));
    assert_eq!(t.state().await, before, "preview writes nothing");
}

#[tokio::test]
async fn up_adopts_the_object_a_crashed_create_made_instead_of_creating_it_again() {
    let t = TestStack::new("dev");
    let id = crashed_create(&t).await;

    let report = t.up(infra).await.unwrap();
    assert_eq!(report.pending_resolved.len(), 1);
    assert_eq!(
        calls(t.cloud(), FakeOp::Create, "net").len(),
        1,
        "only the crashed run's create"
    );
    assert_eq!(t.cloud().objects_named("net").len(), 1);
    assert_eq!(t.cloud().objects().len(), 3);
    let state = t.state().await;
    assert!(state.pending.is_empty());
    assert_eq!(state.resources["net"].id, id);
    assert_eq!(
        t.cloud().object_named("sub").inputs.get("network_id"),
        Some(&Value::from(id))
    );
}

#[tokio::test]
async fn a_pending_create_that_made_nothing_is_settled_and_created_once() {
    let t = TestStack::new("dev");
    t.up(just_other).await.unwrap();
    crash_after_intent(&t, OpKind::Create, net_intent(), "crashed-run-net").await;

    let preview = t.engine().preview(infra, false).await.unwrap();
    assert!(
        preview.pending[0].outcome.contains("not created"),
        "{}",
        preview.pending[0].outcome
    );
    assert_eq!(preview.plan.action("net"), Some(Action::Create));

    t.up(infra).await.unwrap();
    assert_eq!(calls(t.cloud(), FakeOp::Create, "net").len(), 1);
    assert_eq!(t.cloud().objects().len(), 3);
    assert!(t.state().await.pending.is_empty());
}

#[tokio::test]
async fn a_pending_delete_whose_object_is_gone_is_recorded_as_deleted() {
    let t = TestStack::new("dev");
    t.up(infra).await.unwrap();
    let state = t.state().await;
    let sub = (*state.resources["sub"]).clone();
    crash_after_intent(&t, OpKind::Delete, sub.clone(), "").await;
    t.cloud()
        .delete(DeleteRequest {
            name: sub.name.clone(),
            stack: "dev".into(),
            type_name: sub.type_name.clone(),
            id: sub.id.clone(),
            inputs: sub.inputs.clone(),
            outputs: sub.outputs.clone(),
        })
        .await
        .unwrap();

    let program = |stack: &mut Stack| {
        stack.add("net", network("10.0.0.0/16"));
        stack.add("other", node("x", "k", vec![]));
        Ok(())
    };
    let report = t.up(program).await.unwrap();
    assert_eq!(report.pending_resolved.len(), 1);
    assert_eq!(
        calls(t.cloud(), FakeOp::Delete, "sub").len(),
        1,
        "not deleted again"
    );
    let state = t.state().await;
    assert!(!state.resources.contains_key("sub"));
    assert!(state.pending.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_panicked_and_could_not_be_read_back_stays_pending_until_the_next_run() {
    let t = TestStack::new("dev");
    t.cloud().inject(
        Some(FakeOp::Create),
        Some("net"),
        Some(1),
        Fault::PanicAfter,
    );
    t.cloud().inject(
        Some(FakeOp::Read),
        Some("net"),
        Some(1),
        Fault::Error(ProviderError::new("the API is down")),
    );
    let report = apply_failure(t.up(infra).await);
    let failed = report.failed().next().unwrap();
    assert_eq!(failed.name, "net");
    let state = t.state().await;
    assert_eq!(state.pending.len(), 1, "the interrupted create is pending");
    assert!(!state.resources.contains_key("net"));
    let id = t.cloud().object_named("net").id;

    let preview = t.engine().preview(infra, false).await.unwrap();
    assert_eq!(preview.pending.len(), 1);
    assert!(
        preview.pending[0].outcome.contains(&id),
        "{}",
        preview.pending[0].outcome
    );
    assert_eq!(preview.plan.action("net"), Some(Action::NoOp));

    t.up(infra).await.unwrap();
    assert_eq!(
        calls(t.cloud(), FakeOp::Create, "net").len(),
        1,
        "created exactly once"
    );
    assert_eq!(t.cloud().objects_named("net").len(), 1);
    assert_eq!(t.cloud().objects().len(), 3);
    let state = t.state().await;
    assert!(state.pending.is_empty());
    assert_eq!(state.resources["net"].id, id);
}
