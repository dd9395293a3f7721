//! State stores for teams: where several people and CI jobs share a stack's
//! state, with leased locks so two runs never write at once and a run that
//! dies does not strand the others. One module per store, each behind a
//! Cargo feature, so `dafnck-core` carries no database client:
//!
//! - `postgres`: [`postgres::PostgresStore`], `postgres://` URLs.
//! - `s3`: [`s3::S3Store`], `s3://bucket/prefix` URLs.
//! - `gcs`: [`gcs::GcsStore`], `gs://bucket/prefix` URLs.
//! - `azblob`: [`azblob::AzblobStore`], `azblob://account/container/prefix`
//!   URLs.
//!
//! A program registers a store's backend with its command line, and then
//! `--state URL` (or `DAFNCK_STATE`) picks the store:
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn example() -> std::process::ExitCode {
//! # fn infra(_: &mut dafnck_core::Stack) -> dafnck_core::Result<()> { Ok(()) }
//! dafnck_core::cli::run(infra)
//!     .state_backend(dafnck_stores::postgres::backend())
//!     .await
//! # }
//! ```

#[cfg(feature = "postgres")]
pub mod postgres;

#[cfg(feature = "s3")]
pub mod s3;

#[cfg(feature = "gcs")]
pub mod gcs;

#[cfg(feature = "azblob")]
pub mod azblob;

#[cfg(any(feature = "s3", feature = "gcs", feature = "azblob"))]
mod bucket_store;
