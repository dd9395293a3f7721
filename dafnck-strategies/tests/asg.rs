//! Auto Scaling rollouts against moto: each test makes a VPC and subnet,
//! a target group, two launch templates (old and new) and a group of four
//! instances launched from the old one and registered in the target group,
//! then moves the group onto the new template by a rolling rollout through
//! `AsgFleet` (health from the group and DescribeTargetHealth) or by
//! `InstanceRefresh` (served by the project's extension of moto's server,
//! scripts/servers/moto_ext/). Which template each instance runs is read from its
//! `aws:ec2launchtemplate:id` tag. moto comes from `DAFNCK_MOTO_URL`;
//! without it the tests say they are skipped, unless
//! `DAFNCK_REQUIRE_SERVERS=1`.

#![cfg(feature = "asg")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_autoscaling::error::ProvideErrorMetadata;
use aws_sdk_autoscaling::types::{
    DesiredConfiguration, InstanceRefreshStatus, LaunchTemplateSpecification, RefreshPreferences,
};
use aws_sdk_ec2::types::{Filter, RequestLaunchTemplateData};
use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetHealthStateEnum};
use dafnck_core::deploy::{Deploy, DeployError, Rollout};
use dafnck_core::handover::{HandoverContext, HandoverIo};
use dafnck_core::Value;
use dafnck_strategies::asg::{AsgFleet, InstanceRefresh, TemplateVersion};
use dafnck_strategies::{
    BatchSize, MemoryLog, Phase, Rolling, RollingFleet, RollingRollout, RolloutRecord, Verdict,
};
use support::moto::{moto_url, sdk_config, unique};

/// A group of four instances from the `old` template, behind a target
/// group, in moto.
struct World {
    config: aws_config::SdkConfig,
    ec2: aws_sdk_ec2::Client,
    asg: aws_sdk_autoscaling::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    group: String,
    target_group: String,
    old: TemplateVersion,
    new: TemplateVersion,
}

impl World {
    async fn new(test: &str) -> Option<World> {
        let url = moto_url(test)?;
        let config = sdk_config(&url).await;
        let ec2 = aws_sdk_ec2::Client::new(&config);
        let asg = aws_sdk_autoscaling::Client::new(&config);
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
        let images = ec2
            .describe_images()
            .owners("amazon")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{test}: moto at {url} answers no DescribeImages: {e:?}"));
        let mut amis: Vec<&str> = images
            .images()
            .iter()
            .filter_map(|i| i.image_id())
            .collect();
        amis.sort_unstable();
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.9.0.0/16")
            .send()
            .await
            .unwrap()
            .vpc()
            .unwrap()
            .vpc_id()
            .unwrap()
            .to_owned();
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block("10.9.1.0/24")
            .availability_zone("us-east-1a")
            .send()
            .await
            .unwrap()
            .subnet()
            .unwrap()
            .subnet_id()
            .unwrap()
            .to_owned();
        let mut templates = Vec::new();
        for (name, ami) in [("old", amis[0]), ("new", amis[1])] {
            let t = ec2
                .create_launch_template()
                .launch_template_name(unique(&format!("lt-{name}")))
                .launch_template_data(
                    RequestLaunchTemplateData::builder()
                        .image_id(ami)
                        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                        .build(),
                )
                .send()
                .await
                .unwrap();
            let t = t.launch_template().unwrap();
            templates.push(TemplateVersion::new(
                t.launch_template_id().unwrap(),
                t.default_version_number().unwrap(),
            ));
        }
        let target_group = elb
            .create_target_group()
            .name(unique("tg"))
            .protocol(ProtocolEnum::Http)
            .port(80)
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap()
            .target_groups()[0]
            .target_group_arn()
            .unwrap()
            .to_owned();
        let group = unique("asg");
        asg.create_auto_scaling_group()
            .auto_scaling_group_name(&group)
            .launch_template(
                LaunchTemplateSpecification::builder()
                    .launch_template_id(&templates[0].id)
                    .version(&templates[0].version)
                    .build(),
            )
            .min_size(1)
            .max_size(8)
            .desired_capacity(4)
            .vpc_zone_identifier(&subnet)
            .target_group_arns(&target_group)
            .send()
            .await
            .unwrap();
        let new = templates.pop().unwrap();
        let old = templates.pop().unwrap();
        Some(World {
            config,
            ec2,
            asg,
            elb,
            group,
            target_group,
            old,
            new,
        })
    }

    fn fleet(&self) -> AsgFleet {
        AsgFleet::with_config(&self.config, self.old.clone(), self.new.clone())
            .timing(Duration::from_secs(10), Duration::from_millis(100))
    }

    /// The group's instances, sorted, and the template of the group.
    async fn group(&self) -> (Vec<String>, String) {
        let out = self
            .asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&self.group)
            .send()
            .await
            .unwrap();
        let g = &out.auto_scaling_groups()[0];
        let mut ids: Vec<String> = g
            .instances()
            .iter()
            .filter_map(|i| i.instance_id())
            .map(str::to_owned)
            .collect();
        ids.sort();
        let template = g
            .launch_template()
            .and_then(|t| t.launch_template_id())
            .unwrap_or_default()
            .to_owned();
        (ids, template)
    }

    /// How many of the group's instances were launched from `template`
    /// (by EC2's `aws:ec2launchtemplate:id` tag), and how many in all.
    async fn launched_from(&self, template: &TemplateVersion) -> (usize, usize) {
        let (ids, _) = self.group().await;
        let out = self
            .ec2
            .describe_instances()
            .set_instance_ids(Some(ids.clone()))
            .send()
            .await
            .unwrap();
        let from = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter(|i| {
                i.tags().iter().any(|t| {
                    t.key() == Some("aws:ec2launchtemplate:id") && t.value() == Some(&template.id)
                })
            })
            .count();
        (from, ids.len())
    }

    /// Asserts that the group launches from the new template and that every
    /// instance of `before` was replaced by one launched from it; the
    /// group's instances now.
    async fn assert_all_new(&self, before: &[String]) -> Vec<String> {
        let (after, template) = self.group().await;
        assert_eq!(
            template, self.new.id,
            "the group launches from the new template"
        );
        assert!(
            after.iter().all(|id| !before.contains(id)),
            "every instance replaced: {after:?} from {before:?}"
        );
        assert_eq!(self.launched_from(&self.new).await, (4, 4));
        after
    }

    /// Asserts that the group launches from the old template again and
    /// runs four instances launched from it; the group's instances now.
    async fn assert_all_old(&self) -> Vec<String> {
        let (after, template) = self.group().await;
        assert_eq!(
            template, self.old.id,
            "the group launches from the old template again"
        );
        assert_eq!(self.launched_from(&self.old).await, (4, 4));
        after
    }

    /// The target group's targets and how many are healthy.
    async fn targets(&self) -> (usize, usize) {
        let out = self
            .elb
            .describe_target_health()
            .target_group_arn(&self.target_group)
            .send()
            .await
            .unwrap();
        let all = out.target_health_descriptions();
        let healthy = all
            .iter()
            .filter(|d| {
                d.target_health().and_then(|h| h.state()) == Some(&TargetHealthStateEnum::Healthy)
            })
            .count();
        (all.len(), healthy)
    }

    /// Stops every running instance launched from the new template: it
    /// fails its target group's health check (moto answers `unused`,
    /// `Target.InvalidState` or, once the group has moved on,
    /// `Target.NotRegistered`).
    async fn stop_new_instances(&self) {
        let out = self
            .ec2
            .describe_instances()
            .filters(
                Filter::builder()
                    .name("tag:aws:ec2launchtemplate:id")
                    .values(&self.new.id)
                    .build(),
            )
            .filters(
                Filter::builder()
                    .name("instance-state-name")
                    .values("running")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let ids: Vec<String> = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| i.instance_id())
            .map(str::to_owned)
            .collect();
        if !ids.is_empty() {
            self.ec2
                .stop_instances()
                .set_instance_ids(Some(ids))
                .send()
                .await
                .unwrap();
        }
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

fn outputs(t: &TemplateVersion) -> Value {
    Value::from_json(serde_json::json!({
        "launch_template_id": t.id,
        "default_version": t.version.parse::<i64>().unwrap(),
    }))
}

/// Fails the test unless moto at `url` serves the project's instance
/// refresh extension (scripts/servers/moto_ext/, loaded by
/// scripts/servers/moto.sh).
fn require_refresh_extension(test: &str, url: &str) {
    use std::io::{Read as _, Write as _};
    let addr = url.trim_start_matches("http://");
    let answer = std::net::TcpStream::connect(addr).and_then(|mut s| {
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            s,
            "GET /moto-api/dafnck/extensions HTTP/1.0\r\nHost: {addr}\r\n\r\n"
        )?;
        let mut body = String::new();
        s.read_to_string(&mut body)?;
        Ok(body)
    });
    match answer {
        Ok(body) if body.starts_with("HTTP/1.1 200") && body.contains("\"instance_refresh\": true") => {}
        other => panic!(
            "{test}: moto at {url} does not serve the instance refresh extension (a moto started \
             without scripts/servers/moto_ext/; restart it: scripts/servers/moto.sh stop, then start): {other:?}"
        ),
    }
}

/// A handover journal kept in memory.
#[derive(Default)]
struct Journal {
    records: Mutex<Vec<RolloutRecord>>,
}

#[async_trait]
impl HandoverIo for Journal {
    async fn record(&self, record: serde_json::Value) -> Result<(), String> {
        let record = serde_json::from_value(record).map_err(|e| e.to_string())?;
        self.records.lock().unwrap().push(record);
        Ok(())
    }
    async fn take_messages(&self) -> Result<Vec<serde_json::Value>, String> {
        Ok(Vec::new())
    }
}

impl World {
    /// The world for an instance refresh test: moto with the extension, the
    /// group judging health by its target group (ELB).
    async fn for_refresh(test: &str) -> Option<World> {
        let world = World::new(test).await?;
        require_refresh_extension(test, &moto_url(test)?);
        world
            .asg
            .update_auto_scaling_group()
            .auto_scaling_group_name(&world.group)
            .health_check_type("ELB")
            .send()
            .await
            .unwrap();
        Some(world)
    }

    /// The rollout of the old template to the new, journaled in `journal`.
    fn rollout(&self, journal: &Arc<Journal>) -> Rollout {
        Rollout::new(
            HandoverContext::new(
                "web-lt",
                outputs(&self.old),
                outputs(&self.new),
                serde_json::Value::Null,
            )
            .with_io(Arc::clone(journal) as Arc<dyn HandoverIo>),
        )
    }

    /// The group's latest instance refresh: status, percentage complete,
    /// instances to update, status reason, rollback reason.
    async fn latest_refresh(&self) -> (InstanceRefreshStatus, i32, i32, String, String) {
        let out = self
            .asg
            .describe_instance_refreshes()
            .auto_scaling_group_name(&self.group)
            .send()
            .await
            .unwrap();
        let r = &out.instance_refreshes()[0];
        (
            r.status().unwrap().clone(),
            r.percentage_complete().unwrap(),
            r.instances_to_update().unwrap(),
            r.status_reason().unwrap_or_default().to_owned(),
            r.rollback_details()
                .and_then(|d| d.rollback_reason())
                .unwrap_or_default()
                .to_owned(),
        )
    }

    /// Polls the refresh until it ends: every (status, percentage complete,
    /// instances to update, instances launched from the new template) seen.
    async fn watch_refresh(&self) -> Vec<(InstanceRefreshStatus, i32, i32, usize)> {
        let mut seen = Vec::new();
        for _ in 0..600 {
            let (status, percent, to_update, _, _) = self.latest_refresh().await;
            let (from_new, _) = self.launched_from(&self.new).await;
            let now = (status.clone(), percent, to_update, from_new);
            if seen.last() != Some(&now) {
                seen.push(now);
            }
            if !matches!(
                status,
                InstanceRefreshStatus::Pending | InstanceRefreshStatus::InProgress
            ) {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the instance refresh did not end within 30 s: {seen:?}");
    }

    async fn start_refresh(
        &self,
        min_healthy: i32,
        warmup: i32,
        skip_matching: bool,
    ) -> Result<String, String> {
        self.asg
            .start_instance_refresh()
            .auto_scaling_group_name(&self.group)
            .desired_configuration(
                DesiredConfiguration::builder()
                    .launch_template(
                        LaunchTemplateSpecification::builder()
                            .launch_template_id(&self.new.id)
                            .version(&self.new.version)
                            .build(),
                    )
                    .build(),
            )
            .preferences(
                RefreshPreferences::builder()
                    .min_healthy_percentage(min_healthy)
                    .instance_warmup(warmup)
                    .skip_matching(skip_matching)
                    .build(),
            )
            .send()
            .await
            .map(|o| o.instance_refresh_id().unwrap().to_owned())
            .map_err(|e| e.code().unwrap_or_default().to_string())
    }
}

/// The percentages the journal recorded while the refresh progressed.
fn journaled(journal: &Journal) -> Vec<(Phase, u8)> {
    journal
        .records
        .lock()
        .unwrap()
        .iter()
        .map(|r| (r.phase.clone(), r.weight))
        .collect()
}

#[tokio::test]
async fn the_moto_extension_refreshes_in_batches_sized_by_the_minimum_healthy_percentage() {
    let test = "the_moto_extension_refreshes_in_batches_sized_by_the_minimum_healthy_percentage";
    let (Some(three_quarters), Some(half)) = (
        World::for_refresh(test).await,
        World::for_refresh(test).await,
    ) else {
        return;
    };
    for (world, min_healthy, percents) in [
        (&three_quarters, 75, vec![0, 25, 50, 75, 100]),
        (&half, 50, vec![0, 50, 100]),
    ] {
        world.start_refresh(min_healthy, 1, false).await.unwrap();
        // A second refresh while one is under way is refused.
        assert_eq!(
            world
                .start_refresh(min_healthy, 1, false)
                .await
                .unwrap_err(),
            "InstanceRefreshInProgress"
        );
        let seen = world.watch_refresh().await;
        let end = seen.last().unwrap();
        assert_eq!(
            (&end.0, end.1, end.2, end.3),
            (&InstanceRefreshStatus::Successful, 100, 0, 4),
            "{min_healthy}%: {seen:?}"
        );
        // Every percentage a batch reaches is seen (each batch warms up
        // for a second), and no other.
        let mut seen_percents: Vec<i32> = seen.iter().map(|s| s.1).collect();
        seen_percents.dedup();
        assert_eq!(seen_percents, percents, "{min_healthy}%: {seen:?}");
        assert_eq!(world.group().await.1, world.new.id);
        assert_eq!(world.launched_from(&world.new).await, (4, 4));
    }
    // Skip matching: every instance already runs the desired template, so
    // nothing is replaced.
    let (before, _) = half.group().await;
    half.start_refresh(50, 1, true).await.unwrap();
    let seen = half.watch_refresh().await;
    assert_eq!(
        seen.last().map(|s| (s.0.clone(), s.1, s.2)),
        Some((InstanceRefreshStatus::Successful, 100, 0)),
        "{seen:?}"
    );
    assert_eq!(half.group().await.0, before);
    // Nothing is active to cancel or roll back any more.
    let e = half
        .asg
        .cancel_instance_refresh()
        .auto_scaling_group_name(&half.group)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("ActiveInstanceRefreshNotFound"), "{e:?}");
}

#[tokio::test]
async fn the_moto_extension_launches_first_at_100_percent_and_cancels_after_the_batch_under_way() {
    let test =
        "the_moto_extension_launches_first_at_100_percent_and_cancels_after_the_batch_under_way";
    let Some(world) = World::for_refresh(test).await else {
        return;
    };
    world.start_refresh(100, 1, false).await.unwrap();
    let mut sizes = Vec::new();
    let mut statuses = Vec::new();
    let mut cancelled = false;
    for _ in 0..400 {
        let (status, percent, _, _, _) = world.latest_refresh().await;
        sizes.push(world.group().await.0.len());
        if statuses.last() != Some(&status) {
            statuses.push(status.clone());
        }
        if percent >= 25 && !cancelled {
            world
                .asg
                .cancel_instance_refresh()
                .auto_scaling_group_name(&world.group)
                .send()
                .await
                .unwrap();
            cancelled = true;
        }
        if status == InstanceRefreshStatus::Cancelled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        statuses.last(),
        Some(&InstanceRefreshStatus::Cancelled),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&InstanceRefreshStatus::Cancelling),
        "{statuses:?}"
    );
    // At 100% a replacement is launched before its instance goes: the
    // group never drops below its four.
    assert!(sizes.iter().all(|&n| (4..=5).contains(&n)), "{sizes:?}");
    assert!(sizes.contains(&5), "{sizes:?}");
    // Cancelled after the batch under way: some instances replaced, not
    // all, and nothing rolled back.
    let (from_new, all) = world.launched_from(&world.new).await;
    assert!(
        (1..4).contains(&from_new) && all == 4,
        "{from_new} of {all}"
    );
    assert_eq!(world.group().await.1, world.new.id);
}

#[tokio::test]
async fn an_instance_refresh_moves_the_group_onto_the_new_template_half_at_a_time() {
    let test = "an_instance_refresh_moves_the_group_onto_the_new_template_half_at_a_time";
    let Some(world) = World::for_refresh(test).await else {
        return;
    };
    let (before, _) = world.group().await;
    let journal = Arc::new(Journal::default());
    let refresh = InstanceRefresh::new(50)
        .warmup(1)
        .with_config(&world.config)
        .poll(Duration::from_millis(50));
    refresh.deploy(world.rollout(&journal)).await.unwrap();
    world.assert_all_new(&before).await;
    // The target group holds the four replacements, healthy; the replaced
    // instances were deregistered.
    assert_eq!(world.targets().await, (4, 4));
    let (status, percent, to_update, _, _) = world.latest_refresh().await;
    assert_eq!(
        (status, percent, to_update),
        (InstanceRefreshStatus::Successful, 100, 0)
    );
    // The journal followed the refresh: half done after the first batch,
    // then complete.
    let records = journaled(&journal);
    let progressing: Vec<u8> = records
        .iter()
        .filter(|(p, _)| *p == Phase::Progressing)
        .map(|(_, w)| *w)
        .collect();
    assert!(progressing.contains(&50), "{records:?}");
    assert!(progressing.windows(2).all(|w| w[0] <= w[1]), "{records:?}");
    assert_eq!(
        records.last(),
        Some(&(Phase::Completed, 100)),
        "{records:?}"
    );
    let messages: Vec<String> = journal
        .records
        .lock()
        .unwrap()
        .iter()
        .filter_map(|r| r.message.clone())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("InProgress, 50% complete")),
        "{messages:?}"
    );
}

#[tokio::test]
async fn a_refresh_whose_replacements_fail_their_target_health_is_rolled_back_by_aws() {
    let test = "a_refresh_whose_replacements_fail_their_target_health_is_rolled_back_by_aws";
    let Some(world) = World::for_refresh(test).await else {
        return;
    };
    let world = Arc::new(world);
    let (before, _) = world.group().await;
    // Every instance launched from the new template is stopped as soon as
    // it is seen, within its warm-up: it fails its target health.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let saboteur = {
        let (world, done) = (Arc::clone(&world), Arc::clone(&done));
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                world.stop_new_instances().await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let journal = Arc::new(Journal::default());
    let refresh = InstanceRefresh::new(50)
        .warmup(1)
        .with_config(&world.config)
        .poll(Duration::from_millis(100));
    let e = refresh.deploy(world.rollout(&journal)).await.unwrap_err();
    done.store(true, Ordering::SeqCst);
    saboteur.await.unwrap();
    let DeployError::RolledBack(why) = e else {
        panic!("declined, not stuck: {e:?}")
    };
    assert!(
        why.contains(&world.group)
            && why.contains("rolled back")
            && why.contains("did not become healthy")
            && (why.contains("Target.InvalidState") || why.contains("stopped")),
        "{why}"
    );
    let (status, _, _, _, rollback_reason) = world.latest_refresh().await;
    assert_eq!(status, InstanceRefreshStatus::RollbackSuccessful);
    assert!(
        rollback_reason.contains("did not become healthy"),
        "{rollback_reason}"
    );
    let after = world.assert_all_old().await;
    // The first batch (half) was replaced twice; the other half untouched.
    let untouched = after.iter().filter(|id| before.contains(id)).count();
    assert_eq!(untouched, 2, "{after:?} from {before:?}");
    assert_eq!(
        journaled(&journal).last(),
        Some(&(Phase::RolledBack, 0)),
        "{:?}",
        journaled(&journal)
    );
}

#[tokio::test]
async fn a_refresh_past_its_deadline_is_rolled_back_with_rollback_instance_refresh() {
    let test = "a_refresh_past_its_deadline_is_rolled_back_with_rollback_instance_refresh";
    let Some(world) = World::for_refresh(test).await else {
        return;
    };
    let journal = Arc::new(Journal::default());
    // Each batch warms up for 3 s: the first is still warming up at the
    // 1 s deadline.
    let refresh = InstanceRefresh::new(50)
        .warmup(3)
        .deadline(Duration::from_secs(1))
        .with_config(&world.config)
        .poll(Duration::from_millis(100));
    let e = refresh.deploy(world.rollout(&journal)).await.unwrap_err();
    let DeployError::RolledBack(why) = e else {
        panic!("declined, not stuck: {e:?}")
    };
    assert!(why.contains("did not finish within 1s"), "{why}");
    let (status, _, _, _, rollback_reason) = world.latest_refresh().await;
    assert_eq!(status, InstanceRefreshStatus::RollbackSuccessful);
    assert_eq!(rollback_reason, "Rollback requested by the user.");
    world.assert_all_old().await;
    let phases: Vec<Phase> = journaled(&journal).into_iter().map(|(p, _)| p).collect();
    assert!(phases.contains(&Phase::RollingBack), "{phases:?}");
    assert_eq!(phases.last(), Some(&Phase::RolledBack));
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
