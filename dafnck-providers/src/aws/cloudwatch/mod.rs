//! CloudWatch resources (`aws:cloudwatch:*`): [`MetricAlarm`].
//!
//! An alarm's name is its identity (CloudWatch addresses alarms by name).
//! An unset name is derived from the resource's name and the create's
//! token, and every alarm carries the `dafnck:token` tag, so a create after
//! a crash finds the alarm its lost attempt made instead of failing or
//! making a second one.
//!
//! ```
//! use dafnck_core::prelude::*;
//! use dafnck_providers::aws::cloudwatch::{ComparisonOperator, MetricAlarm};
//!
//! fn infra(stack: &mut Stack) {
//!     stack.add("cpu-high", MetricAlarm {
//!         namespace: "AWS/EC2".into(),
//!         metric_name: "CPUUtilization".into(),
//!         dimensions: [("AutoScalingGroupName".to_string(), "web".into())].into(),
//!         threshold: 90.0,
//!         comparison_operator: ComparisonOperator::GreaterThanThreshold,
//!         ..Default::default()
//!     });
//! }
//! # let _ = infra;
//! ```

mod metric_alarm;

resource_types! {
    metric_alarm: MetricAlarmHandler,
}
