//! [`Alias`] (`aws:lambda:Alias`): a name for a function version, which
//! may send a share of calls to a second version.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_lambda::types::AliasRoutingConfiguration;
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
use super::super::lookup::Lookup;
use super::super::{lookup, one_call, Aws};
use super::{check_name, is_conflict, provider_error, split_qualified, FunctionName};

ids! {
    /// The ARN of an [`Alias`] (its id): the function's ARN and `:` the
    /// alias's name.
    AliasArn;
}

/// A share of an [`Alias`]'s calls sent to a second version.
#[derive(Declare, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct WeightedVersion {
    /// The second version's number (a [`Version`](super::Version)'s
    /// `version` output).
    pub version: Input<String>,
    /// The share of calls it gets, from 0 to 1 (0.05: 5%).
    pub weight: f64,
}

/// An alias of a function: a stable name (`live`) for one of its versions.
///
/// - `name`: the alias's name, unique per function (letters, digits, `-`
///   and `_`, not only digits). Changing it replaces the alias.
/// - `function_name`: the function (a [`Function`](super::Function)'s
///   `name` output). Changing it replaces the alias.
/// - `function_version`: the version it points at (a
///   [`Version`](super::Version)'s `version` output, or `$LATEST`); set in
///   place.
/// - `routing`: `Some`: a second version gets this share of the calls (a
///   canary), the rest go to `function_version`; set in place.
/// - `description`: set in place.
///
/// # Drift
/// `read` reports the version, routing and description as Lambda has them.
///
/// # Caveats
/// Lambda takes no tags on an alias. A create that finds an alias of this
/// name on the function adopts it when it already points where the inputs
/// say (as a create retried after a crash finds its own), and fails
/// otherwise; a read after a crash mid-create finds the alias by its name.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:lambda:Alias", outputs = AliasOutputs)]
pub struct Alias {
    /// Its name. Changing it replaces the alias.
    #[resource(force_new)]
    pub name: String,
    /// The function's name. Changing it replaces the alias.
    #[resource(force_new)]
    pub function_name: Input<FunctionName>,
    /// The version it points at.
    pub function_version: Input<String>,
    /// A second version and its share of the calls.
    pub routing: Option<WeightedVersion>,
    /// Its description.
    pub description: String,
}

/// What an [`Alias`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct AliasOutputs {
    /// Its ARN (and id): what callers invoke.
    pub arn: AliasArn,
    /// Its name.
    pub name: String,
}

type Found = aws_sdk_lambda::operation::get_alias::GetAliasOutput;

/// The inputs Lambda takes, checked.
struct Declared<'a> {
    function: &'a str,
    version: &'a str,
    routing: Option<AliasRoutingConfiguration>,
}

fn declared<'a>(s: &Subject<'_>, v: &'a Alias) -> Result<Declared<'a>, AwsError> {
    check_name(s, "name", Some(&v.name))?;
    if v.name.chars().all(|c| c.is_ascii_digit()) {
        return Err(s.invalid(format!(
            "`name` {:?} is only digits, which Lambda keeps for versions",
            v.name
        )));
    }
    let function = known(s, &v.function_name, "function_name")?.as_str();
    let version = known(s, &v.function_version, "function_version")?.as_str();
    if function.is_empty() || version.is_empty() {
        return Err(s.invalid("`function_name` and `function_version` must be set"));
    }
    let routing = match &v.routing {
        Some(w) => {
            if !(0.0..=1.0).contains(&w.weight) {
                return Err(s.invalid(format!(
                    "`routing.weight` {} is not between 0 and 1",
                    w.weight
                )));
            }
            let second = known(s, &w.version, "routing.version")?.clone();
            Some(
                AliasRoutingConfiguration::builder()
                    .additional_version_weights(second, w.weight)
                    .build(),
            )
        }
        None => None,
    };
    Ok(Declared {
        function,
        version,
        routing,
    })
}

/// The routing as the inputs write it.
fn routing_of(r: Option<&AliasRoutingConfiguration>) -> Option<WeightedVersion> {
    let weights = r?.additional_version_weights()?;
    let (version, weight) = weights.iter().next()?;
    Some(WeightedVersion {
        version: version.clone().into(),
        weight: *weight,
    })
}

async fn by_name(client: &Client, s: &Subject<'_>, function: &str, name: &str) -> Lookup<Found> {
    lookup::unless_not_found(
        s,
        "GetAlias",
        client
            .get_alias()
            .function_name(function)
            .name(name)
            .send()
            .await,
    )
}

/// What a read reports of alias `a` of `function`, given the `recorded`
/// inputs.
fn observed_as(a: &Found, function: &str, recorded: &Alias) -> kit::Found<Alias, AliasOutputs> {
    let arn = a.alias_arn().unwrap_or_default();
    let observed = Alias {
        name: a.name().unwrap_or_default().to_owned(),
        function_name: match recorded.function_name.as_value() {
            Some(r) if r.as_str() == function => recorded.function_name.clone(),
            _ => FunctionName::from(function).into(),
        },
        function_version: a.function_version().unwrap_or_default().to_owned().into(),
        routing: routing_of(a.routing_config()),
        description: a.description().unwrap_or_default().to_owned(),
    };
    let outputs = AliasOutputs {
        arn: AliasArn(arn.to_owned()),
        name: observed.name.clone(),
    };
    lookup::observed(arn, observed, outputs)
}

/// Whether alias `a` is as `v` declares it.
fn is_as_declared(a: &Found, function: &str, v: &Alias) -> bool {
    let found = observed_as(a, function, v).inputs;
    found.function_version.as_value() == v.function_version.as_value()
        && found.description == v.description
        && found.routing == v.routing
}

/// Serves [`Alias`].
pub(crate) struct AliasHandler;

#[async_trait]
impl ResourceHandler for AliasHandler {
    type Resource = Alias;
    type Context = Aws;

    fn expected_duration(&self, call: CallKind) -> Option<std::time::Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<Alias>) -> CreateResult<Alias> {
        let s = Subject::of::<Alias>(&req.name);
        let v = &req.inputs;
        let d = declared(&s, v)?;
        let client = p.lambda_client().await;
        let made = client
            .create_alias()
            .function_name(d.function)
            .name(&v.name)
            .function_version(d.version)
            .description(&v.description)
            .set_routing_config(d.routing)
            .send()
            .await
            .map_err(|e| s.error("CreateAlias", e));
        let arn = match made {
            Ok(out) => out.alias_arn().map(str::to_owned),
            Err(e) if is_conflict(&e) => match by_name(client, &s, d.function, &v.name).await? {
                Some(a) if is_as_declared(&a, d.function, v) => a.alias_arn().map(str::to_owned),
                _ => {
                    return Err(s
                        .invalid(format!(
                            "function {:?} already has an alias {:?} that points elsewhere \
                             (choose another `name`, or import it)",
                            d.function, v.name
                        ))
                        .into())
                }
            },
            Err(e) => return Err(provider_error(e)),
        };
        let arn = arn.ok_or_else(|| s.incomplete("CreateAlias", "an alias ARN"))?;
        Ok(Made {
            id: arn.clone(),
            outputs: AliasOutputs {
                arn: AliasArn(arn),
                name: v.name.clone(),
            },
        })
    }

    async fn read(&self, p: &Aws, req: Read<Alias>) -> ReadResult<Alias> {
        let s = Subject::of::<Alias>(&req.name);
        let client = p.lambda_client().await;
        let recorded = req.recorded.decode_or_default();
        let (function, name) = match (&req.id, &req.token) {
            (Some(arn), _) => split_qualified(arn)
                .map(|(f, n)| (f.to_owned(), n.to_owned()))
                .ok_or_else(|| s.invalid(format!("{arn:?} is not an alias's ARN")))?,
            (None, Some(_)) => (
                known(&s, &recorded.function_name, "function_name")?
                    .0
                    .clone(),
                recorded.name.clone(),
            ),
            (None, None) => return Ok(None),
        };
        let found = by_name(client, &s, &function, &name).await?;
        Ok(found.map(|a| observed_as(&a, &function, &recorded)))
    }

    async fn update(&self, p: &Aws, req: Update<Alias>) -> UpdateResult<Alias> {
        let s = Subject::of::<Alias>(&req.name);
        let v = &req.inputs;
        let d = declared(&s, v)?;
        let client = p.lambda_client().await;
        // An empty map takes a routing off; no routing config leaves it.
        let routing = d.routing.unwrap_or_else(|| {
            AliasRoutingConfiguration::builder()
                .set_additional_version_weights(Some(HashMap::new()))
                .build()
        });
        let out = client
            .update_alias()
            .function_name(d.function)
            .name(&v.name)
            .function_version(d.version)
            .description(&v.description)
            .routing_config(routing)
            .send()
            .await
            .map_err(|e| provider_error(s.error("UpdateAlias", e)))?;
        Ok(AliasOutputs {
            arn: AliasArn(out.alias_arn().unwrap_or(&req.id).to_owned()),
            name: v.name.clone(),
        })
    }

    async fn delete(&self, p: &Aws, req: Delete<Alias>) -> Result<(), ProviderError> {
        let s = Subject::of::<Alias>(&req.name);
        let (function, name) = split_qualified(&req.id)
            .ok_or_else(|| s.invalid(format!("{:?} is not an alias's ARN", req.id)))?;
        let client = p.lambda_client().await;
        Ok(lookup::deleted(
            &s,
            "DeleteAlias",
            client
                .delete_alias()
                .function_name(function)
                .name(name)
                .send()
                .await,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_weights_are_checked_before_any_call() {
        let s = Subject::of::<Alias>("live");
        let v = Alias {
            name: "live".into(),
            function_name: FunctionName::from("api").into(),
            function_version: "1".to_string().into(),
            routing: Some(WeightedVersion {
                version: "2".to_string().into(),
                weight: 0.05,
            }),
            ..Default::default()
        };
        let d = declared(&s, &v).unwrap();
        assert_eq!(routing_of(d.routing.as_ref()), v.routing);
        let e = declared(
            &s,
            &Alias {
                routing: Some(WeightedVersion {
                    version: "2".to_string().into(),
                    weight: 1.5,
                }),
                ..v.clone()
            },
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("routing.weight"), "{e}");
        let e = declared(
            &s,
            &Alias {
                name: "12".into(),
                ..v
            },
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("only digits"), "{e}");
    }

    #[test]
    fn aliases_are_known_by_their_arn() {
        assert_eq!(
            split_qualified("arn:aws:lambda:us-east-1:123456789012:function:api:live"),
            Some(("api", "live"))
        );
    }
}
