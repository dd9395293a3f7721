//! [`Version`] (`aws:lambda:Version`): a published, immutable snapshot of
//! a function's code and configuration.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_lambda::types::FunctionConfiguration;
use aws_sdk_lambda::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Delete, Made, Read, ReadResult, ResourceHandler, Update,
    UpdateResult,
};
use dafnck_core::state::CallKind;
use dafnck_core::ProviderError;

use super::super::ec2::known;
use super::super::error::{AwsError, Subject};
use super::super::{lookup, one_call, Aws};
use super::{configuration, provider_error, split_qualified, wait_ready, FunctionName};

ids! {
    /// The ARN of a [`Version`] (its id): the function's ARN and `:` the
    /// version number.
    VersionArn;
}

/// A published version of a [`Function`](super::Function).
///
/// - `function_name`: the function (a [`Function`](super::Function)'s
///   `name` output).
/// - `code_sha256`: the hash of the code it publishes: the function's
///   [`Package::sha256`](super::Package::sha256), which the program knows
///   when it runs, so a plan shows a new version with new code (the
///   function's `code_sha256` output would not be known before the
///   function's update). The publish, ordered after the function's update
///   by `function_name`, fails when the function's code has another hash.
/// - `description`: the version's.
///
/// Every field replaces the version: a version never changes (Lambda has
/// no call that changes one). Deleting deletes the version, not the
/// function.
///
/// # Drift
/// `read` reports the version's code hash and description as Lambda has
/// them; a version deleted by hand reads as gone.
///
/// # Caveats
/// Lambda takes no tags on a version, and publishes no new version while
/// the function is unchanged since its last one (it answers that one).
/// After a crash mid-create the version is found again as the newest one
/// of the function with the same code hash and description; two `Version`
/// resources of one unchanged function name the same version.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:lambda:Version", outputs = VersionOutputs)]
pub struct Version {
    /// The function's name.
    #[resource(force_new)]
    pub function_name: Input<FunctionName>,
    /// The hash of the code it publishes.
    #[resource(force_new)]
    pub code_sha256: Input<String>,
    /// Its description.
    #[resource(force_new)]
    pub description: String,
}

/// What a [`Version`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct VersionOutputs {
    /// Its ARN (and id).
    pub arn: VersionArn,
    /// Its number (`"3"`), for [`Alias::function_version`](super::Alias::function_version).
    pub version: String,
}

fn outputs(arn: &str) -> VersionOutputs {
    VersionOutputs {
        arn: VersionArn(arn.to_owned()),
        version: split_qualified(arn)
            .map(|(_, v)| v.to_owned())
            .unwrap_or_default(),
    }
}

/// The function name and code hash, which must be known and set.
fn declared<'a>(s: &Subject<'_>, v: &'a Version) -> Result<(&'a str, &'a str), AwsError> {
    let name = known(s, &v.function_name, "function_name")?.as_str();
    let sha = known(s, &v.code_sha256, "code_sha256")?.as_str();
    if name.is_empty() || sha.is_empty() {
        return Err(s.invalid("`function_name` and `code_sha256` must be set"));
    }
    Ok((name, sha))
}

/// The newest published version of function `name` with this code hash
/// and description (what a create with these inputs made or found).
async fn newest_like(
    client: &Client,
    s: &Subject<'_>,
    name: &str,
    sha: &str,
    description: &str,
) -> Result<Option<FunctionConfiguration>, AwsError> {
    let mut pages = client
        .list_versions_by_function()
        .function_name(name)
        .into_paginator()
        .send();
    let mut newest: Option<(u64, FunctionConfiguration)> = None;
    while let Some(page) = pages.next().await {
        let page = match lookup::unless_not_found(s, "ListVersionsByFunction", page)? {
            Some(page) => page,
            None => return Ok(None),
        };
        for c in page.versions() {
            let number = c.version().and_then(|n| n.parse::<u64>().ok());
            let like =
                c.code_sha256() == Some(sha) && c.description().unwrap_or_default() == description;
            if let (Some(n), true) = (number, like) {
                if newest.as_ref().is_none_or(|(m, _)| n > *m) {
                    newest = Some((n, c.clone()));
                }
            }
        }
    }
    Ok(newest.map(|(_, c)| c))
}

/// What a read reports of the version with ARN `arn`, given the
/// `recorded` inputs.
fn observed_as(
    arn: &str,
    sha: Option<&str>,
    description: Option<&str>,
    recorded: &Version,
) -> kit::Found<Version, VersionOutputs> {
    let name = split_qualified(arn).map(|(n, _)| n).unwrap_or_default();
    let observed = Version {
        function_name: match recorded.function_name.as_value() {
            Some(r) if r.as_str() == name => recorded.function_name.clone(),
            _ => FunctionName::from(name).into(),
        },
        code_sha256: sha.unwrap_or_default().to_owned().into(),
        description: description.unwrap_or_default().to_owned(),
    };
    lookup::observed(arn, observed, outputs(arn))
}

/// Serves [`Version`].
pub(crate) struct VersionHandler;

#[async_trait]
impl ResourceHandler for VersionHandler {
    type Resource = Version;
    type Context = Aws;

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<Version>) -> CreateResult<Version> {
        let s = Subject::of::<Version>(&req.name);
        let v = &req.inputs;
        let (name, sha) = declared(&s, v)?;
        let client = p.lambda_client().await;
        let latest = wait_ready(p, client, &s, name).await?;
        if latest.code_sha256() != Some(sha) {
            return Err(s
                .invalid(format!(
                    "function {name:?} has code {:?}, not the `code_sha256` {sha:?} to publish",
                    latest.code_sha256().unwrap_or_default()
                ))
                .into());
        }
        let out = client
            .publish_version()
            .function_name(name)
            .code_sha256(sha)
            .description(&v.description)
            .send()
            .await
            .map_err(|e| provider_error(s.error("PublishVersion", e)))?;
        let arn = out
            .function_arn()
            .ok_or_else(|| s.incomplete("PublishVersion", "a function ARN"))?;
        Ok(Made {
            id: arn.to_owned(),
            outputs: outputs(arn),
        })
    }

    async fn read(&self, p: &Aws, req: Read<Version>) -> ReadResult<Version> {
        let s = Subject::of::<Version>(&req.name);
        let client = p.lambda_client().await;
        let recorded = req.recorded.decode_or_default();
        if let Some(arn) = &req.id {
            let Some((name, number)) = split_qualified(arn) else {
                return Err(s.invalid(format!("{arn:?} is not a version's ARN")).into());
            };
            let found = configuration(client, &s, name, Some(number)).await?;
            return Ok(found.map(|c| observed_as(arn, c.code_sha256(), c.description(), &recorded)));
        }
        if req.token.is_none() {
            return Ok(None);
        }
        let (name, sha) = declared(&s, &recorded)?;
        let found = newest_like(client, &s, name, sha, &recorded.description).await?;
        Ok(found.and_then(|c| {
            let arn = c.function_arn()?;
            Some(observed_as(
                arn,
                c.code_sha256(),
                c.description(),
                &recorded,
            ))
        }))
    }

    /// Never called by the engine (every field replaces a version); an
    /// error, as Lambda cannot change a version.
    async fn update(&self, _: &Aws, req: Update<Version>) -> UpdateResult<Version> {
        Err(Subject::of::<Version>(&req.name)
            .invalid(format!(
                "version {} cannot change (fields {:?}); it is replaced instead",
                req.id, req.changed
            ))
            .into())
    }

    async fn delete(&self, p: &Aws, req: Delete<Version>) -> Result<(), ProviderError> {
        let s = Subject::of::<Version>(&req.name);
        let Some((name, number)) = split_qualified(&req.id) else {
            return Err(s
                .invalid(format!("{:?} is not a version's ARN", req.id))
                .into());
        };
        let client = p.lambda_client().await;
        lookup::unless_not_found(
            &s,
            "DeleteFunction",
            client
                .delete_function()
                .function_name(name)
                .qualifier(number)
                .send()
                .await,
        )
        .map_err(provider_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_replaces_the_version() {
        assert_eq!(
            Version::force_new_fields(),
            &["function_name", "code_sha256", "description"]
        );
    }

    #[test]
    fn versions_are_known_by_their_arn() {
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:api-1a2b:7";
        assert_eq!(split_qualified(arn), Some(("api-1a2b", "7")));
        assert_eq!(outputs(arn).version, "7");
        assert_eq!(split_qualified("arn:aws:iam::1:role/x"), None);
    }
}
