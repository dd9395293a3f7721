//! Runs the fake Kubernetes API server until SIGTERM or Ctrl-C.
//!
//! ```text
//! dafnck-kube-fake [--port PORT] [--tick-ms MS] [--kubeconfig PATH] [--verbose]
//! ```
//!
//! It listens on 127.0.0.1 (a free port unless `--port`), writes a
//! kubeconfig for itself to `--kubeconfig` when given, and prints its URL
//! on the first line of standard output.

use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut port, mut tick, mut kubeconfig, mut verbose) =
        (0u16, dafnck_kube_fake::DEFAULT_TICK, None, false);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let parsed: Result<(), String> = match a.as_str() {
            "--port" => value("--port").and_then(|v| {
                v.parse()
                    .map(|p| port = p)
                    .map_err(|e| format!("--port: {e}"))
            }),
            "--tick-ms" => value("--tick-ms").and_then(|v| {
                v.parse()
                    .map(|ms| tick = Duration::from_millis(ms))
                    .map_err(|e| format!("--tick-ms: {e}"))
            }),
            "--kubeconfig" => value("--kubeconfig").map(|v| kubeconfig = Some(v)),
            "--verbose" => {
                verbose = true;
                Ok(())
            }
            "-h" | "--help" => {
                println!("usage: dafnck-kube-fake [--port PORT] [--tick-ms MS] [--kubeconfig PATH] [--verbose]");
                return ExitCode::SUCCESS;
            }
            other => Err(format!("unknown argument {other:?}")),
        };
        if let Err(e) = parsed {
            eprintln!("dafnck-kube-fake: {e}");
            return ExitCode::from(2);
        }
    }
    let server = match dafnck_kube_fake::spawn_on(&format!("127.0.0.1:{port}"), tick, verbose) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dafnck-kube-fake: cannot start on port {port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = kubeconfig {
        if let Err(e) = server.write_kubeconfig(&path) {
            eprintln!("dafnck-kube-fake: cannot write the kubeconfig {path}: {e}");
            return ExitCode::FAILURE;
        }
    }
    println!("{}", server.url());
    if let Err(e) = dafnck_fake_server::wait_for_termination() {
        eprintln!("dafnck-kube-fake: {e}");
        return ExitCode::FAILURE;
    }
    drop(server);
    ExitCode::SUCCESS
}
