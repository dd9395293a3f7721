use std::sync::Arc;

use super::walk::{open, seal, sealed_text};
use super::*;
use crate::state::{Entry, MemoryStore, Record, State, StateError, StateStore};

fn secret(v: impl Into<Value>) -> Value {
    Value::Secret(Box::new(v.into()))
}

fn passphrase(p: &str) -> KeySource {
    KeySource::Passphrase(Secret::new(p.to_owned()))
}

#[test]
fn a_value_round_trips_and_the_sealed_form_names_its_version_and_cipher() {
    let cipher = Cipher::new(&SecretsKey::generate());
    let content: Value = [
        ("user", Value::from("admin")),
        ("pw", Value::from("hunter2")),
        ("n", Value::Int(3)),
    ]
    .into_iter()
    .collect();
    let mut v = Value::List(vec![Value::Int(1), secret(content.clone())]);
    seal(&mut v, &cipher);
    let Value::List(items) = &v else {
        panic!("{v:?}")
    };
    assert_eq!(items[0], Value::Int(1), "only secrets are sealed");
    let text = sealed_text(&items[1]).expect("sealed").to_owned();
    assert!(text.starts_with("v1.xchacha20poly1305."), "{text}");
    assert!(!text.contains("hunter2") && !text.contains("admin"));
    assert_eq!(
        v.render(),
        "[1, (secret)]",
        "a sealed secret renders as one"
    );
    // Sealing again leaves sealed values alone.
    let before = v.clone();
    seal(&mut v, &cipher);
    assert_eq!(v, before);
    open(&mut v, &cipher).unwrap();
    assert_eq!(v, Value::List(vec![Value::Int(1), secret(content)]));
}

#[test]
fn nonces_differ_so_equal_secrets_seal_differently() {
    let cipher = Cipher::new(&SecretsKey::generate());
    let a = cipher.seal_bytes(b"same");
    let b = cipher.seal_bytes(b"same");
    assert_ne!(a, b);
    let nonce = |s: &str| {
        Base64::decode_vec(s.strip_prefix(SEALED_PREFIX).unwrap()).unwrap()[..NONCE_LEN].to_vec()
    };
    assert_ne!(nonce(&a), nonce(&b));
    assert_eq!(cipher.open_bytes(&a).unwrap().as_slice(), b"same");
    assert_eq!(cipher.open_bytes(&b).unwrap().as_slice(), b"same");
}

#[test]
fn another_key_does_not_open_a_value() {
    let sealed = Cipher::new(&SecretsKey::generate()).seal_bytes(b"hunter2");
    let other = Cipher::new(&SecretsKey::generate());
    assert_eq!(other.open_bytes(&sealed), Err(OpenError::Authentication));
}

#[test]
fn a_tampered_ciphertext_is_rejected() {
    let cipher = Cipher::new(&SecretsKey::generate());
    let sealed = cipher.seal_bytes(b"hunter2");
    let mut blob = Base64::decode_vec(sealed.strip_prefix(SEALED_PREFIX).unwrap()).unwrap();
    // Flip one bit of the nonce, of the ciphertext and of the tag in turn.
    for i in [0, NONCE_LEN, blob.len() - 1] {
        blob[i] ^= 1;
        let tampered = format!("{SEALED_PREFIX}{}", Base64::encode_string(&blob));
        assert_eq!(
            cipher.open_bytes(&tampered),
            Err(OpenError::Authentication),
            "byte {i}"
        );
        blob[i] ^= 1;
    }
    // Truncated, unknown version, not base64.
    assert!(matches!(
        cipher.open_bytes(&sealed[..sealed.len() - 30]),
        Err(OpenError::Authentication | OpenError::Format(_))
    ));
    assert!(matches!(
        cipher.open_bytes(&sealed.replacen("v1.", "v9.", 1)),
        Err(OpenError::Format(m)) if m.contains("unknown format")
    ));
    assert!(matches!(
        cipher.open_bytes("v1.xchacha20poly1305.!!!"),
        Err(OpenError::Format(_))
    ));
}

#[test]
fn a_passphrase_derives_the_same_key_from_the_header_and_a_wrong_one_is_refused() {
    let writer = Keyring::new(passphrase("correct horse"));
    let header = writer
        .new_header()
        .unwrap()
        .expect("a passphrase gives a key");
    let kdf = header.kdf.as_ref().expect("the header records the KDF");
    assert_eq!(kdf.algorithm, "argon2id");
    assert_eq!(Base64::decode_vec(&kdf.salt).unwrap().len(), 16);
    let sealed = writer
        .cipher_for(&header)
        .unwrap()
        .unwrap()
        .seal_bytes(b"hunter2");

    // Another process with the same passphrase derives the same key.
    let reader = Keyring::new(passphrase("correct horse"));
    let c = reader.cipher_for(&header).unwrap().unwrap();
    assert_eq!(c.open_bytes(&sealed).unwrap().as_slice(), b"hunter2");

    let wrong = Keyring::new(passphrase("battery staple"));
    assert!(matches!(
        wrong.cipher_for(&header),
        Err(KeyError::Wrong(w)) if w.contains("passphrase")
    ));
    // A new header has its own salt.
    let again = writer.new_header().unwrap().unwrap();
    assert_ne!(again.kdf.unwrap().salt, kdf.salt);
    // No key: nothing to derive, no error.
    assert!(Keyring::new(KeySource::None)
        .cipher_for(&header)
        .unwrap()
        .is_none());
}

#[test]
fn a_supplied_key_is_checked_and_kinds_of_key_are_not_mixed() {
    let key = SecretsKey::generate();
    let header = Keyring::new(KeySource::Key(key.clone()))
        .new_header()
        .unwrap()
        .unwrap();
    assert!(header.kdf.is_none());
    assert!(Keyring::new(KeySource::Key(key))
        .cipher_for(&header)
        .unwrap()
        .is_some());
    assert!(matches!(
        Keyring::new(KeySource::Key(SecretsKey::generate())).cipher_for(&header),
        Err(KeyError::Wrong(_))
    ));
    assert!(matches!(
        Keyring::new(passphrase("p")).cipher_for(&header),
        Err(KeyError::Unusable(m)) if m.contains("supplied")
    ));
}

#[test]
fn debug_shows_no_key() {
    assert_eq!(
        format!("{:?}", SecretsKey::from_bytes([7; 32])),
        "SecretsKey(***)"
    );
}

fn put(seq: u64, name: &str, pw: &str) -> Record {
    let mut inputs = std::collections::BTreeMap::new();
    inputs.insert("pw".to_owned(), secret(pw));
    Record {
        seq,
        at: 0,
        entry: Entry::Put {
            resource: crate::state::ResourceState {
                name: name.into(),
                type_name: "fake:t:T".into(),
                id: format!("{name}-1"),
                inputs: Value::Map(inputs.into()),
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

fn header_record(seq: u64, store: &SealingStore) -> Record {
    Record {
        seq,
        at: 0,
        entry: Entry::Encryption {
            header: store.keyring().new_header().unwrap().unwrap(),
        },
    }
}

#[tokio::test]
async fn the_store_below_gets_ciphertext_and_reads_come_back_opened() {
    let memory = MemoryStore::new();
    let store = SealingStore::new(
        Arc::new(memory.clone()),
        KeySource::Key(SecretsKey::generate()),
    );
    store.read("dev").await.unwrap();
    let records = vec![header_record(1, &store), put(2, "a", "hunter2")];
    store.append("dev", &records).await.unwrap();
    let raw = memory.read("dev").await.unwrap();
    let text = serde_json::to_string(&raw.journal).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("v1.xchacha20poly1305."), "{text}");

    let read = store.read("dev").await.unwrap();
    assert_eq!(read.journal, records, "opened as written");
    let state = State::replay("dev", read, "test").unwrap();
    store.compact("dev", &state).await.unwrap();
    let raw = memory.read("dev").await.unwrap();
    let text = serde_json::to_string(&raw.snapshot).unwrap();
    assert!(
        !text.contains("hunter2") && text.contains("$sealed"),
        "{text}"
    );
    let reopened = State::replay("dev", store.read("dev").await.unwrap(), "test").unwrap();
    assert_eq!(reopened, state);
}

#[tokio::test]
async fn without_a_key_secrets_stay_sealed_and_plain_ones_are_refused() {
    let memory = MemoryStore::new();
    let keyed = SealingStore::new(
        Arc::new(memory.clone()),
        KeySource::Key(SecretsKey::generate()),
    );
    keyed.read("dev").await.unwrap();
    keyed
        .append("dev", &[header_record(1, &keyed), put(2, "a", "hunter2")])
        .await
        .unwrap();

    let keyless = SealingStore::new(Arc::new(memory.clone()), KeySource::None);
    let state = State::replay("dev", keyless.read("dev").await.unwrap(), "test").unwrap();
    let pw = state.resources["a"].inputs.get("pw").unwrap();
    assert!(is_sealed(pw), "{pw:?}");
    assert_eq!(pw.render(), "(secret)");
    assert!(holds_sealed_secrets(&state) && !holds_plaintext_secrets(&state));

    let before = memory.read("dev").await.unwrap();
    let err = keyless
        .append("dev", &[put(3, "b", "new-secret")])
        .await
        .unwrap_err();
    assert!(matches!(err, StateError::Secrets { .. }), "{err}");
    assert!(err.to_string().contains("DAFNCK_PASSPHRASE"), "{err}");
    assert_eq!(memory.read("dev").await.unwrap(), before, "nothing written");

    // Plain text is written only when asked for, and never into an
    // encrypted state.
    let plain = SealingStore::new(Arc::new(memory.clone()), KeySource::InsecurePlaintext);
    plain.read("dev").await.unwrap();
    assert!(plain.append("dev", &[put(3, "b", "x")]).await.is_err());
    let fresh = MemoryStore::new();
    let plain = SealingStore::new(Arc::new(fresh.clone()), KeySource::InsecurePlaintext);
    plain.read("dev").await.unwrap();
    plain
        .append("dev", &[put(1, "b", "in-plain-text")])
        .await
        .unwrap();
    let text = serde_json::to_string(&fresh.read("dev").await.unwrap().journal).unwrap();
    assert!(text.contains("in-plain-text"));
}

#[tokio::test]
async fn a_wrong_key_fails_the_read_and_a_tampered_value_is_corruption() {
    let memory = MemoryStore::new();
    let keyed = SealingStore::new(Arc::new(memory.clone()), passphrase("right"));
    keyed.read("dev").await.unwrap();
    keyed
        .append("dev", &[header_record(1, &keyed), put(2, "a", "hunter2")])
        .await
        .unwrap();
    let wrong = SealingStore::new(Arc::new(memory.clone()), passphrase("wrong"));
    let err = wrong.read("dev").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("the passphrase (DAFNCK_PASSPHRASE) does not match the one this state was encrypted with"),
        "{err}"
    );

    // Swap the sealed value for one sealed under another key.
    let mut stored = memory.read("dev").await.unwrap();
    let other = Cipher::new(&SecretsKey::generate());
    if let Entry::Put { resource } = &mut stored.journal[1].entry {
        if let Value::Map(m) = &mut resource.inputs {
            m.insert(
                "pw".into(),
                Value::Secret(Box::new(other.seal_value(&"x".into()))),
            );
        }
    }
    let tampered = MemoryStore::new();
    tampered.append("dev", &stored.journal).await.unwrap();
    let store = SealingStore::new(Arc::new(tampered), passphrase("right"));
    let err = store.read("dev").await.unwrap_err();
    assert!(
        matches!(&err, StateError::Corrupt { location, .. } if location.contains("journal record 2")),
        "{err}"
    );
}
