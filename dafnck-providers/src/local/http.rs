//! A minimal HTTP/1.1 GET client for health checks of services on
//! 127.0.0.1: enough to read a status line and a small body, with no HTTP
//! crate.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The most body a response may carry; health checks answer in bytes.
const MAX_BODY: u64 = 1 << 20;

/// An HTTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code (`200`).
    pub status: u16,
    /// The body, decoded as UTF-8 (lossily), chunked encoding removed.
    pub body: String,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Sends `GET <path>` to `127.0.0.1:<port>` and reads the response, all
/// within `timeout`.
///
/// # Errors
/// When nothing listens on the port, the exchange takes longer than
/// `timeout`, or the answer is not HTTP.
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// use std::time::Duration;
/// let r = dafnck_providers::local::http::get(8080, "/health", Duration::from_secs(1)).await?;
/// assert!(r.is_success());
/// # Ok(()) }
/// ```
pub async fn get(port: u16, path: &str, timeout: Duration) -> io::Result<Response> {
    match tokio::time::timeout(timeout, exchange(port, path)).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no answer within {timeout:?}"),
        )),
    }
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

async fn exchange(port: u16, path: &str) -> io::Result<Response> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect(addr).await?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut reader = BufReader::new(stream);

    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let status = parse_status(&line)?;
    let mut length: Option<u64> = None;
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Err(invalid("the connection closed inside the response head"));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse().map_err(|_| invalid("bad Content-Length"))?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            }
        }
    }

    let mut body = Vec::new();
    if chunked {
        read_chunked(&mut reader, &mut body).await?;
    } else {
        let limit = length.unwrap_or(MAX_BODY).min(MAX_BODY);
        (&mut reader).take(limit).read_to_end(&mut body).await?;
    }
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn parse_status(line: &str) -> io::Result<u16> {
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(version), Some(code)) if version.starts_with("HTTP/") => code
            .parse()
            .map_err(|_| invalid(format!("bad status line {:?}", line.trim_end()))),
        _ => Err(invalid(format!(
            "not an HTTP response: {:?}",
            line.trim_end()
        ))),
    }
}

async fn read_chunked<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
    body: &mut Vec<u8>,
) -> io::Result<()> {
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await?;
        let size = line.trim().split(';').next().unwrap_or_default();
        let size = u64::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            return Ok(());
        }
        if body.len() as u64 + size > MAX_BODY {
            return Err(invalid("the body is too large for a health check"));
        }
        let start = body.len();
        body.resize(start + size as usize, 0);
        reader.read_exact(&mut body[start..]).await?;
        line.clear();
        reader.read_line(&mut line).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    async fn serve_once(answer: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            s.write_all(answer.as_bytes()).await.unwrap();
        });
        port
    }

    #[tokio::test]
    async fn reads_status_and_body() {
        let port = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA").await;
        let r = get(port, "/health", Duration::from_secs(2)).await.unwrap();
        assert_eq!(
            r,
            Response {
                status: 200,
                body: "ok".into()
            }
        );
        assert!(r.is_success());
    }

    #[tokio::test]
    async fn decodes_chunked_bodies() {
        let port = serve_once(
            "HTTP/1.1 503 Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nnot \r\n5\r\nready\r\n0\r\n\r\n",
        )
        .await;
        let r = get(port, "/", Duration::from_secs(2)).await.unwrap();
        assert_eq!(r.status, 503);
        assert_eq!(r.body, "not ready");
        assert!(!r.is_success());
    }

    #[tokio::test]
    async fn refuses_what_is_not_http_and_times_out() {
        let port = serve_once("SSH-2.0-OpenSSH\r\n").await;
        let e = get(port, "/", Duration::from_secs(2)).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);

        let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = silent.local_addr().unwrap().port();
        let e = get(port, "/", Duration::from_millis(100))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }
}
