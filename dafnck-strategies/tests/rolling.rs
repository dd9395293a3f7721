//! Rolling rollouts on paused, virtual time.

use std::time::Duration;

use dafnck_strategies::*;
use tokio::time::Instant;

fn policy() -> Rolling {
    Rolling {
        poll_interval: Duration::from_secs(5),
        ..Rolling::default()
    }
}

#[tokio::test(start_paused = true)]
async fn a_healthy_version_replaces_the_fleet_in_25_percent_batches() {
    let fleet = MemoryRollingFleet::new(10, "v1", "v2", true);
    let log = MemoryLog::new();
    let done = RollingRollout::new("api", &policy(), fleet.clone())
        .unwrap()
        .log(log.clone())
        .run(None)
        .await
        .unwrap();
    assert_eq!(done.phase, Phase::Completed);
    assert_eq!(fleet.versions(), vec!["v2"; 10]);
    assert_eq!(
        fleet.replaced_batches(),
        vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 7, 8], vec![9]]
    );
    assert_eq!(log.phases(), vec![Phase::Progressing, Phase::Completed]);
}

#[tokio::test(start_paused = true)]
async fn a_version_that_never_gets_healthy_is_rolled_back_after_two_failed_batches() {
    let fleet = MemoryRollingFleet::new(8, "v1", "v3", false);
    let start = Instant::now();
    let done = RollingRollout::new("api", &policy(), fleet.clone())
        .unwrap()
        .run(None)
        .await
        .unwrap();
    assert_eq!(done.phase, Phase::RolledBack);
    let why = done.message.clone().unwrap();
    assert!(why.starts_with("2 failed batches in a row"), "{why}");
    assert!(why.contains("not healthy within 60s"), "{why}");
    assert_eq!(
        fleet.versions(),
        vec!["v1"; 8],
        "every replaced instance restored"
    );
    assert_eq!(fleet.replaced_batches(), vec![vec![0, 1], vec![0, 1]]);
    // Two attempts, each given the full batch timeout.
    assert_eq!(start.elapsed(), Duration::from_secs(120));
    assert!(done.replaced.is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_deadline_rolls_back_everything_replaced_so_far() {
    let fleet = MemoryRollingFleet::new(4, "v1", "v2", false);
    let p = Rolling {
        batch: BatchSize::Count(1),
        max_failed_batches: 100,
        deadline: Duration::from_secs(150),
        ..policy()
    };
    let start = Instant::now();
    let done = RollingRollout::new("api", &p, fleet.clone())
        .unwrap()
        .run(None)
        .await
        .unwrap();
    assert_eq!(done.phase, Phase::RolledBack);
    assert!(done.message.unwrap().contains("deadline of 150s passed"));
    assert_eq!(start.elapsed(), Duration::from_secs(150));
    assert_eq!(fleet.versions(), vec!["v1"; 4]);
}

#[tokio::test(start_paused = true)]
async fn pause_holds_between_batches_and_abort_restores_the_replaced_ones() {
    let fleet = MemoryRollingFleet::new(4, "v1", "v2", false);
    let log = MemoryLog::new();
    let mut rollout = RollingRollout::new(
        "api",
        &Rolling {
            batch: BatchSize::Count(1),
            ..policy()
        },
        fleet.clone(),
    )
    .unwrap()
    .log(log.clone());
    let handle = rollout.handle();
    handle.send(RolloutControl::Pause);
    let run = tokio::spawn(async move { rollout.run(None).await });
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(log.last().unwrap().phase, Phase::Paused);
    assert!(fleet.replaced_batches().is_empty());
    handle.send(RolloutControl::Resume);
    // The first batch is replaced and waits to get healthy; abort then.
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(fleet.versions(), vec!["v2", "v1", "v1", "v1"]);
    handle.send(RolloutControl::Abort);
    let done = run.await.unwrap().unwrap();
    assert_eq!(done.phase, Phase::RolledBack);
    assert!(done.aborted);
    assert_eq!(fleet.versions(), vec!["v1"; 4]);
    assert_eq!(fleet.replaced_batches(), vec![vec![0]]);
    assert_eq!(done.traffic_off_at, Some(done.started_at + 630_000));
}

#[tokio::test(start_paused = true)]
async fn a_resumed_rollout_keeps_what_it_replaced_and_goes_on() {
    let fleet = MemoryRollingFleet::new(4, "v1", "v2", true);
    let log = MemoryLog::new();
    let p = Rolling {
        batch: BatchSize::Count(1),
        ..policy()
    };
    let clock = TokioClock::starting_at(0);
    let mut first = RollingRollout::new("api", &p, fleet.clone())
        .unwrap()
        .log(log.clone())
        .clock(clock.clone());
    first.run(None).await.unwrap();
    // Take the record from after the second batch, as if the process died
    // there.
    let mid = log
        .records()
        .into_iter()
        .find(|r| r.replaced.len() == 2)
        .unwrap();
    let batches_before = fleet.replaced_batches().len();
    let done = RollingRollout::new("api", &p, fleet.clone())
        .unwrap()
        .clock(clock)
        .run(Some(&mid))
        .await
        .unwrap();
    assert_eq!(done.phase, Phase::Completed);
    assert_eq!(done.attempt, 1);
    assert_eq!(
        fleet.replaced_batches()[batches_before..],
        [vec![2], vec![3]]
    );
}

#[tokio::test(start_paused = true)]
async fn batches_wait_the_pause_between_them_and_an_abort_in_a_pause_rolls_back() {
    let p = Rolling {
        batch: BatchSize::Count(1),
        batch_pause: Duration::from_secs(30),
        ..policy()
    };
    // Healthy at once: only the pauses take time, none after the last batch.
    let fleet = MemoryRollingFleet::new(4, "v1", "v2", true);
    let start = Instant::now();
    let done = RollingRollout::new("api", &p, fleet.clone())
        .unwrap()
        .run(None)
        .await
        .unwrap();
    assert_eq!(done.phase, Phase::Completed);
    assert_eq!(start.elapsed(), Duration::from_secs(90));

    // Aborted in the pause after the second batch: both are restored.
    let fleet = MemoryRollingFleet::new(4, "v1", "v2", true);
    let mut rollout = RollingRollout::new("api", &p, fleet.clone()).unwrap();
    let handle = rollout.handle();
    let run = tokio::spawn(async move { rollout.run(None).await });
    tokio::time::sleep(Duration::from_secs(45)).await;
    assert_eq!(fleet.versions(), vec!["v2", "v2", "v1", "v1"]);
    handle.send(RolloutControl::Abort);
    let done = run.await.unwrap().unwrap();
    assert_eq!((done.phase, done.aborted), (Phase::RolledBack, true));
    assert_eq!(fleet.versions(), vec!["v1"; 4]);

    // A promote ends the pause early.
    let fleet = MemoryRollingFleet::new(2, "v1", "v2", true);
    let mut rollout = RollingRollout::new("api", &p, fleet.clone()).unwrap();
    let handle = rollout.handle();
    let start = Instant::now();
    let run = tokio::spawn(async move { rollout.run(None).await });
    tokio::time::sleep(Duration::from_secs(5)).await;
    handle.send(RolloutControl::Promote);
    assert_eq!(run.await.unwrap().unwrap().phase, Phase::Completed);
    assert_eq!(start.elapsed(), Duration::from_secs(5));
}
