//! [`MetricAlarm`] (`aws:cloudwatch:MetricAlarm`): an alarm on one
//! CloudWatch metric, with the actions it takes.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{Dimension, Statistic as SdkStatistic, Tag};
use aws_sdk_cloudwatch::Client;
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
use super::super::tags::{self, client_token, TOKEN_TAG};
use super::super::{lookup, one_call, Aws};

ids! {
    /// The ARN of a [`MetricAlarm`].
    MetricAlarmArn;
}

/// The statistic of a [`MetricAlarm`]'s metric over each period.
#[derive(Declare, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Statistic {
    /// The mean (the default).
    #[default]
    Average,
    /// The sum.
    Sum,
    /// The lowest value.
    Minimum,
    /// The highest value.
    Maximum,
    /// The number of data points.
    SampleCount,
}

impl Statistic {
    fn sdk(self) -> SdkStatistic {
        match self {
            Statistic::Average => SdkStatistic::Average,
            Statistic::Sum => SdkStatistic::Sum,
            Statistic::Minimum => SdkStatistic::Minimum,
            Statistic::Maximum => SdkStatistic::Maximum,
            Statistic::SampleCount => SdkStatistic::SampleCount,
        }
    }

    fn of(s: Option<&SdkStatistic>) -> Self {
        match s {
            Some(SdkStatistic::Sum) => Statistic::Sum,
            Some(SdkStatistic::Minimum) => Statistic::Minimum,
            Some(SdkStatistic::Maximum) => Statistic::Maximum,
            Some(SdkStatistic::SampleCount) => Statistic::SampleCount,
            _ => Statistic::Average,
        }
    }
}

/// How a [`MetricAlarm`] compares the statistic with its threshold.
#[derive(Declare, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ComparisonOperator {
    /// Statistic > threshold (the default).
    #[default]
    GreaterThanThreshold,
    /// Statistic >= threshold.
    GreaterThanOrEqualToThreshold,
    /// Statistic < threshold.
    LessThanThreshold,
    /// Statistic <= threshold.
    LessThanOrEqualToThreshold,
}

impl ComparisonOperator {
    fn sdk(self) -> aws_sdk_cloudwatch::types::ComparisonOperator {
        use aws_sdk_cloudwatch::types::ComparisonOperator as C;
        match self {
            ComparisonOperator::GreaterThanThreshold => C::GreaterThanThreshold,
            ComparisonOperator::GreaterThanOrEqualToThreshold => C::GreaterThanOrEqualToThreshold,
            ComparisonOperator::LessThanThreshold => C::LessThanThreshold,
            ComparisonOperator::LessThanOrEqualToThreshold => C::LessThanOrEqualToThreshold,
        }
    }

    fn of(c: Option<&aws_sdk_cloudwatch::types::ComparisonOperator>) -> Self {
        use aws_sdk_cloudwatch::types::ComparisonOperator as C;
        match c {
            Some(C::GreaterThanOrEqualToThreshold) => {
                ComparisonOperator::GreaterThanOrEqualToThreshold
            }
            Some(C::LessThanThreshold) => ComparisonOperator::LessThanThreshold,
            Some(C::LessThanOrEqualToThreshold) => ComparisonOperator::LessThanOrEqualToThreshold,
            _ => ComparisonOperator::GreaterThanThreshold,
        }
    }
}

/// What a [`MetricAlarm`] makes of a period without data.
#[derive(Declare, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum TreatMissingData {
    /// Not counted either way; the alarm keeps its state (AWS's default).
    #[default]
    Missing,
    /// The alarm keeps its state.
    Ignore,
    /// A breach.
    Breaching,
    /// Within the threshold.
    NotBreaching,
}

impl TreatMissingData {
    fn as_str(self) -> &'static str {
        match self {
            TreatMissingData::Missing => "missing",
            TreatMissingData::Ignore => "ignore",
            TreatMissingData::Breaching => "breaching",
            TreatMissingData::NotBreaching => "notBreaching",
        }
    }

    fn of(s: Option<&str>) -> Self {
        match s {
            Some("ignore") => TreatMissingData::Ignore,
            Some("breaching") => TreatMissingData::Breaching,
            Some("notBreaching") => TreatMissingData::NotBreaching,
            _ => TreatMissingData::Missing,
        }
    }
}

/// A CloudWatch alarm on one metric.
///
/// - `name`: its name, unique in the region; `None` (the default) derives
///   one from the resource's name and the create's token. Changing it
///   replaces the alarm.
/// - `namespace`, `metric_name`, `dimensions` (name → value, such as
///   `AutoScalingGroupName` → `asg.out().name`): the metric.
/// - `statistic`, `period` (seconds, 0: 60), `evaluation_periods` (0: 1),
///   `threshold`, `comparison_operator`: when it is in alarm.
/// - `alarm_actions`: ARNs notified or run when it goes into alarm (a
///   [`ScalingPolicy`](super::super::autoscaling::ScalingPolicy)'s
///   `arn`, an SNS topic).
/// - `treat_missing_data`: what a period without data counts as.
/// - `tags`: the user's tags.
///
/// Everything but the name is set in place (PutMetricAlarm overwrites the
/// alarm; tags through TagResource / UntagResource).
///
/// # Drift
/// `read` reports every field as found.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:cloudwatch:MetricAlarm", outputs = MetricAlarmOutputs)]
pub struct MetricAlarm {
    /// Its name; `None` derives one. Changing it replaces the alarm.
    #[resource(force_new)]
    pub name: Option<String>,
    /// The metric's namespace (`AWS/EC2`).
    pub namespace: String,
    /// The metric's name (`CPUUtilization`).
    pub metric_name: String,
    /// The metric's dimensions, name → value.
    pub dimensions: BTreeMap<String, Input<String>>,
    /// The statistic over each period.
    pub statistic: Statistic,
    /// Seconds per period (0: 60).
    pub period: u32,
    /// Periods compared (0: 1).
    pub evaluation_periods: u32,
    /// The threshold.
    pub threshold: f64,
    /// How the statistic is compared with the threshold.
    pub comparison_operator: ComparisonOperator,
    /// ARNs acted on when it goes into alarm.
    pub alarm_actions: Vec<Input<String>>,
    /// What a period without data counts as.
    pub treat_missing_data: TreatMissingData,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// What a [`MetricAlarm`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct MetricAlarmOutputs {
    /// Its name (and id).
    pub name: String,
    /// Its ARN.
    pub arn: MetricAlarmArn,
}

type Found = aws_sdk_cloudwatch::types::MetricAlarm;

/// At most this many names in one DescribeAlarms.
const NAMES_PER_CALL: usize = 100;

fn or_default(n: u32, default: u32) -> i32 {
    i32::try_from(if n == 0 { default } else { n }).unwrap_or(i32::MAX)
}

/// The alarms CloudWatch knows among `names` (an unknown name is simply
/// not answered), `NAMES_PER_CALL` at a time.
async fn by_names(
    client: &Client,
    s: &Subject<'_>,
    names: &[String],
) -> Result<Vec<Found>, AwsError> {
    lookup::in_chunks(names, NAMES_PER_CALL, |chunk| async move {
        let out = client
            .describe_alarms()
            .set_alarm_names(Some(chunk))
            .max_records(100)
            .send()
            .await
            .map_err(|e| s.error("DescribeAlarms", e))?;
        Ok(out.metric_alarms().to_vec())
    })
    .await
}

async fn by_name(client: &Client, s: &Subject<'_>, name: &str) -> Lookup<Found> {
    Ok(by_names(client, s, &[name.to_owned()])
        .await?
        .into_iter()
        .find(|a| a.alarm_name() == Some(name)))
}

/// All of an alarm's tags, by key.
async fn tags_of(
    client: &Client,
    s: &Subject<'_>,
    arn: &str,
) -> Result<BTreeMap<String, String>, AwsError> {
    let out = client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| s.error("ListTagsForResource", e))?;
    Ok(tags::by_key(
        out.tags().iter().map(|t| (t.key(), t.value())),
    ))
}

/// The alarm a create with `token` made under `name`, if any; an error
/// when an alarm of that name exists that it did not make.
async fn by_token(
    client: &Client,
    s: &Subject<'_>,
    name: &str,
    token: &str,
) -> Result<Option<(Found, BTreeMap<String, String>)>, AwsError> {
    let Some(alarm) = by_name(client, s, name).await? else {
        return Ok(None);
    };
    let tags = tags_of(client, s, arn_of(&alarm)).await?;
    let made_by = tags.get(TOKEN_TAG) == Some(&client_token(token));
    lookup::adopted(s, "an alarm", name, (alarm, tags), made_by)
}

fn arn_of(a: &Found) -> &str {
    a.alarm_arn().unwrap_or_default()
}

fn outputs(a: &Found) -> MetricAlarmOutputs {
    MetricAlarmOutputs {
        name: a.alarm_name().unwrap_or_default().to_owned(),
        arn: MetricAlarmArn(arn_of(a).to_owned()),
    }
}

/// What a read reports of `alarm` (with its `tags`), found for `req`:
/// shared by `read` and `read_many` so both answer alike.
fn observed_as(
    req: &Read<MetricAlarm>,
    a: &Found,
    all_tags: &BTreeMap<String, String>,
) -> kit::Found<MetricAlarm, MetricAlarmOutputs> {
    let recorded = req.recorded.decode_or_default();
    let dimensions = a
        .dimensions()
        .iter()
        .map(|d| {
            let (name, value) = (d.name().unwrap_or_default(), d.value().unwrap_or_default());
            // A recorded reference that resolves to the value stays as it is.
            let input = match recorded.dimensions.get(name) {
                Some(r) if r.as_value().map(String::as_str) == Some(value) => r.clone(),
                _ => value.to_owned().into(),
            };
            (name.to_owned(), input)
        })
        .collect();
    let found_actions = a.alarm_actions();
    let declared: Option<Vec<&str>> = recorded
        .alarm_actions
        .iter()
        .map(|i| i.as_value().map(String::as_str))
        .collect();
    let alarm_actions = match declared {
        Some(d) if d == found_actions.iter().map(String::as_str).collect::<Vec<_>>() => {
            recorded.alarm_actions.clone()
        }
        _ => found_actions.iter().map(|a| a.clone().into()).collect(),
    };
    let period = a.period().and_then(|p| u32::try_from(p).ok()).unwrap_or(0);
    let evaluation_periods = a
        .evaluation_periods()
        .and_then(|p| u32::try_from(p).ok())
        .unwrap_or(0);
    let observed = MetricAlarm {
        name: recorded
            .name
            .as_ref()
            .map(|_| a.alarm_name().unwrap_or_default().to_owned()),
        namespace: a.namespace().unwrap_or_default().to_owned(),
        metric_name: a.metric_name().unwrap_or_default().to_owned(),
        dimensions,
        statistic: Statistic::of(a.statistic()),
        // A recorded 0 means the default.
        period: if recorded.period == 0 && period == 60 {
            0
        } else {
            period
        },
        evaluation_periods: if recorded.evaluation_periods == 0 && evaluation_periods == 1 {
            0
        } else {
            evaluation_periods
        },
        threshold: a.threshold().unwrap_or_default(),
        comparison_operator: ComparisonOperator::of(a.comparison_operator()),
        alarm_actions,
        treat_missing_data: TreatMissingData::of(a.treat_missing_data()),
        tags: all_tags
            .iter()
            .filter(|(k, _)| tags::is_users(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    lookup::observed(a.alarm_name().unwrap_or_default(), observed, outputs(a))
}

/// Makes or overwrites alarm `name` as `v` declares it, with `with_tags`
/// (a create's; an update sets tags apart).
async fn put(
    client: &Client,
    s: &Subject<'_>,
    name: &str,
    v: &MetricAlarm,
    with_tags: Option<Vec<Tag>>,
) -> Result<(), AwsError> {
    if v.namespace.is_empty() || v.metric_name.is_empty() {
        return Err(s.invalid("`namespace` and `metric_name` must be set"));
    }
    if !v.threshold.is_finite() {
        return Err(s.invalid("`threshold` must be a number"));
    }
    let dimensions = v
        .dimensions
        .iter()
        .map(|(k, val)| {
            Ok(Dimension::builder()
                .name(k)
                .value(known(s, val, "dimensions")?)
                .build())
        })
        .collect::<Result<Vec<_>, AwsError>>()?;
    let actions = v
        .alarm_actions
        .iter()
        .map(|a| known(s, a, "alarm_actions").cloned())
        .collect::<Result<Vec<_>, AwsError>>()?;
    tags::check_user_tags(s, &v.tags)?;
    client
        .put_metric_alarm()
        .alarm_name(name)
        .namespace(&v.namespace)
        .metric_name(&v.metric_name)
        .set_dimensions(Some(dimensions))
        .statistic(v.statistic.sdk())
        .period(or_default(v.period, 60))
        .evaluation_periods(or_default(v.evaluation_periods, 1))
        .threshold(v.threshold)
        .comparison_operator(v.comparison_operator.sdk())
        .set_alarm_actions(Some(actions))
        .treat_missing_data(v.treat_missing_data.as_str())
        .set_tags(with_tags)
        .send()
        .await
        .map_err(|e| s.error("PutMetricAlarm", e))?;
    Ok(())
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

/// The alarm a read asks about, with its tags.
async fn find(
    client: &Client,
    req: &Read<MetricAlarm>,
) -> Result<Option<(Found, BTreeMap<String, String>)>, AwsError> {
    let s = Subject::of::<MetricAlarm>(&req.name);
    let recorded = req.recorded.decode_or_default();
    lookup::find(
        req,
        |name| async move {
            match by_name(client, &s, name).await? {
                Some(a) => {
                    let tags = tags_of(client, &s, arn_of(&a)).await?;
                    Ok(Some((a, tags)))
                }
                None => Ok(None),
            }
        },
        |token| {
            let name = object_name(recorded.name.as_deref(), &req.name, token);
            async move { by_token(client, &s, &name, token).await }
        },
    )
    .await
}

/// Serves [`MetricAlarm`].
pub(crate) struct MetricAlarmHandler;

#[async_trait]
impl ResourceHandler for MetricAlarmHandler {
    type Resource = MetricAlarm;
    type Context = Aws;

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<MetricAlarm>) -> CreateResult<MetricAlarm> {
        let s = Subject::of::<MetricAlarm>(&req.name);
        let v = &req.inputs;
        let name = object_name(v.name.as_deref(), &req.name, &req.token);
        let client = p.cloudwatch_client().await;
        if by_token(client, &s, &name, &req.token).await?.is_none() {
            let with_tags = tags::ours(&req.stack, &req.name, &req.token)
                .into_iter()
                .map(|(k, val)| tag(k, &val))
                .chain(v.tags.iter().map(|(k, val)| tag(k, val)))
                .collect();
            put(client, &s, &name, v, Some(with_tags)).await?;
        }
        let alarm = by_name(client, &s, &name)
            .await?
            .ok_or_else(|| s.incomplete("DescribeAlarms", "the alarm just put"))?;
        Ok(Made {
            id: name,
            outputs: outputs(&alarm),
        })
    }

    async fn read(&self, p: &Aws, req: Read<MetricAlarm>) -> ReadResult<MetricAlarm> {
        let client = p.cloudwatch_client().await;
        let found = find(client, &req).await?;
        Ok(found.map(|(a, tags)| observed_as(&req, &a, &tags)))
    }

    /// One DescribeAlarms for up to 100 alarms read by name (a name
    /// CloudWatch no longer knows is an absent alarm); each alarm's tags
    /// are still one ListTagsForResource (CloudWatch has no list form). A
    /// read by token alone, as `read`.
    fn reads_in_batches(&self) -> bool {
        true
    }

    async fn read_many(
        &self,
        p: &Aws,
        reqs: Vec<Read<MetricAlarm>>,
    ) -> Result<Vec<Option<kit::Found<MetricAlarm, MetricAlarmOutputs>>>, ProviderError> {
        let client = p.cloudwatch_client().await;
        // A failed listing names the batch's first resource.
        let s = Subject::of::<MetricAlarm>(reqs.first().map_or("", |r| r.name.as_str()));
        let names: Vec<String> = reqs.iter().filter_map(|r| r.id.clone()).collect();
        let listed: HashMap<String, Found> = if names.is_empty() {
            HashMap::new()
        } else {
            by_names(client, &s, &names)
                .await?
                .into_iter()
                .map(|a| (a.alarm_name().unwrap_or_default().to_owned(), a))
                .collect()
        };
        let mut observed = Vec::with_capacity(reqs.len());
        for req in &reqs {
            let s = Subject::of::<MetricAlarm>(&req.name);
            let found = match &req.id {
                Some(name) => match listed.get(name) {
                    Some(a) => Some((a.clone(), tags_of(client, &s, arn_of(a)).await?)),
                    None => None,
                },
                None => find(client, req).await?,
            };
            observed.push(found.map(|(a, tags)| observed_as(req, &a, &tags)));
        }
        Ok(observed)
    }

    async fn update(&self, p: &Aws, req: Update<MetricAlarm>) -> UpdateResult<MetricAlarm> {
        let s = Subject::of::<MetricAlarm>(&req.name);
        let v = &req.inputs;
        let client = p.cloudwatch_client().await;
        let name = req.id.as_str();
        let alarm = by_name(client, &s, name)
            .await?
            .ok_or_else(|| s.gone(name))?;
        put(client, &s, name, v, None).await?;
        let arn = arn_of(&alarm);
        let current: BTreeMap<String, String> = tags_of(client, &s, arn)
            .await?
            .into_iter()
            .filter(|(k, _)| tags::is_users(k))
            .collect();
        tags::tag_resource(
            &s,
            (&current, &v.tags),
            |k, v| Ok(tag(k, v)),
            |set| {
                client
                    .tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(set))
                    .send()
            },
            |keys| {
                client
                    .untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(keys))
                    .send()
            },
        )
        .await?;
        Ok(outputs(&alarm))
    }

    async fn delete(&self, p: &Aws, req: Delete<MetricAlarm>) -> Result<(), ProviderError> {
        let s = Subject::of::<MetricAlarm>(&req.name);
        let client = p.cloudwatch_client().await;
        // Only an alarm that exists: AWS answers a missing one with an error.
        if by_name(client, &s, &req.id).await?.is_none() {
            return Ok(());
        }
        match client
            .delete_alarms()
            .alarm_names(&req.id)
            .send()
            .await
            .map_err(|e| s.error("DeleteAlarms", e))
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceNotFound") => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_name_replaces_the_alarm() {
        assert_eq!(MetricAlarm::force_new_fields(), &["name"]);
    }

    #[test]
    fn enums_read_back_as_aws_writes_them() {
        for t in [
            TreatMissingData::Missing,
            TreatMissingData::Ignore,
            TreatMissingData::Breaching,
            TreatMissingData::NotBreaching,
        ] {
            assert_eq!(TreatMissingData::of(Some(t.as_str())), t);
        }
        for c in [
            ComparisonOperator::GreaterThanThreshold,
            ComparisonOperator::GreaterThanOrEqualToThreshold,
            ComparisonOperator::LessThanThreshold,
            ComparisonOperator::LessThanOrEqualToThreshold,
        ] {
            assert_eq!(ComparisonOperator::of(Some(&c.sdk())), c);
        }
        for st in [
            Statistic::Average,
            Statistic::Sum,
            Statistic::Minimum,
            Statistic::Maximum,
            Statistic::SampleCount,
        ] {
            assert_eq!(Statistic::of(Some(&st.sdk())), st);
        }
    }
}
