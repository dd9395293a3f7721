//! `Microsoft.Network` types, through ARM REST (api-version 2024-03-01,
//! the one `azure_mgmt_network` 0.21 sends): [`VirtualNetwork`],
//! [`Subnet`], [`NetworkSecurityGroup`], [`PublicIp`],
//! [`NetworkInterface`], [`LoadBalancer`].

mod lb;
mod nic;
mod nsg;
mod public_ip;
mod vnet;

pub use lb::*;
pub use nic::*;
pub use nsg::*;
pub use public_ip::*;
pub use vnet::*;

use dafnck_core::prelude::Input;
use dafnck_core::provider::kit::Kit;
use dafnck_core::ProviderError;
use serde_json::Value as Json;

use super::arm::Subject;
use super::tracked::Handler;
use super::{known, Azure};

pub(crate) const NETWORK_API: &str = "2024-03-01";

/// The id of `kind` (`virtualNetworks`) `name` of provider `namespace` in
/// group `group`.
pub(crate) fn group_scoped_id(
    cx: &Azure,
    who: Subject<'_>,
    group: &Input<String>,
    namespace: &str,
    kind: &str,
    name: &str,
) -> Result<String, ProviderError> {
    let group = known(who, "resource_group", group)?;
    if name.is_empty() {
        return Err(who.error("`name` is empty"));
    }
    Ok(format!(
        "/subscriptions/{}/resourceGroups/{group}/providers/{namespace}/{kind}/{name}",
        cx.subscription()?
    ))
}

/// The resource group named in an ARM id (`.../resourceGroups/<rg>/...`).
pub(crate) fn group_of(id: &str) -> String {
    let parts: Vec<&str> = id.split('/').collect();
    parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("resourceGroups"))
        .and_then(|i| parts.get(i + 1))
        .map(|s| (*s).to_owned())
        .unwrap_or_default()
}

/// `{"id": id}` when `id` is given.
pub(crate) fn id_ref(id: Option<&str>) -> Json {
    match id {
        Some(id) => serde_json::json!({ "id": id }),
        None => Json::Null,
    }
}

/// The id a reference field of `found` holds (`{"id": ...}`).
pub(crate) fn ref_id(found: &Json) -> Option<String> {
    found["id"].as_str().map(str::to_owned)
}

/// A string field.
pub(crate) fn text(j: &Json) -> String {
    j.as_str().unwrap_or_default().to_owned()
}

/// A list of strings.
pub(crate) fn texts(j: &Json) -> Vec<String> {
    j.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// An optional reference: the id ARM reports, as the declared input when
/// it names the same resource (ids compare without case).
pub(crate) fn observed_ref(
    found: Option<String>,
    declared: &Option<Input<String>>,
) -> Option<Input<String>> {
    match (found, declared) {
        (None, _) => None,
        (Some(f), Some(d)) if d.as_value().is_some_and(|d| d.eq_ignore_ascii_case(&f)) => {
            Some(d.clone())
        }
        (Some(f), _) => Some(f.into()),
    }
}

/// A reference: as [`observed_ref`], for a required one.
pub(crate) fn observed_req(found: Option<String>, declared: &Input<String>) -> Input<String> {
    observed_ref(found, &Some(declared.clone())).unwrap_or_default()
}

pub(super) fn register(kit: Kit<Azure>) -> Kit<Azure> {
    kit.with(Handler::<VirtualNetwork>::new())
        .with(Handler::<Subnet>::new())
        .with(Handler::<NetworkSecurityGroup>::new())
        .with(Handler::<PublicIp>::new())
        .with(Handler::<NetworkInterface>::new())
        .with(Handler::<LoadBalancer>::new())
}
