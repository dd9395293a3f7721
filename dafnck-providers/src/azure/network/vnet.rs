//! [`VirtualNetwork`] (`azure:network:VirtualNetwork`) and [`Subnet`]
//! (`azure:network:Subnet`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use dafnck_core::prelude::*;
use dafnck_core::ProviderError;
use serde_json::{json, Value as Json};

use super::super::arm::Subject;
use super::super::resources::same_location;
use super::super::tracked::ArmType;
use super::super::{known, known_opt, user_tags, Azure, TOKEN_TAG};
use super::{group_of, group_scoped_id, observed_ref, ref_id, text, texts, NETWORK_API};

/// A virtual network.
///
/// - `name`, `resource_group`, `location`: changing any replaces it.
/// - `address_space`: its ranges (`10.0.0.0/16`); set in place.
/// - `tags`: the user's tags; set in place.
///
/// Its subnets are [`Subnet`] resources: an update keeps the subnets ARM
/// has (a virtual network's PUT replaces its subnet list).
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "azure:network:VirtualNetwork", outputs = VirtualNetworkOutputs)]
pub struct VirtualNetwork {
    /// Its name in the group.
    #[resource(force_new)]
    pub name: String,
    /// Its resource group (`group.out().name`).
    #[resource(force_new)]
    pub resource_group: Input<String>,
    /// Its region.
    #[resource(force_new)]
    pub location: String,
    /// Its address ranges.
    pub address_space: Vec<String>,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// What a [`VirtualNetwork`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct VirtualNetworkOutputs {
    /// Its ARM id (what a [`Subnet`] takes).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its resource group.
    pub resource_group: String,
}

#[async_trait]
impl ArmType for VirtualNetwork {
    const API_VERSION: &'static str = NETWORK_API;

    fn check(&self, who: Subject<'_>) -> Result<(), ProviderError> {
        if self.address_space.is_empty() {
            return Err(who.error("`address_space` is empty: give at least one range"));
        }
        Ok(())
    }

    fn arm_id(&self, cx: &Azure, who: Subject<'_>) -> Result<String, ProviderError> {
        group_scoped_id(
            cx,
            who,
            &self.resource_group,
            "Microsoft.Network",
            "virtualNetworks",
            &self.name,
        )
    }

    fn tags(&self) -> BTreeMap<String, String> {
        self.tags.clone()
    }

    fn body(&self, _who: Subject<'_>, existing: Option<&Json>) -> Result<Json, ProviderError> {
        let subnets = existing
            .map(|e| e["properties"]["subnets"].clone())
            .filter(Json::is_array)
            .unwrap_or_else(|| json!([]));
        Ok(json!({
            "location": self.location,
            "properties": {
                "addressSpace": { "addressPrefixes": self.address_space },
                "subnets": subnets,
            }
        }))
    }

    fn observed(found: &Json, declared: &Self) -> Self {
        VirtualNetwork {
            name: text(&found["name"]),
            resource_group: declared.resource_group.clone(),
            location: same_location(found, &declared.location),
            address_space: texts(&found["properties"]["addressSpace"]["addressPrefixes"]),
            tags: user_tags(found),
        }
    }

    fn outputs(found: &Json) -> VirtualNetworkOutputs {
        let id = text(&found["id"]);
        VirtualNetworkOutputs {
            resource_group: group_of(&id),
            name: text(&found["name"]),
            id,
        }
    }
}

/// A subnet of a [`VirtualNetwork`].
///
/// - `name`, `virtual_network_id`: changing either replaces it.
/// - `address_prefix`: its range, inside the network's; set in place (ARM
///   refuses while addresses are in use).
/// - `network_security_group_id`: an NSG for the whole subnet; set in place.
///
/// ARM keeps no tags on subnets: after a crashed create, a subnet of the
/// name in a virtual network this provider made (one with the
/// `dafnck:token` tag) is taken as the create's.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "azure:network:Subnet", outputs = SubnetOutputs)]
pub struct Subnet {
    /// Its name in the network.
    #[resource(force_new)]
    pub name: String,
    /// Its network (`vnet.out().id`).
    #[resource(force_new)]
    pub virtual_network_id: Input<String>,
    /// Its range (`10.0.1.0/24`).
    pub address_prefix: String,
    /// A network security group for the subnet (`nsg.out().id`).
    pub network_security_group_id: Option<Input<String>>,
}

/// What a [`Subnet`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct SubnetOutputs {
    /// Its ARM id (what a NIC or a scale set takes).
    pub id: String,
    /// Its name.
    pub name: String,
}

#[async_trait]
impl ArmType for Subnet {
    const API_VERSION: &'static str = NETWORK_API;
    const TAGGED: bool = false;

    fn check(&self, who: Subject<'_>) -> Result<(), ProviderError> {
        if self.address_prefix.is_empty() {
            return Err(who.error("`address_prefix` is empty"));
        }
        Ok(())
    }

    fn arm_id(&self, _cx: &Azure, who: Subject<'_>) -> Result<String, ProviderError> {
        let vnet = known(who, "virtual_network_id", &self.virtual_network_id)?;
        if self.name.is_empty() {
            return Err(who.error("`name` is empty"));
        }
        Ok(format!("{vnet}/subnets/{}", self.name))
    }

    fn body(&self, who: Subject<'_>, _existing: Option<&Json>) -> Result<Json, ProviderError> {
        let nsg = known_opt(
            who,
            "network_security_group_id",
            &self.network_security_group_id,
        )?;
        let mut props = json!({ "addressPrefix": self.address_prefix });
        if let Some(nsg) = nsg {
            props["networkSecurityGroup"] = json!({ "id": nsg });
        }
        Ok(json!({ "properties": props }))
    }

    fn observed(found: &Json, declared: &Self) -> Self {
        let p = &found["properties"];
        Subnet {
            name: text(&found["name"]),
            virtual_network_id: declared.virtual_network_id.clone(),
            address_prefix: p["addressPrefix"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| texts(&p["addressPrefixes"]).into_iter().next())
                .unwrap_or_default(),
            network_security_group_id: observed_ref(
                ref_id(&p["networkSecurityGroup"]),
                &declared.network_security_group_id,
            ),
        }
    }

    fn outputs(found: &Json) -> SubnetOutputs {
        SubnetOutputs {
            id: text(&found["id"]),
            name: text(&found["name"]),
        }
    }

    async fn ours_untagged(cx: &Azure, who: Subject<'_>, id: &str) -> Result<bool, ProviderError> {
        let vnet = id.rsplit_once("/subnets/").map(|(v, _)| v).unwrap_or(id);
        let found = cx.arm().await?.get(who, vnet, NETWORK_API).await?;
        Ok(found.is_some_and(|v| v["tags"][TOKEN_TAG].is_string()))
    }
}
