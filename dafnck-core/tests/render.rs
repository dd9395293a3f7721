//! Snapshot tests of what people and scripts read: the rendered plan, the
//! `preview --json` and `drift --json` documents, and the drift report.

use std::collections::BTreeMap;

use dafnck_core::cli::output::{drift_json, plan_json};
use dafnck_core::prelude::*;
use dafnck_core::testing::resources::{Instance, Network, Node, Subnet};
use dafnck_core::testing::TestStack;

/// A program whose second version creates, updates, replaces and deletes.
fn infra(v2: bool) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let mut tags = BTreeMap::new();
        if v2 {
            tags.insert("team".to_string(), "web".to_string());
        }
        let net = stack.add(
            "net",
            Network {
                cidr: "10.0.0.0/16".into(),
                tags,
            },
        );
        let sub = stack.add(
            "sub",
            Subnet {
                network_id: net.out().network_id,
                cidr: if v2 { "10.0.8.0/24" } else { "10.0.1.0/24" }.into(),
                ..Default::default()
            },
        );
        stack.add(
            "web",
            Instance {
                subnet_id: sub.out().subnet_id,
                image: "img-1".into(),
                size: "small".into(),
                admin_password: Some(Secret::new("hunter2".into())),
                ..Default::default()
            },
        );
        if v2 {
            stack.add(
                "extra",
                Node {
                    value: "x".into(),
                    ..Default::default()
                },
            );
        } else {
            stack.add(
                "old",
                Node {
                    value: "o".into(),
                    ..Default::default()
                },
            );
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_first_plan_renders_creates_with_unknowns_and_secrets() {
    let t = TestStack::new("dev");
    let plan = t.preview(infra(false)).await.unwrap();
    let text = plan.render();
    assert!(!text.contains("hunter2"));
    insta::assert_snapshot!("first_plan", text);
}

#[tokio::test]
async fn a_changing_plan_renders_every_action() {
    let t = TestStack::new("dev");
    t.up(infra(false)).await.unwrap();
    let plan = t.preview(infra(true)).await.unwrap();
    let text = plan.render();
    assert!(!text.contains("hunter2"));
    insta::assert_snapshot!("changing_plan", text);
    insta::assert_snapshot!(
        "changing_plan_json",
        serde_json::to_string_pretty(&plan_json(&plan)).unwrap()
    );
}

#[tokio::test]
async fn a_plan_with_nothing_to_do_says_so() {
    let t = TestStack::new("dev");
    t.up(infra(false)).await.unwrap();
    insta::assert_snapshot!(
        "empty_plan",
        t.preview(infra(false)).await.unwrap().render()
    );
}

#[tokio::test]
async fn drift_renders_as_text_and_json() {
    let t = TestStack::new("dev");
    t.up(infra(false)).await.unwrap();
    let sub = t.cloud().object_named("sub").id;
    t.cloud().mutate(&sub, |o| {
        if let dafnck_core::Value::Map(m) = &mut o.inputs {
            m.insert("cidr".into(), "10.0.99.0/24".into());
        }
    });
    t.cloud().remove(&t.cloud().object_named("old").id);
    let drift = t.engine().drift().await.unwrap();
    let text = drift.render();
    insta::assert_snapshot!("drift", text);
    insta::assert_snapshot!(
        "drift_json",
        serde_json::to_string_pretty(&drift_json(&drift)).unwrap()
    );
}
