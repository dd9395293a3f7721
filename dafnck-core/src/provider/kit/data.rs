//! Typed data source handlers (see [`crate::data`]), served by a [`Kit`]
//! beside its resource handlers: registered with [`Kit::with_data`], the
//! query decoded into the data source's struct and the answer encoded
//! from its outputs struct.

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::calls::{decode, encode};
use super::Kit;
use crate::data::{DataRequest, DataSource};
use crate::provider::ProviderError;
use crate::value::Value;

/// The lookup of one data source type, typed.
#[async_trait]
pub trait DataHandler: Send + Sync + 'static {
    /// The data source's query struct.
    type Source: DataSource<Outputs: Serialize + Send> + DeserializeOwned + Send;
    /// What every handler of a provider shares.
    type Context: Send + Sync + 'static;

    /// Finds the one object `query` names (`name`: the read's name in the
    /// program, for errors). Finding nothing (or more than one, when one
    /// is meant) is an error naming the query.
    async fn read(
        &self,
        cx: &Self::Context,
        name: &str,
        query: Self::Source,
    ) -> Result<<Self::Source as DataSource>::Outputs, ProviderError>;
}

/// A data handler with its types erased.
#[async_trait]
pub(super) trait UntypedData<C>: Send + Sync {
    async fn read(&self, cx: &C, req: DataRequest) -> Result<Value, ProviderError>;
}

pub(super) struct TypedData<H>(pub H);

#[async_trait]
impl<H: DataHandler> UntypedData<H::Context> for TypedData<H> {
    async fn read(&self, cx: &H::Context, req: DataRequest) -> Result<Value, ProviderError> {
        let query: H::Source = decode(&req.query, "query", &req.type_name, &req.name)?;
        let found = self.0.read(cx, &req.name, query).await?;
        encode(&found, "answer", &req.type_name, &req.name)
    }
}

impl<C: Send + Sync + 'static> Kit<C> {
    /// Serves the handler's data source type with it.
    pub fn with_data<H: DataHandler<Context = C>>(mut self, handler: H) -> Self {
        let data = std::sync::Arc::make_mut(&mut self.data);
        data.insert(H::Source::TYPE, std::sync::Arc::new(TypedData(handler)));
        self
    }

    /// The data source types served, in no particular order.
    pub fn data_types(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.data.keys().copied()
    }

    pub(super) async fn read_data_with(&self, req: DataRequest) -> Result<Value, ProviderError> {
        let handler = self.data.get(req.type_name.as_str()).ok_or_else(|| {
            ProviderError::new(format!(
                "the {} provider serves no data source {:?}",
                self.package, req.type_name
            ))
        })?;
        handler.read(&self.context, req).await
    }
}
