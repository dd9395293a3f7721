//! S3 resources (`aws:s3:*`): [`Bucket`] and [`BucketObject`].
//!
//! A bucket's name is its identity (and its id): a declared `name`, or one
//! derived from the resource's name and the create's idempotency token, so
//! a replacement never collides with the bucket it replaces and a create
//! retried after a crash derives the same name and finds its bucket (its
//! `dafnck:token` tag checked) instead of making a second one. An object is
//! known by its bucket and key, and carries the create's token and the
//! SHA-256 of its content in its metadata: an unchanged object is not
//! uploaded again, and one overwritten outside the program reads as drift.
//! S3 has no call that describes many buckets or objects at once, so each
//! is read on its own. Deleting an object or bucket that is already gone
//! succeeds.
//!
//! ```
//! use dafnck_core::prelude::*;
//! use dafnck_providers::aws::s3::{Bucket, BucketObject, Content, Website};
//!
//! fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
//!     let site = stack.add("site", Bucket {
//!         versioning: true,
//!         website: Some(Website { index_document: "index.html".into(), error_document: None }),
//!         ..Default::default()
//!     });
//!     stack.add("index", BucketObject {
//!         bucket: site.out().bucket,
//!         key: "index.html".into(),
//!         content: Content::text("<h1>hello</h1>"),
//!         content_type: Some("text/html".into()),
//!     });
//!     Ok(())
//! }
//! # let _ = infra;
//! ```

mod bucket;
mod bucket_object;

resource_types! {
    bucket: BucketHandler,
    bucket_object: BucketObjectHandler,
}

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::BucketVersioningStatus;
use sha2::Digest as _;

use super::error::{AwsError, Subject};
use super::lookup;
use super::tags::client_token;

/// The longest bucket name S3 accepts.
const MAX_BUCKET_NAME: usize = 63;

/// A bucket's name: the declared one, or one derived from the resource's
/// name and the create's token (lowercase letters, digits and hyphens, at
/// most 63; the same token always gives the same name).
pub(crate) fn bucket_name(declared: Option<&str>, resource: &str, token: &str) -> String {
    if let Some(name) = declared {
        return name.to_owned();
    }
    let suffix = hex(&sha2::Sha256::digest(client_token(token).as_bytes())[..4]);
    let base: String = resource
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(MAX_BUCKET_NAME - suffix.len() - 1)
        .collect();
    let base = base.trim_matches('-');
    // A name must start with a letter or digit and have three characters.
    let base = if base.len() < 2 { "dafnck" } else { base };
    format!("{base}-{suffix}")
}

/// Bytes in lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of `bytes`, in hex.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    hex(&sha2::Sha256::digest(bytes))
}

/// An S3 answer, or `None` when its error code is one of `absent` (S3's
/// way of saying a bucket has no such configuration); any other error as
/// an [`AwsError`] naming `call`.
pub(crate) fn unless_absent<T, E, R>(
    s: &Subject<'_>,
    call: &'static str,
    absent: &[&str],
    result: Result<T, SdkError<E, R>>,
) -> Result<Option<T>, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    lookup::none_if(s, call, result, |e| {
        e.code().is_some_and(|c| absent.contains(&c))
    })
}

/// The versioning status in the body of a GetBucketVersioning answer the
/// SDK could not parse: moto (5.2) names its root element
/// `GetBucketVersioningResponse`, not `VersioningConfiguration`. `None`
/// when the answer is not such a body (a real error).
pub(crate) fn versioning_in_body<E>(
    e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<Option<BucketVersioningStatus>> {
    let raw = e.raw_response()?;
    if raw.status().as_u16() != 200 {
        return None;
    }
    let body = std::str::from_utf8(raw.body().bytes()?).ok()?;
    if !body.contains("GetBucketVersioningResponse") {
        return None;
    }
    Some(if body.contains("<Status>Enabled</Status>") {
        Some(BucketVersioningStatus::Enabled)
    } else if body.contains("<Status>Suspended</Status>") {
        Some(BucketVersioningStatus::Suspended)
    } else {
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_bucket_names_are_valid_and_stable_per_create() {
        let a = bucket_name(None, "Web_Assets", "run-1-web");
        assert!(a.starts_with("web-assets-") && a.len() == 19, "{a}");
        assert_eq!(a, bucket_name(None, "Web_Assets", "run-1-web"));
        assert_ne!(a, bucket_name(None, "Web_Assets", "run-2-web"));
        assert!(bucket_name(None, "-", "t").starts_with("dafnck-"));
        let long = bucket_name(None, &"x".repeat(100), "t");
        assert_eq!(long.len(), MAX_BUCKET_NAME);
        assert_eq!(bucket_name(Some("mine"), "web", "t"), "mine");
    }
}
