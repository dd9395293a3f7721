//! The Route 53 weighted-record traffic router: the split as the weights
//! of two weighted records of one name and type, one per endpoint, changed
//! by one ChangeResourceRecordSets call, waited for until Route 53 says the
//! change is `INSYNC`, and confirmed by listing the records back. Behind
//! the `route53` feature.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_route53::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord,
    ResourceRecordSet, RrType,
};
use aws_sdk_route53::Client;
use tokio::sync::{Mutex, OnceCell};

use crate::policy::Weights;
use crate::router::TrafficRouter;

/// The IAM actions the router calls.
const PERMISSIONS: &str =
    "route53:ListResourceRecordSets, route53:ChangeResourceRecordSets and route53:GetChange";

/// What one weighted record answers with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Plain values (addresses for `A`, a name for `CNAME`) with a TTL in
    /// seconds.
    Values {
        /// Seconds resolvers may cache the answer.
        ttl: i64,
        /// The values, as Route 53 takes them.
        values: Vec<String>,
    },
    /// An alias to an AWS endpoint (a load balancer's DNS name), answered
    /// by Route 53 itself.
    Alias {
        /// The endpoint's DNS name.
        dns_name: String,
        /// The endpoint's hosted zone (a load balancer's canonical zone).
        hosted_zone_id: String,
        /// Whether Route 53 checks the endpoint's health before answering.
        evaluate_target_health: bool,
    },
}

impl Target {
    /// Plain values with `ttl` seconds.
    pub fn values<S: Into<String>>(ttl: i64, values: impl IntoIterator<Item = S>) -> Self {
        Target::Values {
            ttl,
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    /// An alias to `dns_name` in the hosted zone `hosted_zone_id`, with its
    /// health evaluated.
    pub fn alias(dns_name: impl Into<String>, hosted_zone_id: impl Into<String>) -> Self {
        Target::Alias {
            dns_name: dns_name.into(),
            hosted_zone_id: hosted_zone_id.into(),
            evaluate_target_health: true,
        }
    }

    /// The same target written as Route 53 lists it (names lowercase with a
    /// final dot, values sorted), so a target read back compares equal.
    fn normalized(&self) -> Target {
        match self {
            Target::Values { ttl, values } => {
                let mut values: Vec<String> = values.clone();
                values.sort();
                Target::Values { ttl: *ttl, values }
            }
            Target::Alias {
                dns_name,
                hosted_zone_id,
                evaluate_target_health,
            } => Target::Alias {
                dns_name: fqdn(dns_name),
                hosted_zone_id: hosted_zone_id.clone(),
                evaluate_target_health: *evaluate_target_health,
            },
        }
    }
}

/// One of the two weighted records: its set identifier (unique among the
/// records of the name) and what it answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightedRecord {
    /// The record's set identifier (`blue`, or the endpoint's id).
    pub set_identifier: String,
    /// What it answers.
    pub target: Target,
}

impl WeightedRecord {
    /// A record `set_identifier` answering `target`.
    pub fn new(set_identifier: impl Into<String>, target: Target) -> Self {
        WeightedRecord {
            set_identifier: set_identifier.into(),
            target,
        }
    }
}

/// Why the Route 53 router could not put a split in effect. Every message
/// names the record.
#[derive(Debug, thiserror::Error)]
pub enum Route53Error {
    /// No hosted zone has this id.
    #[error(
        "Route 53 record {record}: hosted zone {zone} not found ({message}); check the zone id"
    )]
    ZoneNotFound {
        /// The record's name and type.
        record: String,
        /// The zone's id.
        zone: String,
        /// AWS's message.
        message: String,
    },
    /// The credentials may not call what the router needs.
    #[error("Route 53 record {record}: {call} was denied ({code}: {message}); the credentials need {PERMISSIONS} on the zone")]
    AccessDenied {
        /// The record's name and type.
        record: String,
        /// The API call.
        call: &'static str,
        /// AWS's error code.
        code: String,
        /// AWS's message.
        message: String,
    },
    /// Route 53 answered with another error code (the SDK's own retries of
    /// throttling spent, an invalid change).
    #[error("Route 53 record {record}: {call} failed: {code}: {message}")]
    Api {
        /// The record's name and type.
        record: String,
        /// The API call.
        call: &'static str,
        /// AWS's error code.
        code: String,
        /// AWS's message.
        message: String,
    },
    /// The call got no answer (no region, no credentials, a bad endpoint,
    /// the connection failed after the SDK's retries).
    #[error("Route 53 record {record}: {call} got no answer from AWS: {message}")]
    Transport {
        /// The record's name and type.
        record: String,
        /// The API call.
        call: &'static str,
        /// The SDK's description, with its causes.
        message: String,
    },
    /// A record of the name and type is not weighted (a simple, failover or
    /// latency record): the router does not replace it.
    #[error("Route 53 record {record}: a record of this name and type has no weight ({found}); the router only changes weighted records")]
    NotWeighted {
        /// The record's name and type.
        record: String,
        /// What was found.
        found: String,
    },
    /// A weighted record of the name has another set identifier: the
    /// router does not take its traffic away.
    #[error("Route 53 record {record}: the weighted record {set_identifier} is neither the stable ({stable}) nor the new ({new}) one; the router will not take its traffic away")]
    ForeignRecord {
        /// The record's name and type.
        record: String,
        /// The foreign record's set identifier.
        set_identifier: String,
        /// The stable record's set identifier.
        stable: String,
        /// The new record's set identifier.
        new: String,
    },
    /// Route 53 did not report the change `INSYNC`, or did not list the
    /// weights, within the confirmation timeout.
    #[error("Route 53 record {record}: the weights {wanted} were not in effect within {after:?}; it shows {found}")]
    NotConfirmed {
        /// The record's name and type.
        record: String,
        /// The weights set.
        wanted: String,
        /// What was last seen.
        found: String,
        /// How long the router looked.
        after: Duration,
    },
}

/// Routes traffic by DNS: the stable and the new endpoint are two weighted
/// records of one name and type in a Route 53 hosted zone, and the split is
/// their weights (0..=100 here; Route 53 answers each record in proportion
/// to its weight).
///
/// `set_weights` lists the records of the name and type, then in one
/// ChangeResourceRecordSets call UPSERTs each record whose weight is above
/// 0 and DELETEs a record at 0 (a weighted record of weight 0 gets no
/// answers, but would stay behind pointing at an endpoint the rollout
/// retires), waits until GetChange reports the change `INSYNC` and lists
/// the records back until they show exactly those weights.
///
/// # Guarantees
/// - One change batch moves the traffic: Route 53 applies it atomically.
/// - `set_weights` returns once Route 53 reports the change in sync on its
///   name servers and lists the weights; a split already listed is not
///   sent again (idempotent).
/// - The router refuses a name whose records are not weighted, or that has
///   a weighted record that is neither the stable nor the new one.
/// - Throttling is retried by the SDK client's retry policy (the
///   configuration's; the standard one when loaded from the environment).
///
/// # Caveats
/// - DNS answers are cached by resolvers for the records' TTL: a client
///   sees a new split up to a TTL after Route 53 does. Keep the TTL short
///   (alias records have the target's).
/// - Weights split answers, not requests: a resolver that serves many
///   clients moves them all at once.
///
/// # Example
/// ```no_run
/// # async fn f() -> Result<(), String> {
/// use dafnck_strategies::route53::{Target, WeightedRecord};
/// use dafnck_strategies::{Route53Router, TrafficRouter, Weights};
/// let router = Route53Router::from_env(
///     "Z0123456789ABCDEFGHIJ",
///     "www.example.com",
///     "A",
///     WeightedRecord::new("blue", Target::values(30, ["192.0.2.10"])),
///     WeightedRecord::new("green", Target::values(30, ["192.0.2.20"])),
/// );
/// router.set_weights(Weights::to_new(25)).await?;
/// # Ok(()) }
/// ```
pub struct Route53Router {
    client: OnceCell<Client>,
    zone: String,
    name: String,
    record_type: RrType,
    stable: WeightedRecord,
    new: WeightedRecord,
    confirm_timeout: Duration,
    confirm_poll: Duration,
    /// Serialises changes made through this router.
    changing: Mutex<()>,
}

impl Route53Router {
    fn build(
        client: OnceCell<Client>,
        zone_id: String,
        name: &str,
        record_type: &str,
        stable: WeightedRecord,
        new: WeightedRecord,
    ) -> Self {
        Route53Router {
            client,
            zone: zone_id.trim_start_matches("/hostedzone/").to_owned(),
            name: fqdn(name),
            record_type: RrType::from(record_type.to_ascii_uppercase().as_str()),
            stable,
            new,
            confirm_timeout: Duration::from_secs(120),
            confirm_poll: Duration::from_secs(2),
            changing: Mutex::new(()),
        }
    }

    /// A router for the records `name` of type `record_type` (`A`,
    /// `CNAME`, ...) in the hosted zone `zone_id`, splitting answers
    /// between `stable` and `new`, with region, credentials and endpoint
    /// from the SDK's standard chain, loaded on the first call.
    pub fn from_env(
        zone_id: impl Into<String>,
        name: &str,
        record_type: &str,
        stable: WeightedRecord,
        new: WeightedRecord,
    ) -> Self {
        Route53Router::build(
            OnceCell::new(),
            zone_id.into(),
            name,
            record_type,
            stable,
            new,
        )
    }

    /// A router like [`Route53Router::from_env`], with the SDK
    /// configuration `config`.
    pub fn with_config(
        config: &SdkConfig,
        zone_id: impl Into<String>,
        name: &str,
        record_type: &str,
        stable: WeightedRecord,
        new: WeightedRecord,
    ) -> Self {
        Route53Router::build(
            OnceCell::new_with(Some(Client::new(config))),
            zone_id.into(),
            name,
            record_type,
            stable,
            new,
        )
    }

    /// How long Route 53 may take to report the change in sync and list the
    /// weights (default 120 s), and how often it is asked meanwhile
    /// (default 2 s).
    pub fn confirm(mut self, timeout: Duration, poll: Duration) -> Self {
        self.confirm_timeout = timeout;
        self.confirm_poll = poll;
        self
    }

    /// The record's name (with its final dot) and type, as messages name
    /// it.
    pub fn record(&self) -> String {
        format!("{} {} in zone {}", self.name, self.record_type, self.zone)
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                Client::new(&aws_config::defaults(BehaviorVersion::latest()).load().await)
            })
            .await
    }

    /// The records `weights` is sent as: each with its weight, a record at
    /// 0% left out.
    pub fn wanted(&self, weights: Weights) -> BTreeMap<String, (i64, Target)> {
        [
            (&self.stable, weights.stable()),
            (&self.new, weights.new_share()),
        ]
        .into_iter()
        .filter(|(_, w)| *w > 0)
        .map(|(r, w)| {
            (
                r.set_identifier.clone(),
                (i64::from(w), r.target.normalized()),
            )
        })
        .collect()
    }

    /// The weighted records of the name and type as Route 53 lists them
    /// now (set identifier → weight), checked to be the stable and new ones
    /// only.
    ///
    /// # Errors
    /// As [`Route53Router::apply`].
    pub async fn shown(&self) -> Result<BTreeMap<String, i64>, Route53Error> {
        Ok(self
            .listed()
            .await?
            .into_iter()
            .map(|(id, (w, _, _))| (id, w))
            .collect())
    }

    /// Puts `weights` in effect, like [`TrafficRouter::set_weights`], with
    /// a typed error.
    ///
    /// # Errors
    /// [`Route53Error`]: the zone is missing, access is denied, a call
    /// failed, the name has records the router does not own, or the change
    /// was not confirmed in time.
    pub async fn apply(&self, weights: Weights) -> Result<(), Route53Error> {
        let _turn = self.changing.lock().await;
        let wanted = self.wanted(weights);
        let found = self.listed().await?;
        let seen = |found: &Listed| -> BTreeMap<String, (i64, Target)> {
            found
                .iter()
                .map(|(id, (w, t, _))| (id.clone(), (*w, t.clone())))
                .collect()
        };
        if seen(&found) == wanted {
            return Ok(());
        }
        let mut changes = Vec::new();
        for (id, (weight, target)) in &wanted {
            changes.push(self.change(ChangeAction::Upsert, self.record_set(id, *weight, target)));
        }
        for (id, (_, _, set)) in &found {
            if !wanted.contains_key(id) {
                changes.push(self.change(ChangeAction::Delete, set.clone()));
            }
        }
        let client = self.client().await;
        let out = client
            .change_resource_record_sets()
            .hosted_zone_id(&self.zone)
            .change_batch(
                ChangeBatch::builder()
                    .comment(format!("dafnck: weights {}", show(&wanted)))
                    .set_changes(Some(changes))
                    .build()
                    .map_err(|e| self.transport("ChangeResourceRecordSets", e))?,
            )
            .send()
            .await
            .map_err(|e| self.error("ChangeResourceRecordSets", &e))?;
        tracing::info!(record = %self.record(), weights = %show(&wanted), "Route 53 weights set");
        let change_id = out.change_info().map(|c| c.id().to_owned());
        let deadline = tokio::time::Instant::now() + self.confirm_timeout;
        if let Some(id) = change_id {
            loop {
                let status = client
                    .get_change()
                    .id(&id)
                    .send()
                    .await
                    .map_err(|e| self.error("GetChange", &e))?
                    .change_info()
                    .map(|c| c.status().clone());
                if status == Some(ChangeStatus::Insync) {
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(
                        self.not_confirmed(&wanted, format!("change {id} still {status:?}"))
                    );
                }
                tokio::time::sleep(self.confirm_poll).await;
            }
        }
        loop {
            let now = self.listed().await?;
            if seen(&now) == wanted {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(self.not_confirmed(&wanted, show(&seen(&now))));
            }
            tokio::time::sleep(self.confirm_poll).await;
        }
    }

    fn not_confirmed(
        &self,
        wanted: &BTreeMap<String, (i64, Target)>,
        found: String,
    ) -> Route53Error {
        Route53Error::NotConfirmed {
            record: self.record(),
            wanted: show(wanted),
            found,
            after: self.confirm_timeout,
        }
    }

    fn change(&self, action: ChangeAction, set: ResourceRecordSet) -> Change {
        Change::builder()
            .action(action)
            .resource_record_set(set)
            .build()
            .expect("the action and record set are always given")
    }

    /// The record set `id` at `weight` answering `target`.
    fn record_set(&self, id: &str, weight: i64, target: &Target) -> ResourceRecordSet {
        let b = ResourceRecordSet::builder()
            .name(&self.name)
            .r#type(self.record_type.clone())
            .set_identifier(id)
            .weight(weight);
        let b = match target {
            Target::Values { ttl, values } => b.ttl(*ttl).set_resource_records(Some(
                values
                    .iter()
                    .map(|v| {
                        ResourceRecord::builder()
                            .value(v)
                            .build()
                            .expect("the value is always given")
                    })
                    .collect(),
            )),
            Target::Alias {
                dns_name,
                hosted_zone_id,
                evaluate_target_health,
            } => b.alias_target(
                AliasTarget::builder()
                    .dns_name(dns_name)
                    .hosted_zone_id(hosted_zone_id)
                    .evaluate_target_health(*evaluate_target_health)
                    .build()
                    .expect("the alias target's fields are always given"),
            ),
        };
        b.build().expect("the name and type are always given")
    }

    /// The weighted records of the name and type: set identifier →
    /// (weight, target, the record set as listed).
    async fn listed(&self) -> Result<Listed, Route53Error> {
        let client = self.client().await;
        let mut found = Listed::new();
        let mut next: Option<(String, RrType, Option<String>)> =
            Some((self.name.clone(), self.record_type.clone(), None));
        while let Some((name, rtype, id)) = next.take() {
            let out = client
                .list_resource_record_sets()
                .hosted_zone_id(&self.zone)
                .start_record_name(name)
                .start_record_type(rtype)
                .set_start_record_identifier(id)
                .send()
                .await
                .map_err(|e| self.error("ListResourceRecordSets", &e))?;
            let mut past = false;
            for set in out.resource_record_sets() {
                if fqdn(set.name()) != self.name || set.r#type() != &self.record_type {
                    past = true;
                    break;
                }
                let (Some(id), Some(weight)) = (set.set_identifier(), set.weight()) else {
                    return Err(Route53Error::NotWeighted {
                        record: self.record(),
                        found: describe_set(set),
                    });
                };
                if id != self.stable.set_identifier && id != self.new.set_identifier {
                    return Err(Route53Error::ForeignRecord {
                        record: self.record(),
                        set_identifier: id.to_owned(),
                        stable: self.stable.set_identifier.clone(),
                        new: self.new.set_identifier.clone(),
                    });
                }
                found.insert(id.to_owned(), (weight, target_of(set), set.clone()));
            }
            if !past && out.is_truncated() {
                next = out.next_record_name().map(|n| {
                    (
                        n.to_owned(),
                        out.next_record_type().cloned().unwrap_or(RrType::A),
                        out.next_record_identifier().map(str::to_owned),
                    )
                });
            }
        }
        Ok(found)
    }

    fn error<E, R>(&self, call: &'static str, err: &SdkError<E, R>) -> Route53Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let record = self.record();
        let message = err.message().unwrap_or("(no message)").to_owned();
        match err.code() {
            Some("NoSuchHostedZone") => Route53Error::ZoneNotFound {
                record,
                zone: self.zone.clone(),
                message,
            },
            Some(code @ ("AccessDenied" | "AccessDeniedException")) => Route53Error::AccessDenied {
                record,
                call,
                code: code.to_owned(),
                message,
            },
            Some(code) => Route53Error::Api {
                record,
                call,
                code: code.to_owned(),
                message,
            },
            None => Route53Error::Transport {
                record,
                call,
                message: DisplayErrorContext(err).to_string(),
            },
        }
    }

    fn transport(&self, call: &'static str, e: impl std::fmt::Display) -> Route53Error {
        Route53Error::Transport {
            record: self.record(),
            call,
            message: e.to_string(),
        }
    }
}

type Listed = BTreeMap<String, (i64, Target, ResourceRecordSet)>;

#[async_trait]
impl TrafficRouter for Route53Router {
    fn describe(&self) -> String {
        format!("Route 53 weighted records {}", self.record())
    }

    async fn set_weights(&self, weights: Weights) -> Result<(), String> {
        self.apply(weights).await.map_err(|e| e.to_string())
    }
}

/// `name` as Route 53 lists it: lowercase, with a final dot, `*` unescaped.
fn fqdn(name: &str) -> String {
    let mut n = name.replace("\\052", "*").to_ascii_lowercase();
    if !n.ends_with('.') {
        n.push('.');
    }
    n
}

/// What a listed record set answers, normalized.
fn target_of(set: &ResourceRecordSet) -> Target {
    match set.alias_target() {
        Some(a) => Target::Alias {
            dns_name: a.dns_name().to_owned(),
            hosted_zone_id: a.hosted_zone_id().to_owned(),
            evaluate_target_health: a.evaluate_target_health(),
        },
        None => Target::Values {
            ttl: set.ttl().unwrap_or(0),
            values: set
                .resource_records()
                .iter()
                .map(|r| r.value().to_owned())
                .collect(),
        },
    }
    .normalized()
}

fn describe_set(set: &ResourceRecordSet) -> String {
    if set.failover().is_some() {
        "a failover record".into()
    } else if set.region().is_some() {
        "a latency record".into()
    } else if set.geo_location().is_some() {
        "a geolocation record".into()
    } else {
        "a simple record".into()
    }
}

fn show(records: &BTreeMap<String, (i64, Target)>) -> String {
    if records.is_empty() {
        return "no records".into();
    }
    records
        .iter()
        .map(|(id, (w, _))| format!("{id} weight {w}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Route53Router {
        Route53Router::from_env(
            "/hostedzone/Z1",
            "WWW.Example.com",
            "a",
            WeightedRecord::new("blue", Target::values(30, ["192.0.2.2", "192.0.2.1"])),
            WeightedRecord::new("green", Target::alias("LB-1.example.com", "Z2")),
        )
    }

    #[test]
    fn names_are_written_as_route53_lists_them() {
        let r = router();
        assert_eq!(r.zone, "Z1");
        assert_eq!(r.name, "www.example.com.");
        assert_eq!(r.record_type, RrType::A);
        assert_eq!(fqdn("\\052.example.com."), "*.example.com.");
    }

    #[test]
    fn a_record_at_zero_percent_is_left_out() {
        let r = router();
        let ids = |w| {
            r.wanted(w)
                .into_iter()
                .map(|(id, (w, _))| (id, w))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(Weights::to_new(0)), [("blue".to_string(), 100)]);
        assert_eq!(
            ids(Weights::to_new(25)),
            [("blue".to_string(), 75), ("green".to_string(), 25)]
        );
        assert_eq!(ids(Weights::to_new(100)), [("green".to_string(), 100)]);
        // Targets are compared as listed: values sorted, names with a dot.
        let wanted = r.wanted(Weights::to_new(50));
        assert_eq!(
            wanted["blue"].1,
            Target::values(30, ["192.0.2.1", "192.0.2.2"])
        );
        assert_eq!(wanted["green"].1, Target::alias("lb-1.example.com.", "Z2"));
    }

    #[test]
    fn a_record_set_is_built_with_its_weight_and_target() {
        let r = router();
        let set = r.record_set("green", 25, &Target::alias("lb-1.example.com.", "Z2"));
        assert_eq!(set.weight(), Some(25));
        assert_eq!(set.set_identifier(), Some("green"));
        assert_eq!(target_of(&set), Target::alias("lb-1.example.com.", "Z2"));
        let set = r.record_set("blue", 75, &Target::values(30, ["192.0.2.1"]));
        assert_eq!(set.ttl(), Some(30));
        assert_eq!(target_of(&set), Target::values(30, ["192.0.2.1"]));
    }
}
