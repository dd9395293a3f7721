//! The fake ARM's generic semantics over HTTP: resource groups,
//! api-versions, create-or-update, long-running operations, errors,
//! throttling and failed provisioning.

mod support;

use serde_json::json;
use std::time::{Duration, Instant};
use support::{Fake, SUB};

const RG_API: &str = "api-version=2021-04-01";
const NET_API: &str = "api-version=2024-03-01";

fn vnet_path(rg: &str, name: &str) -> String {
    format!(
        "{}/providers/Microsoft.Network/virtualNetworks/{name}?{NET_API}",
        Fake::rg_path(rg)
    )
}

fn vnet(prefix: &str) -> serde_json::Value {
    json!({"location": "westus", "properties": {"addressSpace": {"addressPrefixes": [prefix]}}})
}

#[test]
fn resource_groups_are_created_updated_listed_and_deleted() {
    let fake = Fake::start();
    let path = format!("{}?{RG_API}", Fake::rg_path("rg1"));
    let a = fake.put(&path, &json!({"location": "West US", "tags": {"a": "1"}}));
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(
        a.body["id"],
        format!("/subscriptions/{SUB}/resourceGroups/rg1")
    );
    assert_eq!(a.body["location"], "westus");
    assert_eq!(a.body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(a.body["type"], "Microsoft.Resources/resourceGroups");
    // Names are case-insensitive; the first spelling stays.
    let again = fake.put(
        &format!("{}?{RG_API}", Fake::rg_path("RG1")),
        &json!({"location": "westus", "tags": {"b": "2"}}),
    );
    assert_eq!(again.status, 200);
    assert_eq!(again.body["name"], "rg1");
    assert_eq!(again.body["tags"], json!({"b": "2"}));
    let moved = fake.put(&path, &json!({"location": "eastus"}));
    assert_eq!(
        (moved.status, moved.body["error"]["code"].as_str()),
        (409, Some("InvalidResourceGroupLocation"))
    );
    let patched = fake.call("PATCH", &path, Some(&json!({"tags": {"c": "3"}})));
    assert_eq!(
        (patched.status, &patched.body["tags"]),
        (200, &json!({"c": "3"}))
    );
    assert_eq!(fake.call("HEAD", &path, None).status, 204);
    let list = fake.get(&format!("/subscriptions/{SUB}/resourcegroups?{RG_API}"));
    assert_eq!(list.body["value"].as_array().map(Vec::len), Some(1));

    // Deleting takes the group's resources with it, through a Location poll.
    fake.create(&vnet_path("rg1", "v"), &vnet("10.0.0.0/16"));
    let del = fake.call("DELETE", &path, None);
    assert_eq!(del.status, 202);
    assert!(del.header("azure-asyncoperation").is_none());
    let location = del.header("location").expect("a Location").to_string();
    assert!(location.contains("/operationresults/"), "{location}");
    let result = fake.get(&location);
    assert_eq!(result.status, 204, "{}", result.body);
    let gone = fake.get(&path);
    assert_eq!(
        (gone.status, gone.body["error"]["code"].as_str()),
        (404, Some("ResourceGroupNotFound"))
    );
    assert_eq!(
        gone.body["error"]["message"],
        "Resource group 'rg1' could not be found."
    );
    assert_eq!(fake.call("HEAD", &path, None).status, 404);
    assert!(fake.server.arm().resource_ids().is_empty());
    let again = fake.call("DELETE", &path, None);
    assert_eq!(again.status, 404);
}

#[test]
fn api_versions_are_checked_per_type_with_arms_codes() {
    let fake = Fake::start();
    fake.group("rg");
    let base = Fake::rg_path("rg");
    let missing = fake.put(&base, &json!({"location": "westus"}));
    assert_eq!(
        (missing.status, missing.body["error"]["code"].as_str()),
        (400, Some("MissingApiVersionParameter"))
    );
    let bad = fake.get(&format!("{base}?api-version=latest"));
    assert_eq!(bad.body["error"]["code"], "InvalidApiVersionParameter");
    // The compute api-version is not one of the network provider's.
    let wrong = fake.put(
        &format!("{base}/providers/Microsoft.Network/virtualNetworks/v?api-version=2024-07-01"),
        &vnet("10.0.0.0/16"),
    );
    assert_eq!(
        (wrong.status, wrong.body["error"]["code"].as_str()),
        (400, Some("NoRegisteredProviderFound"))
    );
    assert!(
        wrong.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2024-03-01"),
        "{}",
        wrong.body
    );
    let unknown = fake.get(&format!(
        "{base}/providers/Microsoft.Network/dnsZones/z?{NET_API}"
    ));
    assert_eq!(
        (unknown.status, unknown.body["error"]["code"].as_str()),
        (400, Some("InvalidResourceType"))
    );
}

#[test]
fn puts_create_then_update_through_long_running_operations() {
    let fake = Fake::start();
    fake.group("rg");
    fake.faults(&json!({"provisioningDelayMs": 400}));
    let path = vnet_path("rg", "vnet1");
    let created = fake.put(&path, &vnet("10.0.0.0/16"));
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["properties"]["provisioningState"], "Creating");
    assert_eq!(created.header("retry-after"), Some("1"));
    let status_url = created
        .header("azure-asyncoperation")
        .expect("Azure-AsyncOperation")
        .to_string();
    assert!(
        status_url.starts_with(&format!(
            "{}/subscriptions/{SUB}/providers/Microsoft.Network/locations/westus/operations/",
            fake.server.url()
        )),
        "{status_url}"
    );
    let polled = fake.get(&status_url);
    assert_eq!(polled.body["status"], "InProgress");
    assert_eq!(
        fake.get(&path).body["properties"]["provisioningState"],
        "Creating"
    );
    let t0 = Instant::now();
    let done = fake.wait(&created);
    assert_eq!(done["status"], "Succeeded");
    assert!(done["endTime"].is_string());
    assert!(t0.elapsed() < Duration::from_secs(5));
    let got = fake.get(&path);
    assert_eq!(got.body["properties"]["provisioningState"], "Succeeded");
    let guid = got.body["properties"]["resourceGuid"].clone();

    // A second PUT (other case) updates: 200 Updating, same resource.
    let updated = fake.put(&vnet_path("RG", "VNET1"), &json!({"location": "westus", "tags": {"env": "test"}, "properties": {"addressSpace": {"addressPrefixes": ["10.1.0.0/16"]}}}));
    assert_eq!(updated.status, 200);
    assert_eq!(updated.body["name"], "vnet1");
    assert_eq!(updated.body["properties"]["provisioningState"], "Updating");
    fake.wait(&updated);
    let got = fake.get(&path);
    assert_eq!(got.body["properties"]["resourceGuid"], guid);
    assert_eq!(got.body["tags"], json!({"env": "test"}));
    assert_eq!(
        got.body["properties"]["addressSpace"]["addressPrefixes"],
        json!(["10.1.0.0/16"])
    );

    // A PUT that supersedes one in flight cancels it.
    let first = fake.put(&path, &vnet("10.2.0.0/16"));
    let second = fake.put(&path, &vnet("10.3.0.0/16"));
    assert_eq!(
        fake.get(first.header("azure-asyncoperation").unwrap()).body["status"],
        "Canceled"
    );
    assert_eq!(fake.wait(&second)["status"], "Succeeded");

    // The Location URL answers 202 while running, then the resource.
    let again = fake.put(&path, &vnet("10.4.0.0/16"));
    let status = fake.get(again.header("azure-asyncoperation").unwrap());
    let result_url = status.body["id"]
        .as_str()
        .unwrap()
        .replace("/operations/", "/operationResults/")
        + "?"
        + NET_API;
    assert_eq!(fake.get(&result_url).status, 202);
    fake.wait(&again);
    let result = fake.get(&result_url);
    assert_eq!(
        (
            result.status,
            &result.body["properties"]["addressSpace"]["addressPrefixes"]
        ),
        (200, &json!(["10.4.0.0/16"]))
    );

    // PATCH of a network resource changes its tags only, at once.
    let patched = fake.call(
        "PATCH",
        &path,
        Some(&json!({"tags": {"t": "x"}, "location": "eastus"})),
    );
    assert_eq!(
        (
            patched.status,
            &patched.body["tags"],
            &patched.body["location"]
        ),
        (200, &json!({"t": "x"}), &json!("westus"))
    );

    // DELETE: 202 with both headers, then 404; deleting again: 204.
    let del = fake.call("DELETE", &path, None);
    assert_eq!(del.status, 202);
    assert!(del.header("location").is_some());
    assert_eq!(fake.wait(&del)["status"], "Succeeded");
    let gone = fake.get(&path);
    assert_eq!(
        (gone.status, gone.body["error"]["code"].as_str()),
        (404, Some("ResourceNotFound"))
    );
    assert_eq!(
        gone.body["error"]["message"],
        "The Resource 'Microsoft.Network/virtualNetworks/vnet1' under resource group 'rg' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
    );
    assert_eq!(fake.call("DELETE", &path, None).status, 204);
}

#[test]
fn writes_into_a_missing_group_and_bad_bodies_get_arm_errors() {
    let fake = Fake::start();
    let a = fake.put(&vnet_path("nowhere", "v"), &vnet("10.0.0.0/16"));
    assert_eq!(
        (a.status, a.body["error"]["code"].as_str()),
        (404, Some("ResourceGroupNotFound"))
    );
    fake.group("rg");
    let no_location = fake.put(&vnet_path("rg", "v"), &json!({"properties": {}}));
    assert_eq!(
        (
            no_location.status,
            no_location.body["error"]["code"].as_str()
        ),
        (400, Some("LocationRequired"))
    );
    let bad_json = fake.call("PUT", &vnet_path("rg", "v"), Some(&json!("text")));
    assert_eq!(bad_json.body["error"]["code"], "InvalidRequestContent");
    let bad_prefix = fake.put(&vnet_path("rg", "v"), &vnet("10.0.0.1/33"));
    assert_eq!(bad_prefix.status, 400);
    assert_eq!(bad_prefix.body["error"]["code"], "InvalidParameter");
    assert_eq!(
        bad_prefix.body["error"]["target"],
        "properties.addressSpace.addressPrefixes"
    );
    let bad_tags = fake.put(&vnet_path("rg", "v"), &json!({"location": "westus", "tags": {"n": 1}, "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}));
    assert_eq!(bad_tags.body["error"]["target"], "tags.n");
}

#[test]
fn throttling_answers_429_with_retry_after_for_the_next_n_calls() {
    let fake = Fake::start();
    fake.group("rg");
    fake.faults(&json!({"throttle": {"count": 2, "retryAfterSeconds": 3}}));
    let path = format!("{}?{RG_API}", Fake::rg_path("rg"));
    for _ in 0..2 {
        let a = fake.get(&path);
        assert_eq!((a.status, a.header("retry-after")), (429, Some("3")));
        assert_eq!(a.body["error"]["code"], "TooManyRequests");
    }
    assert_eq!(fake.get(&path).status, 200);
}

#[test]
fn an_armed_failure_ends_the_next_provisioning_failed_and_a_retry_succeeds() {
    let fake = Fake::start();
    fake.group("rg");
    fake.faults(&json!({"failProvisioning": {"resource": "vnet9", "code": "InternalServerError", "message": "boom", "status": 500}}));
    let path = vnet_path("rg", "vnet9");
    let a = fake.put(&path, &vnet("10.0.0.0/16"));
    assert_eq!(a.status, 201);
    let done = fake.wait(&a);
    assert_eq!(done["status"], "Failed");
    assert_eq!(
        done["error"],
        json!({"code": "InternalServerError", "message": "boom"})
    );
    assert_eq!(
        fake.get(&path).body["properties"]["provisioningState"],
        "Failed"
    );
    let status = fake.get(a.header("azure-asyncoperation").unwrap());
    let result_url = status.body["id"]
        .as_str()
        .unwrap()
        .replace("/operations/", "/operationResults/")
        + "?"
        + NET_API;
    let result = fake.get(&result_url);
    assert_eq!(
        (result.status, result.body["error"]["code"].as_str()),
        (500, Some("InternalServerError"))
    );
    // One failure per arming: the retry succeeds.
    let b = fake.put(&path, &vnet("10.0.0.0/16"));
    assert_eq!(b.status, 200);
    assert_eq!(fake.wait(&b)["status"], "Succeeded");
    assert_eq!(
        fake.get(&path).body["properties"]["provisioningState"],
        "Succeeded"
    );
}

#[test]
fn the_control_endpoint_shows_and_resets_faults_and_lists_resources() {
    let fake = Fake::start();
    fake.faults(&json!({"provisioningDelayMs": 250, "throttle": {"count": 1}}));
    let shown = fake.get("/_fake/faults");
    assert_eq!(shown.body["provisioningDelayMs"], 250);
    assert_eq!(shown.body["throttle"]["count"], 1);
    let bad = fake.call(
        "POST",
        "/_fake/faults",
        Some(&json!({"provisioningDelayMs": "slow"})),
    );
    assert_eq!(
        (bad.status, bad.body["error"]["target"].as_str()),
        (400, Some("provisioningDelayMs"))
    );
    assert_eq!(
        fake.call("DELETE", "/_fake/faults", None).body["throttle"]["count"],
        0
    );
    fake.group("rg");
    assert_eq!(
        fake.get("/_fake/resources").body["value"],
        json!([format!("/subscriptions/{SUB}/resourceGroups/rg")])
    );
}
