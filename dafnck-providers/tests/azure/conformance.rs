//! Every azure type passes the provider conformance suite (create, read,
//! read by token after a lost create, update in place, drift after a
//! change at the portal, delete, delete of what is gone) against the ARM
//! fake; the portal's changes are plain ARM calls.

use std::sync::Arc;

use async_trait::async_trait;
use dafnck_core::provider::Observed;
use dafnck_core::testing::conformance::{conformance, OutOfBand, Sample};
use dafnck_providers::azure::{
    AutoscaleSetting, Image, LinuxLogin, LoadBalancer, NetworkInterface, NetworkSecurityGroup,
    PublicIp, ResourceGroup, SecurityRule, Subnet, UpgradePolicy, VirtualMachine,
    VirtualMachineScaleSet, VirtualNetwork,
};
use serde_json::json;

use super::support::{arm, create, fresh, Arm};

/// Someone at the portal.
struct Portal(Arc<Arm>);

#[async_trait]
impl OutOfBand for Portal {
    async fn change(&self, found: &Observed) -> Result<bool, String> {
        let mut body = self.0.get(&found.id).await.ok_or("gone")?;
        if found.id.contains("/subnets/") {
            body["properties"]["addressPrefix"] = json!("10.0.99.0/24");
            self.0.put(&found.id, &body).await;
        } else {
            // A tag added by hand: drift in `tags`.
            let mut tags = body["tags"].clone();
            if !tags.is_object() {
                tags = json!({});
            }
            tags["changed"] = json!("by-hand");
            body["tags"] = tags;
            // Keep what ARM never returns out of the PUT back.
            self.0.put(&found.id, &body).await;
        }
        Ok(true)
    }

    async fn delete(&self, found: &Observed) -> Result<(), String> {
        self.0.delete(&found.id).await;
        Ok(())
    }
}

fn login() -> LinuxLogin {
    LinuxLogin {
        admin_username: "azureuser".into(),
        ssh_public_key: Some(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDafnckTestKeyOnly dafnck@test".into(),
        ),
        admin_password: None,
    }
}

#[tokio::test]
async fn every_azure_type_passes_the_conformance_suite() {
    let arm = Arc::new(arm());
    let portal = || Portal(Arc::clone(&arm));
    let rg = fresh("conf");
    let group = arm.group(&rg).await;

    // The parents: the network through the provider (a subnet is adopted
    // after a lost create only in a network the provider made), the rest
    // at the portal.
    let net_parent = VirtualNetwork {
        name: "net".into(),
        resource_group: rg.clone().into(),
        location: "westeurope".into(),
        address_space: vec!["10.0.0.0/16".into()],
        tags: Default::default(),
    };
    let vnet = create(&arm.provider, "net", &net_parent, "t-net")
        .await
        .unwrap()
        .id;
    let subnet = format!("{vnet}/subnets/base");
    arm.put(
        &subnet,
        &json!({ "properties": { "addressPrefix": "10.0.0.0/24" } }),
    )
    .await;
    let ip = |n: &str| format!("{group}/providers/Microsoft.Network/publicIPAddresses/{n}");
    for n in ["lb-ip", "other-ip", "web-ip"] {
        arm.put(
            &ip(n),
            &json!({ "location": "westeurope", "sku": { "name": "Standard" },
                     "properties": { "publicIPAllocationMethod": "Static" } }),
        )
        .await;
    }
    let nic = format!("{group}/providers/Microsoft.Network/networkInterfaces/base-nic");
    arm.put(
        &nic,
        &json!({ "location": "westeurope", "properties": { "ipConfigurations": [{
            "name": "ipconfig1",
            "properties": { "subnet": { "id": subnet }, "privateIPAllocationMethod": "Dynamic" }
        }]}}),
    )
    .await;
    let target_set = VirtualMachineScaleSet {
        name: "target".into(),
        resource_group: rg.clone().into(),
        location: "westeurope".into(),
        size: "Standard_B1s".into(),
        capacity: 2,
        image: Image::ubuntu_2404(),
        login: login(),
        subnet_id: subnet.clone().into(),
        ..Default::default()
    };
    // The autoscale setting's target, made through the provider itself.
    let target = create(&arm.provider, "target", &target_set, "t-1")
        .await
        .expect("the target scale set is made");

    let group_sample = ResourceGroup {
        name: fresh("conf-rg"),
        location: "westeurope".into(),
        tags: [("team".to_owned(), "web".to_owned())].into(),
    };
    let net = VirtualNetwork {
        name: "vnet".into(),
        resource_group: rg.clone().into(),
        location: "westeurope".into(),
        address_space: vec!["10.1.0.0/16".into()],
        tags: [("team".to_owned(), "web".to_owned())].into(),
    };
    let sub = Subnet {
        name: "web".into(),
        virtual_network_id: vnet.clone().into(),
        address_prefix: "10.0.1.0/24".into(),
        network_security_group_id: None,
    };
    let nsg = NetworkSecurityGroup {
        name: "nsg".into(),
        resource_group: rg.clone().into(),
        location: "westeurope".into(),
        rules: vec![SecurityRule::allow_tcp_in("http", 100, 80)],
        tags: Default::default(),
    };
    let pip = PublicIp {
        name: "pip".into(),
        resource_group: rg.clone().into(),
        location: "westeurope".into(),
        sku: None,
        domain_label: None,
        tags: Default::default(),
    };
    let iface = NetworkInterface {
        name: "nic".into(),
        resource_group: rg.clone().into(),
        location: "westeurope".into(),
        subnet_id: subnet.clone().into(),
        public_ip_id: None,
        network_security_group_id: None,
        tags: Default::default(),
    };
    let lb = LoadBalancer {
        name: "lb".into(),
        resource_group: rg.clone().into(),
        location: "westeurope".into(),
        public_ip_id: ip("lb-ip").into(),
        frontend_port: 80,
        backend_port: 80,
        probe_path: Some("/".into()),
        tags: Default::default(),
    };
    // The scale set's load balancer, through the provider (its outputs
    // name its pool and probe).
    let web_lb = create(
        &arm.provider,
        "web-lb",
        &LoadBalancer {
            name: "web-lb".into(),
            public_ip_id: ip("web-ip").into(),
            ..lb.clone()
        },
        "t-lb",
    )
    .await
    .unwrap();
    let lb_out = |f: &str| {
        web_lb
            .outputs
            .get(f)
            .and_then(|v| v.as_str())
            .unwrap()
            .to_owned()
    };
    let vm = VirtualMachine {
        name: "vm".into(),
        resource_group: rg.clone().into(),
        location: "westeurope".into(),
        size: "Standard_B1s".into(),
        image: Image::ubuntu_2404(),
        login: login(),
        custom_data: Some("#cloud-config\npackages: [nginx]\n".into()),
        network_interface_id: nic.clone().into(),
        tags: Default::default(),
    };
    let set = VirtualMachineScaleSet {
        name: "web".into(),
        capacity: 2,
        custom_data: Some("#cloud-config\npackages: [nginx]\n".into()),
        backend_pool_id: Some(lb_out("backend_pool_id").into()),
        health_probe_id: Some(lb_out("probe_id").into()),
        upgrade_policy: UpgradePolicy {
            mode: "Rolling".into(),
            max_batch_percent: Some(50),
            max_unhealthy_percent: Some(20),
            pause_between_batches: Some("PT0S".into()),
        },
        ..target_set.clone()
    };
    let scale = AutoscaleSetting::cpu_70(
        "cpu",
        rg.clone().into(),
        "westeurope",
        target.id.clone().into(),
    );

    conformance(
        &arm.provider,
        &[
            Sample::new(
                group_sample.clone(),
                ResourceGroup {
                    tags: [("team".to_owned(), "platform".to_owned())].into(),
                    ..group_sample
                },
                portal(),
            ),
            Sample::new(
                net.clone(),
                VirtualNetwork {
                    address_space: vec!["10.1.0.0/16".into(), "10.2.0.0/16".into()],
                    ..net
                },
                portal(),
            ),
            Sample::new(
                sub.clone(),
                Subnet {
                    address_prefix: "10.0.2.0/24".into(),
                    ..sub
                },
                portal(),
            ),
            Sample::new(
                nsg.clone(),
                NetworkSecurityGroup {
                    rules: vec![
                        SecurityRule::allow_tcp_in("http", 100, 80),
                        SecurityRule::allow_tcp_in("https", 110, 443),
                    ],
                    ..nsg
                },
                portal(),
            ),
            Sample::new(
                pip.clone(),
                PublicIp {
                    domain_label: Some(fresh("web")),
                    ..pip
                },
                portal(),
            ),
            Sample::new(
                iface.clone(),
                NetworkInterface {
                    public_ip_id: Some(ip("other-ip").into()),
                    ..iface
                },
                portal(),
            ),
            Sample::new(
                lb.clone(),
                LoadBalancer {
                    frontend_port: 8080,
                    ..lb
                },
                portal(),
            ),
            Sample::new(
                vm.clone(),
                VirtualMachine {
                    size: "Standard_B2s".into(),
                    ..vm
                },
                portal(),
            ),
            Sample::new(
                set.clone(),
                VirtualMachineScaleSet {
                    capacity: 3,
                    image: Image {
                        version: "24.04.202411030".into(),
                        ..Image::ubuntu_2404()
                    },
                    ..set
                },
                portal(),
            ),
            Sample::new(
                scale.clone(),
                AutoscaleSetting {
                    maximum: 10,
                    cool_down: "PT10M".into(),
                    ..scale
                },
                portal(),
            ),
        ],
    )
    .await
    .unwrap();
}
