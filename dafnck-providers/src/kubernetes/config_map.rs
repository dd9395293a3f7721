//! [`ConfigMap`] (`kubernetes:core:ConfigMap`): configuration for pods.

use std::collections::BTreeMap;

use async_trait::async_trait;
use dafnck_core::prelude::*;
use dafnck_core::ProviderError;
use k8s_openapi::ByteString;
use kube::discovery::ApiResource;
use serde_json::{Map, Value as Json};

use super::client::Subject;
use super::object::{field, to_json, Kind, Meta};
use super::{Kube, ObjectOutputs};

/// A ConfigMap (`v1`): text entries in `data`, binary ones in
/// `binary_data`. Only the keys set are dafnck's: an entry another manager
/// adds is not drift, a changed or removed one of ours is.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "kubernetes:core:ConfigMap", outputs = ObjectOutputs)]
pub struct ConfigMap {
    /// Its name. Changing it replaces the object.
    #[resource(force_new)]
    pub name: String,
    /// Its namespace. Changing it replaces the object.
    #[resource(force_new)]
    pub namespace: Input<String>,
    /// Its labels (besides the provider's own).
    pub labels: BTreeMap<String, String>,
    /// Its annotations (besides the provider's own).
    pub annotations: BTreeMap<String, String>,
    /// Text entries.
    pub data: BTreeMap<String, String>,
    /// Binary entries.
    #[declare(json)]
    pub binary_data: BTreeMap<String, ByteString>,
}

/// How [`ConfigMap`] is served.
pub(crate) struct ConfigMapKind;

#[async_trait]
impl Kind for ConfigMapKind {
    type Resource = ConfigMap;

    fn meta(s: &Subject, v: &ConfigMap) -> Result<Meta, ProviderError> {
        Meta::namespaced(s, &v.name, &v.namespace, &v.labels, &v.annotations)
    }

    async fn api(_: &Kube, _: &Subject, _: &ConfigMap) -> Result<ApiResource, ProviderError> {
        Ok(ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(
            &(),
        ))
    }

    fn content(s: &Subject, v: &ConfigMap) -> Result<Map<String, Json>, ProviderError> {
        let mut content = Map::new();
        if !v.data.is_empty() {
            content.insert("data".into(), to_json(s, "data", &v.data)?);
        }
        if !v.binary_data.is_empty() {
            content.insert(
                "binaryData".into(),
                to_json(s, "binary_data", &v.binary_data)?,
            );
        }
        Ok(content)
    }

    fn found(
        s: &Subject,
        _: &ConfigMap,
        meta: &Meta,
        found: &Map<String, Json>,
    ) -> Result<ConfigMap, ProviderError> {
        Ok(ConfigMap {
            name: meta.name.clone(),
            namespace: meta.namespace.clone().unwrap_or_default().into(),
            labels: meta.labels.clone(),
            annotations: meta.annotations.clone(),
            data: field(s, found, "data")?,
            binary_data: field(s, found, "binaryData")?,
        })
    }
}
