//! The Prometheus metric source against a real Prometheus
//! (`DAFNCK_PROMETHEUS_URL` and `DAFNCK_PROMETHEUS_TARGETS_DIR`, set by
//! `scripts/servers/prometheus.sh start` or `scripts/test.sh`; without them
//! the tests say they are skipped, unless `DAFNCK_REQUIRE_SERVERS=1`)
//! scraping a `/metrics` page each test serves and lists in a targets file
//! of its own. The first scrape takes a few seconds: the tests poll.

mod net;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dafnck_strategies::{
    Analysis, MetricGate, MetricSource, NoData, Prometheus, Threshold, Verdict,
};
use net::{closed_port, server_env, silent_server, Backend};

/// A Prometheus scraping a `/metrics` page this test serves; the page's
/// text can change. The targets file goes away with it.
struct Scraped {
    prom: Prometheus,
    target: Backend,
    page: Arc<Mutex<String>>,
    targets_file: std::path::PathBuf,
}

impl Drop for Scraped {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.targets_file);
    }
}

impl Scraped {
    /// A selector for this test's series of `metric`.
    fn of(&self, metric: &str, labels: &str) -> String {
        let sep = if labels.is_empty() { "" } else { "," };
        format!(
            "{metric}{{instance=\"{}\"{sep}{labels}}}",
            self.target.host_port()
        )
    }

    /// Polls `query` until it returns a value (the first scrapes take a
    /// few seconds).
    async fn first_value(&self, query: &str) -> f64 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            match self.prom.query(query).await {
                Ok(Some(v)) => return v,
                Ok(None) => {}
                Err(e) => panic!("{query}: {e}"),
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "`{query}` had no value within 60 s; is {} scraping {}?",
                self.prom.url(),
                self.target.host_port()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn scraped(test: &str, page: &str) -> Option<Scraped> {
    let url = server_env(test, "DAFNCK_PROMETHEUS_URL", "prometheus.sh")?;
    let dir = server_env(test, "DAFNCK_PROMETHEUS_TARGETS_DIR", "prometheus.sh")?;
    let page = Arc::new(Mutex::new(page.to_string()));
    let text = Arc::clone(&page);
    let target = Backend::start(Arc::new(move |path| {
        if path == "/metrics" {
            (200, text.lock().unwrap().clone())
        } else {
            (404, "not found\n".into())
        }
    }))
    .await;
    let targets_file = std::path::Path::new(&dir).join(format!("{test}.json"));
    // Written beside, then renamed: Prometheus never reads half a file.
    let tmp = targets_file.with_extension("tmp");
    std::fs::write(
        &tmp,
        format!(
            r#"[{{"targets": ["{}"], "labels": {{"test": "{test}"}}}}]"#,
            target.host_port()
        ),
    )
    .unwrap();
    std::fs::rename(&tmp, &targets_file).unwrap();
    Some(Scraped {
        prom: Prometheus::new(url).timeout(Duration::from_secs(5)),
        target,
        page,
        targets_file,
    })
}

const PAGE: &str = "\
# TYPE dafnck_test_requests_total counter
dafnck_test_requests_total{version=\"v1\",code=\"200\"} 300
dafnck_test_requests_total{version=\"v1\",code=\"500\"} 100
# TYPE dafnck_test_ratio gauge
dafnck_test_ratio 0.25
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_of_one_series_is_its_value_and_follows_the_target() {
    let test = "a_query_of_one_series_is_its_value_and_follows_the_target";
    let Some(s) = scraped(test, PAGE).await else {
        return;
    };
    let ratio = s.of("dafnck_test_ratio", "");
    assert_eq!(s.first_value(&ratio).await, 0.25);
    let errors = format!(
        "sum({}) / sum({})",
        s.of("dafnck_test_requests_total", "code=~\"5..\""),
        s.of("dafnck_test_requests_total", "")
    );
    assert_eq!(s.prom.query(&errors).await, Ok(Some(0.25)));
    // A new scrape changes the answer.
    *s.page.lock().unwrap() = PAGE.replace("dafnck_test_ratio 0.25", "dafnck_test_ratio 0.75");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while s.prom.query(&ratio).await != Ok(Some(0.75)) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new value was never scraped"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_series_several_series_and_special_values() {
    let test = "no_series_several_series_and_special_values";
    let Some(s) = scraped(test, PAGE).await else {
        return;
    };
    s.first_value(&s.of("dafnck_test_ratio", "")).await;

    // No series: no data, for the gate's chosen verdict.
    let none = s.of("dafnck_test_requests_total", "code=\"404\"");
    assert_eq!(s.prom.query(&none).await, Ok(None));

    // Several series: an error asking to aggregate, naming the series.
    let many = s.of("dafnck_test_requests_total", "");
    let err = s.prom.query(&many).await.unwrap_err();
    assert!(
        err.contains("returned 2 series") && err.contains("sum("),
        "{err}"
    );
    assert!(err.contains("\"code\":\"500\""), "{err}");
    assert!(err.contains(s.prom.url()), "names the server: {err}");
    assert_eq!(s.prom.query(&format!("sum({many})")).await, Ok(Some(400.0)));

    // A ratio of nothing is NaN, a division by zero +Inf; scalars too.
    let nan = s
        .prom
        .query(&format!("sum({none}) / sum({none}) or vector(0/0)"))
        .await;
    assert!(matches!(nan, Ok(Some(v)) if v.is_nan()), "{nan:?}");
    assert_eq!(s.prom.query("1/0").await, Ok(Some(f64::INFINITY)));
    assert_eq!(s.prom.query("-1/0").await, Ok(Some(f64::NEG_INFINITY)));
    assert_eq!(s.prom.query("scalar(vector(2.5))").await, Ok(Some(2.5)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_query_carries_prometheus_message() {
    let Some(url) = server_env(
        "a_bad_query_carries_prometheus_message",
        "DAFNCK_PROMETHEUS_URL",
        "prometheus.sh",
    ) else {
        return;
    };
    let prom = Prometheus::new(url);
    let err = prom.query("sum(rate(x[1m])").await.unwrap_err();
    assert!(err.contains("400") && err.contains("bad_data"), "{err}");
    assert!(
        err.contains("parse error"),
        "Prometheus' own message: {err}"
    );
    assert!(err.contains("sum(rate(x[1m])"), "names the query: {err}");
    let err = prom.query("x[1m]").await.unwrap_err();
    assert!(err.contains("range vector"), "{err}");
    let err = prom.query("\"text\"").await.unwrap_err();
    assert!(err.contains("returned a string"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metric_gate_on_prometheus_passes_fails_and_maps_no_data() {
    let test = "a_metric_gate_on_prometheus_passes_fails_and_maps_no_data";
    let Some(s) = scraped(test, PAGE).await else {
        return;
    };
    s.first_value(&s.of("dafnck_test_ratio", "")).await;
    let errors = format!(
        "sum({}) / sum({})",
        s.of("dafnck_test_requests_total", "code=~\"5..\""),
        s.of("dafnck_test_requests_total", "")
    );
    let gate = |limit| {
        MetricGate::new(
            "error rate",
            s.prom.clone(),
            errors.clone(),
            Threshold::AtMost(limit),
        )
    };
    assert_eq!(gate(0.3).run().await, Verdict::Pass);
    let fail = gate(0.05).run().await;
    assert!(
        matches!(&fail, Verdict::Fail(m) if m.contains("is 0.25")),
        "{fail}"
    );
    let absent = s.of("dafnck_test_requests_total", "version=\"v9\"");
    let no_data = MetricGate::new("v9", s.prom.clone(), absent.clone(), Threshold::AtMost(1.0));
    assert!(matches!(no_data.run().await, Verdict::Inconclusive(m) if m.contains("no series")));
    let strict = MetricGate::new("v9", s.prom.clone(), absent, Threshold::AtMost(1.0))
        .on_no_data(NoData::Fail);
    assert!(matches!(strict.run().await, Verdict::Fail(_)));
}

#[tokio::test]
async fn a_prometheus_that_is_down_is_an_error_naming_it() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let err = Prometheus::new(&url).query("up").await.unwrap_err();
    assert_eq!(err, format!("Prometheus at {url}: connection refused"));
    let gate = MetricGate::new("down", Prometheus::new(&url), "up", Threshold::AtLeast(1.0));
    let v = gate.run().await;
    assert!(
        matches!(&v, Verdict::Inconclusive(m) if m.contains("connection refused")),
        "{v}"
    );
}

#[tokio::test]
async fn a_prometheus_that_does_not_answer_times_out() {
    let (addr, _server) = silent_server().await;
    let prom = Prometheus::new(format!("http://{addr}")).timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let err = prom.query("up").await.unwrap_err();
    assert!(err.contains("no answer within 300ms"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
