//! [`InternetGateway`] (`aws:ec2:InternetGateway`): a VPC's way to the
//! internet, with its attachment.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttachmentStatus, ResourceType};
use aws_sdk_ec2::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Made, Read, ReadResult, ResourceHandler, Update, UpdateResult,
};
use dafnck_core::state::CallKind;
use dafnck_core::ProviderError;

use super::super::error::{AwsError, Subject};
use super::super::{failed_after_create, lookup, one_call, tags, Aws};
use super::{known, VpcId};

ids! {
    /// The id of an [`InternetGateway`] (`igw-...`).
    InternetGatewayId;
}

/// An internet gateway, attached to at most one VPC.
///
/// - `vpc_id`: the VPC it is attached to (`Some(vpc.out().vpc_id)`), or
///   `None`; attached, detached or moved in place.
/// - `tags`: the user's tags; set in place.
///
/// Deleting detaches it first.
///
/// ```
/// use dafnck_core::prelude::*;
/// use dafnck_providers::aws::ec2::{InternetGateway, Vpc};
///
/// fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
///     let vpc = stack.add("main", Vpc { cidr_block: "10.0.0.0/16".into(), ..Default::default() });
///     stack.add("gw", InternetGateway { vpc_id: Some(vpc.out().vpc_id), ..Default::default() });
///     Ok(())
/// }
/// # let _ = infra;
/// ```
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:ec2:InternetGateway", outputs = InternetGatewayOutputs)]
pub struct InternetGateway {
    /// The VPC it is attached to.
    pub vpc_id: Option<Input<VpcId>>,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// What an [`InternetGateway`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct InternetGatewayOutputs {
    /// Its id.
    pub internet_gateway_id: InternetGatewayId,
}

type Found = aws_sdk_ec2::types::InternetGateway;

describe_by_id_and_token!(
    Found,
    "DescribeInternetGateways",
    describe_internet_gateways,
    internet_gateway_ids,
    internet_gateways
);

find_by_id_or_token!(Found);

describe_by_ids!(
    Found,
    "DescribeInternetGateways",
    describe_internet_gateways,
    "internet-gateway-id",
    internet_gateways
);

find_many_by_ids!(Found, internet_gateway_id);

/// The VPCs the gateway is attached (or attaching) to.
fn attached(gw: &Found) -> Vec<String> {
    gw.attachments()
        .iter()
        .filter(|a| {
            !matches!(
                a.state(),
                Some(AttachmentStatus::Detached | AttachmentStatus::Detaching)
            )
        })
        .filter_map(|a| a.vpc_id().map(str::to_owned))
        .collect()
}

fn desired_vpc(s: &Subject<'_>, g: &InternetGateway) -> Result<Option<String>, AwsError> {
    g.vpc_id
        .as_ref()
        .map(|v| Ok(known(s, v, "vpc_id")?.0.clone()))
        .transpose()
}

/// Detaches the gateway from every VPC but `keep`, then attaches it to
/// `keep` if it is not yet.
async fn attach(
    client: &Client,
    s: &Subject<'_>,
    id: &str,
    current: &[String],
    keep: Option<&str>,
) -> Result<(), AwsError> {
    for vpc in current.iter().filter(|v| Some(v.as_str()) != keep) {
        match client
            .detach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) => match s.error("DetachInternetGateway", e) {
                e if e.code() == Some("Gateway.NotAttached") || e.is_not_found() => {}
                e => return Err(e),
            },
        }
    }
    if let Some(vpc) = keep.filter(|k| !current.iter().any(|c| c == k)) {
        client
            .attach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
            .await
            .map_err(|e| s.error("AttachInternetGateway", e))?;
    }
    Ok(())
}

async fn delete_by_id(client: &Client, s: &Subject<'_>, id: &str) -> Result<(), AwsError> {
    let Some(gw) = by_id(client, s, id).await? else {
        return Ok(());
    };
    attach(client, s, id, &attached(&gw), None).await?;
    lookup::deleted(
        s,
        "DeleteInternetGateway",
        client
            .delete_internet_gateway()
            .internet_gateway_id(id)
            .send()
            .await,
    )
}

fn outputs(id: &str) -> InternetGatewayOutputs {
    InternetGatewayOutputs {
        internet_gateway_id: InternetGatewayId(id.to_owned()),
    }
}

/// What a read reports of `gw`: shared by `read` and
/// `read_many` so both answer alike.
fn observed_as(gw: &Found) -> kit::Found<InternetGateway, InternetGatewayOutputs> {
    let id = gw.internet_gateway_id().unwrap_or_default().to_owned();
    let observed = InternetGateway {
        vpc_id: attached(gw).into_iter().next().map(|v| VpcId(v).into()),
        tags: tags::user_tags(gw.tags()),
    };
    lookup::observed(&id, observed, outputs(&id))
}

/// Serves [`InternetGateway`].
pub(crate) struct InternetGatewayHandler;

#[async_trait]
impl ResourceHandler for InternetGatewayHandler {
    type Resource = InternetGateway;
    type Context = Aws;

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<InternetGateway>) -> CreateResult<InternetGateway> {
        let s = Subject::of::<InternetGateway>(&req.name);
        let g = &req.inputs;
        let vpc = desired_vpc(&s, g)?;
        tags::check_user_tags(&s, &g.tags)?;
        let client = p.ec2_client().await;
        let gw = match by_token(client, &s, &req.token).await? {
            Some(gw) => gw,
            None => client
                .create_internet_gateway()
                .tag_specifications(tags::for_create(
                    ResourceType::InternetGateway,
                    &req,
                    &g.tags,
                ))
                .send()
                .await
                .map_err(|e| s.error("CreateInternetGateway", e))?
                .internet_gateway
                .ok_or_else(|| s.incomplete("CreateInternetGateway", "a gateway"))?,
        };
        let id = gw.internet_gateway_id().unwrap_or_default().to_owned();
        if let Err(e) = attach(client, &s, &id, &attached(&gw), vpc.as_deref()).await {
            return Err(failed_after_create(e, &id, delete_by_id(client, &s, &id)).await);
        }
        Ok(Made {
            outputs: outputs(&id),
            id,
        })
    }

    async fn read(&self, p: &Aws, req: Read<InternetGateway>) -> ReadResult<InternetGateway> {
        let s = Subject::of::<InternetGateway>(&req.name);
        let client = p.ec2_client().await;
        let found = find(client, &s, &req).await?;
        Ok(found.map(|gw| observed_as(&gw)))
    }

    /// One DescribeInternetGateways for every object read by id (an id AWS no longer
    /// knows is an absent object); a read by token alone, as `read`.
    fn reads_in_batches(&self) -> bool {
        true
    }

    async fn read_many(
        &self,
        p: &Aws,
        reqs: Vec<Read<InternetGateway>>,
    ) -> Result<Vec<Option<kit::Found<InternetGateway, InternetGatewayOutputs>>>, ProviderError>
    {
        let client = p.ec2_client().await;
        let found = find_many(client, &reqs).await?;
        Ok(found
            .into_iter()
            .map(|found| found.map(|gw| observed_as(&gw)))
            .collect())
    }

    async fn update(&self, p: &Aws, req: Update<InternetGateway>) -> UpdateResult<InternetGateway> {
        let s = Subject::of::<InternetGateway>(&req.name);
        let g = &req.inputs;
        let vpc = desired_vpc(&s, g)?;
        tags::check_user_tags(&s, &g.tags)?;
        let client = p.ec2_client().await;
        let gw = existing(client, &s, &req.id).await?;
        attach(client, &s, &req.id, &attached(&gw), vpc.as_deref()).await?;
        tags::apply(client, &s, &req.id, &tags::user_tags(gw.tags()), &g.tags).await?;
        Ok(outputs(&req.id))
    }

    deletes_by!(InternetGateway, ec2_client, delete_by_id);
}
