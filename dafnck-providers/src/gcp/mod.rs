//! The `gcp` provider (package `gcp`): Cloud Storage buckets ([`Bucket`]),
//! objects ([`Object`]) and static sites ([`Site`], a directory as
//! objects), through the `google-cloud-storage` crate's `Storage` client
//! (object uploads and downloads) and the Cloud Storage JSON API (bucket
//! settings, object metadata, listings and deletes).
//!
//! Why the JSON API for control: the crate manages buckets and object
//! metadata only through its gRPC `StorageControl` client, which no
//! emulator that runs here speaks; the JSON API is the same service's
//! documented REST face, served by real GCS and by the emulators alike, so
//! every bucket call the provider makes is the one its tests run (see
//! `docs/gcp.md`).
//!
//! Credentials come from `google-cloud-auth`: application default
//! credentials (`GOOGLE_APPLICATION_CREDENTIALS` naming a service-account
//! key file, `gcloud auth application-default login`, or the metadata
//! server on GCP). The project for new buckets is `GOOGLE_CLOUD_PROJECT`.
//! `DAFNCK_GCS_ENDPOINT` points every call at an emulator, unauthenticated.
//!
//! Every object the provider makes carries its create's token (the label
//! `dafnck-token` on a bucket, the metadata key `dafnck-token` on an
//! object): after a crash mid-create the engine finds the object by it, and
//! a bucket name taken by someone else (bucket names are global) is a clear
//! error instead of an adoption. Throttling (429) and server errors are
//! retryable; a failed precondition (412) and a conflict (409) are not, and
//! name the resource.
//!
//! ```no_run
//! use dafnck_core::prelude::*;
//! use dafnck_providers::gcp::{Bucket, Site, Website};
//!
//! fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
//!     let bucket = stack.add("www", Bucket {
//!         name: "my-site-bucket-8c1f".into(),
//!         website: Some(Website { main_page_suffix: "index.html".into(), not_found_page: None }),
//!         ..Default::default()
//!     });
//!     let site = Site::from_dir(bucket.out().name, "site/").expect("site/ is readable");
//!     stack.add("pages", site);
//!     Ok(())
//! }
//!
//! # async fn run() -> std::process::ExitCode {
//! dafnck_core::cli::run(infra)
//!     .provider(dafnck_providers::gcp::Provider::from_env())
//!     .await
//! # }
//! ```

mod api;
mod bucket;
mod object;
mod site;

pub use api::ApiError;
pub use bucket::*;
pub use object::*;
pub use site::*;

use std::sync::Arc;

use dafnck_core::provider::kit::Kit;
use google_cloud_auth::credentials::Credentials;
use google_cloud_storage::client::Storage;
use tokio::sync::OnceCell;

use api::JsonApi;

/// The label (on buckets) and metadata key (on objects) holding the token
/// of the create that made them.
pub const TOKEN_KEY: &str = "dafnck-token";

/// Where the provider sends its calls, and as whom.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// The JSON API's root (`https://storage.googleapis.com` when `None`);
    /// an emulator's URL for tests.
    pub endpoint: Option<String>,
    /// The project new buckets are made in.
    pub project: Option<String>,
    /// Whether to send no credentials (an emulator).
    pub anonymous: bool,
}

impl Settings {
    /// From the environment: `DAFNCK_GCS_ENDPOINT` (an emulator, then
    /// anonymous) and `GOOGLE_CLOUD_PROJECT`.
    pub fn from_env() -> Self {
        let endpoint = std::env::var("DAFNCK_GCS_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty());
        Settings {
            anonymous: endpoint.is_some(),
            endpoint,
            project: std::env::var("GOOGLE_CLOUD_PROJECT").ok(),
        }
    }

    /// An emulator at `url`, with no credentials, making buckets in
    /// `project`.
    pub fn emulator(url: impl Into<String>, project: impl Into<String>) -> Self {
        Settings {
            endpoint: Some(url.into()),
            project: Some(project.into()),
            anonymous: true,
        }
    }
}

/// What the gcp handlers share: the settings and clients, made on first
/// use.
#[derive(Clone)]
pub struct Gcp {
    settings: Settings,
    clients: Arc<OnceCell<Clients>>,
}

struct Clients {
    storage: Storage,
    api: JsonApi,
}

impl std::fmt::Debug for Gcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gcp")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Gcp {
    async fn clients(&self) -> Result<&Clients, dafnck_core::ProviderError> {
        self.clients
            .get_or_try_init(|| async {
                let credentials = credentials(&self.settings)?;
                let mut builder = Storage::builder().with_credentials(credentials.clone());
                if let Some(endpoint) = &self.settings.endpoint {
                    builder = builder.with_endpoint(endpoint.clone());
                }
                let storage = builder.build().await.map_err(|e| {
                    dafnck_core::ProviderError::new(format!(
                        "gcp: cannot make the Cloud Storage client: {e}"
                    ))
                })?;
                let api = JsonApi::new(
                    self.settings.endpoint.clone(),
                    self.settings.project.clone(),
                    credentials,
                )?;
                Ok(Clients { storage, api })
            })
            .await
    }

    /// The JSON API client.
    async fn api(&self) -> Result<&JsonApi, dafnck_core::ProviderError> {
        Ok(&self.clients().await?.api)
    }

    /// Where objects are served over HTTP: the endpoint's root.
    fn serving_root(&self) -> &str {
        self.settings
            .endpoint
            .as_deref()
            .unwrap_or("https://storage.googleapis.com")
            .trim_end_matches('/')
    }

    /// The crate's `Storage` client (object uploads).
    async fn storage(&self) -> Result<&Storage, dafnck_core::ProviderError> {
        Ok(&self.clients().await?.storage)
    }
}

/// The bucket an object or a site is in, once known; an error naming
/// resource `resource` of type `type_name` before.
fn known_bucket<'a>(
    type_name: &str,
    resource: &str,
    bucket: &'a dafnck_core::prelude::Input<String>,
) -> Result<&'a str, dafnck_core::ProviderError> {
    bucket
        .as_value()
        .map(String::as_str)
        .filter(|b| !b.is_empty())
        .ok_or_else(|| {
            dafnck_core::ProviderError::new(format!(
                "{type_name} {resource:?}: `bucket` is not known"
            ))
        })
}

fn credentials(settings: &Settings) -> Result<Credentials, dafnck_core::ProviderError> {
    if settings.anonymous {
        return Ok(google_cloud_auth::credentials::anonymous::Builder::new().build());
    }
    google_cloud_auth::credentials::Builder::default()
        .build()
        .map_err(|e| {
            dafnck_core::ProviderError::new(format!(
                "gcp: no credentials (set GOOGLE_APPLICATION_CREDENTIALS, run \
                 `gcloud auth application-default login`, or run on GCP): {e}"
            ))
        })
}

/// The gcp provider: [`Bucket`], [`Object`] and [`Site`].
#[derive(Clone, Debug)]
pub struct Provider {
    kit: Kit<Gcp>,
}

impl Provider {
    /// A provider with [`Settings::from_env`]; clients are made on first
    /// use.
    pub fn from_env() -> Self {
        Provider::new(Settings::from_env())
    }

    /// A provider with these settings.
    pub fn new(settings: Settings) -> Self {
        let gcp = Gcp {
            settings,
            clients: Arc::new(OnceCell::new()),
        };
        let kit = Kit::new("gcp", gcp)
            .with(bucket::BucketHandler)
            .with(object::ObjectHandler)
            .with(site::SiteHandler);
        Provider { kit }
    }

    /// The settings it sends calls with.
    pub fn settings(&self) -> &Settings {
        &self.kit.context().settings
    }
}

served_by_kit!(Provider);
