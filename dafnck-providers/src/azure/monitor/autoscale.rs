//! [`AutoscaleSetting`] (`azure:monitor:AutoscaleSetting`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use dafnck_core::prelude::*;
use dafnck_core::ProviderError;
use serde_json::{json, Value as Json};

use super::super::arm::Subject;
use super::super::network::{group_scoped_id, text};
use super::super::resources::same_location;
use super::super::tracked::ArmType;
use super::super::{known, user_tags, Azure};

const INSIGHTS_API: &str = "2022-10-01";

/// Scales a [`VirtualMachineScaleSet`](super::super::VirtualMachineScaleSet)
/// on its average CPU: one profile with two rules, out by `step` when the
/// average over `window` passes `cpu_scale_out_above`, in by `step` when
/// it drops under `cpu_scale_in_below`, each then waiting `cool_down`.
///
/// - `name`, `resource_group`, `location`: changing any replaces it.
/// - `target_id`: the scale set (`set.out().id`); changing it replaces it.
/// - everything else is set in place.
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "azure:monitor:AutoscaleSetting", outputs = AutoscaleSettingOutputs)]
pub struct AutoscaleSetting {
    /// Its name in the group.
    #[resource(force_new)]
    pub name: String,
    /// Its resource group.
    #[resource(force_new)]
    pub resource_group: Input<String>,
    /// Its region (the scale set's).
    #[resource(force_new)]
    pub location: String,
    /// The scale set it scales.
    #[resource(force_new)]
    pub target_id: Input<String>,
    /// Whether it acts.
    pub enabled: bool,
    /// The fewest machines.
    pub minimum: u32,
    /// The most machines.
    pub maximum: u32,
    /// The count when no metric is known.
    pub default: u32,
    /// Scale out above this average CPU percent (70).
    pub cpu_scale_out_above: f64,
    /// Scale in below this average CPU percent (30).
    pub cpu_scale_in_below: f64,
    /// Machines added or removed per action.
    pub step: u32,
    /// The averaging window (ISO 8601, `PT5M`).
    pub window: String,
    /// The wait after an action (ISO 8601, `PT5M`).
    pub cool_down: String,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

impl AutoscaleSetting {
    /// The seed's setting: 2..=100 machines, out above 70% CPU, in below
    /// 30%, one at a time, 5 minutes window and cool-down.
    pub fn cpu_70(
        name: impl Into<String>,
        resource_group: Input<String>,
        location: impl Into<String>,
        target_id: Input<String>,
    ) -> Self {
        AutoscaleSetting {
            name: name.into(),
            resource_group,
            location: location.into(),
            target_id,
            enabled: true,
            minimum: 2,
            maximum: 100,
            default: 2,
            cpu_scale_out_above: 70.0,
            cpu_scale_in_below: 30.0,
            step: 1,
            window: "PT5M".into(),
            cool_down: "PT5M".into(),
            tags: BTreeMap::new(),
        }
    }
}

/// What an [`AutoscaleSetting`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct AutoscaleSettingOutputs {
    /// Its ARM id.
    pub id: String,
}

fn rule(target: &str, s: &AutoscaleSetting, out: bool) -> Json {
    json!({
        "metricTrigger": {
            "metricName": "Percentage CPU",
            "metricNamespace": "microsoft.compute/virtualmachinescalesets",
            "metricResourceUri": target,
            "timeGrain": "PT1M",
            "statistic": "Average",
            "timeWindow": s.window,
            "timeAggregation": "Average",
            "operator": if out { "GreaterThan" } else { "LessThan" },
            "threshold": if out { s.cpu_scale_out_above } else { s.cpu_scale_in_below },
        },
        "scaleAction": {
            "direction": if out { "Increase" } else { "Decrease" },
            "type": "ChangeCount",
            "value": s.step.to_string(),
            "cooldown": s.cool_down,
        }
    })
}

fn count(j: &Json) -> u32 {
    j.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| j.as_u64().map(|v| v as u32))
        .unwrap_or_default()
}

#[async_trait]
impl ArmType for AutoscaleSetting {
    const API_VERSION: &'static str = INSIGHTS_API;

    fn check(&self, who: Subject<'_>) -> Result<(), ProviderError> {
        if self.minimum > self.maximum || !(self.minimum..=self.maximum).contains(&self.default) {
            return Err(who.error(format!(
                "`minimum` {} <= `default` {} <= `maximum` {} does not hold",
                self.minimum, self.default, self.maximum
            )));
        }
        if self.cpu_scale_in_below >= self.cpu_scale_out_above {
            return Err(who.error(format!(
                "`cpu_scale_in_below` {} must be under `cpu_scale_out_above` {} (or it flaps)",
                self.cpu_scale_in_below, self.cpu_scale_out_above
            )));
        }
        if self.step == 0 {
            return Err(who.error("`step` must be at least 1"));
        }
        for (field, v) in [("window", &self.window), ("cool_down", &self.cool_down)] {
            if !v.starts_with("PT") {
                return Err(who.error(format!(
                    "`{field}` {v:?} is not an ISO 8601 duration (`PT5M`)"
                )));
            }
        }
        Ok(())
    }

    fn arm_id(&self, cx: &Azure, who: Subject<'_>) -> Result<String, ProviderError> {
        group_scoped_id(
            cx,
            who,
            &self.resource_group,
            "Microsoft.Insights",
            "autoscalesettings",
            &self.name,
        )
    }

    fn tags(&self) -> BTreeMap<String, String> {
        self.tags.clone()
    }

    fn body(&self, who: Subject<'_>, _existing: Option<&Json>) -> Result<Json, ProviderError> {
        let target = known(who, "target_id", &self.target_id)?;
        Ok(json!({
            "location": self.location,
            "properties": {
                "name": self.name,
                "enabled": self.enabled,
                "targetResourceUri": target,
                "profiles": [{
                    "name": "cpu",
                    "capacity": {
                        "minimum": self.minimum.to_string(),
                        "maximum": self.maximum.to_string(),
                        "default": self.default.to_string(),
                    },
                    "rules": [rule(target, self, true), rule(target, self, false)],
                }],
            }
        }))
    }

    fn observed(found: &Json, declared: &Self) -> Self {
        let p = &found["properties"];
        let profile = &p["profiles"][0];
        let rules = profile["rules"].as_array().cloned().unwrap_or_default();
        let find = |dir: &str| {
            rules
                .iter()
                .find(|r| r["scaleAction"]["direction"].as_str() == Some(dir))
                .cloned()
                .unwrap_or(Json::Null)
        };
        let (out, inward) = (find("Increase"), find("Decrease"));
        let target = text(&p["targetResourceUri"]);
        AutoscaleSetting {
            name: text(&found["name"]),
            resource_group: declared.resource_group.clone(),
            location: same_location(found, &declared.location),
            target_id: if declared
                .target_id
                .as_value()
                .is_some_and(|d| d.eq_ignore_ascii_case(&target))
            {
                declared.target_id.clone()
            } else {
                target.into()
            },
            enabled: p["enabled"].as_bool().unwrap_or(true),
            minimum: count(&profile["capacity"]["minimum"]),
            maximum: count(&profile["capacity"]["maximum"]),
            default: count(&profile["capacity"]["default"]),
            cpu_scale_out_above: out["metricTrigger"]["threshold"]
                .as_f64()
                .unwrap_or_default(),
            cpu_scale_in_below: inward["metricTrigger"]["threshold"]
                .as_f64()
                .unwrap_or_default(),
            step: count(&out["scaleAction"]["value"]),
            window: text(&out["metricTrigger"]["timeWindow"]),
            cool_down: text(&out["scaleAction"]["cooldown"]),
            tags: user_tags(found),
        }
    }

    fn outputs(found: &Json) -> AutoscaleSettingOutputs {
        AutoscaleSettingOutputs {
            id: text(&found["id"]),
        }
    }
}
