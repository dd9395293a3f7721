//! Saved plans: a plan saved to a file and loaded back is applied exactly
//! as shown — or refused when the state moved on since it was made, or when
//! it belongs to another stack.

use std::sync::Arc;

use dafnck_core::engine::Engine;
use dafnck_core::state::StateStore;
use dafnck_core::testing::{FakeOp, TestStack};
use dafnck_core::{Action, Error, Plan, Providers, Stack, Value};

use crate::common::{count, network, node, subnet};

fn infra(value: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let net = stack.add("net", network("10.0.0.0/16"));
        stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
        stack.add("n", node(value, "k", vec![]));
        Ok(())
    }
}

fn save_and_load(plan: &Plan) -> Plan {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    dafnck_core::saved_plan::save(plan, &path).unwrap();
    let loaded = dafnck_core::saved_plan::load(&path).unwrap();
    assert_eq!(&loaded, plan, "the plan survives the file unchanged");
    loaded
}

#[tokio::test]
async fn a_saved_plan_applies_exactly_what_it_shows() {
    let t = TestStack::new("dev");
    t.up(infra("one")).await.unwrap();
    let plan = save_and_load(&t.preview(infra("two")).await.unwrap());
    assert_eq!(plan.action("n"), Some(Action::Update));
    assert_eq!(plan.summary().update, 1);
    let calls = t.cloud().calls().len();

    let report = t.engine().apply_plan(&plan).await.unwrap();
    assert!(report.is_success());
    let run = &t.cloud().calls()[calls..];
    assert_eq!(run.len(), 1, "one update and nothing else: {run:?}");
    assert_eq!((run[0].op, run[0].name.as_str()), (FakeOp::Update, "n"));
    assert_eq!(
        t.cloud().object_named("n").inputs.get("value"),
        Some(&Value::from("two"))
    );
    assert!(!t.preview(infra("two")).await.unwrap().has_changes());
}

#[tokio::test]
async fn a_saved_plan_for_a_new_stack_creates_it_with_references_resolved() {
    let t = TestStack::new("dev");
    let plan = save_and_load(&t.preview(infra("one")).await.unwrap());
    t.engine().apply_plan(&plan).await.unwrap();
    assert_eq!(count(t.cloud(), FakeOp::Create), 3);
    let net = t.cloud().object_named("net").id;
    assert_eq!(
        t.cloud().object_named("sub").inputs.get("network_id"),
        Some(&Value::from(net))
    );
    assert_eq!(t.state().await.resources.len(), 3);
}

#[tokio::test]
async fn a_plan_made_before_the_state_changed_is_refused_as_stale() {
    let t = TestStack::new("dev");
    t.up(infra("one")).await.unwrap();
    let plan = save_and_load(&t.preview(infra("two")).await.unwrap());
    t.up(infra("three")).await.unwrap();
    let state = t.state().await;
    let calls = t.cloud().calls().len();

    let err = t.engine().apply_plan(&plan).await.unwrap_err();
    assert!(matches!(err, Error::StalePlan { .. }), "{err:?}");
    assert!(err.to_string().contains("preview again"), "{err}");
    assert_eq!(t.cloud().calls().len(), calls, "nothing applied");
    assert_eq!(t.state().await, state);
    assert_eq!(
        t.cloud().object_named("n").inputs.get("value"),
        Some(&Value::from("three"))
    );
}

#[tokio::test]
async fn a_plan_is_applied_at_most_once() {
    let t = TestStack::new("dev");
    let plan = t.preview(infra("one")).await.unwrap();
    t.engine().apply_plan(&plan).await.unwrap();
    let err = t.engine().apply_plan(&plan).await.unwrap_err();
    assert!(matches!(err, Error::StalePlan { .. }), "{err:?}");
    assert_eq!(t.cloud().objects().len(), 3);
}

#[tokio::test]
async fn a_plan_of_another_stack_is_refused() {
    let t = TestStack::new("dev");
    let plan = t.preview(infra("one")).await.unwrap();
    let store: Arc<dyn StateStore> = Arc::new(t.store().clone());
    let prod = Engine::with_store("prod", store, Providers::new().with(t.cloud().clone()));

    let err = prod.apply_plan(&plan).await.unwrap_err();
    match &err {
        Error::PlanStack { plan, stack } => {
            assert_eq!((plan.as_str(), stack.as_str()), ("dev", "prod"))
        }
        other => panic!("expected Error::PlanStack, got {other:?}"),
    }
    assert!(err.to_string().contains("\"dev\"") && err.to_string().contains("\"prod\""));
    assert!(t.cloud().calls().is_empty());
    assert_eq!(prod.state().await.unwrap().serial, 0);
}
