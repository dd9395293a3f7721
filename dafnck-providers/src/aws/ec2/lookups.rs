//! EC2 data sources (see [`dafnck_core::data`]): the one VPC whose tags
//! match ([`VpcLookup`], `aws:ec2:VpcLookup`) and the latest machine image
//! whose name matches a pattern ([`AmiLookup`], `aws:ec2:AmiLookup`).
//! Read at every preview and up, never owned.

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
    kit.with_data(VpcLookupHandler).with_data(AmiLookupHandler)
}
