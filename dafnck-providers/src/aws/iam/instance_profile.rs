//! [`InstanceProfile`] (`aws:iam:InstanceProfile`): how an EC2 instance
//! takes on a role.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_iam::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Made, Read, ReadResult, ResourceHandler, Update, UpdateResult,
};
use dafnck_core::provider::DiffRequest;
use dafnck_core::state::CallKind;

use super::super::ec2::known;
use super::super::error::{AwsError, Subject};
use super::super::lookup::Lookup;
use super::super::{failed_after_create, lookup, one_call, tags, Aws};
use super::{
    by_token, check_name, fixed_name_conflict, iam_name, read_named, tags_on_create, user_tags,
    NamedType, RoleName, Tag,
};

ids! {
    /// The ARN of an [`InstanceProfile`].
    InstanceProfileArn;
}

/// An instance profile: the role an EC2 instance runs as.
///
/// - `name`: its name, unique in the account; `None` (the default) derives
///   one from the resource's name and 8 hex digits that differ from create
///   to create. Changing it replaces the profile.
/// - `role`: its role (`role.out().name`), or `None`; added, removed or
///   swapped in place.
/// - `tags`: the user's tags; set in place.
///
/// Deleting it removes its role first.
///
/// # Drift
/// `read` reports the role and tags as IAM has them.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:iam:InstanceProfile", outputs = InstanceProfileOutputs)]
pub struct InstanceProfile {
    /// Its name; `None` derives one. Changing it replaces the profile.
    #[resource(force_new)]
    pub name: Option<String>,
    /// Its role.
    pub role: Option<Input<RoleName>>,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// What an [`InstanceProfile`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct InstanceProfileOutputs {
    /// Its name (and id).
    pub name: String,
    /// Its ARN.
    pub arn: InstanceProfileArn,
    /// Its unique id (`AIPA...`).
    pub instance_profile_id: String,
}

type Found = aws_sdk_iam::types::InstanceProfile;

fn roles_of(p: &Found) -> Vec<String> {
    p.roles().iter().map(|r| r.role_name().to_owned()).collect()
}

fn desired_role(s: &Subject<'_>, v: &InstanceProfile) -> Result<Option<String>, AwsError> {
    v.role
        .as_ref()
        .map(|r| Ok(known(s, r, "role")?.0.clone()))
        .transpose()
}

/// Removes every role but `keep`, then adds `keep` if it is not there.
async fn set_role(
    client: &Client,
    s: &Subject<'_>,
    name: &str,
    current: &[String],
    keep: Option<&str>,
) -> Result<(), AwsError> {
    for role in current.iter().filter(|r| Some(r.as_str()) != keep) {
        lookup::unless_not_found(
            s,
            "RemoveRoleFromInstanceProfile",
            client
                .remove_role_from_instance_profile()
                .instance_profile_name(name)
                .role_name(role)
                .send()
                .await,
        )?;
    }
    if let Some(role) = keep.filter(|k| !current.iter().any(|c| c == k)) {
        client
            .add_role_to_instance_profile()
            .instance_profile_name(name)
            .role_name(role)
            .send()
            .await
            .map_err(|e| s.error("AddRoleToInstanceProfile", e))?;
    }
    Ok(())
}

async fn delete_profile(client: &Client, s: &Subject<'_>, name: &str) -> Result<(), AwsError> {
    let Some(p) = InstanceProfileHandler::by_id(client, s, name).await? else {
        return Ok(());
    };
    set_role(client, s, name, &roles_of(&p), None).await?;
    lookup::deleted(
        s,
        "DeleteInstanceProfile",
        client
            .delete_instance_profile()
            .instance_profile_name(name)
            .send()
            .await,
    )
}

fn outputs(p: &Found) -> InstanceProfileOutputs {
    InstanceProfileOutputs {
        name: p.instance_profile_name().to_owned(),
        arn: InstanceProfileArn(p.arn().to_owned()),
        instance_profile_id: p.instance_profile_id().to_owned(),
    }
}

/// Serves [`InstanceProfile`].
pub(crate) struct InstanceProfileHandler;

#[async_trait]
impl ResourceHandler for InstanceProfileHandler {
    type Resource = InstanceProfile;
    type Context = Aws;

    fn replace_conflict(&self, req: &DiffRequest<'_>) -> Option<String> {
        fixed_name_conflict(
            req,
            "instance profile",
            "instance profile names are unique in an account",
        )
    }

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<InstanceProfile>) -> CreateResult<InstanceProfile> {
        let s = Subject::of::<InstanceProfile>(&req.name);
        let v = &req.inputs;
        check_name(&s, v.name.as_deref())?;
        tags::check_user_tags(&s, &v.tags)?;
        let role = desired_role(&s, v)?;
        let name = iam_name(v.name.as_deref(), &req.name, &req.token);
        let client = p.iam_client().await;
        let profile = match by_token::<Self>(client, &s, &name, &req.token).await? {
            Some(p) => p,
            None => client
                .create_instance_profile()
                .instance_profile_name(&name)
                .set_tags(Some(tags_on_create(
                    &s, &req.stack, &req.name, &req.token, &v.tags,
                )?))
                .send()
                .await
                .map_err(|e| s.error("CreateInstanceProfile", e))?
                .instance_profile
                .ok_or_else(|| s.incomplete("CreateInstanceProfile", "an instance profile"))?,
        };
        if let Err(e) = set_role(client, &s, &name, &roles_of(&profile), role.as_deref()).await {
            return Err(failed_after_create(e, &name, delete_profile(client, &s, &name)).await);
        }
        Ok(Made {
            outputs: outputs(&profile),
            id: name,
        })
    }

    async fn read(&self, p: &Aws, req: Read<InstanceProfile>) -> ReadResult<InstanceProfile> {
        read_named::<Self>(p, req).await
    }

    async fn update(&self, p: &Aws, req: Update<InstanceProfile>) -> UpdateResult<InstanceProfile> {
        let s = Subject::of::<InstanceProfile>(&req.name);
        let v = &req.inputs;
        tags::check_user_tags(&s, &v.tags)?;
        let role = desired_role(&s, v)?;
        let client = p.iam_client().await;
        let name = req.id.as_str();
        let profile = Self::by_id(client, &s, name)
            .await?
            .ok_or_else(|| s.gone(name))?;
        set_role(client, &s, name, &roles_of(&profile), role.as_deref()).await?;
        retag!(
            &s, &user_tags(profile.tags()) => &v.tags,
            client.tag_instance_profile / untag_instance_profile, instance_profile_name(name),
            "TagInstanceProfile" / "UntagInstanceProfile"
        )
        .await?;
        Ok(outputs(&profile))
    }

    deletes_by!(InstanceProfile, iam_client, delete_profile);
}

#[async_trait]
impl NamedType for InstanceProfileHandler {
    const WHAT: &'static str = "instance profile";
    type Found = Found;

    fn declared_name(inputs: &InstanceProfile) -> Option<&str> {
        inputs.name.as_deref()
    }

    fn tags(profile: &Found) -> &[Tag] {
        profile.tags()
    }

    fn observed(
        p: &Found,
        recorded: &InstanceProfile,
    ) -> kit::Found<InstanceProfile, InstanceProfileOutputs> {
        let observed = InstanceProfile {
            name: recorded
                .name
                .as_ref()
                .map(|_| p.instance_profile_name().to_owned()),
            role: roles_of(p).into_iter().next().map(|r| RoleName(r).into()),
            tags: user_tags(p.tags()),
        };
        lookup::observed(p.instance_profile_name(), observed, outputs(p))
    }

    async fn by_id(client: &Client, s: &Subject<'_>, name: &str) -> Lookup<Found> {
        let out = lookup::unless_not_found(
            s,
            "GetInstanceProfile",
            client
                .get_instance_profile()
                .instance_profile_name(name)
                .send()
                .await,
        )?;
        Ok(out.and_then(|out| out.instance_profile))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_name_replaces_the_profile() {
        assert_eq!(InstanceProfile::force_new_fields(), &["name"]);
    }
}
