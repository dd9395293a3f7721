//! Where the provider's calls go ([`Settings`]), the kube-rs client made
//! from them, and kube's errors as [`ProviderError`]s naming the resource.

use std::path::PathBuf;
use std::time::Duration;

use dafnck_core::ProviderError;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::Kube;

/// Where the provider sends its calls, and how long it waits.
#[derive(Clone, Debug)]
pub struct Settings {
    /// A kubeconfig file; `None`: `KUBECONFIG`, else `~/.kube/config`, else
    /// the in-cluster service account (kube-rs's inference).
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context; `None`: its current context.
    pub context: Option<String>,
    /// Use the in-cluster service account (`KUBERNETES_SERVICE_HOST` and
    /// the mounted token), ignoring any kubeconfig.
    pub in_cluster: bool,
    /// A plain API server URL without credentials (a test server), which
    /// overrides every other way.
    pub endpoint: Option<String>,
    /// The longest a Deployment's rollout, or a delete, is awaited.
    pub wait_timeout: Duration,
    /// How often a rollout or a delete is checked on while awaited.
    pub poll_interval: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            kubeconfig: None,
            context: None,
            in_cluster: false,
            endpoint: None,
            wait_timeout: Duration::from_secs(15 * 60),
            poll_interval: Duration::from_secs(1),
        }
    }
}

impl Settings {
    /// From the environment: `DAFNCK_KUBE_URL` (a test server's URL, no
    /// credentials), else `DAFNCK_KUBECONFIG` (a kubeconfig file) and
    /// `DAFNCK_KUBE_CONTEXT` (its context), else kube-rs's inference
    /// (`KUBECONFIG`, `~/.kube/config`, in-cluster).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Settings {
            endpoint: var("DAFNCK_KUBE_URL"),
            kubeconfig: var("DAFNCK_KUBECONFIG").map(PathBuf::from),
            context: var("DAFNCK_KUBE_CONTEXT"),
            ..Settings::default()
        }
    }

    /// A plain-HTTP API server at `url` without credentials (a test
    /// server), checked every 100 ms while a rollout is awaited.
    pub fn endpoint(url: impl Into<String>) -> Self {
        Settings {
            endpoint: Some(url.into()),
            poll_interval: Duration::from_millis(100),
            ..Settings::default()
        }
    }

    /// Context `context` (`None`: the current one) of kubeconfig file
    /// `path`.
    pub fn kubeconfig(path: impl Into<PathBuf>, context: Option<String>) -> Self {
        Settings {
            kubeconfig: Some(path.into()),
            context,
            ..Settings::default()
        }
    }

    /// The in-cluster service account.
    pub fn in_cluster() -> Self {
        Settings {
            in_cluster: true,
            ..Settings::default()
        }
    }

    /// Where the settings point, for errors.
    fn describe(&self) -> String {
        if let Some(url) = &self.endpoint {
            return format!("the API server at {url}");
        }
        if self.in_cluster {
            return "the in-cluster service account".into();
        }
        let file = self
            .kubeconfig
            .as_ref()
            .map_or("the default kubeconfig".into(), |p| {
                format!("kubeconfig {}", p.display())
            });
        match &self.context {
            Some(c) => format!("context {c:?} of {file}"),
            None => file,
        }
    }

    async fn config(&self) -> Result<Config, String> {
        if let Some(url) = &self.endpoint {
            let uri = url.parse().map_err(|e| format!("invalid URL: {e}"))?;
            return Ok(Config::new(uri));
        }
        if self.in_cluster {
            return Config::incluster().map_err(|e| e.to_string());
        }
        let options = KubeConfigOptions {
            context: self.context.clone(),
            ..KubeConfigOptions::default()
        };
        match &self.kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path).map_err(|e| e.to_string())?;
                Config::from_custom_kubeconfig(file, &options)
                    .await
                    .map_err(|e| e.to_string())
            }
            None if self.context.is_some() => Config::from_kubeconfig(&options)
                .await
                .map_err(|e| e.to_string()),
            None => Config::infer().await.map_err(|e| e.to_string()),
        }
    }
}

impl Kube {
    /// The client, made on first use.
    pub(crate) async fn client(&self) -> Result<&Client, ProviderError> {
        self.client
            .get_or_try_init(|| async {
                let s = &self.settings;
                let config = s.config().await.map_err(|e| {
                    ProviderError::new(format!(
                        "kubernetes: cannot configure a client for {}: {e}",
                        s.describe()
                    ))
                })?;
                super::install_tls_provider();
                Client::try_from(config).map_err(|e| {
                    ProviderError::new(format!(
                        "kubernetes: cannot make a client for {}: {e}",
                        s.describe()
                    ))
                })
            })
            .await
    }

    /// The settings.
    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }
}

/// The resource a call is about, to name it in errors: its type, its name
/// in the stack, and its object (`kind namespace/name`).
#[derive(Clone, Debug)]
pub(crate) struct Subject {
    pub type_name: &'static str,
    pub resource: String,
    pub object: String,
}

impl Subject {
    /// A non-retryable error about the resource.
    pub fn error(&self, message: impl std::fmt::Display) -> ProviderError {
        ProviderError::new(self.say(message))
    }

    fn say(&self, message: impl std::fmt::Display) -> String {
        if self.object.is_empty() {
            format!("{} {:?}: {message}", self.type_name, self.resource)
        } else {
            format!(
                "{} {:?} ({}): {message}",
                self.type_name, self.resource, self.object
            )
        }
    }

    /// `call` failed with `e`: retryable when the server throttled, failed
    /// or could not be reached.
    pub fn kube(&self, call: &str, e: kube::Error) -> ProviderError {
        let retryable = match &e {
            kube::Error::Api(status) => status.code == 429 || status.code >= 500,
            kube::Error::HyperError(_) | kube::Error::Service(_) => true,
            _ => false,
        };
        let message = match &e {
            kube::Error::Api(status) => format!(
                "{call} failed: {} ({} {})",
                status.message, status.code, status.reason
            ),
            other => format!("{call} failed: {other}"),
        };
        ProviderError {
            message: self.say(message),
            retryable,
        }
    }
}

/// Whether `e` is the API's 404.
pub(crate) fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}
