//! EC2 Auto Scaling rollouts of a launch template change, behind the `asg`
//! feature. A `LaunchTemplate` declared with a deployment policy is
//! replaced by the engine beside the old one; the policy then moves the
//! Auto Scaling group that launches from the old template onto the new one
//! in one of two ways:
//!
//! - [`AsgFleet`], a [`RollingFleet`](crate::RollingFleet) for the engine's
//!   rolling policy (`Strategy::rolling`): it points the group at the new
//!   template and cycles its instances a batch at a time (each terminated
//!   in the group, which launches its replacement), each batch healthy in
//!   the group and in its target groups (DescribeTargetHealth) before the
//!   next; a rollback points the group back and cycles the replaced
//!   instances again.
//! - [`InstanceRefresh`], a deployment policy of its own: the group's
//!   instance refresh (StartInstanceRefresh with a minimum healthy
//!   percentage and automatic rollback), polled with
//!   DescribeInstanceRefreshes until it ends; past its deadline or on
//!   `rollout abort` it is rolled back (RollbackInstanceRefresh).
//!
//! Either finds the group by the old template's id (or is told its name),
//! so it is built from the two templates' outputs alone.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_autoscaling::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_autoscaling::types::{AutoScalingGroup, LaunchTemplateSpecification};
use dafnck_core::Value;
use tokio::sync::OnceCell;

mod fleet;
mod refresh;

pub use fleet::AsgFleet;
pub use refresh::InstanceRefresh;

/// A launch template and the version of it a group launches, as a rollout
/// reads them from a `LaunchTemplate`'s outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateVersion {
    /// The template's id (`lt-...`).
    pub id: String,
    /// The version (`3`, or `$Default`).
    pub version: String,
}

impl TemplateVersion {
    /// Version `version` of the template `id`.
    pub fn new(id: impl Into<String>, version: impl ToString) -> Self {
        TemplateVersion {
            id: id.into(),
            version: version.to_string(),
        }
    }

    /// The template and default version in a `LaunchTemplate`'s outputs
    /// (`launch_template_id`, `default_version`).
    ///
    /// # Errors
    /// The outputs have no template id (the template was never created).
    pub fn from_outputs(outputs: &Value) -> Result<Self, String> {
        let id = outputs
            .get("launch_template_id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or("the launch template's outputs have no `launch_template_id`")?;
        let version = match outputs.get("default_version") {
            Some(Value::Int(n)) if *n > 0 => n.to_string(),
            _ => "$Default".to_owned(),
        };
        Ok(TemplateVersion::new(id, version))
    }

    fn spec(&self) -> LaunchTemplateSpecification {
        LaunchTemplateSpecification::builder()
            .launch_template_id(&self.id)
            .version(&self.version)
            .build()
    }
}

impl std::fmt::Display for TemplateVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} version {}", self.id, self.version)
    }
}

/// The clients a rollout calls, made on first use.
struct Clients {
    config: OnceCell<SdkConfig>,
    autoscaling: OnceCell<aws_sdk_autoscaling::Client>,
    ec2: OnceCell<aws_sdk_ec2::Client>,
    elb: OnceCell<aws_sdk_elasticloadbalancingv2::Client>,
}

impl Clients {
    fn new(config: Option<&SdkConfig>) -> Self {
        Clients {
            config: OnceCell::new_with(config.cloned()),
            autoscaling: OnceCell::new(),
            ec2: OnceCell::new(),
            elb: OnceCell::new(),
        }
    }

    async fn config(&self) -> &SdkConfig {
        self.config
            .get_or_init(|| aws_config::defaults(BehaviorVersion::latest()).load())
            .await
    }

    async fn autoscaling(&self) -> &aws_sdk_autoscaling::Client {
        let config = self.config().await;
        self.autoscaling
            .get_or_init(|| async { aws_sdk_autoscaling::Client::new(config) })
            .await
    }

    async fn ec2(&self) -> &aws_sdk_ec2::Client {
        let config = self.config().await;
        self.ec2
            .get_or_init(|| async { aws_sdk_ec2::Client::new(config) })
            .await
    }

    async fn elb(&self) -> &aws_sdk_elasticloadbalancingv2::Client {
        let config = self.config().await;
        self.elb
            .get_or_init(|| async { aws_sdk_elasticloadbalancingv2::Client::new(config) })
            .await
    }

    /// The group `name`, or the one group that launches from `old` (else
    /// from `new`, which a retried or reset rollout finds).
    async fn group(
        &self,
        name: Option<&str>,
        old: &TemplateVersion,
        new: &TemplateVersion,
    ) -> Result<AutoScalingGroup, String> {
        let client = self.autoscaling().await;
        let mut pages = client.describe_auto_scaling_groups();
        if let Some(name) = name {
            pages = pages.auto_scaling_group_names(name);
        }
        let mut pages = pages.into_paginator().send();
        let mut all = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| call_failed("DescribeAutoScalingGroups", &e))?;
            all.extend(page.auto_scaling_groups().iter().cloned());
        }
        if let Some(name) = name {
            return all
                .into_iter()
                .find(|g| g.auto_scaling_group_name() == Some(name))
                .ok_or_else(|| format!("Auto Scaling group {name} not found"));
        }
        for template in [old, new] {
            let using: Vec<AutoScalingGroup> = all
                .iter()
                .filter(|g| template_of(g) == Some(template.id.as_str()))
                .cloned()
                .collect();
            match using.len() {
                0 => continue,
                1 => return Ok(using.into_iter().next().expect("one")),
                _ => {
                    return Err(format!(
                        "several Auto Scaling groups launch from launch template {} ({}); name the one to roll out",
                        template.id,
                        using
                            .iter()
                            .filter_map(|g| g.auto_scaling_group_name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
            }
        }
        Err(format!(
            "no Auto Scaling group launches from launch template {} (nor from the new {})",
            old.id, new.id
        ))
    }
}

/// The launch template a group launches from (its own, or its mixed
/// instances policy's).
fn template_of(g: &AutoScalingGroup) -> Option<&str> {
    g.launch_template()
        .and_then(|t| t.launch_template_id())
        .or_else(|| {
            g.mixed_instances_policy()
                .and_then(|p| p.launch_template())
                .and_then(|t| t.launch_template_specification())
                .and_then(|t| t.launch_template_id())
        })
}

/// A failed call, as a message naming it with AWS's code.
fn call_failed<E, R>(call: &str, e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match e.code() {
        Some(code) => format!(
            "{call} failed: {code}: {}",
            e.message().unwrap_or("(no message)")
        ),
        None => format!("{call} got no answer: {}", DisplayErrorContext(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_and_version_come_from_a_launch_templates_outputs() {
        let outputs = Value::from_json(serde_json::json!({
            "launch_template_id": "lt-1", "name": "web", "latest_version": 3, "default_version": 2
        }));
        assert_eq!(
            TemplateVersion::from_outputs(&outputs).unwrap(),
            TemplateVersion::new("lt-1", 2)
        );
        let e = TemplateVersion::from_outputs(&Value::Null).unwrap_err();
        assert!(e.contains("launch_template_id"), "{e}");
        assert_eq!(
            TemplateVersion::new("lt-1", 2).to_string(),
            "lt-1 version 2"
        );
    }
}
