//! Deployment policies: a change under a policy is rolled out beside the
//! old object, which is deleted once the policy promotes; a rollback
//! deletes the new object and keeps the old; a rollout a dead run left
//! under way is reset by the next run before anything else.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use dafnck_core::deploy::{Deploy, DeployError, Rollout};
use dafnck_core::state::StateLock;
use dafnck_core::testing::{FakeCloud, FakeOp, TestStack};
use dafnck_core::{Action, Error, Options, Stack};
use tokio::sync::Notify;

use crate::common::{apply_failure, calls, node, program_problems};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Ending {
    Promote,
    RollBack,
    Stuck,
    /// Never returns: the run dies in the middle.
    Hang,
}

/// What the scripted policy saw: (call, old node id, new node id, objects
/// named "web" in the cloud at that moment).
type Seen = Arc<Mutex<Vec<(&'static str, String, String, usize)>>>;

#[derive(Clone)]
struct Scripted {
    ending: Ending,
    cloud: FakeCloud,
    seen: Seen,
    started: Arc<Notify>,
}

impl Scripted {
    fn new(ending: Ending, cloud: &FakeCloud, seen: &Seen) -> Self {
        Scripted {
            ending,
            cloud: cloud.clone(),
            seen: seen.clone(),
            started: Arc::new(Notify::new()),
        }
    }

    fn note(&self, call: &'static str, r: &Rollout) {
        let id = |v: &dafnck_core::Value| {
            v.get("node_id")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let live = self.cloud.objects_named("web").len();
        self.seen
            .lock()
            .unwrap()
            .push((call, id(&r.old), id(&r.new), live));
    }
}

#[async_trait]
impl Deploy for Scripted {
    fn describe(&self) -> String {
        "scripted canary".into()
    }

    async fn deploy(&self, rollout: Rollout) -> Result<(), DeployError> {
        self.note("deploy", &rollout);
        rollout
            .log()
            .record(serde_json::json!({"phase": "progressing", "weight": 10}))
            .await
            .unwrap();
        self.started.notify_one();
        match self.ending {
            Ending::Promote => Ok(()),
            Ending::RollBack => Err(DeployError::RolledBack("error rate 0.2 > 0.05".into())),
            Ending::Stuck => Err(DeployError::Stuck("nginx reload failed".into())),
            Ending::Hang => std::future::pending().await,
        }
    }

    async fn reset(&self, rollout: Rollout) -> Result<(), String> {
        self.note("reset", &rollout);
        Ok(())
    }
}

fn infra(value: &'static str, policy: Scripted) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        stack.add_with(
            "web",
            node(value, "k", vec![]),
            Options::new().deploy_with(policy.clone()),
        );
        Ok(())
    }
}

fn web_id(t: &TestStack) -> String {
    t.cloud().object_named("web").id
}

#[tokio::test]
async fn a_change_under_a_policy_is_rolled_out_beside_the_old_object_then_the_old_is_deleted() {
    let t = TestStack::new("dev");
    let seen = Seen::default();
    let policy = Scripted::new(Ending::Promote, t.cloud(), &seen);
    t.up(infra("v1", policy.clone())).await.unwrap();
    assert!(seen.lock().unwrap().is_empty(), "a create is not a rollout");
    let v1 = web_id(&t);

    let plan = t.preview(infra("v2", policy.clone())).await.unwrap();
    let change = plan.change("web").unwrap();
    assert_eq!(change.action, Action::Replace);
    assert_eq!(
        change.flags.handover.as_deref(),
        Some("deploy by scripted canary")
    );
    let text = plan.render();
    assert!(
        text.contains("web (fake:graph:Node) (deploy by scripted canary)"),
        "{text}"
    );

    t.up(infra("v2", policy)).await.unwrap();
    let v2 = web_id(&t);
    assert_ne!(v1, v2);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![("deploy", v1.clone(), v2.clone(), 2)],
        "the policy saw both objects live"
    );
    assert_eq!(t.cloud().objects_named("web").len(), 1);
    let state = t.state().await;
    assert_eq!(state.resources["web"].id, v2);
    assert!(state.deposed.is_empty());
    let mark = &state.handovers["web"];
    assert!(!mark.active);
    assert_eq!(mark.record["weight"], 10);
}

#[tokio::test]
async fn a_rolled_back_rollout_deletes_the_new_object_and_keeps_the_old_one_current() {
    let t = TestStack::new("dev");
    let seen = Seen::default();
    t.up(infra(
        "v1",
        Scripted::new(Ending::Promote, t.cloud(), &seen),
    ))
    .await
    .unwrap();
    let v1 = web_id(&t);
    let bad = Scripted::new(Ending::RollBack, t.cloud(), &seen);
    let report = apply_failure(t.up(infra("v3", bad.clone())).await);
    let text = report.to_string();
    assert!(
        text.contains("rolled back: error rate 0.2 > 0.05"),
        "{text}"
    );
    assert!(text.contains("web"), "{text}");

    assert_eq!(web_id(&t), v1, "the old object serves on");
    assert_eq!(t.cloud().objects_named("web").len(), 1);
    assert_eq!(
        calls(t.cloud(), FakeOp::Delete, "web").len(),
        1,
        "only the new one"
    );
    let state = t.state().await;
    assert_eq!(state.resources["web"].id, v1);
    assert_eq!(
        state.resources["web"].inputs.get("value").unwrap().as_str(),
        Some("v1")
    );
    assert!(state.deposed.is_empty());
    assert!(!state.handovers["web"].active);
    // The change is still wanted: the next preview plans it again.
    let plan = t.preview(infra("v3", bad)).await.unwrap();
    assert_eq!(plan.change("web").unwrap().action, Action::Replace);
}

#[tokio::test]
async fn a_stuck_rollout_keeps_both_objects_and_the_next_run_resets_it() {
    let t = TestStack::new("dev");
    let seen = Seen::default();
    t.up(infra(
        "v1",
        Scripted::new(Ending::Promote, t.cloud(), &seen),
    ))
    .await
    .unwrap();
    let v1 = web_id(&t);
    let report = apply_failure(
        t.up(infra("v2", Scripted::new(Ending::Stuck, t.cloud(), &seen)))
            .await,
    );
    assert!(
        report
            .to_string()
            .contains("the handover is stuck: nginx reload failed"),
        "{report}"
    );
    assert_eq!(t.cloud().objects_named("web").len(), 2, "both kept");
    assert!(t.state().await.handovers["web"].active);

    t.up(infra(
        "v2",
        Scripted::new(Ending::Promote, t.cloud(), &seen),
    ))
    .await
    .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[1].0, "reset");
    assert_eq!(seen[1].1, v1, "traffic reset to the old object");
    assert_eq!(seen[2].0, "deploy", "then rolled out afresh");
    assert_eq!(t.cloud().objects_named("web").len(), 1);
    assert_eq!(
        t.state().await.resources["web"]
            .inputs
            .get("value")
            .unwrap()
            .as_str(),
        Some("v2")
    );
}

#[tokio::test]
async fn a_rollout_interrupted_by_a_dead_run_is_reset_before_anything_else() {
    let t = Arc::new(TestStack::new("dev"));
    let seen = Seen::default();
    t.up(infra(
        "v1",
        Scripted::new(Ending::Promote, t.cloud(), &seen),
    ))
    .await
    .unwrap();
    let v1 = web_id(&t);
    let hang = Scripted::new(Ending::Hang, t.cloud(), &seen);
    let started = hang.started.clone();
    let run = {
        let t = t.clone();
        tokio::spawn(async move { t.up(infra("v2", hang)).await })
    };
    started.notified().await;
    run.abort(); // the run dies mid-rollout
    let _ = run.await;
    let orphan = t
        .cloud()
        .objects_named("web")
        .into_iter()
        .find(|o| o.id != v1)
        .unwrap()
        .id;
    let state = t.state().await;
    assert!(state.handovers["web"].active);
    let lock = t.store().lock_info("dev").await.unwrap().unwrap();
    t.engine().force_unlock(&lock.id).await.unwrap();

    t.up(infra(
        "v2",
        Scripted::new(Ending::Promote, t.cloud(), &seen),
    ))
    .await
    .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[1], ("reset", v1.clone(), orphan.clone(), 2));
    assert_eq!(seen[2].0, "deploy");
    assert_eq!(seen[2].1, v1);
    let objects = t.cloud().objects_named("web");
    assert_eq!(objects.len(), 1);
    assert!(objects[0].id != v1 && objects[0].id != orphan);
    assert!(!t.state().await.handovers["web"].active);
}

#[tokio::test]
async fn an_interrupted_rollout_whose_policy_is_gone_is_refused_by_name() {
    let t = TestStack::new("dev");
    let seen = Seen::default();
    t.up(infra(
        "v1",
        Scripted::new(Ending::Promote, t.cloud(), &seen),
    ))
    .await
    .unwrap();
    let _ = t
        .up(infra("v2", Scripted::new(Ending::Stuck, t.cloud(), &seen)))
        .await;
    let err = t
        .up(|stack: &mut Stack| {
            stack.add("web", node("v2", "k", vec![]));
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Handover { resource, .. } if resource == "web"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("no longer declares it with the handover it had"),
        "{err}"
    );
    assert_eq!(t.cloud().objects_named("web").len(), 2, "nothing touched");
}

#[tokio::test]
async fn a_policy_cannot_be_combined_with_delete_before_replace() {
    let t = TestStack::new("dev");
    let seen = Seen::default();
    let policy = Scripted::new(Ending::Promote, t.cloud(), &seen);
    let program = move |value: &'static str| {
        let policy = policy.clone();
        move |stack: &mut Stack| {
            stack.add_with(
                "web",
                node(value, "k", vec![]),
                Options::new()
                    .deploy_with(policy.clone())
                    .delete_before_replace(),
            );
            Ok(())
        }
    };
    t.up(program("v1")).await.unwrap();
    let problems = program_problems(t.preview(program("v2")).await);
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].message.contains("delete_before_replace is set"),
        "{}",
        problems[0].message
    );
}
