//! [`HealthCheck`] (`aws:route53:HealthCheck`): Route 53 probing an
//! endpoint, for failover records.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_route53::types::{HealthCheckConfig, HealthCheckType};
use aws_sdk_route53::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Made, Read, ReadResult, ResourceHandler, Update, UpdateResult,
};
use dafnck_core::state::CallKind;

use super::super::error::{AwsError, Subject};
use super::super::lookup::Lookup;
use super::super::{failed_after_create, lookup, one_call, tags, Aws};
use super::{as_set, caller_reference, user_tags, Tagged};

ids! {
    /// The id of a [`HealthCheck`] (a UUID).
    HealthCheckId;
}

/// How a [`HealthCheck`] probes its endpoint.
#[derive(Declare, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum CheckType {
    /// An HTTP request; healthy on a 2xx or 3xx answer (the default).
    #[default]
    Http,
    /// An HTTPS request (the certificate is not checked).
    Https,
    /// A TCP connection.
    Tcp,
}

impl CheckType {
    fn sdk(self) -> HealthCheckType {
        match self {
            CheckType::Http => HealthCheckType::Http,
            CheckType::Https => HealthCheckType::Https,
            CheckType::Tcp => HealthCheckType::Tcp,
        }
    }

    fn of(t: &HealthCheckType) -> Self {
        match t {
            HealthCheckType::Https => CheckType::Https,
            HealthCheckType::Tcp => CheckType::Tcp,
            _ => CheckType::Http,
        }
    }

    /// The port probed when none is set.
    fn default_port(self) -> u16 {
        match self {
            CheckType::Https => 443,
            _ => 80,
        }
    }
}

/// A Route 53 health check of one endpoint, by IP address or domain name.
///
/// - `check_type`: HTTP (the default), HTTPS or TCP. Route 53 cannot change
///   it, so changing it replaces the check.
/// - `ip_address`, `fqdn`: the endpoint (at least one); with both, the IP
///   is probed and the name sent as `Host`. Set in place.
/// - `port`: 0 (the default) probes 80, or 443 for HTTPS. Set in place.
/// - `resource_path`: the HTTP(S) path (`/health`); empty: `/`. Set in
///   place.
/// - `request_interval`: seconds between probes, 10 or 30 (0: 30). Route 53
///   cannot change it, so changing it replaces the check.
/// - `failure_threshold`: failed probes in a row before the endpoint is
///   unhealthy, 1 to 10 (0: 3). Set in place.
/// - `tags`: the user's tags; set in place.
///
/// The create's token is the check's `CallerReference`: a create repeated
/// after a crash finds the check its lost attempt made.
///
/// # Drift
/// `read` reports the endpoint, port, path, threshold and tags as Route 53
/// has them.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:route53:HealthCheck", outputs = HealthCheckOutputs)]
pub struct HealthCheck {
    /// How it probes. Changing it replaces the check.
    #[resource(force_new)]
    pub check_type: CheckType,
    /// The endpoint's IP address.
    pub ip_address: Option<String>,
    /// The endpoint's domain name.
    pub fqdn: Option<String>,
    /// The port probed (0: 80, or 443 for HTTPS).
    pub port: u16,
    /// The HTTP(S) path probed; empty: `/`.
    pub resource_path: String,
    /// Seconds between probes, 10 or 30 (0: 30). Changing it replaces the
    /// check.
    #[resource(force_new)]
    pub request_interval: u8,
    /// Failed probes before the endpoint is unhealthy (0: 3).
    pub failure_threshold: u8,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// What a [`HealthCheck`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct HealthCheckOutputs {
    /// Its id (and the resource's), for
    /// [`Record::health_check_id`](super::Record::health_check_id).
    pub health_check_id: HealthCheckId,
}

/// Route 53's defaults for the settings left at 0.
const DEFAULT_INTERVAL: u8 = 30;
const DEFAULT_THRESHOLD: u8 = 3;

/// A health check and its tags.
struct Found {
    check: aws_sdk_route53::types::HealthCheck,
    tags: BTreeMap<String, String>,
}

async fn with_tags(
    client: &Client,
    s: &Subject<'_>,
    check: aws_sdk_route53::types::HealthCheck,
) -> Result<Found, AwsError> {
    let tags = Tagged::check(check.id()).all(client, s).await?;
    Ok(Found { check, tags })
}

async fn by_id(client: &Client, s: &Subject<'_>, id: &str) -> Lookup<Found> {
    let out = lookup::unless_not_found(
        s,
        "GetHealthCheck",
        client.get_health_check().health_check_id(id).send().await,
    )?;
    match out.and_then(|o| o.health_check) {
        Some(check) => Ok(Some(with_tags(client, s, check).await?)),
        None => Ok(None),
    }
}

/// The check a create with `token` made, if any: ListHealthChecks, its
/// `CallerReference` checked (Route 53 can look a check up by nothing
/// else).
async fn by_token(client: &Client, s: &Subject<'_>, token: &str) -> Lookup<Found> {
    let reference = caller_reference(token);
    let mut marker = None::<String>;
    loop {
        let out = client
            .list_health_checks()
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| s.error("ListHealthChecks", e))?;
        if let Some(check) = out
            .health_checks()
            .iter()
            .find(|c| c.caller_reference() == reference)
        {
            return Ok(Some(with_tags(client, s, check.clone()).await?));
        }
        match out.next_marker() {
            Some(next) if out.is_truncated() => marker = Some(next.to_owned()),
            _ => return Ok(None),
        }
    }
}

fn outputs(f: &Found) -> HealthCheckOutputs {
    HealthCheckOutputs {
        health_check_id: HealthCheckId(f.check.id().to_owned()),
    }
}

/// What a read reports of `f`, given the `recorded` inputs.
fn observed_as(f: &Found, recorded: &HealthCheck) -> kit::Found<HealthCheck, HealthCheckOutputs> {
    let config = f.check.health_check_config();
    let check_type = config.map_or(recorded.check_type, |c| CheckType::of(c.r#type()));
    let small = |n: Option<i32>| n.and_then(|n| u8::try_from(n).ok()).unwrap_or_default();
    let text = |t: Option<&str>| t.filter(|t| !t.is_empty()).map(str::to_owned);
    let path = config.and_then(|c| c.resource_path()).unwrap_or_default();
    let observed = HealthCheck {
        check_type,
        ip_address: text(config.and_then(|c| c.ip_address())),
        fqdn: text(config.and_then(|c| c.fully_qualified_domain_name())),
        port: as_set(
            recorded.port,
            config
                .and_then(|c| c.port())
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or_default(),
            check_type.default_port(),
        ),
        resource_path: if recorded.resource_path.is_empty() && path == "/" {
            String::new()
        } else {
            path.to_owned()
        },
        request_interval: as_set(
            recorded.request_interval,
            small(config.and_then(|c| c.request_interval())),
            DEFAULT_INTERVAL,
        ),
        failure_threshold: as_set(
            recorded.failure_threshold,
            small(config.and_then(|c| c.failure_threshold())),
            DEFAULT_THRESHOLD,
        ),
        tags: user_tags(&f.tags),
    };
    lookup::observed(f.check.id(), observed, outputs(f))
}

fn check(s: &Subject<'_>, v: &HealthCheck) -> Result<(), AwsError> {
    if v.ip_address.is_none() && v.fqdn.is_none() {
        return Err(s.invalid("set `ip_address` or `fqdn` (the endpoint to probe)"));
    }
    if !matches!(v.request_interval, 0 | 10 | 30) {
        return Err(s.invalid(format!(
            "`request_interval` {} is not 10 or 30 seconds",
            v.request_interval
        )));
    }
    if v.failure_threshold > 10 {
        return Err(s.invalid(format!(
            "`failure_threshold` {} is not between 1 and 10",
            v.failure_threshold
        )));
    }
    if v.check_type == CheckType::Tcp && !v.resource_path.is_empty() {
        return Err(s.invalid("a TCP check has no `resource_path`"));
    }
    tags::check_user_tags(s, &v.tags)
}

fn port_of(v: &HealthCheck) -> i32 {
    i32::from(if v.port == 0 {
        v.check_type.default_port()
    } else {
        v.port
    })
}

fn threshold_of(v: &HealthCheck) -> i32 {
    i32::from(if v.failure_threshold == 0 {
        DEFAULT_THRESHOLD
    } else {
        v.failure_threshold
    })
}

fn config_of(s: &Subject<'_>, v: &HealthCheck) -> Result<HealthCheckConfig, AwsError> {
    let interval = if v.request_interval == 0 {
        DEFAULT_INTERVAL
    } else {
        v.request_interval
    };
    HealthCheckConfig::builder()
        .r#type(v.check_type.sdk())
        .set_ip_address(v.ip_address.clone())
        .set_fully_qualified_domain_name(v.fqdn.clone())
        .port(port_of(v))
        .set_resource_path(Some(v.resource_path.clone()).filter(|p| !p.is_empty()))
        .request_interval(i32::from(interval))
        .failure_threshold(threshold_of(v))
        .build()
        .map_err(|e| s.invalid(e.to_string()))
}

/// Serves [`HealthCheck`].
pub(crate) struct HealthCheckHandler;

#[async_trait]
impl ResourceHandler for HealthCheckHandler {
    type Resource = HealthCheck;
    type Context = Aws;

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<HealthCheck>) -> CreateResult<HealthCheck> {
        let s = Subject::of::<HealthCheck>(&req.name);
        let v = &req.inputs;
        check(&s, v)?;
        let client = p.route53_client().await;
        let id = match by_token(client, &s, &req.token).await? {
            Some(found) => found.check.id().to_owned(),
            None => client
                .create_health_check()
                .caller_reference(caller_reference(&req.token))
                .health_check_config(config_of(&s, v)?)
                .send()
                .await
                .map_err(|e| s.error("CreateHealthCheck", e))?
                .health_check()
                .map(|c| c.id().to_owned())
                .ok_or_else(|| s.incomplete("CreateHealthCheck", "a health check"))?,
        };
        let who = (req.stack.as_str(), req.name.as_str(), req.token.as_str());
        if let Err(e) = Tagged::check(&id).stamp(client, &s, who, &v.tags).await {
            return Err(failed_after_create(e, &id, delete_check(client, &s, &id)).await);
        }
        Ok(Made {
            outputs: HealthCheckOutputs {
                health_check_id: HealthCheckId(id.clone()),
            },
            id,
        })
    }

    async fn read(&self, p: &Aws, req: Read<HealthCheck>) -> ReadResult<HealthCheck> {
        let s = Subject::of::<HealthCheck>(&req.name);
        let client = p.route53_client().await;
        let recorded = req.recorded.decode_or_default();
        let found = lookup::find(
            &req,
            |id| by_id(client, &s, id),
            |token| by_token(client, &s, token),
        )
        .await?;
        Ok(found.map(|f| observed_as(&f, &recorded)))
    }

    async fn update(&self, p: &Aws, req: Update<HealthCheck>) -> UpdateResult<HealthCheck> {
        let s = Subject::of::<HealthCheck>(&req.name);
        let v = &req.inputs;
        check(&s, v)?;
        let client = p.route53_client().await;
        let found = by_id(client, &s, &req.id)
            .await?
            .ok_or_else(|| s.gone(&req.id))?;
        let now = observed_as(&found, v).inputs;
        let settings = |h: &HealthCheck| {
            (
                h.ip_address.clone(),
                h.fqdn.clone(),
                port_of(h),
                h.resource_path.clone(),
                threshold_of(h),
            )
        };
        if settings(&now) != settings(v) {
            // Route 53 clears an optional setting only when told to.
            let mut reset = Vec::new();
            if v.fqdn.is_none() && now.fqdn.is_some() {
                reset.push(aws_sdk_route53::types::ResettableElementName::FullyQualifiedDomainName);
            }
            if v.resource_path.is_empty() && !now.resource_path.is_empty() {
                reset.push(aws_sdk_route53::types::ResettableElementName::ResourcePath);
            }
            client
                .update_health_check()
                .health_check_id(&req.id)
                .health_check_version(found.check.health_check_version())
                .set_ip_address(v.ip_address.clone())
                .set_fully_qualified_domain_name(v.fqdn.clone())
                .port(port_of(v))
                .set_resource_path(Some(v.resource_path.clone()).filter(|p| !p.is_empty()))
                .failure_threshold(threshold_of(v))
                .set_reset_elements(Some(reset).filter(|r| !r.is_empty()))
                .send()
                .await
                .map_err(|e| s.error("UpdateHealthCheck", e))?;
        }
        Tagged::check(&req.id)
            .retag(client, &s, &now.tags, &v.tags)
            .await?;
        Ok(outputs(&found))
    }

    deletes_by!(HealthCheck, route53_client, delete_check);
}

async fn delete_check(client: &Client, s: &Subject<'_>, id: &str) -> Result<(), AwsError> {
    lookup::deleted(
        s,
        "DeleteHealthCheck",
        client
            .delete_health_check()
            .health_check_id(id)
            .send()
            .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_and_interval_replace_the_check() {
        assert_eq!(
            HealthCheck::force_new_fields(),
            &["check_type", "request_interval"]
        );
    }

    #[test]
    fn an_endpoint_and_route_53_s_ranges_are_required() {
        let s = Subject::of::<HealthCheck>("h");
        let e = check(&s, &HealthCheck::default()).unwrap_err().to_string();
        assert!(
            e.contains("aws:route53:HealthCheck \"h\"") && e.contains("ip_address"),
            "{e}"
        );
        let v = HealthCheck {
            ip_address: Some("192.0.2.1".into()),
            request_interval: 20,
            ..Default::default()
        };
        assert!(check(&s, &v)
            .unwrap_err()
            .to_string()
            .contains("request_interval"));
        let v = HealthCheck {
            ip_address: Some("192.0.2.1".into()),
            check_type: CheckType::Tcp,
            resource_path: "/x".into(),
            ..Default::default()
        };
        assert!(check(&s, &v).is_err());
    }

    #[test]
    fn check_types_serialize_as_route_53_names_them() {
        let v = serde_json::to_value(CheckType::Https).unwrap();
        assert_eq!(v, serde_json::json!("HTTPS"));
        assert_eq!(CheckType::Https.default_port(), 443);
    }
}
