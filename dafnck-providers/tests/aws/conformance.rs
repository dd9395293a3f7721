//! The aws provider passes the provider conformance suite, for each of its
//! eleven types, against moto. What a sample needs around it (a VPC, two
//! subnets, a load balancer, a target group) is made with the SDK first;
//! changes out of band are a tag added by hand, deletes are the SDK's.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::Client;
use aws_sdk_elasticloadbalancingv2::Client as ElbClient;
use dafnck_core::provider::Observed;
use dafnck_core::testing::conformance::{conformance, OutOfBand, Sample};
use dafnck_core::Resource;
use dafnck_providers::aws::ec2::{
    ElasticIp, Instance, InternetGateway, KeyPair, RouteTable, SecurityGroup, Subnet, SubnetId,
    Vpc, VpcId,
};
use dafnck_providers::aws::elbv2::{Forward, Listener, LoadBalancer, TargetGroup};

use super::support::moto;

/// Someone at the AWS console: adds a tag, deletes the object.
struct Console {
    ec2: Client,
    elb: ElbClient,
    type_name: &'static str,
}

fn console<R: Resource>(ec2: &Client, elb: &ElbClient) -> Console {
    Console {
        ec2: ec2.clone(),
        elb: elb.clone(),
        type_name: R::TYPE,
    }
}

#[async_trait]
impl OutOfBand for Console {
    async fn change(&self, found: &Observed) -> Result<bool, String> {
        let id = found.id.clone();
        if self.type_name.starts_with("aws:elbv2:") {
            let tag = aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                .key("changed")
                .value("by hand")
                .build();
            self.elb
                .add_tags()
                .resource_arns(id)
                .tags(tag)
                .send()
                .await
                .map_err(|e| format!("{e:?}"))?;
        } else {
            let tag = aws_sdk_ec2::types::Tag::builder()
                .key("changed")
                .value("by hand")
                .build();
            self.ec2
                .create_tags()
                .resources(id)
                .tags(tag)
                .send()
                .await
                .map_err(|e| format!("{e:?}"))?;
        }
        Ok(true)
    }

    async fn delete(&self, found: &Observed) -> Result<(), String> {
        let id = found.id.clone();
        let (ec2, elb) = (&self.ec2, &self.elb);
        let done = match self.type_name {
            "aws:ec2:Vpc" => ec2
                .delete_vpc()
                .vpc_id(id)
                .send()
                .await
                .map(drop)
                .map_err(show)?,
            "aws:ec2:Subnet" => ec2
                .delete_subnet()
                .subnet_id(id)
                .send()
                .await
                .map(drop)
                .map_err(show)?,
            "aws:ec2:SecurityGroup" => ec2
                .delete_security_group()
                .group_id(id)
                .send()
                .await
                .map(drop)
                .map_err(show)?,
            "aws:ec2:Instance" => ec2
                .terminate_instances()
                .instance_ids(id)
                .send()
                .await
                .map(drop)
                .map_err(show)?,
            "aws:ec2:InternetGateway" => ec2
                .delete_internet_gateway()
                .internet_gateway_id(id)
                .send()
                .await
                .map(drop)
                .map_err(show)?,
            "aws:ec2:RouteTable" => ec2
                .delete_route_table()
                .route_table_id(id)
                .send()
                .await
                .map(drop)
                .map_err(show)?,
            // By name: moto ignores `KeyPairId`.
            "aws:ec2:KeyPair" => ec2
                .delete_key_pair()
                .key_name(
                    found
                        .outputs
                        .get("key_name")
                        .and_then(|n| n.as_str())
                        .unwrap_or_default(),
                )
                .send()
                .await
                .map(drop)
                .map_err(show)?,
            "aws:ec2:ElasticIp" => ec2
                .release_address()
                .allocation_id(id)
                .send()
                .await
                .map(drop)
                .map_err(show)?,
            _ => return delete_elbv2(elb, self.type_name, id).await,
        };
        Ok(done)
    }
}

/// An SDK error, in full.
fn show(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

async fn delete_elbv2(elb: &ElbClient, type_name: &str, arn: String) -> Result<(), String> {
    match type_name {
        "aws:elbv2:LoadBalancer" => elb
            .delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await
            .map(drop)
            .map_err(show)?,
        "aws:elbv2:TargetGroup" => elb
            .delete_target_group()
            .target_group_arn(arn)
            .send()
            .await
            .map(drop)
            .map_err(show)?,
        "aws:elbv2:Listener" => elb
            .delete_listener()
            .listener_arn(arn)
            .send()
            .await
            .map(drop)
            .map_err(show)?,
        other => return Err(format!("no console delete for {other}")),
    };
    Ok(())
}

/// `{"v": version}`: the tags a sample is created with (1) and updated to (2).
fn tags(version: &str) -> BTreeMap<String, String> {
    [("v".to_string(), version.to_string())].into()
}

/// `r` as created, and with the tags of its update.
fn versions<R: Clone>(r: R, set_tags: impl Fn(&mut R, BTreeMap<String, String>)) -> (R, R) {
    let (mut a, mut b) = (r.clone(), r);
    set_tags(&mut a, tags("1"));
    set_tags(&mut b, tags("2"));
    (a, b)
}

macro_rules! sample {
    ($m:expr, $r:expr) => {{
        let (a, b) = versions($r, |r, t| r.tags = t);
        let c = console_of(&a, &$m.ec2, &$m.elb);
        Sample::new(a, b, c)
    }};
}

fn console_of<R: Resource>(_: &R, ec2: &Client, elb: &ElbClient) -> Console {
    console::<R>(ec2, elb)
}

#[tokio::test]
async fn the_aws_provider_passes_the_provider_conformance_suite() {
    let Some(m) = moto("the_aws_provider_passes_the_provider_conformance_suite").await else {
        return;
    };
    // What the samples stand in.
    let vpc = m
        .ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();
    let mut subnets = Vec::new();
    for (i, zone) in ["us-east-1a", "us-east-1b"].into_iter().enumerate() {
        let subnet = m
            .ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("10.0.{}.0/24", 100 + i))
            .availability_zone(zone)
            .send()
            .await
            .unwrap()
            .subnet
            .unwrap()
            .subnet_id
            .unwrap();
        subnets.push(subnet);
    }
    let lb = m
        .elb
        .create_load_balancer()
        .name("conformance-lb")
        .set_subnets(Some(subnets.clone()))
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_owned();
    let tg = m
        .elb
        .create_target_group()
        .name("conformance-tg")
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_owned();
    let vpc_id = || VpcId(vpc.clone()).into();
    let subnet_id = |i: usize| SubnetId(subnets[i].clone()).into();
    let ami = m.ami().await;

    let samples = vec![
        sample!(
            m,
            Vpc {
                cidr_block: "10.1.0.0/16".into(),
                ..Default::default()
            }
        ),
        sample!(
            m,
            Subnet {
                vpc_id: vpc_id(),
                cidr_block: "10.0.1.0/24".into(),
                ..Default::default()
            }
        ),
        sample!(
            m,
            SecurityGroup {
                name: "conformance".into(),
                description: "the suite's".into(),
                vpc_id: vpc_id(),
                ..Default::default()
            }
        ),
        sample!(
            m,
            Instance {
                ami: ami.into(),
                instance_type: "t3.micro".into(),
                subnet_id: subnet_id(0),
                ..Default::default()
            }
        ),
        sample!(m, InternetGateway::default()),
        sample!(
            m,
            RouteTable {
                vpc_id: vpc_id(),
                ..Default::default()
            }
        ),
        sample!(m, KeyPair::default()),
        sample!(m, ElasticIp::default()),
        sample!(
            m,
            LoadBalancer {
                subnet_ids: vec![subnet_id(0), subnet_id(1)],
                ..Default::default()
            }
        ),
        sample!(
            m,
            TargetGroup {
                port: 8080,
                vpc_id: vpc_id(),
                ..Default::default()
            }
        ),
        sample!(
            m,
            Listener {
                load_balancer_arn: dafnck_providers::aws::elbv2::LoadBalancerArn(lb.clone()).into(),
                port: 8081,
                forward: vec![Forward {
                    target_group_arn: dafnck_providers::aws::elbv2::TargetGroupArn(tg.clone())
                        .into(),
                    weight: 1,
                }],
                ..Default::default()
            }
        ),
    ];
    conformance(&m.provider, &samples).await.unwrap();
}
