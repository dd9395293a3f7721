//! [`Role`] (`aws:iam:Role`): an IAM role and who may assume it.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
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
    /// The name of a [`Role`] (its identity in the account, and its id).
    RoleName;
    /// The ARN of a [`Role`].
    RoleArn;
}

/// An IAM role.
///
/// - `name`: its name, unique in the account (at most 64 letters, digits
///   and `+=,.@_-`); `None` (the default) derives one from the resource's
///   name and 8 hex digits that differ from create to create. Changing it
///   replaces the role.
/// - `assume_role_policy`: the trust policy (JSON): who may assume it. Set
///   in place; compared as JSON, so reformatting it changes nothing.
/// - `description`: set in place.
/// - `max_session_duration`: seconds, 3600 to 43200 (0: AWS's default,
///   3600). Set in place.
/// - `tags`: the user's tags; set in place.
///
/// # Drift
/// `read` reports the trust policy (as the recorded text when AWS's says
/// the same), description, session duration and tags as IAM has them.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:iam:Role", outputs = RoleOutputs)]
pub struct Role {
    /// Its name; `None` derives one. Changing it replaces the role.
    #[resource(force_new)]
    pub name: Option<String>,
    /// The trust policy document (JSON).
    pub assume_role_policy: String,
    /// Its description.
    pub description: String,
    /// The longest session, in seconds (0: 3600).
    pub max_session_duration: u32,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// What a [`Role`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct RoleOutputs {
    /// Its name (and id), for
    /// [`RolePolicyAttachment::role`](super::RolePolicyAttachment::role) and
    /// [`InstanceProfile::role`](super::InstanceProfile::role).
    pub name: RoleName,
    /// Its ARN.
    pub arn: RoleArn,
    /// Its unique id (`AROA...`).
    pub role_id: String,
}

type Found = aws_sdk_iam::types::Role;

/// AWS's default session duration.
const DEFAULT_SESSION: u32 = 3600;

fn outputs(role: &Found) -> RoleOutputs {
    RoleOutputs {
        name: RoleName(role.role_name().to_owned()),
        arn: RoleArn(role.arn().to_owned()),
        role_id: role.role_id().to_owned(),
    }
}

fn session_of(v: &Role) -> u32 {
    if v.max_session_duration == 0 {
        DEFAULT_SESSION
    } else {
        v.max_session_duration
    }
}

fn check(s: &Subject<'_>, v: &Role) -> Result<(), AwsError> {
    check_name(s, v.name.as_deref())?;
    check_document(s, "assume_role_policy", &v.assume_role_policy)?;
    tags::check_user_tags(s, &v.tags)?;
    if !(3600..=43200).contains(&session_of(v)) {
        return Err(s.invalid(format!(
            "`max_session_duration` {} is not between 3600 and 43200 seconds",
            v.max_session_duration
        )));
    }
    Ok(())
}

async fn delete_role(client: &Client, s: &Subject<'_>, name: &str) -> Result<(), AwsError> {
    lookup::deleted(
        s,
        "DeleteRole",
        client.delete_role().role_name(name).send().await,
    )
}

/// Serves [`Role`].
pub(crate) struct RoleHandler;

#[async_trait]
impl ResourceHandler for RoleHandler {
    type Resource = Role;
    type Context = Aws;

    fn diff(&self, req: &DiffRequest<'_>) -> Diff {
        Diff {
            replace_conflict: self.replace_conflict(req),
            ..policy_diff(req, &["assume_role_policy"])
        }
    }

    fn replace_conflict(&self, req: &DiffRequest<'_>) -> Option<String> {
        fixed_name_conflict(req, "role", "role names are unique in an account")
    }

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<Role>) -> CreateResult<Role> {
        let s = Subject::of::<Role>(&req.name);
        let v = &req.inputs;
        check(&s, v)?;
        let name = iam_name(v.name.as_deref(), &req.name, &req.token);
        let client = p.iam_client().await;
        if let Some(role) = by_token::<Self>(client, &s, &name, &req.token).await? {
            return Ok(Made {
                id: name,
                outputs: outputs(&role),
            });
        }
        let out = client
            .create_role()
            .role_name(&name)
            .assume_role_policy_document(&v.assume_role_policy)
            .set_description(Some(v.description.clone()).filter(|d| !d.is_empty()))
            .max_session_duration(session_of(v) as i32)
            .set_tags(Some(tags_on_create(
                &s, &req.stack, &req.name, &req.token, &v.tags,
            )?))
            .send()
            .await
            .map_err(|e| s.error("CreateRole", e))?;
        let role = out
            .role
            .ok_or_else(|| s.incomplete("CreateRole", "a role"))?;
        Ok(Made {
            id: name,
            outputs: outputs(&role),
        })
    }

    async fn read(&self, p: &Aws, req: Read<Role>) -> ReadResult<Role> {
        read_named::<Self>(p, req).await
    }

    async fn update(&self, p: &Aws, req: Update<Role>) -> UpdateResult<Role> {
        let s = Subject::of::<Role>(&req.name);
        let v = &req.inputs;
        check(&s, v)?;
        let client = p.iam_client().await;
        let name = req.id.as_str();
        let role = Self::by_id(client, &s, name)
            .await?
            .ok_or_else(|| s.gone(name))?;
        let found = Self::observed(&role, v).inputs;
        if !same_policy(&found.assume_role_policy, &v.assume_role_policy) {
            client
                .update_assume_role_policy()
                .role_name(name)
                .policy_document(&v.assume_role_policy)
                .send()
                .await
                .map_err(|e| s.error("UpdateAssumeRolePolicy", e))?;
        }
        if found.description != v.description
            || found.max_session_duration != v.max_session_duration
        {
            client
                .update_role()
                .role_name(name)
                .description(&v.description)
                .max_session_duration(session_of(v) as i32)
                .send()
                .await
                .map_err(|e| s.error("UpdateRole", e))?;
        }
        retag!(
            &s, &found.tags => &v.tags,
            client.tag_role / untag_role, role_name(name),
            "TagRole" / "UntagRole"
        )
        .await?;
        Ok(outputs(&role))
    }

    deletes_by!(Role, iam_client, delete_role);
}

#[async_trait]
impl NamedType for RoleHandler {
    const WHAT: &'static str = "role";
    type Found = Found;

    fn declared_name(inputs: &Role) -> Option<&str> {
        inputs.name.as_deref()
    }

    fn tags(role: &Found) -> &[Tag] {
        role.tags()
    }

    fn observed(role: &Found, recorded: &Role) -> kit::Found<Role, RoleOutputs> {
        let session = role
            .max_session_duration()
            .and_then(|d| u32::try_from(d).ok())
            .unwrap_or(DEFAULT_SESSION);
        let observed = Role {
            name: recorded.name.as_ref().map(|_| role.role_name().to_owned()),
            assume_role_policy: as_found(
                role.assume_role_policy_document().unwrap_or_default(),
                &recorded.assume_role_policy,
            ),
            description: role.description().unwrap_or_default().to_owned(),
            max_session_duration: if recorded.max_session_duration == 0
                && session == DEFAULT_SESSION
            {
                0
            } else {
                session
            },
            tags: user_tags(role.tags()),
        };
        lookup::observed(role.role_name(), observed, outputs(role))
    }

    async fn by_id(client: &Client, s: &Subject<'_>, name: &str) -> Lookup<Found> {
        let out =
            lookup::unless_not_found(s, "GetRole", client.get_role().role_name(name).send().await)?;
        let Some(role) = out.and_then(|out| out.role) else {
            return Ok(None);
        };
        // GetRole's tags, or ListRoleTags' where a fake leaves them out.
        if !role.tags().is_empty() {
            return Ok(Some(role));
        }
        let tags = client
            .list_role_tags()
            .role_name(name)
            .send()
            .await
            .map_err(|e| s.error("ListRoleTags", e))?;
        let mut role = role;
        role.tags = Some(tags.tags().to_vec());
        Ok(Some(role))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_name_replaces_the_role() {
        assert_eq!(Role::force_new_fields(), &["name"]);
    }

    #[test]
    fn a_reformatted_trust_policy_is_no_change() {
        use dafnck_core::Value;
        let old = Value::from_serialize(&Role {
            assume_role_policy: r#"{"Statement":[],"Version":"2012-10-17"}"#.into(),
            ..Default::default()
        })
        .unwrap();
        let new = Value::from_serialize(&Role {
            assume_role_policy: "{ \"Version\": \"2012-10-17\", \"Statement\": [] }".into(),
            ..Default::default()
        })
        .unwrap();
        let req = DiffRequest {
            name: "r",
            type_name: Role::TYPE,
            old_inputs: &old,
            new_inputs: &new,
            force_new: &[],
            ignore_changes: &[],
        };
        assert!(RoleHandler.diff(&req).is_empty());
    }

    #[test]
    fn session_durations_outside_aws_s_range_are_refused() {
        let s = Subject::of::<Role>("r");
        let v = Role {
            assume_role_policy: "{}".into(),
            max_session_duration: 60,
            ..Default::default()
        };
        let e = check(&s, &v).unwrap_err().to_string();
        assert!(e.contains("max_session_duration"), "{e}");
    }
}
