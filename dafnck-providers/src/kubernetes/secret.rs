//! [`Secret`] (`kubernetes:core:Secret`): credentials for pods, whose
//! values are [`dafnck_core::Secret`]s: never in a plan, a log or an
//! error, and sealed in the state.

use std::collections::BTreeMap;

use async_trait::async_trait;
use dafnck_core::prelude::*;
use dafnck_core::ProviderError;
use k8s_openapi::ByteString;
use kube::discovery::ApiResource;
use serde_json::{Map, Value as Json};

use super::client::Subject;
use super::object::{field, known, to_json, Kind, Meta};
use super::{Kube, ObjectOutputs};

/// A Secret (`v1`). Each value of `data` is a [`dafnck_core::Secret`]
/// (text; sent base64-encoded in `data`, as Kubernetes stores it), so
/// plans and drift reports show `(secret)`; a value may be another
/// resource's secret output.
///
/// - `type`: `Opaque` when empty; Kubernetes does not change it in place,
///   so changing it replaces the Secret.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "kubernetes:core:Secret", outputs = ObjectOutputs)]
pub struct Secret {
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
    /// Its type (`kubernetes.io/tls`, ...); empty: `Opaque`.
    #[serde(rename = "type")]
    #[resource(force_new)]
    pub type_: String,
    /// Its entries, secret.
    pub data: BTreeMap<String, Input<dafnck_core::Secret<String>>>,
}

/// How [`Secret`] is served.
pub(crate) struct SecretKind;

#[async_trait]
impl Kind for SecretKind {
    type Resource = Secret;

    fn meta(s: &Subject, v: &Secret) -> Result<Meta, ProviderError> {
        Ok(Meta {
            name: v.name.clone(),
            namespace: Some(known(s, "namespace", &v.namespace)?.to_owned()),
            labels: v.labels.clone(),
            annotations: v.annotations.clone(),
        })
    }

    async fn api(_: &Kube, _: &Subject, _: &Secret) -> Result<ApiResource, ProviderError> {
        Ok(ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&()))
    }

    fn content(s: &Subject, v: &Secret) -> Result<Map<String, Json>, ProviderError> {
        let mut data = BTreeMap::new();
        for (key, value) in &v.data {
            // The key only: the value is never in a message.
            let value = value.as_value().ok_or_else(|| {
                s.error(format!("the value of `data` entry {key:?} is not known"))
            })?;
            data.insert(key.clone(), ByteString(value.expose().as_bytes().to_vec()));
        }
        let mut content = Map::new();
        if !v.type_.is_empty() {
            content.insert("type".into(), Json::String(v.type_.clone()));
        }
        if !data.is_empty() {
            content.insert("data".into(), to_json(s, "data", &data)?);
        }
        Ok(content)
    }

    fn found(
        s: &Subject,
        recorded: &Secret,
        meta: &Meta,
        found: &Map<String, Json>,
    ) -> Result<Secret, ProviderError> {
        let raw: BTreeMap<String, ByteString> = field(s, found, "data")?;
        let data = raw
            .into_iter()
            .map(|(key, bytes)| {
                let text = String::from_utf8(bytes.0).map_err(|_| {
                    s.error(format!(
                        "the value of `data` entry {key:?} is not UTF-8 text"
                    ))
                })?;
                Ok((key, Input::from(dafnck_core::Secret::new(text))))
            })
            .collect::<Result<_, ProviderError>>()?;
        Ok(Secret {
            name: meta.name.clone(),
            namespace: meta.namespace.clone().unwrap_or_default().into(),
            labels: meta.labels.clone(),
            annotations: meta.annotations.clone(),
            type_: match found.get("type").and_then(Json::as_str) {
                Some(t) if !recorded.type_.is_empty() => t.to_owned(),
                _ => recorded.type_.clone(),
            },
            data,
        })
    }
}
