//! Object metadata helpers and the API's errors, answered as `Status`
//! objects the way the Kubernetes API server answers them
//! (<https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions>
//! and the `Status` kind of `meta/v1`).

use crate::kinds::Kind;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// An error the API answers with a `Status` object.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status code (404, 409, 422, ...).
    pub code: u16,
    /// The `reason` field (`NotFound`, `AlreadyExists`, `Conflict`, ...).
    pub reason: &'static str,
    /// The human-readable message.
    pub message: String,
    /// The `details` field, when there is one.
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: String) -> Self {
        ApiError {
            code,
            reason,
            message,
            details: None,
        }
    }

    fn with_details(mut self, kind: &Kind, name: &str) -> Self {
        self.details = Some(json!({"name": name, "group": kind.group, "kind": kind.resource}));
        self
    }

    /// 404: `deployments.apps "web" not found`.
    pub fn not_found(kind: &Kind, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", kind.qualified()),
        )
        .with_details(kind, name)
    }

    /// 404 for a namespace a namespaced object was sent to.
    pub fn namespace_not_found(namespace: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("namespaces \"{namespace}\" not found"),
        )
        .with_details(&crate::kinds::KINDS[0], namespace)
    }

    /// 404 for a path no resource is served at.
    pub fn no_route(path: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    /// 409: `deployments.apps "web" already exists`.
    pub fn already_exists(kind: &Kind, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", kind.qualified()),
        )
        .with_details(kind, name)
    }

    /// 409: the object's `resourceVersion` is not the one the client sent.
    pub fn conflict(kind: &Kind, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                kind.qualified()
            ),
        )
        .with_details(kind, name)
    }

    /// 422: the object is invalid; `causes` are `(field, message)` pairs.
    pub fn invalid(kind: &Kind, name: &str, causes: &[(String, String)]) -> Self {
        let list: Vec<String> = causes.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        let mut e = Self::new(
            422,
            "Invalid",
            format!(
                "{}{}{} \"{name}\" is invalid: {}",
                kind.kind,
                if kind.group.is_empty() { "" } else { "." },
                kind.group,
                list.join(", ")
            ),
        );
        e.details = Some(json!({
            "name": name, "group": kind.group, "kind": kind.kind,
            "causes": causes.iter().map(|(f, m)| json!({
                "reason": "FieldValueInvalid", "message": m, "field": f
            })).collect::<Vec<_>>()
        }));
        e
    }

    /// 400: a body or parameter the server cannot use.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message.into())
    }

    /// 405: the verb is not served at this path.
    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
        )
    }

    /// 415: a patch content type the server does not accept.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type:?})"),
        )
    }

    /// 415: a protobuf body (kubectl's `create <kind>` generators send
    /// them); this server speaks JSON only.
    pub fn protobuf() -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            "the server does not accept application/vnd.kubernetes.protobuf bodies: dafnck-kube-fake speaks JSON only (kubectl's `create <kind>` generators send protobuf; use `kubectl apply` or `kubectl create -f`)".into(),
        )
    }

    /// 410: a watch from a resource version the server no longer has.
    pub fn gone(rv: u64) -> Self {
        Self::new(410, "Expired", format!("too old resource version: {rv}"))
    }

    /// 409 from server-side apply: fields another manager owns, with a
    /// different value. `conflicts` are `(manager, apiVersion, field path)`.
    pub fn apply_conflicts(
        kind: &Kind,
        name: &str,
        conflicts: &[(String, String, String)],
    ) -> Self {
        let mut e = Self::new(
            409,
            "Conflict",
            if conflicts.len() == 1 {
                let (m, v, f) = &conflicts[0];
                format!("Apply failed with 1 conflict: conflict with \"{m}\" using {v}: {f}")
            } else {
                let lines: Vec<String> = conflicts
                    .iter()
                    .map(|(m, v, f)| format!("- conflict with \"{m}\" using {v}: {f}"))
                    .collect();
                format!(
                    "Apply failed with {} conflicts: {}",
                    conflicts.len(),
                    lines.join("\n")
                )
            },
        );
        e.details = Some(json!({
            "name": name, "group": kind.group, "kind": kind.resource,
            "causes": conflicts.iter().map(|(m, v, f)| json!({
                "type": "FieldManagerConflict",
                "message": format!("conflict with \"{m}\" using {v}"),
                "field": f
            })).collect::<Vec<_>>()
        }));
        e
    }

    /// The `Status` object the API answers with.
    pub fn status(&self) -> Value {
        let mut s = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": self.message,
            "reason": self.reason, "code": self.code
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

/// Now, as an RFC 3339 UTC timestamp with second precision
/// (`2026-12-04T14:36:14Z`), as `metav1.Time` is written.
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// `secs` after the Unix epoch as an RFC 3339 UTC timestamp.
pub fn rfc3339(secs: u64) -> String {
    let secs = i64::try_from(secs).unwrap_or(i64::MAX);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

/// A new UID, formatted as a version-4 UUID: unique within the process
/// (a counter mixed with the process start time and pid).
pub fn new_uid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let a = fnv64(&[t.to_le_bytes(), u64::from(std::process::id()).to_le_bytes()].concat());
    let b = fnv64(&[a.to_le_bytes(), n.to_le_bytes()].concat()) ^ n;
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// FNV-1a, 64 bits: the pod-template hash and UIDs.
pub fn fnv64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_394_974), "2026-12-04T14:36:14Z");
    }

    #[test]
    fn uids_differ() {
        assert_ne!(new_uid(), new_uid());
        assert_eq!(new_uid().len(), 36);
    }
}
