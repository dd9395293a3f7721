//! Traffic routers on a Kubernetes cluster, through kube-rs. Behind the
//! `kubernetes` feature.
//!
//! A canary or blue-green of a `Deployment` runs the new version as a
//! second Deployment beside the serving one (its own name, and a `version`
//! label of its own on its pods), and moves traffic between the two
//! versions' pods:
//!
//! - [`IngressCanaryRouter`]: a canary Ingress with ingress-nginx's canary
//!   annotations (`nginx.ingress.kubernetes.io/canary: "true"`,
//!   `canary-weight`) beside the serving Ingress, routing to a canary
//!   Service that selects the new version's pods. Promoted, the serving
//!   Service selects the new pods and the canary objects go; rolled back,
//!   they go and the serving Service is left as it was.
//! - [`ServiceSwitchRouter`]: blue-green by switching the serving Service's
//!   selector from the old version's labels to the new one's, and back on
//!   rollback.
//!
//! Both write with server-side apply under their own field manager
//! ([`FIELD_MANAGER`]), so what the routers set is told apart from what the
//! program declares. Both confirm a change by reading the object back; the
//! ingress controller and kube-proxy act on it asynchronously, which the
//! API cannot confirm.
//!
//! [`Cluster`] says which cluster to talk to: a kube-rs client of the
//! program's own, a kubeconfig (and context), or the usual inference
//! (`KUBECONFIG`, `~/.kube/config`, in-cluster).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::OnceCell;

mod ingress;
mod service;

pub use ingress::IngressCanaryRouter;
pub use service::ServiceSwitchRouter;

/// The field manager the routers apply their changes under.
pub const FIELD_MANAGER: &str = "dafnck-rollout";

/// Pod labels: what a Service selects.
pub type Labels = BTreeMap<String, String>;

/// Which Kubernetes cluster a router talks to. Cheap to clone; the client
/// is made once, on first use, and shared by the clones.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<ClusterInner>,
}

struct ClusterInner {
    source: Source,
    client: OnceCell<Client>,
}

#[derive(Clone)]
enum Source {
    Client,
    Kubeconfig {
        path: PathBuf,
        context: Option<String>,
    },
    Infer,
    Endpoint(String),
    Context(String),
}

impl Cluster {
    /// The cluster `client` talks to.
    pub fn new(client: Client) -> Self {
        Cluster {
            inner: Arc::new(ClusterInner {
                source: Source::Client,
                client: OnceCell::new_with(Some(client)),
            }),
        }
    }

    /// The cluster of the kubeconfig at `path`, in `context` (else its
    /// current context).
    pub fn from_kubeconfig(path: impl Into<PathBuf>, context: Option<&str>) -> Self {
        Cluster::with_source(Source::Kubeconfig {
            path: path.into(),
            context: context.map(str::to_owned),
        })
    }

    /// The cluster kube-rs infers: `KUBECONFIG` or `~/.kube/config`, else
    /// the in-cluster service account.
    pub fn infer() -> Self {
        Cluster::with_source(Source::Infer)
    }

    /// A plain-HTTP API server at `url` without credentials (a test
    /// server).
    pub fn endpoint(url: impl Into<String>) -> Self {
        Cluster::with_source(Source::Endpoint(url.into()))
    }

    /// The cluster the `kubernetes` provider's `Settings::from_env` of
    /// dafnck-providers finds: `DAFNCK_KUBE_URL` (a plain-HTTP test
    /// server), else the kubeconfig `DAFNCK_KUBECONFIG` in context
    /// `DAFNCK_KUBE_CONTEXT` (else its current one), else
    /// [`Cluster::infer`] (then `DAFNCK_KUBE_CONTEXT`, if set, picks the
    /// context of the default kubeconfig).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let context = var("DAFNCK_KUBE_CONTEXT");
        if let Some(url) = var("DAFNCK_KUBE_URL") {
            Cluster::endpoint(url)
        } else if let Some(path) = var("DAFNCK_KUBECONFIG") {
            Cluster::from_kubeconfig(path, context.as_deref())
        } else if let Some(context) = context {
            Cluster::with_source(Source::Context(context))
        } else {
            Cluster::infer()
        }
    }

    fn with_source(source: Source) -> Self {
        Cluster {
            inner: Arc::new(ClusterInner {
                source,
                client: OnceCell::new(),
            }),
        }
    }

    /// The client, made on first use.
    ///
    /// # Errors
    /// The kubeconfig cannot be read or names no usable cluster; the
    /// message says which.
    pub async fn client(&self) -> Result<Client, String> {
        let source = self.inner.source.clone();
        self.inner
            .client
            .get_or_try_init(|| async move {
                let config = match &source {
                    Source::Client => unreachable!("a cluster made from a client has it"),
                    Source::Kubeconfig { path, context } => {
                        let kubeconfig = Kubeconfig::read_from(path).map_err(|e| {
                            format!("kubeconfig {}: cannot be read: {e}", path.display())
                        })?;
                        let options = KubeConfigOptions {
                            context: context.clone(),
                            ..KubeConfigOptions::default()
                        };
                        Config::from_custom_kubeconfig(kubeconfig, &options)
                            .await
                            .map_err(|e| {
                                format!("kubeconfig {}: no usable cluster: {e}", path.display())
                            })?
                    }
                    Source::Infer => Config::infer().await.map_err(|e| {
                        format!("no Kubernetes cluster configured (KUBECONFIG, ~/.kube/config or in-cluster): {e}")
                    })?,
                    Source::Context(context) => {
                        let options = KubeConfigOptions {
                            context: Some(context.clone()),
                            ..KubeConfigOptions::default()
                        };
                        Config::from_kubeconfig(&options).await.map_err(|e| {
                            format!("kubeconfig context {context}: no usable cluster: {e}")
                        })?
                    }
                    Source::Endpoint(url) => {
                        let uri = url.parse().map_err(|e| {
                            format!("Kubernetes API server {url}: not a URL: {e}")
                        })?;
                        Config::new(uri)
                    }
                };
                // With both of rustls's providers in the build (the gcp
                // feature brings aws-lc-rs), rustls cannot pick one and the
                // client would panic: ring's serves unless one is installed.
                let _ = rustls::crypto::ring::default_provider().install_default();
                Client::try_from(config).map_err(|e| format!("a Kubernetes client: {e}"))
            })
            .await
            .cloned()
    }

    async fn api<K: Namespaced>(&self, namespace: &str) -> Result<Api<K>, String> {
        Ok(Api::namespaced(self.client().await?, namespace))
    }
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.source {
            Source::Client => f.write_str("Cluster(client)"),
            Source::Kubeconfig { path, context } => {
                write!(f, "Cluster(kubeconfig {}", path.display())?;
                if let Some(c) = context {
                    write!(f, ", context {c}")?;
                }
                f.write_str(")")
            }
            Source::Infer => f.write_str("Cluster(inferred)"),
            Source::Context(c) => write!(f, "Cluster(context {c})"),
            Source::Endpoint(url) => write!(f, "Cluster({url})"),
        }
    }
}

/// A namespaced kind the routers read and write.
trait Namespaced:
    kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
    + Clone
    + DeserializeOwned
    + fmt::Debug
{
}

impl<K> Namespaced for K where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + fmt::Debug
{
}

/// An object of kind `K` in a namespace, for the routers' calls and their
/// error messages (`Service shop/web`).
struct Object<'a> {
    cluster: &'a Cluster,
    kind: &'static str,
    namespace: &'a str,
    name: &'a str,
}

impl Object<'_> {
    fn fail(&self, call: &str, e: impl fmt::Display) -> String {
        format!(
            "{} {}/{}: {call} failed: {e}",
            self.kind, self.namespace, self.name
        )
    }

    /// The object, if it exists.
    async fn get<K: Namespaced>(&self) -> Result<Option<K>, String> {
        let api: Api<K> = self.cluster.api(self.namespace).await?;
        api.get_opt(self.name)
            .await
            .map_err(|e| self.fail("get", e))
    }

    /// Server-side applies `body` (the whole object as the routers own it)
    /// under [`FIELD_MANAGER`], forcing: the routers take the fields they
    /// set from whoever held them.
    async fn apply<K: Namespaced + Serialize>(
        &self,
        body: &serde_json::Value,
    ) -> Result<K, String> {
        let api: Api<K> = self.cluster.api(self.namespace).await?;
        api.patch(
            self.name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(body),
        )
        .await
        .map_err(|e| self.fail("server-side apply", e))
    }

    /// Deletes the object; one already gone is fine.
    async fn delete<K: Namespaced>(&self) -> Result<(), String> {
        let api: Api<K> = self.cluster.api(self.namespace).await?;
        match api.delete(self.name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(e) => Err(self.fail("delete", e)),
        }
    }
}

/// A Service's selector.
fn selector_of(service: &Service) -> Labels {
    service
        .spec
        .as_ref()
        .and_then(|s| s.selector.clone())
        .unwrap_or_default()
}

/// Points the Service `object` at the pods `selector` labels, unless it
/// already selects exactly those; confirms by the object the API server
/// answers. The selector is applied under [`FIELD_MANAGER`], forcing, so
/// the keys it names become the router's (the program's own apply of the
/// same values shares them again).
async fn switch_selector(object: &Object<'_>, selector: &Labels) -> Result<(), String> {
    let Some(service) = object.get::<Service>().await? else {
        return Err(format!(
            "Service {}/{}: not found; the router switches the selector of an existing Service",
            object.namespace, object.name
        ));
    };
    if &selector_of(&service) == selector {
        return Ok(());
    }
    let body = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": object.name, "namespace": object.namespace},
        "spec": {"selector": selector},
    });
    let applied: Service = object.apply(&body).await?;
    let now = selector_of(&applied);
    if &now == selector {
        Ok(())
    } else {
        Err(format!(
            "Service {}/{}: the selector {selector:?} was applied, but the server answered {now:?} (another field manager also sets it)",
            object.namespace, object.name
        ))
    }
}

/// `{a: 1, b: 2}` as `a=1,b=2`, as kubectl writes a selector.
fn show(labels: &Labels) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}
