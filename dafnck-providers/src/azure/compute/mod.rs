//! `Microsoft.Compute` types through `azure_mgmt_compute` 0.21 (package
//! 2024-07-01): [`VirtualMachine`] and [`VirtualMachineScaleSet`].
//!
//! Their PUTs go through the crate's clients with its models (the body is
//! checked against the models when it is built); the long-running
//! operation each PUT starts is then polled by the provider (the crate's
//! own wait re-sends the PUT until the state is terminal and reports a
//! failure without ARM's reason).

mod vm;
mod vmss;

pub use vm::*;
pub use vmss::*;

use base64ct::{Base64, Encoding};
use dafnck_core::provider::kit::Kit;
use dafnck_core::{ProviderError, Secret};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use super::arm::{Answer, Subject};
use super::tracked::Handler;
use super::Azure;

pub(crate) const COMPUTE_API: &str = "2024-07-01";

/// A marketplace image.
#[derive(
    dafnck_core::prelude::Declare, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq,
)]
#[serde(default)]
pub struct Image {
    /// `Canonical`.
    pub publisher: String,
    /// `ubuntu-24_04-lts`.
    pub offer: String,
    /// `server`.
    pub sku: String,
    /// `latest` or a version.
    pub version: String,
}

impl Image {
    /// Ubuntu Server 24.04 LTS, latest.
    pub fn ubuntu_2404() -> Self {
        Image {
            publisher: "Canonical".into(),
            offer: "ubuntu-24_04-lts".into(),
            sku: "server".into(),
            version: "latest".into(),
        }
    }

    fn json(&self) -> Json {
        json!({
            "publisher": self.publisher,
            "offer": self.offer,
            "sku": self.sku,
            "version": self.version,
        })
    }

    fn from_json(j: &Json) -> Self {
        Image {
            publisher: super::network::text(&j["publisher"]),
            offer: super::network::text(&j["offer"]),
            sku: super::network::text(&j["sku"]),
            version: super::network::text(&j["version"]),
        }
    }
}

/// How a Linux machine is logged into: a user and an SSH key or a
/// password.
#[derive(dafnck_core::prelude::Declare, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct LinuxLogin {
    /// The administrator's user name.
    pub admin_username: String,
    /// An SSH public key (`ssh-ed25519 ...`) for the user; with it,
    /// password login is disabled.
    pub ssh_public_key: Option<String>,
    /// A password (kept secret in the state).
    pub admin_password: Option<Secret<String>>,
}

impl LinuxLogin {
    fn check(&self, who: Subject<'_>) -> Result<(), ProviderError> {
        if self.admin_username.is_empty() {
            return Err(who.error("`login.admin_username` is empty"));
        }
        if self.ssh_public_key.is_none() && self.admin_password.is_none() {
            return Err(
                who.error("`login` has neither `ssh_public_key` nor `admin_password`: give one")
            );
        }
        Ok(())
    }

    /// The `osProfile` part, with the machine name `computer_name` (or the
    /// prefix of a scale set's).
    fn os_profile(&self, name_field: &str, computer_name: &str, custom_data: Option<&str>) -> Json {
        let mut linux = json!({ "disablePasswordAuthentication": self.admin_password.is_none() });
        if let Some(key) = &self.ssh_public_key {
            linux["ssh"] = json!({ "publicKeys": [{
                "path": format!("/home/{}/.ssh/authorized_keys", self.admin_username),
                "keyData": key,
            }] });
        }
        let mut p = json!({
            name_field: computer_name,
            "adminUsername": self.admin_username,
            "linuxConfiguration": linux,
        });
        if let Some(pw) = &self.admin_password {
            p["adminPassword"] = json!(pw.expose());
        }
        if let Some(data) = custom_data {
            p["customData"] = json!(Base64::encode_string(data.as_bytes()));
        }
        p
    }

    /// The login ARM reports (it never returns the password or custom
    /// data: those stay as declared).
    fn observed(p: &Json, declared: &LinuxLogin) -> LinuxLogin {
        LinuxLogin {
            admin_username: super::network::text(&p["adminUsername"]),
            ssh_public_key: p["linuxConfiguration"]["ssh"]["publicKeys"][0]["keyData"]
                .as_str()
                .map(str::to_owned),
            admin_password: declared.admin_password.clone(),
        }
    }
}

/// `body` as the crate's model `M`: a body the models cannot hold is an
/// error naming the resource.
pub(crate) fn model<M: DeserializeOwned>(
    who: Subject<'_>,
    body: &Json,
) -> Result<M, ProviderError> {
    serde_json::from_value(body.clone()).map_err(|e| {
        who.error(format!(
            "the request body does not fit the compute API's model: {e}"
        ))
    })
}

/// After a compute client's PUT `sent` to `id`: its operation polled and
/// the object read until its provisioning state is terminal.
pub(crate) async fn settle(
    cx: &Azure,
    who: Subject<'_>,
    id: &str,
    sent: azure_core::Result<azure_core::Response>,
) -> Result<Json, ProviderError> {
    let what = format!("PUT {id}");
    let rsp = sent.map_err(|e| who.arm_error(&what, &e))?;
    let (status, headers, body) = rsp.deconstruct();
    let bytes = body.collect().await.map_err(|e| who.arm_error(&what, &e))?;
    let answer = Answer {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Json::Null),
    };
    cx.arm().await?.settle(who, id, COMPUTE_API, &answer).await
}

/// The resource group and name of an ARM id
/// (`.../resourceGroups/<rg>/providers/<ns>/<kind>/<name>`).
pub(crate) fn group_and_name(id: &str) -> (String, String) {
    (
        super::network::group_of(id),
        id.rsplit('/').next().unwrap_or_default().to_owned(),
    )
}

pub(super) fn register(kit: Kit<Azure>) -> Kit<Azure> {
    kit.with(Handler::<VirtualMachine>::new())
        .with(Handler::<VirtualMachineScaleSet>::new())
}
