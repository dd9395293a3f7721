//! IAM resources (`aws:iam:*`): [`Role`], [`Policy`],
//! [`RolePolicyAttachment`] and [`InstanceProfile`].
//!
//! A role's, policy's or instance profile's name is its identity in the
//! account: a declared `name`, or one derived from the resource's name and
//! the create's idempotency token, so a replacement never collides with the
//! object it replaces and a create retried after a crash derives the same
//! name and finds its object (its `dafnck:token` tag, set by the create
//! call itself, checked) instead of failing or making a second one. An
//! attachment is known by its role and policy. Policy documents are
//! compared as JSON values, not text: AWS URL-encodes and reformats them,
//! and a document written with other spacing, key order, statement order
//! or a one-element list where a string would do is the same document, so
//! it is neither drift nor a change. IAM has no call that describes many
//! named objects with their tags at once, so each is read on its own.
//! Deleting an object that is already gone succeeds.
//!
//! ```
//! use dafnck_core::prelude::*;
//! use dafnck_providers::aws::iam::{InstanceProfile, Policy, Role, RolePolicyAttachment};
//!
//! fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
//!     let role = stack.add("web", Role {
//!         assume_role_policy: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
//!             "Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#.into(),
//!         ..Default::default()
//!     });
//!     let read = stack.add("read-assets", Policy {
//!         document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
//!             "Action":"s3:GetObject","Resource":"*"}]}"#.into(),
//!         ..Default::default()
//!     });
//!     stack.add("web-read-assets", RolePolicyAttachment {
//!         role: role.out().name,
//!         policy_arn: read.out().arn,
//!     });
//!     stack.add("web-profile", InstanceProfile {
//!         role: Some(role.out().name),
//!         ..Default::default()
//!     });
//!     Ok(())
//! }
//! # let _ = infra;
//! ```

/// Calls [`retag`] with the tag and untag calls for one kind of object:
/// `retag!(&s, &current => &desired, client.tag_role / untag_role,
/// role_name(name), "TagRole" / "UntagRole")`. A macro because each kind
/// has its own SDK builders.
macro_rules! retag {
    (
        $s:expr, $current:expr => $desired:expr,
        $client:ident.$tag:ident / $untag:ident, $key:ident($id:expr),
        $tag_call:literal / $untag_call:literal
    ) => {
        async {
            let (set, keys) = $crate::aws::tags::tag_changes($current, $desired, |k, v| {
                $crate::aws::iam::tag($s, k, v)
            })?;
            $crate::aws::tags::add_then_remove(
                $s,
                set,
                keys,
                ($tag_call, $untag_call),
                |set| $client.$tag().$key($id).set_tags(Some(set)).send(),
                |keys| $client.$untag().$key($id).set_tag_keys(Some(keys)).send(),
            )
            .await
        }
    };
}

mod instance_profile;
mod policy;
mod role;
mod role_policy_attachment;

resource_types! {
    instance_profile: InstanceProfileHandler,
    policy: PolicyHandler,
    role: RoleHandler,
    role_policy_attachment: RolePolicyAttachmentHandler,
}

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_iam::types::Tag;
use aws_sdk_iam::Client;
use dafnck_core::provider::kit::{self, OutputsOf, Read, ReadResult, ResourceHandler};
use dafnck_core::provider::DiffRequest;
use dafnck_core::Value;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::error::{AwsError, Subject};
use super::tags::{self, client_token, TOKEN_TAG};
use super::{lookup, Aws};

/// The longest role, policy or instance profile name IAM accepts.
const MAX_NAME: usize = 64;

/// An IAM name: the declared one, or one derived from the resource's name
/// and the create's token (letters, digits and `+=,.@_-`, at most 64; the
/// same token always gives the same name).
pub(crate) fn iam_name(declared: Option<&str>, resource: &str, token: &str) -> String {
    if let Some(name) = declared {
        return name.to_owned();
    }
    let digest = Sha256::digest(client_token(token).as_bytes());
    let suffix: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let base: String = resource
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(MAX_NAME - suffix.len() - 1)
        .collect();
    format!("{base}-{suffix}")
}

/// Checks a declared IAM name.
pub(crate) fn check_name(s: &Subject<'_>, name: Option<&str>) -> Result<(), AwsError> {
    let Some(name) = name else { return Ok(()) };
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if valid {
        Ok(())
    } else {
        Err(s.invalid(format!(
            "`name` {name:?} is not an IAM name (1 to 64 letters, digits and `+=,.@_-`)"
        )))
    }
}

/// Why a replacement of a type whose `name` is unique (`what`, and why:
/// `unique`) could not be made beside the old object: a fixed `name` that
/// does not change. `None` for a derived name or a name that changes.
pub(crate) fn fixed_name_conflict(
    req: &DiffRequest<'_>,
    what: &str,
    unique: &str,
) -> Option<String> {
    let name = |v: &Value| v.get("name").and_then(Value::as_str).map(str::to_owned);
    let fixed = name(req.new_inputs)?;
    (name(req.old_inputs).as_deref() == Some(fixed.as_str())).then(|| {
        format!(
            "its `name` {fixed:?} is fixed, and {unique}, so the new {what} cannot be made \
             while the old one exists: leave `name` unset, so that each {what} gets a name of \
             its own, or replace it with `delete_before_replace`"
        )
    })
}

/// One IAM tag.
pub(crate) fn tag(s: &Subject<'_>, key: &str, value: &str) -> Result<Tag, AwsError> {
    Tag::builder()
        .key(key)
        .value(value)
        .build()
        .map_err(|e| s.invalid(e.to_string()))
}

/// The provider's tags and the user's, for a create call.
pub(crate) fn tags_on_create(
    s: &Subject<'_>,
    stack: &str,
    name: &str,
    token: &str,
    user: &BTreeMap<String, String>,
) -> Result<Vec<Tag>, AwsError> {
    tags::ours(stack, name, token)
        .iter()
        .map(|(k, v)| tag(s, k, v))
        .chain(user.iter().map(|(k, v)| tag(s, k, v)))
        .collect()
}

/// An object's tags, all of them, by key.
pub(crate) fn all_tags(found: &[Tag]) -> BTreeMap<String, String> {
    found
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

/// The user's tags among an object's tags.
pub(crate) fn user_tags(found: &[Tag]) -> BTreeMap<String, String> {
    found
        .iter()
        .filter(|t| tags::is_users(t.key()))
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

/// Whether the tags say a create with `token` made the object.
pub(crate) fn made_by(found: &[Tag], token: &str) -> bool {
    all_tags(found).get(TOKEN_TAG) == Some(&client_token(token))
}

/// The error for an object named `name` that a create with another token
/// (or none of ours) made.
pub(crate) fn not_ours(s: &Subject<'_>, what: &str, name: &str) -> AwsError {
    s.invalid(format!(
        "an IAM {what} named {name:?} already exists and was not made by this resource \
         (choose another `name`, or import it)"
    ))
}

/// A type of IAM object known by a name unique in the account (a role, a
/// policy, an instance profile), as the code its handlers share sees it:
/// how to find an object, and what a read of one reports. Finding the
/// object a create made ([`by_token`]) and reading ([`read_named`]) are
/// then written once.
#[async_trait]
pub(crate) trait NamedType: ResourceHandler<Context = Aws> {
    /// What IAM calls an object of the type, for messages (`"role"`).
    const WHAT: &'static str;
    /// An object as found.
    type Found: Send;

    /// The `name` the inputs declare.
    fn declared_name(inputs: &Self::Resource) -> Option<&str>;

    /// A found object's tags.
    fn tags(found: &Self::Found) -> &[Tag];

    /// What a read reports of `found`, given the `recorded` inputs.
    fn observed(
        found: &Self::Found,
        recorded: &Self::Resource,
    ) -> kit::Found<Self::Resource, OutputsOf<Self::Resource>>;

    /// The object whose id is `id`, if any.
    async fn by_id(
        client: &Client,
        s: &Subject<'_>,
        id: &str,
    ) -> Result<Option<Self::Found>, AwsError>;

    /// The object named `name`, if any; by default the one whose id it is.
    async fn by_name(
        client: &Client,
        s: &Subject<'_>,
        name: &str,
    ) -> Result<Option<Self::Found>, AwsError> {
        Self::by_id(client, s, name).await
    }
}

/// The object a create with `token` made, if any (`name`: the name that
/// create gives it). One of that name that it did not make is an error:
/// adopting it would take over a stranger's object.
pub(crate) async fn by_token<N: NamedType>(
    client: &Client,
    s: &Subject<'_>,
    name: &str,
    token: &str,
) -> Result<Option<N::Found>, AwsError> {
    match N::by_name(client, s, name).await? {
        Some(found) if made_by(N::tags(&found), token) => Ok(Some(found)),
        Some(_) => Err(not_ours(s, N::WHAT, name)),
        None => Ok(None),
    }
}

/// Serves a read of a named object: by the id state records, else (after
/// a crash mid-create) by the name and token of the create.
pub(crate) async fn read_named<N>(p: &Aws, req: Read<N::Resource>) -> ReadResult<N::Resource>
where
    N: NamedType,
    N::Resource: Default,
{
    let s = &Subject::of::<N::Resource>(&req.name);
    let client = p.iam_client().await;
    let recorded = req.recorded.decode_or_default();
    let (declared, resource) = (N::declared_name(&recorded), req.name.as_str());
    let found = lookup::find(
        &req,
        |id| N::by_id(client, s, id),
        |token| async move {
            let name = iam_name(declared, resource, token);
            by_token::<N>(client, s, &name, token).await
        },
    )
    .await?;
    Ok(found.map(|f| N::observed(&f, &recorded)))
}

/// A policy document as IAM answers it: URL-encoded (by AWS) or not (by
/// some fakes), decoded.
pub(crate) fn decoded(document: &str) -> String {
    if serde_json::from_str::<Json>(document).is_ok() {
        return document.to_owned();
    }
    let bytes = document.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A policy document in one canonical form: a one-element list is its
/// element, and lists are sorted (IAM reads statements, actions, resources
/// and principals as sets). `None` when it is not JSON.
fn canonical(document: &str) -> Option<Json> {
    fn canon(v: Json) -> Json {
        match v {
            Json::Array(items) => {
                let mut items: Vec<Json> = items.into_iter().map(canon).collect();
                items.sort_by_key(|a| a.to_string());
                items.dedup();
                if items.len() == 1 {
                    items.pop().unwrap_or(Json::Null)
                } else {
                    Json::Array(items)
                }
            }
            Json::Object(map) => {
                Json::Object(map.into_iter().map(|(k, v)| (k, canon(v))).collect())
            }
            other => other,
        }
    }
    serde_json::from_str(&decoded(document)).ok().map(canon)
}

/// Whether two policy documents say the same (see [`canonical`]); two
/// texts that are not JSON are the same only when equal.
pub(crate) fn same_policy(a: &str, b: &str) -> bool {
    match (canonical(a), canonical(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

/// The document a read reports: `recorded` when AWS's `found` says the
/// same (so formatting is no drift), else `found`, decoded.
pub(crate) fn as_found(found: &str, recorded: &str) -> String {
    if same_policy(found, recorded) {
        recorded.to_owned()
    } else {
        decoded(found)
    }
}

/// Checks that a policy document (`what`) is JSON, before IAM is asked.
pub(crate) fn check_document(s: &Subject<'_>, what: &str, document: &str) -> Result<(), AwsError> {
    match serde_json::from_str::<Json>(document) {
        Ok(Json::Object(_)) => Ok(()),
        Ok(_) => Err(s.invalid(format!("`{what}` must be a JSON object"))),
        Err(e) => Err(s.invalid(format!("`{what}` is not JSON: {e}"))),
    }
}

/// The standard diff, without the fields named in `documents` whose old
/// and new policy documents say the same.
pub(crate) fn policy_diff(
    req: &DiffRequest<'_>,
    documents: &[&str],
) -> dafnck_core::provider::Diff {
    let mut diff = dafnck_core::provider::standard_diff(req);
    let same = |field: &str| {
        let text = |v: &Value| v.get(field).and_then(Value::as_str).map(str::to_owned);
        match (text(req.old_inputs), text(req.new_inputs)) {
            (Some(a), Some(b)) => same_policy(&a, &b),
            _ => false,
        }
    };
    diff.changed
        .retain(|f| !(documents.contains(&f.as_str()) && same(f)));
    diff.replace_because.retain(|f| diff.changed.contains(f));
    diff
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"*"}]}"#;

    #[test]
    fn formatting_is_not_a_difference() {
        let reformatted = r#"{
            "Statement": [{"Resource": ["*"], "Action": "s3:GetObject", "Effect": "Allow"}],
            "Version": "2012-10-17"
        }"#;
        assert!(same_policy(DOC, reformatted));
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D";
        assert!(same_policy(encoded, DOC));
        assert_eq!(as_found(encoded, DOC), DOC);
        let other = DOC.replace("GetObject", "PutObject");
        assert!(!same_policy(DOC, &other));
        assert_eq!(as_found(&other, DOC), other);
    }

    #[test]
    fn list_order_is_not_a_difference() {
        let a = r#"{"Action":["a","b"]}"#;
        let b = r#"{"Action":["b","a"]}"#;
        assert!(same_policy(a, b));
        assert!(!same_policy(a, r#"{"Action":["a","c"]}"#));
    }

    #[test]
    fn documents_must_be_json_objects() {
        let s = Subject {
            type_name: "aws:iam:Policy",
            name: "p",
        };
        assert!(check_document(&s, "document", DOC).is_ok());
        let e = check_document(&s, "document", "{nope")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("aws:iam:Policy \"p\"") && e.contains("not JSON"),
            "{e}"
        );
    }

    #[test]
    fn derived_names_are_valid_and_stable_per_create() {
        let a = iam_name(None, "web role", "t1");
        assert!(a.starts_with("web-role-") && a.len() == 17, "{a}");
        assert_eq!(a, iam_name(None, "web role", "t1"));
        assert_ne!(a, iam_name(None, "web role", "t2"));
        assert_eq!(iam_name(None, &"x".repeat(99), "t").len(), MAX_NAME);
        let s = Subject {
            type_name: "aws:iam:Role",
            name: "r",
        };
        assert!(check_name(&s, Some("ok_Name+=,.@-")).is_ok());
        assert!(check_name(&s, Some("no spaces")).is_err());
    }
}
