//! [`VirtualMachine`] (`azure:compute:VirtualMachine`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use azure_mgmt_compute::package_2024_07_01::models;
use dafnck_core::prelude::*;
use dafnck_core::ProviderError;
use serde_json::{json, Value as Json};

use super::super::arm::Subject;
use super::super::network::{group_scoped_id, observed_req, ref_id, text};
use super::super::resources::same_location;
use super::super::tracked::ArmType;
use super::super::{known, user_tags, Azure};
use super::{group_and_name, model, settle, Image, LinuxLogin, COMPUTE_API};

/// A Linux virtual machine on one network interface, with a managed OS
/// disk deleted with it.
///
/// - `name`, `resource_group`, `location`, `image`, `login`,
///   `custom_data`: changing any replaces the machine (ARM cannot change
///   them in place).
/// - `size` (`Standard_B1s`): set in place (ARM restarts the machine).
/// - `network_interface_id`: changing it replaces the machine.
/// - `custom_data`: cloud-init text, sent base64-encoded; ARM never returns
///   it, so it is not watched for drift.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "azure:compute:VirtualMachine", outputs = VirtualMachineOutputs)]
pub struct VirtualMachine {
    /// Its name in the group (also its host name).
    #[resource(force_new)]
    pub name: String,
    /// Its resource group.
    #[resource(force_new)]
    pub resource_group: Input<String>,
    /// Its region.
    #[resource(force_new)]
    pub location: String,
    /// Its size (`Standard_B1s`).
    pub size: String,
    /// Its image.
    #[resource(force_new)]
    pub image: Image,
    /// Its administrator login.
    #[resource(force_new)]
    pub login: LinuxLogin,
    /// Cloud-init text run at first boot.
    #[resource(force_new)]
    pub custom_data: Option<String>,
    /// Its network interface (`nic.out().id`).
    #[resource(force_new)]
    pub network_interface_id: Input<String>,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// What a [`VirtualMachine`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct VirtualMachineOutputs {
    /// Its ARM id.
    pub id: String,
    /// Azure's unique id of the machine.
    pub vm_id: String,
}

#[async_trait]
impl ArmType for VirtualMachine {
    const API_VERSION: &'static str = COMPUTE_API;

    fn check(&self, who: Subject<'_>) -> Result<(), ProviderError> {
        if self.size.is_empty() {
            return Err(who.error("`size` is empty (for example \"Standard_B1s\")"));
        }
        self.login.check(who)
    }

    fn arm_id(&self, cx: &Azure, who: Subject<'_>) -> Result<String, ProviderError> {
        group_scoped_id(
            cx,
            who,
            &self.resource_group,
            "Microsoft.Compute",
            "virtualMachines",
            &self.name,
        )
    }

    fn tags(&self) -> BTreeMap<String, String> {
        self.tags.clone()
    }

    fn body(&self, who: Subject<'_>, _existing: Option<&Json>) -> Result<Json, ProviderError> {
        let nic = known(who, "network_interface_id", &self.network_interface_id)?;
        Ok(json!({
            "location": self.location,
            "properties": {
                "hardwareProfile": { "vmSize": self.size },
                "storageProfile": {
                    "imageReference": self.image.json(),
                    "osDisk": {
                        "createOption": "FromImage",
                        "deleteOption": "Delete",
                        "managedDisk": { "storageAccountType": "Standard_LRS" },
                    },
                },
                "osProfile": self.login.os_profile("computerName", &self.name, self.custom_data.as_deref()),
                "networkProfile": {
                    "networkInterfaces": [{ "id": nic, "properties": { "primary": true } }],
                },
            }
        }))
    }

    fn observed(found: &Json, declared: &Self) -> Self {
        let p = &found["properties"];
        VirtualMachine {
            name: text(&found["name"]),
            resource_group: declared.resource_group.clone(),
            location: same_location(found, &declared.location),
            size: text(&p["hardwareProfile"]["vmSize"]),
            image: Image::from_json(&p["storageProfile"]["imageReference"]),
            login: LinuxLogin::observed(&p["osProfile"], &declared.login),
            custom_data: declared.custom_data.clone(),
            network_interface_id: observed_req(
                ref_id(&p["networkProfile"]["networkInterfaces"][0]),
                &declared.network_interface_id,
            ),
            tags: user_tags(found),
        }
    }

    fn outputs(found: &Json) -> VirtualMachineOutputs {
        VirtualMachineOutputs {
            id: text(&found["id"]),
            vm_id: text(&found["properties"]["vmId"]),
        }
    }

    async fn write(
        cx: &Azure,
        who: Subject<'_>,
        id: &str,
        body: &Json,
    ) -> Result<Json, ProviderError> {
        let vm: models::VirtualMachine = model(who, body)?;
        let (group, name) = group_and_name(id);
        let sent = cx
            .compute()
            .await?
            .virtual_machines_client()
            .create_or_update(group, name, vm, cx.subscription()?)
            .send()
            .await
            .map(azure_core::Response::from);
        settle(cx, who, id, sent).await
    }
}
