//! What the aws provider's tests share: a reset moto server with a provider
//! and SDK clients pointed at it, counts of what the stack left in it, and
//! the web stack most tests deploy.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_ec2::config::Credentials;
use aws_sdk_ec2::types::{Filter, InstanceStateName};
use aws_sdk_ec2::Client;
use aws_sdk_elasticloadbalancingv2::Client as ElbClient;
use dafnck_core::engine::{Engine, Settings};
use dafnck_core::prelude::*;
use dafnck_core::state::MemoryStore;
use dafnck_core::testing::fast_retry;
use dafnck_providers::aws::ec2::{Instance, Rule, SecurityGroup, Subnet, Vpc};
use dafnck_providers::aws::{self, STACK_TAG};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Mutex, MutexGuard};

/// Tests reset the one moto server, so they take turns.
static SERIAL: Mutex<()> = Mutex::const_new(());

/// A reset moto server, a provider and an SDK client pointed at it, held
/// for one test.
pub(crate) struct Moto {
    pub(crate) provider: aws::Provider,
    pub(crate) ec2: Client,
    pub(crate) elb: ElbClient,
    /// The server's URL.
    pub(crate) url: String,
    _turn: MutexGuard<'static, ()>,
}

/// The moto server for `test`, reset; `None` (the test is skipped) when
/// none is running.
pub(crate) async fn moto(test: &str) -> Option<Moto> {
    let Ok(url) = std::env::var("DAFNCK_MOTO_URL") else {
        let why = "moto is not running (scripts/servers/moto.sh start, or scripts/test.sh)";
        if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
            panic!("{test}: {why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
        }
        // Straight to standard error, past the test harness's capture, so
        // a skip is seen.
        let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
        return None;
    };
    let turn = SERIAL.lock().await;
    reset(&url).await;
    let config = sdk_config(&url).await;
    let ec2 = Client::new(&config);
    let elb = ElbClient::new(&config);
    let provider = aws::Provider::with_config(config)
        .poll_interval(Duration::from_millis(50))
        .wait_timeout(Duration::from_secs(60));
    Some(Moto {
        provider,
        ec2,
        elb,
        url,
        _turn: turn,
    })
}

/// An SDK configuration for the moto server at `url`: an explicit endpoint,
/// region and credentials, so nothing is read from this process's
/// environment and no test changes it.
pub(crate) async fn sdk_config(url: &str) -> aws_config::SdkConfig {
    sdk_config_in(url, "us-east-1").await
}

/// [`sdk_config`] in another region of the same server.
pub(crate) async fn sdk_config_in(url: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

/// `POST /moto-api/reset`: forget every object.
pub(crate) async fn reset(url: &str) {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to moto at {url}: {e}"));
    let request = format!(
        "POST /moto-api/reset HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
        "moto did not reset: {response}"
    );
}

impl Moto {
    pub(crate) fn engine(&self) -> Engine {
        Engine::new(
            "test",
            MemoryStore::new(),
            Providers::new().with(self.provider.clone()),
        )
        .settings(Settings {
            retry: fast_retry(),
            ..Settings::default()
        })
        // Secrets (a made key pair's private key) are sealed, as always.
        .secrets_key(dafnck_core::state::SecretsKey::generate())
    }

    /// An AMI moto accepts (it validates AMIs against the list it ships).
    pub(crate) async fn ami(&self) -> String {
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

    /// Instances not terminated, by their `dafnck:name` tag.
    pub(crate) async fn live_instances(&self) -> Vec<aws_sdk_ec2::types::Instance> {
        let out = self.ec2.describe_instances().send().await.unwrap();
        out.reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter(|i| {
                !matches!(
                    i.state().and_then(|s| s.name()),
                    Some(InstanceStateName::Terminated | InstanceStateName::ShuttingDown)
                )
            })
            .cloned()
            .collect()
    }

    pub(crate) async fn instance(&self, id: &str) -> aws_sdk_ec2::types::Instance {
        let out = self
            .ec2
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .unwrap();
        out.reservations()[0].instances()[0].clone()
    }

    /// Objects of each kind tagged by the stack `test`.
    pub(crate) async fn tagged(&self) -> BTreeMap<&'static str, usize> {
        let f = || {
            Filter::builder()
                .name(format!("tag:{STACK_TAG}"))
                .values("test")
                .build()
        };
        let e = &self.ec2;
        let vpcs = e.describe_vpcs().filters(f()).send().await.unwrap();
        let subnets = e.describe_subnets().filters(f()).send().await.unwrap();
        let groups = e
            .describe_security_groups()
            .filters(f())
            .send()
            .await
            .unwrap();
        let gateways = e
            .describe_internet_gateways()
            .filters(f())
            .send()
            .await
            .unwrap();
        let tables = e.describe_route_tables().filters(f()).send().await.unwrap();
        BTreeMap::from([
            ("vpcs", vpcs.vpcs().len()),
            ("subnets", subnets.subnets().len()),
            ("security groups", groups.security_groups().len()),
            ("internet gateways", gateways.internet_gateways().len()),
            ("route tables", tables.route_tables().len()),
            ("instances", self.live_instances().await.len()),
            ("load balancers", self.tagged_elb(Elb::LoadBalancers).await),
            ("target groups", self.tagged_elb(Elb::TargetGroups).await),
            ("listeners", self.tagged_elb(Elb::Listeners).await),
        ])
    }

    /// ELBv2 objects of one kind tagged by the stack `test`.
    pub(crate) async fn tagged_elb(&self, kind: Elb) -> usize {
        let lbs = self.elb.describe_load_balancers().send().await.unwrap();
        let lb_arns: Vec<String> = lbs
            .load_balancers()
            .iter()
            .filter_map(|lb| lb.load_balancer_arn().map(str::to_owned))
            .collect();
        let arns = match kind {
            Elb::LoadBalancers => lb_arns,
            Elb::TargetGroups => {
                let out = self.elb.describe_target_groups().send().await.unwrap();
                out.target_groups()
                    .iter()
                    .filter_map(|g| g.target_group_arn().map(str::to_owned))
                    .collect()
            }
            Elb::Listeners => {
                let mut arns = Vec::new();
                for lb in lb_arns {
                    let out = self
                        .elb
                        .describe_listeners()
                        .load_balancer_arn(lb)
                        .send()
                        .await
                        .unwrap();
                    arns.extend(
                        out.listeners()
                            .iter()
                            .filter_map(|l| l.listener_arn().map(str::to_owned)),
                    );
                }
                arns
            }
        };
        let mut n = 0;
        for arn in arns {
            let tags = self
                .elb
                .describe_tags()
                .resource_arns(&arn)
                .send()
                .await
                .unwrap();
            let ours = tags
                .tag_descriptions()
                .iter()
                .flat_map(|d| d.tags())
                .any(|t| t.key() == Some(STACK_TAG) && t.value() == Some("test"));
            n += usize::from(ours);
        }
        n
    }
}

/// The kinds of ELBv2 objects [`Moto::tagged_elb`] counts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Elb {
    LoadBalancers,
    TargetGroups,
    Listeners,
}

pub(crate) async fn outputs<T: serde::de::DeserializeOwned>(engine: &Engine, name: &str) -> T {
    let state = engine.state().await.unwrap();
    let r = state
        .resources
        .get(name)
        .unwrap_or_else(|| panic!("{name} is not recorded"));
    r.outputs.deserialize_into().unwrap()
}

pub(crate) fn tag_of<'a>(tags: &'a [aws_sdk_ec2::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

pub(crate) fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ------------------------------------------------------------- the program

/// What the tests vary in the web stack.
#[derive(Clone)]
pub(crate) struct Web {
    pub(crate) ami: String,
    pub(crate) role: &'static str,
    pub(crate) instance_type: &'static str,
    pub(crate) subnet_b: &'static str,
}

pub(crate) fn web(w: Web) -> impl FnOnce(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let vpc = stack.add(
            "vpc",
            Vpc {
                cidr_block: "10.0.0.0/16".into(),
                enable_dns_hostnames: true,
                tags: tags(&[("env", "test")]),
            },
        );
        let a = stack.add(
            "subnet-a",
            Subnet {
                vpc_id: vpc.out().vpc_id,
                cidr_block: "10.0.1.0/24".into(),
                availability_zone: Some("us-east-1a".into()),
                map_public_ip_on_launch: true,
                ..Default::default()
            },
        );
        stack.add(
            "subnet-b",
            Subnet {
                vpc_id: vpc.out().vpc_id,
                cidr_block: w.subnet_b.into(),
                availability_zone: Some("us-east-1b".into()),
                ..Default::default()
            },
        );
        let sg = stack.add(
            "web-sg",
            SecurityGroup {
                name: "web".into(),
                description: "HTTP from anywhere, SSH from the VPN".into(),
                vpc_id: vpc.out().vpc_id,
                ingress: vec![Rule::tcp(80, "0.0.0.0/0"), Rule::tcp(22, "10.8.0.0/16")],
                ..Default::default()
            },
        );
        let instance = stack.add(
            "web",
            Instance {
                ami: w.ami.into(),
                instance_type: w.instance_type.into(),
                subnet_id: a.out().subnet_id,
                security_group_ids: vec![sg.out().security_group_id],
                user_data: Some("#!/bin/sh\necho hello\n".into()),
                tags: tags(&[("role", w.role)]),
                ..Default::default()
            },
        );
        stack.export("web_ip", instance.out().private_ip);
        Ok(())
    }
}

pub(crate) fn first_web(ami: String) -> Web {
    Web {
        ami,
        role: "web",
        instance_type: "t3.micro",
        subnet_b: "10.0.2.0/24",
    }
}
