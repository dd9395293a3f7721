//! Tests of the file store: torn tails, corruption, compaction, locks.

use std::time::Duration;

use super::*;
use crate::state::envelope::crc32;
use crate::state::{Entry, ResourceState, VersionInfo};
use crate::value::Value;

fn put(seq: u64, name: &str) -> Record {
    Record {
        seq,
        at: 1_700_000_000_000 + seq,
        entry: Entry::Put {
            resource: ResourceState {
                name: name.into(),
                type_name: "fake:t:T".into(),
                id: format!("{name}-id"),
                inputs: Value::Map(crate::value::ValueMap::from([(
                    "size".to_owned(),
                    Value::Int(seq as i64),
                )])),
                outputs: Value::Null,
                dependencies: vec![],
                protect: false,
                retain_on_delete: false,
                location: None,
                provider: None,
            },
        },
    }
}

fn journal_of(dir: &Path, stack: &str) -> PathBuf {
    dir.join(stack).join(JOURNAL)
}

fn append_raw(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn crc32_check_value() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
}

#[test]
fn stack_names_are_checked() {
    for bad in ["", "a/b", "..", "a..b", ".", "a\nb", "a\0b", "a\\b"] {
        let err = check_stack(bad).unwrap_err().to_string();
        assert!(err.contains("invalid stack name"), "{bad:?}: {err}");
    }
    for good in ["dev", "prod-eu.1", ".hidden", "my_stack"] {
        check_stack(good).unwrap();
    }
}

#[tokio::test]
async fn invalid_stack_names_touch_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::new(tmp.path().join("state"));
    let err = store.append("../escape", &[put(1, "a")]).await.unwrap_err();
    assert!(matches!(err, StateError::Backend { .. }), "{err}");
    assert!(store.read("a/b").await.is_err());
    assert!(!tmp.path().join("state").exists());
    assert!(!tmp.path().join("escape").exists());
}

#[tokio::test]
async fn layout_and_line_format() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::new(tmp.path().join(".dafnck"));
    store
        .append("dev", &[put(1, "a"), put(2, "b")])
        .await
        .unwrap();
    let text = fs::read_to_string(journal_of(store.root(), "dev")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    for (line, seq) in lines.iter().zip(1..) {
        let (crc, json) = line.split_once('\t').unwrap();
        assert_eq!(crc, format!("{:08x}", crc32(json.as_bytes())));
        let record: Record = serde_json::from_str(json).unwrap();
        assert_eq!(record.seq, seq);
    }
    assert!(text.ends_with('\n'));
    let mut snap = State::empty("dev");
    snap.serial = 1;
    store.compact("dev", &snap).await.unwrap();
    // The snapshot: a header line with the format, the checksum of the
    // header's first field and the pretty JSON after it, and the JSON's
    // length.
    let bytes = fs::read(store.root().join("dev").join(SNAPSHOT)).unwrap();
    let (header, json) = bytes.split_at(bytes.iter().position(|&b| b == b'\n').unwrap() + 1);
    assert_eq!(
        std::str::from_utf8(header).unwrap(),
        format!(
            "dafnck-state/4 crc32={:08x} len={}\n",
            crc32(&[&b"dafnck-state/4 "[..], json].concat()),
            json.len()
        )
    );
    let on_disk: State = serde_json::from_slice(json).unwrap();
    assert_eq!(on_disk, snap);
    assert!(!store.root().join("dev").join("snapshot.json.tmp").exists());
    let stored = store.read("dev").await.unwrap();
    assert_eq!(stored.journal, vec![put(2, "b")]);
}

#[tokio::test]
async fn torn_tail_is_dropped_on_read_and_cut_on_append() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::new(tmp.path());
    store
        .append("dev", &[put(1, "a"), put(2, "b")])
        .await
        .unwrap();
    let path = journal_of(tmp.path(), "dev");
    let good = fs::read(&path).unwrap();

    // A crash mid-write: a partial line without its newline.
    append_raw(&path, b"1234abcd\t{\"seq\":3,\"at\":");
    let torn = fs::read(&path).unwrap();
    assert_eq!(
        store.read("dev").await.unwrap().journal,
        vec![put(1, "a"), put(2, "b")]
    );
    // A fresh store (no cached length) reads the same.
    let fresh = FileStore::new(tmp.path());
    assert_eq!(fresh.read("dev").await.unwrap().journal.len(), 2);
    assert_eq!(
        fs::read(&path).unwrap(),
        torn,
        "read must not modify the journal"
    );

    store.append("dev", &[put(3, "c")]).await.unwrap();
    let after = fs::read(&path).unwrap();
    assert!(after.starts_with(&good));
    assert_eq!(after.iter().filter(|&&b| b == b'\n').count(), 3);
    assert_eq!(
        store.read("dev").await.unwrap().journal,
        vec![put(1, "a"), put(2, "b"), put(3, "c")]
    );

    // A complete final line whose checksum fails is torn too; the fresh
    // store has not seen the file's current length and re-scans it.
    let mut bad = format!("{:08x}\t", 0u32).into_bytes();
    bad.extend_from_slice(&serde_json::to_vec(&put(4, "d")).unwrap());
    bad.push(b'\n');
    append_raw(&path, &bad);
    assert_eq!(fresh.read("dev").await.unwrap().journal.len(), 3);
    fresh.append("dev", &[put(4, "d")]).await.unwrap();
    let journal = store.read("dev").await.unwrap().journal;
    assert_eq!(
        journal.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(journal[3], put(4, "d"));
}

#[tokio::test]
async fn damage_before_the_last_line_is_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::new(tmp.path());
    store
        .append("dev", &[put(1, "a"), put(2, "b"), put(3, "c")])
        .await
        .unwrap();
    let path = journal_of(tmp.path(), "dev");
    let mut bytes = fs::read(&path).unwrap();
    let second = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    // Flip a letter inside the second record's JSON.
    let at = second + 9 + bytes[second + 9..].iter().position(|&b| b == b'a').unwrap();
    bytes[at] = b'b';
    fs::write(&path, &bytes).unwrap();

    let err = store.read("dev").await.unwrap_err();
    match &err {
        StateError::Damaged { location, message } => {
            assert!(location.ends_with("journal.jsonl:2"), "{location}");
            assert!(message.contains("checksum"), "{message}");
        }
        other => panic!("expected Damaged, got {other}"),
    }
    // Appending after the damage is refused, whatever this store saw.
    let err = store.append("dev", &[put(4, "d")]).await.unwrap_err();
    assert!(matches!(err, StateError::Damaged { .. }), "{err}");
    let err = FileStore::new(tmp.path())
        .append("dev", &[put(4, "d")])
        .await
        .unwrap_err();
    assert!(matches!(err, StateError::Damaged { .. }), "{err}");
    let mut snap = State::empty("dev");
    snap.serial = 1;
    assert!(matches!(
        store.compact("dev", &snap).await,
        Err(StateError::Damaged { .. })
    ));
    assert_eq!(fs::read(&path).unwrap(), bytes);
    assert!(!tmp.path().join("dev").join(SNAPSHOT).exists());
}

#[tokio::test]
async fn an_unparsable_snapshot_is_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::new(tmp.path());
    store.append("dev", &[put(1, "a")]).await.unwrap();
    let snapshot = tmp.path().join("dev").join(SNAPSHOT);
    let garbage = b"{\n  \"stack\": \"dev\",\n  \"serial\": oops\n}\n".to_vec();
    fs::write(&snapshot, &garbage).unwrap();
    let journal = fs::read(journal_of(tmp.path(), "dev")).unwrap();

    match store.read("dev").await.unwrap_err() {
        StateError::Corrupt { location, .. } => {
            assert!(location.contains("snapshot.json:3:"), "{location}")
        }
        other => panic!("expected Corrupt, got {other}"),
    }
    let mut snap = State::empty("dev");
    snap.serial = 1;
    let err = store.compact("dev", &snap).await.unwrap_err();
    assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("snapshot.json"), "{err}");
    assert_eq!(fs::read(&snapshot).unwrap(), garbage);
    assert_eq!(fs::read(journal_of(tmp.path(), "dev")).unwrap(), journal);
    assert!(!tmp.path().join("dev").join("snapshot.json.tmp").exists());
}

#[tokio::test]
async fn a_crash_between_snapshot_and_journal_rewrite_reads_fine() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::new(tmp.path());
    let records: Vec<Record> = (1..=4).map(|i| put(i, &format!("r{i}"))).collect();
    store.append("dev", &records).await.unwrap();
    let before = crate::state::load(&store, "dev").await.unwrap();
    // What a crash after the snapshot's rename leaves: a new snapshot and
    // the old journal.
    let snap = State::replay(
        "dev",
        Stored {
            snapshot: None,
            journal: records[..2].to_vec(),
        },
        "test",
    )
    .unwrap();
    fs::write(
        tmp.path().join("dev").join(SNAPSHOT),
        serde_json::to_vec(&snap).unwrap(),
    )
    .unwrap();
    assert_eq!(crate::state::load(&store, "dev").await.unwrap(), before);
    // Compacting again finishes the job.
    store.compact("dev", &snap).await.unwrap();
    assert_eq!(
        store.read("dev").await.unwrap().journal,
        records[2..].to_vec()
    );
    assert_eq!(crate::state::load(&store, "dev").await.unwrap(), before);
}

#[tokio::test]
async fn a_compaction_streams_a_long_journal_keeping_what_the_snapshot_does_not_cover() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::new(tmp.path());
    // Far more than the scan's 64 KB buffer, so lines straddle its refills.
    let records: Vec<Record> = (1..=2_000).map(|i| put(i, &format!("r{i}"))).collect();
    store.append("dev", &records).await.unwrap();
    let path = journal_of(tmp.path(), "dev");
    assert!(fs::metadata(&path).unwrap().len() > 4 * 65_536);
    let clean = fs::read(&path).unwrap();
    let snap = State::replay(
        "dev",
        Stored {
            snapshot: None,
            journal: records[..1_500].to_vec(),
        },
        "test",
    )
    .unwrap();

    // Damage in the middle, past the first buffers: refused, naming the
    // line, and nothing is written.
    let mut damaged = clean.clone();
    let line = 1_234;
    let at = damaged
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .nth(line - 2)
        .map(|(i, _)| i + 1 + 20)
        .unwrap();
    damaged[at] ^= 1;
    fs::write(&path, &damaged).unwrap();
    let fresh = FileStore::new(tmp.path());
    match fresh.compact("dev", &snap).await.unwrap_err() {
        StateError::Damaged { location, .. } => {
            assert!(
                location.ends_with(&format!("journal.jsonl:{line}")),
                "{location}"
            )
        }
        other => panic!("expected Damaged, got {other}"),
    }
    assert_eq!(fs::read(&path).unwrap(), damaged);
    assert!(!tmp.path().join("dev").join(SNAPSHOT).exists());

    // A torn final line: dropped, and the records after the snapshot kept
    // byte for byte.
    fs::write(&path, &clean).unwrap();
    append_raw(&path, b"1234abcd\t{\"seq\":2001,");
    fresh.compact("dev", &snap).await.unwrap();
    let kept_from = clean
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .nth(1_499)
        .map(|(i, _)| i + 1)
        .unwrap();
    assert_eq!(fs::read(&path).unwrap(), clean[kept_from..]);
    assert_eq!(
        fresh.read("dev").await.unwrap().journal,
        records[1_500..].to_vec()
    );
    let whole = State::replay(
        "dev",
        Stored {
            snapshot: None,
            journal: records.clone(),
        },
        "test",
    )
    .unwrap();
    assert_eq!(crate::state::load(&fresh, "dev").await.unwrap(), whole);

    // A snapshot covering everything leaves an empty journal.
    fresh.compact("dev", &whole).await.unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"");
    assert_eq!(crate::state::load(&fresh, "dev").await.unwrap(), whole);
}

#[tokio::test]
async fn a_lock_of_a_dead_process_is_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::new(tmp.path());
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();

    let mut dead = LockRequest::for_this_process("up", Duration::from_secs(3600));
    dead.pid = dead_pid;
    let stale = store.lock("dev", &dead).await.unwrap();
    let me = LockRequest::for_this_process("destroy", Duration::from_secs(60));
    let taken = store.lock("dev", &me).await.unwrap();
    assert_ne!(taken.id, stale.id);
    assert_eq!(store.lock_info("dev").await.unwrap(), Some(taken.clone()));
    assert!(matches!(
        store.renew("dev", &stale).await,
        Err(StateError::LockLost { .. })
    ));

    // A live holder keeps it.
    match store.lock("dev", &dead).await {
        Err(StateError::Locked { holder, .. }) => assert_eq!(*holder, taken),
        other => panic!("expected Locked, got {other:?}"),
    }
    // A dead pid on another host says nothing: wait for the lease.
    store.unlock("dev", &taken.id).await.unwrap();
    let mut elsewhere = dead.clone();
    elsewhere.host = format!("not-{}", dead.host);
    let remote = store.lock("dev", &elsewhere).await.unwrap();
    match store.lock("dev", &me).await {
        Err(StateError::Locked { holder, .. }) => assert_eq!(*holder, remote),
        other => panic!("expected Locked, got {other:?}"),
    }
}

#[tokio::test]
async fn renew_keeps_the_original_lease() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::new(tmp.path());
    let req = LockRequest::for_this_process("up", Duration::from_secs(30));
    let lock = store.lock("dev", &req).await.unwrap();
    let before = now_millis();
    let renewed = store.renew("dev", &lock).await.unwrap();
    assert_eq!(renewed.id, lock.id);
    assert!(renewed.expires_at >= before + 30_000);
    assert!(renewed.expires_at <= now_millis() + 30_000);
    // Renew and unlock of a stack never written lose nothing and create nothing.
    assert!(matches!(
        store.renew("nope", &lock).await,
        Err(StateError::LockLost { .. })
    ));
    assert!(matches!(
        store.unlock("nope", &lock.id).await,
        Err(StateError::LockLost { .. })
    ));
    assert!(!tmp.path().join("nope").exists());
}

#[tokio::test]
async fn appends_cost_their_own_size_and_one_fsync() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::new(tmp.path().join(".dafnck"));
    let n = 300u64;
    store.append("dev", &[put(1, "r")]).await.unwrap();
    let first = store.bytes_written("dev");
    let fsyncs = store.fsyncs();
    for seq in 2..=n {
        store.append("dev", &[put(seq, "r")]).await.unwrap();
    }
    let total = store.bytes_written("dev");
    // Each line is the same size give or take the digits of seq: the
    // total is linear in N, nowhere near N^2/2 lines.
    assert!(
        total <= n * (first + 8),
        "{total} bytes for {n} records of ~{first}"
    );
    assert!(
        total >= n * first,
        "{total} bytes for {n} records of ~{first}"
    );
    assert_eq!(
        total,
        fs::metadata(journal_of(store.root(), "dev")).unwrap().len()
    );
    assert_eq!(store.fsyncs() - fsyncs, n - 1, "one fsync per append");

    // A batch is one fsync too.
    let fsyncs = store.fsyncs();
    let batch: Vec<Record> = (n + 1..=n + 50).map(|s| put(s, "r")).collect();
    store.append("dev", &batch).await.unwrap();
    assert_eq!(store.fsyncs() - fsyncs, 1);
    assert_eq!(
        store.read("dev").await.unwrap().journal.len() as u64,
        n + 50
    );
}

#[tokio::test]
async fn a_version_of_the_state_just_compacted_is_a_copy_of_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path());
    let mut state = State::empty("dev");
    for seq in 1..=3 {
        state.apply(&put(seq, &format!("r{seq}"))).unwrap();
    }
    store.compact("dev", &state).await.unwrap();
    let info = |version: u64, serial: u64| VersionInfo {
        version,
        at: 1_000 * version,
        by: "tester@host".into(),
        operation: "up".into(),
        summary: format!("version {version}"),
        serial,
        ..Default::default()
    };
    store
        .save_compacted_version("dev", &info(1, 3), &state)
        .await
        .unwrap();
    let snapshot = fs::read(dir.path().join("dev").join(SNAPSHOT)).unwrap();
    let version = |v: u64| {
        fs::read(
            dir.path()
                .join("dev")
                .join(HISTORY)
                .join(format!("{v}.json")),
        )
    };
    assert_eq!(version(1).unwrap(), snapshot, "copied byte for byte");
    assert_eq!(
        store.read_version("dev", 1).await.unwrap(),
        Some(state.clone())
    );

    // A state the snapshot does not hold (another serial) is encoded.
    let mut later = state.clone();
    later.apply(&put(4, "r4")).unwrap();
    store
        .save_compacted_version("dev", &info(2, 4), &later)
        .await
        .unwrap();
    assert_ne!(version(2).unwrap(), snapshot);
    assert_eq!(store.read_version("dev", 2).await.unwrap(), Some(later));

    // So is one whose snapshot changed since it was compacted.
    let path = dir.path().join("dev").join(SNAPSHOT);
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    file.set_modified(std::time::SystemTime::UNIX_EPOCH)
        .unwrap();
    drop(file);
    store
        .save_compacted_version("dev", &info(3, 3), &state)
        .await
        .unwrap();
    assert_ne!(version(3).unwrap(), snapshot, "encoded, not copied");
    assert_eq!(store.read_version("dev", 3).await.unwrap(), Some(state));
}
