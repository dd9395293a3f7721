//! `Microsoft.Network` (api-version 2024-03-01): virtual networks and
//! subnets, network security groups and rules, public IP addresses,
//! network interfaces and load balancers — validation, defaults (GUIDs,
//! addresses, the default security rules) and the read-only
//! back-references GET shows (a subnet's IP configurations, a NIC's
//! virtual machine, a public IP's IP configuration).

use crate::error::ArmError;
use crate::ids::{self, key};
use crate::refs;
use crate::store::{Resource, State};
use crate::types::TypeDef;
use serde_json::{json, Value};

/// An IPv4 CIDR: base address and prefix length.
pub fn cidr(s: &str) -> Option<(u32, u8)> {
    let (addr, len) = s.split_once('/')?;
    let len: u8 = len.parse().ok().filter(|l| *l <= 32)?;
    let ip: std::net::Ipv4Addr = addr.parse().ok()?;
    let base = u32::from(ip);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    (base & mask == base).then_some((base, len))
}

/// Whether CIDR `inner` lies within `outer`.
fn contains(outer: (u32, u8), inner: (u32, u8)) -> bool {
    let mask = if outer.1 == 0 {
        0
    } else {
        u32::MAX << (32 - outer.1)
    };
    inner.1 >= outer.1 && inner.0 & mask == outer.0
}

fn etag(state: &mut State, body: &mut Value) {
    body["etag"] = json!(format!("W/\"{}\"", state.guid()));
}

/// Keeps `resourceGuid` across updates, or makes one.
fn resource_guid(state: &mut State, body: &mut Value, existing: Option<&Value>) {
    let g = existing
        .and_then(|e| e["properties"]["resourceGuid"].as_str().map(String::from))
        .unwrap_or_else(|| state.guid());
    body["properties"]["resourceGuid"] = json!(g);
}

fn one_of(v: &Value, field: &str, allowed: &[&str], name: &str) -> Result<(), ArmError> {
    match v.as_str() {
        Some(s) if allowed.iter().any(|a| a.eq_ignore_ascii_case(s)) => Ok(()),
        _ => Err(ArmError::invalid_parameter(
            field,
            format!(
                "{name}: {field} is {v}; it must be one of {}.",
                allowed.join(", ")
            ),
        )),
    }
}

/// Gives each entry of the inline collections `fields` of `body` (resource
/// `id`, type `type_name`) its id, type and provisioning state, as ARM
/// shows them; entries need names.
fn stamp_entries(
    id: &str,
    type_name: &str,
    body: &mut Value,
    fields: &[&str],
) -> Result<(), ArmError> {
    for f in fields {
        let Some(entries) = body["properties"].get_mut(*f) else {
            continue;
        };
        let Some(entries) = entries.as_array_mut() else {
            return Err(ArmError::invalid_parameter(
                &format!("properties.{f}"),
                format!("{f} must be an array"),
            ));
        };
        for (i, e) in entries.iter_mut().enumerate() {
            let name = e["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .map(String::from)
                .ok_or_else(|| {
                    ArmError::invalid_parameter(
                        &format!("properties.{f}[{i}].name"),
                        format!("Every entry of {f} needs a name."),
                    )
                })?;
            e["id"] = json!(format!("{id}/{f}/{name}"));
            e["type"] = json!(format!("{type_name}/{f}"));
            if !e["properties"].is_object() {
                e["properties"] = json!({});
            }
            e["properties"]["provisioningState"] = json!("Succeeded");
        }
    }
    Ok(())
}

/// Validation and defaults of a write (see [`crate::hooks::prepare`]).
pub fn prepare(
    state: &mut State,
    def: &TypeDef,
    id: &str,
    body: &mut Value,
    existing: Option<&Value>,
    parent: Option<&Value>,
) -> Result<(), ArmError> {
    let name = ids::name_of(id).to_string();
    etag(state, body);
    match def.path {
        "virtualNetworks" => {
            resource_guid(state, body, existing);
            if body["properties"]["virtualNetworkPeerings"].is_null() {
                body["properties"]["virtualNetworkPeerings"] = json!([]);
            }
            let prefixes = &body["properties"]["addressSpace"]["addressPrefixes"];
            let field = "properties.addressSpace.addressPrefixes";
            let list = prefixes.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                ArmError::invalid_parameter(field, format!("Virtual network {name}: {field} must list at least one address prefix."))
            })?;
            for p in list {
                if p.as_str().and_then(cidr).is_none() {
                    return Err(ArmError::invalid_parameter(
                        field,
                        format!("Virtual network {name}: {p} is not a valid CIDR address prefix."),
                    ));
                }
            }
        }
        "virtualNetworks/subnets" => {
            let field = "properties.addressPrefix";
            let prefix = body["properties"]["addressPrefix"]
                .as_str()
                .or_else(|| body["properties"]["addressPrefixes"][0].as_str())
                .ok_or_else(|| {
                    ArmError::invalid_parameter(
                        field,
                        format!("Subnet {name}: {field} is required."),
                    )
                })?;
            let c = cidr(prefix).ok_or_else(|| {
                ArmError::new(
                    400,
                    "InvalidAddressPrefixFormat",
                    format!("Subnet {name}: address prefix {prefix} has an invalid format."),
                )
                .with_target(field)
            })?;
            let space: Vec<(u32, u8)> = parent
                .and_then(|p| p["properties"]["addressSpace"]["addressPrefixes"].as_array())
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().and_then(cidr))
                .collect();
            if !space.iter().any(|s| contains(*s, c)) {
                return Err(ArmError::new(
                    400,
                    "NetcfgSubnetRangeOutsideVnet",
                    format!("Subnet '{name}' is not valid because its IP address range is outside the IP address range of virtual network."),
                )
                .with_target(field));
            }
        }
        "networkSecurityGroups" => resource_guid(state, body, existing),
        "networkSecurityGroups/securityRules" => security_rule(&name, body)?,
        "publicIPAddresses" => {
            resource_guid(state, body, existing);
            if body["sku"].is_null() {
                body["sku"] = json!({"name": "Basic", "tier": "Regional"});
            }
            one_of(
                &body["sku"]["name"],
                "sku.name",
                &["Basic", "Standard"],
                &name,
            )?;
            let p = &mut body["properties"];
            if p["publicIPAllocationMethod"].is_null() {
                p["publicIPAllocationMethod"] = json!("Dynamic");
            }
            if p["publicIPAddressVersion"].is_null() {
                p["publicIPAddressVersion"] = json!("IPv4");
            }
            if p["idleTimeoutInMinutes"].is_null() {
                p["idleTimeoutInMinutes"] = json!(4);
            }
            one_of(
                &p["publicIPAllocationMethod"],
                "properties.publicIPAllocationMethod",
                &["Static", "Dynamic"],
                &name,
            )?;
            if body["sku"]["name"] == "Standard"
                && body["properties"]["publicIPAllocationMethod"] != "Static"
            {
                return Err(ArmError::new(
                    400,
                    "StandardSkuPublicIPAddressesMustBeStatic",
                    format!("Standard sku publicIp {id} must have AllocationMethod set to Static."),
                )
                .with_target("properties.publicIPAllocationMethod"));
            }
            if let Some(ip) = existing.and_then(|e| e["properties"].get("ipAddress")) {
                body["properties"]["ipAddress"] = ip.clone();
            }
            let location = body["location"].as_str().unwrap_or_default().to_string();
            if let Some(label) = body["properties"]["dnsSettings"]["domainNameLabel"]
                .as_str()
                .map(String::from)
            {
                body["properties"]["dnsSettings"]["fqdn"] =
                    json!(format!("{label}.{location}.cloudapp.azure.com"));
            }
        }
        "networkInterfaces" => {
            nic(state, id, body, existing)?;
            let p = &mut body["properties"];
            for (field, default) in [
                (
                    "dnsSettings",
                    json!({"dnsServers": [], "appliedDnsServers": []}),
                ),
                ("enableIPForwarding", json!(false)),
                ("enableAcceleratedNetworking", json!(false)),
                ("vnetEncryptionSupported", json!(false)),
            ] {
                if p[field].is_null() {
                    p[field] = default;
                }
            }
        }
        "loadBalancers" => load_balancer(id, body)?,
        _ => {}
    }
    Ok(())
}

fn security_rule(name: &str, body: &mut Value) -> Result<(), ArmError> {
    let p = &body["properties"];
    one_of(
        &p["protocol"],
        "properties.protocol",
        &["Tcp", "Udp", "Icmp", "Esp", "Ah", "*"],
        name,
    )?;
    one_of(&p["access"], "properties.access", &["Allow", "Deny"], name)?;
    one_of(
        &p["direction"],
        "properties.direction",
        &["Inbound", "Outbound"],
        name,
    )?;
    match p["priority"].as_i64() {
        Some(pr) if (100..=4096).contains(&pr) => {}
        _ => {
            return Err(ArmError::new(
                400,
                "SecurityRuleInvalidPriority",
                format!("Security rule {name} has invalid Priority. Value provided: {}. Allowed range 100-4096.", p["priority"]),
            )
            .with_target("properties.priority"))
        }
    }
    for (one, many) in [
        ("sourceAddressPrefix", "sourceAddressPrefixes"),
        ("destinationAddressPrefix", "destinationAddressPrefixes"),
        ("sourcePortRange", "sourcePortRanges"),
        ("destinationPortRange", "destinationPortRanges"),
    ] {
        let has_many = p[many].as_array().is_some_and(|a| !a.is_empty());
        if p[one].as_str().is_none()
            && !has_many
            && !(one.contains("AddressPrefix")
                && p[one.replace("AddressPrefix", "ApplicationSecurityGroups")].is_array())
        {
            return Err(ArmError::invalid_parameter(
                &format!("properties.{one}"),
                format!("Security rule {name}: {one} or {many} is required."),
            ));
        }
    }
    Ok(())
}

fn nic(
    state: &mut State,
    id: &str,
    body: &mut Value,
    existing: Option<&Value>,
) -> Result<(), ArmError> {
    let name = ids::name_of(id).to_string();
    resource_guid(state, body, existing);
    let field = "properties.ipConfigurations";
    let count = body["properties"]["ipConfigurations"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    if count == 0 {
        return Err(ArmError::invalid_parameter(
            field,
            format!("Network interface {name}: {field} must have at least one IP configuration."),
        ));
    }
    stamp_entries(
        id,
        "Microsoft.Network/networkInterfaces",
        body,
        &["ipConfigurations"],
    )?;
    let previous: Vec<Value> = existing
        .and_then(|e| e["properties"]["ipConfigurations"].as_array().cloned())
        .unwrap_or_default();
    for i in 0..count {
        let c = &mut body["properties"]["ipConfigurations"][i];
        let cname = c["name"].as_str().unwrap_or_default().to_string();
        let subnet = c["properties"]["subnet"]["id"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| {
                ArmError::invalid_parameter(
                    &format!("{field}[{i}].properties.subnet"),
                    format!("Network interface {name}: IP configuration {cname} needs a subnet."),
                )
            })?;
        let p = &mut c["properties"];
        if p["primary"].is_null() {
            p["primary"] = json!(i == 0);
        }
        if p["privateIPAddressVersion"].is_null() {
            p["privateIPAddressVersion"] = json!("IPv4");
        }
        let method = p["privateIPAllocationMethod"]
            .as_str()
            .unwrap_or("Dynamic")
            .to_string();
        one_of(
            &json!(method),
            &format!("{field}[{i}].properties.privateIPAllocationMethod"),
            &["Static", "Dynamic"],
            &name,
        )?;
        p["privateIPAllocationMethod"] = json!(method);
        if method == "Static" {
            if p["privateIPAddress"]
                .as_str()
                .and_then(|a| a.parse::<std::net::Ipv4Addr>().ok())
                .is_none()
            {
                return Err(ArmError::invalid_parameter(
                    &format!("{field}[{i}].properties.privateIPAddress"),
                    format!("Network interface {name}: a Static IP configuration needs a valid privateIPAddress."),
                ));
            }
            continue;
        }
        // Dynamic: keep the address while the subnet stays, else the next
        // free one of the subnet.
        let kept = previous
            .iter()
            .find(|e| {
                e["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&cname))
            })
            .filter(|e| e["properties"]["subnet"]["id"].as_str().map(key) == Some(key(&subnet)))
            .and_then(|e| {
                e["properties"]["privateIPAddress"]
                    .as_str()
                    .map(String::from)
            });
        let address = kept.or_else(|| next_address(state, &subnet));
        if let Some(a) = address {
            body["properties"]["ipConfigurations"][i]["properties"]["privateIPAddress"] = json!(a);
        }
    }
    Ok(())
}

/// The next address of subnet `subnet` (Azure keeps the first four).
fn next_address(state: &mut State, subnet: &str) -> Option<String> {
    let prefix = state.resources.get(&key(subnet))?.body["properties"]["addressPrefix"]
        .as_str()
        .and_then(cidr)?;
    let n = state.addresses.entry(key(subnet)).or_insert(3);
    *n += 1;
    Some(std::net::Ipv4Addr::from(prefix.0 + *n).to_string())
}

fn load_balancer(id: &str, body: &mut Value) -> Result<(), ArmError> {
    let name = ids::name_of(id).to_string();
    if body["sku"].is_null() {
        body["sku"] = json!({"name": "Basic", "tier": "Regional"});
    }
    one_of(
        &body["sku"]["name"],
        "sku.name",
        &["Basic", "Standard", "Gateway"],
        &name,
    )?;
    let collections = [
        "frontendIPConfigurations",
        "backendAddressPools",
        "probes",
        "loadBalancingRules",
        "inboundNatRules",
        "inboundNatPools",
        "outboundRules",
    ];
    stamp_entries(id, "Microsoft.Network/loadBalancers", body, &collections)?;
    let p = &body["properties"];
    for (i, f) in p["frontendIPConfigurations"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if f["properties"]["publicIPAddress"]["id"].is_null()
            && f["properties"]["subnet"]["id"].is_null()
        {
            return Err(ArmError::invalid_parameter(
                &format!("properties.frontendIPConfigurations[{i}].properties"),
                format!("Load balancer {name}: frontend IP configuration {} needs a publicIPAddress or a subnet.", f["name"]),
            ));
        }
    }
    for (i, pr) in p["probes"].as_array().into_iter().flatten().enumerate() {
        let at = format!("properties.probes[{i}].properties");
        one_of(
            &pr["properties"]["protocol"],
            &format!("{at}.protocol"),
            &["Http", "Tcp", "Https"],
            &name,
        )?;
        port(&pr["properties"]["port"], &format!("{at}.port"), &name)?;
        if pr["properties"]["protocol"] != "Tcp"
            && pr["properties"]["requestPath"].as_str().is_none()
        {
            return Err(ArmError::invalid_parameter(
                &format!("{at}.requestPath"),
                format!("Load balancer {name}: an HTTP probe needs a requestPath."),
            ));
        }
    }
    for (i, r) in p["loadBalancingRules"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("properties.loadBalancingRules[{i}].properties");
        let rp = &r["properties"];
        one_of(
            &rp["protocol"],
            &format!("{at}.protocol"),
            &["Tcp", "Udp", "All"],
            &name,
        )?;
        port(&rp["frontendPort"], &format!("{at}.frontendPort"), &name)?;
        port(&rp["backendPort"], &format!("{at}.backendPort"), &name)?;
        if rp["frontendIPConfiguration"]["id"].as_str().is_none() {
            return Err(ArmError::invalid_parameter(
                &format!("{at}.frontendIPConfiguration"),
                format!(
                    "Load balancer {name}: rule {} needs a frontendIPConfiguration.",
                    r["name"]
                ),
            ));
        }
    }
    Ok(())
}

fn port(v: &Value, field: &str, name: &str) -> Result<(), ArmError> {
    match v.as_i64() {
        Some(p) if (0..=65535).contains(&p) => Ok(()),
        _ => Err(ArmError::invalid_parameter(
            field,
            format!("{name}: {field} is {v}; it must be a port (0-65535)."),
        )),
    }
}

/// After a successful write: a static public IP gets its address.
pub fn completed(state: &mut State, k: &str) {
    let Some(r) = state.resources.get(k) else {
        return;
    };
    if r.def.path != "publicIPAddresses"
        || r.body["properties"]["publicIPAllocationMethod"] != "Static"
        || r.body["properties"]["ipAddress"].is_string()
    {
        return;
    }
    let n = state.addresses.entry("public".into()).or_insert(0);
    *n += 1;
    let ip =
        std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::new(20, 0, 0, 0)) + *n).to_string();
    if let Some(r) = state.resources.get_mut(k) {
        r.body["properties"]["ipAddress"] = json!(ip);
    }
}

/// The ids of what refers into `id`, as `{"id": ...}` objects: the inline
/// entry holding the reference (an IP configuration) where there is one,
/// else the resource; only referrers of type `from` (`networkInterfaces`).
fn referrers(state: &State, id: &str, from: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for r in state.resources.values().filter(|r| r.def.path == from) {
        for (field, target) in refs::references(&r.body) {
            if ids::key(&target) != ids::key(id) {
                continue;
            }
            // `properties.ipConfigurations[0]...`: the entry's id.
            let entry = field
                .strip_prefix("properties.")
                .and_then(|f| f.split_once('['))
                .and_then(|(coll, rest)| rest.split_once(']').map(|(i, _)| (coll, i)))
                .and_then(|(coll, i)| {
                    r.body["properties"][coll][i.parse::<usize>().ok()?]["id"]
                        .as_str()
                        .map(String::from)
                });
            let v = json!({"id": entry.unwrap_or_else(|| r.id.clone())});
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

/// An NSG's default rules: name, direction, access, source, destination,
/// priority, description.
type DefaultRule = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    i64,
    &'static str,
);

const DEFAULT_RULES: &[DefaultRule] = &[
    (
        "AllowVnetInBound",
        "Inbound",
        "Allow",
        "VirtualNetwork",
        "VirtualNetwork",
        65000,
        "Allow inbound traffic from all VMs in VNET",
    ),
    (
        "AllowAzureLoadBalancerInBound",
        "Inbound",
        "Allow",
        "AzureLoadBalancer",
        "*",
        65001,
        "Allow inbound traffic from azure load balancer",
    ),
    (
        "DenyAllInBound",
        "Inbound",
        "Deny",
        "*",
        "*",
        65500,
        "Deny all inbound traffic",
    ),
    (
        "AllowVnetOutBound",
        "Outbound",
        "Allow",
        "VirtualNetwork",
        "VirtualNetwork",
        65000,
        "Allow outbound traffic from all VMs to all VMs in VNET",
    ),
    (
        "AllowInternetOutBound",
        "Outbound",
        "Allow",
        "*",
        "Internet",
        65001,
        "Allow outbound traffic from all VMs to Internet",
    ),
    (
        "DenyAllOutBound",
        "Outbound",
        "Deny",
        "*",
        "*",
        65500,
        "Deny all outbound traffic",
    ),
];

/// Back-references and defaults GET shows (see the module docs).
pub fn render(state: &State, r: &Resource, v: &mut Value) {
    let p = &mut v["properties"];
    match r.def.path {
        "virtualNetworks/subnets" => {
            let users = referrers(state, &r.id, "networkInterfaces");
            if !users.is_empty() {
                p["ipConfigurations"] = Value::Array(users);
            }
        }
        "networkInterfaces" => {
            if let Some(vm) = referrers(state, &r.id, "virtualMachines").first() {
                p["virtualMachine"] = json!({"id": vm["id"]});
            }
        }
        "publicIPAddresses" => {
            let users = referrers(state, &r.id, "networkInterfaces");
            let lbs = referrers(state, &r.id, "loadBalancers");
            if let Some(u) = users.first().or(lbs.first()) {
                p["ipConfiguration"] = u.clone();
            }
        }
        "networkSecurityGroups" => {
            let nics = referrers(state, &r.id, "networkInterfaces");
            if !nics.is_empty() {
                p["networkInterfaces"] = Value::Array(
                    nics.iter()
                        .map(
                            |n| json!({"id": ids::parent_of(n["id"].as_str().unwrap_or_default())}),
                        )
                        .collect(),
                );
            }
            let subnets = referrers(state, &r.id, "virtualNetworks/subnets");
            if !subnets.is_empty() {
                p["subnets"] = Value::Array(subnets);
            }
            p["defaultSecurityRules"] = DEFAULT_RULES
                .iter()
                .map(|(name, dir, access, src, dst, prio, description)| {
                    json!({
                        "id": format!("{}/defaultSecurityRules/{name}", r.id),
                        "name": name,
                        "type": "Microsoft.Network/networkSecurityGroups/defaultSecurityRules",
                        "properties": {
                            "description": description, "protocol": "*",
                            "sourcePortRange": "*", "destinationPortRange": "*",
                            "sourceAddressPrefix": src, "destinationAddressPrefix": dst,
                            "access": access, "priority": prio, "direction": dir,
                            "provisioningState": "Succeeded",
                        }
                    })
                })
                .collect();
        }
        _ => {}
    }
}
