//! What `tests/adopt_terraform.rs` and `tests/adopt_pulumi.rs` share: the
//! objects another tool made (a VPC, a subnet, a security group, an internet
//! gateway and a route table, made here through the AWS API), the program
//! that declares them with typed references, and the adoption of them into
//! a stack, checked to preview with no changes, then destroyed and counted
//! gone. Included by both, whose crates declare `aws_example`.

#![allow(dead_code)]

use std::collections::BTreeMap;

use dafnck::core::engine::{Engine, ImportSpec};
use dafnck::core::state::MemoryStore;
use dafnck::core::{Action, Providers, Stack};
use dafnck::providers::aws::ec2::{InternetGateway, Route, RouteTable, SecurityGroup, Subnet, Vpc};
use dafnck::providers::aws::sdk::ec2 as sdk_ec2;

use crate::aws_example::Clients;

/// The program a Terraform or Pulumi user writes for what that tool
/// managed.
pub fn infra(stack: &mut Stack) -> dafnck::core::Result<()> {
    let vpc = stack.add(
        "main",
        Vpc {
            cidr_block: "10.7.0.0/16".into(),
            tags: BTreeMap::from([("Name".into(), "main".into())]),
            ..Default::default()
        },
    );
    let subnet = stack.add(
        "public-0",
        Subnet {
            vpc_id: vpc.out().vpc_id,
            cidr_block: "10.7.1.0/24".into(),
            availability_zone: Some("us-east-1a".into()),
            ..Default::default()
        },
    );
    stack.add(
        "web",
        SecurityGroup {
            name: "adopted-web".into(),
            description: "web servers".into(),
            vpc_id: vpc.out().vpc_id,
            ..Default::default()
        },
    );
    let gw = stack.add(
        "gw",
        InternetGateway {
            vpc_id: Some(vpc.out().vpc_id),
            ..Default::default()
        },
    );
    stack.add(
        "public",
        RouteTable {
            vpc_id: vpc.out().vpc_id,
            routes: vec![Route {
                destination_cidr_block: "0.0.0.0/0".into(),
                gateway_id: gw.out().internet_gateway_id,
            }],
            subnet_ids: vec![subnet.out().subnet_id],
            ..Default::default()
        },
    );
    Ok(())
}

/// The ids of the objects [`make`] made.
pub struct Made {
    pub vpc: String,
    pub subnet: String,
    pub sg: String,
    pub igw: String,
    pub rtb: String,
}

impl Made {
    /// `(program name, id)` of each object, in the program's order.
    pub fn by_name(&self) -> [(&'static str, &str); 5] {
        [
            ("main", &self.vpc),
            ("public-0", &self.subnet),
            ("web", &self.sg),
            ("gw", &self.igw),
            ("public", &self.rtb),
        ]
    }
}

/// Makes, through the AWS API, what [`infra`] declares.
pub async fn make(aws: &Clients) -> Made {
    let e = &aws.ec2;
    let vpc = e
        .create_vpc()
        .cidr_block("10.7.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    e.create_tags()
        .resources(&vpc)
        .tags(
            sdk_ec2::types::Tag::builder()
                .key("Name")
                .value("main")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let subnet = e
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.7.1.0/24")
        .availability_zone("us-east-1a")
        .send()
        .await
        .unwrap();
    let subnet = subnet.subnet().unwrap().subnet_id().unwrap().to_owned();
    let sg = e
        .create_security_group()
        .group_name("adopted-web")
        .description("web servers")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let sg = sg.group_id().unwrap().to_owned();
    let igw = e.create_internet_gateway().send().await.unwrap();
    let igw = igw
        .internet_gateway()
        .unwrap()
        .internet_gateway_id()
        .unwrap()
        .to_owned();
    e.attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let rtb = e.create_route_table().vpc_id(&vpc).send().await.unwrap();
    let rtb = rtb
        .route_table()
        .unwrap()
        .route_table_id()
        .unwrap()
        .to_owned();
    e.create_route()
        .route_table_id(&rtb)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .unwrap();
    e.associate_route_table()
        .route_table_id(&rtb)
        .subnet_id(&subnet)
        .send()
        .await
        .unwrap();
    Made {
        vpc,
        subnet,
        sg,
        igw,
        rtb,
    }
}

/// Imports `imports` into a new stack of [`infra`] with `provider`, checks
/// the import previews as matching the program, records exactly `made`, a
/// refreshed preview then shows no changes, and destroying the stack leaves
/// none of the objects.
pub async fn adopt_then_destroy(
    aws: &Clients,
    provider: dafnck::providers::aws::Provider,
    imports: &[ImportSpec],
    made: &Made,
) {
    let engine = Engine::new("dev", MemoryStore::new(), Providers::new().with(provider));
    let preview = engine.preview_import(infra, imports).await.unwrap();
    assert!(preview.matches_program(), "{}", preview.render());
    let report = engine.import_previewed(&preview).await.unwrap();
    assert_eq!(report.imported.len(), 5);
    let recorded = engine.state().await.unwrap();
    for (name, id) in made.by_name() {
        assert_eq!(recorded.resources[name].id, id, "{name}");
    }

    let refreshed = engine.preview(infra, true).await.unwrap();
    assert!(
        !refreshed.has_work(),
        "the adopted objects are as the program declares:\n{}",
        refreshed.plan.render()
    );
    for c in &refreshed.plan.changes {
        assert_eq!(c.action, Action::NoOp, "{}", c.name);
    }

    engine.destroy().await.unwrap();
    assert_nothing_left(aws, made).await;
}

/// Asserts none of the objects `made` names exists any more.
async fn assert_nothing_left(aws: &Clients, made: &Made) {
    let e = &aws.ec2;
    let filter = |name: &str, id: &str| {
        sdk_ec2::types::Filter::builder()
            .name(name)
            .values(id)
            .build()
    };
    let left = e
        .describe_vpcs()
        .filters(filter("vpc-id", &made.vpc))
        .send()
        .await
        .unwrap();
    assert!(left.vpcs().is_empty(), "the VPC is gone");
    let left = e
        .describe_subnets()
        .filters(filter("subnet-id", &made.subnet))
        .send()
        .await
        .unwrap();
    assert!(left.subnets().is_empty(), "the subnet is gone");
    let left = e
        .describe_security_groups()
        .filters(filter("group-id", &made.sg))
        .send()
        .await
        .unwrap();
    assert!(left.security_groups().is_empty(), "the group is gone");
    let left = e
        .describe_internet_gateways()
        .filters(filter("internet-gateway-id", &made.igw))
        .send()
        .await
        .unwrap();
    assert!(left.internet_gateways().is_empty(), "the gateway is gone");
    let left = e
        .describe_route_tables()
        .filters(filter("route-table-id", &made.rtb))
        .send()
        .await
        .unwrap();
    assert!(left.route_tables().is_empty(), "the route table is gone");
}
