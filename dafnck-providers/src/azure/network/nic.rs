//! [`NetworkInterface`] (`azure:network:NetworkInterface`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use dafnck_core::prelude::*;
use dafnck_core::ProviderError;
use serde_json::{json, Value as Json};

use super::super::arm::Subject;
use super::super::resources::same_location;
use super::super::tracked::ArmType;
use super::super::{known, known_opt, user_tags, Azure};
use super::{group_scoped_id, id_ref, observed_ref, observed_req, ref_id, text, NETWORK_API};

/// A network interface with one IP configuration (`ipconfig1`): a
/// dynamic private address in `subnet_id`, and optionally a public IP and
/// a network security group.
///
/// - `name`, `resource_group`, `location`: changing any replaces it.
/// - `subnet_id`, `public_ip_id`, `network_security_group_id`: set in
///   place.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "azure:network:NetworkInterface", outputs = NetworkInterfaceOutputs)]
pub struct NetworkInterface {
    /// Its name in the group.
    #[resource(force_new)]
    pub name: String,
    /// Its resource group.
    #[resource(force_new)]
    pub resource_group: Input<String>,
    /// Its region.
    #[resource(force_new)]
    pub location: String,
    /// Its subnet (`subnet.out().id`).
    pub subnet_id: Input<String>,
    /// A public IP (`ip.out().id`).
    pub public_ip_id: Option<Input<String>>,
    /// A network security group (`nsg.out().id`).
    pub network_security_group_id: Option<Input<String>>,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// What a [`NetworkInterface`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct NetworkInterfaceOutputs {
    /// Its ARM id (what a virtual machine takes).
    pub id: String,
    /// Its private address.
    pub private_ip: String,
}

#[async_trait]
impl ArmType for NetworkInterface {
    const API_VERSION: &'static str = NETWORK_API;

    fn arm_id(&self, cx: &Azure, who: Subject<'_>) -> Result<String, ProviderError> {
        group_scoped_id(
            cx,
            who,
            &self.resource_group,
            "Microsoft.Network",
            "networkInterfaces",
            &self.name,
        )
    }

    fn tags(&self) -> BTreeMap<String, String> {
        self.tags.clone()
    }

    fn body(&self, who: Subject<'_>, _existing: Option<&Json>) -> Result<Json, ProviderError> {
        let subnet = known(who, "subnet_id", &self.subnet_id)?;
        let public_ip = known_opt(who, "public_ip_id", &self.public_ip_id)?;
        let nsg = known_opt(
            who,
            "network_security_group_id",
            &self.network_security_group_id,
        )?;
        let mut ipconfig = json!({
            "name": "ipconfig1",
            "properties": {
                "subnet": { "id": subnet },
                "privateIPAllocationMethod": "Dynamic",
                "primary": true,
            }
        });
        if public_ip.is_some() {
            ipconfig["properties"]["publicIPAddress"] = id_ref(public_ip);
        }
        let mut props = json!({ "ipConfigurations": [ipconfig] });
        if nsg.is_some() {
            props["networkSecurityGroup"] = id_ref(nsg);
        }
        Ok(json!({ "location": self.location, "properties": props }))
    }

    fn observed(found: &Json, declared: &Self) -> Self {
        let p = &found["properties"];
        let ipconfig = &p["ipConfigurations"][0]["properties"];
        NetworkInterface {
            name: text(&found["name"]),
            resource_group: declared.resource_group.clone(),
            location: same_location(found, &declared.location),
            subnet_id: observed_req(ref_id(&ipconfig["subnet"]), &declared.subnet_id),
            public_ip_id: observed_ref(
                ref_id(&ipconfig["publicIPAddress"]),
                &declared.public_ip_id,
            ),
            network_security_group_id: observed_ref(
                ref_id(&p["networkSecurityGroup"]),
                &declared.network_security_group_id,
            ),
            tags: user_tags(found),
        }
    }

    fn outputs(found: &Json) -> NetworkInterfaceOutputs {
        NetworkInterfaceOutputs {
            id: text(&found["id"]),
            private_ip: text(
                &found["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"],
            ),
        }
    }
}
