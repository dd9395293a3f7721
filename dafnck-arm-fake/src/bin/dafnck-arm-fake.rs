//! Runs the fake Azure Resource Manager until SIGTERM or Ctrl-C.
//!
//! ```text
//! dafnck-arm-fake [--port PORT] [--verbose]
//! ```
//!
//! It listens on 127.0.0.1 (a free port unless `--port`) and prints its
//! URL on the first line of standard output.

use std::process::ExitCode;

fn main() -> ExitCode {
    let (mut port, mut verbose) = (0u16, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => match args.next().map(|v| v.parse()) {
                Some(Ok(p)) => port = p,
                _ => {
                    eprintln!("dafnck-arm-fake: --port needs a port number");
                    return ExitCode::from(2);
                }
            },
            "--verbose" => verbose = true,
            "-h" | "--help" => {
                println!("usage: dafnck-arm-fake [--port PORT] [--verbose]");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("dafnck-arm-fake: unknown argument {other:?}");
                return ExitCode::from(2);
            }
        }
    }
    let server = match dafnck_arm_fake::spawn_on(&format!("127.0.0.1:{port}"), verbose) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dafnck-arm-fake: cannot start on port {port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", server.url());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dafnck-arm-fake: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
        }
    });
    drop(server);
    ExitCode::SUCCESS
}
