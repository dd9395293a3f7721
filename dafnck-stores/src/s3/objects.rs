//! The few object operations the store is built on, each a single S3
//! request with the errors turned into [`StateError`]s that name the
//! bucket, the key and, when S3 cannot be reached, the endpoint.

use async_trait::async_trait;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use dafnck_core::state::StateError;

use crate::bucket_store::{Deleted, Object, Objects};

use super::BACKEND;

/// The bucket, with the client that reaches it.
#[derive(Clone)]
pub(super) struct Bucket {
    pub(super) client: Client,
    pub(super) name: String,
    /// `s3://bucket/prefix` for messages.
    pub(super) describe: String,
    /// The endpoint the client talks to, for messages.
    pub(super) endpoint: String,
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
        format!("s3://{}/{key}", self.name)
    }

    /// The object at `key`, or `None` when there is none.
    async fn get(&self, key: &str) -> Result<Option<Object>, StateError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if status(&e) == Some(404) && e.code() != Some("NoSuchBucket") => {
                return Ok(None)
            }
            Err(e) => return Err(self.error("read", key, e)),
        };
        let etag = out.e_tag().unwrap_or_default().to_owned();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| self.failed("read", key, DisplayErrorContext(e).to_string()))?
            .into_bytes()
            .to_vec();
        Ok(Some(Object {
            bytes,
            version: etag,
        }))
    }

    /// Creates `key` with `bytes` unless it exists (`If-None-Match: *`):
    /// its new ETag, or `None` when an object is already there.
    async fn create(&self, key: &str, bytes: Vec<u8>) -> Result<Option<String>, StateError> {
        let put = self
            .client
            .put_object()
            .bucket(&self.name)
            .key(key)
            .if_none_match("*")
            .content_type(content_type(key))
            .body(ByteStream::from(bytes));
        match put.send().await {
            Ok(out) => Ok(Some(out.e_tag().unwrap_or_default().to_owned())),
            Err(e) if lost_a_race(&e) => Ok(None),
            Err(e) => Err(self.error("create", key, e)),
        }
    }

    /// Replaces `key` with `bytes` if its ETag is still `version`
    /// (`If-Match`): the new ETag, or `None` when the object changed or is
    /// gone.
    async fn replace(
        &self,
        key: &str,
        version: &str,
        bytes: Vec<u8>,
    ) -> Result<Option<String>, StateError> {
        let put = self
            .client
            .put_object()
            .bucket(&self.name)
            .key(key)
            .if_match(version)
            .content_type(content_type(key))
            .body(ByteStream::from(bytes));
        match put.send().await {
            Ok(out) => Ok(Some(out.e_tag().unwrap_or_default().to_owned())),
            Err(e) if lost_a_race(&e) || is_missing_key(&e) => Ok(None),
            Err(e) => Err(self.error("replace", key, e)),
        }
    }

    /// Deletes `key` if its ETag is still `version` (`If-Match`).
    async fn delete_if(&self, key: &str, version: &str) -> Result<Deleted, StateError> {
        let delete = self
            .client
            .delete_object()
            .bucket(&self.name)
            .key(key)
            .if_match(version);
        match delete.send().await {
            Ok(_) => Ok(Deleted::Now),
            Err(e) if is_missing_key(&e) => Ok(Deleted::Gone),
            Err(e) if lost_a_race(&e) => Ok(Deleted::Changed),
            Err(e) => Err(self.error("delete", key, e)),
        }
    }

    /// Deletes `keys` (a missing one is no error), a thousand per request.
    async fn delete_all(&self, keys: &[String]) -> Result<(), StateError> {
        for chunk in keys.chunks(1000) {
            let Some(first) = chunk.first() else {
                continue;
            };
            let objects = chunk
                .iter()
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.failed("delete", first, e.to_string()))?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| self.failed("delete", first, e.to_string()))?;
            let out = self
                .client
                .delete_objects()
                .bucket(&self.name)
                .delete(delete)
                .send()
                .await
                .map_err(|e| self.error("delete", first, e))?;
            if let Some(failed) = out.errors().first() {
                return Err(self.failed(
                    "delete",
                    failed.key().unwrap_or(first),
                    format!(
                        "{} ({})",
                        failed.message().unwrap_or("refused"),
                        failed.code().unwrap_or("no code")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Every key under `prefix`, in S3's order (UTF-8 bytes).
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.name)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| self.error("list", prefix, e))?;
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
            match out.next_continuation_token() {
                Some(next) if out.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => return Ok(keys),
            }
        }
    }
}

impl Bucket {
    /// Whether the bucket is there and this client may use it.
    pub(super) async fn check(&self) -> Result<(), StateError> {
        match self.client.head_bucket().bucket(&self.name).send().await {
            Ok(_) => Ok(()),
            Err(e) if status(&e) == Some(404) => Err(self.no_bucket()),
            Err(e) if status(&e) == Some(403) => Err(StateError::Backend {
                backend: BACKEND.into(),
                message: format!(
                    "{}: access to the bucket {:?} is denied (403) for these credentials; they need s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on it",
                    self.describe, self.name
                ),
            }),
            Err(e) => Err(self.error("check the bucket", "", e)),
        }
    }

    fn no_bucket(&self) -> StateError {
        StateError::Backend {
            backend: BACKEND.into(),
            message: format!(
                "{}: the bucket {:?} does not exist at {}; create it first (dafnck never creates buckets), or fix the URL or AWS_REGION / AWS_ENDPOINT_URL",
                self.describe, self.name, self.endpoint
            ),
        }
    }

    pub(super) fn failed(&self, what: &str, key: &str, message: String) -> StateError {
        StateError::Backend {
            backend: BACKEND.into(),
            message: format!(
                "{}: cannot {what} s3://{}/{key}: {message}",
                self.describe, self.name
            ),
        }
    }

    /// An SDK error as a [`StateError`]: a missing bucket, S3's own answer
    /// (status, code, message), or no answer at all (naming the endpoint).
    fn error<E>(&self, what: &str, key: &str, e: SdkError<E, HttpResponse>) -> StateError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        if e.code() == Some("NoSuchBucket") {
            return self.no_bucket();
        }
        let message = match &e {
            SdkError::ServiceError(_) => format!(
                "S3 answered {} {}: {}",
                status(&e).map_or_else(|| "?".into(), |s| s.to_string()),
                e.code().unwrap_or("(no code)"),
                e.message().unwrap_or("(no message)")
            ),
            SdkError::TimeoutError(_) => format!(
                "no answer from {} within the timeout (set ?timeout=SECONDS in the URL to wait longer)",
                self.endpoint
            ),
            SdkError::DispatchFailure(_) => format!(
                "cannot reach S3 at {}: {}; is the endpoint right and reachable from here?",
                self.endpoint,
                DisplayErrorContext(&e)
            ),
            _ => DisplayErrorContext(&e).to_string(),
        };
        self.failed(what, key, message)
    }
}

fn status<E>(e: &SdkError<E, HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// 412 Precondition Failed, or 409 Conflict (S3's answer to two
/// conditional writes of one key at once): another writer got there first.
fn lost_a_race<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    matches!(status(e), Some(412 | 409))
}

fn is_missing_key<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    status(e) == Some(404) && e.code() != Some("NoSuchBucket")
}

fn content_type(key: &str) -> &'static str {
    if key.ends_with(".jsonl") {
        "application/x-ndjson"
    } else {
        "application/json"
    }
}
