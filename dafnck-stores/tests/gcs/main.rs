//! The GCS state store against fake-gcs-server on 127.0.0.1 (the emulator
//! that honours generation preconditions on the uploads the store makes).
//!
//! Tests take the server's URL from `DAFNCK_FAKE_GCS_URL` (set by
//! `scripts/servers/gcs.sh start` or `scripts/test.sh`); without it a test
//! says it is skipped and passes, unless `DAFNCK_REQUIRE_SERVERS=1`, when it
//! fails. Each test works in its own bucket. The race test runs this test
//! binary again as child processes, which open the store through
//! `DAFNCK_GCS_ENDPOINT`, as a program run by a user does.
#![cfg(feature = "gcs")]

#[path = "../common/race.rs"]
mod race;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use dafnck_core::state::{new_id, testing};
use dafnck_stores::gcs::GcsStore;

/// A fresh bucket on fake-gcs-server for one test.
struct FakeGcs {
    endpoint: String,
    bucket: String,
    /// `gs://bucket/state`: the store's URL.
    url: String,
}

async fn fake_gcs(test: &str) -> Option<FakeGcs> {
    let Ok(endpoint) = std::env::var("DAFNCK_FAKE_GCS_URL") else {
        let why = "fake-gcs-server is not available (set DAFNCK_FAKE_GCS_URL: scripts/servers/gcs.sh start, or scripts/test.sh)";
        if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
            panic!("{test}: {why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
        }
        let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
        return None;
    };
    let bucket = format!("t-{test}-{}", &new_id()[..10]).to_lowercase();
    let resp = reqwest::Client::new()
        .post(format!("{endpoint}/storage/v1/b?project=dafnck"))
        .json(&serde_json::json!({ "name": bucket }))
        .send()
        .await
        .unwrap_or_else(|e| panic!("create bucket {bucket} at {endpoint}: {e}"));
    assert!(
        resp.status().is_success(),
        "create bucket {bucket}: {}",
        resp.status()
    );
    Some(FakeGcs {
        url: format!("gs://{bucket}/state"),
        endpoint,
        bucket,
    })
}

impl FakeGcs {
    async fn store(&self) -> GcsStore {
        GcsStore::at(&self.url, Some(&self.endpoint)).await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_passes() {
    let Some(gcs) = fake_gcs("conformance").await else {
        return;
    };
    let checked = testing::conformance(&gcs.store().await).await;
    assert!(
        checked.lock && checked.history && checked.channel,
        "{checked:?}"
    );
}

#[tokio::test]
async fn a_missing_bucket_is_a_clear_error_naming_it() {
    let Some(gcs) = fake_gcs("missing").await else {
        return;
    };
    let url = format!("gs://{}-gone/state", gcs.bucket);
    let e = GcsStore::at(&url, Some(&gcs.endpoint))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("does not exist") && e.contains(&format!("{}-gone", gcs.bucket)),
        "{e}"
    );
    let e = GcsStore::at("s3://x/y", Some(&gcs.endpoint))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("write gs://BUCKET/PREFIX"), "{e}");
}

/// The child: runs `up` until it gets the lock once.
#[test]
#[ignore = "run as a child process by twenty_concurrent_ups_take_turns"]
fn race_child() {
    let url = std::env::var("DAFNCK_TEST_URL").expect("DAFNCK_TEST_URL");
    let cloud_dir = std::env::var("DAFNCK_TEST_CLOUD").expect("DAFNCK_TEST_CLOUD");
    race::child_runtime().block_on(async {
        let store = GcsStore::connect(&url).await.unwrap();
        race::race_child(store, Path::new(&cloud_dir)).await;
    });
}

fn spawn_child(gcs: &FakeGcs, cloud_dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "race_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("DAFNCK_TEST_URL", &gcs.url)
        .env("DAFNCK_TEST_CLOUD", cloud_dir)
        .env("DAFNCK_GCS_ENDPOINT", &gcs.endpoint)
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn a child")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_ups_take_turns() {
    let Some(gcs) = fake_gcs("race").await else {
        return;
    };
    let store = gcs.store().await;
    let cloud_dir = tempfile::tempdir().unwrap();
    let children: Vec<Child> = (0..race::RACERS)
        .map(|_| spawn_child(&gcs, cloud_dir.path()))
        .collect();
    let outputs = race::wait_all(children).await;
    race::check_race(&outputs, &store, cloud_dir.path()).await;
}
