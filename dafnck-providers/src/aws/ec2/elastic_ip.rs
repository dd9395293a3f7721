//! [`ElasticIp`] (`aws:ec2:ElasticIp`): a static public IPv4 address,
//! optionally associated with an instance.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, Filter, ResourceType};
use aws_sdk_ec2::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Made, Read, ReadResult, ResourceHandler, Update, UpdateResult,
};
use dafnck_core::state::CallKind;
use dafnck_core::ProviderError;

use super::super::error::{AwsError, Subject};
use super::super::lookup::Lookup;
use super::super::{failed_after_create, lookup, one_call, tags, Aws};
use super::{known, InstanceId};

ids! {
    /// The allocation id of an [`ElasticIp`] (`eipalloc-...`).
    AllocationId;
}

/// An elastic IP address (AllocateAddress, domain `vpc`): a public IPv4
/// address that stays the same while instances come and go.
///
/// - `instance_id`: the instance it is associated with
///   (`web.out().instance_id`), or `None`; changed in place (the address
///   moves, keeping its value).
/// - `tags`: the user's tags; set in place.
///
/// Delete disassociates the address first, then releases it.
///
/// # Drift
/// `read` reports the association and tags as found.
///
/// ```
/// use dafnck_core::prelude::*;
/// use dafnck_providers::aws::ec2::{ElasticIp, Instance};
///
/// fn infra(stack: &mut Stack, web: &Handle<Instance>) {
///     let ip = stack.add("web-ip", ElasticIp {
///         instance_id: Some(web.out().instance_id),
///         ..Default::default()
///     });
///     stack.export("web_ip", ip.out().public_ip);
/// }
/// # let _ = infra;
/// ```
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:ec2:ElasticIp", outputs = ElasticIpOutputs)]
pub struct ElasticIp {
    /// The instance it is associated with; changed in place.
    pub instance_id: Option<Input<InstanceId>>,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// What an [`ElasticIp`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct ElasticIpOutputs {
    /// Its allocation id (and resource id).
    pub allocation_id: AllocationId,
    /// The address.
    pub public_ip: String,
}

type Found = aws_sdk_ec2::types::Address;

async fn by_id(client: &Client, s: &Subject<'_>, id: &str) -> Lookup<Found> {
    let out = lookup::unless_not_found(
        s,
        "DescribeAddresses",
        client.describe_addresses().allocation_ids(id).send().await,
    )?;
    Ok(out.and_then(|out| out.addresses().first().cloned()))
}

async fn by_token(client: &Client, s: &Subject<'_>, token: &str) -> Lookup<Found> {
    let out = client
        .describe_addresses()
        .filters(tags::token_filter(token))
        .filters(Filter::builder().name("domain").values("vpc").build())
        .send()
        .await
        .map_err(|e| s.error("DescribeAddresses", e))?;
    Ok(out.addresses().first().cloned())
}

find_by_id_or_token!(Found);

describe_by_ids!(
    Found,
    "DescribeAddresses",
    describe_addresses,
    "allocation-id",
    addresses
);

find_many_by_ids!(Found, allocation_id);

fn outputs(a: &Found) -> ElasticIpOutputs {
    ElasticIpOutputs {
        allocation_id: AllocationId(a.allocation_id().unwrap_or_default().to_owned()),
        public_ip: a.public_ip().unwrap_or_default().to_owned(),
    }
}

/// The instance the address is associated with (moto answers an empty
/// id for none).
fn instance_of(a: &Found) -> Option<&str> {
    a.instance_id().filter(|i| !i.is_empty())
}

/// Associates the address with `instance`, or disassociates it (`None`),
/// unless it already is so.
async fn associate(
    client: &Client,
    s: &Subject<'_>,
    a: &Found,
    instance: Option<&str>,
) -> Result<(), AwsError> {
    if instance_of(a) == instance {
        return Ok(());
    }
    match instance {
        Some(instance) => {
            // Moves it from another instance, if any, in one call.
            client
                .associate_address()
                .allocation_id(a.allocation_id().unwrap_or_default())
                .instance_id(instance)
                .allow_reassociation(true)
                .send()
                .await
                .map_err(|e| s.error("AssociateAddress", e))?;
        }
        None => disassociate(client, s, a).await?,
    }
    Ok(())
}

async fn disassociate(client: &Client, s: &Subject<'_>, a: &Found) -> Result<(), AwsError> {
    let Some(association) = a.association_id().filter(|i| !i.is_empty()) else {
        return Ok(());
    };
    lookup::unless_not_found(
        s,
        "DisassociateAddress",
        client
            .disassociate_address()
            .association_id(association)
            .send()
            .await,
    )?;
    Ok(())
}

async fn release(client: &Client, s: &Subject<'_>, id: &str) -> Result<(), AwsError> {
    let Some(a) = by_id(client, s, id).await? else {
        return Ok(());
    };
    disassociate(client, s, &a).await?;
    lookup::unless_not_found(
        s,
        "ReleaseAddress",
        client.release_address().allocation_id(id).send().await,
    )?;
    Ok(())
}

fn declared_instance<'a>(s: &Subject<'_>, v: &'a ElasticIp) -> Result<Option<&'a str>, AwsError> {
    v.instance_id
        .as_ref()
        .map(|i| Ok(known(s, i, "instance_id")?.as_str()))
        .transpose()
}

/// What a read reports of `a`: shared by `read` and
/// `read_many` so both answer alike.
fn observed_as(a: &Found) -> kit::Found<ElasticIp, ElasticIpOutputs> {
    let observed = ElasticIp {
        instance_id: instance_of(a).map(|i| InstanceId(i.to_owned()).into()),
        tags: tags::user_tags(a.tags()),
    };
    lookup::observed(a.allocation_id().unwrap_or_default(), observed, outputs(a))
}

/// Serves [`ElasticIp`].
pub(crate) struct ElasticIpHandler;

#[async_trait]
impl ResourceHandler for ElasticIpHandler {
    type Resource = ElasticIp;
    type Context = Aws;

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<ElasticIp>) -> CreateResult<ElasticIp> {
        let s = Subject::of::<ElasticIp>(&req.name);
        let v = &req.inputs;
        let instance = declared_instance(&s, v)?;
        tags::check_user_tags(&s, &v.tags)?;
        let client = p.ec2_client().await;
        let address = match by_token(client, &s, &req.token).await? {
            Some(a) => a,
            None => {
                let out = client
                    .allocate_address()
                    .domain(DomainType::Vpc)
                    .tag_specifications(tags::for_create(ResourceType::ElasticIp, &req, &v.tags))
                    .send()
                    .await
                    .map_err(|e| s.error("AllocateAddress", e))?;
                let id = out
                    .allocation_id()
                    .ok_or_else(|| s.incomplete("AllocateAddress", "an allocation id"))?;
                by_id(client, &s, id)
                    .await?
                    .ok_or_else(|| s.wait(id, "is not visible after AllocateAddress"))?
            }
        };
        let id = address.allocation_id().unwrap_or_default().to_owned();
        if let Err(e) = associate(client, &s, &address, instance).await {
            return Err(failed_after_create(e, &id, release(client, &s, &id)).await);
        }
        Ok(Made {
            id,
            outputs: outputs(&address),
        })
    }

    async fn read(&self, p: &Aws, req: Read<ElasticIp>) -> ReadResult<ElasticIp> {
        let s = Subject::of::<ElasticIp>(&req.name);
        let client = p.ec2_client().await;
        let found = find(client, &s, &req).await?;
        Ok(found.map(|a| observed_as(&a)))
    }

    /// One DescribeAddresses for every object read by id (an id AWS no longer
    /// knows is an absent object); a read by token alone, as `read`.
    fn reads_in_batches(&self) -> bool {
        true
    }

    async fn read_many(
        &self,
        p: &Aws,
        reqs: Vec<Read<ElasticIp>>,
    ) -> Result<Vec<Option<kit::Found<ElasticIp, ElasticIpOutputs>>>, ProviderError> {
        let client = p.ec2_client().await;
        let found = find_many(client, &reqs).await?;
        Ok(found
            .into_iter()
            .map(|found| found.map(|a| observed_as(&a)))
            .collect())
    }

    async fn update(&self, p: &Aws, req: Update<ElasticIp>) -> UpdateResult<ElasticIp> {
        let s = Subject::of::<ElasticIp>(&req.name);
        let v = &req.inputs;
        let instance = declared_instance(&s, v)?;
        tags::check_user_tags(&s, &v.tags)?;
        let client = p.ec2_client().await;
        let id = req.id.as_str();
        let a = existing(client, &s, id).await?;
        associate(client, &s, &a, instance).await?;
        tags::apply(client, &s, id, &tags::user_tags(a.tags()), &v.tags).await?;
        Ok(outputs(&a))
    }

    deletes_by!(ElasticIp, ec2_client, release);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_replaces_an_elastic_ip() {
        assert!(ElasticIp::force_new_fields().is_empty());
    }
}
