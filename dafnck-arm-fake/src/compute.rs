//! `Microsoft.Compute` (api-version 2024-07-01): virtual machines and
//! virtual machine scale sets.
//!
//! A scale set holds `sku.capacity` instances. Each write that changes its
//! `virtualMachineProfile` makes a new model; an instance's
//! `latestModelApplied` says whether it runs the latest. How instances get
//! there follows `upgradePolicy.mode`: `Automatic` at once when the write
//! completes; `Rolling` batch by batch
//! (`rollingUpgradePolicy.maxBatchInstancePercent`, default 20%, one batch
//! per `pauseTimeBetweenBatches` or per provisioning delay, whichever is
//! longer), reported by `rollingUpgrades/latest`; `Manual` (the default)
//! only through `POST .../manualupgrade` with `instanceIds` (the SDK's
//! `update_instances`), a long-running operation. Scale-out adds instances
//! on the latest model; scale-in removes the highest instance ids.
//!
//! Secrets (`adminPassword`) and `customData` are never shown, as ARM.

use crate::error::ArmError;
use crate::ids::{self, key};
use crate::ops::{now_rfc3339, OpKind};
use crate::store::{Ctx, Reply, Resource, State};
use crate::types::TypeDef;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// One instance of a scale set.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Instance id (`0`, `1`, ...).
    pub id: u32,
    /// The model version it runs.
    pub model: u64,
    /// Its VM id.
    pub vm_id: String,
}

/// A rolling upgrade's progress.
#[derive(Debug, Clone)]
pub struct Rolling {
    /// When the next batch goes.
    pub next_at: Instant,
    /// Time between batches.
    pub every: Duration,
    /// Instances per batch.
    pub batch: usize,
    /// `RollingForward` or `Completed`.
    pub code: &'static str,
    /// RFC 3339.
    pub start_time: String,
    /// RFC 3339, once completed.
    pub end_time: Option<String>,
}

/// A scale set's instances and models.
#[derive(Debug, Clone, Default)]
pub struct ScaleSet {
    /// The latest model version.
    pub model: u64,
    /// The `virtualMachineProfile` the latest model was made from.
    pub profile: Value,
    /// Instances by id.
    pub instances: Vec<Instance>,
    /// The next instance id.
    pub next_id: u32,
    /// The last rolling upgrade.
    pub rolling: Option<Rolling>,
    /// Instance ids a `manualupgrade` operation will upgrade, by operation.
    pub pending: Vec<(String, Vec<u32>)>,
}

impl ScaleSet {
    fn outdated(&self) -> usize {
        self.instances
            .iter()
            .filter(|i| i.model != self.model)
            .count()
    }
}

fn required<'a>(body: &'a Value, path: &[&str], what: &str) -> Result<&'a Value, ArmError> {
    let v = path.iter().fold(body, |v, p| &v[*p]);
    if v.is_null() {
        return Err(ArmError::invalid_parameter(
            &path.join("."),
            format!("{what}: {} is required.", path.join(".")),
        ));
    }
    Ok(v)
}

fn is_base64(s: &str) -> bool {
    s.len().is_multiple_of(4)
        && s.trim_end_matches('=')
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Checks an `osProfile` at `at` (`properties.osProfile` or
/// `properties.virtualMachineProfile.osProfile`), carrying the secrets of
/// `previous` (what GET hid) over.
fn os_profile(
    body: &mut Value,
    at: &[&str],
    previous: Option<&Value>,
    what: &str,
) -> Result<(), ArmError> {
    let field = at.join(".");
    let mut os = at.iter().fold(&*body, |v, p| &v[*p]).clone();
    if os.is_null() {
        return Err(ArmError::invalid_parameter(
            &field,
            format!("{what}: {field} is required."),
        ));
    }
    if let Some(prev) = previous {
        for (name, immutable) in [
            ("adminUsername", true),
            ("computerName", true),
            ("computerNamePrefix", true),
            ("adminPassword", false),
            ("customData", false),
        ] {
            match (os.get(name), prev.get(name)) {
                (None, Some(p)) => os[name] = p.clone(),
                (Some(n), Some(p)) if immutable && n != p => {
                    return Err(ArmError::conflict(
                        "PropertyChangeNotAllowed",
                        format!("Changing property '{field}.{name}' is not allowed."),
                    )
                    .with_target(format!("{field}.{name}")))
                }
                _ => {}
            }
        }
    }
    if os["adminUsername"].as_str().is_none_or(str::is_empty) {
        return Err(ArmError::invalid_parameter(
            &format!("{field}.adminUsername"),
            format!("{what}: {field}.adminUsername is required."),
        ));
    }
    if let Some(cd) = os["customData"].as_str() {
        if !is_base64(cd) {
            return Err(ArmError::invalid_parameter(&format!("{field}.customData"), "Custom data in OSProfile must be in Base64 encoding and with a maximum length of 87380 characters."));
        }
    }
    let linux = &os["linuxConfiguration"];
    if linux["disablePasswordAuthentication"] == true {
        let keys = linux["ssh"]["publicKeys"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if keys.is_empty()
            || keys.iter().any(|k| {
                !k["keyData"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("ssh-") || d.starts_with("ecdsa-"))
            })
        {
            return Err(ArmError::invalid_parameter(
                &format!("{field}.linuxConfiguration.ssh.publicKeys"),
                format!("{what}: password authentication is disabled, so at least one SSH public key (keyData in OpenSSH format) is required."),
            ));
        }
    } else {
        let pw = os["adminPassword"].as_str().unwrap_or_default();
        let classes = [
            pw.chars().any(|c| c.is_ascii_lowercase()),
            pw.chars().any(|c| c.is_ascii_uppercase()),
            pw.chars().any(|c| c.is_ascii_digit()),
            pw.chars().any(|c| !c.is_ascii_alphanumeric()),
        ];
        if !(6..=72).contains(&pw.len()) || classes.iter().filter(|c| **c).count() < 3 {
            return Err(ArmError::invalid_parameter(
                &format!("{field}.adminPassword"),
                "The supplied password must be between 6-72 characters long and must satisfy at least 3 of password complexity requirements from the following: 1) Contains an uppercase character 2) Contains a lowercase character 3) Contains a numeric digit 4) Contains a special character 5) Control characters are not allowed",
            ));
        }
    }
    let mut target = &mut *body;
    for p in at {
        target = &mut target[*p];
    }
    *target = os;
    Ok(())
}

/// Validation and defaults of a write (see [`crate::hooks::prepare`]).
pub fn prepare(
    state: &mut State,
    def: &TypeDef,
    id: &str,
    body: &mut Value,
    existing: Option<&Value>,
) -> Result<(), ArmError> {
    let name = ids::name_of(id).to_string();
    let keep = |body: &mut Value, field: &str, make: &mut dyn FnMut() -> String| {
        let v = existing
            .and_then(|e| e["properties"][field].as_str().map(String::from))
            .unwrap_or_else(&mut *make);
        body["properties"][field] = json!(v);
    };
    keep(body, "timeCreated", &mut now_rfc3339);
    match def.path {
        "virtualMachines" => {
            let what = format!("Virtual machine {name}");
            keep(body, "vmId", &mut || state.guid());
            required(body, &["properties", "hardwareProfile", "vmSize"], &what)?;
            required(body, &["properties", "storageProfile"], &what)?;
            if body["properties"]["storageProfile"]["osDisk"]["createOption"] != "Attach" {
                required(
                    body,
                    &["properties", "storageProfile", "imageReference"],
                    &what,
                )?;
                let prev = existing.map(|e| e["properties"]["osProfile"].clone());
                os_profile(body, &["properties", "osProfile"], prev.as_ref(), &what)?;
            }
            let linux = body["properties"]["osProfile"]["linuxConfiguration"].is_object();
            if body["properties"]["osProfile"].is_object()
                && body["properties"]["osProfile"]["secrets"].is_null()
            {
                body["properties"]["osProfile"]["secrets"] = json!([]);
            }
            if body["properties"]["storageProfile"]["dataDisks"].is_null() {
                body["properties"]["storageProfile"]["dataDisks"] = json!([]);
            }
            let disk = &mut body["properties"]["storageProfile"]["osDisk"];
            if disk["createOption"].is_null() {
                disk["createOption"] = json!("FromImage");
            }
            if disk["osType"].is_null() {
                disk["osType"] = json!(if linux { "Linux" } else { "Windows" });
            }
            if disk["name"].is_null() {
                disk["name"] = json!(format!("{name}_OsDisk_1"));
            }
            let nics = body["properties"]["networkProfile"]["networkInterfaces"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if nics.is_empty() {
                return Err(ArmError::invalid_parameter(
                    "properties.networkProfile.networkInterfaces",
                    format!("{what}: at least one network interface is required."),
                ));
            }
            for n in &nics {
                let nic = n["id"].as_str().unwrap_or_default();
                let other = state
                    .resources
                    .values()
                    .filter(|r| r.def.path == "virtualMachines" && key(&r.id) != key(id))
                    .find(|r| {
                        r.body["properties"]["networkProfile"]["networkInterfaces"]
                            .as_array()
                            .is_some_and(|a| {
                                a.iter()
                                    .any(|x| x["id"].as_str().map(key) == Some(key(nic)))
                            })
                    });
                if let Some(other) = other {
                    return Err(ArmError::conflict("NicInUse", format!("Network interface {nic} is used by virtual machine {} and cannot be attached to {id}.", other.id))
                        .with_target("properties.networkProfile.networkInterfaces"));
                }
            }
        }
        "virtualMachineScaleSets" => {
            let what = format!("Virtual machine scale set {name}");
            keep(body, "uniqueId", &mut || state.guid());
            required(body, &["sku", "name"], &what)?;
            match body["sku"]["capacity"].as_i64() {
                None => {
                    body["sku"]["capacity"] = json!(existing
                        .and_then(|e| e["sku"]["capacity"].as_i64())
                        .unwrap_or(0))
                }
                Some(c) if (0..=1000).contains(&c) => {}
                Some(c) => {
                    return Err(ArmError::invalid_parameter(
                        "sku.capacity",
                        format!("{what}: sku.capacity is {c}; it must be between 0 and 1000."),
                    ))
                }
            }
            if body["properties"]["upgradePolicy"]["mode"].is_null() {
                body["properties"]["upgradePolicy"]["mode"] = json!("Manual");
            }
            let mode = body["properties"]["upgradePolicy"]["mode"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if !["Automatic", "Manual", "Rolling"].contains(&mode.as_str()) {
                return Err(ArmError::invalid_parameter("properties.upgradePolicy.mode", format!("{what}: upgradePolicy.mode is '{mode}'; it must be Automatic, Manual or Rolling.")));
            }
            if body["properties"]["orchestrationMode"].is_null() {
                body["properties"]["orchestrationMode"] = json!("Uniform");
            }
            let vmp = ["properties", "virtualMachineProfile"];
            required(body, &vmp, &what)?;
            required(
                body,
                &[
                    "properties",
                    "virtualMachineProfile",
                    "storageProfile",
                    "imageReference",
                ],
                &what,
            )?;
            let prev =
                existing.map(|e| e["properties"]["virtualMachineProfile"]["osProfile"].clone());
            os_profile(
                body,
                &["properties", "virtualMachineProfile", "osProfile"],
                prev.as_ref(),
                &what,
            )?;
            scale_set_defaults(body);
            let np = &body["properties"]["virtualMachineProfile"]["networkProfile"];
            let configs = np["networkInterfaceConfigurations"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if configs.is_empty() {
                return Err(ArmError::invalid_parameter(
                    "properties.virtualMachineProfile.networkProfile.networkInterfaceConfigurations",
                    format!("{what}: at least one network interface configuration is required."),
                ));
            }
            if mode == "Rolling"
                && np["healthProbe"]["id"].is_null()
                && body["properties"]["virtualMachineProfile"]["extensionProfile"].is_null()
            {
                return Err(ArmError::invalid_parameter(
                    "properties.upgradePolicy.mode",
                    "Rolling Upgrade mode is not supported for this Virtual Machine Scale Set because a health probe or health extension was not provided.",
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// The defaults ARM fills in a scale set (see the 2024-07-01 examples).
fn scale_set_defaults(body: &mut Value) {
    let uniform = body["properties"]["orchestrationMode"] == "Uniform";
    let p = &mut body["properties"];
    if uniform && p["singlePlacementGroup"].is_null() {
        p["singlePlacementGroup"] = json!(true);
    }
    let vmp = &mut p["virtualMachineProfile"];
    if vmp["osProfile"]["secrets"].is_null() {
        vmp["osProfile"]["secrets"] = json!([]);
    }
    if let Some(configs) = vmp["networkProfile"]["networkInterfaceConfigurations"].as_array_mut() {
        for c in configs {
            let cp = &mut c["properties"];
            if cp["dnsSettings"].is_null() {
                cp["dnsSettings"] = json!({"dnsServers": []});
            }
            if cp["enableAcceleratedNetworking"].is_null() {
                cp["enableAcceleratedNetworking"] = json!(false);
            }
            for ip in cp["ipConfigurations"].as_array_mut().into_iter().flatten() {
                if ip["properties"]["privateIPAddressVersion"].is_null() {
                    ip["properties"]["privateIPAddressVersion"] = json!("IPv4");
                }
            }
        }
    }
}

/// A patch merged over what GET shows misses the hidden secrets:
/// [`prepare`] carries them over from the stored body, so nothing is to do
/// but drop the computed instance view.
pub fn forget_secrets_from_render(_state: &State, _k: &str, merged: &mut Value) {
    if let Some(p) = merged["properties"].as_object_mut() {
        p.remove("instanceView");
    }
}

/// After a successful operation: a scale set's instances follow its
/// capacity and model.
pub fn completed(state: &mut State, k: &str, kind: OpKind) {
    let delay = state.faults.delay;
    let mut guids = Vec::new();
    let Some(r) = state.resources.get(k) else {
        return;
    };
    if r.def.path != "virtualMachineScaleSets" || kind != OpKind::Put {
        return;
    }
    let capacity = r.body["sku"]["capacity"].as_u64().unwrap_or(0) as usize;
    let have = r.scale_set.as_ref().map(|s| s.instances.len()).unwrap_or(0);
    for _ in have..capacity {
        guids.push(state.guid());
    }
    let r = state.resources.get_mut(k).expect("checked above");
    let profile = r.body["properties"]["virtualMachineProfile"].clone();
    let mode = r.body["properties"]["upgradePolicy"]["mode"]
        .as_str()
        .unwrap_or("Manual")
        .to_string();
    let rolling_policy = r.body["properties"]["upgradePolicy"]["rollingUpgradePolicy"].clone();
    let s = r.scale_set.get_or_insert_with(ScaleSet::default);
    let new_model = s.profile != profile;
    if new_model {
        s.model += 1;
        s.profile = profile;
    }
    s.instances.truncate(capacity);
    for vm_id in guids {
        let id = s.next_id;
        s.next_id += 1;
        s.instances.push(Instance {
            id,
            model: s.model,
            vm_id,
        });
    }
    if !new_model || s.outdated() == 0 {
        return;
    }
    match mode.as_str() {
        "Automatic" => s.instances.iter_mut().for_each(|i| i.model = s.model),
        "Rolling" => {
            let percent = rolling_policy["maxBatchInstancePercent"]
                .as_u64()
                .unwrap_or(20)
                .clamp(5, 100) as usize;
            let pause = iso_seconds(
                rolling_policy["pauseTimeBetweenBatches"]
                    .as_str()
                    .unwrap_or("PT0S"),
            );
            let every = pause.max(delay);
            s.rolling = Some(Rolling {
                next_at: Instant::now(),
                every,
                batch: (capacity * percent).div_ceil(100).max(1),
                code: "RollingForward",
                start_time: now_rfc3339(),
                end_time: None,
            });
        }
        _ => {}
    }
}

/// `PT1M30S` and the like, in seconds (days and more are not needed).
fn iso_seconds(s: &str) -> Duration {
    let mut total = 0u64;
    let mut n = 0u64;
    for c in s.trim_start_matches("PT").chars() {
        match c {
            '0'..='9' => n = n * 10 + u64::from(c as u8 - b'0'),
            'H' => (total, n) = (total + n * 3600, 0),
            'M' => (total, n) = (total + n * 60, 0),
            'S' => (total, n) = (total + n, 0),
            _ => {}
        }
    }
    Duration::from_secs(total)
}

/// Moves rolling upgrades on: every due batch upgrades the lowest outdated
/// instances.
pub fn advance(state: &mut State, now: Instant) {
    for r in state.resources.values_mut() {
        let Some(s) = r.scale_set.as_mut() else {
            continue;
        };
        let model = s.model;
        while let Some(roll) = s
            .rolling
            .as_mut()
            .filter(|r| r.code == "RollingForward" && r.next_at <= now)
        {
            roll.next_at += roll.every;
            let batch = roll.batch;
            for i in s
                .instances
                .iter_mut()
                .filter(|i| i.model != model)
                .take(batch)
            {
                i.model = model;
            }
            if s.instances.iter().all(|i| i.model == model) {
                let roll = s.rolling.as_mut().expect("rolling");
                roll.code = "Completed";
                roll.end_time = Some(now_rfc3339());
            }
        }
    }
}

/// When a `manualupgrade` operation succeeded: its instances run the
/// latest model.
pub fn action_completed(state: &mut State, k: &str, op: &str) {
    let Some(s) = state
        .resources
        .get_mut(k)
        .and_then(|r| r.scale_set.as_mut())
    else {
        return;
    };
    let Some(at) = s.pending.iter().position(|(o, _)| o == op) else {
        return;
    };
    let (_, ids) = s.pending.remove(at);
    let model = s.model;
    for i in s.instances.iter_mut().filter(|i| ids.contains(&i.id)) {
        i.model = model;
    }
}

fn instance_view(r: &Resource, i: &Instance) -> Value {
    let s = r.scale_set.as_ref().expect("a scale set");
    let name = ids::name_of(&r.id);
    json!({
        "id": format!("{}/virtualMachines/{}", r.id, i.id),
        "name": format!("{name}_{}", i.id),
        "type": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
        "location": r.body["location"],
        "instanceId": i.id.to_string(),
        "sku": {"name": r.body["sku"]["name"], "tier": r.body["sku"]["tier"]},
        "properties": {
            "latestModelApplied": i.model == s.model,
            "vmId": i.vm_id,
            "provisioningState": "Succeeded",
            "hardwareProfile": s.profile["hardwareProfile"],
            "storageProfile": s.profile["storageProfile"],
            "osProfile": {"computerName": format!("{}{:06x}", s.profile["osProfile"]["computerNamePrefix"].as_str().unwrap_or(name), i.id)},
        }
    })
}

/// Requests below a scale set that are not its children (instances,
/// `manualupgrade`, `rollingUpgrades/latest`); `None` if `extra` names
/// none of them.
pub fn extra(
    state: &mut State,
    ctx: &Ctx,
    method: &hyper::Method,
    def: &TypeDef,
    id: &str,
    extra: &[String],
    body: &[u8],
) -> Option<Result<Reply, ArmError>> {
    if def.path != "virtualMachineScaleSets" {
        return None;
    }
    let k = key(id);
    let seg: Vec<String> = extra.iter().map(|s| s.to_ascii_lowercase()).collect();
    let seg: Vec<&str> = seg.iter().map(String::as_str).collect();
    let r = state.resources.get(&k)?.clone();
    let empty = ScaleSet::default();
    let s = r.scale_set.as_ref().unwrap_or(&empty);
    let rg = ids::group_of(id).unwrap_or_default().to_string();
    Some(match (method.as_str(), seg.as_slice()) {
        ("GET", ["virtualmachines"]) => {
            let list: Vec<Value> = s.instances.iter().map(|i| instance_view(&r, i)).collect();
            Ok(Reply::json(200, json!({ "value": list })))
        }
        ("GET", ["virtualmachines", n]) => s
            .instances
            .iter()
            .find(|i| i.id.to_string() == *n)
            .map(|i| Reply::json(200, instance_view(&r, i)))
            .ok_or_else(|| {
                ArmError::not_found(
                    &format!(
                        "Microsoft.Compute/virtualMachineScaleSets/{}/virtualMachines/{n}",
                        ids::name_of(id)
                    ),
                    &rg,
                )
            }),
        ("GET", ["rollingupgrades", "latest"]) => match &s.rolling {
            None => Err(ArmError::new(
                404,
                "NotFound",
                format!("No rolling upgrade found for {id}."),
            )),
            Some(roll) => {
                let done = s.instances.iter().filter(|i| i.model == s.model).count();
                let mut running = json!({"code": roll.code, "startTime": roll.start_time});
                if let Some(e) = &roll.end_time {
                    running["lastAction"] = json!("Start");
                    running["lastActionTime"] = json!(e);
                }
                Ok(Reply::json(
                    200,
                    json!({
                        "location": r.body["location"],
                        "properties": {
                            "policy": r.body["properties"]["upgradePolicy"]["rollingUpgradePolicy"],
                            "runningStatus": running,
                            "progress": {
                                "successfulInstanceCount": done,
                                "failedInstanceCount": 0,
                                "inProgressInstanceCount": 0,
                                "pendingInstanceCount": s.instances.len() - done,
                            }
                        }
                    }),
                ))
            }
        },
        ("POST", ["manualupgrade"]) => manual_upgrade(state, ctx, &k, id, s, body),
        _ => return None,
    })
}

fn manual_upgrade(
    state: &mut State,
    ctx: &Ctx,
    k: &str,
    id: &str,
    s: &ScaleSet,
    body: &[u8],
) -> Result<Reply, ArmError> {
    let req: Value = serde_json::from_slice(body).map_err(|e| {
        ArmError::invalid_content(format!(
            "The request content was invalid and could not be deserialized: '{e}'."
        ))
    })?;
    let field = "instanceIds";
    let wanted = req[field]
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            ArmError::invalid_parameter(field, "instanceIds must list the instances to upgrade.")
        })?;
    let mut ids = Vec::new();
    for w in wanted {
        let n = w
            .as_str()
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| s.instances.iter().any(|i| i.id == *n));
        match n {
            Some(n) => ids.push(n),
            None => {
                return Err(ArmError::invalid_parameter(
                    field,
                    format!("The instance id {w} does not exist in scale set {id}."),
                ))
            }
        }
    }
    let op = state.start_detached_op(ctx, k, OpKind::Action);
    if let Some(s) = state
        .resources
        .get_mut(k)
        .and_then(|r| r.scale_set.as_mut())
    {
        s.pending.push((op.clone(), ids));
    }
    let mut reply = Reply::empty(202);
    reply.headers = state.op_headers(ctx, &op, true);
    Ok(reply)
}

/// Hides secrets; a VM shows no instance view (not served).
pub fn render(_state: &State, r: &Resource, v: &mut Value) {
    let os = match r.def.path {
        "virtualMachines" => &mut v["properties"]["osProfile"],
        "virtualMachineScaleSets" => &mut v["properties"]["virtualMachineProfile"]["osProfile"],
        _ => return,
    };
    if let Some(o) = os.as_object_mut() {
        o.remove("adminPassword");
        o.remove("customData");
    }
}
