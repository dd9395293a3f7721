//! Elastic Load Balancing v2 resources (`aws:elbv2:*`): [`LoadBalancer`],
//! [`TargetGroup`] and [`Listener`].
//!
//! ARNs are distinct types ([`LoadBalancerArn`], [`TargetGroupArn`],
//! [`ListenerArn`]): a listener takes `lb.out().arn` for its load balancer
//! and `tg.out().arn` for each group it forwards to, and nothing else.
//!
//! Every object is tagged `dafnck:stack`, `dafnck:name` and `dafnck:token`
//! by its create call. Load balancers and target groups have account-wide
//! unique names: without an explicit `name`, the provider derives one from
//! the resource's name and the create's idempotency token, so a
//! replacement never collides with the object it replaces, and after a
//! crash mid-create the object is found again by that name (and its token
//! tag checked). A listener is found again among its load balancer's
//! listeners by its token tag. `read` reports inputs as found (for drift);
//! deleting an object that is already gone succeeds.
//!
//! ```
//! use dafnck_core::prelude::*;
//! use dafnck_providers::aws::ec2::{SecurityGroup, Subnet, Vpc};
//! use dafnck_providers::aws::elbv2::{Forward, Listener, LoadBalancer, TargetGroup};
//!
//! fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
//!     let vpc = stack.add("main", Vpc { cidr_block: "10.0.0.0/16".into(), ..Default::default() });
//!     let subnets: Vec<_> = ["a", "b"].iter().enumerate().map(|(i, z)| {
//!         stack.add(&format!("public-{z}"), Subnet {
//!             vpc_id: vpc.out().vpc_id,
//!             cidr_block: format!("10.0.{}.0/24", i + 1).into(),
//!             availability_zone: Some(format!("us-east-1{z}")),
//!             ..Default::default()
//!         })
//!     }).collect();
//!     let sg = stack.add("lb-sg", SecurityGroup {
//!         name: "lb".into(),
//!         description: "HTTP".into(),
//!         vpc_id: vpc.out().vpc_id,
//!         ..Default::default()
//!     });
//!     let lb = stack.add("web", LoadBalancer {
//!         subnet_ids: subnets.iter().map(|s| s.out().subnet_id).collect(),
//!         security_group_ids: vec![sg.out().security_group_id],
//!         ..Default::default()
//!     });
//!     let blue = stack.add("blue", TargetGroup { vpc_id: vpc.out().vpc_id, ..Default::default() });
//!     let green = stack.add("green", TargetGroup { vpc_id: vpc.out().vpc_id, ..Default::default() });
//!     stack.add("http", Listener {
//!         load_balancer_arn: lb.out().arn,
//!         forward: vec![Forward::new(blue.out().arn, 90), Forward::new(green.out().arn, 10)],
//!         ..Default::default()
//!     });
//!     stack.export("url", lb.out().dns_name);
//!     Ok(())
//! }
//! # let _ = infra;
//! ```

pub(crate) mod listener;
pub(crate) mod load_balancer;
pub(crate) mod target_group;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, Tag};
use aws_sdk_elasticloadbalancingv2::Client;
use dafnck_core::provider::ReadRequest;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{AwsError, Subject};
use super::tags::{self, client_token, TOKEN_TAG};

pub use listener::{Forward, Listener, ListenerOutputs, ListenerOutputsRefs};
pub use load_balancer::{
    LoadBalancer, LoadBalancerOutputs, LoadBalancerOutputsRefs, LoadBalancerType, Scheme,
};
pub use target_group::{HealthCheck, TargetGroup, TargetGroupOutputs, TargetGroupOutputsRefs};

ids! {
    /// The ARN of a [`LoadBalancer`].
    LoadBalancerArn;
    /// The ARN of a [`TargetGroup`].
    TargetGroupArn;
    /// The ARN of a [`Listener`].
    ListenerArn;
}

/// A protocol of a [`TargetGroup`] or [`Listener`].
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    /// HTTP (the default).
    #[default]
    Http,
    /// HTTPS (a listener then needs a certificate, which this provider
    /// does not manage yet).
    Https,
    /// TCP (network load balancers).
    Tcp,
    /// UDP (network load balancers).
    Udp,
}

impl Protocol {
    fn sdk(self) -> ProtocolEnum {
        match self {
            Protocol::Http => ProtocolEnum::Http,
            Protocol::Https => ProtocolEnum::Https,
            Protocol::Tcp => ProtocolEnum::Tcp,
            Protocol::Udp => ProtocolEnum::Udp,
        }
    }

    fn of(p: Option<&ProtocolEnum>) -> Protocol {
        match p {
            Some(ProtocolEnum::Https) => Protocol::Https,
            Some(ProtocolEnum::Tcp) => Protocol::Tcp,
            Some(ProtocolEnum::Udp) => Protocol::Udp,
            _ => Protocol::Http,
        }
    }
}

/// The longest name of a load balancer or target group.
const MAX_NAME: usize = 32;

/// The name of a load balancer or target group: the declared one, or one
/// derived from the resource's name and the create's token (at most 32
/// letters, digits and hyphens; the same token always gives the same name).
pub(crate) fn object_name(declared: Option<&str>, resource: &str, token: &str) -> String {
    if let Some(name) = declared {
        return name.to_owned();
    }
    let digest = Sha256::digest(client_token(token).as_bytes());
    let suffix: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let mut base: String = resource
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(MAX_NAME - suffix.len() - 1)
        .collect();
    // Neither end may be a hyphen, and `internal-` is reserved.
    base = base.trim_matches('-').to_owned();
    if base.is_empty() || base.starts_with("internal-") {
        base = format!("d{}", base.trim_start_matches("internal"));
        base.truncate(MAX_NAME - suffix.len() - 1);
        base = base.trim_end_matches('-').to_owned();
    }
    format!("{base}-{suffix}")
}

/// The name the create a read's token stands for gave its object (the
/// declared one, or the one derived from the token): where `by_token`
/// looks. Empty when the read has no token.
pub(crate) fn read_name(req: &ReadRequest, declared: Option<&str>) -> String {
    req.token
        .as_deref()
        .map(|token| object_name(declared, &req.name, token))
        .unwrap_or_default()
}

/// The provider's tags and the user's, for a create call.
pub(crate) fn tags_on_create(
    stack: &str,
    name: &str,
    token: &str,
    user: &BTreeMap<String, String>,
) -> Vec<Tag> {
    tags::ours(stack, name, token)
        .into_iter()
        .map(|(k, v)| tag(k, &v))
        .chain(user.iter().map(|(k, v)| tag(k, v)))
        .collect()
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

/// An object's tags, all of them, by key.
pub(crate) async fn tags_of(
    client: &Client,
    s: &Subject<'_>,
    arn: &str,
) -> Result<BTreeMap<String, String>, AwsError> {
    let out = client
        .describe_tags()
        .resource_arns(arn)
        .send()
        .await
        .map_err(|e| s.error("DescribeTags", e))?;
    Ok(out
        .tag_descriptions()
        .iter()
        .flat_map(|d| d.tags())
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect())
}

/// Whether the tags say the object was made by a create with `token`.
pub(crate) fn made_by(tags: &BTreeMap<String, String>, token: &str) -> bool {
    tags.get(TOKEN_TAG) == Some(&client_token(token))
}

/// The user's tags among all of an object's tags.
pub(crate) fn user_tags(all: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    all.iter()
        .filter(|(k, _)| tags::is_users(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Makes the user tags of `arn` equal `desired`, given `current`.
pub(crate) async fn apply_tags(
    client: &Client,
    s: &Subject<'_>,
    arn: &str,
    current: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let (set, remove) = tags::diff(current, desired);
    let set: Vec<Tag> = set.into_iter().map(|(k, v)| tag(k, v)).collect();
    let remove: Vec<String> = remove.into_iter().map(str::to_owned).collect();
    if !set.is_empty() {
        client
            .add_tags()
            .resource_arns(arn)
            .set_tags(Some(set))
            .send()
            .await
            .map_err(|e| s.error("AddTags", e))?;
    }
    if !remove.is_empty() {
        client
            .remove_tags()
            .resource_arns(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| s.error("RemoveTags", e))?;
    }
    Ok(())
}

/// Whether two lists hold the same items, in any order.
pub(crate) fn same_set<T: Ord>(a: &[T], b: &[T]) -> bool {
    a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names_are_valid_stable_and_differ_by_token() {
        let a = object_name(None, "web", "run-1-web");
        assert_eq!(a, object_name(None, "web", "run-1-web"));
        assert_ne!(a, object_name(None, "web", "run-2-web"));
        assert!(a.starts_with("web-"), "{a}");
        for (resource, token) in [
            ("a_very_long_resource_name_that_goes_on_and_on", "t"),
            ("--", "t"),
            ("internal-lb", "t"),
            ("é", "t"),
        ] {
            let n = object_name(None, resource, token);
            assert!(n.len() <= MAX_NAME, "{n}");
            assert!(!n.starts_with('-') && !n.ends_with('-'), "{n}");
            assert!(!n.starts_with("internal-"), "{n}");
            assert!(
                n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "{n}"
            );
        }
        assert_eq!(object_name(Some("mine"), "web", "t"), "mine");
    }

    #[test]
    fn the_token_tag_identifies_the_create() {
        let tags: BTreeMap<String, String> = tags_on_create("dev", "web", "tok", &BTreeMap::new())
            .iter()
            .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
            .collect();
        assert!(made_by(&tags, "tok"));
        assert!(!made_by(&tags, "other"));
        assert!(user_tags(&tags).is_empty());
    }

    #[test]
    fn protocols_serialize_as_aws_writes_them() {
        assert_eq!(serde_json::to_string(&Protocol::Http).unwrap(), "\"HTTP\"");
        assert_eq!(Protocol::of(Some(&Protocol::Tcp.sdk())), Protocol::Tcp);
    }
}
