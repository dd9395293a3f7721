//! Long-running operations
//! (<https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/async-operations>):
//! each write of an asynchronous type starts one, polled through its
//! `Azure-AsyncOperation` (status) and `Location` (result) URLs, and
//! completed when its time comes (see [`crate::faults`] for the delay and
//! for failures).

use serde_json::{json, Value};
use std::time::Instant;

/// What an operation does to its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// A create or update.
    Put,
    /// A delete.
    Delete,
    /// A POST action (a scale set's `manualupgrade`).
    Action,
}

/// A provisioning failure: how an operation ends when told to fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The HTTP status of the operation result (`Location`) poll.
    pub status: u16,
    /// ARM error code (`AllocationFailed`, ...).
    pub code: String,
    /// Message.
    pub message: String,
}

/// One operation.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Its id (in its URLs).
    pub id: String,
    /// Subscription.
    pub sub: String,
    /// Provider namespace whose `locations/{loc}/operations` serve it.
    pub namespace: &'static str,
    /// Region of the resource.
    pub location: String,
    /// Key of the resource it works on.
    pub target: String,
    /// What it does.
    pub kind: OpKind,
    /// When it completes.
    pub done_at: Instant,
    /// How it ends, when told to fail.
    pub failure: Option<Failure>,
    /// `InProgress`, `Succeeded`, `Failed` or `Canceled`.
    pub status: &'static str,
    /// RFC 3339.
    pub start_time: String,
    /// RFC 3339, once over.
    pub end_time: Option<String>,
    /// The api-version its URLs carry.
    pub api_version: String,
}

impl Operation {
    /// Whether it is still running.
    pub fn running(&self) -> bool {
        self.status == "InProgress"
    }

    /// The `Azure-AsyncOperation` URL on server `base`.
    pub fn status_url(&self, base: &str) -> String {
        format!(
            "{base}/subscriptions/{}/providers/{}/locations/{}/operations/{}?api-version={}",
            self.sub, self.namespace, self.location, self.id, self.api_version
        )
    }

    /// The `Location` URL on server `base` (a resource group's delete has
    /// the subscription-level one ARM gives).
    pub fn result_url(&self, base: &str) -> String {
        if self.namespace == "Microsoft.Resources" {
            return format!(
                "{base}/subscriptions/{}/operationresults/{}?api-version={}",
                self.sub, self.id, self.api_version
            );
        }
        format!(
            "{base}/subscriptions/{}/providers/{}/locations/{}/operationResults/{}?api-version={}",
            self.sub, self.namespace, self.location, self.id, self.api_version
        )
    }

    /// The status document the `Azure-AsyncOperation` URL answers.
    pub fn status_body(&self, base: &str) -> Value {
        let mut v = json!({
            "id": self.status_url(base).split('?').next().unwrap_or_default().trim_start_matches(base),
            "name": self.id,
            "status": self.status,
            "startTime": self.start_time,
        });
        if let Some(end) = &self.end_time {
            v["endTime"] = json!(end);
        }
        if let (Some(f), "Failed") = (&self.failure, self.status) {
            v["error"] = json!({"code": f.code, "message": f.message});
        }
        v
    }

    /// Seconds a poller should wait: what is left, rounded up (0 when
    /// done), unless `fixed`.
    pub fn retry_after(&self, fixed: Option<u64>) -> u64 {
        fixed.unwrap_or_else(|| {
            let left = self.done_at.saturating_duration_since(Instant::now());
            left.as_millis().div_ceil(1000) as u64
        })
    }
}

/// Now in RFC 3339.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
