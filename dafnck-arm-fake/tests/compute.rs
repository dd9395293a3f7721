//! Microsoft.Compute in the fake, over HTTP: VM validation, secrets and
//! updates; scale set instances, models and the three upgrade policies;
//! failed provisioning.

mod support;

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::{Fake, SUB};

const NET: &str = "api-version=2024-03-01";
const API: &str = "api-version=2024-07-01";

fn net(path: &str) -> String {
    format!(
        "{}/providers/Microsoft.Network/{path}?{NET}",
        Fake::rg_path("rg")
    )
}

fn at(path: &str) -> String {
    format!(
        "{}/providers/Microsoft.Compute/{path}?{API}",
        Fake::rg_path("rg")
    )
}

fn net_id(path: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/{path}")
}

/// A group with a subnet, a NIC `nic` and a load balancer with a probe.
fn network(fake: &Fake) {
    fake.group("rg");
    fake.create(
        &net("virtualNetworks/v"),
        &json!({"location": "westus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "s", "properties": {"addressPrefix": "10.0.1.0/24"}}]}}),
    );
    fake.create(
        &net("networkInterfaces/nic"),
        &json!({"location": "westus", "properties": {"ipConfigurations": [{"name": "c", "properties": {"subnet": {"id": net_id("virtualNetworks/v/subnets/s")}}}]}}),
    );
    fake.create(&net("publicIPAddresses/ip"), &json!({"location": "westus"}));
    fake.create(
        &net("loadBalancers/lb"),
        &json!({"location": "westus", "properties": {
            "frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": net_id("publicIPAddresses/ip")}}}],
            "backendAddressPools": [{"name": "pool"}],
            "probes": [{"name": "http", "properties": {"protocol": "Http", "port": 80, "requestPath": "/"}}]}}),
    );
}

fn vm(password: Option<&str>) -> Value {
    let mut os =
        json!({"computerName": "web", "adminUsername": "azureuser", "customData": "ZWNobyBoaQ=="});
    match password {
        Some(p) => os["adminPassword"] = json!(p),
        None => {
            os["linuxConfiguration"] = json!({"disablePasswordAuthentication": true,
                "ssh": {"publicKeys": [{"path": "/home/azureuser/.ssh/authorized_keys", "keyData": "ssh-ed25519 AAAAC3Nza test"}]}})
        }
    }
    json!({"location": "westus", "properties": {
        "hardwareProfile": {"vmSize": "Standard_B1s"},
        "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"}},
        "osProfile": os,
        "networkProfile": {"networkInterfaces": [{"id": net_id("networkInterfaces/nic")}]}}})
}

#[test]
fn vms_are_validated_keep_their_secrets_hidden_and_update_by_patch() {
    let fake = Fake::start();
    network(&fake);
    let mut no_size = vm(None);
    no_size["properties"]["hardwareProfile"] = json!({});
    let a = fake.put(&at("virtualMachines/web"), &no_size);
    assert_eq!(
        (a.status, a.body["error"]["target"].as_str()),
        (400, Some("properties.hardwareProfile.vmSize"))
    );
    let weak = fake.put(&at("virtualMachines/web"), &vm(Some("password")));
    assert_eq!(
        (weak.status, weak.body["error"]["target"].as_str()),
        (400, Some("properties.osProfile.adminPassword"))
    );
    let mut bad_data = vm(None);
    bad_data["properties"]["osProfile"]["customData"] = json!("not base64!");
    assert_eq!(
        fake.put(&at("virtualMachines/web"), &bad_data).body["error"]["target"],
        "properties.osProfile.customData"
    );
    let mut no_key = vm(None);
    no_key["properties"]["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"] = json!([]);
    assert_eq!(
        fake.put(&at("virtualMachines/web"), &no_key).body["error"]["target"],
        "properties.osProfile.linuxConfiguration.ssh.publicKeys"
    );

    let got = fake.create(&at("virtualMachines/web"), &vm(Some("Secret-Passw0rd")));
    let os = &got["properties"]["osProfile"];
    assert!(
        os.get("adminPassword").is_none() && os.get("customData").is_none(),
        "{os}"
    );
    assert_eq!(
        got["properties"]["storageProfile"]["osDisk"]["osType"],
        "Windows"
    );
    // A PUT without the hidden secrets keeps them; changing the admin
    // user is refused.
    let mut resend = got.clone();
    resend["tags"] = json!({"v": "2"});
    let again = fake.put(&at("virtualMachines/web"), &resend);
    assert_eq!(again.status, 200, "{}", again.body);
    fake.wait(&again);
    let mut rename = got.clone();
    rename["properties"]["osProfile"]["adminUsername"] = json!("root2");
    let refused = fake.put(&at("virtualMachines/web"), &rename);
    assert_eq!(
        (refused.status, refused.body["error"]["code"].as_str()),
        (409, Some("PropertyChangeNotAllowed"))
    );
    // PATCH is a long-running update (compute's).
    let patched = fake.call("PATCH", &at("virtualMachines/web"), Some(&json!({"tags": {"env": "prod"}, "properties": {"hardwareProfile": {"vmSize": "Standard_B2s"}}})));
    assert_eq!(
        (
            patched.status,
            patched.body["properties"]["provisioningState"].as_str()
        ),
        (200, Some("Updating"))
    );
    assert_eq!(fake.wait(&patched)["status"], "Succeeded");
    let now = fake.get(&at("virtualMachines/web")).body;
    assert_eq!(now["tags"], json!({"env": "prod"}));
    assert_eq!(
        now["properties"]["hardwareProfile"]["vmSize"],
        "Standard_B2s"
    );
    assert_eq!(now["properties"]["vmId"], got["properties"]["vmId"]);
    // One NIC, one VM.
    let second = fake.put(&at("virtualMachines/other"), &vm(None));
    assert_eq!(
        (second.status, second.body["error"]["code"].as_str()),
        (409, Some("NicInUse"))
    );
    let del = fake.call("DELETE", &net("networkInterfaces/nic"), None);
    assert_eq!(
        (del.status, del.body["error"]["code"].as_str()),
        (409, Some("NicInUse"))
    );
    let del = fake.call("DELETE", &at("virtualMachines/web"), None);
    assert_eq!(del.status, 202);
    assert_eq!(fake.wait(&del)["status"], "Succeeded");
    assert_eq!(fake.get(&at("virtualMachines/web")).status, 404);
}

#[test]
fn a_failed_vm_provisioning_leaves_a_failed_vm_that_a_new_put_repairs() {
    let fake = Fake::start();
    network(&fake);
    fake.faults(&json!({"failProvisioning": {"resource": "web", "code": "AllocationFailed", "message": "no capacity"}}));
    let a = fake.put(&at("virtualMachines/web"), &vm(None));
    let done = fake.wait(&a);
    assert_eq!(
        (done["status"].as_str(), done["error"]["code"].as_str()),
        (Some("Failed"), Some("AllocationFailed"))
    );
    assert_eq!(
        fake.get(&at("virtualMachines/web")).body["properties"]["provisioningState"],
        "Failed"
    );
    let b = fake.put(&at("virtualMachines/web"), &vm(None));
    assert_eq!(fake.wait(&b)["status"], "Succeeded");
}

fn scale_set(capacity: u64, image: &str, policy: Value) -> Value {
    json!({
        "location": "westus",
        "sku": {"name": "Standard_B1s", "tier": "Standard", "capacity": capacity},
        "properties": {
            "upgradePolicy": policy,
            "virtualMachineProfile": {
                "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": image}},
                "osProfile": {"computerNamePrefix": "web", "adminUsername": "azureuser", "adminPassword": "Secret-Passw0rd"},
                "networkProfile": {
                    "healthProbe": {"id": net_id("loadBalancers/lb/probes/http")},
                    "networkInterfaceConfigurations": [{"name": "n", "properties": {"primary": true, "ipConfigurations": [{"name": "i", "properties": {
                        "subnet": {"id": net_id("virtualNetworks/v/subnets/s")},
                        "loadBalancerBackendAddressPools": [{"id": net_id("loadBalancers/lb/backendAddressPools/pool")}]}}]}}]
                }
            }
        }
    })
}

fn applied(fake: &Fake, name: &str) -> Vec<bool> {
    let list = fake.get(&at(&format!(
        "virtualMachineScaleSets/{name}/virtualMachines"
    )));
    assert_eq!(list.status, 200, "{}", list.body);
    list.body["value"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|i| i["properties"]["latestModelApplied"] == true)
        .collect()
}

#[test]
fn manual_scale_sets_upgrade_only_the_instances_named() {
    let fake = Fake::start();
    network(&fake);
    let path = at("virtualMachineScaleSets/web");
    fake.create(&path, &scale_set(2, "1.0", json!({"mode": "Manual"})));
    assert_eq!(applied(&fake, "web"), [true, true]);
    fake.create(&path, &scale_set(2, "2.0", json!({"mode": "Manual"})));
    assert_eq!(applied(&fake, "web"), [false, false]);
    // Scale-out adds instances on the latest model.
    fake.create(&path, &scale_set(3, "2.0", json!({"mode": "Manual"})));
    assert_eq!(applied(&fake, "web"), [false, false, true]);
    let upgrade = fake.call(
        "POST",
        &at("virtualMachineScaleSets/web/manualupgrade"),
        Some(&json!({"instanceIds": ["0"]})),
    );
    assert_eq!(upgrade.status, 202, "{}", upgrade.body);
    assert_eq!(fake.wait(&upgrade)["status"], "Succeeded");
    assert_eq!(applied(&fake, "web"), [true, false, true]);
    let missing = fake.call(
        "POST",
        &at("virtualMachineScaleSets/web/manualupgrade"),
        Some(&json!({"instanceIds": ["9"]})),
    );
    assert_eq!(
        (missing.status, missing.body["error"]["target"].as_str()),
        (400, Some("instanceIds"))
    );
    // Scale-in removes the highest ids.
    fake.create(&path, &scale_set(1, "2.0", json!({"mode": "Manual"})));
    let list = fake.get(&at("virtualMachineScaleSets/web/virtualMachines"));
    assert_eq!(list.body["value"][0]["instanceId"], "0");
    assert_eq!(list.body["value"].as_array().map(Vec::len), Some(1));
    let one = fake.get(&at("virtualMachineScaleSets/web/virtualMachines/0"));
    assert_eq!(one.body["name"], "web_0");
    // The scale set holds its subnet and backend pool.
    let del = fake.call("DELETE", &net("loadBalancers/lb"), None);
    assert_eq!(del.status, 409);
}

#[test]
fn automatic_scale_sets_upgrade_every_instance_when_the_update_completes() {
    let fake = Fake::start();
    network(&fake);
    let path = at("virtualMachineScaleSets/web");
    fake.create(&path, &scale_set(3, "1.0", json!({"mode": "Automatic"})));
    fake.create(&path, &scale_set(3, "2.0", json!({"mode": "Automatic"})));
    assert_eq!(applied(&fake, "web"), [true, true, true]);
}

#[test]
fn rolling_scale_sets_upgrade_batch_by_batch() {
    let fake = Fake::start();
    network(&fake);
    let path = at("virtualMachineScaleSets/web");
    let policy = json!({"mode": "Rolling", "rollingUpgradePolicy": {"maxBatchInstancePercent": 50, "pauseTimeBetweenBatches": "PT0S"}});
    let mut no_probe = scale_set(4, "1.0", policy.clone());
    no_probe["properties"]["virtualMachineProfile"]["networkProfile"]["healthProbe"] = Value::Null;
    let refused = fake.put(&path, &no_probe);
    assert_eq!(
        (refused.status, refused.body["error"]["target"].as_str()),
        (400, Some("properties.upgradePolicy.mode"))
    );
    fake.create(&path, &scale_set(4, "1.0", policy.clone()));
    let none = fake.get(&at("virtualMachineScaleSets/web/rollingUpgrades/latest"));
    assert_eq!(none.status, 404);
    // Each batch (2 of 4) takes the provisioning delay.
    fake.faults(&json!({"provisioningDelayMs": 300}));
    let update = fake.put(&path, &scale_set(4, "2.0", policy));
    fake.wait(&update);
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = applied(&fake, "web").iter().filter(|a| **a).count();
        if seen.last() != Some(&n) {
            seen.push(n);
        }
        if n == 4 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    assert_eq!(seen.last(), Some(&4), "{seen:?}");
    assert!(seen.contains(&2), "a batch of two at a time: {seen:?}");
    let latest = fake.get(&at("virtualMachineScaleSets/web/rollingUpgrades/latest"));
    assert_eq!(
        latest.body["properties"]["runningStatus"]["code"],
        "Completed"
    );
    assert_eq!(
        latest.body["properties"]["progress"]["successfulInstanceCount"],
        4
    );
}
