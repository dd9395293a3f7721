//! The launch template, Auto Scaling and CloudWatch types pass the provider
//! conformance suite against moto. A launch template's change out of band
//! is a new version made the default by hand (a different instance type); a
//! group's a maximum size set by hand, a policy's a target put by hand, an
//! alarm's a tag added by hand; deletes are the SDK's.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{
    MetricType, PredefinedMetricSpecification, TargetTrackingConfiguration,
};
use aws_sdk_ec2::types::{InstanceType, RequestLaunchTemplateData};
use dafnck_core::provider::Observed;
use dafnck_core::testing::conformance::{conformance, OutOfBand, Sample};
use dafnck_core::Resource;
use dafnck_providers::aws::autoscaling::{AutoScalingGroup, HealthCheckType, ScalingPolicy};
use dafnck_providers::aws::cloudwatch::{
    ComparisonOperator, MetricAlarm, Statistic, TreatMissingData,
};
use dafnck_providers::aws::ec2::{LaunchTemplate, LaunchTemplateId, SubnetId};

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

/// Someone at the Auto Scaling and CloudWatch consoles.
struct FleetConsole {
    autoscaling: aws_sdk_autoscaling::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    type_name: &'static str,
}

#[async_trait]
impl OutOfBand for FleetConsole {
    async fn change(&self, found: &Observed) -> Result<bool, String> {
        let id = found.id.clone();
        match self.type_name {
            "aws:autoscaling:AutoScalingGroup" => {
                self.autoscaling
                    .update_auto_scaling_group()
                    .auto_scaling_group_name(id)
                    .max_size(5)
                    .send()
                    .await
                    .map_err(show)?;
            }
            "aws:autoscaling:ScalingPolicy" => {
                let (group, name) = policy_names(&id)?;
                self.autoscaling
                    .put_scaling_policy()
                    .auto_scaling_group_name(group)
                    .policy_name(name)
                    .policy_type("TargetTrackingScaling")
                    .target_tracking_configuration(
                        TargetTrackingConfiguration::builder()
                            .predefined_metric_specification(
                                PredefinedMetricSpecification::builder()
                                    .predefined_metric_type(MetricType::AsgAverageCpuUtilization)
                                    .build(),
                            )
                            .target_value(30.0)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(show)?;
            }
            _ => {
                let arn = found
                    .outputs
                    .get("arn")
                    .and_then(|a| a.as_str())
                    .unwrap_or_default()
                    .to_owned();
                self.cloudwatch
                    .tag_resource()
                    .resource_arn(arn)
                    .tags(
                        aws_sdk_cloudwatch::types::Tag::builder()
                            .key("changed")
                            .value("by hand")
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(show)?;
            }
        }
        Ok(true)
    }

    async fn delete(&self, found: &Observed) -> Result<(), String> {
        let id = found.id.clone();
        match self.type_name {
            "aws:autoscaling:AutoScalingGroup" => {
                self.autoscaling
                    .delete_auto_scaling_group()
                    .auto_scaling_group_name(id)
                    .force_delete(true)
                    .send()
                    .await
                    .map_err(show)?;
            }
            "aws:autoscaling:ScalingPolicy" => {
                let (group, name) = policy_names(&id)?;
                self.autoscaling
                    .delete_policy()
                    .auto_scaling_group_name(group)
                    .policy_name(name)
                    .send()
                    .await
                    .map_err(show)?;
            }
            _ => {
                self.cloudwatch
                    .delete_alarms()
                    .alarm_names(id)
                    .send()
                    .await
                    .map_err(show)?;
            }
        }
        Ok(())
    }
}

/// The group and policy names in a scaling policy's ARN.
fn policy_names(arn: &str) -> Result<(String, String), String> {
    let (_, rest) = arn
        .split_once(":autoScalingGroupName/")
        .ok_or_else(|| format!("not a policy ARN: {arn}"))?;
    let (group, name) = rest
        .split_once(":policyName/")
        .ok_or_else(|| format!("not a policy ARN: {arn}"))?;
    Ok((group.to_owned(), name.to_owned()))
}

fn fleet_console<R: Resource>(m: &Fleet) -> FleetConsole {
    FleetConsole {
        autoscaling: m.autoscaling.clone(),
        cloudwatch: m.cloudwatch.clone(),
        type_name: R::TYPE,
    }
}

/// What the samples of the fleet's types stand on, made with the SDK.
struct Fleet {
    autoscaling: aws_sdk_autoscaling::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    template: String,
    subnets: Vec<String>,
    /// A group for the policy sample.
    group: String,
}

async fn fleet(m: &Moto) -> Fleet {
    let autoscaling = m.provider.autoscaling_client().await.clone();
    let cloudwatch = m.provider.cloudwatch_client().await.clone();
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
    let template = m
        .ec2
        .create_launch_template()
        .launch_template_name("fleet")
        .launch_template_data(
            RequestLaunchTemplateData::builder()
                .image_id(m.ami().await)
                .instance_type(InstanceType::T3Micro)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .launch_template
        .unwrap()
        .launch_template_id
        .unwrap();
    autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name("fleet")
        .launch_template(
            aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                .launch_template_id(&template)
                .build(),
        )
        .min_size(0)
        .max_size(2)
        .vpc_zone_identifier(subnets.join(","))
        .send()
        .await
        .unwrap();
    Fleet {
        autoscaling,
        cloudwatch,
        template,
        subnets,
        group: "fleet".into(),
    }
}

/// The samples of the Auto Scaling and CloudWatch types.
async fn fleet_samples(m: &Moto) -> Vec<Sample> {
    let f = fleet(m).await;
    let group = AutoScalingGroup {
        launch_template_id: LaunchTemplateId(f.template.clone()).into(),
        min_size: 1,
        max_size: 2,
        subnet_ids: f
            .subnets
            .iter()
            .map(|s| SubnetId(s.clone()).into())
            .collect(),
        health_check_grace_period: 120,
        tags: v("1"),
        ..Default::default()
    };
    let group_updated = AutoScalingGroup {
        max_size: 3,
        desired_capacity: Some(2),
        health_check_type: HealthCheckType::Elb,
        tags: v("2"),
        ..group.clone()
    };
    let policy = ScalingPolicy {
        auto_scaling_group_name: f.group.clone().into(),
        target_value: 70.0,
        ..Default::default()
    };
    let policy_updated = ScalingPolicy {
        target_value: 50.0,
        disable_scale_in: true,
        ..policy.clone()
    };
    let alarm = MetricAlarm {
        namespace: "AWS/EC2".into(),
        metric_name: "CPUUtilization".into(),
        dimensions: [("AutoScalingGroupName".to_string(), f.group.clone().into())].into(),
        period: 60,
        evaluation_periods: 2,
        threshold: 90.0,
        comparison_operator: ComparisonOperator::GreaterThanThreshold,
        alarm_actions: vec!["arn:aws:sns:us-east-1:123456789012:on-call"
            .to_string()
            .into()],
        treat_missing_data: TreatMissingData::NotBreaching,
        tags: v("1"),
        ..Default::default()
    };
    let alarm_updated = MetricAlarm {
        threshold: 80.0,
        statistic: Statistic::Maximum,
        tags: v("2"),
        ..alarm.clone()
    };
    vec![
        Sample::new(group, group_updated, fleet_console::<AutoScalingGroup>(&f)),
        Sample::new(policy, policy_updated, fleet_console::<ScalingPolicy>(&f)),
        Sample::new(alarm, alarm_updated, fleet_console::<MetricAlarm>(&f)),
    ]
}

#[tokio::test]
async fn the_auto_scaling_and_cloudwatch_types_pass_the_provider_conformance_suite() {
    let Some(m) =
        moto("the_auto_scaling_and_cloudwatch_types_pass_the_provider_conformance_suite").await
    else {
        return;
    };
    let samples = fleet_samples(&m).await;
    conformance(&m.provider, &samples).await.unwrap();
}

/// A create with the engine's token, as the engine calls it.
pub(crate) async fn create<R: Resource + serde::Serialize>(
    m: &Moto,
    inputs: &R,
    token: &str,
) -> Result<String, dafnck_core::ProviderError> {
    let created = dafnck_core::Provider::create(
        &m.provider,
        dafnck_core::provider::CreateRequest {
            name: "again".into(),
            stack: "test".into(),
            type_name: R::TYPE.into(),
            inputs: dafnck_core::Value::from_serialize(inputs).unwrap(),
            token: token.into(),
        },
    )
    .await?;
    Ok(created.id)
}

#[tokio::test]
async fn a_create_repeated_after_a_crash_finds_its_object_and_a_name_taken_by_another_is_refused() {
    let Some(m) = moto(
        "a_create_repeated_after_a_crash_finds_its_object_and_a_name_taken_by_another_is_refused",
    )
    .await
    else {
        return;
    };
    let f = fleet(&m).await;
    let template = LaunchTemplate {
        image_id: m.ami().await.into(),
        instance_type: "t3.micro".into(),
        ..Default::default()
    };
    let group = AutoScalingGroup {
        launch_template_id: LaunchTemplateId(f.template.clone()).into(),
        max_size: 1,
        subnet_ids: vec![SubnetId(f.subnets[0].clone()).into()],
        ..Default::default()
    };
    let policy = ScalingPolicy {
        auto_scaling_group_name: f.group.clone().into(),
        target_value: 70.0,
        ..Default::default()
    };
    let alarm = MetricAlarm {
        namespace: "AWS/EC2".into(),
        metric_name: "CPUUtilization".into(),
        threshold: 90.0,
        ..Default::default()
    };
    // The same create twice (its first answer lost): one object, one id.
    let token = "run-1-again";
    assert_eq!(
        create(&m, &template, token).await.unwrap(),
        create(&m, &template, token).await.unwrap()
    );
    assert_eq!(
        create(&m, &group, token).await.unwrap(),
        create(&m, &group, token).await.unwrap()
    );
    assert_eq!(
        create(&m, &policy, token).await.unwrap(),
        create(&m, &policy, token).await.unwrap()
    );
    assert_eq!(
        create(&m, &alarm, token).await.unwrap(),
        create(&m, &alarm, token).await.unwrap()
    );
    let templates = m.ec2.describe_launch_templates().send().await.unwrap();
    assert_eq!(
        templates.launch_templates().len(),
        2,
        "the fleet's and ours"
    );
    let groups = f
        .autoscaling
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap();
    assert_eq!(
        groups.auto_scaling_groups().len(),
        2,
        "the fleet's and ours"
    );
    let policies = f.autoscaling.describe_policies().send().await.unwrap();
    assert_eq!(policies.scaling_policies().len(), 1);
    let alarms = f.cloudwatch.describe_alarms().send().await.unwrap();
    assert_eq!(alarms.metric_alarms().len(), 1);

    // A declared name another group or alarm has is not adopted.
    let taken = AutoScalingGroup {
        name: Some(f.group.clone()),
        ..group
    };
    let e = create(&m, &taken, "run-2-again").await.unwrap_err();
    assert!(!e.retryable);
    assert!(
        e.message
            .contains("aws:autoscaling:AutoScalingGroup \"again\"")
            && e.message
                .contains("already exists and was not made by this resource"),
        "{}",
        e.message
    );
    f.cloudwatch
        .put_metric_alarm()
        .alarm_name("by-hand")
        .namespace("AWS/EC2")
        .metric_name("CPUUtilization")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
    let e = create(
        &m,
        &MetricAlarm {
            name: Some("by-hand".into()),
            ..alarm
        },
        "run-2-again",
    )
    .await
    .unwrap_err();
    assert!(
        e.message
            .contains("already exists and was not made by this resource"),
        "{}",
        e.message
    );
}
