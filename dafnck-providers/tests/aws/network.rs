//! Importing a VPC, and internet gateways and route tables.

use dafnck_core::prelude::*;
use dafnck_core::Action;
use dafnck_providers::aws::ec2::{InternetGateway, Route, RouteTable, Subnet, Vpc};

use crate::support::{moto, tag_of, tags};

#[tokio::test]
async fn imports_an_existing_vpc_by_id() {
    let Some(m) = moto("imports_an_existing_vpc_by_id").await else {
        return;
    };
    let made = m
        .ec2
        .create_vpc()
        .cidr_block("10.5.0.0/16")
        .send()
        .await
        .unwrap();
    let id = made.vpc().unwrap().vpc_id().unwrap().to_owned();
    let program = |stack: &mut Stack| {
        stack.add(
            "legacy",
            Vpc {
                cidr_block: "10.5.0.0/16".into(),
                tags: tags(&[("owner", "platform")]),
                ..Default::default()
            },
        );
        Ok(())
    };
    let engine = m.engine();
    engine.import(program, "legacy", &id).await.unwrap();
    let state = engine.state().await.unwrap();
    assert_eq!(state.resources["legacy"].id, id);
    // Recorded as it is: the import changed nothing, the next `up` tags it.
    let vpc = m.ec2.describe_vpcs().vpc_ids(&id).send().await.unwrap();
    assert_eq!(tag_of(vpc.vpcs()[0].tags(), "owner"), None);
    let preview = engine.preview(program, false).await.unwrap();
    assert_eq!(
        preview.plan.change("legacy").unwrap().action,
        dafnck_core::Action::Update
    );
    engine.up(program, false).await.unwrap();
    let vpc = m.ec2.describe_vpcs().vpc_ids(&id).send().await.unwrap();
    assert_eq!(tag_of(vpc.vpcs()[0].tags(), "owner"), Some("platform"));
    assert!(!engine
        .preview(program, true)
        .await
        .unwrap()
        .plan
        .has_changes());
    // A VPC that does not exist cannot be imported.
    let other = m.engine();
    let err = other
        .import(program, "legacy", "vpc-0000000000000000f")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("there is no aws:ec2:Vpc"), "{err}");
}

#[tokio::test]
async fn internet_gateway_and_route_table_are_attached_routed_and_removed() {
    let Some(m) = moto("internet_gateway_and_route_table_are_attached_routed_and_removed").await
    else {
        return;
    };
    let engine = m.engine();
    let program = |routed: bool| {
        move |stack: &mut Stack| {
            let vpc = stack.add(
                "vpc",
                Vpc {
                    cidr_block: "10.0.0.0/16".into(),
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
            let a = stack.add(
                "a",
                Subnet {
                    vpc_id: vpc.out().vpc_id,
                    cidr_block: "10.0.1.0/24".into(),
                    ..Default::default()
                },
            );
            stack.add(
                "public",
                RouteTable {
                    vpc_id: vpc.out().vpc_id,
                    routes: if routed {
                        vec![Route {
                            destination_cidr_block: "0.0.0.0/0".into(),
                            gateway_id: gw.out().internet_gateway_id,
                        }]
                    } else {
                        Vec::new()
                    },
                    subnet_ids: if routed {
                        vec![a.out().subnet_id]
                    } else {
                        Vec::new()
                    },
                    ..Default::default()
                },
            );
            Ok(())
        }
    };
    engine.up(program(true), false).await.unwrap();
    let state = engine.state().await.unwrap();
    let gw_id = state.resources["gw"].id.clone();
    let table_id = state.resources["public"].id.clone();
    let gw = m
        .ec2
        .describe_internet_gateways()
        .internet_gateway_ids(&gw_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        gw.internet_gateways()[0].attachments()[0].vpc_id(),
        Some(state.resources["vpc"].id.as_str())
    );
    let table = m
        .ec2
        .describe_route_tables()
        .route_table_ids(&table_id)
        .send()
        .await
        .unwrap();
    let table = &table.route_tables()[0];
    assert!(table
        .routes()
        .iter()
        .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")
            && r.gateway_id() == Some(gw_id.as_str())));
    assert_eq!(
        table
            .associations()
            .iter()
            .filter(|a| a.main() != Some(true))
            .count(),
        1
    );
    assert!(!engine
        .preview(program(true), true)
        .await
        .unwrap()
        .plan
        .has_changes());

    // Unrouted in place: the route and the association go, the table stays.
    let plan = engine.preview(program(false), false).await.unwrap().plan;
    assert_eq!(
        plan.action("public"),
        Some(Action::Update),
        "{}",
        plan.render()
    );
    engine.up(program(false), false).await.unwrap();
    assert_eq!(
        engine.state().await.unwrap().resources["public"].id,
        table_id
    );
    let table = m
        .ec2
        .describe_route_tables()
        .route_table_ids(&table_id)
        .send()
        .await
        .unwrap();
    let table = &table.route_tables()[0];
    assert!(!table
        .routes()
        .iter()
        .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")));
    assert!(table.associations().iter().all(|a| a.main() == Some(true)));
    assert!(!engine.drift().await.unwrap().has_drift());

    engine.destroy().await.unwrap();
    assert!(
        m.tagged().await.values().all(|n| *n == 0),
        "{:?}",
        m.tagged().await
    );
}
