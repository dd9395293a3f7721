//! Bad input and conflicts: clear, non-retried errors naming the resource,
//! and a recorded state left intact.

use dafnck_core::prelude::*;
use dafnck_providers::aws::ec2::{SecurityGroup, Subnet, Vpc};

use crate::support::{first_web, moto, web, Web};

#[tokio::test]
async fn bad_inputs_fail_clearly_and_leave_the_state_intact() {
    let Some(m) = moto("bad_inputs_fail_clearly_and_leave_the_state_intact").await else {
        return;
    };
    let engine = m.engine();
    let good = first_web(m.ami().await);

    // An AMI that does not exist: the instance fails, the rest is recorded.
    let bad = Web {
        ami: "ami-00000000deadbeef0".into(),
        ..good.clone()
    };
    let err = engine.up(web(bad), false).await.unwrap_err().to_string();
    assert!(err.contains("InvalidAMIID"), "{err}");
    assert!(err.contains("aws:ec2:Instance \"web\""), "{err}");
    assert!(err.contains("AMI does not exist"), "{err}");
    assert!(!err.contains("attempts"), "not retried: {err}");
    let state = engine.state().await.unwrap();
    assert!(state.pending.is_empty());
    assert!(!state.resources.contains_key("web"));
    assert_eq!(state.resources.len(), 4, "{:?}", state.resources.keys());
    assert_eq!(m.live_instances().await.len(), 0);
    // Fixed, the next run creates only the instance.
    let plan = engine.preview(web(good.clone()), false).await.unwrap().plan;
    assert_eq!(plan.summary().create, 1, "{}", plan.render());
    engine.up(web(good.clone()), false).await.unwrap();
    assert_eq!(m.live_instances().await.len(), 1);

    // A second subnet overlapping the first one's range.
    let overlapping = move |stack: &mut Stack| {
        web(good)(stack)?;
        let vpc = stack.add(
            "vpc-2",
            Vpc {
                cidr_block: "10.9.0.0/16".into(),
                ..Default::default()
            },
        );
        stack.add(
            "one",
            Subnet {
                vpc_id: vpc.out().vpc_id,
                cidr_block: "10.9.1.0/24".into(),
                ..Default::default()
            },
        );
        stack.add(
            "two",
            Subnet {
                vpc_id: vpc.out().vpc_id,
                cidr_block: "10.9.1.0/25".into(),
                ..Default::default()
            },
        );
        Ok(())
    };
    let err = engine.up(overlapping, false).await.unwrap_err().to_string();
    assert!(err.contains("InvalidSubnet.Conflict"), "{err}");
    assert!(err.contains("overlaps another subnet"), "{err}");
    let state = engine.state().await.unwrap();
    assert!(state.pending.is_empty());
    // One of the two subnets exists and is recorded; the other is not.
    let recorded = ["one", "two"]
        .iter()
        .filter(|n| state.resources.contains_key(**n))
        .count();
    assert_eq!(recorded, 1);
    engine.destroy().await.unwrap();
    assert!(m.tagged().await.values().all(|n| *n == 0));
}

#[tokio::test]
async fn a_vpc_holding_a_foreign_subnet_is_not_deleted_and_stays_recorded() {
    let Some(m) = moto("a_vpc_holding_a_foreign_subnet_is_not_deleted_and_stays_recorded").await
    else {
        return;
    };
    let engine = m.engine();
    let program = |stack: &mut Stack| {
        stack.add(
            "vpc",
            Vpc {
                cidr_block: "10.3.0.0/16".into(),
                ..Default::default()
            },
        );
        Ok(())
    };
    engine.up(program, false).await.unwrap();
    let vpc = engine.state().await.unwrap().resources["vpc"].id.clone();
    // A subnet this program does not manage.
    let foreign = m
        .ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.3.9.0/24")
        .send()
        .await
        .unwrap();
    let err = engine.destroy().await.unwrap_err().to_string();
    assert!(err.contains("DependencyViolation"), "{err}");
    assert!(err.contains("aws:ec2:Vpc \"vpc\""), "{err}");
    assert!(err.contains("other objects still use it"), "{err}");
    assert!(!err.contains("attempts"), "not retried: {err}");
    let state = engine.state().await.unwrap();
    assert_eq!(state.resources["vpc"].id, vpc);
    assert!(state.pending.is_empty());
    // Once the foreign subnet is gone, destroy finishes.
    m.ec2
        .delete_subnet()
        .subnet_id(foreign.subnet().unwrap().subnet_id().unwrap())
        .send()
        .await
        .unwrap();
    engine.destroy().await.unwrap();
    assert_eq!(m.tagged().await["vpcs"], 0);
}

#[tokio::test]
async fn a_security_group_replaced_under_its_own_name_is_refused_at_plan_time() {
    let test = "a_security_group_replaced_under_its_own_name_is_refused_at_plan_time";
    let Some(m) = moto(test).await else {
        return;
    };
    let engine = m.engine();
    let stack = |name: &'static str, description: &'static str| {
        move |stack: &mut Stack| {
            let vpc = stack.add(
                "vpc",
                Vpc {
                    cidr_block: "10.7.0.0/16".into(),
                    ..Default::default()
                },
            );
            stack.add(
                "sg",
                SecurityGroup {
                    name: name.into(),
                    description: description.into(),
                    vpc_id: vpc.out().vpc_id,
                    ..Default::default()
                },
            );
            Ok(())
        }
    };
    engine.up(stack("web", "first"), false).await.unwrap();
    let before = engine.state().await.unwrap().resources["sg"].id.clone();
    // A new description replaces the group; under the same name, the new
    // one could not be made beside the old: refused before any call.
    let err = engine
        .preview(stack("web", "second"), false)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sg") && err.contains("security group names are unique in a VPC"),
        "{err}"
    );
    assert_eq!(engine.state().await.unwrap().resources["sg"].id, before);
    // With a new name it is replaced, create first.
    engine.up(stack("web-2", "second"), false).await.unwrap();
    assert_ne!(engine.state().await.unwrap().resources["sg"].id, before);
}
