//! [`HostedZone`] (`aws:route53:HostedZone`): a public or private DNS zone.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_route53::types::{HostedZoneConfig, Vpc, VpcRegion};
use aws_sdk_route53::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Made, Read, ReadResult, ResourceHandler, Update, UpdateResult,
};
use dafnck_core::state::CallKind;

use super::super::ec2::{known, VpcId};
use super::super::error::{AwsError, Subject};
use super::super::lookup::Lookup;
use super::super::{failed_after_create, lookup, one_call, tags, Aws};
use super::{bare_zone_id, caller_reference, dns_name, user_tags, Tagged};

ids! {
    /// The id of a [`HostedZone`] (`Z...`, without `/hostedzone/`).
    HostedZoneId;
}

/// A VPC a private [`HostedZone`] answers in.
#[derive(Declare, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct ZoneVpc {
    /// The VPC.
    pub vpc_id: Input<VpcId>,
    /// Its region; empty: the provider's.
    pub region: String,
}

/// A Route 53 hosted zone.
///
/// - `name`: the domain (`example.com`; a final dot is optional). Changing
///   it replaces the zone.
/// - `comment`: set in place.
/// - `vpcs`: empty (the default) for a public zone; the VPCs of a private
///   zone otherwise. Whether a zone is private is fixed when it is made, so
///   changing the list replaces the zone.
/// - `tags`: the user's tags (at most 7: Route 53 allows 10, and the
///   provider's take 3); set in place.
///
/// The create's token is the zone's `CallerReference`: a create repeated
/// after a crash finds the zone its lost attempt made.
///
/// # Errors
/// Deleting a zone that still holds records other than its own `NS` and
/// `SOA` (records this program does not declare, as its declared ones are
/// deleted first) is refused, naming the zone and the records; nothing is
/// deleted.
///
/// # Drift
/// `read` reports the comment, VPCs and tags as Route 53 has them.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:route53:HostedZone", outputs = HostedZoneOutputs)]
pub struct HostedZone {
    /// The domain. Changing it replaces the zone.
    #[resource(force_new)]
    pub name: String,
    /// Its comment.
    pub comment: String,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
    /// The VPCs of a private zone; empty for a public one. Changing it
    /// replaces the zone.
    #[resource(force_new)]
    pub vpcs: Vec<ZoneVpc>,
}

/// What a [`HostedZone`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct HostedZoneOutputs {
    /// Its id (and the resource's), for [`Record::zone_id`](super::Record::zone_id).
    pub zone_id: HostedZoneId,
    /// Its domain, as Route 53 writes it (with the final dot).
    pub name: String,
    /// The name servers to delegate the domain to (empty for a private
    /// zone).
    pub name_servers: Vec<String>,
}

/// A zone as GetHostedZone answers it.
struct Found {
    zone: aws_sdk_route53::types::HostedZone,
    name_servers: Vec<String>,
    vpcs: Vec<Vpc>,
    tags: BTreeMap<String, String>,
}

async fn by_id(client: &Client, s: &Subject<'_>, id: &str) -> Lookup<Found> {
    let Some(out) = lookup::unless_not_found(
        s,
        "GetHostedZone",
        client.get_hosted_zone().id(id).send().await,
    )?
    else {
        return Ok(None);
    };
    let Some(zone) = out.hosted_zone().cloned() else {
        return Ok(None);
    };
    let tags = Tagged::zone(bare_zone_id(zone.id())).all(client, s).await?;
    Ok(Some(Found {
        name_servers: out
            .delegation_set()
            .map(|d| d.name_servers().to_vec())
            .unwrap_or_default(),
        vpcs: out.vpcs().to_vec(),
        zone,
        tags,
    }))
}

/// The zone named `name` a create with `token` made, if any: one
/// ListHostedZonesByName from the name on, its `CallerReference` checked.
async fn by_token(client: &Client, s: &Subject<'_>, name: &str, token: &str) -> Lookup<Found> {
    let reference = caller_reference(token);
    let mut next = None::<String>;
    loop {
        let out = client
            .list_hosted_zones_by_name()
            .dns_name(name)
            .set_hosted_zone_id(next.take())
            .send()
            .await
            .map_err(|e| s.error("ListHostedZonesByName", e))?;
        let mut past = false;
        for zone in out.hosted_zones() {
            if dns_name(zone.name()) != dns_name(name) {
                past = true;
                break;
            }
            if zone.caller_reference() == reference {
                return by_id(client, s, bare_zone_id(zone.id())).await;
            }
        }
        if past || !out.is_truncated() || out.next_hosted_zone_id().is_none() {
            return Ok(None);
        }
        next = out.next_hosted_zone_id().map(str::to_owned);
    }
}

fn outputs(f: &Found) -> HostedZoneOutputs {
    HostedZoneOutputs {
        zone_id: HostedZoneId(bare_zone_id(f.zone.id()).to_owned()),
        name: f.zone.name().to_owned(),
        name_servers: f.name_servers.clone(),
    }
}

/// What a read reports of `f`, given the `recorded` inputs.
fn observed_as(f: &Found, recorded: &HostedZone) -> kit::Found<HostedZone, HostedZoneOutputs> {
    let name = if dns_name(&recorded.name) == dns_name(f.zone.name()) {
        recorded.name.clone()
    } else {
        f.zone.name().to_owned()
    };
    let vpcs = f
        .vpcs
        .iter()
        .map(|v| {
            let region = v.vpc_region().map(|r| r.as_str()).unwrap_or_default();
            // The region as declared: empty stays empty when it is the one
            // the zone was made in.
            let declared = recorded.vpcs.iter().find(|d| {
                d.vpc_id.as_value().map(VpcId::as_str) == v.vpc_id()
                    && (d.region.is_empty() || d.region == region)
            });
            ZoneVpc {
                vpc_id: VpcId(v.vpc_id().unwrap_or_default().to_owned()).into(),
                region: declared.map_or(region.to_owned(), |d| d.region.clone()),
            }
        })
        .collect();
    let observed = HostedZone {
        name,
        comment: f
            .zone
            .config()
            .and_then(|c| c.comment())
            .unwrap_or_default()
            .to_owned(),
        vpcs,
        tags: user_tags(&f.tags),
    };
    lookup::observed(bare_zone_id(f.zone.id()), observed, outputs(f))
}

fn check(s: &Subject<'_>, v: &HostedZone) -> Result<(), AwsError> {
    if v.name.trim_end_matches('.').is_empty() {
        return Err(s.invalid("`name` must be set (the zone's domain)"));
    }
    tags::check_user_tags(s, &v.tags)
}

/// The records of zone `id` (whose domain is `apex`) other than its own
/// `NS` and `SOA`, as `name type`: those of the first 20, and `...` when
/// there are more.
async fn foreign_records(
    client: &Client,
    s: &Subject<'_>,
    id: &str,
    apex: &str,
) -> Result<Vec<String>, AwsError> {
    let out = client
        .list_resource_record_sets()
        .hosted_zone_id(id)
        .max_items(20)
        .send()
        .await
        .map_err(|e| s.error("ListResourceRecordSets", e))?;
    let mut left: Vec<String> = out
        .resource_record_sets()
        .iter()
        .filter(|r| {
            !(dns_name(r.name()) == dns_name(apex) && matches!(r.r#type().as_str(), "NS" | "SOA"))
        })
        .map(|r| format!("{} {}", r.name(), r.r#type().as_str()))
        .collect();
    if out.is_truncated() {
        left.push("...".into());
    }
    Ok(left)
}

/// Serves [`HostedZone`].
pub(crate) struct HostedZoneHandler;

#[async_trait]
impl ResourceHandler for HostedZoneHandler {
    type Resource = HostedZone;
    type Context = Aws;

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<HostedZone>) -> CreateResult<HostedZone> {
        let s = Subject::of::<HostedZone>(&req.name);
        let v = &req.inputs;
        check(&s, v)?;
        let client = p.route53_client().await;
        let found = match by_token(client, &s, &v.name, &req.token).await? {
            Some(found) => found,
            None => {
                let region = p
                    .sdk_config()
                    .await
                    .region()
                    .map(|r| r.to_string())
                    .unwrap_or_default();
                let mut vpcs = Vec::with_capacity(v.vpcs.len());
                for vpc in &v.vpcs {
                    let id = known(&s, &vpc.vpc_id, "vpcs.vpc_id")?;
                    let region = if vpc.region.is_empty() {
                        &region
                    } else {
                        &vpc.region
                    };
                    vpcs.push(
                        Vpc::builder()
                            .vpc_id(id.as_str())
                            .vpc_region(VpcRegion::from(region.as_str()))
                            .build(),
                    );
                }
                let mut more = vpcs.split_off(vpcs.len().min(1));
                let out = client
                    .create_hosted_zone()
                    .name(&v.name)
                    .caller_reference(caller_reference(&req.token))
                    .hosted_zone_config(
                        HostedZoneConfig::builder()
                            .set_comment(Some(v.comment.clone()).filter(|c| !c.is_empty()))
                            .private_zone(!v.vpcs.is_empty())
                            .build(),
                    )
                    .set_vpc(vpcs.pop())
                    .send()
                    .await
                    .map_err(|e| s.error("CreateHostedZone", e))?;
                let id = out
                    .hosted_zone()
                    .map(|z| bare_zone_id(z.id()).to_owned())
                    .ok_or_else(|| s.incomplete("CreateHostedZone", "a hosted zone"))?;
                for vpc in more.drain(..) {
                    if let Err(e) = client
                        .associate_vpc_with_hosted_zone()
                        .hosted_zone_id(&id)
                        .vpc(vpc)
                        .send()
                        .await
                        .map_err(|e| s.error("AssociateVPCWithHostedZone", e))
                    {
                        return Err(failed_after_create(e, &id, delete_zone(client, &s, &id)).await);
                    }
                }
                by_id(client, &s, &id)
                    .await?
                    .ok_or_else(|| s.incomplete("GetHostedZone", "the zone just made"))?
            }
        };
        let id = bare_zone_id(found.zone.id()).to_owned();
        let who = (req.stack.as_str(), req.name.as_str(), req.token.as_str());
        if let Err(e) = Tagged::zone(&id).stamp(client, &s, who, &v.tags).await {
            return Err(failed_after_create(e, &id, delete_zone(client, &s, &id)).await);
        }
        Ok(Made {
            id,
            outputs: outputs(&found),
        })
    }

    async fn read(&self, p: &Aws, req: Read<HostedZone>) -> ReadResult<HostedZone> {
        let s = Subject::of::<HostedZone>(&req.name);
        let client = p.route53_client().await;
        let recorded = req.recorded.decode_or_default();
        let found = lookup::find(
            &req,
            |id| by_id(client, &s, id),
            |token| by_token(client, &s, &recorded.name, token),
        )
        .await?;
        Ok(found.map(|f| observed_as(&f, &recorded)))
    }

    async fn update(&self, p: &Aws, req: Update<HostedZone>) -> UpdateResult<HostedZone> {
        let s = Subject::of::<HostedZone>(&req.name);
        let v = &req.inputs;
        check(&s, v)?;
        let client = p.route53_client().await;
        let found = by_id(client, &s, &req.id)
            .await?
            .ok_or_else(|| s.gone(&req.id))?;
        let now = observed_as(&found, v).inputs;
        if now.comment != v.comment {
            client
                .update_hosted_zone_comment()
                .id(&req.id)
                .comment(&v.comment)
                .send()
                .await
                .map_err(|e| s.error("UpdateHostedZoneComment", e))?;
        }
        Tagged::zone(&req.id)
            .retag(client, &s, &now.tags, &v.tags)
            .await?;
        Ok(outputs(&found))
    }

    deletes_by!(HostedZone, route53_client, delete_zone);
}

async fn delete_zone(client: &Client, s: &Subject<'_>, id: &str) -> Result<(), AwsError> {
    let Some(found) = by_id(client, s, id).await? else {
        return Ok(());
    };
    let left = foreign_records(client, s, id, found.zone.name()).await?;
    if !left.is_empty() {
        return Err(s.invalid(format!(
            "zone {id} ({}) still holds records this program does not declare: {}; nothing \
             was deleted: delete them (or declare them as `Record`s) first",
            found.zone.name(),
            left.join(", ")
        )));
    }
    lookup::deleted(
        s,
        "DeleteHostedZone",
        client.delete_hosted_zone().id(id).send().await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_and_vpcs_replace_the_zone() {
        assert_eq!(HostedZone::force_new_fields(), &["name", "vpcs"]);
    }

    #[test]
    fn a_zone_needs_a_name() {
        let e = check(&Subject::of::<HostedZone>("z"), &HostedZone::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("aws:route53:HostedZone \"z\"") && e.contains("`name`"),
            "{e}"
        );
    }
}
