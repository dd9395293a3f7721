//! A program declaring a small network against the engine's fake cloud: no
//! account, no SDK. Its state lives in `.dafnck/` and the fake cloud's
//! objects in `.dafnck/fake-cloud/`, so runs build on each other.
//!
//! Its instances have secret passwords, which the state keeps encrypted
//! with a key derived from `DAFNCK_PASSPHRASE` (`up` refuses without it).
//!
//! ```text
//! export DAFNCK_PASSPHRASE='correct horse battery staple'
//! cargo run --example fake_cloud -- preview
//! cargo run --example fake_cloud -- up --yes
//! cargo run --example fake_cloud -- up --yes --config size=large   # an update and a replacement
//! printf %s 'n3w-pw' | cargo run --example fake_cloud -- config set admin_password --secret
//! cargo run --example fake_cloud -- drift
//! cargo run --example fake_cloud -- destroy --yes
//! ```

use std::process::ExitCode;

use dafnck::core::terraform::TypeMapping;
use dafnck::core::testing::resources::{Instance, Network, Subnet};
use dafnck::core::testing::FakeCloud;
use dafnck::core::{Options, Secret, Stack};

fn infra(stack: &mut Stack) -> dafnck::core::Result<()> {
    let large = stack.config("size") == Some("large");
    // Set with `config set admin_password --secret` (sealed in dafnck.dev.json).
    let password = match stack.secret_config::<String>("admin_password") {
        Ok(p) => Some(p),
        Err(dafnck::core::Error::Config { .. }) => None,
        Err(e) => return Err(e),
    };
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
                admin_password: Some(
                    password
                        .clone()
                        .unwrap_or_else(|| Secret::new(format!("s3cret-{i}"))),
                ),
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
    // The fake cloud keeps its objects next to the state, so runs build on
    // each other like against a real cloud.
    let dir = std::env::var("DAFNCK_STATE_DIR").unwrap_or_else(|_| ".dafnck".into());
    let cloud = match FakeCloud::in_dir(&std::path::Path::new(&dir).join("fake-cloud")) {
        Ok(c) => c.with_latency(std::time::Duration::from_millis(50)),
        Err(e) => {
            eprintln!("error: cannot open the fake cloud: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Terraform- and Pulumi-like types of the fake cloud, for `import
    // --terraform` and `import --pulumi`.
    const TERRAFORM: &[TypeMapping] = &[
        TypeMapping::new("fake_network", "fake:net:Network", "id")
            .pulumi("fake:net/network:Network"),
        TypeMapping::new("fake_subnet", "fake:net:Subnet", "id").pulumi("fake:net/subnet:Subnet"),
        TypeMapping::new("fake_instance", "fake:compute:Instance", "id")
            .pulumi("fake:compute/instance:Instance"),
    ];
    dafnck::cli::run(infra)
        .provider(cloud)
        .terraform_types(TERRAFORM)
        .await
}
