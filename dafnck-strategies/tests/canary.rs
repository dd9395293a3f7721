//! Canary and blue-green rollouts on paused, virtual time: every
//! transition, with the memory router and fleet and scripted analysis.

mod support;

use std::time::Duration;

use dafnck_strategies::*;
use support::{fail, secs_since, unsure, Script};
use tokio::time::Instant;

fn mins(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

fn canary(steps: &[(u8, u64)]) -> Canary {
    Canary {
        analysis_interval: Duration::from_secs(60),
        ..Canary::with_steps(steps.iter().map(|&(w, m)| Step::new(w, mins(m))))
    }
}

struct Rig {
    router: MemoryRouter,
    fleet: MemoryFleet,
    log: MemoryLog,
    analysis: Script,
    /// One wall clock for every run, as a real restart would see.
    clock: TokioClock,
}

impl Rig {
    fn new(analysis: Script) -> Self {
        Rig {
            router: MemoryRouter::new(),
            fleet: MemoryFleet::new(),
            log: MemoryLog::new(),
            analysis,
            clock: TokioClock::starting_at(0),
        }
    }

    fn canary(&self, policy: &Canary) -> TrafficRollout<MemoryFleet, MemoryRouter> {
        TrafficRollout::canary("web", policy, self.fleet.clone(), self.router.clone())
            .unwrap()
            .analysis(AnalysisSet::new().with(self.analysis.clone()))
            .log(self.log.clone())
            .clock(self.clock.clone())
    }
}

#[tokio::test(start_paused = true)]
async fn a_healthy_canary_walks_every_step_then_promotes_and_retires_the_old_version() {
    let rig = Rig::new(Script::always(Verdict::Pass));
    let start = Instant::now();
    let done = rig.canary(&Canary::default()).run(None).await.unwrap();
    assert_eq!(done.phase, Phase::Completed);
    assert_eq!(rig.router.history(), vec![5, 25, 50, 100]);
    assert_eq!(
        rig.fleet.calls(),
        vec![FleetCall::StartNew, FleetCall::Promote]
    );
    assert_eq!(
        rig.log.phases(),
        vec![
            Phase::Starting,
            Phase::Progressing,
            Phase::Promoting,
            Phase::Completed
        ]
    );
    // 10 + 20 + 30 minutes of steps, analysed every minute.
    assert_eq!(secs_since(start), 60 * 60);
    assert_eq!(rig.analysis.runs(), 60);
}

#[tokio::test(start_paused = true)]
async fn a_failing_gate_rolls_back_to_zero_at_once_and_retires_the_canary() {
    // Passes for the whole first step (10 analyses), fails in the second.
    let mut answers = vec![Verdict::Pass; 12];
    answers.push(fail("error rate 0.2 > 0.05"));
    let rig = Rig::new(Script::new(answers, Verdict::Pass));
    let start = Instant::now();
    let done = rig.canary(&Canary::default()).run(None).await.unwrap();
    assert_eq!(done.phase, Phase::RolledBack);
    assert!(!done.aborted);
    assert_eq!(
        done.message.as_deref(),
        Some("script: error rate 0.2 > 0.05")
    );
    assert_eq!(rig.router.history(), vec![5, 25, 0]);
    assert_eq!(
        rig.fleet.calls(),
        vec![FleetCall::StartNew, FleetCall::RetireNew]
    );
    assert_eq!(
        done.rollback_time_ms(),
        Some(0),
        "traffic off in the same instant"
    );
    assert_eq!(secs_since(start), 13 * 60);
    assert_eq!(done.failed_at, Some(13 * 60 * 1000));
}

#[tokio::test(start_paused = true)]
async fn the_failure_limit_tolerates_that_many_failures_in_a_row() {
    let policy = Canary {
        failure_limit: 1,
        ..canary(&[(10, 3)])
    };
    let tolerated = Rig::new(Script::new(
        vec![fail("blip"), Verdict::Pass, fail("blip")],
        Verdict::Pass,
    ));
    let done = tolerated.canary(&policy).run(None).await.unwrap();
    assert_eq!(done.phase, Phase::Completed);

    let twice = Rig::new(Script::new(vec![fail("a"), fail("b")], Verdict::Pass));
    let done = twice.canary(&policy).run(None).await.unwrap();
    assert_eq!(done.phase, Phase::RolledBack);
    assert_eq!(done.message.as_deref(), Some("script: b"));
}

#[tokio::test(start_paused = true)]
async fn no_data_pauses_until_resumed_and_the_pause_does_not_count_towards_the_step() {
    let rig = Rig::new(Script::new(
        vec![Verdict::Pass, unsure("no series")],
        Verdict::Pass,
    ));
    let mut rollout = rig.canary(&canary(&[(20, 5)]));
    let handle = rollout.handle();
    let start = Instant::now();
    let run = tokio::spawn(async move { rollout.run(None).await });
    tokio::time::sleep(mins(30)).await;
    assert_eq!(rig.log.last().unwrap().phase, Phase::Paused);
    assert_eq!(
        rig.log.last().unwrap().message.as_deref(),
        Some("script: no series")
    );
    assert_eq!(rig.router.current().new_share(), 20, "held, not promoted");
    assert!(handle.send(RolloutControl::Resume));
    let done = run.await.unwrap().unwrap();
    assert_eq!(done.phase, Phase::Completed);
    // 2 minutes before the pause, 28 paused, 3 more after.
    assert_eq!(secs_since(start), 33 * 60);
    assert_eq!(rig.router.history(), vec![20, 100]);
}

#[tokio::test(start_paused = true)]
async fn abort_during_a_step_rolls_back_and_retry_starts_a_new_attempt() {
    let rig = Rig::new(Script::always(Verdict::Pass));
    let mut rollout = rig.canary(&canary(&[(10, 10), (50, 10)]));
    let handle = rollout.handle();
    let run = tokio::spawn(async move {
        let r = rollout.run(None).await;
        (rollout, r)
    });
    tokio::time::sleep(Duration::from_secs(12 * 60 + 30)).await;
    handle.send(RolloutControl::Abort);
    let (mut rollout, aborted) = run.await.unwrap();
    let aborted = aborted.unwrap();
    assert_eq!(aborted.phase, Phase::RolledBack);
    assert!(aborted.aborted);
    assert_eq!(aborted.message.as_deref(), Some("aborted"));
    assert_eq!(rig.router.history(), vec![10, 50, 0]);
    // The abort is acted on when it arrives, not at the next analysis.
    assert_eq!(aborted.traffic_off_at, Some((12 * 60 + 30) * 1000));

    let retried = rollout.run(Some(&aborted)).await.unwrap();
    assert_eq!(retried.attempt, 2);
    assert_eq!(retried.phase, Phase::Completed);
    assert_eq!(rig.router.history(), vec![10, 50, 0, 10, 50, 100]);
    assert_eq!(
        rig.fleet.calls(),
        vec![
            FleetCall::StartNew,
            FleetCall::RetireNew,
            FleetCall::StartNew,
            FleetCall::Promote
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn promote_now_skips_the_remaining_steps_and_pause_holds_the_weight() {
    let rig = Rig::new(Script::always(Verdict::Pass));
    let mut rollout = rig.canary(&Canary::default());
    let handle = rollout.handle();
    let start = Instant::now();
    let run = tokio::spawn(async move { rollout.run(None).await });
    tokio::time::sleep(mins(11)).await;
    handle.send(RolloutControl::Pause);
    tokio::time::sleep(mins(60)).await;
    assert_eq!(rig.log.last().unwrap().phase, Phase::Paused);
    assert_eq!(rig.router.history(), vec![5, 25]);
    handle.send(RolloutControl::Promote);
    let done = run.await.unwrap().unwrap();
    assert_eq!(done.phase, Phase::Completed);
    assert_eq!(rig.router.history(), vec![5, 25, 100]);
    assert_eq!(secs_since(start), 71 * 60);
}

#[tokio::test(start_paused = true)]
async fn a_metrics_source_that_is_down_never_promotes_silently() {
    struct Down;
    #[async_trait::async_trait]
    impl MetricSource for Down {
        async fn query(&self, _: &str) -> Result<Option<f64>, String> {
            Err("connection refused (127.0.0.1:9090)".into())
        }
    }
    // Default: inconclusive → paused, traffic held at the canary's weight.
    let router = MemoryRouter::new();
    let mut rollout = TrafficRollout::canary(
        "web",
        &canary(&[(5, 1)]),
        MemoryFleet::new(),
        router.clone(),
    )
    .unwrap()
    .analysis(AnalysisSet::new().with(MetricGate::new(
        "errors",
        Down,
        "q",
        Threshold::AtMost(0.01),
    )));
    let run = tokio::spawn(async move { rollout.run(None).await });
    tokio::time::sleep(mins(120)).await;
    assert!(!run.is_finished());
    assert_eq!(router.history(), vec![5]);
    run.abort();

    // Chosen as a failure: rolled back.
    let router = MemoryRouter::new();
    let gate = MetricGate::new("errors", Down, "q", Threshold::AtMost(0.01)).on_error(NoData::Fail);
    let done = TrafficRollout::canary(
        "web",
        &canary(&[(5, 1)]),
        MemoryFleet::new(),
        router.clone(),
    )
    .unwrap()
    .analysis(AnalysisSet::new().with(gate))
    .run(None)
    .await
    .unwrap();
    assert_eq!(done.phase, Phase::RolledBack);
    assert!(done.message.unwrap().contains("connection refused"));
    assert_eq!(router.history(), vec![5, 0]);
}

#[tokio::test(start_paused = true)]
async fn a_new_version_that_never_gets_ready_gets_no_traffic_and_is_retired() {
    let rig = Rig::new(Script::always(Verdict::Pass));
    let not_ready = Script::always(fail("GET /healthz: 503"));
    let start = Instant::now();
    let done = rig
        .canary(&canary(&[(5, 1)]))
        .readiness(AnalysisSet::new().with(not_ready.clone()))
        .run(None)
        .await
        .unwrap();
    assert_eq!(done.phase, Phase::RolledBack);
    assert!(done.message.unwrap().contains("not ready within 120s"));
    assert_eq!(rig.router.history(), vec![0], "never any traffic");
    assert_eq!(
        rig.fleet.calls(),
        vec![FleetCall::StartNew, FleetCall::RetireNew]
    );
    assert_eq!(secs_since(start), 120);
    assert_eq!(not_ready.runs(), 121, "polled every second");
}

/// A readiness check that sees whether the router was prepared first.
#[derive(Clone)]
struct SeesPrepared(MemoryRouter);

#[async_trait::async_trait]
impl Analysis for SeesPrepared {
    fn name(&self) -> &str {
        "sees prepared"
    }
    async fn run(&self) -> Verdict {
        if self.0.prepares() == 1 && self.0.history().is_empty() {
            Verdict::Pass
        } else {
            fail("readiness ran before the router was prepared, or after traffic moved")
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_router_is_prepared_before_readiness_and_before_any_traffic() {
    let rig = Rig::new(Script::always(Verdict::Pass));
    let done = rig
        .canary(&canary(&[(5, 1)]))
        .readiness(AnalysisSet::new().with(SeesPrepared(rig.router.clone())))
        .run(None)
        .await
        .unwrap();
    assert_eq!(done.phase, Phase::Completed, "{:?}", done.message);
    assert_eq!(rig.router.prepares(), 1);
    assert_eq!(rig.router.history(), vec![5, 100]);
}

#[tokio::test(start_paused = true)]
async fn a_router_that_keeps_failing_leaves_a_record_the_next_run_finishes() {
    let rig = Rig::new(Script::new(vec![fail("bad")], Verdict::Pass));
    for _ in 0..6 {
        rig.router.fail_next("nginx -s reload: exit 1");
    }
    // The step's 5% fails, which alone rolls back; then all five of the
    // rollback's attempts to set 0% fail.
    let err = rig.canary(&canary(&[(5, 1)])).run(None).await.unwrap_err();
    assert!(
        matches!(
            &err,
            RolloutError::Stuck {
                phase: Phase::RollingBack,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("nginx -s reload"), "{err}");
    let last = rig.log.last().unwrap();
    assert_eq!(last.phase, Phase::RollingBack);

    rig.router.fail_next("once more");
    let done = rig
        .canary(&canary(&[(5, 1)]))
        .run(Some(&last))
        .await
        .unwrap();
    assert_eq!(done.phase, Phase::RolledBack);
    assert_eq!(rig.router.history(), vec![0]);
    assert_eq!(
        rig.fleet.calls(),
        vec![FleetCall::StartNew, FleetCall::RetireNew]
    );
}

#[tokio::test(start_paused = true)]
async fn a_rollout_killed_mid_step_resumes_with_the_time_its_step_had_left() {
    let rig = Rig::new(Script::always(Verdict::Pass));
    let policy = canary(&[(10, 10), (40, 10)]);
    let mut first = rig.canary(&policy);
    let start = Instant::now();
    let run = tokio::spawn(async move { first.run(None).await });
    tokio::time::sleep(Duration::from_secs(14 * 60 + 20)).await;
    run.abort(); // the process died
    let _ = run.await;
    let last = rig.log.last().unwrap();
    assert_eq!(
        (last.phase.clone(), last.step, last.weight),
        (Phase::Progressing, 1, 40)
    );

    tokio::time::sleep(mins(3)).await; // down for a while
    let done = rig.canary(&policy).run(Some(&last)).await.unwrap();
    assert_eq!(done.phase, Phase::Completed);
    assert_eq!(done.attempt, 1);
    // The second step started at 10 min and ends at 20: time down counts.
    assert_eq!(secs_since(start), 20 * 60);
    assert_eq!(rig.router.history(), vec![10, 40, 40, 100]);
    assert_eq!(
        rig.fleet.calls(),
        vec![FleetCall::StartNew, FleetCall::Promote]
    );
}

#[tokio::test(start_paused = true)]
async fn blue_green_analyses_before_the_switch_and_switches_back_on_failure() {
    let policy = BlueGreen {
        pre_switch_analysis: mins(2),
        rollback_window: mins(10),
        analysis_interval: Duration::from_secs(30),
        ..BlueGreen::default()
    };
    let ok = Rig::new(Script::always(Verdict::Pass));
    let done = TrafficRollout::blue_green("web", &policy, ok.fleet.clone(), ok.router.clone())
        .unwrap()
        .run(None)
        .await
        .unwrap();
    assert_eq!(done.phase, Phase::Completed);
    assert_eq!(ok.router.history(), vec![0, 100, 100]);
    assert_eq!(
        ok.fleet.calls(),
        vec![FleetCall::StartNew, FleetCall::Promote]
    );

    // Fails 3 minutes after the switch: traffic goes back to blue.
    let mut answers = vec![Verdict::Pass; 4 + 5];
    answers.push(fail("p95 latency 900ms > 300ms"));
    let bad = Rig::new(Script::new(answers, Verdict::Pass));
    let start = Instant::now();
    let done = TrafficRollout::blue_green("web", &policy, bad.fleet.clone(), bad.router.clone())
        .unwrap()
        .analysis(AnalysisSet::new().with(bad.analysis.clone()))
        .clock(TokioClock::starting_at(0))
        .run(None)
        .await
        .unwrap();
    assert_eq!(done.phase, Phase::RolledBack);
    assert_eq!(bad.router.history(), vec![0, 100, 0]);
    assert_eq!(
        bad.fleet.calls(),
        vec![FleetCall::StartNew, FleetCall::RetireNew]
    );
    assert_eq!(secs_since(start), 5 * 60);
}

#[test]
fn invalid_policies_are_refused_before_anything_starts() {
    let fleet = MemoryFleet::new();
    let err = TrafficRollout::canary(
        "web",
        &Canary::with_steps([]),
        fleet.clone(),
        MemoryRouter::new(),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("at least one step"), "{err}");
    assert!(fleet.calls().is_empty());
}
