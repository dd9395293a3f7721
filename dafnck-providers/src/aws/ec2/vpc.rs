//! [`Vpc`] (`aws:ec2:Vpc`): a virtual private cloud.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcAttributeName};
use aws_sdk_ec2::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    Create, CreateResult, Found, Made, Read, ReadResult, ResourceHandler, Update, UpdateResult,
};
use dafnck_core::state::CallKind;
use dafnck_core::ProviderError;

use super::super::error::{AwsError, Subject};
use super::super::{failed_after_create, lookup, one_call, tags, Aws};
use super::{known, required};

ids! {
    /// The id of a [`Vpc`] (`vpc-...`).
    VpcId;
}

/// A VPC: an isolated network with an IPv4 range.
///
/// - `cidr_block`: its range (`10.0.0.0/16`, between /16 and /28);
///   changing it replaces the VPC.
/// - `enable_dns_hostnames`: instances get public DNS names; set in place.
/// - `tags`: the user's tags (keys starting with `dafnck:` or `aws:` are
///   reserved); set in place.
///
/// # Drift
/// `read` reports the range, the DNS hostnames setting and the tags as found.
///
/// # Caveats
/// Deleting fails with `DependencyViolation` while anything not managed by
/// this stack (or not yet deleted) is still in the VPC.
///
/// ```
/// use dafnck_providers::aws::ec2::Vpc;
/// let vpc = Vpc { cidr_block: "10.0.0.0/16".into(), enable_dns_hostnames: true, ..Default::default() };
/// # let _ = vpc;
/// ```
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:ec2:Vpc", outputs = VpcOutputs)]
pub struct Vpc {
    /// Its IPv4 range; changing it replaces the VPC.
    #[resource(force_new)]
    pub cidr_block: Input<String>,
    /// Whether instances get public DNS hostnames.
    pub enable_dns_hostnames: bool,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// What a [`Vpc`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct VpcOutputs {
    /// Its id.
    pub vpc_id: VpcId,
    /// The account that owns it.
    pub owner_id: String,
}

describe_by_id_and_token!(
    aws_sdk_ec2::types::Vpc,
    "DescribeVpcs",
    describe_vpcs,
    vpc_ids,
    vpcs
);

find_by_id_or_token!(aws_sdk_ec2::types::Vpc);

describe_by_ids!(
    aws_sdk_ec2::types::Vpc,
    "DescribeVpcs",
    describe_vpcs,
    "vpc-id",
    vpcs
);

find_many_by_ids!(aws_sdk_ec2::types::Vpc, vpc_id);

async fn dns_hostnames(client: &Client, s: &Subject<'_>, id: &str) -> Result<bool, AwsError> {
    let out = client
        .describe_vpc_attribute()
        .vpc_id(id)
        .attribute(VpcAttributeName::EnableDnsHostnames)
        .send()
        .await
        .map_err(|e| s.error("DescribeVpcAttribute", e))?;
    Ok(out
        .enable_dns_hostnames()
        .and_then(AttributeBooleanValue::value)
        .unwrap_or(false))
}

set_flag_by!(
    set_dns_hostnames,
    "ModifyVpcAttribute",
    modify_vpc_attribute,
    vpc_id,
    enable_dns_hostnames
);

fn outputs(vpc: &aws_sdk_ec2::types::Vpc) -> VpcOutputs {
    VpcOutputs {
        vpc_id: VpcId(vpc.vpc_id().unwrap_or_default().to_owned()),
        owner_id: vpc.owner_id().unwrap_or_default().to_owned(),
    }
}

async fn delete_by_id(client: &Client, s: &Subject<'_>, id: &str) -> Result<(), AwsError> {
    lookup::unless_not_found(s, "DeleteVpc", client.delete_vpc().vpc_id(id).send().await)?;
    Ok(())
}

/// What a read reports of `vpc`.
async fn found_as(
    client: &Client,
    s: &Subject<'_>,
    vpc: &aws_sdk_ec2::types::Vpc,
) -> Result<Found<Vpc, VpcOutputs>, AwsError> {
    let id = vpc.vpc_id().unwrap_or_default().to_owned();
    let observed = Vpc {
        cidr_block: vpc.cidr_block().unwrap_or_default().to_owned().into(),
        enable_dns_hostnames: dns_hostnames(client, s, &id).await?,
        tags: tags::user_tags(vpc.tags()),
    };
    Ok(lookup::observed(id, observed, outputs(vpc)))
}

/// Serves [`Vpc`].
pub(crate) struct VpcHandler;

#[async_trait]
impl ResourceHandler for VpcHandler {
    type Resource = Vpc;
    type Context = Aws;

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<Vpc>) -> CreateResult<Vpc> {
        let s = Subject::of::<Vpc>(&req.name);
        let v = &req.inputs;
        let cidr = required(&s, known(&s, &v.cidr_block, "cidr_block")?, "cidr_block")?;
        tags::check_user_tags(&s, &v.tags)?;
        let client = p.ec2_client().await;
        let vpc = match by_token(client, &s, &req.token).await? {
            Some(vpc) => vpc,
            None => client
                .create_vpc()
                .cidr_block(cidr)
                .tag_specifications(tags::for_create(ResourceType::Vpc, &req, &v.tags))
                .send()
                .await
                .map_err(|e| s.error("CreateVpc", e))?
                .vpc
                .ok_or_else(|| s.incomplete("CreateVpc", "a VPC"))?,
        };
        let id = vpc.vpc_id().unwrap_or_default().to_owned();
        if v.enable_dns_hostnames {
            if let Err(e) = set_dns_hostnames(client, &s, &id, true).await {
                return Err(failed_after_create(e, &id, delete_by_id(client, &s, &id)).await);
            }
        }
        Ok(Made {
            id,
            outputs: outputs(&vpc),
        })
    }

    async fn read(&self, p: &Aws, req: Read<Vpc>) -> ReadResult<Vpc> {
        let s = Subject::of::<Vpc>(&req.name);
        let client = p.ec2_client().await;
        let found = find(client, &s, &req).await?;
        match found {
            Some(vpc) => Ok(Some(found_as(client, &s, &vpc).await?)),
            None => Ok(None),
        }
    }

    /// One DescribeVpcs for every VPC read by id (an id AWS no longer knows
    /// is an absent VPC); a read by token alone, as `read`. Each VPC's DNS
    /// setting is still one DescribeVpcAttribute: EC2 has no list form.
    fn reads_in_batches(&self) -> bool {
        true
    }

    async fn read_many(
        &self,
        p: &Aws,
        reqs: Vec<Read<Vpc>>,
    ) -> Result<Vec<Option<Found<Vpc, VpcOutputs>>>, ProviderError> {
        let client = p.ec2_client().await;
        let listed = find_many(client, &reqs).await?;
        let mut found = Vec::with_capacity(reqs.len());
        for (req, vpc) in reqs.iter().zip(listed) {
            let s = Subject::of::<Vpc>(&req.name);
            found.push(match vpc {
                Some(vpc) => Some(found_as(client, &s, &vpc).await?),
                None => None,
            });
        }
        Ok(found)
    }

    async fn update(&self, p: &Aws, req: Update<Vpc>) -> UpdateResult<Vpc> {
        let s = Subject::of::<Vpc>(&req.name);
        let v = &req.inputs;
        tags::check_user_tags(&s, &v.tags)?;
        let client = p.ec2_client().await;
        let vpc = existing(client, &s, &req.id).await?;
        if dns_hostnames(client, &s, &req.id).await? != v.enable_dns_hostnames {
            set_dns_hostnames(client, &s, &req.id, v.enable_dns_hostnames).await?;
        }
        tags::apply(client, &s, &req.id, &tags::user_tags(vpc.tags()), &v.tags).await?;
        Ok(outputs(&vpc))
    }

    deletes_by!(Vpc, ec2_client, delete_by_id);
}
