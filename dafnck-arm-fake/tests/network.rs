//! Microsoft.Network in the fake, over HTTP: children inline in their
//! parent, references checked on write and on delete, and each type's
//! validation.

mod support;

use serde_json::{json, Value};
use support::{Fake, SUB};

const API: &str = "api-version=2024-03-01";

fn at(path: &str) -> String {
    format!(
        "{}/providers/Microsoft.Network/{path}?{API}",
        Fake::rg_path("rg")
    )
}

fn id(path: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/{path}")
}

fn vnet(subnets: &[(&str, &str)]) -> Value {
    let subnets: Vec<Value> = subnets
        .iter()
        .map(|(n, p)| json!({"name": n, "properties": {"addressPrefix": p}}))
        .collect();
    json!({"location": "westus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": subnets}})
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|s| s["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn nic(subnet: &str, extra: Value) -> Value {
    let mut c = json!({"name": "ipconfig1", "properties": {"subnet": {"id": id(subnet)}}});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            c["properties"][k] = v;
        }
    }
    json!({"location": "westus", "properties": {"ipConfigurations": [c]}})
}

#[test]
fn subnets_in_the_vnets_body_are_replaced_by_its_put_and_served_on_their_own() {
    let fake = Fake::start();
    fake.group("rg");
    let v = fake.create(
        &at("virtualNetworks/v"),
        &vnet(&[("a", "10.0.1.0/24"), ("b", "10.0.2.0/24")]),
    );
    assert_eq!(names(&v["properties"]["subnets"]), ["a", "b"]);
    assert_eq!(
        v["properties"]["subnets"][0]["id"],
        id("virtualNetworks/v/subnets/a")
    );
    // The child endpoint adds one; the parent shows it.
    let c = fake.create(
        &at("virtualNetworks/v/subnets/c"),
        &json!({"properties": {"addressPrefix": "10.0.3.0/24"}}),
    );
    assert_eq!(c["type"], "Microsoft.Network/virtualNetworks/subnets");
    let listed = fake.get(&at("virtualNetworks/v/subnets"));
    assert_eq!(names(&listed.body["value"]), ["a", "b", "c"]);
    // A PUT of the parent replaces the set: b and c go.
    let v = fake.create(&at("virtualNetworks/v"), &vnet(&[("a", "10.0.1.0/24")]));
    assert_eq!(names(&v["properties"]["subnets"]), ["a"]);
    let gone = fake.get(&at("virtualNetworks/v/subnets/b"));
    assert_eq!(
        (gone.status, gone.body["error"]["code"].as_str()),
        (404, Some("ResourceNotFound"))
    );
    // Leaving `subnets` out removes them all, as ARM does.
    let v = fake.create(&at("virtualNetworks/v"), &json!({"location": "westus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}));
    assert_eq!(v["properties"]["subnets"], json!([]));
    // A subnet outside the address space, a subnet of a missing vnet.
    let out = fake.put(
        &at("virtualNetworks/v/subnets/x"),
        &json!({"properties": {"addressPrefix": "192.168.0.0/24"}}),
    );
    assert_eq!(
        (out.status, out.body["error"]["code"].as_str()),
        (400, Some("NetcfgSubnetRangeOutsideVnet"))
    );
    let inline_out = fake.put(&at("virtualNetworks/v"), &vnet(&[("x", "192.168.0.0/24")]));
    assert_eq!(
        inline_out.body["error"]["code"],
        "NetcfgSubnetRangeOutsideVnet"
    );
    let orphan = fake.put(
        &at("virtualNetworks/none/subnets/x"),
        &json!({"properties": {"addressPrefix": "10.0.0.0/24"}}),
    );
    assert_eq!(
        (orphan.status, orphan.body["error"]["code"].as_str()),
        (404, Some("ResourceNotFound"))
    );
    let twice = fake.put(
        &at("virtualNetworks/v"),
        &vnet(&[("a", "10.0.1.0/24"), ("A", "10.0.2.0/24")]),
    );
    assert_eq!(
        (twice.status, twice.body["error"]["target"].as_str()),
        (400, Some("properties.subnets[1].name"))
    );
}

#[test]
fn what_is_in_use_cannot_be_deleted() {
    let fake = Fake::start();
    fake.group("rg");
    fake.create(
        &at("networkSecurityGroups/nsg"),
        &json!({"location": "westus"}),
    );
    let mut body = vnet(&[("a", "10.0.1.0/24"), ("b", "10.0.2.0/24")]);
    body["properties"]["subnets"][0]["properties"]["networkSecurityGroup"] =
        json!({"id": id("networkSecurityGroups/nsg")});
    fake.create(&at("virtualNetworks/v"), &body);
    fake.create(&at("publicIPAddresses/ip"), &json!({"location": "westus"}));
    fake.create(
        &at("networkInterfaces/n"),
        &nic(
            "virtualNetworks/v/subnets/a",
            json!({"publicIPAddress": {"id": id("publicIPAddresses/ip")}}),
        ),
    );

    let drop_subnet = fake.put(&at("virtualNetworks/v"), &vnet(&[("b", "10.0.2.0/24")]));
    assert_eq!(
        (
            drop_subnet.status,
            drop_subnet.body["error"]["code"].as_str()
        ),
        (409, Some("InUseSubnetCannotBeDeleted"))
    );
    assert_eq!(
        drop_subnet.body["error"]["target"],
        id("networkInterfaces/n")
    );
    for (path, code) in [
        ("virtualNetworks/v", "InUseVirtualNetworkCannotBeDeleted"),
        ("virtualNetworks/v/subnets/a", "InUseSubnetCannotBeDeleted"),
        ("publicIPAddresses/ip", "PublicIPAddressCannotBeDeleted"),
        (
            "networkSecurityGroups/nsg",
            "InUseNetworkSecurityGroupCannotBeDeleted",
        ),
    ] {
        let del = fake.call("DELETE", &at(path), None);
        assert_eq!(
            (del.status, del.body["error"]["code"].as_str()),
            (409, Some(code)),
            "{path}: {}",
            del.body
        );
    }
    // The NSG shows the subnet that uses it.
    let nsg = fake.get(&at("networkSecurityGroups/nsg"));
    assert_eq!(
        nsg.body["properties"]["subnets"],
        json!([{"id": id("virtualNetworks/v/subnets/a")}])
    );
    // Once the NIC is gone, so can the rest go.
    let del = fake.call("DELETE", &at("networkInterfaces/n"), None);
    assert_eq!(fake.wait(&del)["status"], "Succeeded");
    for path in ["publicIPAddresses/ip", "virtualNetworks/v"] {
        let del = fake.call("DELETE", &at(path), None);
        assert_eq!(del.status, 202, "{path}: {}", del.body);
        fake.wait(&del);
    }
    let del = fake.call("DELETE", &at("networkSecurityGroups/nsg"), None);
    assert_eq!(del.status, 202, "{}", del.body);
}

#[test]
fn references_to_missing_resources_are_refused_naming_the_field() {
    let fake = Fake::start();
    fake.group("rg");
    let a = fake.put(
        &at("networkInterfaces/n"),
        &nic("virtualNetworks/none/subnets/a", json!({})),
    );
    assert_eq!(
        (a.status, a.body["error"]["code"].as_str()),
        (400, Some("InvalidResourceReference"))
    );
    assert_eq!(
        a.body["error"]["target"],
        "properties.ipConfigurations[0].properties.subnet.id"
    );
    let no_subnet = fake.put(&at("networkInterfaces/n"), &json!({"location": "westus", "properties": {"ipConfigurations": [{"name": "c", "properties": {}}]}}));
    assert_eq!(
        no_subnet.body["error"]["target"],
        "properties.ipConfigurations[0].properties.subnet"
    );
    let none = fake.put(
        &at("networkInterfaces/n"),
        &json!({"location": "westus", "properties": {}}),
    );
    assert_eq!(
        (none.status, none.body["error"]["target"].as_str()),
        (400, Some("properties.ipConfigurations"))
    );
}

#[test]
fn security_rules_are_validated_and_replaced_with_their_group() {
    let fake = Fake::start();
    fake.group("rg");
    let rule = |prio: i64, port: &str| {
        json!({"protocol": "Tcp", "access": "Allow", "direction": "Inbound", "priority": prio,
               "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": port})
    };
    let nsg = fake.create(
        &at("networkSecurityGroups/g"),
        &json!({"location": "westus", "properties": {"securityRules": [{"name": "http", "properties": rule(100, "80")}]}}),
    );
    assert_eq!(names(&nsg["properties"]["securityRules"]), ["http"]);
    assert_eq!(
        nsg["properties"]["defaultSecurityRules"]
            .as_array()
            .map(Vec::len),
        Some(6)
    );
    let ssh = fake.create(
        &at("networkSecurityGroups/g/securityRules/ssh"),
        &json!({"properties": rule(110, "22")}),
    );
    assert_eq!(ssh["properties"]["destinationPortRange"], "22");
    assert_eq!(
        names(&fake.get(&at("networkSecurityGroups/g")).body["properties"]["securityRules"]),
        ["http", "ssh"]
    );
    let bad = fake.put(
        &at("networkSecurityGroups/g/securityRules/x"),
        &json!({"properties": rule(50, "22")}),
    );
    assert_eq!(
        (bad.status, bad.body["error"]["code"].as_str()),
        (400, Some("SecurityRuleInvalidPriority"))
    );
    let mut no_access = rule(120, "22");
    no_access["access"] = json!("Maybe");
    let bad = fake.put(
        &at("networkSecurityGroups/g/securityRules/x"),
        &json!({"properties": no_access}),
    );
    assert_eq!(bad.body["error"]["target"], "properties.access");
    // The group's PUT without rules drops them.
    let nsg = fake.create(
        &at("networkSecurityGroups/g"),
        &json!({"location": "westus"}),
    );
    assert_eq!(nsg["properties"]["securityRules"], json!([]));
    assert_eq!(
        fake.get(&at("networkSecurityGroups/g/securityRules/ssh"))
            .status,
        404
    );
}

#[test]
fn public_ips_get_addresses_and_standard_ones_must_be_static() {
    let fake = Fake::start();
    fake.group("rg");
    let bad = fake.put(
        &at("publicIPAddresses/p"),
        &json!({"location": "westus", "sku": {"name": "Standard"}}),
    );
    assert_eq!(
        (bad.status, bad.body["error"]["code"].as_str()),
        (400, Some("StandardSkuPublicIPAddressesMustBeStatic"))
    );
    let body = json!({"location": "westus", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static", "dnsSettings": {"domainNameLabel": "web"}}});
    let p = fake.create(&at("publicIPAddresses/p"), &body);
    let ip = p["properties"]["ipAddress"]
        .as_str()
        .expect("an address")
        .to_string();
    assert!(ip.parse::<std::net::Ipv4Addr>().is_ok(), "{ip}");
    assert_eq!(
        p["properties"]["dnsSettings"]["fqdn"],
        "web.westus.cloudapp.azure.com"
    );
    let again = fake.create(&at("publicIPAddresses/p"), &body);
    assert_eq!(again["properties"]["ipAddress"], json!(ip));
    let basic = fake.create(&at("publicIPAddresses/d"), &json!({"location": "westus"}));
    assert_eq!(basic["sku"]["name"], "Basic");
    assert!(
        basic["properties"]["ipAddress"].is_null(),
        "dynamic addresses come with an attached VM"
    );
}

#[test]
fn load_balancer_entries_get_ids_and_their_references_are_checked() {
    let fake = Fake::start();
    fake.group("rg");
    fake.create(&at("publicIPAddresses/ip"), &json!({"location": "westus"}));
    let lb = id("loadBalancers/lb");
    let rule = |frontend: &str| {
        json!({"name": "http", "properties": {"protocol": "Tcp", "frontendPort": 80, "backendPort": 80,
            "frontendIPConfiguration": {"id": format!("{lb}/frontendIPConfigurations/{frontend}")},
            "backendAddressPool": {"id": format!("{lb}/backendAddressPools/pool")},
            "probe": {"id": format!("{lb}/probes/http")}}})
    };
    let body = |frontend: &str| {
        json!({"location": "westus", "properties": {
            "frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": id("publicIPAddresses/ip")}}}],
            "backendAddressPools": [{"name": "pool"}],
            "probes": [{"name": "http", "properties": {"protocol": "Http", "port": 80, "requestPath": "/"}}],
            "loadBalancingRules": [rule(frontend)]}})
    };
    let missing = fake.put(&at("loadBalancers/lb"), &body("other"));
    assert_eq!(
        (missing.status, missing.body["error"]["code"].as_str()),
        (400, Some("InvalidResourceReference"))
    );
    assert_eq!(
        missing.body["error"]["target"],
        "properties.loadBalancingRules[0].properties.frontendIPConfiguration.id"
    );
    let got = fake.create(&at("loadBalancers/lb"), &body("fe"));
    assert_eq!(
        got["properties"]["backendAddressPools"][0]["id"],
        format!("{lb}/backendAddressPools/pool")
    );
    let mut no_path = body("fe");
    no_path["properties"]["probes"][0]["properties"]["requestPath"] = Value::Null;
    let bad = fake.put(&at("loadBalancers/lb"), &no_path);
    assert_eq!(
        bad.body["error"]["target"],
        "properties.probes[0].properties.requestPath"
    );
    // A NIC in the pool holds the load balancer.
    fake.create(&at("virtualNetworks/v"), &vnet(&[("a", "10.0.1.0/24")]));
    fake.create(
        &at("networkInterfaces/n"),
        &nic("virtualNetworks/v/subnets/a", json!({"loadBalancerBackendAddressPools": [{"id": format!("{lb}/backendAddressPools/pool")}]})),
    );
    let del = fake.call("DELETE", &at("loadBalancers/lb"), None);
    assert_eq!(
        (del.status, del.body["error"]["code"].as_str()),
        (409, Some("InUseLoadBalancerCannotBeDeleted"))
    );
    // Dropping the pool while the NIC uses it is refused too.
    let mut without_pool = body("fe");
    without_pool["properties"]["backendAddressPools"] = json!([]);
    without_pool["properties"]["loadBalancingRules"] = json!([]);
    let a = fake.put(&at("loadBalancers/lb"), &without_pool);
    assert_eq!(
        (a.status, a.body["error"]["target"].as_str()),
        (409, Some(id("networkInterfaces/n").as_str())),
        "{}",
        a.body
    );
}

#[test]
fn lists_cover_a_group_and_the_subscription() {
    let fake = Fake::start();
    fake.group("rg");
    fake.group("other");
    fake.create(&at("virtualNetworks/v1"), &vnet(&[]));
    fake.create(
        &format!(
            "{}/providers/Microsoft.Network/virtualNetworks/v2?{API}",
            Fake::rg_path("other")
        ),
        &vnet(&[]),
    );
    assert_eq!(
        names(&fake.get(&at("virtualNetworks")).body["value"]),
        ["v1"]
    );
    let all = fake.get(&format!(
        "/subscriptions/{SUB}/providers/Microsoft.Network/virtualNetworks?{API}"
    ));
    assert_eq!(names(&all.body["value"]), ["v2", "v1"]);
    let resources = fake.get(&format!(
        "{}/resources?api-version=2021-04-01",
        Fake::rg_path("rg")
    ));
    assert_eq!(resources.body["value"][0]["id"], id("virtualNetworks/v1"));
}
