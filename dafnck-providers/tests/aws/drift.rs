//! Changes made outside the program: reported by drift, repaired by
//! `up --refresh`.

use aws_sdk_ec2::types::{IpPermission, IpRange};
use dafnck_core::drift::DriftKind;
use dafnck_providers::aws::ec2::InstanceOutputs;

use crate::support::{first_web, moto, outputs, web};

#[tokio::test]
async fn drift_outside_the_program_is_reported_and_repaired() {
    let Some(m) = moto("drift_outside_the_program_is_reported_and_repaired").await else {
        return;
    };
    let engine = m.engine();
    let w = first_web(m.ami().await);
    engine.up(web(w.clone()), false).await.unwrap();
    let first: InstanceOutputs = outputs(&engine, "web").await;
    let group = m
        .instance(first.instance_id.as_str())
        .await
        .security_groups()[0]
        .group_id()
        .unwrap()
        .to_owned();

    // Someone opens SSH to the world, closes HTTP, and terminates the web
    // server.
    m.ec2
        .authorize_security_group_ingress()
        .group_id(&group)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    m.ec2
        .revoke_security_group_ingress()
        .group_id(&group)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(80)
                .to_port(80)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    m.ec2
        .terminate_instances()
        .instance_ids(first.instance_id.as_str())
        .send()
        .await
        .unwrap();

    let drift = engine.drift().await.unwrap();
    assert_eq!(drift.drifted.len(), 2, "{}", drift.render());
    assert_eq!(drift.get("web").unwrap().kind, DriftKind::Deleted);
    let sg = drift.get("web-sg").expect("the security group drifted");
    assert_eq!(sg.kind, DriftKind::Changed);
    assert_eq!(sg.fields.len(), 1);
    assert_eq!(sg.fields[0].field, "ingress");
    let actual = sg.fields[0].actual.render();
    assert!(
        actual.contains("0.0.0.0/0") && actual.contains("22"),
        "{actual}"
    );

    // up --refresh puts both back.
    engine.up(web(w.clone()), true).await.unwrap();
    assert!(!engine.drift().await.unwrap().has_drift());
    let second: InstanceOutputs = outputs(&engine, "web").await;
    assert_ne!(second.instance_id, first.instance_id);
    let live = m.live_instances().await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].instance_id(), Some(second.instance_id.as_str()));
    let sg = m
        .ec2
        .describe_security_groups()
        .group_ids(&group)
        .send()
        .await
        .unwrap();
    let mut rules: Vec<_> = sg.security_groups()[0]
        .ip_permissions()
        .iter()
        .flat_map(|p| {
            p.ip_ranges()
                .iter()
                .map(|r| (p.from_port().unwrap(), r.cidr_ip().unwrap().to_owned()))
        })
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        [(22, "10.8.0.0/16".to_owned()), (80, "0.0.0.0/0".to_owned())]
    );
    engine.destroy().await.unwrap();
}

/// VPCs are read in one DescribeVpcs per batch: a refresh of three finds
/// the one deleted and the one retagged outside the program.
#[tokio::test]
async fn vpcs_read_in_a_batch_report_their_drift() {
    use dafnck_core::Stack;
    use dafnck_providers::aws::ec2::{Vpc, VpcOutputs};

    let Some(m) = moto("vpcs_read_in_a_batch_report_their_drift").await else {
        return;
    };
    assert!(dafnck_core::Provider::reads_in_batches(
        &m.provider,
        <Vpc as dafnck_core::Resource>::TYPE
    ));
    fn three(stack: &mut Stack) -> dafnck_core::Result<()> {
        for (i, name) in ["a", "b", "c"].into_iter().enumerate() {
            stack.add(
                name,
                Vpc {
                    cidr_block: format!("10.{i}.0.0/16").into(),
                    ..Default::default()
                },
            );
        }
        Ok(())
    }
    let engine = m.engine();
    engine.up(three, false).await.unwrap();
    let a: VpcOutputs = outputs(&engine, "a").await;
    let b: VpcOutputs = outputs(&engine, "b").await;
    m.ec2
        .delete_vpc()
        .vpc_id(a.vpc_id.as_str())
        .send()
        .await
        .unwrap();
    m.ec2
        .create_tags()
        .resources(b.vpc_id.as_str())
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("owner")
                .value("someone")
                .build(),
        )
        .send()
        .await
        .unwrap();

    let report = engine.drift().await.unwrap();

    assert_eq!(report.checked, 3);
    assert_eq!(report.drifted.len(), 2, "{report:?}");
    assert_eq!(report.get("a").unwrap().kind, DriftKind::Deleted);
    let changed = report.get("b").unwrap();
    assert_eq!(changed.kind, DriftKind::Changed);
    assert_eq!(changed.fields[0].field, "tags");
}

/// Every batched EC2 type reads a batch of two, one deleted outside the
/// program, as one found and one absent: an id AWS no longer knows does not
/// fail the batch.
#[tokio::test]
async fn ec2_types_read_in_batches_find_the_deleted_one_absent() {
    use dafnck_core::{Resource, Stack};
    use dafnck_providers::aws::ec2::{
        ElasticIp, ElasticIpOutputs, Instance, InternetGateway, InternetGatewayOutputs, KeyPair,
        KeyPairOutputs, RouteTable, RouteTableOutputs, SecurityGroup, SecurityGroupOutputs, Subnet,
        SubnetOutputs, Vpc, VpcOutputs,
    };

    let Some(m) = moto("ec2_types_read_in_batches_find_the_deleted_one_absent").await else {
        return;
    };
    for type_name in [
        Subnet::TYPE,
        SecurityGroup::TYPE,
        InternetGateway::TYPE,
        RouteTable::TYPE,
        ElasticIp::TYPE,
        KeyPair::TYPE,
        Instance::TYPE,
    ] {
        assert!(
            dafnck_core::Provider::reads_in_batches(&m.provider, type_name),
            "{type_name}"
        );
    }
    let ami = m.ami().await;
    let pairs = move |stack: &mut Stack| -> dafnck_core::Result<()> {
        let vpc = stack.add(
            "net",
            Vpc {
                cidr_block: "10.9.0.0/16".to_string().into(),
                ..Default::default()
            },
        );
        let vpc_id = vpc.out().vpc_id;
        let mut subnets = Vec::new();
        for i in 1..=2 {
            subnets.push(stack.add(
                &format!("s{i}"),
                Subnet {
                    vpc_id: vpc_id.clone(),
                    cidr_block: format!("10.9.{i}.0/24").into(),
                    ..Default::default()
                },
            ));
            stack.add(
                &format!("g{i}"),
                SecurityGroup {
                    name: format!("batch-{i}").into(),
                    description: "batched".to_string().into(),
                    vpc_id: vpc_id.clone(),
                    ..Default::default()
                },
            );
            stack.add(&format!("i{i}"), InternetGateway::default());
            stack.add(
                &format!("r{i}"),
                RouteTable {
                    vpc_id: vpc_id.clone(),
                    ..Default::default()
                },
            );
            stack.add(&format!("e{i}"), ElasticIp::default());
            stack.add(&format!("k{i}"), KeyPair::default());
            stack.add(
                &format!("vm{i}"),
                Instance {
                    ami: ami.clone().into(),
                    instance_type: "t3.micro".to_string().into(),
                    subnet_id: subnets[0].out().subnet_id,
                    ..Default::default()
                },
            );
        }
        Ok(())
    };
    let engine = m.engine();
    engine.up(pairs, false).await.unwrap();
    let _: VpcOutputs = outputs(&engine, "net").await;
    let s2: SubnetOutputs = outputs(&engine, "s2").await;
    let g2: SecurityGroupOutputs = outputs(&engine, "g2").await;
    let i2: InternetGatewayOutputs = outputs(&engine, "i2").await;
    let r2: RouteTableOutputs = outputs(&engine, "r2").await;
    let e2: ElasticIpOutputs = outputs(&engine, "e2").await;
    let k2: KeyPairOutputs = outputs(&engine, "k2").await;
    let vm2: InstanceOutputs = outputs(&engine, "vm2").await;
    let ec2 = &m.ec2;
    ec2.delete_subnet()
        .subnet_id(s2.subnet_id.as_str())
        .send()
        .await
        .unwrap();
    ec2.delete_security_group()
        .group_id(g2.security_group_id.as_str())
        .send()
        .await
        .unwrap();
    ec2.delete_internet_gateway()
        .internet_gateway_id(i2.internet_gateway_id.as_str())
        .send()
        .await
        .unwrap();
    ec2.delete_route_table()
        .route_table_id(r2.route_table_id.as_str())
        .send()
        .await
        .unwrap();
    ec2.release_address()
        .allocation_id(e2.allocation_id.as_str())
        .send()
        .await
        .unwrap();
    // By name: moto ignores a `KeyPairId` here.
    ec2.delete_key_pair()
        .key_name(k2.key_name.as_str())
        .send()
        .await
        .unwrap();

    // A terminated instance reads as absent, as in its single read.
    ec2.terminate_instances()
        .instance_ids(vm2.instance_id.as_str())
        .send()
        .await
        .unwrap();

    let report = engine.drift().await.unwrap();

    assert_eq!(report.checked, 15);
    let mut deleted: Vec<&str> = report.drifted.iter().map(|d| d.name.as_str()).collect();
    deleted.sort_unstable();
    assert_eq!(
        deleted,
        ["e2", "g2", "i2", "k2", "r2", "s2", "vm2"],
        "{report:?}"
    );
    for name in deleted {
        assert_eq!(report.get(name).unwrap().kind, DriftKind::Deleted, "{name}");
    }
}
