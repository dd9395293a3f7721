//! [`LoadBalancer`] (`azure:network:LoadBalancer`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use dafnck_core::prelude::*;
use dafnck_core::ProviderError;
use serde_json::{json, Value as Json};

use super::super::arm::Subject;
use super::super::resources::same_location;
use super::super::tracked::ArmType;
use super::super::{known, user_tags, Azure};
use super::{group_scoped_id, observed_req, ref_id, text, NETWORK_API};

/// A public Standard load balancer for one web service: a frontend on
/// `public_ip_id`, one backend pool (`backend`, what a scale set joins), an
/// HTTP probe, and one TCP rule from `frontend_port` to `backend_port`.
///
/// - `name`, `resource_group`, `location`: changing any replaces it.
/// - `public_ip_id`, ports and the probe: set in place.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "azure:network:LoadBalancer", outputs = LoadBalancerOutputs)]
pub struct LoadBalancer {
    /// Its name in the group.
    #[resource(force_new)]
    pub name: String,
    /// Its resource group.
    #[resource(force_new)]
    pub resource_group: Input<String>,
    /// Its region.
    #[resource(force_new)]
    pub location: String,
    /// The frontend's public IP (a `Standard` one).
    pub public_ip_id: Input<String>,
    /// The port it listens on (80).
    pub frontend_port: u16,
    /// The port of the backends (80).
    pub backend_port: u16,
    /// The HTTP path the probe asks (`None`: a TCP probe).
    pub probe_path: Option<String>,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// What a [`LoadBalancer`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct LoadBalancerOutputs {
    /// Its ARM id.
    pub id: String,
    /// Its backend pool's id (what a scale set's `backend_pool_id` takes).
    pub backend_pool_id: String,
    /// Its probe's id (what a rolling upgrade's health check takes).
    pub probe_id: String,
}

#[async_trait]
impl ArmType for LoadBalancer {
    const API_VERSION: &'static str = NETWORK_API;

    fn check(&self, who: Subject<'_>) -> Result<(), ProviderError> {
        if self.frontend_port == 0 || self.backend_port == 0 {
            return Err(who.error("`frontend_port` and `backend_port` must not be 0"));
        }
        Ok(())
    }

    fn arm_id(&self, cx: &Azure, who: Subject<'_>) -> Result<String, ProviderError> {
        group_scoped_id(
            cx,
            who,
            &self.resource_group,
            "Microsoft.Network",
            "loadBalancers",
            &self.name,
        )
    }

    fn tags(&self) -> BTreeMap<String, String> {
        self.tags.clone()
    }

    fn body(&self, who: Subject<'_>, _existing: Option<&Json>) -> Result<Json, ProviderError> {
        let ip = known(who, "public_ip_id", &self.public_ip_id)?;
        // Sub-resources point at each other by id: the load balancer's own.
        let group = known(who, "resource_group", &self.resource_group)?;
        let me = format!(
            "/subscriptions/{{sub}}/resourceGroups/{group}/providers/Microsoft.Network/loadBalancers/{}",
            self.name
        );
        let sub = ip
            .split('/')
            .nth(2)
            .ok_or_else(|| who.error(format!("`public_ip_id` {ip:?} is not an ARM id")))?;
        let me = me.replace("{sub}", sub);
        let mut probe = json!({
            "name": "probe",
            "properties": {
                "protocol": "Tcp",
                "port": self.backend_port,
                "intervalInSeconds": 5,
                "numberOfProbes": 2,
            }
        });
        if let Some(path) = &self.probe_path {
            probe["properties"]["protocol"] = json!("Http");
            probe["properties"]["requestPath"] = json!(path);
        }
        Ok(json!({
            "location": self.location,
            "sku": { "name": "Standard" },
            "properties": {
                "frontendIPConfigurations": [{
                    "name": "frontend",
                    "properties": { "publicIPAddress": { "id": ip } }
                }],
                "backendAddressPools": [{ "name": "backend" }],
                "probes": [probe],
                "loadBalancingRules": [{
                    "name": "web",
                    "properties": {
                        "frontendIPConfiguration": { "id": format!("{me}/frontendIPConfigurations/frontend") },
                        "backendAddressPool": { "id": format!("{me}/backendAddressPools/backend") },
                        "probe": { "id": format!("{me}/probes/probe") },
                        "protocol": "Tcp",
                        "frontendPort": self.frontend_port,
                        "backendPort": self.backend_port,
                    }
                }],
            }
        }))
    }

    fn observed(found: &Json, declared: &Self) -> Self {
        let p = &found["properties"];
        let rule = &p["loadBalancingRules"][0]["properties"];
        let probe = &p["probes"][0]["properties"];
        let port = |j: &Json| j.as_u64().unwrap_or_default() as u16;
        LoadBalancer {
            name: text(&found["name"]),
            resource_group: declared.resource_group.clone(),
            location: same_location(found, &declared.location),
            public_ip_id: observed_req(
                ref_id(&p["frontendIPConfigurations"][0]["properties"]["publicIPAddress"]),
                &declared.public_ip_id,
            ),
            frontend_port: port(&rule["frontendPort"]),
            backend_port: port(&rule["backendPort"]),
            probe_path: probe["requestPath"].as_str().map(str::to_owned),
            tags: user_tags(found),
        }
    }

    fn outputs(found: &Json) -> LoadBalancerOutputs {
        let p = &found["properties"];
        LoadBalancerOutputs {
            id: text(&found["id"]),
            backend_pool_id: text(&p["backendAddressPools"][0]["id"]),
            probe_id: text(&p["probes"][0]["id"]),
        }
    }
}
