//! [`AutoScalingGroup`] (`aws:autoscaling:AutoScalingGroup`): a fleet of
//! instances launched from a launch template, kept between a minimum and a
//! maximum size, registered in target groups.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, RefreshPreferences, Tag};
use aws_sdk_autoscaling::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Delete, Made, Read, ReadResult, ResourceHandler, Update,
    UpdateResult,
};
use dafnck_core::state::CallKind;
use dafnck_core::ProviderError;

use super::super::ec2::{known, LaunchTemplateId, SubnetId};
use super::super::elbv2::{object_name, TargetGroupArn};
use super::super::error::{AwsError, Subject};
use super::super::lookup::Lookup;
use super::super::tags::{self, client_token, TOKEN_TAG};
use super::super::{lookup, Aws, Poll};
use super::{is_missing, provider_error};

ids! {
    /// The ARN of an [`AutoScalingGroup`].
    AutoScalingGroupArn;
}

/// How an [`AutoScalingGroup`] checks its instances' health.
#[derive(Declare, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum HealthCheckType {
    /// EC2's status checks (the default).
    #[default]
    Ec2,
    /// The target groups' health checks, and EC2's.
    Elb,
}

impl HealthCheckType {
    fn as_str(self) -> &'static str {
        match self {
            HealthCheckType::Ec2 => "EC2",
            HealthCheckType::Elb => "ELB",
        }
    }

    fn of(s: Option<&str>) -> Self {
        match s {
            Some("ELB") => HealthCheckType::Elb,
            _ => HealthCheckType::Ec2,
        }
    }
}

/// How a change of an [`AutoScalingGroup`]'s launch template is rolled out
/// to its running instances: an instance refresh.
#[derive(Declare, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default)]
pub struct InstanceRefresh {
    /// The share of the desired capacity that must stay in service (and
    /// healthy) while instances are replaced, in percent (90).
    pub min_healthy_percentage: u8,
    /// Seconds a new instance gets to warm up before it counts as healthy;
    /// `None`: the group's health check grace period.
    pub instance_warmup: Option<u32>,
}

impl Default for InstanceRefresh {
    fn default() -> Self {
        InstanceRefresh {
            min_healthy_percentage: 90,
            instance_warmup: None,
        }
    }
}

/// An EC2 Auto Scaling group.
///
/// - `name`: its name, unique in the region; `None` (the default) derives
///   one from the resource's name and the create's token. Changing it
///   replaces the group.
/// - `launch_template_id`, `launch_template_version` (`None`: `$Default`;
///   `Some(lt.out().default_version)` follows the template's changes): what
///   new instances launch; changed in place (UpdateAutoScalingGroup).
/// - `min_size`, `max_size`: the bounds; changed in place.
/// - `desired_capacity`: `None` (the default) leaves it to the group and its
///   scaling policies (AWS starts at `min_size`), and a capacity the
///   autoscaler sets is not drift; `Some(n)` manages it, and a different
///   capacity found is drift.
/// - `subnet_ids`: where instances run (the VPC zone identifier); changed
///   in place.
/// - `target_group_arns`: target groups its instances are registered in;
///   attached and detached in place. A [`TargetGroup`](super::super::elbv2::TargetGroup)'s
///   own `targets` are authoritative: declare such a group with
///   `Options::new().ignore_changes(["targets"])`, or the next `up`
///   deregisters the group's instances (its drift report still lists them
///   under `targets`).
/// - `health_check_type`, `health_check_grace_period`: how instance health
///   is judged (EC2 or ELB) and after how many seconds of a new instance
///   (300); changed in place.
/// - `instance_refresh`: `Some`: an update that changes the launch template
///   or its version starts an instance refresh with these preferences
///   (StartInstanceRefresh), which replaces the running instances in the
///   background, keeping `min_healthy_percentage` in service; the update
///   does not wait for it. `None`: only new instances use the new template.
/// - `tags`: the user's tags (propagated to instances it launches); set in
///   place.
///
/// # Drift
/// `read` reports the template, sizes, subnets, target groups, health check
/// and tags as found; the desired capacity only when the program sets it.
/// `instance_refresh` is not kept by AWS and reads as recorded.
///
/// # Deleting
/// Deleting force-deletes the group (its instances are terminated with it)
/// and waits until AWS no longer lists it.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:autoscaling:AutoScalingGroup", outputs = AutoScalingGroupOutputs)]
pub struct AutoScalingGroup {
    /// Its name; `None` derives one. Changing it replaces the group.
    #[resource(force_new)]
    pub name: Option<String>,
    /// The launch template of new instances.
    pub launch_template_id: Input<LaunchTemplateId>,
    /// The template's version; `None`: `$Default`.
    pub launch_template_version: Option<Input<i64>>,
    /// The fewest instances.
    pub min_size: u32,
    /// The most instances.
    pub max_size: u32,
    /// The number of instances wanted; `None`: left to the group.
    pub desired_capacity: Option<u32>,
    /// The subnets instances run in.
    pub subnet_ids: Vec<Input<SubnetId>>,
    /// Target groups its instances are registered in.
    pub target_group_arns: Vec<Input<TargetGroupArn>>,
    /// How instance health is checked.
    pub health_check_type: HealthCheckType,
    /// Seconds a new instance is given before its health counts (0: 300).
    pub health_check_grace_period: u32,
    /// How a change of the launch template reaches running instances.
    pub instance_refresh: Option<InstanceRefresh>,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// What an [`AutoScalingGroup`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct AutoScalingGroupOutputs {
    /// Its name (and id), for [`ScalingPolicy`](super::ScalingPolicy) and
    /// alarm dimensions.
    pub name: String,
    /// Its ARN.
    pub arn: AutoScalingGroupArn,
}

type Found = aws_sdk_autoscaling::types::AutoScalingGroup;

/// At most this many names in one DescribeAutoScalingGroups (its page).
const NAMES_PER_CALL: usize = 50;

/// The groups AWS lists among `names` (an unknown name is simply not
/// answered), `NAMES_PER_CALL` at a time; a group being deleted is left out.
async fn by_names(
    client: &Client,
    s: &Subject<'_>,
    names: &[String],
) -> Result<Vec<Found>, AwsError> {
    lookup::in_chunks(names, NAMES_PER_CALL, |chunk| async move {
        let out = client
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names(Some(chunk))
            .max_records(100)
            .send()
            .await
            .map_err(|e| s.error("DescribeAutoScalingGroups", e))?;
        let groups = out.auto_scaling_groups().iter();
        Ok(groups.filter(|g| !is_deleting(g)).cloned().collect())
    })
    .await
}

/// Whether AWS is deleting the group.
fn is_deleting(g: &Found) -> bool {
    g.status().is_some_and(|s| s.starts_with("Delete"))
}

async fn by_name(client: &Client, s: &Subject<'_>, name: &str) -> Lookup<Found> {
    Ok(by_names(client, s, &[name.to_owned()])
        .await?
        .into_iter()
        .next())
}

/// The group a create with `token` made under `name`, if any; an error
/// when a group of that name exists that it did not make.
async fn by_token(client: &Client, s: &Subject<'_>, name: &str, token: &str) -> Lookup<Found> {
    let Some(group) = by_name(client, s, name).await? else {
        return Ok(None);
    };
    let made_by = group
        .tags()
        .iter()
        .any(|t| t.key() == Some(TOKEN_TAG) && t.value() == Some(&client_token(token)));
    lookup::adopted(s, "an Auto Scaling group", name, group, made_by)
}

/// The name a create with `token` gives the group of resource `resource`.
fn name_for(v: &AutoScalingGroup, resource: &str, token: &str) -> String {
    object_name(v.name.as_deref(), resource, token)
}

fn outputs(g: &Found) -> AutoScalingGroupOutputs {
    AutoScalingGroupOutputs {
        name: g.auto_scaling_group_name().unwrap_or_default().to_owned(),
        arn: AutoScalingGroupArn(g.auto_scaling_group_arn().unwrap_or_default().to_owned()),
    }
}

/// The declared inputs AWS takes, resolved.
struct Declared {
    template: LaunchTemplateSpecification,
    subnets: Vec<String>,
    target_groups: Vec<String>,
}

fn version_of(s: &Subject<'_>, v: &AutoScalingGroup) -> Result<String, AwsError> {
    Ok(match &v.launch_template_version {
        Some(version) => known(s, version, "launch_template_version")?.to_string(),
        None => "$Default".to_owned(),
    })
}

fn declared(s: &Subject<'_>, v: &AutoScalingGroup) -> Result<Declared, AwsError> {
    let template = known(s, &v.launch_template_id, "launch_template_id")?.as_str();
    if template.is_empty() {
        return Err(s.invalid("`launch_template_id` must be set"));
    }
    if v.min_size > v.max_size {
        return Err(s.invalid(format!(
            "`min_size` ({}) is larger than `max_size` ({})",
            v.min_size, v.max_size
        )));
    }
    if let Some(d) = v.desired_capacity {
        if d < v.min_size || d > v.max_size {
            return Err(s.invalid(format!(
                "`desired_capacity` ({d}) is outside `min_size`..=`max_size` ({}..={})",
                v.min_size, v.max_size
            )));
        }
    }
    let subnets: Vec<String> = v
        .subnet_ids
        .iter()
        .map(|id| Ok(known(s, id, "subnet_ids")?.0.clone()))
        .collect::<Result<_, AwsError>>()?;
    if subnets.is_empty() {
        return Err(s.invalid("`subnet_ids` must name at least one subnet"));
    }
    let target_groups = v
        .target_group_arns
        .iter()
        .map(|arn| Ok(known(s, arn, "target_group_arns")?.0.clone()))
        .collect::<Result<_, AwsError>>()?;
    tags::check_user_tags(s, &v.tags)?;
    Ok(Declared {
        template: LaunchTemplateSpecification::builder()
            .launch_template_id(template)
            .version(version_of(s, v)?)
            .build(),
        subnets,
        target_groups,
    })
}

fn grace_period(v: &AutoScalingGroup) -> i32 {
    match v.health_check_grace_period {
        0 => 300,
        n => i32::try_from(n).unwrap_or(i32::MAX),
    }
}

fn size(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A tag of group `name`.
fn tag(name: &str, key: &str, value: &str, propagate: bool) -> Tag {
    Tag::builder()
        .resource_id(name)
        .resource_type("auto-scaling-group")
        .key(key)
        .value(value)
        .propagate_at_launch(propagate)
        .build()
}

/// The user's tags among the group's.
fn user_tags(g: &Found) -> BTreeMap<String, String> {
    g.tags()
        .iter()
        .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())))
        .filter(|(k, _)| tags::is_users(k))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The subnets of the group's VPC zone identifier.
fn subnets_of(g: &Found) -> Vec<String> {
    g.vpc_zone_identifier()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn same_set(a: &[String], b: &[String]) -> bool {
    a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
}

/// A list of ids as found: the recorded inputs when they resolve to the
/// same set, else the found ids as new inputs.
fn as_found<T: From<String> + Clone>(
    recorded: &[Input<T>],
    resolve: impl Fn(&T) -> String,
    found: Vec<String>,
) -> Vec<Input<T>> {
    let declared: Option<Vec<String>> = recorded
        .iter()
        .map(|i| i.as_value().map(&resolve))
        .collect();
    match declared {
        Some(declared) if same_set(&declared, &found) => recorded.to_vec(),
        _ => found.into_iter().map(|id| T::from(id).into()).collect(),
    }
}

/// What a read reports of `group`, found for `req`: shared by `read` and
/// `read_many` so both answer alike.
fn observed_as(
    req: &Read<AutoScalingGroup>,
    g: &Found,
) -> kit::Found<AutoScalingGroup, AutoScalingGroupOutputs> {
    let recorded = req.recorded.decode_or_default();
    let template = g.launch_template();
    let template_id = template
        .and_then(|t| t.launch_template_id())
        .unwrap_or_default()
        .to_owned();
    let version = template.and_then(|t| t.version()).unwrap_or("$Default");
    let launch_template_version = match version.parse::<i64>() {
        // A recorded reference that resolves to this number stays as it is.
        Ok(n) => match &recorded.launch_template_version {
            Some(r) if r.as_value() == Some(&n) => Some(r.clone()),
            _ => Some(n.into()),
        },
        Err(_) if version == "$Default" => None,
        // `$Latest` or another word set by hand: no number to report, and
        // not what `None` means, so a version nobody declares.
        Err(_) => Some((-1).into()),
    };
    let launch_template_id = match recorded.launch_template_id.as_value() {
        Some(id) if id.0 == template_id => recorded.launch_template_id.clone(),
        _ => LaunchTemplateId(template_id).into(),
    };
    let observed = AutoScalingGroup {
        name: recorded
            .name
            .as_ref()
            .map(|_| g.auto_scaling_group_name().unwrap_or_default().to_owned()),
        launch_template_id,
        launch_template_version,
        min_size: g
            .min_size()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        max_size: g
            .max_size()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        desired_capacity: recorded
            .desired_capacity
            .and(g.desired_capacity().and_then(|n| u32::try_from(n).ok())),
        subnet_ids: as_found(&recorded.subnet_ids, |id| id.0.clone(), subnets_of(g)),
        target_group_arns: as_found(
            &recorded.target_group_arns,
            |arn| arn.0.clone(),
            g.target_group_arns().to_vec(),
        ),
        health_check_type: HealthCheckType::of(g.health_check_type()),
        // A recorded 0 means the default 300.
        health_check_grace_period: match g.health_check_grace_period() {
            Some(300) if recorded.health_check_grace_period == 0 => 0,
            Some(n) => u32::try_from(n).unwrap_or(0),
            None => 0,
        },
        instance_refresh: recorded.instance_refresh,
        tags: user_tags(g),
    };
    lookup::observed(
        g.auto_scaling_group_name().unwrap_or_default(),
        observed,
        outputs(g),
    )
}

/// Force-deletes the group (terminating its instances) and waits until AWS
/// no longer lists it.
async fn delete_by_name(
    p: &Aws,
    client: &Client,
    s: &Subject<'_>,
    name: &str,
) -> Result<(), AwsError> {
    match client
        .delete_auto_scaling_group()
        .auto_scaling_group_name(name)
        .force_delete(true)
        .send()
        .await
        .map_err(|e| s.error("DeleteAutoScalingGroup", e))
    {
        Ok(_) => {}
        Err(e) if is_missing(&e) => return Ok(()),
        Err(e) => return Err(e),
    }
    p.wait_for(s, name, "deleted", || async {
        let out = client
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .map_err(|e| s.error("DescribeAutoScalingGroups", e))?;
        Ok(match out.auto_scaling_groups().first() {
            None => Poll::Done(()),
            Some(g) => Poll::Pending(format!(
                "{} ({} instances)",
                g.status().unwrap_or("in service"),
                g.instances().len()
            )),
        })
    })
    .await
}

/// Registers the group in the declared target groups missing from
/// `current`, then takes it out of those not declared.
async fn set_target_groups(
    client: &Client,
    s: &Subject<'_>,
    name: &str,
    current: &[String],
    declared: &[String],
) -> Result<(), AwsError> {
    let (add, remove) = tags::added_and_removed(current, declared);
    tags::add_then_remove(
        s,
        add,
        remove,
        (
            "AttachLoadBalancerTargetGroups",
            "DetachLoadBalancerTargetGroups",
        ),
        |add| {
            let attach = client.attach_load_balancer_target_groups();
            attach
                .auto_scaling_group_name(name)
                .set_target_group_arns(Some(add))
                .send()
        },
        |remove| {
            let detach = client.detach_load_balancer_target_groups();
            detach
                .auto_scaling_group_name(name)
                .set_target_group_arns(Some(remove))
                .send()
        },
    )
    .await
}

/// Makes the group's user tags equal `desired`.
async fn set_tags(
    client: &Client,
    s: &Subject<'_>,
    name: &str,
    current: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let (set, remove) = tags::diff(current, desired);
    if !set.is_empty() {
        client
            .create_or_update_tags()
            .set_tags(Some(
                set.into_iter()
                    .map(|(k, v)| tag(name, k, v, true))
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| s.error("CreateOrUpdateTags", e))?;
    }
    if !remove.is_empty() {
        client
            .delete_tags()
            .set_tags(Some(
                remove
                    .into_iter()
                    .map(|k| {
                        Tag::builder()
                            .resource_id(name)
                            .resource_type("auto-scaling-group")
                            .key(k)
                            .build()
                    })
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| s.error("DeleteTags", e))?;
    }
    Ok(())
}

/// Serves [`AutoScalingGroup`].
pub(crate) struct AutoScalingGroupHandler;

#[async_trait]
impl ResourceHandler for AutoScalingGroupHandler {
    type Resource = AutoScalingGroup;
    type Context = Aws;

    /// A create or update is a few calls; a delete waits for the group's
    /// instances to terminate.
    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        match call {
            CallKind::Delete => Some(Duration::from_secs(120)),
            _ => Some(Duration::from_secs(2)),
        }
    }

    async fn create(
        &self,
        p: &Aws,
        req: Create<AutoScalingGroup>,
    ) -> CreateResult<AutoScalingGroup> {
        let s = Subject::of::<AutoScalingGroup>(&req.name);
        let v = &req.inputs;
        let d = declared(&s, v)?;
        let name = name_for(v, &req.name, &req.token);
        let client = p.autoscaling_client().await;
        if by_token(client, &s, &name, &req.token).await?.is_none() {
            let group_tags = tags::ours(&req.stack, &req.name, &req.token)
                .into_iter()
                .map(|(k, val)| tag(&name, k, &val, false))
                .chain(v.tags.iter().map(|(k, val)| tag(&name, k, val, true)))
                .collect();
            client
                .create_auto_scaling_group()
                .auto_scaling_group_name(&name)
                .launch_template(d.template)
                .min_size(size(v.min_size))
                .max_size(size(v.max_size))
                .set_desired_capacity(v.desired_capacity.map(size))
                .vpc_zone_identifier(d.subnets.join(","))
                .set_target_group_arns((!d.target_groups.is_empty()).then_some(d.target_groups))
                .health_check_type(v.health_check_type.as_str())
                .health_check_grace_period(grace_period(v))
                .set_tags(Some(group_tags))
                .send()
                .await
                .map_err(|e| provider_error(s.error("CreateAutoScalingGroup", e)))?;
        }
        let group = p
            .wait_for(&s, &name, "listed", || async {
                Ok(match by_name(client, &s, &name).await? {
                    Some(g) => Poll::Done(g),
                    None => Poll::Pending("not listed yet".into()),
                })
            })
            .await?;
        Ok(Made {
            id: name,
            outputs: outputs(&group),
        })
    }

    async fn read(&self, p: &Aws, req: Read<AutoScalingGroup>) -> ReadResult<AutoScalingGroup> {
        let s = Subject::of::<AutoScalingGroup>(&req.name);
        let client = p.autoscaling_client().await;
        let recorded = req.recorded.decode_or_default();
        let found = lookup::find(
            &req,
            |name| by_name(client, &s, name),
            |token| {
                let name = name_for(&recorded, &req.name, token);
                async move { by_token(client, &s, &name, token).await }
            },
        )
        .await?;
        Ok(found.map(|g| observed_as(&req, &g)))
    }

    /// One DescribeAutoScalingGroups for up to 50 groups read by name (a
    /// name AWS no longer lists is an absent group); a read by token alone,
    /// as `read`.
    fn reads_in_batches(&self) -> bool {
        true
    }

    async fn read_many(
        &self,
        p: &Aws,
        reqs: Vec<Read<AutoScalingGroup>>,
    ) -> Result<Vec<Option<kit::Found<AutoScalingGroup, AutoScalingGroupOutputs>>>, ProviderError>
    {
        let client = p.autoscaling_client().await;
        // A failed listing names the batch's first resource.
        let s = Subject::of::<AutoScalingGroup>(reqs.first().map_or("", |r| r.name.as_str()));
        let found = lookup::find_many(
            &reqs,
            |names| async move { by_names(client, &s, &names).await },
            Found::auto_scaling_group_name,
            |req| async move {
                let s = Subject::of::<AutoScalingGroup>(&req.name);
                let recorded = req.recorded.decode_or_default();
                match &req.token {
                    Some(token) => {
                        let name = name_for(&recorded, &req.name, token);
                        by_token(client, &s, &name, token).await
                    }
                    None => Ok(None),
                }
            },
        )
        .await?;
        Ok(reqs
            .iter()
            .zip(found)
            .map(|(req, g)| g.map(|g| observed_as(req, &g)))
            .collect())
    }

    async fn update(
        &self,
        p: &Aws,
        req: Update<AutoScalingGroup>,
    ) -> UpdateResult<AutoScalingGroup> {
        let s = Subject::of::<AutoScalingGroup>(&req.name);
        let v = &req.inputs;
        let d = declared(&s, v)?;
        let client = p.autoscaling_client().await;
        let name = req.id.as_str();
        let group = by_name(client, &s, name)
            .await?
            .ok_or_else(|| s.gone(name))?;
        let current_template = group.launch_template().map(|t| {
            (
                t.launch_template_id().unwrap_or_default().to_owned(),
                t.version().unwrap_or("$Default").to_owned(),
            )
        });
        let template_changed = current_template
            != Some((
                d.template
                    .launch_template_id()
                    .unwrap_or_default()
                    .to_owned(),
                d.template.version().unwrap_or("$Default").to_owned(),
            ));
        client
            .update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .launch_template(d.template)
            .min_size(size(v.min_size))
            .max_size(size(v.max_size))
            .set_desired_capacity(v.desired_capacity.map(size))
            .vpc_zone_identifier(d.subnets.join(","))
            .health_check_type(v.health_check_type.as_str())
            .health_check_grace_period(grace_period(v))
            .send()
            .await
            .map_err(|e| provider_error(s.error("UpdateAutoScalingGroup", e)))?;
        set_target_groups(
            client,
            &s,
            name,
            group.target_group_arns(),
            &d.target_groups,
        )
        .await?;
        set_tags(client, &s, name, &user_tags(&group), &v.tags).await?;
        if let (true, Some(refresh)) = (template_changed, &v.instance_refresh) {
            client
                .start_instance_refresh()
                .auto_scaling_group_name(name)
                .preferences(
                    RefreshPreferences::builder()
                        .min_healthy_percentage(refresh.min_healthy_percentage.into())
                        .set_instance_warmup(
                            refresh
                                .instance_warmup
                                .map(|w| i32::try_from(w).unwrap_or(i32::MAX)),
                        )
                        .build(),
                )
                .send()
                .await
                .map_err(|e| provider_error(s.error("StartInstanceRefresh", e)))?;
        }
        Ok(outputs(&group))
    }

    async fn delete(&self, p: &Aws, req: Delete<AutoScalingGroup>) -> Result<(), ProviderError> {
        let client = p.autoscaling_client().await;
        let s = Subject::of::<AutoScalingGroup>(&req.name);
        delete_by_name(p, client, &s, &req.id)
            .await
            .map_err(provider_error)
    }
}

#[cfg(test)]
mod tests;
