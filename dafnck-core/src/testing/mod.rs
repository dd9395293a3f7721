//! Testing a program without a cloud.
//!
//! - [`FakeCloud`]: a stateful in-memory cloud with injectable latency,
//!   failures and panics; it serves the [`resources`] types, and any other
//!   type of its package.
//! - [`conformance`](mod@conformance): the suite every provider must pass, with a sample of
//!   each of its types.
//! - `MockProvider` (feature `mock`): a mockall mock of the
//!   [`Provider`](crate::Provider) trait, to script answers and verify calls.
//! - [`TestStack`]: a program's stack against a fake cloud and an in-memory
//!   state, with helpers that preview or apply and return the typed [`Plan`],
//!   report and state to assert on.
//!
//! A unit test of an infrastructure program:
//!
//! ```
//! use dafnck_core::prelude::*;
//! use dafnck_core::testing::resources::{Network, Subnet};
//! use dafnck_core::testing::TestStack;
//! use dafnck_core::Action;
//!
//! fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
//!     let net = stack.add("net", Network { cidr: "10.0.0.0/16".into(), ..Default::default() });
//!     stack.add("a", Subnet {
//!         network_id: net.out().network_id,
//!         cidr: "10.0.1.0/24".into(),
//!         ..Default::default()
//!     });
//!     Ok(())
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let t = TestStack::new("dev");
//! let plan = t.preview(infra).await.unwrap();
//! assert_eq!(plan.action("net"), Some(Action::Create));
//! // The subnet's network id is not known until the network exists.
//! assert_eq!(plan.change("a").unwrap().after.as_ref().unwrap().get("network_id"),
//!            Some(&dafnck_core::Value::Unknown));
//! t.up(infra).await.unwrap();
//! assert_eq!(t.cloud().objects().len(), 2);
//! assert!(!t.preview(infra).await.unwrap().has_changes());
//! # });
//! ```

pub mod conformance;
pub mod damage;
mod fake;
#[cfg(feature = "mock")]
mod mock;
pub mod resources;

pub use conformance::conformance;
pub use fake::{FakeCall, FakeCloud, FakeObject, FakeOp, FakeOutOfBand, Fault};
#[cfg(feature = "mock")]
pub use mock::MockProvider;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::apply::ApplyReport;
use crate::engine::{Engine, Settings};
use crate::plan::Plan;
use crate::provider::{Providers, RetryPolicy};
use crate::resource::{Outputs, Resource};
use crate::stack::Stack;
use crate::state::{MemoryStore, SecretsKey, State};

/// Retries fast enough for tests: 5 attempts, 1 ms apart at first.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(10),
    }
}

/// A stack under test: an [`Engine`] over a [`FakeCloud`] and an in-memory
/// state, whose secrets are sealed with a random key.
#[derive(Clone, Debug)]
pub struct TestStack {
    engine: Engine,
    cloud: FakeCloud,
    store: MemoryStore,
    config: BTreeMap<String, String>,
    secret_config: BTreeMap<String, crate::Secret<String>>,
    lookups: crate::lookup::Lookups,
}

impl TestStack {
    /// A stack called `name` over a new fake cloud (package `fake`).
    pub fn new(name: &str) -> Self {
        TestStack::with_cloud(name, FakeCloud::new())
    }

    /// A stack over the given fake cloud.
    pub fn with_cloud(name: &str, cloud: FakeCloud) -> Self {
        let store = MemoryStore::new();
        // A random key per stack: tests run with secrets sealed in the
        // state, as a real program does.
        let engine = Engine::new(name, store.clone(), Providers::new().with(cloud.clone()))
            .settings(Settings {
                retry: fast_retry(),
                ..Settings::default()
            })
            .secrets_key(SecretsKey::generate());
        TestStack {
            engine,
            cloud,
            store,
            config: BTreeMap::new(),
            secret_config: BTreeMap::new(),
            lookups: Default::default(),
        }
    }

    /// Sets the configuration value `key` the program reads (with
    /// [`Stack::config`] or [`Stack::config_as`]), as `dafnck.<stack>.json`
    /// or `--config key=value` would.
    pub fn config(mut self, key: &str, value: impl Into<String>) -> Self {
        self.config.insert(key.to_owned(), value.into());
        self.engine = self.engine.config(self.config.clone());
        self
    }

    /// Sets the secret configuration value `key`, as `config set --secret`
    /// stores it sealed in `dafnck.<stack>.json`.
    pub fn secret_config(mut self, key: &str, value: impl Into<String>) -> Self {
        self.secret_config
            .insert(key.to_owned(), crate::Secret::new(value.into()));
        self.engine = self.engine.secret_config(self.secret_config.clone());
        self
    }

    /// Gives the referenced stack `stack` the export `key` (read with
    /// [`Stack::reference`]), without any state of that stack.
    ///
    /// # Panics
    /// When `value` cannot be serialized (a bug in a test).
    pub fn stack_export(self, stack: &str, key: &str, value: impl serde::Serialize) -> Self {
        let value = test_value(&value);
        self.with_export(stack, key, value)
    }

    /// Like [`TestStack::stack_export`], for an export the stack keeps
    /// secret.
    ///
    /// # Panics
    /// When `value` cannot be serialized (a bug in a test).
    pub fn secret_stack_export(self, stack: &str, key: &str, value: impl serde::Serialize) -> Self {
        let value = crate::Value::Secret(Box::new(test_value(&value)));
        self.with_export(stack, key, value)
    }

    fn with_export(mut self, stack: &str, key: &str, value: crate::Value) -> Self {
        self.lookups
            .exports
            .entry(stack.to_owned())
            .or_default()
            .insert(key.to_owned(), value);
        self.engine = self.engine.lookups(self.lookups.clone());
        self
    }

    /// Answers the data source the program reads as `name` (with
    /// [`Stack::read`]) with `outputs`, instead of asking a provider.
    ///
    /// # Panics
    /// When `outputs` cannot be serialized (a bug in a test).
    pub fn data(mut self, name: &str, outputs: impl serde::Serialize) -> Self {
        self.lookups
            .data
            .insert(name.to_owned(), test_value(&outputs));
        self.engine = self.engine.lookups(self.lookups.clone());
        self
    }

    /// Replaces the engine's settings.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.engine = self.engine.settings(settings);
        self
    }

    /// Checks the programs it previews and applies against `policies`
    /// (see [`Engine::policies`]).
    pub fn policies(mut self, policies: crate::policy::Policies) -> Self {
        self.engine = self.engine.policies(policies);
        self
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The fake cloud.
    pub fn cloud(&self) -> &FakeCloud {
        &self.cloud
    }

    /// The state store.
    pub fn store(&self) -> &MemoryStore {
        &self.store
    }

    /// Previews the program (no refresh) and returns the plan.
    ///
    /// # Errors
    /// As [`Engine::preview`].
    pub async fn preview<F>(&self, program: F) -> crate::Result<Plan>
    where
        F: FnOnce(&mut Stack) -> crate::Result<()>,
    {
        Ok(self.engine.preview(program, false).await?.plan)
    }

    /// Applies the program (no refresh).
    ///
    /// # Errors
    /// As [`Engine::up`].
    pub async fn up<F>(&self, program: F) -> crate::Result<ApplyReport>
    where
        F: FnOnce(&mut Stack) -> crate::Result<()>,
    {
        self.engine.up(program, false).await
    }

    /// Destroys the stack.
    ///
    /// # Errors
    /// As [`Engine::destroy`].
    pub async fn destroy(&self) -> crate::Result<ApplyReport> {
        self.engine.destroy().await
    }

    /// The recorded state.
    ///
    /// # Panics
    /// When the state cannot be loaded (a bug in a test).
    pub async fn state(&self) -> State {
        match self.engine.state().await {
            Ok(s) => s,
            Err(e) => panic!("cannot load the state: {e}"),
        }
    }

    /// The recorded outputs of resource `name`, typed.
    ///
    /// # Panics
    /// When the resource is not recorded or its outputs do not fit `R::Outputs`.
    pub async fn outputs_of<R>(&self, name: &str) -> R::Outputs
    where
        R: Resource,
        R::Outputs: Outputs + serde::de::DeserializeOwned,
    {
        let state = self.state().await;
        let r = state
            .resources
            .get(name)
            .unwrap_or_else(|| panic!("resource {name:?} is not recorded"));
        r.outputs
            .deserialize_into()
            .unwrap_or_else(|e| panic!("outputs of {name:?} do not fit: {e}"))
    }
}

/// A value a test gives, as the engine holds it.
fn test_value(value: &impl serde::Serialize) -> crate::Value {
    crate::Value::from_serialize(value)
        .unwrap_or_else(|e| panic!("a test value cannot be serialized: {e}"))
}

/// Previews a program against an empty state with the given providers.
///
/// # Errors
/// As [`Engine::preview`].
pub async fn preview<F>(program: F, providers: Providers) -> crate::Result<Plan>
where
    F: FnOnce(&mut Stack) -> crate::Result<()>,
{
    let engine = Engine::new("test", MemoryStore::new(), providers);
    Ok(engine.preview(program, false).await?.plan)
}
