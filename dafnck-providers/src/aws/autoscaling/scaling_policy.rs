//! [`ScalingPolicy`] (`aws:autoscaling:ScalingPolicy`): a target tracking
//! policy that keeps a group's metric near a target by changing its
//! desired capacity.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{
    MetricType, PredefinedMetricSpecification, TargetTrackingConfiguration,
};
use aws_sdk_autoscaling::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Delete, Made, Read, ReadResult, ResourceHandler, Update,
    UpdateResult,
};
use dafnck_core::state::CallKind;
use dafnck_core::ProviderError;

use super::super::ec2::known;
use super::super::elbv2::object_name;
use super::super::error::{AwsError, Subject};
use super::super::lookup::Lookup;
use super::super::{lookup, one_call, Aws};
use super::{is_missing, provider_error};

ids! {
    /// The ARN of a [`ScalingPolicy`].
    ScalingPolicyArn;
}

/// The metric a [`ScalingPolicy`] tracks, as Auto Scaling predefines it.
#[derive(Declare, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PredefinedMetric {
    /// The group's average CPU utilization, in percent (the default).
    #[default]
    #[serde(rename = "ASGAverageCPUUtilization")]
    AsgAverageCpuUtilization,
    /// The group's average bytes in per instance.
    #[serde(rename = "ASGAverageNetworkIn")]
    AsgAverageNetworkIn,
    /// The group's average bytes out per instance.
    #[serde(rename = "ASGAverageNetworkOut")]
    AsgAverageNetworkOut,
    /// Requests per target of a target group (needs `resource_label`).
    #[serde(rename = "ALBRequestCountPerTarget")]
    AlbRequestCountPerTarget,
}

impl PredefinedMetric {
    fn sdk(self) -> MetricType {
        match self {
            PredefinedMetric::AsgAverageCpuUtilization => MetricType::AsgAverageCpuUtilization,
            PredefinedMetric::AsgAverageNetworkIn => MetricType::AsgAverageNetworkIn,
            PredefinedMetric::AsgAverageNetworkOut => MetricType::AsgAverageNetworkOut,
            PredefinedMetric::AlbRequestCountPerTarget => MetricType::AlbRequestCountPerTarget,
        }
    }

    fn of(m: Option<&MetricType>) -> Self {
        match m {
            Some(MetricType::AsgAverageNetworkIn) => PredefinedMetric::AsgAverageNetworkIn,
            Some(MetricType::AsgAverageNetworkOut) => PredefinedMetric::AsgAverageNetworkOut,
            Some(MetricType::AlbRequestCountPerTarget) => {
                PredefinedMetric::AlbRequestCountPerTarget
            }
            _ => PredefinedMetric::AsgAverageCpuUtilization,
        }
    }
}

/// A target tracking scaling policy of an
/// [`AutoScalingGroup`](super::AutoScalingGroup): Auto Scaling adds
/// instances when the metric is above `target_value` and removes them
/// when it is below (the seed's "CPU at 70%" is the default metric with
/// `target_value: 70.0`).
///
/// - `auto_scaling_group_name`: the group (`asg.out().name`); changing it
///   replaces the policy.
/// - `name`: its name, unique in the group; `None` (the default) derives
///   one from the resource's name and the create's token. Changing it
///   replaces the policy.
/// - `predefined_metric`, `resource_label` (for
///   [`PredefinedMetric::AlbRequestCountPerTarget`]: `app/<lb>/<id>/targetgroup/<tg>/<id>`),
///   `target_value`, `disable_scale_in`, `estimated_instance_warmup`
///   (seconds): set in place (PutScalingPolicy).
///
/// Creating and updating are one PutScalingPolicy, which makes or
/// overwrites the policy of that name: a create repeated after a crash
/// finds (and overwrites) the policy its lost attempt made.
///
/// # Caveats
/// Policies carry no tags, so a declared `name` that another policy of the
/// group already has is taken over, not refused; leave `name` unset to get
/// one of the resource's own.
///
/// # Drift
/// `read` reports the metric, label, target, scale-in and warm-up as found.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:autoscaling:ScalingPolicy", outputs = ScalingPolicyOutputs)]
pub struct ScalingPolicy {
    /// The group; changing it replaces the policy.
    #[resource(force_new)]
    pub auto_scaling_group_name: Input<String>,
    /// Its name; `None` derives one. Changing it replaces the policy.
    #[resource(force_new)]
    pub name: Option<String>,
    /// The metric tracked.
    pub predefined_metric: PredefinedMetric,
    /// Which target group, for the ALB request count.
    pub resource_label: Option<String>,
    /// The value the metric is kept near.
    pub target_value: f64,
    /// Whether the policy never removes instances.
    pub disable_scale_in: bool,
    /// Seconds before a new instance's metrics count; `None`: the group's.
    pub estimated_instance_warmup: Option<u32>,
}

/// What a [`ScalingPolicy`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct ScalingPolicyOutputs {
    /// Its ARN (and id), for an alarm's actions.
    pub arn: ScalingPolicyArn,
    /// Its name.
    pub name: String,
    /// The names of the alarms Auto Scaling made for it.
    pub alarm_names: Vec<String>,
}

type Found = aws_sdk_autoscaling::types::ScalingPolicy;

/// The group and policy names in a policy ARN
/// (`...:autoScalingGroupName/<group>:policyName/<policy>`).
fn names_in(arn: &str) -> Option<(&str, &str)> {
    let (_, rest) = arn.split_once(":autoScalingGroupName/")?;
    rest.split_once(":policyName/")
}

/// The policies named `names` of `group`, one call (a group AWS does not
/// know has none).
async fn in_group(
    client: &Client,
    s: &Subject<'_>,
    group: &str,
    names: Vec<String>,
) -> Result<Vec<Found>, AwsError> {
    let out = client
        .describe_policies()
        .auto_scaling_group_name(group)
        .set_policy_names(Some(names))
        .send()
        .await
        .map_err(|e| s.error("DescribePolicies", e));
    match out {
        Ok(out) => Ok(out.scaling_policies().to_vec()),
        Err(e) if is_missing(&e) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

async fn by_names(client: &Client, s: &Subject<'_>, group: &str, name: &str) -> Lookup<Found> {
    let found = in_group(client, s, group, vec![name.to_owned()]).await?;
    Ok(found
        .into_iter()
        .find(|p| p.auto_scaling_group_name() == Some(group) && p.policy_name() == Some(name)))
}

async fn by_arn(client: &Client, s: &Subject<'_>, arn: &str) -> Lookup<Found> {
    match names_in(arn) {
        Some((group, name)) => by_names(client, s, group, name).await,
        None => Err(s.invalid(format!("{arn:?} is not a scaling policy ARN"))),
    }
}

/// The policy a create with `token` made (the one named as that create
/// names it).
async fn by_token(client: &Client, req: &Read<ScalingPolicy>, token: &str) -> Lookup<Found> {
    let s = Subject::of::<ScalingPolicy>(&req.name);
    let recorded = req.recorded.decode_or_default();
    let Some(group) = recorded.auto_scaling_group_name.as_value() else {
        return Ok(None);
    };
    let name = object_name(recorded.name.as_deref(), &req.name, token);
    by_names(client, &s, group, &name).await
}

async fn find(client: &Client, req: &Read<ScalingPolicy>) -> Lookup<Found> {
    let s = Subject::of::<ScalingPolicy>(&req.name);
    lookup::find(
        req,
        |arn| by_arn(client, &s, arn),
        |token| by_token(client, req, token),
    )
    .await
}

fn outputs(p: &Found) -> ScalingPolicyOutputs {
    ScalingPolicyOutputs {
        arn: ScalingPolicyArn(p.policy_arn().unwrap_or_default().to_owned()),
        name: p.policy_name().unwrap_or_default().to_owned(),
        alarm_names: p
            .alarms()
            .iter()
            .filter_map(|a| a.alarm_name().map(str::to_owned))
            .collect(),
    }
}

/// What a read reports of `p`, found for `req`: shared by `read` and
/// `read_many` so both answer alike.
fn observed_as(
    req: &Read<ScalingPolicy>,
    p: &Found,
) -> kit::Found<ScalingPolicy, ScalingPolicyOutputs> {
    let recorded = req.recorded.decode_or_default();
    let t = p.target_tracking_configuration();
    let metric = t.and_then(|t| t.predefined_metric_specification());
    let group = p.auto_scaling_group_name().unwrap_or_default();
    let observed = ScalingPolicy {
        auto_scaling_group_name: match recorded.auto_scaling_group_name.as_value() {
            Some(g) if g == group => recorded.auto_scaling_group_name.clone(),
            _ => group.to_owned().into(),
        },
        name: recorded
            .name
            .as_ref()
            .map(|_| p.policy_name().unwrap_or_default().to_owned()),
        predefined_metric: PredefinedMetric::of(metric.and_then(|m| m.predefined_metric_type())),
        resource_label: metric.and_then(|m| m.resource_label()).map(str::to_owned),
        target_value: t.and_then(|t| t.target_value()).unwrap_or_default(),
        disable_scale_in: t.and_then(|t| t.disable_scale_in()).unwrap_or(false),
        estimated_instance_warmup: p
            .estimated_instance_warmup()
            .and_then(|w| u32::try_from(w).ok()),
    };
    lookup::observed(p.policy_arn().unwrap_or_default(), observed, outputs(p))
}

/// Makes or overwrites the policy `name` of `group` as `v` declares it.
async fn put(
    client: &Client,
    s: &Subject<'_>,
    group: &str,
    name: &str,
    v: &ScalingPolicy,
) -> Result<(), AwsError> {
    if !v.target_value.is_finite() || v.target_value <= 0.0 {
        return Err(s.invalid(format!(
            "`target_value` must be a positive number, not {}",
            v.target_value
        )));
    }
    if v.predefined_metric == PredefinedMetric::AlbRequestCountPerTarget
        && v.resource_label.is_none()
    {
        return Err(
            s.invalid("`resource_label` must name the target group for ALBRequestCountPerTarget")
        );
    }
    let metric = PredefinedMetricSpecification::builder()
        .predefined_metric_type(v.predefined_metric.sdk())
        .set_resource_label(v.resource_label.clone())
        .build();
    let tracking = TargetTrackingConfiguration::builder()
        .predefined_metric_specification(metric)
        .target_value(v.target_value)
        .disable_scale_in(v.disable_scale_in)
        .build();
    client
        .put_scaling_policy()
        .auto_scaling_group_name(group)
        .policy_name(name)
        .policy_type("TargetTrackingScaling")
        .target_tracking_configuration(tracking)
        .set_estimated_instance_warmup(
            v.estimated_instance_warmup
                .map(|w| i32::try_from(w).unwrap_or(i32::MAX)),
        )
        .send()
        .await
        .map_err(|e| s.error("PutScalingPolicy", e))?;
    Ok(())
}

/// Serves [`ScalingPolicy`].
pub(crate) struct ScalingPolicyHandler;

#[async_trait]
impl ResourceHandler for ScalingPolicyHandler {
    type Resource = ScalingPolicy;
    type Context = Aws;

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<ScalingPolicy>) -> CreateResult<ScalingPolicy> {
        let s = Subject::of::<ScalingPolicy>(&req.name);
        let v = &req.inputs;
        let group = known(&s, &v.auto_scaling_group_name, "auto_scaling_group_name")?;
        if group.is_empty() {
            return Err(s.invalid("`auto_scaling_group_name` must be set").into());
        }
        let name = object_name(v.name.as_deref(), &req.name, &req.token);
        let client = p.autoscaling_client().await;
        put(client, &s, group, &name, v)
            .await
            .map_err(provider_error)?;
        let found = by_names(client, &s, group, &name)
            .await?
            .ok_or_else(|| s.incomplete("DescribePolicies", "the policy just put"))?;
        Ok(Made {
            id: found.policy_arn().unwrap_or_default().to_owned(),
            outputs: outputs(&found),
        })
    }

    async fn read(&self, p: &Aws, req: Read<ScalingPolicy>) -> ReadResult<ScalingPolicy> {
        let client = p.autoscaling_client().await;
        let found = find(client, &req).await?;
        Ok(found.map(|found| observed_as(&req, &found)))
    }

    /// One DescribePolicies per group for every policy of that group read
    /// by ARN; a read by token alone, as `read`.
    fn reads_in_batches(&self) -> bool {
        true
    }

    async fn read_many(
        &self,
        p: &Aws,
        reqs: Vec<Read<ScalingPolicy>>,
    ) -> Result<Vec<Option<kit::Found<ScalingPolicy, ScalingPolicyOutputs>>>, ProviderError> {
        let client = p.autoscaling_client().await;
        // A failed listing names the batch's first resource.
        let s = Subject::of::<ScalingPolicy>(reqs.first().map_or("", |r| r.name.as_str()));
        let found = lookup::find_many(
            &reqs,
            |arns| async move {
                let mut groups: std::collections::BTreeMap<&str, Vec<String>> =
                    std::collections::BTreeMap::new();
                for arn in &arns {
                    if let Some((group, name)) = names_in(arn) {
                        groups.entry(group).or_default().push(name.to_owned());
                    }
                }
                let mut found = Vec::new();
                for (group, names) in groups {
                    found.extend(in_group(client, &s, group, names).await?);
                }
                Ok(found)
            },
            Found::policy_arn,
            |req| find(client, req),
        )
        .await?;
        Ok(reqs
            .iter()
            .zip(found)
            .map(|(req, found)| found.map(|f| observed_as(req, &f)))
            .collect())
    }

    async fn update(&self, p: &Aws, req: Update<ScalingPolicy>) -> UpdateResult<ScalingPolicy> {
        let s = Subject::of::<ScalingPolicy>(&req.name);
        let client = p.autoscaling_client().await;
        let (group, name) = names_in(&req.id)
            .ok_or_else(|| s.invalid(format!("{:?} is not a scaling policy ARN", req.id)))?;
        by_names(client, &s, group, name)
            .await?
            .ok_or_else(|| s.gone(&req.id))?;
        put(client, &s, group, name, &req.inputs)
            .await
            .map_err(provider_error)?;
        let found = by_names(client, &s, group, name)
            .await?
            .ok_or_else(|| s.gone(&req.id))?;
        Ok(outputs(&found))
    }

    async fn delete(&self, p: &Aws, req: Delete<ScalingPolicy>) -> Result<(), ProviderError> {
        let s = Subject::of::<ScalingPolicy>(&req.name);
        let client = p.autoscaling_client().await;
        let Some((group, name)) = names_in(&req.id) else {
            return Err(s
                .invalid(format!("{:?} is not a scaling policy ARN", req.id))
                .into());
        };
        if by_names(client, &s, group, name).await?.is_none() {
            return Ok(());
        }
        match client
            .delete_policy()
            .auto_scaling_group_name(group)
            .policy_name(name)
            .send()
            .await
            .map_err(|e| s.error("DeletePolicy", e))
        {
            Ok(_) => Ok(()),
            Err(e) if is_missing(&e) => Ok(()),
            Err(e) => Err(provider_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_and_policy_names_are_in_the_arn() {
        let arn = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:c322761b:autoScalingGroupName/web-1:policyName/cpu-2";
        assert_eq!(names_in(arn), Some(("web-1", "cpu-2")));
        assert_eq!(names_in("arn:aws:sns:us-east-1:1:topic"), None);
    }

    #[test]
    fn metrics_serialize_as_aws_names_them() {
        assert_eq!(
            serde_json::to_string(&PredefinedMetric::AsgAverageCpuUtilization).unwrap(),
            "\"ASGAverageCPUUtilization\""
        );
        for m in [
            PredefinedMetric::AsgAverageCpuUtilization,
            PredefinedMetric::AsgAverageNetworkIn,
            PredefinedMetric::AsgAverageNetworkOut,
            PredefinedMetric::AlbRequestCountPerTarget,
        ] {
            assert_eq!(PredefinedMetric::of(Some(&m.sdk())), m);
        }
    }
}
