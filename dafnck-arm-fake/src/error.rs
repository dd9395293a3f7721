//! ARM error responses: `{"error": {"code", "message", "target"}}`
//! (<https://github.com/Azure/azure-resource-manager-rpc/blob/master/v1.0/common-api-details.md#error-response-content>).

use serde_json::{json, Value};

/// An error answer: its HTTP status and ARM error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmError {
    /// HTTP status code.
    pub status: u16,
    /// ARM error code (`ResourceNotFound`, `InvalidParameter`, ...).
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// The field or resource the error is about, when one is.
    pub target: Option<String>,
    /// `Retry-After` seconds (throttling).
    pub retry_after: Option<u64>,
}

impl ArmError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        ArmError {
            status,
            code: code.to_string(),
            message: message.into(),
            target: None,
            retry_after: None,
        }
    }

    /// The same error naming `target`.
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// The response body.
    pub fn body(&self) -> Value {
        let mut e = json!({"code": self.code, "message": self.message});
        if let Some(t) = &self.target {
            e["target"] = json!(t);
        }
        json!({ "error": e })
    }

    /// 404 `ResourceNotFound` for resource `type_name` (`Microsoft.Network/virtualNetworks/vnet1`)
    /// in group `rg`, in ARM's words.
    pub fn not_found(type_name: &str, rg: &str) -> Self {
        Self::new(
            404,
            "ResourceNotFound",
            format!("The Resource '{type_name}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"),
        )
    }

    /// 404 `ResourceGroupNotFound`.
    pub fn group_not_found(rg: &str) -> Self {
        Self::new(
            404,
            "ResourceGroupNotFound",
            format!("Resource group '{rg}' could not be found."),
        )
    }

    /// 400 `InvalidParameter` naming `field`.
    pub fn invalid_parameter(field: &str, message: impl Into<String>) -> Self {
        Self::new(400, "InvalidParameter", message).with_target(field)
    }

    /// 400 `InvalidRequestContent`: a body that is not the JSON expected.
    pub fn invalid_content(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidRequestContent", message)
    }

    /// 409 with `code`.
    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(409, code, message)
    }

    /// 429 `TooManyRequests` with `Retry-After: secs`.
    pub fn throttled(secs: u64) -> Self {
        let mut e = Self::new(
            429,
            "TooManyRequests",
            format!("The request is being throttled (fault injected by dafnck-arm-fake). Please retry after {secs} seconds."),
        );
        e.retry_after = Some(secs);
        e
    }
}

impl std::fmt::Display for ArmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ArmError {}
