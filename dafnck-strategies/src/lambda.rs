//! The AWS Lambda alias traffic router: the split between two published
//! versions of a function as one alias's routing configuration (its
//! version, and an additional version with a weight), changed by one
//! UpdateAlias call and confirmed by reading the alias back. Behind the
//! `lambda` feature.
//!
//! [`AliasRouter::for_alias`] builds the router from the outputs of an
//! `aws:lambda:Version` resource under a deployment policy, so a change of
//! a function's code is published as a new version and moved onto the
//! alias by the engine's canary: 5% → 25% → 50% → 100% as the additional
//! version's weight, then the alias points at the new version alone (or,
//! rolled back, at the old one alone).

use std::fmt;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::get_alias::GetAliasOutput;
use aws_sdk_lambda::types::AliasRoutingConfiguration;
use aws_sdk_lambda::Client;
use dafnck_core::Value;
use tokio::sync::{Mutex, OnceCell};

use crate::policy::Weights;
use crate::router::TrafficRouter;

/// Why the alias router could not put a split in effect. Every message
/// names the function and the alias.
#[derive(Debug, thiserror::Error)]
pub enum AliasError {
    /// The function or its alias does not exist.
    #[error("Lambda alias {alias} of function {function}: not found ({message}); check the function, the alias's name and the region")]
    NotFound {
        /// The function's name.
        function: String,
        /// The alias's name.
        alias: String,
        /// AWS's message.
        message: String,
    },
    /// The credentials may not call what the router needs.
    #[error("Lambda alias {alias} of function {function}: {call} was denied ({code}: {message}); the credentials need lambda:GetAlias and lambda:UpdateAlias on it")]
    AccessDenied {
        /// The function's name.
        function: String,
        /// The alias's name.
        alias: String,
        /// The API call.
        call: &'static str,
        /// AWS's error code.
        code: String,
        /// AWS's message.
        message: String,
    },
    /// AWS answered with another error code (after the SDK's own retries
    /// of throttling and transient failures).
    #[error("Lambda alias {alias} of function {function}: {call} failed: {code}: {message}")]
    Api {
        /// The function's name.
        function: String,
        /// The alias's name.
        alias: String,
        /// The API call.
        call: &'static str,
        /// AWS's error code.
        code: String,
        /// AWS's message.
        message: String,
    },
    /// The call got no answer (no region, no credentials, a bad endpoint,
    /// a connection that kept failing).
    #[error(
        "Lambda alias {alias} of function {function}: {call} got no answer from AWS: {message}"
    )]
    Transport {
        /// The function's name.
        function: String,
        /// The alias's name.
        alias: String,
        /// The API call.
        call: &'static str,
        /// The SDK's description, with its causes.
        message: String,
    },
    /// The alias routes to a version that is neither the stable nor the
    /// new one: the router does not take traffic from it.
    #[error("Lambda alias {alias} of function {function}: routes to version {found}, which is neither the stable ({stable}) nor the new ({new}) version; the router will not take its traffic away")]
    ForeignVersion {
        /// The function's name.
        function: String,
        /// The alias's name.
        alias: String,
        /// The version found.
        found: String,
        /// The stable version.
        stable: String,
        /// The new version (empty when none was published).
        new: String,
    },
    /// A split giving the new version traffic, with no new version.
    #[error("Lambda alias {alias} of function {function}: cannot give {share}% to a new version: none was published")]
    NoNewVersion {
        /// The function's name.
        function: String,
        /// The alias's name.
        alias: String,
        /// The share asked for.
        share: u8,
    },
    /// After UpdateAlias succeeded, GetAlias showed another routing.
    #[error("Lambda alias {alias} of function {function}: UpdateAlias succeeded but the alias shows {found}, not {wanted}")]
    NotConfirmed {
        /// The function's name.
        function: String,
        /// The alias's name.
        alias: String,
        /// The routing set.
        wanted: String,
        /// The routing read back.
        found: String,
    },
}

/// Where an alias sends its calls: its version, and an additional version
/// with its share (0 to 1).
#[derive(Clone, Debug, PartialEq)]
pub struct AliasRouting {
    /// The version the alias points at.
    pub version: String,
    /// A second version and the share of calls it gets.
    pub additional: Option<(String, f64)>,
}

impl AliasRouting {
    /// The versions named.
    fn versions(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.version.as_str())
            .chain(self.additional.as_ref().map(|(v, _)| v.as_str()))
    }

    /// Equal, weights compared to a millionth (Lambda keeps doubles).
    fn same_as(&self, other: &AliasRouting) -> bool {
        self.version == other.version
            && match (&self.additional, &other.additional) {
                (None, None) => true,
                (Some((a, x)), Some((b, y))) => a == b && (x - y).abs() < 1e-6,
                _ => false,
            }
    }

    fn of(alias: &GetAliasOutput) -> AliasRouting {
        let additional = alias
            .routing_config()
            .and_then(|r| r.additional_version_weights())
            .and_then(|w| w.iter().next())
            .map(|(v, w)| (v.clone(), *w));
        AliasRouting {
            version: alias.function_version().unwrap_or_default().to_owned(),
            additional,
        }
    }
}

impl fmt::Display for AliasRouting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.additional {
            None => write!(f, "version {} only", self.version),
            Some((v, w)) => write!(
                f,
                "version {} ({:.0}%) and version {v} ({:.0}%)",
                self.version,
                (1.0 - w) * 100.0,
                w * 100.0
            ),
        }
    }
}

/// Routes calls between two published versions of a Lambda function
/// through one of its aliases: the stable version is the alias's version,
/// and the new one its additional version, weighted by its share.
///
/// `set_weights` reads the alias (GetAlias) and, unless it already routes
/// so, sends one UpdateAlias: at 0% the alias points at the stable version
/// alone, at 100% at the new version alone (its routing configuration
/// emptied), in between at the stable version with the new one as the
/// additional version weighted `share / 100`. Then it reads the alias back.
///
/// # Guarantees
/// - One UpdateAlias call moves the traffic: Lambda switches an alias's
///   routing for new invocations at once; invocations in flight finish on
///   the version they started on.
/// - Idempotent: a routing the alias already has is not sent again.
/// - The alias's description is kept.
/// - The router refuses an alias that routes to a version that is neither
///   the stable nor the new one ([`AliasError::ForeignVersion`]).
/// - Throttling and AWS's transient failures are retried by the SDK's
///   standard retry policy (the client's `RetryConfig`); access denied or a
///   missing alias is reported at once, naming the function and the alias.
///
/// # Configuration
/// [`AliasRouter::from_env`] loads region, credentials and endpoint from
/// the SDK's standard chain on first use (so `AWS_ENDPOINT_URL` points it
/// at moto); [`AliasRouter::with_config`] takes an [`SdkConfig`] the
/// program already loaded.
///
/// # Caveats
/// - Lambda weighs calls per invocation, not per client: a share is a
///   probability, not a guarantee over a few calls.
/// - The alias must point at a published version: Lambda routes no
///   additional weight from `$LATEST`.
///
/// # Example
/// The router of a [`Strategy`](crate::Strategy) attached to a function's
/// `Version` (whose outputs are its `arn` and `version`), moving the alias
/// `live`:
/// ```no_run
/// use dafnck_core::prelude::*;
/// use dafnck_strategies::lambda::AliasRouter;
/// use dafnck_strategies::{Canary, Strategy};
///
/// # fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let strategy = Strategy::canary(Canary::default(), AliasRouter::for_alias("live"))?;
/// let options = Options::new().deploy_with(strategy);
/// // stack.add_with("api-version", Version { .. }, options);
/// # let _ = options; Ok(()) }
/// ```
pub struct AliasRouter {
    client: OnceCell<Client>,
    function: String,
    alias: String,
    stable: String,
    new: String,
    /// Serialises changes made through this router.
    changing: Mutex<()>,
}

impl AliasRouter {
    fn build(
        function: impl Into<String>,
        alias: impl Into<String>,
        stable: impl Into<String>,
        new: impl Into<String>,
        config: Option<&SdkConfig>,
    ) -> Self {
        AliasRouter {
            client: OnceCell::new_with(config.map(Client::new)),
            function: function.into(),
            alias: alias.into(),
            stable: stable.into(),
            new: new.into(),
            changing: Mutex::new(()),
        }
    }

    /// A router for the alias `alias` of the function `function` (its name
    /// or ARN), between its versions `stable` and `new` (numbers, as
    /// `"3"`; `new` empty when none was published), with region,
    /// credentials and endpoint from the SDK's standard chain, loaded on
    /// the first call.
    pub fn from_env(
        function: impl Into<String>,
        alias: impl Into<String>,
        stable: impl Into<String>,
        new: impl Into<String>,
    ) -> Self {
        AliasRouter::build(function, alias, stable, new, None)
    }

    /// A router like [`AliasRouter::from_env`], with the SDK configuration
    /// `config`.
    pub fn with_config(
        config: &SdkConfig,
        function: impl Into<String>,
        alias: impl Into<String>,
        stable: impl Into<String>,
        new: impl Into<String>,
    ) -> Self {
        AliasRouter::build(function, alias, stable, new, Some(config))
    }

    /// What a [`Strategy`](crate::Strategy) takes as its router: builds,
    /// from the old and new outputs of an `aws:lambda:Version` (its `arn`
    /// and `version`), the router of the alias `alias` of their function,
    /// configured from the environment. The new outputs may be null (a
    /// rollout whose new version was never published).
    pub fn for_alias(
        alias: impl Into<String>,
    ) -> impl Fn(&Value, &Value) -> Result<AliasRouter, String> + Send + Sync + 'static {
        AliasRouter::builder(alias.into(), None)
    }

    /// [`AliasRouter::for_alias`] with the SDK configuration `config`.
    pub fn for_alias_with(
        config: &SdkConfig,
        alias: impl Into<String>,
    ) -> impl Fn(&Value, &Value) -> Result<AliasRouter, String> + Send + Sync + 'static {
        AliasRouter::builder(alias.into(), Some(config.clone()))
    }

    fn builder(
        alias: String,
        config: Option<SdkConfig>,
    ) -> impl Fn(&Value, &Value) -> Result<AliasRouter, String> + Send + Sync + 'static {
        move |old, new| {
            let (function, stable, new) = versions(old, new)?;
            Ok(AliasRouter::build(
                function,
                alias.as_str(),
                stable,
                new,
                config.as_ref(),
            ))
        }
    }

    /// The function's name (or ARN), as given.
    pub fn function(&self) -> &str {
        &self.function
    }

    /// The alias's name.
    pub fn alias(&self) -> &str {
        &self.alias
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                Client::new(&aws_config::defaults(BehaviorVersion::latest()).load().await)
            })
            .await
    }

    /// The routing `weights` is sent as.
    ///
    /// # Errors
    /// [`AliasError::NoNewVersion`]: the new version gets traffic but none
    /// was published.
    pub fn routing(&self, weights: Weights) -> Result<AliasRouting, AliasError> {
        let share = weights.new_share();
        if share > 0 && self.new.is_empty() {
            return Err(AliasError::NoNewVersion {
                function: self.function.clone(),
                alias: self.alias.clone(),
                share,
            });
        }
        Ok(match share {
            0 => AliasRouting {
                version: self.stable.clone(),
                additional: None,
            },
            100 => AliasRouting {
                version: self.new.clone(),
                additional: None,
            },
            _ => AliasRouting {
                version: self.stable.clone(),
                additional: Some((self.new.clone(), f64::from(share) / 100.0)),
            },
        })
    }

    /// Puts `weights` in effect, like [`TrafficRouter::set_weights`], with
    /// a typed error.
    ///
    /// # Errors
    /// [`AliasError`]: the alias is missing, access is denied, it routes
    /// to a version not the router's, or it did not show the routing.
    pub async fn apply(&self, weights: Weights) -> Result<(), AliasError> {
        let wanted = self.routing(weights)?;
        let _turn = self.changing.lock().await;
        let found = self.read().await?;
        if let Some(foreign) = found
            .versions()
            .find(|v| *v != self.stable && *v != self.new)
        {
            return Err(AliasError::ForeignVersion {
                function: self.function.clone(),
                alias: self.alias.clone(),
                found: foreign.to_owned(),
                stable: self.stable.clone(),
                new: self.new.clone(),
            });
        }
        if found.same_as(&wanted) {
            return Ok(());
        }
        // An empty map takes the additional version off.
        let routing = AliasRoutingConfiguration::builder()
            .set_additional_version_weights(Some(wanted.additional.iter().cloned().collect()))
            .build();
        self.client()
            .await
            .update_alias()
            .function_name(&self.function)
            .name(&self.alias)
            .function_version(&wanted.version)
            .routing_config(routing)
            .send()
            .await
            .map_err(|e| self.error("UpdateAlias", &e))?;
        tracing::info!(function = %self.function, alias = %self.alias, routing = %wanted, "Lambda alias routing set");
        let now = self.read().await?;
        if now.same_as(&wanted) {
            Ok(())
        } else {
            Err(AliasError::NotConfirmed {
                function: self.function.clone(),
                alias: self.alias.clone(),
                wanted: wanted.to_string(),
                found: now.to_string(),
            })
        }
    }

    /// The alias's routing, as GetAlias shows it.
    ///
    /// # Errors
    /// As [`AliasRouter::apply`].
    pub async fn read(&self) -> Result<AliasRouting, AliasError> {
        let out = self
            .client()
            .await
            .get_alias()
            .function_name(&self.function)
            .name(&self.alias)
            .send()
            .await
            .map_err(|e| self.error("GetAlias", &e))?;
        Ok(AliasRouting::of(&out))
    }

    fn error<E, R>(&self, call: &'static str, err: &SdkError<E, R>) -> AliasError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug,
    {
        let (function, alias) = (self.function.clone(), self.alias.clone());
        let Some(code) = err.code() else {
            return AliasError::Transport {
                function,
                alias,
                call,
                message: DisplayErrorContext(err).to_string(),
            };
        };
        let message = err.message().unwrap_or("(no message)").to_owned();
        match code {
            "ResourceNotFoundException" => AliasError::NotFound {
                function,
                alias,
                message,
            },
            "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" => {
                AliasError::AccessDenied {
                    function,
                    alias,
                    call,
                    code: code.to_owned(),
                    message,
                }
            }
            _ => AliasError::Api {
                function,
                alias,
                call,
                code: code.to_owned(),
                message,
            },
        }
    }
}

#[async_trait]
impl TrafficRouter for AliasRouter {
    fn describe(&self) -> String {
        format!("Lambda alias {} of function {}", self.alias, self.function)
    }

    async fn set_weights(&self, weights: Weights) -> Result<(), String> {
        self.apply(weights).await.map_err(|e| e.to_string())
    }
}

/// The function and the version number of a version's ARN
/// (`arn:aws:lambda:REGION:ACCOUNT:function:NAME:VERSION`).
fn split_version_arn(arn: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", _, _, "function", name, version]
            if !name.is_empty() && !version.is_empty() =>
        {
            Some((name, version))
        }
        _ => None,
    }
}

/// The function's name and the version number in the outputs of an
/// `aws:lambda:Version` (its `arn`): what a gate on the new version's
/// metrics needs.
///
/// # Errors
/// The outputs have no Lambda version ARN.
pub fn version_of(outputs: &Value) -> Result<(String, String), String> {
    outputs
        .get("arn")
        .and_then(Value::as_str)
        .and_then(split_version_arn)
        .map(|(f, v)| (f.to_owned(), v.to_owned()))
        .ok_or_else(|| {
            "the outputs have no Lambda version `arn` (is the resource an aws:lambda:Version?)"
                .to_owned()
        })
}

/// The function, the stable and the new version from two versions'
/// outputs (`new` may be null).
fn versions(old: &Value, new: &Value) -> Result<(String, String, String), String> {
    let (function, stable) = version_of(old).map_err(|e| format!("old version: {e}"))?;
    if matches!(new, Value::Null) {
        return Ok((function, stable, String::new()));
    }
    let (other, new) = version_of(new).map_err(|e| format!("new version: {e}"))?;
    if other != function {
        return Err(format!(
            "the old version is of function {function} and the new one of {other}; an alias routes between versions of one function"
        ));
    }
    Ok((function, stable, new))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(new: &str) -> AliasRouter {
        AliasRouter::from_env("api", "live", "3", new)
    }

    #[test]
    fn a_split_is_the_alias_version_and_the_additional_weight() {
        let r = router("4");
        let at = |p| r.routing(Weights::to_new(p)).unwrap();
        assert_eq!(
            at(0),
            AliasRouting {
                version: "3".into(),
                additional: None
            }
        );
        assert_eq!(
            at(5),
            AliasRouting {
                version: "3".into(),
                additional: Some(("4".into(), 0.05))
            }
        );
        assert_eq!(at(50).to_string(), "version 3 (50%) and version 4 (50%)");
        assert_eq!(
            at(100),
            AliasRouting {
                version: "4".into(),
                additional: None
            }
        );
        let none = router("");
        assert_eq!(none.routing(Weights::to_new(0)).unwrap().version, "3");
        let e = none.routing(Weights::to_new(5)).unwrap_err().to_string();
        assert!(
            e.contains("alias live of function api") && e.contains("none was published"),
            "{e}"
        );
    }

    #[test]
    fn routings_compare_weights_as_lambda_keeps_them() {
        let a = AliasRouting {
            version: "3".into(),
            additional: Some(("4".into(), 0.25)),
        };
        let b = AliasRouting {
            additional: Some(("4".into(), 0.250_000_000_1)),
            ..a.clone()
        };
        assert!(a.same_as(&b));
        let c = AliasRouting {
            additional: None,
            ..a.clone()
        };
        assert!(!a.same_as(&c));
    }

    #[test]
    fn versions_come_from_the_version_outputs() {
        let v = |n: &str| {
            Value::from_json(serde_json::json!({
                "arn": format!("arn:aws:lambda:us-east-1:123456789012:function:api-1a2b:{n}"),
                "version": n,
            }))
        };
        assert_eq!(
            versions(&v("3"), &v("4")).unwrap(),
            ("api-1a2b".into(), "3".into(), "4".into())
        );
        assert_eq!(
            versions(&v("3"), &Value::Null).unwrap(),
            ("api-1a2b".into(), "3".into(), String::new())
        );
        let port = Value::from_json(serde_json::json!({"port": 8080}));
        let e = versions(&port, &v("4")).unwrap_err();
        assert!(
            e.contains("old version") && e.contains("aws:lambda:Version"),
            "{e}"
        );
        let other = Value::from_json(serde_json::json!({
            "arn": "arn:aws:lambda:us-east-1:123456789012:function:worker:9"
        }));
        let e = versions(&v("3"), &other).unwrap_err();
        assert!(e.contains("api-1a2b") && e.contains("worker"), "{e}");
        assert_eq!(split_version_arn("arn:aws:iam::1:role/x"), None);
    }

    #[test]
    fn the_router_describes_its_alias() {
        assert_eq!(router("4").describe(), "Lambda alias live of function api");
    }
}
