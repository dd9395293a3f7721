//! Progressive delivery end to end, through the engine: the canary example
//! (`examples/canary.rs`) run as a process deploys the demo app as local
//! services behind a real nginx of each test's own (`DAFNCK_NGINX_BIN`),
//! with a real Prometheus (`DAFNCK_PROMETHEUS_URL`,
//! `DAFNCK_PROMETHEUS_TARGETS_DIR`) scraping them for the error-rate gate,
//! while a bounded load runs through nginx during the whole rollout.
//! Skipped with a message without the servers, unless
//! `DAFNCK_REQUIRE_SERVERS=1`.
//!
//! The tests run one at a time: each rollout's timing (the rollback time
//! they print) should not depend on another test's load.

mod support;

#[path = "../dafnck-strategies/tests/net/mod.rs"]
mod net;

#[path = "support/world.rs"]
mod world;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use dafnck::strategies::Phase;
use world::{finished, world, Load, Run, Tally, World};

/// One test at a time (each has its own runtime; tokio's mutex serves all).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Config of a canary with these steps (`PERCENT:SECONDS,...`).
fn canary(version: &'static str, steps: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![("version", version), ("policy", "canary"), ("steps", steps)]
}

fn blue_green(
    version: &'static str,
    window_secs: &'static str,
) -> Vec<(&'static str, &'static str)> {
    vec![
        ("version", version),
        ("policy", "blue-green"),
        ("pre_switch_secs", "1"),
        ("rollback_window_secs", window_secs),
    ]
}

/// Deploys v1 and checks nginx serves it.
async fn first_deploy(w: &World) {
    let run = w.up(&[("version", "v1")]).await;
    assert_eq!(run.code, 0, "{}", run.out);
    assert_eq!(w.sample(10).await, BTreeMap::from([("200 v1".into(), 10)]));
    assert_eq!(w.serving("v1").len(), 1);
}

/// Rolls `config` out under load; the run and what the load saw.
async fn roll_out(w: &World, config: &[(&str, &str)]) -> (Run, Tally, Duration) {
    let load = Load::start(w.nginx.addr());
    let started = Instant::now();
    let run = w.up(config).await;
    let took = started.elapsed();
    // A moment more of load on what serves after the rollout.
    tokio::time::sleep(Duration::from_millis(300)).await;
    (run, load.stop().await, took)
}

/// A healthy version rolled out: promoted, the old process gone, every
/// request answered 200 by one version or the other.
async fn promoted(w: &World, run: &Run, tally: &Tally, took: Duration) {
    assert_eq!(run.code, 0, "{}", run.out);
    let status = w.run(&["rollout", "status", "web"], &[]).await;
    assert!(
        status.out.contains("finished\tCompleted") && status.out.contains("new version at 100%"),
        "{}",
        status.out
    );
    assert!(w.serving("v1").is_empty(), "v1 still runs");
    assert_eq!(w.serving("v2").len(), 1);
    assert!(tally.other(&["200 v1", "200 v2"]).is_empty(), "{tally:?}");
    assert!(
        tally.count("200 v1") > 50 && tally.count("200 v2") > 50,
        "{tally:?}"
    );
    assert_eq!(w.sample(20).await, BTreeMap::from([("200 v2".into(), 20)]));
    eprintln!(
        "{}: promoted in {took:.1?}; answers {:?}; {} keep-alive request(s) retried after a reload closed their connection; failed requests: 0",
        w.test, tally.seen, tally.retried
    );
}

/// A version failing a fifth of its requests rolled back by its gate: v1
/// serves on, v3's process is gone, the only failed requests are v3's own
/// 500s. Returns the rollback time.
async fn rolled_back(w: &World, run: &Run, tally: &Tally, took: Duration) -> u64 {
    assert_ne!(run.code, 0, "{}", run.out);
    assert!(
        run.out.contains("rolled back: error rate") && run.out.contains("the gate needs <= 0.05"),
        "{}",
        run.out
    );
    let r = w.record().await.unwrap();
    assert_eq!((r.phase.clone(), r.weight), (Phase::RolledBack, 0), "{r:?}");
    let rollback_ms = r.rollback_time_ms().expect("failed_at and traffic_off_at");
    let detection_ms = r.failed_at.unwrap() - r.step_started_at.unwrap_or(r.started_at);
    assert!(
        rollback_ms < 5_000,
        "{rollback_ms} ms from the failing analysis to 0%"
    );
    let status = w.run(&["rollout", "status", "web"], &[]).await;
    assert!(
        status.out.contains("finished\tRolledBack"),
        "{}",
        status.out
    );
    assert!(w.serving("v3").is_empty(), "v3 still runs");
    assert_eq!(w.serving("v1").len(), 1);
    assert!(
        tally.other(&["200 v1", "200 v3", "500 v3"]).is_empty(),
        "{tally:?}"
    );
    assert!(tally.count("500 v3") > 0, "{tally:?}");
    assert_eq!(w.sample(20).await, BTreeMap::from([("200 v1".into(), 20)]));
    eprintln!(
        "{}: gate failed {detection_ms} ms after v3 got traffic; 0% on v3 {rollback_ms} ms after the failing analysis; whole run {took:.1?}; answers {:?} (failed requests: {} = v3's own 500s); {} keep-alive request(s) retried after a reload",
        w.test,
        tally.seen,
        tally.count("500 v3"),
        tally.retried
    );
    rollback_ms
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_promotes_a_healthy_version_and_stops_the_old_one() {
    let _one = SERIAL.lock().await;
    let Some(w) = world("a_canary_promotes_a_healthy_version_and_stops_the_old_one").await else {
        return;
    };
    first_deploy(&w).await;
    let (run, tally, took) = roll_out(&w, &canary("v2", "20:2,50:2")).await;
    promoted(&w, &run, &tally, took).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_failing_a_fifth_of_requests_is_rolled_back_by_its_error_rate_gate() {
    let _one = SERIAL.lock().await;
    let Some(w) =
        world("a_canary_failing_a_fifth_of_requests_is_rolled_back_by_its_error_rate_gate").await
    else {
        return;
    };
    first_deploy(&w).await;
    let mut config = canary("v3", "20:60,50:60");
    config.push(("fail_rate", "0.2"));
    let (run, tally, took) = roll_out(&w, &config).await;
    rolled_back(&w, &run, &tally, took).await;
    // Caught during the first 60 s step, not at its end.
    assert!(took < Duration::from_secs(40), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blue_green_switches_to_a_healthy_version_and_stops_the_old_one() {
    let _one = SERIAL.lock().await;
    let Some(w) = world("blue_green_switches_to_a_healthy_version_and_stops_the_old_one").await
    else {
        return;
    };
    first_deploy(&w).await;
    let (run, tally, took) = roll_out(&w, &blue_green("v2", "3")).await;
    promoted(&w, &run, &tally, took).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blue_green_switches_back_from_a_version_failing_a_fifth_of_requests() {
    let _one = SERIAL.lock().await;
    let Some(w) =
        world("blue_green_switches_back_from_a_version_failing_a_fifth_of_requests").await
    else {
        return;
    };
    first_deploy(&w).await;
    let mut config = blue_green("v3", "60");
    config.push(("fail_rate", "0.2"));
    let (run, tally, took) = roll_out(&w, &config).await;
    rolled_back(&w, &run, &tally, took).await;
    assert!(took < Duration::from_secs(40), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_abort_from_another_process_rolls_a_canary_back() {
    let _one = SERIAL.lock().await;
    let Some(w) = world("rollout_abort_from_another_process_rolls_a_canary_back").await else {
        return;
    };
    first_deploy(&w).await;
    let load = Load::start(w.nginx.addr());
    let up = w
        .command(&["up", "--yes"], &canary("v2", "20:60,50:60"))
        .spawn()
        .unwrap();
    w.wait_for("at 20%", |r| {
        r.phase == Phase::Progressing && r.weight == 20
    })
    .await;
    let abort = w.run(&["rollout", "abort", "web"], &[]).await;
    assert_eq!(abort.code, 0, "{}", abort.out);
    assert!(
        abort.out.contains("Sent abort to the rollout of web"),
        "{}",
        abort.out
    );
    let run = finished(up.wait_with_output().await.unwrap());
    let tally = load.stop().await;
    assert_ne!(run.code, 0, "{}", run.out);
    assert!(run.out.contains("rolled back: aborted"), "{}", run.out);
    let r = w.record().await.unwrap();
    assert!(r.aborted && r.phase == Phase::RolledBack, "{r:?}");
    assert!(w.serving("v2").is_empty(), "v2 still runs");
    assert_eq!(w.sample(20).await, BTreeMap::from([("200 v1".into(), 20)]));
    assert!(tally.other(&["200 v1", "200 v2"]).is_empty(), "{tally:?}");
    assert!(tally.count("200 v2") > 0, "{tally:?}");
    eprintln!(
        "{}: aborted at 20%; 0% on v2 {} ms after the running rollout took the command; answers {:?}; {} retried after a reload",
        w.test,
        r.rollback_time_ms().unwrap_or_default(),
        tally.seen,
        tally.retried
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_up_is_reset_to_the_old_version_by_the_next_up_which_rolls_out_again() {
    let _one = SERIAL.lock().await;
    let Some(w) =
        world("a_killed_up_is_reset_to_the_old_version_by_the_next_up_which_rolls_out_again").await
    else {
        return;
    };
    first_deploy(&w).await;
    let mut up = w
        .command(&["up", "--yes"], &canary("v2", "20:60,50:60"))
        .spawn()
        .unwrap();
    w.wait_for("at 20%", |r| {
        r.phase == Phase::Progressing && r.weight == 20
    })
    .await;
    let cut = w.serving("v2");
    assert_eq!(cut.len(), 1);
    // kill -9: nothing of the run gets to clean up.
    up.start_kill().unwrap();
    let status = up.wait().await.unwrap();
    assert!(!status.success());
    // Nobody watches, and traffic is still split.
    let split = w.sample(50).await;
    assert!(
        split.get("200 v2").is_some_and(|n| *n > 0) && split.get("200 v1").is_some_and(|n| *n > 0),
        "{split:?}"
    );
    assert!(w.state().await.handovers["web"].active);

    // The next `up` resets traffic to v1 first (and stops the orphaned v2),
    // then rolls v2 out again.
    let load = Load::start(w.nginx.addr());
    let next_started = Instant::now();
    let next = w
        .command(&["up", "--yes"], &canary("v2", "20:2,50:2"))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while w.serving("v2").contains(&cut[0]) {
        assert!(
            Instant::now() < deadline,
            "the orphaned v2 was never stopped"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Right after the reset: only v1 (the new canary has not passed its
    // readiness yet, which waits for Prometheus to scrape it).
    let reset_after = next_started.elapsed();
    let after_reset = w.sample(10).await;
    let run = finished(next.wait_with_output().await.unwrap());
    let tally = load.stop().await;
    assert_eq!(after_reset, BTreeMap::from([("200 v1".into(), 10)]));
    assert_eq!(run.code, 0, "{}", run.out);
    let r = w.record().await.unwrap();
    assert_eq!(
        (r.phase.clone(), r.weight),
        (Phase::Completed, 100),
        "{r:?}"
    );
    assert!(w.serving("v1").is_empty(), "v1 still runs");
    assert_eq!(w.serving("v2").len(), 1);
    assert_eq!(w.sample(20).await, BTreeMap::from([("200 v2".into(), 20)]));
    assert!(tally.other(&["200 v1", "200 v2"]).is_empty(), "{tally:?}");
    eprintln!(
        "{}: split 20% left by the killed run {split:?}; the next up reset it within {reset_after:.1?} of its start (the orphaned v2 stopped), then {after_reset:?}; that up's answers {:?}, {} retried after a reload",
        w.test, tally.seen, tally.retried
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_prometheus_cannot_be_told_to_scrape_gets_no_traffic_and_is_rolled_back() {
    let _one = SERIAL.lock().await;
    let Some(w) =
        world("a_version_prometheus_cannot_be_told_to_scrape_gets_no_traffic_and_is_rolled_back")
            .await
    else {
        return;
    };
    first_deploy(&w).await;
    // Its error rate could not be judged: it must not be promoted blind.
    let missing = w.dir.path().join("no-such-dir/targets.json");
    let missing = missing.display().to_string();
    let mut config = canary("v2", "20:1,50:1");
    config.push(("prometheus_targets_file", &missing));
    config.push(("ready_timeout_secs", "2"));
    let (run, tally, _) = roll_out(&w, &config).await;
    assert_ne!(run.code, 0, "{}", run.out);
    assert!(
        run.out
            .contains("rolled back: the new version was not ready within 2s")
            && run.out.contains("cannot write the scrape targets")
            && run.out.contains("no-such-dir/targets.json"),
        "{}",
        run.out
    );
    assert!(w.serving("v2").is_empty(), "v2 still runs");
    assert_eq!(w.serving("v1").len(), 1);
    assert_eq!(
        tally.seen.keys().collect::<Vec<_>>(),
        ["200 v1"],
        "{tally:?}"
    );
}
