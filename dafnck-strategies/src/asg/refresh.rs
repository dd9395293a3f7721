//! [`InstanceRefresh`]: a launch template change rolled out by the Auto
//! Scaling group's own instance refresh.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_autoscaling::types::{
    DesiredConfiguration, InstanceRefreshStatus, RefreshPreferences, RefreshStrategy,
};
use dafnck_core::deploy::{Deploy, DeployError, Rollout, RolloutControl};

use super::{call_failed, Clients, TemplateVersion};
use crate::clock::{Clock, TokioClock};
use crate::record::{Phase, RolloutRecord};

/// Rolls out a `LaunchTemplate` change through the instance refresh of the
/// Auto Scaling group that launches from the old template: a deployment
/// policy (`Options::deploy_with`) of its own.
///
/// The engine creates the new template beside the old; `deploy` starts an
/// instance refresh of the group to the new template
/// (StartInstanceRefresh, strategy `Rolling`, with the minimum healthy
/// percentage, the instance warm-up, skip matching and automatic rollback),
/// then polls DescribeInstanceRefreshes, journaling its status and
/// percentage, until it ends:
///
/// - `Successful`: the group launches from the new template and every
///   instance was replaced; the engine deletes the old template.
/// - `RollbackSuccessful` (AWS rolled a failed refresh back) or `Failed`:
///   declined; the engine deletes the new template.
/// - Past the deadline, or on `rollout abort`: RollbackInstanceRefresh,
///   then polled to `RollbackSuccessful` (declined).
/// - `Cancelled` by someone else, `RollbackFailed`, or a rollback that
///   cannot be started: stuck; the next `up` resets (an active refresh
///   rolled back, the group pointed at the old template).
///
/// # Caveats
/// - AWS decides the batches (from the minimum healthy percentage) and
///   judges health itself (the group's health check type: `ELB` to use
///   the target groups'). `rollout pause`, `resume` and `promote` are not
///   available: a refresh cannot be held.
/// - moto implements no instance refresh; the moto server the tests start
///   (`scripts/servers/moto.sh`) carries the project's own
///   (`scripts/servers/moto_ext/instance_refresh.py`: batches from the
///   minimum healthy percentage, warm-up, skip matching, health from the
///   group, EC2 and, for `ELB` health checks, the target groups; cancel and
///   rollback, automatic or asked for). A moto without it answers
///   StartInstanceRefresh "not implemented" and `deploy` is declined with
///   that answer (docs/aws.md).
///
/// ```no_run
/// use std::time::Duration;
/// use dafnck_core::prelude::*;
/// use dafnck_strategies::asg::InstanceRefresh;
/// let options = Options::new()
///     .deploy_with(InstanceRefresh::new(90).warmup(60).deadline(Duration::from_secs(1800)));
/// # let _ = options;
/// ```
#[derive(Clone)]
pub struct InstanceRefresh {
    config: Option<SdkConfig>,
    min_healthy_percentage: u8,
    instance_warmup: Option<u32>,
    deadline: Duration,
    poll: Duration,
    group: Option<String>,
}

/// How a refresh stands, for the rollout.
#[derive(Debug, PartialEq, Eq)]
enum Standing {
    /// Still running (or rolling back).
    Running,
    /// Finished with every instance on the new template.
    Done,
    /// Ended with the old template in place.
    RolledBack(String),
    /// Ended with neither template surely in place.
    Stuck(String),
}

fn standing(status: &InstanceRefreshStatus, reason: &str) -> Standing {
    match status {
        InstanceRefreshStatus::Successful => Standing::Done,
        InstanceRefreshStatus::RollbackSuccessful => {
            Standing::RolledBack(format!("the instance refresh was rolled back: {reason}"))
        }
        InstanceRefreshStatus::Failed => {
            Standing::RolledBack(format!("the instance refresh failed: {reason}"))
        }
        InstanceRefreshStatus::Cancelled => Standing::Stuck(format!(
            "the instance refresh was cancelled, leaving instances of both templates: {reason}"
        )),
        InstanceRefreshStatus::RollbackFailed => {
            Standing::Stuck(format!("the instance refresh's rollback failed: {reason}"))
        }
        _ => Standing::Running,
    }
}

/// Whether a refresh in `status` is still under way.
fn active(status: &InstanceRefreshStatus) -> bool {
    standing(status, "") == Standing::Running
}

impl InstanceRefresh {
    /// An instance refresh keeping `min_healthy_percentage` of the group in
    /// service, configured from the environment; a 1-hour deadline, polled
    /// every 15 s.
    pub fn new(min_healthy_percentage: u8) -> Self {
        InstanceRefresh {
            config: None,
            min_healthy_percentage,
            instance_warmup: None,
            deadline: Duration::from_secs(3600),
            poll: Duration::from_secs(15),
            group: None,
        }
    }

    /// With the SDK configuration `config`.
    pub fn with_config(mut self, config: &SdkConfig) -> Self {
        self.config = Some(config.clone());
        self
    }

    /// Seconds a new instance warms up before it counts as healthy
    /// (default: the group's health check grace period).
    pub fn warmup(mut self, seconds: u32) -> Self {
        self.instance_warmup = Some(seconds);
        self
    }

    /// How long the refresh may take before it is rolled back.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// How often the refresh is polled.
    pub fn poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// The group to refresh, by name, instead of the one that launches
    /// from the old template.
    pub fn group(mut self, name: impl Into<String>) -> Self {
        self.group = Some(name.into());
        self
    }

    fn templates(rollout: &Rollout) -> Result<(TemplateVersion, TemplateVersion), String> {
        Ok((
            TemplateVersion::from_outputs(&rollout.old)?,
            TemplateVersion::from_outputs(&rollout.new)?,
        ))
    }

    /// Rolls back the refresh under way in `group`.
    async fn roll_back(clients: &Clients, group: &str) -> Result<(), String> {
        clients
            .autoscaling()
            .await
            .rollback_instance_refresh()
            .auto_scaling_group_name(group)
            .send()
            .await
            .map_err(|e| call_failed("RollbackInstanceRefresh", &e))?;
        Ok(())
    }

    /// The latest refresh of `group` (or the one `id`): status, reason,
    /// percentage complete.
    async fn latest(
        clients: &Clients,
        group: &str,
        id: Option<&str>,
    ) -> Result<Option<(InstanceRefreshStatus, String, i32)>, String> {
        let out = clients
            .autoscaling()
            .await
            .describe_instance_refreshes()
            .auto_scaling_group_name(group)
            .set_instance_refresh_ids(id.map(|id| vec![id.to_owned()]))
            .send()
            .await
            .map_err(|e| call_failed("DescribeInstanceRefreshes", &e))?;
        Ok(out.instance_refreshes().first().map(|r| {
            (
                r.status()
                    .cloned()
                    .unwrap_or(InstanceRefreshStatus::Pending),
                r.status_reason().unwrap_or_default().to_owned(),
                r.percentage_complete().unwrap_or(0),
            )
        }))
    }
}

#[async_trait]
impl Deploy for InstanceRefresh {
    fn describe(&self) -> String {
        format!(
            "Auto Scaling instance refresh, {}% kept healthy",
            self.min_healthy_percentage
        )
    }

    async fn deploy(&self, rollout: Rollout) -> Result<(), DeployError> {
        let (old, new) = Self::templates(&rollout).map_err(DeployError::RolledBack)?;
        let clients = Clients::new(self.config.as_ref());
        let group = clients
            .group(self.group.as_deref(), &old, &new)
            .await
            .map_err(DeployError::RolledBack)?;
        let group = group
            .auto_scaling_group_name()
            .unwrap_or_default()
            .to_owned();
        let clock = TokioClock::new();
        let mut rec = RolloutRecord::start(&rollout.name, 1, clock.now_ms());
        let log = rollout.log();
        let save = |rec: &RolloutRecord| {
            let json = serde_json::to_value(rec).unwrap_or_default();
            let log = log.clone();
            async move { log.record(json).await }
        };
        let started = clients
            .autoscaling()
            .await
            .start_instance_refresh()
            .auto_scaling_group_name(&group)
            .strategy(RefreshStrategy::Rolling)
            .desired_configuration(
                DesiredConfiguration::builder()
                    .launch_template(new.spec())
                    .build(),
            )
            .preferences(
                RefreshPreferences::builder()
                    .min_healthy_percentage(i32::from(self.min_healthy_percentage))
                    .set_instance_warmup(
                        self.instance_warmup
                            .map(|w| i32::try_from(w).unwrap_or(i32::MAX)),
                    )
                    .skip_matching(true)
                    .auto_rollback(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| {
                DeployError::RolledBack(format!(
                    "Auto Scaling group {group}: {}",
                    call_failed("StartInstanceRefresh", &e)
                ))
            })?;
        let id = started.instance_refresh_id().unwrap_or_default().to_owned();
        tracing::info!(group = %group, refresh = %id, template = %new, "instance refresh started");
        rec.phase = Phase::Progressing;
        rec.message = Some(format!("instance refresh {id} of {group} started"));
        save(&rec).await.map_err(DeployError::Stuck)?;
        let deadline = tokio::time::Instant::now() + self.deadline;
        let mut rolling_back = false;
        let mut last: Option<(InstanceRefreshStatus, u8)> = None;
        loop {
            let aborted = match rollout.controls().await {
                Ok(controls) => controls.contains(&RolloutControl::Abort),
                Err(e) => {
                    tracing::warn!(rollout = %rollout.name, error = %e, "cannot read rollout commands");
                    false
                }
            };
            if !rolling_back && (aborted || tokio::time::Instant::now() >= deadline) {
                let why = if aborted {
                    "aborted".to_string()
                } else {
                    format!("the refresh did not finish within {:?}", self.deadline)
                };
                rec.phase = Phase::RollingBack;
                rec.aborted = aborted;
                rec.message = Some(why.clone());
                save(&rec).await.map_err(DeployError::Stuck)?;
                Self::roll_back(&clients, &group).await.map_err(|e| {
                    DeployError::Stuck(format!("Auto Scaling group {group}: {why}, and {e}"))
                })?;
                rolling_back = true;
            }
            let Some((status, reason, percent)) =
                Self::latest(&clients, &group, Some(&id))
                    .await
                    .map_err(|e| DeployError::Stuck(format!("Auto Scaling group {group}: {e}")))?
            else {
                return Err(DeployError::Stuck(format!(
                    "Auto Scaling group {group}: instance refresh {id} is no longer listed"
                )));
            };
            rec.weight = u8::try_from(percent.clamp(0, 100)).unwrap_or(0);
            match standing(&status, &reason) {
                Standing::Running => {
                    let seen = (status.clone(), rec.weight);
                    if last.as_ref() != Some(&seen) {
                        tracing::info!(group = %group, refresh = %id, status = %status.as_str(), percent = rec.weight, "instance refresh progress");
                        if !rolling_back {
                            rec.message = Some(format!(
                                "instance refresh {id} of {group}: {}, {}% complete",
                                status.as_str(),
                                rec.weight
                            ));
                        }
                        save(&rec).await.map_err(DeployError::Stuck)?;
                        last = Some(seen);
                    }
                }
                Standing::Done => {
                    rec.phase = Phase::Completed;
                    rec.message = None;
                    save(&rec).await.map_err(DeployError::Stuck)?;
                    return Ok(());
                }
                Standing::RolledBack(why) => {
                    rec.phase = Phase::RolledBack;
                    rec.weight = 0;
                    let why = rec.message.clone().filter(|_| rolling_back).unwrap_or(why);
                    rec.message = Some(why.clone());
                    save(&rec).await.map_err(DeployError::Stuck)?;
                    return Err(DeployError::RolledBack(format!(
                        "Auto Scaling group {group}: {why}"
                    )));
                }
                Standing::Stuck(why) => {
                    return Err(DeployError::Stuck(format!(
                        "Auto Scaling group {group}: {why}"
                    )))
                }
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    async fn reset(&self, rollout: Rollout) -> Result<(), String> {
        let (old, new) = Self::templates(&rollout)?;
        let clients = Clients::new(self.config.as_ref());
        let group = clients.group(self.group.as_deref(), &old, &new).await?;
        let group = group
            .auto_scaling_group_name()
            .unwrap_or_default()
            .to_owned();
        if let Some((status, _, _)) = Self::latest(&clients, &group, None).await? {
            if active(&status) {
                Self::roll_back(&clients, &group).await?;
                let deadline = tokio::time::Instant::now() + self.deadline;
                while let Some((status, _, _)) = Self::latest(&clients, &group, None).await? {
                    if !active(&status) || tokio::time::Instant::now() >= deadline {
                        break;
                    }
                    tokio::time::sleep(self.poll).await;
                }
            }
        }
        clients
            .autoscaling()
            .await
            .update_auto_scaling_group()
            .auto_scaling_group_name(&group)
            .launch_template(old.spec())
            .send()
            .await
            .map_err(|e| call_failed("UpdateAutoScalingGroup", &e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refresh_status_is_judged() {
        use InstanceRefreshStatus as S;
        for s in [
            S::Pending,
            S::InProgress,
            S::Baking,
            S::Cancelling,
            S::RollbackInProgress,
        ] {
            assert_eq!(standing(&s, ""), Standing::Running, "{s:?}");
            assert!(active(&s));
        }
        assert_eq!(standing(&S::Successful, ""), Standing::Done);
        assert!(matches!(
            standing(&S::RollbackSuccessful, "unhealthy"),
            Standing::RolledBack(why) if why.contains("unhealthy")
        ));
        assert!(matches!(standing(&S::Failed, "x"), Standing::RolledBack(_)));
        assert!(matches!(standing(&S::Cancelled, "x"), Standing::Stuck(_)));
        assert!(matches!(
            standing(&S::RollbackFailed, "x"),
            Standing::Stuck(_)
        ));
        assert!(!active(&S::Successful));
    }

    #[test]
    fn the_plan_shows_the_min_healthy_percentage() {
        assert_eq!(
            InstanceRefresh::new(90).describe(),
            "Auto Scaling instance refresh, 90% kept healthy"
        );
    }
}
