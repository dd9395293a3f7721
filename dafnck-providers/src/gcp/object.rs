//! [`Object`] (`gcp:storage:Object`): one object in a bucket, its content a
//! string or a local file; and the upload, download and checksum every
//! object type shares.

use std::collections::BTreeMap;
use std::path::Path;

use async_trait::async_trait;
use base64ct::{Base64, Encoding};
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    Create, CreateResult, Delete, Found, Made, Read, ReadResult, ResourceHandler, Update,
    UpdateResult,
};
use dafnck_core::ProviderError;
use serde_json::Value as Json;

use super::api::JsonApi;
use super::bucket::token_label;
use super::{known_bucket, Gcp, TOKEN_KEY};

const TYPE: &str = "gcp:storage:Object";

/// The CRC32C of `bytes` as GCS writes it: base64 of the big-endian value.
pub fn crc32c(bytes: &[u8]) -> String {
    Base64::encode_string(&crc32c::crc32c(bytes).to_be_bytes())
}

/// The CRC32C (as GCS writes it) of the file at `path`.
///
/// # Errors
/// The file cannot be read.
pub fn file_crc32c(path: &Path) -> std::io::Result<String> {
    Ok(crc32c(&std::fs::read(path)?))
}

/// An object in a Cloud Storage bucket.
///
/// - `bucket`: the bucket (`bucket.out().name`); changing it replaces the
///   object.
/// - `name`: its name; changing it replaces the object.
/// - `content`: what it holds, a string ([`Content::text`]) or a local
///   file ([`Content::file`], checksummed when declared, so a changed file
///   is a changed input); uploaded again only when its CRC32C differs from
///   the one GCS reports for the object.
/// - `content_type`, `cache_control`: its `Content-Type` and
///   `Cache-Control` (`None`: GCS's default).
/// - `metadata`: custom metadata (the key `dafnck-token` is the
///   provider's).
///
/// # Drift
/// `read` compares the CRC32C GCS reports with the declared content's:
/// the same reads as the declared content, another as the body found (as
/// text); content type, cache control and metadata read as found.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "gcp:storage:Object", outputs = ObjectOutputs)]
pub struct Object {
    /// The bucket. Changing it replaces the object.
    #[resource(force_new)]
    pub bucket: Input<String>,
    /// The object's name. Changing it replaces the object.
    #[resource(force_new)]
    pub name: String,
    /// What it holds.
    pub content: Content,
    /// Its `Content-Type`.
    pub content_type: Option<String>,
    /// Its `Cache-Control`.
    pub cache_control: Option<String>,
    /// Custom metadata.
    pub metadata: BTreeMap<String, String>,
}

/// What an [`Object`] holds: a string or a local file, fingerprinted by
/// CRC32C.
pub type Content = crate::content::Content<Crc32c>;

/// A CRC32C as GCS writes it (base64 of the big-endian value): how Cloud
/// Storage objects' content is fingerprinted.
#[derive(Declare, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Crc32c {
    /// The base64 digest (empty: not declared).
    pub crc32c: String,
}

impl crate::content::Digest for Crc32c {
    fn of(bytes: &[u8]) -> Self {
        Crc32c {
            crc32c: crc32c(bytes),
        }
    }

    fn as_str(&self) -> &str {
        &self.crc32c
    }
}

/// The error of an object `name` whose file cannot be read.
fn unreadable(name: &str, why: &str) -> ProviderError {
    ProviderError::new(format!("{TYPE} {name:?}: {why}"))
}

/// Reads the file at `path` for resource `name` of type `type_name`.
pub(crate) async fn read_file(
    type_name: &str,
    name: &str,
    path: &Path,
) -> Result<Vec<u8>, ProviderError> {
    tokio::fs::read(path).await.map_err(|e| {
        ProviderError::new(format!(
            "{type_name} {name:?}: cannot read {}: {e}",
            path.display()
        ))
    })
}

/// What an [`Object`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct ObjectOutputs {
    /// Its bucket.
    pub bucket: String,
    /// Its name.
    pub name: String,
    /// Its generation (a new one per upload).
    pub generation: String,
    /// Its CRC32C (base64, as GCS reports it).
    pub crc32c: String,
    /// Its MD5 (base64; absent for composite objects).
    pub md5: Option<String>,
    /// Where it is served over HTTP (`<endpoint>/<bucket>/<name>`).
    pub url: String,
}

/// What an upload sends besides the bytes.
pub(crate) struct Upload<'a> {
    pub(crate) bucket: &'a str,
    pub(crate) name: &'a str,
    pub(crate) content_type: Option<&'a str>,
    pub(crate) cache_control: Option<&'a str>,
    pub(crate) metadata: BTreeMap<String, String>,
}

/// Uploads `body` through the `Storage` client (one multipart request for
/// the sizes the provider sends), with its CRC32C for GCS to check;
/// answers the object's generation.
pub(crate) async fn upload(
    p: &Gcp,
    type_name: &str,
    resource: &str,
    u: Upload<'_>,
    body: Vec<u8>,
) -> Result<i64, ProviderError> {
    let storage = p.storage().await?;
    let crc = crc32c::crc32c(&body);
    let mut write = storage
        .write_object(
            format!("projects/_/buckets/{}", u.bucket),
            u.name,
            bytes::Bytes::from(body),
        )
        .set_metadata(u.metadata)
        .with_known_crc32c(crc);
    if let Some(t) = u.content_type {
        write = write.set_content_type(t);
    }
    if let Some(c) = u.cache_control {
        write = write.set_cache_control(c);
    }
    let object = write
        .send_unbuffered()
        .await
        .map_err(|e| storage_error(type_name, resource, "upload", u.bucket, u.name, &e))?;
    Ok(object.generation)
}

/// Downloads `bucket`/`name` through the JSON API (`alt=media`): the
/// crate's reader wants the `x-goog-generation` header, which
/// gcp-storage-emulator does not send.
pub(crate) async fn download(
    p: &Gcp,
    type_name: &str,
    resource: &str,
    bucket: &str,
    name: &str,
) -> Result<Vec<u8>, ProviderError> {
    p.api()
        .await?
        .media(bucket, name)
        .await
        .map_err(|e| e.about(type_name, resource))?
        .ok_or_else(|| {
            ProviderError::retryable(format!(
                "{type_name} {resource:?}: {bucket}/{name} vanished while read"
            ))
        })
}

/// A `Storage` client error as a provider error: retryable for
/// throttling, server errors and transport failures.
fn storage_error(
    type_name: &str,
    resource: &str,
    what: &str,
    bucket: &str,
    name: &str,
    e: &google_cloud_storage::Error,
) -> ProviderError {
    let status = e.http_status_code();
    let retryable = match status {
        Some(s) => s == 429 || s == 408 || s >= 500,
        None => e.is_timeout() || e.is_io() || e.is_connect() || e.is_transport(),
    };
    let why = match status {
        Some(412) => "precondition failed (412): the object changed since it was read".to_owned(),
        Some(429) => "rate limited (429), will retry".to_owned(),
        Some(s) => format!("HTTP {s}"),
        None => "no answer".to_owned(),
    };
    ProviderError {
        message: format!("{type_name} {resource:?}: {what} of {bucket}/{name}: {why}: {e}"),
        retryable,
    }
}

/// An object's metadata as the JSON API reports it, or `None`.
pub(crate) async fn stat(
    p: &Gcp,
    type_name: &str,
    resource: &str,
    bucket: &str,
    name: &str,
) -> Result<Option<Json>, ProviderError> {
    p.api()
        .await?
        .get_opt(&JsonApi::object_path(bucket, name))
        .await
        .map_err(|e| e.about(type_name, resource))
}

/// The generation a JSON API answer reports (a string there).
pub(crate) fn generation_of(j: &Json) -> String {
    match &j["generation"] {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// The custom metadata `j` reports.
pub(crate) fn metadata_of(j: &Json) -> BTreeMap<String, String> {
    j["metadata"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn id_of(bucket: &str, name: &str) -> String {
    format!("{bucket}/{name}")
}

fn split_id<'a>(resource: &str, id: &'a str) -> Result<(&'a str, &'a str), ProviderError> {
    id.split_once('/')
        .filter(|(b, n)| !b.is_empty() && !n.is_empty())
        .ok_or_else(|| {
            ProviderError::new(format!(
                "{TYPE} {resource:?}: {id:?} is not an object id (`bucket/name`)"
            ))
        })
}

fn outputs(p: &Gcp, bucket: &str, name: &str, j: &Json) -> ObjectOutputs {
    let endpoint = p.serving_root();
    ObjectOutputs {
        bucket: bucket.to_owned(),
        name: name.to_owned(),
        generation: generation_of(j),
        crc32c: j["crc32c"].as_str().unwrap_or_default().to_owned(),
        md5: j["md5Hash"].as_str().map(str::to_owned),
        url: format!("{endpoint}/{bucket}/{name}"),
    }
}

/// The content type as a read reports it: `None` for GCS's default when
/// none was declared.
fn content_type_as_found(j: &Json, declared: Option<&String>) -> Option<String> {
    match j["contentType"].as_str() {
        Some("application/octet-stream") | None if declared.is_none() => None,
        t => t.map(str::to_owned),
    }
}

/// Whether the object `j` holds what `o` declares (`crc`).
fn holds(j: &Json, o: &Object, crc: &str) -> bool {
    let mut metadata = metadata_of(j);
    metadata.remove(TOKEN_KEY);
    j["crc32c"].as_str() == Some(crc)
        && content_type_as_found(j, o.content_type.as_ref()) == o.content_type
        && j["cacheControl"].as_str().map(str::to_owned) == o.cache_control
        && metadata == o.metadata
}

fn check(resource: &str, o: &Object) -> Result<(), ProviderError> {
    if o.name.is_empty() {
        return Err(ProviderError::new(format!(
            "{TYPE} {resource:?}: `name` is empty"
        )));
    }
    if o.metadata.contains_key(TOKEN_KEY) {
        return Err(ProviderError::new(format!(
            "{TYPE} {resource:?}: the metadata key {TOKEN_KEY:?} is the provider's"
        )));
    }
    Ok(())
}

/// Uploads `o` to `bucket` with `token`; answers its metadata.
async fn put(
    p: &Gcp,
    resource: &str,
    bucket: &str,
    o: &Object,
    token: &str,
) -> Result<Json, ProviderError> {
    let body = o
        .content
        .bytes()
        .await
        .map_err(|e| unreadable(resource, &e))?;
    let mut metadata = o.metadata.clone();
    metadata.insert(TOKEN_KEY.into(), token.to_owned());
    upload(
        p,
        TYPE,
        resource,
        Upload {
            bucket,
            name: &o.name,
            content_type: o.content_type.as_deref(),
            cache_control: o.cache_control.as_deref(),
            metadata,
        },
        body,
    )
    .await?;
    stat(p, TYPE, resource, bucket, &o.name)
        .await?
        .ok_or_else(|| {
            ProviderError::retryable(format!(
                "{TYPE} {resource:?}: {bucket}/{} is not visible after its upload",
                o.name
            ))
        })
}

/// Serves [`Object`].
pub(crate) struct ObjectHandler;

#[async_trait]
impl ResourceHandler for ObjectHandler {
    type Resource = Object;
    type Context = Gcp;

    async fn create(&self, p: &Gcp, req: Create<Object>) -> CreateResult<Object> {
        let o = &req.inputs;
        check(&req.name, o)?;
        let bucket = known_bucket(TYPE, &req.name, &o.bucket)?;
        let token = token_label(&req.token);
        let id = id_of(bucket, &o.name);
        if let Some(found) = stat(p, TYPE, &req.name, bucket, &o.name).await? {
            if metadata_of(&found).get(TOKEN_KEY) != Some(&token) {
                return Err(ProviderError::new(format!(
                    "{TYPE} {:?}: an object {id} already exists and was not made by this \
                     resource (choose another `name`, or import it)",
                    req.name
                )));
            }
            // Made by this create before a crash: upload only if it differs.
            if holds(
                &found,
                o,
                &o.content
                    .digest()
                    .await
                    .map_err(|e| unreadable(&req.name, &e))?,
            ) {
                return Ok(Made {
                    outputs: outputs(p, bucket, &o.name, &found),
                    id,
                });
            }
        }
        let found = put(p, &req.name, bucket, o, &token).await?;
        Ok(Made {
            outputs: outputs(p, bucket, &o.name, &found),
            id,
        })
    }

    async fn read(&self, p: &Gcp, req: Read<Object>) -> ReadResult<Object> {
        let declared = req.recorded.decode_or_default();
        let (bucket, name) = match (&req.id, &req.token) {
            (Some(id), _) => {
                let (b, n) = split_id(&req.name, id)?;
                (b.to_owned(), n.to_owned())
            }
            (None, Some(_)) => match declared.bucket.as_value() {
                Some(b) => (b.clone(), declared.name.clone()),
                None => return Ok(None),
            },
            (None, None) => return Ok(None),
        };
        let Some(found) = stat(p, TYPE, &req.name, &bucket, &name).await? else {
            return Ok(None);
        };
        let mut metadata = metadata_of(&found);
        let token = metadata.remove(TOKEN_KEY);
        if let (None, Some(t)) = (&req.id, &req.token) {
            if token.as_deref() != Some(token_label(t).as_str()) {
                return Ok(None);
            }
        }
        let declared_crc = declared.content.digest().await.ok();
        let content = if found["crc32c"].as_str().is_some()
            && found["crc32c"].as_str() == declared_crc.as_deref()
        {
            declared.content.clone()
        } else {
            // Changed outside the program: what is it now?
            let body = download(p, TYPE, &req.name, &bucket, &name).await?;
            Content::Text(String::from_utf8_lossy(&body).into_owned())
        };
        let inputs = Object {
            bucket: bucket.clone().into(),
            name: name.clone(),
            content,
            content_type: content_type_as_found(&found, declared.content_type.as_ref()),
            cache_control: found["cacheControl"].as_str().map(str::to_owned),
            metadata,
        };
        Ok(Some(Found {
            id: id_of(&bucket, &name),
            outputs: outputs(p, &bucket, &name, &found),
            inputs,
        }))
    }

    async fn update(&self, p: &Gcp, req: Update<Object>) -> UpdateResult<Object> {
        let (bucket, name) = split_id(&req.name, &req.id)?;
        let o = Object {
            name: name.to_owned(),
            ..req.inputs.clone()
        };
        check(&req.name, &o)?;
        let found = stat(p, TYPE, &req.name, bucket, name)
            .await?
            .ok_or_else(|| {
                ProviderError::new(format!(
                    "{TYPE} {:?}: the object {} is gone",
                    req.name, req.id
                ))
            })?;
        if holds(
            &found,
            &o,
            &o.content
                .digest()
                .await
                .map_err(|e| unreadable(&req.name, &e))?,
        ) {
            return Ok(outputs(p, bucket, name, &found));
        }
        // The token of the create that made it stays.
        let token = metadata_of(&found).remove(TOKEN_KEY).unwrap_or_default();
        let found = put(p, &req.name, bucket, &o, &token).await?;
        Ok(outputs(p, bucket, name, &found))
    }

    async fn delete(&self, p: &Gcp, req: Delete<Object>) -> Result<(), ProviderError> {
        let (bucket, name) = split_id(&req.name, &req.id)?;
        p.api()
            .await?
            .delete(&JsonApi::object_path(bucket, name))
            .await
            .map_err(|e| e.about(TYPE, &req.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_is_gcs_base64() {
        // GCS reports "W1fckA==" for the one-byte object "y".
        assert_eq!(crc32c(b"y"), "W1fckA==");
    }

    #[test]
    fn a_files_content_is_recorded_with_its_crc32c() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("y");
        std::fs::write(&path, "y").unwrap();
        let c = Content::file(&path).unwrap();
        let json = serde_json::json!({"file": {"path": path, "crc32c": "W1fckA=="}});
        assert_eq!(serde_json::to_value(&c).unwrap(), json);
        assert_eq!(serde_json::from_value::<Content>(json).unwrap(), c);
    }

    #[test]
    fn bucket_and_name_replace_the_object() {
        assert_eq!(Object::force_new_fields(), &["bucket", "name"]);
    }

    #[test]
    fn ids_are_bucket_slash_name() {
        assert_eq!(
            split_id("o", "site/a/b.html").unwrap(),
            ("site", "a/b.html")
        );
        let e = split_id("o", "nobucket").unwrap_err();
        assert!(
            e.message.contains("gcp:storage:Object \"o\""),
            "{}",
            e.message
        );
    }
}
