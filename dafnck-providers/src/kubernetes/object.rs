//! The life cycle every kind shares, as one generic handler: a create or
//! update is a forced server-side apply under [`FIELD_MANAGER`] (a create
//! first checks that an object of its name is its own), a read is the live
//! object restricted to the fields the manifest sets, a delete waits until
//! the object is gone. A kind says only what its manifest is, how a live
//! object reads back into its inputs, and (a Deployment) when it is ready.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::time::Instant;

use async_trait::async_trait;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    Create, CreateResult, Delete, Found, Made, Read, ReadResult, ResourceHandler, Update,
    UpdateResult,
};
use dafnck_core::provider::{Diff, DiffRequest};
use dafnck_core::ProviderError;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value as Json};

use super::client::{is_not_found, Subject};
use super::project::project;
use super::{Kube, ObjectOutputs, FIELD_MANAGER, MANAGED_BY_LABEL, TOKEN_ANNOTATION};

/// Where an object is: its API, namespace and name.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// Its kind's API (group, version, kind, plural).
    pub api: ApiResource,
    /// Its namespace; `None` for a cluster-wide kind.
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
}

impl Target {
    /// The provider's id: `namespace/name`, or `name`.
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }

    fn describe(&self) -> String {
        format!("{} {}", self.api.kind, self.id())
    }
}

/// An object's metadata as a resource declares it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Meta {
    pub name: String,
    pub namespace: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

impl Meta {
    /// The metadata of a namespaced object, its namespace known.
    pub fn namespaced(
        s: &Subject,
        name: &str,
        namespace: &Input<String>,
        labels: &BTreeMap<String, String>,
        annotations: &BTreeMap<String, String>,
    ) -> Result<Meta, ProviderError> {
        Ok(Meta {
            name: name.to_owned(),
            namespace: Some(known(s, "namespace", namespace)?.to_owned()),
            labels: labels.clone(),
            annotations: annotations.clone(),
        })
    }
}

/// What one kind adds to the shared life cycle.
#[async_trait]
pub(crate) trait Kind: Send + Sync + 'static {
    /// The resource's input struct.
    type Resource: Resource<Outputs = ObjectOutputs>
        + dafnck_core::Declare
        + DeserializeOwned
        + Send
        + Sync
        + Clone;

    /// The object's metadata, from the inputs; a clear error when they
    /// cannot name an object.
    fn meta(s: &Subject, inputs: &Self::Resource) -> Result<Meta, ProviderError>;

    /// The kind's API (a [`Manifest`](super::Manifest) finds it by
    /// discovery).
    async fn api(
        kube: &Kube,
        s: &Subject,
        inputs: &Self::Resource,
    ) -> Result<ApiResource, ProviderError>;

    /// The manifest's fields besides `apiVersion`, `kind` and `metadata`.
    fn content(s: &Subject, inputs: &Self::Resource) -> Result<Map<String, Json>, ProviderError>;

    /// The inputs as found: `recorded` with its labels, annotations and
    /// content replaced by the live object's (`found`, restricted to the
    /// fields the manifest sets).
    fn found(
        s: &Subject,
        recorded: &Self::Resource,
        meta: &Meta,
        found: &Map<String, Json>,
    ) -> Result<Self::Resource, ProviderError>;

    /// Waits until the applied object (`applied`, as the apply answered)
    /// is ready; the default returns at once.
    async fn ready(
        kube: &Kube,
        s: &Subject,
        api: &Api<DynamicObject>,
        applied: &Json,
    ) -> Result<(), ProviderError> {
        let _ = (kube, s, api, applied);
        Ok(())
    }
}

/// Serves a [`Kind`].
pub(crate) struct Handler<K>(PhantomData<fn() -> K>);

impl<K> Handler<K> {
    pub fn new() -> Self {
        Handler(PhantomData)
    }
}

/// Decodes a field of the live object into its typed form.
pub(crate) fn field<T: DeserializeOwned + Default>(
    s: &Subject,
    found: &Map<String, Json>,
    key: &str,
) -> Result<T, ProviderError> {
    match found.get(key) {
        None | Some(Json::Null) => Ok(T::default()),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| s.error(format!("the cluster's `{key}` does not decode: {e}"))),
    }
}

/// Encodes a typed field of a manifest.
pub(crate) fn to_json<T: serde::Serialize>(
    s: &Subject,
    key: &str,
    value: &T,
) -> Result<Json, ProviderError> {
    serde_json::to_value(value).map_err(|e| s.error(format!("`{key}` does not encode: {e}")))
}

/// A known input (resolved before a create, update or read).
pub(crate) fn known<'a>(
    s: &Subject,
    field: &str,
    input: &'a Input<String>,
) -> Result<&'a str, ProviderError> {
    input
        .as_value()
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| s.error(format!("`{field}` is not known")))
}

/// Checks a name as Kubernetes does for most kinds (RFC 1123 subdomain).
fn check_name(s: &Subject, what: &str, name: &str) -> Result<(), ProviderError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(s.error(format!(
            "{what} {name:?} is not a valid Kubernetes name (lower-case letters, digits, \
             '-' and '.', starting and ending with a letter or digit, at most 253)"
        )))
    }
}

fn subject<K: Kind>(name: &str) -> Subject {
    Subject {
        type_name: K::Resource::TYPE,
        resource: name.to_owned(),
        object: String::new(),
    }
}

/// The object's target and metadata from its inputs.
async fn target<K: Kind>(
    kube: &Kube,
    s: &mut Subject,
    inputs: &K::Resource,
) -> Result<(Target, Meta), ProviderError> {
    let meta = K::meta(s, inputs)?;
    check_name(s, "name", &meta.name)?;
    if let Some(ns) = &meta.namespace {
        check_name(s, "namespace", ns)?;
    }
    let api = K::api(kube, s, inputs).await?;
    let t = Target {
        api,
        namespace: meta.namespace.clone(),
        name: meta.name.clone(),
    };
    s.object = t.describe();
    Ok((t, meta))
}

/// The dynamic API of the target's kind, in its namespace.
async fn api_of(kube: &Kube, t: &Target) -> Result<Api<DynamicObject>, ProviderError> {
    let client = kube.client().await?.clone();
    Ok(match &t.namespace {
        Some(ns) => Api::namespaced_with(client, ns, &t.api),
        None => Api::all_with(client, &t.api),
    })
}

/// How a manifest is stamped as the provider's own.
#[derive(Clone, Copy)]
enum Stamp<'a> {
    /// Not at all: the shape a read restricts the live object to.
    Bare,
    /// The provider's label, and the create's token when known.
    Own(Option<&'a str>),
}

/// The whole manifest dafnck applies: the kind's content and the
/// metadata, stamped.
fn manifest<K: Kind>(
    s: &Subject,
    t: &Target,
    meta: &Meta,
    inputs: &K::Resource,
    stamp: Stamp<'_>,
) -> Result<Json, ProviderError> {
    let mut labels = meta.labels.clone();
    let mut annotations = meta.annotations.clone();
    for key in [MANAGED_BY_LABEL, TOKEN_ANNOTATION] {
        if labels.contains_key(key) || annotations.contains_key(key) {
            return Err(s.error(format!(
                "the label or annotation {key:?} is the provider's own"
            )));
        }
    }
    if let Stamp::Own(token) = stamp {
        labels.insert(MANAGED_BY_LABEL.into(), FIELD_MANAGER.into());
        if let Some(token) = token {
            annotations.insert(TOKEN_ANNOTATION.into(), token.into());
        }
    }
    let mut metadata = json!({ "name": t.name });
    if let Some(ns) = &t.namespace {
        metadata["namespace"] = json!(ns);
    }
    if !labels.is_empty() {
        metadata["labels"] = json!(labels);
    }
    if !annotations.is_empty() {
        metadata["annotations"] = json!(annotations);
    }
    let mut object = K::content(s, inputs)?;
    object.insert("apiVersion".into(), json!(t.api.api_version));
    object.insert("kind".into(), json!(t.api.kind));
    object.insert("metadata".into(), metadata);
    Ok(Json::Object(object))
}

fn token_of(live: &Json) -> Option<&str> {
    live["metadata"]["annotations"][TOKEN_ANNOTATION].as_str()
}

/// The object `name` as JSON; `None` when it does not exist.
pub(crate) async fn get(
    s: &Subject,
    api: &Api<DynamicObject>,
    name: &str,
) -> Result<Option<Json>, ProviderError> {
    let found = api.get_opt(name).await.map_err(|e| s.kube("get", e))?;
    found
        .map(|o| {
            serde_json::to_value(o).map_err(|e| s.error(format!("the object does not encode: {e}")))
        })
        .transpose()
}

/// Applies the manifest (forced, as [`FIELD_MANAGER`]) and waits until the
/// object is ready; its outputs.
async fn apply<K: Kind>(
    kube: &Kube,
    s: &Subject,
    api: &Api<DynamicObject>,
    t: &Target,
    manifest: &Json,
) -> Result<ObjectOutputs, ProviderError> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let applied = api
        .patch(&t.name, &params, &Patch::Apply(manifest))
        .await
        .map_err(|e| s.kube("server-side apply", e))?;
    let applied = serde_json::to_value(applied)
        .map_err(|e| s.error(format!("the object does not encode: {e}")))?;
    K::ready(kube, s, api, &applied).await?;
    Ok(outputs(t, &applied))
}

fn outputs(t: &Target, live: &Json) -> ObjectOutputs {
    ObjectOutputs {
        name: t.name.clone(),
        namespace: t.namespace.clone().unwrap_or_default(),
        uid: live["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// Without the provider's own label and annotation.
fn users(found: &Json, key: &str, own: &str) -> BTreeMap<String, String> {
    found["metadata"][key]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != own)
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect()
}

/// The target of a read: from the id when there is one (`namespace/name`
/// or `name`), else from the recorded inputs.
fn read_target(t: &mut Target, id: Option<&str>) {
    if let Some(id) = id {
        match id.split_once('/') {
            Some((ns, name)) => {
                t.namespace = Some(ns.to_owned());
                t.name = name.to_owned();
            }
            None => {
                t.namespace = None;
                t.name = id.to_owned();
            }
        }
    }
}

#[async_trait]
impl<K: Kind> ResourceHandler for Handler<K> {
    type Resource = K::Resource;
    type Context = Kube;

    fn replace_conflict(&self, req: &DiffRequest<'_>) -> Option<String> {
        let at = |v: &dafnck_core::Value| {
            let s = |k: &str| {
                v.get(k)
                    .and_then(dafnck_core::Value::as_str)
                    .map(str::to_owned)
            };
            Some((s("name")?, s("namespace")))
        };
        let new = at(req.new_inputs)?;
        (at(req.old_inputs) == Some(new.clone())).then(|| {
            format!(
                "its name {:?} is fixed, and names are unique per kind and namespace, so the \
                 new object cannot be made while the old one exists: change the name, or \
                 replace it with `delete_before_replace`",
                new.0
            )
        })
    }

    fn diff(&self, req: &DiffRequest<'_>) -> Diff {
        Diff {
            replace_conflict: self.replace_conflict(req),
            ..dafnck_core::provider::standard_diff(req)
        }
    }

    async fn create(&self, kube: &Kube, req: Create<K::Resource>) -> CreateResult<K::Resource> {
        let mut s = subject::<K>(&req.name);
        let (t, meta) = target::<K>(kube, &mut s, &req.inputs).await?;
        let manifest = manifest::<K>(&s, &t, &meta, &req.inputs, Stamp::Own(Some(&req.token)))?;
        let api = api_of(kube, &t).await?;
        if let Some(live) = get(&s, &api, &t.name).await? {
            match token_of(&live) {
                Some(token) if token == req.token => {}
                other => {
                    return Err(s.error(format!(
                        "it already exists and was not made by this create ({}): import it, \
                         or choose another name",
                        match other {
                            Some(_) => "another create's token is on it".to_owned(),
                            None => format!("it has no {TOKEN_ANNOTATION:?} annotation"),
                        }
                    )))
                }
            }
        }
        let outputs = apply::<K>(kube, &s, &api, &t, &manifest).await?;
        Ok(Made {
            id: t.id(),
            outputs,
        })
    }

    async fn read(&self, kube: &Kube, req: Read<K::Resource>) -> ReadResult<K::Resource> {
        let mut s = subject::<K>(&req.name);
        let recorded = req.recorded.decode()?;
        let (mut t, meta) = target::<K>(kube, &mut s, &recorded).await?;
        read_target(&mut t, req.id.as_deref());
        s.object = t.describe();
        let api = api_of(kube, &t).await?;
        let Some(live) = get(&s, &api, &t.name).await? else {
            return Ok(None);
        };
        if req.id.is_none() && token_of(&live) != req.token.as_deref() {
            return Ok(None);
        }
        let desired = manifest::<K>(&s, &t, &meta, &recorded, Stamp::Bare)?;
        let projected = project(&live, &desired);
        let found_meta = Meta {
            name: t.name.clone(),
            namespace: t.namespace.clone(),
            labels: users(&projected, "labels", MANAGED_BY_LABEL),
            annotations: users(&projected, "annotations", TOKEN_ANNOTATION),
        };
        let content = projected.as_object().cloned().unwrap_or_default();
        let inputs = K::found(&s, &recorded, &found_meta, &content)?;
        Ok(Some(Found {
            id: t.id(),
            inputs,
            outputs: outputs(&t, &live),
        }))
    }

    async fn update(&self, kube: &Kube, req: Update<K::Resource>) -> UpdateResult<K::Resource> {
        let mut s = subject::<K>(&req.name);
        let (mut t, meta) = target::<K>(kube, &mut s, &req.inputs).await?;
        read_target(&mut t, Some(&req.id));
        s.object = t.describe();
        let api = api_of(kube, &t).await?;
        let live = get(&s, &api, &t.name).await?.ok_or_else(|| {
            s.error("it no longer exists (deleted outside dafnck): refresh and apply again")
        })?;
        // The token stays on the object (an apply without it would drop it).
        let manifest = manifest::<K>(&s, &t, &meta, &req.inputs, Stamp::Own(token_of(&live)))?;
        apply::<K>(kube, &s, &api, &t, &manifest).await
    }

    async fn delete(&self, kube: &Kube, req: Delete<K::Resource>) -> Result<(), ProviderError> {
        let mut s = subject::<K>(&req.name);
        let recorded = req.inputs.decode()?;
        let (mut t, _) = target::<K>(kube, &mut s, &recorded).await?;
        read_target(&mut t, Some(&req.id));
        s.object = t.describe();
        let api = api_of(kube, &t).await?;
        let params = DeleteParams::background();
        match api.delete(&t.name, &params).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(s.kube("delete", e)),
        }
        // Gone only when the API says so (a namespace terminates first).
        let settings = kube.settings();
        let deadline = Instant::now() + settings.wait_timeout;
        while get(&s, &api, &t.name).await?.is_some() {
            if Instant::now() >= deadline {
                return Err(s.error(format!(
                    "it was deleted but still exists after {:?} (finalizers?)",
                    settings.wait_timeout
                )));
            }
            tokio::time::sleep(settings.poll_interval).await;
        }
        Ok(())
    }
}

/// Declares a namespaced kind whose manifest is its `spec`: the resource
/// struct `$name` (name, namespace, labels, annotations, spec of type
/// `$spec`) of type `$type`, and `$kind`, its [`Kind`] for the
/// k8s-openapi type `$api` (`ready`: a block awaiting readiness, or none).
macro_rules! spec_kind {
    (
        $(#[$doc:meta])*
        $name:ident, $type:literal, $spec:ty, $api:ty, $kind:ident
        $(, ready = $ready:path)?
    ) => {
        $(#[$doc])*
        #[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
        #[serde(default)]
        #[resource(type = $type, outputs = super::ObjectOutputs)]
        pub struct $name {
            /// Its name. Changing it replaces the object.
            #[resource(force_new)]
            pub name: String,
            /// Its namespace (a [`Namespace`](super::Namespace)'s
            /// `out().name`, or a name). Changing it replaces the object.
            #[resource(force_new)]
            pub namespace: Input<String>,
            /// Its labels (besides the provider's own).
            pub labels: std::collections::BTreeMap<String, String>,
            /// Its annotations (besides the provider's own).
            pub annotations: std::collections::BTreeMap<String, String>,
            /// Its spec, as Kubernetes defines it: only the fields set are
            /// applied and owned.
            #[declare(json)]
            pub spec: $spec,
        }

        /// How [`
        #[doc = stringify!($name)]
        /// `] is served.
        pub(crate) struct $kind;

        #[async_trait::async_trait]
        impl super::object::Kind for $kind {
            type Resource = $name;

            fn meta(
                s: &super::client::Subject,
                v: &$name,
            ) -> Result<super::object::Meta, dafnck_core::ProviderError> {
                super::object::Meta::namespaced(s, &v.name, &v.namespace, &v.labels, &v.annotations)
            }

            async fn api(
                _: &super::Kube,
                _: &super::client::Subject,
                _: &$name,
            ) -> Result<kube::discovery::ApiResource, dafnck_core::ProviderError> {
                Ok(kube::discovery::ApiResource::erase::<$api>(&()))
            }

            fn content(
                s: &super::client::Subject,
                v: &$name,
            ) -> Result<serde_json::Map<String, serde_json::Value>, dafnck_core::ProviderError> {
                let mut content = serde_json::Map::new();
                content.insert("spec".into(), super::object::to_json(s, "spec", &v.spec)?);
                Ok(content)
            }

            fn found(
                s: &super::client::Subject,
                _: &$name,
                meta: &super::object::Meta,
                found: &serde_json::Map<String, serde_json::Value>,
            ) -> Result<$name, dafnck_core::ProviderError> {
                Ok($name {
                    name: meta.name.clone(),
                    namespace: meta.namespace.clone().unwrap_or_default().into(),
                    labels: meta.labels.clone(),
                    annotations: meta.annotations.clone(),
                    spec: super::object::field(s, found, "spec")?,
                })
            }

            $(
            async fn ready(
                kube: &super::Kube,
                s: &super::client::Subject,
                api: &kube::Api<kube::api::DynamicObject>,
                applied: &serde_json::Value,
            ) -> Result<(), dafnck_core::ProviderError> {
                $ready(kube, s, api, applied).await
            }
            )?
        }
    };
}
pub(crate) use spec_kind;
