//! The object operations of [`Objects`] for Azure Blob Storage, through
//! `azure_storage_blob`'s clients: block blobs written with `If-None-Match:
//! *` (create) or `If-Match` on the ETag (replace), deleted with
//! `If-Match`; and the lease operations the lock is made of.

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::http::{Etag, RequestContent};
use azure_core::Bytes;
use azure_storage_blob::models::{
    BlobClientAcquireLeaseOptions, BlobClientAcquireLeaseResultHeaders,
    BlobClientBreakLeaseOptions, BlobClientDeleteOptions, BlobClientUploadOptions,
    BlobContainerClientListBlobsOptions,
};
use azure_storage_blob::{BlobClient, BlobContainerClient};
use dafnck_core::state::StateError;
use futures::TryStreamExt;

use crate::bucket_store::{Deleted, Object, Objects};

use super::BACKEND;

/// The container, with the client that reaches it.
#[derive(Clone)]
pub(super) struct Container {
    pub(super) client: Arc<BlobContainerClient>,
    pub(super) account: String,
    pub(super) name: String,
    /// `azblob://account/container/prefix` for messages.
    pub(super) describe: String,
    /// The Blob endpoint, for messages.
    pub(super) endpoint: String,
}

/// What became of a conditional request.
fn status(e: &azure_core::Error) -> Option<u16> {
    e.http_status().map(u16::from)
}

/// The service's error code (`LeaseAlreadyPresent`), if it sent one.
fn code(e: &azure_core::Error) -> &str {
    match e.kind() {
        azure_core::error::ErrorKind::HttpResponse {
            error_code: Some(code),
            ..
        } => code,
        _ => "",
    }
}

/// The ETag as the version [`Objects`] hands around.
fn version(etag: Option<Etag>) -> String {
    etag.map(|e| e.to_string()).unwrap_or_default()
}

impl Container {
    fn blob(&self, key: &str) -> BlobClient {
        self.client.blob_client(key)
    }

    fn failed(&self, what: &str, key: &str, message: String) -> StateError {
        StateError::Backend {
            backend: BACKEND.into(),
            message: format!(
                "{}: cannot {what} {}: {message}",
                self.describe,
                self.object_url(key)
            ),
        }
    }

    fn no_container(&self) -> StateError {
        StateError::Backend {
            backend: BACKEND.into(),
            message: format!(
                "{}: the container {:?} does not exist in storage account {:?} at {}; create it first (dafnck never creates containers), or fix the URL or DAFNCK_AZBLOB_ENDPOINT",
                self.describe, self.name, self.account, self.endpoint
            ),
        }
    }

    fn denied(&self) -> StateError {
        StateError::Backend {
            backend: BACKEND.into(),
            message: format!(
                "{}: storage account {:?} at {} refused the key (AuthenticationFailed/AuthorizationFailure): check AZURE_STORAGE_KEY or AZURE_STORAGE_CONNECTION_STRING",
                self.describe, self.account, self.endpoint
            ),
        }
    }

    /// A client error as a [`StateError`]: the service's answer, or no
    /// answer (naming the endpoint).
    fn error(&self, what: &str, key: &str, e: &azure_core::Error) -> StateError {
        match status(e) {
            Some(403) => self.denied(),
            Some(404) if code(e) == "ContainerNotFound" => self.no_container(),
            Some(s) => self.failed(
                what,
                key,
                format!("Azure Storage answered {s} {}: {e}", code(e)),
            ),
            None => self.failed(what, key, format!("no answer from {}: {e}", self.endpoint)),
        }
    }

    /// Whether the container is there and the key may use it.
    pub(super) async fn check(&self) -> Result<(), StateError> {
        match self.client.get_properties(None).await {
            Ok(_) => Ok(()),
            Err(e) if status(&e) == Some(404) => Err(self.no_container()),
            Err(e) => Err(self.error("check the container", "", &e)),
        }
    }

    /// Uploads `bytes` to `key` under `options`' conditions: the new
    /// version, or `None` when a condition failed.
    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        options: BlobClientUploadOptions<'_>,
        what: &str,
    ) -> Result<Option<String>, StateError> {
        let content_type = if key.ends_with(".jsonl") {
            "application/x-ndjson"
        } else {
            "application/json"
        };
        let options = BlobClientUploadOptions {
            blob_content_type: Some(content_type.into()),
            ..options
        };
        let body: RequestContent<Bytes, _> = RequestContent::from(bytes);
        match self.blob(key).upload(body, Some(options)).await {
            Ok(done) => Ok(Some(version(done.etag))),
            // 409: it exists (create); 412: changed, or leased by another.
            Err(e) if matches!(status(&e), Some(409 | 412)) => Ok(None),
            Err(e) if status(&e) == Some(404) && code(&e) != "ContainerNotFound" => Ok(None),
            Err(e) => Err(self.error(what, key, &e)),
        }
    }

    /// Writes `bytes` to `key` as the holder of lease `lease`: the new
    /// version, or `None` when that lease is not the blob's active one.
    pub(super) async fn put_leased(
        &self,
        key: &str,
        lease: &str,
        bytes: Vec<u8>,
    ) -> Result<Option<String>, StateError> {
        let options = BlobClientUploadOptions {
            lease_id: Some(lease.to_owned()),
            ..Default::default()
        };
        self.put(key, bytes, options, "write the lock").await
    }

    /// Takes an infinite lease `lease` on `key` if its ETag is still
    /// `version`: whether it did (also when this lease already holds it).
    pub(super) async fn acquire_lease(
        &self,
        key: &str,
        lease: &str,
        version: &str,
    ) -> Result<bool, StateError> {
        let options = BlobClientAcquireLeaseOptions {
            proposed_lease_id: Some(lease.to_owned()),
            if_match: Some(Etag::from(version.to_owned())),
            ..Default::default()
        };
        match self.blob(key).acquire_lease(-1, Some(options)).await {
            Ok(r) => Ok(r
                .lease_id()
                .ok()
                .flatten()
                .is_none_or(|id| id.eq_ignore_ascii_case(lease))),
            // Leased by another (409), changed or gone (412, 404).
            Err(e) if matches!(status(&e), Some(404 | 409 | 412)) => Ok(false),
            Err(e) => Err(self.error("lease", key, &e)),
        }
    }

    /// Breaks `key`'s lease at once if its ETag is still `version`: false
    /// when it changed or is gone (a blob without a lease is no error).
    pub(super) async fn break_lease(&self, key: &str, version: &str) -> Result<bool, StateError> {
        let options = BlobClientBreakLeaseOptions {
            break_period: Some(0),
            if_match: Some(Etag::from(version.to_owned())),
            ..Default::default()
        };
        match self.blob(key).break_lease(Some(options)).await {
            Ok(_) => Ok(true),
            Err(e)
                if status(&e) == Some(409) && code(&e) == "LeaseNotPresentWithLeaseOperation" =>
            {
                Ok(true)
            }
            Err(e) if matches!(status(&e), Some(404 | 412)) => Ok(false),
            Err(e) => Err(self.error("break the lease of", key, &e)),
        }
    }

    /// Deletes `key` as the holder of lease `lease`.
    pub(super) async fn delete_leased(
        &self,
        key: &str,
        lease: &str,
    ) -> Result<Deleted, StateError> {
        let options = BlobClientDeleteOptions {
            lease_id: Some(lease.to_owned()),
            ..Default::default()
        };
        self.delete(key, options).await
    }

    async fn delete(
        &self,
        key: &str,
        options: BlobClientDeleteOptions<'_>,
    ) -> Result<Deleted, StateError> {
        match self.blob(key).delete(Some(options)).await {
            Ok(_) => Ok(Deleted::Now),
            Err(e) if status(&e) == Some(404) && code(&e) != "ContainerNotFound" => {
                Ok(Deleted::Gone)
            }
            // Changed since read, or leased (by another, or not by `lease`).
            Err(e) if matches!(status(&e), Some(409 | 412)) => Ok(Deleted::Changed),
            Err(e) => Err(self.error("delete", key, &e)),
        }
    }
}

#[async_trait]
impl Objects for Container {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn describe(&self) -> &str {
        &self.describe
    }

    fn object_url(&self, key: &str) -> String {
        format!("azblob://{}/{}/{key}", self.account, self.name)
    }

    async fn get(&self, key: &str) -> Result<Option<Object>, StateError> {
        let download = match self.blob(key).download(None).await {
            Ok(d) => d,
            Err(e) if status(&e) == Some(404) && code(&e) != "ContainerNotFound" => {
                return Ok(None)
            }
            Err(e) => return Err(self.error("read", key, &e)),
        };
        let version = version(download.properties.etag);
        let bytes = download
            .body
            .collect()
            .await
            .map_err(|e| self.error("read", key, &e))?;
        Ok(Some(Object {
            bytes: bytes.to_vec(),
            version,
        }))
    }

    async fn create(&self, key: &str, bytes: Vec<u8>) -> Result<Option<String>, StateError> {
        let options = BlobClientUploadOptions {
            if_none_match: Some(Etag::from("*")),
            ..Default::default()
        };
        self.put(key, bytes, options, "create").await
    }

    async fn replace(
        &self,
        key: &str,
        version: &str,
        bytes: Vec<u8>,
    ) -> Result<Option<String>, StateError> {
        let options = BlobClientUploadOptions {
            if_match: Some(Etag::from(version.to_owned())),
            ..Default::default()
        };
        self.put(key, bytes, options, "replace").await
    }

    async fn delete_if(&self, key: &str, version: &str) -> Result<Deleted, StateError> {
        let options = BlobClientDeleteOptions {
            if_match: Some(Etag::from(version.to_owned())),
            ..Default::default()
        };
        self.delete(key, options).await
    }

    async fn delete_all(&self, keys: &[String]) -> Result<(), StateError> {
        for key in keys {
            self.delete(key, BlobClientDeleteOptions::default()).await?;
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        let options = BlobContainerClientListBlobsOptions {
            prefix: Some(prefix.to_owned()),
            ..Default::default()
        };
        let pager = self
            .client
            .list_blobs(Some(options))
            .map_err(|e| self.error("list", prefix, &e))?;
        let items: Vec<_> = pager
            .try_collect()
            .await
            .map_err(|e| self.error("list", prefix, &e))?;
        let mut keys: Vec<String> = items.into_iter().filter_map(|i| i.name).collect();
        // Azure lists in name order already; the journal relies on it.
        keys.sort();
        Ok(keys)
    }
}
