//! EC2 data sources (see [`dafnck_core::data`]): the one VPC whose tags
//! match ([`VpcLookup`], `aws:ec2:VpcLookup`), the latest machine image
//! whose name matches a pattern ([`AmiLookup`], `aws:ec2:AmiLookup`) and
//! the region's availability zones ([`AvailabilityZones`],
//! `aws:ec2:AvailabilityZones`). Read at every preview and up, never
//! owned.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;
use dafnck_core::prelude::*;
use dafnck_core::ProviderError;

use super::super::error::Subject;
use super::super::Aws;
use super::VpcId;

/// Looks up the one existing VPC carrying every tag of `tags`.
///
/// ```
/// use dafnck_core::prelude::*;
/// use dafnck_providers::aws::ec2::{Subnet, VpcLookup};
///
/// fn app(stack: &mut Stack) -> dafnck_core::Result<()> {
///     let shared = stack.read("shared", VpcLookup { tags: [("Name".into(), "shared".into())].into() });
///     stack.add("app", Subnet { vpc_id: shared.out().vpc_id, cidr_block: "10.0.9.0/24".into(), ..Default::default() });
///     Ok(())
/// }
/// # fn main() {}
/// ```
#[derive(DataSource, Serialize, Deserialize, Clone, Debug, Default)]
#[data_source(type = "aws:ec2:VpcLookup", outputs = VpcLookupOutputs)]
pub struct VpcLookup {
    /// The tags the VPC must carry (at least one).
    pub tags: BTreeMap<String, String>,
}

/// What a [`VpcLookup`] finds.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct VpcLookupOutputs {
    /// Its id.
    pub vpc_id: VpcId,
    /// Its IPv4 range.
    pub cidr_block: String,
    /// The account that owns it.
    pub owner_id: String,
}

/// Looks up the most recently created machine image whose name matches
/// `name` (`*` and `?` wildcards, as EC2 filters take them), among the
/// images of `owners` (account ids, or `amazon`, `self`; none: any).
///
/// ```
/// use dafnck_providers::aws::ec2::AmiLookup;
/// let ami = AmiLookup { name: "al2023-ami-2023.*-x86_64".into(), owners: vec!["amazon".into()] };
/// # let _ = ami;
/// ```
#[derive(DataSource, Serialize, Deserialize, Clone, Debug, Default)]
#[data_source(type = "aws:ec2:AmiLookup", outputs = AmiLookupOutputs)]
pub struct AmiLookup {
    /// The name pattern.
    pub name: String,
    /// Whose images (none: any).
    #[serde(default)]
    pub owners: Vec<String>,
}

/// What an [`AmiLookup`] finds.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct AmiLookupOutputs {
    /// Its id (`ami-...`).
    pub image_id: String,
    /// Its name.
    pub name: String,
    /// When it was created (ISO 8601, as EC2 reports it).
    pub creation_date: String,
    /// The account that owns it.
    pub owner_id: String,
}

/// Looks up the availability zones of the provider's region: by default
/// those in state `available`, of every zone type the account may use
/// (EC2 lists Local and Wavelength Zones only once opted in).
///
/// ```
/// use dafnck_core::prelude::*;
/// use dafnck_providers::aws::ec2::AvailabilityZones;
///
/// fn net(stack: &mut Stack) -> dafnck_core::Result<()> {
///     let zones = stack.read("zones", AvailabilityZones {
///         zone_type: Some("availability-zone".into()),
///         ..Default::default()
///     });
///     stack.export("zones", zones.out().names);
///     Ok(())
/// }
/// # fn main() {}
/// ```
#[derive(DataSource, Serialize, Deserialize, Clone, Debug, Default)]
#[data_source(type = "aws:ec2:AvailabilityZones", outputs = AvailabilityZonesOutputs)]
pub struct AvailabilityZones {
    /// The zones' state (`available`, `information`, `impaired`,
    /// `unavailable`, `constrained`); `None` is `available`.
    #[serde(default)]
    pub state: Option<String>,
    /// Only zones of this type (`availability-zone`, `local-zone`,
    /// `wavelength-zone`); `None`: any.
    #[serde(default)]
    pub zone_type: Option<String>,
    /// Only zones of this opt-in status (`opt-in-not-required`,
    /// `opted-in`, `not-opted-in`); given, EC2 is asked for every zone of
    /// the region (`AllAvailabilityZones`), so `not-opted-in` finds those
    /// the account has not opted in to. `None`: any the account may use.
    #[serde(default)]
    pub opt_in_status: Option<String>,
}

/// What an [`AvailabilityZones`] finds, sorted by name.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct AvailabilityZonesOutputs {
    /// Their names (`us-east-1a`), sorted.
    pub names: Vec<String>,
    /// Their ids (`use1-az6`, the same physical zone in every account),
    /// in the order of `names`: `zone_ids[i]` is the id of `names[i]`.
    pub zone_ids: Vec<String>,
    /// The region they are in.
    pub region: String,
}

data_handler!(
    AvailabilityZonesHandler,
    AvailabilityZones,
    Aws,
    |aws, name, q| {
        let s = Subject {
            type_name: AvailabilityZones::TYPE,
            name,
        };
        let state = q.state.as_deref().unwrap_or("available");
        let mut filters = vec![Filter::builder().name("state").values(state).build()];
        if let Some(t) = &q.zone_type {
            filters.push(Filter::builder().name("zone-type").values(t).build());
        }
        if let Some(o) = &q.opt_in_status {
            filters.push(Filter::builder().name("opt-in-status").values(o).build());
        }
        let client = aws.ec2_client().await;
        let region = client
            .config()
            .region()
            .map(ToString::to_string)
            .unwrap_or_default();
        let out = client
            .describe_availability_zones()
            .set_filters(Some(filters))
            .set_all_availability_zones(q.opt_in_status.is_some().then_some(true))
            .send()
            .await
            .map_err(|e| s.error("DescribeAvailabilityZones", e))?;
        let mut zones: Vec<(String, String)> = out
            .availability_zones()
            .iter()
            .map(|z| {
                (
                    z.zone_name().unwrap_or_default().to_owned(),
                    z.zone_id().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        if zones.is_empty() {
            let mut wanted = format!("state {state}");
            if let Some(t) = &q.zone_type {
                wanted.push_str(&format!(", zone type {t}"));
            }
            if let Some(o) = &q.opt_in_status {
                wanted.push_str(&format!(", opt-in status {o}"));
            }
            return Err(ProviderError::new(format!(
                "no availability zone of region {region:?} matches ({wanted})"
            )));
        }
        zones.sort();
        let (names, zone_ids) = zones.into_iter().unzip();
        Ok(AvailabilityZonesOutputs {
            names,
            zone_ids,
            region,
        })
    }
);

data_handler!(VpcLookupHandler, VpcLookup, Aws, |aws, name, q| {
    if q.tags.is_empty() {
        return Err(ProviderError::new(
            "a VPC lookup needs at least one tag to match",
        ));
    }
    let s = Subject {
        type_name: VpcLookup::TYPE,
        name,
    };
    let filters = q
        .tags
        .iter()
        .map(|(k, v)| Filter::builder().name(format!("tag:{k}")).values(v).build());
    let out = aws
        .ec2_client()
        .await
        .describe_vpcs()
        .set_filters(Some(filters.collect()))
        .send()
        .await
        .map_err(|e| s.error("DescribeVpcs", e))?;
    let wanted = || {
        q.tags
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match out.vpcs() {
        [vpc] => Ok(VpcLookupOutputs {
            vpc_id: VpcId(vpc.vpc_id().unwrap_or_default().to_owned()),
            cidr_block: vpc.cidr_block().unwrap_or_default().to_owned(),
            owner_id: vpc.owner_id().unwrap_or_default().to_owned(),
        }),
        [] => Err(ProviderError::new(format!(
            "no VPC carries the tags {}",
            wanted()
        ))),
        many => Err(ProviderError::new(format!(
            "{} VPCs carry the tags {} ({}); add a tag that tells them apart",
            many.len(),
            wanted(),
            many.iter()
                .filter_map(|v| v.vpc_id())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
});

data_handler!(AmiLookupHandler, AmiLookup, Aws, |aws, name, q| {
    let s = Subject {
        type_name: AmiLookup::TYPE,
        name,
    };
    let out = aws
        .ec2_client()
        .await
        .describe_images()
        .set_owners((!q.owners.is_empty()).then(|| q.owners.clone()))
        .filters(Filter::builder().name("name").values(&q.name).build())
        .filters(Filter::builder().name("state").values("available").build())
        .send()
        .await
        .map_err(|e| s.error("DescribeImages", e))?;
    // ISO 8601 texts of one format sort as their instants; the id
    // breaks ties, so the answer does not depend on EC2's order.
    let latest = out
        .images()
        .iter()
        .max_by(|a, b| (a.creation_date(), a.image_id()).cmp(&(b.creation_date(), b.image_id())))
        .ok_or_else(|| {
            ProviderError::new(format!(
                "no available image named like {:?}{}",
                q.name,
                if q.owners.is_empty() {
                    String::new()
                } else {
                    format!(" owned by {}", q.owners.join(", "))
                }
            ))
        })?;
    Ok(AmiLookupOutputs {
        image_id: latest.image_id().unwrap_or_default().to_owned(),
        name: latest.name().unwrap_or_default().to_owned(),
        creation_date: latest.creation_date().unwrap_or_default().to_owned(),
        owner_id: latest.owner_id().unwrap_or_default().to_owned(),
    })
});

/// Serves the EC2 data sources.
pub(crate) fn register(
    kit: dafnck_core::provider::kit::Kit<Aws>,
) -> dafnck_core::provider::kit::Kit<Aws> {
    kit.with_data(VpcLookupHandler)
        .with_data(AmiLookupHandler)
        .with_data(AvailabilityZonesHandler)
}
