//! Providers for dafnck, one module per provider, each behind a Cargo
//! feature (`local`, `aws`, `gcp`, `azure`, `kubernetes`) so a program compiles only the
//! cloud SDKs it uses. The engine's own in-memory fake provider lives in
//! `dafnck_core::testing`.

/// Implements `dafnck_core::Provider` for a provider struct by handing
/// every call to its `kit` field (a [`Kit`](dafnck_core::provider::kit::Kit)
/// of the provider's typed handlers).
#[cfg(any(
    feature = "local",
    feature = "aws",
    feature = "gcp",
    feature = "azure",
    feature = "kubernetes"
))]
macro_rules! served_by_kit {
    ($provider:ty) => {
        #[async_trait::async_trait]
        impl dafnck_core::Provider for $provider {
            fn package(&self) -> &str {
                dafnck_core::Provider::package(&self.kit)
            }

            fn diff(
                &self,
                req: &dafnck_core::provider::DiffRequest<'_>,
            ) -> dafnck_core::provider::Diff {
                dafnck_core::Provider::diff(&self.kit, req)
            }

            fn expected_duration(
                &self,
                type_name: &str,
                call: dafnck_core::state::CallKind,
            ) -> Option<std::time::Duration> {
                dafnck_core::Provider::expected_duration(&self.kit, type_name, call)
            }

            async fn create(
                &self,
                req: dafnck_core::provider::CreateRequest,
            ) -> Result<dafnck_core::provider::Created, dafnck_core::ProviderError> {
                dafnck_core::Provider::create(&self.kit, req).await
            }

            async fn read(
                &self,
                req: dafnck_core::provider::ReadRequest,
            ) -> Result<Option<dafnck_core::provider::Observed>, dafnck_core::ProviderError> {
                dafnck_core::Provider::read(&self.kit, req).await
            }

            fn reads_in_batches(&self, type_name: &str) -> bool {
                dafnck_core::Provider::reads_in_batches(&self.kit, type_name)
            }

            async fn read_many(
                &self,
                reqs: Vec<dafnck_core::provider::ReadRequest>,
            ) -> Result<Vec<Option<dafnck_core::provider::Observed>>, dafnck_core::ProviderError>
            {
                dafnck_core::Provider::read_many(&self.kit, reqs).await
            }

            async fn update(
                &self,
                req: dafnck_core::provider::UpdateRequest,
            ) -> Result<dafnck_core::Value, dafnck_core::ProviderError> {
                dafnck_core::Provider::update(&self.kit, req).await
            }

            async fn delete(
                &self,
                req: dafnck_core::provider::DeleteRequest,
            ) -> Result<(), dafnck_core::ProviderError> {
                dafnck_core::Provider::delete(&self.kit, req).await
            }

            fn declare(
                &self,
                type_name: &str,
                observed: &dafnck_core::provider::Observed,
                out: &mut dafnck_core::declare::Declaration,
            ) -> Result<dafnck_core::provider::Declared, dafnck_core::ProviderError> {
                dafnck_core::Provider::declare(&self.kit, type_name, observed, out)
            }

            async fn read_data(
                &self,
                req: dafnck_core::data::DataRequest,
            ) -> Result<dafnck_core::Value, dafnck_core::ProviderError> {
                dafnck_core::Provider::read_data(&self.kit, req).await
            }
        }
    };
}

/// Declares `$handler`, the provider-kit `DataHandler` of the data source
/// `$source` in context `$cx`, reading with the block `$body` over the
/// context, the read's name and the query:
/// `data_handler!(XHandler, X, Local, |p, name, q| { .. })`.
#[cfg(any(feature = "local", feature = "aws"))]
macro_rules! data_handler {
    ($handler:ident, $source:ty, $cx:ty, |$p:ident, $name:pat_param, $q:ident| $body:block) => {
        /// Serves the data source it is named after.
        pub(crate) struct $handler;

        #[async_trait::async_trait]
        impl dafnck_core::provider::kit::DataHandler for $handler {
            type Source = $source;
            type Context = $cx;

            async fn read(
                &self,
                $p: &$cx,
                $name: &str,
                $q: $source,
            ) -> Result<<$source as dafnck_core::DataSource>::Outputs, dafnck_core::ProviderError>
            $body
        }
    };
}

/// `From<$error> for ProviderError`: the error's message, retryable when
/// `$error::is_retryable` says a retry can help.
#[cfg(any(feature = "local", feature = "aws"))]
macro_rules! provider_error_from {
    ($error:ty) => {
        impl From<$error> for dafnck_core::ProviderError {
            fn from(e: $error) -> Self {
                dafnck_core::ProviderError {
                    message: e.to_string(),
                    retryable: e.is_retryable(),
                }
            }
        }
    };
}

#[cfg(any(feature = "aws", feature = "gcp"))]
pub mod content;

#[cfg(feature = "local")]
pub mod local;

#[cfg(feature = "aws")]
pub mod aws;

#[cfg(feature = "gcp")]
pub mod gcp;

#[cfg(feature = "azure")]
pub mod azure;
#[cfg(feature = "kubernetes")]
pub mod kubernetes;
