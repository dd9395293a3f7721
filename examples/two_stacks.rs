//! Two stacks, as teams split them: a `network` stack exports what it
//! made, an `app` stack reads those exports through a stack reference and
//! builds on them — on this machine, with the local provider, no cloud.
//!
//! ```text
//! export DAFNCK_PASSPHRASE=...                 # seals the secrets in both states
//! echo tok-123 | cargo run --example two_stacks -- --stack network config set api_token --secret
//! cargo run --example two_stacks -- --stack network up --yes
//! cargo run --example two_stacks -- --stack app up --yes
//! cargo run --example two_stacks -- --stack app outputs --json   # the computed URLs
//! cargo run --example two_stacks -- --stack network up --yes --config port=9090
//! cargo run --example two_stacks -- --stack app preview          # the dependent updates
//!
//! # The network's state in PostgreSQL (or S3), the app's in files:
//! cargo run --example two_stacks --features postgres -- --stack network --state postgres://me@db/infra up --yes
//! cargo run --example two_stacks --features postgres -- --stack app up --yes --config network_state=postgres://me@db/infra
//! ```
//!
//! - `network` (config `port`, default 8080, and the secret `api_token`):
//!   a directory with a `hosts` file; exports the directory, the hosts
//!   file's path, the port, and the token (secret).
//! - `app`: a stack reference to `network` (in the app's store, or in the
//!   store config `network_state` names by URL); a data source reading the
//!   hosts file the network stack owns (its path taken from an export); a
//!   `site` component used twice (`blue`, `green`), each an index page
//!   holding its computed URL and an env file holding the secret token;
//!   exports each site's computed URL.

use dafnck::core::interpolate;
use dafnck::core::prelude::*;
use dafnck::providers::local::{Directory, File, FileContent};

/// The network stack.
fn network(stack: &mut Stack) -> dafnck::core::Result<()> {
    let port: u16 = stack.config_or("port", 8080)?;
    let token: Secret<String> = stack.secret_config("api_token")?;
    let dir = stack.add(
        "dir",
        Directory {
            path: "two-stacks/network".into(),
            mode: None,
        },
    );
    let hosts = stack.add_with(
        "hosts",
        File {
            path: "two-stacks/network/hosts".into(),
            content: format!("127.0.0.1 app.internal\nport {port}\n").into(),
            mode: None,
        },
        Options::new().depends_on(&dir),
    );
    stack.export("dir", dir.out().path);
    stack.export("hosts_path", hosts.out().path);
    stack.export("port", port);
    stack.export("api_token", token);
    Ok(())
}

/// What a site component is given.
struct SiteArgs {
    port: Input<u16>,
    api_token: Input<String>,
    hosts: Input<String>,
}

/// A site: its index page, which holds its own URL and the network's
/// hosts file, and an env file with the token. Returns its URL.
fn site(stack: &mut Stack, name: &str, args: SiteArgs) -> dafnck::core::Result<Input<String>> {
    let url = interpolate!("http://127.0.0.1:{}/{}/", args.port, name);
    stack.add(
        "index",
        File {
            path: format!("two-stacks/app/{name}/index.html").into(),
            content: interpolate!(
                "<a href=\"{}\">{}</a>\n<pre>{}</pre>\n",
                url.clone(),
                name,
                args.hosts
            ),
            mode: None,
        },
    );
    stack.add(
        "env",
        File {
            path: format!("two-stacks/app/{name}/site.env").into(),
            content: interpolate!("API_TOKEN={}\n", args.api_token),
            mode: Some(0o600),
        },
    );
    Ok(url)
}

/// The app stack.
fn app(stack: &mut Stack) -> dafnck::core::Result<()> {
    // The network stack's state: in this stack's store, or in the one
    // config `network_state` names (`postgres://...`, `s3://...`).
    let network = match stack.config("network_state").map(str::to_owned) {
        Some(url) => stack.reference_in("network", &url),
        None => stack.reference("network"),
    };
    let port: Input<u16> = network.output("port");
    let api_token: Input<String> = network.output("api_token");
    let hosts = stack.read(
        "hosts",
        FileContent {
            path: network.output("hosts_path"),
        },
    );
    for name in ["blue", "green"] {
        let args = SiteArgs {
            port: port.clone(),
            api_token: api_token.clone(),
            hosts: hosts.out().content,
        };
        let url = stack.component(name, |s| site(s, name, args))?;
        stack.export(&format!("{name}_url"), url);
    }
    Ok(())
}

/// One program for both stacks: `--stack network` or `--stack app`.
fn infra(stack: &mut Stack) -> dafnck::core::Result<()> {
    match stack.name() {
        "network" => network(stack),
        "app" => app(stack),
        other => Err(dafnck::core::Error::Usage(format!(
            "stack {other:?}: this program declares the stacks \"network\" and \"app\""
        ))),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    dafnck::cli::run(infra)
        .provider(dafnck::providers::local::Provider::default())
        .await
}
