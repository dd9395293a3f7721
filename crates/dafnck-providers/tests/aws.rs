//! The aws provider against a moto server on 127.0.0.1, driven through the
//! engine and checked through the AWS SDK.
//!
//! Each test takes the server's URL from `DAFNCK_MOTO_URL` (set by
//! `scripts/servers/moto.sh start` or `scripts/test.sh`); without it the test
//! says it is skipped and passes, unless `DAFNCK_REQUIRE_SERVERS=1`, when it
//! fails. The tests reset moto, so they run one at a time.
#![cfg(feature = "aws")]

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_ec2::config::Credentials;
use aws_sdk_ec2::types::{Filter, InstanceStateName, IpPermission, IpRange};
use aws_sdk_ec2::Client;
use dafnck_core::drift::DriftKind;
use dafnck_core::engine::{Engine, Settings};
use dafnck_core::prelude::*;
use dafnck_core::provider::{CreateRequest, ReadRequest};
use dafnck_core::state::{now_millis, Entry, Intent, MemoryStore, OpKind, Record, StateStore};
use dafnck_core::testing::fast_retry;
use dafnck_core::{Action, Provider as _, Value};
use dafnck_providers::aws::ec2::{
    Instance, InstanceOutputs, InternetGateway, Route, RouteTable, Rule, SecurityGroup, Subnet,
    SubnetOutputs, Vpc,
};
use dafnck_providers::aws::{self, NAME_TAG, STACK_TAG};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Mutex, MutexGuard};

/// Tests reset the one moto server, so they take turns.
static SERIAL: Mutex<()> = Mutex::const_new(());

/// A reset moto server, a provider and an SDK client pointed at it, held
/// for one test.
struct Moto {
    provider: aws::Provider,
    ec2: Client,
    _turn: MutexGuard<'static, ()>,
}

/// The moto server for `test`, reset; `None` (the test is skipped) when
/// none is running.
async fn moto(test: &str) -> Option<Moto> {
    let Ok(url) = std::env::var("DAFNCK_MOTO_URL") else {
        let why = "moto is not running (scripts/servers/moto.sh start, or scripts/test.sh)";
        if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
            panic!("{test}: {why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
        }
        // Straight to standard error, past the test harness's capture, so
        // a skip is seen.
        let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
        return None;
    };
    let turn = SERIAL.lock().await;
    reset(&url).await;
    // An explicit endpoint, region and credentials: nothing is read from
    // this process's environment, and no test changes it.
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&url)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await;
    let ec2 = Client::new(&config);
    let provider = aws::Provider::with_config(config)
        .poll_interval(Duration::from_millis(50))
        .wait_timeout(Duration::from_secs(60));
    Some(Moto {
        provider,
        ec2,
        _turn: turn,
    })
}

/// `POST /moto-api/reset`: forget every object.
async fn reset(url: &str) {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to moto at {url}: {e}"));
    let request = format!(
        "POST /moto-api/reset HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
        "moto did not reset: {response}"
    );
}

impl Moto {
    fn engine(&self) -> Engine {
        Engine::new(
            "test",
            MemoryStore::new(),
            Providers::new().with(self.provider.clone()),
        )
        .settings(Settings {
            retry: fast_retry(),
            ..Settings::default()
        })
    }

    /// An AMI moto accepts (it validates AMIs against the list it ships).
    async fn ami(&self) -> String {
        let out = self
            .ec2
            .describe_images()
            .owners("amazon")
            .send()
            .await
            .unwrap();
        let mut ids: Vec<&str> = out.images().iter().filter_map(|i| i.image_id()).collect();
        ids.sort_unstable();
        ids.first().expect("moto lists no AMIs").to_string()
    }

    /// Instances not terminated, by their `dafnck:name` tag.
    async fn live_instances(&self) -> Vec<aws_sdk_ec2::types::Instance> {
        let out = self.ec2.describe_instances().send().await.unwrap();
        out.reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter(|i| {
                !matches!(
                    i.state().and_then(|s| s.name()),
                    Some(InstanceStateName::Terminated | InstanceStateName::ShuttingDown)
                )
            })
            .cloned()
            .collect()
    }

    async fn instance(&self, id: &str) -> aws_sdk_ec2::types::Instance {
        let out = self
            .ec2
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .unwrap();
        out.reservations()[0].instances()[0].clone()
    }

    /// Objects of each kind tagged by the stack `test`.
    async fn tagged(&self) -> BTreeMap<&'static str, usize> {
        let f = || {
            Filter::builder()
                .name(format!("tag:{STACK_TAG}"))
                .values("test")
                .build()
        };
        let e = &self.ec2;
        let vpcs = e.describe_vpcs().filters(f()).send().await.unwrap();
        let subnets = e.describe_subnets().filters(f()).send().await.unwrap();
        let groups = e
            .describe_security_groups()
            .filters(f())
            .send()
            .await
            .unwrap();
        let gateways = e
            .describe_internet_gateways()
            .filters(f())
            .send()
            .await
            .unwrap();
        let tables = e.describe_route_tables().filters(f()).send().await.unwrap();
        BTreeMap::from([
            ("vpcs", vpcs.vpcs().len()),
            ("subnets", subnets.subnets().len()),
            ("security groups", groups.security_groups().len()),
            ("internet gateways", gateways.internet_gateways().len()),
            ("route tables", tables.route_tables().len()),
            ("instances", self.live_instances().await.len()),
        ])
    }
}

async fn outputs<T: serde::de::DeserializeOwned>(engine: &Engine, name: &str) -> T {
    let state = engine.state().await.unwrap();
    let r = state
        .resources
        .get(name)
        .unwrap_or_else(|| panic!("{name} is not recorded"));
    r.outputs.deserialize_into().unwrap()
}

fn tag_of<'a>(tags: &'a [aws_sdk_ec2::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ------------------------------------------------------------- the program

/// What the tests vary in the web stack.
#[derive(Clone)]
struct Web {
    ami: String,
    role: &'static str,
    instance_type: &'static str,
    subnet_b: &'static str,
}

fn web(w: Web) -> impl FnOnce(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let vpc = stack.add(
            "vpc",
            Vpc {
                cidr_block: "10.0.0.0/16".into(),
                enable_dns_hostnames: true,
                tags: tags(&[("env", "test")]),
            },
        );
        let a = stack.add(
            "subnet-a",
            Subnet {
                vpc_id: vpc.out().vpc_id,
                cidr_block: "10.0.1.0/24".into(),
                availability_zone: Some("us-east-1a".into()),
                map_public_ip_on_launch: true,
                ..Default::default()
            },
        );
        stack.add(
            "subnet-b",
            Subnet {
                vpc_id: vpc.out().vpc_id,
                cidr_block: w.subnet_b.into(),
                availability_zone: Some("us-east-1b".into()),
                ..Default::default()
            },
        );
        let sg = stack.add(
            "web-sg",
            SecurityGroup {
                name: "web".into(),
                description: "HTTP from anywhere, SSH from the VPN".into(),
                vpc_id: vpc.out().vpc_id,
                ingress: vec![Rule::tcp(80, "0.0.0.0/0"), Rule::tcp(22, "10.8.0.0/16")],
                ..Default::default()
            },
        );
        let instance = stack.add(
            "web",
            Instance {
                ami: w.ami.into(),
                instance_type: w.instance_type.into(),
                subnet_id: a.out().subnet_id,
                security_group_ids: vec![sg.out().security_group_id],
                user_data: Some("#!/bin/sh\necho hello\n".into()),
                tags: tags(&[("role", w.role)]),
                ..Default::default()
            },
        );
        stack.export("web_ip", instance.out().private_ip);
        Ok(())
    }
}

fn first_web(ami: String) -> Web {
    Web {
        ami,
        role: "web",
        instance_type: "t3.micro",
        subnet_b: "10.0.2.0/24",
    }
}

// ------------------------------------------------------------------ tests

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

#[tokio::test]
async fn drift_outside_the_program_is_reported_and_repaired() {
    let Some(m) = moto("drift_outside_the_program_is_reported_and_repaired").await else {
        return;
    };
    let engine = m.engine();
    let w = first_web(m.ami().await);
    engine.up(web(w.clone()), false).await.unwrap();
    let first: InstanceOutputs = outputs(&engine, "web").await;
    let group = m
        .instance(first.instance_id.as_str())
        .await
        .security_groups()[0]
        .group_id()
        .unwrap()
        .to_owned();

    // Someone opens SSH to the world, closes HTTP, and terminates the web
    // server.
    m.ec2
        .authorize_security_group_ingress()
        .group_id(&group)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    m.ec2
        .revoke_security_group_ingress()
        .group_id(&group)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(80)
                .to_port(80)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    m.ec2
        .terminate_instances()
        .instance_ids(first.instance_id.as_str())
        .send()
        .await
        .unwrap();

    let drift = engine.drift().await.unwrap();
    assert_eq!(drift.drifted.len(), 2, "{}", drift.render());
    assert_eq!(drift.get("web").unwrap().kind, DriftKind::Deleted);
    let sg = drift.get("web-sg").expect("the security group drifted");
    assert_eq!(sg.kind, DriftKind::Changed);
    assert_eq!(sg.fields.len(), 1);
    assert_eq!(sg.fields[0].field, "ingress");
    let actual = sg.fields[0].actual.render();
    assert!(
        actual.contains("0.0.0.0/0") && actual.contains("22"),
        "{actual}"
    );

    // up --refresh puts both back.
    engine.up(web(w.clone()), true).await.unwrap();
    assert!(!engine.drift().await.unwrap().has_drift());
    let second: InstanceOutputs = outputs(&engine, "web").await;
    assert_ne!(second.instance_id, first.instance_id);
    let live = m.live_instances().await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].instance_id(), Some(second.instance_id.as_str()));
    let sg = m
        .ec2
        .describe_security_groups()
        .group_ids(&group)
        .send()
        .await
        .unwrap();
    let mut rules: Vec<_> = sg.security_groups()[0]
        .ip_permissions()
        .iter()
        .flat_map(|p| {
            p.ip_ranges()
                .iter()
                .map(|r| (p.from_port().unwrap(), r.cidr_ip().unwrap().to_owned()))
        })
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        [(22, "10.8.0.0/16".to_owned()), (80, "0.0.0.0/0".to_owned())]
    );
    engine.destroy().await.unwrap();
}

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
async fn imports_an_existing_vpc_by_id() {
    let Some(m) = moto("imports_an_existing_vpc_by_id").await else {
        return;
    };
    let made = m
        .ec2
        .create_vpc()
        .cidr_block("10.5.0.0/16")
        .send()
        .await
        .unwrap();
    let id = made.vpc().unwrap().vpc_id().unwrap().to_owned();
    let program = |stack: &mut Stack| {
        stack.add(
            "legacy",
            Vpc {
                cidr_block: "10.5.0.0/16".into(),
                tags: tags(&[("owner", "platform")]),
                ..Default::default()
            },
        );
        Ok(())
    };
    let engine = m.engine();
    engine.import(program, "legacy", &id).await.unwrap();
    let state = engine.state().await.unwrap();
    assert_eq!(state.resources["legacy"].id, id);
    // Imported, then updated in place to carry the declared tag.
    let vpc = m.ec2.describe_vpcs().vpc_ids(&id).send().await.unwrap();
    assert_eq!(tag_of(vpc.vpcs()[0].tags(), "owner"), Some("platform"));
    assert!(!engine
        .preview(program, true)
        .await
        .unwrap()
        .plan
        .has_changes());
    // A VPC that does not exist cannot be imported.
    let other = m.engine();
    let err = other
        .import(program, "legacy", "vpc-0000000000000000f")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("there is no aws:ec2:Vpc"), "{err}");
}

#[tokio::test]
async fn internet_gateway_and_route_table_are_attached_routed_and_removed() {
    let Some(m) = moto("internet_gateway_and_route_table_are_attached_routed_and_removed").await
    else {
        return;
    };
    let engine = m.engine();
    let program = |routed: bool| {
        move |stack: &mut Stack| {
            let vpc = stack.add(
                "vpc",
                Vpc {
                    cidr_block: "10.0.0.0/16".into(),
                    ..Default::default()
                },
            );
            let gw = stack.add(
                "gw",
                InternetGateway {
                    vpc_id: Some(vpc.out().vpc_id),
                    ..Default::default()
                },
            );
            let a = stack.add(
                "a",
                Subnet {
                    vpc_id: vpc.out().vpc_id,
                    cidr_block: "10.0.1.0/24".into(),
                    ..Default::default()
                },
            );
            stack.add(
                "public",
                RouteTable {
                    vpc_id: vpc.out().vpc_id,
                    routes: if routed {
                        vec![Route {
                            destination_cidr_block: "0.0.0.0/0".into(),
                            gateway_id: gw.out().internet_gateway_id,
                        }]
                    } else {
                        Vec::new()
                    },
                    subnet_ids: if routed {
                        vec![a.out().subnet_id]
                    } else {
                        Vec::new()
                    },
                    ..Default::default()
                },
            );
            Ok(())
        }
    };
    engine.up(program(true), false).await.unwrap();
    let state = engine.state().await.unwrap();
    let gw_id = state.resources["gw"].id.clone();
    let table_id = state.resources["public"].id.clone();
    let gw = m
        .ec2
        .describe_internet_gateways()
        .internet_gateway_ids(&gw_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        gw.internet_gateways()[0].attachments()[0].vpc_id(),
        Some(state.resources["vpc"].id.as_str())
    );
    let table = m
        .ec2
        .describe_route_tables()
        .route_table_ids(&table_id)
        .send()
        .await
        .unwrap();
    let table = &table.route_tables()[0];
    assert!(table
        .routes()
        .iter()
        .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")
            && r.gateway_id() == Some(gw_id.as_str())));
    assert_eq!(
        table
            .associations()
            .iter()
            .filter(|a| a.main() != Some(true))
            .count(),
        1
    );
    assert!(!engine
        .preview(program(true), true)
        .await
        .unwrap()
        .plan
        .has_changes());

    // Unrouted in place: the route and the association go, the table stays.
    let plan = engine.preview(program(false), false).await.unwrap().plan;
    assert_eq!(
        plan.action("public"),
        Some(Action::Update),
        "{}",
        plan.render()
    );
    engine.up(program(false), false).await.unwrap();
    assert_eq!(
        engine.state().await.unwrap().resources["public"].id,
        table_id
    );
    let table = m
        .ec2
        .describe_route_tables()
        .route_table_ids(&table_id)
        .send()
        .await
        .unwrap();
    let table = &table.route_tables()[0];
    assert!(!table
        .routes()
        .iter()
        .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")));
    assert!(table.associations().iter().all(|a| a.main() == Some(true)));
    assert!(!engine.drift().await.unwrap().has_drift());

    engine.destroy().await.unwrap();
    assert!(
        m.tagged().await.values().all(|n| *n == 0),
        "{:?}",
        m.tagged().await
    );
}
