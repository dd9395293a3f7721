//! "No plaintext", shared by the team stores' tests: a program with a
//! secret input, a provider output the provider marks secret and a secret
//! export, applied twice (the second run rotates the password) through an
//! engine with a passphrase; then every byte the store keeps is searched
//! for the secret values, as text and as base64.

use std::collections::BTreeMap;

use dafnck_core::engine::{Engine, Settings};
use dafnck_core::state::StateStore;
use dafnck_core::testing::resources::{Instance, Network, Subnet};
use dafnck_core::testing::{fast_retry, FakeCloud};
use dafnck_core::{Options, Providers, Secret, Stack, Value};

pub(crate) const PASSWORD: &str = "hunter2-correct-horse";
pub(crate) const ROTATED: &str = "rotated-battery-staple";
pub(crate) const TOKEN: &str = "tok-provider-made-4711";
pub(crate) const EXPORTED: &str = "exported-db-password-99";
pub(crate) const PASSPHRASE: &str = "a long passphrase nobody guesses";
/// Every secret value the runs handle.
pub(crate) const SECRETS: [&str; 4] = [PASSWORD, ROTATED, TOKEN, EXPORTED];

fn infra(
    password: &'static str,
    size: &'static str,
) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let net = stack.add(
            "net",
            Network {
                cidr: "10.0.0.0/16".into(),
                ..Default::default()
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
        let web = Instance {
            subnet_id: sub.out().subnet_id,
            image: "img-1".into(),
            size: size.into(),
            admin_password: Some(Secret::new(password.to_string())),
            ..Default::default()
        };
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

/// Applies the program twice on stack `dev` of `store` (compacting every
/// three records, so snapshots are written mid-run too), checks the engine
/// reads every secret back, and returns the engine.
pub(crate) async fn apply_with_secrets(store: impl StateStore) -> Engine {
    let cloud = cloud();
    let engine = Engine::new("dev", store, Providers::new().with(cloud.clone()))
        .settings(Settings {
            retry: fast_retry(),
            compact_every: 3,
            ..Settings::default()
        })
        .secrets_passphrase(PASSPHRASE);
    engine.up(infra(PASSWORD, "small"), false).await.unwrap();
    engine.up(infra(ROTATED, "large"), false).await.unwrap();
    // The secrets are in the state: the engine opens them.
    let state = engine.state().await.unwrap();
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
    assert_eq!(
        engine.history().await.unwrap().len(),
        2,
        "two versions kept"
    );
    engine
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Asserts no stored item (named by its key, row or object) holds a
/// secret, as text or as the base64 a careless encoding would leave, and
/// that the sealed values are there.
pub(crate) fn assert_no_plaintext(stored: &BTreeMap<String, Vec<u8>>) {
    assert!(!stored.is_empty(), "the store holds something");
    let sealed = stored
        .values()
        .any(|bytes| contains(bytes, b"v1.xchacha20poly1305."));
    assert!(sealed, "no sealed secret found in {:?}", stored.keys());
    for (name, bytes) in stored {
        for s in SECRETS {
            assert!(
                !contains(bytes, s.as_bytes()),
                "{name} holds the secret {s:?}:\n{}",
                String::from_utf8_lossy(bytes)
            );
            // The secret's base64 at each of the three alignments it can
            // have in a longer encoded text: the groups made of its bytes
            // only (not the first, when it shares it with what comes
            // before, nor the last, shared with what follows).
            for pad in 0..3 {
                let mut padded = vec![0u8; pad];
                padded.extend_from_slice(s.as_bytes());
                let b64 = base64(&padded);
                let start = if pad == 0 { 0 } else { 4 };
                let core = &b64.as_bytes()[start..b64.len() - 4];
                assert!(
                    !contains(bytes, core),
                    "{name} holds the secret {s:?} in base64"
                );
            }
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

#[test]
fn base64_is_base64() {
    assert_eq!(base64(b"hunter2"), "aHVudGVyMg==");
    assert_eq!(base64(b"abc"), "YWJj");
}
