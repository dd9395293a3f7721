//! Providers for dafnck, one module per provider, each behind a Cargo
//! feature (`local`, `aws`, `gcp`, `azure`) so a program compiles only the
//! cloud SDKs it uses. The engine's own in-memory fake provider lives in
//! `dafnck_core::testing`.

#[cfg(feature = "local")]
pub mod local;

#[cfg(feature = "aws")]
pub mod aws;
