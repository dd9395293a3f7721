//! The quickstart: deploys a small web service on this machine, for real,
//! with no cloud account — its config and content files, and two replicas
//! of the demo HTTP app, each started detached and health-checked.
//!
//! ```text
//! cargo run --example quickstart -- up --yes
//! curl http://127.0.0.1:18080/version
//! cargo run --example quickstart -- preview --config version=v2   # an update: both replicas restart
//! cargo run --example quickstart -- up --yes --config version=v2
//! cargo run --example quickstart -- drift                          # after killing a replica: exit 2
//! cargo run --example quickstart -- up --yes                       # refreshes first, so it repairs it
//! cargo run --example quickstart -- destroy --yes
//! ```
//!
//! Configuration (`--config KEY=VALUE`, or `dafnck.<stack>.json`):
//! `version` (default `v1`), `base_port` (default 18080; replica i listens
//! on base_port + i), `replicas` (default 2), `greeting`.
//!
//! The replicas are this same binary run as `quickstart serve --port N
//! --version V`, so `cargo run --example quickstart` builds everything the
//! deployment needs.

#[path = "support/demo_server.rs"]
mod demo_server;

use std::process::ExitCode;

use dafnck::core::prelude::*;
use dafnck::core::Error;
use dafnck::providers::local::{Directory, File, Service};

fn config<T: std::str::FromStr>(stack: &Stack, key: &str, default: T) -> dafnck::core::Result<T> {
    match stack.config(key) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| Error::Usage(format!("config {key}={v:?} is not valid"))),
    }
}

fn infra(stack: &mut Stack) -> dafnck::core::Result<()> {
    let version: String = config(stack, "version", "v1".to_string())?;
    let base_port: u16 = config(stack, "base_port", 18080)?;
    let replicas: u16 = config(stack, "replicas", 2)?;
    let greeting: String = config(stack, "greeting", "hello".to_string())?;
    let me = std::env::current_exe()
        .map_err(|e| Error::Usage(format!("cannot find this program's own path: {e}")))?
        .display()
        .to_string();

    let site = stack.add(
        "site",
        Directory {
            path: "quickstart-site".into(),
            mode: None,
        },
    );
    let app_config = stack.add_with(
        "app-config",
        File {
            path: "quickstart-site/app.json".into(),
            content: format!("{{\"version\": {version:?}, \"greeting\": {greeting:?}}}\n").into(),
            mode: Some(0o644),
        },
        Options::new().depends_on(&site),
    );
    let index = stack.add_with(
        "index",
        File {
            path: "quickstart-site/index.html".into(),
            content: format!("<h1>{greeting} from {version}</h1>\n").into(),
            mode: Some(0o644),
        },
        Options::new().depends_on(&site),
    );
    for i in 0..replicas {
        let port = base_port + i;
        let web = stack.add_with(
            &format!("web-{i}"),
            Service {
                name: format!("quickstart-web-{i}"),
                command: me.clone(),
                args: vec![
                    "serve".into(),
                    "--port".into(),
                    port.to_string(),
                    "--version".into(),
                    version.clone(),
                ],
                port,
                health_path: Some("/health".into()),
                ..Default::default()
            },
            // Replicas start once their config and content are in place.
            Options::new().depends_on(&app_config).depends_on(&index),
        );
        stack.export(&format!("web_{i}_url"), web.out().url);
    }
    stack.export("site", site.out().path);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        return demo_server::run(&args[2..]);
    }
    dafnck::cli::run(infra)
        .provider(dafnck::providers::local::Provider::default())
        .await
}
