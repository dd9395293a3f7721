//! [`TargetHealth`]: the load balancer's own view of a target group's
//! targets (DescribeTargetHealth), as an [`Analysis`] for a rollout's
//! readiness.

use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_elasticloadbalancingv2::error::DisplayErrorContext;
use aws_sdk_elasticloadbalancingv2::types::{TargetHealthDescription, TargetHealthStateEnum};
use aws_sdk_elasticloadbalancingv2::Client;
use dafnck_core::Value;
use tokio::sync::OnceCell;

use super::client_for;
use crate::analysis::{Analysis, Verdict};

/// Passes when every target registered in a target group is `healthy` as
/// the load balancer sees it, and there is at least one.
///
/// Targets still `initial` (health checks under way), or `unused` because
/// no listener uses the group yet, are inconclusive: readiness keeps
/// polling until its timeout. `unhealthy`, `draining`, `unavailable`, or
/// `unused` for another reason (a stopped instance, a target in another
/// zone) fail, with the state, reason and description AWS gives. A load
/// balancer checks only groups a listener uses, which is why the rollout
/// first attaches the new group at weight 0 (`TrafficRouter::prepare`).
///
/// ```no_run
/// use dafnck_strategies::{AnalysisSet, Canary, Strategy, TargetGroupRouter, TargetHealth};
/// # fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let strategy = Strategy::canary(Canary::default(), TargetGroupRouter::from_outputs)?
///     .readiness(|_old, new| match TargetHealth::from_outputs(new) {
///         Ok(health) => AnalysisSet::new().with(health),
///         Err(_) => AnalysisSet::new(),
///     });
/// # let _ = strategy; Ok(()) }
/// ```
pub struct TargetHealth {
    client: OnceCell<Client>,
    group: String,
}

impl TargetHealth {
    /// The health of the target group `group_arn`, with region, credentials
    /// and endpoint from the SDK's standard chain, loaded on first use.
    pub fn from_env(group_arn: impl Into<String>) -> Self {
        TargetHealth {
            client: OnceCell::new(),
            group: group_arn.into(),
        }
    }

    /// As [`TargetHealth::from_env`], with the SDK configuration `config`.
    pub fn with_config(config: &SdkConfig, group_arn: impl Into<String>) -> Self {
        TargetHealth {
            client: OnceCell::new_with(Some(client_for(config))),
            group: group_arn.into(),
        }
    }

    /// The health of the target group whose outputs are `outputs` (its
    /// `arn`), configured from the environment.
    ///
    /// # Errors
    /// The outputs have no `arn` (the group was never created).
    pub fn from_outputs(outputs: &Value) -> Result<Self, String> {
        outputs
            .get("arn")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
            .map(TargetHealth::from_env)
            .ok_or_else(|| "the target group's outputs have no `arn`".to_string())
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                client_for(&aws_config::defaults(BehaviorVersion::latest()).load().await)
            })
            .await
    }
}

/// The verdict on one target's health.
pub(crate) fn judge(d: &TargetHealthDescription) -> Verdict {
    let id = d.target().and_then(|t| t.id()).unwrap_or("?");
    let Some(h) = d.target_health() else {
        return Verdict::Inconclusive(format!("{id}: no health reported"));
    };
    let state = h.state().map_or("?", |s| s.as_str());
    let reason = h.reason().map(|r| r.as_str()).unwrap_or("");
    let why = || {
        let mut s = format!("{id} is {state}");
        if !reason.is_empty() {
            s.push_str(&format!(" ({reason}"));
            if let Some(d) = h.description() {
                s.push_str(&format!(": {d}"));
            }
            s.push(')');
        }
        s
    };
    match h.state() {
        Some(TargetHealthStateEnum::Healthy) => Verdict::Pass,
        Some(TargetHealthStateEnum::Initial) => Verdict::Inconclusive(why()),
        Some(TargetHealthStateEnum::Unused) if reason == "Target.NotInUse" => {
            Verdict::Inconclusive(why())
        }
        _ => Verdict::Fail(why()),
    }
}

#[async_trait]
impl Analysis for TargetHealth {
    fn name(&self) -> &str {
        "target health"
    }

    async fn run(&self) -> Verdict {
        let out = match self
            .client()
            .await
            .describe_target_health()
            .target_group_arn(&self.group)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                return Verdict::Inconclusive(format!(
                    "DescribeTargetHealth of {}: {}",
                    self.group,
                    DisplayErrorContext(&e)
                ))
            }
        };
        let targets = out.target_health_descriptions();
        if targets.is_empty() {
            return Verdict::Fail(format!(
                "target group {} has no registered target",
                self.group
            ));
        }
        targets
            .iter()
            .map(judge)
            .fold(Verdict::Pass, Verdict::worst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_elasticloadbalancingv2::types::{
        TargetDescription, TargetHealth as Health, TargetHealthReasonEnum,
    };

    fn described(state: &str, reason: Option<&str>) -> TargetHealthDescription {
        let mut h = Health::builder().state(TargetHealthStateEnum::from(state));
        if let Some(r) = reason {
            h = h
                .reason(TargetHealthReasonEnum::from(r))
                .description("as AWS says");
        }
        TargetHealthDescription::builder()
            .target(TargetDescription::builder().id("i-1").build())
            .target_health(h.build())
            .build()
    }

    #[test]
    fn each_state_gets_its_verdict() {
        assert_eq!(judge(&described("healthy", None)), Verdict::Pass);
        assert!(matches!(
            judge(&described("initial", Some("Elb.RegistrationInProgress"))),
            Verdict::Inconclusive(_)
        ));
        assert_eq!(
            judge(&described("unused", Some("Target.NotInUse"))),
            Verdict::Inconclusive("i-1 is unused (Target.NotInUse: as AWS says)".into())
        );
        assert_eq!(
            judge(&described("unused", Some("Target.InvalidState"))),
            Verdict::Fail("i-1 is unused (Target.InvalidState: as AWS says)".into())
        );
        assert!(matches!(
            judge(&described("unhealthy", Some("Target.ResponseCodeMismatch"))),
            Verdict::Fail(_)
        ));
        assert!(matches!(
            judge(&described("draining", None)),
            Verdict::Fail(_)
        ));
    }
}
