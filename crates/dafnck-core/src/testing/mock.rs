//! [`MockProvider`]: a mockall mock of the [`Provider`](crate::Provider)
//! trait, to script provider answers and verify the calls a program causes.

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
