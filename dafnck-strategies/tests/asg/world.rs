//! The moto world both Auto Scaling rollout test files share: a VPC and
//! subnet, a target group, two launch templates and a group of four
//! instances launched from the old one.

use aws_sdk_autoscaling::types::LaunchTemplateSpecification;
use aws_sdk_ec2::types::{Filter, RequestLaunchTemplateData};
use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetHealthStateEnum};
use dafnck_strategies::asg::TemplateVersion;

use crate::support::moto::{moto_url, sdk_config, unique};

/// A group of four instances from the `old` template, behind a target
/// group, in moto.
pub(crate) struct World {
    pub(crate) config: aws_config::SdkConfig,
    pub(crate) ec2: aws_sdk_ec2::Client,
    pub(crate) asg: aws_sdk_autoscaling::Client,
    pub(crate) elb: aws_sdk_elasticloadbalancingv2::Client,
    pub(crate) group: String,
    pub(crate) target_group: String,
    pub(crate) old: TemplateVersion,
    pub(crate) new: TemplateVersion,
}

impl World {
    pub(crate) async fn new(test: &str) -> Option<World> {
        let url = moto_url(test)?;
        let config = sdk_config(&url).await;
        let ec2 = aws_sdk_ec2::Client::new(&config);
        let asg = aws_sdk_autoscaling::Client::new(&config);
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
        let images = ec2
            .describe_images()
            .owners("amazon")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{test}: moto at {url} answers no DescribeImages: {e:?}"));
        let mut amis: Vec<&str> = images
            .images()
            .iter()
            .filter_map(|i| i.image_id())
            .collect();
        amis.sort_unstable();
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.9.0.0/16")
            .send()
            .await
            .unwrap()
            .vpc()
            .unwrap()
            .vpc_id()
            .unwrap()
            .to_owned();
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block("10.9.1.0/24")
            .availability_zone("us-east-1a")
            .send()
            .await
            .unwrap()
            .subnet()
            .unwrap()
            .subnet_id()
            .unwrap()
            .to_owned();
        let mut templates = Vec::new();
        for (name, ami) in [("old", amis[0]), ("new", amis[1])] {
            let t = ec2
                .create_launch_template()
                .launch_template_name(unique(&format!("lt-{name}")))
                .launch_template_data(
                    RequestLaunchTemplateData::builder()
                        .image_id(ami)
                        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                        .build(),
                )
                .send()
                .await
                .unwrap();
            let t = t.launch_template().unwrap();
            templates.push(TemplateVersion::new(
                t.launch_template_id().unwrap(),
                t.default_version_number().unwrap(),
            ));
        }
        let target_group = elb
            .create_target_group()
            .name(unique("tg"))
            .protocol(ProtocolEnum::Http)
            .port(80)
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap()
            .target_groups()[0]
            .target_group_arn()
            .unwrap()
            .to_owned();
        let group = unique("asg");
        asg.create_auto_scaling_group()
            .auto_scaling_group_name(&group)
            .launch_template(
                LaunchTemplateSpecification::builder()
                    .launch_template_id(&templates[0].id)
                    .version(&templates[0].version)
                    .build(),
            )
            .min_size(1)
            .max_size(8)
            .desired_capacity(4)
            .vpc_zone_identifier(&subnet)
            .target_group_arns(&target_group)
            .send()
            .await
            .unwrap();
        let new = templates.pop().unwrap();
        let old = templates.pop().unwrap();
        Some(World {
            config,
            ec2,
            asg,
            elb,
            group,
            target_group,
            old,
            new,
        })
    }

    /// The group's instances, sorted, and the template of the group.
    pub(crate) async fn group(&self) -> (Vec<String>, String) {
        let out = self
            .asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&self.group)
            .send()
            .await
            .unwrap();
        let g = &out.auto_scaling_groups()[0];
        let mut ids: Vec<String> = g
            .instances()
            .iter()
            .filter_map(|i| i.instance_id())
            .map(str::to_owned)
            .collect();
        ids.sort();
        let template = g
            .launch_template()
            .and_then(|t| t.launch_template_id())
            .unwrap_or_default()
            .to_owned();
        (ids, template)
    }

    /// How many of the group's instances were launched from `template`
    /// (by EC2's `aws:ec2launchtemplate:id` tag), and how many in all.
    pub(crate) async fn launched_from(&self, template: &TemplateVersion) -> (usize, usize) {
        let (ids, _) = self.group().await;
        let out = self
            .ec2
            .describe_instances()
            .set_instance_ids(Some(ids.clone()))
            .send()
            .await
            .unwrap();
        let from = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter(|i| {
                i.tags().iter().any(|t| {
                    t.key() == Some("aws:ec2launchtemplate:id") && t.value() == Some(&template.id)
                })
            })
            .count();
        (from, ids.len())
    }

    /// Asserts that the group launches from the new template and that every
    /// instance of `before` was replaced by one launched from it; the
    /// group's instances now.
    pub(crate) async fn assert_all_new(&self, before: &[String]) -> Vec<String> {
        let (after, template) = self.group().await;
        assert_eq!(
            template, self.new.id,
            "the group launches from the new template"
        );
        assert!(
            after.iter().all(|id| !before.contains(id)),
            "every instance replaced: {after:?} from {before:?}"
        );
        assert_eq!(self.launched_from(&self.new).await, (4, 4));
        after
    }

    /// Asserts that the group launches from the old template again and
    /// runs four instances launched from it; the group's instances now.
    pub(crate) async fn assert_all_old(&self) -> Vec<String> {
        let (after, template) = self.group().await;
        assert_eq!(
            template, self.old.id,
            "the group launches from the old template again"
        );
        assert_eq!(self.launched_from(&self.old).await, (4, 4));
        after
    }

    /// The target group's targets and how many are healthy.
    pub(crate) async fn targets(&self) -> (usize, usize) {
        let out = self
            .elb
            .describe_target_health()
            .target_group_arn(&self.target_group)
            .send()
            .await
            .unwrap();
        let all = out.target_health_descriptions();
        let healthy = all
            .iter()
            .filter(|d| {
                d.target_health().and_then(|h| h.state()) == Some(&TargetHealthStateEnum::Healthy)
            })
            .count();
        (all.len(), healthy)
    }

    /// Stops every running instance launched from the new template: it
    /// fails its target group's health check (moto answers `unused`,
    /// `Target.InvalidState` or, once the group has moved on,
    /// `Target.NotRegistered`).
    pub(crate) async fn stop_new_instances(&self) {
        let out = self
            .ec2
            .describe_instances()
            .filters(
                Filter::builder()
                    .name("tag:aws:ec2launchtemplate:id")
                    .values(&self.new.id)
                    .build(),
            )
            .filters(
                Filter::builder()
                    .name("instance-state-name")
                    .values("running")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let ids: Vec<String> = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| i.instance_id())
            .map(str::to_owned)
            .collect();
        if !ids.is_empty() {
            self.ec2
                .stop_instances()
                .set_instance_ids(Some(ids))
                .send()
                .await
                .unwrap();
        }
    }
}
