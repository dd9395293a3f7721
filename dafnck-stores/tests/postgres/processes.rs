//! Runs as processes: a holder SIGKILLed while it holds the lock, and
//! twenty `up` processes racing for one stack. The children are this test
//! binary, run again with `--ignored --exact processes::<child>`.

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use dafnck_core::state::StateError;
use dafnck_core::testing::FakeCloud;
use dafnck_stores::postgres::PostgresStore;

use super::race::{self, child_runtime};
use super::{engine, program, spawn_child, url_for};

// Lease expiry: a run SIGKILLed while it holds the lock.

/// The child: applies `program("a")` with a 2 s lease against a fake cloud
/// whose creates take a minute, so it is killed mid-operation.
#[test]
#[ignore = "run as a child process by a_killed_holder_is_taken_over_after_its_lease"]
fn lease_child() {
    let url = std::env::var("DAFNCK_TEST_URL").expect("DAFNCK_TEST_URL");
    let cloud_dir = std::env::var("DAFNCK_TEST_CLOUD").expect("DAFNCK_TEST_CLOUD");
    child_runtime().block_on(async {
        let store = PostgresStore::connect(&url).await.unwrap();
        let cloud = FakeCloud::in_dir(Path::new(&cloud_dir))
            .unwrap()
            .with_latency(Duration::from_secs(60));
        let engine = engine(store, "dev", &cloud, Duration::from_secs(2));
        println!("applying");
        engine.up(program("a"), false).await.unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_holder_is_taken_over_after_its_lease_and_its_pending_work_recovered() {
    let Some(url) = url_for("lease") else {
        return;
    };
    let cloud_dir = tempfile::tempdir().unwrap();
    let store = PostgresStore::connect(&url).await.unwrap();
    let child = spawn_child("processes::lease_child", &url, cloud_dir.path());
    let child_pid = child.id();
    race::kill_mid_operation(child, &store).await;

    let cloud = FakeCloud::in_dir(cloud_dir.path()).unwrap();
    let rerun = engine(store.clone(), "dev", &cloud, Duration::from_secs(60));
    let e = rerun.up(program("a"), false).await.unwrap_err();
    let dafnck_core::Error::State(StateError::Locked { holder, .. }) = &e else {
        panic!("expected the dead run's live lease to refuse the rerun, got {e}");
    };
    assert_eq!(holder.pid, child_pid);
    let text = e.to_string();
    assert!(
        text.contains(&format!("lock id {}", holder.id)) && text.contains("force-unlock"),
        "{text}"
    );

    // A preview (no lock needed) sees the dead run's pending operation.
    let preview = rerun.preview(program("a"), false).await.unwrap();
    assert!(
        !preview.pending.is_empty(),
        "the pending operation is found"
    );

    // After the lease the rerun takes the lock over and converges.
    race::rerun_takes_over(&rerun, &store, &cloud).await;
}

// Race: twenty processes run `up` on one stack at once.

/// The child: runs `up` until it gets the lock once; prints each refusal.
#[test]
#[ignore = "run as a child process by twenty_concurrent_ups_take_turns"]
fn race_child() {
    let url = std::env::var("DAFNCK_TEST_URL").expect("DAFNCK_TEST_URL");
    let cloud_dir = std::env::var("DAFNCK_TEST_CLOUD").expect("DAFNCK_TEST_CLOUD");
    child_runtime().block_on(async {
        let store = PostgresStore::connect(&url).await.unwrap();
        race::race_child(store, Path::new(&cloud_dir)).await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_ups_take_turns() {
    let Some(url) = url_for("race") else {
        return;
    };
    let store = PostgresStore::connect(&url).await.unwrap();
    let cloud_dir = tempfile::tempdir().unwrap();
    let children: Vec<Child> = (0..race::RACERS)
        .map(|_| spawn_child("processes::race_child", &url, cloud_dir.path()))
        .collect();
    let outputs = race::wait_all(children).await;
    race::check_race(&outputs, &store, cloud_dir.path()).await;
}
