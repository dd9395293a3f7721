//! CloudWatch as a metric source and an alarm gate, against moto: data
//! points put with PutMetricData are read back by GetMetricData (the newest
//! period's statistic), a metric with no data point is the typed no-data
//! verdict and never a pass, and an alarm's state (set with SetAlarmState)
//! passes, fails or is no data. moto comes from `DAFNCK_MOTO_URL` (set by
//! `scripts/servers/moto.sh start` or `scripts/test.sh`); without it the
//! tests say they are skipped, unless `DAFNCK_REQUIRE_SERVERS=1`.
//!
//! Every test uses a namespace or alarm name of its own, so they run in
//! parallel and beside other tests' objects without a reset.

#![cfg(feature = "cloudwatch")]

mod support;

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricDatum, StateValue, Statistic,
};
use aws_sdk_cloudwatch::Client;
use dafnck_strategies::cloudwatch::{AlarmGate, CloudWatch, MetricQuery};
use dafnck_strategies::{Analysis, MetricGate, MetricSource, NoData, Threshold, Verdict};
use support::{moto_url, sdk_config, unique};

/// A namespace no other test or run uses; also the function name of its
/// metrics' dimension (moto matches a query with dimensions by name and
/// dimensions only, across namespaces).
fn namespace(test: &str) -> String {
    unique(&format!("dafnck-test-{test}"))
}

async fn clients(url: &str) -> (Client, CloudWatch) {
    let config = sdk_config(url).await;
    (Client::new(&config), CloudWatch::with_config(&config))
}

/// Puts `value` for `Errors{FunctionName=ns}` in `ns`, `ago` before now.
async fn put(cw: &Client, ns: &str, value: f64, ago: Duration) {
    cw.put_metric_data()
        .namespace(ns)
        .metric_data(
            MetricDatum::builder()
                .metric_name("Errors")
                .dimensions(Dimension::builder().name("FunctionName").value(ns).build())
                .value(value)
                .timestamp(DateTime::from(SystemTime::now() - ago))
                .build(),
        )
        .send()
        .await
        .unwrap();
}

fn errors(ns: &str, stat: &str) -> MetricQuery {
    MetricQuery::new(ns, "Errors", stat).dimension("FunctionName", ns)
}

#[tokio::test]
async fn the_newest_periods_statistic_is_the_value_and_gates_judge_it() {
    let test = "cloudwatch_values";
    let Some(url) = moto_url(test) else { return };
    let (cw, source) = clients(&url).await;
    let ns = namespace(test);
    // Three minutes ago 7 errors; now 2 and 1 in the same minute.
    put(&cw, &ns, 7.0, Duration::from_secs(180)).await;
    put(&cw, &ns, 2.0, Duration::ZERO).await;
    put(&cw, &ns, 1.0, Duration::ZERO).await;

    let sum = source.query(&errors(&ns, "Sum").to_string()).await.unwrap();
    assert_eq!(sum, Some(3.0), "the newest minute's sum");
    let max = source.value(&errors(&ns, "Maximum")).await.unwrap();
    assert_eq!(max, Some(2.0));
    // One period as long as the lookback: the statistic over all of it.
    let whole = errors(&ns, "Sum")
        .period(Duration::from_secs(600))
        .lookback(Duration::from_secs(600));
    assert_eq!(source.value(&whole).await.unwrap(), Some(10.0));
    // Looking back one minute misses the old point but not the new ones.
    let recent = errors(&ns, "Sum").lookback(Duration::from_secs(60));
    assert_eq!(source.value(&recent).await.unwrap(), Some(3.0));

    let passes = MetricGate::new(
        "errors",
        source.clone(),
        errors(&ns, "Sum"),
        Threshold::AtMost(5.0),
    );
    assert_eq!(passes.run().await, Verdict::Pass);
    let fails = MetricGate::new(
        "errors",
        source.clone(),
        errors(&ns, "Sum"),
        Threshold::AtMost(0.0),
    );
    let v = fails.run().await;
    assert!(
        matches!(&v, Verdict::Fail(m) if m.contains("is 3") && m.contains("<= 0")),
        "{v}"
    );
}

#[tokio::test]
async fn no_data_point_is_the_no_data_verdict_never_a_pass() {
    let test = "cloudwatch_no_data";
    let Some(url) = moto_url(test) else { return };
    let (cw, source) = clients(&url).await;
    let ns = namespace(test);
    assert_eq!(source.value(&errors(&ns, "Sum")).await.unwrap(), None);
    // Data of another dimension set or too old is not this metric's now.
    put(&cw, &ns, 4.0, Duration::from_secs(900)).await;
    cw.put_metric_data()
        .namespace(&ns)
        .metric_data(
            MetricDatum::builder()
                .metric_name("Errors")
                .value(9.0)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(source.value(&errors(&ns, "Sum")).await.unwrap(), None);

    let gate = |choice| {
        MetricGate::new(
            "errors",
            source.clone(),
            errors(&ns, "Sum"),
            Threshold::AtMost(0.0),
        )
        .on_no_data(choice)
    };
    let v = gate(NoData::Inconclusive).run().await;
    assert!(
        matches!(&v, Verdict::Inconclusive(m) if m.contains("no series")),
        "{v}"
    );
    assert!(matches!(gate(NoData::Fail).run().await, Verdict::Fail(_)));
    // The default is inconclusive too.
    let default = MetricGate::new(
        "errors",
        source.clone(),
        errors(&ns, "Sum"),
        Threshold::AtMost(0.0),
    );
    assert!(matches!(default.run().await, Verdict::Inconclusive(_)));

    // A query that is not one is an error, with the gate's error verdict.
    let e = source.query("sum(rate(errors[1m]))").await.unwrap_err();
    assert!(e.contains("not a CloudWatch metric query"), "{e}");
}

#[tokio::test]
async fn an_unreachable_cloudwatch_is_an_error_naming_the_call() {
    // A port nothing listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = sdk_config(&format!("http://127.0.0.1:{port}")).await;
    let source = CloudWatch::with_config(&config);
    let e = source
        .value(&MetricQuery::new("A", "Errors", "Sum"))
        .await
        .unwrap_err();
    assert!(e.contains("GetMetricData got no answer"), "{e}");
}

#[tokio::test]
async fn an_alarms_state_passes_fails_or_is_no_data() {
    let test = "cloudwatch_alarm";
    let Some(url) = moto_url(test) else { return };
    let (cw, source) = clients(&url).await;
    let ns = namespace(test);
    let alarm = ns.replace('/', "-");
    cw.put_metric_alarm()
        .alarm_name(&alarm)
        .namespace(&ns)
        .metric_name("Errors")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(0.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
    let gate = AlarmGate::new(source.clone(), &alarm);
    assert_eq!(gate.name(), format!("alarm {alarm}"));
    let set = |state: StateValue| {
        let cw = cw.clone();
        let alarm = alarm.clone();
        async move {
            cw.set_alarm_state()
                .alarm_name(alarm)
                .state_value(state)
                .state_reason("set by the test")
                .send()
                .await
                .unwrap();
        }
    };
    set(StateValue::InsufficientData).await;
    let v = gate.run().await;
    assert!(
        matches!(&v, Verdict::Inconclusive(m) if m.contains("INSUFFICIENT_DATA")),
        "{v}"
    );
    set(StateValue::Alarm).await;
    let v = gate.run().await;
    assert!(
        matches!(&v, Verdict::Fail(m) if m.contains("ALARM") && m.contains("set by the test")),
        "{v}"
    );
    set(StateValue::Ok).await;
    assert_eq!(gate.run().await, Verdict::Pass);
    set(StateValue::InsufficientData).await;
    let lenient = AlarmGate::new(source.clone(), &alarm).on_no_data(NoData::Pass);
    assert_eq!(lenient.run().await, Verdict::Pass);
    let strict = AlarmGate::new(source.clone(), &alarm).on_no_data(NoData::Fail);
    assert!(matches!(strict.run().await, Verdict::Fail(_)));

    let missing = AlarmGate::new(source, format!("{alarm}-missing"));
    let v = missing.run().await;
    assert!(
        matches!(&v, Verdict::Inconclusive(m) if m.contains("no alarm named")),
        "{v}"
    );
}
