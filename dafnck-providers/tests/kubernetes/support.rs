//! What the kubernetes tests share: a cluster (the given one, or a fake
//! API server in process), a provider and a client for it (someone else at
//! the cluster: `kubectl` by another name), and namespaces of the test's
//! own, deleted when it ends.

use std::io::Write;
use std::time::Duration;

use dafnck_core::engine::{Engine, Settings as EngineSettings};
use dafnck_core::prelude::*;
use dafnck_core::provider::CreateRequest;
use dafnck_core::state::MemoryStore;
use dafnck_core::testing::fast_retry;
use dafnck_providers::kubernetes::{Provider, Settings};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{json, Value as Json};

/// The manager of changes made behind the provider's back.
pub(crate) const SOMEONE: &str = "someone-else";

/// A create of resource `name` (stack `test`) with `inputs`.
pub(crate) fn create<R: Resource + serde::Serialize>(
    name: &str,
    inputs: &R,
    token: &str,
) -> CreateRequest {
    CreateRequest {
        name: name.into(),
        stack: "test".into(),
        type_name: R::TYPE.into(),
        inputs: dafnck_core::Value::from_serialize(inputs).expect("inputs serialize"),
        token: token.into(),
    }
}

/// Patch parameters for a change by `manager`.
pub(crate) fn by(manager: &str) -> PatchParams {
    PatchParams {
        field_manager: Some(manager.to_owned()),
        ..PatchParams::default()
    }
}

/// A cluster for one test.
pub(crate) struct Cluster {
    pub(crate) provider: Provider,
    /// A client that is not the provider.
    pub(crate) client: Client,
    /// The test's namespace (made by the client), unique on the cluster.
    pub(crate) namespace: String,
    _server: Option<dafnck_kube_fake::Running>,
}

/// A name unique on a shared cluster: `prefix` and a suffix.
pub(crate) fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}-{:x}{:x}",
        nanos & 0x00ff_ffff,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A cluster for `test`: the one `DAFNCK_KUBECONFIG` names, else a fake
/// API server in process. `None` (the test is skipped) when the given
/// cluster does not answer, unless `DAFNCK_REQUIRE_SERVERS=1`, when the
/// test fails.
pub(crate) async fn cluster(test: &str) -> Option<Cluster> {
    let kubeconfig = std::env::var("DAFNCK_KUBECONFIG")
        .ok()
        .filter(|v| !v.is_empty());
    let (settings, client, server) = match kubeconfig {
        Some(path) => {
            let context = std::env::var("DAFNCK_KUBE_CONTEXT")
                .ok()
                .filter(|c| !c.is_empty());
            let client = match given_client(&path, context.clone()).await {
                Ok(c) => c,
                Err(why) => {
                    let why =
                        format!("the cluster of DAFNCK_KUBECONFIG={path} does not answer: {why}");
                    if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
                        panic!("{test}: {why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
                    }
                    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
                    return None;
                }
            };
            let settings = Settings {
                poll_interval: Duration::from_millis(200),
                wait_timeout: Duration::from_secs(180),
                ..Settings::kubeconfig(path, context)
            };
            (settings, client, None)
        }
        None => {
            let server = dafnck_kube_fake::spawn().expect("the fake API server starts");
            let settings = Settings {
                wait_timeout: Duration::from_secs(60),
                ..Settings::endpoint(server.url())
            };
            let config = Config::new(server.url().parse().expect("a URL"));
            dafnck_providers::kubernetes::install_tls_provider();
            let client = Client::try_from(config).expect("a client");
            (settings, client, Some(server))
        }
    };
    let namespace = unique(&format!(
        "t-{}",
        &test[..test.len().min(20)].replace('_', "-")
    ));
    make_namespace(&client, &namespace).await;
    Some(Cluster {
        provider: Provider::new(settings),
        client,
        namespace,
        _server: server,
    })
}

async fn given_client(path: &str, context: Option<String>) -> Result<Client, String> {
    let file = Kubeconfig::read_from(path).map_err(|e| e.to_string())?;
    let options = KubeConfigOptions {
        context,
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(file, &options)
        .await
        .map_err(|e| e.to_string())?;
    dafnck_providers::kubernetes::install_tls_provider();
    let client = Client::try_from(config).map_err(|e| e.to_string())?;
    client
        .apiserver_version()
        .await
        .map_err(|e| e.to_string())?;
    Ok(client)
}

/// Makes namespace `name` as someone else.
pub(crate) async fn make_namespace(client: &Client, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("namespace {name} cannot be made: {e}"));
}

impl Cluster {
    /// Deletes the test's namespace (what is left in it goes with it).
    pub(crate) async fn end(self) {
        let _ = Api::<Namespace>::all(self.client.clone())
            .delete(&self.namespace, &DeleteParams::default())
            .await;
    }

    /// An engine with the provider, an in-memory state, secrets sealed.
    pub(crate) fn engine(&self) -> Engine {
        Engine::new(
            "test",
            MemoryStore::new(),
            Providers::new().with(self.provider.clone()),
        )
        .settings(EngineSettings {
            retry: fast_retry(),
            ..EngineSettings::default()
        })
        .secrets_key(dafnck_core::state::SecretsKey::generate())
    }

    /// The dynamic API of `kind` (`deployments`, ...) in `api_version`,
    /// namespaced in the test's namespace unless `kind` is `namespaces`.
    pub(crate) fn api(
        &self,
        api_version: &str,
        kind: &str,
        plural: &str,
    ) -> Api<kube::api::DynamicObject> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = kube::core::GroupVersionKind::gvk(group, version, kind);
        let ar = kube::discovery::ApiResource::from_gvk_with_plural(&gvk, plural);
        if kind == "Namespace" {
            Api::all_with(self.client.clone(), &ar)
        } else {
            Api::namespaced_with(self.client.clone(), &self.namespace, &ar)
        }
    }

    /// The object as JSON, if it exists.
    pub(crate) async fn get(
        &self,
        api: &Api<kube::api::DynamicObject>,
        name: &str,
    ) -> Option<Json> {
        api.get_opt(name)
            .await
            .expect("get")
            .map(|o| serde_json::to_value(o).unwrap())
    }

    /// A JSON merge patch of `name`, by someone else (an update, as
    /// `kubectl edit` makes one): they own what they set.
    pub(crate) async fn edit(&self, api: &Api<kube::api::DynamicObject>, name: &str, patch: Json) {
        api.patch(name, &by(SOMEONE), &Patch::Merge(&patch))
            .await
            .unwrap_or_else(|e| panic!("the edit of {name} failed: {e}"));
    }
}

/// What the engine recorded of resource `name`'s outputs.
pub(crate) async fn outputs<T: serde::de::DeserializeOwned>(engine: &Engine, name: &str) -> T {
    let state = engine.state().await.unwrap();
    let r = state
        .resources
        .get(name)
        .unwrap_or_else(|| panic!("{name} is not recorded"));
    r.outputs.deserialize_into().unwrap()
}
