//! Rolling updates end to end, through the engine: the canary example
//! with `policy=rolling` deploys the demo app as a `ServiceGroup` of four
//! replicas behind a real nginx of each test's own (`DAFNCK_NGINX_BIN`);
//! a new version's replicas start beside the old ones and nginx's upstream
//! swaps them in a batch at a time, while a bounded load runs through
//! nginx. Skipped with a message without nginx and Prometheus (the harness
//! is the canary tests'), unless `DAFNCK_REQUIRE_SERVERS=1`.

mod support;

#[path = "../dafnck-strategies/tests/net/mod.rs"]
mod net;

#[path = "support/world.rs"]
mod world;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use dafnck::strategies::Phase;
use world::{finished, world, Load, World};

/// One test at a time: each reloads nginx under load.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Rolling config for `version`: four replicas, a batch of one (25%),
/// checked every 200 ms, 3 s per batch.
fn rolling(version: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("version", version),
        ("policy", "rolling"),
        ("replicas", "4"),
        ("batch_percent", "25"),
        ("batch_timeout_secs", "3"),
        ("analysis_interval_ms", "200"),
    ]
}

/// Deploys v1's four replicas and checks nginx serves them.
async fn first_deploy(w: &World) {
    let run = w.up(&rolling("v1")).await;
    assert_eq!(run.code, 0, "{}", run.out);
    assert_eq!(w.serving("v1").len(), 4);
    assert_eq!(w.sample(12).await, BTreeMap::from([("200 v1".into(), 12)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_update_swaps_every_replica_behind_nginx_with_no_failed_request() {
    let _one = SERIAL.lock().await;
    let test = "a_rolling_update_swaps_every_replica_behind_nginx_with_no_failed_request";
    let Some(w) = world(test).await else {
        return;
    };
    first_deploy(&w).await;
    let v1 = w.serving("v1");

    let load = Load::start(w.nginx.addr());
    let started = Instant::now();
    let run = w.up(&rolling("v2")).await;
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tally = load.stop().await;

    assert_eq!(run.code, 0, "{}", run.out);
    assert!(
        run.out.contains("deploy by rolling, 25% at a time"),
        "{}",
        run.out
    );
    let r = w.record().await.unwrap();
    assert_eq!((r.phase.clone(), r.replaced.len()), (Phase::Completed, 4));
    let status = w.run(&["rollout", "status", "web"], &[]).await;
    assert!(
        status.out.contains("finished\tCompleted") && status.out.contains("new version at 100%"),
        "{}",
        status.out
    );
    // The old replicas were stopped once the last batch was in; four new
    // ones serve.
    assert!(w.serving("v1").is_empty(), "v1 still runs");
    assert!(v1.iter().all(|p| !w.serving("v1").contains(p)));
    assert_eq!(w.serving("v2").len(), 4);
    assert!(tally.other(&["200 v1", "200 v2"]).is_empty(), "{tally:?}");
    assert!(
        tally.count("200 v1") > 20 && tally.count("200 v2") > 20,
        "{tally:?}"
    );
    assert_eq!(w.sample(20).await, BTreeMap::from([("200 v2".into(), 20)]));
    // Nothing left to do: the route lists the new replicas.
    let preview = w.run(&["preview"], &rolling("v2")).await;
    assert!(preview.out.contains("No changes"), "{}", preview.out);
    eprintln!(
        "{test}: 4 replicas swapped one batch at a time in {took:.1?}; answers {:?}; {} keep-alive request(s) retried after a reload; failed requests: 0",
        tally.seen, tally.retried
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_update_whose_replicas_never_pass_their_check_is_rolled_back_after_two_batches() {
    let _one = SERIAL.lock().await;
    let test =
        "a_rolling_update_whose_replicas_never_pass_their_check_is_rolled_back_after_two_batches";
    let Some(w) = world(test).await else {
        return;
    };
    first_deploy(&w).await;
    let v1 = w.serving("v1");

    // v3 starts and answers /health, but every `GET /` is a 500: its
    // replicas never pass the rollout's check of `/`.
    let mut config = rolling("v3");
    config.push(("fail_rate", "1"));
    let load = Load::start(w.nginx.addr());
    let started = Instant::now();
    let run = w.up(&config).await;
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tally = load.stop().await;

    assert_ne!(run.code, 0, "{}", run.out);
    assert!(
        run.out.contains("rolled back: 2 failed batches in a row")
            && run.out.contains("not healthy within 3s")
            && run.out.contains("answered 500"),
        "{}",
        run.out
    );
    let r = w.record().await.unwrap();
    assert_eq!((r.phase.clone(), r.weight), (Phase::RolledBack, 0), "{r:?}");
    // Two tries of the first batch, 3 s each.
    assert!(took >= Duration::from_secs(6), "took {took:?}");
    assert!(w.serving("v3").is_empty(), "v3 still runs");
    let mut still = w.serving("v1");
    still.sort_unstable();
    let mut before = v1.clone();
    before.sort_unstable();
    assert_eq!(still, before, "the same four v1 replicas serve on");
    // v3 never got a request: nothing but v1 answered.
    assert_eq!(
        tally.seen.keys().collect::<Vec<_>>(),
        ["200 v1"],
        "{tally:?}"
    );
    assert_eq!(w.sample(12).await, BTreeMap::from([("200 v1".into(), 12)]));
    eprintln!(
        "{test}: rolled back after two failed tries of the first batch, {took:.1?} in all; answers {:?}; failed requests: 0",
        tally.seen
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_rolling_update_is_reset_to_the_old_replicas_by_the_next_up() {
    let _one = SERIAL.lock().await;
    let test = "a_killed_rolling_update_is_reset_to_the_old_replicas_by_the_next_up";
    let Some(w) = world(test).await else {
        return;
    };
    first_deploy(&w).await;
    // Two batches of two, with a long pause between: killed in the pause.
    let mut config = rolling("v2");
    config.push(("batch_percent", "50"));
    config.push(("batch_pause_ms", "60000"));
    let mut up = w.command(&["up", "--yes"], &config).spawn().unwrap();
    w.wait_for("half swapped", |r| {
        r.phase == Phase::Progressing && r.replaced.len() == 2
    })
    .await;
    up.start_kill().unwrap();
    assert!(!up.wait().await.unwrap().success());
    // Nobody watches, and half the pool is v2.
    let split = w.sample(40).await;
    assert!(
        split.get("200 v2").is_some_and(|n| *n > 0) && split.get("200 v1").is_some_and(|n| *n > 0),
        "{split:?}"
    );
    assert!(w.state().await.handovers["web"].active);
    let orphans = w.serving("v2");
    assert_eq!(orphans.len(), 4, "the killed run's v2 replicas run on");

    // The next `up` puts every v1 replica back and stops the orphaned v2
    // ones, then rolls v2 out again.
    let load = Load::start(w.nginx.addr());
    let next = w.command(&["up", "--yes"], &rolling("v2")).spawn().unwrap();
    let run = finished(next.wait_with_output().await.unwrap());
    let tally = load.stop().await;
    assert_eq!(run.code, 0, "{}", run.out);
    let now = w.serving("v2");
    assert!(
        orphans.iter().all(|p| !now.contains(p)),
        "the orphaned replicas were stopped"
    );
    let r = w.record().await.unwrap();
    assert_eq!((r.phase.clone(), r.replaced.len()), (Phase::Completed, 4));
    assert!(w.serving("v1").is_empty(), "v1 still runs");
    assert_eq!(w.serving("v2").len(), 4, "one set of v2 replicas, not two");
    assert!(tally.other(&["200 v1", "200 v2"]).is_empty(), "{tally:?}");
    assert_eq!(w.sample(12).await, BTreeMap::from([("200 v2".into(), 12)]));
    eprintln!(
        "{test}: the killed run left {split:?}; the next up reset and rolled out again; its answers {:?}, failed requests: 0",
        tally.seen
    );
}
