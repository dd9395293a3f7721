//! [`BucketObject`] (`aws:s3:BucketObject`): one object in a bucket, its
//! content a string or a local file.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Delete, Made, Read, ReadResult, ResourceHandler, Update,
    UpdateResult,
};
use dafnck_core::state::CallKind;
use dafnck_core::ProviderError;

use super::super::ec2::{known, required};
use super::super::error::{AwsError, Subject};
use super::super::tags::client_token;
use super::super::{lookup, one_call, Aws};
use super::{sha256, BucketName};

/// The metadata key holding the token of the create that made an object
/// (`x-amz-meta-dafnck-token`).
const TOKEN_META: &str = "dafnck-token";
/// The metadata key holding the SHA-256 of an object's content, as the
/// provider uploaded it.
const SHA256_META: &str = "dafnck-sha256";
/// What S3 says an object's type is when none was given.
const DEFAULT_TYPES: [&str; 2] = ["binary/octet-stream", "application/octet-stream"];

/// An object in an S3 bucket.
///
/// - `bucket`: the bucket (`bucket.out().bucket`); changing it replaces
///   the object.
/// - `key`: its key; changing it replaces the object.
/// - `content`: what it holds, a string ([`Content::text`]) or a local
///   file ([`Content::file`], hashed when declared, so a changed file is a
///   changed input); uploaded again only when its SHA-256 changes.
/// - `content_type`: its `Content-Type` (`None`: S3's default).
///
/// Deleting it deletes every version of its key, so a versioned bucket is
/// left empty.
///
/// # Drift
/// `read` compares the SHA-256 the provider stamped on the object (or, for
/// an object overwritten outside the program, the SHA-256 of its body) with
/// the declared content's: the same reads as the declared content, another
/// reads as the body found (as text).
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:s3:BucketObject", outputs = BucketObjectOutputs)]
pub struct BucketObject {
    /// The bucket. Changing it replaces the object.
    #[resource(force_new)]
    pub bucket: Input<BucketName>,
    /// The key. Changing it replaces the object.
    #[resource(force_new)]
    pub key: String,
    /// What it holds.
    pub content: Content,
    /// Its `Content-Type`.
    pub content_type: Option<String>,
}

/// What a [`BucketObject`] holds: a string or a local file, fingerprinted
/// by SHA-256.
pub type Content = crate::content::Content<Sha256>;

/// A SHA-256, in lowercase hex: how S3 objects' content is fingerprinted.
#[derive(Declare, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Sha256 {
    /// The hex digest (empty: not declared).
    pub sha256: String,
}

impl crate::content::Digest for Sha256 {
    fn of(bytes: &[u8]) -> Self {
        Sha256 {
            sha256: sha256(bytes),
        }
    }

    fn as_str(&self) -> &str {
        &self.sha256
    }
}

/// What a [`BucketObject`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct BucketObjectOutputs {
    /// Its bucket.
    pub bucket: BucketName,
    /// Its key.
    pub key: String,
    /// Its ETag, as S3 reports it (quoted).
    pub etag: String,
    /// Its version id, in a versioned bucket.
    pub version_id: Option<String>,
    /// The SHA-256 of its content (hex).
    pub sha256: String,
}

/// The id of the object at `key` in `bucket`: `bucket/key` (a bucket's
/// name holds no `/`).
fn id_of(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}")
}

/// The bucket and key an id names.
fn split_id<'a>(s: &Subject<'_>, id: &'a str) -> Result<(&'a str, &'a str), AwsError> {
    id.split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .ok_or_else(|| s.invalid(format!("{id:?} is not an object id (`bucket/key`)")))
}

async fn head(
    client: &Client,
    s: &Subject<'_>,
    bucket: &str,
    key: &str,
) -> Result<Option<HeadObjectOutput>, AwsError> {
    let out = client.head_object().bucket(bucket).key(key).send().await;
    match out {
        Ok(out) => Ok(Some(out)),
        // The bucket may be gone too: the object then is.
        Err(e) => match s.error("HeadObject", e) {
            e if e.is_not_found() || e.code() == Some("NoSuchBucket") => Ok(None),
            e => Err(e),
        },
    }
}

fn meta<'a>(h: &'a HeadObjectOutput, key: &str) -> Option<&'a str> {
    h.metadata().and_then(|m| m.get(key)).map(String::as_str)
}

fn outputs(bucket: &str, key: &str, h: &HeadObjectOutput, sha256: String) -> BucketObjectOutputs {
    BucketObjectOutputs {
        bucket: BucketName(bucket.to_owned()),
        key: key.to_owned(),
        etag: h.e_tag().unwrap_or_default().to_owned(),
        version_id: h.version_id().filter(|v| *v != "null").map(str::to_owned),
        sha256,
    }
}

/// Uploads `v`'s content to `bucket`/`key`, stamped with `token` and its
/// SHA-256; answers its outputs.
async fn upload(
    client: &Client,
    s: &Subject<'_>,
    bucket: &str,
    v: &BucketObject,
    token: &str,
) -> Result<BucketObjectOutputs, AwsError> {
    let body = v.content.bytes().await.map_err(|e| s.invalid(e))?;
    let hash = sha256(&body);
    let out = client
        .put_object()
        .bucket(bucket)
        .key(&v.key)
        .body(ByteStream::from(body))
        .set_content_type(v.content_type.clone())
        .metadata(TOKEN_META, token)
        .metadata(SHA256_META, &hash)
        .send()
        .await
        .map_err(|e| s.error("PutObject", e))?;
    Ok(BucketObjectOutputs {
        bucket: BucketName(bucket.to_owned()),
        key: v.key.clone(),
        etag: out.e_tag().unwrap_or_default().to_owned(),
        version_id: out.version_id().filter(|v| *v != "null").map(str::to_owned),
        sha256: hash,
    })
}

/// Whether the object `h` already holds what `v` declares (`hash`).
fn holds(h: &HeadObjectOutput, v: &BucketObject, hash: &str) -> bool {
    meta(h, SHA256_META) == Some(hash)
        && content_type_as_found(h, v.content_type.as_ref()) == v.content_type
}

/// The object's content type as a read reports it: `None` for S3's
/// default when none was declared.
fn content_type_as_found(h: &HeadObjectOutput, declared: Option<&String>) -> Option<String> {
    match h.content_type() {
        Some(t) if declared.is_none() && DEFAULT_TYPES.contains(&t) => None,
        t => t.map(str::to_owned),
    }
}

/// Deletes every version (and delete marker) of `key`, then the key
/// itself; a bucket or key that is gone is fine.
async fn delete_object(
    client: &Client,
    s: &Subject<'_>,
    bucket: &str,
    key: &str,
) -> Result<(), AwsError> {
    let listed = client
        .list_object_versions()
        .bucket(bucket)
        .prefix(key)
        .send()
        .await;
    let listed = match listed {
        Ok(out) => out,
        Err(e) => match s.error("ListObjectVersions", e) {
            e if e.is_not_found() => return Ok(()),
            e => return Err(e),
        },
    };
    let versions = listed
        .versions()
        .iter()
        .filter(|v| v.key() == Some(key))
        .map(|v| v.version_id())
        .chain(
            listed
                .delete_markers()
                .iter()
                .filter(|m| m.key() == Some(key))
                .map(|m| m.version_id()),
        )
        .filter(|v| v.is_some_and(|v| v != "null"))
        .map(|v| v.map(str::to_owned));
    for version in versions.chain(std::iter::once(None)) {
        lookup::unless_not_found(
            s,
            "DeleteObject",
            client
                .delete_object()
                .bucket(bucket)
                .key(key)
                .set_version_id(version)
                .send()
                .await,
        )?;
    }
    Ok(())
}

/// The object as a read reports it, given what `recorded` declared.
async fn observed_as(
    client: &Client,
    s: &Subject<'_>,
    bucket: &str,
    key: &str,
    h: &HeadObjectOutput,
    recorded: &BucketObject,
) -> Result<kit::Found<BucketObject, BucketObjectOutputs>, AwsError> {
    let declared = recorded.content.digest().await.ok();
    let (content, hash) = match meta(h, SHA256_META) {
        Some(found) if declared.as_deref() == Some(found) => {
            (recorded.content.clone(), found.to_owned())
        }
        _ => {
            // Overwritten outside the program: what is it now?
            let out = client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| s.error("GetObject", e))?;
            let body = out
                .body
                .collect()
                .await
                .map_err(|e| s.invalid(format!("reading {bucket}/{key}: {e}")))?
                .into_bytes();
            let hash = sha256(&body);
            if declared.as_deref() == Some(hash.as_str()) {
                (recorded.content.clone(), hash)
            } else {
                (
                    Content::Text(String::from_utf8_lossy(&body).into_owned()),
                    hash,
                )
            }
        }
    };
    let inputs = BucketObject {
        bucket: BucketName(bucket.to_owned()).into(),
        key: key.to_owned(),
        content,
        content_type: content_type_as_found(h, recorded.content_type.as_ref()),
    };
    Ok(lookup::observed(
        id_of(bucket, key),
        inputs,
        outputs(bucket, key, h, hash),
    ))
}

/// Serves [`BucketObject`].
pub(crate) struct BucketObjectHandler;

#[async_trait]
impl ResourceHandler for BucketObjectHandler {
    type Resource = BucketObject;
    type Context = Aws;

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<BucketObject>) -> CreateResult<BucketObject> {
        let s = Subject::of::<BucketObject>(&req.name);
        let v = &req.inputs;
        let bucket = required(&s, known(&s, &v.bucket, "bucket")?.as_str(), "bucket")?;
        required(&s, &v.key, "key")?;
        let client = p.s3_client().await;
        let token = client_token(&req.token);
        let id = id_of(bucket, &v.key);
        if let Some(h) = head(client, &s, bucket, &v.key).await? {
            if meta(&h, TOKEN_META) != Some(token.as_str()) {
                return Err(s
                    .invalid(format!(
                        "an object {id} already exists and was not made by this resource \
                         (choose another `key`, or import it)"
                    ))
                    .into());
            }
            // Made by this create before a crash: upload only what changed.
            let hash = v.content.digest().await.map_err(|e| s.invalid(e))?;
            if holds(&h, v, &hash) {
                return Ok(Made {
                    outputs: outputs(bucket, &v.key, &h, hash),
                    id,
                });
            }
        }
        let outputs = upload(client, &s, bucket, v, &token).await?;
        Ok(Made { id, outputs })
    }

    async fn read(&self, p: &Aws, req: Read<BucketObject>) -> ReadResult<BucketObject> {
        let s = Subject::of::<BucketObject>(&req.name);
        let client = p.s3_client().await;
        let recorded = req.recorded.decode_or_default();
        let (bucket, key) = match (&req.id, &req.token) {
            (Some(id), _) => {
                let (b, k) = split_id(&s, id)?;
                (b.to_owned(), k.to_owned())
            }
            (None, Some(_)) => match recorded.bucket.as_value() {
                Some(b) => (b.0.clone(), recorded.key.clone()),
                None => return Ok(None),
            },
            (None, None) => return Ok(None),
        };
        let Some(h) = head(client, &s, &bucket, &key).await? else {
            return Ok(None);
        };
        if let (None, Some(token)) = (&req.id, &req.token) {
            if meta(&h, TOKEN_META) != Some(client_token(token).as_str()) {
                return Ok(None);
            }
        }
        Ok(Some(
            observed_as(client, &s, &bucket, &key, &h, &recorded).await?,
        ))
    }

    async fn update(&self, p: &Aws, req: Update<BucketObject>) -> UpdateResult<BucketObject> {
        let s = Subject::of::<BucketObject>(&req.name);
        let v = &req.inputs;
        let client = p.s3_client().await;
        let (bucket, key) = split_id(&s, &req.id)?;
        let h = head(client, &s, bucket, key)
            .await?
            .ok_or_else(|| s.gone(&req.id))?;
        let hash = v.content.digest().await.map_err(|e| s.invalid(e))?;
        if holds(&h, v, &hash) {
            return Ok(outputs(bucket, key, &h, hash));
        }
        // The token of the create that made it stays.
        let token = meta(&h, TOKEN_META).unwrap_or_default().to_owned();
        let v = BucketObject {
            key: key.to_owned(),
            ..v.clone()
        };
        Ok(upload(client, &s, bucket, &v, &token).await?)
    }

    async fn delete(&self, p: &Aws, req: Delete<BucketObject>) -> Result<(), ProviderError> {
        let s = Subject::of::<BucketObject>(&req.name);
        let client = p.s3_client().await;
        let (bucket, key) = split_id(&s, &req.id)?;
        Ok(delete_object(client, &s, bucket, key).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_and_key_replace_the_object() {
        assert_eq!(BucketObject::force_new_fields(), &["bucket", "key"]);
    }

    #[test]
    fn ids_are_bucket_slash_key() {
        let s = Subject::of::<BucketObject>("index");
        let id = id_of("site", "a/b/index.html");
        assert_eq!(split_id(&s, &id).unwrap(), ("site", "a/b/index.html"));
        let e = split_id(&s, "nokey").unwrap_err().to_string();
        assert!(e.contains("aws:s3:BucketObject \"index\""), "{e}");
    }

    #[test]
    fn a_file_is_hashed_when_declared() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "hello").unwrap();
        let Content::File { digest, .. } = Content::file(&path).unwrap() else {
            panic!("a file")
        };
        assert_eq!(digest.sha256, sha256(b"hello"));
        assert!(Content::file(dir.path().join("missing")).is_err());
    }

    #[test]
    fn a_files_content_is_recorded_with_its_sha256_as_before_the_shared_type() {
        let c = Content::File {
            path: "a.txt".into(),
            digest: Sha256 {
                sha256: "ab".into(),
            },
        };
        let json = serde_json::json!({"file": {"path": "a.txt", "sha256": "ab"}});
        assert_eq!(serde_json::to_value(&c).unwrap(), json);
        assert_eq!(serde_json::from_value::<Content>(json).unwrap(), c);
    }
}
