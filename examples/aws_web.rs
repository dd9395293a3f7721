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
//! `10.0.1.0/24,10.0.2.0/24`), `team` (a tag on everything, default `web`).

use std::collections::BTreeMap;
use std::process::ExitCode;

use dafnck::core::prelude::*;
use dafnck::core::Error;
use dafnck::providers::aws::ec2::{
    Instance, InternetGateway, Route, RouteTable, Rule, SecurityGroup, Subnet, Vpc,
};
use dafnck::providers::aws::elbv2::{Forward, HealthCheck, Listener, LoadBalancer, TargetGroup};

fn config(stack: &Stack, key: &str, default: &str) -> String {
    stack
        .config(key)
        .map_or_else(|| default.to_owned(), str::to_owned)
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
                user_data: Some("#!/bin/sh\necho ok > /var/www/index.html\n".into()),
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
    let web_tg = stack.add(
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
        .await
}
