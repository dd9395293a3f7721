//! [`Content`]: what an object in a bucket holds, for the providers'
//! object resources (S3's `BucketObject`, Cloud Storage's `Object`).
//!
//! A file's content is fingerprinted when the program declares it, by the
//! digest its store checks uploads with ([`Digest`]: SHA-256 for S3,
//! CRC32C for Cloud Storage), so a program run after the file changed
//! declares a changed object; the digest is recorded in the state under
//! its own name (`sha256`, `crc32c`).

use std::fmt::Debug;
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// How a store fingerprints an object's bytes: a struct of one named
/// field (its name is the digest's name in the state).
pub trait Digest:
    Serialize + DeserializeOwned + Clone + Debug + PartialEq + Eq + Send + Sync + 'static
{
    /// The digest of `bytes`.
    fn of(bytes: &[u8]) -> Self;

    /// Its text, as the store writes it; empty when not declared.
    fn as_str(&self) -> &str;
}

/// What an object holds: a string, or a local file read when uploaded.
#[derive(dafnck_core::prelude::Declare, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[serde(bound = "D: Digest")]
pub enum Content<D> {
    /// A string, uploaded as its UTF-8 bytes.
    Text(String),
    /// A local file, read when uploaded.
    File {
        /// Where it is.
        path: PathBuf,
        /// Its digest when declared; [`Content::file`] computes it.
        #[serde(flatten)]
        digest: D,
    },
}

impl<D> Default for Content<D> {
    fn default() -> Self {
        Content::Text(String::new())
    }
}

impl<D> From<&str> for Content<D> {
    fn from(text: &str) -> Self {
        Content::Text(text.to_owned())
    }
}

impl<D> From<String> for Content<D> {
    fn from(text: String) -> Self {
        Content::Text(text)
    }
}

impl<D: Digest> Content<D> {
    /// A string's content.
    pub fn text(text: impl Into<String>) -> Self {
        Content::Text(text.into())
    }

    /// A local file's content, fingerprinted now: a program run after the
    /// file changed declares a changed object.
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn file(path: impl Into<PathBuf>) -> std::io::Result<Self> {
        let path = path.into();
        let digest = D::of(&std::fs::read(&path)?);
        Ok(Content::File { path, digest })
    }

    /// The bytes to upload.
    ///
    /// # Errors
    /// The file cannot be read: the message names it.
    pub(crate) async fn bytes(&self) -> Result<Vec<u8>, String> {
        match self {
            Content::Text(text) => Ok(text.clone().into_bytes()),
            Content::File { path, .. } => tokio::fs::read(path)
                .await
                .map_err(|e| format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Its digest's text, as declared (a file fingerprinted by
    /// [`Content::file`]) or computed.
    ///
    /// # Errors
    /// As [`Content::bytes`].
    pub(crate) async fn digest(&self) -> Result<String, String> {
        match self {
            Content::File { digest, .. } if !digest.as_str().is_empty() => {
                Ok(digest.as_str().to_owned())
            }
            other => Ok(D::of(&other.bytes().await?).as_str().to_owned()),
        }
    }
}
