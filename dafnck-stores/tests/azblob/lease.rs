//! The lock is a blob lease: held, forced open, broken out of band, and
//! left by a holder killed mid-run.

use std::path::Path;
use std::time::Duration;

use azure_core::http::RequestContent;
use azure_storage_blob::models::{
    BlobClientBreakLeaseOptions, BlobClientGetPropertiesResultHeaders, LeaseDuration, LeaseState,
};
use dafnck_core::state::{LockRequest, StateError, StateLock};
use dafnck_core::testing::FakeCloud;
use dafnck_stores::azblob::AzblobStore;

use super::race::{child_runtime, engine, program};
use super::{azurite, child_store};

/// The lock blob of `stack` in a store at `.../state`.
fn lock_blob(store: &AzblobStore, stack: &str) -> azure_storage_blob::BlobClient {
    store
        .container_client()
        .blob_client(&format!("state/{stack}/lock.json"))
}

fn request(owner: &str, lease: Duration) -> LockRequest {
    let mut r = LockRequest::for_this_process("up", lease);
    r.owner = owner.into();
    r
}

#[tokio::test]
async fn a_held_lock_is_an_infinite_blob_lease_only_its_holder_writes() {
    let Some(az) = azurite("held").await else {
        return;
    };
    let (a, b) = (az.store().await, az.store().await);
    let held = a
        .lock("dev", &request("alice", Duration::from_secs(60)))
        .await
        .unwrap();
    let props = lock_blob(&a, "dev").get_properties(None).await.unwrap();
    assert_eq!(props.lease_state().unwrap(), Some(LeaseState::Leased));
    assert_eq!(props.duration().unwrap(), Some(LeaseDuration::Infinite));

    // A second holder is refused, naming the first.
    let e = b
        .lock("dev", &request("bob", Duration::from_secs(60)))
        .await
        .unwrap_err();
    let StateError::Locked { holder, .. } = &e else {
        panic!("expected Locked, got {e}");
    };
    assert_eq!(
        (holder.id.as_str(), holder.owner.as_str()),
        (held.id.as_str(), "alice")
    );
    let text = e.to_string();
    assert!(
        text.contains("is locked by") && text.contains("alice"),
        "{text}"
    );

    // Without the lease nobody rewrites the lock blob.
    let overwrite = lock_blob(&a, "dev")
        .upload(RequestContent::from(b"{}".to_vec()), None)
        .await;
    assert_eq!(
        overwrite.unwrap_err().http_status().map(u16::from),
        Some(412),
        "an unleased write of a leased blob is refused"
    );
    let renewed = a.renew("dev", &held).await.unwrap();
    assert!(renewed.expires_at >= held.expires_at);
    a.unlock("dev", &held.id).await.unwrap();
    assert!(
        !lock_blob(&a, "dev").exists().await.unwrap(),
        "released: the blob is gone"
    );
    let again = b
        .lock("dev", &request("bob", Duration::from_secs(60)))
        .await
        .unwrap();
    b.unlock("dev", &again.id).await.unwrap();
}

#[tokio::test]
async fn force_unlock_and_a_lease_broken_out_of_band_end_the_holders_lock() {
    let Some(az) = azurite("forced").await else {
        return;
    };
    let (a, b) = (az.store().await, az.store().await);

    // force-unlock: another run releases the lock by its id.
    let held = a
        .lock("dev", &request("alice", Duration::from_secs(60)))
        .await
        .unwrap();
    let shown = b.lock_info("dev").await.unwrap().expect("held");
    b.unlock("dev", &shown.id).await.unwrap();
    assert!(matches!(
        a.renew("dev", &held).await,
        Err(StateError::LockLost { .. })
    ));
    let bobs = b
        .lock("dev", &request("bob", Duration::from_secs(60)))
        .await
        .unwrap();
    assert!(matches!(
        a.unlock("dev", &held.id).await,
        Err(StateError::LockLost { .. })
    ));
    b.unlock("dev", &bobs.id).await.unwrap();

    // `az storage blob lease break`: the holder's renewals are refused,
    // and its release still deletes the lock.
    let held = a
        .lock("dev", &request("alice", Duration::from_secs(60)))
        .await
        .unwrap();
    lock_blob(&a, "dev")
        .break_lease(Some(BlobClientBreakLeaseOptions {
            break_period: Some(0),
            ..Default::default()
        }))
        .await
        .unwrap();
    assert!(matches!(
        a.renew("dev", &held).await,
        Err(StateError::LockLost { .. })
    ));
    a.unlock("dev", &held.id).await.unwrap();
    assert_eq!(b.lock_info("dev").await.unwrap(), None);
}

/// The child: applies `program("a")` with a 2 s lease against a fake cloud
/// whose creates take a minute, so it is killed mid-operation.
#[test]
#[ignore = "run as a child process by a_killed_holder_is_taken_over_after_its_lease"]
fn lease_child() {
    let cloud_dir = std::env::var("DAFNCK_TEST_CLOUD").expect("DAFNCK_TEST_CLOUD");
    child_runtime().block_on(async {
        let cloud = FakeCloud::in_dir(Path::new(&cloud_dir))
            .unwrap()
            .with_latency(Duration::from_secs(60));
        let engine = engine(child_store().await, "dev", &cloud, Duration::from_secs(2));
        println!("applying");
        engine.up(program("a"), false).await.unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_holder_is_taken_over_after_its_lease_and_its_pending_work_recovered() {
    let Some(az) = azurite("killed").await else {
        return;
    };
    let cloud_dir = tempfile::tempdir().unwrap();
    let store = az.store().await;
    let child = az.spawn_child("lease::lease_child", cloud_dir.path());
    let child_pid = child.id();
    // Killed inside a provider call: the blob lease stays, its lease time
    // runs out.
    super::race::kill_mid_operation(child, &store).await;

    let cloud = FakeCloud::in_dir(cloud_dir.path()).unwrap();
    let rerun = engine(store.clone(), "dev", &cloud, Duration::from_secs(60));
    let e = rerun.up(program("a"), false).await.unwrap_err();
    let dafnck_core::Error::State(StateError::Locked { holder, .. }) = &e else {
        panic!("expected the dead run's live lease to refuse the rerun, got {e}");
    };
    assert_eq!(holder.pid, child_pid);
    assert!(e.to_string().contains("force-unlock"), "{e}");

    // After the lease the rerun breaks the blob lease, takes the lock over
    // and converges.
    super::race::rerun_takes_over(&rerun, &store, &cloud).await;
}
