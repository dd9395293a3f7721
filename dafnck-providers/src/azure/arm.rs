//! Azure Resource Manager calls: one pipeline (`azure_core` 0.21: bearer
//! token, 429/503 retried with `Retry-After`), long-running operations
//! polled to a terminal state, and ARM errors turned into the engine's.

use std::sync::Arc;
use std::time::Duration;

use azure_core::auth::TokenCredential;
use azure_core::headers::{HeaderName, Headers};
use azure_core::{Context, Method, Pipeline, Request, StatusCode, Url};
use dafnck_core::ProviderError;
use serde_json::Value as Json;

/// How long a long-running operation may take before the call gives up.
const LRO_LIMIT: Duration = Duration::from_secs(30 * 60);
/// The wait between polls when ARM sends no `Retry-After`.
const DEFAULT_POLL: Duration = Duration::from_secs(2);

const ASYNC_OPERATION: HeaderName = HeaderName::from_static("azure-asyncoperation");
const LOCATION: HeaderName = HeaderName::from_static("location");
const RETRY_AFTER: HeaderName = HeaderName::from_static("retry-after");

/// The resource a call is about, for error messages: its type and the
/// program's name for it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Subject<'a> {
    /// The dafnck type (`azure:network:VirtualNetwork`).
    pub ty: &'a str,
    /// The resource's name in the program.
    pub name: &'a str,
}

impl Subject<'_> {
    /// An error naming the resource.
    pub(crate) fn error(&self, why: impl std::fmt::Display) -> ProviderError {
        ProviderError::new(format!("{} {:?}: {why}", self.ty, self.name))
    }

    /// ARM's answer to a call, as the engine's error: throttling and server
    /// errors retryable, conflicts and bad parameters not, naming the
    /// resource and (when ARM says) the field.
    pub(crate) fn arm_error(&self, what: &str, e: &azure_core::Error) -> ProviderError {
        let Some(http) = e.as_http_error() else {
            // No answer at all (connection refused, reset): worth a retry.
            return ProviderError::retryable(format!("{} {:?}: {what}: {e}", self.ty, self.name));
        };
        let status = http.status();
        let code = http.error_code().unwrap_or("no error code");
        let message = http.error_message().unwrap_or("no message");
        let text = format!(
            "{} {:?}: {what}: ARM answered {} {code}: {message}",
            self.ty,
            self.name,
            u16::from(status)
        );
        match status {
            StatusCode::TooManyRequests
            | StatusCode::InternalServerError
            | StatusCode::BadGateway
            | StatusCode::ServiceUnavailable
            | StatusCode::GatewayTimeout => ProviderError::retryable(text),
            _ => ProviderError::new(text),
        }
    }
}

/// An ARM client: the endpoint, the subscription, the credential and one
/// pipeline.
#[derive(Clone)]
pub(crate) struct Arm {
    endpoint: Url,
    credential: Arc<dyn TokenCredential>,
    scope: String,
    pipeline: Pipeline,
    poll_floor: Duration,
}

impl std::fmt::Debug for Arm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arm")
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

/// What a call answered.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: Headers,
    pub body: Json,
}

impl Arm {
    pub(crate) fn new(
        endpoint: Url,
        credential: Arc<dyn TokenCredential>,
        options: azure_core::ClientOptions,
        poll_floor: Duration,
    ) -> Result<Self, ProviderError> {
        let scope = endpoint
            .join(azure_core::auth::DEFAULT_SCOPE_SUFFIX)
            .map_err(|e| ProviderError::new(format!("azure: bad endpoint {endpoint}: {e}")))?
            .to_string();
        let pipeline = Pipeline::new(
            option_env!("CARGO_PKG_NAME"),
            option_env!("CARGO_PKG_VERSION"),
            options,
            Vec::new(),
            Vec::new(),
        );
        Ok(Arm {
            endpoint,
            credential,
            scope,
            pipeline,
            poll_floor,
        })
    }

    /// The wait between polls of something ARM reports no `Retry-After`
    /// for (a rolling upgrade).
    pub(crate) fn poll_interval(&self) -> Duration {
        if self.poll_floor.is_zero() {
            DEFAULT_POLL
        } else {
            self.poll_floor
        }
    }

    fn url(&self, path_or_url: &str, api_version: Option<&str>) -> azure_core::Result<Url> {
        let mut url = if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            Url::parse(path_or_url)?
        } else {
            let mut url = self.endpoint.clone();
            url.set_path(path_or_url);
            url
        };
        if let Some(v) = api_version {
            if !url.query_pairs().any(|(k, _)| k == "api-version") {
                url.query_pairs_mut().append_pair("api-version", v);
            }
        }
        Ok(url)
    }

    /// One call: the pipeline retries 429 and 503 (after `Retry-After`),
    /// other failures are errors.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        api_version: Option<&str>,
        body: Option<&Json>,
    ) -> azure_core::Result<Answer> {
        let mut req = Request::new(self.url(path, api_version)?, method);
        let token = self.credential.get_token(&[self.scope.as_str()]).await?;
        req.insert_header(
            azure_core::headers::AUTHORIZATION,
            format!("Bearer {}", token.token.secret()),
        );
        if let Some(body) = body {
            req.insert_header("content-type", "application/json");
            req.set_body(serde_json::to_vec(body)?);
        }
        let rsp = self.pipeline.send(&Context::default(), &mut req).await?;
        let (status, headers, body) = rsp.deconstruct();
        let bytes = body.collect().await?;
        let body = if bytes.is_empty() {
            Json::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Json::Null)
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// The resource at `id`, or `None` when ARM says 404.
    pub(crate) async fn get(
        &self,
        who: Subject<'_>,
        id: &str,
        api_version: &str,
    ) -> Result<Option<Json>, ProviderError> {
        match self.call(Method::Get, id, Some(api_version), None).await {
            Ok(a) => Ok(Some(a.body)),
            Err(e) if is_status(&e, StatusCode::NotFound) => Ok(None),
            Err(e) => Err(who.arm_error(&format!("GET {id}"), &e)),
        }
    }

    /// PUT (create or update) `body` at `id`, waits for the operation, and
    /// answers the resource as it then is (its `provisioningState`
    /// `Succeeded`; `Failed` or `Canceled` is an error with ARM's reason).
    pub(crate) async fn put(
        &self,
        who: Subject<'_>,
        id: &str,
        api_version: &str,
        body: &Json,
    ) -> Result<Json, ProviderError> {
        let answer = self
            .call(Method::Put, id, Some(api_version), Some(body))
            .await
            .map_err(|e| who.arm_error(&format!("PUT {id}"), &e))?;
        self.settle(who, id, api_version, &answer).await
    }

    /// After a write answered `answer`: polls its operation, then reads
    /// the resource until its provisioning state is terminal.
    pub(crate) async fn settle(
        &self,
        who: Subject<'_>,
        id: &str,
        api_version: &str,
        answer: &Answer,
    ) -> Result<Json, ProviderError> {
        self.wait(who, &format!("PUT {id}"), answer).await?;
        let started = std::time::Instant::now();
        loop {
            let Some(found) = self.get(who, id, api_version).await? else {
                return Err(who.error(format!("{id} is gone right after its PUT succeeded")));
            };
            match provisioning_state(&found) {
                Some(s)
                    if s.eq_ignore_ascii_case("Failed") || s.eq_ignore_ascii_case("Canceled") =>
                {
                    return Err(who.error(format!(
                        "provisioning of {id} ended {s}{}",
                        found["properties"]["statusMessage"]
                            .as_str()
                            .map(|m| format!(": {m}"))
                            .unwrap_or_default()
                    )));
                }
                Some(s) if !s.eq_ignore_ascii_case("Succeeded") => {
                    if started.elapsed() > LRO_LIMIT {
                        return Err(ProviderError::retryable(format!(
                            "{} {:?}: {id} is still {s} after {LRO_LIMIT:?}",
                            who.ty, who.name
                        )));
                    }
                    tokio::time::sleep(self.poll_floor.max(Duration::from_millis(200))).await;
                }
                _ => return Ok(found),
            }
        }
    }

    /// DELETE `id` and waits until the operation ends and the resource is
    /// gone (already gone: done).
    pub(crate) async fn delete(
        &self,
        who: Subject<'_>,
        id: &str,
        api_version: &str,
    ) -> Result<(), ProviderError> {
        let answer = match self.call(Method::Delete, id, Some(api_version), None).await {
            Ok(a) => a,
            Err(e) if is_status(&e, StatusCode::NotFound) => return Ok(()),
            Err(e) => return Err(who.arm_error(&format!("DELETE {id}"), &e)),
        };
        self.wait(who, &format!("DELETE {id}"), &answer).await?;
        let started = std::time::Instant::now();
        while self.get(who, id, api_version).await?.is_some() {
            if started.elapsed() > LRO_LIMIT {
                return Err(ProviderError::retryable(format!(
                    "{} {:?}: {id} still exists {LRO_LIMIT:?} after its DELETE",
                    who.ty, who.name
                )));
            }
            tokio::time::sleep(self.poll_floor.max(Duration::from_millis(200))).await;
        }
        Ok(())
    }

    /// Waits for the long-running operation a 201/202 answer names
    /// (`Azure-AsyncOperation` first, else `Location`), honouring
    /// `Retry-After`; an operation that ends `Failed` or `Canceled` is an
    /// error with ARM's code and message.
    pub(crate) async fn wait(
        &self,
        who: Subject<'_>,
        what: &str,
        answer: &Answer,
    ) -> Result<(), ProviderError> {
        let status_url = answer.headers.get_optional_string(&ASYNC_OPERATION);
        let location = answer.headers.get_optional_string(&LOCATION);
        if status_url.is_none() && (location.is_none() || answer.status == StatusCode::Ok) {
            return Ok(());
        }
        let mut delay = retry_after(&answer.headers).unwrap_or(DEFAULT_POLL);
        let started = std::time::Instant::now();
        loop {
            if started.elapsed() > LRO_LIMIT {
                return Err(ProviderError::retryable(format!(
                    "{} {:?}: {what}: the operation is still running after {LRO_LIMIT:?}",
                    who.ty, who.name
                )));
            }
            tokio::time::sleep(delay.max(self.poll_floor)).await;
            if let Some(url) = &status_url {
                let poll = self
                    .call(Method::Get, url, None, None)
                    .await
                    .map_err(|e| who.arm_error(&format!("{what}: polling its operation"), &e))?;
                let status = poll.body["status"].as_str().unwrap_or("InProgress");
                match status {
                    s if s.eq_ignore_ascii_case("Succeeded") => return Ok(()),
                    s if s.eq_ignore_ascii_case("Failed") || s.eq_ignore_ascii_case("Canceled") => {
                        let err = &poll.body["error"];
                        return Err(who.error(format!(
                            "{what}: the operation ended {s}: {} {}{}",
                            err["code"].as_str().unwrap_or("no error code"),
                            err["message"].as_str().unwrap_or("no message"),
                            err["target"]
                                .as_str()
                                .map(|t| format!(" (field {t})"))
                                .unwrap_or_default()
                        )));
                    }
                    _ => delay = retry_after(&poll.headers).unwrap_or(DEFAULT_POLL),
                }
            } else if let Some(url) = &location {
                match self.call(Method::Get, url, None, None).await {
                    Ok(poll) if poll.status == StatusCode::Accepted => {
                        delay = retry_after(&poll.headers).unwrap_or(DEFAULT_POLL);
                    }
                    Ok(_) => return Ok(()),
                    Err(e) => {
                        return Err(who.arm_error(&format!("{what}: polling its operation"), &e))
                    }
                }
            }
        }
    }
}

/// Whether `e` is ARM's answer with `status`.
pub(crate) fn is_status(e: &azure_core::Error, status: StatusCode) -> bool {
    e.as_http_error().is_some_and(|h| h.status() == status)
}

/// `properties.provisioningState`.
pub(crate) fn provisioning_state(j: &Json) -> Option<&str> {
    j["properties"]["provisioningState"].as_str()
}

fn retry_after(headers: &Headers) -> Option<Duration> {
    headers
        .get_optional_str(&RETRY_AFTER)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}
