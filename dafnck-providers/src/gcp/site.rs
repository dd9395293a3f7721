//! [`Site`] (`gcp:storage:Site`): a directory of files deployed as objects
//! under one prefix of a bucket, with one resource in the program.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    Create, CreateResult, Delete, Found, Made, Read, ReadResult, ResourceHandler, Update,
    UpdateResult,
};
use dafnck_core::ProviderError;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::Value as Json;

use super::api::JsonApi;
use super::bucket::token_label;
use super::object::{file_crc32c, metadata_of, read_file, upload, Upload};
use super::{known_bucket, Gcp, TOKEN_KEY};

const TYPE: &str = "gcp:storage:Site";

/// Uploads and deletes under way at once.
const PARALLEL: usize = 8;

/// A directory deployed as objects: `<prefix><relative path>` for each
/// file.
///
/// - `bucket`: the bucket; changing it replaces the site.
/// - `prefix`: where in the bucket (`""`: at its root, `v1/` ...);
///   changing it replaces the site.
/// - `files`: each file by its path in the site (`/index.html`,
///   `/css/site.css`: its object is `<prefix>index.html`), with its CRC32C
///   ([`Site::from_dir`] fills it from a directory). Each file is an input
///   field of its own (flattened), so a plan lists exactly the files that
///   change: `/index.html: {crc32c = "..", ..} → {crc32c = "..", ..}`.
/// - `cache_control`: the `Cache-Control` of every object.
///
/// An apply uploads only the files whose CRC32C or content type differ
/// from the objects GCS has, then deletes the objects of removed files (so
/// a page never links to a file already gone). Objects under the prefix
/// that the site did not make are left alone.
///
/// # Drift
/// `read` lists the site's objects: a changed object reads as a file with
/// another CRC32C, a deleted one as a missing file, and the next apply
/// puts them back.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "gcp:storage:Site", outputs = SiteOutputs)]
pub struct Site {
    /// The bucket. Changing it replaces the site.
    #[resource(force_new)]
    pub bucket: Input<String>,
    /// Where in the bucket. Changing it replaces the site.
    #[resource(force_new)]
    pub prefix: String,
    /// The files, by path in the site (`/` and the object's name under
    /// `prefix`).
    #[serde(flatten)]
    pub files: BTreeMap<String, SiteFile>,
    /// The `Cache-Control` of every object.
    pub cache_control: Option<String>,
}

/// One file of a [`Site`].
#[derive(Declare, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(default)]
pub struct SiteFile {
    /// Where it is on this machine.
    pub path: PathBuf,
    /// Its CRC32C (base64, as GCS writes it).
    pub crc32c: String,
    /// Its `Content-Type` (from its extension).
    pub content_type: String,
}

/// The content type of a file named `name`, by its extension.
pub fn content_type_of(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("xml") => "application/xml",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("wasm") => "application/wasm",
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    }
}

impl Site {
    /// The site of every file under `dir` (recursively), in `bucket` at
    /// its root, each file checksummed now.
    ///
    /// # Errors
    /// `dir` or a file in it cannot be read.
    pub fn from_dir(
        bucket: impl Into<Input<String>>,
        dir: impl AsRef<Path>,
    ) -> std::io::Result<Site> {
        let mut files = BTreeMap::new();
        let root = dir.as_ref();
        let mut pending = vec![root.to_path_buf()];
        while let Some(d) = pending.pop() {
            for entry in std::fs::read_dir(&d)? {
                let path = entry?.path();
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                let relative = path.strip_prefix(root).unwrap_or(&path);
                let name = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                let key = format!("/{name}");
                files.insert(
                    key.clone(),
                    SiteFile {
                        crc32c: file_crc32c(&path)?,
                        content_type: content_type_of(&key).to_owned(),
                        path,
                    },
                );
            }
        }
        Ok(Site {
            bucket: bucket.into(),
            files,
            ..Default::default()
        })
    }

    /// The same site under `prefix` in the bucket.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

/// What a [`Site`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct SiteOutputs {
    /// Its bucket.
    pub bucket: String,
    /// Its prefix.
    pub prefix: String,
    /// How many objects it has.
    pub objects: u64,
    /// Where it is served over HTTP: `<endpoint>/<bucket>/<prefix>`.
    pub url: String,
}

/// A site's object as listed: its CRC32C and content type.
struct Listed {
    crc32c: String,
    content_type: String,
}

/// The id of the site made by token label `label`: `bucket/prefix#label`.
fn id_of(bucket: &str, prefix: &str, label: &str) -> String {
    format!("{bucket}/{prefix}#{label}")
}

fn split_id<'a>(resource: &str, id: &'a str) -> Result<(&'a str, &'a str, &'a str), ProviderError> {
    let parsed = id.rsplit_once('#').and_then(|(place, label)| {
        let (bucket, prefix) = place.split_once('/')?;
        (!bucket.is_empty() && !label.is_empty()).then_some((bucket, prefix, label))
    });
    parsed.ok_or_else(|| {
        ProviderError::new(format!(
            "{TYPE} {resource:?}: {id:?} is not a site id (`bucket/prefix#token`)"
        ))
    })
}

/// The object name of the file at `key` (`/name`) under `prefix`.
fn object_name(prefix: &str, key: &str) -> String {
    format!("{prefix}{}", key.strip_prefix('/').unwrap_or(key))
}

/// The site's objects (those carrying `label`) under `prefix`, by path in
/// the site (`/` and the name under the prefix); `None` when the bucket is
/// gone.
async fn list(
    p: &Gcp,
    resource: &str,
    bucket: &str,
    prefix: &str,
    label: &str,
) -> Result<Option<BTreeMap<String, Listed>>, ProviderError> {
    let api = p.api().await?;
    let Some(items) = api
        .list_objects(bucket, prefix)
        .await
        .map_err(|e| e.about(TYPE, resource))?
    else {
        return Ok(None);
    };
    let ours = |j: &Json| metadata_of(j).get(TOKEN_KEY).map(String::as_str) == Some(label);
    Ok(Some(
        items
            .iter()
            .filter(|j| ours(j))
            .filter_map(|j| {
                let key = format!("/{}", j["name"].as_str()?.strip_prefix(prefix)?);
                Some((
                    key,
                    Listed {
                        crc32c: j["crc32c"].as_str().unwrap_or_default().to_owned(),
                        content_type: j["contentType"].as_str().unwrap_or_default().to_owned(),
                    },
                ))
            })
            .collect(),
    ))
}

fn outputs(p: &Gcp, bucket: &str, prefix: &str, objects: usize) -> SiteOutputs {
    let endpoint = p.serving_root();
    SiteOutputs {
        bucket: bucket.to_owned(),
        prefix: prefix.to_owned(),
        objects: objects as u64,
        url: format!("{endpoint}/{bucket}/{prefix}"),
    }
}

/// Makes the objects under `prefix` in `bucket` what `s` declares, given
/// what is `found`: uploads the files that differ, then deletes the
/// objects of files no longer declared. Answers how many it uploaded.
async fn converge(
    p: &Gcp,
    resource: &str,
    bucket: &str,
    s: &Site,
    label: &str,
    found: &BTreeMap<String, Listed>,
) -> Result<usize, ProviderError> {
    // Owned items: a stream of borrowed ones is not `Send` for every
    // lifetime inside an `async_trait` method.
    let changed: Vec<(String, SiteFile)> = s
        .files
        .iter()
        .filter(|(key, f)| {
            found
                .get(*key)
                .is_none_or(|l| l.crc32c != f.crc32c || l.content_type != f.content_type)
        })
        .map(|(key, f)| (key.clone(), f.clone()))
        .collect();
    let uploaded = changed.len();
    stream::iter(changed)
        .map(|(key, f): (String, SiteFile)| async move {
            let body = read_file(TYPE, resource, &f.path).await?;
            let name = object_name(&s.prefix, &key);
            upload(
                p,
                TYPE,
                resource,
                Upload {
                    bucket,
                    name: &name,
                    content_type: Some(&f.content_type),
                    cache_control: s.cache_control.as_deref(),
                    metadata: [(TOKEN_KEY.to_owned(), label.to_owned())].into(),
                },
                body,
            )
            .await
        })
        .buffer_unordered(PARALLEL)
        .try_collect::<Vec<_>>()
        .await?;
    let removed: Vec<String> = found
        .keys()
        .filter(|k| !s.files.contains_key(k.as_str()))
        .cloned()
        .collect();
    delete_objects(p, resource, bucket, &s.prefix, removed).await?;
    Ok(uploaded)
}

async fn delete_objects(
    p: &Gcp,
    resource: &str,
    bucket: &str,
    prefix: &str,
    keys: Vec<String>,
) -> Result<(), ProviderError> {
    let api = p.api().await?;
    stream::iter(keys)
        .map(|key: String| async move {
            api.delete(&JsonApi::object_path(bucket, &object_name(prefix, &key)))
                .await
                .map_err(|e| e.about(TYPE, resource))
        })
        .buffer_unordered(PARALLEL)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

fn check(resource: &str, s: &Site) -> Result<(), ProviderError> {
    for (key, f) in &s.files {
        if key.len() < 2 || !key.starts_with('/') || key.starts_with("//") {
            return Err(ProviderError::new(format!(
                "{TYPE} {resource:?}: {key:?} is not a file's path in the site (`/name`)"
            )));
        }
        if f.crc32c.is_empty() {
            return Err(ProviderError::new(format!(
                "{TYPE} {resource:?}: the file {key:?} has no CRC32C (build the site with Site::from_dir)"
            )));
        }
    }
    Ok(())
}

/// Serves [`Site`].
pub(crate) struct SiteHandler;

#[async_trait]
impl ResourceHandler for SiteHandler {
    type Resource = Site;
    type Context = Gcp;

    async fn create(&self, p: &Gcp, req: Create<Site>) -> CreateResult<Site> {
        let s = &req.inputs;
        check(&req.name, s)?;
        let bucket = known_bucket(TYPE, &req.name, &s.bucket)?;
        let label = token_label(&req.token);
        // After a crash mid-create some objects may be there already.
        let found = list(p, &req.name, bucket, &s.prefix, &label)
            .await?
            .ok_or_else(|| {
                ProviderError::new(format!(
                    "{TYPE} {:?}: the bucket {bucket:?} does not exist",
                    req.name
                ))
            })?;
        converge(p, &req.name, bucket, s, &label, &found).await?;
        Ok(Made {
            id: id_of(bucket, &s.prefix, &label),
            outputs: outputs(p, bucket, &s.prefix, s.files.len()),
        })
    }

    async fn read(&self, p: &Gcp, req: Read<Site>) -> ReadResult<Site> {
        let declared = req.recorded.decode_or_default();
        let (bucket, prefix, label) = match (&req.id, &req.token) {
            (Some(id), _) => {
                let (b, pre, l) = split_id(&req.name, id)?;
                (b.to_owned(), pre.to_owned(), l.to_owned())
            }
            (None, Some(token)) => match declared.bucket.as_value() {
                Some(b) => (b.clone(), declared.prefix.clone(), token_label(token)),
                None => return Ok(None),
            },
            (None, None) => return Ok(None),
        };
        let Some(found) = list(p, &req.name, &bucket, &prefix, &label).await? else {
            return Ok(None);
        };
        if found.is_empty() {
            return Ok(None);
        }
        let files = found
            .iter()
            .map(|(key, l)| {
                let path = declared
                    .files
                    .get(key)
                    .map(|f| f.path.clone())
                    .unwrap_or_default();
                (
                    key.clone(),
                    SiteFile {
                        path,
                        crc32c: l.crc32c.clone(),
                        content_type: l.content_type.clone(),
                    },
                )
            })
            .collect();
        let objects = found.len();
        Ok(Some(Found {
            id: id_of(&bucket, &prefix, &label),
            inputs: Site {
                bucket: bucket.clone().into(),
                prefix: prefix.clone(),
                files,
                cache_control: declared.cache_control,
            },
            outputs: outputs(p, &bucket, &prefix, objects),
        }))
    }

    async fn update(&self, p: &Gcp, req: Update<Site>) -> UpdateResult<Site> {
        let (bucket, prefix, label) = split_id(&req.name, &req.id)?;
        let s = Site {
            prefix: prefix.to_owned(),
            ..req.inputs.clone()
        };
        check(&req.name, &s)?;
        let mut found = list(p, &req.name, bucket, prefix, label)
            .await?
            .ok_or_else(|| {
                ProviderError::new(format!(
                    "{TYPE} {:?}: the bucket {bucket:?} is gone",
                    req.name
                ))
            })?;
        // A changed cache control means every object again.
        if req.changed.iter().any(|f| f == "cache_control") {
            found.values_mut().for_each(|l| l.crc32c.clear());
        }
        converge(p, &req.name, bucket, &s, label, &found).await?;
        Ok(outputs(p, bucket, prefix, s.files.len()))
    }

    async fn delete(&self, p: &Gcp, req: Delete<Site>) -> Result<(), ProviderError> {
        let (bucket, prefix, label) = split_id(&req.name, &req.id)?;
        let Some(found) = list(p, &req.name, bucket, prefix, label).await? else {
            return Ok(());
        };
        delete_objects(p, &req.name, bucket, prefix, found.into_keys().collect()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_becomes_files_by_relative_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("css")).unwrap();
        std::fs::write(dir.path().join("index.html"), "<h1>hi</h1>").unwrap();
        std::fs::write(dir.path().join("css/site.css"), "h1{}").unwrap();
        let site = Site::from_dir("b".to_owned(), dir.path()).unwrap();
        let keys: Vec<&str> = site.files.keys().map(String::as_str).collect();
        assert_eq!(keys, ["/css/site.css", "/index.html"]);
        assert_eq!(object_name("v1/", "/css/site.css"), "v1/css/site.css");
        let index = &site.files["/index.html"];
        assert_eq!(index.content_type, "text/html; charset=utf-8");
        assert_eq!(index.crc32c, super::super::object::crc32c(b"<h1>hi</h1>"));
    }

    #[test]
    fn ids_hold_bucket_prefix_and_token() {
        let id = id_of("b", "v1/", "abc");
        assert_eq!(split_id("s", &id).unwrap(), ("b", "v1/", "abc"));
        assert_eq!(split_id("s", "b/#abc").unwrap(), ("b", "", "abc"));
        assert!(split_id("s", "b/v1").is_err());
    }
}
