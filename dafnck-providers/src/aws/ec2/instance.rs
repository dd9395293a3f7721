//! [`Instance`] (`aws:ec2:Instance`): a virtual machine, waited for until
//! it runs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeValue, Filter, InstanceStateName, InstanceType, ResourceType};
use aws_sdk_ec2::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Made, Read, ReadResult, ResourceHandler, Update, UpdateResult,
};
use dafnck_core::state::CallKind;
use dafnck_core::ProviderError;

use super::super::error::{AwsError, Subject};
use super::super::lookup::Lookup;
use super::super::{failed_after_create, lookup, tags, Aws, Poll};
use super::instance_options::{self, BlockDevice, MetadataOptions};
use super::{known, required, SecurityGroupId, SubnetId};

ids! {
    /// The id of an [`Instance`] (`i-...`).
    InstanceId;
}

/// An EC2 instance in a [`Subnet`](super::Subnet). Create and update wait
/// until it is `running`.
///
/// - `ami`: the image (`ami-...`); changing it replaces the instance.
/// - `instance_type`: its size (`t3.micro`); changed in place by stopping
///   the instance, modifying it and starting it again (a short outage; its
///   public IP address, if any, changes).
/// - `subnet_id`: where it runs (`subnet.out().subnet_id`); changing it
///   replaces the instance.
/// - `security_group_ids`: its groups; changed in place. None: the VPC's
///   default group, which is then not watched for drift.
/// - `key_name`: the EC2 key pair for SSH; changing it replaces the instance.
/// - `user_data`: a script or cloud-init config run at first boot, as text
///   (the provider encodes it); changing it replaces the instance.
/// - `metadata_options`: the instance metadata service (IMDS): whether it
///   requires session tokens (IMDSv2), the hop limit, whether it answers
///   at all; changed in place (ModifyInstanceMetadataOptions). `None`: AWS's
///   defaults (IMDSv1 allowed on most AMIs), not watched for drift.
/// - `block_devices`: EBS volumes made at launch (the root one when named
///   as the AMI's root device): size, type, encryption and KMS key;
///   changing them replaces the instance.
/// - `tags`: the user's tags; set in place.
///
/// The create passes the engine's idempotency token as RunInstances'
/// `ClientToken`, so a retried create makes no second instance.
///
/// # Drift
/// `read` reports the image, type, subnet, groups, key pair, metadata
/// options (when declared), declared volumes (with one DescribeVolumes)
/// and tags as found; a terminated (or terminating) instance is reported
/// deleted. `user_data` is not read back; volumes attached by other means
/// are not reported.
///
/// # Errors
/// An AMI that does not exist fails with AWS's `InvalidAMIID.NotFound` (or
/// `.Malformed`), named in the message, and is not retried.
///
/// ```
/// use dafnck_core::prelude::*;
/// use dafnck_providers::aws::ec2::{Instance, Subnet, Vpc};
///
/// fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
///     let vpc = stack.add("main", Vpc { cidr_block: "10.0.0.0/16".into(), ..Default::default() });
///     let subnet = stack.add("a", Subnet {
///         vpc_id: vpc.out().vpc_id,
///         cidr_block: "10.0.1.0/24".into(),
///         ..Default::default()
///     });
///     let web = stack.add("web", Instance {
///         ami: "ami-0123456789abcdef0".into(),
///         instance_type: "t3.micro".into(),
///         subnet_id: subnet.out().subnet_id,
///         ..Default::default()
///     });
///     stack.export("web_ip", web.out().private_ip);
///     Ok(())
/// }
/// # let _ = infra;
/// ```
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:ec2:Instance", outputs = InstanceOutputs)]
pub struct Instance {
    /// The image; changing it replaces the instance.
    #[resource(force_new)]
    pub ami: Input<String>,
    /// Its size; changed in place (stop, modify, start).
    pub instance_type: Input<String>,
    /// The subnet it runs in; changing it replaces the instance.
    #[resource(force_new)]
    pub subnet_id: Input<SubnetId>,
    /// Its security groups; changed in place.
    pub security_group_ids: Vec<Input<SecurityGroupId>>,
    /// The key pair for SSH (`key.out().key_name`); changing it replaces
    /// the instance.
    #[resource(force_new)]
    pub key_name: Option<Input<String>>,
    /// Run at first boot (plain text); changing it replaces the instance.
    #[resource(force_new)]
    pub user_data: Option<String>,
    /// The metadata service settings; changed in place. `None`: AWS's
    /// defaults, not watched.
    pub metadata_options: Option<MetadataOptions>,
    /// EBS volumes made at launch; changing them replaces the instance.
    #[resource(force_new)]
    pub block_devices: Vec<BlockDevice>,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// What an [`Instance`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct InstanceOutputs {
    /// Its id.
    pub instance_id: InstanceId,
    /// Its private IPv4 address.
    pub private_ip: String,
    /// Its public IPv4 address, if it has one.
    pub public_ip: Option<String>,
    /// Its private DNS name.
    pub private_dns: String,
    /// The zone it runs in.
    pub availability_zone: String,
}

type Found = aws_sdk_ec2::types::Instance;

fn state_of(i: &Found) -> Option<&InstanceStateName> {
    i.state().and_then(|s| s.name())
}

/// Whether the instance is gone or going (terminated or shutting down).
fn is_ending(i: &Found) -> bool {
    matches!(
        state_of(i),
        Some(InstanceStateName::Terminated | InstanceStateName::ShuttingDown)
    )
}

/// The instance with this id, whatever its state, or `None` when AWS does
/// not know it.
async fn by_id(client: &Client, s: &Subject<'_>, id: &str) -> Lookup<Found> {
    let out = lookup::unless_not_found(
        s,
        "DescribeInstances",
        client.describe_instances().instance_ids(id).send().await,
    )?;
    Ok(out.and_then(|out| {
        out.reservations()
            .iter()
            .flat_map(|r| r.instances())
            .next()
            .cloned()
    }))
}

/// The live instance a create with `token` made, if any.
async fn by_token(client: &Client, s: &Subject<'_>, token: &str) -> Lookup<Found> {
    let live = Filter::builder()
        .name("instance-state-name")
        .set_values(Some(
            ["pending", "running", "stopping", "stopped"]
                .map(String::from)
                .to_vec(),
        ))
        .build();
    let found = described(client, s, vec![tags::token_filter(token), live]).await?;
    Ok(found.into_iter().find(|i| !is_ending(i)))
}

// An update also skips an instance on its way out, so it has no `existing`.
find_by_id_or_token!(Found, find_only);

/// The instances AWS knows among `ids`, whatever their state, in one call
/// (a filter, so an unknown id is not answered rather than an error).
async fn by_ids(
    client: &Client,
    s: &Subject<'_>,
    ids: Vec<String>,
) -> Result<Vec<Found>, AwsError> {
    let filter = Filter::builder()
        .name("instance-id")
        .set_values(Some(ids))
        .build();
    described(client, s, vec![filter]).await
}

/// The instances DescribeInstances answers for `filters`, out of their
/// reservations.
async fn described(
    client: &Client,
    s: &Subject<'_>,
    filters: Vec<Filter>,
) -> Result<Vec<Found>, AwsError> {
    let out = client
        .describe_instances()
        .set_filters(Some(filters))
        .send()
        .await
        .map_err(|e| s.error("DescribeInstances", e))?;
    Ok(out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .cloned()
        .collect())
}

find_many_by_ids!(Found, instance_id);

/// Waits until the instance is in state `want`, failing early when it
/// ends up terminated instead.
async fn wait_until(
    p: &Aws,
    client: &Client,
    s: &Subject<'_>,
    id: &str,
    want: InstanceStateName,
) -> Result<Found, AwsError> {
    p.wait_for(s, id, want.as_str(), || async {
        let Some(i) = by_id(client, s, id).await? else {
            // Not visible yet, right after RunInstances.
            return Ok(Poll::Pending("not visible yet".into()));
        };
        match state_of(&i) {
            Some(state) if *state == want => Ok(Poll::Done(i)),
            Some(InstanceStateName::Terminated | InstanceStateName::ShuttingDown) => {
                let reason = i
                    .state_reason()
                    .and_then(|r| r.message())
                    .unwrap_or("no reason given");
                Err(s.wait(
                    id,
                    format!("was terminated while waiting to become {want}: {reason}"),
                ))
            }
            other => {
                Ok(Poll::Pending(other.map_or("no state".to_owned(), |st| {
                    st.as_str().to_owned()
                })))
            }
        }
    })
    .await
}

/// Waits until the instance is terminated (or unknown to AWS).
async fn wait_terminated(
    p: &Aws,
    client: &Client,
    s: &Subject<'_>,
    id: &str,
) -> Result<(), AwsError> {
    p.wait_for(s, id, "terminated", || async {
        Ok(match by_id(client, s, id).await? {
            None => Poll::Done(()),
            Some(i) if state_of(&i) == Some(&InstanceStateName::Terminated) => Poll::Done(()),
            Some(i) => Poll::Pending(state_of(&i).map_or("no state", |st| st.as_str()).to_owned()),
        })
    })
    .await
}

async fn terminate(p: &Aws, client: &Client, s: &Subject<'_>, id: &str) -> Result<(), AwsError> {
    let terminating = lookup::unless_not_found(
        s,
        "TerminateInstances",
        client.terminate_instances().instance_ids(id).send().await,
    )?;
    if terminating.is_none() {
        return Ok(());
    }
    // Subnets and security groups can be deleted only once it is gone.
    wait_terminated(p, client, s, id).await
}

fn outputs(i: &Found) -> InstanceOutputs {
    InstanceOutputs {
        instance_id: InstanceId(i.instance_id().unwrap_or_default().to_owned()),
        private_ip: i.private_ip_address().unwrap_or_default().to_owned(),
        public_ip: i.public_ip_address().map(str::to_owned),
        private_dns: i.private_dns_name().unwrap_or_default().to_owned(),
        availability_zone: i
            .placement()
            .and_then(|p| p.availability_zone())
            .unwrap_or_default()
            .to_owned(),
    }
}

/// The ids of the instance's security groups.
fn group_ids(i: &Found) -> Vec<String> {
    i.security_groups()
        .iter()
        .filter_map(|g| g.group_id().map(str::to_owned))
        .collect()
}

/// Resolved ids of the declared security groups.
fn declared_groups(s: &Subject<'_>, v: &Instance) -> Result<Vec<String>, AwsError> {
    v.security_group_ids
        .iter()
        .map(|g| Ok(known(s, g, "security_group_ids")?.0.clone()))
        .collect()
}

fn same_set(a: &[String], b: &[String]) -> bool {
    a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
}

/// What a read reports of `i`, found for `req`: shared by `read` and
/// `read_many` so both answer alike.
fn observed_as(
    req: &Read<Instance>,
    i: &Found,
    volumes: &HashMap<String, instance_options::FoundVolume>,
) -> kit::Found<Instance, InstanceOutputs> {
    let s = Subject::of::<Instance>(&req.name);
    let recorded = req.recorded.decode_or_default();
    let found_groups = group_ids(i);
    // Groups compare as a set: the declared order is kept when it holds.
    // None declared means the VPC's default group, which is not watched.
    let security_group_ids = match declared_groups(&s, &recorded) {
        Ok(declared) if declared.is_empty() || same_set(&declared, &found_groups) => {
            recorded.security_group_ids.clone()
        }
        _ => found_groups
            .into_iter()
            .map(|g| SecurityGroupId(g).into())
            .collect(),
    };
    let observed = Instance {
        ami: i.image_id().unwrap_or_default().to_owned().into(),
        instance_type: i
            .instance_type()
            .map_or("", InstanceType::as_str)
            .to_owned()
            .into(),
        subnet_id: SubnetId(i.subnet_id().unwrap_or_default().to_owned()).into(),
        security_group_ids,
        key_name: i.key_name().map(|k| k.to_owned().into()),
        user_data: recorded.user_data,
        metadata_options: recorded
            .metadata_options
            .as_ref()
            .map(|_| MetadataOptions::from_sdk(i.metadata_options())),
        block_devices: instance_options::observed_devices(&recorded.block_devices, i, volumes),
        tags: tags::user_tags(i.tags()),
    };
    lookup::observed(i.instance_id().unwrap_or_default(), observed, outputs(i))
}

/// Checks the declared metadata options and volumes.
fn check_options(s: &Subject<'_>, v: &Instance) -> Result<(), AwsError> {
    if let Some(o) = &v.metadata_options {
        o.check(s)?;
    }
    instance_options::check_devices(s, &v.block_devices)
}

/// The volumes of the found instances whose recorded inputs declare
/// volumes, in one DescribeVolumes (none declared: no call).
async fn volumes_of(
    client: &Client,
    s: &Subject<'_>,
    reqs: &[Read<Instance>],
    found: &[Option<Found>],
) -> Result<HashMap<String, instance_options::FoundVolume>, AwsError> {
    let ids: Vec<String> = reqs
        .iter()
        .zip(found)
        .filter(|(req, _)| !req.recorded.decode_or_default().block_devices.is_empty())
        .filter_map(|(_, f)| f.as_ref())
        .flat_map(instance_options::volume_ids)
        .collect();
    instance_options::volumes(client, s, ids).await
}

/// Serves [`Instance`].
pub(crate) struct InstanceHandler;

#[async_trait]
impl ResourceHandler for InstanceHandler {
    type Resource = Instance;
    type Context = Aws;

    /// Waited for until `running` or `terminated`; an update is tags
    /// only (a second) or a new type (stop, modify, start: minutes), so no
    /// single guess.
    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        match call {
            CallKind::Create | CallKind::Delete => Some(Duration::from_secs(30)),
            _ => None,
        }
    }

    async fn create(&self, p: &Aws, req: Create<Instance>) -> CreateResult<Instance> {
        let s = Subject::of::<Instance>(&req.name);
        let v = &req.inputs;
        let ami = required(&s, known(&s, &v.ami, "ami")?, "ami")?;
        let instance_type = required(
            &s,
            known(&s, &v.instance_type, "instance_type")?,
            "instance_type",
        )?;
        let subnet_id = required(
            &s,
            known(&s, &v.subnet_id, "subnet_id")?.as_str(),
            "subnet_id",
        )?;
        let groups = declared_groups(&s, v)?;
        let key_name = v
            .key_name
            .as_ref()
            .map(|k| known(&s, k, "key_name").cloned())
            .transpose()?;
        tags::check_user_tags(&s, &v.tags)?;
        check_options(&s, v)?;
        let client = p.ec2_client().await;
        let id = match by_token(client, &s, &req.token).await? {
            Some(i) => i.instance_id().unwrap_or_default().to_owned(),
            None => {
                let out = client
                    .run_instances()
                    .image_id(ami)
                    .instance_type(InstanceType::from(instance_type))
                    .subnet_id(subnet_id)
                    .set_security_group_ids((!groups.is_empty()).then_some(groups))
                    .set_key_name(key_name)
                    .set_user_data(v.user_data.as_deref().map(base64))
                    .set_metadata_options(v.metadata_options.as_ref().map(MetadataOptions::to_sdk))
                    .set_block_device_mappings(
                        (!v.block_devices.is_empty())
                            .then(|| v.block_devices.iter().map(BlockDevice::to_sdk).collect()),
                    )
                    .min_count(1)
                    .max_count(1)
                    .client_token(tags::client_token(&req.token))
                    .tag_specifications(tags::for_create(ResourceType::Instance, &req, &v.tags))
                    .send()
                    .await
                    .map_err(|e| s.error("RunInstances", e))?;
                out.instances()
                    .first()
                    .and_then(|i| i.instance_id())
                    .ok_or_else(|| s.incomplete("RunInstances", "an instance"))?
                    .to_owned()
            }
        };
        match wait_until(p, client, &s, &id, InstanceStateName::Running).await {
            Ok(i) => Ok(Made {
                id,
                outputs: outputs(&i),
            }),
            Err(e) => Err(failed_after_create(e, &id, terminate(p, client, &s, &id)).await),
        }
    }

    async fn read(&self, p: &Aws, req: Read<Instance>) -> ReadResult<Instance> {
        let s = Subject::of::<Instance>(&req.name);
        let client = p.ec2_client().await;
        let found = find(client, &s, &req).await?.filter(|i| !is_ending(i));
        let volumes = volumes_of(
            client,
            &s,
            std::slice::from_ref(&req),
            std::slice::from_ref(&found),
        )
        .await?;
        Ok(found.map(|i| observed_as(&req, &i, &volumes)))
    }

    /// One DescribeInstances for every object read by id (an id AWS no longer
    /// knows is an absent object); a read by token alone, as `read`.
    fn reads_in_batches(&self) -> bool {
        true
    }

    async fn read_many(
        &self,
        p: &Aws,
        reqs: Vec<Read<Instance>>,
    ) -> Result<Vec<Option<kit::Found<Instance, InstanceOutputs>>>, ProviderError> {
        let client = p.ec2_client().await;
        let found: Vec<Option<Found>> = find_many(client, &reqs)
            .await?
            .into_iter()
            .map(|f| f.filter(|i| !is_ending(i)))
            .collect();
        // A failed listing names the batch's first resource.
        let s = Subject::of::<Instance>(reqs.first().map_or("", |r| r.name.as_str()));
        let volumes = volumes_of(client, &s, &reqs, &found).await?;
        Ok(reqs
            .iter()
            .zip(found)
            .map(|(req, found)| found.map(|i| observed_as(req, &i, &volumes)))
            .collect())
    }

    async fn update(&self, p: &Aws, req: Update<Instance>) -> UpdateResult<Instance> {
        let s = Subject::of::<Instance>(&req.name);
        let v = &req.inputs;
        let instance_type = required(
            &s,
            known(&s, &v.instance_type, "instance_type")?,
            "instance_type",
        )?;
        let groups = declared_groups(&s, v)?;
        tags::check_user_tags(&s, &v.tags)?;
        check_options(&s, v)?;
        let client = p.ec2_client().await;
        let id = req.id.as_str();
        let mut i = by_id(client, &s, id)
            .await?
            .filter(|i| !is_ending(i))
            .ok_or_else(|| s.gone(id))?;
        if i.instance_type().map(InstanceType::as_str) != Some(instance_type) {
            // The type of a running instance cannot change: stop, modify, start.
            client
                .stop_instances()
                .instance_ids(id)
                .send()
                .await
                .map_err(|e| s.error("StopInstances", e))?;
            wait_until(p, client, &s, id, InstanceStateName::Stopped).await?;
            client
                .modify_instance_attribute()
                .instance_id(id)
                .instance_type(AttributeValue::builder().value(instance_type).build())
                .send()
                .await
                .map_err(|e| s.error("ModifyInstanceAttribute", e))?;
            client
                .start_instances()
                .instance_ids(id)
                .send()
                .await
                .map_err(|e| s.error("StartInstances", e))?;
            i = wait_until(p, client, &s, id, InstanceStateName::Running).await?;
        }
        if !groups.is_empty() && !same_set(&groups, &group_ids(&i)) {
            client
                .modify_instance_attribute()
                .instance_id(id)
                .set_groups(Some(groups))
                .send()
                .await
                .map_err(|e| s.error("ModifyInstanceAttribute", e))?;
        }
        if let Some(want) = &v.metadata_options {
            if MetadataOptions::from_sdk(i.metadata_options()) != *want {
                let o = want.to_sdk();
                client
                    .modify_instance_metadata_options()
                    .instance_id(id)
                    .set_http_tokens(o.http_tokens().cloned())
                    .set_http_put_response_hop_limit(o.http_put_response_hop_limit())
                    .set_http_endpoint(o.http_endpoint().cloned())
                    .send()
                    .await
                    .map_err(|e| s.error("ModifyInstanceMetadataOptions", e))?;
            }
        }
        tags::apply(client, &s, id, &tags::user_tags(i.tags()), &v.tags).await?;
        Ok(outputs(&i))
    }

    deletes_by!(Instance, ec2_client, terminate, aws);
}

/// Standard base64 with padding, as RunInstances takes user data.
pub(super) fn base64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_data_is_base64_encoded() {
        assert_eq!(base64(""), "");
        assert_eq!(base64("f"), "Zg==");
        assert_eq!(base64("fo"), "Zm8=");
        assert_eq!(base64("foo"), "Zm9v");
        assert_eq!(base64("#!/bin/sh\necho hi\n"), "IyEvYmluL3NoCmVjaG8gaGkK");
    }

    #[test]
    fn image_subnet_key_and_user_data_replace_the_instance() {
        assert_eq!(
            Instance::force_new_fields(),
            &["ami", "subnet_id", "key_name", "user_data", "block_devices"]
        );
    }
}
