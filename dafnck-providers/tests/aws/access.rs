//! Key pairs (imported, or made by EC2 with the private key as a secret
//! output) and elastic IPs (associated, moved and released in place).

use aws_sdk_ec2::types::Filter;
use dafnck_core::prelude::*;
use dafnck_core::Action;
use dafnck_providers::aws::ec2::{
    ElasticIp, ElasticIpOutputs, Instance, InstanceOutputs, KeyPair, KeyPairOutputs, Subnet, Vpc,
};

use crate::support::{moto, outputs, tags};

/// A public key for the imported pair (its private half was thrown away).
const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOTjZ4QCul8gxjnqiAFLQ+7h67nnZ6lVoybvo+akmYlZ test";

#[derive(Clone)]
struct Access {
    ami: String,
    /// The name of the imported pair.
    imported_name: &'static str,
    /// A tag on the pair EC2 makes.
    made_owner: &'static str,
    /// Which instance the address is associated with, if any.
    ip_on: Option<usize>,
}

fn stack_of(a: Access) -> impl FnOnce(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let vpc = stack.add(
            "vpc",
            Vpc {
                cidr_block: "10.8.0.0/16".into(),
                ..Default::default()
            },
        );
        let subnet = stack.add(
            "subnet",
            Subnet {
                vpc_id: vpc.out().vpc_id,
                cidr_block: "10.8.1.0/24".into(),
                ..Default::default()
            },
        );
        let made = stack.add(
            "made",
            KeyPair {
                tags: tags(&[("owner", a.made_owner)]),
                ..Default::default()
            },
        );
        stack.add(
            "imported",
            KeyPair {
                key_name: Some(a.imported_name.into()),
                public_key: Some(PUBLIC_KEY.into()),
                ..Default::default()
            },
        );
        let web: Vec<_> = (0..2)
            .map(|i| {
                stack.add(
                    &format!("web-{i}"),
                    Instance {
                        ami: a.ami.clone().into(),
                        instance_type: "t3.micro".into(),
                        subnet_id: subnet.out().subnet_id,
                        key_name: Some(made.out().key_name),
                        ..Default::default()
                    },
                )
            })
            .collect();
        stack.add(
            "ip",
            ElasticIp {
                instance_id: a.ip_on.map(|i| web[i].out().instance_id),
                ..Default::default()
            },
        );
        Ok(())
    }
}

#[tokio::test]
async fn key_pairs_and_elastic_ips_are_made_changed_in_place_and_removed() {
    let Some(m) = moto("key_pairs_and_elastic_ips_are_made_changed_in_place_and_removed").await
    else {
        return;
    };
    let engine = m.engine();
    let first = Access {
        ami: m.ami().await,
        imported_name: "ops",
        made_owner: "a",
        ip_on: Some(0),
    };
    engine.up(stack_of(first.clone()), false).await.unwrap();
    let made: KeyPairOutputs = outputs(&engine, "made").await;
    let key = made.private_key.as_ref().expect("EC2 made the private key");
    assert!(key.expose().contains("PRIVATE KEY"), "a PEM key");
    assert!(made.key_name.starts_with("made-"), "{}", made.key_name);
    let imported: KeyPairOutputs = outputs(&engine, "imported").await;
    assert_eq!(imported.key_name, "ops");
    assert!(imported.private_key.is_none());
    let web0: InstanceOutputs = outputs(&engine, "web-0").await;
    let web1: InstanceOutputs = outputs(&engine, "web-1").await;
    let i = m.instance(web0.instance_id.as_str()).await;
    assert_eq!(i.key_name(), Some(made.key_name.as_str()));
    let ip: ElasticIpOutputs = outputs(&engine, "ip").await;
    let address = |id: String| {
        let ec2 = m.ec2.clone();
        async move {
            let out = ec2
                .describe_addresses()
                .allocation_ids(id)
                .send()
                .await
                .unwrap();
            out.addresses()[0].clone()
        }
    };
    let a = address(ip.allocation_id.to_string()).await;
    assert_eq!(a.instance_id(), Some(web0.instance_id.as_str()));
    assert_eq!(a.public_ip(), Some(ip.public_ip.as_str()));
    // The secret stays out of the rendered plan.
    let preview = engine.preview(stack_of(first.clone()), true).await.unwrap();
    assert!(!preview.plan.has_changes(), "{}", preview.plan.render());
    assert!(!preview.plan.render().contains(key.expose().as_str()));

    // The address moves to web-1 and the made pair's tag changes: in
    // place, the same address, the private key kept.
    let moved = Access {
        made_owner: "b",
        ip_on: Some(1),
        ..first.clone()
    };
    let plan = engine
        .preview(stack_of(moved.clone()), false)
        .await
        .unwrap()
        .plan;
    assert_eq!(plan.action("ip"), Some(Action::Update), "{}", plan.render());
    assert_eq!(plan.change("ip").unwrap().fields, ["instance_id"]);
    assert_eq!(
        plan.action("made"),
        Some(Action::Update),
        "{}",
        plan.render()
    );
    assert_eq!(plan.summary().update, 2, "{}", plan.render());
    engine.up(stack_of(moved.clone()), false).await.unwrap();
    let a = address(ip.allocation_id.to_string()).await;
    assert_eq!(a.instance_id(), Some(web1.instance_id.as_str()));
    assert_eq!(
        a.public_ip(),
        Some(ip.public_ip.as_str()),
        "the same address"
    );
    let after: KeyPairOutputs = outputs(&engine, "made").await;
    assert_eq!(after.key_pair_id, made.key_pair_id);
    assert_eq!(
        after.private_key.as_ref().map(|k| k.expose().clone()),
        Some(key.expose().clone()),
        "the private key outlives an update"
    );
    // By filter: moto ignores `KeyPairIds`.
    let pairs = m
        .ec2
        .describe_key_pairs()
        .filters(
            Filter::builder()
                .name("key-pair-id")
                .values(made.key_pair_id.as_str())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(pairs.key_pairs().len(), 1);
    let owner = pairs.key_pairs()[0]
        .tags()
        .iter()
        .find(|t| t.key() == Some("owner"))
        .and_then(|t| t.value());
    assert_eq!(owner, Some("b"));

    // Detached in place; a new name replaces the imported pair.
    let renamed = Access {
        imported_name: "ops-2",
        ip_on: None,
        ..moved
    };
    let plan = engine
        .preview(stack_of(renamed.clone()), false)
        .await
        .unwrap()
        .plan;
    assert_eq!(plan.action("ip"), Some(Action::Update), "{}", plan.render());
    assert_eq!(
        plan.action("imported"),
        Some(Action::Replace),
        "{}",
        plan.render()
    );
    assert_eq!(
        plan.change("imported").unwrap().replace_because,
        ["key_name"]
    );
    engine.up(stack_of(renamed), false).await.unwrap();
    let a = address(ip.allocation_id.to_string()).await;
    // moto answers an empty id for none.
    assert_eq!(a.instance_id().filter(|i| !i.is_empty()), None);
    let names: Vec<String> = m
        .ec2
        .describe_key_pairs()
        .send()
        .await
        .unwrap()
        .key_pairs()
        .iter()
        .filter_map(|k| k.key_name().map(str::to_owned))
        .collect();
    assert!(names.contains(&"ops-2".to_owned()), "{names:?}");
    assert!(!names.contains(&"ops".to_owned()), "{names:?}");
    assert!(!engine.drift().await.unwrap().has_drift());

    engine.destroy().await.unwrap();
    let pairs = m.ec2.describe_key_pairs().send().await.unwrap();
    assert!(pairs.key_pairs().is_empty(), "{:?}", pairs.key_pairs());
    let addresses = m.ec2.describe_addresses().send().await.unwrap();
    assert!(addresses.addresses().is_empty());
}
