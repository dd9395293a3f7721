//! The fake against request and response shapes recorded in Azure's REST
//! API specs (github.com/Azure/azure-rest-api-specs, `examples/*.json` of
//! the api-versions the azure_mgmt_* 0.21 crates send). Each test sends an
//! example's request over HTTP and checks the answer has every field of
//! the example's response with the same value, except server-made ones
//! (GUIDs, etags) and the places named where an example contradicts its
//! own request.

mod support;

use serde_json::{json, Value};
use support::{shape_mismatch, Fake, SUB};

fn at(rg: &str, path: &str, api: &str) -> String {
    format!("{}/providers/{path}?api-version={api}", Fake::rg_path(rg))
}

fn id(rg: &str, path: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{rg}/providers/{path}")
}

fn assert_shape(expected: &Value, actual: &Value, skip: &[&str]) {
    if let Some(m) = shape_mismatch(expected, actual, skip, "") {
        panic!("{m}\nactual: {actual:#}");
    }
}

const NET: &str = "2024-03-01";
const COMPUTE: &str = "2024-07-01";

/// specification/resources/resource-manager/Microsoft.Resources/stable/2021-04-01/examples/CreateResourceGroup.json
#[test]
fn resource_group_create_matches_the_2021_04_01_example() {
    let fake = Fake::start();
    let path =
        format!("/subscriptions/{SUB}/resourcegroups/my-resource-group?api-version=2021-04-01");
    let expected = json!({
        "id": format!("/subscriptions/{SUB}/resourceGroups/my-resource-group"),
        "name": "my-resource-group",
        "location": "eastus",
        "properties": {"provisioningState": "Succeeded"}
    });
    let created = fake.put(&path, &json!({"location": "eastus"}));
    assert_eq!(created.status, 201);
    assert_shape(&expected, &created.body, &[]);
    let again = fake.put(&path, &json!({"location": "eastus"}));
    assert_eq!(again.status, 200);
    assert_shape(&expected, &again.body, &[]);
}

/// specification/network/resource-manager/Microsoft.Network/stable/2024-03-01/examples/VirtualNetworkCreateSubnet.json
#[test]
fn virtual_network_with_a_subnet_matches_the_2024_03_01_example() {
    let fake = Fake::start();
    fake.group("rg1");
    let request = json!({
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "test-1", "properties": {"addressPrefix": "10.0.0.0/24"}}]
        },
        "location": "eastus"
    });
    let vnet = id("rg1", "Microsoft.Network/virtualNetworks/test-vnet");
    let expected = json!({
        "name": "test-vnet",
        "id": vnet,
        "type": "Microsoft.Network/virtualNetworks",
        "location": "eastus",
        "properties": {
            "provisioningState": "Succeeded",
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{
                "id": format!("{vnet}/subnets/test-1"),
                "name": "test-1",
                "properties": {"addressPrefix": "10.0.0.0/24", "provisioningState": "Succeeded"}
            }],
            "virtualNetworkPeerings": []
        }
    });
    let path = at("rg1", "Microsoft.Network/virtualNetworks/test-vnet", NET);
    let created = fake.put(&path, &request);
    assert_eq!(created.status, 201);
    // The example shows the finished state; the fake answers while the
    // operation runs, as ARM does, then GET shows it.
    assert_shape(&expected, &created.body, &["provisioningState"]);
    assert_eq!(fake.wait(&created)["status"], "Succeeded");
    assert_shape(&expected, &fake.get(&path).body, &[]);
}

/// specification/network/resource-manager/Microsoft.Network/stable/2024-03-01/examples/NetworkSecurityGroupCreateWithRule.json
#[test]
fn network_security_group_with_a_rule_matches_the_2024_03_01_example() {
    let fake = Fake::start();
    fake.group("rg1");
    let rule = json!({
        "protocol": "*", "sourceAddressPrefix": "*", "destinationAddressPrefix": "*",
        "access": "Allow", "destinationPortRange": "80", "sourcePortRange": "*",
        "priority": 130, "direction": "Inbound"
    });
    let nsg = id("rg1", "Microsoft.Network/networkSecurityGroups/testnsg");
    let default =
        |name: &str, desc: &str, src: &str, dst: &str, access: &str, prio: i64, dir: &str| {
            json!({
                "name": name,
                "id": format!("{nsg}/defaultSecurityRules/{name}"),
                "properties": {
                    "provisioningState": "Succeeded", "description": desc, "protocol": "*",
                    "sourcePortRange": "*", "destinationPortRange": "*",
                    "sourceAddressPrefix": src, "destinationAddressPrefix": dst,
                    "access": access, "priority": prio, "direction": dir
                }
            })
        };
    let mut rule_out = rule.clone();
    rule_out["provisioningState"] = json!("Succeeded");
    let expected = json!({
        "name": "testnsg",
        "id": nsg,
        "type": "Microsoft.Network/networkSecurityGroups",
        "location": "eastus",
        "properties": {
            "provisioningState": "Succeeded",
            "securityRules": [{"name": "rule1", "id": format!("{nsg}/securityRules/rule1"), "properties": rule_out}],
            "defaultSecurityRules": [
                default("AllowVnetInBound", "Allow inbound traffic from all VMs in VNET", "VirtualNetwork", "VirtualNetwork", "Allow", 65000, "Inbound"),
                default("AllowAzureLoadBalancerInBound", "Allow inbound traffic from azure load balancer", "AzureLoadBalancer", "*", "Allow", 65001, "Inbound"),
                default("DenyAllInBound", "Deny all inbound traffic", "*", "*", "Deny", 65500, "Inbound"),
                default("AllowVnetOutBound", "Allow outbound traffic from all VMs to all VMs in VNET", "VirtualNetwork", "VirtualNetwork", "Allow", 65000, "Outbound"),
                default("AllowInternetOutBound", "Allow outbound traffic from all VMs to Internet", "*", "Internet", "Allow", 65001, "Outbound"),
                default("DenyAllOutBound", "Deny all outbound traffic", "*", "*", "Deny", 65500, "Outbound"),
            ]
        }
    });
    let got = fake.create(
        &at("rg1", "Microsoft.Network/networkSecurityGroups/testnsg", NET),
        &json!({"properties": {"securityRules": [{"name": "rule1", "properties": rule}]}, "location": "eastus"}),
    );
    assert_shape(&expected, &got, &[]);
}

/// The subnet and public IP the NIC and VM examples refer to.
fn network_for_examples(fake: &Fake, rg: &str, vnet: &str, subnet: &str, prefix: &str) {
    fake.group(rg);
    fake.create(
        &at(
            rg,
            &format!("Microsoft.Network/virtualNetworks/{vnet}"),
            NET,
        ),
        &json!({"location": "eastus", "properties": {
            "addressSpace": {"addressPrefixes": ["172.20.0.0/16"]},
            "subnets": [{"name": subnet, "properties": {"addressPrefix": prefix}}]}}),
    );
}

/// specification/network/resource-manager/Microsoft.Network/stable/2024-03-01/examples/NetworkInterfaceCreate.json
#[test]
fn network_interface_matches_the_2024_03_01_example() {
    let fake = Fake::start();
    network_for_examples(&fake, "rg1", "rg1-vnet", "default", "172.20.2.0/24");
    fake.create(
        &at("rg1", "Microsoft.Network/publicIPAddresses/test-ip", NET),
        &json!({"location": "eastus"}),
    );
    let pip = id("rg1", "Microsoft.Network/publicIPAddresses/test-ip");
    let subnet = id(
        "rg1",
        "Microsoft.Network/virtualNetworks/rg1-vnet/subnets/default",
    );
    let nic = id("rg1", "Microsoft.Network/networkInterfaces/test-nic");
    let request = json!({
        "properties": {
            "enableAcceleratedNetworking": true,
            "disableTcpStateTracking": true,
            "ipConfigurations": [{"name": "ipconfig1", "properties": {"publicIPAddress": {"id": pip}, "subnet": {"id": subnet}}}]
        },
        "location": "eastus"
    });
    let expected = json!({
        "name": "test-nic",
        "id": nic,
        "location": "eastus",
        "properties": {
            "provisioningState": "Succeeded",
            "ipConfigurations": [{
                "name": "ipconfig1",
                "id": format!("{nic}/ipConfigurations/ipconfig1"),
                "properties": {
                    "provisioningState": "Succeeded",
                    "privateIPAddress": "172.20.2.4",
                    "privateIPAllocationMethod": "Dynamic",
                    "publicIPAddress": {"id": pip},
                    "subnet": {"id": subnet},
                    "primary": true,
                    "privateIPAddressVersion": "IPv4"
                }
            }],
            "dnsSettings": {"dnsServers": [], "appliedDnsServers": []},
            "enableAcceleratedNetworking": true,
            "disableTcpStateTracking": true,
            "enableIPForwarding": false,
            "vnetEncryptionSupported": false
        },
        "type": "Microsoft.Network/networkInterfaces"
    });
    let got = fake.create(
        &at("rg1", "Microsoft.Network/networkInterfaces/test-nic", NET),
        &request,
    );
    assert_shape(&expected, &got, &[]);
    // The subnet and the public IP show who uses them.
    let s = fake.get(&at(
        "rg1",
        "Microsoft.Network/virtualNetworks/rg1-vnet/subnets/default",
        NET,
    ));
    assert_eq!(
        s.body["properties"]["ipConfigurations"],
        json!([{"id": format!("{nic}/ipConfigurations/ipconfig1")}])
    );
    let p = fake.get(&at(
        "rg1",
        "Microsoft.Network/publicIPAddresses/test-ip",
        NET,
    ));
    assert_eq!(
        p.body["properties"]["ipConfiguration"],
        json!({"id": format!("{nic}/ipConfigurations/ipconfig1")})
    );
}

const SSH_KEY: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCeClRAk2ipUs/l5voIsDC5q9RI+YSRd1Bvd/O+axgY4WiBzG+4FwJWZm/mLLe5DoOdHQwmU2FrKXZSW4w2sYE70KeWnrFViCOX5MTVvJgPE8ClugNl8RWth/tU849DvM9sT7vFgfVSHcAS2yDRyDlueii+8nF2ym8XWAPltFVCyLHRsyBp5YPqK8JFYIa1eybKsY3hEAxRCA+/7bq8et+Gj3coOsuRmrehav7rE6N12Pb80I6ofa6SM5XNYq4Xk0iYNx7R3kdz0Jj9XgZYWjAHjJmT0gTRoOnt6upOuxK7xI/ykWrllgpXrCPu3Ymz+c+ujaqcxDopnAl2lmf69/J1";

/// specification/compute/resource-manager/Microsoft.Compute/ComputeRP/stable/2024-07-01/examples/virtualMachineExamples/VirtualMachine_Create_WithSshAuthentication.json
#[test]
fn linux_vm_with_ssh_matches_the_2024_07_01_example() {
    let fake = Fake::start();
    network_for_examples(&fake, "myResourceGroup", "vnet", "default", "172.20.1.0/24");
    let subnet = id(
        "myResourceGroup",
        "Microsoft.Network/virtualNetworks/vnet/subnets/default",
    );
    fake.create(
        &at("myResourceGroup", "Microsoft.Network/networkInterfaces/nsgExistingNic", NET),
        &json!({"location": "westus", "properties": {"ipConfigurations": [{"name": "c", "properties": {"subnet": {"id": subnet}}}]}}),
    );
    let nic = id(
        "myResourceGroup",
        "Microsoft.Network/networkInterfaces/nsgExistingNic",
    );
    let image = json!({"sku": "16.04-LTS", "publisher": "Canonical", "version": "latest", "offer": "UbuntuServer"});
    let os_profile = json!({
        "adminUsername": "azureuser",
        "computerName": "myVM",
        "linuxConfiguration": {
            "ssh": {"publicKeys": [{"path": "/home/azureuser/.ssh/authorized_keys", "keyData": SSH_KEY}]},
            "disablePasswordAuthentication": true
        }
    });
    let request = json!({
        "location": "westus",
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_D1_v2"},
            "storageProfile": {
                "imageReference": image,
                "osDisk": {"caching": "ReadWrite", "managedDisk": {"storageAccountType": "Standard_LRS"}, "name": "myVMosdisk", "createOption": "FromImage"}
            },
            "osProfile": os_profile,
            "networkProfile": {"networkInterfaces": [{"id": nic, "properties": {"primary": true}}]}
        }
    });
    // The example's response names another image and NIC than its
    // request (placeholders); the fake's are the request's.
    let mut os_out = os_profile.clone();
    os_out["secrets"] = json!([]);
    let expected = json!({
        "id": id("myResourceGroup", "Microsoft.Compute/virtualMachines/myVM"),
        "type": "Microsoft.Compute/virtualMachines",
        "properties": {
            "osProfile": os_out,
            "networkProfile": {"networkInterfaces": [{"id": nic, "properties": {"primary": true}}]},
            "storageProfile": {
                "imageReference": image,
                "osDisk": {"osType": "Linux", "caching": "ReadWrite", "createOption": "FromImage", "name": "myVMosdisk", "managedDisk": {"storageAccountType": "Standard_LRS"}},
                "dataDisks": []
            },
            "hardwareProfile": {"vmSize": "Standard_D1_v2"},
            "provisioningState": "Creating"
        },
        "name": "myVM",
        "location": "westus"
    });
    let path = at(
        "myResourceGroup",
        "Microsoft.Compute/virtualMachines/myVM",
        COMPUTE,
    );
    let created = fake.put(&path, &request);
    assert_eq!(created.status, 201, "{}", created.body);
    assert_shape(&expected, &created.body, &[]);
    assert!(created.body["properties"]["vmId"]
        .as_str()
        .is_some_and(|v| v.len() == 36));
    assert_eq!(fake.wait(&created)["status"], "Succeeded");
    let nic_now = fake.get(&at(
        "myResourceGroup",
        "Microsoft.Network/networkInterfaces/nsgExistingNic",
        NET,
    ));
    assert_eq!(
        nic_now.body["properties"]["virtualMachine"]["id"],
        expected["id"]
    );
}

/// specification/compute/resource-manager/Microsoft.Compute/ComputeRP/stable/2024-07-01/examples/virtualMachineScaleSetExamples/VirtualMachineScaleSet_Create_WithAzureLoadBalancer.json
#[test]
fn scale_set_behind_a_load_balancer_matches_the_2024_07_01_example() {
    let fake = Fake::start();
    let rg = "myResourceGroup";
    network_for_examples(
        &fake,
        rg,
        "nsgExistingVnet",
        "nsgExistingSubnet",
        "172.20.1.0/24",
    );
    fake.create(
        &at(rg, "Microsoft.Network/publicIPAddresses/lbip", NET),
        &json!({"location": "westus"}),
    );
    let lb = id(rg, "Microsoft.Network/loadBalancers/myLb");
    fake.create(
        &at(rg, "Microsoft.Network/loadBalancers/myLb", NET),
        &json!({"location": "westus", "properties": {
            "frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": id(rg, "Microsoft.Network/publicIPAddresses/lbip")}}}],
            "backendAddressPools": [{"name": "lbBackendPool"}],
            "inboundNatPools": [{"name": "lbNatPool", "properties": {"frontendIPConfiguration": {"id": format!("{lb}/frontendIPConfigurations/fe")},
                "protocol": "Tcp", "frontendPortRangeStart": 50000, "frontendPortRangeEnd": 50119, "backendPort": 22}}]
        }}),
    );
    let subnet = id(
        rg,
        "Microsoft.Network/virtualNetworks/nsgExistingVnet/subnets/nsgExistingSubnet",
    );
    let ip_config = |with_public: bool| {
        let mut c = json!({"name": "vmss", "properties": {
            "subnet": {"id": subnet},
            "loadBalancerInboundNatPools": [{"id": format!("{lb}/inboundNatPools/lbNatPool")}],
            "loadBalancerBackendAddressPools": [{"id": format!("{lb}/backendAddressPools/lbBackendPool")}]
        }});
        if with_public {
            c["properties"]["publicIPAddressConfiguration"] =
                json!({"name": "vmss", "properties": {"publicIPAddressVersion": "IPv4"}});
        } else {
            c["properties"]["privateIPAddressVersion"] = json!("IPv4");
        }
        c
    };
    let storage = json!({
        "imageReference": {"sku": "2016-Datacenter", "publisher": "MicrosoftWindowsServer", "version": "latest", "offer": "WindowsServer"},
        "osDisk": {"caching": "ReadWrite", "managedDisk": {"storageAccountType": "Standard_LRS"}, "createOption": "FromImage"}
    });
    // The example's password placeholder fails ARM's complexity rule.
    let request = json!({
        "sku": {"tier": "Standard", "capacity": 3, "name": "Standard_D1_v2"},
        "location": "westus",
        "properties": {
            "overprovision": true,
            "virtualMachineProfile": {
                "storageProfile": storage,
                "osProfile": {"computerNamePrefix": "vmss", "adminUsername": "azureuser", "adminPassword": "Secret-Passw0rd"},
                "networkProfile": {"networkInterfaceConfigurations": [{"name": "vmss", "properties": {
                    "primary": true, "enableIPForwarding": true, "ipConfigurations": [ip_config(true)]}}]}
            },
            "upgradePolicy": {"mode": "Manual"}
        }
    });
    // The example's response drops the public IP configuration and adds a
    // windowsConfiguration (ARM's defaults for Windows images, which the
    // fake does not make up): neither is compared.
    let expected = json!({
        "sku": {"tier": "Standard", "capacity": 3, "name": "Standard_D1_v2"},
        "name": "vmss1",
        "properties": {
            "singlePlacementGroup": true,
            "overprovision": true,
            "virtualMachineProfile": {
                "storageProfile": storage,
                "osProfile": {"computerNamePrefix": "vmss", "adminUsername": "azureuser", "secrets": []},
                "networkProfile": {"networkInterfaceConfigurations": [{"name": "vmss", "properties": {
                    "dnsSettings": {"dnsServers": []}, "primary": true, "enableIPForwarding": true,
                    "ipConfigurations": [ip_config(false)], "enableAcceleratedNetworking": false}}]}
            },
            "upgradePolicy": {"mode": "Manual"},
            "provisioningState": "Creating"
        },
        "location": "westus",
        "type": "Microsoft.Compute/virtualMachineScaleSets",
        "id": id(rg, "Microsoft.Compute/virtualMachineScaleSets/vmss1")
    });
    let path = at(
        rg,
        "Microsoft.Compute/virtualMachineScaleSets/vmss1",
        COMPUTE,
    );
    let created = fake.put(&path, &request);
    assert_eq!(created.status, 201, "{}", created.body);
    assert_shape(&expected, &created.body, &[]);
    assert!(
        created.body["properties"]["virtualMachineProfile"]["osProfile"]
            .get("adminPassword")
            .is_none()
    );
    assert_eq!(fake.wait(&created)["status"], "Succeeded");
    let instances = fake.get(&at(
        rg,
        "Microsoft.Compute/virtualMachineScaleSets/vmss1/virtualMachines",
        COMPUTE,
    ));
    assert_eq!(instances.body["value"].as_array().map(Vec::len), Some(3));
}

/// specification/monitor/resource-manager/Microsoft.Insights/stable/2022-10-01/examples/createOrUpdateAutoscaleSetting.json
/// (its first profile of two).
#[test]
fn autoscale_setting_matches_the_2022_10_01_example() {
    let fake = Fake::start();
    let rg = "TestingMetricsScaleSet";
    network_for_examples(&fake, rg, "vnet", "default", "172.20.1.0/24");
    let subnet = id(rg, "Microsoft.Network/virtualNetworks/vnet/subnets/default");
    fake.create(
        &at(rg, "Microsoft.Compute/virtualMachineScaleSets/testingsc", COMPUTE),
        &json!({"location": "westus", "sku": {"name": "Standard_D1_v2", "capacity": 0}, "properties": {"virtualMachineProfile": {
            "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "UbuntuServer", "sku": "16.04-LTS", "version": "latest"}},
            "osProfile": {"computerNamePrefix": "t", "adminUsername": "azureuser", "linuxConfiguration": {"disablePasswordAuthentication": true,
                "ssh": {"publicKeys": [{"path": "/home/azureuser/.ssh/authorized_keys", "keyData": SSH_KEY}]}}},
            "networkProfile": {"networkInterfaceConfigurations": [{"name": "n", "properties": {"primary": true, "ipConfigurations": [{"name": "i", "properties": {"subnet": {"id": subnet}}}]}}]}
        }}}),
    );
    let target = id(rg, "Microsoft.Compute/virtualMachineScaleSets/testingsc");
    let rule = |grain: &str, threshold: f64, direction: &str, value: &str, cooldown: &str| {
        json!({
            "metricTrigger": {"metricName": "Percentage CPU", "metricResourceUri": target, "timeGrain": grain,
                "statistic": "Average", "timeWindow": "PT5M", "timeAggregation": "Average",
                "operator": "GreaterThan", "threshold": threshold, "dividePerInstance": false},
            "scaleAction": {"direction": direction, "type": "ChangeCount", "value": value, "cooldown": cooldown}
        })
    };
    let profile = json!({
        "name": "adios",
        "capacity": {"minimum": "1", "maximum": "10", "default": "1"},
        "rules": [rule("PT1M", 10.0, "Increase", "1", "PT5M"), rule("PT2M", 15.0, "Decrease", "2", "PT6M")],
        "fixedDate": {"timeZone": "UTC", "start": "2015-03-05T14:00:00Z", "end": "2015-03-05T14:30:00Z"}
    });
    let notifications = json!([{"operation": "Scale",
        "email": {"sendToSubscriptionAdministrator": true, "sendToSubscriptionCoAdministrators": true, "customEmails": ["gu@ms.com", "ge@ns.net"]},
        "webhooks": [{"serviceUri": "http://myservice.com", "properties": {}}]}]);
    let request = json!({
        "location": "West US",
        "tags": {"key1": "value1", "key2": "value2"},
        "properties": {
            "profiles": [profile],
            "enabled": true,
            "predictiveAutoscalePolicy": {"scaleMode": "Enabled"},
            "targetResourceUri": target,
            "notifications": notifications
        }
    });
    let expected = json!({
        "id": id(rg, "microsoft.insights/autoscalesettings/MySetting"),
        "name": "MySetting",
        "type": "Microsoft.Insights/autoscaleSettings",
        "location": "West US",
        "tags": {"key1": "value1", "key2": "value2"},
        "properties": {
            "profiles": [profile],
            "enabled": true,
            "name": "MySetting",
            "targetResourceUri": target,
            "predictiveAutoscalePolicy": {"scaleMode": "Enabled"},
            "notifications": notifications
        }
    });
    // The SDK's path spells the namespace and type in lower case.
    let path = at(
        rg,
        "microsoft.insights/autoscalesettings/MySetting",
        "2022-10-01",
    );
    let created = fake.put(&path, &request);
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(
        created.header("azure-asyncoperation").is_none(),
        "autoscale writes are synchronous"
    );
    assert_shape(&expected, &created.body, &[]);
    // Enabled, it brings the scale set (capacity 0) up to its minimum.
    let vmss = fake.get(&at(
        rg,
        "Microsoft.Compute/virtualMachineScaleSets/testingsc",
        COMPUTE,
    ));
    assert_eq!(vmss.body["sku"]["capacity"], 1);
}

#[test]
fn the_shape_comparison_finds_a_difference() {
    let expected = json!({"a": {"b": [1, 2]}, "c": "X"});
    assert_eq!(
        shape_mismatch(
            &expected,
            &json!({"a": {"b": [1, 2]}, "c": "x", "d": 0}),
            &[],
            ""
        ),
        None
    );
    assert!(shape_mismatch(&expected, &json!({"a": {"b": [1, 3]}, "c": "x"}), &[], "").is_some());
    assert!(shape_mismatch(&expected, &json!({"a": {"b": [1, 2]}}), &[], "").is_some());
    assert_eq!(
        shape_mismatch(&expected, &json!({"a": {"b": [1, 2]}}), &["c"], ""),
        None
    );
}
