//! Throttling, access denied and a lagging listener, from a proxy in front of moto.

use crate::world::*;

// ------------------- throttling, access denied, a listener that lags

/// What the proxy answers a request for an ELBv2 action with, instead of
/// passing it to moto: a status and a body.
type Inject = Box<dyn Fn(&str) -> Option<(u16, String)> + Send + Sync>;

/// A proxy in front of moto: every request is read, shown to `inject` by
/// its action (`DescribeListeners`), and answered by it or passed through
/// to moto. moto closes its connection after every answer, and so does the
/// proxy.
struct Proxy {
    url: String,
    injected: Arc<AtomicU32>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    async fn start(moto: &str, inject: Inject) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = moto.trim_start_matches("http://").to_string();
        let inject = Arc::new(inject);
        let injected = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&injected);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                let (upstream, inject, counter) =
                    (upstream.clone(), Arc::clone(&inject), Arc::clone(&counter));
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut conn).await else {
                        return;
                    };
                    let text = String::from_utf8_lossy(&request);
                    let action = text
                        .split(['&', '\n'])
                        .find_map(|p| p.trim().strip_prefix("Action="))
                        .unwrap_or_default()
                        .to_string();
                    match inject(&action) {
                        Some((status, body)) => {
                            counter.fetch_add(1, Ordering::SeqCst);
                            let response = format!(
                                "HTTP/1.1 {status} Injected\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                body.len()
                            );
                            let _ = conn.write_all(response.as_bytes()).await;
                        }
                        None => {
                            let Ok(mut up) = TcpStream::connect(&upstream).await else {
                                return;
                            };
                            let _ = up.write_all(&request).await;
                            let _ = tokio::io::copy(&mut up, &mut conn).await;
                        }
                    }
                    let _ = conn.shutdown().await;
                });
            }
        });
        Proxy {
            url,
            injected,
            task,
        }
    }

    /// How many answers the proxy made up.
    fn injected(&self) -> u32 {
        self.injected.load(Ordering::SeqCst)
    }

    /// An SDK configuration pointed at the proxy.
    async fn config(&self) -> SdkConfig {
        sdk_config(&self.url).await
    }
}

/// AWS's answer for the error `code` (the Query protocol's wrapped XML).
fn aws_error(status: u16, code: &str) -> Option<(u16, String)> {
    Some((
        status,
        format!(
            "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\">\
             <Error><Type>Sender</Type><Code>{code}</Code><Message>injected by the test</Message></Error>\
             <RequestId>0</RequestId></ErrorResponse>"
        ),
    ))
}

/// Answers the first `n` requests (any action) with the error `code`.
fn first_n(n: u32, status: u16, code: &'static str) -> Inject {
    let left = AtomicU32::new(n);
    Box::new(move |_| {
        left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| l.checked_sub(1))
            .ok()
            .and_then(|_| aws_error(status, code))
    })
}

/// Reads one HTTP request (headers and a `Content-Length` body); `None`
/// when the connection closes first.
async fn read_request(conn: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())
                        .flatten()
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return Some(buf);
            }
        }
    }
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_until_it_passes_or_attempts_run_out() {
    let test = "throttling_is_retried_with_backoff_until_it_passes_or_attempts_run_out";
    let Some(alb) = alb(test).await else {
        return;
    };
    let proxy = Proxy::start(&alb.url, first_n(2, 400, "Throttling")).await;
    let router =
        AlbRouter::with_config(&proxy.config().await, &alb.listener, &alb.stable, &alb.new)
            .retry(3, Duration::from_millis(100))
            .confirm(Duration::from_secs(5), Duration::from_millis(50));
    let started = std::time::Instant::now();
    router.set_weights(Weights::to_new(20)).await.unwrap();
    assert_eq!(proxy.injected(), 2, "both throttled answers were given");
    // 100 ms then 200 ms of backoff.
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(alb.weights().await, (80, 20));

    let proxy = Proxy::start(&alb.url, first_n(3, 400, "Throttling")).await;
    let router =
        AlbRouter::with_config(&proxy.config().await, &alb.listener, &alb.stable, &alb.new)
            .retry(3, Duration::from_millis(10));
    let err = router.apply(Weights::to_new(50)).await.unwrap_err();
    assert!(
        matches!(
            &err,
            AlbError::Throttled {
                call: "DescribeListeners",
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&alb.listener) && text.contains("Throttling"),
        "{text}"
    );
    assert_eq!(proxy.injected(), 3);
    assert_eq!(alb.weights().await, (80, 20), "nothing was changed");
}

#[tokio::test]
async fn access_denied_is_reported_at_once_with_the_permissions_needed() {
    let test = "access_denied_is_reported_at_once_with_the_permissions_needed";
    let Some(alb) = alb(test).await else {
        return;
    };
    // Allowed to read the listener, not to change it.
    let proxy = Proxy::start(
        &alb.url,
        Box::new(|action| {
            (action == "ModifyListener")
                .then(|| aws_error(403, "AccessDenied"))
                .flatten()
        }),
    )
    .await;
    let router =
        AlbRouter::with_config(&proxy.config().await, &alb.listener, &alb.stable, &alb.new)
            .retry(5, Duration::from_millis(10));
    let err = router.apply(Weights::to_new(20)).await.unwrap_err();
    assert!(
        matches!(
            &err,
            AlbError::AccessDenied {
                call: "ModifyListener",
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains(&alb.listener), "{text}");
    assert!(
        text.contains("elasticloadbalancing:ModifyListener"),
        "{text}"
    );
    assert_eq!(proxy.injected(), 1, "access denied is not retried");
    assert_eq!(alb.weights().await, (1, 0), "nothing was changed");
}

#[tokio::test]
async fn set_weights_does_not_return_before_the_listener_shows_the_weights() {
    let test = "set_weights_does_not_return_before_the_listener_shows_the_weights";
    let Some(alb) = alb(test).await else {
        return;
    };
    // ModifyListener "succeeds" without reaching moto: the listener never
    // shows the new weights.
    let proxy = Proxy::start(
        &alb.url,
        Box::new(|action| {
            (action == "ModifyListener").then(|| {
                (
                    200,
                    "<ModifyListenerResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\">\
                     <ModifyListenerResult><Listeners/></ModifyListenerResult>\
                     <ResponseMetadata><RequestId>0</RequestId></ResponseMetadata></ModifyListenerResponse>"
                        .to_string(),
                )
            })
        }),
    )
    .await;
    let router =
        AlbRouter::with_config(&proxy.config().await, &alb.listener, &alb.stable, &alb.new)
            .confirm(Duration::from_millis(500), Duration::from_millis(50));
    let started = std::time::Instant::now();
    let err = router.apply(Weights::to_new(20)).await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert!(
        matches!(&err, AlbError::NotConfirmed { listener, .. } if *listener == alb.listener),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("{} weight 20", alb.new))
            && text.contains(&format!("{} weight 1", alb.stable)),
        "{text}"
    );
    assert_eq!(proxy.injected(), 1);
}
