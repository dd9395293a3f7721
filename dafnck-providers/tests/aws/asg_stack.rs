//! A fleet behind a target group: VPC, subnets, target group, launch
//! template, Auto Scaling group, target tracking policy and a CPU alarm go
//! up; a second look plans nothing; a size changed by hand is drift, a
//! capacity the autoscaler changed is not; destroy leaves nothing, counted
//! with the AWS APIs.

use dafnck_core::drift::DriftKind;
use dafnck_core::prelude::*;
use dafnck_providers::aws::autoscaling::{
    AutoScalingGroup, AutoScalingGroupOutputs, HealthCheckType, ScalingPolicy,
};
use dafnck_providers::aws::cloudwatch::{ComparisonOperator, MetricAlarm};
use dafnck_providers::aws::ec2::{LaunchTemplate, Subnet, Vpc};
use dafnck_providers::aws::elbv2::TargetGroup;

use super::support::{moto, outputs, tags, Moto};

fn fleet(ami: String) -> impl FnOnce(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let vpc = stack.add(
            "vpc",
            Vpc {
                cidr_block: "10.0.0.0/16".into(),
                ..Default::default()
            },
        );
        let mut subnets = Vec::new();
        for (name, cidr, zone) in [
            ("subnet-a", "10.0.1.0/24", "us-east-1a"),
            ("subnet-b", "10.0.2.0/24", "us-east-1b"),
        ] {
            let subnet = stack.add(
                name,
                Subnet {
                    vpc_id: vpc.out().vpc_id,
                    cidr_block: cidr.into(),
                    availability_zone: Some(zone.into()),
                    ..Default::default()
                },
            );
            subnets.push(subnet.out().subnet_id);
        }
        // The group registers its instances in the target group: the
        // target group's own `targets` (authoritative) are left alone, or
        // every `up` would deregister them.
        let tg = stack.add_with(
            "web-tg",
            TargetGroup {
                vpc_id: vpc.out().vpc_id,
                ..Default::default()
            },
            Options::new().ignore_changes(["targets"]),
        );
        let lt = stack.add(
            "web-lt",
            LaunchTemplate {
                image_id: ami.into(),
                instance_type: "t3.micro".into(),
                user_data: Some("#!/bin/sh\necho hello\n".into()),
                instance_tags: tags(&[("role", "web")]),
                ..Default::default()
            },
        );
        let asg = stack.add(
            "web",
            AutoScalingGroup {
                launch_template_id: lt.out().launch_template_id,
                launch_template_version: Some(lt.out().default_version),
                min_size: 1,
                max_size: 4,
                subnet_ids: subnets,
                target_group_arns: vec![tg.out().arn],
                health_check_type: HealthCheckType::Elb,
                health_check_grace_period: 60,
                tags: tags(&[("role", "web")]),
                ..Default::default()
            },
        );
        let policy = stack.add(
            "cpu-70",
            ScalingPolicy {
                auto_scaling_group_name: asg.out().name,
                target_value: 70.0,
                ..Default::default()
            },
        );
        stack.add(
            "cpu-high",
            MetricAlarm {
                namespace: "AWS/EC2".into(),
                metric_name: "CPUUtilization".into(),
                dimensions: [("AutoScalingGroupName".to_string(), asg.out().name)].into(),
                period: 60,
                evaluation_periods: 3,
                threshold: 90.0,
                comparison_operator: ComparisonOperator::GreaterThanThreshold,
                ..Default::default()
            },
        );
        stack.export("policy", policy.out().arn);
        Ok(())
    }
}

/// 1 when the drift report's only entry besides the group's is the target
/// group's `targets` (the group's instances, registered by the group), else 0.
fn only_targets(drift: &dafnck_core::drift::DriftReport) -> usize {
    let others: Vec<_> = drift.drifted.iter().filter(|d| d.name != "web").collect();
    match others.as_slice() {
        [tg] if tg.name == "web-tg" && tg.fields.len() == 1 && tg.fields[0].field == "targets" => 1,
        [] => 0,
        _ => usize::MAX,
    }
}

/// Groups, policies, alarms and launch templates in the account.
async fn counts(m: &Moto) -> [usize; 4] {
    let autoscaling = m.provider.autoscaling_client().await;
    let cloudwatch = m.provider.cloudwatch_client().await;
    let groups = autoscaling
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap();
    let policies = autoscaling.describe_policies().send().await.unwrap();
    let alarms = cloudwatch.describe_alarms().send().await.unwrap();
    let templates = m.ec2.describe_launch_templates().send().await.unwrap();
    [
        groups.auto_scaling_groups().len(),
        policies.scaling_policies().len(),
        alarms.metric_alarms().len(),
        templates.launch_templates().len(),
    ]
}

#[tokio::test]
async fn a_fleet_goes_up_shows_only_real_drift_and_is_destroyed() {
    let Some(m) = moto("a_fleet_goes_up_shows_only_real_drift_and_is_destroyed").await else {
        return;
    };
    let ami = m.ami().await;
    let engine = m.engine();
    engine.up(fleet(ami.clone()), false).await.unwrap();
    assert_eq!(counts(&m).await, [1, 1, 1, 1]);
    let asg: AutoScalingGroupOutputs = outputs(&engine, "web").await;
    let autoscaling = m.provider.autoscaling_client().await;
    let group = autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&asg.name)
        .send()
        .await
        .unwrap();
    let group = &group.auto_scaling_groups()[0];
    assert_eq!((group.min_size(), group.max_size()), (Some(1), Some(4)));
    assert_eq!(group.target_group_arns().len(), 1);
    assert_eq!(group.health_check_type(), Some("ELB"));

    // A second look, refreshed, plans nothing.
    let preview = engine.preview(fleet(ami.clone()), true).await.unwrap();
    assert!(!preview.plan.has_changes(), "{:?}", preview.plan);

    // The autoscaler scales out: not drift, the program leaves the
    // capacity to it.
    autoscaling
        .set_desired_capacity()
        .auto_scaling_group_name(&asg.name)
        .desired_capacity(3)
        .send()
        .await
        .unwrap();
    // The target group's membership (the group's instances) is reported
    // as its drift, and nothing else.
    let drift = engine.drift().await.unwrap();
    assert!(drift.get("web").is_none(), "{}", drift.render());
    assert_eq!(only_targets(&drift), 1, "{}", drift.render());

    // Someone raises the maximum by hand: drift, on that field alone.
    autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(&asg.name)
        .max_size(8)
        .send()
        .await
        .unwrap();
    let drift = engine.drift().await.unwrap();
    assert_eq!(
        drift.drifted.len(),
        1 + only_targets(&drift),
        "{}",
        drift.render()
    );
    let web = drift.get("web").expect("the group drifted");
    assert_eq!(web.kind, DriftKind::Changed);
    let fields: Vec<&str> = web.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["max_size"], "{}", drift.render());

    // up --refresh puts the maximum back and leaves the capacity alone.
    engine.up(fleet(ami.clone()), true).await.unwrap();
    let group = autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&asg.name)
        .send()
        .await
        .unwrap();
    let group = &group.auto_scaling_groups()[0];
    assert_eq!(group.max_size(), Some(4));
    assert_eq!(group.desired_capacity(), Some(3));

    engine.destroy().await.unwrap();
    assert_eq!(counts(&m).await, [0, 0, 0, 0]);
    let left = m.tagged().await;
    assert!(left.values().all(|n| *n == 0), "{left:?}");
}
