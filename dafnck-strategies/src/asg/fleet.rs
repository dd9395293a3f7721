//! [`AsgFleet`]: an Auto Scaling group's instances cycled onto a new
//! launch template a batch at a time, for the engine's rolling policy.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_autoscaling::types::{AutoScalingGroup, LifecycleState};
use aws_sdk_elasticloadbalancingv2::types::TargetDescription;
use dafnck_core::Value;
use tokio::sync::Mutex;

use super::{call_failed, Clients, TemplateVersion};
use crate::alb::judge_target;
use crate::analysis::Verdict;
use crate::fleet::RollingFleet;

/// The tag EC2 puts on an instance launched from a launch template.
const TEMPLATE_TAG: &str = "aws:ec2launchtemplate:id";

/// The instances of an Auto Scaling group as a [`RollingFleet`]: replacing
/// a batch points the group at the new launch template and terminates the
/// batch's instances in the group (TerminateInstanceInAutoScalingGroup,
/// keeping the desired capacity), so the group launches their
/// replacements from the new template; restoring points the group back at
/// the old template and cycles the replaced instances the same way.
///
/// Used with `Strategy::rolling` on a `LaunchTemplate` resource: the engine
/// creates the new template beside the old, the rolling rollout cycles the
/// group batch by batch (25% at a time by default), and the engine deletes
/// the old template when every instance runs the new one, or the new
/// template after a rollback.
///
/// # Health
/// A replacement is healthy when the group lists it `InService` and
/// `Healthy`, and every target group the group registers its instances in
/// reports it `healthy` (DescribeTargetHealth, judged as
/// [`TargetHealth`](crate::TargetHealth) judges a group's targets).
///
/// # Guarantees
/// - [`RollingFleet::survey`] finds the group (by name, or as the one group
///   that launches from the old template, else the new) and numbers its
///   instances by id; the template each instance was launched from is read
///   from its `aws:ec2launchtemplate:id` tag (EC2 DescribeInstances).
/// - `replace` and `restore` are idempotent: an instance already gone is
///   not terminated again, and each returns once the group lists a
///   replacement for every instance it terminated.
///
/// # Caveats
/// - An instance is terminated before its replacement launches: a batch
///   is out of service while it is replaced (CloudFormation's
///   `MinInstancesInService` semantics); size batches accordingly.
/// - The autoscaler changing the capacity during a rollout is not
///   accounted for: a replacement beyond the batch is left to the group.
///
/// ```no_run
/// use dafnck_strategies::asg::AsgFleet;
/// use dafnck_strategies::{Rolling, Strategy};
/// # fn f() -> Result<(), Box<dyn std::error::Error>> {
/// // On the LaunchTemplate: `Options::new().deploy_with(strategy)`.
/// let strategy = Strategy::rolling(Rolling::default(), AsgFleet::from_outputs)?;
/// # let _ = strategy; Ok(()) }
/// ```
pub struct AsgFleet {
    clients: Clients,
    old: TemplateVersion,
    new: TemplateVersion,
    group: Option<String>,
    launch_timeout: Duration,
    poll: Duration,
    surveyed: std::sync::Mutex<Option<Surveyed>>,
    /// Serialises changes.
    changing: Mutex<()>,
}

/// The group as surveyed, and the instance now in each slot.
#[derive(Clone, Debug)]
struct Surveyed {
    group: String,
    target_groups: Vec<String>,
    /// Per index: the instance there now, and the template it launched
    /// from (`None`: unknown).
    slots: Vec<(String, Option<String>)>,
}

impl AsgFleet {
    fn build(config: Option<&SdkConfig>, old: TemplateVersion, new: TemplateVersion) -> Self {
        AsgFleet {
            clients: Clients::new(config),
            old,
            new,
            group: None,
            launch_timeout: Duration::from_secs(600),
            poll: Duration::from_secs(5),
            surveyed: std::sync::Mutex::new(None),
            changing: Mutex::new(()),
        }
    }

    /// A fleet moving the group that launches from `old` onto `new`, with
    /// region, credentials and endpoint from the SDK's standard chain.
    pub fn from_env(old: TemplateVersion, new: TemplateVersion) -> Self {
        AsgFleet::build(None, old, new)
    }

    /// As [`AsgFleet::from_env`], with the SDK configuration `config`.
    pub fn with_config(config: &SdkConfig, old: TemplateVersion, new: TemplateVersion) -> Self {
        AsgFleet::build(Some(config), old, new)
    }

    /// A fleet from the old and new `LaunchTemplate`'s outputs, configured
    /// from the environment: what `Strategy::rolling` takes.
    ///
    /// # Errors
    /// Either outputs have no template id.
    pub fn from_outputs(old: &Value, new: &Value) -> Result<Self, String> {
        Ok(AsgFleet::from_env(
            TemplateVersion::from_outputs(old)?,
            TemplateVersion::from_outputs(new)?,
        ))
    }

    /// The group to roll out, by name, instead of the one that launches
    /// from the old template.
    pub fn group(mut self, name: impl Into<String>) -> Self {
        self.group = Some(name.into());
        self
    }

    /// How long the group may take to list a replacement for a terminated
    /// instance (default 10 minutes), and how often it is asked (default
    /// 5 s).
    pub fn timing(mut self, launch_timeout: Duration, poll: Duration) -> Self {
        self.launch_timeout = launch_timeout;
        self.poll = poll;
        self
    }

    fn surveyed(&self) -> Result<Surveyed, String> {
        let surveyed = self
            .surveyed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        // `describe` takes the lock: not while it is held.
        surveyed.ok_or_else(|| format!("{}: not surveyed yet", self.describe()))
    }

    /// The template each of `ids` was launched from, by its EC2 tag.
    async fn templates(&self, ids: &[String]) -> Result<BTreeMap<String, String>, String> {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let out = self
            .clients
            .ec2()
            .await
            .describe_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(|e| call_failed("DescribeInstances", &e))?;
        Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| {
                let template = i
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some(TEMPLATE_TAG))?
                    .value()?;
                Some((i.instance_id()?.to_owned(), template.to_owned()))
            })
            .collect())
    }

    async fn describe_group(&self, name: &str) -> Result<AutoScalingGroup, String> {
        let out = self
            .clients
            .autoscaling()
            .await
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .map_err(|e| call_failed("DescribeAutoScalingGroups", &e))?;
        out.auto_scaling_groups()
            .iter()
            .find(|g| g.auto_scaling_group_name() == Some(name))
            .cloned()
            .ok_or_else(|| format!("Auto Scaling group {name} not found"))
    }

    /// Points the group at `template`.
    async fn launch_from(&self, group: &str, template: &TemplateVersion) -> Result<(), String> {
        self.clients
            .autoscaling()
            .await
            .update_auto_scaling_group()
            .auto_scaling_group_name(group)
            .launch_template(template.spec())
            .send()
            .await
            .map_err(|e| call_failed("UpdateAutoScalingGroup", &e))?;
        Ok(())
    }

    /// Terminates the instances in `slots` (those still in the group) and
    /// waits until the group lists a replacement for each, which takes the
    /// slot, marked as launched from `template`.
    async fn cycle(&self, slots: &[usize], template: &TemplateVersion) -> Result<(), String> {
        let s = self.surveyed()?;
        let client = self.clients.autoscaling().await;
        let group = self.describe_group(&s.group).await?;
        let listed: BTreeSet<&str> = live(&group).collect();
        let gone: BTreeSet<String> = slots.iter().map(|&i| s.slots[i].0.clone()).collect();
        for id in &gone {
            if !listed.contains(id.as_str()) {
                continue;
            }
            let answer = client
                .terminate_instance_in_auto_scaling_group()
                .instance_id(id)
                .should_decrement_desired_capacity(false)
                .send()
                .await;
            if let Err(e) = answer {
                let why = call_failed("TerminateInstanceInAutoScalingGroup", &e);
                // A call can fail after taking effect (moto terminates the
                // instance, launches its replacement, then fails to
                // register a stopped sibling in the target group): what
                // counts is whether the instance left the group.
                let now = self.describe_group(&s.group).await?;
                if live(&now).any(|l| l == id.as_str()) {
                    return Err(why);
                }
                tracing::warn!(group = %s.group, instance = %id, "terminated, though the call answered: {why}");
            }
        }
        tracing::info!(group = %s.group, instances = ?gone, template = %template, "instances cycled");
        let deadline = tokio::time::Instant::now() + self.launch_timeout;
        loop {
            let group = self.describe_group(&s.group).await?;
            let known: BTreeSet<&str> = s.slots.iter().map(|(id, _)| id.as_str()).collect();
            let fresh: Vec<String> = live(&group)
                .filter(|id| !known.contains(id))
                .map(str::to_owned)
                .collect();
            let still: Vec<&String> = gone
                .iter()
                .filter(|id| live(&group).any(|l| l == id.as_str()))
                .collect();
            if still.is_empty() && fresh.len() >= slots.len() {
                let mut guard = self.surveyed.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(now) = guard.as_mut() {
                    for (&i, id) in slots.iter().zip(fresh) {
                        now.slots[i] = (id, Some(template.id.clone()));
                    }
                }
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "Auto Scaling group {} listed {} replacement(s) for {} terminated instance(s) within {:?} ({} still listed)",
                    s.group,
                    fresh.len(),
                    slots.len(),
                    self.launch_timeout,
                    still.len()
                ));
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}

impl AsgFleet {
    /// Brings the slots up to date with the group: a slot whose instance
    /// left the group (a replacement whose bookkeeping an error cut short)
    /// takes one of the instances the group lists beyond the known ones,
    /// with the template its tag names. Waits up to the launch timeout for
    /// the group to list as many new instances as slots lost theirs.
    async fn resync(&self, s: &Surveyed) -> Result<Surveyed, String> {
        let deadline = tokio::time::Instant::now() + self.launch_timeout;
        loop {
            let group = self.describe_group(&s.group).await?;
            let listed: BTreeSet<&str> = live(&group).collect();
            let known: BTreeSet<&str> = s.slots.iter().map(|(id, _)| id.as_str()).collect();
            let lost: Vec<usize> = (0..s.slots.len())
                .filter(|&i| !listed.contains(s.slots[i].0.as_str()))
                .collect();
            let mut fresh: Vec<String> = listed
                .iter()
                .filter(|id| !known.contains(*id))
                .map(|id| (*id).to_owned())
                .collect();
            fresh.sort();
            if lost.is_empty() {
                return Ok(s.clone());
            }
            if fresh.len() >= lost.len() {
                let templates = self.templates(&fresh).await?;
                let mut now = self.surveyed.lock().unwrap_or_else(|e| e.into_inner());
                let surveyed = now.get_or_insert_with(|| s.clone());
                for (&i, id) in lost.iter().zip(fresh) {
                    let template = templates.get(&id).cloned();
                    surveyed.slots[i] = (id, template);
                }
                return Ok(surveyed.clone());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "Auto Scaling group {}: {} instance(s) left the group and {} replacement(s) are listed after {:?}",
                    s.group,
                    lost.len(),
                    fresh.len(),
                    self.launch_timeout
                ));
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}

/// The group's instances not on their way out.
fn live(g: &AutoScalingGroup) -> impl Iterator<Item = &str> {
    g.instances()
        .iter()
        .filter(|i| {
            !matches!(
                i.lifecycle_state(),
                Some(
                    LifecycleState::Terminating
                        | LifecycleState::TerminatingWait
                        | LifecycleState::TerminatingProceed
                        | LifecycleState::Terminated
                        | LifecycleState::Detaching
                        | LifecycleState::Detached
                )
            )
        })
        .filter_map(|i| i.instance_id())
}

#[async_trait]
impl RollingFleet for AsgFleet {
    fn describe(&self) -> String {
        let group = self
            .surveyed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|s| s.group.clone())
            .or_else(|| self.group.clone())
            .unwrap_or_else(|| format!("launching from {}", self.old.id));
        format!(
            "Auto Scaling group {group} (launch template {} → {})",
            self.old, self.new
        )
    }

    async fn survey(&self) -> Result<(), String> {
        let group = self
            .clients
            .group(self.group.as_deref(), &self.old, &self.new)
            .await?;
        let name = group
            .auto_scaling_group_name()
            .unwrap_or_default()
            .to_owned();
        let mut ids: Vec<String> = live(&group).map(str::to_owned).collect();
        ids.sort();
        let templates = self.templates(&ids).await?;
        let slots = ids
            .into_iter()
            .map(|id| {
                let t = templates.get(&id).cloned();
                (id, t)
            })
            .collect();
        *self.surveyed.lock().unwrap_or_else(|e| e.into_inner()) = Some(Surveyed {
            group: name,
            target_groups: group.target_group_arns().to_vec(),
            slots,
        });
        Ok(())
    }

    fn size(&self) -> usize {
        self.surveyed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(0, |s| s.slots.len())
    }

    async fn replace(&self, batch: &[usize]) -> Result<(), String> {
        let _turn = self.changing.lock().await;
        let s = self.surveyed()?;
        self.launch_from(&s.group, &self.new).await?;
        self.cycle(batch, &self.new).await
    }

    async fn healthy(&self, batch: &[usize]) -> Verdict {
        let s = match self.surveyed() {
            Ok(s) => s,
            Err(e) => return Verdict::Fail(e),
        };
        let ids: Vec<String> = batch.iter().map(|&i| s.slots[i].0.clone()).collect();
        let group = match self.describe_group(&s.group).await {
            Ok(g) => g,
            Err(e) => return Verdict::Inconclusive(e),
        };
        let mut verdict = Verdict::Pass;
        for id in &ids {
            let found = group
                .instances()
                .iter()
                .find(|i| i.instance_id() == Some(id));
            let v = match found {
                None => Verdict::Fail(format!("{id} is no longer in the group")),
                Some(i) if i.health_status() == Some("Unhealthy") => {
                    Verdict::Fail(format!("{id} is Unhealthy in the group"))
                }
                Some(i) if i.lifecycle_state() != Some(&LifecycleState::InService) => {
                    Verdict::Inconclusive(format!(
                        "{id} is {} in the group",
                        i.lifecycle_state().map_or("?", |l| l.as_str())
                    ))
                }
                Some(_) => Verdict::Pass,
            };
            verdict = verdict.worst(v);
        }
        let elb = self.clients.elb().await;
        for tg in &s.target_groups {
            let targets = ids
                .iter()
                .map(|id| TargetDescription::builder().id(id).build())
                .collect();
            match elb
                .describe_target_health()
                .target_group_arn(tg)
                .set_targets(Some(targets))
                .send()
                .await
            {
                Ok(out) => {
                    for d in out.target_health_descriptions() {
                        verdict = verdict.worst(match judge_target(d) {
                            Verdict::Pass => Verdict::Pass,
                            Verdict::Fail(why) => {
                                Verdict::Fail(format!("target group {tg}: {why}"))
                            }
                            Verdict::Inconclusive(why) => {
                                Verdict::Inconclusive(format!("target group {tg}: {why}"))
                            }
                        });
                    }
                }
                Err(e) => {
                    verdict = verdict.worst(Verdict::Inconclusive(call_failed(
                        "DescribeTargetHealth",
                        &e,
                    )))
                }
            }
        }
        verdict
    }

    async fn restore(&self, replaced: &[usize]) -> Result<(), String> {
        let _turn = self.changing.lock().await;
        let s = match self.surveyed() {
            Ok(s) => s,
            // Never surveyed: nothing was replaced.
            Err(_) if replaced.is_empty() => return Ok(()),
            Err(e) => return Err(e),
        };
        self.launch_from(&s.group, &self.old).await?;
        let s = self.resync(&s).await?;
        let back: Vec<usize> = replaced
            .iter()
            .copied()
            .filter(|&i| {
                s.slots
                    .get(i)
                    .is_some_and(|(_, t)| t.as_deref() != Some(self.old.id.as_str()))
            })
            .collect();
        if back.is_empty() {
            return Ok(());
        }
        self.cycle(&back, &self.old).await
    }
}
