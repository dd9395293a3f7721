//! Load balancers, target groups and listeners: weights shifted, targets
//! moved and subnets changed in place; a scheme change replaces; drift in
//! target membership; a crashed create found again by name and token; a
//! target group named from a `name_prefix`.

use aws_sdk_elasticloadbalancingv2::types::TargetDescription;
use dafnck_core::prelude::*;
use dafnck_core::provider::{CreateRequest, ReadRequest};
use dafnck_core::{Action, Provider as _, Value};
use dafnck_providers::aws::ec2::{Instance, InstanceOutputs, SecurityGroup, Subnet, Vpc};
use dafnck_providers::aws::elbv2::{
    Forward, Listener, ListenerOutputs, LoadBalancer, LoadBalancerOutputs, Scheme, TargetGroup,
    TargetGroupOutputs,
};
use dafnck_providers::aws::STACK_TAG;

use crate::support::{moto, outputs, tags, Elb, Moto};

/// What the tests vary in the load-balanced stack.
#[derive(Clone)]
struct Lb {
    ami: String,
    /// Weights of blue and green.
    weights: (u16, u16),
    /// Whether green holds both instances (else one each).
    green_takes_both: bool,
    /// How many of the three subnets the load balancer uses.
    lb_subnets: usize,
    scheme: Scheme,
}

fn stack_of(l: Lb) -> impl FnOnce(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let vpc = stack.add(
            "vpc",
            Vpc {
                cidr_block: "10.4.0.0/16".into(),
                ..Default::default()
            },
        );
        let subnets: Vec<_> = ["a", "b", "c"]
            .iter()
            .enumerate()
            .map(|(i, z)| {
                stack.add(
                    &format!("subnet-{z}"),
                    Subnet {
                        vpc_id: vpc.out().vpc_id,
                        cidr_block: format!("10.4.{}.0/24", i + 1).into(),
                        availability_zone: Some(format!("us-east-1{z}")),
                        ..Default::default()
                    },
                )
            })
            .collect();
        let sg = stack.add(
            "lb-sg",
            SecurityGroup {
                name: "lb".into(),
                description: "HTTP".into(),
                vpc_id: vpc.out().vpc_id,
                ..Default::default()
            },
        );
        let web: Vec<_> = (0..2)
            .map(|i| {
                stack.add(
                    &format!("web-{i}"),
                    Instance {
                        ami: l.ami.clone().into(),
                        instance_type: "t3.micro".into(),
                        subnet_id: subnets[i].out().subnet_id,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let lb = stack.add(
            "lb",
            LoadBalancer {
                scheme: l.scheme,
                subnet_ids: subnets[..l.lb_subnets]
                    .iter()
                    .map(|s| s.out().subnet_id)
                    .collect(),
                security_group_ids: vec![sg.out().security_group_id],
                tags: tags(&[("tier", "edge")]),
                ..Default::default()
            },
        );
        let (blue_targets, green_targets) = if l.green_takes_both {
            (
                vec![],
                vec![web[0].out().instance_id, web[1].out().instance_id],
            )
        } else {
            (
                vec![web[0].out().instance_id],
                vec![web[1].out().instance_id],
            )
        };
        let blue = stack.add(
            "blue",
            TargetGroup {
                port: 8080,
                vpc_id: vpc.out().vpc_id,
                targets: blue_targets,
                ..Default::default()
            },
        );
        let green = stack.add(
            "green",
            TargetGroup {
                name_prefix: Some("gr-".into()),
                port: 8080,
                vpc_id: vpc.out().vpc_id,
                targets: green_targets,
                ..Default::default()
            },
        );
        let http = stack.add(
            "http",
            Listener {
                load_balancer_arn: lb.out().arn,
                forward: vec![
                    Forward::new(blue.out().arn, l.weights.0),
                    Forward::new(green.out().arn, l.weights.1),
                ],
                ..Default::default()
            },
        );
        stack.export("url", lb.out().dns_name);
        stack.export("listener", http.out().arn);
        Ok(())
    }
}

impl Moto {
    /// The listener's target groups and weights, as AWS has them.
    async fn weights(&self, listener: &str) -> Vec<(String, i32)> {
        let out = self
            .elb
            .describe_listeners()
            .listener_arns(listener)
            .send()
            .await
            .unwrap();
        let action = &out.listeners()[0].default_actions()[0];
        let mut found: Vec<_> = action
            .forward_config()
            .unwrap()
            .target_groups()
            .iter()
            .map(|t| {
                (
                    t.target_group_arn().unwrap().to_owned(),
                    t.weight().unwrap(),
                )
            })
            .collect();
        found.sort();
        found
    }

    /// The instances registered in a target group, sorted.
    async fn targets(&self, group: &str) -> Vec<String> {
        let out = self
            .elb
            .describe_target_health()
            .target_group_arn(group)
            .send()
            .await
            .unwrap();
        let mut ids: Vec<_> = out
            .target_health_descriptions()
            .iter()
            .map(|d| d.target().unwrap().id().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    }
}

#[tokio::test]
async fn weights_targets_and_subnets_change_in_place_and_a_scheme_change_replaces() {
    let Some(m) =
        moto("weights_targets_and_subnets_change_in_place_and_a_scheme_change_replaces").await
    else {
        return;
    };
    let engine = m.engine();
    let first = Lb {
        ami: m.ami().await,
        weights: (100, 0),
        green_takes_both: false,
        lb_subnets: 2,
        scheme: Scheme::InternetFacing,
    };
    let report = engine.up(stack_of(first.clone()), false).await.unwrap();
    let lb: LoadBalancerOutputs = outputs(&engine, "lb").await;
    let blue: TargetGroupOutputs = outputs(&engine, "blue").await;
    let green: TargetGroupOutputs = outputs(&engine, "green").await;
    let web0: InstanceOutputs = outputs(&engine, "web-0").await;
    let web1: InstanceOutputs = outputs(&engine, "web-1").await;
    let listener = report.outputs["listener"].as_str().unwrap().to_owned();
    assert_eq!(report.outputs["url"], Value::from(lb.dns_name.clone()));
    assert!(lb.arn.as_str().starts_with("arn:aws:elasticloadbalancing:"));
    assert!(lb.name.starts_with("lb-"), "a derived name: {}", lb.name);
    assert!(
        green.name.starts_with("gr-") && green.name.len() == 3 + 8,
        "the prefix and 8 hex digits: {}",
        green.name
    );
    let mut expected = vec![(blue.arn.to_string(), 100), (green.arn.to_string(), 0)];
    expected.sort();
    assert_eq!(m.weights(&listener).await, expected);
    assert_eq!(
        m.targets(blue.arn.as_str()).await,
        [web0.instance_id.to_string()]
    );
    assert_eq!(
        m.targets(green.arn.as_str()).await,
        [web1.instance_id.to_string()]
    );
    let counts = m.tagged().await;
    assert_eq!(
        (
            counts["load balancers"],
            counts["target groups"],
            counts["listeners"]
        ),
        (1, 2, 1),
        "{counts:?}"
    );
    assert!(!engine.drift().await.unwrap().has_drift());
    let preview = engine.preview(stack_of(first.clone()), true).await.unwrap();
    assert!(!preview.plan.has_changes(), "{}", preview.plan.render());

    // Shift traffic: one in-place update of the listener, nothing else.
    let shifted = Lb {
        weights: (50, 50),
        ..first.clone()
    };
    let plan = engine
        .preview(stack_of(shifted.clone()), false)
        .await
        .unwrap()
        .plan;
    assert_eq!(
        plan.action("http"),
        Some(Action::Update),
        "{}",
        plan.render()
    );
    assert_eq!(plan.change("http").unwrap().fields, ["forward"]);
    assert_eq!(plan.summary().update, 1, "{}", plan.render());
    engine.up(stack_of(shifted.clone()), false).await.unwrap();
    let mut expected = vec![(blue.arn.to_string(), 50), (green.arn.to_string(), 50)];
    expected.sort();
    assert_eq!(m.weights(&listener).await, expected);
    assert_eq!(
        engine.state().await.unwrap().resources["http"].id,
        listener,
        "the same listener"
    );

    // Move web-0 to green and add a third subnet: both in place.
    let moved = Lb {
        green_takes_both: true,
        lb_subnets: 3,
        ..shifted
    };
    let plan = engine
        .preview(stack_of(moved.clone()), false)
        .await
        .unwrap()
        .plan;
    for name in ["blue", "green", "lb"] {
        assert_eq!(plan.action(name), Some(Action::Update), "{}", plan.render());
    }
    engine.up(stack_of(moved.clone()), false).await.unwrap();
    assert!(m.targets(blue.arn.as_str()).await.is_empty());
    let mut both = vec![web0.instance_id.to_string(), web1.instance_id.to_string()];
    both.sort();
    assert_eq!(m.targets(green.arn.as_str()).await, both);
    let found = m
        .elb
        .describe_load_balancers()
        .load_balancer_arns(lb.arn.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(found.load_balancers()[0].availability_zones().len(), 3);
    assert!(!engine.drift().await.unwrap().has_drift());

    // Someone registers web-1 in blue behind the program's back: drift in
    // `targets`, repaired by `up --refresh`.
    m.elb
        .register_targets()
        .target_group_arn(blue.arn.as_str())
        .targets(
            TargetDescription::builder()
                .id(web1.instance_id.as_str())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let drift = engine.drift().await.unwrap();
    let blue_drift = drift.get("blue").expect("blue drifted");
    assert_eq!(blue_drift.fields[0].field, "targets", "{}", drift.render());
    engine.up(stack_of(moved.clone()), true).await.unwrap();
    assert!(m.targets(blue.arn.as_str()).await.is_empty());

    // A new scheme replaces the load balancer, and the listener with it.
    let internal = Lb {
        scheme: Scheme::Internal,
        ..moved
    };
    let plan = engine
        .preview(stack_of(internal.clone()), false)
        .await
        .unwrap()
        .plan;
    assert_eq!(
        plan.action("lb"),
        Some(Action::Replace),
        "{}",
        plan.render()
    );
    assert_eq!(plan.change("lb").unwrap().replace_because, ["scheme"]);
    assert_eq!(
        plan.action("http"),
        Some(Action::Replace),
        "{}",
        plan.render()
    );
    engine.up(stack_of(internal), false).await.unwrap();
    let new_lb: LoadBalancerOutputs = outputs(&engine, "lb").await;
    assert_ne!(new_lb.arn, lb.arn);
    let old = m
        .elb
        .describe_load_balancers()
        .load_balancer_arns(lb.arn.as_str())
        .send()
        .await;
    assert!(old.is_err(), "the replaced load balancer still exists");
    assert_eq!(m.tagged_elb(Elb::LoadBalancers).await, 1);
    assert_eq!(m.tagged_elb(Elb::Listeners).await, 1);

    engine.destroy().await.unwrap();
    let counts = m.tagged().await;
    assert!(counts.values().all(|n| *n == 0), "{counts:?}");
}

#[tokio::test]
async fn interrupted_creates_of_load_balancers_target_groups_and_listeners_are_adopted() {
    let Some(m) =
        moto("interrupted_creates_of_load_balancers_target_groups_and_listeners_are_adopted").await
    else {
        return;
    };
    let engine = m.engine();
    let net = |stack: &mut Stack| {
        let vpc = stack.add(
            "vpc",
            Vpc {
                cidr_block: "10.6.0.0/16".into(),
                ..Default::default()
            },
        );
        for (i, z) in ["a", "b"].iter().enumerate() {
            stack.add(
                &format!("subnet-{z}"),
                Subnet {
                    vpc_id: vpc.out().vpc_id,
                    cidr_block: format!("10.6.{}.0/24", i + 1).into(),
                    availability_zone: Some(format!("us-east-1{z}")),
                    ..Default::default()
                },
            );
        }
        Ok(())
    };
    engine.up(net, false).await.unwrap();
    let state = engine.state().await.unwrap();
    let subnets: Vec<Input<_>> = ["subnet-a", "subnet-b"]
        .iter()
        .map(|n| dafnck_providers::aws::ec2::SubnetId(state.resources[*n].id.clone()).into())
        .collect();
    let inputs = Value::from_serialize(&LoadBalancer {
        subnet_ids: subnets.clone(),
        ..Default::default()
    })
    .unwrap();
    let create = CreateRequest {
        name: "lb".into(),
        stack: "test".into(),
        type_name: LoadBalancer::TYPE.into(),
        inputs: inputs.clone(),
        token: "crashed-run-lb".into(),
    };
    let made = m.provider.create(create.clone()).await.unwrap();
    let read = |token: &str| ReadRequest {
        name: "lb".into(),
        stack: "test".into(),
        type_name: LoadBalancer::TYPE.into(),
        id: None,
        token: Some(token.into()),
        inputs: inputs.clone(),
    };
    let found = m.provider.read(read("crashed-run-lb")).await.unwrap();
    assert_eq!(found.expect("found by token").id, made.id);
    assert!(m
        .provider
        .read(read("another-run"))
        .await
        .unwrap()
        .is_none());
    // A retried create adopts it instead of making a second one.
    assert_eq!(m.provider.create(create).await.unwrap().id, made.id);
    assert_eq!(m.tagged_elb(Elb::LoadBalancers).await, 1);

    // The same for a target group (by its derived name) and a listener (by
    // its token tag among the load balancer's listeners).
    let vpc = dafnck_providers::aws::ec2::VpcId(state.resources["vpc"].id.clone());
    let group = CreateRequest {
        name: "tg".into(),
        stack: "test".into(),
        type_name: TargetGroup::TYPE.into(),
        inputs: Value::from_serialize(&TargetGroup {
            vpc_id: vpc.into(),
            ..Default::default()
        })
        .unwrap(),
        token: "crashed-run-tg".into(),
    };
    let tg = m.provider.create(group.clone()).await.unwrap();
    assert_eq!(m.provider.create(group).await.unwrap().id, tg.id);
    assert_eq!(m.tagged_elb(Elb::TargetGroups).await, 1);
    let listener_inputs = Value::from_serialize(&Listener {
        load_balancer_arn: dafnck_providers::aws::elbv2::LoadBalancerArn(made.id.clone()).into(),
        forward: vec![Forward::new(
            dafnck_providers::aws::elbv2::TargetGroupArn(tg.id.clone()).into(),
            1,
        )],
        ..Default::default()
    })
    .unwrap();
    let listener = CreateRequest {
        name: "http".into(),
        stack: "test".into(),
        type_name: Listener::TYPE.into(),
        inputs: listener_inputs.clone(),
        token: "crashed-run-http".into(),
    };
    let l = m.provider.create(listener.clone()).await.unwrap();
    let found = m
        .provider
        .read(ReadRequest {
            name: "http".into(),
            stack: "test".into(),
            type_name: Listener::TYPE.into(),
            id: None,
            token: Some("crashed-run-http".into()),
            inputs: listener_inputs,
        })
        .await
        .unwrap()
        .expect("the listener is found by its token");
    assert_eq!(found.id, l.id);
    assert_eq!(m.provider.create(listener).await.unwrap().id, l.id);
    assert_eq!(m.tagged_elb(Elb::Listeners).await, 1);

    // A load balancer with the declared name that this resource did not
    // make is not taken over.
    let subnet_ids: Vec<String> = ["subnet-a", "subnet-b"]
        .iter()
        .map(|n| state.resources[*n].id.clone())
        .collect();
    m.elb
        .create_load_balancer()
        .name("someone-elses")
        .set_subnets(Some(subnet_ids))
        .send()
        .await
        .unwrap();
    let theirs = CreateRequest {
        name: "lb2".into(),
        stack: "test".into(),
        type_name: LoadBalancer::TYPE.into(),
        inputs: Value::from_serialize(&LoadBalancer {
            name: Some("someone-elses".into()),
            subnet_ids: subnets,
            ..Default::default()
        })
        .unwrap(),
        token: "run-lb2".into(),
    };
    let err = m.provider.create(theirs).await.unwrap_err();
    assert!(!err.retryable);
    assert!(
        err.message.contains("aws:elbv2:LoadBalancer \"lb2\"")
            && err.message.contains("not made by this resource"),
        "{}",
        err.message
    );
    let all = m.elb.describe_load_balancers().send().await.unwrap();
    assert_eq!(all.load_balancers().len(), 2);
    let ours = m
        .elb
        .describe_tags()
        .resource_arns(&made.id)
        .send()
        .await
        .unwrap();
    assert!(ours.tag_descriptions()[0]
        .tags()
        .iter()
        .any(|t| t.key() == Some(STACK_TAG)));
}

/// Load balancers, target groups and listeners are read in batches: a
/// batch holding one deleted outside the program (which fails ELBv2's
/// describe call as a whole) reads that one as absent and the others as
/// found, with their tags.
#[tokio::test]
async fn elbv2_types_read_in_batches_find_the_deleted_one_absent() {
    use dafnck_core::drift::DriftKind;
    use dafnck_core::Resource;

    let Some(m) = moto("elbv2_batched_reads").await else {
        return;
    };
    for type_name in [LoadBalancer::TYPE, TargetGroup::TYPE, Listener::TYPE] {
        assert!(m.provider.reads_in_batches(type_name), "{type_name}");
    }
    fn two_of_each(stack: &mut Stack) -> dafnck_core::Result<()> {
        let vpc = stack.add(
            "vpc",
            Vpc {
                cidr_block: "10.6.0.0/16".into(),
                ..Default::default()
            },
        );
        let subnets: Vec<_> = ["a", "b"]
            .iter()
            .enumerate()
            .map(|(i, z)| {
                stack.add(
                    &format!("subnet-{z}"),
                    Subnet {
                        vpc_id: vpc.out().vpc_id,
                        cidr_block: format!("10.6.{}.0/24", i + 1).into(),
                        availability_zone: Some(format!("us-east-1{z}")),
                        ..Default::default()
                    },
                )
            })
            .collect();
        let lbs: Vec<_> = (1..=2)
            .map(|i| {
                stack.add(
                    &format!("lb{i}"),
                    LoadBalancer {
                        subnet_ids: subnets.iter().map(|s| s.out().subnet_id).collect(),
                        ..Default::default()
                    },
                )
            })
            .collect();
        let groups: Vec<_> = (1..=3)
            .map(|i| {
                stack.add(
                    &format!("tg{i}"),
                    TargetGroup {
                        port: 8080,
                        vpc_id: vpc.out().vpc_id,
                        ..Default::default()
                    },
                )
            })
            .collect();
        for (i, port) in [(1, 80), (2, 8081)] {
            stack.add(
                &format!("l{i}"),
                Listener {
                    load_balancer_arn: lbs[0].out().arn,
                    port,
                    forward: vec![Forward::new(groups[0].out().arn, 1)],
                    ..Default::default()
                },
            );
        }
        Ok(())
    }
    let engine = m.engine();
    engine.up(two_of_each, false).await.unwrap();
    let lb2: LoadBalancerOutputs = outputs(&engine, "lb2").await;
    let tg2: TargetGroupOutputs = outputs(&engine, "tg2").await;
    let tg3: TargetGroupOutputs = outputs(&engine, "tg3").await;
    let l2: ListenerOutputs = outputs(&engine, "l2").await;
    m.elb
        .delete_listener()
        .listener_arn(l2.arn.as_str())
        .send()
        .await
        .unwrap();
    m.elb
        .delete_load_balancer()
        .load_balancer_arn(lb2.arn.as_str())
        .send()
        .await
        .unwrap();
    m.elb
        .delete_target_group()
        .target_group_arn(tg2.arn.as_str())
        .send()
        .await
        .unwrap();
    m.elb
        .add_tags()
        .resource_arns(tg3.arn.as_str())
        .tags(
            aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                .key("owner")
                .value("someone")
                .build(),
        )
        .send()
        .await
        .unwrap();

    let report = engine.drift().await.unwrap();

    assert_eq!(report.checked, 10);
    assert_eq!(report.drifted.len(), 4, "{report:?}");
    assert_eq!(report.get("l2").unwrap().kind, DriftKind::Deleted);
    assert_eq!(report.get("lb2").unwrap().kind, DriftKind::Deleted);
    assert_eq!(report.get("tg2").unwrap().kind, DriftKind::Deleted);
    let changed = report.get("tg3").unwrap();
    assert_eq!(changed.kind, DriftKind::Changed);
    assert_eq!(changed.fields[0].field, "tags");
}
