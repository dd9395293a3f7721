//! The command line with its state in Azure Blob Storage: the `fake_cloud`
//! example run as a process with `--state azblob://...` against Azurite,
//! its key in `AZURE_STORAGE_CONNECTION_STRING` as a user's program finds
//! it.
//!
//! Azurite's endpoint and key come from `DAFNCK_AZURITE_URL` and
//! `DAFNCK_AZURITE_KEY` (set by `scripts/servers/azurite.sh start` or
//! `scripts/test.sh`); without them the test says it is skipped and
//! passes, unless `DAFNCK_REQUIRE_SERVERS=1`. It uses its own container.
#![cfg(feature = "azblob")]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use dafnck::core::state::{self, new_id, LockRequest, StateLock};
use dafnck::stores::azblob::{AccountKey, AzblobStore};

const PASSPHRASE: &str = "cli azblob test passphrase";

/// Runs the example in `dir` with the key of `conn`; its exit code, stdout
/// and stderr.
fn run(dir: &Path, conn: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(support::example("fake_cloud"))
        .args(args)
        .current_dir(dir)
        .env_remove("DAFNCK_STACK")
        .env_remove("DAFNCK_STATE_DIR")
        .env_remove("DAFNCK_STATE")
        .env_remove("AZURE_STORAGE_ACCOUNT")
        .env_remove("AZURE_STORAGE_KEY")
        .env_remove("DAFNCK_AZBLOB_ENDPOINT")
        .env("AZURE_STORAGE_CONNECTION_STRING", conn)
        .env("DAFNCK_PASSPHRASE", PASSPHRASE)
        .env("NO_COLOR", "1")
        .output()
        .expect("run the example");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[track_caller]
fn expect(r: &(i32, String, String), code: i32) {
    assert_eq!(r.0, code, "stdout:\n{}\nstderr:\n{}", r.1, r.2);
}

#[test]
fn state_in_azure_blob_storage_end_to_end() {
    let (Ok(endpoint), Ok(key)) = (
        std::env::var("DAFNCK_AZURITE_URL"),
        std::env::var("DAFNCK_AZURITE_KEY"),
    ) else {
        let why = "Azurite is not available (set DAFNCK_AZURITE_URL and DAFNCK_AZURITE_KEY: scripts/servers/azurite.sh start, or scripts/test.sh)";
        assert!(
            std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() != Ok("1"),
            "cli_azblob: {why}, and DAFNCK_REQUIRE_SERVERS=1 requires it"
        );
        eprintln!("skipped cli_azblob: {why}");
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let account = "devstoreaccount1";
    let account_key = AccountKey::new(account, &key, Some(&endpoint)).unwrap();
    let container = format!("t-cli-{}", &new_id()[..10]);
    rt.block_on(
        account_key
            .container_client(&container, Duration::from_secs(20))
            .unwrap()
            .create(None),
    )
    .unwrap();
    let conn = format!("AccountName={account};AccountKey={key};BlobEndpoint={endpoint}");
    let url = format!("azblob://{account}/{container}/team");
    let store = rt
        .block_on(AzblobStore::with_key(&url, &account_key))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();

    let r = run(dir.path(), &conn, &["--state", &url, "up", "--yes"]);
    expect(&r, 0);
    assert!(r.1.contains("Apply complete"), "{}", r.1);
    assert!(
        !dir.path().join(".dafnck/dev").exists(),
        "no state in files"
    );
    let stored = rt.block_on(state::load(&store, "dev")).unwrap();
    assert_eq!(stored.resources.len(), 5);
    let r = run(
        dir.path(),
        &conn,
        &["--state", &url, "preview", "--detailed-exitcode"],
    );
    expect(&r, 0);
    assert!(r.1.contains("No changes"), "{}", r.1);

    // A live lock held elsewhere refuses the run, naming the holder;
    // force-unlock with its id releases it (the holder's lease with it).
    let mut request = LockRequest::for_this_process("up", Duration::from_secs(600));
    request.owner = "alice".into();
    let held = rt.block_on(store.lock("dev", &request)).unwrap();
    let r = run(
        dir.path(),
        &conn,
        &["--state", &url, "up", "--yes", "--config", "size=large"],
    );
    expect(&r, 1);
    assert!(
        r.2.contains("is locked by alice@") && r.2.contains(&format!("lock id {}", held.id)),
        "{}",
        r.2
    );
    let r = run(
        dir.path(),
        &conn,
        &["--state", &url, "state", "force-unlock", &held.id],
    );
    expect(&r, 0);
    assert_eq!(rt.block_on(store.lock_info("dev")).unwrap(), None);
    assert!(
        rt.block_on(store.renew("dev", &held)).is_err(),
        "the holder lost it"
    );

    let r = run(
        dir.path(),
        &conn,
        &["--state", &url, "up", "--yes", "--config", "size=large"],
    );
    expect(&r, 0);
    expect(
        &run(dir.path(), &conn, &["--state", &url, "destroy", "--yes"]),
        0,
    );
    let stored = rt.block_on(state::load(&store, "dev")).unwrap();
    assert!(stored.resources.is_empty());
}
