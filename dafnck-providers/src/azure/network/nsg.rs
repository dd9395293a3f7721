//! [`NetworkSecurityGroup`] (`azure:network:NetworkSecurityGroup`) and its
//! [`SecurityRule`]s.

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

/// A network security group: its rules inline (ARM replaces them with
/// the group's PUT, so the rules declared are all the rules it has).
///
/// - `name`, `resource_group`, `location`: changing any replaces it.
/// - `rules`: set in place; a rule someone adds out of band is drift.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "azure:network:NetworkSecurityGroup", outputs = NetworkSecurityGroupOutputs)]
pub struct NetworkSecurityGroup {
    /// Its name in the group.
    #[resource(force_new)]
    pub name: String,
    /// Its resource group.
    #[resource(force_new)]
    pub resource_group: Input<String>,
    /// Its region.
    #[resource(force_new)]
    pub location: String,
    /// Its rules.
    pub rules: Vec<SecurityRule>,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// One rule of a [`NetworkSecurityGroup`].
#[derive(Declare, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(default)]
pub struct SecurityRule {
    /// Its name, unique in the group.
    pub name: String,
    /// 100..=4096; lower is checked first.
    pub priority: u32,
    /// `Inbound` or `Outbound`.
    pub direction: String,
    /// `Allow` or `Deny`.
    pub access: String,
    /// `Tcp`, `Udp`, `Icmp` or `*`.
    pub protocol: String,
    /// Source addresses (`*`, `Internet`, a range).
    pub source_address_prefix: String,
    /// Source ports (`*`, `80`, `1000-2000`).
    pub source_port_range: String,
    /// Destination addresses.
    pub destination_address_prefix: String,
    /// Destination ports.
    pub destination_port_range: String,
}

impl SecurityRule {
    /// An inbound rule allowing TCP from anywhere to `port`.
    pub fn allow_tcp_in(name: impl Into<String>, priority: u32, port: u16) -> Self {
        SecurityRule {
            name: name.into(),
            priority,
            direction: "Inbound".into(),
            access: "Allow".into(),
            protocol: "Tcp".into(),
            source_address_prefix: "*".into(),
            source_port_range: "*".into(),
            destination_address_prefix: "*".into(),
            destination_port_range: port.to_string(),
        }
    }
}

/// What a [`NetworkSecurityGroup`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct NetworkSecurityGroupOutputs {
    /// Its ARM id.
    pub id: String,
}

#[async_trait]
impl ArmType for NetworkSecurityGroup {
    const API_VERSION: &'static str = NETWORK_API;

    fn check(&self, who: Subject<'_>) -> Result<(), ProviderError> {
        let mut seen = std::collections::BTreeSet::new();
        for r in &self.rules {
            if !(100..=4096).contains(&r.priority) {
                return Err(who.error(format!(
                    "rule {:?}: `priority` {} is not in 100..=4096",
                    r.name, r.priority
                )));
            }
            if !seen.insert((r.direction.to_ascii_lowercase(), r.priority)) {
                return Err(who.error(format!(
                    "rule {:?}: another {} rule has priority {}",
                    r.name, r.direction, r.priority
                )));
            }
            for (field, value, allowed) in [
                ("direction", &r.direction, &["Inbound", "Outbound"][..]),
                ("access", &r.access, &["Allow", "Deny"][..]),
                (
                    "protocol",
                    &r.protocol,
                    &["Tcp", "Udp", "Icmp", "Esp", "Ah", "*"][..],
                ),
            ] {
                if !allowed.contains(&value.as_str()) {
                    return Err(who.error(format!(
                        "rule {:?}: `{field}` {value:?} is not one of {allowed:?}",
                        r.name
                    )));
                }
            }
        }
        Ok(())
    }

    fn arm_id(&self, cx: &Azure, who: Subject<'_>) -> Result<String, ProviderError> {
        group_scoped_id(
            cx,
            who,
            &self.resource_group,
            "Microsoft.Network",
            "networkSecurityGroups",
            &self.name,
        )
    }

    fn tags(&self) -> BTreeMap<String, String> {
        self.tags.clone()
    }

    fn body(&self, _who: Subject<'_>, _existing: Option<&Json>) -> Result<Json, ProviderError> {
        let rules: Vec<Json> = self
            .rules
            .iter()
            .map(|r| {
                json!({
                    "name": r.name,
                    "properties": {
                        "priority": r.priority,
                        "direction": r.direction,
                        "access": r.access,
                        "protocol": r.protocol,
                        "sourceAddressPrefix": r.source_address_prefix,
                        "sourcePortRange": r.source_port_range,
                        "destinationAddressPrefix": r.destination_address_prefix,
                        "destinationPortRange": r.destination_port_range,
                    }
                })
            })
            .collect();
        Ok(json!({ "location": self.location, "properties": { "securityRules": rules } }))
    }

    fn observed(found: &Json, declared: &Self) -> Self {
        let rules = found["properties"]["securityRules"]
            .as_array()
            .map(|rules| {
                rules
                    .iter()
                    .map(|r| {
                        let p = &r["properties"];
                        SecurityRule {
                            name: text(&r["name"]),
                            priority: p["priority"].as_u64().unwrap_or_default() as u32,
                            direction: text(&p["direction"]),
                            access: text(&p["access"]),
                            protocol: text(&p["protocol"]),
                            source_address_prefix: text(&p["sourceAddressPrefix"]),
                            source_port_range: text(&p["sourcePortRange"]),
                            destination_address_prefix: text(&p["destinationAddressPrefix"]),
                            destination_port_range: text(&p["destinationPortRange"]),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        NetworkSecurityGroup {
            name: text(&found["name"]),
            resource_group: declared.resource_group.clone(),
            location: same_location(found, &declared.location),
            rules,
            tags: user_tags(found),
        }
    }

    fn outputs(found: &Json) -> NetworkSecurityGroupOutputs {
        NetworkSecurityGroupOutputs {
            id: text(&found["id"]),
        }
    }
}
