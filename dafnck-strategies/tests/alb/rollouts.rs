//! Whole rollouts through the ALB, and readiness from its own health checks.

use crate::world::*;

// ------------------------------------------------------------ rollouts

/// The ALB router, with the listener's weights read back (by the test's
/// own client) after every change it makes.
struct Watched {
    alb: Alb,
    router: AlbRouter,
    seen: Arc<Mutex<Vec<(i32, i32)>>>,
}

impl Watched {
    fn new(alb: &Alb) -> Self {
        Watched {
            alb: alb.clone(),
            router: alb.router(),
            seen: Arc::default(),
        }
    }
}

#[async_trait]
impl TrafficRouter for Watched {
    fn describe(&self) -> String {
        self.router.describe()
    }
    async fn set_weights(&self, weights: Weights) -> Result<(), String> {
        self.router.set_weights(weights).await?;
        let now = self.alb.weights().await;
        self.seen.lock().unwrap().push(now);
        Ok(())
    }
}

fn short_canary() -> Canary {
    Canary {
        steps: vec![
            Step::new(20, Duration::from_millis(600)),
            Step::new(50, Duration::ZERO),
        ],
        analysis_interval: Duration::from_millis(200),
        ready_timeout: Duration::from_secs(5),
        failure_limit: 0,
    }
}

#[tokio::test]
async fn a_canary_through_the_alb_sets_each_step_and_promotes_to_100_percent() {
    let test = "a_canary_through_the_alb_sets_each_step_and_promotes_to_100_percent";
    let Some(alb) = alb(test).await else {
        return;
    };
    let router = Watched::new(&alb);
    let seen = Arc::clone(&router.seen);
    let healthy = Script::always(Verdict::Pass);
    let log = MemoryLog::new();
    let mut rollout = TrafficRollout::canary("web", &short_canary(), MemoryFleet::new(), router)
        .unwrap()
        .analysis(AnalysisSet::new().with(healthy.clone()))
        .log(log.clone());
    let done = rollout.run(None).await.unwrap();
    assert_eq!(done.phase, Phase::Completed, "{done:?}");
    assert_eq!(*seen.lock().unwrap(), vec![(80, 20), (50, 50), (0, 100)]);
    assert_eq!(alb.weights().await, (0, 100));
    // Analysis ran during the steps (3 intervals of the first, 1 of the
    // second), so the weights were held, not just passed through.
    assert!(healthy.runs() >= 3, "{} analysis runs", healthy.runs());
    assert_eq!(
        log.records()
            .iter()
            .filter(|r| r.phase == Phase::Progressing)
            .map(|r| r.weight)
            .collect::<Vec<_>>(),
        vec![20, 50]
    );
}

#[tokio::test]
async fn a_canary_failing_its_analysis_ends_at_0_percent_on_the_alb() {
    let test = "a_canary_failing_its_analysis_ends_at_0_percent_on_the_alb";
    let Some(alb) = alb(test).await else {
        return;
    };
    let router = Watched::new(&alb);
    let seen = Arc::clone(&router.seen);
    let mut rollout = TrafficRollout::canary("web", &short_canary(), MemoryFleet::new(), router)
        .unwrap()
        .analysis(AnalysisSet::new().with(Script::always(crate::support::fail("error rate 20%"))));
    let done = rollout.run(None).await.unwrap();
    assert_eq!(done.phase, Phase::RolledBack, "{done:?}");
    assert!(
        done.message.as_deref().unwrap().contains("error rate 20%"),
        "{done:?}"
    );
    assert_eq!(*seen.lock().unwrap(), vec![(80, 20), (100, 0)]);
    assert_eq!(alb.weights().await, (100, 0));
    assert!(done.rollback_time_ms().is_some());
}

// ------------------------------------------ readiness: the ALB's own view

#[tokio::test]
async fn prepare_attaches_the_new_group_at_weight_0_and_target_health_judges_its_targets() {
    let test = "prepare_attaches_the_new_group_at_weight_0_and_target_health_judges_its_targets";
    let Some(alb) = alb(test).await else {
        return;
    };
    let router = alb.router();
    // Before any traffic: the new group is in the forward at weight 0, so
    // a real ALB health checks its targets.
    router.prepare().await.unwrap();
    assert_eq!(
        alb.forwarded().await,
        BTreeMap::from([(alb.stable.clone(), 100), (alb.new.clone(), 0)])
    );
    router.prepare().await.unwrap();

    let health = TargetHealth::with_config(&alb.config, &alb.new);
    assert_eq!(health.name(), "target health");
    match health.run().await {
        Verdict::Fail(why) => assert!(why.contains("has no registered target"), "{why}"),
        other => panic!("an empty group is not ready: {other:?}"),
    }
    let image = ec2(
        &alb.url,
        &[("Action", "DescribeImages"), ("Owner.1", "amazon")],
        "imageId",
    )
    .await;
    let instance = ec2(
        &alb.url,
        &[
            ("Action", "RunInstances"),
            ("ImageId", &image),
            ("MinCount", "1"),
            ("MaxCount", "1"),
        ],
        "instanceId",
    )
    .await;
    alb.elb
        .register_targets()
        .target_group_arn(&alb.new)
        .targets(
            TargetDescription::builder()
                .id(&instance)
                .port(8080)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(health.run().await, Verdict::Pass, "a running instance");
    ec2(
        &alb.url,
        &[("Action", "StopInstances"), ("InstanceId.1", &instance)],
        "instanceId",
    )
    .await;
    match health.run().await {
        Verdict::Fail(why) => assert!(
            why.contains(&instance) && why.contains("Target.InvalidState"),
            "{why}"
        ),
        other => panic!("a stopped instance is not healthy: {other:?}"),
    }

    // Any split after it leaves a group at 0% out again.
    router.set_weights(Weights::to_new(0)).await.unwrap();
    assert_eq!(
        alb.forwarded().await,
        BTreeMap::from([(alb.stable.clone(), 100)])
    );
}
