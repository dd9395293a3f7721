//! Migrating from Terraform against a moto server on 127.0.0.1: a VPC, a
//! subnet, a security group, an internet gateway and a route table
//! made through the AWS API and described by a Terraform state (format 4,
//! written here: no Terraform provider plugin can be fetched), adopted into
//! a program that declares them with typed references. The adoption lists
//! the types it does not map, the import previews as matching the program,
//! a refreshed preview then shows no changes, and destroying the stack
//! leaves nothing.
//!
//! Needs `DAFNCK_MOTO_URL` (`scripts/servers/moto.sh start`, or
//! `scripts/test.sh`); without it the test says it is skipped, unless
//! `DAFNCK_REQUIRE_SERVERS=1`, when it fails.
#![cfg(feature = "aws")]

mod support;

#[path = "support/aws_example.rs"]
mod aws_example;

use std::collections::BTreeMap;

use aws_example::Clients;
use dafnck::core::engine::Engine;
use dafnck::core::state::MemoryStore;
use dafnck::core::terraform::TerraformState;
use dafnck::core::{Action, Providers, Stack};
use dafnck::providers::aws::ec2::{InternetGateway, Route, RouteTable, SecurityGroup, Subnet, Vpc};
use dafnck::providers::aws::sdk::ec2 as sdk_ec2;

/// The program a Terraform user writes for what Terraform managed.
fn infra(stack: &mut Stack) -> dafnck::core::Result<()> {
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

fn terraform_state(ids: &BTreeMap<&str, String>) -> String {
    let provider = r#"provider["registry.terraform.io/hashicorp/aws"]"#;
    let object = |ty: &str, name: &str, index: Option<u32>, attributes: serde_json::Value| {
        let mut instance = serde_json::json!({ "schema_version": 1, "attributes": attributes });
        if let Some(i) = index {
            instance["index_key"] = i.into();
        }
        serde_json::json!({ "mode": "managed", "type": ty, "name": name,
                            "provider": provider, "instances": [instance] })
    };
    serde_json::json!({
        "version": 4,
        "terraform_version": "1.6.6",
        "serial": 7,
        "lineage": "0b7c2f0e-3a3c-4d61-9b0e-2f1f3d1c5a11",
        "outputs": {},
        "resources": [
            { "mode": "data", "type": "aws_availability_zones", "name": "all",
              "provider": provider, "instances": [{ "attributes": { "id": "us-east-1" } }] },
            object("aws_vpc", "main", None, serde_json::json!({
                "id": ids["vpc"], "cidr_block": "10.7.0.0/16", "tags": { "Name": "main" } })),
            object("aws_subnet", "public", Some(0), serde_json::json!({
                "id": ids["subnet"], "vpc_id": ids["vpc"], "cidr_block": "10.7.1.0/24" })),
            object("aws_security_group", "web", None, serde_json::json!({
                "id": ids["sg"], "name": "adopted-web", "vpc_id": ids["vpc"] })),
            object("aws_internet_gateway", "gw", None, serde_json::json!({
                "id": ids["igw"], "vpc_id": ids["vpc"] })),
            object("aws_route_table", "public", None, serde_json::json!({
                "id": ids["rtb"], "vpc_id": ids["vpc"] })),
            object("aws_flow_log", "audit", None, serde_json::json!({ "id": "fl-0123" })),
        ]
    })
    .to_string()
}

#[tokio::test]
async fn a_terraform_state_is_adopted_with_no_changes_then_destroyed() {
    let Some(url) = aws_example::moto_url("adopt_terraform") else {
        return;
    };
    let aws = Clients::new(&url).await;
    let e = &aws.ec2;
    // What Terraform made, made here through the AWS API.
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
    let ids = BTreeMap::from([
        ("vpc", vpc.clone()),
        ("subnet", subnet.clone()),
        ("sg", sg.clone()),
        ("igw", igw.clone()),
        ("rtb", rtb.clone()),
    ]);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("terraform.tfstate");
    std::fs::write(&path, terraform_state(&ids)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let state = TerraformState::parse(&text, &path.display().to_string()).unwrap();
    let adoption = state.adoption(dafnck::providers::aws::terraform::TYPES);
    assert_eq!(adoption.unmapped, vec!["aws_flow_log.audit".to_string()]);
    assert!(adoption.without_id.is_empty());
    let names: Vec<&str> = adoption.imports.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["main", "public-0", "web", "gw", "public"]);

    let config = aws_example::sdk_config(&url).await;
    let provider = dafnck::providers::aws::Provider::with_config(config);
    let engine = Engine::new("dev", MemoryStore::new(), Providers::new().with(provider));

    let preview = engine
        .preview_import(infra, &adoption.imports)
        .await
        .unwrap();
    assert!(preview.matches_program(), "{}", preview.render());
    let report = engine.import_previewed(&preview).await.unwrap();
    assert_eq!(report.imported.len(), 5);
    let recorded = engine.state().await.unwrap();
    assert_eq!(recorded.resources["main"].id, vpc);
    assert_eq!(recorded.resources["public-0"].id, subnet);
    assert_eq!(recorded.resources["web"].id, sg);
    assert_eq!(recorded.resources["gw"].id, igw);
    assert_eq!(recorded.resources["public"].id, rtb);

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
    let left = e
        .describe_vpcs()
        .filters(
            sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&vpc)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(left.vpcs().is_empty(), "the VPC is gone");
    let left = e
        .describe_subnets()
        .filters(
            sdk_ec2::types::Filter::builder()
                .name("subnet-id")
                .values(&subnet)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(left.subnets().is_empty(), "the subnet is gone");
    let left = e
        .describe_security_groups()
        .filters(
            sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(&sg)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(left.security_groups().is_empty(), "the group is gone");
    let left = e
        .describe_internet_gateways()
        .filters(
            sdk_ec2::types::Filter::builder()
                .name("internet-gateway-id")
                .values(&igw)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(left.internet_gateways().is_empty(), "the gateway is gone");
    let left = e
        .describe_route_tables()
        .filters(
            sdk_ec2::types::Filter::builder()
                .name("route-table-id")
                .values(&rtb)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(left.route_tables().is_empty(), "the route table is gone");
}
