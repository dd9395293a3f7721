//! [`TargetGroupRouter`]: the ALB router for a `TargetGroup` resource under
//! a deployment policy, built from the old and new groups' outputs alone.
//! The listener is found, not configured: the one whose default action
//! forwards to the stable (or the new) group.

use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_elasticloadbalancingv2::types::{ActionTypeEnum, Listener, LoadBalancerTypeEnum};
use dafnck_core::Value;
use tokio::sync::OnceCell;

use super::{client_for, forwarded, AlbError, AlbRouter};
use crate::policy::Weights;
use crate::router::TrafficRouter;

/// Routes traffic between two target groups through the ALB listener that
/// forwards to them, found on first use: the router of a `TargetGroup`
/// resource declared with `Options::deploy_with`.
///
/// When a target group's targets change under a deployment policy, the
/// engine creates a new group beside the old one; this router moves the
/// listener's weights from the old group (stable) to the new one, as an
/// [`AlbRouter`] does once the listener is known.
///
/// # Finding the listener
/// DescribeTargetGroups gives the load balancers that use the stable and
/// the new group (`LoadBalancerArns`); when it lists none (it lags behind
/// listeners changed by ModifyListener in some implementations, moto's
/// among them), every application load balancer in the groups' VPC is
/// looked at instead. DescribeListeners then gives their listeners; the
/// one whose default `forward` action names the stable or the new group is
/// the router's. The answer is kept for the rest of the rollout.
///
/// # Errors
/// - No listener forwards to either group: setting any weight for the new
///   group fails ([`AlbError::NoListener`]); putting all traffic back on
///   the stable group succeeds, since the new group gets none (so a
///   rollback can finish and the new group be deleted).
/// - Several listeners do: [`AlbError::SeveralListeners`], naming them;
///   use an [`AlbRouter`] for the one to change.
///
/// # Permissions
/// `elasticloadbalancing:DescribeTargetGroups`, `DescribeLoadBalancers`
/// and `DescribeListeners`, and `ModifyListener` on the listener.
///
/// # Example
/// ```no_run
/// use dafnck_core::prelude::*;
/// use dafnck_strategies::alb::TargetGroupRouter;
/// use dafnck_strategies::{Canary, Step, Strategy};
/// use std::time::Duration;
///
/// # fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let canary = Canary::with_steps([
///     Step::new(20, Duration::from_secs(300)),
///     Step::new(50, Duration::from_secs(600)),
/// ]);
/// let strategy = Strategy::canary(canary, TargetGroupRouter::from_outputs)?;
/// let options = Options::new().deploy_with(strategy);
/// // stack.add_with("web-tg", TargetGroup { targets, .. }, options);
/// # let _ = options; Ok(()) }
/// ```
pub struct TargetGroupRouter {
    /// Holds the client and the retry and confirmation settings; its
    /// `listener` describes the search, so errors before the listener is
    /// found say what was looked for.
    probe: AlbRouter,
    found: OnceCell<AlbRouter>,
}

impl TargetGroupRouter {
    fn build(
        stable: String,
        new: String,
        client: OnceCell<aws_sdk_elasticloadbalancingv2::Client>,
    ) -> Self {
        let search = format!("(the one forwarding to target group {stable})");
        TargetGroupRouter {
            probe: AlbRouter::build(search, stable, new, client),
            found: OnceCell::new(),
        }
    }

    /// A router between the target groups `stable_arn` and `new_arn` (empty
    /// when the new group was never created), with region, credentials and
    /// endpoint from the SDK's standard chain, loaded on first use.
    pub fn from_env(stable_arn: impl Into<String>, new_arn: impl Into<String>) -> Self {
        TargetGroupRouter::build(stable_arn.into(), new_arn.into(), OnceCell::new())
    }

    /// A router like [`TargetGroupRouter::from_env`], with the SDK
    /// configuration `config`.
    pub fn with_config(
        config: &SdkConfig,
        stable_arn: impl Into<String>,
        new_arn: impl Into<String>,
    ) -> Self {
        TargetGroupRouter::build(
            stable_arn.into(),
            new_arn.into(),
            OnceCell::new_with(Some(client_for(config))),
        )
    }

    /// A router between the groups whose outputs are `old` and `new` (the
    /// `arn` of `aws:elbv2:TargetGroup`), configured from the environment:
    /// the function a [`Strategy`](crate::Strategy) takes as its router.
    /// `new` may be null (a rollout whose new group was never created).
    ///
    /// # Errors
    /// `old` has no `arn`, or `new` is not null and has none.
    pub fn from_outputs(old: &Value, new: &Value) -> Result<Self, String> {
        let (stable, new) = arns(old, new)?;
        Ok(TargetGroupRouter::from_env(stable, new))
    }

    /// How often a throttled call is tried, as [`AlbRouter::retry`].
    pub fn retry(mut self, attempts: u32, first_pause: std::time::Duration) -> Self {
        self.probe = self.probe.retry(attempts, first_pause);
        self
    }

    /// How long the listener may take to show new weights, as
    /// [`AlbRouter::confirm`].
    pub fn confirm(mut self, timeout: std::time::Duration, poll: std::time::Duration) -> Self {
        self.probe = self.probe.confirm(timeout, poll);
        self
    }

    /// The listener this router changes, found on the first call.
    ///
    /// # Errors
    /// [`AlbError::NoListener`], [`AlbError::SeveralListeners`], or a
    /// failed call (denied, throttled through every retry, ...).
    pub async fn listener_arn(&self) -> Result<&str, AlbError> {
        Ok(self.router().await?.listener_arn())
    }

    async fn router(&self) -> Result<&AlbRouter, AlbError> {
        self.found
            .get_or_try_init(|| async {
                let listener = self.discover().await?;
                tracing::info!(listener = %listener, stable = %self.probe.stable, "found the ALB listener of the target groups");
                let p = &self.probe;
                let mut r = AlbRouter::build(
                    listener,
                    p.stable.clone(),
                    p.new.clone(),
                    OnceCell::new_with(Some(p.client().await.clone())),
                );
                r.attempts = p.attempts;
                r.first_pause = p.first_pause;
                r.max_pause = p.max_pause;
                r.confirm_timeout = p.confirm_timeout;
                r.confirm_poll = p.confirm_poll;
                Ok(r)
            })
            .await
    }

    /// The listener forwarding to the stable or the new group.
    async fn discover(&self) -> Result<String, AlbError> {
        let p = &self.probe;
        let client = p.client().await;
        let mut balancers = BTreeSet::new();
        let mut vpcs = BTreeSet::new();
        for group in [&p.stable, &p.new].into_iter().filter(|g| !g.is_empty()) {
            let out = p
                .call("DescribeTargetGroups", || {
                    client
                        .describe_target_groups()
                        .target_group_arns(group)
                        .send()
                })
                .await;
            let out = match out {
                Ok(out) => out,
                // The new group may be gone already (a reset after a
                // crash): the stable one is enough.
                Err(AlbError::TargetGroupNotFound { .. }) if group == &p.new => continue,
                Err(e) => return Err(e),
            };
            for g in out.target_groups() {
                balancers.extend(g.load_balancer_arns().iter().cloned());
                vpcs.extend(g.vpc_id().map(str::to_owned));
            }
        }
        if balancers.is_empty() {
            balancers = self.balancers_in(&vpcs).await?;
        }
        let mut listeners = Vec::new();
        for lb in &balancers {
            let mut marker: Option<String> = None;
            loop {
                let out = p
                    .call("DescribeListeners", || {
                        client
                            .describe_listeners()
                            .load_balancer_arn(lb)
                            .set_marker(marker.clone())
                            .send()
                    })
                    .await;
                let out = match out {
                    Ok(out) => out,
                    // Deleted since it was listed.
                    Err(AlbError::ListenerNotFound { .. }) => break,
                    Err(e) => return Err(e),
                };
                listeners.extend(out.listeners().iter().cloned());
                marker = out.next_marker().map(str::to_owned);
                if marker.is_none() {
                    break;
                }
            }
        }
        pick(&listeners, &p.stable, &p.new)
    }

    /// The application load balancers in `vpcs`.
    async fn balancers_in(&self, vpcs: &BTreeSet<String>) -> Result<BTreeSet<String>, AlbError> {
        let p = &self.probe;
        let client = p.client().await;
        let mut found = BTreeSet::new();
        let mut marker: Option<String> = None;
        loop {
            let out = p
                .call("DescribeLoadBalancers", || {
                    client
                        .describe_load_balancers()
                        .set_marker(marker.clone())
                        .send()
                })
                .await?;
            found.extend(
                out.load_balancers()
                    .iter()
                    .filter(|lb| lb.vpc_id().is_some_and(|v| vpcs.contains(v)))
                    .filter(|lb| {
                        lb.r#type()
                            .is_none_or(|t| *t == LoadBalancerTypeEnum::Application)
                    })
                    .filter_map(|lb| lb.load_balancer_arn().map(str::to_owned)),
            );
            marker = out.next_marker().map(str::to_owned);
            if marker.is_none() {
                return Ok(found);
            }
        }
    }
}

#[async_trait]
impl TrafficRouter for TargetGroupRouter {
    fn describe(&self) -> String {
        match self.found.get() {
            Some(r) => TrafficRouter::describe(r),
            None => format!("ALB listener {}", self.probe.listener),
        }
    }

    async fn set_weights(&self, weights: Weights) -> Result<(), String> {
        match self.router().await {
            Ok(r) => r.apply(weights).await.map_err(|e| e.to_string()),
            // No listener sends the new group anything: that split holds.
            Err(e @ AlbError::NoListener { .. }) if weights.new_share() == 0 => {
                tracing::warn!(error = %e, "no listener to take traffic off the new target group");
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    async fn prepare(&self) -> Result<(), String> {
        let router = self.router().await.map_err(|e| e.to_string())?;
        router.attach_new().await.map_err(|e| e.to_string())
    }
}

/// The stable and new groups' ARNs from their outputs (`new` may be null).
fn arns(old: &Value, new: &Value) -> Result<(String, String), String> {
    let arn = |outputs: &Value, which: &str| {
        outputs
            .get("arn")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                format!("the {which} target group's outputs have no `arn` (is the resource an aws:elbv2:TargetGroup?)")
            })
    };
    let stable = arn(old, "old")?;
    let new = if matches!(new, Value::Null) {
        String::new()
    } else {
        arn(new, "new")?
    };
    Ok((stable, new))
}

/// The one listener whose default forward names `stable` or `new`.
fn pick(listeners: &[Listener], stable: &str, new: &str) -> Result<String, AlbError> {
    let mut matching: Vec<String> = listeners
        .iter()
        .filter(|l| {
            l.default_actions()
                .iter()
                .filter(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
                .any(|a| {
                    forwarded(a)
                        .keys()
                        .any(|g| g == stable || (!new.is_empty() && g == new))
                })
        })
        .filter_map(|l| l.listener_arn().map(str::to_owned))
        .collect();
    matching.sort();
    matching.dedup();
    match matching.len() {
        0 => Err(AlbError::NoListener {
            stable: stable.to_owned(),
            new: new.to_owned(),
        }),
        1 => Ok(matching.remove(0)),
        _ => Err(AlbError::SeveralListeners {
            stable: stable.to_owned(),
            listeners: matching,
        }),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_elasticloadbalancingv2::types::{
        Action, ForwardActionConfig, RedirectActionConfig, TargetGroupTuple,
    };

    use super::*;

    fn forwarding(arn: &str, groups: &[(&str, i32)]) -> Listener {
        let tuples = groups
            .iter()
            .map(|(g, w)| {
                TargetGroupTuple::builder()
                    .target_group_arn(*g)
                    .weight(*w)
                    .build()
            })
            .collect();
        Listener::builder()
            .listener_arn(arn)
            .default_actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .forward_config(
                        ForwardActionConfig::builder()
                            .set_target_groups(Some(tuples))
                            .build(),
                    )
                    .build(),
            )
            .build()
    }

    #[test]
    fn the_listener_forwarding_to_either_group_is_picked() {
        let redirect = Listener::builder()
            .listener_arn("arn:l:redirect")
            .default_actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Redirect)
                    .redirect_config(RedirectActionConfig::builder().build())
                    .build(),
            )
            .build();
        let other = forwarding("arn:l:other", &[("arn:tg:other", 1)]);
        let http = forwarding("arn:l:http", &[("arn:tg:old", 100)]);
        let listeners = [redirect.clone(), other.clone(), http];
        assert_eq!(
            pick(&listeners, "arn:tg:old", "arn:tg:new").unwrap(),
            "arn:l:http"
        );
        // Mid-rollout after a crash the listener may forward to the new
        // group only (promoted, the old one dropped).
        let promoted = forwarding("arn:l:http", &[("arn:tg:new", 100)]);
        let listeners = [redirect, other, promoted];
        assert_eq!(
            pick(&listeners, "arn:tg:old", "arn:tg:new").unwrap(),
            "arn:l:http"
        );
        // With no new group, only the stable one counts.
        assert!(matches!(
            pick(&listeners, "arn:tg:old", ""),
            Err(AlbError::NoListener { .. })
        ));
    }

    #[test]
    fn no_listener_or_several_are_errors_naming_the_groups() {
        let none = pick(&[], "arn:tg:old", "arn:tg:new")
            .unwrap_err()
            .to_string();
        assert!(
            none.contains("arn:tg:old") && none.contains("arn:tg:new"),
            "{none}"
        );
        let both = [
            forwarding("arn:l:http", &[("arn:tg:old", 100)]),
            forwarding("arn:l:https", &[("arn:tg:old", 1)]),
            // The same listener listed twice (two load balancers' answers
            // cannot overlap, but a retry can repeat a page) is one.
            forwarding("arn:l:http", &[("arn:tg:old", 100)]),
        ];
        let several = pick(&both, "arn:tg:old", "arn:tg:new")
            .unwrap_err()
            .to_string();
        assert!(
            several.contains("arn:l:http")
                && several.contains("arn:l:https")
                && several.contains("arn:tg:old")
                && several.contains("AlbRouter"),
            "{several}"
        );
    }

    #[test]
    fn arns_come_from_the_target_groups_outputs() {
        let old = Value::from_json(serde_json::json!({"arn": "arn:tg:old", "name": "web-1"}));
        let new = Value::from_json(serde_json::json!({"arn": "arn:tg:new", "name": "web-2"}));
        assert_eq!(
            arns(&old, &new).unwrap(),
            ("arn:tg:old".to_owned(), "arn:tg:new".to_owned())
        );
        assert_eq!(
            arns(&old, &Value::Null).unwrap(),
            ("arn:tg:old".to_owned(), String::new())
        );
        let port = Value::from_json(serde_json::json!({"port": 8080}));
        let e = arns(&port, &new).unwrap_err();
        assert!(e.contains("old target group") && e.contains("`arn`"), "{e}");
        assert!(arns(&old, &port).unwrap_err().contains("new target group"));
    }

    #[tokio::test]
    async fn before_the_listener_is_found_the_router_says_what_it_looks_for() {
        let r = TargetGroupRouter::from_env("arn:tg:old", "arn:tg:new");
        assert_eq!(
            r.describe(),
            "ALB listener (the one forwarding to target group arn:tg:old)"
        );
    }
}
