//! Saved plans: a plan saved to a file and loaded back is applied exactly
//! as shown — or refused when the state moved on since it was made, or when
//! it belongs to another stack. A plan with deployment changes keeps each
//! policy's description and applies with the program's policies, refused
//! when they no longer match.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use dafnck_core::deploy::{Deploy, DeployError, Rollout};
use dafnck_core::Options;

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

/// A canary that records each rollout (old and new node ids) and promotes.
#[derive(Clone)]
struct Canary {
    steps: &'static str,
    rollouts: Arc<Mutex<Vec<(String, String)>>>,
}

impl Canary {
    fn new(steps: &'static str) -> Self {
        Canary {
            steps,
            rollouts: Arc::default(),
        }
    }
}

#[async_trait]
impl Deploy for Canary {
    fn describe(&self) -> String {
        format!("canary {}", self.steps)
    }

    async fn deploy(&self, rollout: Rollout) -> Result<(), DeployError> {
        let id = |v: &Value| {
            v.get("node_id")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_owned()
        };
        self.rollouts
            .lock()
            .unwrap()
            .push((id(&rollout.old), id(&rollout.new)));
        Ok(())
    }

    async fn reset(&self, _rollout: Rollout) -> Result<(), String> {
        Ok(())
    }
}

fn deployed(
    value: &'static str,
    canary: Option<Canary>,
) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let options = match &canary {
            Some(c) => Options::new().deploy_with(c.clone()),
            None => Options::new(),
        };
        stack.add_with("web", node(value, "k", vec![]), options);
        Ok(())
    }
}

#[tokio::test]
async fn a_saved_plan_with_a_canary_applies_with_the_program_s_policy() {
    let t = TestStack::new("dev");
    let canary = Canary::new("10% → 100%");
    t.up(deployed("v1", Some(canary.clone()))).await.unwrap();
    let v1 = t.cloud().object_named("web").id;
    let plan = save_and_load(
        &t.preview(deployed("v2", Some(canary.clone())))
            .await
            .unwrap(),
    );
    let change = plan.change("web").unwrap();
    assert_eq!(change.action, Action::Replace);
    assert_eq!(
        change.flags.handover.as_deref(),
        Some("deploy by canary 10% → 100%"),
        "the file keeps the policy's description"
    );

    // Without the program there is no policy to run: refused up front.
    let calls = t.cloud().calls().len();
    let err = t.engine().apply_plan(&plan).await.unwrap_err();
    assert!(matches!(err, Error::PlanHandover { .. }), "{err:?}");
    assert_eq!(t.cloud().calls().len(), calls, "nothing applied");

    let report = t
        .engine()
        .apply_plan_with(&plan, deployed("v2", Some(canary.clone())))
        .await
        .unwrap();
    assert!(report.is_success());
    let v2 = t.cloud().object_named("web").id;
    assert_ne!(v1, v2);
    assert_eq!(
        *canary.rollouts.lock().unwrap(),
        vec![(v1, v2.clone())],
        "the canary took the new object into service"
    );
    assert_eq!(
        t.cloud().objects_named("web").len(),
        1,
        "the old one deleted"
    );
    assert_eq!(t.state().await.resources["web"].id, v2);
    assert!(!t
        .preview(deployed("v2", Some(canary)))
        .await
        .unwrap()
        .has_changes());
}

#[tokio::test]
async fn a_saved_plan_is_refused_when_the_program_s_policy_changed() {
    let t = TestStack::new("dev");
    let canary = Canary::new("10% → 100%");
    t.up(deployed("v1", Some(canary.clone()))).await.unwrap();
    let plan = save_and_load(
        &t.preview(deployed("v2", Some(canary.clone())))
            .await
            .unwrap(),
    );
    let state = t.state().await;
    let calls = t.cloud().calls().len();

    // Another canary, no canary: each refused, naming the resource and both.
    let other = Canary::new("50% → 100%");
    let err = t
        .engine()
        .apply_plan_with(&plan, deployed("v2", Some(other.clone())))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("\"web\"")
            && text.contains("deploy by canary 10% → 100%")
            && text.contains("deploy by canary 50% → 100%")
            && text.contains("preview again"),
        "{text}"
    );
    let err = t
        .engine()
        .apply_plan_with(&plan, deployed("v2", None))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("declares no handover for it"),
        "{err}"
    );
    assert!(other.rollouts.lock().unwrap().is_empty());
    assert!(canary.rollouts.lock().unwrap().is_empty());
    assert_eq!(t.cloud().calls().len(), calls, "nothing applied");
    assert_eq!(t.state().await, state);

    // A plan made without a policy is refused once the program adds one.
    let plain = TestStack::new("dev");
    plain.up(deployed("v1", None)).await.unwrap();
    let plan = plain.preview(deployed("v2", None)).await.unwrap();
    let err = plain
        .engine()
        .apply_plan_with(&plan, deployed("v2", Some(canary)))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("changes it without a handover, but the program now declares"),
        "{err}"
    );
}
