//! The object operations of [`Objects`] for GCS: reads and conditional
//! writes through `google-cloud-storage`'s `Storage` client (generation
//! preconditions: `ifGenerationMatch=0` to create, `=N` to replace),
//! listings and conditional deletes through the JSON API (the crate has
//! them only on its gRPC control client).

use async_trait::async_trait;
use dafnck_core::state::StateError;
use google_cloud_auth::credentials::{CacheableResource, Credentials};
use google_cloud_storage::client::Storage;
use serde_json::Value as Json;

use crate::bucket_store::{Deleted, Object, Objects};

use super::BACKEND;

/// The bucket, with the clients that reach it.
#[derive(Clone)]
pub(super) struct Bucket {
    pub(super) storage: Storage,
    pub(super) http: reqwest::Client,
    pub(super) credentials: Credentials,
    pub(super) name: String,
    /// `gs://bucket/prefix` for messages.
    pub(super) describe: String,
    /// The JSON API root the clients talk to.
    pub(super) endpoint: String,
}

/// Percent-encodes one path segment or query value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A precondition failed: another writer got there first.
fn lost_a_race(e: &google_cloud_storage::Error) -> bool {
    e.http_status_code() == Some(412)
}

impl Bucket {
    fn resource(&self) -> String {
        format!("projects/_/buckets/{}", self.name)
    }

    fn failed(&self, what: &str, key: &str, message: String) -> StateError {
        StateError::Backend {
            backend: BACKEND.into(),
            message: format!(
                "{}: cannot {what} gs://{}/{key}: {message}",
                self.describe, self.name
            ),
        }
    }

    fn no_bucket(&self) -> StateError {
        StateError::Backend {
            backend: BACKEND.into(),
            message: format!(
                "{}: the bucket {:?} does not exist at {}; create it first (dafnck never creates buckets), or fix the URL or DAFNCK_GCS_ENDPOINT",
                self.describe, self.name, self.endpoint
            ),
        }
    }

    /// A client error as a [`StateError`]: GCS's answer, or no answer
    /// (naming the endpoint).
    fn error(&self, what: &str, key: &str, e: &google_cloud_storage::Error) -> StateError {
        let message = match e.http_status_code() {
            Some(status) => format!("GCS answered {status}: {e}"),
            None => format!("no answer from {}: {e}", self.endpoint),
        };
        self.failed(what, key, message)
    }

    /// A JSON API call: its status and JSON answer (`Null` when empty).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        what: &str,
        key: &str,
    ) -> Result<(u16, Json), StateError> {
        let headers = match self.credentials.headers(http::Extensions::new()).await {
            Ok(CacheableResource::New { data, .. }) => data,
            Ok(CacheableResource::NotModified) => http::HeaderMap::new(),
            Err(e) => return Err(self.failed(what, key, format!("no credentials: {e}"))),
        };
        let response = self
            .http
            .request(method, format!("{}{path}", self.endpoint))
            .headers(headers)
            .send()
            .await
            .map_err(|e| {
                self.failed(
                    what,
                    key,
                    format!("cannot reach GCS at {}: {e}", self.endpoint),
                )
            })?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| self.failed(what, key, e.to_string()))?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Json::Null)))
    }

    fn object_path(&self, key: &str) -> String {
        format!("/storage/v1/b/{}/o/{}", encode(&self.name), encode(key))
    }

    /// Whether the bucket is there and these credentials may use it.
    pub(super) async fn check(&self) -> Result<(), StateError> {
        let path = format!("/storage/v1/b/{}", encode(&self.name));
        match self.call(reqwest::Method::GET, &path, "check the bucket", "").await? {
            (200, _) => Ok(()),
            (404, _) => Err(self.no_bucket()),
            (403 | 401, _) => Err(StateError::Backend {
                backend: BACKEND.into(),
                message: format!(
                    "{}: access to the bucket {:?} is denied for these credentials; they need storage.objects.{{get,list,create,delete}} on it",
                    self.describe, self.name
                ),
            }),
            (status, body) => Err(self.failed("check the bucket", "", format!("GCS answered {status}: {body}"))),
        }
    }

    /// Uploads `bytes` to `key` if its generation is `generation` (0: if
    /// absent): the new generation, or `None` when the precondition failed.
    async fn put_if(
        &self,
        key: &str,
        generation: i64,
        bytes: Vec<u8>,
        what: &str,
    ) -> Result<Option<String>, StateError> {
        let crc = crc32c::crc32c(&bytes);
        let content_type = if key.ends_with(".jsonl") {
            "application/x-ndjson"
        } else {
            "application/json"
        };
        let write = self
            .storage
            .write_object(self.resource(), key, bytes::Bytes::from(bytes))
            .set_if_generation_match(generation)
            .set_content_type(content_type)
            // The checksum with the metadata: one multipart request of two
            // parts, as every emulator parses it.
            .with_known_crc32c(crc)
            .send_unbuffered()
            .await;
        match write {
            Ok(object) => Ok(Some(object.generation.to_string())),
            Err(e) if lost_a_race(&e) => Ok(None),
            Err(e) if e.http_status_code() == Some(404) => Err(self.no_bucket()),
            Err(e) => Err(self.error(what, key, &e)),
        }
    }
}

#[async_trait]
impl Objects for Bucket {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn describe(&self) -> &str {
        &self.describe
    }

    fn object_url(&self, key: &str) -> String {
        format!("gs://{}/{key}", self.name)
    }

    async fn get(&self, key: &str) -> Result<Option<Object>, StateError> {
        let read = self.storage.read_object(self.resource(), key).send().await;
        let mut response = match read {
            Ok(r) => r,
            Err(e) if e.http_status_code() == Some(404) => return Ok(None),
            Err(e) => return Err(self.error("read", key, &e)),
        };
        let version = response.object().generation.to_string();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.next().await {
            let chunk = chunk.map_err(|e| self.error("read", key, &e))?;
            bytes.extend_from_slice(&chunk);
        }
        Ok(Some(Object { bytes, version }))
    }

    async fn create(&self, key: &str, bytes: Vec<u8>) -> Result<Option<String>, StateError> {
        self.put_if(key, 0, bytes, "create").await
    }

    async fn replace(
        &self,
        key: &str,
        version: &str,
        bytes: Vec<u8>,
    ) -> Result<Option<String>, StateError> {
        let generation: i64 = version
            .parse()
            .map_err(|_| self.failed("replace", key, format!("{version:?} is not a generation")))?;
        self.put_if(key, generation, bytes, "replace").await
    }

    async fn delete_if(&self, key: &str, version: &str) -> Result<Deleted, StateError> {
        let path = format!(
            "{}?ifGenerationMatch={}",
            self.object_path(key),
            encode(version)
        );
        match self
            .call(reqwest::Method::DELETE, &path, "delete", key)
            .await?
        {
            (200 | 204, _) => Ok(Deleted::Now),
            (404, _) => Ok(Deleted::Gone),
            (412, _) => Ok(Deleted::Changed),
            (status, body) => {
                Err(self.failed("delete", key, format!("GCS answered {status}: {body}")))
            }
        }
    }

    async fn delete_all(&self, keys: &[String]) -> Result<(), StateError> {
        for key in keys {
            match self
                .call(
                    reqwest::Method::DELETE,
                    &self.object_path(key),
                    "delete",
                    key,
                )
                .await?
            {
                (200 | 204 | 404, _) => {}
                (status, body) => {
                    return Err(self.failed(
                        "delete",
                        key,
                        format!("GCS answered {status}: {body}"),
                    ))
                }
            }
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        let mut keys = Vec::new();
        let mut page = String::new();
        loop {
            let mut path = format!(
                "/storage/v1/b/{}/o?prefix={}&fields=items(name),nextPageToken",
                encode(&self.name),
                encode(prefix)
            );
            if !page.is_empty() {
                path.push_str(&format!("&pageToken={}", encode(&page)));
            }
            let listed = match self
                .call(reqwest::Method::GET, &path, "list", prefix)
                .await?
            {
                (200, listed) => listed,
                (404, _) => return Err(self.no_bucket()),
                (status, body) => {
                    return Err(self.failed(
                        "list",
                        prefix,
                        format!("GCS answered {status}: {body}"),
                    ))
                }
            };
            keys.extend(
                listed["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|i| i["name"].as_str().map(str::to_owned)),
            );
            match listed["nextPageToken"].as_str() {
                Some(t) if !t.is_empty() => page = t.to_owned(),
                _ => break,
            }
        }
        // GCS lists in name order already; the journal relies on it.
        keys.sort();
        Ok(keys)
    }
}
