//! [`Record`] (`aws:route53:Record`): one record set of a zone, with
//! simple, weighted or failover routing.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_route53::types::{
    AliasTarget as SdkAlias, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet,
    ResourceRecordSetFailover, RrType,
};
use aws_sdk_route53::Client;
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
use super::{as_set, bare_zone_id, dns_name, HealthCheckId, HostedZoneId};

ids! {
    /// The id of a [`Record`]: `zone/name/TYPE`, and `/set identifier` for
    /// a weighted or failover record (`Z123/www.example.com/A/blue`).
    RecordId;
}

/// The type of a [`Record`].
#[derive(Declare, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
#[allow(missing_docs)]
pub enum RecordType {
    /// An IPv4 address (the default).
    #[default]
    A,
    Aaaa,
    Cname,
    Mx,
    Txt,
    Ns,
    Srv,
    Ptr,
    Caa,
    Naptr,
    Spf,
    Ds,
}

impl RecordType {
    const ALL: [RecordType; 12] = [
        RecordType::A,
        RecordType::Aaaa,
        RecordType::Cname,
        RecordType::Mx,
        RecordType::Txt,
        RecordType::Ns,
        RecordType::Srv,
        RecordType::Ptr,
        RecordType::Caa,
        RecordType::Naptr,
        RecordType::Spf,
        RecordType::Ds,
    ];

    /// The type as Route 53 writes it (`AAAA`).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
            RecordType::Mx => "MX",
            RecordType::Txt => "TXT",
            RecordType::Ns => "NS",
            RecordType::Srv => "SRV",
            RecordType::Ptr => "PTR",
            RecordType::Caa => "CAA",
            RecordType::Naptr => "NAPTR",
            RecordType::Spf => "SPF",
            RecordType::Ds => "DS",
        }
    }

    fn of(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A failover record's role.
#[derive(Declare, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum Failover {
    /// Answered while its health check (if any) is healthy.
    Primary,
    /// Answered while the primary is unhealthy.
    Secondary,
}

impl Failover {
    fn sdk(self) -> ResourceRecordSetFailover {
        match self {
            Failover::Primary => ResourceRecordSetFailover::Primary,
            Failover::Secondary => ResourceRecordSetFailover::Secondary,
        }
    }
}

/// Where an alias [`Record`] points: another AWS name (a load balancer's,
/// a CloudFront distribution's, another record of the zone).
#[derive(Declare, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct AliasTarget {
    /// The target's hosted zone (a load balancer's
    /// `canonical_hosted_zone_id`).
    pub zone_id: Input<String>,
    /// The target's DNS name (a load balancer's `dns_name`).
    pub dns_name: Input<String>,
    /// Whether the alias answers only while the target is healthy.
    pub evaluate_target_health: bool,
}

/// A Route 53 record set.
///
/// Its zone, name, type and set identifier are its identity (and its id);
/// changing any of them replaces the record.
///
/// - `zone_id`: the zone (`zone.out().zone_id`).
/// - `name`: the fully qualified name (`www.example.com`; a final dot is
///   optional), inside the zone.
/// - `record_type`: `A` (the default), `AAAA`, `CNAME`, ...
/// - `ttl`: seconds (0: 300); not used by an alias.
/// - `values`: the answers (`192.0.2.10`; a TXT value in quotes), or
///   `alias`: another AWS name to answer for, not both.
/// - Routing: simple (the default); weighted with `set_identifier` and
///   `weight` (0 to 255: the share of answers is the weight over the sum
///   of the weights of the records of that name and type); or failover with
///   `set_identifier` and `failover` (primary or secondary).
///   `health_check_id` makes Route 53 skip the record while its endpoint
///   is unhealthy (required in practice for a primary).
///
/// Creating and updating are one `UPSERT`, deleting a `DELETE` of the
/// record exactly as Route 53 has it.
///
/// # Caveats
/// Records carry no tags, so a record of the same identity made by hand is
/// taken over by the create, not refused.
///
/// # Drift
/// `read` reports the record as Route 53 has it: TTL, values, alias,
/// weight, failover role and health check (values in the recorded order
/// when they are the same set).
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:route53:Record", outputs = RecordOutputs)]
pub struct Record {
    /// The zone. Changing it replaces the record.
    #[resource(force_new)]
    pub zone_id: Input<HostedZoneId>,
    /// The fully qualified name. Changing it replaces the record.
    #[resource(force_new)]
    pub name: String,
    /// The type. Changing it replaces the record.
    #[resource(force_new)]
    pub record_type: RecordType,
    /// Tells apart the weighted or failover records of one name and type.
    /// Changing it replaces the record.
    #[resource(force_new)]
    pub set_identifier: Option<String>,
    /// Seconds the answer may be cached (0: 300).
    pub ttl: u32,
    /// The answers.
    pub values: Vec<String>,
    /// The AWS name answered for, instead of `values`.
    pub alias: Option<AliasTarget>,
    /// A weighted record's weight.
    pub weight: Option<u8>,
    /// A failover record's role.
    pub failover: Option<Failover>,
    /// The health check the record's answer depends on.
    pub health_check_id: Option<Input<HealthCheckId>>,
}

/// What a [`Record`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct RecordOutputs {
    /// Its id.
    pub record_id: RecordId,
    /// Its name, without the final dot.
    pub fqdn: String,
}

/// The TTL of a record that sets none.
const DEFAULT_TTL: u32 = 300;

/// What a record is known by.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    /// The zone, bare.
    zone: String,
    /// The name, as [`dns_name`] writes it.
    name: String,
    /// The type, as Route 53 writes it.
    record_type: String,
    set_identifier: Option<String>,
}

impl Key {
    fn of(s: &Subject<'_>, v: &Record) -> Result<Self, AwsError> {
        Ok(Key {
            zone: bare_zone_id(known(s, &v.zone_id, "zone_id")?.as_str()).to_owned(),
            name: dns_name(&v.name),
            record_type: v.record_type.as_str().to_owned(),
            set_identifier: v.set_identifier.clone(),
        })
    }

    fn parse(s: &Subject<'_>, id: &str) -> Result<Self, AwsError> {
        let mut parts = id.splitn(4, '/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(zone), Some(name), Some(record_type)) if !zone.is_empty() => Ok(Key {
                zone: zone.to_owned(),
                name: name.to_owned(),
                record_type: record_type.to_owned(),
                set_identifier: parts.next().map(str::to_owned),
            }),
            _ => Err(s.invalid(format!("{id:?} is not a record id (zone/name/TYPE[/set])"))),
        }
    }

    fn id(&self) -> String {
        let base = format!("{}/{}/{}", self.zone, self.name, self.record_type);
        match &self.set_identifier {
            Some(set) => format!("{base}/{set}"),
            None => base,
        }
    }

    fn matches(&self, r: &ResourceRecordSet) -> bool {
        dns_name(r.name()) == self.name
            && r.r#type().as_str() == self.record_type
            && r.set_identifier() == self.set_identifier.as_deref()
    }
}

/// The key a read asks about: its id's, or — by token, after a crash
/// mid-create — the recorded inputs'.
fn key_of(s: &Subject<'_>, req: &Read<Record>) -> Result<Option<Key>, AwsError> {
    match (&req.id, &req.token) {
        (Some(id), _) => Key::parse(s, id).map(Some),
        (None, Some(_)) => match req.recorded.decode() {
            Ok(v) => Key::of(s, &v).map(Some),
            Err(_) => Ok(None),
        },
        (None, None) => Ok(None),
    }
}

/// Records of zone `zone` from `start` (name and type) on, one page each,
/// while `more` says the next page may hold a wanted record.
async fn listed(
    client: &Client,
    s: &Subject<'_>,
    zone: &str,
    start: Option<(&str, &str)>,
    more: impl Fn(&str, &str) -> bool,
) -> Result<Vec<ResourceRecordSet>, AwsError> {
    let mut found = Vec::new();
    let mut next = start.map(|(n, t)| (n.to_owned(), t.to_owned(), None::<String>));
    let mut first = true;
    loop {
        let (name, record_type, identifier) = match next.take() {
            Some((n, t, i)) => (Some(n), Some(RrType::from(t.as_str())), i),
            None => (None, None, None),
        };
        if !first && name.is_none() {
            return Ok(found);
        }
        first = false;
        let Some(out) = lookup::unless_not_found(
            s,
            "ListResourceRecordSets",
            client
                .list_resource_record_sets()
                .hosted_zone_id(zone)
                .set_start_record_name(name)
                .set_start_record_type(record_type)
                .set_start_record_identifier(identifier)
                .send()
                .await,
        )?
        else {
            // The zone is gone, and its records with it.
            return Ok(found);
        };
        found.extend(out.resource_record_sets().iter().cloned());
        match (
            out.is_truncated(),
            out.next_record_name(),
            out.next_record_type(),
        ) {
            (true, Some(n), Some(t)) if more(&dns_name(n), t.as_str()) => {
                next = Some((
                    n.to_owned(),
                    t.as_str().to_owned(),
                    out.next_record_identifier().map(str::to_owned),
                ));
            }
            _ => return Ok(found),
        }
    }
}

/// The record `key` names, if it exists: a listing from its name and type.
async fn by_key(
    client: &Client,
    s: &Subject<'_>,
    key: &Key,
) -> Result<Option<ResourceRecordSet>, AwsError> {
    let found = listed(
        client,
        s,
        &key.zone,
        Some((&key.name, &key.record_type)),
        |name, record_type| name == key.name && record_type == key.record_type,
    )
    .await?;
    Ok(found.into_iter().find(|r| key.matches(r)))
}

fn outputs(key: &Key) -> RecordOutputs {
    RecordOutputs {
        record_id: RecordId(key.id()),
        fqdn: key.name.clone(),
    }
}

/// What a read reports of `r`, given the `recorded` inputs.
fn observed_as(
    key: &Key,
    r: &ResourceRecordSet,
    recorded: &Record,
) -> kit::Found<Record, RecordOutputs> {
    let same_zone = recorded
        .zone_id
        .as_value()
        .is_some_and(|z| bare_zone_id(z.as_str()) == key.zone);
    let mut values: Vec<String> = r
        .resource_records()
        .iter()
        .map(|v| v.value().to_owned())
        .collect();
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    if sorted(&values) == sorted(&recorded.values) {
        values = recorded.values.clone();
    }
    let alias = r.alias_target().map(|a| {
        let declared = recorded.alias.as_ref();
        let same = |d: Option<&Input<String>>, found: &str| {
            d.and_then(Input::as_value)
                .is_some_and(|d| dns_name(d) == dns_name(found))
        };
        AliasTarget {
            zone_id: a.hosted_zone_id().to_owned().into(),
            dns_name: if same(declared.map(|d| &d.dns_name), a.dns_name()) {
                declared.map_or_else(Default::default, |d| d.dns_name.clone())
            } else {
                a.dns_name().to_owned().into()
            },
            evaluate_target_health: a.evaluate_target_health(),
        }
    });
    let ttl = r
        .ttl()
        .and_then(|t| u32::try_from(t).ok())
        .unwrap_or_default();
    let observed = Record {
        zone_id: if same_zone {
            recorded.zone_id.clone()
        } else {
            HostedZoneId(key.zone.clone()).into()
        },
        name: if dns_name(&recorded.name) == dns_name(r.name()) {
            recorded.name.clone()
        } else {
            dns_name(r.name())
        },
        record_type: RecordType::of(r.r#type().as_str()).unwrap_or(recorded.record_type),
        set_identifier: r.set_identifier().map(str::to_owned),
        ttl: if alias.is_some() {
            recorded.ttl
        } else {
            as_set(recorded.ttl, ttl, DEFAULT_TTL)
        },
        values,
        alias,
        weight: r.weight().and_then(|w| u8::try_from(w).ok()),
        failover: r.failover().map(|f| match f {
            ResourceRecordSetFailover::Secondary => Failover::Secondary,
            _ => Failover::Primary,
        }),
        health_check_id: r
            .health_check_id()
            .map(|h| HealthCheckId(h.to_owned()).into()),
    };
    lookup::observed(key.id(), observed, outputs(key))
}

fn check(s: &Subject<'_>, v: &Record) -> Result<(), AwsError> {
    if dns_name(&v.name).is_empty() {
        return Err(s.invalid("`name` must be set (the record's fully qualified name)"));
    }
    match (&v.alias, v.values.is_empty()) {
        (Some(_), false) => return Err(s.invalid("set `values` or `alias`, not both")),
        (None, true) => return Err(s.invalid("set `values` (the answers) or `alias`")),
        _ => {}
    }
    let routed = v.weight.is_some() || v.failover.is_some();
    if v.weight.is_some() && v.failover.is_some() {
        return Err(s.invalid("a record is weighted (`weight`) or failover (`failover`), not both"));
    }
    if routed != v.set_identifier.is_some() {
        return Err(s.invalid(
            "a weighted or failover record needs a `set_identifier`, and only those take one",
        ));
    }
    if v.set_identifier
        .as_deref()
        .is_some_and(|i| i.is_empty() || i.contains('/'))
    {
        return Err(s.invalid("`set_identifier` must be non-empty and hold no `/`"));
    }
    Ok(())
}

/// The record set `v` asks for.
fn record_set(s: &Subject<'_>, v: &Record) -> Result<ResourceRecordSet, AwsError> {
    let bad = |e: aws_sdk_route53::error::BuildError| s.invalid(e.to_string());
    let alias = match &v.alias {
        Some(a) => Some(
            SdkAlias::builder()
                .hosted_zone_id(known(s, &a.zone_id, "alias.zone_id")?)
                .dns_name(known(s, &a.dns_name, "alias.dns_name")?)
                .evaluate_target_health(a.evaluate_target_health)
                .build()
                .map_err(bad)?,
        ),
        None => None,
    };
    let values = v
        .values
        .iter()
        .map(|value| ResourceRecord::builder().value(value).build().map_err(bad))
        .collect::<Result<Vec<_>, _>>()?;
    let health = match &v.health_check_id {
        Some(h) => Some(known(s, h, "health_check_id")?.as_str().to_owned()),
        None => None,
    };
    let ttl = if v.ttl == 0 { DEFAULT_TTL } else { v.ttl };
    ResourceRecordSet::builder()
        .name(&v.name)
        .r#type(RrType::from(v.record_type.as_str()))
        .set_set_identifier(v.set_identifier.clone())
        .set_weight(v.weight.map(i64::from))
        .set_failover(v.failover.map(Failover::sdk))
        .set_health_check_id(health)
        .set_ttl(alias.is_none().then_some(i64::from(ttl)))
        .set_resource_records(Some(values).filter(|v| !v.is_empty()))
        .set_alias_target(alias)
        .build()
        .map_err(bad)
}

/// Sends one change of zone `zone`.
async fn change(
    client: &Client,
    s: &Subject<'_>,
    zone: &str,
    action: ChangeAction,
    set: ResourceRecordSet,
) -> Result<(), AwsError> {
    let bad = |e: aws_sdk_route53::error::BuildError| s.invalid(e.to_string());
    let change = Change::builder()
        .action(action)
        .resource_record_set(set)
        .build()
        .map_err(bad)?;
    client
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(
            ChangeBatch::builder()
                .changes(change)
                .build()
                .map_err(bad)?,
        )
        .send()
        .await
        .map_err(|e| s.error("ChangeResourceRecordSets", e))?;
    Ok(())
}

/// UPSERTs the record `v` asks for; its key.
async fn put(client: &Client, s: &Subject<'_>, v: &Record) -> Result<Key, AwsError> {
    check(s, v)?;
    let key = Key::of(s, v)?;
    change(
        client,
        s,
        &key.zone,
        ChangeAction::Upsert,
        record_set(s, v)?,
    )
    .await?;
    Ok(key)
}

/// Serves [`Record`].
pub(crate) struct RecordHandler;

#[async_trait]
impl ResourceHandler for RecordHandler {
    type Resource = Record;
    type Context = Aws;

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<Record>) -> CreateResult<Record> {
        let s = Subject::of::<Record>(&req.name);
        let key = put(p.route53_client().await, &s, &req.inputs).await?;
        Ok(Made {
            id: key.id(),
            outputs: outputs(&key),
        })
    }

    async fn read(&self, p: &Aws, req: Read<Record>) -> ReadResult<Record> {
        let s = Subject::of::<Record>(&req.name);
        let Some(key) = key_of(&s, &req)? else {
            return Ok(None);
        };
        let found = by_key(p.route53_client().await, &s, &key).await?;
        let recorded = req.recorded.decode_or_default();
        Ok(found.map(|r| observed_as(&key, &r, &recorded)))
    }

    /// The records of one zone in one listing (from the first name asked
    /// about to the last; a zone asked about once is read from its name).
    fn reads_in_batches(&self) -> bool {
        true
    }

    async fn read_many(
        &self,
        p: &Aws,
        reqs: Vec<Read<Record>>,
    ) -> Result<Vec<Option<kit::Found<Record, RecordOutputs>>>, ProviderError> {
        let client = p.route53_client().await;
        let keys = reqs
            .iter()
            .map(|req| key_of(&Subject::of::<Record>(&req.name), req))
            .collect::<Result<Vec<_>, _>>()?;
        let mut zones: BTreeMap<&str, Vec<(usize, &Key)>> = BTreeMap::new();
        for (i, key) in keys.iter().enumerate() {
            if let Some(key) = key {
                zones.entry(key.zone.as_str()).or_default().push((i, key));
            }
        }
        let mut found: Vec<Option<kit::Found<Record, RecordOutputs>>> = vec![None; reqs.len()];
        for (zone, wanted) in zones {
            // A failed listing names the first resource of the zone.
            let s = Subject::of::<Record>(&reqs[wanted[0].0].name);
            let sets = if let [(_, key)] = wanted.as_slice() {
                by_key(client, &s, key).await?.into_iter().collect()
            } else {
                listed(client, &s, zone, None, |_, _| true).await?
            };
            for (i, key) in wanted {
                if let Some(r) = sets.iter().find(|r| key.matches(r)) {
                    let recorded = reqs[i].recorded.decode_or_default();
                    found[i] = Some(observed_as(key, r, &recorded));
                }
            }
        }
        Ok(found)
    }

    async fn update(&self, p: &Aws, req: Update<Record>) -> UpdateResult<Record> {
        let s = Subject::of::<Record>(&req.name);
        let key = put(p.route53_client().await, &s, &req.inputs).await?;
        Ok(outputs(&key))
    }

    async fn delete(&self, p: &Aws, req: Delete<Record>) -> Result<(), ProviderError> {
        let s = Subject::of::<Record>(&req.name);
        let key = Key::parse(&s, &req.id)?;
        let client = p.route53_client().await;
        let Some(current) = by_key(client, &s, &key).await? else {
            return Ok(());
        };
        match change(client, &s, &key.zone, ChangeAction::Delete, current).await {
            // Gone between the listing and the delete.
            Err(e)
                if e.code() == Some("InvalidChangeBatch")
                    && by_key(client, &s, &key).await?.is_none() =>
            {
                Ok(())
            }
            Err(e) if e.code() == Some("NoSuchHostedZone") => Ok(()),
            other => Ok(other?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_replaces_the_record() {
        assert_eq!(
            Record::force_new_fields(),
            &["zone_id", "name", "record_type", "set_identifier"]
        );
    }

    #[test]
    fn ids_name_zone_name_type_and_set() {
        let s = Subject::of::<Record>("r");
        let key = Key {
            zone: "Z1".into(),
            name: "_dmarc.example.com".into(),
            record_type: "TXT".into(),
            set_identifier: Some("a/b".into()),
        };
        assert_eq!(key.id(), "Z1/_dmarc.example.com/TXT/a/b");
        assert_eq!(Key::parse(&s, &key.id()).unwrap(), key);
        assert!(Key::parse(&s, "nope").is_err());
    }

    #[test]
    fn routing_needs_a_set_identifier_and_one_policy() {
        let s = Subject::of::<Record>("r");
        let base = Record {
            zone_id: HostedZoneId("Z1".into()).into(),
            name: "www.example.com".into(),
            values: vec!["192.0.2.1".into()],
            ..Default::default()
        };
        assert!(check(&s, &base).is_ok());
        let weighted = Record {
            weight: Some(10),
            ..base.clone()
        };
        let e = check(&s, &weighted).unwrap_err().to_string();
        assert!(
            e.contains("aws:route53:Record \"r\"") && e.contains("set_identifier"),
            "{e}"
        );
        let both = Record {
            weight: Some(10),
            failover: Some(Failover::Primary),
            set_identifier: Some("a".into()),
            ..base.clone()
        };
        assert!(check(&s, &both).is_err());
        let empty = Record {
            values: vec![],
            ..base
        };
        assert!(check(&s, &empty).is_err());
    }

    #[test]
    fn record_types_serialize_as_route_53_names_them() {
        for t in RecordType::ALL {
            let v = serde_json::to_value(t).unwrap();
            assert_eq!(v, serde_json::json!(t.as_str()));
            assert_eq!(RecordType::of(t.as_str()), Some(t));
        }
    }
}
