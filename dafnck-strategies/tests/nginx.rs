//! The nginx router against a real nginx: each test runs an nginx of its
//! own (binary from `DAFNCK_NGINX_BIN`, set by `scripts/servers/nginx.sh
//! start` or `scripts/test.sh`; without it the tests say they are skipped,
//! unless `DAFNCK_REQUIRE_SERVERS=1`) in front of two tiny backends that
//! answer "stable" and "new".
//!
//! nginx's weighted round robin is smooth and deterministic within one
//! worker: with weights 4:1 every five consecutive requests hold exactly
//! four for one backend and one for the other. With one worker and
//! requests sent one after another, 500 requests split exactly as the
//! weights say, and the tests expect exactly that.

mod net;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dafnck_strategies::{NginxRouter, TrafficRouter, Weights};
use net::{server_env, Backend, Client, Nginx, Outcome};

struct Setup {
    nginx: Nginx,
    router: NginxRouter,
    stable: Backend,
    new: Backend,
}

async fn setup(test: &str) -> Option<Setup> {
    let bin = server_env(test, "DAFNCK_NGINX_BIN", "nginx.sh")?;
    let stable = Backend::fixed("stable").await;
    let new = Backend::fixed("new").await;
    // nginx needs a valid upstream to start; the router owns the file from
    // then on.
    let first = format!("upstream app {{ server {}; }}\n", stable.host_port());
    let nginx = Nginx::start(&bin, &first).await;
    let router = router(&nginx, &bin, &stable.host_port(), &new.host_port());
    Some(Setup {
        nginx,
        router,
        stable,
        new,
    })
}

fn router(nginx: &Nginx, bin: &str, stable: &str, new: &str) -> NginxRouter {
    NginxRouter::new(
        nginx.config(),
        nginx.upstream_file(),
        "app",
        [stable],
        [new],
    )
    .unwrap()
    .binary(bin)
    .prefix(nginx.prefix())
    .pid_file(nginx.pid_file())
    .reload_timeout(Duration::from_secs(10))
}

/// Sends `n` GETs one after another through nginx; counts the answers
/// "stable" and "new". Any other outcome fails the test.
async fn distribution(nginx: &Nginx, n: u32) -> (u32, u32) {
    let mut client = Client::new(nginx.addr(), true);
    let (mut stable, mut new) = (0, 0);
    for i in 0..n {
        match client.get_retrying("/").await.0 {
            Outcome::Answered(200, body) if body == "stable" => stable += 1,
            Outcome::Answered(200, body) if body == "new" => new += 1,
            other => panic!("request {i} through nginx: {other:?}"),
        }
    }
    (stable, new)
}

fn assert_split(got: (u32, u32), new_percent: u32, n: u32) {
    let want_new = n * new_percent / 100;
    assert_eq!(
        got,
        (n - want_new, want_new),
        "(stable, new) answers of {n} requests at {new_percent}% new"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_set_through_nginx_split_requests_as_told() {
    let Some(s) = setup("weights_set_through_nginx_split_requests_as_told").await else {
        return;
    };
    for (new_percent, file_has_new, file_has_stable) in [
        (0, false, true),
        (20, true, true),
        (100, true, false),
        (80, true, true),
        (0, false, true),
    ] {
        s.router
            .set_weights(Weights::to_new(new_percent as u8))
            .await
            .unwrap_or_else(|e| panic!("{new_percent}%: {e}\n{}", s.nginx.error_log()));
        let file = std::fs::read_to_string(s.nginx.upstream_file()).unwrap();
        assert_eq!(file.contains(&s.new.host_port()), file_has_new, "{file}");
        assert_eq!(
            file.contains(&s.stable.host_port()),
            file_has_stable,
            "{file}"
        );
        // Measured right after set_weights returns: the reload is in
        // effect by then.
        let got = distribution(&s.nginx, 500).await;
        assert_split(got, new_percent, 500);
    }
    assert!(s.stable.served() > 0 && s.new.served() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setting_the_same_weights_again_does_not_reload() {
    let Some(s) = setup("setting_the_same_weights_again_does_not_reload").await else {
        return;
    };
    s.router.set_weights(Weights::to_new(20)).await.unwrap();
    let reloads = |log: &str| log.matches("SIGHUP").count();
    let before = reloads(&s.nginx.error_log());
    assert!(before >= 1, "{}", s.nginx.error_log());
    s.router.set_weights(Weights::to_new(20)).await.unwrap();
    assert_eq!(reloads(&s.nginx.error_log()), before);
    s.router.set_weights(Weights::to_new(50)).await.unwrap();
    assert_eq!(reloads(&s.nginx.error_log()), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_nginx_rejects_leaves_the_old_weights_in_effect() {
    let test = "a_configuration_nginx_rejects_leaves_the_old_weights_in_effect";
    let Some(s) = setup(test).await else {
        return;
    };
    s.router.set_weights(Weights::to_new(20)).await.unwrap();
    let good = std::fs::read_to_string(s.nginx.upstream_file()).unwrap();

    // A new version with a port nginx cannot take: syntactically an
    // address, so only `nginx -t` can tell.
    let bin = s.nginx.bin.display().to_string();
    let broken = router(&s.nginx, &bin, &s.stable.host_port(), "127.0.0.1:99999");
    let err = broken.set_weights(Weights::to_new(50)).await.unwrap_err();
    assert!(err.contains("invalid port"), "nginx's own message: {err}");
    assert!(err.contains("99999"), "{err}");
    assert!(err.contains("previous file is kept"), "{err}");
    assert!(err.contains("upstream.conf"), "names the file: {err}");
    assert_eq!(
        std::fs::read_to_string(s.nginx.upstream_file()).unwrap(),
        good
    );
    assert!(
        !s.nginx.path(".upstream.conf.dafnck-tmp").exists(),
        "no temp file is left behind"
    );
    assert_split(distribution(&s.nginx, 500).await, 20, 500);

    // The good router still works afterwards.
    s.router.set_weights(Weights::to_new(100)).await.unwrap();
    assert_split(distribution(&s.nginx, 200).await, 100, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_nginx_that_is_not_running_is_a_clear_error() {
    let Some(s) = setup("an_nginx_that_is_not_running_is_a_clear_error").await else {
        return;
    };
    let bin = s.nginx.bin.display().to_string();
    let r = router(&s.nginx, &bin, &s.stable.host_port(), &s.new.host_port())
        .pid_file(s.nginx.path("no-such.pid"));
    let err = r.set_weights(Weights::to_new(30)).await.unwrap_err();
    assert!(
        err.contains("no-such.pid") && err.contains("is nginx running"),
        "{err}"
    );
}

/// Totals of a load run.
#[derive(Debug, Default)]
struct Load {
    answered: u64,
    /// Keep-alive requests whose connection closed before any response.
    closed_before_response: u64,
    /// How those closes showed, by message.
    closes: BTreeMap<String, u64>,
    /// ... of which the retry on a new connection failed too.
    failed_after_retry: u64,
    /// Idle connections the client found closed before sending on them.
    stale_noticed: u64,
    /// Anything else that failed (refused, reset, a 5xx from nginx).
    failed: u64,
}

/// One client sending GETs back to back until `stop`.
async fn load(nginx_addr: std::net::SocketAddr, keep_alive: bool, stop: Arc<AtomicBool>) -> Load {
    let mut client = Client::new(nginx_addr, keep_alive);
    let mut totals = Load::default();
    while !stop.load(Ordering::Relaxed) {
        let outcome = match client.get("/").await {
            Outcome::ClosedBeforeResponse(why) => {
                totals.closed_before_response += 1;
                *totals.closes.entry(why).or_default() += 1;
                // What browsers and HTTP libraries do with an idempotent
                // request on a reused connection: once more, on a new one.
                client.get("/").await
            }
            other => other,
        };
        match outcome {
            Outcome::Answered(200, _) => totals.answered += 1,
            Outcome::ClosedBeforeResponse(e) => {
                totals.failed_after_retry += 1;
                eprintln!("closed again after a retry: {e}");
            }
            other => {
                totals.failed += 1;
                eprintln!("failed: {other:?}");
            }
        }
    }
    totals.stale_noticed = client.stale_noticed;
    totals
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_under_load_lose_no_request() {
    let Some(s) = setup("reloads_under_load_lose_no_request").await else {
        return;
    };
    s.router.set_weights(Weights::to_new(0)).await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // Two clients with a connection per request, two keeping theirs alive.
    let clients: Vec<_> = [false, false, true, true]
        .into_iter()
        .map(|keep_alive| {
            let stop = Arc::clone(&stop);
            let addr = s.nginx.addr();
            (keep_alive, tokio::spawn(load(addr, keep_alive, stop)))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let steps = [5u8, 25, 50, 75, 100, 50, 0, 20, 60, 100];
    for w in steps {
        s.router.set_weights(Weights::to_new(w)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut per_request = Load::default();
    let mut kept_alive = Load::default();
    for (keep_alive, task) in clients {
        let l = task.await.unwrap();
        let t = if keep_alive {
            &mut kept_alive
        } else {
            &mut per_request
        };
        t.answered += l.answered;
        t.closed_before_response += l.closed_before_response;
        for (why, n) in l.closes {
            *t.closes.entry(why).or_default() += n;
        }
        t.failed_after_retry += l.failed_after_retry;
        t.stale_noticed += l.stale_noticed;
        t.failed += l.failed;
    }
    eprintln!(
        "{} reloads under load:\n  connection per request: {per_request:?}\n  keep-alive, retrying a GET closed before any response: {kept_alive:?}",
        steps.len()
    );
    assert!(per_request.answered > 100 && kept_alive.answered > 100);
    assert_eq!(
        per_request.failed + per_request.closed_before_response,
        0,
        "{per_request:?}"
    );
    assert_eq!(
        kept_alive.failed + kept_alive.failed_after_retry,
        0,
        "{kept_alive:?}"
    );
    // nginx closes the idle keep-alive connections of its old workers on
    // each reload; the clients saw it.
    assert!(
        kept_alive.closed_before_response + kept_alive.stale_noticed > 0,
        "{kept_alive:?}"
    );
    assert!(s.stable.served() > 0 && s.new.served() > 0);
}
