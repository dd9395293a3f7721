//! The `kubernetes` provider (package `kubernetes`): [`Namespace`],
//! [`ConfigMap`], [`Secret`], [`Deployment`], [`Service`], [`Ingress`],
//! [`HorizontalPodAutoscaler`] (autoscaling/v2) and, for any other kind, a
//! [`Manifest`], through kube-rs. Specs are k8s-openapi's typed structs
//! (built for the Kubernetes 1.33 API, feature `v1_33`: the oldest
//! k8s-openapi 0.29 offers; see `docs/kubernetes.md`).
//!
//! # Server-side apply
//! Every create and update is a server-side apply with the field manager
//! [`FIELD_MANAGER`] (`dafnck`), forced: the program's declaration wins
//! over a change made by hand, and dafnck owns exactly the fields it sets.
//! A read reports only those fields, as the cluster has them now (the live
//! object restricted to the declared manifest's fields), so:
//!
//! - a field another manager changed that dafnck also sets (an image edited
//!   with `kubectl edit`) is drift, and the next `up` sets it back;
//! - a field dafnck does not set (`replicas` scaled by a
//!   HorizontalPodAutoscaler when the Deployment leaves `replicas` unset,
//!   a label a controller adds, defaults the server fills in) is not.
//!
//! # Names and adoption
//! Objects are named by their manifest (`name`, and `namespace` for
//! namespaced kinds; the provider's id is `namespace/name`, or `name` for
//! cluster-wide kinds). A create is an apply, so it is idempotent; every
//! object dafnck makes carries the create's token in the annotation
//! [`TOKEN_ANNOTATION`] and the label `app.kubernetes.io/managed-by:
//! dafnck`. A create that finds an object of its name carrying its own
//! token (a create whose answer was lost) adopts it; one that finds an
//! object it did not make fails with an error naming it (import it, or
//! choose another name).
//!
//! # Readiness
//! A [`Deployment`]'s create or update returns only once its rollout is
//! done, as `kubectl rollout status` decides: the controller has observed
//! the new generation, every replica is updated and available, no old one
//! is left. A `Progressing` condition with reason `ProgressDeadlineExceeded`
//! fails the call with the deployment's name and the condition's message.
//!
//! # Connection
//! [`Settings`] name a kubeconfig file and context (one provider instance
//! per context: `Providers::with_named`), the in-cluster service account,
//! or a plain-HTTP endpoint without credentials (a test API server).
//!
//! ```no_run
//! use dafnck_core::prelude::*;
//! use dafnck_providers::kubernetes::{Deployment, Namespace};
//! use k8s_openapi::api::apps::v1::DeploymentSpec;
//!
//! fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
//!     let ns = stack.add("shop", Namespace { name: "shop".into(), ..Default::default() });
//!     let spec: DeploymentSpec = serde_json::from_value(serde_json::json!({
//!         "selector": {"matchLabels": {"app": "web"}},
//!         "template": {
//!             "metadata": {"labels": {"app": "web"}},
//!             "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}
//!         }
//!     })).expect("a DeploymentSpec");
//!     stack.add("web", Deployment {
//!         name: "web".into(),
//!         namespace: ns.out().name,
//!         spec,
//!         ..Default::default()
//!     });
//!     Ok(())
//! }
//!
//! # async fn run() -> std::process::ExitCode {
//! dafnck_core::cli::run(infra)
//!     .provider(dafnck_providers::kubernetes::Provider::from_env())
//!     .await
//! # }
//! ```

mod client;
mod config_map;
mod deployment;
mod hpa;
mod ingress;
mod manifest;
mod namespace;
mod object;
mod project;
mod secret;
mod service;

pub use client::Settings;
pub use config_map::*;
pub use deployment::*;
pub use hpa::*;
pub use ingress::*;
pub use manifest::*;
pub use namespace::*;
pub use secret::Secret;
pub use service::*;

/// Installs rustls's ring provider as the process's default TLS provider,
/// unless one is installed already. A program built with both of rustls's
/// providers (the `gcp` feature brings aws-lc-rs, kube uses ring) leaves
/// rustls unable to pick one, and a kube client made then panics; the
/// provider calls this before it makes its client. Code that makes its own
/// kube clients in such a build calls it first too.
pub fn install_tls_provider() {
    // An error means another provider is installed already: that one serves.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dafnck_core::prelude::{Deserialize, Outputs, Serialize};
use dafnck_core::provider::kit::Kit;
use kube::discovery::ApiResource;
use tokio::sync::OnceCell;

use object::Handler;

/// The field manager of every apply the provider makes.
pub const FIELD_MANAGER: &str = "dafnck";

/// The annotation holding the token of the create that made an object.
pub const TOKEN_ANNOTATION: &str = "dafnck.io/token";

/// The label every object the provider makes carries (value `dafnck`).
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// What every resource of the provider reports: where its object is.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ObjectOutputs {
    /// Its name.
    pub name: String,
    /// Its namespace (empty for a cluster-wide kind).
    pub namespace: String,
    /// Its `metadata.uid`, which changes when the object is made anew.
    pub uid: String,
}

/// What the kubernetes handlers share: the settings, the client (made on
/// first use) and the kinds found by discovery.
#[derive(Clone)]
pub struct Kube {
    settings: Settings,
    client: Arc<OnceCell<kube::Client>>,
    discovered: Arc<Mutex<Discovered>>,
}

/// The kinds discovery found, by `(apiVersion, kind)`: their API and
/// whether they are namespaced.
type Discovered = HashMap<(String, String), (ApiResource, bool)>;

impl std::fmt::Debug for Kube {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kube")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The kubernetes provider: the types this module exports.
#[derive(Clone, Debug)]
pub struct Provider {
    kit: Kit<Kube>,
}

impl Provider {
    /// A provider with [`Settings::from_env`]; the client is made on first
    /// use.
    pub fn from_env() -> Self {
        Provider::new(Settings::from_env())
    }

    /// A provider for context `context` of the default kubeconfig
    /// (`KUBECONFIG`, or `~/.kube/config`): one per named instance.
    pub fn context(context: impl Into<String>) -> Self {
        Provider::new(Settings {
            context: Some(context.into()),
            ..Settings::default()
        })
    }

    /// A provider with these settings.
    pub fn new(settings: Settings) -> Self {
        let kube = Kube {
            settings,
            client: Arc::new(OnceCell::new()),
            discovered: Arc::default(),
        };
        let kit = Kit::new("kubernetes", kube)
            .with(Handler::<namespace::NamespaceKind>::new())
            .with(Handler::<config_map::ConfigMapKind>::new())
            .with(Handler::<secret::SecretKind>::new())
            .with(Handler::<deployment::DeploymentKind>::new())
            .with(Handler::<service::ServiceKind>::new())
            .with(Handler::<ingress::IngressKind>::new())
            .with(Handler::<hpa::HpaKind>::new())
            .with(Handler::<manifest::ManifestKind>::new());
        Provider { kit }
    }

    /// The settings it connects with.
    pub fn settings(&self) -> &Settings {
        &self.kit.context().settings
    }

    /// The kube-rs client it sends calls with (made on first use).
    ///
    /// # Errors
    /// When no client can be made from the settings.
    pub async fn client(&self) -> Result<kube::Client, dafnck_core::ProviderError> {
        self.kit.context().client().await.cloned()
    }
}

served_by_kit!(Provider);
