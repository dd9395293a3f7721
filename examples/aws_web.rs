//! A small web tier on AWS: a VPC with an internet gateway, two public
//! subnets in two zones routed to it, a security group for HTTP (and SSH
//! from one range), web servers spread over the subnets, and an
//! application load balancer whose HTTP listener forwards to a target
//! group holding every web server.
//!
//! ```text
//! cargo run --features aws --example aws_web -- preview --config ami=ami-0abcdef1234567890
//! cargo run --features aws --example aws_web -- up --yes --config ami=ami-0abcdef1234567890
//! cargo run --features aws --example aws_web -- outputs
//! cargo run --features aws --example aws_web -- destroy --yes
//! ```
//!
//! Credentials, region and endpoint come from the AWS SDK's standard chain
//! (`AWS_PROFILE`, `AWS_REGION`, ...). Against moto instead of AWS:
//!
//! ```text
//! eval "$(scripts/servers/moto.sh start)"
//! export AWS_ENDPOINT_URL=$DAFNCK_MOTO_URL AWS_REGION=us-east-1 \
//!        AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
//! cargo run --features aws --example aws_web -- up --yes --config ami=ami-03cf127a
//! ```
//!
//! Configuration (`--config KEY=VALUE`, or `dafnck.<stack>.json`): `ami`
//! (required), `instance_type` (default `t3.micro`), `web_count` (default 2),
//! `ssh_cidr` (default `10.0.0.0/8`), `zones` (default
//! `us-east-1a,us-east-1b`), `subnet_cidrs` (one per zone, default
//! `10.0.1.0/24,10.0.2.0/24`), `team` (a tag on everything, default `web`),
//! `version` (what the web servers' boot script serves, default `ok`;
//! changing it replaces every web server).
//!
//! # Rolling out new web servers behind the load balancer
//!
//! With `rollout=canary`, the target group carries a canary policy
//! (`Options::deploy_with`): when its targets change (a new `version` or
//! `ami` replaces the web servers), the engine creates the new servers, then
//! a second target group holding them beside the first, and the policy
//! moves the listener's weights to it step by step (`canary_steps`,
//! `PERCENT:SECONDS` pairs, default `20:60,50:60`) while its analysis runs
//! every `analysis_interval_ms` (default 1000). Promoted, the listener
//! forwards to the new group only, and the old group and old servers are
//! deleted; rolled back, the new group is deleted and the listener forwards
//! to the old group as before. The router finds the listener itself
//! (`TargetGroupRouter`). Before any traffic moves, the new group joins the
//! listener at weight 0, so the load balancer health checks its servers,
//! and the rollout waits until DescribeTargetHealth says every one is
//! healthy (`TargetHealth`, up to 120 s). The analysis during the steps is
//! a stand-in for a real gate: it fails for the version named by
//! `reject_version`, to show a rollback.
//!
//! ```text
//! cargo run --features aws --example aws_web -- up --yes --config ami=ami-03cf127a --config rollout=canary
//! cargo run --features aws --example aws_web -- up --yes --config ami=ami-03cf127a --config rollout=canary --config version=v2
//! ```

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use dafnck::core::prelude::*;
use dafnck::core::Error;
use dafnck::providers::aws::ec2::{
    Instance, InternetGateway, Route, RouteTable, Rule, SecurityGroup, Subnet, Vpc,
};
use dafnck::providers::aws::elbv2::{Forward, HealthCheck, Listener, LoadBalancer, TargetGroup};
use dafnck::strategies::alb::{TargetGroupRouter, TargetHealth};
use dafnck::strategies::{Analysis, AnalysisSet, Canary, Strategy, Verdict};

#[path = "support/stack_config.rs"]
mod stack_config;

use stack_config::{config, steps};

/// The analysis of this example: it fails for one version, chosen by
/// config, and passes for every other (a stand-in for a metric gate).
struct VersionGate {
    version: String,
    rejected: Option<String>,
}

#[async_trait::async_trait]
impl Analysis for VersionGate {
    fn name(&self) -> &str {
        "version gate"
    }
    async fn run(&self) -> Verdict {
        if self.rejected.as_deref() == Some(self.version.as_str()) {
            Verdict::Fail(format!(
                "version {} is rejected (config reject_version)",
                self.version
            ))
        } else {
            Verdict::Pass
        }
    }
}

/// The target group's options: with `rollout=canary`, a canary policy
/// whose router is the listener forwarding to the group.
fn target_group_options(stack: &Stack, version: &str) -> dafnck::core::Result<Options> {
    match config(stack, "rollout", "none").as_str() {
        "none" => Ok(Options::new()),
        "canary" => {
            let interval: u64 = config(stack, "analysis_interval_ms", "1000")
                .parse()
                .map_err(|_| Error::Usage("config analysis_interval_ms must be a number".into()))?;
            let canary = Canary {
                analysis_interval: Duration::from_millis(interval),
                ..Canary::with_steps(steps(&config(stack, "canary_steps", "20:60,50:60"))?)
            };
            let version = version.to_owned();
            let rejected = stack.config("reject_version").map(str::to_owned);
            let strategy = Strategy::canary(canary, TargetGroupRouter::from_outputs)
                .map_err(|e| Error::Usage(format!("config canary_steps: {e}")))?
                .readiness(|_old, new| match TargetHealth::from_outputs(new) {
                    Ok(health) => AnalysisSet::new().with(health),
                    // The new group was never created: nothing to check.
                    Err(_) => AnalysisSet::new(),
                })
                .analysis(move |_old, _new| {
                    AnalysisSet::new().with(VersionGate {
                        version: version.clone(),
                        rejected: rejected.clone(),
                    })
                });
            Ok(Options::new().deploy_with(strategy))
        }
        other => Err(Error::Usage(format!(
            "config rollout={other:?}: use none or canary"
        ))),
    }
}

fn infra(stack: &mut Stack) -> dafnck::core::Result<()> {
    let ami = stack.config("ami").map(str::to_owned).ok_or_else(|| {
        Error::Usage(
            "set the web servers' image: --config ami=ami-... (an AMI of your region)".into(),
        )
    })?;
    let instance_type = config(stack, "instance_type", "t3.micro");
    let ssh_cidr = config(stack, "ssh_cidr", "10.0.0.0/8");
    let zones = config(stack, "zones", "us-east-1a,us-east-1b");
    let subnet_cidrs = config(stack, "subnet_cidrs", "10.0.1.0/24,10.0.2.0/24");
    let team = config(stack, "team", "web");
    let version = config(stack, "version", "ok");
    let web_count: usize = config(stack, "web_count", "2")
        .parse()
        .map_err(|_| Error::Usage("config web_count must be a number".into()))?;
    let tags = BTreeMap::from([
        ("app".to_owned(), "web".to_owned()),
        ("team".to_owned(), team),
    ]);
    let cidrs: Vec<&str> = subnet_cidrs.split(',').map(str::trim).collect();
    if cidrs.len() != zones.split(',').count() {
        return Err(Error::Usage(
            "config subnet_cidrs needs one range per zone in `zones`".into(),
        ));
    }

    let vpc = stack.add(
        "vpc",
        Vpc {
            cidr_block: "10.0.0.0/16".into(),
            enable_dns_hostnames: true,
            tags: tags.clone(),
        },
    );
    let gateway = stack.add(
        "gateway",
        InternetGateway {
            vpc_id: Some(vpc.out().vpc_id),
            tags: tags.clone(),
        },
    );
    let subnets: Vec<_> = zones
        .split(',')
        .enumerate()
        .map(|(i, zone)| {
            stack.add(
                &format!("public-{}", i + 1),
                Subnet {
                    vpc_id: vpc.out().vpc_id,
                    cidr_block: cidrs[i].to_owned().into(),
                    availability_zone: Some(zone.trim().to_owned()),
                    map_public_ip_on_launch: true,
                    tags: tags.clone(),
                },
            )
        })
        .collect();
    stack.add(
        "public-routes",
        RouteTable {
            vpc_id: vpc.out().vpc_id,
            routes: vec![Route {
                destination_cidr_block: "0.0.0.0/0".into(),
                gateway_id: gateway.out().internet_gateway_id,
            }],
            subnet_ids: subnets.iter().map(|s| s.out().subnet_id).collect(),
            tags: tags.clone(),
        },
    );
    let web_sg = stack.add(
        "web-sg",
        SecurityGroup {
            name: "web".into(),
            description: "HTTP from anywhere, SSH from the admin range".into(),
            vpc_id: vpc.out().vpc_id,
            ingress: vec![Rule::tcp(80, "0.0.0.0/0"), Rule::tcp(22, &ssh_cidr)],
            tags: tags.clone(),
            ..Default::default()
        },
    );
    let lb_sg = stack.add(
        "lb-sg",
        SecurityGroup {
            name: "lb".into(),
            description: "HTTP from anywhere to the load balancer".into(),
            vpc_id: vpc.out().vpc_id,
            ingress: vec![Rule::tcp(80, "0.0.0.0/0")],
            tags: tags.clone(),
            ..Default::default()
        },
    );
    let mut targets = Vec::new();
    for i in 0..web_count {
        let web = stack.add(
            &format!("web-{}", i + 1),
            Instance {
                ami: ami.clone().into(),
                instance_type: instance_type.clone().into(),
                subnet_id: subnets[i % subnets.len()].out().subnet_id,
                security_group_ids: vec![web_sg.out().security_group_id],
                user_data: Some(format!("#!/bin/sh\necho {version} > /var/www/index.html\n")),
                tags: tags.clone(),
                ..Default::default()
            },
        );
        targets.push(web.out().instance_id);
        stack.export(&format!("web-{}_public_ip", i + 1), web.out().public_ip);
        stack.export(&format!("web-{}_private_ip", i + 1), web.out().private_ip);
    }
    let lb = stack.add(
        "lb",
        LoadBalancer {
            subnet_ids: subnets.iter().map(|s| s.out().subnet_id).collect(),
            security_group_ids: vec![lb_sg.out().security_group_id],
            tags: tags.clone(),
            ..Default::default()
        },
    );
    let tg_options = target_group_options(stack, &version)?;
    let web_tg = stack.add_with(
        "web-tg",
        TargetGroup {
            port: 80,
            vpc_id: vpc.out().vpc_id,
            health_check: HealthCheck {
                path: "/index.html".into(),
                ..Default::default()
            },
            targets,
            tags: tags.clone(),
            ..Default::default()
        },
        tg_options,
    );
    stack.add(
        "http",
        Listener {
            load_balancer_arn: lb.out().arn,
            port: 80,
            forward: vec![Forward::new(web_tg.out().arn, 100)],
            tags: tags.clone(),
            ..Default::default()
        },
    );
    stack.export("url", lb.out().dns_name);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    dafnck::cli::run(infra)
        .provider(dafnck::providers::aws::Provider::from_env())
        .cost_model(dafnck::providers::aws::cost::model())
        .await
}
