//! An Auto Scaling web tier in two regions with DNS failover between them:
//! in each region (a named instance of the aws provider, `primary` and
//! `secondary`) a VPC with two subnets, an application load balancer with
//! a target group and an HTTP listener, a launch template, an Auto Scaling
//! group of `capacity` instances registered in the target group, and a
//! target tracking policy keeping the group's average CPU at 70%; in
//! Route 53 (global, the default instance) a hosted zone and a failover
//! pair of alias records, the primary region's load balancer answered
//! while it is healthy, the secondary's otherwise.
//!
//! ```text
//! cargo run --features aws --example aws_asg -- up --yes --config ami=ami-0abcdef1234567890
//! cargo run --features aws --example aws_asg -- up --yes --config ami=ami-0abcdef1234567890 --config version=v2
//! cargo run --features aws --example aws_asg -- destroy --yes
//! ```
//!
//! Credentials and endpoint come from the AWS SDK's standard chain; the
//! regions from `DAFNCK_PRIMARY_REGION` (default `us-east-1`) and
//! `DAFNCK_SECONDARY_REGION` (default `us-west-2`). Against moto, as for
//! `aws_web`: `AWS_ENDPOINT_URL=$DAFNCK_MOTO_URL` and test credentials.
//!
//! Configuration (`--config KEY=VALUE`): `ami` (required; the same id in
//! both regions, as moto's are, or `secondary_ami`), `instance_type`
//! (default `t3.micro`), `capacity` (instances per group, default 4),
//! `version` (what the boot script serves, default `v1`), `zone` (the
//! hosted zone, default `dafnck-asg.example.com`), `rollout` (`rolling`,
//! the default, or `refresh`), `batch_percent` (default 25),
//! `batch_timeout_secs` (default 300), `min_healthy_percent` (default 90).
//!
//! # Rolling out a new launch template
//!
//! Each launch template carries a deployment policy: a change of what it
//! launches (`version`, `ami`, `instance_type`) makes a new template beside
//! the old, and the policy moves the region's group onto it. `rolling`
//! (`AsgFleet`) cycles the group's instances `batch_percent` at a time,
//! each batch healthy in the group and in its target group before the
//! next, and rolls every replaced instance back after two failed batches;
//! `refresh` (`InstanceRefresh`) hands the same to the group's instance
//! refresh, keeping `min_healthy_percent` in service. Then the old template
//! is deleted (after a rollback, the new one).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use dafnck::core::prelude::*;
use dafnck::core::Error;
use dafnck::providers::aws::autoscaling::{AutoScalingGroup, HealthCheckType, ScalingPolicy};
use dafnck::providers::aws::ec2::{LaunchTemplate, Rule, SecurityGroup, Subnet, Vpc};
use dafnck::providers::aws::elbv2::{
    Forward, Listener, LoadBalancer, LoadBalancerOutputsRefs, TargetGroup,
};
use dafnck::providers::aws::route53::{AliasTarget, Failover, HostedZone, Record};
use dafnck::providers::aws::sdk::config::{BehaviorVersion, Region, SdkConfig};
use dafnck::strategies::asg::{AsgFleet, InstanceRefresh, TemplateVersion};
use dafnck::strategies::{BatchSize, Rolling, Strategy};

fn config(stack: &Stack, key: &str, default: &str) -> String {
    stack
        .config(key)
        .map_or_else(|| default.to_owned(), str::to_owned)
}

fn number<T: std::str::FromStr>(stack: &Stack, key: &str, default: &str) -> Result<T, Error> {
    config(stack, key, default)
        .parse()
        .map_err(|_| Error::Usage(format!("config {key} must be a number")))
}

/// The launch template's deployment policy in the region of `sdk`.
fn rollout_options(stack: &Stack, sdk: &SdkConfig) -> dafnck::core::Result<Options> {
    match config(stack, "rollout", "rolling").as_str() {
        "rolling" => {
            let policy = Rolling {
                batch: BatchSize::Percent(number(stack, "batch_percent", "25")?),
                batch_timeout: Duration::from_secs(number(stack, "batch_timeout_secs", "300")?),
                poll_interval: Duration::from_secs(1),
                ..Rolling::default()
            };
            let sdk = sdk.clone();
            let strategy = Strategy::rolling(policy, move |old, new| {
                Ok(AsgFleet::with_config(
                    &sdk,
                    TemplateVersion::from_outputs(old)?,
                    TemplateVersion::from_outputs(new)?,
                )
                .timing(Duration::from_secs(600), Duration::from_secs(1)))
            })
            .map_err(|e| Error::Usage(format!("config batch_percent: {e}")))?;
            Ok(Options::new().deploy_with(strategy))
        }
        "refresh" => Ok(Options::new().deploy_with(
            InstanceRefresh::new(number(stack, "min_healthy_percent", "90")?).with_config(sdk),
        )),
        other => Err(Error::Usage(format!(
            "config rollout={other:?}: use rolling or refresh"
        ))),
    }
}

/// One region's tier, through the provider instance `region`; the load
/// balancer's outputs.
fn region(
    stack: &mut Stack,
    region: &str,
    sdk: &SdkConfig,
    ami: String,
) -> dafnck::core::Result<LoadBalancerOutputsRefs> {
    let on = || Options::new().provider(region);
    let name = |what: &str| format!("{region}-{what}");
    let instance_type = config(stack, "instance_type", "t3.micro");
    let capacity: u32 = number(stack, "capacity", "4")?;
    let version = config(stack, "version", "v1");
    let zones = stack
        .config(&format!("{region}_zones"))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            format!(
                "{0}a,{0}b",
                sdk.region().map_or("us-east-1", |r| r.as_ref())
            )
        });
    let vpc = stack.add_with(
        &name("vpc"),
        Vpc {
            cidr_block: "10.0.0.0/16".into(),
            ..Default::default()
        },
        on(),
    );
    let subnets: Vec<_> = zones
        .split(',')
        .enumerate()
        .map(|(i, zone)| {
            stack.add_with(
                &name(&format!("subnet-{}", i + 1)),
                Subnet {
                    vpc_id: vpc.out().vpc_id,
                    cidr_block: format!("10.0.{}.0/24", i + 1).into(),
                    availability_zone: Some(zone.trim().to_owned()),
                    ..Default::default()
                },
                on(),
            )
        })
        .collect();
    let sg = stack.add_with(
        &name("web-sg"),
        SecurityGroup {
            name: "web".into(),
            description: "HTTP from anywhere".into(),
            vpc_id: vpc.out().vpc_id,
            ingress: vec![Rule::tcp(80, "0.0.0.0/0")],
            ..Default::default()
        },
        on(),
    );
    let lb = stack.add_with(
        &name("lb"),
        LoadBalancer {
            subnet_ids: subnets.iter().map(|s| s.out().subnet_id).collect(),
            security_group_ids: vec![sg.out().security_group_id],
            ..Default::default()
        },
        on(),
    );
    // The group registers its instances: the group's own `targets` are
    // left alone.
    let tg = stack.add_with(
        &name("web-tg"),
        TargetGroup {
            port: 80,
            vpc_id: vpc.out().vpc_id,
            ..Default::default()
        },
        on().ignore_changes(["targets"]),
    );
    stack.add_with(
        &name("http"),
        Listener {
            load_balancer_arn: lb.out().arn,
            port: 80,
            forward: vec![Forward::new(tg.out().arn, 100)],
            ..Default::default()
        },
        on(),
    );
    let lt_options = rollout_options(stack, sdk)?.provider(region);
    let lt = stack.add_with(
        &name("web-lt"),
        LaunchTemplate {
            image_id: ami.into(),
            instance_type: instance_type.into(),
            security_group_ids: vec![sg.out().security_group_id],
            user_data: Some(format!("#!/bin/sh\necho {version} > /var/www/index.html\n")),
            ..Default::default()
        },
        lt_options,
    );
    let asg = stack.add_with(
        &name("web"),
        AutoScalingGroup {
            launch_template_id: lt.out().launch_template_id,
            launch_template_version: Some(lt.out().default_version),
            min_size: 1,
            max_size: capacity * 2,
            desired_capacity: Some(capacity),
            subnet_ids: subnets.iter().map(|s| s.out().subnet_id).collect(),
            target_group_arns: vec![tg.out().arn],
            health_check_type: HealthCheckType::Elb,
            ..Default::default()
        },
        on(),
    );
    stack.add_with(
        &name("cpu-70"),
        ScalingPolicy {
            auto_scaling_group_name: asg.out().name,
            target_value: 70.0,
            ..Default::default()
        },
        on(),
    );
    stack.export(&name("group"), asg.out().name);
    stack.export(&name("url"), lb.out().dns_name);
    Ok(lb.out())
}

fn infra(stack: &mut Stack, regions: &[(String, SdkConfig); 2]) -> dafnck::core::Result<()> {
    let ami = stack.config("ami").map(str::to_owned).ok_or_else(|| {
        Error::Usage(
            "set the instances' image: --config ami=ami-... (an AMI of your regions)".into(),
        )
    })?;
    let secondary_ami = config(stack, "secondary_ami", &ami);
    let zone_name = config(stack, "zone", "dafnck-asg.example.com");
    let primary = region(stack, &regions[0].0, &regions[0].1, ami)?;
    let secondary = region(stack, &regions[1].0, &regions[1].1, secondary_ami)?;
    let zone = stack.add(
        "zone",
        HostedZone {
            name: zone_name.clone(),
            ..Default::default()
        },
    );
    for (role, lb, failover) in [
        ("primary", &primary, Failover::Primary),
        ("secondary", &secondary, Failover::Secondary),
    ] {
        stack.add(
            &format!("www-{role}"),
            Record {
                zone_id: zone.out().zone_id,
                name: format!("www.{zone_name}"),
                set_identifier: Some(role.to_owned()),
                alias: Some(AliasTarget {
                    zone_id: lb.canonical_hosted_zone_id.clone(),
                    dns_name: lb.dns_name.clone(),
                    evaluate_target_health: true,
                }),
                failover: Some(failover),
                ..Default::default()
            },
        );
    }
    stack.export("zone_id", zone.out().zone_id);
    Ok(())
}

/// The SDK configuration of `region` (the rest from the standard chain).
async fn region_config(region: String) -> SdkConfig {
    dafnck::providers::aws::sdk::config::defaults(BehaviorVersion::latest())
        .region(Region::new(region))
        .load()
        .await
}

#[tokio::main]
async fn main() -> ExitCode {
    let region = |var: &str, default: &str| std::env::var(var).unwrap_or_else(|_| default.into());
    let primary = region_config(region("DAFNCK_PRIMARY_REGION", "us-east-1")).await;
    let secondary = region_config(region("DAFNCK_SECONDARY_REGION", "us-west-2")).await;
    let regions = Arc::new([
        ("primary".to_owned(), primary.clone()),
        ("secondary".to_owned(), secondary.clone()),
    ]);
    use dafnck::providers::aws::Provider;
    dafnck::cli::run(move |stack: &mut Stack| infra(stack, &regions))
        .provider(Provider::from_env())
        .named_provider("primary", Provider::with_config(primary))
        .named_provider("secondary", Provider::with_config(secondary))
        .cost_model(dafnck::providers::aws::cost::model())
        .await
}
