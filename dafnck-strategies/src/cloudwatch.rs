//! Amazon CloudWatch for analysis gates, beside Prometheus: [`CloudWatch`]
//! is a [`MetricSource`] answering a [`MetricQuery`] with GetMetricData,
//! and [`AlarmGate`] judges by an alarm's state. Behind the `cloudwatch`
//! feature.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_cloudwatch::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricStat, ScanBy, StateValue, StatusCode,
};
use aws_sdk_cloudwatch::Client;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::analysis::{Analysis, MetricSource, Verdict};
use crate::policy::NoData;

/// One CloudWatch metric, summarised by one statistic per period: what a
/// [`MetricGate`](crate::MetricGate) over [`CloudWatch`] asks for. It
/// travels as the gate's query text (JSON), so `MetricGate::new` takes it
/// as it is.
///
/// The answer is the statistic of the newest period with data within the
/// `lookback` before now. CloudWatch keeps only periods with data points:
/// no period with data in the lookback is "no data".
///
/// ```
/// use std::time::Duration;
/// use dafnck_strategies::cloudwatch::MetricQuery;
/// let errors = MetricQuery::new("AWS/Lambda", "Errors", "Sum")
///     .dimension("FunctionName", "api")
///     .dimension("Resource", "api:live")
///     .period(Duration::from_secs(60))
///     .lookback(Duration::from_secs(300));
/// let text = String::from(errors.clone());
/// assert_eq!(MetricQuery::parse(&text).unwrap(), errors);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricQuery {
    /// The metric's namespace (`AWS/Lambda`, or a custom one).
    pub namespace: String,
    /// The metric's name (`Errors`).
    pub metric_name: String,
    /// Its dimensions, all of them: CloudWatch matches a metric by its
    /// exact set of dimensions.
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// The statistic: `Sum`, `Average`, `Minimum`, `Maximum`,
    /// `SampleCount`, or a percentile such as `p99`.
    pub stat: String,
    /// The period in seconds (a multiple of 60, or 1, 5, 10, 30 for
    /// high-resolution metrics).
    #[serde(default = "default_period")]
    pub period_secs: u32,
    /// How far back to look for the newest period with data, in seconds.
    #[serde(default = "default_lookback")]
    pub lookback_secs: u32,
}

fn default_period() -> u32 {
    60
}

fn default_lookback() -> u32 {
    300
}

impl MetricQuery {
    /// The statistic `stat` of the metric `metric_name` in `namespace`, per
    /// minute, looking back five minutes.
    pub fn new(
        namespace: impl Into<String>,
        metric_name: impl Into<String>,
        stat: impl Into<String>,
    ) -> Self {
        MetricQuery {
            namespace: namespace.into(),
            metric_name: metric_name.into(),
            dimensions: BTreeMap::new(),
            stat: stat.into(),
            period_secs: default_period(),
            lookback_secs: default_lookback(),
        }
    }

    /// Adds the dimension `name` = `value`.
    pub fn dimension(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.dimensions.insert(name.into(), value.into());
        self
    }

    /// The period each data point summarises (whole seconds).
    pub fn period(mut self, period: Duration) -> Self {
        self.period_secs = u32::try_from(period.as_secs()).unwrap_or(u32::MAX);
        self
    }

    /// How far back to look for data (whole seconds).
    pub fn lookback(mut self, lookback: Duration) -> Self {
        self.lookback_secs = u32::try_from(lookback.as_secs()).unwrap_or(u32::MAX);
        self
    }

    /// A query from its text (what `String::from(query)` gives).
    ///
    /// # Errors
    /// The text is not a query, or a field is empty or zero; the message
    /// says which.
    pub fn parse(text: &str) -> Result<MetricQuery, String> {
        let q: MetricQuery = serde_json::from_str(text).map_err(|e| {
            format!(
                "`{text}` is not a CloudWatch metric query ({e}); build one with MetricQuery::new"
            )
        })?;
        let mut problems = Vec::new();
        for (field, value) in [
            ("namespace", &q.namespace),
            ("metric_name", &q.metric_name),
            ("stat", &q.stat),
        ] {
            if value.is_empty() {
                problems.push(format!("`{field}` is empty"));
            }
        }
        if q.period_secs == 0 {
            problems.push("`period_secs` is 0".into());
        }
        if q.lookback_secs < q.period_secs {
            problems.push(format!(
                "`lookback_secs` {} is shorter than a period ({} s)",
                q.lookback_secs, q.period_secs
            ));
        }
        if problems.is_empty() {
            Ok(q)
        } else {
            Err(format!(
                "CloudWatch metric query `{text}`: {}",
                problems.join("; ")
            ))
        }
    }

    fn data_query(&self) -> MetricDataQuery {
        let dimensions = self
            .dimensions
            .iter()
            .map(|(k, v)| Dimension::builder().name(k).value(v).build())
            .collect();
        let metric = Metric::builder()
            .namespace(&self.namespace)
            .metric_name(&self.metric_name)
            .set_dimensions(Some(dimensions))
            .build();
        let stat = MetricStat::builder()
            .metric(metric)
            .period(i32::try_from(self.period_secs).unwrap_or(i32::MAX))
            .stat(&self.stat)
            .build();
        MetricDataQuery::builder()
            .id("gate")
            .metric_stat(stat)
            .return_data(true)
            .build()
    }
}

impl From<MetricQuery> for String {
    fn from(q: MetricQuery) -> String {
        q.to_string()
    }
}

/// The query's text: compact JSON.
impl fmt::Display for MetricQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let json = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&json)
    }
}

/// Amazon CloudWatch, asked [`MetricQuery`]s with GetMetricData.
///
/// A query comes down to one number: the statistic of the newest period
/// with data in the query's lookback. No period with data is "no data"
/// (`Ok(None)`), which a [`MetricGate`](crate::MetricGate) turns into the
/// verdict its user chose ([`NoData`], inconclusive unless set) — never a
/// pass by itself. A query CloudWatch answers only in part (throttled
/// within the call) or with an error is an error.
///
/// # Configuration
/// [`CloudWatch::from_env`] loads region, credentials and endpoint from
/// the SDK's standard chain on first use (so `AWS_ENDPOINT_URL` points it
/// at moto); [`CloudWatch::with_config`] takes an [`SdkConfig`]. Clones
/// share one client. The SDK's standard retry policy retries throttling.
///
/// # Example
/// A gate on the errors of the version a canary moves onto an alias:
/// ```
/// use dafnck_strategies::cloudwatch::{CloudWatch, MetricQuery};
/// use dafnck_strategies::{MetricGate, NoData, Threshold};
/// let errors = MetricQuery::new("AWS/Lambda", "Errors", "Sum")
///     .dimension("FunctionName", "api")
///     .dimension("Resource", "api:live")
///     .dimension("ExecutedVersion", "4");
/// let gate = MetricGate::new("errors", CloudWatch::from_env(), errors, Threshold::AtMost(0.0))
///     .on_no_data(NoData::Inconclusive);
/// # drop(gate);
/// ```
#[derive(Clone, Default)]
pub struct CloudWatch {
    client: Arc<OnceCell<Client>>,
}

impl CloudWatch {
    /// CloudWatch configured from the SDK's standard chain, loaded on the
    /// first query.
    pub fn from_env() -> Self {
        CloudWatch::default()
    }

    /// CloudWatch with the SDK configuration `config`.
    pub fn with_config(config: &SdkConfig) -> Self {
        CloudWatch {
            client: Arc::new(OnceCell::new_with(Some(Client::new(config)))),
        }
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                Client::new(&aws_config::defaults(BehaviorVersion::latest()).load().await)
            })
            .await
    }

    /// The newest value of `query`, or `None` when no period in its
    /// lookback has data.
    ///
    /// # Errors
    /// CloudWatch could not be asked, refused the query, or answered it in
    /// part.
    pub async fn value(&self, query: &MetricQuery) -> Result<Option<f64>, String> {
        // The window ends at the next whole second, so a data point
        // stamped within this second is inside it, and starts `lookback`
        // before: a period as long as the lookback is one data point.
        let since_epoch = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let end = SystemTime::UNIX_EPOCH + Duration::from_secs(since_epoch.as_secs() + 1);
        let start = end
            .checked_sub(Duration::from_secs(u64::from(query.lookback_secs)))
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let client = self.client().await;
        let mut next: Option<String> = None;
        loop {
            let out = client
                .get_metric_data()
                .metric_data_queries(query.data_query())
                .start_time(DateTime::from(start))
                .end_time(DateTime::from(end))
                .scan_by(ScanBy::TimestampDescending)
                .set_next_token(next.clone())
                .send()
                .await
                .map_err(|e| failure("GetMetricData", &e))?;
            for result in out.metric_data_results() {
                match result.status_code() {
                    Some(StatusCode::InternalError) => {
                        let messages: Vec<String> = result
                            .messages()
                            .iter()
                            .filter_map(|m| m.value().map(str::to_owned))
                            .collect();
                        return Err(format!(
                            "CloudWatch GetMetricData could not compute the query: {}",
                            messages.join("; ")
                        ));
                    }
                    Some(StatusCode::Forbidden) => {
                        return Err(
                            "CloudWatch GetMetricData: the query's metric is forbidden to these credentials (cloudwatch:GetMetricData)".into(),
                        )
                    }
                    _ => {}
                }
                // Newest first: the first value is the answer.
                if let Some(v) = result.values().first() {
                    return Ok(Some(*v));
                }
            }
            next = out.next_token().map(str::to_owned);
            if next.is_none() {
                return Ok(None);
            }
        }
    }
}

#[async_trait]
impl MetricSource for CloudWatch {
    async fn query(&self, query: &str) -> Result<Option<f64>, String> {
        let q = MetricQuery::parse(query)?;
        self.value(&q).await
    }
}

/// A gate on a CloudWatch alarm's state: `OK` passes, `ALARM` fails (the
/// rollout rolls back), `INSUFFICIENT_DATA` is the no-data verdict its user
/// chose (inconclusive unless set). A missing alarm or a failed call is
/// the error verdict chosen (inconclusive unless set).
///
/// The alarm is evaluated by CloudWatch, on its own schedule: the gate
/// only reads its state (DescribeAlarms).
///
/// ```
/// use dafnck_strategies::cloudwatch::{AlarmGate, CloudWatch};
/// use dafnck_strategies::NoData;
/// let gate = AlarmGate::new(CloudWatch::from_env(), "api-errors").on_no_data(NoData::Pass);
/// # drop(gate);
/// ```
pub struct AlarmGate {
    name: String,
    cloudwatch: CloudWatch,
    alarm: String,
    on_no_data: NoData,
    on_error: NoData,
}

impl AlarmGate {
    /// A gate on the alarm named `alarm`, read through `cloudwatch`.
    pub fn new(cloudwatch: CloudWatch, alarm: impl Into<String>) -> Self {
        let alarm = alarm.into();
        AlarmGate {
            name: format!("alarm {alarm}"),
            cloudwatch,
            alarm,
            on_no_data: NoData::Inconclusive,
            on_error: NoData::Inconclusive,
        }
    }

    /// What `INSUFFICIENT_DATA` means.
    pub fn on_no_data(mut self, choice: NoData) -> Self {
        self.on_no_data = choice;
        self
    }

    /// What a missing alarm or a failed call means.
    pub fn on_error(mut self, choice: NoData) -> Self {
        self.on_error = choice;
        self
    }

    async fn state(&self) -> Result<Option<(StateValue, String)>, String> {
        let out = self
            .cloudwatch
            .client()
            .await
            .describe_alarms()
            .alarm_names(&self.alarm)
            .send()
            .await
            .map_err(|e| failure("DescribeAlarms", &e))?;
        Ok(out
            .metric_alarms()
            .iter()
            .find(|a| a.alarm_name() == Some(self.alarm.as_str()))
            .map(|a| {
                (
                    a.state_value()
                        .cloned()
                        .unwrap_or(StateValue::InsufficientData),
                    a.state_reason().unwrap_or_default().to_owned(),
                )
            }))
    }
}

#[async_trait]
impl Analysis for AlarmGate {
    fn name(&self) -> &str {
        &self.name
    }

    async fn run(&self) -> Verdict {
        match self.state().await {
            Ok(Some((StateValue::Ok, _))) => Verdict::Pass,
            Ok(Some((StateValue::Alarm, reason))) => {
                Verdict::Fail(format!("the alarm is in ALARM: {reason}"))
            }
            Ok(Some((state, reason))) => Verdict::no_data(
                self.on_no_data,
                format!("the alarm is {}: {reason}", state.as_str()),
            ),
            Ok(None) => Verdict::no_data(
                self.on_error,
                format!("CloudWatch has no alarm named {:?}", self.alarm),
            ),
            Err(e) => Verdict::no_data(self.on_error, e),
        }
    }
}

/// A failed call as a message: AWS's code and message, or the SDK's
/// description when AWS did not answer.
fn failure<E, R>(call: &str, err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug,
{
    match err.code() {
        Some(code) => format!(
            "CloudWatch {call} failed: {code}: {}",
            err.message().unwrap_or("(no message)")
        ),
        None => format!(
            "CloudWatch {call} got no answer: {}",
            DisplayErrorContext(err)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_round_trips_through_its_text_with_defaults() {
        let q = MetricQuery::new("AWS/Lambda", "Errors", "Sum").dimension("FunctionName", "api");
        let text = q.to_string();
        assert_eq!(MetricQuery::parse(&text).unwrap(), q);
        let short =
            MetricQuery::parse(r#"{"namespace":"AWS/Lambda","metric_name":"Errors","stat":"Sum"}"#)
                .unwrap();
        assert_eq!((short.period_secs, short.lookback_secs), (60, 300));
        let data = q.data_query();
        let stat = data.metric_stat().unwrap();
        assert_eq!(stat.period(), Some(60));
        assert_eq!(stat.stat(), Some("Sum"));
        assert_eq!(stat.metric().unwrap().dimensions().len(), 1);
    }

    #[test]
    fn a_bad_query_says_what_is_wrong() {
        let e = MetricQuery::parse("rate(errors[1m])").unwrap_err();
        assert!(
            e.contains("not a CloudWatch metric query") && e.contains("MetricQuery::new"),
            "{e}"
        );
        let e = MetricQuery::parse(
            r#"{"namespace":"","metric_name":"Errors","stat":"Sum","period_secs":0}"#,
        )
        .unwrap_err();
        assert!(
            e.contains("`namespace` is empty") && e.contains("`period_secs` is 0"),
            "{e}"
        );
        let e = MetricQuery::parse(
            r#"{"namespace":"A","metric_name":"E","stat":"Sum","period_secs":600,"lookback_secs":60}"#,
        )
        .unwrap_err();
        assert!(e.contains("shorter than a period"), "{e}");
        let e =
            MetricQuery::parse(r#"{"namespace":"A","metric_name":"E","stat":"Sum","unit":"x"}"#)
                .unwrap_err();
        assert!(e.contains("unit"), "{e}");
    }
}
