//! Strategies run by the engine: `Options::deploy_with(Strategy)` on a
//! resource of the fake cloud, traffic through the memory router, on
//! paused time.

mod support;

use std::time::Duration;

use dafnck_core::testing::resources::Node;
use dafnck_core::testing::TestStack;
use dafnck_core::{Options, Stack};
use dafnck_strategies::*;
use support::{fail, secs_since, Script};

fn node(value: &str) -> Node {
    Node {
        value: value.into(),
        key: "k".into(),
        refs: vec![],
    }
}

fn canary() -> Canary {
    Canary {
        analysis_interval: Duration::from_secs(30),
        ..Canary::with_steps([
            Step::new(10, Duration::from_secs(60)),
            Step::new(50, Duration::from_secs(60)),
        ])
    }
}

fn strategy(router: &MemoryRouter, gate: Script) -> Strategy {
    let router = router.clone();
    Strategy::canary(canary(), move |_old, _new| Ok(router.clone()))
        .unwrap()
        .analysis(move |_old, _new| AnalysisSet::new().with(gate.clone()))
}

fn infra(value: &'static str, s: Strategy) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        stack.add_with("web", node(value), Options::new().deploy_with(s.clone()));
        Ok(())
    }
}

fn record(json: &serde_json::Value) -> RolloutRecord {
    serde_json::from_value(json.clone()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_engine_rolls_a_change_out_as_a_canary_and_records_every_step() {
    let t = TestStack::new("dev");
    let router = MemoryRouter::new();
    let s = strategy(&router, Script::always(Verdict::Pass));
    t.up(infra("v1", s.clone())).await.unwrap();
    assert!(router.history().is_empty());
    let plan = t.preview(infra("v2", s.clone())).await.unwrap();
    assert!(
        plan.render()
            .contains("(deploy by canary 10% (60s) → 50% (60s) → 100%)"),
        "{}",
        plan.render()
    );
    t.up(infra("v2", s)).await.unwrap();
    assert_eq!(router.history(), vec![10, 50, 100]);
    let state = t.state().await;
    let done = record(&state.handovers["web"].record);
    assert_eq!(done.phase, Phase::Completed);
    assert_eq!(t.cloud().objects_named("web").len(), 1);
    assert_eq!(
        state.resources["web"].inputs.get("value").unwrap().as_str(),
        Some("v2")
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_gate_rolls_back_and_the_old_object_serves_on() {
    let t = TestStack::new("dev");
    let router = MemoryRouter::new();
    t.up(infra(
        "v1",
        strategy(&router, Script::always(Verdict::Pass)),
    ))
    .await
    .unwrap();
    let v1 = t.cloud().object_named("web").id;
    let bad = Script::new(
        vec![Verdict::Pass, Verdict::Pass],
        fail("5xx rate 0.2 > 0.01"),
    );
    let err = t.up(infra("v3", strategy(&router, bad))).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("rolled back: script: 5xx rate 0.2 > 0.01"),
        "{err}"
    );
    assert_eq!(router.history(), vec![10, 50, 0]);
    assert_eq!(t.cloud().object_named("web").id, v1);
    let state = t.state().await;
    let done = record(&state.handovers["web"].record);
    assert_eq!(done.phase, Phase::RolledBack);
    assert_eq!(done.rollback_time_ms(), Some(0));

    // A retry is a new attempt.
    t.up(infra(
        "v3",
        strategy(&router, Script::always(Verdict::Pass)),
    ))
    .await
    .unwrap();
    let done = record(&t.state().await.handovers["web"].record);
    assert_eq!((done.phase, done.attempt), (Phase::Completed, 2));
}

#[tokio::test(start_paused = true)]
async fn a_canary_cut_off_mid_step_is_reset_to_zero_then_rolled_out_again() {
    let t = std::sync::Arc::new(TestStack::new("dev"));
    let router = MemoryRouter::new();
    t.up(infra(
        "v1",
        strategy(&router, Script::always(Verdict::Pass)),
    ))
    .await
    .unwrap();
    let run = {
        let t = t.clone();
        let s = strategy(&router, Script::always(Verdict::Pass));
        tokio::spawn(async move { t.up(infra("v2", s)).await })
    };
    tokio::time::sleep(Duration::from_secs(90)).await;
    run.abort();
    let _ = run.await;
    assert_eq!(router.current().new_share(), 50, "cut off mid-canary");
    let state = t.state().await;
    assert!(state.handovers["web"].active);
    let cut = record(&state.handovers["web"].record);
    assert_eq!((cut.phase, cut.weight), (Phase::Progressing, 50));
    let lock = dafnck_core::state::StateLock::lock_info(t.store(), "dev")
        .await
        .unwrap()
        .unwrap();
    t.engine().force_unlock(&lock.id).await.unwrap();

    t.up(infra(
        "v2",
        strategy(&router, Script::always(Verdict::Pass)),
    ))
    .await
    .unwrap();
    assert_eq!(router.history(), vec![10, 50, 0, 10, 50, 100]);
    assert_eq!(t.cloud().objects_named("web").len(), 1);
}

#[test]
fn an_invalid_policy_is_refused_when_built() {
    let err = Strategy::canary(Canary::with_steps([]), |_, _| Ok(MemoryRouter::new()))
        .err()
        .unwrap();
    assert!(err.to_string().contains("at least one step"));
}

#[tokio::test(start_paused = true)]
async fn another_process_aborts_or_promotes_a_rollout_under_way() {
    use dafnck_core::deploy::RolloutControl;
    use dafnck_core::engine::Engine;
    let t = std::sync::Arc::new(TestStack::new("dev"));
    let router = MemoryRouter::new();
    t.up(infra(
        "v1",
        strategy(&router, Script::always(Verdict::Pass)),
    ))
    .await
    .unwrap();
    // Another process: its own engine over the same store, no providers.
    let other = Engine::new(
        "dev",
        std::sync::Arc::new(t.store().clone()),
        dafnck_core::Providers::new(),
    );
    let err = other
        .send_rollout_control("web", RolloutControl::Abort)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("no rollout of \"web\" is under way"),
        "{err}"
    );

    let run = {
        let t = t.clone();
        let s = strategy(&router, Script::always(Verdict::Pass));
        tokio::spawn(async move { t.up(infra("v2", s)).await })
    };
    tokio::time::sleep(Duration::from_secs(20)).await;
    let lock = other
        .send_rollout_control("web", RolloutControl::Abort)
        .await
        .unwrap();
    assert_eq!(lock.operation, "up");
    let err = run.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("rolled back: aborted"), "{err}");
    assert_eq!(router.history(), vec![10, 0]);
    let done = record(&t.state().await.handovers["web"].record);
    assert!(done.aborted);

    // Promote now: the remaining steps are skipped.
    let run = {
        let t = t.clone();
        let s = strategy(&router, Script::always(Verdict::Pass));
        tokio::spawn(async move { t.up(infra("v2", s)).await })
    };
    tokio::time::sleep(Duration::from_secs(20)).await;
    other
        .send_rollout_control("web", RolloutControl::Promote)
        .await
        .unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(router.history(), vec![10, 0, 10, 100]);
}

/// Four instances per object, at `<node id>-<i>`; each new instance's
/// health is `health`.
fn rolling(pool: &MemoryPool, health: Script) -> Strategy {
    let pool = pool.clone();
    let addresses = |outputs: &dafnck_core::Value| -> Vec<String> {
        match outputs.get("node_id").and_then(|v| v.as_str()) {
            Some(id) => (0..4).map(|i| format!("{id}-{i}")).collect(),
            None => Vec::new(),
        }
    };
    let policy = Rolling {
        batch: BatchSize::Percent(25),
        batch_timeout: Duration::from_secs(10),
        poll_interval: Duration::from_secs(5),
        ..Rolling::default()
    };
    Strategy::rolling(policy, move |old, new| {
        let members = addresses(new)
            .into_iter()
            .map(|a| Member::new(a, AnalysisSet::new().with(health.clone())))
            .collect();
        PoolFleet::new(pool.clone(), addresses(old), members)
    })
    .unwrap()
}

/// How many of a pool's backends belong to the object `id`.
fn count_of(pool: &[String], id: &str) -> usize {
    pool.iter()
        .filter(|a| a.starts_with(&format!("{id}-")))
        .count()
}

#[tokio::test(start_paused = true)]
async fn the_engine_rolls_a_change_out_batch_by_batch_through_the_pool() {
    let t = TestStack::new("dev");
    let pool = MemoryPool::new();
    let s = rolling(&pool, Script::always(Verdict::Pass));
    t.up(infra("v1", s.clone())).await.unwrap();
    let v1 = t.cloud().object_named("web").id;
    let plan = t.preview(infra("v2", s.clone())).await.unwrap();
    assert!(
        plan.render().contains(
            "(deploy by rolling, 25% at a time, 10s per batch, rolled back after 2 failed batches)"
        ),
        "{}",
        plan.render()
    );
    t.up(infra("v2", s)).await.unwrap();
    let v2 = t.cloud().object_named("web").id;
    assert_ne!(v1, v2);
    assert_eq!(t.cloud().objects_named("web").len(), 1, "v1 is deleted");
    // One more new instance per batch, one fewer old one, in slot order.
    let steps: Vec<(usize, usize)> = pool
        .history()
        .iter()
        .map(|p| (count_of(p, &v1), count_of(p, &v2)))
        .collect();
    assert_eq!(steps, vec![(3, 1), (2, 2), (1, 3), (0, 4)]);
    let done = record(&t.state().await.handovers["web"].record);
    assert_eq!(
        (done.phase, done.replaced.len(), done.weight),
        (Phase::Completed, 4, 100)
    );
}

#[tokio::test(start_paused = true)]
async fn a_version_that_never_gets_healthy_is_rolled_back_after_two_batches_without_traffic() {
    let t = TestStack::new("dev");
    let pool = MemoryPool::new();
    t.up(infra("v1", rolling(&pool, Script::always(Verdict::Pass))))
        .await
        .unwrap();
    let v1 = t.cloud().object_named("web").id;
    let sick = Script::always(fail("GET / answered 500"));
    let started = tokio::time::Instant::now();
    let err = t
        .up(infra("v3", rolling(&pool, sick.clone())))
        .await
        .unwrap_err();
    let err = err.to_string();
    assert!(
        err.contains("rolled back: 2 failed batches in a row")
            && err.contains("not healthy within 10s")
            && err.contains("GET / answered 500"),
        "{err}"
    );
    // Two attempts at the first batch, 10 s each, polled every 5 s.
    assert_eq!(secs_since(started), 20);
    assert_eq!(sick.runs(), 6);
    // The new instances never joined the pool; the rollback put the old
    // pool back (unchanged), and the new object is gone.
    let history = pool.history();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(count_of(&history[0], &v1), 4);
    assert_eq!(t.cloud().objects_named("web").len(), 1);
    assert_eq!(t.cloud().object_named("web").id, v1);
    let done = record(&t.state().await.handovers["web"].record);
    assert_eq!(done.phase, Phase::RolledBack);
}

#[tokio::test(start_paused = true)]
async fn a_rolling_update_cut_off_mid_way_is_reset_to_the_old_pool_then_rolled_out_again() {
    let t = std::sync::Arc::new(TestStack::new("dev"));
    let pool = MemoryPool::new();
    t.up(infra("v1", rolling(&pool, Script::always(Verdict::Pass))))
        .await
        .unwrap();
    let v1 = t.cloud().object_named("web").id;
    // Each batch is unhealthy at its first check and healthy 5 s later.
    let slow = || {
        let p = Verdict::Pass;
        let f = fail("starting");
        Script::new(
            vec![f.clone(), p.clone(), f.clone(), p.clone(), f.clone(), p],
            fail("starting"),
        )
    };
    let run = {
        let t = t.clone();
        let s = rolling(&pool, slow());
        tokio::spawn(async move { t.up(infra("v2", s)).await })
    };
    tokio::time::sleep(Duration::from_secs(12)).await;
    run.abort();
    let _ = run.await;
    let cut = pool.current();
    assert_eq!(count_of(&cut, &v1), 2, "two batches swapped in: {cut:?}");
    let status = dafnck_core::cli::output::rollouts(&t.state().await, Some("web"));
    assert!(
        status[0].starts_with("web\tunder way\tProgressing")
            && status[0].contains("new version at 50%"),
        "{status:?}"
    );
    assert!(t.state().await.handovers["web"].active);
    let lock = dafnck_core::state::StateLock::lock_info(t.store(), "dev")
        .await
        .unwrap()
        .unwrap();
    t.engine().force_unlock(&lock.id).await.unwrap();

    // The next run puts the whole old pool back before anything else, then
    // rolls v2 out afresh.
    let before = pool.history().len();
    t.up(infra("v2", rolling(&pool, Script::always(Verdict::Pass))))
        .await
        .unwrap();
    let after = pool.history();
    assert_eq!(count_of(&after[before], &v1), 4, "{after:?}");
    let v2 = t.cloud().object_named("web").id;
    assert_eq!(count_of(&pool.current(), &v2), 4);
    assert_eq!(t.cloud().objects_named("web").len(), 1);
}
