//! The azure provider against the project's ARM fake (`dafnck-arm-fake`,
//! served over HTTP on 127.0.0.1 by each test, so fault injection in one
//! test touches no other), through the real clients: `azure_mgmt_compute`
//! for machines and scale sets, `azure_core`'s pipeline for the rest.
//!
//! With `DAFNCK_AZURE_SUBSCRIPTION` set (and credentials from the standard
//! chain), `DAFNCK_AZURE_REAL=1` runs the conformance suite against real
//! Azure instead (see docs/azure.md; it costs money, never in CI). The
//! fault tests always need the fake.
#![cfg(feature = "azure")]

mod conformance;
mod semantics;
mod support;
