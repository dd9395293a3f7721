//! Creates interrupted after the call: the object is found by its
//! idempotency token, by the provider and by the engine's next run.

use dafnck_core::engine::{Engine, Settings};
use dafnck_core::prelude::*;
use dafnck_core::provider::{CreateRequest, ReadRequest};
use dafnck_core::state::{now_millis, Entry, Intent, MemoryStore, OpKind, Record, StateStore};
use dafnck_core::testing::fast_retry;
use dafnck_core::{Provider as _, Value};
use dafnck_providers::aws::ec2::{Instance, Subnet, SubnetOutputs, Vpc};

use crate::support::{moto, outputs};

#[tokio::test]
async fn a_create_interrupted_after_the_call_is_found_by_its_token() {
    let Some(m) = moto("a_create_interrupted_after_the_call_is_found_by_its_token").await else {
        return;
    };
    let engine = m.engine();
    let ami = m.ami().await;
    // The network, through the engine.
    let net = |stack: &mut Stack| {
        let vpc = stack.add(
            "vpc",
            Vpc {
                cidr_block: "10.1.0.0/16".into(),
                ..Default::default()
            },
        );
        stack.add(
            "subnet",
            Subnet {
                vpc_id: vpc.out().vpc_id,
                cidr_block: "10.1.1.0/24".into(),
                ..Default::default()
            },
        );
        Ok(())
    };
    engine.up(net, false).await.unwrap();
    let subnet: SubnetOutputs = outputs(&engine, "subnet").await;

    // RunInstances went through, then the process died before recording it.
    let inputs = Value::from_serialize(&Instance {
        ami: ami.into(),
        instance_type: "t3.micro".into(),
        subnet_id: subnet.subnet_id.into(),
        ..Default::default()
    })
    .unwrap();
    // Longer than EC2's 64-character client tokens: hashed the same way on
    // create and on read.
    let token = format!("{}-{}", "0123456789abcdef".repeat(2), "web-".repeat(10));
    let create = CreateRequest {
        name: "web".into(),
        stack: "test".into(),
        type_name: Instance::TYPE.into(),
        inputs: inputs.clone(),
        token: token.clone(),
    };
    let created = m.provider.create(create.clone()).await.unwrap();
    assert_eq!(m.live_instances().await.len(), 1);

    // The next run reads it back by token: found, not made again.
    let read = |token: &str| ReadRequest {
        name: "web".into(),
        stack: "test".into(),
        type_name: Instance::TYPE.into(),
        id: None,
        token: Some(token.to_owned()),
        inputs: inputs.clone(),
    };
    let found = m
        .provider
        .read(read(&token))
        .await
        .unwrap()
        .expect("found by token");
    assert_eq!(found.id, created.id);
    assert_eq!(found.outputs, created.outputs);
    assert_eq!(found.inputs, inputs, "read back as declared");
    assert!(m
        .provider
        .read(read("another-run-web"))
        .await
        .unwrap()
        .is_none());

    // A retried create with the same token adopts the same instance.
    let again = m.provider.create(create).await.unwrap();
    assert_eq!(again.id, created.id);
    assert_eq!(m.live_instances().await.len(), 1);

    // The same holds for types without a client token, by their tag.
    let vpc = CreateRequest {
        name: "other".into(),
        stack: "test".into(),
        type_name: Vpc::TYPE.into(),
        inputs: Value::from_serialize(&Vpc {
            cidr_block: "10.2.0.0/16".into(),
            ..Default::default()
        })
        .unwrap(),
        token: "run-2-other".into(),
    };
    let made = m.provider.create(vpc.clone()).await.unwrap();
    let found = m
        .provider
        .read(ReadRequest {
            name: "other".into(),
            stack: "test".into(),
            type_name: Vpc::TYPE.into(),
            id: None,
            token: Some("run-2-other".into()),
            inputs: vpc.inputs.clone(),
        })
        .await
        .unwrap()
        .expect("found by token");
    assert_eq!(found.id, made.id);
    assert_eq!(m.provider.create(vpc).await.unwrap().id, made.id);
    assert_eq!(m.tagged().await["vpcs"], 2);
}

#[tokio::test]
async fn the_next_run_adopts_an_instance_whose_create_crashed() {
    let Some(m) = moto("the_next_run_adopts_an_instance_whose_create_crashed").await else {
        return;
    };
    let store = MemoryStore::new();
    let engine = Engine::new(
        "test",
        store.clone(),
        Providers::new().with(m.provider.clone()),
    )
    .settings(Settings {
        retry: fast_retry(),
        ..Settings::default()
    });
    let ami = m.ami().await;
    let program = |with_web: bool, ami: String| {
        move |stack: &mut Stack| {
            let vpc = stack.add(
                "vpc",
                Vpc {
                    cidr_block: "10.1.0.0/16".into(),
                    ..Default::default()
                },
            );
            let subnet = stack.add(
                "subnet",
                Subnet {
                    vpc_id: vpc.out().vpc_id,
                    cidr_block: "10.1.1.0/24".into(),
                    ..Default::default()
                },
            );
            if with_web {
                stack.add(
                    "web",
                    Instance {
                        ami: ami.into(),
                        instance_type: "t3.micro".into(),
                        subnet_id: subnet.out().subnet_id,
                        ..Default::default()
                    },
                );
            }
            Ok(())
        }
    };
    engine.up(program(false, ami.clone()), false).await.unwrap();
    let subnet: SubnetOutputs = outputs(&engine, "subnet").await;

    // A run journaled the create of `web`, RunInstances went through, and
    // the process died before the result was journaled.
    let inputs = Value::from_serialize(&Instance {
        ami: ami.clone().into(),
        instance_type: "t3.micro".into(),
        subnet_id: subnet.subnet_id.into(),
        ..Default::default()
    })
    .unwrap();
    let token = "crashed-run-web";
    // The state file's own format, so this test does not depend on the
    // shape of the Rust struct.
    let resource = serde_json::from_value(serde_json::json!({
        "name": "web",
        "type": Instance::TYPE,
        "id": "",
        "inputs": inputs.to_json(),
        "outputs": null,
        "dependencies": ["subnet"],
    }))
    .unwrap();
    let seq = engine.state().await.unwrap().serial + 1;
    let intent = Record {
        seq,
        at: now_millis(),
        entry: Entry::Intent(Intent {
            kind: OpKind::Create,
            resource,
            token: token.into(),
        }),
    };
    store.append("test", &[intent]).await.unwrap();
    let made = m
        .provider
        .create(CreateRequest {
            name: "web".into(),
            stack: "test".into(),
            type_name: Instance::TYPE.into(),
            inputs,
            token: token.into(),
        })
        .await
        .unwrap();

    // The next run reads it back by its token and adopts it.
    let report = engine.up(program(true, ami), false).await.unwrap();
    assert_eq!(report.pending_resolved.len(), 1);
    assert!(
        report.pending_resolved[0].outcome.contains("adopted"),
        "{:?}",
        report.pending_resolved
    );
    assert_eq!(engine.state().await.unwrap().resources["web"].id, made.id);
    let live = m.live_instances().await;
    assert_eq!(live.len(), 1, "no second instance");
    assert_eq!(live[0].instance_id(), Some(made.id.as_str()));
}
