//! Instance refresh rollouts against moto, served by the project's
//! extension of moto's server (scripts/servers/moto_ext/): the group of
//! `asg/world.rs` moves onto the new template by `InstanceRefresh`. moto
//! comes from `DAFNCK_MOTO_URL`; without it the tests say they are
//! skipped, unless `DAFNCK_REQUIRE_SERVERS=1`.

#![cfg(feature = "asg")]

mod support;
#[path = "asg/world.rs"]
mod world;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_autoscaling::error::ProvideErrorMetadata;
use aws_sdk_autoscaling::types::{
    DesiredConfiguration, InstanceRefreshStatus, LaunchTemplateSpecification, RefreshPreferences,
};
use dafnck_core::deploy::{Deploy, DeployError, Rollout};
use dafnck_core::handover::{HandoverContext, HandoverIo};
use dafnck_core::Value;
use dafnck_strategies::asg::{InstanceRefresh, TemplateVersion};
use dafnck_strategies::{Phase, RolloutRecord};
use support::moto::moto_url;
use world::World;

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
            // The replacements are counted before the refresh is read: both
            // only move one way during a refresh, so the count is never
            // ahead of the InstancesToUpdate read after it.
            let (from_new, _) = self.launched_from(&self.new).await;
            let (status, percent, to_update, _, _) = self.latest_refresh().await;
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
        // The instances still to update fall by a batch at a time, and a
        // batch's replacements are never more than the batch.
        let batch = 4 - (4 * min_healthy as usize).div_ceil(100);
        for s in &seen {
            assert!(s.3 <= 4 - s.2 as usize + batch, "{min_healthy}%: {seen:?}");
        }
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
