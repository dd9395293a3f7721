//! What the tests running the `aws_web` example against moto share: the
//! example run as a process with AWS pointed at moto, moto's reset, and SDK
//! clients for what the tests check, and lookups in the JSON the example
//! prints. Included by the `tests/aws_*.rs` files, whose crates declare
//! `support`.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use dafnck::providers::aws::sdk::config::{BehaviorVersion, Region, SdkConfig};
use dafnck::providers::aws::sdk::ec2;
use dafnck::providers::aws::sdk::elbv2;
use dafnck::providers::aws::sdk::{autoscaling, route53};

use crate::support;

pub use crate::support::Run;

/// An example program run against moto.
#[derive(Clone, Copy)]
pub struct Example(pub &'static str);

/// The web tier example, which most of these helpers run.
pub const AWS_WEB: Example = Example("aws_web");

impl Example {
    /// The example's command in `dir`, AWS pointed at moto, with `config`.
    pub fn command(self, dir: &Path, url: &str, args: &[&str], config: &[String]) -> Command {
        let mut cmd = Command::new(support::example(self.0));
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

    /// Runs the example to its end.
    pub fn run(self, dir: &Path, url: &str, args: &[&str], config: &[String]) -> Run {
        let out = self
            .command(dir, url, args, config)
            .output()
            .unwrap_or_else(|e| panic!("run the {} example: {e}", self.0));
        Run::of(out)
    }

    /// The `id` `state show NAME` prints.
    pub fn id_of(self, dir: &Path, url: &str, name: &str) -> String {
        let r = self.run(dir, url, &["state", "show", name], &[]);
        expect(&r, 0);
        let shown: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        shown["id"].as_str().unwrap().to_owned()
    }

    /// Runs `up --yes` with `config` while calling `watch` every 10 ms;
    /// returns the run and each distinct value `watch` gave, in order
    /// (the last one read after the run ended).
    pub async fn up_watching<T, F, Fut>(
        self,
        dir: &Path,
        url: &str,
        config: &[String],
        watch: F,
    ) -> (Run, Vec<T>)
    where
        T: PartialEq + std::fmt::Debug,
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        let command = self.command(dir, url, &["up", "--yes"], config);
        support::watching(command, self.0, watch).await
    }
}

/// The `aws_web` example's command in `dir`, AWS pointed at moto, with
/// `config`.
pub fn command(dir: &Path, url: &str, args: &[&str], config: &[String]) -> Command {
    AWS_WEB.command(dir, url, args, config)
}

/// Runs the `aws_web` example to its end.
pub fn run(dir: &Path, url: &str, args: &[&str], config: &[String]) -> Run {
    AWS_WEB.run(dir, url, args, config)
}

/// The command of the example `name` in `dir`, AWS pointed at moto, with
/// `config`.
pub fn command_of(
    name: &'static str,
    dir: &Path,
    url: &str,
    args: &[&str],
    config: &[String],
) -> Command {
    Example(name).command(dir, url, args, config)
}

/// Runs the example `name` to its end.
pub fn run_of(name: &'static str, dir: &Path, url: &str, args: &[&str], config: &[String]) -> Run {
    Example(name).run(dir, url, args, config)
}

#[track_caller]
pub fn expect(r: &Run, code: i32) {
    r.expect(code);
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

/// The `id` `state show NAME` of the `aws_web` example prints.
pub fn id_of(dir: &Path, url: &str, name: &str) -> String {
    AWS_WEB.id_of(dir, url, name)
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

/// Moto's URL (`DAFNCK_MOTO_URL`); without it `None` after saying the
/// test `what` is skipped, or a panic when `DAFNCK_REQUIRE_SERVERS=1`.
pub fn moto_url(what: &str) -> Option<String> {
    let Ok(url) = std::env::var("DAFNCK_MOTO_URL") else {
        let why = "moto is not running (scripts/servers/moto.sh start, or scripts/test.sh)";
        if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
            panic!("{why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
        }
        let _ = writeln!(std::io::stderr(), "SKIPPED {what}: {why}");
        return None;
    };
    Some(url)
}

/// The SDK's configuration for moto at `url`.
pub async fn sdk_config(url: &str) -> SdkConfig {
    dafnck::providers::aws::sdk::config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(ec2::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
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

/// The element of the JSON array `list` (a plan's `changes`, a cost
/// report's `resources`) whose `name` is `name`.
pub fn named<'a>(list: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    list.as_array()
        .unwrap_or_else(|| panic!("not a JSON array: {list}"))
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in {list}"))
}
