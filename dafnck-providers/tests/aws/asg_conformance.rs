//! The launch template passes the provider conformance suite against moto.
//! Its change out of band is a new version made the default by hand (a
//! different instance type), its delete the SDK's.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{InstanceType, RequestLaunchTemplateData};
use dafnck_core::provider::Observed;
use dafnck_core::testing::conformance::{conformance, OutOfBand, Sample};
use dafnck_providers::aws::ec2::LaunchTemplate;

use super::support::{moto, tags, Moto};

/// Someone at the EC2 console, for launch templates.
struct TemplateConsole(aws_sdk_ec2::Client);

#[async_trait]
impl OutOfBand for TemplateConsole {
    async fn change(&self, found: &Observed) -> Result<bool, String> {
        let version = self
            .0
            .create_launch_template_version()
            .launch_template_id(&found.id)
            .launch_template_data(
                RequestLaunchTemplateData::builder()
                    .instance_type(InstanceType::M5Large)
                    .build(),
            )
            .send()
            .await
            .map_err(show)?
            .launch_template_version
            .and_then(|v| v.version_number)
            .ok_or("no version number")?;
        self.0
            .modify_launch_template()
            .launch_template_id(&found.id)
            .default_version(version.to_string())
            .send()
            .await
            .map_err(show)?;
        Ok(true)
    }

    async fn delete(&self, found: &Observed) -> Result<(), String> {
        self.0
            .delete_launch_template()
            .launch_template_id(&found.id)
            .send()
            .await
            .map_err(show)?;
        Ok(())
    }
}

/// An SDK error, in full.
pub(crate) fn show(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

fn v(version: &str) -> BTreeMap<String, String> {
    tags(&[("v", version)])
}

/// A launch template's sample: created, then a new version (another
/// instance type, other instance tags) and new template tags.
pub(crate) async fn launch_template_sample(m: &Moto) -> Sample {
    let ami = m.ami().await;
    let a = LaunchTemplate {
        image_id: ami.into(),
        instance_type: "t3.micro".into(),
        user_data: Some("#!/bin/sh\necho hello\n".into()),
        instance_tags: tags(&[("role", "web")]),
        tags: v("1"),
        ..Default::default()
    };
    let b = LaunchTemplate {
        instance_type: "t3.small".into(),
        instance_tags: tags(&[("role", "web"), ("v", "2")]),
        tags: v("2"),
        ..a.clone()
    };
    Sample::new(a, b, TemplateConsole(m.ec2.clone()))
}

#[tokio::test]
async fn the_launch_template_passes_the_provider_conformance_suite() {
    let Some(m) = moto("the_launch_template_passes_the_provider_conformance_suite").await else {
        return;
    };
    let sample = launch_template_sample(&m).await;
    conformance(&m.provider, &[sample]).await.unwrap();
}

#[tokio::test]
async fn a_changed_launch_template_gets_a_new_default_version() {
    let Some(m) = moto("a_changed_launch_template_gets_a_new_default_version").await else {
        return;
    };
    let ami = m.ami().await;
    let program = |instance_type: &'static str| {
        let ami = ami.clone();
        move |stack: &mut dafnck_core::prelude::Stack| -> dafnck_core::Result<()> {
            stack.add(
                "web",
                LaunchTemplate {
                    image_id: ami.into(),
                    instance_type: instance_type.into(),
                    ..Default::default()
                },
            );
            Ok(())
        }
    };
    let engine = m.engine();
    engine.up(program("t3.micro"), false).await.unwrap();
    let first: dafnck_providers::aws::ec2::LaunchTemplateOutputs =
        super::support::outputs(&engine, "web").await;
    assert_eq!((first.latest_version, first.default_version), (1, 1));
    engine.up(program("t3.small"), false).await.unwrap();
    let second: dafnck_providers::aws::ec2::LaunchTemplateOutputs =
        super::support::outputs(&engine, "web").await;
    assert_eq!(second.launch_template_id, first.launch_template_id);
    assert_eq!((second.latest_version, second.default_version), (2, 2));
    let data = m
        .ec2
        .describe_launch_template_versions()
        .launch_template_id(second.launch_template_id.as_str())
        .versions("$Default")
        .send()
        .await
        .unwrap();
    let data = data.launch_template_versions()[0]
        .launch_template_data()
        .unwrap();
    assert_eq!(data.instance_type(), Some(&InstanceType::T3Small));
    engine.destroy().await.unwrap();
    let left = m.ec2.describe_launch_templates().send().await.unwrap();
    assert!(left.launch_templates().is_empty(), "{left:?}");
}
