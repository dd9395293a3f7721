//! Secrets at rest: every secret — inputs, provider outputs marked secret,
//! exports — is sealed in every byte the state store keeps; a wrong
//! passphrase is a clear error that changes nothing; without a passphrase
//! a preview works and writing is refused; a state written in plain text
//! before is sealed by the next write once a key is given.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dafnck_core::engine::{Engine, Settings};
use dafnck_core::state::{encryption, FileStore, SecretsKey, StateError};
use dafnck_core::testing::{fast_retry, FakeCloud};
use dafnck_core::{Error, Options, Providers, Secret, Stack, Value};

use crate::common::{instance, network, subnet};

const PASSWORD: &str = "hunter2-correct-horse";
const ROTATED: &str = "rotated-battery-staple";
const TOKEN: &str = "tok-provider-made-4711";
const EXPORTED: &str = "exported-db-password-99";
const PASSPHRASE: &str = "a long passphrase nobody guesses";

fn infra(
    password: &'static str,
    size: &'static str,
) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let net = stack.add("net", network("10.0.0.0/16"));
        let sub = stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
        let mut web = instance(sub.out().subnet_id, size);
        web.admin_password = Some(Secret::new(password.to_string()));
        stack.add_with("web", web, Options::new());
        stack.export("db_password", Secret::new(EXPORTED.to_string()));
        Ok(())
    }
}

/// A cloud whose instances report a secret output, as a provider marks a
/// generated credential.
fn cloud() -> FakeCloud {
    let cloud = FakeCloud::new();
    cloud.outputs_for("fake:compute:Instance", |id, _| {
        let mut m = BTreeMap::new();
        m.insert("instance_id".to_owned(), Value::from(id));
        m.insert("arn".to_owned(), Value::from(format!("arn:fake:{id}")));
        m.insert(
            "token".to_owned(),
            Value::Secret(Box::new(Value::from(TOKEN))),
        );
        Value::Map(m.into())
    });
    cloud
}

fn engine(dir: &Path, cloud: &FakeCloud) -> Engine {
    Engine::new(
        "dev",
        FileStore::new(dir),
        Providers::new().with(cloud.clone()),
    )
    .settings(Settings {
        retry: fast_retry(),
        // Compact during the run too, so snapshots are written mid-run.
        compact_every: 3,
        ..Settings::default()
    })
}

/// Every file under `dir` and its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Asserts no file under `dir` holds any of `secrets`, as text or as the
/// base64 a careless encoding would leave.
fn assert_no_plaintext(dir: &Path, secrets: &[&str]) {
    let all = files(dir);
    assert!(!all.is_empty(), "the store wrote files");
    for (path, bytes) in &all {
        for s in secrets {
            assert!(
                !contains(bytes, s.as_bytes()),
                "{} holds the secret {s:?}:\n{}",
                path.display(),
                String::from_utf8_lossy(bytes)
            );
            let b64 = base64(s.as_bytes());
            assert!(
                !contains(bytes, &b64.as_bytes()[..b64.len() - 4]),
                "{} holds the secret {s:?} in base64",
                path.display()
            );
        }
    }
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, &b| (n << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn no_secret_reaches_the_state_files() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = cloud();
    let e = engine(dir.path(), &cloud).secrets_passphrase(PASSPHRASE);
    e.up(infra(PASSWORD, "small"), false).await.unwrap();
    // An update rotates the password; a crash-free run leaves snapshot and
    // journal, and every run compacts at least once.
    e.up(infra(ROTATED, "large"), false).await.unwrap();
    assert_no_plaintext(dir.path(), &[PASSWORD, ROTATED, TOKEN, EXPORTED]);
    let snapshot = std::fs::read_to_string(dir.path().join("dev/snapshot.json")).unwrap();
    assert!(snapshot.contains("v1.xchacha20poly1305."), "{snapshot}");
    assert!(snapshot.contains("argon2id"), "the header: {snapshot}");

    // The engine itself reads them back: the provider got the value, the
    // state opens to it, and another process with the passphrase plans
    // no change.
    let state = e.state().await.unwrap();
    let web = &state.resources["web"];
    assert_eq!(
        web.inputs.get("admin_password"),
        Some(&Value::Secret(Box::new(ROTATED.into())))
    );
    assert_eq!(
        web.outputs.get("token"),
        Some(&Value::Secret(Box::new(TOKEN.into())))
    );
    assert_eq!(
        state.outputs["db_password"],
        Value::Secret(Box::new(EXPORTED.into()))
    );
    let again = engine(dir.path(), &cloud).secrets_passphrase(PASSPHRASE);
    let preview = again.preview(infra(ROTATED, "large"), false).await.unwrap();
    assert!(!preview.plan.has_changes(), "{}", preview.plan.render());
    assert_no_plaintext(dir.path(), &[PASSWORD, ROTATED, TOKEN, EXPORTED]);
}

#[tokio::test]
async fn a_key_supplied_by_the_program_seals_too() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = cloud();
    let key = SecretsKey::generate();
    let e = engine(dir.path(), &cloud).secrets_key(key.clone());
    e.up(infra(PASSWORD, "small"), false).await.unwrap();
    assert_no_plaintext(dir.path(), &[PASSWORD, TOKEN, EXPORTED]);
    let again = engine(dir.path(), &cloud).secrets_key(key);
    assert!(!again
        .preview(infra(PASSWORD, "small"), false)
        .await
        .unwrap()
        .plan
        .has_changes());
    let err = engine(dir.path(), &cloud)
        .secrets_key(SecretsKey::generate())
        .preview(infra(PASSWORD, "small"), false)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("the secrets key the program gave does not match"),
        "{err}"
    );
}

#[tokio::test]
async fn a_wrong_passphrase_is_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = cloud();
    engine(dir.path(), &cloud)
        .secrets_passphrase(PASSPHRASE)
        .up(infra(PASSWORD, "small"), false)
        .await
        .unwrap();
    let before = files(dir.path());
    let calls = cloud.calls().len();

    let wrong = engine(dir.path(), &cloud).secrets_passphrase("not the passphrase");
    let wrong_key = |r: dafnck_core::Result<()>| match r {
        Err(Error::State(e @ StateError::WrongKey { .. })) => e.to_string(),
        other => panic!("expected a wrong-key error, got {other:?}"),
    };
    let messages = [
        wrong_key(
            wrong
                .preview(infra(PASSWORD, "small"), false)
                .await
                .map(drop),
        ),
        wrong_key(wrong.up(infra(ROTATED, "large"), false).await.map(drop)),
        wrong_key(wrong.destroy().await.map(drop)),
        wrong_key(wrong.refresh().await.map(drop)),
        wrong_key(wrong.drift().await.map(drop)),
    ];
    for m in &messages {
        assert!(
            m.contains(
                "the passphrase (DAFNCK_PASSPHRASE) does not match the one this state was encrypted with"
            ) && m.contains("stack \"dev\""),
            "{m}"
        );
        assert!(
            !m.contains(PASSWORD) && !m.contains("not the passphrase"),
            "{m}"
        );
    }
    assert_eq!(
        files(dir.path()),
        before,
        "the state files are byte-identical"
    );
    assert_eq!(cloud.calls().len(), calls, "no provider was called");
}

#[tokio::test]
async fn without_a_passphrase_preview_shows_secrets_as_secret_and_writing_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = cloud();
    engine(dir.path(), &cloud)
        .secrets_passphrase(PASSPHRASE)
        .up(infra(PASSWORD, "small"), false)
        .await
        .unwrap();
    let before = files(dir.path());
    let calls = cloud.calls().len();

    let keyless = engine(dir.path(), &cloud);
    let state = keyless.state().await.unwrap();
    let pw = state.resources["web"].inputs.get("admin_password").unwrap();
    assert!(encryption::is_sealed(pw), "{pw:?}");
    assert_eq!(pw.render(), "(secret)");

    // The recorded secret cannot be compared: it may change.
    let preview = keyless
        .preview(infra(PASSWORD, "large"), false)
        .await
        .unwrap();
    let text = preview.plan.render();
    assert!(
        text.contains("admin_password: (secret) → (secret)  # may change"),
        "{text}"
    );
    assert!(text.contains("size: \"small\" → \"large\""), "{text}");
    for s in [PASSWORD, TOKEN, EXPORTED] {
        assert!(!text.contains(s) && !format!("{preview:?}").contains(s));
    }

    let refused = |r: dafnck_core::Result<()>| match r {
        Err(Error::State(e @ StateError::Secrets { .. })) => e.to_string(),
        other => panic!("expected a refusal for want of a key, got {other:?}"),
    };
    for m in [
        refused(keyless.up(infra(PASSWORD, "large"), false).await.map(drop)),
        refused(keyless.apply_plan(&preview.plan).await.map(drop)),
        refused(keyless.destroy().await.map(drop)),
        refused(keyless.refresh().await.map(drop)),
        refused(keyless.forget("web").await),
        refused(keyless.check_secrets_writable(Some(&preview.plan)).await),
    ] {
        assert!(
            m.contains("encrypted and no key was given") && m.contains("DAFNCK_PASSPHRASE"),
            "{m}"
        );
    }
    // Comparing with what providers report would see every sealed secret
    // as changed.
    for m in [
        refused(keyless.drift().await.map(drop)),
        refused(
            keyless
                .preview(infra(PASSWORD, "small"), true)
                .await
                .map(drop),
        ),
    ] {
        assert!(m.contains("needs the key"), "{m}");
    }
    assert_eq!(files(dir.path()), before, "nothing was written");
    assert_eq!(cloud.calls().len(), calls, "no provider was called");
}

#[tokio::test]
async fn a_new_stack_with_secrets_and_no_key_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = cloud();
    let err = engine(dir.path(), &cloud)
        .up(infra(PASSWORD, "small"), false)
        .await
        .unwrap_err();
    let m = err.to_string();
    assert!(
        m.contains("would write secrets to the state in plain text")
            && m.contains("DAFNCK_PASSPHRASE"),
        "{m}"
    );
    assert!(cloud.calls().is_empty(), "no provider was called");
    assert!(
        files(dir.path()).keys().all(|p| p.ends_with("lock.mutex")),
        "no state was written: {:?}",
        files(dir.path()).keys().collect::<Vec<_>>()
    );
    // A program without secrets needs no key.
    engine(dir.path(), &cloud)
        .up(
            |s: &mut Stack| {
                s.add("net", network("10.0.0.0/16"));
                Ok(())
            },
            false,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_plaintext_state_from_before_is_sealed_by_the_next_write_with_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = cloud();
    // What a state written before encryption looks like: secrets in plain
    // text and no encryption header.
    engine(dir.path(), &cloud)
        .insecure_plaintext_secrets()
        .up(infra(PASSWORD, "small"), false)
        .await
        .unwrap();
    // States from before encryption had no history either; a version
    // written in plain text by choice stays as it was written.
    std::fs::remove_dir_all(dir.path().join("dev/history")).unwrap();
    let snapshot = dir.path().join("dev/snapshot.json");
    let text = std::fs::read_to_string(&snapshot).unwrap();
    assert!(
        text.contains(PASSWORD) && !text.contains("$sealed"),
        "{text}"
    );

    // It loads with or without a key, and plans no change.
    for e in [
        engine(dir.path(), &cloud),
        engine(dir.path(), &cloud).secrets_passphrase(PASSPHRASE),
    ] {
        let p = e.preview(infra(PASSWORD, "small"), false).await.unwrap();
        assert!(!p.plan.has_changes(), "{}", p.plan.render());
    }
    // Without a key, writing it again in plain text is refused.
    let before = files(dir.path());
    let err = engine(dir.path(), &cloud)
        .up(infra(PASSWORD, "small"), false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("in plain text"), "{err}");
    assert_eq!(files(dir.path()), before);

    // With one, the next write seals everything, even with nothing to change.
    let e = engine(dir.path(), &cloud).secrets_passphrase(PASSPHRASE);
    e.up(infra(PASSWORD, "small"), false).await.unwrap();
    assert_no_plaintext(dir.path(), &[PASSWORD, TOKEN, EXPORTED]);
    assert_eq!(
        e.state().await.unwrap().resources["web"]
            .inputs
            .get("admin_password"),
        Some(&Value::Secret(Box::new(PASSWORD.into())))
    );
}

#[tokio::test]
async fn a_saved_plan_keeps_its_secrets_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = cloud();
    let e = engine(dir.path(), &cloud).secrets_passphrase(PASSPHRASE);
    let preview = e.preview(infra(PASSWORD, "small"), false).await.unwrap();
    let path = dir.path().join("dev.plan");
    e.save_plan(&preview.plan, &path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains(PASSWORD) && !text.contains(EXPORTED) && text.contains("$sealed"),
        "{text}"
    );

    // Loading needs the right passphrase.
    let err = engine(dir.path(), &cloud)
        .secrets_passphrase("wrong")
        .load_plan(&path)
        .unwrap_err();
    assert!(
        matches!(err, Error::State(StateError::WrongKey { .. })),
        "{err}"
    );
    let err = engine(dir.path(), &cloud).load_plan(&path).unwrap_err();
    assert!(err.to_string().contains("DAFNCK_PASSPHRASE"), "{err}");

    let loaded = e.load_plan(&path).unwrap();
    assert_eq!(loaded, preview.plan, "opened as it was made");
    e.apply_plan(&loaded).await.unwrap();
    let sent = cloud.object_named("web").inputs;
    assert_eq!(
        sent.get("admin_password").map(Value::to_plain_json),
        Some(PASSWORD.into()),
        "the provider got the secret itself"
    );
    assert_no_plaintext(dir.path(), &[PASSWORD, TOKEN, EXPORTED]);

    // Without a key, a plan with secrets is not saved in plain text.
    let p = engine(dir.path(), &cloud)
        .preview(infra(ROTATED, "small"), false)
        .await
        .unwrap();
    let err = engine(dir.path(), &cloud)
        .save_plan(&p.plan, &dir.path().join("x.plan"))
        .unwrap_err();
    assert!(err.to_string().contains("in plain text"), "{err}");
    assert!(!dir.path().join("x.plan").exists());
}

#[tokio::test]
async fn the_memory_store_holds_ciphertext_too() {
    // TestStack seals with a random key; what its store keeps is sealed.
    let t = dafnck_core::testing::TestStack::with_cloud("dev", cloud());
    t.up(infra(PASSWORD, "small")).await.unwrap();
    t.up(infra(ROTATED, "small")).await.unwrap();
    let stored = dafnck_core::state::StateStore::read(t.store(), "dev")
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        serde_json::to_string(&stored.snapshot).unwrap(),
        serde_json::to_string(&stored.journal).unwrap()
    );
    for s in [PASSWORD, ROTATED, TOKEN, EXPORTED] {
        assert!(!text.contains(s), "the memory store holds {s:?}: {text}");
    }
    assert!(text.contains("$sealed"), "{text}");
    // Through the engine they open again.
    let state = t.state().await;
    assert_eq!(
        state.resources["web"].inputs.get("admin_password"),
        Some(&Value::Secret(Box::new(ROTATED.into())))
    );
}
