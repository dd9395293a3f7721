//! The demo app's server, shared by `examples/demo_app.rs` and the
//! quickstart (which runs its replicas as `quickstart serve ...`).

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: demo_app --port N [--version V] [--fail-rate F] [--latency-ms MS]
  --port N         port to listen on, on 127.0.0.1 (0 picks a free one)
  --version V      version to report (env DEMO_VERSION; default v1)
  --fail-rate F    fraction of `GET /` answered 500, 0 to 1 (env DEMO_FAIL_RATE; default 0)
  --latency-ms MS  extra latency of `GET /` (env DEMO_LATENCY_MS; default 0)";

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The longest request head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// How long an idle keep-alive connection is kept.
const IDLE: Duration = Duration::from_secs(30);

/// What the command line and the environment asked for.
#[derive(Debug)]
struct Config {
    port: u16,
    version: String,
    fail_rate: f64,
    latency: Duration,
}

fn parse_config(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
    let mut port = None;
    let mut version = env("DEMO_VERSION");
    let mut fail_rate = env("DEMO_FAIL_RATE");
    let mut latency = env("DEMO_LATENCY_MS");
    let mut i = 0;
    while i < args.len() {
        let (flag, inline) = match args[i].split_once('=') {
            Some((f, v)) => (f, Some(v.to_owned())),
            None => (args[i].as_str(), None),
        };
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                args.get(i)
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))?
            }
        };
        match flag {
            "--port" => port = Some(value),
            "--version" => version = Some(value),
            "--fail-rate" => fail_rate = Some(value),
            "--latency-ms" => latency = Some(value),
            _ => return Err(format!("unknown argument {flag:?}")),
        }
        i += 1;
    }
    let port = port
        .ok_or("--port is required")?
        .parse::<u16>()
        .map_err(|e| format!("--port: {e}"))?;
    let fail_rate = match fail_rate {
        Some(f) => f
            .parse::<f64>()
            .ok()
            .filter(|f| (0.0..=1.0).contains(f))
            .ok_or_else(|| format!("--fail-rate {f:?} is not a number from 0 to 1"))?,
        None => 0.0,
    };
    let latency = match latency {
        Some(ms) => Duration::from_millis(
            ms.parse()
                .map_err(|_| format!("--latency-ms {ms:?} is not a whole number"))?,
        ),
        None => Duration::ZERO,
    };
    Ok(Config {
        port,
        version: version
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "v1".into()),
        fail_rate,
        latency,
    })
}

/// Latencies of application requests.
#[derive(Debug, Default)]
struct Histogram {
    /// Per bucket of [`BUCKETS`], not cumulative; the last counts the rest.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
}

/// The app: its configuration and what it counted.
#[derive(Debug)]
struct App {
    config: Config,
    /// `GET /` requests so far, which decides the failing ones.
    hits: AtomicU64,
    /// Application requests by status code.
    requests: Mutex<BTreeMap<u16, u64>>,
    latency: Mutex<Histogram>,
}

/// A response to send.
struct Response {
    status: u16,
    content_type: &'static str,
    body: String,
}

impl Response {
    fn text(status: u16, body: impl Into<String>) -> Self {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        _ => "",
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl App {
    fn new(config: Config) -> Self {
        App {
            config,
            hits: AtomicU64::new(0),
            // Present from the start, so a rate over them has data at once.
            requests: Mutex::new(BTreeMap::from([(200, 0), (500, 0)])),
            latency: Mutex::new(Histogram::default()),
        }
    }

    /// Whether the `n`-th `GET /` (from 1) fails: exactly `fail_rate` of
    /// them do, spread evenly.
    fn fails(&self, n: u64) -> bool {
        let r = self.config.fail_rate;
        (n as f64 * r).floor() > ((n - 1) as f64 * r).floor()
    }

    fn route(&self, method: &str, path: &str) -> Response {
        if method != "GET" && method != "HEAD" {
            return Response::text(405, "only GET and HEAD\n");
        }
        match path {
            "/health" => Response::text(200, "ok\n"),
            "/metrics" => Response {
                status: 200,
                content_type: "text/plain; version=0.0.4; charset=utf-8",
                body: self.metrics(),
            },
            _ => {
                let started = Instant::now();
                let response = self.serve(path);
                self.count(response.status, started.elapsed());
                response
            }
        }
    }

    /// The application's own routes, counted in the metrics.
    fn serve(&self, path: &str) -> Response {
        let version = &self.config.version;
        match path {
            "/version" => Response::text(200, format!("{version}\n")),
            "/" => {
                if !self.config.latency.is_zero() {
                    std::thread::sleep(self.config.latency);
                }
                let n = self.hits.fetch_add(1, Ordering::Relaxed) + 1;
                if self.fails(n) {
                    Response::text(500, format!("{version} failed this request on purpose\n"))
                } else {
                    Response::text(200, format!("hello from {version}\n"))
                }
            }
            _ => Response::text(404, "not found\n"),
        }
    }

    fn count(&self, status: u16, took: Duration) {
        *lock(&self.requests).entry(status).or_insert(0) += 1;
        let secs = took.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(BUCKETS.len());
        let mut h = lock(&self.latency);
        h.counts[bucket] += 1;
        h.sum += secs;
    }

    fn metrics(&self) -> String {
        use std::fmt::Write;
        let v = &self.config.version;
        let mut out = String::new();
        out.push_str("# HELP demo_requests_total Application requests by status code.\n");
        out.push_str("# TYPE demo_requests_total counter\n");
        for (code, n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "demo_requests_total{{version=\"{v}\",code=\"{code}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP demo_request_duration_seconds Latency of application requests.\n\
             # TYPE demo_request_duration_seconds histogram\n",
        );
        let h = lock(&self.latency);
        let mut cumulative = 0;
        for (i, le) in BUCKETS.iter().enumerate() {
            cumulative += h.counts[i];
            let _ = writeln!(
                out,
                "demo_request_duration_seconds_bucket{{version=\"{v}\",le=\"{le}\"}} {cumulative}"
            );
        }
        cumulative += h.counts[BUCKETS.len()];
        let _ = writeln!(
            out,
            "demo_request_duration_seconds_bucket{{version=\"{v}\",le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(
            out,
            "demo_request_duration_seconds_sum{{version=\"{v}\"}} {}",
            h.sum
        );
        let _ = writeln!(
            out,
            "demo_request_duration_seconds_count{{version=\"{v}\"}} {cumulative}"
        );
        out.push_str("# HELP demo_up Whether the app is up.\n# TYPE demo_up gauge\n");
        let _ = writeln!(out, "demo_up{{version=\"{v}\"}} 1");
        out
    }
}

/// One request's head.
struct Head {
    method: String,
    path: String,
    keep_alive: bool,
    body_len: u64,
}

/// Reads a request head; `Ok(None)` when the client closed the connection.
fn read_head(reader: &mut impl BufRead) -> Result<Option<Head>, u16> {
    let mut lines = Vec::new();
    let mut total = 0;
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).map_err(|_| 400u16)?;
        if n == 0 {
            return if lines.is_empty() { Ok(None) } else { Err(400) };
        }
        total += n;
        if total > MAX_HEAD {
            return Err(431);
        }
        let line = line.trim_end().to_owned();
        if line.is_empty() {
            if lines.is_empty() {
                // Stray blank lines between requests are allowed.
                continue;
            }
            break;
        }
        lines.push(line);
    }
    let mut parts = lines[0].split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(400);
    };
    let mut keep_alive = version == "HTTP/1.1";
    let mut body_len = 0;
    for header in &lines[1..] {
        let Some((name, value)) = header.split_once(':') else {
            return Err(400);
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            if value.contains("close") {
                keep_alive = false;
            } else if value.contains("keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            body_len = value.parse().map_err(|_| 400u16)?;
        }
    }
    Ok(Some(Head {
        method: method.to_owned(),
        path: target.split('?').next().unwrap_or(target).to_owned(),
        keep_alive,
        body_len,
    }))
}

fn write_response(
    out: &mut impl Write,
    response: &Response,
    head_only: bool,
    keep_alive: bool,
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len(),
        if keep_alive { "keep-alive" } else { "close" },
    );
    out.write_all(head.as_bytes())?;
    if !head_only {
        out.write_all(response.body.as_bytes())?;
    }
    out.flush()
}

fn handle(stream: TcpStream, app: &App) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let head = match read_head(&mut reader) {
            Ok(Some(head)) => head,
            Ok(None) => return Ok(()),
            Err(status) => {
                let response = Response::text(status, "bad request\n");
                return write_response(&mut writer, &response, false, false);
            }
        };
        // A body is not used, but must be read past to reach the next request.
        io::copy(&mut (&mut reader).take(head.body_len), &mut io::sink())?;
        let response = app.route(&head.method, &head.path);
        write_response(
            &mut writer,
            &response,
            head.method == "HEAD",
            head.keep_alive,
        )?;
        if !head.keep_alive {
            return Ok(());
        }
    }
}

/// Runs the server with command-line `args` (without the program name)
/// until it is killed.
pub fn run(args: &[String]) -> ExitCode {
    let config = match parse_config(args, |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("demo_app: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, config.port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("demo_app: cannot listen on 127.0.0.1:{}: {e}", config.port);
            return ExitCode::FAILURE;
        }
    };
    let port = listener.local_addr().map_or(config.port, |a| a.port());
    println!(
        "demo_app {} listening on http://127.0.0.1:{port} (fail rate {}, latency {:?})",
        config.version, config.fail_rate, config.latency
    );
    let _ = io::stdout().flush();
    let app = Arc::new(App::new(config));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let app = Arc::clone(&app);
        // A thread per connection: plenty for a demo.
        std::thread::spawn(move || {
            let _ = handle(stream, &app);
        });
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Result<Config, String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        parse_config(&args, |k| {
            (k == "DEMO_VERSION").then(|| "from-env".to_string())
        })
    }

    #[test]
    fn flags_win_over_the_environment() {
        let c = config(&["--port", "8080", "--fail-rate=0.25"]).unwrap();
        assert_eq!(
            (c.port, c.version.as_str(), c.fail_rate),
            (8080, "from-env", 0.25)
        );
        let c = config(&["--port=1", "--version", "v2", "--latency-ms", "5"]).unwrap();
        assert_eq!(
            (c.version.as_str(), c.latency),
            ("v2", Duration::from_millis(5))
        );
        assert!(config(&[]).unwrap_err().contains("--port"));
        assert!(config(&["--port", "1", "--fail-rate", "2"]).is_err());
        assert!(config(&["--port", "1", "--bogus", "x"]).is_err());
    }

    #[test]
    fn exactly_the_fail_rate_fails() {
        let app = App::new(config(&["--port", "1", "--fail-rate", "0.2"]).unwrap());
        let failed: Vec<u64> = (1..=20).filter(|n| app.fails(*n)).collect();
        assert_eq!(failed, [5, 10, 15, 20]);
        let app = App::new(config(&["--port", "1"]).unwrap());
        assert!(!(1..=100).any(|n| app.fails(n)));
    }

    #[test]
    fn routes_and_metrics() {
        let app = App::new(config(&["--port", "1", "--fail-rate", "0.5"]).unwrap());
        assert_eq!(app.route("GET", "/health").body, "ok\n");
        assert_eq!(app.route("GET", "/version").body, "from-env\n");
        assert_eq!(app.route("GET", "/").status, 200);
        assert_eq!(app.route("GET", "/").status, 500);
        assert_eq!(app.route("GET", "/nope").status, 404);
        assert_eq!(app.route("POST", "/").status, 405);
        let m = app.route("GET", "/metrics").body;
        assert!(
            m.contains("demo_requests_total{version=\"from-env\",code=\"200\"} 2"),
            "{m}"
        );
        assert!(
            m.contains("demo_requests_total{version=\"from-env\",code=\"500\"} 1"),
            "{m}"
        );
        assert!(
            m.contains("demo_request_duration_seconds_bucket{version=\"from-env\",le=\"+Inf\"} 4"),
            "{m}"
        );
        assert!(
            m.contains("demo_request_duration_seconds_count{version=\"from-env\"} 4"),
            "{m}"
        );
        assert!(m.contains("demo_up{version=\"from-env\"} 1"), "{m}");
    }

    #[test]
    fn heads_are_parsed_with_keep_alive_rules() {
        let mut r = io::Cursor::new(
            "GET /?x=1 HTTP/1.1\r\nHost: a\r\n\r\nGET /h HTTP/1.0\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n",
        );
        let h = read_head(&mut r).unwrap().unwrap();
        assert_eq!(
            (h.method.as_str(), h.path.as_str(), h.keep_alive),
            ("GET", "/", true)
        );
        assert!(!read_head(&mut r).unwrap().unwrap().keep_alive);
        assert!(!read_head(&mut r).unwrap().unwrap().keep_alive);
        assert!(read_head(&mut r).unwrap().is_none());
        assert_eq!(
            read_head(&mut io::Cursor::new("nonsense\r\n\r\n")).err(),
            Some(400)
        );
    }
}
