//! EC2 data sources against moto: a VPC found by its tags and used by a
//! subnet the stack owns (the VPC is never recorded nor deleted), the
//! latest image by name pattern, the region's availability zones (in the
//! preview and in the state's recorded reads), and lookups that find
//! nothing or too much as errors naming the program line.

use dafnck_core::prelude::*;
use dafnck_core::{Error, Value};
use dafnck_providers::aws::ec2::{AmiLookup, AvailabilityZones, Subnet, VpcLookup};

use crate::support::{moto, tags};

async fn tagged_vpc(m: &crate::support::Moto, cidr: &str, role: &str) -> String {
    let made = m.ec2.create_vpc().cidr_block(cidr).send().await.unwrap();
    let id = made.vpc().unwrap().vpc_id().unwrap().to_owned();
    m.ec2
        .create_tags()
        .resources(&id)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("role")
                .value(role)
                .build(),
        )
        .send()
        .await
        .unwrap();
    id
}

fn app(stack: &mut Stack) -> dafnck_core::Result<()> {
    let shared = stack.read(
        "shared",
        VpcLookup {
            tags: tags(&[("role", "shared")]),
        },
    );
    stack.add(
        "app",
        Subnet {
            vpc_id: shared.out().vpc_id,
            cidr_block: "10.7.1.0/24".into(),
            ..Default::default()
        },
    );
    stack.export("cidr", shared.out().cidr_block);
    Ok(())
}

#[tokio::test]
async fn a_vpc_found_by_tags_is_used_and_never_owned() {
    let Some(m) = moto("a_vpc_found_by_tags_is_used_and_never_owned").await else {
        return;
    };
    let shared = tagged_vpc(&m, "10.7.0.0/16", "shared").await;
    tagged_vpc(&m, "10.8.0.0/16", "other").await;
    let engine = m.engine();
    let plan = engine.preview(app, false).await.unwrap().plan;
    let after = plan.change("app").unwrap().after.as_ref().unwrap();
    assert_eq!(after.get("vpc_id"), Some(&Value::from(shared.as_str())));
    assert!(
        plan.render()
            .contains("<= read data source \"shared\" (aws:ec2:VpcLookup)"),
        "{}",
        plan.render()
    );
    engine.up(app, false).await.unwrap();
    let state = engine.state().await.unwrap();
    assert_eq!(state.resources.keys().collect::<Vec<_>>(), ["app"]);
    assert_eq!(state.outputs["cidr"], Value::from("10.7.0.0/16"));
    let subnet = m
        .ec2
        .describe_subnets()
        .subnet_ids(&state.resources["app"].id)
        .send()
        .await
        .unwrap();
    assert_eq!(subnet.subnets()[0].vpc_id(), Some(shared.as_str()));

    engine.destroy().await.unwrap();
    let left = m.ec2.describe_vpcs().vpc_ids(&shared).send().await.unwrap();
    assert_eq!(left.vpcs().len(), 1, "the looked-up VPC is left alone");
}

#[tokio::test]
async fn a_vpc_lookup_matching_none_or_two_is_an_error_at_the_read() {
    let Some(m) = moto("a_vpc_lookup_matching_none_or_two_is_an_error_at_the_read").await else {
        return;
    };
    // The line of the read in `app`.
    let line = include_str!("data_sources.rs")
        .lines()
        .position(|l| l.contains("let shared = stack.read("))
        .unwrap() as u32
        + 1;
    let problems = match m.engine().preview(app, false).await {
        Err(Error::Program(p)) => p,
        other => panic!("expected a program error, got {other:?}"),
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].location.as_ref().unwrap().line, line);
    assert_eq!(
        problems[0].message,
        "data source \"shared\" (aws:ec2:VpcLookup) could not be read: no VPC carries the tags role=shared"
    );
    let a = tagged_vpc(&m, "10.7.0.0/16", "shared").await;
    let b = tagged_vpc(&m, "10.9.0.0/16", "shared").await;
    let problems = match m.engine().preview(app, false).await {
        Err(Error::Program(p)) => p,
        other => panic!("expected a program error, got {other:?}"),
    };
    assert!(
        problems[0]
            .message
            .contains("2 VPCs carry the tags role=shared")
            && problems[0].message.contains(&a)
            && problems[0].message.contains(&b),
        "{}",
        problems[0].message
    );
}

#[tokio::test]
async fn the_latest_image_by_name_is_found() {
    let Some(m) = moto("the_latest_image_by_name_is_found").await else {
        return;
    };
    // moto's own images: the expected answer is computed from the SDK.
    let all = m.ec2.describe_images().send().await.unwrap();
    let mut images: Vec<_> = all
        .images()
        .iter()
        .filter(|i| i.name().is_some_and(|n| n.starts_with("amzn2-ami-")))
        .filter(|i| i.state().map(|s| s.as_str()) == Some("available"))
        .collect();
    assert!(!images.is_empty(), "moto has no amzn2 image");
    images
        .sort_by(|a, b| (a.creation_date(), a.image_id()).cmp(&(b.creation_date(), b.image_id())));
    let expected = images.last().unwrap().image_id().unwrap().to_owned();

    let program = |stack: &mut Stack| {
        let ami = stack.read(
            "ami",
            AmiLookup {
                name: "amzn2-ami-*".into(),
                owners: Vec::new(),
            },
        );
        stack.export("image", ami.out().image_id);
        Ok(())
    };
    let engine = m.engine();
    engine.up(program, false).await.unwrap();
    let state = engine.state().await.unwrap();
    assert_eq!(state.outputs["image"], Value::from(expected.as_str()));

    let missing = |stack: &mut Stack| {
        let ami = stack.read(
            "ami",
            AmiLookup {
                name: "no-such-image-*".into(),
                owners: vec!["self".into()],
            },
        );
        stack.export("image", ami.out().image_id);
        Ok(())
    };
    let problems = match engine.preview(missing, false).await {
        Err(Error::Program(p)) => p,
        other => panic!("expected a program error, got {other:?}"),
    };
    assert_eq!(
        problems[0].message,
        "data source \"ami\" (aws:ec2:AmiLookup) could not be read: no available image named like \"no-such-image-*\" owned by self"
    );
}

fn zones(stack: &mut Stack) -> dafnck_core::Result<()> {
    let zones = stack.read(
        "zones",
        AvailabilityZones {
            zone_type: Some("availability-zone".into()),
            ..Default::default()
        },
    );
    stack.export("names", zones.out().names);
    stack.export("ids", zones.out().zone_ids);
    stack.export("region", zones.out().region);
    Ok(())
}

#[tokio::test]
async fn the_regions_availability_zones_are_read_sorted_and_recorded() {
    let Some(m) = moto("the_regions_availability_zones_are_read_sorted_and_recorded").await else {
        return;
    };
    // The expected answer, from the SDK: available zones, sorted by name,
    // each id beside its name.
    let all = m.ec2.describe_availability_zones().send().await.unwrap();
    let mut expected: Vec<(String, String)> = all
        .availability_zones()
        .iter()
        .filter(|z| z.state().map(|s| s.as_str()) == Some("available"))
        .map(|z| {
            (
                z.zone_name().unwrap().to_owned(),
                z.zone_id().unwrap().to_owned(),
            )
        })
        .collect();
    expected.sort();
    assert!(expected.len() >= 2, "moto lists {expected:?}");
    let (names, ids): (Vec<String>, Vec<String>) = expected.into_iter().unzip();
    let list = |v: &[String]| Value::List(v.iter().map(|s| Value::from(s.as_str())).collect());

    let engine = m.engine();
    let preview = engine.preview(zones, false).await.unwrap().plan;
    assert!(
        preview
            .render()
            .contains("<= read data source \"zones\" (aws:ec2:AvailabilityZones)"),
        "{}",
        preview.render()
    );
    let read = preview.reads[0].record.as_ref().expect("the read's answer");
    assert_eq!(read.answer.get("names"), Some(&list(&names)));
    assert_eq!(read.answer.get("zone_ids"), Some(&list(&ids)));
    assert!(engine.state().await.unwrap().reads.is_empty());

    engine.up(zones, false).await.unwrap();
    let state = engine.state().await.unwrap();
    assert!(state.resources.is_empty(), "zones are never owned");
    assert_eq!(state.outputs["names"], list(&names));
    assert_eq!(state.outputs["ids"], list(&ids));
    assert_eq!(state.outputs["region"], Value::from("us-east-1"));
    let recorded = &state.reads["zones"];
    assert_eq!(recorded.type_name, "aws:ec2:AvailabilityZones");
    assert_eq!(
        recorded.query.get("zone_type"),
        Some(&Value::from("availability-zone"))
    );
    assert_eq!(recorded.answer.get("names"), Some(&list(&names)));
    // Read again by drift: the same answer.
    let drift = engine.drift().await.unwrap();
    assert!(drift.reads.is_empty(), "{:?}", drift.reads);

    // A filter that matches nothing is an error naming it.
    let local = |stack: &mut Stack| {
        let zones = stack.read(
            "local",
            AvailabilityZones {
                zone_type: Some("local-zone".into()),
                ..Default::default()
            },
        );
        stack.export("names", zones.out().names);
        Ok(())
    };
    let problems = match engine.preview(local, false).await {
        Err(Error::Program(p)) => p,
        other => panic!("expected a program error, got {other:?}"),
    };
    assert_eq!(
        problems[0].message,
        "data source \"local\" (aws:ec2:AvailabilityZones) could not be read: no availability zone of region \"us-east-1\" matches (state available, zone type local-zone)"
    );
}
