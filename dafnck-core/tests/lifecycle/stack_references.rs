//! Stack references: a program reads another stack's exports as typed
//! inputs, from the same store or another one; a secret export stays
//! secret; a missing stack, a missing export, an export of another type
//! and a stack referencing itself are errors naming the program line;
//! `TestStack` supplies exports without any backend.

use dafnck_core::engine::Engine;
use dafnck_core::lookup::ReadKind;
use dafnck_core::state::{FileStore, MemoryStore, SecretsKey, StateStore};
use dafnck_core::testing::resources::NetworkId;
use dafnck_core::testing::{FakeCloud, TestStack};
use dafnck_core::{Action, Input, Providers, Secret, Stack, Value};

use crate::common::{network, node, planned, program_problems, subnet};

/// The network stack: a network, its id and a secret exported.
fn network_stack(cidr: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack: &mut Stack| {
        let net = stack.add("net", network(cidr));
        stack.export("network_id", net.out().network_id);
        stack.export("cidr", cidr);
        stack.export("token", Secret::new("s3cret".to_string()));
        Ok(())
    }
}

/// The app stack: a subnet of the referenced network, a node holding the
/// referenced secret.
fn app(stack: &mut Stack) -> dafnck_core::Result<()> {
    let network = stack.reference("network");
    let id: Input<NetworkId> = network.output("network_id");
    let token: Input<String> = network.output("token");
    stack.add("sub", subnet(id, "10.0.1.0/24"));
    stack.add("holder", node("v", "k", vec![token]));
    Ok(())
}

fn engine(stack: &str, store: &MemoryStore, cloud: &FakeCloud, key: &SecretsKey) -> Engine {
    Engine::new(stack, store.clone(), Providers::new().with(cloud.clone()))
        .settings(dafnck_core::engine::Settings {
            retry: dafnck_core::testing::fast_retry(),
            ..Default::default()
        })
        .secrets_key(key.clone())
}

#[tokio::test]
async fn an_app_stack_reads_the_network_stacks_exports_and_follows_their_changes() {
    let (store, cloud, key) = (MemoryStore::new(), FakeCloud::new(), SecretsKey::generate());
    let net = engine("network", &store, &cloud, &key);
    net.up(network_stack("10.0.0.0/16"), false).await.unwrap();
    let network_id = cloud.object_named("net").id;

    let app_engine = engine("app", &store, &cloud, &key);
    let preview = app_engine.preview(app, false).await.unwrap();
    let plan = &preview.plan;
    // Known when planning: the subnet's network id is the exported one.
    assert_eq!(
        planned(plan, "sub", "network_id"),
        Value::from(network_id.as_str())
    );
    // The secret export is secret in the plan.
    assert_eq!(
        planned(plan, "holder", "refs"),
        Value::List(vec![Value::Secret(Box::new("s3cret".into()))])
    );
    assert!(!plan.render().contains("s3cret"), "{}", plan.render());
    assert_eq!(plan.reads.len(), 1);
    assert_eq!(plan.reads[0].kind, ReadKind::StackExports);
    assert_eq!(plan.reads[0].keys, ["network_id", "token"]);
    assert!(
        plan.render()
            .contains("<= read exports of stack \"network\": network_id, token"),
        "{}",
        plan.render()
    );
    app_engine.up(app, false).await.unwrap();
    assert_eq!(
        cloud.object_named("sub").inputs.get("network_id"),
        Some(&Value::from(network_id.as_str()))
    );
    // The reads are not objects of the app stack.
    let state = app_engine.state().await.unwrap();
    assert_eq!(
        state.resources.keys().collect::<Vec<_>>(),
        ["holder", "sub"]
    );

    // The network is replaced: the app plans the dependent replacement.
    net.up(network_stack("10.9.0.0/16"), false).await.unwrap();
    let plan = app_engine.preview(app, false).await.unwrap().plan;
    assert_eq!(plan.action("sub"), Some(Action::Replace));
    assert_eq!(plan.action("holder"), Some(Action::NoOp));
}

#[tokio::test]
async fn a_stack_in_another_store_is_read_by_url() {
    let dir = tempfile::tempdir().unwrap();
    let (cloud, key) = (FakeCloud::new(), SecretsKey::generate());
    let other = FileStore::new(dir.path());
    assert!(other.describe().contains(&dir.path().display().to_string()));
    Engine::new("network", other, Providers::new().with(cloud.clone()))
        .secrets_key(key.clone())
        .up(network_stack("10.0.0.0/16"), false)
        .await
        .unwrap();
    let url = format!("file://{}", dir.path().display());
    let app_engine = engine("app", &MemoryStore::new(), &cloud, &key);
    let plan = app_engine
        .preview(
            move |stack: &mut Stack| {
                let network = stack.reference_in("network", &url);
                let cidr: Input<String> = network.output("cidr");
                stack.add("copy", network_with(cidr));
                Ok(())
            },
            false,
        )
        .await
        .unwrap()
        .plan;
    assert_eq!(planned(&plan, "copy", "cidr"), Value::from("10.0.0.0/16"));
    assert!(plan.reads[0]
        .store
        .as_deref()
        .unwrap()
        .starts_with("file://"));
}

fn network_with(cidr: Input<String>) -> dafnck_core::testing::resources::Network {
    dafnck_core::testing::resources::Network {
        cidr,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_missing_stack_is_an_error_naming_the_reference_line() {
    let t = TestStack::new("app");
    let line = line!() + 3;
    let problems = program_problems(
        t.preview(|stack: &mut Stack| {
            let network = stack.reference("network");
            let id: Input<String> = network.output("network_id");
            stack.add("n", node("v", "k", vec![id]));
            Ok(())
        })
        .await,
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].location.as_ref().unwrap().line, line);
    assert!(
        problems[0]
            .message
            .starts_with("the referenced stack \"network\" has no state in"),
        "{}",
        problems[0].message
    );
}

#[tokio::test]
async fn a_missing_export_and_a_wrong_type_are_errors_naming_their_lines() {
    let t = TestStack::new("app")
        .stack_export("network", "network_id", "network-1")
        .stack_export("network", "port", 8080);
    let first = line!() + 4;
    let problems = program_problems(
        t.preview(|stack: &mut Stack| {
            let network = stack.reference("network");
            let missing: Input<String> = network.output("vpc_id");
            let port: Input<bool> = network.output("port");
            stack.export("m", missing);
            stack.export("p", port);
            Ok(())
        })
        .await,
    );
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0].location.as_ref().unwrap().line, first);
    assert_eq!(
        problems[0].message,
        "stack \"network\" has no export \"vpc_id\" (it exports: network_id, port)"
    );
    assert_eq!(problems[1].location.as_ref().unwrap().line, first + 1);
    assert!(
        problems[1].message.starts_with(
            "export \"port\" of stack \"network\" is a number but the program asks for bool"
        ),
        "{}",
        problems[1].message
    );
}

#[tokio::test]
async fn a_stack_referencing_itself_is_an_error() {
    let t = TestStack::new("app");
    let line = line!() + 3;
    let problems = program_problems(
        t.preview(|stack: &mut Stack| {
            let me = stack.reference("app");
            stack.export("x", me.output::<String>("x"));
            Ok(())
        })
        .await,
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].location.as_ref().unwrap().line, line);
    assert!(
        problems[0].message.contains("references itself"),
        "{}",
        problems[0].message
    );
}

#[tokio::test]
async fn test_stacks_mock_exports_and_secret_exports_stay_secret_in_the_state() {
    let t = TestStack::new("app")
        .stack_export("network", "network_id", "network-7")
        .secret_stack_export("network", "token", "hunter2");
    t.up(app).await.unwrap();
    let state = t.state().await;
    assert_eq!(
        state.resources["sub"].inputs.get("network_id"),
        Some(&Value::from("network-7"))
    );
    // Sealed at rest: the state's text never holds the secret.
    let stored = StateStore::read(t.store(), "app").await.unwrap();
    let text = format!(
        "{}{}",
        serde_json::to_string(&stored.snapshot).unwrap(),
        serde_json::to_string(&stored.journal).unwrap()
    );
    assert!(
        !text.contains("hunter2") && text.contains("$sealed"),
        "{text}"
    );
    assert_eq!(
        t.cloud().object_named("holder").inputs.get("refs"),
        Some(&Value::List(vec!["hunter2".into()]))
    );
}
