//! Route 53 resources (`aws:route53:*`): [`HostedZone`], [`Record`] and
//! [`HealthCheck`].
//!
//! A zone and a health check are made with the create's idempotency token
//! as their `CallerReference`, so a create repeated after a crash finds the
//! object its lost attempt made instead of making a second one; both carry
//! the provider's `dafnck:*` tags and the user's. A record has no tags and
//! no id of its own: it is known by its zone, name, type and set
//! identifier, which are its id, and is written with `UPSERT` and deleted
//! with a `DELETE` of the record exactly as Route 53 has it. Records of one
//! zone are read together, one `ListResourceRecordSets` listing per zone.
//! Deleting an object that is already gone succeeds.
//!
//! ```
//! use dafnck_core::prelude::*;
//! use dafnck_providers::aws::route53::{
//!     CheckType, Failover, HealthCheck, HostedZone, Record, RecordType,
//! };
//!
//! fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
//!     let zone = stack.add("example", HostedZone {
//!         name: "example.com".into(),
//!         ..Default::default()
//!     });
//!     let check = stack.add("primary", HealthCheck {
//!         check_type: CheckType::Http,
//!         ip_address: Some("192.0.2.10".into()),
//!         resource_path: "/health".into(),
//!         ..Default::default()
//!     });
//!     stack.add("www-primary", Record {
//!         zone_id: zone.out().zone_id,
//!         name: "www.example.com".into(),
//!         record_type: RecordType::A,
//!         ttl: 60,
//!         values: vec!["192.0.2.10".into()],
//!         set_identifier: Some("primary".into()),
//!         failover: Some(Failover::Primary),
//!         health_check_id: Some(check.out().health_check_id),
//!         ..Default::default()
//!     });
//!     stack.add("www-secondary", Record {
//!         zone_id: zone.out().zone_id,
//!         name: "www.example.com".into(),
//!         record_type: RecordType::A,
//!         ttl: 60,
//!         values: vec!["198.51.100.10".into()],
//!         set_identifier: Some("secondary".into()),
//!         failover: Some(Failover::Secondary),
//!         ..Default::default()
//!     });
//!     Ok(())
//! }
//! # let _ = infra;
//! ```

mod health_check;
mod hosted_zone;
mod record;

resource_types! {
    health_check: HealthCheckHandler,
    hosted_zone: HostedZoneHandler,
    record: RecordHandler,
}

use std::collections::BTreeMap;

use aws_sdk_route53::types::{Tag, TagResourceType};
use aws_sdk_route53::Client;

use super::error::{AwsError, Subject};
use super::tags::{self, client_token};

/// A zone id without the `/hostedzone/` prefix Route 53 answers with.
pub(crate) fn bare_zone_id(id: &str) -> &str {
    id.trim_start_matches("/hostedzone/")
}

/// A DNS name as Route 53's answers are compared: lower case, without the
/// final dot, with the `\052` Route 53 writes for `*` decoded.
pub(crate) fn dns_name(name: &str) -> String {
    name.trim_end_matches('.')
        .replace("\\052", "*")
        .to_ascii_lowercase()
}

/// The `CallerReference` of a create with `token`.
pub(crate) fn caller_reference(token: &str) -> String {
    client_token(token)
}

/// A zone or health check, as Route 53's tag calls address it.
#[derive(Clone, Debug)]
pub(crate) struct Tagged<'a> {
    kind: TagResourceType,
    id: &'a str,
}

impl<'a> Tagged<'a> {
    /// Hosted zone `id` (bare).
    pub(crate) fn zone(id: &'a str) -> Self {
        Tagged {
            kind: TagResourceType::Hostedzone,
            id,
        }
    }

    /// Health check `id`.
    pub(crate) fn check(id: &'a str) -> Self {
        Tagged {
            kind: TagResourceType::Healthcheck,
            id,
        }
    }

    /// All its tags.
    pub(crate) async fn all(
        &self,
        client: &Client,
        s: &Subject<'_>,
    ) -> Result<BTreeMap<String, String>, AwsError> {
        let out = client
            .list_tags_for_resource()
            .resource_type(self.kind.clone())
            .resource_id(self.id)
            .send()
            .await
            .map_err(|e| s.error("ListTagsForResource", e))?;
        let set = out.resource_tag_set().map(|set| set.tags());
        let pair = |t: &Tag| (t.key().map(str::to_owned), t.value().map(str::to_owned));
        Ok(set
            .unwrap_or_default()
            .iter()
            .map(pair)
            .filter_map(|(k, v)| Some((k?, v.unwrap_or_default())))
            .collect())
    }

    /// Sets `set` and removes `remove`.
    async fn change(
        &self,
        client: &Client,
        s: &Subject<'_>,
        set: Vec<(&str, &str)>,
        remove: Vec<&str>,
    ) -> Result<(), AwsError> {
        if set.is_empty() && remove.is_empty() {
            return Ok(());
        }
        let set: Vec<Tag> = set
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let remove: Vec<String> = remove.into_iter().map(str::to_owned).collect();
        client
            .change_tags_for_resource()
            .resource_type(self.kind.clone())
            .resource_id(self.id)
            .set_add_tags(Some(set).filter(|s| !s.is_empty()))
            .set_remove_tag_keys(Some(remove).filter(|r| !r.is_empty()))
            .send()
            .await
            .map_err(|e| s.error("ChangeTagsForResource", e))?;
        Ok(())
    }

    /// Stamps the provider's tags (for resource `name` of `stack`, made
    /// with `token`) and the user's on a new object. Route 53's create
    /// calls take no tags, so this is a second call; a create repeated
    /// after a crash between the two finds its object by `CallerReference`
    /// and stamps them then.
    pub(crate) async fn stamp(
        &self,
        client: &Client,
        s: &Subject<'_>,
        (stack, name, token): (&str, &str, &str),
        user: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let ours = tags::ours(stack, name, token);
        let set = ours
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .chain(user.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .collect();
        self.change(client, s, set, Vec::new()).await
    }

    /// Makes its user tags equal `desired`, given `current`.
    pub(crate) async fn retag(
        &self,
        client: &Client,
        s: &Subject<'_>,
        current: &BTreeMap<String, String>,
        desired: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let (set, remove) = tags::diff(current, desired);
        self.change(client, s, set, remove).await
    }
}

/// The user's tags among `all`.
pub(crate) fn user_tags(all: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    all.iter()
        .filter(|(k, _)| tags::is_users(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `recorded` when it is the zero value of an optional setting and Route 53
/// reports that setting's default (`default`), else what was `found`: a
/// setting left unset is not drift because AWS fills it in.
pub(crate) fn as_set<T: PartialEq + Default + Copy>(recorded: T, found: T, default: T) -> T {
    if recorded == T::default() && found == default {
        recorded
    } else {
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_without_case_final_dot_or_escapes() {
        assert_eq!(dns_name("WWW.Example.com."), "www.example.com");
        assert_eq!(dns_name("\\052.example.com."), "*.example.com");
        assert_eq!(bare_zone_id("/hostedzone/Z123"), "Z123");
        assert_eq!(bare_zone_id("Z123"), "Z123");
    }

    #[test]
    fn missing_zones_and_checks_are_not_found() {
        for code in ["NoSuchHostedZone", "NoSuchHealthCheck"] {
            assert!(super::super::error::is_not_found(code), "{code}");
        }
    }

    #[test]
    fn unset_settings_read_as_unset() {
        assert_eq!(as_set(0u16, 80, 80), 0);
        assert_eq!(as_set(0u16, 81, 80), 81);
        assert_eq!(as_set(443u16, 443, 80), 443);
    }
}
