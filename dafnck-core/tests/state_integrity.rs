//! Every stored unit of the file store, and a saved plan, carries a
//! checksum: damage is refused by name and nothing is written; files of
//! state formats 1 (before checksums), 2 (before data-source reads were
//! recorded) and 3 (before the checksum covered the header) still load; a newer format is refused
//! naming both formats; a hand edit is accepted only through
//! `state verify --accept`, which records who accepted it.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use dafnck_core::cli;
use dafnck_core::engine::Engine;
use dafnck_core::lookup::Lookups;
use dafnck_core::prelude::*;
use dafnck_core::state::{self, envelope, FileStore, StateError, StateHistory};
use dafnck_core::testing::damage::{self, Damage, StoredUnit, UnitAccess, UnitKind};
use dafnck_core::testing::resources::{Network, NetworkLookup, Subnet};
use dafnck_core::testing::FakeCloud;
use dafnck_core::{Providers, Value};

/// The file store's units, as files.
struct Files(PathBuf);

#[async_trait]
impl UnitAccess for Files {
    async fn units(&self, stack: &str) -> Vec<StoredUnit> {
        let dir = self.0.join(stack);
        let unit = |path: PathBuf, kind| StoredUnit {
            key: path.display().to_string(),
            name: path.display().to_string(),
            kind,
        };
        let mut units = vec![
            unit(dir.join("snapshot.json"), UnitKind::Snapshot),
            unit(
                dir.join("journal.jsonl"),
                UnitKind::Journal { torn_tail: true },
            ),
            unit(dir.join("history/index.jsonl"), UnitKind::History),
        ];
        let mut versions: Vec<u64> = fs::read_dir(dir.join("history"))
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.strip_suffix(".json")?.parse().ok()
            })
            .collect();
        versions.sort();
        for n in versions {
            units.push(unit(
                dir.join(format!("history/{n}.json")),
                UnitKind::Version(n),
            ));
        }
        units
    }
    async fn read_unit(&self, unit: &StoredUnit) -> Vec<u8> {
        fs::read(&unit.key).unwrap()
    }
    async fn write_unit(&self, unit: &StoredUnit, bytes: Vec<u8>) {
        fs::write(&unit.key, bytes).unwrap()
    }
}

#[tokio::test]
async fn every_damaged_unit_of_the_file_store_is_refused_by_name_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::new(dir.path()));
    let trials = damage::check_damage(store, &Files(dir.path().to_path_buf()), "dev").await;
    // snapshot, index and two versions three ways each; the journal's
    // flipped bit.
    assert_eq!(trials, 4 * 3 + 1);
}

fn infra(tag: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> + Send + Sync {
    move |stack| {
        let net = stack.add(
            "net",
            Network {
                cidr: "10.0.0.0/16".into(),
                tags: [("env".to_owned(), tag.to_owned())].into(),
            },
        );
        let sub = stack.add(
            "sub",
            Subnet {
                network_id: net.out().network_id,
                cidr: "10.0.1.0/24".into(),
                ..Default::default()
            },
        );
        stack.export("subnet_id", sub.out().subnet_id);
        Ok(())
    }
}

fn engine(dir: &Path, cloud: &FakeCloud) -> Engine {
    Engine::with_store(
        "dev",
        Arc::new(FileStore::new(dir)),
        Providers::new().with(cloud.clone()),
    )
    .insecure_plaintext_secrets()
}

#[tokio::test]
async fn a_damaged_saved_plan_is_refused_by_name_and_nothing_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new();
    let engine = engine(dir.path(), &cloud);
    engine.up(infra("one"), false).await.unwrap();
    let plan = engine.preview(infra("two"), false).await.unwrap().plan;
    let path = dir.path().join("plan.json");
    engine.save_plan(&plan, &path).unwrap();
    let whole = fs::read(&path).unwrap();
    assert!(whole.starts_with(format!("dafnck-plan/{} crc32=", envelope::FORMAT).as_bytes()));
    assert_eq!(engine.load_plan(&path).unwrap(), plan);
    let snapshot = fs::read(dir.path().join("dev/snapshot.json")).unwrap();
    let calls = cloud.calls().len();
    for d in Damage::ALL {
        let damaged = d.apply(&whole, &UnitKind::Snapshot);
        fs::write(&path, &damaged).unwrap();
        let err = engine.load_plan(&path).unwrap_err().to_string();
        assert!(
            err.contains(&path.display().to_string()) && err.contains("damaged"),
            "{d:?}: {err}"
        );
        // The command line refuses the same way before applying anything.
        let code = cli::run(infra("two"))
            .provider(cloud.clone())
            .insecure_plaintext_secrets()
            .args(args(
                dir.path(),
                &["up", "--yes", "--plan", path.to_str().unwrap()],
            ))
            .exit_code()
            .await;
        assert_eq!(code, 1, "{d:?}");
        assert_eq!(fs::read(&path).unwrap(), damaged);
    }
    assert_eq!(cloud.calls().len(), calls, "no provider was called");
    assert_eq!(
        fs::read(dir.path().join("dev/snapshot.json")).unwrap(),
        snapshot
    );
}

fn args(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        "prog".to_owned(),
        "--state-dir".to_owned(),
        dir.display().to_string(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// Copies a directory tree.
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/state-v1");

#[tokio::test]
async fn state_format_1_files_load_plan_nothing_and_are_written_anew_in_the_current_format() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&Path::new(FIXTURES).join("store"), dir.path());
    let store = FileStore::new(dir.path());
    let snapshot = fs::read(dir.path().join("dev/snapshot.json")).unwrap();
    assert!(snapshot.starts_with(b"{"), "the fixture is of format 1");

    let state = state::load(&store, "dev").await.unwrap();
    assert_eq!(state.serial, 11, "the journal's record is replayed");
    assert_eq!(state.resources.keys().collect::<Vec<_>>(), ["net", "sub"]);
    let versions = store.versions("dev").await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(
        store.read_version("dev", 2).await.unwrap().unwrap().serial,
        10
    );
    let plan = dafnck_core::saved_plan::load(&Path::new(FIXTURES).join("plan.json")).unwrap();
    assert_eq!(plan.stack, "dev");
    assert_eq!(plan.summary().update, 1);

    let cloud = FakeCloud::new();
    let engine = engine(dir.path(), &cloud);
    assert!(!engine.verify().await.is_damaged());
    let preview = engine.preview(infra("two"), false).await.unwrap();
    assert!(!preview.plan.has_changes(), "{}", preview.plan.render());

    // A run that writes leaves the current format beside the old versions.
    engine.forget("sub").await.unwrap();
    let snapshot = fs::read(dir.path().join("dev/snapshot.json")).unwrap();
    assert!(snapshot.starts_with(format!("dafnck-state/{} ", envelope::FORMAT).as_bytes()));
    let verified = engine.verify().await;
    assert!(!verified.is_damaged(), "{verified}");
    assert_eq!(state::load(&store, "dev").await.unwrap().resources.len(), 1);
}

const FIXTURES_V2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/state-v2");

/// `infra` reading a data source (answered without a provider).
fn infra_reading(tag: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        infra(tag)(stack)?;
        let net = stack.read("shared", NetworkLookup::default());
        stack.export("shared", net.out().arn);
        Ok(())
    }
}

#[tokio::test]
async fn state_format_2_files_load_plan_nothing_and_gain_reads_in_the_current_format() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&Path::new(FIXTURES_V2).join("store"), dir.path());
    let store = FileStore::new(dir.path());
    let snapshot = fs::read(dir.path().join("dev/snapshot.json")).unwrap();
    assert!(
        snapshot.starts_with(b"dafnck-state/2 "),
        "the fixture is of format 2"
    );

    let state = state::load(&store, "dev").await.unwrap();
    assert_eq!(state.serial, 11, "the journal's record is replayed");
    assert_eq!(state.resources.keys().collect::<Vec<_>>(), ["net", "sub"]);
    assert!(state.reads.is_empty());
    let versions = store.versions("dev").await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(
        store.read_version("dev", 2).await.unwrap().unwrap().serial,
        10
    );
    let plan = dafnck_core::saved_plan::load(&Path::new(FIXTURES_V2).join("plan.json")).unwrap();
    assert_eq!((plan.stack.as_str(), plan.summary().update), ("dev", 1));

    let cloud = FakeCloud::new();
    let engine = engine(dir.path(), &cloud);
    assert!(!engine.verify().await.is_damaged());
    let preview = engine.preview(infra("two"), false).await.unwrap();
    assert!(!preview.plan.has_changes(), "{}", preview.plan.render());

    // The first `up` of a program that reads records the read, and writes
    // the current format.
    let answer = serde_json::json!({"network_id": "network-9", "arn": "arn:fake:9"});
    let engine = engine.lookups(Lookups {
        data: [("shared".to_owned(), Value::from_serialize(&answer).unwrap())].into(),
        ..Lookups::default()
    });
    engine.up(infra_reading("two"), false).await.unwrap();
    let snapshot = fs::read(dir.path().join("dev/snapshot.json")).unwrap();
    assert!(snapshot.starts_with(format!("dafnck-state/{} ", envelope::FORMAT).as_bytes()));
    let state = state::load(&store, "dev").await.unwrap();
    assert_eq!(
        state.reads["shared"].answer.get("arn"),
        Some(&Value::from("arn:fake:9"))
    );
    assert_eq!(state.resources.len(), 2);
    let verified = engine.verify().await;
    assert!(!verified.is_damaged(), "{verified}");
}

const FIXTURES_V3: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/state-v3");

#[tokio::test]
async fn state_format_3_files_keep_their_reads_plan_nothing_and_are_written_anew_in_the_current_format(
) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&Path::new(FIXTURES_V3).join("store"), dir.path());
    let store = FileStore::new(dir.path());
    let snapshot = fs::read(dir.path().join("dev/snapshot.json")).unwrap();
    assert!(
        snapshot.starts_with(b"dafnck-state/3 "),
        "the fixture is of format 3"
    );

    let state = state::load(&store, "dev").await.unwrap();
    assert_eq!(state.serial, 12, "the journal's record is replayed");
    assert_eq!(state.resources.keys().collect::<Vec<_>>(), ["net", "sub"]);
    assert_eq!(
        state.reads["shared"].answer.get("arn"),
        Some(&Value::from("arn:fake:9"))
    );
    let versions = store.versions("dev").await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(store.read_version("dev", 2).await.unwrap().is_some());
    let plan = dafnck_core::saved_plan::load(&Path::new(FIXTURES_V3).join("plan.json")).unwrap();
    assert_eq!((plan.stack.as_str(), plan.summary().update), ("dev", 1));

    // The program that wrote it (reading `shared`, answered the same):
    // nothing to change. A new answer is recorded by an `up`, which
    // writes the current format.
    let answered = |arn: &str| {
        let answer = serde_json::json!({"network_id": "network-9", "arn": arn});
        engine(dir.path(), &FakeCloud::new()).lookups(Lookups {
            data: [("shared".to_owned(), Value::from_serialize(&answer).unwrap())].into(),
            ..Lookups::default()
        })
    };
    let reading = |stack: &mut Stack| {
        infra("two")(stack)?;
        let _shared = stack.read("shared", NetworkLookup::default());
        Ok(())
    };
    let engine = answered("arn:fake:9");
    assert!(!engine.verify().await.is_damaged());
    let preview = engine.preview(reading, false).await.unwrap();
    assert!(!preview.plan.has_changes(), "{}", preview.plan.render());
    let engine = answered("arn:fake:10");
    engine.up(reading, false).await.unwrap();
    let snapshot = fs::read(dir.path().join("dev/snapshot.json")).unwrap();
    assert!(snapshot.starts_with(format!("dafnck-state/{} ", envelope::FORMAT).as_bytes()));
    let state = state::load(&store, "dev").await.unwrap();
    assert_eq!(
        state.reads["shared"].answer.get("arn"),
        Some(&Value::from("arn:fake:10"))
    );
    let verified = engine.verify().await;
    assert!(!verified.is_damaged(), "{verified}");
}

#[tokio::test]
async fn a_unit_of_a_newer_format_is_refused_naming_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new();
    let engine = engine(dir.path(), &cloud);
    engine.up(infra("one"), false).await.unwrap();
    let path = dir.path().join("dev/snapshot.json");
    let bytes = fs::read(&path).unwrap();
    let newer = format!("dafnck-state/{} ", envelope::FORMAT + 1);
    let current = format!("dafnck-state/{} ", envelope::FORMAT);
    let mut changed = newer.as_bytes().to_vec();
    changed.extend_from_slice(&bytes[current.len()..]);
    fs::write(&path, &changed).unwrap();

    let err = engine.preview(infra("one"), false).await.unwrap_err();
    assert!(
        matches!(
            &err,
            dafnck_core::Error::State(StateError::NewerFormat {
                found: 5,
                supported: 4,
                ..
            })
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string())
            && text.contains("format 5")
            && text.contains("up to 4"),
        "{text}"
    );
    assert!(engine.up(infra("two"), false).await.is_err());
    assert_eq!(fs::read(&path).unwrap(), changed, "nothing was written");
}

#[tokio::test]
async fn a_hand_edit_is_refused_until_accepted_and_the_history_records_who_accepted_it() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new();
    let run = |extra: &[&str]| {
        cli::run(infra("one"))
            .provider(cloud.clone())
            .insecure_plaintext_secrets()
            .args(args(dir.path(), extra))
    };
    assert_eq!(run(&["up", "--yes"]).exit_code().await, 0);
    assert_eq!(run(&["state", "verify"]).exit_code().await, 0);

    // A hand edit of the snapshot: a new tag value (a resource's record
    // is one compact line).
    let path = dir.path().join("dev/snapshot.json");
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches("\"env\":\"one\"").count(), 2, "{text}");
    fs::write(&path, text.replace("\"env\":\"one\"", "\"env\":\"hand\"")).unwrap();
    let edited = fs::read(&path).unwrap();

    for refused in [
        &["state", "verify"][..],
        &["state", "list"],
        &["preview"],
        &["up", "--yes"],
    ] {
        assert_eq!(run(refused).exit_code().await, 1, "{refused:?}");
    }
    assert_eq!(fs::read(&path).unwrap(), edited, "nothing was written");

    assert_eq!(
        run(&["state", "verify", "--accept", "--yes"])
            .exit_code()
            .await,
        0
    );
    assert_eq!(run(&["state", "verify"]).exit_code().await, 0);
    // Nothing more to accept.
    assert_eq!(
        run(&["state", "verify", "--accept", "--yes"])
            .exit_code()
            .await,
        1
    );
    let store = FileStore::new(dir.path());
    let state = state::load(&store, "dev").await.unwrap();
    assert_eq!(
        state.resources["net"]
            .inputs
            .get("tags")
            .unwrap()
            .get("env")
            .unwrap()
            .as_str(),
        Some("hand")
    );
    let versions = store.versions("dev").await.unwrap();
    let last = versions.last().unwrap();
    assert_eq!(last.operation, "state verify --accept");
    assert!(last.by.contains('@'), "{}", last.by);
    assert_eq!(last.version, 2);
    // The program says "one" again: an update, as after any change.
    let engine = engine(dir.path(), &cloud);
    let plan = engine.preview(infra("one"), false).await.unwrap().plan;
    assert_eq!(plan.summary().update, 1);
}
