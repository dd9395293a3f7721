//! Fault injection, set through `POST /_fake/faults` or [`crate::Arm`]:
//! throttling, slow provisioning and failed provisioning.
//!
//! The control body (every field optional; a field left out keeps its
//! setting):
//!
//! ```json
//! {
//!   "throttle": {"count": 3, "retryAfterSeconds": 1},
//!   "provisioningDelayMs": 2000,
//!   "retryAfterSeconds": 0,
//!   "failProvisioning": {"resource": "vm1", "code": "AllocationFailed",
//!                        "message": "...", "status": 400}
//! }
//! ```
//!
//! `throttle`: the next `count` ARM requests answer 429 `TooManyRequests`
//! with `Retry-After`. `provisioningDelayMs`: how long each new
//! long-running operation takes (default 0: done at the first poll).
//! `retryAfterSeconds`: a fixed `Retry-After` for operation polls (default:
//! the time left, rounded up to seconds). `failProvisioning`: the next
//! long-running operation on a resource whose id ends with `/resource` (or
//! equals it; case-insensitive) ends `Failed` with that error; repeatable
//! (one failure per entry). `DELETE /_fake/faults` resets everything.

use crate::error::ArmError;
use crate::ops::Failure;
use serde_json::{json, Value};
use std::time::Duration;

/// One armed provisioning failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailRule {
    /// Resource name or id (lowercase).
    pub resource: String,
    /// How it fails.
    pub failure: Failure,
}

/// The faults in force.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Requests left to throttle.
    pub throttle: u32,
    /// Their `Retry-After` seconds.
    pub throttle_retry_after: u64,
    /// How long a long-running operation takes.
    pub delay: Duration,
    /// A fixed `Retry-After` for operation polls.
    pub retry_after: Option<u64>,
    /// Armed provisioning failures.
    pub fail: Vec<FailRule>,
}

impl Faults {
    /// Applies a control body (see the module docs).
    ///
    /// # Errors
    /// 400 `InvalidParameter` naming a malformed field.
    pub fn apply(&mut self, body: &Value) -> Result<(), ArmError> {
        let int = |v: &Value, field: &str| {
            v.as_u64().ok_or_else(|| {
                ArmError::invalid_parameter(
                    field,
                    format!("{field} must be a non-negative integer"),
                )
            })
        };
        if let Some(t) = body.get("throttle") {
            self.throttle = int(&t["count"], "throttle.count")? as u32;
            self.throttle_retry_after = match t.get("retryAfterSeconds") {
                Some(v) => int(v, "throttle.retryAfterSeconds")?,
                None => 1,
            };
        }
        if let Some(v) = body.get("provisioningDelayMs") {
            self.delay = Duration::from_millis(int(v, "provisioningDelayMs")?);
        }
        if let Some(v) = body.get("retryAfterSeconds") {
            self.retry_after = if v.is_null() {
                None
            } else {
                Some(int(v, "retryAfterSeconds")?)
            };
        }
        if let Some(f) = body.get("failProvisioning") {
            let resource = f["resource"]
                .as_str()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    ArmError::invalid_parameter(
                        "failProvisioning.resource",
                        "failProvisioning.resource must name a resource (its name or id)",
                    )
                })?;
            let status = match f.get("status") {
                Some(v) => int(v, "failProvisioning.status")? as u16,
                None => 400,
            };
            self.fail.push(FailRule {
                resource: resource.to_ascii_lowercase(),
                failure: Failure {
                    status,
                    code: f["code"]
                        .as_str()
                        .unwrap_or("ProvisioningFailed")
                        .to_string(),
                    message: f["message"]
                        .as_str()
                        .unwrap_or("Provisioning failed (fault injected by dafnck-arm-fake).")
                        .to_string(),
                },
            });
        }
        Ok(())
    }

    /// The settings, as `GET /_fake/faults` shows them.
    pub fn show(&self) -> Value {
        json!({
            "throttle": {"count": self.throttle, "retryAfterSeconds": self.throttle_retry_after},
            "provisioningDelayMs": self.delay.as_millis() as u64,
            "retryAfterSeconds": self.retry_after,
            "failProvisioning": self.fail.iter().map(|r| json!({
                "resource": r.resource, "code": r.failure.code,
                "message": r.failure.message, "status": r.failure.status,
            })).collect::<Vec<_>>(),
        })
    }

    /// Takes one throttled request, if any are left: the error to answer.
    pub fn take_throttle(&mut self) -> Option<ArmError> {
        (self.throttle > 0).then(|| {
            self.throttle -= 1;
            ArmError::throttled(self.throttle_retry_after)
        })
    }

    /// Takes the failure armed for resource `id`, if any.
    pub fn take_failure(&mut self, id: &str) -> Option<Failure> {
        let id = id.to_ascii_lowercase();
        let at = self
            .fail
            .iter()
            .position(|r| id == r.resource || id.ends_with(&format!("/{}", r.resource)))?;
        Some(self.fail.remove(at).failure)
    }
}
