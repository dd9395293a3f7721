//! Lambda resources (`aws:lambda:*`): a [`Function`] with its code
//! [`Package`], a published [`Version`] of it, and an [`Alias`] that points
//! at a version (optionally sending a share of calls to a second one).
//!
//! A function's name is its identity in the region: a declared `name`, or
//! one derived from the resource's name and the create's token, so a create
//! retried after a crash derives the same name and finds its function (its
//! `dafnck:token` tag, set by the create call itself, checked) instead of
//! failing or making a second one. Lambda takes no tags on versions and
//! aliases: a version is found again by its function, code hash and
//! description, an alias by its function and name (see each type's
//! `# Caveats`). A function's code is a zip [`Package`] built (or read) and
//! hashed when the program declares it, so a changed file is a changed
//! input, and an unchanged package is never uploaded again (its hash is
//! Lambda's `CodeSha256`). Lambda has no call that describes many named
//! functions with their tags, so each object is read on its own. Deleting
//! an object that is already gone succeeds.
//!
//! ```no_run
//! use dafnck_core::prelude::*;
//! use dafnck_providers::aws::iam::Role;
//! use dafnck_providers::aws::lambda::{Alias, Function, Package, Version};
//!
//! fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
//!     let role = stack.add("api", Role {
//!         assume_role_policy: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
//!             "Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#.into(),
//!         ..Default::default()
//!     });
//!     let code = Package::directory("functions/api").expect("the function's code");
//!     let api = stack.add("api", Function {
//!         code: code.clone(),
//!         runtime: "python3.12".into(),
//!         handler: "main.handler".into(),
//!         role: role.out().arn,
//!         environment: [("STAGE".to_string(), "prod".into())].into(),
//!         secret_environment: [("DB_PASSWORD".to_string(), Secret::new("pw".to_string()).into())].into(),
//!         ..Default::default()
//!     });
//!     let v = stack.add("api", Version {
//!         function_name: api.out().name,
//!         // Known now: a plan with new code shows a new version.
//!         code_sha256: code.sha256.into(),
//!         ..Default::default()
//!     });
//!     stack.add("api-live", Alias {
//!         name: "live".into(),
//!         function_name: api.out().name,
//!         function_version: v.out().version,
//!         ..Default::default()
//!     });
//!     Ok(())
//! }
//! # let _ = infra;
//! ```

mod alias;
mod function;
mod version;

resource_types! {
    alias: AliasHandler,
    function: FunctionHandler,
    version: VersionHandler,
}

use std::collections::{BTreeMap, HashMap};

pub(crate) use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput as Configuration;
use aws_sdk_lambda::types::{LastUpdateStatus, State};
use aws_sdk_lambda::Client;
use dafnck_core::ProviderError;

use super::error::{AwsError, Subject};
use super::tags::{self, client_token, TOKEN_TAG};
use super::{lookup, Aws, Poll};

/// The longest function name Lambda accepts.
const MAX_NAME: usize = 64;

/// Whether `c` may appear in a function name.
fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// A function's name: the declared one, or one derived from the resource's
/// name and the create's token (letters, digits, `-` and `_`, at most 64;
/// the same token always gives the same name).
pub(crate) fn function_name(declared: Option<&str>, resource: &str, token: &str) -> String {
    // IAM's derived names are as long, and differ only in allowing `+=,.@`.
    super::iam::iam_name(declared, resource, token)
        .chars()
        .map(|c| if name_char(c) { c } else { '-' })
        .collect()
}

/// Checks a declared name (`what`: the field) of a function or alias.
pub(crate) fn check_name(s: &Subject<'_>, what: &str, name: Option<&str>) -> Result<(), AwsError> {
    let Some(name) = name else { return Ok(()) };
    if name.is_empty() || name.len() > MAX_NAME || !name.chars().all(name_char) {
        return Err(s.invalid(format!(
            "`{what}` {name:?} is not a Lambda name (1 to 64 letters, digits, `-` and `_`)"
        )));
    }
    Ok(())
}

/// The provider's tags and the user's, as CreateFunction takes them.
pub(crate) fn tags_on_create(
    stack: &str,
    name: &str,
    token: &str,
    user: &BTreeMap<String, String>,
) -> HashMap<String, String> {
    tags::ours(stack, name, token)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .chain(user.clone())
        .collect()
}

/// The user's tags among a function's.
pub(crate) fn user_tags(found: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    found
        .into_iter()
        .flatten()
        .filter(|(k, _)| tags::is_users(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Whether a function's tags say a create with `token` made it.
pub(crate) fn made_by(found: Option<&HashMap<String, String>>, token: &str) -> bool {
    found.and_then(|t| t.get(TOKEN_TAG)) == Some(&client_token(token))
}

/// `e` as the engine takes it: retryable, besides what AWS marks so, while
/// Lambda is still applying an earlier change to the function, and while a
/// role made a moment ago cannot be assumed yet (IAM is eventually
/// consistent).
pub(crate) fn provider_error(e: AwsError) -> ProviderError {
    let transient = match &e {
        AwsError::Api(f) => {
            (f.code == "ResourceConflictException" && f.message.contains("in progress"))
                || (f.code == "InvalidParameterValueException"
                    && f.message.contains("cannot be assumed"))
        }
        _ => false,
    };
    if transient {
        ProviderError::retryable(e.to_string())
    } else {
        e.into()
    }
}

/// Whether `e` is Lambda's answer to a create of something that exists
/// (moto answers `ConflictException` for an alias).
pub(crate) fn is_conflict(e: &AwsError) -> bool {
    matches!(
        e.code(),
        Some("ResourceConflictException" | "ConflictException")
    )
}

/// The function name and qualifier (a version's number, an alias's name)
/// in a qualified ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME:QUALIFIER`).
pub(crate) fn split_qualified(arn: &str) -> Option<(&str, &str)> {
    let (_, rest) = arn.split_once(":function:")?;
    rest.split_once(':')
}

/// A function's (or, with `qualifier`, a version's) configuration, or
/// `None` when Lambda has no such function or version.
pub(crate) async fn configuration(
    client: &Client,
    s: &Subject<'_>,
    name: &str,
    qualifier: Option<&str>,
) -> Result<Option<Configuration>, AwsError> {
    lookup::unless_not_found(
        s,
        "GetFunctionConfiguration",
        client
            .get_function_configuration()
            .function_name(name)
            .set_qualifier(qualifier.map(str::to_owned))
            .send()
            .await,
    )
}

/// Waits until function `name` is active and no update of it is in
/// progress: Lambda refuses a second change (or a publish) until then.
pub(crate) async fn wait_ready(
    p: &Aws,
    client: &Client,
    s: &Subject<'_>,
    name: &str,
) -> Result<Configuration, AwsError> {
    p.wait_for(s, name, "ready", || async {
        let c = configuration(client, s, name, None)
            .await?
            .ok_or_else(|| s.gone(name))?;
        let pending = matches!(c.state(), Some(State::Pending))
            || matches!(c.last_update_status(), Some(LastUpdateStatus::InProgress));
        if let Some(State::Failed) = c.state() {
            return Err(s.wait(
                name,
                format!(
                    "failed to become active: {}",
                    c.state_reason().unwrap_or("(no reason given)")
                ),
            ));
        }
        Ok(if pending {
            Poll::Pending(format!("{:?} / {:?}", c.state(), c.last_update_status()))
        } else {
            Poll::Done(c)
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names_are_lambda_names() {
        let n = function_name(None, "api@edge.v2", "t1");
        assert!(
            n.starts_with("api-edge-v2-") && n.chars().all(name_char),
            "{n}"
        );
        assert_eq!(n, function_name(None, "api@edge.v2", "t1"));
        assert_ne!(n, function_name(None, "api@edge.v2", "t2"));
        assert!(function_name(None, &"x".repeat(99), "t").len() <= MAX_NAME);
        assert_eq!(function_name(Some("mine"), "api", "t"), "mine");
        let s = Subject {
            type_name: "aws:lambda:Function",
            name: "api",
        };
        assert!(check_name(&s, "name", Some("ok_Name-1")).is_ok());
        let e = check_name(&s, "name", Some("no.dots")).unwrap_err();
        assert!(e.to_string().contains("aws:lambda:Function \"api\""), "{e}");
    }

    #[test]
    fn our_tags_are_not_the_users() {
        let t = tags_on_create("dev", "api", "tok", &[("team".into(), "a".into())].into());
        assert!(made_by(Some(&t), "tok"));
        assert!(!made_by(Some(&t), "other"));
        assert_eq!(
            user_tags(Some(&t)),
            BTreeMap::from([("team".to_string(), "a".to_string())])
        );
    }
}
