//! What an [`Instance`](super::Instance) declares about its metadata
//! service ([`MetadataOptions`]) and its EBS volumes ([`BlockDevice`]), and
//! how each goes to and comes back from EC2.

use std::collections::HashMap;

use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, HttpTokensState, InstanceMetadataEndpointState,
    InstanceMetadataOptionsRequest, InstanceMetadataOptionsResponse, VolumeType,
};
use aws_sdk_ec2::Client;
use dafnck_core::prelude::*;

use super::super::error::{AwsError, Subject};

/// Whether the instance metadata service (IMDS) wants a session token.
#[derive(Declare, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HttpTokens {
    /// IMDSv2 only: every request carries a session token (the default
    /// here, and what CIS AWS 5.6 asks for).
    #[default]
    Required,
    /// IMDSv1 too: requests without a token are answered (AWS's default
    /// for most AMIs).
    Optional,
}

impl HttpTokens {
    fn to_sdk(self) -> HttpTokensState {
        match self {
            Self::Required => HttpTokensState::Required,
            Self::Optional => HttpTokensState::Optional,
        }
    }
}

/// The instance metadata service settings of an
/// [`Instance`](super::Instance). The default is IMDSv2 only, hop limit 1,
/// endpoint on.
#[derive(Declare, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default)]
pub struct MetadataOptions {
    /// Whether requests need a session token (IMDSv2).
    pub http_tokens: HttpTokens,
    /// How many network hops a token response may travel (1..=64; 2 lets
    /// a container on the instance reach it).
    pub http_put_response_hop_limit: i32,
    /// Whether the metadata endpoint answers at all.
    pub http_endpoint: bool,
}

impl Default for MetadataOptions {
    fn default() -> Self {
        Self {
            http_tokens: HttpTokens::Required,
            http_put_response_hop_limit: 1,
            http_endpoint: true,
        }
    }
}

impl MetadataOptions {
    /// Whether the metadata service answers requests without a token.
    pub fn allows_imds_v1(&self) -> bool {
        self.http_endpoint && self.http_tokens == HttpTokens::Optional
    }

    /// The options as RunInstances and ModifyInstanceMetadataOptions take
    /// them.
    pub(super) fn to_sdk(&self) -> InstanceMetadataOptionsRequest {
        InstanceMetadataOptionsRequest::builder()
            .http_tokens(self.http_tokens.to_sdk())
            .http_put_response_hop_limit(self.http_put_response_hop_limit)
            .http_endpoint(endpoint(self.http_endpoint))
            .build()
    }

    /// The options EC2 reports (AWS's defaults for what it leaves out).
    pub(super) fn from_sdk(found: Option<&InstanceMetadataOptionsResponse>) -> Self {
        let found = found
            .cloned()
            .unwrap_or_else(|| InstanceMetadataOptionsResponse::builder().build());
        Self {
            http_tokens: match found.http_tokens() {
                Some(HttpTokensState::Required) => HttpTokens::Required,
                _ => HttpTokens::Optional,
            },
            http_put_response_hop_limit: found.http_put_response_hop_limit().unwrap_or(1),
            http_endpoint: found.http_endpoint() != Some(&InstanceMetadataEndpointState::Disabled),
        }
    }

    /// The bad value among the options, if any.
    pub(super) fn check(&self, s: &Subject<'_>) -> Result<(), AwsError> {
        if !(1..=64).contains(&self.http_put_response_hop_limit) {
            return Err(s.invalid(format!(
                "metadata_options.http_put_response_hop_limit is {}: it must be 1 to 64",
                self.http_put_response_hop_limit
            )));
        }
        Ok(())
    }
}

fn endpoint(on: bool) -> InstanceMetadataEndpointState {
    if on {
        InstanceMetadataEndpointState::Enabled
    } else {
        InstanceMetadataEndpointState::Disabled
    }
}

/// An EBS volume made with an [`Instance`](super::Instance), at launch.
/// Name the AMI's root device (`/dev/xvda` on Amazon Linux, `/dev/sda1` on
/// Ubuntu) to set the root volume; any other name adds a volume.
#[derive(Declare, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default)]
pub struct BlockDevice {
    /// Where it is attached (`/dev/xvda`, `/dev/sdf`).
    pub device_name: String,
    /// Its size in GiB; `None`: the snapshot's (the AMI's, for the root).
    pub volume_size: Option<i32>,
    /// Its type (`gp3`, `gp2`, `io2`, `st1`, ...); `None`: EC2's default.
    pub volume_type: Option<String>,
    /// Whether it is encrypted. `false` leaves it to the snapshot and the
    /// account's "EBS encryption by default" setting (a volume found
    /// encrypted anyway reads as drift).
    pub encrypted: bool,
    /// The KMS key that encrypts it (id, ARN or alias); `None`: the account's
    /// default EBS key. Only with `encrypted`.
    pub kms_key_id: Option<String>,
    /// Whether terminating the instance deletes it (default `true`).
    pub delete_on_termination: bool,
}

impl Default for BlockDevice {
    fn default() -> Self {
        Self {
            device_name: String::new(),
            volume_size: None,
            volume_type: None,
            encrypted: false,
            kms_key_id: None,
            delete_on_termination: true,
        }
    }
}

impl BlockDevice {
    /// The mapping RunInstances takes.
    pub(super) fn to_sdk(&self) -> BlockDeviceMapping {
        BlockDeviceMapping::builder()
            .device_name(&self.device_name)
            .ebs(
                EbsBlockDevice::builder()
                    .set_volume_size(self.volume_size)
                    .set_volume_type(self.volume_type.as_deref().map(VolumeType::from))
                    // Only `true` is sent: `false` is the account's default.
                    .set_encrypted(self.encrypted.then_some(true))
                    .set_kms_key_id(self.kms_key_id.clone())
                    .delete_on_termination(self.delete_on_termination)
                    .build(),
            )
            .build()
    }
}

/// Checks the declared devices: each named once, a key only when encrypted.
pub(super) fn check_devices(s: &Subject<'_>, devices: &[BlockDevice]) -> Result<(), AwsError> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, d) in devices.iter().enumerate() {
        if d.device_name.trim().is_empty() {
            return Err(s.invalid(format!(
                "block_devices[{i}].device_name is empty: name the device (/dev/xvda, /dev/sdf, ...)"
            )));
        }
        if !seen.insert(d.device_name.as_str()) {
            return Err(s.invalid(format!(
                "block_devices[{i}]: device {} is declared twice",
                d.device_name
            )));
        }
        if d.kms_key_id.is_some() && !d.encrypted {
            return Err(s.invalid(format!(
                "block_devices[{i}] ({}) names a kms_key_id but is not encrypted: set encrypted = true",
                d.device_name
            )));
        }
    }
    Ok(())
}

/// A volume as DescribeVolumes reports it.
pub(super) struct FoundVolume {
    size: Option<i32>,
    volume_type: Option<String>,
    encrypted: bool,
    kms_key_id: Option<String>,
}

/// The volumes `ids`, by id, in one DescribeVolumes (none asked: no call).
pub(super) async fn volumes(
    client: &Client,
    s: &Subject<'_>,
    ids: Vec<String>,
) -> Result<HashMap<String, FoundVolume>, AwsError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let filter = aws_sdk_ec2::types::Filter::builder()
        .name("volume-id")
        .set_values(Some(ids))
        .build();
    let mut pages = client
        .describe_volumes()
        .filters(filter)
        .into_paginator()
        .send();
    let mut found = HashMap::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| s.error("DescribeVolumes", e))?;
        for v in page.volumes() {
            let Some(id) = v.volume_id() else { continue };
            found.insert(
                id.to_owned(),
                FoundVolume {
                    size: v.size(),
                    volume_type: v.volume_type().map(|t| t.as_str().to_owned()),
                    encrypted: v.encrypted().unwrap_or(false),
                    kms_key_id: v.kms_key_id().map(str::to_owned),
                },
            );
        }
    }
    Ok(found)
}

/// The ids of the EBS volumes attached to instance `i`.
pub(super) fn volume_ids(i: &aws_sdk_ec2::types::Instance) -> Vec<String> {
    i.block_device_mappings()
        .iter()
        .filter_map(|m| m.ebs().and_then(|e| e.volume_id()).map(str::to_owned))
        .collect()
}

/// The declared devices as found on instance `i` (with its `volumes`), in
/// the declared order; a declared device no longer attached is left out.
/// What was left to EC2 (`None` size, type or key) stays `None`, and a key
/// found as the ARN of the declared id or alias keeps the declared form.
pub(super) fn observed_devices(
    declared: &[BlockDevice],
    i: &aws_sdk_ec2::types::Instance,
    volumes: &HashMap<String, FoundVolume>,
) -> Vec<BlockDevice> {
    declared
        .iter()
        .filter_map(|d| {
            let mapping = i
                .block_device_mappings()
                .iter()
                .find(|m| m.device_name() == Some(d.device_name.as_str()))?;
            let ebs = mapping.ebs()?;
            let v = ebs.volume_id().and_then(|id| volumes.get(id))?;
            Some(BlockDevice {
                device_name: d.device_name.clone(),
                volume_size: d.volume_size.and(v.size),
                volume_type: d.volume_type.as_ref().and(v.volume_type.clone()),
                encrypted: v.encrypted,
                kms_key_id: match (&d.kms_key_id, &v.kms_key_id) {
                    (Some(want), Some(got)) if got == want || got.ends_with(want.as_str()) => {
                        Some(want.clone())
                    }
                    (Some(_), got) => got.clone(),
                    (None, _) => None,
                },
                delete_on_termination: ebs.delete_on_termination().unwrap_or(false),
            })
        })
        .collect()
}
