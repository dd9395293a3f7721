//! Auto Scaling rollouts against moto: each test makes a VPC and subnet,
//! a target group, two launch templates (old and new) and a group of four
//! instances launched from the old one and registered in the target group,
//! then moves the group onto the new template by a rolling rollout through
//! `AsgFleet` (health from the group and DescribeTargetHealth; instance
//! refresh is in `asg_refresh.rs`). Which template each instance runs is read from its
//! `aws:ec2launchtemplate:id` tag. moto comes from `DAFNCK_MOTO_URL`;
//! without it the tests say they are skipped, unless
//! `DAFNCK_REQUIRE_SERVERS=1`.

#![cfg(feature = "asg")]

mod support;
#[path = "asg/world.rs"]
mod world;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum;
use dafnck_strategies::asg::{AsgFleet, TemplateVersion};
use dafnck_strategies::{
    BatchSize, MemoryLog, Phase, Rolling, RollingFleet, RollingRollout, Verdict,
};
use support::moto::{moto_url, sdk_config};
use world::World;

impl World {
    fn fleet(&self) -> AsgFleet {
        AsgFleet::with_config(&self.config, self.old.clone(), self.new.clone())
            .timing(Duration::from_secs(10), Duration::from_millis(100))
    }
}

/// A fleet whose instances launched from the new template are counted
/// after every batch.
struct Watched {
    fleet: AsgFleet,
    world: Arc<World>,
    seen: Arc<Mutex<Vec<(usize, usize)>>>,
}

#[async_trait]
impl RollingFleet for Watched {
    fn describe(&self) -> String {
        self.fleet.describe()
    }
    async fn survey(&self) -> Result<(), String> {
        self.fleet.survey().await
    }
    fn size(&self) -> usize {
        self.fleet.size()
    }
    async fn replace(&self, batch: &[usize]) -> Result<(), String> {
        self.fleet.replace(batch).await?;
        let now = self.world.launched_from(&self.world.new).await;
        self.seen.lock().unwrap().push(now);
        Ok(())
    }
    async fn healthy(&self, batch: &[usize]) -> Verdict {
        self.fleet.healthy(batch).await
    }
    async fn restore(&self, replaced: &[usize]) -> Result<(), String> {
        self.fleet.restore(replaced).await
    }
}

/// A fleet whose replacements, from the second batch on, are stopped as
/// soon as they are launched, before their health is judged.
struct Sabotaged {
    fleet: AsgFleet,
    world: Arc<World>,
    batches: AtomicUsize,
}

#[async_trait]
impl RollingFleet for Sabotaged {
    fn describe(&self) -> String {
        self.fleet.describe()
    }
    async fn survey(&self) -> Result<(), String> {
        self.fleet.survey().await
    }
    fn size(&self) -> usize {
        self.fleet.size()
    }
    async fn replace(&self, batch: &[usize]) -> Result<(), String> {
        self.fleet.replace(batch).await?;
        if self.batches.fetch_add(1, Ordering::SeqCst) >= 1 {
            self.world.stop_new_instances().await;
        }
        Ok(())
    }
    async fn healthy(&self, batch: &[usize]) -> Verdict {
        self.fleet.healthy(batch).await
    }
    async fn restore(&self, replaced: &[usize]) -> Result<(), String> {
        self.fleet.restore(replaced).await
    }
}

fn policy() -> Rolling {
    Rolling {
        batch: BatchSize::Percent(25),
        batch_timeout: Duration::from_secs(2),
        poll_interval: Duration::from_millis(100),
        ..Rolling::default()
    }
}

#[tokio::test]
async fn a_rolling_rollout_moves_the_group_onto_the_new_template_a_quarter_at_a_time() {
    let test = "a_rolling_rollout_moves_the_group_onto_the_new_template_a_quarter_at_a_time";
    let Some(world) = World::new(test).await else {
        return;
    };
    let world = Arc::new(world);
    let (before, template) = world.group().await;
    assert_eq!(
        (before.len(), template.as_str()),
        (4, world.old.id.as_str())
    );
    assert_eq!(world.targets().await, (4, 4));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let fleet = Watched {
        fleet: world.fleet(),
        world: Arc::clone(&world),
        seen: Arc::clone(&seen),
    };
    let log = MemoryLog::new();
    let mut rollout = RollingRollout::new("web-lt", &policy(), fleet)
        .unwrap()
        .log(log.clone());
    let done = rollout.run(None).await.unwrap();
    assert_eq!(done.phase, Phase::Completed, "{done:?}");
    // One instance per batch, each replacement launched from the new
    // template and healthy before the next batch.
    assert_eq!(*seen.lock().unwrap(), vec![(1, 4), (2, 4), (3, 4), (4, 4)]);
    let after = world.assert_all_new(&before).await;
    // The four new instances are registered in the target group, healthy
    // (moto keeps the terminated ones listed as well; AWS deregisters
    // them).
    let out = world
        .elb
        .describe_target_health()
        .target_group_arn(&world.target_group)
        .send()
        .await
        .unwrap();
    let healthy: Vec<&str> = out
        .target_health_descriptions()
        .iter()
        .filter(|d| {
            d.target_health().and_then(|h| h.state()) == Some(&TargetHealthStateEnum::Healthy)
        })
        .filter_map(|d| d.target().and_then(|t| t.id()))
        .collect();
    assert!(
        after.iter().all(|id| healthy.contains(&id.as_str())),
        "{after:?} not all healthy in {healthy:?}"
    );
    assert_eq!(
        log.records()
            .iter()
            .filter(|r| r.phase == Phase::Progressing)
            .map(|r| r.weight)
            .collect::<Vec<_>>()
            .last(),
        Some(&100)
    );
}

#[tokio::test]
async fn a_batch_failing_its_target_health_rolls_the_group_back_to_the_old_template() {
    let test = "a_batch_failing_its_target_health_rolls_the_group_back_to_the_old_template";
    let Some(world) = World::new(test).await else {
        return;
    };
    let world = Arc::new(world);
    let (before, _) = world.group().await;
    let fleet = Sabotaged {
        fleet: world.fleet(),
        world: Arc::clone(&world),
        batches: AtomicUsize::new(0),
    };
    let mut rollout = RollingRollout::new("web-lt", &policy(), fleet).unwrap();
    let done = rollout.run(None).await.unwrap();
    assert_eq!(done.phase, Phase::RolledBack, "{done:?}");
    let why = done.message.clone().unwrap_or_default();
    assert!(
        why.contains("2 failed batches in a row")
            // A stopped instance fails its batch by its target health; a
            // replacement moto could not register (it refuses the call when
            // a stopped sibling is in the group) fails as not registered.
            && (why.contains("Target.InvalidState")
                || why.contains("Target.NotRegistered")),
        "{why}"
    );
    let after = world.assert_all_old().await;
    assert_eq!(world.launched_from(&world.new).await, (0, 4));
    // The first batch passed and was cycled back too; the last two were
    // never touched.
    let untouched = after.iter().filter(|id| before.contains(id)).count();
    assert_eq!(untouched, 2, "{after:?} from {before:?}");
}

#[tokio::test]
async fn a_fleet_with_no_group_on_the_template_says_so() {
    let test = "a_fleet_with_no_group_on_the_template_says_so";
    let Some(url) = moto_url(test) else {
        return;
    };
    let config = sdk_config(&url).await;
    let fleet = AsgFleet::with_config(
        &config,
        TemplateVersion::new("lt-0000nosuch", 1),
        TemplateVersion::new("lt-0000nosuch2", 1),
    );
    let e = fleet.survey().await.unwrap_err();
    assert!(
        e.contains("no Auto Scaling group launches from launch template lt-0000nosuch"),
        "{e}"
    );
    let mut rollout = RollingRollout::new("web-lt", &policy(), fleet).unwrap();
    let done = rollout.run(None).await.unwrap();
    assert_eq!(done.phase, Phase::RolledBack);
    assert!(
        done.message.unwrap_or_default().contains("cannot survey"),
        "the rollout says why"
    );
}
