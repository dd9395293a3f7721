//! What the object-storage state stores share (S3's, GCS's): the layout of
//! a stack's objects, the journal, the history and control messages, and
//! the lock, all built on [`Objects`], the few conditional object
//! operations each store implements over its own client.

pub(crate) mod history;
pub(crate) mod journal;
pub(crate) mod layout;
pub(crate) mod lock;

use async_trait::async_trait;
use dafnck_core::state::StateError;

/// An object's bytes and its version (S3's ETag, GCS's generation): what a
/// conditional write names.
pub(crate) struct Object {
    pub(crate) bytes: Vec<u8>,
    pub(crate) version: String,
}

/// What a conditional delete did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Deleted {
    /// This request deleted it.
    Now,
    /// It was gone already (deleted by another, or by this request's first
    /// try, whose answer was lost).
    Gone,
    /// It changed since its version was read; it is still there.
    Changed,
}

/// How many objects are fetched at once.
pub(crate) const PARALLEL_GETS: usize = 16;

/// One bucket of a state store: single requests, their errors already
/// [`StateError`]s naming the store, the object and (when the service
/// cannot be reached) the endpoint.
#[async_trait]
pub(crate) trait Objects: Send + Sync {
    /// The store's name in errors (`s3`, `gcs`).
    fn backend(&self) -> &'static str;

    /// The store's URL (`s3://bucket/prefix`), for messages.
    fn describe(&self) -> &str;

    /// The URL of the object at `key` (`s3://bucket/key`).
    fn object_url(&self, key: &str) -> String;

    /// Where the object at `key` is, for errors about its content.
    fn location(&self, key: &str) -> String {
        format!("{} (object {})", self.describe(), self.object_url(key))
    }

    /// The object at `key`, or `None` when there is none.
    async fn get(&self, key: &str) -> Result<Option<Object>, StateError>;

    /// Creates `key` with `bytes` unless it exists: its version, or `None`
    /// when an object is already there.
    async fn create(&self, key: &str, bytes: Vec<u8>) -> Result<Option<String>, StateError>;

    /// Replaces `key` with `bytes` if its version is still `version`: the
    /// new version, or `None` when the object changed or is gone.
    async fn replace(
        &self,
        key: &str,
        version: &str,
        bytes: Vec<u8>,
    ) -> Result<Option<String>, StateError>;

    /// Deletes `key` if its version is still `version`.
    async fn delete_if(&self, key: &str, version: &str) -> Result<Deleted, StateError>;

    /// Deletes `keys` (a missing one is no error).
    async fn delete_all(&self, keys: &[String]) -> Result<(), StateError>;

    /// Every key under `prefix`, in UTF-8 byte order.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StateError>;
}
