//! HTTP health checks: [`HttpCheck`] asks a URL and judges the answer, with
//! consecutive-success and consecutive-failure thresholds kept across runs,
//! like a Kubernetes probe. Also the small plain-HTTP/1.1 client the checks
//! and the Prometheus source share.

use std::fmt;
use std::io;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::analysis::{Analysis, Verdict};

/// The most of a body the client reads (a Prometheus answer of many series
/// stays far below it).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// An answer to a GET.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: Bytes,
}

/// GETs `url` (plain `http://` only) on a fresh connection, within
/// `timeout` for the whole exchange. The error names neither the method nor
/// the URL; callers prefix them.
pub(crate) async fn get(url: &str, timeout: Duration) -> Result<Answer, String> {
    let uri: Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => {
            return Err(format!(
                "scheme {other}:// is not supported; only plain http://"
            ))
        }
        None => return Err("the URL has no scheme; write http://host:port/path".into()),
    }
    let authority = uri.authority().ok_or("the URL has no host")?.clone();
    let port = authority.port_u16().unwrap_or(80);
    // `host()` keeps IPv6 brackets; the socket address wants them off.
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let path = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .to_string();
    let exchange = async {
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(|e| io_message(&e))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        let request = Request::get(path)
            .header(hyper::header::HOST, authority.as_str())
            .header(hyper::header::CONNECTION, "close")
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let talk = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| hyper_message(&e))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| format!("reading the body: {e}"))?
                .to_bytes();
            Ok::<_, String>(Answer { status, body })
        };
        // The connection future drives the socket; it is dropped with the
        // exchange, whether or not the server closed its end.
        let _conn = AbortOnDrop(tokio::spawn(conn));
        talk.await
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(answer) => answer,
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

/// Aborts a spawned task when dropped (a timed-out exchange included).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A short, lower-case message for a socket error ("connection refused").
fn io_message(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::ConnectionReset => "connection reset".into(),
        io::ErrorKind::TimedOut => "connection timed out".into(),
        _ => e.to_string(),
    }
}

fn hyper_message(e: &hyper::Error) -> String {
    if e.is_incomplete_message() {
        "the connection closed before a complete answer".into()
    } else {
        e.to_string()
    }
}

/// Which statuses count as healthy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Success,
    Exactly(u16),
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Success => f.write_str("a 2xx status"),
            Expect::Exactly(s) => write!(f, "status {s}"),
        }
    }
}

/// What a check has decided so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Not yet `successes` in a row (a check starts here, like a
    /// Kubernetes readiness probe).
    NotYetHealthy,
    Healthy,
    Unhealthy,
}

#[derive(Debug)]
struct Streaks {
    state: State,
    successes: u32,
    failures: u32,
}

/// An HTTP health check: one GET per run, judged by its status.
///
/// The check turns healthy after `successes` consecutive good answers and
/// unhealthy after `failures` consecutive bad ones (a refused connection,
/// a timeout, an unexpected status); between the two it keeps what it
/// decided last, so a single blip does not fail a healthy version. The
/// streaks are kept across runs. Before its first decision a check fails
/// ("not healthy yet"): as a rollout's readiness check it is polled until
/// it passes.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use dafnck_strategies::HttpCheck;
/// let check = HttpCheck::new("http://127.0.0.1:8081/healthz")
///     .timeout(Duration::from_secs(2))
///     .successes(2)
///     .failures(3);
/// assert_eq!(check.url(), "http://127.0.0.1:8081/healthz");
/// ```
#[derive(Debug)]
pub struct HttpCheck {
    name: String,
    url: String,
    expect: Expect,
    timeout: Duration,
    successes: u32,
    failures: u32,
    streaks: Mutex<Streaks>,
}

impl HttpCheck {
    /// A check of `url` (plain `http://`) named after it, expecting a 2xx
    /// status within 5 s; one success makes it healthy, three failures in a
    /// row unhealthy.
    pub fn new(url: impl Into<String>) -> Self {
        let url = url.into();
        HttpCheck {
            name: format!("http {url}"),
            url,
            expect: Expect::Success,
            timeout: Duration::from_secs(5),
            successes: 1,
            failures: 3,
            streaks: Mutex::new(Streaks {
                state: State::NotYetHealthy,
                successes: 0,
                failures: 0,
            }),
        }
    }

    /// Names the check (for logs and verdicts).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Expects exactly `status` instead of any 2xx.
    pub fn expect_status(mut self, status: u16) -> Self {
        self.expect = Expect::Exactly(status);
        self
    }

    /// How long one request may take, connecting included.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Consecutive good answers that make the check healthy (at least 1).
    pub fn successes(mut self, n: u32) -> Self {
        self.successes = n.max(1);
        self
    }

    /// Consecutive bad answers that make the check unhealthy (at least 1).
    pub fn failures(mut self, n: u32) -> Self {
        self.failures = n.max(1);
        self
    }

    /// The URL checked.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// One request, judged: `Ok` for an expected status, else why not.
    async fn probe(&self) -> Result<(), String> {
        let answer = get(&self.url, self.timeout)
            .await
            .map_err(|e| format!("GET {}: {e}", self.url))?;
        let good = match self.expect {
            Expect::Success => (200..300).contains(&answer.status),
            Expect::Exactly(s) => answer.status == s,
        };
        if good {
            Ok(())
        } else {
            Err(format!(
                "GET {} answered {}, expected {}",
                self.url, answer.status, self.expect
            ))
        }
    }
}

#[async_trait]
impl Analysis for HttpCheck {
    fn name(&self) -> &str {
        &self.name
    }

    async fn run(&self) -> Verdict {
        let outcome = self.probe().await;
        let mut s = self.streaks.lock().unwrap_or_else(|e| e.into_inner());
        match &outcome {
            Ok(()) => {
                s.successes += 1;
                s.failures = 0;
                if s.successes >= self.successes {
                    s.state = State::Healthy;
                }
            }
            Err(_) => {
                s.failures += 1;
                s.successes = 0;
                if s.failures >= self.failures {
                    s.state = State::Unhealthy;
                }
            }
        }
        match (s.state, outcome) {
            (State::Healthy, _) => Verdict::Pass,
            (State::Unhealthy, Err(why)) => Verdict::Fail(format!(
                "{why} ({} failure{} in a row)",
                s.failures,
                if s.failures == 1 { "" } else { "s" }
            )),
            (State::Unhealthy, Ok(())) => Verdict::Fail(format!(
                "unhealthy: {} of {} successes in a row needed to recover",
                s.successes, self.successes
            )),
            (State::NotYetHealthy, Err(why)) => Verdict::Fail(format!("not healthy yet: {why}")),
            (State::NotYetHealthy, Ok(())) => Verdict::Fail(format!(
                "not healthy yet: {} of {} successes in a row",
                s.successes, self.successes
            )),
        }
    }
}
