//! The HTTP health check against tiny servers on 127.0.0.1 (no external
//! server needed): statuses, refused connections, timeouts, and the
//! consecutive success / failure thresholds kept across runs.

mod net;

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dafnck_strategies::{Analysis, AnalysisSet, HttpCheck, Verdict};
use net::{closed_port, silent_server, Backend};

/// A backend whose `/healthz` answers the status in `status`.
async fn switchable(status: u16) -> (Backend, Arc<AtomicU16>) {
    let current = Arc::new(AtomicU16::new(status));
    let s = Arc::clone(&current);
    let backend = Backend::start(Arc::new(move |path| match path {
        "/healthz" => (s.load(Ordering::Relaxed), "ok\n".into()),
        _ => (404, "not found\n".into()),
    }))
    .await;
    (backend, current)
}

fn failure(v: &Verdict) -> &str {
    match v {
        Verdict::Fail(m) => m,
        other => panic!("expected a failure, got {other}"),
    }
}

#[tokio::test]
async fn a_2xx_passes_and_other_statuses_fail_with_the_status() {
    let (backend, status) = switchable(200).await;
    let url = backend.url("/healthz");
    assert_eq!(HttpCheck::new(&url).run().await, Verdict::Pass);
    status.store(204, Ordering::Relaxed);
    assert_eq!(HttpCheck::new(&url).run().await, Verdict::Pass);

    status.store(503, Ordering::Relaxed);
    let v = HttpCheck::new(&url).failures(1).run().await;
    assert_eq!(
        failure(&v),
        format!("GET {url} answered 503, expected a 2xx status (1 failure in a row)")
    );
    let v = HttpCheck::new(backend.url("/missing"))
        .failures(1)
        .run()
        .await;
    assert!(failure(&v).contains("answered 404"), "{v}");

    // An exact status is expected when asked for.
    status.store(200, Ordering::Relaxed);
    let v = HttpCheck::new(&url)
        .expect_status(204)
        .failures(1)
        .run()
        .await;
    assert!(
        failure(&v).contains("answered 200, expected status 204"),
        "{v}"
    );
}

#[tokio::test]
async fn a_refused_connection_and_a_silent_server_are_named_failures() {
    let url = format!("http://127.0.0.1:{}/healthz", closed_port());
    let v = HttpCheck::new(&url).failures(1).run().await;
    assert_eq!(
        failure(&v),
        format!("GET {url}: connection refused (1 failure in a row)")
    );

    let (addr, _server) = silent_server().await;
    let url = format!("http://{addr}/healthz");
    let started = std::time::Instant::now();
    let v = HttpCheck::new(&url)
        .timeout(Duration::from_millis(200))
        .failures(1)
        .run()
        .await;
    assert!(
        failure(&v).contains(&format!("GET {url}: no answer within 200ms")),
        "{v}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    let v = HttpCheck::new("https://127.0.0.1:1/")
        .failures(1)
        .run()
        .await;
    assert!(failure(&v).contains("only plain http://"), "{v}");
}

#[tokio::test]
async fn it_takes_n_successes_to_pass_and_m_failures_to_fail_across_runs() {
    let (backend, status) = switchable(503).await;
    let check = HttpCheck::new(backend.url("/healthz"))
        .named("healthz")
        .successes(2)
        .failures(3);
    assert_eq!(check.name(), "healthz");

    // Not healthy before two successes in a row.
    let v = check.run().await;
    assert!(failure(&v).starts_with("not healthy yet: GET"), "{v}");
    status.store(200, Ordering::Relaxed);
    let v = check.run().await;
    assert!(
        failure(&v).contains("not healthy yet: 1 of 2 successes"),
        "{v}"
    );
    assert_eq!(check.run().await, Verdict::Pass);

    // Healthy: two failures in a row are tolerated, the third fails.
    status.store(500, Ordering::Relaxed);
    assert_eq!(check.run().await, Verdict::Pass);
    assert_eq!(check.run().await, Verdict::Pass);
    let v = check.run().await;
    assert!(
        failure(&v).contains("answered 500") && failure(&v).contains("(3 failures in a row)"),
        "{v}"
    );

    // Unhealthy until two successes in a row again; a failure in between
    // starts the count over.
    status.store(200, Ordering::Relaxed);
    let v = check.run().await;
    assert!(failure(&v).contains("unhealthy: 1 of 2 successes"), "{v}");
    status.store(500, Ordering::Relaxed);
    assert!(matches!(check.run().await, Verdict::Fail(_)));
    status.store(200, Ordering::Relaxed);
    assert!(matches!(check.run().await, Verdict::Fail(_)));
    assert_eq!(check.run().await, Verdict::Pass);
    assert_eq!(backend.served(), 10);
}

#[tokio::test]
async fn in_a_set_the_check_is_named_in_the_verdict() {
    let (backend, _status) = switchable(502).await;
    let set = AnalysisSet::new().with(
        HttpCheck::new(backend.url("/healthz"))
            .named("v2 health")
            .failures(1),
    );
    let v = set.run().await;
    assert!(failure(&v).starts_with("v2 health: GET http://"), "{v}");
}
