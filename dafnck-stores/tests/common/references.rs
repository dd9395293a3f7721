//! Stack references across stores, shared by the team stores' tests: a
//! `network` stack applied in the store under test, and an `app` stack in
//! another store (memory) that reads its exports by the store's URL
//! (`Stack::reference_in`, opened through `Engine::reference_backends`).
//! The values arrive typed (a number is a `u16`, computed on), a secret
//! export stays secret (in the plan and at rest), the preview lists the
//! read with its store, a change of the network plans the app's dependent
//! change, and a missing export is an error naming the stack and the key
//! at the program line.
//!
//! A test crate includes it with `#[path = "../common/references.rs"] mod
//! common;`.

use dafnck_core::engine::{Engine, Settings};
use dafnck_core::lookup::ReadKind;
use dafnck_core::state::{redact_url, MemoryStore, SecretsKey, StateStore, StoreBackends};
use dafnck_core::testing::resources::{Network, NetworkId, Node, Subnet};
use dafnck_core::testing::{fast_retry, FakeCloud};
use dafnck_core::{Action, Error, Input, Providers, Secret, Stack, Value};

/// The secret the network stack exports.
const TOKEN: &str = "tok-exported-across-stores-31";

/// The network stack: a network; its id, a port and a secret exported.
fn network(cidr: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let net = stack.add(
            "net",
            Network {
                cidr: cidr.into(),
                ..Default::default()
            },
        );
        stack.export("network_id", net.out().network_id);
        stack.export("port", 8080u16);
        stack.export("token", Secret::new(TOKEN.to_string()));
        Ok(())
    }
}

/// The app stack: a subnet of the network the stack at `url` exports, a
/// node holding its secret, and the port plus one, computed.
fn app(url: String) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let network = stack.reference_in("network", &url);
        let id: Input<NetworkId> = network.output("network_id");
        let port: Input<u16> = network.output("port");
        let token: Input<String> = network.output("token");
        stack.add(
            "sub",
            Subnet {
                network_id: id,
                cidr: "10.0.1.0/24".into(),
                ..Default::default()
            },
        );
        stack.add(
            "holder",
            Node {
                value: "v".into(),
                key: "k".into(),
                refs: vec![token],
            },
        );
        stack.export("next_port", port.map(|p| p + 1));
        Ok(())
    }
}

fn engine(stack: &str, store: impl StateStore, cloud: &FakeCloud, key: &SecretsKey) -> Engine {
    Engine::new(stack, store, Providers::new().with(cloud.clone()))
        .settings(Settings {
            retry: fast_retry(),
            ..Settings::default()
        })
        .secrets_key(key.clone())
}

/// The planned value of `field` of `name`.
fn planned(plan: &dafnck_core::Plan, name: &str, field: &str) -> Value {
    plan.change(name)
        .and_then(|c| c.after.as_ref())
        .and_then(|a| a.get(field))
        .cloned()
        .unwrap_or_else(|| panic!("{name}.{field} is not planned"))
}

/// Applies the network stack in `network_store` (whose URL is `url`),
/// then previews and applies the app stack in a memory store, reading the
/// network's exports by `url` through `backends`.
pub(crate) async fn an_app_reads_the_network_by_url(
    network_store: impl StateStore + Clone,
    url: &str,
    backends: StoreBackends,
) {
    let (cloud, key) = (FakeCloud::new(), SecretsKey::generate());
    let net = engine("network", network_store.clone(), &cloud, &key);
    net.up(network("10.0.0.0/16"), false).await.unwrap();
    let network_id = cloud.object_named("net").id;

    let app_store = MemoryStore::new();
    let app_engine = engine("app", app_store.clone(), &cloud, &key).reference_backends(backends);
    let plan = app_engine
        .preview(app(url.to_owned()), false)
        .await
        .unwrap()
        .plan;
    // Typed, and known when planning.
    assert_eq!(
        planned(&plan, "sub", "network_id"),
        Value::from(network_id.as_str())
    );
    // The secret stays secret in the plan.
    assert_eq!(
        planned(&plan, "holder", "refs"),
        Value::List(vec![Value::Secret(Box::new(TOKEN.into()))])
    );
    let render = plan.render();
    assert!(!render.contains(TOKEN), "{render}");
    // The preview lists the read with its store (no password).
    assert_eq!(plan.reads.len(), 1, "{:?}", plan.reads);
    assert_eq!(plan.reads[0].kind, ReadKind::StackExports);
    assert_eq!(
        plan.reads[0].store.as_deref(),
        Some(redact_url(url).as_str())
    );
    assert!(
        render.contains(&format!(
            "<= read exports of stack \"network\" in {}: network_id, port, token",
            redact_url(url)
        )),
        "{render}"
    );

    app_engine.up(app(url.to_owned()), false).await.unwrap();
    let state = app_engine.state().await.unwrap();
    assert_eq!(state.outputs["next_port"], Value::from(8081));
    assert_eq!(
        cloud.object_named("sub").inputs.get("network_id"),
        Some(&Value::from(network_id.as_str()))
    );
    assert_eq!(
        cloud.object_named("holder").inputs.get("refs"),
        Some(&Value::List(vec![TOKEN.into()]))
    );
    // Sealed at rest in the app's store.
    let stored = StateStore::read(&app_store, "app").await.unwrap();
    let text = format!(
        "{}{}",
        serde_json::to_string(&stored.snapshot).unwrap(),
        serde_json::to_string(&stored.journal).unwrap()
    );
    assert!(!text.contains(TOKEN) && text.contains("$sealed"), "{text}");

    // The network is replaced in its store: the app plans the dependent
    // replacement.
    net.up(network("10.9.0.0/16"), false).await.unwrap();
    let plan = app_engine
        .preview(app(url.to_owned()), false)
        .await
        .unwrap()
        .plan;
    assert_eq!(plan.action("sub"), Some(Action::Replace));
    assert_eq!(plan.action("holder"), Some(Action::NoOp));

    // A missing export names the stack and the key, at the program line.
    let url = url.to_owned();
    let line = line!() + 3;
    let missing = move |stack: &mut Stack| {
        let network = stack.reference_in("network", &url);
        let vpc: Input<String> = network.output("vpc_id");
        stack.export("vpc", vpc);
        Ok(())
    };
    let problems = match app_engine.preview(missing, false).await {
        Err(Error::Program(p)) => p,
        other => panic!("expected a program error, got {other:?}"),
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].location.as_ref().unwrap().line, line);
    assert_eq!(
        problems[0].message,
        "stack \"network\" has no export \"vpc_id\" (it exports: network_id, port, token)"
    );
}
