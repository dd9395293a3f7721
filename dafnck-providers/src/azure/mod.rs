//! The `azure` provider (package `azure`): resource groups, virtual
//! networks, subnets, network security groups, public IPs, network
//! interfaces and load balancers, Linux virtual machines and scale sets,
//! and autoscale settings, through Azure Resource Manager.
//!
//! Compute (virtual machines, scale sets) goes through `azure_mgmt_compute`
//! 0.21's client and models (api-version 2024-07-01). Resource groups,
//! networking and autoscale settings go through ARM's REST API directly,
//! on `azure_core` 0.21's pipeline (the same the compute client uses): the
//! `azure_mgmt_network` crate alone costs more to build than everything
//! else in the provider (see BENCHMARKS.md, "Azure management crates"),
//! and `azure_mgmt_monitor` 0.21 has autoscale settings only in a preview
//! package. The api-versions are the ones those crates send:
//! `Microsoft.Resources` 2021-04-01, `Microsoft.Network` 2024-03-01,
//! `Microsoft.Insights` 2022-10-01.
//!
//! # ARM semantics
//! - PUT is create-or-update, so a create is idempotent by name. Every
//!   object the provider makes carries the tag `dafnck:token` (its create's
//!   token): a create that finds the name taken adopts the object only when
//!   it carries that tag (a crashed create, found again), and a same-named
//!   object without it is an error naming the resource. Subnets carry no
//!   tags in ARM: one in a virtual network this provider made is adopted.
//! - Long-running operations (201/202 with `Azure-AsyncOperation` or
//!   `Location`) are polled, honouring `Retry-After`, until they end; the
//!   object is then read until its `provisioningState` is terminal, and
//!   `Failed` is an error with ARM's reason.
//! - 429 and 503 are retried by the pipeline after `Retry-After`; if they
//!   persist the error is retryable for the engine. 409 conflicts and 400s
//!   (`InvalidParameter`) are errors naming the resource, ARM's code and
//!   message.
//! - Deletes wait until the object is gone. A resource group is deleted
//!   only when empty: the provider never deletes children behind the
//!   engine's back through their group.
//!
//! # Credentials and subscription
//! [`Settings::from_env`]: the subscription from `DAFNCK_AZURE_SUBSCRIPTION`
//! (or `AZURE_SUBSCRIPTION_ID`); credentials from `azure_identity`'s chain
//! (service principal variables `AZURE_CLIENT_ID` / `AZURE_CLIENT_SECRET`
//! / `AZURE_TENANT_ID`, the Azure CLI, managed identity).
//! `DAFNCK_ARM_URL` points every call at another ARM endpoint (the
//! project's fake) with a static token.

mod arm;
mod compute;
mod monitor;
mod network;
mod resources;
mod tracked;

pub use compute::*;
pub use monitor::*;
pub use network::*;
pub use resources::*;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use azure_core::auth::{AccessToken, Secret, TokenCredential};
use azure_core::{ExponentialRetryOptions, RetryOptions, Url};
use dafnck_core::prelude::Input;
use dafnck_core::provider::kit::Kit;
use dafnck_core::ProviderError;
use tokio::sync::OnceCell;

use arm::{Arm, Subject};

/// The tag holding the token of the create that made an object.
pub const TOKEN_TAG: &str = "dafnck:token";

/// Azure's public Resource Manager endpoint.
pub const PUBLIC_CLOUD: &str = "https://management.azure.com";

/// Where the provider sends its calls, and as whom.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// The ARM endpoint (`None`: [`PUBLIC_CLOUD`]).
    pub endpoint: Option<String>,
    /// The subscription resources are made in.
    pub subscription: Option<String>,
    /// A fixed bearer token instead of the credential chain (a local ARM
    /// such as the project's fake).
    pub static_token: Option<String>,
    /// The least wait between polls of an operation (`None`: what ARM's
    /// `Retry-After` says, else 2 s).
    pub poll_floor: Option<Duration>,
    /// How many times the pipeline retries a throttled (429) or
    /// unavailable (503) call (`None`: 6).
    pub max_retries: Option<u32>,
}

impl Settings {
    /// From the environment: `DAFNCK_AZURE_SUBSCRIPTION` (else
    /// `AZURE_SUBSCRIPTION_ID`), and `DAFNCK_ARM_URL` (a local ARM, called
    /// with a static token).
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let endpoint = var("DAFNCK_ARM_URL");
        Settings {
            static_token: endpoint.as_ref().map(|_| "dafnck-local-arm".to_owned()),
            endpoint,
            subscription: var("DAFNCK_AZURE_SUBSCRIPTION").or_else(|| var("AZURE_SUBSCRIPTION_ID")),
            poll_floor: None,
            max_retries: None,
        }
    }

    /// A local ARM at `url` (the project's fake), subscription
    /// `subscription`, a static token and quick polls.
    pub fn local(url: impl Into<String>, subscription: impl Into<String>) -> Self {
        Settings {
            endpoint: Some(url.into()),
            subscription: Some(subscription.into()),
            static_token: Some("dafnck-local-arm".into()),
            poll_floor: Some(Duration::from_millis(50)),
            max_retries: None,
        }
    }
}

/// A token that never changes (a local ARM checks none).
#[derive(Debug)]
struct StaticToken(String);

#[async_trait::async_trait]
impl TokenCredential for StaticToken {
    async fn get_token(&self, _scopes: &[&str]) -> azure_core::Result<AccessToken> {
        // It never expires: a date far ahead (no `time` dependency).
        let never = azure_core::date::parse_rfc3339("9999-12-31T00:00:00Z")?;
        Ok(AccessToken::new(Secret::new(self.0.clone()), never))
    }

    async fn clear_cache(&self) -> azure_core::Result<()> {
        Ok(())
    }
}

/// What the azure handlers share: the settings and clients, made on first
/// use.
#[derive(Clone)]
pub struct Azure {
    settings: Settings,
    clients: Arc<OnceCell<Clients>>,
}

struct Clients {
    arm: Arm,
    compute: azure_mgmt_compute::package_2024_07_01::Client,
}

impl std::fmt::Debug for Azure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Azure")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Azure {
    async fn clients(&self) -> Result<&Clients, ProviderError> {
        self.clients
            .get_or_try_init(|| async { self.make_clients() })
            .await
    }

    fn make_clients(&self) -> Result<Clients, ProviderError> {
        let s = &self.settings;
        let endpoint_text = s.endpoint.as_deref().unwrap_or(PUBLIC_CLOUD);
        let endpoint = Url::parse(endpoint_text).map_err(|e| {
            ProviderError::new(format!(
                "azure: the ARM endpoint {endpoint_text:?} is not a URL: {e}"
            ))
        })?;
        let credential: Arc<dyn TokenCredential> = match &s.static_token {
            Some(t) => Arc::new(StaticToken(t.clone())),
            None => azure_identity::create_credential().map_err(|e| {
                ProviderError::new(format!(
                    "azure: no credentials (set AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and \
                     AZURE_TENANT_ID, run `az login`, or run with a managed identity): {e}"
                ))
            })?,
        };
        let retry = RetryOptions::exponential(ExponentialRetryOptions {
            initial_delay: Duration::from_millis(500),
            max_retries: s.max_retries.unwrap_or(6),
            max_total_elapsed: Duration::from_secs(120),
            max_delay: Duration::from_secs(30),
        });
        let options = azure_core::ClientOptions::default().retry(retry.clone());
        let arm = Arm::new(
            endpoint.clone(),
            credential.clone(),
            options,
            s.poll_floor.unwrap_or(Duration::ZERO),
        )?;
        let compute = azure_mgmt_compute::package_2024_07_01::Client::builder(credential)
            .endpoint(endpoint)
            .retry(retry)
            .build()
            .map_err(|e| {
                ProviderError::new(format!("azure: cannot make the compute client: {e}"))
            })?;
        Ok(Clients { arm, compute })
    }

    /// The subscription, as set (no client needed).
    fn subscription(&self) -> Result<&str, ProviderError> {
        self.settings
            .subscription
            .as_deref()
            .ok_or_else(no_subscription)
    }

    async fn arm(&self) -> Result<&Arm, ProviderError> {
        Ok(&self.clients().await?.arm)
    }

    async fn compute(
        &self,
    ) -> Result<&azure_mgmt_compute::package_2024_07_01::Client, ProviderError> {
        Ok(&self.clients().await?.compute)
    }
}

fn no_subscription() -> ProviderError {
    ProviderError::new(
        "azure: no subscription (set DAFNCK_AZURE_SUBSCRIPTION or AZURE_SUBSCRIPTION_ID, \
         or Settings::subscription)",
    )
}

/// The value of input `field` of a resource, once known and not empty.
pub(crate) fn known<'a>(
    who: Subject<'_>,
    field: &str,
    input: &'a Input<String>,
) -> Result<&'a str, ProviderError> {
    input
        .as_value()
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| who.error(format!("`{field}` is not known")))
}

/// The value of an optional reference, once known.
pub(crate) fn known_opt<'a>(
    who: Subject<'_>,
    field: &str,
    input: &'a Option<Input<String>>,
) -> Result<Option<&'a str>, ProviderError> {
    input.as_ref().map(|i| known(who, field, i)).transpose()
}

/// The user's tags of an ARM body (the provider's own left out).
pub(crate) fn user_tags(j: &serde_json::Value) -> BTreeMap<String, String> {
    j["tags"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.as_str() != TOKEN_TAG)
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// The azure provider: every type of this module.
#[derive(Clone, Debug)]
pub struct Provider {
    kit: Kit<Azure>,
}

impl Provider {
    /// A provider with [`Settings::from_env`]; clients are made on first
    /// use.
    pub fn from_env() -> Self {
        Provider::new(Settings::from_env())
    }

    /// A provider with these settings.
    pub fn new(settings: Settings) -> Self {
        let azure = Azure {
            settings,
            clients: Arc::new(OnceCell::new()),
        };
        let kit = Kit::new("azure", azure);
        let kit = resources::register(kit);
        let kit = network::register(kit);
        let kit = compute::register(kit);
        let kit = monitor::register(kit);
        Provider { kit }
    }

    /// The settings it sends calls with.
    pub fn settings(&self) -> &Settings {
        &self.kit.context().settings
    }
}

served_by_kit!(Provider);
