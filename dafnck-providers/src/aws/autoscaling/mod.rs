//! EC2 Auto Scaling resources (`aws:autoscaling:*`): [`AutoScalingGroup`]
//! and its target tracking [`ScalingPolicy`].
//!
//! A group's and a policy's name is its identity (AWS addresses both by
//! name). An unset name is derived from the resource's name and the
//! create's token, so a create after a crash finds the object its lost
//! attempt made (a group also carries the `dafnck:token` tag, checked
//! before it is adopted) instead of failing or making a second one.
//!
//! ```
//! use dafnck_core::prelude::*;
//! use dafnck_providers::aws::autoscaling::{AutoScalingGroup, ScalingPolicy};
//! use dafnck_providers::aws::ec2::{LaunchTemplate, Subnet, Vpc};
//!
//! fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
//!     let vpc = stack.add("main", Vpc { cidr_block: "10.0.0.0/16".into(), ..Default::default() });
//!     let a = stack.add("a", Subnet {
//!         vpc_id: vpc.out().vpc_id,
//!         cidr_block: "10.0.1.0/24".into(),
//!         ..Default::default()
//!     });
//!     let lt = stack.add("web", LaunchTemplate {
//!         image_id: "ami-0123456789abcdef0".into(),
//!         instance_type: "t3.micro".into(),
//!         ..Default::default()
//!     });
//!     let asg = stack.add("web", AutoScalingGroup {
//!         launch_template_id: lt.out().launch_template_id,
//!         launch_template_version: Some(lt.out().default_version),
//!         min_size: 2,
//!         max_size: 10,
//!         subnet_ids: vec![a.out().subnet_id],
//!         ..Default::default()
//!     });
//!     stack.add("cpu", ScalingPolicy {
//!         auto_scaling_group_name: asg.out().name,
//!         target_value: 70.0,
//!         ..Default::default()
//!     });
//!     Ok(())
//! }
//! # let _ = infra;
//! ```

mod auto_scaling_group;
mod scaling_policy;

resource_types! {
    auto_scaling_group: AutoScalingGroupHandler,
    scaling_policy: ScalingPolicyHandler,
}

use super::error::AwsError;

/// Whether `e` is Auto Scaling's answer for a group or policy that does
/// not exist (a `ValidationError` saying "not found").
pub(crate) fn is_missing(e: &AwsError) -> bool {
    match e {
        AwsError::Api(f) => {
            f.code == "ValidationError" && f.message.to_ascii_lowercase().contains("not found")
        }
        _ => false,
    }
}

/// Whether `e` is Auto Scaling being busy with the group (a scaling
/// activity or another update in progress): a retry later can succeed.
pub(crate) fn is_busy(e: &AwsError) -> bool {
    matches!(
        e.code(),
        Some("ScalingActivityInProgress" | "ResourceContention")
    )
}

/// `e` as the engine takes it, retryable when Auto Scaling was busy.
pub(crate) fn provider_error(e: AwsError) -> dafnck_core::ProviderError {
    if is_busy(&e) {
        dafnck_core::ProviderError::retryable(e.to_string())
    } else {
        e.into()
    }
}
