//! The Cloud Storage JSON API calls the provider makes itself (buckets,
//! object metadata, listings, deletes), authenticated by
//! `google-cloud-auth`, and how their errors read.

use google_cloud_auth::credentials::{CacheableResource, Credentials};
use reqwest::{Method, StatusCode};
use serde_json::Value as Json;

use dafnck_core::ProviderError;

/// Real GCS's JSON API root.
const GOOGLE_ENDPOINT: &str = "https://storage.googleapis.com";

/// A JSON API call that failed.
#[derive(Debug, thiserror::Error)]
#[error("{call}: {}", describe(*.status, .message))]
pub struct ApiError {
    /// The call (`GET /storage/v1/b/site`).
    pub call: String,
    /// The HTTP status, when the server answered.
    pub status: Option<u16>,
    /// What the server (or the transport) said.
    pub message: String,
}

fn describe(status: Option<u16>, message: &str) -> String {
    match status {
        Some(412) => format!(
            "precondition failed (412): the object changed since it was read, someone \
             else wrote it ({message})"
        ),
        Some(409) => format!("conflict (409): {message}"),
        Some(429) => format!("rate limited (429), will retry: {message}"),
        Some(s) => format!("HTTP {s}: {message}"),
        None => format!("no answer: {message}"),
    }
}

impl ApiError {
    /// Whether the object (or its bucket) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }

    /// Whether a generation precondition failed (412).
    pub fn is_precondition_failed(&self) -> bool {
        self.status == Some(412)
    }

    /// Whether the call conflicted with what exists (409).
    pub fn is_conflict(&self) -> bool {
        self.status == Some(409)
    }

    /// Whether the same call may succeed later: throttling (429), a server
    /// error, or no answer at all.
    pub fn is_retryable(&self) -> bool {
        match self.status {
            None => true,
            Some(s) => s == 429 || s == 408 || s >= 500,
        }
    }

    /// As a provider error naming resource `name` of type `type_name`.
    pub(crate) fn about(self, type_name: &str, name: &str) -> ProviderError {
        ProviderError {
            message: format!("{type_name} {name:?}: {self}"),
            retryable: self.is_retryable(),
        }
    }
}

/// Percent-encodes one path segment or query value (an object name may
/// hold `/`, spaces and anything else).
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A JSON API client: one endpoint, one set of credentials.
pub(crate) struct JsonApi {
    http: reqwest::Client,
    endpoint: String,
    project: Option<String>,
    credentials: Credentials,
}

impl JsonApi {
    pub(crate) fn new(
        endpoint: Option<String>,
        project: Option<String>,
        credentials: Credentials,
    ) -> Result<Self, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| ProviderError::new(format!("gcp: cannot make an HTTP client: {e}")))?;
        Ok(JsonApi {
            http,
            endpoint: endpoint
                .unwrap_or_else(|| GOOGLE_ENDPOINT.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            project,
            credentials,
        })
    }

    /// The endpoint's root URL (no trailing `/`).
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The project new buckets are made in.
    pub(crate) fn project(&self) -> Option<&str> {
        self.project.as_deref()
    }

    /// Sends `method path` (`path` holds the query) with a JSON `body`;
    /// answers the JSON the server sent (`Null` for an empty answer).
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Json>,
    ) -> Result<Json, ApiError> {
        let (call, status, bytes) = self.send(method, path, body).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Json::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| ApiError {
            call,
            status: Some(status),
            message: format!("not JSON: {e}"),
        })
    }

    /// The content of object `name` in `bucket` (`alt=media`), or `None`.
    pub(crate) async fn media(
        &self,
        bucket: &str,
        name: &str,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        let path = format!("{}?alt=media", Self::object_path(bucket, name));
        match self.send(Method::GET, &path, None).await {
            Ok((_, _, bytes)) => Ok(Some(bytes)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sends a call; answers its name, status and body, or the error the
    /// server (or transport) gave.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Json>,
    ) -> Result<(String, u16, Vec<u8>), ApiError> {
        let call = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let fail = |status: Option<StatusCode>, message: String| ApiError {
            call: call.clone(),
            status: status.map(|s| s.as_u16()),
            message,
        };
        let headers = match self.credentials.headers(http::Extensions::new()).await {
            Ok(CacheableResource::New { data, .. }) => data,
            Ok(CacheableResource::NotModified) => http::HeaderMap::new(),
            Err(e) => return Err(fail(None, format!("no credentials: {e}"))),
        };
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.endpoint))
            .headers(headers);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| fail(None, e.to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| fail(Some(status), e.to_string()))?;
        if !status.is_success() {
            // GCS says `{"error": {"code": .., "message": ..}}`.
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let message = serde_json::from_str::<Json>(&text)
                .ok()
                .and_then(|j| j["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or(text);
            return Err(fail(Some(status), message));
        }
        Ok((call, status.as_u16(), bytes.to_vec()))
    }

    /// `call`, answering `None` for a 404.
    pub(crate) async fn get_opt(&self, path: &str) -> Result<Option<Json>, ApiError> {
        match self.call(Method::GET, path, None).await {
            Ok(j) => Ok(Some(j)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes `path`, a 404 being success.
    pub(crate) async fn delete(&self, path: &str) -> Result<(), ApiError> {
        match self.call(Method::DELETE, path, None).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The metadata of every object under `prefix` in `bucket` (every
    /// page), or `None` when the bucket does not exist.
    pub(crate) async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Option<Vec<Json>>, ApiError> {
        let mut items = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let mut path = format!(
                "/storage/v1/b/{}/o?prefix={}&maxResults=1000",
                encode(bucket),
                encode(prefix)
            );
            if let Some(token) = &page {
                path.push_str(&format!("&pageToken={}", encode(token)));
            }
            let Some(listed) = self.get_opt(&path).await? else {
                return Ok(None);
            };
            if let Some(found) = listed["items"].as_array() {
                items.extend(found.iter().cloned());
            }
            match listed["nextPageToken"].as_str() {
                Some(t) if !t.is_empty() => page = Some(t.to_owned()),
                _ => return Ok(Some(items)),
            }
        }
    }

    /// The path of object `name` in `bucket`.
    pub(crate) fn object_path(bucket: &str, name: &str) -> String {
        format!("/storage/v1/b/{}/o/{}", encode(bucket), encode(name))
    }

    /// The path of `bucket`.
    pub(crate) fn bucket_path(bucket: &str) -> String {
        format!("/storage/v1/b/{}", encode(bucket))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_percent_encoded() {
        assert_eq!(encode("a/b c.html"), "a%2Fb%20c.html");
        assert_eq!(
            JsonApi::object_path("site", "css/x.css"),
            "/storage/v1/b/site/o/css%2Fx.css"
        );
    }

    #[test]
    fn errors_say_whether_a_retry_helps() {
        let e = |status| ApiError {
            call: "GET /storage/v1/b/x".into(),
            status,
            message: "m".into(),
        };
        assert!(e(Some(429)).is_retryable());
        assert!(e(Some(503)).is_retryable());
        assert!(e(None).is_retryable());
        assert!(!e(Some(412)).is_retryable());
        assert!(!e(Some(409)).is_retryable());
        let p = e(Some(412)).about("gcp:storage:Bucket", "www");
        assert!(!p.retryable);
        assert!(
            p.message.starts_with(
                "gcp:storage:Bucket \"www\": GET /storage/v1/b/x: precondition failed (412)"
            ),
            "{}",
            p.message
        );
        assert!(e(Some(429)).about("t", "n").retryable);
    }
}
