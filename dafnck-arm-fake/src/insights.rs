//! `Microsoft.Insights` (api-version 2022-10-01): autoscale settings.
//!
//! Their writes are synchronous. The target (`targetResourceUri`) must
//! exist; profiles' capacities must be integers with
//! `minimum <= default <= maximum`; rules need a metric trigger and a
//! scale action with known enum values and ISO 8601 durations. When the
//! setting is enabled and targets a scale set, the fake does what
//! autoscale does first: it brings the scale set's capacity within the
//! first profile's bounds. No metrics exist here, so no rule ever fires.

use crate::error::ArmError;
use crate::ids::{self, key};
use crate::ops::OpKind;
use crate::store::State;
use serde_json::{json, Value};

fn capacity(v: &Value, field: &str, name: &str) -> Result<i64, ArmError> {
    v.as_str()
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|n| (0..=1000).contains(n))
        .ok_or_else(|| ArmError::invalid_parameter(field, format!("Autoscale setting {name}: {field} is {v}; it must be a string holding an integer 0-1000.")))
}

fn enum_of(v: &Value, field: &str, allowed: &[&str], name: &str) -> Result<(), ArmError> {
    match v.as_str() {
        Some(s) if allowed.contains(&s) => Ok(()),
        _ => Err(ArmError::invalid_parameter(
            field,
            format!(
                "Autoscale setting {name}: {field} is {v}; it must be one of {}.",
                allowed.join(", ")
            ),
        )),
    }
}

fn duration(v: &Value, field: &str, name: &str) -> Result<(), ArmError> {
    match v.as_str() {
        Some(s) if s.starts_with('P') && s.len() > 2 => Ok(()),
        _ => Err(ArmError::invalid_parameter(field, format!("Autoscale setting {name}: {field} is {v}; it must be an ISO 8601 duration such as PT5M."))),
    }
}

/// Validation and defaults of a write (see [`crate::hooks::prepare`]).
pub fn prepare(state: &mut State, id: &str, body: &mut Value) -> Result<(), ArmError> {
    let name = ids::name_of(id).to_string();
    let p = &mut body["properties"];
    if p["name"].is_null() {
        p["name"] = json!(name);
    }
    if p["enabled"].is_null() {
        p["enabled"] = json!(false);
    }
    let target = p["targetResourceUri"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if target.is_empty() || !state.resolves(&target, &[]) {
        return Err(ArmError::new(
            400,
            "TargetResourceNotFound",
            format!("Autoscale setting {name}: the target resource '{target}' was not found."),
        )
        .with_target("properties.targetResourceUri"));
    }
    let profiles = p["profiles"].as_array().cloned().unwrap_or_default();
    if profiles.is_empty() || profiles.len() > 20 {
        return Err(ArmError::invalid_parameter(
            "properties.profiles",
            format!("Autoscale setting {name}: between 1 and 20 profiles are required."),
        ));
    }
    for (i, pr) in profiles.iter().enumerate() {
        let at = format!("properties.profiles[{i}]");
        let min = capacity(
            &pr["capacity"]["minimum"],
            &format!("{at}.capacity.minimum"),
            &name,
        )?;
        let max = capacity(
            &pr["capacity"]["maximum"],
            &format!("{at}.capacity.maximum"),
            &name,
        )?;
        let def = capacity(
            &pr["capacity"]["default"],
            &format!("{at}.capacity.default"),
            &name,
        )?;
        if !(min <= def && def <= max) {
            return Err(ArmError::invalid_parameter(
                &format!("{at}.capacity"),
                format!("Autoscale setting {name}: the capacity must satisfy minimum ({min}) <= default ({def}) <= maximum ({max})."),
            ));
        }
        let rules = pr["rules"].as_array().cloned().unwrap_or_default();
        if rules.len() > 10 {
            return Err(ArmError::invalid_parameter(
                &format!("{at}.rules"),
                format!("Autoscale setting {name}: at most 10 rules per profile."),
            ));
        }
        for (j, r) in rules.iter().enumerate() {
            let at = format!("{at}.rules[{j}]");
            let t = &r["metricTrigger"];
            if t["metricName"].as_str().is_none_or(str::is_empty) {
                return Err(ArmError::invalid_parameter(
                    &format!("{at}.metricTrigger.metricName"),
                    format!("Autoscale setting {name}: a rule needs a metric name."),
                ));
            }
            enum_of(
                &t["statistic"],
                &format!("{at}.metricTrigger.statistic"),
                &["Average", "Min", "Max", "Sum", "Count"],
                &name,
            )?;
            enum_of(
                &t["timeAggregation"],
                &format!("{at}.metricTrigger.timeAggregation"),
                &["Average", "Minimum", "Maximum", "Total", "Count", "Last"],
                &name,
            )?;
            enum_of(
                &t["operator"],
                &format!("{at}.metricTrigger.operator"),
                &[
                    "Equals",
                    "NotEquals",
                    "GreaterThan",
                    "GreaterThanOrEqual",
                    "LessThan",
                    "LessThanOrEqual",
                ],
                &name,
            )?;
            duration(
                &t["timeGrain"],
                &format!("{at}.metricTrigger.timeGrain"),
                &name,
            )?;
            duration(
                &t["timeWindow"],
                &format!("{at}.metricTrigger.timeWindow"),
                &name,
            )?;
            if !t["threshold"].is_number() {
                return Err(ArmError::invalid_parameter(
                    &format!("{at}.metricTrigger.threshold"),
                    format!("Autoscale setting {name}: threshold must be a number."),
                ));
            }
            let a = &r["scaleAction"];
            enum_of(
                &a["direction"],
                &format!("{at}.scaleAction.direction"),
                &["None", "Increase", "Decrease"],
                &name,
            )?;
            enum_of(
                &a["type"],
                &format!("{at}.scaleAction.type"),
                &[
                    "ChangeCount",
                    "PercentChangeCount",
                    "ExactCount",
                    "ServiceAllowedNextValue",
                ],
                &name,
            )?;
            duration(&a["cooldown"], &format!("{at}.scaleAction.cooldown"), &name)?;
            if a["value"]
                .as_str()
                .and_then(|v| v.parse::<i64>().ok())
                .is_none()
            {
                return Err(ArmError::invalid_parameter(&format!("{at}.scaleAction.value"), format!("Autoscale setting {name}: scaleAction.value must be a string holding an integer.")));
            }
        }
    }
    Ok(())
}

/// An enabled setting brings its scale set within its first profile's
/// bounds (see the module docs).
pub fn completed(state: &mut State, k: &str) {
    let Some(r) = state.resources.get(k) else {
        return;
    };
    if r.body["properties"]["enabled"] != true {
        return;
    }
    let target = key(r.body["properties"]["targetResourceUri"]
        .as_str()
        .unwrap_or_default());
    let cap = &r.body["properties"]["profiles"][0]["capacity"];
    let bound = |f: &str| {
        cap[f]
            .as_str()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (min, max) = (bound("minimum"), bound("maximum"));
    let Some(vmss) = state
        .resources
        .get_mut(&target)
        .filter(|t| t.def.path == "virtualMachineScaleSets")
    else {
        return;
    };
    let now = vmss.body["sku"]["capacity"].as_u64().unwrap_or(0);
    let want = now.clamp(min, max);
    if want != now {
        vmss.body["sku"]["capacity"] = json!(want);
        crate::compute::completed(state, &target, OpKind::Put);
    }
}
