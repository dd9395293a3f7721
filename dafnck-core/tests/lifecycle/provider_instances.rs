//! Named provider instances: one program, two instances of a package (two
//! regions, two accounts). Each resource goes through the instance it
//! names; the state records it, so destroy and drift reach the object
//! through the instance that made it; moving a resource between instances
//! replaces it.

use dafnck_core::engine::Engine;
use dafnck_core::state::{MemoryStore, SecretsKey};
use dafnck_core::testing::{FakeCloud, FakeOp};
use dafnck_core::{Action, Error, Options, Providers, Stack};

use crate::common::{calls, network};

struct World {
    default: FakeCloud,
    east: FakeCloud,
    west: FakeCloud,
    engine: Engine,
}

fn world() -> World {
    let (default, east, west) = (FakeCloud::new(), FakeCloud::new(), FakeCloud::new());
    let providers = Providers::new()
        .with(default.clone())
        .with_named("east", east.clone())
        .with_named("west", west.clone());
    let engine = Engine::new("dev", MemoryStore::new(), providers)
        .secrets_key(SecretsKey::generate())
        .settings(dafnck_core::engine::Settings {
            retry: dafnck_core::testing::fast_retry(),
            ..Default::default()
        });
    World {
        default,
        east,
        west,
        engine,
    }
}

/// `a` in `a_region`, `b` in west, `c` through the default instance.
fn program(a_region: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        stack.add_with(
            "a",
            network("10.0.0.0/16"),
            Options::new().provider(a_region),
        );
        stack.add_with("b", network("10.1.0.0/16"), Options::new().provider("west"));
        stack.add("c", network("10.2.0.0/16"));
        Ok(())
    }
}

fn names(cloud: &FakeCloud) -> Vec<String> {
    let mut n: Vec<String> = cloud.objects().values().map(|o| o.name.clone()).collect();
    n.sort();
    n
}

#[tokio::test]
async fn each_resource_is_created_through_the_instance_it_names_and_recorded_with_it() {
    let w = world();
    w.engine.up(program("east"), false).await.unwrap();
    assert_eq!(names(&w.east), ["a"]);
    assert_eq!(names(&w.west), ["b"]);
    assert_eq!(names(&w.default), ["c"]);
    let state = w.engine.state().await.unwrap();
    assert_eq!(state.resources["a"].provider.as_deref(), Some("east"));
    assert_eq!(state.resources["b"].provider.as_deref(), Some("west"));
    assert_eq!(state.resources["c"].provider, None);
    // Unchanged: nothing to do.
    let again = w.engine.preview(program("east"), false).await.unwrap();
    assert!(!again.plan.has_changes(), "{}", again.plan.render());
}

#[tokio::test]
async fn destroy_without_the_program_deletes_through_the_recorded_instances() {
    let w = world();
    w.engine.up(program("east"), false).await.unwrap();
    w.engine.destroy().await.unwrap();
    assert!(w.east.objects().is_empty());
    assert!(w.west.objects().is_empty());
    assert!(w.default.objects().is_empty());
    assert_eq!(calls(&w.east, FakeOp::Delete, "a").len(), 1);
    assert!(calls(&w.default, FakeOp::Delete, "a").is_empty());
}

#[tokio::test]
async fn drift_reads_each_object_through_its_instance() {
    let w = world();
    w.engine.up(program("east"), false).await.unwrap();
    let id = w.west.object_named("b").id;
    w.west.remove(&id);
    let report = w.engine.drift().await.unwrap();
    assert!(report.has_drift());
    let text = format!("{report:?}");
    assert!(text.contains("\"b\""), "{text}");
    assert!(!text.contains("\"a\""), "{text}");
}

#[tokio::test]
async fn moving_a_resource_to_another_instance_replaces_it() {
    let w = world();
    w.engine.up(program("east"), false).await.unwrap();
    let preview = w.engine.preview(program("west"), false).await.unwrap();
    let change = preview.plan.change("a").unwrap();
    assert_eq!(change.action, Action::Replace);
    assert_eq!(change.replace_because, ["provider"]);
    assert!(
        preview.plan.render().contains("(forced by provider)"),
        "{}",
        preview.plan.render()
    );
    w.engine.up(program("west"), false).await.unwrap();
    assert!(
        w.east.objects().is_empty(),
        "the old object is deleted in east"
    );
    assert_eq!(names(&w.west), ["a", "b"]);
    let state = w.engine.state().await.unwrap();
    assert_eq!(state.resources["a"].provider.as_deref(), Some("west"));
}

#[tokio::test]
async fn an_instance_that_is_not_registered_is_an_error_naming_it_and_the_line() {
    let w = world();
    let err = w.engine.preview(program("north"), false).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("\"a\"")
            && text.contains("instance \"north\"")
            && text.contains("provider_instances.rs"),
        "{text}"
    );
    assert!(matches!(err, Error::Program(_)), "{err:?}");
}
