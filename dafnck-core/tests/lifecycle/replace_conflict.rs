//! A provider that says a new object cannot exist beside the old one (a
//! fixed name the cloud keeps unique) makes the planner refuse what would
//! fail at apply: a replacement that creates first, under a deployment
//! policy or not. A delete-first replacement and an in-place update are
//! planned as usual.

use async_trait::async_trait;
use dafnck_core::deploy::{Deploy, DeployError, Rollout};
use dafnck_core::engine::{Engine, Settings};
use dafnck_core::provider::{
    standard_diff, CreateRequest, Created, DeleteRequest, Diff, DiffRequest, Observed,
    ProviderError, ReadRequest, UpdateRequest,
};
use dafnck_core::state::MemoryStore;
use dafnck_core::testing::{fast_retry, FakeCloud};
use dafnck_core::{Action, Options, Providers, Stack, Value};

use crate::common::{node, program_problems};

/// A policy that promotes at once (never reached here: the plan is
/// refused).
struct Promotes;

#[async_trait]
impl Deploy for Promotes {
    fn describe(&self) -> String {
        "promotes".into()
    }
    async fn deploy(&self, _: Rollout) -> Result<(), DeployError> {
        Ok(())
    }
    async fn reset(&self, _: Rollout) -> Result<(), String> {
        Ok(())
    }
}

/// The fake cloud, except that a node's key is unique: two objects with
/// one key cannot exist at once.
struct UniqueKeys(FakeCloud);

#[async_trait]
impl dafnck_core::Provider for UniqueKeys {
    fn package(&self) -> &str {
        self.0.package()
    }

    fn diff(&self, req: &DiffRequest<'_>) -> Diff {
        let mut diff = standard_diff(req);
        let key = |v: &Value| v.get("key").cloned();
        if key(req.old_inputs) == key(req.new_inputs) {
            diff.replace_conflict = Some("its key is fixed, and keys are unique".into());
        }
        diff
    }

    async fn create(&self, req: CreateRequest) -> Result<Created, ProviderError> {
        self.0.create(req).await
    }

    async fn read(&self, req: ReadRequest) -> Result<Option<Observed>, ProviderError> {
        self.0.read(req).await
    }

    async fn update(&self, req: UpdateRequest) -> Result<Value, ProviderError> {
        self.0.update(req).await
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError> {
        self.0.delete(req).await
    }
}

fn engine() -> Engine {
    Engine::new(
        "dev",
        MemoryStore::new(),
        Providers::new().with(UniqueKeys(FakeCloud::new())),
    )
    .settings(Settings {
        retry: fast_retry(),
        ..Settings::default()
    })
}

fn program(
    value: &'static str,
    options: Options,
) -> impl FnOnce(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        stack.add_with("web", node(value, "k", vec![]), options);
        Ok(())
    }
}

#[tokio::test]
async fn a_policy_on_an_object_that_cannot_coexist_is_refused_at_plan_time() {
    let e = engine();
    let policy = || Options::new().deploy_with(Promotes);
    e.up(program("v1", policy()), false).await.unwrap();
    let problems = program_problems(e.preview(program("v2", policy()), false).await);
    assert_eq!(problems.len(), 1, "{problems:?}");
    let p = &problems[0];
    assert_eq!(p.resource.as_deref(), Some("web"));
    assert!(
        p.message.contains("handed over (deploy by promotes)")
            && p.message.contains("beside the old one")
            && p.message.contains("its key is fixed, and keys are unique"),
        "{}",
        p.message
    );
}

#[tokio::test]
async fn a_create_first_replacement_is_refused_and_a_delete_first_one_planned() {
    let e = engine();
    e.up(program("v1", Options::new()), false).await.unwrap();
    // An in-place change is not a replacement: nothing to refuse.
    let plan = e
        .preview(program("v2", Options::new()), false)
        .await
        .unwrap()
        .plan;
    assert_eq!(plan.change("web").unwrap().action, Action::Update);
    // A change that replaces (by replace_on_changes), the key kept.
    let replacing = || Options::new().replace_on_changes(["value"]);
    let problems = program_problems(e.preview(program("v2", replacing()), false).await);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].message.contains("replaced (value)")
            && problems[0].message.contains("its key is fixed")
            && problems[0].message.contains("delete_before_replace"),
        "{}",
        problems[0].message
    );
    let plan = e
        .preview(program("v2", replacing().delete_before_replace()), false)
        .await
        .unwrap()
        .plan;
    assert_eq!(plan.change("web").unwrap().action, Action::Replace);
}
