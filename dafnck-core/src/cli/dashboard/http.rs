//! The dashboard's HTTP: just enough HTTP/1.1 for a read-only page on
//! this machine. One request per connection (`Connection: close`), `GET`
//! and `HEAD` only, a bounded request head, and a check of the `Host`
//! header on a loopback address, so a web page elsewhere cannot read the
//! dashboard through a DNS name rebound to 127.0.0.1.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The largest request head read.
const MAX_HEAD: usize = 16 * 1024;

/// A request: its path (without the query) and its query's pairs.
#[derive(Debug, Default)]
pub(super) struct Request {
    /// `/api/stack`.
    pub path: String,
    /// `name=dev` → ("name", "dev"), percent-decoded.
    pub query: Vec<(String, String)>,
}

impl Request {
    /// The query's value of `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// An answer: its status, content type and body.
pub(super) struct Response {
    /// 200, 404, ...
    pub status: u16,
    /// `text/html; charset=utf-8`, ...
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON document.
    pub fn json(value: &serde_json::Value) -> Response {
        Response {
            status: 200,
            content_type: "application/json",
            body: value.to_string().into_bytes(),
        }
    }

    /// A plain-text error.
    pub fn error(status: u16, text: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: text.as_bytes().to_vec(),
        }
    }
}

/// Serves `listener` forever, answering each request with `handle`.
pub(super) async fn serve<H, Fut>(listener: TcpListener, handle: H)
where
    H: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send,
{
    let handle = Arc::new(handle);
    let local = listener.local_addr().ok();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let _ =
                tokio::time::timeout(Duration::from_secs(30), connection(stream, local, &*handle))
                    .await;
        });
    }
}

async fn connection<H, Fut>(
    mut stream: TcpStream,
    local: Option<SocketAddr>,
    handle: &H,
) -> std::io::Result<()>
where
    H: Fn(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_HEAD {
            return write(
                &mut stream,
                Response::error(431, "request head too large"),
                false,
            )
            .await;
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (method, target) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    let host = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.trim().to_owned());
    let response = if method != "GET" && method != "HEAD" {
        Response::error(405, "the dashboard is read-only: GET only")
    } else if !host_allowed(host.as_deref(), local) {
        Response::error(
            421,
            "unexpected Host header for a dashboard on a loopback address",
        )
    } else {
        handle(parse_target(target)).await
    };
    write(&mut stream, response, method == "HEAD").await
}

/// On a loopback address, only `localhost`/loopback hosts (with any
/// port) are answered; on another address, any.
fn host_allowed(host: Option<&str>, local: Option<SocketAddr>) -> bool {
    if !local.is_some_and(|a| a.ip().is_loopback()) {
        return true;
    }
    let Some(host) = host else { return false };
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(n, _)| n),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn parse_target(target: &str) -> Request {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Request {
        path: decode(path),
        query: query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect(),
    }
}

/// Percent-decoding (and `+` as a space).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn write(stream: &mut TcpStream, r: Response, head_only: bool) -> std::io::Result<()> {
    let reason = match r.status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        421 => "Misdirected Request",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nContent-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'\r\nConnection: close\r\n\r\n",
        r.status,
        r.content_type,
        r.body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    if !head_only {
        stream.write_all(&r.body).await?;
    }
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_decode_and_hosts_are_checked_on_loopback() {
        let r = parse_target("/api/diff?stack=my%20stack&from=2&to=3+x&bad=%zz");
        assert_eq!(r.path, "/api/diff");
        assert_eq!(r.param("stack"), Some("my stack"));
        assert_eq!(r.param("to"), Some("3 x"));
        assert_eq!(r.param("bad"), Some("%zz"));
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert!(host_allowed(Some("127.0.0.1:8080"), Some(lo)));
        assert!(host_allowed(Some("localhost:8080"), Some(lo)));
        assert!(host_allowed(Some("[::1]:8080"), Some(lo)));
        assert!(!host_allowed(Some("evil.example:8080"), Some(lo)));
        assert!(!host_allowed(None, Some(lo)));
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(host_allowed(Some("dash.internal"), Some(any)));
    }
}
