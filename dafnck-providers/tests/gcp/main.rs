//! The gcp provider against a Cloud Storage emulator on 127.0.0.1
//! (gcp-storage-emulator, which keeps every bucket setting), driven through
//! the provider and the engine and checked through the JSON API.
//!
//! Each test takes the emulator's URL from `DAFNCK_GCS_EMULATOR_URL` (set by
//! `scripts/servers/gcs.sh start` or `scripts/test.sh`); without it the test
//! says it is skipped and passes, unless `DAFNCK_REQUIRE_SERVERS=1`, when it
//! fails. Every test makes buckets of its own (fresh names), so they run
//! side by side.
#![cfg(feature = "gcp")]

mod conformance;
mod errors;
mod preconditions;
mod site;
mod support;
