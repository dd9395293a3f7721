//! Two named instances of the aws provider, one per region of the moto
//! server: each VPC is made in the region its resource names, and a destroy
//! without the program deletes each through the instance that made it.

use std::time::Duration;

use aws_sdk_ec2::types::Filter;
use aws_sdk_ec2::Client;
use dafnck_core::engine::{Engine, Settings};
use dafnck_core::prelude::*;
use dafnck_core::state::MemoryStore;
use dafnck_core::testing::fast_retry;
use dafnck_core::Action;
use dafnck_providers::aws::{self, ec2::Vpc};

use crate::support::{moto, sdk_config_in};

/// The CIDR blocks of this stack's VPCs in a region.
async fn cidrs(ec2: &Client) -> Vec<String> {
    let found = ec2
        .describe_vpcs()
        .filters(
            Filter::builder()
                .name(format!("tag:{}", aws::STACK_TAG))
                .values("regions")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut c: Vec<String> = found
        .vpcs()
        .iter()
        .filter_map(|v| v.cidr_block().map(str::to_owned))
        .collect();
    c.sort();
    c
}

fn program(web_region: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        stack.add_with(
            "web",
            Vpc {
                cidr_block: "10.10.0.0/16".into(),
                ..Default::default()
            },
            Options::new().provider(web_region),
        );
        stack.add_with(
            "data",
            Vpc {
                cidr_block: "10.20.0.0/16".into(),
                ..Default::default()
            },
            Options::new().provider("eu-west-1"),
        );
        Ok(())
    }
}

#[tokio::test]
async fn two_regions_through_two_named_instances() {
    let Some(m) = moto("two_regions_through_two_named_instances").await else {
        return;
    };
    let (us, eu) = (
        sdk_config_in(&m.url, "us-east-1").await,
        sdk_config_in(&m.url, "eu-west-1").await,
    );
    let instance = |config| {
        aws::Provider::with_config(config)
            .poll_interval(Duration::from_millis(50))
            .wait_timeout(Duration::from_secs(60))
    };
    let (us_ec2, eu_ec2) = (Client::new(&us), Client::new(&eu));
    let providers = Providers::new()
        .with_named("us-east-1", instance(us))
        .with_named("eu-west-1", instance(eu));
    let engine = Engine::new("regions", MemoryStore::new(), providers).settings(Settings {
        retry: fast_retry(),
        ..Settings::default()
    });

    engine.up(program("us-east-1"), false).await.unwrap();
    assert_eq!(cidrs(&us_ec2).await, ["10.10.0.0/16"]);
    assert_eq!(cidrs(&eu_ec2).await, ["10.20.0.0/16"]);
    let state = engine.state().await.unwrap();
    assert_eq!(
        state.resources["web"].provider.as_deref(),
        Some("us-east-1")
    );
    // Refreshed through each instance, nothing drifted.
    let again = engine.preview(program("us-east-1"), true).await.unwrap();
    assert!(!again.plan.has_changes(), "{}", again.plan.render());

    // Moved to the other region: a new VPC there, the old one deleted.
    let moved = engine.preview(program("eu-west-1"), false).await.unwrap();
    assert_eq!(moved.plan.action("web"), Some(Action::Replace));
    engine.up(program("eu-west-1"), false).await.unwrap();
    assert!(cidrs(&us_ec2).await.is_empty());
    assert_eq!(cidrs(&eu_ec2).await, ["10.10.0.0/16", "10.20.0.0/16"]);

    engine.destroy().await.unwrap();
    assert!(cidrs(&eu_ec2).await.is_empty());
}
