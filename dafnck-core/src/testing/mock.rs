//! [`MockProvider`]: a mockall mock of the [`Provider`](crate::Provider)
//! trait, to script provider answers and verify the calls a program causes.
//!
//! ```
//! use dafnck_core::engine::Engine;
//! use dafnck_core::provider::Created;
//! use dafnck_core::state::MemoryStore;
//! use dafnck_core::testing::resources::Network;
//! use dafnck_core::testing::MockProvider;
//! use dafnck_core::{Providers, Stack, Value};
//!
//! let mut mock = MockProvider::new();
//! mock.expect_package().return_const("fake".to_string());
//! // Exactly one create, for "net", with the declared range.
//! mock.expect_create()
//!     .withf(|req| req.name == "net" && req.inputs.get("cidr") == Some(&Value::from("10.0.0.0/16")))
//!     .times(1)
//!     .returning(|_| Ok(Created { id: "net-1".into(), outputs: [("network_id", "net-1")].into_iter().collect() }));
//!
//! let engine = Engine::new("dev", MemoryStore::new(), Providers::new().with(mock));
//! let infra = |stack: &mut Stack| {
//!     stack.add("net", Network { cidr: "10.0.0.0/16".into(), ..Default::default() });
//!     Ok(())
//! };
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let report = engine.up(infra, false).await.unwrap();
//! assert!(report.is_success());
//! assert_eq!(engine.state().await.unwrap().resources["net"].id, "net-1");
//! # });
//! // Dropping the engine drops the mock, which verifies `times(1)`.
//! ```

use async_trait::async_trait;

use crate::provider::{
    CreateRequest, Created, DeleteRequest, Observed, ProviderError, ReadRequest, UpdateRequest,
};
use crate::value::Value;

mockall::mock! {
    /// A scripted [`Provider`](crate::Provider): set expectations with
    /// `expect_create()`, `expect_read()`, ... (see mockall). `diff` is the
    /// trait's default, [`standard_diff`](crate::provider::standard_diff).
    pub Provider {}

    #[async_trait]
    impl crate::Provider for Provider {
        fn package(&self) -> &str;
        async fn create(&self, req: CreateRequest) -> Result<Created, ProviderError>;
        async fn read(&self, req: ReadRequest) -> Result<Option<Observed>, ProviderError>;
        async fn update(&self, req: UpdateRequest) -> Result<Value, ProviderError>;
        async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError>;
    }
}
