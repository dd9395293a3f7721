//! The store itself: conformance, a crash mid-compaction, damaged objects,
//! missing buckets, unreachable endpoints, refused appends.

use std::time::{Duration, Instant};

use dafnck_core::state::{self, testing, Entry, Record, State, StateError, StateStore, Stored};
use dafnck_core::state::{StateHistory, StateLock};
use dafnck_core::testing::FakeCloud;
use dafnck_core::Value;
use dafnck_stores::s3::S3Store;

use super::{engine, moto, program, sdk_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_passes() {
    let Some(moto) = moto("conformance").await else {
        return;
    };
    let checked = testing::conformance(&moto.store().await).await;
    assert!(
        checked.lock && checked.history && checked.channel,
        "{checked:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_messages_are_carried() {
    let Some(moto) = moto("controls").await else {
        return;
    };
    testing::check_channel(&moto.store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_kept() {
    let Some(moto) = moto("history").await else {
        return;
    };
    let store = moto.store().await;
    testing::check_history(&store).await;
    // A save that died between the state and its entry left a state that
    // is no version; the next save of that number replaces it.
    let keys = moto.keys().await;
    let some_state = keys
        .iter()
        .find(|k| k.ends_with("/00000000000000000001/state.json"))
        .expect("a version's state object");
    let stack_dir = some_state.split("versions/").next().unwrap();
    let orphan = format!("{stack_dir}versions/00000000000000000009/state.json");
    moto.put(&orphan, b"{\"left\": \"by a dead run\"}").await;
    let stack = stack_dir.trim_start_matches("state/").trim_end_matches('/');
    assert_eq!(store.read_version(stack, 9).await.unwrap(), None);
    let mut state = State::empty(stack);
    state.serial = 90;
    let info = state::VersionInfo {
        version: 9,
        at: 9,
        by: "t@h".into(),
        operation: "up".into(),
        summary: "s".into(),
        serial: 90,
        ..Default::default()
    };
    store.save_version(stack, &info, &state).await.unwrap();
    assert_eq!(store.read_version(stack, 9).await.unwrap(), Some(state));
    assert_eq!(store.versions(stack).await.unwrap().last(), Some(&info));
}

fn record(seq: u64, name: &str) -> Record {
    let entry = if seq == 1 {
        Entry::Init {
            lineage: "lineage".into(),
        }
    } else {
        Entry::Outputs {
            outputs: [(name.to_owned(), Value::Int(seq as i64))].into(),
        }
    };
    Record { seq, at: 1, entry }
}

/// A compaction that wrote its snapshot and died before deleting the
/// batches it covers: reads skip them, the state is the same, and the next
/// compaction deletes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_compaction_reads_the_new_snapshot_and_the_rest() {
    let Some(moto) = moto("midcompact").await else {
        return;
    };
    let store = moto.store().await;
    let records: Vec<Record> = (1..=9).map(|s| record(s, &format!("o{s}"))).collect();
    for batch in [&records[..3], &records[3..5], &records[5..]] {
        store.append("dev", batch).await.unwrap();
    }
    let before = state::load(&store, "dev").await.unwrap();
    // What compaction writes first: the snapshot of records 1..=4, which
    // ends inside the second batch (4..=5).
    let snapshot = State::replay(
        "dev",
        Stored {
            snapshot: None,
            journal: records[..4].to_vec(),
        },
        "test",
    )
    .unwrap();
    moto.put(
        "state/dev/snapshot.json",
        &serde_json::to_vec(&snapshot).unwrap(),
    )
    .await;
    let stored = store.read("dev").await.unwrap();
    assert_eq!(stored.snapshot.as_ref(), Some(&snapshot));
    assert_eq!(stored.journal, records[4..].to_vec());
    assert_eq!(state::load(&store, "dev").await.unwrap(), before);

    // The next compaction deletes the batches its snapshot covers.
    store.compact("dev", &before).await.unwrap();
    let keys = moto.keys().await;
    assert_eq!(keys, vec!["state/dev/snapshot.json".to_owned()], "{keys:?}");
    assert_eq!(
        store.read("dev").await.unwrap(),
        Stored {
            snapshot: Some(before.clone()),
            journal: vec![],
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_number_that_is_taken_is_refused() {
    let Some(moto) = moto("taken").await else {
        return;
    };
    let store = moto.store().await;
    let other = moto.store().await;
    store.append("dev", &[record(1, "a")]).await.unwrap();
    // The same batch again: the SDK's retry of a write that landed.
    store.append("dev", &[record(1, "a")]).await.unwrap();
    let e = other
        .append("dev", &[record(1, "b"), record(2, "b")])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("already has a journal record numbered 1") && e.contains("nothing was appended"),
        "{e}"
    );
    assert_eq!(
        store.read("dev").await.unwrap().journal,
        vec![record(1, "a")]
    );
    let e = store
        .append("dev", &[record(2, "a"), record(4, "a")])
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("do not follow each other"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_object_is_named_and_never_overwritten() {
    let Some(moto) = moto("corrupt").await else {
        return;
    };
    let store = moto.store().await;
    let cloud = FakeCloud::new();
    let engine = engine(store.clone(), "dev", &cloud, Duration::from_secs(60));
    engine.up(program("a"), false).await.unwrap();
    let key = "state/dev/snapshot.json";
    let damaged = br#"{"stack":"dev","serial":"#;
    moto.put(key, damaged).await;

    let e = store.read("dev").await.unwrap_err();
    let StateError::Corrupt { location, message } = &e else {
        panic!("expected Corrupt, got {e:?}");
    };
    assert!(
        location.contains(&format!("s3://{}/{key}", moto.bucket)),
        "{location}"
    );
    assert!(message.contains("does not parse"), "{message}");
    let e = engine
        .up(program("b"), false)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("is corrupt") && e.contains(key), "{e}");
    let e = store
        .compact("dev", &State::empty("dev"))
        .await
        .unwrap_err();
    assert!(matches!(e, StateError::Corrupt { .. }), "{e:?}");
    assert_eq!(moto.get(key).await, damaged, "the damaged object was kept");
    // The failed up released its lock.
    assert_eq!(store.lock_info("dev").await.unwrap(), None);

    // A damaged batch is named by its key.
    store.append("other", &[record(1, "x")]).await.unwrap();
    let batch = "state/other/journal/00000000000000000001.jsonl";
    moto.put(batch, b"not json\n").await;
    let e = store.read("other").await.unwrap_err().to_string();
    assert!(e.contains(batch) && e.contains("is damaged"), "{e}");
    // So is a stray object in the journal folder, and a damaged lock.
    moto.put("state/third/journal/notes.txt", b"hello").await;
    let e = store.read("third").await.unwrap_err().to_string();
    assert!(e.contains("state/third/journal/notes.txt"), "{e}");
    moto.put("state/third/lock.json", b"{").await;
    let e = store.lock_info("third").await.unwrap_err().to_string();
    assert!(
        e.contains("state/third/lock.json") && e.contains("is corrupt"),
        "{e}"
    );
}

#[tokio::test]
async fn a_missing_bucket_is_a_clear_error_naming_it() {
    let Some(moto) = moto("nobucket").await else {
        return;
    };
    let config = sdk_config(&moto.endpoint).await;
    let missing = format!("{}-missing", moto.bucket);
    let e = S3Store::with_config(&format!("s3://{missing}/state"), &config)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("the bucket {missing:?} does not exist")) && e.contains(&moto.endpoint),
        "{e}"
    );
    // A bucket deleted after the store was opened: the same error.
    let store = moto.store().await;
    moto.client
        .delete_bucket()
        .bucket(&moto.bucket)
        .send()
        .await
        .unwrap();
    let e = store.read("dev").await.unwrap_err().to_string();
    assert!(
        e.contains(&format!("the bucket {:?} does not exist", moto.bucket)),
        "{e}"
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_clear_error_not_a_hang() {
    // A port nobody listens on: refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let e = S3Store::with_config("s3://team-state/p", &sdk_config(&endpoint).await)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("cannot reach S3 at {endpoint}")) && e.contains("s3://team-state/p"),
        "{e}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );

    // A server that accepts and never answers: the timeout ends it.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let started = Instant::now();
    let e = S3Store::with_config(
        "s3://team-state/p?timeout=0.5",
        &sdk_config(&endpoint).await,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains(&format!("no answer from {endpoint} within the timeout")),
        "{e}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    held.abort();
}

/// Stacks whose names hold `/` or extend one another keep apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_names_are_one_key_segment() {
    let Some(moto) = moto("names").await else {
        return;
    };
    let store = moto.store().await;
    store.append("team/dev", &[record(1, "a")]).await.unwrap();
    store
        .append("team", &[record(1, "b"), record(2, "b")])
        .await
        .unwrap();
    assert_eq!(store.read("team/dev").await.unwrap().journal.len(), 1);
    assert_eq!(store.read("team").await.unwrap().journal.len(), 2);
    let keys = moto.keys().await;
    assert!(
        keys.contains(&"state/team%2Fdev/journal/00000000000000000001.jsonl".to_owned()),
        "{keys:?}"
    );
    let e = store.read("").await.unwrap_err().to_string();
    assert!(e.contains("empty"), "{e}");
}
