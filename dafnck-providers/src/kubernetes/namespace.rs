//! [`Namespace`] (`kubernetes:core:Namespace`): a scope for names.

use std::collections::BTreeMap;

use async_trait::async_trait;
use dafnck_core::prelude::*;
use dafnck_core::ProviderError;
use kube::discovery::ApiResource;
use serde_json::{Map, Value as Json};

use super::client::Subject;
use super::object::{Kind, Meta};
use super::{Kube, ObjectOutputs};

/// A Namespace (`v1`, cluster-wide). Its delete returns once the namespace
/// and everything in it are gone.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "kubernetes:core:Namespace", outputs = ObjectOutputs)]
pub struct Namespace {
    /// Its name. Changing it replaces the namespace.
    #[resource(force_new)]
    pub name: String,
    /// Its labels (besides the provider's own).
    pub labels: BTreeMap<String, String>,
    /// Its annotations (besides the provider's own).
    pub annotations: BTreeMap<String, String>,
}

/// How [`Namespace`] is served.
pub(crate) struct NamespaceKind;

#[async_trait]
impl Kind for NamespaceKind {
    type Resource = Namespace;

    fn meta(_: &Subject, v: &Namespace) -> Result<Meta, ProviderError> {
        Ok(Meta {
            name: v.name.clone(),
            namespace: None,
            labels: v.labels.clone(),
            annotations: v.annotations.clone(),
        })
    }

    async fn api(_: &Kube, _: &Subject, _: &Namespace) -> Result<ApiResource, ProviderError> {
        Ok(ApiResource::erase::<k8s_openapi::api::core::v1::Namespace>(
            &(),
        ))
    }

    fn content(_: &Subject, _: &Namespace) -> Result<Map<String, Json>, ProviderError> {
        Ok(Map::new())
    }

    fn found(
        _: &Subject,
        _: &Namespace,
        meta: &Meta,
        _: &Map<String, Json>,
    ) -> Result<Namespace, ProviderError> {
        Ok(Namespace {
            name: meta.name.clone(),
            labels: meta.labels.clone(),
            annotations: meta.annotations.clone(),
        })
    }
}
