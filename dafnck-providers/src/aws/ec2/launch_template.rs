//! [`LaunchTemplate`] (`aws:ec2:LaunchTemplate`): how an Auto Scaling
//! group (or anyone) launches instances, kept as numbered versions.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    Filter, InstanceType, LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData,
    ResourceType, ResponseLaunchTemplateData,
};
use aws_sdk_ec2::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Made, Read, ReadResult, ResourceHandler, Update, UpdateResult,
};
use dafnck_core::state::CallKind;
use dafnck_core::{ProviderError, Value};

use super::super::elbv2::object_name;
use super::super::error::{AwsError, Subject};
use super::super::lookup::Lookup;
use super::super::{lookup, one_call, tags, Aws};
use super::instance::base64;
use super::{known, required, SecurityGroupId};

ids! {
    /// The id of a [`LaunchTemplate`] (`lt-...`).
    LaunchTemplateId;
}

/// An EC2 launch template: what an instance launched from it runs. Every
/// change of what it launches is a new version, made the default.
///
/// - `name`: its name, unique in the region; `None` (the default) derives
///   one from the resource's name and the create's token. Changing it
///   replaces the template.
/// - `image_id`, `instance_type`, `key_name`, `security_group_ids`,
///   `user_data` (plain text; the provider encodes it), `instance_tags`
///   (tags of the instances launched): the launch data. Changing any of
///   them creates a new version and makes it the default
///   ([`LaunchTemplateOutputs::default_version`]): an Auto Scaling group
///   that launches `$Default` (or that follows the output) picks it up.
/// - `tags`: the user's tags of the template itself; set in place.
///
/// # Drift
/// `read` reports the default version's launch data and the template's
/// tags as found, so a default version set by hand to an older (or newer)
/// version shows as drift.
///
/// ```
/// use dafnck_core::prelude::*;
/// use dafnck_providers::aws::ec2::LaunchTemplate;
///
/// fn infra(stack: &mut Stack) {
///     let lt = stack.add("web", LaunchTemplate {
///         image_id: "ami-0123456789abcdef0".into(),
///         instance_type: "t3.micro".into(),
///         user_data: Some("#!/bin/sh\necho hello\n".into()),
///         ..Default::default()
///     });
///     stack.export("version", lt.out().default_version);
/// }
/// # let _ = infra;
/// ```
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:ec2:LaunchTemplate", outputs = LaunchTemplateOutputs)]
pub struct LaunchTemplate {
    /// Its name; `None` derives one. Changing it replaces the template.
    #[resource(force_new)]
    pub name: Option<String>,
    /// The image instances launch from (`ami-...`).
    pub image_id: Input<String>,
    /// The instances' size (`t3.micro`).
    pub instance_type: Input<String>,
    /// The key pair for SSH (`key.out().key_name`).
    pub key_name: Option<Input<String>>,
    /// The instances' security groups.
    pub security_group_ids: Vec<Input<SecurityGroupId>>,
    /// Run at first boot (plain text).
    pub user_data: Option<String>,
    /// Tags of the instances launched from it.
    pub instance_tags: BTreeMap<String, String>,
    /// The user's tags of the template.
    pub tags: BTreeMap<String, String>,
}

/// What a [`LaunchTemplate`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct LaunchTemplateOutputs {
    /// Its id.
    pub launch_template_id: LaunchTemplateId,
    /// Its name.
    pub name: String,
    /// The newest version's number.
    pub latest_version: i64,
    /// The default version's number (the one the declared data is in).
    pub default_version: i64,
}

type Found = aws_sdk_ec2::types::LaunchTemplate;

/// Whether `e` says the template does not exist (EC2 answers
/// `InvalidLaunchTemplateId.NotFound` or
/// `InvalidLaunchTemplateName.NotFoundException`).
fn is_gone(e: &AwsError) -> bool {
    e.is_not_found()
        || e.code()
            .is_some_and(|c| c.starts_with("InvalidLaunchTemplate") && c.contains("NotFound"))
}

/// The answer to `call`, or `None` when EC2 says the template is unknown.
fn unless_gone<T>(result: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn by_id(client: &Client, s: &Subject<'_>, id: &str) -> Lookup<Found> {
    let out = unless_gone(
        client
            .describe_launch_templates()
            .launch_template_ids(id)
            .send()
            .await
            .map_err(|e| s.error("DescribeLaunchTemplates", e)),
    )?;
    Ok(out.and_then(|out| {
        out.launch_templates()
            .iter()
            .find(|t| t.launch_template_id() == Some(id))
            .cloned()
    }))
}

describe_by_token!(
    Found,
    "DescribeLaunchTemplates",
    describe_launch_templates,
    launch_templates
);

/// The templates EC2 knows among `ids`: one call, or — when EC2 fails it
/// for an unknown id — one call per id.
async fn by_ids(
    client: &Client,
    s: &Subject<'_>,
    ids: Vec<String>,
) -> Result<Vec<Found>, AwsError> {
    let all = unless_gone(
        client
            .describe_launch_templates()
            .set_launch_template_ids(Some(ids.clone()))
            .send()
            .await
            .map_err(|e| s.error("DescribeLaunchTemplates", e)),
    )?;
    if let Some(out) = all {
        return Ok(out.launch_templates().to_vec());
    }
    let mut found = Vec::with_capacity(ids.len());
    for id in ids {
        found.extend(by_id(client, s, &id).await?);
    }
    Ok(found)
}

/// The user's tags of the templates `ids`, by id, in one DescribeTags:
/// DescribeLaunchTemplates' own tags may lag behind (moto answers those
/// the template was created with).
async fn tags_of(
    client: &Client,
    s: &Subject<'_>,
    ids: Vec<String>,
) -> Result<HashMap<String, BTreeMap<String, String>>, AwsError> {
    let mut by_id: HashMap<String, BTreeMap<String, String>> =
        ids.iter().map(|id| (id.clone(), BTreeMap::new())).collect();
    let filter = Filter::builder()
        .name("resource-id")
        .set_values(Some(ids))
        .build();
    let mut pages = client
        .describe_tags()
        .filters(filter)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| s.error("DescribeTags", e))?;
        for t in page.tags() {
            let (Some(id), Some(key)) = (t.resource_id(), t.key()) else {
                continue;
            };
            if tags::is_users(key) {
                by_id
                    .entry(id.to_owned())
                    .or_default()
                    .insert(key.to_owned(), t.value().unwrap_or_default().to_owned());
            }
        }
    }
    Ok(by_id)
}

/// The user's tags of template `id`.
async fn tags_of_one(
    client: &Client,
    s: &Subject<'_>,
    id: &str,
) -> Result<BTreeMap<String, String>, AwsError> {
    Ok(tags_of(client, s, vec![id.to_owned()])
        .await?
        .remove(id)
        .unwrap_or_default())
}

/// The launch data of the template's default version.
async fn default_data(
    client: &Client,
    s: &Subject<'_>,
    id: &str,
) -> Result<Option<ResponseLaunchTemplateData>, AwsError> {
    let out = unless_gone(
        client
            .describe_launch_template_versions()
            .launch_template_id(id)
            .versions("$Default")
            .send()
            .await
            .map_err(|e| s.error("DescribeLaunchTemplateVersions", e)),
    )?;
    Ok(out.and_then(|out| {
        out.launch_template_versions()
            .first()
            .and_then(|v| v.launch_template_data())
            .cloned()
    }))
}

/// Resolved ids of the declared security groups.
fn declared_groups(s: &Subject<'_>, v: &LaunchTemplate) -> Result<Vec<String>, AwsError> {
    v.security_group_ids
        .iter()
        .map(|g| Ok(known(s, g, "security_group_ids")?.0.clone()))
        .collect()
}

/// The launch data the inputs declare.
fn data_of(s: &Subject<'_>, v: &LaunchTemplate) -> Result<RequestLaunchTemplateData, AwsError> {
    let image_id = required(s, known(s, &v.image_id, "image_id")?, "image_id")?;
    let instance_type = required(
        s,
        known(s, &v.instance_type, "instance_type")?,
        "instance_type",
    )?;
    let key_name = v
        .key_name
        .as_ref()
        .map(|k| known(s, k, "key_name").cloned())
        .transpose()?;
    let groups = declared_groups(s, v)?;
    tags::check_user_tags(s, &v.instance_tags)?;
    let instance_tags = (!v.instance_tags.is_empty()).then(|| {
        LaunchTemplateTagSpecificationRequest::builder()
            .resource_type(ResourceType::Instance)
            .set_tags(Some(
                v.instance_tags
                    .iter()
                    .map(|(k, v)| tags::tag(k, v))
                    .collect(),
            ))
            .build()
    });
    Ok(RequestLaunchTemplateData::builder()
        .image_id(image_id)
        .instance_type(InstanceType::from(instance_type))
        .set_key_name(key_name)
        .set_security_group_ids((!groups.is_empty()).then_some(groups))
        .set_user_data(v.user_data.as_deref().map(base64))
        .set_tag_specifications(instance_tags.map(|t| vec![t]))
        .build())
}

/// The launch-data fields of `v` (all but the name and the template's tags),
/// to tell whether an update needs a new version.
fn launch_fields(v: &LaunchTemplate) -> Option<Value> {
    Value::from_serialize(&LaunchTemplate {
        name: None,
        tags: BTreeMap::new(),
        ..v.clone()
    })
    .ok()
}

fn outputs(t: &Found) -> LaunchTemplateOutputs {
    LaunchTemplateOutputs {
        launch_template_id: LaunchTemplateId(t.launch_template_id().unwrap_or_default().to_owned()),
        name: t.launch_template_name().unwrap_or_default().to_owned(),
        latest_version: t.latest_version_number().unwrap_or_default(),
        default_version: t.default_version_number().unwrap_or_default(),
    }
}

/// What a read reports of template `t` with default launch data `data`,
/// found for `req`: shared by `read` and `read_many` so both answer alike.
fn observed_as(
    req: &Read<LaunchTemplate>,
    t: &Found,
    data: &ResponseLaunchTemplateData,
    user_tags: BTreeMap<String, String>,
) -> kit::Found<LaunchTemplate, LaunchTemplateOutputs> {
    let s = Subject::of::<LaunchTemplate>(&req.name);
    let recorded = req.recorded.decode_or_default();
    let found_groups: Vec<String> = data.security_group_ids().to_vec();
    // Groups compare as a set: the declared order is kept when it holds.
    let security_group_ids = match declared_groups(&s, &recorded) {
        Ok(declared)
            if declared.iter().collect::<BTreeSet<_>>()
                == found_groups.iter().collect::<BTreeSet<_>>() =>
        {
            recorded.security_group_ids.clone()
        }
        _ => found_groups
            .into_iter()
            .map(|g| SecurityGroupId(g).into())
            .collect(),
    };
    // User data is compared encoded: the recorded text when it matches,
    // else what EC2 holds, marked as encoded.
    let user_data = match (data.user_data(), &recorded.user_data) {
        (None, _) => None,
        (Some(found), Some(text)) if base64(text) == found => Some(text.clone()),
        (Some(found), _) => Some(format!("(base64) {found}")),
    };
    let instance_tags = tags::by_key(
        data.tag_specifications()
            .iter()
            .filter(|t| t.resource_type() == Some(&ResourceType::Instance))
            .flat_map(|t| t.tags())
            .map(|t| (t.key(), t.value())),
    );
    let observed = LaunchTemplate {
        name: recorded
            .name
            .map(|_| t.launch_template_name().unwrap_or_default().to_owned()),
        image_id: data.image_id().unwrap_or_default().to_owned().into(),
        instance_type: data
            .instance_type()
            .map_or("", InstanceType::as_str)
            .to_owned()
            .into(),
        key_name: data.key_name().map(|k| k.to_owned().into()),
        security_group_ids,
        user_data,
        instance_tags,
        tags: user_tags,
    };
    lookup::observed(
        t.launch_template_id().unwrap_or_default(),
        observed,
        outputs(t),
    )
}

async fn delete_by_id(client: &Client, s: &Subject<'_>, id: &str) -> Result<(), AwsError> {
    unless_gone(
        client
            .delete_launch_template()
            .launch_template_id(id)
            .send()
            .await
            .map_err(|e| s.error("DeleteLaunchTemplate", e)),
    )?;
    Ok(())
}

/// Serves [`LaunchTemplate`].
pub(crate) struct LaunchTemplateHandler;

#[async_trait]
impl ResourceHandler for LaunchTemplateHandler {
    type Resource = LaunchTemplate;
    type Context = Aws;

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<LaunchTemplate>) -> CreateResult<LaunchTemplate> {
        let s = Subject::of::<LaunchTemplate>(&req.name);
        let v = &req.inputs;
        let data = data_of(&s, v)?;
        tags::check_user_tags(&s, &v.tags)?;
        let client = p.ec2_client().await;
        if let Some(t) = by_token(client, &s, &req.token).await? {
            return Ok(Made {
                id: t.launch_template_id().unwrap_or_default().to_owned(),
                outputs: outputs(&t),
            });
        }
        let name = object_name(v.name.as_deref(), &req.name, &req.token);
        let t = client
            .create_launch_template()
            .launch_template_name(&name)
            .launch_template_data(data)
            .client_token(tags::client_token(&req.token))
            .tag_specifications(tags::for_create(
                ResourceType::LaunchTemplate,
                &req,
                &v.tags,
            ))
            .send()
            .await
            .map_err(|e| s.error("CreateLaunchTemplate", e))?
            .launch_template
            .ok_or_else(|| s.incomplete("CreateLaunchTemplate", "a launch template"))?;
        Ok(Made {
            id: t.launch_template_id().unwrap_or_default().to_owned(),
            outputs: outputs(&t),
        })
    }

    async fn read(&self, p: &Aws, req: Read<LaunchTemplate>) -> ReadResult<LaunchTemplate> {
        let s = Subject::of::<LaunchTemplate>(&req.name);
        let client = p.ec2_client().await;
        let found = lookup::find(
            &req,
            |id| by_id(client, &s, id),
            |token| by_token(client, &s, token),
        )
        .await?;
        let Some(t) = found else {
            return Ok(None);
        };
        let id = t.launch_template_id().unwrap_or_default();
        let data = default_data(client, &s, id).await?;
        let user_tags = tags_of_one(client, &s, id).await?;
        Ok(data.map(|data| observed_as(&req, &t, &data, user_tags)))
    }

    /// One DescribeLaunchTemplates for every template read by id (an id
    /// EC2 no longer knows is an absent template); each template's default
    /// version is still one DescribeLaunchTemplateVersions.
    fn reads_in_batches(&self) -> bool {
        true
    }

    async fn read_many(
        &self,
        p: &Aws,
        reqs: Vec<Read<LaunchTemplate>>,
    ) -> Result<Vec<Option<kit::Found<LaunchTemplate, LaunchTemplateOutputs>>>, ProviderError> {
        let client = p.ec2_client().await;
        // A failed listing names the batch's first resource.
        let s = Subject::of::<LaunchTemplate>(reqs.first().map_or("", |r| r.name.as_str()));
        let found = lookup::find_many(
            &reqs,
            |ids| by_ids(client, &s, ids),
            Found::launch_template_id,
            |req| async move {
                let s = Subject::of::<LaunchTemplate>(&req.name);
                lookup::find(
                    req,
                    |id| by_id(client, &s, id),
                    |token| by_token(client, &s, token),
                )
                .await
            },
        )
        .await?;
        let ids: Vec<String> = found
            .iter()
            .flatten()
            .filter_map(|t| t.launch_template_id().map(str::to_owned))
            .collect();
        let mut tags = if ids.is_empty() {
            HashMap::new()
        } else {
            tags_of(client, &s, ids).await?
        };
        let mut observed = Vec::with_capacity(reqs.len());
        for (req, t) in reqs.iter().zip(found) {
            let Some(t) = t else {
                observed.push(None);
                continue;
            };
            let s = Subject::of::<LaunchTemplate>(&req.name);
            let id = t.launch_template_id().unwrap_or_default();
            let data = default_data(client, &s, id).await?;
            let user_tags = tags.remove(id).unwrap_or_default();
            observed.push(data.map(|data| observed_as(req, &t, &data, user_tags)));
        }
        Ok(observed)
    }

    async fn update(&self, p: &Aws, req: Update<LaunchTemplate>) -> UpdateResult<LaunchTemplate> {
        let s = Subject::of::<LaunchTemplate>(&req.name);
        let v = &req.inputs;
        let data = data_of(&s, v)?;
        tags::check_user_tags(&s, &v.tags)?;
        let client = p.ec2_client().await;
        let id = req.id.as_str();
        by_id(client, &s, id).await?.ok_or_else(|| s.gone(id))?;
        let old = req.old_inputs.decode_or_default();
        if launch_fields(&old) != launch_fields(v) {
            let version = client
                .create_launch_template_version()
                .launch_template_id(id)
                .launch_template_data(data)
                .send()
                .await
                .map_err(|e| s.error("CreateLaunchTemplateVersion", e))?
                .launch_template_version
                .and_then(|v| v.version_number)
                .ok_or_else(|| s.incomplete("CreateLaunchTemplateVersion", "a version number"))?;
            client
                .modify_launch_template()
                .launch_template_id(id)
                .default_version(version.to_string())
                .send()
                .await
                .map_err(|e| s.error("ModifyLaunchTemplate", e))?;
        }
        let current = tags_of_one(client, &s, id).await?;
        tags::apply(client, &s, id, &current, &v.tags).await?;
        let t = by_id(client, &s, id).await?.ok_or_else(|| s.gone(id))?;
        Ok(outputs(&t))
    }

    deletes_by!(LaunchTemplate, ec2_client, delete_by_id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_name_replaces_the_template() {
        assert_eq!(LaunchTemplate::force_new_fields(), &["name"]);
    }

    #[test]
    fn a_change_of_the_template_s_own_tags_needs_no_new_version() {
        let a = LaunchTemplate {
            image_id: "ami-1".into(),
            ..Default::default()
        };
        let mut b = a.clone();
        b.tags.insert("team".into(), "web".into());
        assert_eq!(launch_fields(&a), launch_fields(&b));
        b.instance_tags.insert("role".into(), "web".into());
        assert_ne!(launch_fields(&a), launch_fields(&b));
    }
}
