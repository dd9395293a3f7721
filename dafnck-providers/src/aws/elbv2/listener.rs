//! [`Listener`] (`aws:elbv2:Listener`): a port of a load balancer, and the
//! weighted target groups it forwards to.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, TargetGroupTuple,
};
use aws_sdk_elasticloadbalancingv2::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Made, Read, ResourceHandler, Update, UpdateResult,
};
use dafnck_core::state::CallKind;

use super::super::ec2::known;
use super::super::error::{AwsError, Subject};
use super::super::lookup::Lookup;
use super::super::tags::check_user_tags;
use super::super::{failed_after_create, lookup, one_call, Aws};
use super::{
    apply_tags, existing, made_by, tags_of, tags_on_create, user_tags, LoadBalancerArn, Protocol,
    TargetGroupArn,
};

ids! {
    /// The ARN of a [`Listener`].
    ListenerArn;
}

/// A listener of a [`LoadBalancer`](super::LoadBalancer): a port, and the
/// [`TargetGroup`](super::TargetGroup)s its traffic is forwarded to, by
/// weight.
///
/// - `load_balancer_arn`: the load balancer (`lb.out().arn`); changing it
///   replaces the listener.
/// - `port` (0: 80), `protocol`: changed in place (ModifyListener).
/// - `forward`: the target groups and their weights (0 to 999; a group
///   gets its weight's share of the sum); changed in place with one
///   ModifyListener call, so shifting traffic from one group to another
///   is atomic — what blue-green and canary strategies do.
/// - `tags`: the user's tags; set in place.
///
/// Weights are compared by the split they make: `[(a, 1)]` and
/// `[(a, 100)]` send everything to `a`, `[(a, 1), (b, 1)]` and
/// `[(a, 50), (b, 50)]` halve it, and a group of weight 0 gets nothing, as
/// if absent. An update that changes no split sends no ModifyListener.
///
/// # Under a rollout
/// A [`TargetGroup`](super::TargetGroup) rolled out by a deployment policy
/// has its traffic moved by the policy's router (`TargetGroupRouter`),
/// which changes this listener's weights directly while the rollout runs;
/// a `drift` read meanwhile shows the split of the moment. Promoted, the
/// listener forwards to the new group only, which is what its declared
/// `forward` (`tg.out().arn`) resolves to, so its update after the
/// rollout changes nothing; rolled back, it forwards to the old group as
/// recorded.
///
/// # Drift
/// `read` reports the port, protocol, forwarding and tags as found
/// (forwarding as recorded when it makes the same split).
///
/// # Caveats
/// Only forward actions are managed; HTTPS listeners need certificates,
/// which this provider does not manage yet.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:elbv2:Listener", outputs = ListenerOutputs)]
pub struct Listener {
    /// The load balancer; changing it replaces the listener.
    #[resource(force_new)]
    pub load_balancer_arn: Input<LoadBalancerArn>,
    /// The port it listens on (0: 80); changed in place.
    pub port: u16,
    /// Its protocol; changed in place.
    pub protocol: Protocol,
    /// The target groups traffic goes to, with their weights.
    pub forward: Vec<Forward>,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// One target group a [`Listener`] forwards to, and its weight.
#[derive(Declare, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Forward {
    /// The target group (`tg.out().arn`).
    pub target_group_arn: Input<TargetGroupArn>,
    /// Its weight, 0 to 999.
    pub weight: u16,
}

impl Forward {
    /// Forwards `weight` to the group `target_group_arn`.
    pub fn new(target_group_arn: Input<TargetGroupArn>, weight: u16) -> Self {
        Forward {
            target_group_arn,
            weight,
        }
    }
}

/// What a [`Listener`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct ListenerOutputs {
    /// Its ARN (and id).
    pub arn: ListenerArn,
}

/// The most weight one target group can get.
const MAX_WEIGHT: u16 = 999;

type Found = aws_sdk_elasticloadbalancingv2::types::Listener;

described!(
    Listener,
    "DescribeListeners",
    describe_listeners,
    set_listener_arns,
    listeners
);

/// The listener a create with `token` made: among the load balancer's
/// listeners, the one whose token tag says so.
async fn by_token(
    client: &Client,
    s: &Subject<'_>,
    load_balancer_arn: &str,
    token: &str,
) -> Lookup<Found> {
    if load_balancer_arn.is_empty() {
        return Ok(None);
    }
    let listeners = lookup::unless_not_found(
        s,
        "DescribeListeners",
        client
            .describe_listeners()
            .load_balancer_arn(load_balancer_arn)
            .send()
            .await,
    )?
    .map(|out| out.listeners().to_vec())
    .unwrap_or_default();
    for l in listeners {
        if made_by(&tags_of(client, s, arn_of(&l)).await?, token) {
            return Ok(Some(l));
        }
    }
    Ok(None)
}

fn arn_of(l: &Found) -> &str {
    l.listener_arn().unwrap_or_default()
}

fn outputs(l: &Found) -> ListenerOutputs {
    ListenerOutputs {
        arn: ListenerArn(arn_of(l).to_owned()),
    }
}

fn port_of(v: &Listener) -> u16 {
    if v.port == 0 {
        80
    } else {
        v.port
    }
}

/// The declared groups and weights, resolved and checked.
fn declared(s: &Subject<'_>, v: &Listener) -> Result<Vec<(String, u16)>, AwsError> {
    if v.forward.is_empty() {
        return Err(s.invalid("`forward` must name at least one target group"));
    }
    v.forward
        .iter()
        .map(|f| {
            if f.weight > MAX_WEIGHT {
                return Err(s.invalid(format!(
                    "a weight of {} is over the maximum of {MAX_WEIGHT}",
                    f.weight
                )));
            }
            Ok((
                known(s, &f.target_group_arn, "forward")?.0.clone(),
                f.weight,
            ))
        })
        .collect()
}

/// The forward action for these groups and weights.
fn forward_action(groups: &[(String, u16)]) -> Action {
    let tuples = groups
        .iter()
        .map(|(arn, w)| {
            TargetGroupTuple::builder()
                .target_group_arn(arn)
                .weight((*w).into())
                .build()
        })
        .collect();
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(
            ForwardActionConfig::builder()
                .set_target_groups(Some(tuples))
                .build(),
        )
        .build()
}

/// The groups and weights the listener's forward action names.
fn forwarding_of(l: &Found) -> Vec<(String, u16)> {
    let Some(action) = l
        .default_actions()
        .iter()
        .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
    else {
        return Vec::new();
    };
    match action.forward_config() {
        Some(config) if !config.target_groups().is_empty() => config
            .target_groups()
            .iter()
            .filter_map(|t| {
                let weight = t.weight().and_then(|w| u16::try_from(w).ok()).unwrap_or(1);
                Some((t.target_group_arn()?.to_owned(), weight))
            })
            .collect(),
        _ => action
            .target_group_arn()
            .map(|arn| vec![(arn.to_owned(), 1)])
            .unwrap_or_default(),
    }
}

/// Whether two forwards split traffic the same way: the same groups with
/// a positive weight, each getting the same share of the sum.
fn same_split(a: &[(String, u16)], b: &[(String, u16)]) -> bool {
    let shares = |groups: &[(String, u16)]| -> (BTreeMap<String, u64>, u64) {
        let mut by_group = BTreeMap::new();
        for (g, w) in groups.iter().filter(|(_, w)| *w > 0) {
            *by_group.entry(g.clone()).or_insert(0) += u64::from(*w);
        }
        let sum = by_group.values().sum();
        (by_group, sum)
    };
    let ((a, sum_a), (b, sum_b)) = (shares(a), shares(b));
    a.len() == b.len()
        && a.iter().all(|(g, wa)| {
            // wa / sum_a == wb / sum_b, in integers.
            b.get(g).is_some_and(|wb| wa * sum_b == wb * sum_a)
        })
}

async fn delete_by_arn(client: &Client, s: &Subject<'_>, arn: &str) -> Result<(), AwsError> {
    lookup::deleted(
        s,
        "DeleteListener",
        client.delete_listener().listener_arn(arn).send().await,
    )
}

/// What a read reports of `l` (with its `tags`), found for `req`: shared by
/// `read` and `read_many` so both answer alike.
fn observed_as(
    req: &Read<Listener>,
    l: &Found,
    tags: &BTreeMap<String, String>,
) -> kit::Found<Listener, ListenerOutputs> {
    let s = Subject::of::<Listener>(&req.name);
    let recorded = req.recorded.decode_or_default();
    let found_forward = forwarding_of(l);
    // As recorded (its order and weights) when the split is the same.
    let forward = match declared(&s, &recorded) {
        Ok(d) if same_split(&d, &found_forward) => recorded.forward.clone(),
        _ => found_forward
            .into_iter()
            .map(|(arn, weight)| Forward::new(TargetGroupArn(arn).into(), weight))
            .collect(),
    };
    let port = l
        .port()
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or_default();
    let observed = Listener {
        load_balancer_arn: LoadBalancerArn(l.load_balancer_arn().unwrap_or_default().to_owned())
            .into(),
        port: if recorded.port == 0 && port == 80 {
            0
        } else {
            port
        },
        protocol: Protocol::of(l.protocol()),
        forward,
        tags: user_tags(tags),
    };
    lookup::observed(arn_of(l), observed, outputs(l))
}

/// The listener a create with `token` made for `req`: among the listeners
/// of its recorded load balancer.
async fn by_read_token(
    client: &Client,
    s: &Subject<'_>,
    req: &Read<Listener>,
    token: &str,
) -> Lookup<Found> {
    let recorded = req.recorded.decode_or_default();
    // An unresolved load balancer is an empty ARN, which has no listeners.
    let lb = recorded
        .load_balancer_arn
        .as_value()
        .map_or("", |lb| lb.as_str());
    by_token(client, s, lb, token).await
}

/// Serves [`Listener`].
pub(crate) struct ListenerHandler;

#[async_trait]
impl ResourceHandler for ListenerHandler {
    type Resource = Listener;
    type Context = Aws;

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<Listener>) -> CreateResult<Listener> {
        let s = Subject::of::<Listener>(&req.name);
        let v = &req.inputs;
        let lb = known(&s, &v.load_balancer_arn, "load_balancer_arn")?.as_str();
        if lb.is_empty() {
            return Err(s.invalid("`load_balancer_arn` must be set").into());
        }
        let groups = declared(&s, v)?;
        check_user_tags(&s, &v.tags)?;
        let client = p.elbv2_client().await;
        if let Some(l) = by_token(client, &s, lb, &req.token).await? {
            // Made by this create before a crash; finish it like an update.
            let arn = arn_of(&l).to_owned();
            return match converge(client, &s, &arn, &l, v, &groups).await {
                Ok(()) => Ok(Made {
                    id: arn,
                    outputs: outputs(&l),
                }),
                Err(e) => Err(failed_after_create(e, &arn, delete_by_arn(client, &s, &arn)).await),
            };
        }
        let out = client
            .create_listener()
            .load_balancer_arn(lb)
            .port(port_of(v).into())
            .protocol(v.protocol.sdk())
            .default_actions(forward_action(&groups))
            .set_tags(Some(tags_on_create(
                &req.stack, &req.name, &req.token, &v.tags,
            )))
            .send()
            .await
            .map_err(|e| s.error("CreateListener", e))?;
        let l = out
            .listeners()
            .first()
            .cloned()
            .ok_or_else(|| s.incomplete("CreateListener", "a listener"))?;
        Ok(Made {
            id: arn_of(&l).to_owned(),
            outputs: outputs(&l),
        })
    }

    batched_reads! {
        /// DescribeListeners and DescribeTags for up to 20 listeners read by
        /// ARN at a time (a chunk with an ARN AWS no longer knows is described
        /// again one by one, so that one reads as absent); a read by token
        /// alone, as `read`.
        Listener, elbv2_client, super::read, super::read_many
    }

    async fn update(&self, p: &Aws, req: Update<Listener>) -> UpdateResult<Listener> {
        let s = Subject::of::<Listener>(&req.name);
        let v = &req.inputs;
        let groups = declared(&s, v)?;
        check_user_tags(&s, &v.tags)?;
        let client = p.elbv2_client().await;
        let arn = req.id.as_str();
        let l = existing::<Listener>(client, &s, arn).await?;
        converge(client, &s, arn, &l, v, &groups).await?;
        Ok(outputs(&l))
    }

    deletes_by!(Listener, elbv2_client, delete_by_arn);
}

/// Makes the listener `l` match `v`: port, protocol and forwarding in one
/// ModifyListener call when any differs, then tags.
async fn converge(
    client: &Client,
    s: &Subject<'_>,
    arn: &str,
    l: &Found,
    v: &Listener,
    groups: &[(String, u16)],
) -> Result<(), AwsError> {
    let port = i32::from(port_of(v));
    if l.port() != Some(port)
        || Protocol::of(l.protocol()) != v.protocol
        || !same_split(&forwarding_of(l), groups)
    {
        client
            .modify_listener()
            .listener_arn(arn)
            .port(port)
            .protocol(v.protocol.sdk())
            .default_actions(forward_action(groups))
            .send()
            .await
            .map_err(|e| s.error("ModifyListener", e))?;
    }
    let current = user_tags(&tags_of(client, s, arn).await?);
    apply_tags(client, s, arn, &current, &v.tags).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_load_balancer_replaces_the_listener() {
        assert_eq!(Listener::force_new_fields(), &["load_balancer_arn"]);
    }

    #[test]
    fn weights_are_checked_and_sent_as_one_forward_action() {
        let s = Subject::of::<Listener>("http");
        let v = Listener {
            forward: vec![
                Forward::new(TargetGroupArn("arn:blue".into()).into(), 90),
                Forward::new(TargetGroupArn("arn:green".into()).into(), 10),
            ],
            ..Default::default()
        };
        let groups = declared(&s, &v).unwrap();
        assert_eq!(groups, [("arn:blue".into(), 90), ("arn:green".into(), 10)]);
        let action = forward_action(&groups);
        let tuples = action.forward_config().unwrap().target_groups();
        assert_eq!(tuples[1].weight(), Some(10));
        let heavy = Listener {
            forward: vec![Forward::new(TargetGroupArn("a".into()).into(), 1000)],
            ..Default::default()
        };
        let e = declared(&s, &heavy).unwrap_err().to_string();
        assert!(
            e.contains("aws:elbv2:Listener \"http\"") && e.contains("999"),
            "{e}"
        );
        let none = declared(&s, &Listener::default()).unwrap_err().to_string();
        assert!(none.contains("`forward`"), "{none}");
    }

    #[test]
    fn weights_are_compared_by_the_split_they_make() {
        let f = |groups: &[(&str, u16)]| -> Vec<(String, u16)> {
            groups.iter().map(|(g, w)| ((*g).to_owned(), *w)).collect()
        };
        assert!(same_split(&f(&[("a", 1)]), &f(&[("a", 100)])));
        assert!(same_split(
            &f(&[("a", 1), ("b", 1)]),
            &f(&[("b", 50), ("a", 50)])
        ));
        assert!(same_split(&f(&[("a", 100), ("b", 0)]), &f(&[("a", 7)])));
        assert!(!same_split(&f(&[("a", 80), ("b", 20)]), &f(&[("a", 100)])));
        assert!(!same_split(
            &f(&[("a", 80), ("b", 20)]),
            &f(&[("a", 50), ("b", 50)])
        ));
        assert!(!same_split(&f(&[("a", 100)]), &f(&[("b", 100)])));
        assert!(!same_split(&f(&[("a", 1)]), &f(&[])));
    }
}
