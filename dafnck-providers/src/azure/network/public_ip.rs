//! [`PublicIp`] (`azure:network:PublicIp`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use dafnck_core::prelude::*;
use dafnck_core::ProviderError;
use serde_json::{json, Value as Json};

use super::super::arm::Subject;
use super::super::resources::same_location;
use super::super::tracked::ArmType;
use super::super::{user_tags, Azure};
use super::{group_scoped_id, text, NETWORK_API};

/// A public IPv4 address.
///
/// - `name`, `resource_group`, `location`, `sku` (`Standard`, the
///   default, or `Basic`): changing any replaces it. A `Standard` address
///   is always `Static`.
/// - `domain_label`: a DNS label (`<label>.<region>.cloudapp.azure.com`);
///   set in place.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "azure:network:PublicIp", outputs = PublicIpOutputs)]
pub struct PublicIp {
    /// Its name in the group.
    #[resource(force_new)]
    pub name: String,
    /// Its resource group.
    #[resource(force_new)]
    pub resource_group: Input<String>,
    /// Its region.
    #[resource(force_new)]
    pub location: String,
    /// `Standard` (`None`: `Standard`) or `Basic`.
    #[resource(force_new)]
    pub sku: Option<String>,
    /// A DNS label.
    pub domain_label: Option<String>,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// What a [`PublicIp`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct PublicIpOutputs {
    /// Its ARM id.
    pub id: String,
    /// The address.
    pub ip_address: String,
    /// Its DNS name, when it has a label.
    pub fqdn: String,
}

impl PublicIp {
    fn sku_name(&self) -> &str {
        self.sku.as_deref().unwrap_or("Standard")
    }
}

#[async_trait]
impl ArmType for PublicIp {
    const API_VERSION: &'static str = NETWORK_API;

    fn check(&self, who: Subject<'_>) -> Result<(), ProviderError> {
        match self.sku_name() {
            "Standard" | "Basic" => Ok(()),
            other => Err(who.error(format!("`sku` {other:?} is not \"Standard\" or \"Basic\""))),
        }
    }

    fn arm_id(&self, cx: &Azure, who: Subject<'_>) -> Result<String, ProviderError> {
        group_scoped_id(
            cx,
            who,
            &self.resource_group,
            "Microsoft.Network",
            "publicIPAddresses",
            &self.name,
        )
    }

    fn tags(&self) -> BTreeMap<String, String> {
        self.tags.clone()
    }

    fn body(&self, _who: Subject<'_>, _existing: Option<&Json>) -> Result<Json, ProviderError> {
        let mut props = json!({
            "publicIPAllocationMethod": "Static",
            "publicIPAddressVersion": "IPv4",
        });
        if let Some(label) = &self.domain_label {
            props["dnsSettings"] = json!({ "domainNameLabel": label });
        }
        Ok(json!({
            "location": self.location,
            "sku": { "name": self.sku_name() },
            "properties": props,
        }))
    }

    fn observed(found: &Json, declared: &Self) -> Self {
        let sku = found["sku"]["name"].as_str().map(str::to_owned);
        PublicIp {
            name: text(&found["name"]),
            resource_group: declared.resource_group.clone(),
            location: same_location(found, &declared.location),
            sku: match (&declared.sku, sku) {
                (None, Some(s)) if s == "Standard" => None,
                (_, s) => s,
            },
            domain_label: found["properties"]["dnsSettings"]["domainNameLabel"]
                .as_str()
                .map(str::to_owned),
            tags: user_tags(found),
        }
    }

    fn outputs(found: &Json) -> PublicIpOutputs {
        let p = &found["properties"];
        PublicIpOutputs {
            id: text(&found["id"]),
            ip_address: text(&p["ipAddress"]),
            fqdn: text(&p["dnsSettings"]["fqdn"]),
        }
    }
}
