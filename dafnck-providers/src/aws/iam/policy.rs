//! [`Policy`] (`aws:iam:Policy`): a customer managed IAM policy, its
//! document kept as versions.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_iam::types::PolicyScopeType;
use aws_sdk_iam::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Made, Read, ReadResult, ResourceHandler, Update, UpdateResult,
};
use dafnck_core::provider::{Diff, DiffRequest};
use dafnck_core::state::CallKind;

use super::super::error::{AwsError, Subject};
use super::super::lookup::Lookup;
use super::super::{lookup, one_call, tags, Aws};
use super::{
    as_found, by_token, check_document, check_name, fixed_name_conflict, iam_name, policy_diff,
    read_named, same_policy, tags_on_create, user_tags, NamedType, Tag,
};

ids! {
    /// The ARN of a [`Policy`] (its id).
    PolicyArn;
}

/// The most versions IAM keeps of one policy.
const MAX_VERSIONS: usize = 5;

/// A customer managed IAM policy.
///
/// - `name`: its name, unique in the account; `None` (the default) derives
///   one from the resource's name and 8 hex digits that differ from create
///   to create. Changing it replaces the policy.
/// - `document`: the policy (JSON). A change makes a new default version
///   (CreatePolicyVersion); when the policy already has IAM's limit of 5
///   versions, the oldest that is not the default is deleted first.
///   Compared as JSON, so reformatting it changes nothing.
/// - `description`: IAM cannot change it, so changing it replaces the
///   policy.
/// - `tags`: the user's tags; set in place.
///
/// Deleting it deletes its other versions first; IAM refuses while it is
/// still attached (the error says so).
///
/// # Drift
/// `read` reports the default version's document (as the recorded text
/// when it says the same), the description and tags as IAM has them: a
/// new default version made outside the program is drift.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:iam:Policy", outputs = PolicyOutputs)]
pub struct Policy {
    /// Its name; `None` derives one. Changing it replaces the policy.
    #[resource(force_new)]
    pub name: Option<String>,
    /// The policy document (JSON).
    pub document: String,
    /// Its description. Changing it replaces the policy.
    #[resource(force_new)]
    pub description: String,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// What a [`Policy`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct PolicyOutputs {
    /// Its ARN (and id), for
    /// [`RolePolicyAttachment::policy_arn`](super::RolePolicyAttachment::policy_arn).
    pub arn: PolicyArn,
    /// Its name.
    pub name: String,
    /// Its unique id (`ANPA...`).
    pub policy_id: String,
    /// The default version's id (`v1`, `v2`, ...).
    pub default_version_id: String,
}

/// A policy as found: the policy and its default version's document.
#[derive(Clone, Debug)]
pub(crate) struct Found {
    policy: aws_sdk_iam::types::Policy,
    document: String,
}

fn outputs(p: &aws_sdk_iam::types::Policy) -> PolicyOutputs {
    PolicyOutputs {
        arn: PolicyArn(p.arn().unwrap_or_default().to_owned()),
        name: p.policy_name().unwrap_or_default().to_owned(),
        policy_id: p.policy_id().unwrap_or_default().to_owned(),
        default_version_id: p.default_version_id().unwrap_or_default().to_owned(),
    }
}

fn check(s: &Subject<'_>, v: &Policy) -> Result<(), AwsError> {
    check_name(s, v.name.as_deref())?;
    check_document(s, "document", &v.document)?;
    tags::check_user_tags(s, &v.tags)
}

/// The policy's versions that are not its default, oldest first.
async fn old_versions(
    client: &Client,
    s: &Subject<'_>,
    arn: &str,
) -> Result<Vec<String>, AwsError> {
    let out = client
        .list_policy_versions()
        .policy_arn(arn)
        .send()
        .await
        .map_err(|e| s.error("ListPolicyVersions", e))?;
    let mut old: Vec<String> = out
        .versions()
        .iter()
        .filter(|v| !v.is_default_version())
        .filter_map(|v| v.version_id().map(str::to_owned))
        .collect();
    // `v3` before `v12`.
    old.sort_by_key(|v| v.trim_start_matches('v').parse::<u64>().unwrap_or(u64::MAX));
    Ok(old)
}

async fn delete_version(
    client: &Client,
    s: &Subject<'_>,
    arn: &str,
    version: &str,
) -> Result<(), AwsError> {
    lookup::deleted(
        s,
        "DeletePolicyVersion",
        client
            .delete_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await,
    )
}

/// Makes `document` the policy's new default version, first deleting its
/// oldest other versions so that it stays within IAM's limit.
async fn new_version(
    client: &Client,
    s: &Subject<'_>,
    arn: &str,
    document: &str,
) -> Result<String, AwsError> {
    let old = old_versions(client, s, arn).await?;
    // The default plus `old`; one more must fit.
    let excess = (old.len() + 2).saturating_sub(MAX_VERSIONS);
    for version in old.iter().take(excess) {
        delete_version(client, s, arn, version).await?;
    }
    let out = client
        .create_policy_version()
        .policy_arn(arn)
        .policy_document(document)
        .set_as_default(true)
        .send()
        .await
        .map_err(|e| s.error("CreatePolicyVersion", e))?;
    Ok(out
        .policy_version()
        .and_then(|v| v.version_id())
        .unwrap_or_default()
        .to_owned())
}

async fn delete_policy(client: &Client, s: &Subject<'_>, arn: &str) -> Result<(), AwsError> {
    let old = match old_versions(client, s, arn).await {
        Ok(old) => old,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    for version in &old {
        delete_version(client, s, arn, version).await?;
    }
    lookup::deleted(
        s,
        "DeletePolicy",
        client.delete_policy().policy_arn(arn).send().await,
    )
}

/// Serves [`Policy`].
pub(crate) struct PolicyHandler;

#[async_trait]
impl ResourceHandler for PolicyHandler {
    type Resource = Policy;
    type Context = Aws;

    fn diff(&self, req: &DiffRequest<'_>) -> Diff {
        Diff {
            replace_conflict: self.replace_conflict(req),
            ..policy_diff(req, &["document"])
        }
    }

    fn replace_conflict(&self, req: &DiffRequest<'_>) -> Option<String> {
        fixed_name_conflict(req, "policy", "policy names are unique in an account")
    }

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<Policy>) -> CreateResult<Policy> {
        let s = Subject::of::<Policy>(&req.name);
        let v = &req.inputs;
        check(&s, v)?;
        let name = iam_name(v.name.as_deref(), &req.name, &req.token);
        let client = p.iam_client().await;
        if let Some(found) = by_token::<Self>(client, &s, &name, &req.token).await? {
            return Ok(Made {
                id: found.policy.arn().unwrap_or_default().to_owned(),
                outputs: outputs(&found.policy),
            });
        }
        let out = client
            .create_policy()
            .policy_name(&name)
            .policy_document(&v.document)
            .set_description(Some(v.description.clone()).filter(|d| !d.is_empty()))
            .set_tags(Some(tags_on_create(
                &s, &req.stack, &req.name, &req.token, &v.tags,
            )?))
            .send()
            .await
            .map_err(|e| s.error("CreatePolicy", e))?;
        let policy = out
            .policy
            .ok_or_else(|| s.incomplete("CreatePolicy", "a policy"))?;
        let arn = policy
            .arn()
            .ok_or_else(|| s.incomplete("CreatePolicy", "an ARN"))?
            .to_owned();
        Ok(Made {
            id: arn,
            outputs: outputs(&policy),
        })
    }

    async fn read(&self, p: &Aws, req: Read<Policy>) -> ReadResult<Policy> {
        read_named::<Self>(p, req).await
    }

    async fn update(&self, p: &Aws, req: Update<Policy>) -> UpdateResult<Policy> {
        let s = Subject::of::<Policy>(&req.name);
        let v = &req.inputs;
        check(&s, v)?;
        let client = p.iam_client().await;
        let arn = req.id.as_str();
        let found = Self::by_id(client, &s, arn)
            .await?
            .ok_or_else(|| s.gone(arn))?;
        let mut out = outputs(&found.policy);
        if !same_policy(&found.document, &v.document) {
            out.default_version_id = new_version(client, &s, arn, &v.document).await?;
        }
        retag!(
            &s, &user_tags(found.policy.tags()) => &v.tags,
            client.tag_policy / untag_policy, policy_arn(arn),
            "TagPolicy" / "UntagPolicy"
        )
        .await?;
        Ok(out)
    }

    deletes_by!(Policy, iam_client, delete_policy);
}

#[async_trait]
impl NamedType for PolicyHandler {
    const WHAT: &'static str = "policy";
    type Found = Found;

    fn declared_name(inputs: &Policy) -> Option<&str> {
        inputs.name.as_deref()
    }

    fn tags(found: &Found) -> &[Tag] {
        found.policy.tags()
    }

    fn observed(found: &Found, recorded: &Policy) -> kit::Found<Policy, PolicyOutputs> {
        let p = &found.policy;
        let observed = Policy {
            name: recorded
                .name
                .as_ref()
                .map(|_| p.policy_name().unwrap_or_default().to_owned()),
            document: as_found(&found.document, &recorded.document),
            description: p.description().unwrap_or_default().to_owned(),
            tags: user_tags(p.tags()),
        };
        lookup::observed(p.arn().unwrap_or_default(), observed, outputs(p))
    }

    async fn by_id(client: &Client, s: &Subject<'_>, arn: &str) -> Lookup<Found> {
        let out = lookup::unless_not_found(
            s,
            "GetPolicy",
            client.get_policy().policy_arn(arn).send().await,
        )?;
        let Some(mut policy) = out.and_then(|out| out.policy) else {
            return Ok(None);
        };
        if policy.tags().is_empty() {
            // GetPolicy's tags, or ListPolicyTags' where a fake leaves them out.
            let tags = client
                .list_policy_tags()
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| s.error("ListPolicyTags", e))?;
            policy.tags = Some(tags.tags().to_vec());
        }
        let version = policy.default_version_id().unwrap_or("v1").to_owned();
        let out = client
            .get_policy_version()
            .policy_arn(arn)
            .version_id(&version)
            .send()
            .await
            .map_err(|e| s.error("GetPolicyVersion", e))?;
        let document = out
            .policy_version()
            .and_then(|v| v.document())
            .unwrap_or_default()
            .to_owned();
        Ok(Some(Found { policy, document }))
    }

    /// The account's own policy named `name`, found among its policies.
    async fn by_name(client: &Client, s: &Subject<'_>, name: &str) -> Lookup<Found> {
        let mut marker = None;
        loop {
            let out = client
                .list_policies()
                .scope(PolicyScopeType::Local)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| s.error("ListPolicies", e))?;
            if let Some(p) = out
                .policies()
                .iter()
                .find(|p| p.policy_name() == Some(name))
            {
                let Some(arn) = p.arn() else { return Ok(None) };
                return Self::by_id(client, s, arn).await;
            }
            if !out.is_truncated() {
                return Ok(None);
            }
            marker = out.marker().map(str::to_owned);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_and_description_replace_the_policy() {
        assert_eq!(Policy::force_new_fields(), &["name", "description"]);
    }
}
