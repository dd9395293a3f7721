//! The Azure Blob state store against Azurite on 127.0.0.1.
//!
//! Tests take Azurite's endpoint and key from `DAFNCK_AZURITE_URL` and
//! `DAFNCK_AZURITE_KEY` (set by `scripts/servers/azurite.sh start` or
//! `scripts/test.sh`); without them a test says it is skipped and passes,
//! unless `DAFNCK_REQUIRE_SERVERS=1`, when it fails. Each test works in its
//! own container. The process tests run this test binary again as child
//! processes, which open the store through `AzblobStore::connect` and
//! `AZURE_STORAGE_CONNECTION_STRING`, as a program run by a user does.
#![cfg(feature = "azblob")]

#[path = "../common/race.rs"]
mod race;

mod lease;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dafnck_core::state::{new_id, testing};
use dafnck_stores::azblob::{AccountKey, AzblobStore};

/// A fresh container on Azurite for one test.
pub(crate) struct Azurite {
    key: AccountKey,
    connection_string: String,
    container: String,
    /// `azblob://devstoreaccount1/container/state`: the store's URL.
    url: String,
}

pub(crate) async fn azurite(test: &str) -> Option<Azurite> {
    let (Ok(endpoint), Ok(key)) = (
        std::env::var("DAFNCK_AZURITE_URL"),
        std::env::var("DAFNCK_AZURITE_KEY"),
    ) else {
        let why = "Azurite is not available (set DAFNCK_AZURITE_URL and DAFNCK_AZURITE_KEY: scripts/servers/azurite.sh start, or scripts/test.sh)";
        if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
            panic!("{test}: {why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
        }
        let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
        return None;
    };
    let account = "devstoreaccount1";
    let key = AccountKey::new(account, &key, Some(&endpoint)).unwrap();
    let container = format!("t-{test}-{}", &new_id()[..10]).to_lowercase();
    key.container_client(&container, Duration::from_secs(20))
        .unwrap()
        .create(None)
        .await
        .unwrap_or_else(|e| panic!("create container {container} at {endpoint}: {e}"));
    Some(Azurite {
        connection_string: format!(
            "DefaultEndpointsProtocol=http;AccountName={account};AccountKey={};BlobEndpoint={endpoint};",
            std::env::var("DAFNCK_AZURITE_KEY").unwrap()
        ),
        url: format!("azblob://{account}/{container}/state"),
        key,
        container,
    })
}

impl Azurite {
    pub(crate) async fn store(&self) -> AzblobStore {
        AzblobStore::with_key(&self.url, &self.key).await.unwrap()
    }

    /// A child process of this test binary running `test`, given the store
    /// URL and the fake cloud's folder, opening the store from the
    /// environment.
    pub(crate) fn spawn_child(&self, test: &str, cloud_dir: &Path) -> Child {
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                test,
                "--nocapture",
                "--test-threads=1",
            ])
            .env("DAFNCK_TEST_URL", &self.url)
            .env("DAFNCK_TEST_CLOUD", cloud_dir)
            .env("AZURE_STORAGE_CONNECTION_STRING", &self.connection_string)
            .env_remove("AZURE_STORAGE_ACCOUNT")
            .env_remove("AZURE_STORAGE_KEY")
            .env_remove("DAFNCK_AZBLOB_ENDPOINT")
            .env("RUST_BACKTRACE", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn a child")
    }
}

/// A child's store, from `DAFNCK_TEST_URL` and the environment's key.
pub(crate) async fn child_store() -> AzblobStore {
    let url = std::env::var("DAFNCK_TEST_URL").expect("DAFNCK_TEST_URL");
    AzblobStore::connect(&url).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_passes() {
    let Some(az) = azurite("conformance").await else {
        return;
    };
    let checked = testing::conformance(&az.store().await).await;
    assert!(
        checked.lock && checked.history && checked.channel,
        "{checked:?}"
    );
}

#[tokio::test]
async fn stack_names_with_slashes_and_percents_round_trip() {
    let Some(az) = azurite("names").await else {
        return;
    };
    let store = az.store().await;
    // Keys then hold `%2F` and `%25`, which the URL path escapes again:
    // the signature must cover the path as sent.
    testing::check_append_read(&store).await;
    use dafnck_core::state::{LockRequest, StateLock};
    let request = LockRequest::for_this_process("up", Duration::from_secs(60));
    let held = store.lock("team/dev 100%", &request).await.unwrap();
    assert_eq!(
        store.lock_info("team/dev 100%").await.unwrap(),
        Some(held.clone())
    );
    store.unlock("team/dev 100%", &held.id).await.unwrap();
}

#[tokio::test]
async fn a_missing_container_or_a_wrong_key_is_a_clear_error() {
    let Some(az) = azurite("missing").await else {
        return;
    };
    let url = format!("azblob://devstoreaccount1/{}-gone/state", az.container);
    let e = AzblobStore::with_key(&url, &az.key)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("does not exist") && e.contains(&format!("{}-gone", az.container)),
        "{e}"
    );
    let wrong =
        AccountKey::new("devstoreaccount1", "d3Jvbmcga2V5", Some(az.key.endpoint())).unwrap();
    let e = AzblobStore::with_key(&az.url, &wrong)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("refused the key"), "{e}");
    let other = AccountKey::new("otheraccount", "d3Jvbmcga2V5", Some(az.key.endpoint())).unwrap();
    let e = AzblobStore::with_key(&az.url, &other)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the key is for storage account \"otheraccount\""),
        "{e}"
    );
    let e = AzblobStore::with_key("gs://x/y", &az.key)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("write azblob://ACCOUNT/CONTAINER/PREFIX"), "{e}");
}

/// The child: runs `up` until it gets the lock once.
#[test]
#[ignore = "run as a child process by twenty_concurrent_ups_take_turns"]
fn race_child() {
    let cloud_dir = std::env::var("DAFNCK_TEST_CLOUD").expect("DAFNCK_TEST_CLOUD");
    race::child_runtime().block_on(async {
        race::race_child(child_store().await, Path::new(&cloud_dir)).await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_ups_take_turns() {
    let Some(az) = azurite("race").await else {
        return;
    };
    let store = az.store().await;
    let cloud_dir = tempfile::tempdir().unwrap();
    let children: Vec<Child> = (0..race::RACERS)
        .map(|_| az.spawn_child("race_child", cloud_dir.path()))
        .collect();
    let outputs = race::wait_all(children).await;
    race::check_race(&outputs, &store, cloud_dir.path()).await;
}
