//! [`AzblobStore`]: stacks' states as blobs in an Azure Blob Storage
//! container, with the same layout and guarantees as the
//! [S3 store](crate::s3), the lock made of a blob lease as Terraform's
//! azurerm backend does; [`backend`] registers `azblob://` URLs with a
//! program's command line.
//!
//! ```no_run
//! # fn infra(_: &mut dafnck_core::Stack) -> dafnck_core::Result<()> { Ok(()) }
//! # async fn example() -> std::process::ExitCode {
//! // main.rs: then `--state azblob://teamstate/tfstate/infra` (or
//! // DAFNCK_STATE) keeps the stack's state in that container.
//! dafnck_core::cli::run(infra)
//!     .state_backend(dafnck_stores::azblob::backend())
//!     .await
//! # }
//! ```
//!
//! # The URL
//! `azblob://ACCOUNT/CONTAINER/PREFIX`, with one optional parameter,
//! `timeout=SECONDS` (default 20): how long one request may take. The
//! container must exist; dafnck never creates one.
//!
//! # Credentials
//! The account's key (Shared Key authorization), from the environment:
//! - `AZURE_STORAGE_CONNECTION_STRING` (`AccountName=..;AccountKey=..;`
//!   and `BlobEndpoint` or `EndpointSuffix`, as the portal shows it; its
//!   account must be the URL's), else
//! - `AZURE_STORAGE_KEY` (and `AZURE_STORAGE_ACCOUNT`, if set, must name
//!   the URL's account);
//! - `DAFNCK_AZBLOB_ENDPOINT=http://127.0.0.1:10000/devstoreaccount1`
//!   points either at Azurite (or another endpoint than
//!   `https://ACCOUNT.blob.core.windows.net`).
//!
//! Entra ID sign-in (service principals, managed identity) and SAS tokens
//! are not supported yet. `azure_storage_blob` 1.x, the client used, takes
//! only Entra ID tokens or SAS URLs, so this store adds a pipeline policy
//! that signs each request with the key as the Blob service's Shared Key
//! scheme specifies.
//!
//! # Layout and guarantees
//! As the S3 store's (`snapshot.json`, `journal/<n>.jsonl`, `lock.json`,
//! `versions/`, `controls/` under `PREFIX/STACK/`), with ETag conditions
//! where S3 has them: a journal batch is created with `If-None-Match: *`,
//! the snapshot replaced with `If-Match`. The lock is `lock.json` created
//! only if absent and then held by an infinite blob lease whose id is made
//! of the lock id: renewals rewrite it under the lease, the release (and
//! `force-unlock LOCK_ID`) deletes it under the lease, and a lock whose
//! lease time ran out (its holder died) is taken over by breaking the
//! blob lease, only if the blob is still the one read, then leasing it
//! anew. Of any number of runs trying at once exactly one wins and the
//! others fail with `StateError::Locked` naming the holder. The lease is
//! visible in the portal and `az storage blob lease break` releases a
//! stuck lock as well.
//!
//! # Caveats
//! - Lease times are the machines' clocks: keep them in sync (NTP).
//! - Needed rights: the account key reads, writes, lists, leases and
//!   deletes blobs; keys of other kinds (SAS, Entra ID) are not taken.
//! - Proven against Azurite 3.35 (`scripts/servers/azurite.sh`), not
//!   against Azure itself.

mod auth;
mod lease;
mod objects;

use dafnck_core::state::StateError;

use crate::bucket_store::layout::StoreUrl;
pub use auth::AccountKey;
use objects::Container;

const BACKEND: &str = "azblob";

/// The backend of `azblob://` URLs, to register with
/// `dafnck_core::cli::run(..).state_backend(..)`.
pub fn backend() -> AzblobBackend {
    AzblobBackend
}

/// Opens [`AzblobStore`]s for `azblob://` URLs; see [`backend`].
#[derive(Clone, Copy, Debug, Default)]
pub struct AzblobBackend;

/// Stacks' states in an Azure Blob Storage container; see the
/// [module](self). Clones share the client.
#[derive(Clone)]
pub struct AzblobStore {
    url: StoreUrl,
    bucket: Container,
}

fn backend_error(message: String) -> StateError {
    StateError::Backend {
        backend: BACKEND.into(),
        message,
    }
}

/// The URL's parameters' help, for the message about an unknown one.
const EXTRA: &str = "the key comes from AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_KEY; DAFNCK_AZBLOB_ENDPOINT names an emulator";

impl AzblobStore {
    /// Opens the container `url` names with the account's key from the
    /// environment (see the [module](self)) and checks that it is there.
    ///
    /// # Errors
    /// [`StateError::Backend`] for a bad URL, no key, a container that does
    /// not exist, a key the account refuses, or an endpoint that does not
    /// answer.
    pub async fn connect(url: &str) -> Result<AzblobStore, StateError> {
        let parsed = StoreUrl::parse_in_account(url, "azblob", BACKEND, EXTRA)?;
        let account = parsed.account.clone().unwrap_or_default();
        let key = AccountKey::from_env(&account)
            .map_err(|e| backend_error(format!("{}: {e}", parsed.describe())))?;
        AzblobStore::with_key(url, &key).await
    }

    /// Like [`connect`](AzblobStore::connect), with this account key
    /// (whose account must be the URL's).
    ///
    /// # Errors
    /// As [`connect`](AzblobStore::connect).
    pub async fn with_key(url: &str, key: &AccountKey) -> Result<AzblobStore, StateError> {
        let url = StoreUrl::parse_in_account(url, "azblob", BACKEND, EXTRA)?;
        let describe = url.describe();
        let account = url.account.clone().unwrap_or_default();
        if key.account != account {
            return Err(backend_error(format!(
                "{describe}: the key is for storage account {:?}, not {account:?}",
                key.account
            )));
        }
        let client = key.container_client(&url.bucket, url.timeout)?;
        let bucket = Container {
            client: std::sync::Arc::new(client),
            account,
            name: url.bucket.clone(),
            describe,
            endpoint: key.endpoint.clone(),
        };
        bucket.check().await?;
        Ok(AzblobStore { url, bucket })
    }

    /// The storage account.
    pub fn account(&self) -> &str {
        &self.bucket.account
    }

    /// The container.
    pub fn container(&self) -> &str {
        &self.url.bucket
    }

    /// The client of the container, signed with the account key: for what
    /// the store does not do (inspecting a lock's lease, say).
    pub fn container_client(&self) -> &azure_storage_blob::BlobContainerClient {
        &self.bucket.client
    }

    /// The blob name prefix stacks live under (empty for the whole
    /// container).
    pub fn prefix(&self) -> &str {
        &self.url.prefix
    }
}

crate::bucket_store::state_store_impls!(AzblobStore, lock = crate::azblob::lease);
crate::bucket_store::store_backend!(AzblobBackend, AzblobStore, "azblob");
