//! [`VirtualMachineScaleSet`] (`azure:compute:VirtualMachineScaleSet`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use azure_mgmt_compute::package_2024_07_01::models;
use dafnck_core::prelude::*;
use dafnck_core::ProviderError;
use serde_json::{json, Value as Json};

use super::super::arm::{Arm, Subject};
use super::super::network::{group_scoped_id, observed_ref, observed_req, ref_id, text};
use super::super::resources::same_location;
use super::super::tracked::ArmType;
use super::super::{known, known_opt, user_tags, Azure};
use super::{group_and_name, model, settle, Image, LinuxLogin, COMPUTE_API};

/// A uniform scale set of Linux machines.
///
/// - `name`, `resource_group`, `location`, `login`: changing any replaces
///   the set.
/// - `size`, `image`, `custom_data`: the model of its machines; changing
///   them is an update of the model, which reaches the machines as the
///   `upgrade_policy` says. `Rolling`: ARM moves the machines batch by
///   batch (`max_batch_percent` at a time, each batch healthy by the
///   probe before the next), and the update waits until that rolling
///   upgrade has `Completed` (`Faulted` is an error with its progress).
/// - `capacity`: how many machines; set in place. An autoscale setting
///   changes it too: declare it in `ignore_changes` then.
/// - `subnet_id`, `backend_pool_id`, `health_probe_id`: where its machines
///   are, the load balancer pool they join and the probe that tells them
///   healthy (a `Rolling` upgrade needs one).
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "azure:compute:VirtualMachineScaleSet", outputs = VirtualMachineScaleSetOutputs)]
pub struct VirtualMachineScaleSet {
    /// Its name in the group.
    #[resource(force_new)]
    pub name: String,
    /// Its resource group.
    #[resource(force_new)]
    pub resource_group: Input<String>,
    /// Its region.
    #[resource(force_new)]
    pub location: String,
    /// Its machines' size.
    pub size: String,
    /// How many machines.
    pub capacity: u32,
    /// Its machines' image.
    pub image: Image,
    /// Its machines' administrator login.
    #[resource(force_new)]
    pub login: LinuxLogin,
    /// Cloud-init text run at each machine's first boot.
    pub custom_data: Option<String>,
    /// The subnet of its machines.
    pub subnet_id: Input<String>,
    /// A load balancer backend pool its machines join.
    pub backend_pool_id: Option<Input<String>>,
    /// The load balancer probe that tells a machine healthy
    /// (`lb.out().probe_id`); a `Rolling` upgrade needs it.
    pub health_probe_id: Option<Input<String>>,
    /// How model changes reach the machines.
    pub upgrade_policy: UpgradePolicy,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// How a scale set's model changes reach its machines.
#[derive(Declare, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(default)]
pub struct UpgradePolicy {
    /// `Manual` (the default), `Automatic` or `Rolling`.
    pub mode: String,
    /// Rolling: the most of the machines upgraded at once, in percent.
    pub max_batch_percent: Option<u32>,
    /// Rolling: the most unhealthy machines, in percent, before it stops.
    pub max_unhealthy_percent: Option<u32>,
    /// Rolling: the wait between batches (ISO 8601, `PT30S`).
    pub pause_between_batches: Option<String>,
}

/// What a [`VirtualMachineScaleSet`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct VirtualMachineScaleSetOutputs {
    /// Its ARM id (what an autoscale setting targets).
    pub id: String,
    /// Azure's unique id of the set.
    pub unique_id: String,
}

impl VirtualMachineScaleSet {
    fn mode(&self) -> &str {
        if self.upgrade_policy.mode.is_empty() {
            "Manual"
        } else {
            &self.upgrade_policy.mode
        }
    }
}

#[async_trait]
impl ArmType for VirtualMachineScaleSet {
    const API_VERSION: &'static str = COMPUTE_API;

    fn check(&self, who: Subject<'_>) -> Result<(), ProviderError> {
        if self.size.is_empty() {
            return Err(who.error("`size` is empty (for example \"Standard_B1s\")"));
        }
        if !["Manual", "Automatic", "Rolling"].contains(&self.mode()) {
            return Err(who.error(format!(
                "`upgrade_policy.mode` {:?} is not \"Manual\", \"Automatic\" or \"Rolling\"",
                self.upgrade_policy.mode
            )));
        }
        if self.mode() == "Rolling" && self.health_probe_id.is_none() {
            return Err(who.error(
                "`upgrade_policy.mode` \"Rolling\" needs `health_probe_id` (a load balancer \
                 probe): ARM judges each batch's health by it",
            ));
        }
        for (field, v) in [
            ("max_batch_percent", self.upgrade_policy.max_batch_percent),
            (
                "max_unhealthy_percent",
                self.upgrade_policy.max_unhealthy_percent,
            ),
        ] {
            if v.is_some_and(|v| !(5..=100).contains(&v)) {
                return Err(who.error(format!("`upgrade_policy.{field}` must be in 5..=100")));
            }
        }
        self.login.check(who)
    }

    fn arm_id(&self, cx: &Azure, who: Subject<'_>) -> Result<String, ProviderError> {
        group_scoped_id(
            cx,
            who,
            &self.resource_group,
            "Microsoft.Compute",
            "virtualMachineScaleSets",
            &self.name,
        )
    }

    fn tags(&self) -> BTreeMap<String, String> {
        self.tags.clone()
    }

    fn body(&self, who: Subject<'_>, _existing: Option<&Json>) -> Result<Json, ProviderError> {
        let subnet = known(who, "subnet_id", &self.subnet_id)?;
        let pool = known_opt(who, "backend_pool_id", &self.backend_pool_id)?;
        let probe = known_opt(who, "health_probe_id", &self.health_probe_id)?;
        let mut ipconfig = json!({
            "name": "ipconfig1",
            "properties": { "subnet": { "id": subnet }, "primary": true }
        });
        if let Some(pool) = pool {
            ipconfig["properties"]["loadBalancerBackendAddressPools"] = json!([{ "id": pool }]);
        }
        let mut policy = json!({ "mode": self.mode() });
        if self.mode() == "Rolling" {
            let u = &self.upgrade_policy;
            policy["rollingUpgradePolicy"] = json!({
                "maxBatchInstancePercent": u.max_batch_percent.unwrap_or(20),
                "maxUnhealthyInstancePercent": u.max_unhealthy_percent.unwrap_or(20),
                "maxUnhealthyUpgradedInstancePercent": u.max_unhealthy_percent.unwrap_or(20),
                "pauseTimeBetweenBatches": u.pause_between_batches.clone().unwrap_or_else(|| "PT0S".into()),
            });
        }
        let mut network = json!({
            "networkInterfaceConfigurations": [{
                "name": "nic",
                "properties": { "primary": true, "ipConfigurations": [ipconfig] }
            }]
        });
        if let Some(probe) = probe {
            network["healthProbe"] = json!({ "id": probe });
        }
        Ok(json!({
            "location": self.location,
            "sku": { "name": self.size, "tier": "Standard", "capacity": self.capacity },
            "properties": {
                "upgradePolicy": policy,
                "virtualMachineProfile": {
                    "osProfile": self.login.os_profile("computerNamePrefix", &self.name, self.custom_data.as_deref()),
                    "storageProfile": {
                        "imageReference": self.image.json(),
                        "osDisk": {
                            "createOption": "FromImage",
                            "managedDisk": { "storageAccountType": "Standard_LRS" },
                        },
                    },
                    "networkProfile": network,
                },
            }
        }))
    }

    fn observed(found: &Json, declared: &Self) -> Self {
        let p = &found["properties"];
        let profile = &p["virtualMachineProfile"];
        let ipconfig = &profile["networkProfile"]["networkInterfaceConfigurations"][0]
            ["properties"]["ipConfigurations"][0]["properties"];
        let policy = &p["upgradePolicy"];
        let rolling = &policy["rollingUpgradePolicy"];
        let mode = text(&policy["mode"]);
        let is_rolling = mode == "Rolling";
        let percent = |j: &Json| {
            if is_rolling {
                j.as_u64().map(|v| v as u32)
            } else {
                None
            }
        };
        VirtualMachineScaleSet {
            name: text(&found["name"]),
            resource_group: declared.resource_group.clone(),
            location: same_location(found, &declared.location),
            size: text(&found["sku"]["name"]),
            capacity: found["sku"]["capacity"].as_u64().unwrap_or_default() as u32,
            image: Image::from_json(&profile["storageProfile"]["imageReference"]),
            login: LinuxLogin::observed(&profile["osProfile"], &declared.login),
            custom_data: declared.custom_data.clone(),
            subnet_id: observed_req(ref_id(&ipconfig["subnet"]), &declared.subnet_id),
            backend_pool_id: observed_ref(
                ref_id(&ipconfig["loadBalancerBackendAddressPools"][0]),
                &declared.backend_pool_id,
            ),
            health_probe_id: observed_ref(
                ref_id(&profile["networkProfile"]["healthProbe"]),
                &declared.health_probe_id,
            ),
            upgrade_policy: UpgradePolicy {
                mode: if declared.upgrade_policy.mode.is_empty() && mode == "Manual" {
                    String::new()
                } else {
                    mode
                },
                max_batch_percent: percent(&rolling["maxBatchInstancePercent"])
                    .filter(|_| declared.upgrade_policy.max_batch_percent.is_some()),
                max_unhealthy_percent: percent(&rolling["maxUnhealthyInstancePercent"])
                    .filter(|_| declared.upgrade_policy.max_unhealthy_percent.is_some()),
                pause_between_batches: rolling["pauseTimeBetweenBatches"]
                    .as_str()
                    .filter(|_| {
                        is_rolling && declared.upgrade_policy.pause_between_batches.is_some()
                    })
                    .map(str::to_owned),
            },
            tags: user_tags(found),
        }
    }

    fn outputs(found: &Json) -> VirtualMachineScaleSetOutputs {
        VirtualMachineScaleSetOutputs {
            id: text(&found["id"]),
            unique_id: text(&found["properties"]["uniqueId"]),
        }
    }

    async fn write(
        cx: &Azure,
        who: Subject<'_>,
        id: &str,
        body: &Json,
    ) -> Result<Json, ProviderError> {
        let set: models::VirtualMachineScaleSet = model(who, body)?;
        let (group, name) = group_and_name(id);
        let sent = cx
            .compute()
            .await?
            .virtual_machine_scale_sets_client()
            .create_or_update(group, name, set, cx.subscription()?)
            .send()
            .await
            .map(azure_core::Response::from);
        let found = settle(cx, who, id, sent).await?;
        if body["properties"]["upgradePolicy"]["mode"] == "Rolling" {
            wait_for_rolling_upgrade(cx.arm().await?, who, id).await?;
        }
        Ok(found)
    }
}

/// Waits until the set's latest rolling upgrade (ARM moving its machines
/// to the new model, batch by batch) ends: `Completed` is done, `Faulted`
/// or `Cancelled` an error with the progress; no upgrade at all (404) is
/// done.
async fn wait_for_rolling_upgrade(
    arm: &Arm,
    who: Subject<'_>,
    id: &str,
) -> Result<(), ProviderError> {
    let path = format!("{id}/rollingUpgrades/latest");
    let started = std::time::Instant::now();
    loop {
        let Some(status) = arm.get(who, &path, COMPUTE_API).await? else {
            return Ok(());
        };
        let p = &status["properties"];
        let code = p["runningStatus"]["code"]
            .as_str()
            .unwrap_or("RollingForward");
        match code {
            "Completed" => return Ok(()),
            "Faulted" | "Cancelled" => {
                return Err(who.error(format!(
                    "the rolling upgrade of {id} ended {code}: {} machine(s) upgraded, {} failed, \
                     {} pending{}",
                    p["progress"]["successfulInstanceCount"],
                    p["progress"]["failedInstanceCount"],
                    p["progress"]["pendingInstanceCount"],
                    p["error"]["message"]
                        .as_str()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                )))
            }
            _ if started.elapsed() > ROLLING_LIMIT => {
                return Err(ProviderError::retryable(format!(
                    "{} {:?}: the rolling upgrade of {id} is still {code} after {ROLLING_LIMIT:?}",
                    who.ty, who.name
                )))
            }
            _ => tokio::time::sleep(arm.poll_interval()).await,
        }
    }
}

/// How long a rolling upgrade may take before the update gives up.
const ROLLING_LIMIT: std::time::Duration = std::time::Duration::from_secs(60 * 60);
