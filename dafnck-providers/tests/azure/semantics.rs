//! ARM semantics against the fake: a crashed create found again by its
//! token, a same-named object without it refused, throttling retried,
//! failed provisioning and bad parameters as clear errors, a resource
//! group never deleted with children in it.

use dafnck_providers::azure::{
    Image, LinuxLogin, ResourceGroup, VirtualMachineScaleSet, VirtualNetwork, TOKEN_TAG,
};
use serde_json::json;

use super::support::{create, delete, fake, fresh};

fn vnet(rg: &str) -> VirtualNetwork {
    VirtualNetwork {
        name: "net".into(),
        resource_group: rg.to_owned().into(),
        location: "westeurope".into(),
        address_space: vec!["10.0.0.0/16".into()],
        tags: Default::default(),
    }
}

#[tokio::test]
async fn a_crashed_create_is_adopted_by_its_token_and_a_foreign_name_is_refused() {
    let arm = fake();
    let rg = fresh("crash");
    arm.group(&rg).await;

    // The first create "crashed" after ARM made the object: the retry with
    // the same token adopts it, one object, with the token tag.
    let first = create(&arm.provider, "net", &vnet(&rg), "tok-1")
        .await
        .unwrap();
    let again = create(&arm.provider, "net", &vnet(&rg), "tok-1")
        .await
        .unwrap();
    assert_eq!(first.id, again.id);
    let found = arm.get(&first.id).await.unwrap();
    assert_eq!(found["tags"][TOKEN_TAG], "tok-1");
    assert_eq!(arm.group_resources(&rg).await.len(), 1);

    // Another create (another token) of the same name is refused, naming
    // the resource, and the object is left alone.
    let err = create(&arm.provider, "other", &vnet(&rg), "tok-2")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("azure:network:VirtualNetwork \"other\""),
        "{text}"
    );
    assert!(
        text.contains("already exists") && text.contains(TOKEN_TAG),
        "{text}"
    );
    assert!(!err.retryable);
    assert_eq!(
        arm.get(&first.id).await.unwrap()["tags"][TOKEN_TAG],
        "tok-1"
    );

    // One made at the portal (no tag at all) is refused too.
    let portal = format!(
        "{}/providers/Microsoft.Network/virtualNetworks/hand",
        arm.group_id(&rg)
    );
    arm.put(
        &portal,
        &json!({ "location": "westeurope", "properties": {
        "addressSpace": { "addressPrefixes": ["10.9.0.0/16"] } } }),
    )
    .await;
    let hand = VirtualNetwork {
        name: "hand".into(),
        ..vnet(&rg)
    };
    let err = create(&arm.provider, "hand", &hand, "tok-3")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
}

#[tokio::test]
async fn throttling_is_retried_after_retry_after_and_slow_operations_are_waited_for() {
    let arm = fake();
    let rg = fresh("throttle");
    arm.group(&rg).await;
    arm.faults(
        json!({ "throttle": { "count": 3, "retryAfterSeconds": 1 }, "provisioningDelayMs": 1500 }),
    )
    .await;
    let started = std::time::Instant::now();
    let made = create(&arm.provider, "net", &vnet(&rg), "tok")
        .await
        .unwrap();
    // Three 429s with `Retry-After: 1` were waited out, then the operation.
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let found = arm.get(&made.id).await.unwrap();
    assert_eq!(found["properties"]["provisioningState"], "Succeeded");
}

#[tokio::test]
async fn throttling_that_persists_is_a_retryable_error() {
    let mut arm = fake();
    arm.provider = dafnck_providers::azure::Provider::new(dafnck_providers::azure::Settings {
        max_retries: Some(1),
        ..dafnck_providers::azure::Settings::local(arm.url.clone(), super::support::SUB)
    });
    let rg = fresh("throttle2");
    arm.group(&rg).await;
    arm.faults(json!({ "throttle": { "count": 10, "retryAfterSeconds": 0 } }))
        .await;
    let err = create(&arm.provider, "net", &vnet(&rg), "tok")
        .await
        .unwrap_err();
    assert!(err.retryable, "{err}");
    assert!(err.to_string().contains("429"), "{err}");
}

#[tokio::test]
async fn failed_provisioning_is_an_error_with_arm_s_reason() {
    let arm = fake();
    let rg = fresh("failed");
    arm.group(&rg).await;
    let net = create(&arm.provider, "net", &vnet(&rg), "tok-n")
        .await
        .unwrap();
    let subnet = format!("{}/subnets/base", net.id);
    arm.put(
        &subnet,
        &json!({ "properties": { "addressPrefix": "10.0.0.0/24" } }),
    )
    .await;
    arm.faults(json!({ "failProvisioning": {
        "resource": "web", "code": "AllocationFailed",
        "message": "Allocation failed: no capacity for Standard_B1s", "status": 200 } }))
        .await;
    let set = VirtualMachineScaleSet {
        name: "web".into(),
        resource_group: rg.clone().into(),
        location: "westeurope".into(),
        size: "Standard_B1s".into(),
        capacity: 2,
        image: Image::ubuntu_2404(),
        login: LinuxLogin {
            admin_username: "azureuser".into(),
            ssh_public_key: None,
            admin_password: Some(dafnck_core::Secret::new("Correct-Horse-9".into())),
        },
        subnet_id: subnet.into(),
        ..Default::default()
    };
    let err = create(&arm.provider, "web", &set, "tok-w")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("azure:compute:VirtualMachineScaleSet \"web\""),
        "{text}"
    );
    assert!(
        text.contains("AllocationFailed") && text.contains("no capacity"),
        "{text}"
    );
    assert!(!err.retryable);
}

#[tokio::test]
async fn a_bad_parameter_names_the_resource_and_arm_s_code() {
    let arm = fake();
    let rg = fresh("bad");
    arm.group(&rg).await;
    let bad = VirtualNetwork {
        address_space: vec!["not-a-range".into()],
        ..vnet(&rg)
    };
    let err = create(&arm.provider, "net", &bad, "tok").await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("azure:network:VirtualNetwork \"net\""),
        "{text}"
    );
    assert!(text.contains("400"), "{text}");
    assert!(!err.retryable);
}

#[tokio::test]
async fn a_resource_group_with_children_is_not_deleted() {
    let arm = fake();
    let name = fresh("keep");
    let group = ResourceGroup {
        name: name.clone(),
        location: "westeurope".into(),
        tags: Default::default(),
    };
    let made = create(&arm.provider, "rg", &group, "tok-g").await.unwrap();
    let net = create(&arm.provider, "net", &vnet(&name), "tok-n")
        .await
        .unwrap();
    let err = delete(&arm.provider, "rg", &group, &made.id)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("never its children"), "{err}");
    assert!(arm.get(&net.id).await.is_some(), "the child is still there");
    // Children first, then the group, and deletes wait until it is gone.
    delete(&arm.provider, "net", &vnet(&name), &net.id)
        .await
        .unwrap();
    delete(&arm.provider, "rg", &group, &made.id).await.unwrap();
    assert!(arm.get(&made.id).await.is_none());
}
