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

/// Implements the state store traits (`StateStore`, `SnapshotEdits`,
/// `StateLock`, `StateHistory`, `ControlChannel`) for a store struct with
/// fields `url` (a [`layout::StoreUrl`]) and `bucket` (its [`Objects`]),
/// each call handed to the shared modules here; `lock = MODULE` names
/// another lock module with the same functions (Azure's lease lock).
macro_rules! state_store_impls {
    ($store:ty) => {
        $crate::bucket_store::state_store_impls!($store, lock = crate::bucket_store::lock);
    };
    ($store:ty, lock = $($lock:ident)::+) => {
        #[async_trait::async_trait]
        impl dafnck_core::state::StateStore for $store {
            fn describe(&self) -> String {
                self.bucket.describe.clone()
            }

            async fn read(
                &self,
                stack: &str,
            ) -> Result<dafnck_core::state::Stored, dafnck_core::state::StateError> {
                $crate::bucket_store::journal::read(&self.bucket, &self.url.stack(stack)?).await
            }

            async fn append(
                &self,
                stack: &str,
                records: &[dafnck_core::state::Record],
            ) -> Result<(), dafnck_core::state::StateError> {
                $crate::bucket_store::journal::append(
                    &self.bucket,
                    &self.url.stack(stack)?,
                    stack,
                    records,
                )
                .await
            }

            async fn compact(
                &self,
                stack: &str,
                snapshot: &dafnck_core::state::State,
            ) -> Result<(), dafnck_core::state::StateError> {
                $crate::bucket_store::journal::compact(
                    &self.bucket,
                    &self.url.stack(stack)?,
                    stack,
                    snapshot,
                )
                .await
            }

            fn locks(&self) -> Option<&dyn dafnck_core::state::StateLock> {
                Some(self)
            }

            fn history(&self) -> Option<&dyn dafnck_core::state::StateHistory> {
                Some(self)
            }

            fn channel(&self) -> Option<&dyn dafnck_core::state::ControlChannel> {
                Some(self)
            }

            fn edits(&self) -> Option<&dyn dafnck_core::state::SnapshotEdits> {
                Some(self)
            }
        }

        #[async_trait::async_trait]
        impl dafnck_core::state::SnapshotEdits for $store {
            async fn read_edited(
                &self,
                stack: &str,
            ) -> Result<Option<dafnck_core::state::State>, dafnck_core::state::StateError> {
                $crate::bucket_store::journal::read_edited(&self.bucket, &self.url.stack(stack)?)
                    .await
            }

            async fn accept_edited(
                &self,
                stack: &str,
                snapshot: &dafnck_core::state::State,
            ) -> Result<(), dafnck_core::state::StateError> {
                $crate::bucket_store::journal::accept_edited(
                    &self.bucket,
                    &self.url.stack(stack)?,
                    snapshot,
                )
                .await
            }
        }

        #[async_trait::async_trait]
        impl dafnck_core::state::StateLock for $store {
            async fn lock(
                &self,
                stack: &str,
                request: &dafnck_core::state::LockRequest,
            ) -> Result<dafnck_core::state::LockInfo, dafnck_core::state::StateError> {
                $($lock)::+::lock(
                    &self.bucket,
                    &self.url.stack(stack)?,
                    stack,
                    request,
                )
                .await
            }

            async fn renew(
                &self,
                stack: &str,
                held: &dafnck_core::state::LockInfo,
            ) -> Result<dafnck_core::state::LockInfo, dafnck_core::state::StateError> {
                $($lock)::+::renew(
                    &self.bucket,
                    &self.url.stack(stack)?,
                    stack,
                    held,
                )
                .await
            }

            async fn unlock(
                &self,
                stack: &str,
                lock_id: &str,
            ) -> Result<(), dafnck_core::state::StateError> {
                $($lock)::+::unlock(
                    &self.bucket,
                    &self.url.stack(stack)?,
                    stack,
                    lock_id,
                )
                .await
            }

            async fn lock_info(
                &self,
                stack: &str,
            ) -> Result<Option<dafnck_core::state::LockInfo>, dafnck_core::state::StateError> {
                $($lock)::+::lock_info(&self.bucket, &self.url.stack(stack)?).await
            }
        }

        #[async_trait::async_trait]
        impl dafnck_core::state::StateHistory for $store {
            async fn save_version(
                &self,
                stack: &str,
                info: &dafnck_core::state::VersionInfo,
                state: &dafnck_core::state::State,
            ) -> Result<(), dafnck_core::state::StateError> {
                $crate::bucket_store::history::save_version(
                    &self.bucket,
                    &self.url.stack(stack)?,
                    stack,
                    info,
                    state,
                )
                .await
            }

            async fn versions(
                &self,
                stack: &str,
            ) -> Result<Vec<dafnck_core::state::VersionInfo>, dafnck_core::state::StateError> {
                $crate::bucket_store::history::versions(&self.bucket, &self.url.stack(stack)?).await
            }

            async fn read_version(
                &self,
                stack: &str,
                version: u64,
            ) -> Result<Option<dafnck_core::state::State>, dafnck_core::state::StateError> {
                $crate::bucket_store::history::read_version(
                    &self.bucket,
                    &self.url.stack(stack)?,
                    version,
                )
                .await
            }

            async fn drop_versions(
                &self,
                stack: &str,
                versions: &[u64],
            ) -> Result<(), dafnck_core::state::StateError> {
                $crate::bucket_store::history::drop_versions(
                    &self.bucket,
                    &self.url.stack(stack)?,
                    versions,
                )
                .await
            }
        }

        #[async_trait::async_trait]
        impl dafnck_core::state::ControlChannel for $store {
            async fn send(
                &self,
                stack: &str,
                message: &dafnck_core::state::Message,
            ) -> Result<(), dafnck_core::state::StateError> {
                $crate::bucket_store::history::send_control(
                    &self.bucket,
                    &self.url.stack(stack)?,
                    message,
                )
                .await
            }

            async fn take(
                &self,
                stack: &str,
                topic: &str,
            ) -> Result<Vec<dafnck_core::state::Message>, dafnck_core::state::StateError> {
                $crate::bucket_store::history::take_controls(
                    &self.bucket,
                    &self.url.stack(stack)?,
                    topic,
                )
                .await
            }
        }
    };
}

pub(crate) use state_store_impls;

/// Implements `StoreBackend` for `$backend`, opening `$store::connect(url)`
/// for `$scheme://` URLs, and `Debug` for `$store` (its URL and endpoint,
/// never a credential; its `bucket` has fields `describe` and `endpoint`).
macro_rules! store_backend {
    ($backend:ident, $store:ident, $scheme:expr) => {
        #[async_trait::async_trait]
        impl dafnck_core::state::StoreBackend for $backend {
            fn scheme(&self) -> &str {
                $scheme
            }

            async fn open(
                &self,
                url: &str,
            ) -> Result<
                std::sync::Arc<dyn dafnck_core::state::StateStore>,
                dafnck_core::state::StateError,
            > {
                Ok(std::sync::Arc::new($store::connect(url).await?))
            }
        }

        impl std::fmt::Debug for $store {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($store))
                    .field("store", &self.bucket.describe)
                    .field("endpoint", &self.bucket.endpoint)
                    .finish_non_exhaustive()
            }
        }
    };
}

pub(crate) use store_backend;
