//! [`GcsStore`]: stacks' states as objects in a Cloud Storage bucket, with
//! the same layout and guarantees as the [S3 store](crate::s3), the lock
//! made of generation preconditions; [`backend`] registers `gs://` URLs
//! with a program's command line.
//!
//! ```no_run
//! # fn infra(_: &mut dafnck_core::Stack) -> dafnck_core::Result<()> { Ok(()) }
//! # async fn example() -> std::process::ExitCode {
//! // main.rs: then `--state gs://team-state/infra` (or DAFNCK_STATE) keeps
//! // the stack's state in that bucket.
//! dafnck_core::cli::run(infra)
//!     .state_backend(dafnck_stores::gcs::backend())
//!     .await
//! # }
//! ```
//!
//! # The URL
//! `gs://BUCKET/PREFIX`, with one optional parameter, `timeout=SECONDS`
//! (default 20): how long one JSON API request may take. The bucket must
//! exist; dafnck never creates one. Credentials are application default
//! credentials (`GOOGLE_APPLICATION_CREDENTIALS`, `gcloud auth
//! application-default login`, the metadata server);
//! `DAFNCK_GCS_ENDPOINT=http://127.0.0.1:PORT` points it at an emulator,
//! unauthenticated.
//!
//! # Layout and guarantees
//! As the S3 store's (`snapshot.json`, `journal/<n>.jsonl`, `lock.json`,
//! `versions/`, `controls/` under `PREFIX/STACK/`), with GCS's generation
//! preconditions where S3 has conditional writes: a journal batch and the
//! lock are created with `ifGenerationMatch=0`; the snapshot is replaced,
//! and the lock renewed and taken over, with `ifGenerationMatch` on the
//! generation just read; the lock is released by a delete with
//! `ifGenerationMatch`. Of any number of runs trying at once exactly one
//! wins and the others fail with `StateError::Locked` naming the holder.
//!
//! # Caveats
//! - Lease times are the machines' clocks: keep them in sync (NTP).
//! - Needed rights: `storage.objects.get`, `.list`, `.create` and
//!   `.delete` on the bucket, and `storage.buckets.get`.
//! - Proven against fake-gcs-server, which honours the create and replace
//!   preconditions (multipart uploads) but not the one on delete: the
//!   release's precondition is sent, and GCS honours it, but no test here
//!   shows a refused release.

mod objects;

use std::time::Duration;

use dafnck_core::state::StateError;
use google_cloud_storage::client::Storage;

use crate::bucket_store::layout::StoreUrl;
use objects::Bucket;

const BACKEND: &str = "gcs";

/// Real GCS's JSON API root.
const GOOGLE_ENDPOINT: &str = "https://storage.googleapis.com";

/// The backend of `gs://` URLs, to register with
/// `dafnck_core::cli::run(..).state_backend(..)`.
pub fn backend() -> GcsBackend {
    GcsBackend
}

/// Opens [`GcsStore`]s for `gs://` URLs; see [`backend`].
#[derive(Clone, Copy, Debug, Default)]
pub struct GcsBackend;

/// Stacks' states in a Cloud Storage bucket; see the [module](self).
/// Clones share the clients.
#[derive(Clone)]
pub struct GcsStore {
    url: StoreUrl,
    bucket: Bucket,
}

fn backend_error(message: String) -> StateError {
    StateError::Backend {
        backend: BACKEND.into(),
        message,
    }
}

impl GcsStore {
    /// Opens the bucket `url` names, at `DAFNCK_GCS_ENDPOINT` (an emulator,
    /// unauthenticated) or GCS with application default credentials, and
    /// checks that it is there.
    ///
    /// # Errors
    /// [`StateError::Backend`] for a bad URL, no credentials, a bucket that
    /// does not exist or may not be used, or an endpoint that does not
    /// answer.
    pub async fn connect(url: &str) -> Result<GcsStore, StateError> {
        let endpoint = std::env::var("DAFNCK_GCS_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty());
        GcsStore::at(url, endpoint.as_deref()).await
    }

    /// Like [`connect`](GcsStore::connect), at `endpoint` (an emulator,
    /// unauthenticated) or, for `None`, GCS.
    ///
    /// # Errors
    /// As [`connect`](GcsStore::connect).
    pub async fn at(url: &str, endpoint: Option<&str>) -> Result<GcsStore, StateError> {
        let url = StoreUrl::parse(
            url,
            "gs",
            BACKEND,
            "credentials are application default credentials; DAFNCK_GCS_ENDPOINT names an emulator",
        )?;
        let describe = url.describe();
        let credentials = match endpoint {
            Some(_) => google_cloud_auth::credentials::anonymous::Builder::new().build(),
            None => google_cloud_auth::credentials::Builder::default()
                .build()
                .map_err(|e| {
                    backend_error(format!(
                        "{describe}: no GCP credentials (set GOOGLE_APPLICATION_CREDENTIALS, run `gcloud auth application-default login`, or run on GCP): {e}"
                    ))
                })?,
        };
        let mut builder = Storage::builder().with_credentials(credentials.clone());
        if let Some(e) = endpoint {
            builder = builder.with_endpoint(e);
        }
        let storage = builder
            .build()
            .await
            .map_err(|e| backend_error(format!("{describe}: cannot make the GCS client: {e}")))?;
        let http = reqwest::Client::builder()
            .timeout(url.timeout)
            .connect_timeout(url.timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| backend_error(format!("{describe}: cannot make an HTTP client: {e}")))?;
        let bucket = Bucket {
            storage,
            http,
            credentials,
            name: url.bucket.clone(),
            describe,
            endpoint: endpoint
                .unwrap_or(GOOGLE_ENDPOINT)
                .trim_end_matches('/')
                .to_owned(),
        };
        bucket.check().await?;
        Ok(GcsStore { url, bucket })
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.url.bucket
    }

    /// The object prefix stacks live under (empty for the whole bucket).
    pub fn prefix(&self) -> &str {
        &self.url.prefix
    }
}

crate::bucket_store::state_store_impls!(GcsStore);
crate::bucket_store::store_backend!(GcsBackend, GcsStore, "gs");
