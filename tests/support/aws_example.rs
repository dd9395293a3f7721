//! What the tests running the `aws_web` example against moto share: the
//! example run as a process with AWS pointed at moto, moto's reset, and SDK
//! clients for what the tests check. Included by `tests/aws_web.rs` and
//! `tests/aws_rollout.rs`, whose crates declare `support`.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use dafnck::providers::aws::sdk::config::{BehaviorVersion, Region};
use dafnck::providers::aws::sdk::ec2;
use dafnck::providers::aws::sdk::elbv2;
use dafnck::providers::aws::sdk::{autoscaling, route53};

use crate::support;

/// A finished run of the example.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The `aws_web` example's command in `dir`, AWS pointed at moto, with
/// `config`.
pub fn command(dir: &Path, url: &str, args: &[&str], config: &[String]) -> Command {
    command_of("aws_web", dir, url, args, config)
}

/// The command of the example `name` in `dir`, AWS pointed at moto, with
/// `config`.
pub fn command_of(name: &str, dir: &Path, url: &str, args: &[&str], config: &[String]) -> Command {
    let mut cmd = Command::new(support::example(name));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("DAFNCK_STACK")
        .env_remove("DAFNCK_STATE_DIR")
        .env_remove("AWS_PROFILE")
        .env("AWS_ENDPOINT_URL", url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for c in config {
        cmd.args(["--config", c]);
    }
    cmd
}

/// Runs the `aws_web` example to its end.
pub fn run(dir: &Path, url: &str, args: &[&str], config: &[String]) -> Run {
    run_of("aws_web", dir, url, args, config)
}

/// Runs the example `name` to its end.
pub fn run_of(name: &str, dir: &Path, url: &str, args: &[&str], config: &[String]) -> Run {
    let out = command_of(name, dir, url, args, config)
        .output()
        .unwrap_or_else(|e| panic!("run the {name} example: {e}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[track_caller]
pub fn expect(r: &Run, code: i32) {
    assert_eq!(r.code, code, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}

/// `POST /moto-api/reset`: forget every object.
pub fn reset(url: &str) {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(host).unwrap_or_else(|e| panic!("moto at {url}: {e}"));
    write!(
        s,
        "POST /moto-api/reset HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    assert!(response.contains(" 200 "), "moto did not reset: {response}");
}

/// The `id` `state show NAME` prints.
pub fn id_of(dir: &Path, url: &str, name: &str) -> String {
    let r = run(dir, url, &["state", "show", name], &[]);
    expect(&r, 0);
    let shown: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    shown["id"].as_str().unwrap().to_owned()
}

/// The line of `stderr` where the progress says `step` is done.
#[track_caller]
pub fn done_at(stderr: &str, step: &str) -> usize {
    let needle = format!("{step}: done");
    stderr
        .lines()
        .position(|l| l.contains(&needle))
        .unwrap_or_else(|| panic!("no `{needle}` in:\n{stderr}"))
}

/// SDK clients on moto.
pub struct Clients {
    pub ec2: ec2::Client,
    pub elb: elbv2::Client,
    pub asg: autoscaling::Client,
    pub route53: route53::Client,
}

impl Clients {
    pub async fn new(url: &str) -> Clients {
        Clients::in_region(url, "us-east-1").await
    }

    /// The same clients in `region`.
    pub async fn in_region(url: &str, region: &str) -> Clients {
        let config = dafnck::providers::aws::sdk::config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .endpoint_url(url)
            .credentials_provider(ec2::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await;
        Clients {
            ec2: ec2::Client::new(&config),
            elb: elbv2::Client::new(&config),
            asg: autoscaling::Client::new(&config),
            route53: route53::Client::new(&config),
        }
    }

    /// The first of the AMIs moto lists, by id.
    pub async fn ami(&self) -> String {
        let out = self
            .ec2
            .describe_images()
            .owners("amazon")
            .send()
            .await
            .unwrap();
        let mut ids: Vec<&str> = out.images().iter().filter_map(|i| i.image_id()).collect();
        ids.sort_unstable();
        ids.first().expect("moto lists no AMIs").to_string()
    }

    /// Instances not terminated (or terminating), sorted.
    pub async fn live_instances(&self) -> Vec<String> {
        let out = self.ec2.describe_instances().send().await.unwrap();
        let mut ids: Vec<String> = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter(|i| {
                !matches!(
                    i.state().and_then(|s| s.name()),
                    Some(
                        ec2::types::InstanceStateName::Terminated
                            | ec2::types::InstanceStateName::ShuttingDown
                    )
                )
            })
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect();
        ids.sort();
        ids
    }

    /// The instances registered in a target group, sorted.
    pub async fn targets(&self, group: &str) -> Vec<String> {
        let out = self
            .elb
            .describe_target_health()
            .target_group_arn(group)
            .send()
            .await
            .unwrap();
        let mut ids: Vec<String> = out
            .target_health_descriptions()
            .iter()
            .filter_map(|d| d.target()?.id().map(str::to_owned))
            .collect();
        ids.sort();
        ids
    }
}
