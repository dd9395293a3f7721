//! What the real-server tests share: the skip-or-require rule for servers,
//! tiny HTTP backends on 127.0.0.1, a plain HTTP/1.1 client that can keep
//! its connection alive, and an nginx instance of a test's own.

#![allow(dead_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The value of `var`, set by a `scripts/servers/*.sh start`; `None` (the
/// test is skipped, and says so) when unset, unless
/// `DAFNCK_REQUIRE_SERVERS=1`, when the test fails.
pub fn server_env(test: &str, var: &str, script: &str) -> Option<String> {
    if let Ok(v) = std::env::var(var) {
        if !v.is_empty() {
            return Some(v);
        }
    }
    let why = format!(
        "{var} is not set (eval \"$(scripts/servers/{script} start)\", or scripts/test.sh)"
    );
    if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
        panic!("{test}: {why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
    }
    // Straight to standard error, past the harness's capture.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
    None
}

/// What a backend answers for a path: status and body.
pub type Handler = Arc<dyn Fn(&str) -> (u16, String) + Send + Sync>;

/// A tiny HTTP/1.1 server on 127.0.0.1 (keep-alive aware), stopped when
/// dropped. Counts the requests it answered.
pub struct Backend {
    pub addr: SocketAddr,
    served: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Backend {
    /// Answers every path with 200 and `body`.
    pub async fn fixed(body: &str) -> Backend {
        let body = body.to_string();
        Backend::start(Arc::new(move |_| (200, body.clone()))).await
    }

    pub async fn start(handler: Handler) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&served);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let handler = Arc::clone(&handler);
                let counter = Arc::clone(&counter);
                tokio::spawn(serve(stream, handler, counter));
            }
        });
        Backend { addr, served, task }
    }

    /// `host:port`.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, handler: Handler, served: Arc<AtomicU64>) {
    let mut buf = Vec::new();
    loop {
        // Requests here are GETs without bodies: a head ends the request.
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        buf.drain(..end);
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        let close = head.to_ascii_lowercase().contains("connection: close");
        let (status, body) = handler(&path);
        let answer = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n{}\r\n{body}",
            body.len(),
            if close { "connection: close\r\n" } else { "" }
        );
        if stream.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
        served.fetch_add(1, Ordering::Relaxed);
        if close {
            return;
        }
    }
}

/// A port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A server that accepts connections and never answers.
pub async fn silent_server() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    (addr, task)
}

/// How a request through a client went.
#[derive(Debug)]
pub enum Outcome {
    /// A status and body.
    Answered(u16, String),
    /// The connection closed before any response (a keep-alive connection
    /// nginx closed).
    ClosedBeforeResponse(String),
    /// Anything else (refused, reset mid-response, ...).
    Failed(String),
}

/// An HTTP/1.1 client on one connection at a time to `addr`: with
/// `keep_alive` it reuses its connection for the next request, otherwise
/// each request has its own (`Connection: close`).
pub struct Client {
    addr: SocketAddr,
    keep_alive: bool,
    sender: Option<hyper::client::conn::http1::SendRequest<Empty<Bytes>>>,
    /// Idle connections found closed before a request was sent on them.
    pub stale_noticed: u64,
}

impl Client {
    pub fn new(addr: SocketAddr, keep_alive: bool) -> Client {
        Client {
            addr,
            keep_alive,
            sender: None,
            stale_noticed: 0,
        }
    }

    async fn connect(
        &self,
    ) -> Result<hyper::client::conn::http1::SendRequest<Empty<Bytes>>, String> {
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(|e| e.to_string())?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        Ok(sender)
    }

    /// One GET, no retry.
    pub async fn get(&mut self, path: &str) -> Outcome {
        if let Some(s) = &mut self.sender {
            // A connection the server closed while idle is noticed here,
            // before anything is sent on it: not a lost request.
            if s.ready().await.is_err() {
                self.stale_noticed += 1;
                self.sender = None;
            }
        }
        let reused = self.sender.is_some();
        if !reused {
            match self.connect().await {
                Ok(s) => self.sender = Some(s),
                Err(e) => return Outcome::Failed(format!("connect: {e}")),
            }
        }
        let sender = self.sender.as_mut().unwrap();
        let mut req = Request::get(path).header("host", "test");
        if !self.keep_alive {
            req = req.header("connection", "close");
        }
        let req = req.body(Empty::new()).unwrap();
        let outcome = match sender.send_request(req).await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match resp.into_body().collect().await {
                    Ok(b) => {
                        Outcome::Answered(status, String::from_utf8_lossy(&b.to_bytes()).into())
                    }
                    Err(e) => Outcome::Failed(format!("reading the body: {e}")),
                }
            }
            // The response future fails before any response head arrived.
            // On a reused connection that is the server having closed it
            // (a clean close, or a reset when the request raced the close).
            Err(e) if reused => Outcome::ClosedBeforeResponse(describe(&e)),
            Err(e) => Outcome::Failed(describe(&e)),
        };
        if !self.keep_alive || !matches!(outcome, Outcome::Answered(..)) {
            self.sender = None;
        }
        outcome
    }

    /// One GET retried once on a new connection when the old one closed
    /// before any response, as browsers and HTTP client libraries do for
    /// idempotent requests. Returns the outcome and whether it retried.
    pub async fn get_retrying(&mut self, path: &str) -> (Outcome, bool) {
        match self.get(path).await {
            Outcome::ClosedBeforeResponse(_) => (self.get(path).await, true),
            other => (other, false),
        }
    }
}

/// An error with its causes: "connection error: Connection reset by peer".
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Whether this process runs as root (nginx then needs a `user` it can
/// run its workers as).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// An nginx of a test's own: a temp prefix, one worker, a loopback port,
/// proxying `/` to upstream `app` from `upstream.conf`. Stopped when
/// dropped.
pub struct Nginx {
    pub bin: PathBuf,
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
}

impl Nginx {
    /// Starts nginx with `upstream` as the first content of `upstream.conf`.
    pub async fn start(bin: &str, upstream: &str) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        let port = closed_port();
        let user = if is_root() { "user root root;" } else { "" };
        let conf = format!(
            "{user}
daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log notice;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp/client_body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    include {d}/upstream.conf;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }}
    }}
}}
"
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        std::fs::write(dir.path().join("upstream.conf"), upstream).unwrap();
        let child = std::process::Command::new(bin)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
        let nginx = Nginx {
            bin: bin.into(),
            dir,
            port,
            child,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(nginx.addr()).await.is_err() || !nginx.pid_file().exists() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "nginx did not listen on {} within 20 s; error log:\n{}",
                nginx.addr(),
                nginx.error_log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        nginx
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn config(&self) -> PathBuf {
        self.path("nginx.conf")
    }

    pub fn upstream_file(&self) -> PathBuf {
        self.path("upstream.conf")
    }

    pub fn pid_file(&self) -> PathBuf {
        self.path("nginx.pid")
    }

    pub fn prefix(&self) -> &Path {
        self.dir.path()
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.path("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // `-s stop` lets the master take its workers down; killing the
        // master alone would leave them serving the port.
        let _ = std::process::Command::new(&self.bin)
            .arg("-p")
            .arg(self.dir.path())
            .arg("-c")
            .arg(self.config())
            .args(["-s", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
