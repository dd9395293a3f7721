//! [`S3Store`]: stacks' states as objects in an S3 bucket, for a team that
//! shares them, with no second service for the lock (conditional writes,
//! as Terraform's `use_lockfile`); [`backend`] registers `s3://` URLs with
//! a program's command line.
//!
//! ```no_run
//! # fn infra(_: &mut dafnck_core::Stack) -> dafnck_core::Result<()> { Ok(()) }
//! # async fn example() -> std::process::ExitCode {
//! // main.rs: then `--state s3://team-state/infra` (or DAFNCK_STATE) keeps
//! // the stack's state in that bucket.
//! dafnck_core::cli::run(infra)
//!     .state_backend(dafnck_stores::s3::backend())
//!     .await
//! # }
//! ```
//!
//! # The URL
//! `s3://BUCKET/PREFIX`, with one optional parameter, `timeout=SECONDS`
//! (default 20): how long one attempt at a request may take (the SDK tries
//! three times). The bucket must exist; dafnck never creates one. Region,
//! credentials and endpoint come from the AWS SDK's standard chain
//! (`AWS_REGION`, `AWS_PROFILE`, `AWS_ACCESS_KEY_ID`, instance roles, ...);
//! `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`) points it at another
//! S3-compatible server, which is then addressed path-style
//! (`http://host/bucket/key`).
//!
//! # Layout
//! Each stack is a folder `PREFIX/STACK/` (the name with bytes other than
//! letters, digits, `-`, `_` and `.` written `%XX`):
//!
//! | key | holds |
//! | --- | --- |
//! | `snapshot.json` | the last compacted [`State`](dafnck_core::state::State), a unit of the [`envelope`](dafnck_core::state::envelope) format (a header with the format and a checksum, then JSON) |
//! | `journal/<n>.jsonl` | one appended batch, one record a line, after the unit's header line; `<n>` is its first record's number, 20 digits, so a listing is in order |
//! | `lock.json` | the lock: holder, lease end, lease length |
//! | `versions/<n>/state.json`, `versions/<n>/info.json` | version `n` (it exists once its `info.json` does), units like the snapshot |
//! | `controls/<topic>/<sent>-<written>-<id>.json` | a control message (a rollout command) |
//!
//! # Guarantees
//! - `append` writes a batch as one object created with `If-None-Match: *`:
//!   durable when S3 answers, all or nothing, and refused when a batch
//!   starting at that record number exists, so two writers that read the
//!   same state cannot both append.
//! - `read` lists the journal before it reads the snapshot, so a
//!   compaction in between gives the new snapshot (and the batches it
//!   covers are skipped), never the old snapshot with batches missing.
//! - `compact` parses the old snapshot and the batches it drops first and
//!   refuses ([`StateError::Corrupt`] naming the object) if they do not
//!   parse; then writes the snapshot conditionally on the ETag it read
//!   (another compactor in between is refused), then deletes the batches it
//!   covers. A crash before the deletes leaves batches the snapshot covers:
//!   reads skip them, the next compaction deletes them.
//! - The lock is `lock.json`, created with `If-None-Match: *`; renewed,
//!   released, and (once its lease has run out) taken over with `If-Match`
//!   on the ETag just read, so of any number of runs trying at once exactly
//!   one wins and the others fail with [`StateError::Locked`] naming the
//!   holder and lock id.
//! - Every object but a lock or a control message carries a checksum of
//!   its bytes, checked on every read: a damaged one is refused with
//!   [`StateError::Damaged`] naming its key, and nothing is written.
//! - A request S3 does not answer gives up after the timeout (three
//!   attempts), with an error naming the endpoint; a missing bucket is an
//!   error naming it.
//!
//! # Caveats
//! - Lease times are the machines' clocks (S3 has no clock to ask): keep
//!   them in sync (NTP). A clock far ahead can take over a live lease.
//! - It needs an S3 that honours conditional writes: AWS S3 does (since
//!   2024), as do MinIO and moto; a server that ignores `If-None-Match` and
//!   `If-Match` gives no mutual exclusion.
//! - Needed rights: `s3:ListBucket` on the bucket, `s3:GetObject`,
//!   `s3:PutObject` and `s3:DeleteObject` on `PREFIX/*`.

mod objects;

pub use crate::bucket_store::layout::DEFAULT_TIMEOUT;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use dafnck_core::state::StateError;

use crate::bucket_store::layout::StoreUrl;
use objects::Bucket;

const BACKEND: &str = "s3";

/// The backend of `s3://` URLs, to register with
/// `dafnck_core::cli::run(..).state_backend(..)`.
pub fn backend() -> S3Backend {
    S3Backend
}

/// Opens [`S3Store`]s for `s3://` URLs with the AWS SDK's standard
/// configuration chain; see [`backend`].
#[derive(Clone, Copy, Debug, Default)]
pub struct S3Backend;

/// Stacks' states in an S3 bucket; see the [module](self) for the URL,
/// the layout and the guarantees. Clones share one client.
#[derive(Clone)]
pub struct S3Store {
    url: StoreUrl,
    bucket: Bucket,
}

impl S3Store {
    /// Opens the bucket `url` names with the AWS SDK's standard
    /// configuration (environment, profile, instance role) and checks that
    /// it is there.
    ///
    /// # Errors
    /// [`StateError::Backend`] for a bad URL, no region, a bucket that does
    /// not exist or may not be used, or an endpoint that does not answer.
    pub async fn connect(url: &str) -> Result<S3Store, StateError> {
        let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
        S3Store::with_config(url, &config).await
    }

    /// Like [`connect`](S3Store::connect), with a configuration the
    /// program built (region, credentials, endpoint).
    ///
    /// # Errors
    /// As [`connect`](S3Store::connect).
    pub async fn with_config(url: &str, config: &SdkConfig) -> Result<S3Store, StateError> {
        let url = StoreUrl::parse(
            url,
            "s3",
            BACKEND,
            "region, endpoint and credentials come from the AWS environment",
        )?;
        let describe = url.describe();
        let Some(region) = config.region() else {
            return Err(StateError::Backend {
                backend: BACKEND.into(),
                message: format!(
                    "{describe}: no AWS region is configured; set AWS_REGION to the bucket's region"
                ),
            });
        };
        let endpoint = config.endpoint_url().map(str::to_owned);
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(url.timeout.min(std::time::Duration::from_secs(5)))
            .operation_attempt_timeout(url.timeout)
            .build();
        let mut s3 = aws_sdk_s3::config::Builder::from(config).timeout_config(timeouts);
        if endpoint.is_some() {
            // An S3-compatible server (moto, MinIO) rarely resolves
            // `bucket.host` names.
            s3 = s3.force_path_style(true);
        }
        let bucket = Bucket {
            client: aws_sdk_s3::Client::from_conf(s3.build()),
            name: url.bucket.clone(),
            describe,
            endpoint: endpoint.unwrap_or_else(|| format!("S3 in {region}")),
        };
        bucket.check().await?;
        Ok(S3Store { url, bucket })
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.url.bucket
    }

    /// The key prefix stacks live under (empty for the whole bucket).
    pub fn prefix(&self) -> &str {
        &self.url.prefix
    }
}

crate::bucket_store::state_store_impls!(S3Store);
crate::bucket_store::store_backend!(S3Backend, S3Store, BACKEND);
