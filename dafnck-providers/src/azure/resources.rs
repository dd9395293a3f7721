//! [`ResourceGroup`] (`azure:resources:ResourceGroup`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use azure_core::Method;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::Kit;
use dafnck_core::ProviderError;
use serde_json::{json, Value as Json};

use super::arm::Subject;
use super::tracked::{ArmType, Handler};
use super::{user_tags, Azure};

pub(crate) const RESOURCES_API: &str = "2021-04-01";

/// A resource group: where every other resource lives.
///
/// - `name`, `location`: changing either replaces the group.
/// - `tags`: the user's tags; set in place.
///
/// Deleting it is refused while it holds any resource (the engine deletes
/// the children it manages first; one it does not manage is named in the
/// error instead of being deleted with the group).
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "azure:resources:ResourceGroup", outputs = ResourceGroupOutputs)]
pub struct ResourceGroup {
    /// Its name, unique in the subscription.
    #[resource(force_new)]
    pub name: String,
    /// Its region (`westeurope`).
    #[resource(force_new)]
    pub location: String,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// What a [`ResourceGroup`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct ResourceGroupOutputs {
    /// Its ARM id.
    pub id: String,
    /// Its name (what other resources take as `resource_group`).
    pub name: String,
    /// Its region.
    pub location: String,
}

#[async_trait]
impl ArmType for ResourceGroup {
    const API_VERSION: &'static str = RESOURCES_API;

    fn check(&self, who: Subject<'_>) -> Result<(), ProviderError> {
        if self.name.is_empty() || self.name.len() > 90 {
            return Err(who.error(format!("`name` {:?} must be 1 to 90 characters", self.name)));
        }
        if self.location.is_empty() {
            return Err(who.error("`location` is empty"));
        }
        Ok(())
    }

    fn arm_id(&self, cx: &Azure, _who: Subject<'_>) -> Result<String, ProviderError> {
        Ok(format!(
            "/subscriptions/{}/resourceGroups/{}",
            cx.subscription()?,
            self.name
        ))
    }

    fn tags(&self) -> BTreeMap<String, String> {
        self.tags.clone()
    }

    fn body(&self, _who: Subject<'_>, _existing: Option<&Json>) -> Result<Json, ProviderError> {
        Ok(json!({ "location": self.location }))
    }

    fn observed(found: &Json, declared: &Self) -> Self {
        ResourceGroup {
            name: found["name"].as_str().unwrap_or(&declared.name).to_owned(),
            location: same_location(found, &declared.location),
            tags: user_tags(found),
        }
    }

    fn outputs(found: &Json) -> ResourceGroupOutputs {
        ResourceGroupOutputs {
            id: found["id"].as_str().unwrap_or_default().to_owned(),
            name: found["name"].as_str().unwrap_or_default().to_owned(),
            location: found["location"].as_str().unwrap_or_default().to_owned(),
        }
    }

    async fn before_delete(cx: &Azure, who: Subject<'_>, id: &str) -> Result<(), ProviderError> {
        let arm = cx.arm().await?;
        let path = format!("{id}/resources");
        let listed = match arm
            .call(Method::Get, &path, Some(RESOURCES_API), None)
            .await
        {
            Ok(a) => a.body,
            Err(e) if super::arm::is_status(&e, azure_core::StatusCode::NotFound) => return Ok(()),
            Err(e) => return Err(who.arm_error(&format!("GET {path}"), &e)),
        };
        let left: Vec<&str> = listed["value"]
            .as_array()
            .map(|v| v.iter().filter_map(|r| r["id"].as_str()).collect())
            .unwrap_or_default();
        if left.is_empty() {
            Ok(())
        } else {
            Err(who.error(format!(
                "{id} still holds {} resource(s) ({}): the provider deletes a resource group only \
                 when empty, never its children with it",
                left.len(),
                left.join(", ")
            )))
        }
    }
}

/// The location `found` reports, kept as `declared` when they differ only
/// by letter case or spaces (`West Europe` is `westeurope`).
pub(crate) fn same_location(found: &Json, declared: &str) -> String {
    let norm = |s: &str| s.replace(' ', "").to_ascii_lowercase();
    match found["location"].as_str() {
        Some(l) if norm(l) == norm(declared) => declared.to_owned(),
        Some(l) => l.to_owned(),
        None => declared.to_owned(),
    }
}

pub(super) fn register(kit: Kit<Azure>) -> Kit<Azure> {
    kit.with(Handler::<ResourceGroup>::new())
}
