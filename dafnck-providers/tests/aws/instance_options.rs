//! An instance's metadata options (IMDSv2) and EBS volumes against moto:
//! made as declared, read back without drift, a change by hand reported
//! and repaired in place, a new hop limit updated in place, a new volume
//! size a replacement.

use aws_sdk_ec2::types::{Filter, HttpTokensState};
use dafnck_core::drift::DriftKind;
use dafnck_core::prelude::*;
use dafnck_core::Action;
use dafnck_providers::aws::ec2::{
    BlockDevice, HttpTokens, Instance, InstanceOutputs, MetadataOptions, Subnet, SubnetId, Vpc,
};

use crate::support::{moto, outputs};

/// A VPC `10.{n}.0.0/16` with one subnet; the subnet's id.
fn subnet(stack: &mut Stack, n: u8) -> Input<SubnetId> {
    let vpc = stack.add(
        "vpc",
        Vpc {
            cidr_block: format!("10.{n}.0.0/16").into(),
            ..Default::default()
        },
    );
    stack
        .add(
            "subnet",
            Subnet {
                vpc_id: vpc.out().vpc_id,
                cidr_block: format!("10.{n}.1.0/24").into(),
                ..Default::default()
            },
        )
        .out()
        .subnet_id
}

fn program(
    ami: String,
    hop_limit: i32,
    root_size: i32,
) -> impl FnOnce(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let subnet_id = subnet(stack, 4);
        stack.add(
            "vm",
            Instance {
                ami: ami.into(),
                instance_type: "t3.micro".into(),
                subnet_id,
                metadata_options: Some(MetadataOptions {
                    http_tokens: HttpTokens::Required,
                    http_put_response_hop_limit: hop_limit,
                    http_endpoint: true,
                }),
                block_devices: vec![
                    BlockDevice {
                        device_name: "/dev/xvda".into(),
                        volume_size: Some(root_size),
                        volume_type: Some("gp3".into()),
                        encrypted: true,
                        ..Default::default()
                    },
                    BlockDevice {
                        device_name: "/dev/sdf".into(),
                        volume_size: Some(20),
                        volume_type: Some("gp2".into()),
                        encrypted: false,
                        delete_on_termination: true,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
        );
        Ok(())
    }
}

/// (device, size, type, encrypted) of the instance's volumes, by device.
async fn volumes(m: &crate::support::Moto, id: &str) -> Vec<(String, i32, String, bool)> {
    let found = m
        .ec2
        .describe_volumes()
        .filters(
            Filter::builder()
                .name("attachment.instance-id")
                .values(id)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut v: Vec<_> = found
        .volumes()
        .iter()
        .map(|v| {
            (
                v.attachments()[0].device().unwrap_or_default().to_owned(),
                v.size().unwrap_or_default(),
                v.volume_type()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default(),
                v.encrypted().unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn metadata_options_and_volumes_are_made_read_and_changed() {
    let Some(m) = moto("metadata_options_and_volumes_are_made_read_and_changed").await else {
        return;
    };
    let engine = m.engine();
    let ami = m.ami().await;
    engine.up(program(ami.clone(), 2, 16), false).await.unwrap();
    let vm: InstanceOutputs = outputs(&engine, "vm").await;
    let id = vm.instance_id.as_str();

    let found = m.instance(id).await;
    let options = found
        .metadata_options()
        .expect("moto reports metadata options");
    assert_eq!(options.http_tokens(), Some(&HttpTokensState::Required));
    assert_eq!(options.http_put_response_hop_limit(), Some(2));
    assert_eq!(
        volumes(&m, id).await,
        [
            ("/dev/sdf".to_owned(), 20, "gp2".to_owned(), false),
            ("/dev/xvda".to_owned(), 16, "gp3".to_owned(), true),
        ]
    );

    // Read back as declared: nothing to change.
    let again = engine
        .preview(program(ami.clone(), 2, 16), true)
        .await
        .unwrap();
    assert!(!again.plan.has_changes(), "{}", again.plan.render());

    // Someone turns IMDSv1 back on: drift names the field, `up --refresh`
    // puts it back in place.
    m.ec2
        .modify_instance_metadata_options()
        .instance_id(id)
        .http_tokens(HttpTokensState::Optional)
        .http_put_response_hop_limit(2)
        .send()
        .await
        .unwrap();
    let drift = engine.drift().await.unwrap();
    let vm_drift = drift.get("vm").expect("the instance drifted");
    assert_eq!(vm_drift.kind, DriftKind::Changed);
    assert_eq!(vm_drift.fields.len(), 1, "{}", drift.render());
    assert_eq!(vm_drift.fields[0].field, "metadata_options");
    assert!(vm_drift.fields[0].actual.render().contains("optional"));
    engine.up(program(ami.clone(), 2, 16), true).await.unwrap();
    let options = m.instance(id).await.metadata_options().cloned().unwrap();
    assert_eq!(options.http_tokens(), Some(&HttpTokensState::Required));
    assert!(!engine.drift().await.unwrap().has_drift());

    // A new hop limit is changed in place.
    let hop = engine
        .preview(program(ami.clone(), 3, 16), false)
        .await
        .unwrap();
    assert_eq!(hop.plan.action("vm"), Some(Action::Update));
    engine.up(program(ami.clone(), 3, 16), false).await.unwrap();
    let after: InstanceOutputs = outputs(&engine, "vm").await;
    assert_eq!(after.instance_id.as_str(), id);
    let options = m.instance(id).await.metadata_options().cloned().unwrap();
    assert_eq!(options.http_put_response_hop_limit(), Some(3));

    // A bigger root volume is a new instance.
    let bigger = engine
        .preview(program(ami.clone(), 3, 32), false)
        .await
        .unwrap();
    assert_eq!(bigger.plan.action("vm"), Some(Action::Replace));

    engine.destroy().await.unwrap();
    assert!(m.live_instances().await.is_empty());
}

#[tokio::test]
async fn a_kms_key_without_encryption_is_refused_naming_the_resource() {
    let Some(m) = moto("a_kms_key_without_encryption_is_refused_naming_the_resource").await else {
        return;
    };
    let engine = m.engine();
    let ami = m.ami().await;
    let err = engine
        .up(
            move |stack: &mut Stack| {
                let subnet_id = subnet(stack, 5);
                stack.add(
                    "vm",
                    Instance {
                        ami: ami.into(),
                        instance_type: "t3.micro".into(),
                        subnet_id,
                        block_devices: vec![BlockDevice {
                            device_name: "/dev/xvda".into(),
                            kms_key_id: Some("alias/data".into()),
                            ..Default::default()
                        }],
                        ..Default::default()
                    },
                );
                Ok(())
            },
            false,
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"vm\"") && err.contains("kms_key_id") && err.contains("encrypted = true"),
        "{err}"
    );
    assert!(m.live_instances().await.is_empty());
}
