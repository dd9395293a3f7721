//! [`RolePolicyAttachment`] (`aws:iam:RolePolicyAttachment`): a managed
//! policy attached to a role.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_iam::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    Create, CreateResult, Delete, Made, Read, ReadResult, ResourceHandler, Update, UpdateResult,
};
use dafnck_core::state::CallKind;
use dafnck_core::ProviderError;

use super::super::ec2::{known, required};
use super::super::error::{AwsError, Subject};
use super::super::{lookup, one_call, Aws};
use super::{PolicyArn, RoleName};

/// A managed policy attached to a role.
///
/// - `role`: the role (`role.out().name`); changing it replaces the
///   attachment.
/// - `policy_arn`: the policy (`policy.out().arn`, or an AWS managed
///   policy's ARN). Changed in place: the new policy is attached before the
///   old one is detached, so the role never lacks both.
///
/// The attachment is known by its role and policy (its id is
/// `ROLE/POLICY_ARN` as created); attaching is idempotent in IAM, so a
/// create retried after a crash finds the attachment made.
///
/// # Drift
/// `read` finds the policy among the role's attached policies; detached
/// outside the program, the attachment reads as deleted.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:iam:RolePolicyAttachment", outputs = RolePolicyAttachmentOutputs)]
pub struct RolePolicyAttachment {
    /// The role. Changing it replaces the attachment.
    #[resource(force_new)]
    pub role: Input<RoleName>,
    /// The policy's ARN; changed in place.
    pub policy_arn: Input<PolicyArn>,
}

/// What a [`RolePolicyAttachment`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct RolePolicyAttachmentOutputs {
    /// The role.
    pub role: RoleName,
    /// The policy attached.
    pub policy_arn: PolicyArn,
}

/// The id of the attachment of `arn` to `role` (a role's name holds no
/// `/`).
fn id_of(role: &str, arn: &str) -> String {
    format!("{role}/{arn}")
}

/// The role and policy ARN the inputs declare, if known.
fn pair_of(v: &RolePolicyAttachment) -> Option<(String, String)> {
    let role = v.role.as_value()?.0.clone();
    let arn = v.policy_arn.as_value()?.0.clone();
    (!role.is_empty() && !arn.is_empty()).then_some((role, arn))
}

/// The role and policy ARN an id names.
fn split_id(id: &str) -> Option<(String, String)> {
    id.split_once('/')
        .filter(|(r, a)| !r.is_empty() && !a.is_empty())
        .map(|(r, a)| (r.to_owned(), a.to_owned()))
}

fn declared(s: &Subject<'_>, v: &RolePolicyAttachment) -> Result<(String, String), AwsError> {
    let role = required(s, known(s, &v.role, "role")?.as_str(), "role")?;
    let arn = required(
        s,
        known(s, &v.policy_arn, "policy_arn")?.as_str(),
        "policy_arn",
    )?;
    Ok((role.to_owned(), arn.to_owned()))
}

/// Whether `arn` is attached to `role` (`false` when the role is gone).
async fn attached(
    client: &Client,
    s: &Subject<'_>,
    role: &str,
    arn: &str,
) -> Result<bool, AwsError> {
    let mut marker = None;
    loop {
        let out = lookup::unless_not_found(
            s,
            "ListAttachedRolePolicies",
            client
                .list_attached_role_policies()
                .role_name(role)
                .set_marker(marker)
                .send()
                .await,
        )?;
        let Some(out) = out else { return Ok(false) };
        if out
            .attached_policies()
            .iter()
            .any(|p| p.policy_arn() == Some(arn))
        {
            return Ok(true);
        }
        if !out.is_truncated() {
            return Ok(false);
        }
        marker = out.marker().map(str::to_owned);
    }
}

async fn attach(client: &Client, s: &Subject<'_>, role: &str, arn: &str) -> Result<(), AwsError> {
    client
        .attach_role_policy()
        .role_name(role)
        .policy_arn(arn)
        .send()
        .await
        .map_err(|e| s.error("AttachRolePolicy", e))?;
    Ok(())
}

async fn detach(client: &Client, s: &Subject<'_>, role: &str, arn: &str) -> Result<(), AwsError> {
    lookup::unless_not_found(
        s,
        "DetachRolePolicy",
        client
            .detach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await,
    )?;
    Ok(())
}

fn outputs(role: &str, arn: &str) -> RolePolicyAttachmentOutputs {
    RolePolicyAttachmentOutputs {
        role: RoleName(role.to_owned()),
        policy_arn: PolicyArn(arn.to_owned()),
    }
}

/// Serves [`RolePolicyAttachment`].
pub(crate) struct RolePolicyAttachmentHandler;

#[async_trait]
impl ResourceHandler for RolePolicyAttachmentHandler {
    type Resource = RolePolicyAttachment;
    type Context = Aws;

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(
        &self,
        p: &Aws,
        req: Create<RolePolicyAttachment>,
    ) -> CreateResult<RolePolicyAttachment> {
        let s = Subject::of::<RolePolicyAttachment>(&req.name);
        let (role, arn) = declared(&s, &req.inputs)?;
        let client = p.iam_client().await;
        attach(client, &s, &role, &arn).await?;
        Ok(Made {
            id: id_of(&role, &arn),
            outputs: outputs(&role, &arn),
        })
    }

    /// The pair the recorded inputs name (what the last create or update
    /// attached), else the one the id names (an import).
    async fn read(
        &self,
        p: &Aws,
        req: Read<RolePolicyAttachment>,
    ) -> ReadResult<RolePolicyAttachment> {
        let s = Subject::of::<RolePolicyAttachment>(&req.name);
        let recorded = req.recorded.decode().ok();
        let pair = recorded
            .as_ref()
            .and_then(pair_of)
            .or_else(|| req.id.as_deref().and_then(split_id));
        let Some((role, arn)) = pair else {
            return Ok(None);
        };
        let client = p.iam_client().await;
        if !attached(client, &s, &role, &arn).await? {
            return Ok(None);
        }
        let id = req.id.clone().unwrap_or_else(|| id_of(&role, &arn));
        let inputs = RolePolicyAttachment {
            role: RoleName(role.clone()).into(),
            policy_arn: PolicyArn(arn.clone()).into(),
        };
        Ok(Some(lookup::observed(id, inputs, outputs(&role, &arn))))
    }

    async fn update(
        &self,
        p: &Aws,
        req: Update<RolePolicyAttachment>,
    ) -> UpdateResult<RolePolicyAttachment> {
        let s = Subject::of::<RolePolicyAttachment>(&req.name);
        let (role, arn) = declared(&s, &req.inputs)?;
        let old = req
            .old_inputs
            .decode()
            .ok()
            .as_ref()
            .and_then(pair_of)
            .or_else(|| split_id(&req.id));
        let client = p.iam_client().await;
        attach(client, &s, &role, &arn).await?;
        if let Some((old_role, old_arn)) = old.filter(|(r, a)| (r, a) != (&role, &arn)) {
            detach(client, &s, &old_role, &old_arn).await?;
        }
        Ok(outputs(&role, &arn))
    }

    async fn delete(
        &self,
        p: &Aws,
        req: Delete<RolePolicyAttachment>,
    ) -> Result<(), ProviderError> {
        let s = Subject::of::<RolePolicyAttachment>(&req.name);
        let pair = req
            .inputs
            .decode()
            .ok()
            .as_ref()
            .and_then(pair_of)
            .or_else(|| split_id(&req.id));
        let Some((role, arn)) = pair else {
            return Err(s
                .invalid(format!("{:?} names no role and policy", req.id))
                .into());
        };
        let client = p.iam_client().await;
        Ok(detach(client, &s, &role, &arn).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_role_replaces_the_attachment() {
        assert_eq!(RolePolicyAttachment::force_new_fields(), &["role"]);
    }

    #[test]
    fn ids_name_the_role_and_the_policy() {
        let arn = "arn:aws:iam::123456789012:policy/read";
        let id = id_of("web", arn);
        assert_eq!(split_id(&id), Some(("web".to_owned(), arn.to_owned())));
        assert_eq!(split_id("web"), None);
    }
}
