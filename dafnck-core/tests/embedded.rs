//! The engine embedded in a program of its own, driven through [`Engine`]
//! without the command line. This file uses no `cli` item, so it builds and
//! runs with the default features and with
//! `cargo test -p dafnck-core --no-default-features --test embedded`
//! (which `scripts/test.sh` runs), a build without clap, indicatif and
//! tracing-subscriber.

use std::path::Path;

use dafnck_core::engine::Engine;
use dafnck_core::state::FileStore;
use dafnck_core::testing::resources::{Instance, Network, Subnet};
use dafnck_core::testing::FakeCloud;
use dafnck_core::{Action, Providers, Stack, Value};

/// A network, a subnet in it and an instance of the given size in that.
fn infra(size: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let net = stack.add(
            "net",
            Network {
                cidr: "10.0.0.0/16".into(),
                ..Default::default()
            },
        );
        let subnet = stack.add(
            "public-a",
            Subnet {
                network_id: net.out().network_id,
                cidr: "10.0.1.0/24".into(),
                ..Default::default()
            },
        );
        let web = stack.add(
            "web",
            Instance {
                subnet_id: subnet.out().subnet_id,
                image: "img-2026-11".into(),
                size: size.into(),
                ..Default::default()
            },
        );
        stack.export("web_arn", web.out().arn);
        Ok(())
    }
}

/// An engine for stack `prod` keeping its state under `dir`, as a service
/// embedding dafnck would build one.
fn engine(dir: &Path, cloud: &FakeCloud) -> Engine {
    Engine::new(
        "prod",
        FileStore::new(dir),
        Providers::new().with(cloud.clone()),
    )
}

#[tokio::test]
async fn a_program_previews_applies_updates_and_destroys_through_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = FakeCloud::new();
    let e = engine(dir.path(), &cloud);

    let preview = e.preview(infra("small"), false).await.unwrap();
    for name in ["net", "public-a", "web"] {
        assert_eq!(preview.plan.action(name), Some(Action::Create), "{name}");
    }
    assert!(cloud.objects().is_empty(), "a preview creates nothing");

    let report = e.up(infra("small"), false).await.unwrap();
    assert!(report.is_success(), "{report}");
    assert_eq!(cloud.objects().len(), 3);
    let arn = cloud.object_named("web").outputs.get("arn").cloned();
    assert!(arn.is_some());
    assert_eq!(report.outputs.get("web_arn"), arn.as_ref());

    // A second engine over the same directory (the embedding service
    // restarted) reads what the first one recorded.
    let again = engine(dir.path(), &cloud);
    let preview = again.preview(infra("small"), false).await.unwrap();
    assert!(!preview.plan.has_changes(), "{}", preview.plan.render());

    let preview = again.preview(infra("large"), false).await.unwrap();
    assert_eq!(preview.plan.action("web"), Some(Action::Update));
    assert_eq!(preview.plan.action("net"), Some(Action::NoOp));
    let report = again.up(infra("large"), false).await.unwrap();
    assert!(report.is_success(), "{report}");
    assert_eq!(
        cloud.object_named("web").inputs.get("size"),
        Some(&Value::from("large"))
    );

    let report = again.destroy().await.unwrap();
    assert!(report.is_success(), "{report}");
    assert!(cloud.objects().is_empty());
    assert!(again.state().await.unwrap().resources.is_empty());
}
