//! A tiny HTTP service to deploy with dafnck: the app of the local
//! quickstart and of the deployment-strategy demos. It needs nothing but
//! std, listens on 127.0.0.1 only, and can be told to fail a fraction of
//! its requests or to answer slowly, so canary analysis has something to
//! catch.
//!
//! ```text
//! cargo build --example demo_app
//! target/debug/examples/demo_app --port 8080 [--version v2] [--fail-rate 0.2] [--latency-ms 5]
//! ```
//!
//! `DEMO_VERSION`, `DEMO_FAIL_RATE` and `DEMO_LATENCY_MS` set the same
//! things from the environment; flags win. Routes:
//!
//! - `GET /health`: 200 `ok`.
//! - `GET /version`: 200 with the version.
//! - `GET /`: 200 `hello from <version>`, or 500 for the configured
//!   fraction of requests, deterministically (with `0.2`, every fifth).
//! - `GET /metrics`: Prometheus text: `demo_requests_total{version,code}`,
//!   `demo_request_duration_seconds` (a histogram) and `demo_up 1`. Only
//!   application requests are counted, not health checks or scrapes.
//!
//! It speaks HTTP/1.1 with keep-alive (`Connection: close` honoured) and
//! exits at once on SIGTERM or Ctrl-C.

#[path = "support/demo_server.rs"]
mod demo_server;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    demo_server::run(&args)
}
