//! A web tier on Azure: a resource group, a virtual network with a subnet
//! behind a network security group that allows HTTP, a public Standard
//! load balancer, a scale set of Ubuntu machines serving nginx (cloud-init)
//! in its backend pool, and an autoscale setting (2..100 machines on 70%
//! CPU). A new image version is rolled out by the scale set's `Rolling`
//! upgrade policy: ARM replaces the machines batch by batch (half at a
//! time here), each batch healthy by the load balancer's probe before the
//! next, and `up` waits until the rolling upgrade has completed.
//!
//! ```text
//! export DAFNCK_AZURE_SUBSCRIPTION=<subscription id>   # and `az login`
//! cargo run --features azure --example azure_web -- up --yes --config ssh_key="$(cat ~/.ssh/id_ed25519.pub)"
//! cargo run --features azure --example azure_web -- up --yes --config image_version=24.04.202411030
//! cargo run --features azure --example azure_web -- destroy --yes
//! ```
//!
//! Against the project's ARM fake instead of Azure:
//!
//! ```text
//! eval "$(scripts/servers/arm.sh start)"
//! DAFNCK_AZURE_SUBSCRIPTION=00000000-0000-0000-0000-000000000000 \
//!   cargo run --features azure --example azure_web -- up --yes
//! ```
//!
//! Configuration (`--config KEY=VALUE`): `group` (default `dafnck-web`),
//! `location` (default `westeurope`), `size` (default `Standard_B1s`),
//! `capacity` (the first count, default 2; autoscale owns it after),
//! `image_version` (default `latest`), `ssh_key` (the admin's public key;
//! default a placeholder that logs nobody in).
//!
//! Outputs: `address` (the load balancer's public IP) and `scale_set`.

use std::process::ExitCode;

use dafnck::core::prelude::*;
use dafnck::core::Error;
use dafnck::providers::azure::{
    AutoscaleSetting, Image, LinuxLogin, LoadBalancer, NetworkSecurityGroup, PublicIp,
    ResourceGroup, SecurityRule, Subnet, UpgradePolicy, VirtualMachineScaleSet, VirtualNetwork,
};

/// cloud-init for every machine: nginx serving a page naming the machine.
const CLOUD_INIT: &str = "#cloud-config
packages: [nginx]
runcmd:
  - echo \"<h1>dafnck azure_web on $(hostname)</h1>\" > /var/www/html/index.html
";

fn infra(stack: &mut Stack) -> dafnck::core::Result<()> {
    let location = stack.config("location").unwrap_or("westeurope").to_owned();
    let group_name = stack.config("group").unwrap_or("dafnck-web").to_owned();
    let capacity: u32 = stack
        .config("capacity")
        .unwrap_or("2")
        .parse()
        .map_err(|e| Error::Usage(format!("--config capacity: {e}")))?;
    let image = Image {
        version: stack.config("image_version").unwrap_or("latest").to_owned(),
        ..Image::ubuntu_2404()
    };
    let ssh_key = stack
        .config("ssh_key")
        .unwrap_or("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlaceholderKeyLogsNobodyIn00000000000 placeholder")
        .to_owned();
    let size = stack.config("size").unwrap_or("Standard_B1s").to_owned();
    let tags: std::collections::BTreeMap<String, String> =
        [("app".to_owned(), "azure-web".to_owned())].into();

    let group = stack.add(
        "group",
        ResourceGroup {
            name: group_name,
            location: location.clone(),
            tags: tags.clone(),
        },
    );
    let rg = group.out().name;
    let nsg = stack.add(
        "web-nsg",
        NetworkSecurityGroup {
            name: "web-nsg".into(),
            resource_group: rg.clone(),
            location: location.clone(),
            rules: vec![SecurityRule::allow_tcp_in("http", 100, 80)],
            tags: tags.clone(),
        },
    );
    let vnet = stack.add(
        "vnet",
        VirtualNetwork {
            name: "web-vnet".into(),
            resource_group: rg.clone(),
            location: location.clone(),
            address_space: vec!["10.10.0.0/16".into()],
            tags: tags.clone(),
        },
    );
    let subnet = stack.add(
        "web-subnet",
        Subnet {
            name: "web".into(),
            virtual_network_id: vnet.out().id,
            address_prefix: "10.10.1.0/24".into(),
            network_security_group_id: Some(nsg.out().id),
        },
    );
    let ip = stack.add(
        "web-ip",
        PublicIp {
            name: "web-ip".into(),
            resource_group: rg.clone(),
            location: location.clone(),
            sku: None,
            domain_label: None,
            tags: tags.clone(),
        },
    );
    let lb = stack.add(
        "web-lb",
        LoadBalancer {
            name: "web-lb".into(),
            resource_group: rg.clone(),
            location: location.clone(),
            public_ip_id: ip.out().id,
            frontend_port: 80,
            backend_port: 80,
            probe_path: Some("/".into()),
            tags: tags.clone(),
        },
    );
    let set = stack.add_with(
        "web",
        VirtualMachineScaleSet {
            name: "web".into(),
            resource_group: rg.clone(),
            location: location.clone(),
            size,
            capacity,
            image,
            login: LinuxLogin {
                admin_username: "azureuser".into(),
                ssh_public_key: Some(ssh_key),
                admin_password: None,
            },
            custom_data: Some(CLOUD_INIT.into()),
            subnet_id: subnet.out().id,
            backend_pool_id: Some(lb.out().backend_pool_id),
            health_probe_id: Some(lb.out().probe_id),
            upgrade_policy: UpgradePolicy {
                mode: "Rolling".into(),
                max_batch_percent: Some(50),
                max_unhealthy_percent: Some(20),
                pause_between_batches: Some("PT0S".into()),
            },
            tags: tags.clone(),
        },
        // Autoscale owns the count once the set exists.
        Options::new().ignore_changes(["capacity"]),
    );
    stack.add(
        "web-autoscale",
        AutoscaleSetting {
            tags,
            ..AutoscaleSetting::cpu_70("web-autoscale", rg, location, set.out().id)
        },
    );
    stack.export("address", ip.out().ip_address);
    stack.export("scale_set", set.out().id);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    dafnck::cli::run(infra)
        .provider(dafnck::providers::azure::Provider::from_env())
        .await
}
