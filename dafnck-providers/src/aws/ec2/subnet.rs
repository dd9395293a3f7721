//! [`Subnet`] (`aws:ec2:Subnet`): a range of a VPC in one availability zone.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use aws_sdk_ec2::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Made, Read, ReadResult, ResourceHandler, Update, UpdateResult,
};
use dafnck_core::state::CallKind;
use dafnck_core::ProviderError;

use super::super::error::{AwsError, Subject};
use super::super::{failed_after_create, lookup, one_call, tags, Aws};
use super::{known, required, VpcId};

ids! {
    /// The id of a [`Subnet`] (`subnet-...`).
    SubnetId;
}

/// A subnet: a range of a [`Vpc`](super::Vpc) in one availability zone.
///
/// - `vpc_id`: the VPC (`vpc.out().vpc_id`); changing it replaces the subnet.
/// - `cidr_block`: its range, inside the VPC's and overlapping no other
///   subnet of it; changing it replaces the subnet.
/// - `availability_zone`: where (`us-east-1a`); `None` lets AWS choose (and
///   then the zone is not watched for drift). Changing it replaces the subnet.
/// - `map_public_ip_on_launch`: instances launched in it get a public IPv4
///   address; set in place.
/// - `tags`: the user's tags; set in place.
///
/// # Errors
/// A range that overlaps another subnet fails with AWS's
/// `InvalidSubnet.Conflict`, named in the message, and is not retried.
///
/// ```
/// use dafnck_core::prelude::*;
/// use dafnck_providers::aws::ec2::{Subnet, Vpc};
///
/// fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
///     let vpc = stack.add("main", Vpc { cidr_block: "10.0.0.0/16".into(), ..Default::default() });
///     stack.add("a", Subnet {
///         vpc_id: vpc.out().vpc_id,
///         cidr_block: "10.0.1.0/24".into(),
///         availability_zone: Some("us-east-1a".into()),
///         ..Default::default()
///     });
///     Ok(())
/// }
/// # let _ = infra;
/// ```
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:ec2:Subnet", outputs = SubnetOutputs)]
pub struct Subnet {
    /// The VPC; changing it replaces the subnet.
    #[resource(force_new)]
    pub vpc_id: Input<VpcId>,
    /// Its IPv4 range; changing it replaces the subnet.
    #[resource(force_new)]
    pub cidr_block: Input<String>,
    /// Its availability zone; `None` lets AWS choose.
    #[resource(force_new)]
    pub availability_zone: Option<String>,
    /// Whether instances launched in it get a public IPv4 address.
    pub map_public_ip_on_launch: bool,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// What a [`Subnet`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct SubnetOutputs {
    /// Its id.
    pub subnet_id: SubnetId,
    /// The zone it is in (chosen by AWS when not given).
    pub availability_zone: String,
    /// Its ARN.
    pub arn: String,
}

type Found = aws_sdk_ec2::types::Subnet;

describe_by_id_and_token!(
    Found,
    "DescribeSubnets",
    describe_subnets,
    subnet_ids,
    subnets
);

find_by_id_or_token!(Found);

describe_by_ids!(
    Found,
    "DescribeSubnets",
    describe_subnets,
    "subnet-id",
    subnets
);

find_many_by_ids!(Found, subnet_id);

set_flag_by!(
    set_public_ip,
    "ModifySubnetAttribute",
    modify_subnet_attribute,
    subnet_id,
    map_public_ip_on_launch
);

fn outputs(subnet: &Found) -> SubnetOutputs {
    SubnetOutputs {
        subnet_id: SubnetId(subnet.subnet_id().unwrap_or_default().to_owned()),
        availability_zone: subnet.availability_zone().unwrap_or_default().to_owned(),
        arn: subnet.subnet_arn().unwrap_or_default().to_owned(),
    }
}

async fn delete_by_id(client: &Client, s: &Subject<'_>, id: &str) -> Result<(), AwsError> {
    lookup::deleted(
        s,
        "DeleteSubnet",
        client.delete_subnet().subnet_id(id).send().await,
    )
}

/// What a read reports of `subnet`, found for `req`: shared by `read` and
/// `read_many` so both answer alike.
fn observed_as(req: &Read<Subnet>, subnet: &Found) -> kit::Found<Subnet, SubnetOutputs> {
    // The zone is only watched when the program chose it.
    let recorded = req.recorded.decode_or_default();
    let observed = Subnet {
        vpc_id: VpcId(subnet.vpc_id().unwrap_or_default().to_owned()).into(),
        cidr_block: subnet.cidr_block().unwrap_or_default().to_owned().into(),
        availability_zone: recorded
            .availability_zone
            .map(|_| subnet.availability_zone().unwrap_or_default().to_owned()),
        map_public_ip_on_launch: subnet.map_public_ip_on_launch().unwrap_or(false),
        tags: tags::user_tags(subnet.tags()),
    };
    lookup::observed(
        subnet.subnet_id().unwrap_or_default(),
        observed,
        outputs(subnet),
    )
}

/// Serves [`Subnet`].
pub(crate) struct SubnetHandler;

#[async_trait]
impl ResourceHandler for SubnetHandler {
    type Resource = Subnet;
    type Context = Aws;

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<Subnet>) -> CreateResult<Subnet> {
        let s = Subject::of::<Subnet>(&req.name);
        let v = &req.inputs;
        let vpc_id = required(&s, known(&s, &v.vpc_id, "vpc_id")?.as_str(), "vpc_id")?;
        let cidr = required(&s, known(&s, &v.cidr_block, "cidr_block")?, "cidr_block")?;
        tags::check_user_tags(&s, &v.tags)?;
        let client = p.ec2_client().await;
        let subnet = match by_token(client, &s, &req.token).await? {
            Some(subnet) => subnet,
            None => client
                .create_subnet()
                .vpc_id(vpc_id)
                .cidr_block(cidr)
                .set_availability_zone(v.availability_zone.clone())
                .tag_specifications(tags::for_create(ResourceType::Subnet, &req, &v.tags))
                .send()
                .await
                .map_err(|e| s.error("CreateSubnet", e))?
                .subnet
                .ok_or_else(|| s.incomplete("CreateSubnet", "a subnet"))?,
        };
        let id = subnet.subnet_id().unwrap_or_default().to_owned();
        if v.map_public_ip_on_launch != subnet.map_public_ip_on_launch().unwrap_or(false) {
            if let Err(e) = set_public_ip(client, &s, &id, v.map_public_ip_on_launch).await {
                return Err(failed_after_create(e, &id, delete_by_id(client, &s, &id)).await);
            }
        }
        Ok(Made {
            id,
            outputs: outputs(&subnet),
        })
    }

    async fn read(&self, p: &Aws, req: Read<Subnet>) -> ReadResult<Subnet> {
        let s = Subject::of::<Subnet>(&req.name);
        let client = p.ec2_client().await;
        let found = find(client, &s, &req).await?;
        Ok(found.map(|subnet| observed_as(&req, &subnet)))
    }

    /// One DescribeSubnets for every object read by id (an id AWS no longer
    /// knows is an absent object); a read by token alone, as `read`.
    fn reads_in_batches(&self) -> bool {
        true
    }

    async fn read_many(
        &self,
        p: &Aws,
        reqs: Vec<Read<Subnet>>,
    ) -> Result<Vec<Option<kit::Found<Subnet, SubnetOutputs>>>, ProviderError> {
        let client = p.ec2_client().await;
        let found = find_many(client, &reqs).await?;
        Ok(reqs
            .iter()
            .zip(found)
            .map(|(req, found)| found.map(|subnet| observed_as(req, &subnet)))
            .collect())
    }

    async fn update(&self, p: &Aws, req: Update<Subnet>) -> UpdateResult<Subnet> {
        let s = Subject::of::<Subnet>(&req.name);
        let v = &req.inputs;
        tags::check_user_tags(&s, &v.tags)?;
        let client = p.ec2_client().await;
        let subnet = existing(client, &s, &req.id).await?;
        if subnet.map_public_ip_on_launch().unwrap_or(false) != v.map_public_ip_on_launch {
            set_public_ip(client, &s, &req.id, v.map_public_ip_on_launch).await?;
        }
        tags::apply(
            client,
            &s,
            &req.id,
            &tags::user_tags(subnet.tags()),
            &v.tags,
        )
        .await?;
        Ok(outputs(&subnet))
    }

    deletes_by!(Subnet, ec2_client, delete_by_id);
}
