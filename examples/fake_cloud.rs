//! A program declaring a small network against the engine's fake cloud: no
//! account, no SDK. Its state lives in `.dafnck/` and the fake cloud's
//! objects in `.dafnck/fake-cloud/`, so runs build on each other.
//!
//! ```text
//! cargo run --example fake_cloud              # preview, apply, preview again
//! cargo run --example fake_cloud -- preview   # just the plan
//! cargo run --example fake_cloud -- drift     # what changed behind our back
//! cargo run --example fake_cloud -- destroy
//! DAFNCK_SIZE=large cargo run --example fake_cloud   # an update and a replacement
//! ```

use std::process::ExitCode;

use dafnck::core::engine::Engine;
use dafnck::core::state::FileStore;
use dafnck::core::testing::resources::{Instance, Network, Subnet};
use dafnck::core::testing::FakeCloud;
use dafnck::core::{Error, Options, Providers, Secret, Stack};

fn infra(stack: &mut Stack) -> dafnck::core::Result<()> {
    let large = stack.config("size") == Some("large");
    let net = stack.add(
        "main",
        Network {
            cidr: "10.0.0.0/16".into(),
            ..Default::default()
        },
    );
    let mut subnets = Vec::new();
    for (i, zone) in ["a", "b"].iter().enumerate() {
        subnets.push(
            stack.add(
                &format!("public-{zone}"),
                Subnet {
                    network_id: net.out().network_id,
                    // A larger first subnet forces its replacement (and its instance's).
                    cidr: if large && i == 0 {
                        "10.0.0.0/23"
                    } else {
                        ["10.0.1.0/24", "10.0.2.0/24"][i]
                    }
                    .into(),
                    ..Default::default()
                },
            ),
        );
    }
    for (i, subnet) in subnets.iter().enumerate() {
        let web = stack.add_with(
            &format!("web-{i}"),
            Instance {
                subnet_id: subnet.out().subnet_id,
                image: "img-2026-11".into(),
                size: if large { "large" } else { "small" }.into(),
                admin_password: Some(Secret::new(format!("s3cret-{i}"))),
                ..Default::default()
            },
            Options::new().depends_on(&net),
        );
        stack.export(&format!("web_{i}_arn"), web.out().arn);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let command = std::env::args().nth(1).unwrap_or_else(|| "up".into());
    let cloud = match FakeCloud::in_dir(".dafnck/fake-cloud".as_ref()) {
        Ok(c) => c.with_latency(std::time::Duration::from_millis(50)),
        Err(e) => {
            eprintln!("error: cannot open the fake cloud: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = std::env::var("DAFNCK_SIZE")
        .map(|s| [("size".to_string(), s)].into())
        .unwrap_or_default();
    let engine = Engine::new(
        "dev",
        FileStore::new(".dafnck"),
        Providers::new().with(cloud.clone()),
    )
    .config(config);
    match run(&engine, &command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(engine: &Engine, command: &str) -> Result<(), Error> {
    match command {
        "preview" => print!("{}", engine.preview(infra, false).await?.plan),
        "up" => {
            let preview = engine.preview(infra, false).await?;
            print!("{}", preview.plan);
            let report = engine.up(infra, false).await?;
            println!(
                "Applied {} steps in {:.2?}.",
                report.steps.len(),
                report.elapsed
            );
            for (name, value) in &report.outputs {
                println!("  {name} = {value}");
            }
            let again = engine.preview(infra, false).await?;
            println!("A second preview: {}", again.plan.render().trim_end());
        }
        "drift" => print!("{}", engine.drift().await?.render()),
        "destroy" => {
            let report = engine.destroy().await?;
            println!(
                "Destroyed: {} steps in {:.2?}.",
                report.steps.len(),
                report.elapsed
            );
        }
        other => {
            eprintln!("unknown command {other:?}; expected preview, up, drift or destroy");
            return Err(Error::Config {
                stack: engine.stack().into(),
                key: format!("command {other}"),
            });
        }
    }
    Ok(())
}
