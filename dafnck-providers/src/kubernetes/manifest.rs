//! [`Manifest`] (`kubernetes:generic:Manifest`): any other kind, by its
//! `apiVersion` and `kind`, found by discovery.

use std::collections::BTreeMap;

use async_trait::async_trait;
use dafnck_core::prelude::*;
use dafnck_core::ProviderError;
use kube::core::GroupVersionKind;
use kube::discovery::{pinned_kind, ApiResource, Scope};
use serde_json::{Map, Value as Json};

use super::client::Subject;
use super::object::{Kind, Meta};
use super::{Kube, ObjectOutputs};

/// An object of any kind the cluster serves (a custom resource, a
/// ServiceAccount, a PodDisruptionBudget...), applied and read like the
/// typed ones: `body` holds its fields besides `apiVersion`, `kind` and
/// `metadata` (`spec`, `data`, `rules`...), of which only those set are
/// dafnck's. [`Manifest::of`] makes one from any k8s-openapi object.
///
/// - `namespace`: empty for a cluster-wide kind; required for a namespaced
///   one (discovery says which).
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "kubernetes:generic:Manifest", outputs = ObjectOutputs)]
pub struct Manifest {
    /// Its `apiVersion` (`v1`, `policy/v1`, `example.com/v1alpha1`).
    #[resource(force_new)]
    pub api_version: String,
    /// Its `kind`.
    #[resource(force_new)]
    pub kind: String,
    /// Its name. Changing it replaces the object.
    #[resource(force_new)]
    pub name: String,
    /// Its namespace; empty for a cluster-wide kind.
    #[resource(force_new)]
    pub namespace: Input<String>,
    /// Its labels (besides the provider's own).
    pub labels: BTreeMap<String, String>,
    /// Its annotations (besides the provider's own).
    pub annotations: BTreeMap<String, String>,
    /// Its other fields.
    pub body: BTreeMap<String, Json>,
}

impl Manifest {
    /// The manifest of a typed object (`apiVersion`, `kind`, name,
    /// namespace, labels and annotations from it; its other fields as
    /// `body`).
    ///
    /// # Errors
    /// When the object does not serialize to a JSON object.
    pub fn of<K>(object: &K) -> Result<Manifest, serde_json::Error>
    where
        K: k8s_openapi::Resource + serde::Serialize,
    {
        use serde::de::Error as _;
        let Json::Object(mut fields) = serde_json::to_value(object)? else {
            return Err(serde_json::Error::custom("the object is not a JSON object"));
        };
        let meta = fields.remove("metadata").unwrap_or_default();
        fields.remove("apiVersion");
        fields.remove("kind");
        let text = |key: &str| meta[key].as_str().unwrap_or_default().to_owned();
        let map = |key: &str| -> Result<BTreeMap<String, String>, serde_json::Error> {
            Ok(serde_json::from_value(meta[key].clone()).unwrap_or_default())
        };
        Ok(Manifest {
            api_version: K::API_VERSION.to_owned(),
            kind: K::KIND.to_owned(),
            name: text("name"),
            namespace: text("namespace").into(),
            labels: map("labels")?,
            annotations: map("annotations")?,
            body: fields.into_iter().collect(),
        })
    }
}

/// How [`Manifest`] is served.
pub(crate) struct ManifestKind;

fn namespace_of(v: &Manifest) -> Option<String> {
    v.namespace.as_value().filter(|ns| !ns.is_empty()).cloned()
}

#[async_trait]
impl Kind for ManifestKind {
    type Resource = Manifest;

    fn meta(s: &Subject, v: &Manifest) -> Result<Meta, ProviderError> {
        if v.namespace.as_value().is_none() {
            return Err(s.error("`namespace` is not known"));
        }
        Ok(Meta {
            name: v.name.clone(),
            namespace: namespace_of(v),
            labels: v.labels.clone(),
            annotations: v.annotations.clone(),
        })
    }

    async fn api(kube: &Kube, s: &Subject, v: &Manifest) -> Result<ApiResource, ProviderError> {
        if v.api_version.is_empty() || v.kind.is_empty() {
            return Err(s.error("`api_version` and `kind` are required"));
        }
        let key = (v.api_version.clone(), v.kind.clone());
        let cached = kube
            .discovered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        let (api, namespaced) = match cached {
            Some(found) => found,
            None => {
                let (group, version) = v
                    .api_version
                    .split_once('/')
                    .unwrap_or(("", &v.api_version));
                let gvk = GroupVersionKind::gvk(group, version, &v.kind);
                let client = kube.client().await?;
                let (api, caps) = pinned_kind(client, &gvk).await.map_err(|e| {
                    s.kube(&format!("discovery of {} {}", v.api_version, v.kind), e)
                })?;
                let found = (api, caps.scope == Scope::Namespaced);
                kube.discovered
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, found.clone());
                found
            }
        };
        match (namespaced, namespace_of(v)) {
            (true, None) => {
                Err(s.error(format!("{} is namespaced: `namespace` is required", v.kind)))
            }
            (false, Some(ns)) => Err(s.error(format!(
                "{} is cluster-wide: `namespace` must be empty, not {ns:?}",
                v.kind
            ))),
            _ => Ok(api),
        }
    }

    fn content(s: &Subject, v: &Manifest) -> Result<Map<String, Json>, ProviderError> {
        for key in ["apiVersion", "kind", "metadata"] {
            if v.body.contains_key(key) {
                return Err(s.error(format!(
                    "`body` holds {key:?}: set it as the field of its own"
                )));
            }
        }
        Ok(v.body.clone().into_iter().collect())
    }

    fn found(
        _: &Subject,
        recorded: &Manifest,
        meta: &Meta,
        found: &Map<String, Json>,
    ) -> Result<Manifest, ProviderError> {
        Ok(Manifest {
            name: meta.name.clone(),
            namespace: meta.namespace.clone().unwrap_or_default().into(),
            labels: meta.labels.clone(),
            annotations: meta.annotations.clone(),
            body: recorded
                .body
                .keys()
                .filter_map(|k| Some((k.clone(), found.get(k)?.clone())))
                .collect(),
            ..recorded.clone()
        })
    }
}
