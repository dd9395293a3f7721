//! The web stack's life: created, read back with no drift, updated in place,
//! a subnet replaced, destroyed with nothing left.

use aws_sdk_ec2::types::InstanceStateName;
use dafnck_core::Action;
use dafnck_core::Value;
use dafnck_providers::aws::ec2::{InstanceOutputs, SubnetOutputs};
use dafnck_providers::aws::{NAME_TAG, STACK_TAG};

use crate::support::{first_web, moto, outputs, tag_of, web, Web};

#[tokio::test]
async fn a_web_stack_is_created_updated_in_place_replaced_and_destroyed() {
    let Some(m) = moto("a_web_stack_is_created_updated_in_place_replaced_and_destroyed").await
    else {
        return;
    };
    let engine = m.engine();
    let w = first_web(m.ami().await);

    let report = engine.up(web(w.clone()), false).await.unwrap();
    assert!(report.is_success());
    let web_out: InstanceOutputs = outputs(&engine, "web").await;
    assert!(web_out.instance_id.as_str().starts_with("i-"));
    assert_eq!(
        report.outputs["web_ip"],
        Value::from(web_out.private_ip.clone())
    );

    // What AWS has: tagged objects, the instance running where declared.
    let i = m.instance(web_out.instance_id.as_str()).await;
    assert_eq!(i.state().unwrap().name(), Some(&InstanceStateName::Running));
    assert_eq!(i.instance_type().unwrap().as_str(), "t3.micro");
    assert_eq!(i.image_id(), Some(w.ami.as_str()));
    let a: SubnetOutputs = outputs(&engine, "subnet-a").await;
    assert_eq!(i.subnet_id(), Some(a.subnet_id.as_str()));
    assert_eq!(a.availability_zone, "us-east-1a");
    assert_eq!(tag_of(i.tags(), STACK_TAG), Some("test"));
    assert_eq!(tag_of(i.tags(), NAME_TAG), Some("web"));
    assert_eq!(tag_of(i.tags(), "role"), Some("web"));
    assert_eq!(i.security_groups().len(), 1);
    let counts = m.tagged().await;
    assert_eq!(counts["vpcs"], 1);
    assert_eq!(counts["subnets"], 2);
    assert_eq!(counts["security groups"], 1);
    assert_eq!(counts["instances"], 1);
    let sg = m
        .ec2
        .describe_security_groups()
        .group_ids(i.security_groups()[0].group_id().unwrap())
        .send()
        .await
        .unwrap();
    let ports: Vec<_> = sg.security_groups()[0]
        .ip_permissions()
        .iter()
        .map(|p| {
            (
                p.from_port(),
                p.ip_ranges()[0].cidr_ip().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(ports.len(), 2, "{ports:?}");
    assert!(ports.contains(&(Some(80), "0.0.0.0/0".into())), "{ports:?}");

    // Read back, everything matches the program: no change, no drift.
    assert!(!engine.drift().await.unwrap().has_drift());
    let preview = engine.preview(web(w.clone()), true).await.unwrap();
    assert!(!preview.plan.has_changes(), "{}", preview.plan.render());

    // A tag and the instance type change in place: same instance.
    let changed = Web {
        role: "frontend",
        instance_type: "t3.small",
        ..w.clone()
    };
    let plan = engine
        .preview(web(changed.clone()), false)
        .await
        .unwrap()
        .plan;
    assert_eq!(
        plan.action("web"),
        Some(Action::Update),
        "{}",
        plan.render()
    );
    assert_eq!(
        plan.change("web").unwrap().fields,
        ["instance_type", "tags"]
    );
    assert_eq!(plan.summary().update, 1, "{}", plan.render());
    engine.up(web(changed.clone()), false).await.unwrap();
    let after: InstanceOutputs = outputs(&engine, "web").await;
    assert_eq!(after.instance_id, web_out.instance_id);
    let i = m.instance(after.instance_id.as_str()).await;
    assert_eq!(i.instance_type().unwrap().as_str(), "t3.small");
    assert_eq!(i.state().unwrap().name(), Some(&InstanceStateName::Running));
    assert_eq!(tag_of(i.tags(), "role"), Some("frontend"));
    assert!(!engine.drift().await.unwrap().has_drift());

    // A new range replaces the subnet: a new one, the old one deleted.
    let old_b: SubnetOutputs = outputs(&engine, "subnet-b").await;
    let moved = Web {
        subnet_b: "10.0.3.0/24",
        ..changed
    };
    let plan = engine
        .preview(web(moved.clone()), false)
        .await
        .unwrap()
        .plan;
    assert_eq!(
        plan.action("subnet-b"),
        Some(Action::Replace),
        "{}",
        plan.render()
    );
    assert_eq!(
        plan.change("subnet-b").unwrap().replace_because,
        ["cidr_block"]
    );
    assert_eq!(plan.summary().replace, 1, "{}", plan.render());
    engine.up(web(moved.clone()), false).await.unwrap();
    let new_b: SubnetOutputs = outputs(&engine, "subnet-b").await;
    assert_ne!(new_b.subnet_id, old_b.subnet_id);
    let found = m
        .ec2
        .describe_subnets()
        .subnet_ids(new_b.subnet_id.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(found.subnets()[0].cidr_block(), Some("10.0.3.0/24"));
    let old = m
        .ec2
        .describe_subnets()
        .subnet_ids(old_b.subnet_id.as_str())
        .send()
        .await;
    assert!(old.is_err(), "the replaced subnet still exists");
    assert_eq!(m.tagged().await["subnets"], 2);
    assert!(!engine
        .preview(web(moved), true)
        .await
        .unwrap()
        .plan
        .has_changes());

    // Destroy leaves nothing behind.
    engine.destroy().await.unwrap();
    assert!(engine.state().await.unwrap().resources.is_empty());
    assert!(
        m.tagged().await.values().all(|n| *n == 0),
        "{:?}",
        m.tagged().await
    );
}
