//! The world every ALB test makes in moto, and the imports they share.

pub(crate) use std::collections::BTreeMap;
pub(crate) use std::sync::atomic::{AtomicU32, Ordering};
pub(crate) use std::sync::{Arc, Mutex};
pub(crate) use std::time::Duration;

pub(crate) use crate::support::{moto_url, sdk_config, unique, Script};
pub(crate) use async_trait::async_trait;
pub(crate) use aws_config::SdkConfig;
pub(crate) use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, AuthenticateOidcActionConfig, ForwardActionConfig,
    LoadBalancerTypeEnum, ProtocolEnum, TargetDescription, TargetGroupStickinessConfig,
    TargetGroupTuple,
};
pub(crate) use aws_sdk_elasticloadbalancingv2::Client;
pub(crate) use dafnck_strategies::{
    AlbError, AlbRouter, Analysis, AnalysisSet, Canary, MemoryFleet, MemoryLog, Phase, Step,
    TargetGroupRouter, TargetHealth, TrafficRollout, TrafficRouter, Verdict, Weights,
};
pub(crate) use tokio::io::{AsyncReadExt, AsyncWriteExt};
pub(crate) use tokio::net::{TcpListener, TcpStream};

// ------------------------------------------------------------ the world

/// An ALB with two target groups and a listener forwarding to the stable
/// one, in moto.
#[derive(Clone)]
pub(crate) struct Alb {
    pub(crate) url: String,
    pub(crate) config: SdkConfig,
    pub(crate) elb: Client,
    pub(crate) listener: String,
    pub(crate) stable: String,
    pub(crate) new: String,
}

/// One EC2 Query API call to moto (the test has no EC2 SDK: what a load
/// balancer needs is a VPC and two subnets); the value of `field` in the
/// answer.
pub(crate) async fn ec2(url: &str, params: &[(&str, &str)], field: &str) -> String {
    let host = url.trim_start_matches("http://");
    let mut body = String::from("Version=2016-11-15");
    for (k, v) in params {
        body.push_str(&format!("&{k}={}", v.replace('/', "%2F")));
    }
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(host)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to moto at {url}: {e}"));
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (open, close) = (format!("<{field}>"), format!("</{field}>"));
    let start = response
        .find(&open)
        .unwrap_or_else(|| panic!("moto's answer to {params:?} has no {field}: {response}"))
        + open.len();
    let end = start + response[start..].find(&close).unwrap();
    response[start..end].to_string()
}

/// The listener's first default action for a new ALB: forward to `stable`
/// with plain `TargetGroupArn`, as most listeners are made.
pub(crate) fn plain_forward(stable: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(stable)
        .build()
}

pub(crate) async fn alb(test: &str) -> Option<Alb> {
    alb_with(test, |stable| vec![plain_forward(stable)]).await
}

/// An ALB whose listener starts with the default actions `actions` gives
/// for the stable group.
pub(crate) async fn alb_with(test: &str, actions: impl FnOnce(&str) -> Vec<Action>) -> Option<Alb> {
    let url = moto_url(test)?;
    let vpc = ec2(
        &url,
        &[("Action", "CreateVpc"), ("CidrBlock", "10.0.0.0/16")],
        "vpcId",
    )
    .await;
    let mut subnets = Vec::new();
    for (cidr, zone) in [("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b")] {
        let subnet = ec2(
            &url,
            &[
                ("Action", "CreateSubnet"),
                ("VpcId", &vpc),
                ("CidrBlock", cidr),
                ("AvailabilityZone", zone),
            ],
            "subnetId",
        )
        .await;
        subnets.push(subnet);
    }
    let config = sdk_config(&url).await;
    let elb = Client::new(&config);
    let lb = elb
        .create_load_balancer()
        .name(unique("alb"))
        .r#type(LoadBalancerTypeEnum::Application)
        .set_subnets(Some(subnets))
        .send()
        .await
        .unwrap();
    let lb = lb.load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    let mut groups = Vec::new();
    for color in ["blue", "green"] {
        let tg = elb
            .create_target_group()
            .name(unique(color))
            .protocol(ProtocolEnum::Http)
            .port(8080)
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        groups.push(
            tg.target_groups()[0]
                .target_group_arn()
                .unwrap()
                .to_string(),
        );
    }
    let listener = elb
        .create_listener()
        .load_balancer_arn(&lb)
        .protocol(ProtocolEnum::Http)
        .port(80)
        .set_default_actions(Some(actions(&groups[0])))
        .send()
        .await
        .unwrap();
    let listener = listener.listeners()[0].listener_arn().unwrap().to_string();
    let new = groups.pop().unwrap();
    let stable = groups.pop().unwrap();
    Some(Alb {
        url,
        config,
        elb,
        listener,
        stable,
        new,
    })
}

impl Alb {
    pub(crate) fn router(&self) -> AlbRouter {
        AlbRouter::with_config(&self.config, &self.listener, &self.stable, &self.new)
            .confirm(Duration::from_secs(5), Duration::from_millis(50))
    }

    /// The listener as DescribeListeners shows it, through the test's own
    /// client.
    pub(crate) async fn listener(&self) -> aws_sdk_elasticloadbalancingv2::types::Listener {
        let out = self
            .elb
            .describe_listeners()
            .listener_arns(&self.listener)
            .send()
            .await
            .unwrap();
        out.listeners()[0].clone()
    }

    /// (stable, new) weights in the listener's forward action; a group
    /// not listed counts 0.
    pub(crate) async fn weights(&self) -> (i32, i32) {
        let groups = self.forwarded().await;
        (
            groups.get(&self.stable).copied().unwrap_or(0),
            groups.get(&self.new).copied().unwrap_or(0),
        )
    }

    /// The groups the listener's forward action lists, with their weights.
    pub(crate) async fn forwarded(&self) -> BTreeMap<String, i32> {
        let l = self.listener().await;
        let forward = l
            .default_actions()
            .iter()
            .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
            .expect("the listener has no forward action");
        let groups: BTreeMap<String, i32> = match forward.forward_config() {
            Some(c) if !c.target_groups().is_empty() => c
                .target_groups()
                .iter()
                .map(|t| {
                    (
                        t.target_group_arn().unwrap().to_string(),
                        t.weight().unwrap(),
                    )
                })
                .collect(),
            _ => BTreeMap::from([(forward.target_group_arn().unwrap().to_string(), 1)]),
        };
        for g in groups.keys() {
            assert!(
                *g == self.stable || *g == self.new,
                "the listener forwards to a third group {g}"
            );
        }
        groups
    }
}
