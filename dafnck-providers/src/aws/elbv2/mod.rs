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
//! the resource's name (or a target group's `name_prefix`) and the
//! create's idempotency token, so a replacement never collides with the
//! object it replaces, and after a crash mid-create the object is found
//! again by that name (and its token tag checked). With a fixed `name`, a
//! replacement that would make the new object before deleting the old one
//! — a target group rolled out by a deployment policy among them — is
//! refused when planned, naming the resource. A listener is found again among its load balancer's
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

/// Implements [`Described`] for `$resource` from its file's `Found`,
/// `by_read_token`, `arn_of` and `observed_as` (or, given a last argument, that
/// async function in place of `observed_as`, for a type whose read needs
/// another call): described by `$call` (the client's `$describe()` with
/// `$arns(..)`), answering `$list`.
macro_rules! described {
    ($resource:ty, $call:literal, $describe:ident, $arns:ident, $list:ident, $observed:ident) => {
        #[async_trait::async_trait]
        impl super::Described for $resource {
            type Found = Found;

            async fn describe(
                client: &aws_sdk_elasticloadbalancingv2::Client,
                s: &$crate::aws::error::Subject<'_>,
                arns: Vec<String>,
            ) -> Result<Option<Vec<Found>>, $crate::aws::error::AwsError> {
                let out = $crate::aws::lookup::unless_not_found(
                    s,
                    $call,
                    client.$describe().$arns(Some(arns)).send().await,
                )?;
                Ok(out.map(|out| out.$list().to_vec()))
            }

            fn arn_of(found: &Found) -> &str {
                arn_of(found)
            }

            async fn by_token(
                client: &aws_sdk_elasticloadbalancingv2::Client,
                s: &$crate::aws::error::Subject<'_>,
                req: &dafnck_core::provider::kit::Read<Self>,
                token: &str,
            ) -> Result<Option<Found>, $crate::aws::error::AwsError> {
                by_read_token(client, s, req, token).await
            }

            async fn observed(
                client: &aws_sdk_elasticloadbalancingv2::Client,
                req: &dafnck_core::provider::kit::Read<Self>,
                found: &Found,
                tags: &std::collections::BTreeMap<String, String>,
            ) -> Result<
                dafnck_core::provider::kit::Found<Self, <Self as dafnck_core::Resource>::Outputs>,
                $crate::aws::error::AwsError,
            > {
                $observed(client, req, found, tags).await
            }
        }
    };
    ($resource:ty, $call:literal, $describe:ident, $arns:ident, $list:ident) => {
        /// What a read reports: [`observed_as`], which needs no other call.
        async fn observed(
            _: &aws_sdk_elasticloadbalancingv2::Client,
            req: &dafnck_core::provider::kit::Read<$resource>,
            found: &Found,
            tags: &std::collections::BTreeMap<String, String>,
        ) -> Result<
            dafnck_core::provider::kit::Found<
                $resource,
                <$resource as dafnck_core::Resource>::Outputs,
            >,
            $crate::aws::error::AwsError,
        > {
            Ok(observed_as(req, found, tags))
        }

        described!($resource, $call, $describe, $arns, $list, observed);
    };
}

mod listener;
mod load_balancer;
mod target_group;

resource_types! {
    listener: ListenerHandler,
    load_balancer: LoadBalancerHandler,
    target_group: TargetGroupHandler,
}

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;

use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, Tag};
use aws_sdk_elasticloadbalancingv2::Client;
use dafnck_core::provider::kit::{self, Read, ReadManyResult, ReadResult};
use dafnck_core::provider::DiffRequest;
use dafnck_core::{Resource, Value};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{AwsError, Subject};
use super::lookup;
use super::tags::{self, client_token, TOKEN_TAG};

/// A protocol of a [`TargetGroup`] or [`Listener`].
#[derive(
    dafnck_core::prelude::Declare,
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
)]
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
    let suffix = name_suffix(token);
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

/// How many characters [`name_suffix`] has.
const SUFFIX_LEN: usize = 8;

/// The part of a generated name that differs from create to create: 8 hex
/// digits from the create's token (the same token, the same suffix).
fn name_suffix(token: &str) -> String {
    let digest = Sha256::digest(client_token(token).as_bytes());
    digest
        .iter()
        .take(SUFFIX_LEN / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `prefix` followed by the create's suffix (see [`name_suffix`]).
pub(crate) fn prefixed_name(prefix: &str, token: &str) -> String {
    format!("{prefix}{}", name_suffix(token))
}

/// Checks a `name_prefix`: at most 24 letters, digits and hyphens (so the
/// name with its suffix fits in 32), not starting with a hyphen or
/// `internal-`. The error says what is wrong.
pub(crate) fn check_prefix(prefix: &str) -> Result<(), String> {
    let max = MAX_NAME - SUFFIX_LEN;
    if prefix.is_empty() || prefix.len() > max {
        return Err(format!(
            "`name_prefix` {prefix:?} must have 1 to {max} characters (a suffix of {SUFFIX_LEN} follows)"
        ));
    }
    if !prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(format!(
            "`name_prefix` {prefix:?} may hold only letters, digits and hyphens"
        ));
    }
    if prefix.starts_with('-') || prefix.starts_with("internal-") {
        return Err(format!(
            "`name_prefix` {prefix:?} may not start with a hyphen or `internal-`"
        ));
    }
    Ok(())
}

/// Why a new load balancer or target group could not be created beside
/// its old one: both would have the declared `name`, and AWS keeps names
/// unique in an account and region. `None` for other types, a generated
/// name, or a name that changes.
pub(crate) fn replace_conflict(req: &DiffRequest<'_>) -> Option<String> {
    let (what, fix) = if req.type_name == LoadBalancer::TYPE {
        ("load balancer", "leave `name` unset")
    } else if req.type_name == TargetGroup::TYPE {
        ("target group", "leave `name` unset, or set `name_prefix`")
    } else {
        return None;
    };
    let name = |v: &Value| v.get("name").and_then(Value::as_str).map(str::to_owned);
    let fixed = name(req.new_inputs)?;
    (name(req.old_inputs).as_deref() == Some(fixed.as_str())).then(|| {
        format!(
            "its `name` {fixed:?} is fixed, and {what} names are unique in an account and region, so the new {what} cannot be made while the old one exists: {fix}, so that each {what} gets a name of its own"
        )
    })
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
    Ok(tags::by_key(
        out.tag_descriptions()
            .iter()
            .flat_map(|d| d.tags())
            .map(|t| (t.key(), t.value())),
    ))
}

/// At most this many ARNs in one ELBv2 describe call (`DescribeTags` and
/// `DescribeLoadBalancers` take no more).
const ARNS_PER_CALL: usize = 20;

/// The objects among `arns` that AWS knows, described `ARNS_PER_CALL` at a
/// time by `describe` (which answers `None` when AWS says an object is
/// unknown). ELBv2 fails the whole call for one unknown ARN, so such a
/// chunk is described again one ARN at a time with `by_arn`, and only the
/// unknown one is absent.
pub(crate) async fn describe_many<T, D, DF, B, BF>(
    arns: Vec<String>,
    describe: D,
    by_arn: B,
) -> Result<Vec<T>, AwsError>
where
    D: Fn(Vec<String>) -> DF,
    DF: Future<Output = Result<Option<Vec<T>>, AwsError>>,
    B: Fn(String) -> BF,
    BF: Future<Output = Result<Option<T>, AwsError>>,
{
    let mut found = Vec::with_capacity(arns.len());
    for chunk in arns.chunks(ARNS_PER_CALL) {
        match describe(chunk.to_vec()).await? {
            Some(listed) => found.extend(listed),
            None => {
                for arn in chunk {
                    found.extend(by_arn(arn.clone()).await?);
                }
            }
        }
    }
    Ok(found)
}

/// The read path the ELBv2 types share: each type says how it is described
/// and what a read reports of it; [`read`] and [`read_many`] do the rest
/// (tags by `DescribeTags`, batches of ARNs, unknown ARNs one by one).
#[async_trait::async_trait]
pub(crate) trait Described: Resource + Send + Sync + Sized + 'static {
    /// The SDK's description of one object.
    type Found: Clone + Send + Sync;
    /// One `Describe*` call for `arns` (at most `ARNS_PER_CALL`): what AWS
    /// answered, or `None` when it said an ARN is unknown.
    async fn describe(
        client: &Client,
        s: &Subject<'_>,
        arns: Vec<String>,
    ) -> Result<Option<Vec<Self::Found>>, AwsError>;

    /// The object's ARN.
    fn arn_of(found: &Self::Found) -> &str;

    /// The object a create with `token` made for `req`, if any: how a read
    /// after a crash mid-create finds it.
    async fn by_token(
        client: &Client,
        s: &Subject<'_>,
        req: &Read<Self>,
        token: &str,
    ) -> Result<Option<Self::Found>, AwsError>;

    /// What a read reports of `found`, with its `tags`, for `req` (a type
    /// that needs another call to tell, as a target group its targets,
    /// makes it here).
    async fn observed(
        client: &Client,
        req: &Read<Self>,
        found: &Self::Found,
        tags: &BTreeMap<String, String>,
    ) -> Result<kit::Found<Self, Self::Outputs>, AwsError>;
}

/// The object with this ARN, or `None` when AWS does not know it.
pub(crate) async fn by_arn<R: Described>(
    client: &Client,
    s: &Subject<'_>,
    arn: &str,
) -> Result<Option<R::Found>, AwsError> {
    Ok(R::describe(client, s, vec![arn.to_owned()])
        .await?
        .and_then(|found| found.into_iter().next()))
}

/// The object `req` asks about: by ARN, else by the token of the create
/// that may have made it.
async fn find<R: Described>(client: &Client, req: &Read<R>) -> Result<Option<R::Found>, AwsError> {
    let s = Subject::of::<R>(&req.name);
    lookup::find(
        req,
        |arn| by_arn::<R>(client, &s, arn),
        |token| R::by_token(client, &s, req, token),
    )
    .await
}

/// The object with this ARN, which an update needs to exist.
pub(crate) async fn existing<R: Described>(
    client: &Client,
    s: &Subject<'_>,
    arn: &str,
) -> Result<R::Found, AwsError> {
    by_arn::<R>(client, s, arn)
        .await?
        .ok_or_else(|| s.gone(arn))
}

/// The objects AWS knows among `arns` (see [`describe_many`]).
async fn by_arns<R: Described>(
    client: &Client,
    s: &Subject<'_>,
    arns: Vec<String>,
) -> Result<Vec<R::Found>, AwsError> {
    describe_many(
        arns,
        |chunk| R::describe(client, s, chunk),
        |arn| async move { by_arn::<R>(client, s, &arn).await },
    )
    .await
}

/// A handler's `read`: the object `req` asks about, with its tags.
pub(crate) async fn read<R: Described>(client: &Client, req: Read<R>) -> ReadResult<R> {
    let s = Subject::of::<R>(&req.name);
    let Some(found) = find(client, &req).await? else {
        return Ok(None);
    };
    let tags = tags_of(client, &s, R::arn_of(&found)).await?;
    Ok(Some(R::observed(client, &req, &found, &tags).await?))
}

/// A handler's `read_many`: `Describe*` and `DescribeTags` for up to
/// `ARNS_PER_CALL` objects read by ARN at a time (a chunk with an ARN AWS no
/// longer knows is described again one by one, so that one reads as
/// absent); a read by token alone, as [`read`].
pub(crate) async fn read_many<R: Described>(
    client: &Client,
    reqs: Vec<Read<R>>,
) -> ReadManyResult<R> {
    // A failed listing names the batch's first resource.
    let s = Subject::of::<R>(reqs.first().map_or("", |r| r.name.as_str()));
    let found = lookup::find_many(
        &reqs,
        |arns| by_arns::<R>(client, &s, arns),
        |f| Some(R::arn_of(f)),
        |req| find(client, req),
    )
    .await?;
    let arns: Vec<String> = found
        .iter()
        .flatten()
        .map(|f| R::arn_of(f).to_owned())
        .collect();
    let tags = tags_of_many(client, &s, &arns).await?;
    let none = BTreeMap::new();
    let mut observed = Vec::with_capacity(reqs.len());
    for (req, f) in reqs.iter().zip(found) {
        observed.push(match f {
            Some(f) => {
                let tags = tags.get(R::arn_of(&f)).unwrap_or(&none);
                Some(R::observed(client, req, &f, tags).await?)
            }
            None => None,
        });
    }
    Ok(observed)
}

/// The tags of many objects (as [`tags_of`]), by ARN, in calls of up to
/// `ARNS_PER_CALL` ARNs.
pub(crate) async fn tags_of_many(
    client: &Client,
    s: &Subject<'_>,
    arns: &[String],
) -> Result<HashMap<String, BTreeMap<String, String>>, AwsError> {
    let mut tags = HashMap::with_capacity(arns.len());
    for chunk in arns.chunks(ARNS_PER_CALL) {
        let out = client
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| s.error("DescribeTags", e))?;
        for d in out.tag_descriptions() {
            let of_one = d
                .tags()
                .iter()
                .filter_map(|t| {
                    Some((
                        t.key()?.to_owned(),
                        t.value().unwrap_or_default().to_owned(),
                    ))
                })
                .collect();
            tags.insert(d.resource_arn().unwrap_or_default().to_owned(), of_one);
        }
    }
    Ok(tags)
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
    fn a_prefix_takes_the_create_s_suffix_and_is_checked() {
        let a = prefixed_name("web-", "run-1-web");
        assert_eq!(a.len(), 4 + SUFFIX_LEN);
        assert!(a.starts_with("web-"), "{a}");
        assert_eq!(a, prefixed_name("web-", "run-1-web"));
        assert_ne!(a, prefixed_name("web-", "run-2-web"));
        let longest = "p".repeat(MAX_NAME - SUFFIX_LEN);
        assert!(check_prefix(&longest).is_ok());
        assert_eq!(prefixed_name(&longest, "t").len(), MAX_NAME);
        for bad in [
            String::new(),
            "p".repeat(MAX_NAME - SUFFIX_LEN + 1),
            "web_".into(),
            "-web".into(),
            "internal-web".into(),
        ] {
            let e = check_prefix(&bad).unwrap_err();
            assert!(e.contains("`name_prefix`"), "{e}");
        }
    }

    #[test]
    fn a_fixed_name_conflicts_with_a_replacement_of_its_own() {
        let json = |v: serde_json::Value| Value::from_json(v);
        let diff = |type_name: &str, old: serde_json::Value, new: serde_json::Value| {
            let (old, new) = (json(old), json(new));
            replace_conflict(&DiffRequest {
                name: "web",
                type_name,
                old_inputs: &old,
                new_inputs: &new,
                force_new: &[],
                ignore_changes: &[],
            })
        };
        let fixed = serde_json::json!({"name": "web", "port": 80});
        let why = diff(TargetGroup::TYPE, fixed.clone(), fixed.clone()).unwrap();
        assert!(
            why.contains("\"web\" is fixed") && why.contains("name_prefix"),
            "{why}"
        );
        let lb = diff(LoadBalancer::TYPE, fixed.clone(), fixed.clone()).unwrap();
        assert!(lb.contains("load balancer names are unique"), "{lb}");
        // A generated name, a name that changes, another type: no conflict.
        let generated = serde_json::json!({"name": null, "port": 80});
        assert_eq!(diff(TargetGroup::TYPE, generated.clone(), generated), None);
        let renamed = serde_json::json!({"name": "web-2"});
        assert_eq!(diff(TargetGroup::TYPE, fixed.clone(), renamed), None);
        assert_eq!(diff(Listener::TYPE, fixed.clone(), fixed), None);
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
