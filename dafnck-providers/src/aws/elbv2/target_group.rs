//! [`TargetGroup`] (`aws:elbv2:TargetGroup`): instances a listener forwards
//! to, with their health check, and which instances are in it.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, TargetDescription, TargetHealthStateEnum, TargetTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Made, Read, ResourceHandler, Update, UpdateResult,
};
use dafnck_core::provider::DiffRequest;
use dafnck_core::state::CallKind;

use super::super::ec2::{known, InstanceId, VpcId};
use super::super::error::{AwsError, Subject};
use super::super::lookup::Lookup;
use super::super::tags::{self, added_and_removed, check_user_tags};
use super::super::{failed_after_create, lookup, one_call, Aws};
use super::{
    apply_tags, check_prefix, existing, made_by, object_name, prefixed_name, replace_conflict,
    same_set, tags_of, tags_on_create, user_tags, Protocol,
};

ids! {
    /// The ARN of a [`TargetGroup`].
    TargetGroupArn;
}

/// A target group: the instances a [`Listener`](super::Listener) forwards
/// to, and how their health is checked.
///
/// - `name`: its name, unique in the account and region (at most 32
///   letters, digits and hyphens); `None` (the default) generates one:
///   `name_prefix` (default: the resource's name and a hyphen) followed by
///   8 hex digits that differ from create to create. Changing it replaces
///   the group.
/// - `name_prefix`: the start of a generated name (at most 24 letters,
///   digits and hyphens); not with `name`. Changing it replaces the group.
/// - `protocol`, `port`: how traffic reaches the targets (default HTTP on
///   80); changing either replaces the group.
/// - `vpc_id`: the VPC of its targets; changing it replaces the group.
/// - `health_check`: how targets are checked; changed in place
///   (ModifyTargetGroup).
/// - `targets`: the instances in it, authoritative (instances registered
///   outside the program are deregistered); registered and deregistered in
///   place.
/// - `tags`: the user's tags; set in place.
///
/// Targets are a field rather than a separate attachment resource: the
/// group's membership is one value the planner diffs and the drift check
/// watches as a whole, so a fleet that replaces its instances changes one
/// field of one resource (new instances are registered before old ones are
/// deregistered), and an instance added behind the program's back shows
/// up as drift.
///
/// # Under a deployment policy
/// Declared with `Options::deploy_with` (a canary or blue-green
/// `Strategy` whose router is `dafnck_strategies::alb::TargetGroupRouter`),
/// every change of the group — new targets, when the instances are
/// replaced — creates a second group beside it, and the policy moves the
/// listener's weights to it; the listener declared with `tg.out().arn` is
/// then updated to forward to the new group, and the old group is deleted
/// (or, on rollback, the new one). The two groups exist at once, so their
/// names must differ: leave `name` unset (or use `name_prefix`); a fixed
/// `name` is refused when the change is planned.
///
/// # Drift
/// `read` reports the health check, targets (those not draining) and tags
/// as found.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:elbv2:TargetGroup", outputs = TargetGroupOutputs)]
pub struct TargetGroup {
    /// Its name; `None` generates one. Changing it replaces the group.
    #[resource(force_new)]
    pub name: Option<String>,
    /// The start of a generated name (`None`: the resource's name and a
    /// hyphen). Changing it replaces the group.
    #[resource(force_new)]
    pub name_prefix: Option<String>,
    /// The protocol to the targets; changing it replaces the group.
    #[resource(force_new)]
    pub protocol: Protocol,
    /// The targets' port (0: 80); changing it replaces the group.
    #[resource(force_new)]
    pub port: u16,
    /// The VPC; changing it replaces the group.
    #[resource(force_new)]
    pub vpc_id: Input<VpcId>,
    /// How targets are checked; changed in place.
    pub health_check: HealthCheck,
    /// The instances in it; changed in place.
    pub targets: Vec<Input<InstanceId>>,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// How a [`TargetGroup`] checks its targets (AWS's defaults for HTTP by
/// default).
#[derive(Declare, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default)]
pub struct HealthCheck {
    /// The path requested (`/`).
    pub path: String,
    /// The port; `None` (the default): the port traffic goes to.
    pub port: Option<u16>,
    /// Seconds between two checks of one target (30).
    pub interval_seconds: u16,
    /// Seconds without an answer that fail a check (5).
    pub timeout_seconds: u16,
    /// Passed checks in a row that make a target healthy (5).
    pub healthy_threshold: u8,
    /// Failed checks in a row that make a target unhealthy (2).
    pub unhealthy_threshold: u8,
    /// The HTTP codes of a healthy answer (`200`, `200-299`, `200,302`).
    pub matcher: String,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            path: "/".into(),
            port: None,
            interval_seconds: 30,
            timeout_seconds: 5,
            healthy_threshold: 5,
            unhealthy_threshold: 2,
            matcher: "200".into(),
        }
    }
}

/// What a [`TargetGroup`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct TargetGroupOutputs {
    /// Its ARN (and id).
    pub arn: TargetGroupArn,
    /// Its name.
    pub name: String,
}

type Found = aws_sdk_elasticloadbalancingv2::types::TargetGroup;

described!(
    TargetGroup,
    "DescribeTargetGroups",
    describe_target_groups,
    set_target_group_arns,
    target_groups,
    observed_with_targets
);

/// What a read reports of `group`: [`observed_as`] with the targets found
/// in it (one DescribeTargetHealth: ELBv2 has no list form).
async fn observed_with_targets(
    client: &Client,
    req: &Read<TargetGroup>,
    group: &Found,
    tags: &BTreeMap<String, String>,
) -> Result<kit::Found<TargetGroup, TargetGroupOutputs>, AwsError> {
    let s = Subject::of::<TargetGroup>(&req.name);
    let targets = targets_of(client, &s, arn_of(group)).await?;
    Ok(observed_as(req, group, tags, targets))
}

/// The group a create with `token` made (see the load balancer's).
async fn by_token(client: &Client, s: &Subject<'_>, name: &str, token: &str) -> Lookup<Found> {
    let found = lookup::unless_not_found(
        s,
        "DescribeTargetGroups",
        client.describe_target_groups().names(name).send().await,
    )?
    .and_then(|out| {
        out.target_groups()
            .iter()
            .find(|g| g.target_group_name() == Some(name))
            .cloned()
    });
    let Some(group) = found else {
        return Ok(None);
    };
    let tags = tags_of(client, s, arn_of(&group)).await?;
    lookup::adopted(s, "a target group", name, group, made_by(&tags, token))
}

/// The name a create with `token` gives the group `v` of resource
/// `resource`: the declared name, the prefix with the create's suffix, or
/// one derived from the resource's name.
fn name_for(v: &TargetGroup, resource: &str, token: &str) -> String {
    match (&v.name, &v.name_prefix) {
        (None, Some(prefix)) => prefixed_name(prefix, token),
        (name, _) => object_name(name.as_deref(), resource, token),
    }
}

/// Checks `name` and `name_prefix`.
fn check_naming(s: &Subject<'_>, v: &TargetGroup) -> Result<(), AwsError> {
    match (&v.name, &v.name_prefix) {
        (Some(_), Some(_)) => Err(s.invalid("set `name` or `name_prefix`, not both")),
        (None, Some(prefix)) => check_prefix(prefix).map_err(|e| s.invalid(e)),
        _ => Ok(()),
    }
}

fn arn_of(g: &Found) -> &str {
    g.target_group_arn().unwrap_or_default()
}

fn outputs(g: &Found) -> TargetGroupOutputs {
    TargetGroupOutputs {
        arn: TargetGroupArn(arn_of(g).to_owned()),
        name: g.target_group_name().unwrap_or_default().to_owned(),
    }
}

fn port_of(v: &TargetGroup) -> u16 {
    if v.port == 0 {
        80
    } else {
        v.port
    }
}

fn health_of(g: &Found) -> HealthCheck {
    let d = HealthCheck::default();
    let num =
        |n: Option<i32>, default: u16| n.and_then(|n| u16::try_from(n).ok()).unwrap_or(default);
    HealthCheck {
        path: g.health_check_path().unwrap_or(&d.path).to_owned(),
        port: g
            .health_check_port()
            .filter(|p| *p != "traffic-port")
            .and_then(|p| p.parse().ok()),
        interval_seconds: num(g.health_check_interval_seconds(), d.interval_seconds),
        timeout_seconds: num(g.health_check_timeout_seconds(), d.timeout_seconds),
        healthy_threshold: num(g.healthy_threshold_count(), d.healthy_threshold.into()) as u8,
        unhealthy_threshold: num(g.unhealthy_threshold_count(), d.unhealthy_threshold.into()) as u8,
        matcher: g
            .matcher()
            .and_then(|m| m.http_code())
            .unwrap_or(&d.matcher)
            .to_owned(),
    }
}

/// `$builder` (CreateTargetGroup's or ModifyTargetGroup's: the SDK has
/// one type per call) with the health check `$h`.
macro_rules! with_health_check {
    ($builder:expr, $h:expr) => {{
        let h: &HealthCheck = $h;
        $builder
            .health_check_path(&h.path)
            .health_check_port(health_port(h))
            .health_check_interval_seconds(h.interval_seconds.into())
            .health_check_timeout_seconds(h.timeout_seconds.into())
            .healthy_threshold_count(h.healthy_threshold.into())
            .unhealthy_threshold_count(h.unhealthy_threshold.into())
            .matcher(Matcher::builder().http_code(&h.matcher).build())
    }};
}

fn health_port(h: &HealthCheck) -> String {
    h.port
        .map_or_else(|| "traffic-port".to_owned(), |p| p.to_string())
}

/// The instances registered (not draining away).
async fn targets_of(client: &Client, s: &Subject<'_>, arn: &str) -> Result<Vec<String>, AwsError> {
    let out = client
        .describe_target_health()
        .target_group_arn(arn)
        .send()
        .await
        .map_err(|e| s.error("DescribeTargetHealth", e))?;
    Ok(out
        .target_health_descriptions()
        .iter()
        .filter(|d| {
            d.target_health().and_then(|h| h.state()) != Some(&TargetHealthStateEnum::Draining)
        })
        .filter_map(|d| d.target().and_then(|t| t.id()).map(str::to_owned))
        .collect())
}

fn declared_targets(s: &Subject<'_>, v: &TargetGroup) -> Result<Vec<String>, AwsError> {
    v.targets
        .iter()
        .map(|t| Ok(known(s, t, "targets")?.0.clone()))
        .collect()
}

fn target(id: &str) -> TargetDescription {
    TargetDescription::builder().id(id).build()
}

/// Registers the declared targets missing from `current`, then
/// deregisters those not declared: new ones take traffic before old ones
/// stop.
async fn set_targets(
    client: &Client,
    s: &Subject<'_>,
    arn: &str,
    current: &[String],
    declared: &[String],
) -> Result<(), AwsError> {
    let (add, remove) = added_and_removed(current, declared);
    let described = |ids: Vec<String>| ids.iter().map(|t| target(t)).collect();
    tags::add_then_remove(
        s,
        add,
        remove,
        ("RegisterTargets", "DeregisterTargets"),
        |add| {
            let register = client.register_targets().target_group_arn(arn);
            register.set_targets(Some(described(add))).send()
        },
        |remove| {
            let deregister = client.deregister_targets().target_group_arn(arn);
            deregister.set_targets(Some(described(remove))).send()
        },
    )
    .await
}

async fn delete_by_arn(client: &Client, s: &Subject<'_>, arn: &str) -> Result<(), AwsError> {
    lookup::deleted(
        s,
        "DeleteTargetGroup",
        client
            .delete_target_group()
            .target_group_arn(arn)
            .send()
            .await,
    )
}

/// What a read reports of `group` (with its `tags` and the targets found
/// in it), found for `req`: shared by `read` and `read_many` so both answer
/// alike.
fn observed_as(
    req: &Read<TargetGroup>,
    group: &Found,
    tags: &BTreeMap<String, String>,
    found_targets: Vec<String>,
) -> kit::Found<TargetGroup, TargetGroupOutputs> {
    let s = Subject::of::<TargetGroup>(&req.name);
    let recorded = req.recorded.decode_or_default();
    let targets = match declared_targets(&s, &recorded) {
        Ok(declared) if same_set(&declared, &found_targets) => recorded.targets.clone(),
        _ => found_targets
            .into_iter()
            .map(|id| InstanceId(id).into())
            .collect(),
    };
    let port = group
        .port()
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or_default();
    let observed = TargetGroup {
        name: recorded
            .name
            .map(|_| group.target_group_name().unwrap_or_default().to_owned()),
        // Not kept by AWS: the name shows it.
        name_prefix: recorded.name_prefix,
        protocol: Protocol::of(group.protocol()),
        // A recorded 0 means the default port 80.
        port: if recorded.port == 0 && port == 80 {
            0
        } else {
            port
        },
        vpc_id: VpcId(group.vpc_id().unwrap_or_default().to_owned()).into(),
        health_check: health_of(group),
        targets,
        tags: user_tags(tags),
    };
    lookup::observed(arn_of(group), observed, outputs(group))
}

/// The target group a create with `token` made for `req`, under the name
/// that create gave it.
async fn by_read_token(
    client: &Client,
    s: &Subject<'_>,
    req: &Read<TargetGroup>,
    token: &str,
) -> Lookup<Found> {
    let recorded = req.recorded.decode_or_default();
    by_token(client, s, &name_for(&recorded, &req.name, token), token).await
}

/// Serves [`TargetGroup`].
pub(crate) struct TargetGroupHandler;

#[async_trait]
impl ResourceHandler for TargetGroupHandler {
    type Resource = TargetGroup;
    type Context = Aws;

    fn replace_conflict(&self, req: &DiffRequest<'_>) -> Option<String> {
        replace_conflict(req)
    }

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<TargetGroup>) -> CreateResult<TargetGroup> {
        let s = Subject::of::<TargetGroup>(&req.name);
        let v = &req.inputs;
        let vpc_id = known(&s, &v.vpc_id, "vpc_id")?.as_str();
        if vpc_id.is_empty() {
            return Err(s.invalid("`vpc_id` must be set").into());
        }
        let targets = declared_targets(&s, v)?;
        check_user_tags(&s, &v.tags)?;
        check_naming(&s, v)?;
        let name = name_for(v, &req.name, &req.token);
        let client = p.elbv2_client().await;
        let group = match by_token(client, &s, &name, &req.token).await? {
            Some(g) => g,
            None => {
                let h = &v.health_check;
                let create = with_health_check!(client.create_target_group(), h);
                let out = create
                    .name(&name)
                    .protocol(v.protocol.sdk())
                    .port(port_of(v).into())
                    .vpc_id(vpc_id)
                    .target_type(TargetTypeEnum::Instance)
                    .set_tags(Some(tags_on_create(
                        &req.stack, &req.name, &req.token, &v.tags,
                    )))
                    .send()
                    .await
                    .map_err(|e| s.error("CreateTargetGroup", e))?;
                out.target_groups()
                    .first()
                    .cloned()
                    .ok_or_else(|| s.incomplete("CreateTargetGroup", "a target group"))?
            }
        };
        let arn = arn_of(&group).to_owned();
        let registered = async {
            let current = targets_of(client, &s, &arn).await?;
            set_targets(client, &s, &arn, &current, &targets).await
        };
        match registered.await {
            Ok(()) => Ok(Made {
                id: arn,
                outputs: outputs(&group),
            }),
            Err(e) => Err(failed_after_create(e, &arn, delete_by_arn(client, &s, &arn)).await),
        }
    }

    batched_reads! {
        /// DescribeTargetGroups and DescribeTags for up to 20 groups read by
        /// ARN at a time (a chunk with an ARN AWS no longer knows is described
        /// again one by one, so that one reads as absent); a read by token
        /// alone, as `read`. Each group's targets are still one
        /// DescribeTargetHealth: ELBv2 has no list form.
        TargetGroup, elbv2_client, super::read, super::read_many
    }

    async fn update(&self, p: &Aws, req: Update<TargetGroup>) -> UpdateResult<TargetGroup> {
        let s = Subject::of::<TargetGroup>(&req.name);
        let v = &req.inputs;
        let targets = declared_targets(&s, v)?;
        check_user_tags(&s, &v.tags)?;
        let client = p.elbv2_client().await;
        let arn = req.id.as_str();
        let group = existing::<TargetGroup>(client, &s, arn).await?;
        let h = &v.health_check;
        if &health_of(&group) != h {
            with_health_check!(client.modify_target_group(), h)
                .target_group_arn(arn)
                .send()
                .await
                .map_err(|e| s.error("ModifyTargetGroup", e))?;
        }
        let current = targets_of(client, &s, arn).await?;
        set_targets(client, &s, arn, &current, &targets).await?;
        let tags = user_tags(&tags_of(client, &s, arn).await?);
        apply_tags(client, &s, arn, &tags, &v.tags).await?;
        Ok(outputs(&group))
    }

    deletes_by!(TargetGroup, elbv2_client, delete_by_arn);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_protocol_port_and_vpc_replace_the_group() {
        assert_eq!(
            TargetGroup::force_new_fields(),
            &["name", "name_prefix", "protocol", "port", "vpc_id"]
        );
    }

    #[test]
    fn a_generated_name_starts_with_the_prefix_or_the_resource_s_name() {
        let prefixed = TargetGroup {
            name_prefix: Some("web-v-".into()),
            ..Default::default()
        };
        let a = name_for(&prefixed, "web-tg", "run-1-web-tg");
        assert!(a.starts_with("web-v-") && a.len() == 14, "{a}");
        assert_ne!(a, name_for(&prefixed, "web-tg", "run-2-web-tg"));
        let derived = name_for(&TargetGroup::default(), "web-tg", "run-1-web-tg");
        assert!(derived.starts_with("web-tg-"), "{derived}");
        let fixed = TargetGroup {
            name: Some("web".into()),
            ..Default::default()
        };
        assert_eq!(name_for(&fixed, "web-tg", "run-1-web-tg"), "web");

        let s = Subject::of::<TargetGroup>("web-tg");
        assert!(check_naming(&s, &prefixed).is_ok());
        let both = TargetGroup {
            name: Some("web".into()),
            name_prefix: Some("web-".into()),
            ..Default::default()
        };
        let e = check_naming(&s, &both).unwrap_err().to_string();
        assert!(
            e.contains("aws:elbv2:TargetGroup \"web-tg\"") && e.contains("not both"),
            "{e}"
        );
        let long = TargetGroup {
            name_prefix: Some("a-prefix-far-too-long-for-aws".into()),
            ..Default::default()
        };
        let e = check_naming(&s, &long).unwrap_err().to_string();
        assert!(e.contains("web-tg") && e.contains("1 to 24"), "{e}");
    }

    #[test]
    fn the_default_health_check_is_aws_s() {
        let h: HealthCheck = serde_json::from_str("{}").unwrap();
        assert_eq!(h, HealthCheck::default());
        assert_eq!(health_port(&h), "traffic-port");
        assert_eq!(
            health_port(&HealthCheck {
                port: Some(8080),
                ..h
            }),
            "8080"
        );
    }
}
