//! Computed values: a value the program computes from references
//! (`Input::map`, `zip`, `all`, `interpolate!`) is `(known after apply)` in
//! the plan while a source is unknown, computed by the executor as soon as
//! its sources exist, recorded in the state as computed, known at plan time
//! once its sources are, and secret when a source is.

use dafnck_core::testing::resources::{Network, Node};
use dafnck_core::testing::{FakeOp, TestStack};
use dafnck_core::{interpolate, Action, Error, Input, Secret, Stack, Value};

use crate::common::{after, calls, network, node, program_problems};

/// A network and a node whose value is a URL built from the network's ARN,
/// exported too.
fn infra(cidr: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let net = stack.add("net", network(cidr));
        let url = interpolate!("https://{}/{}", net.out().arn, stack.name());
        stack.add(
            "web",
            Node {
                value: url.clone(),
                key: net.out().arn.map(|arn| arn.len().to_string()),
                refs: vec![],
            },
        );
        stack.export("url", url);
        Ok(())
    }
}

fn arn(t: &TestStack) -> String {
    let net = t.cloud().object_named("net");
    format!("arn:fake:fake:net:Network:{}", net.id)
}

#[tokio::test]
async fn a_value_computed_from_a_resource_being_created_is_unknown_in_the_plan() {
    let t = TestStack::new("dev");
    let plan = t.preview(infra("10.0.0.0/16")).await.unwrap();
    assert_eq!(after(&plan, "web", "value"), Some(&Value::Unknown));
    assert_eq!(after(&plan, "web", "key"), Some(&Value::Unknown));
    assert_eq!(plan.change("web").unwrap().dependencies[0].as_str(), "net");
    assert!(
        plan.render().contains("value = (known after apply)"),
        "{}",
        plan.render()
    );
}

#[tokio::test]
async fn the_executor_computes_it_once_the_source_exists_and_records_it() {
    let t = TestStack::new("dev");
    let report = t.up(infra("10.0.0.0/16")).await.unwrap();
    let url = format!("https://{}/dev", arn(&t));
    let web = t.cloud().object_named("web");
    assert_eq!(web.inputs.get("value"), Some(&Value::from(url.as_str())));
    assert_eq!(
        web.inputs.get("key"),
        Some(&Value::from(arn(&t).len().to_string()))
    );
    // The state (replayed from the journal) records the computed value.
    let state = t.state().await;
    assert_eq!(
        state.resources["web"].inputs.get("value"),
        Some(&Value::from(url.as_str()))
    );
    assert_eq!(report.outputs["url"], Value::from(url.as_str()));
    assert_eq!(state.outputs["url"], Value::from(url.as_str()));
}

#[tokio::test]
async fn once_its_sources_are_known_the_plan_computes_it_and_sees_no_change() {
    let t = TestStack::new("dev");
    t.up(infra("10.0.0.0/16")).await.unwrap();
    let plan = t.preview(infra("10.0.0.0/16")).await.unwrap();
    assert!(!plan.has_changes(), "{}", plan.render());
}

#[tokio::test]
async fn a_replaced_source_makes_it_unknown_again_and_the_apply_recomputes_it() {
    let t = TestStack::new("dev");
    t.up(infra("10.0.0.0/16")).await.unwrap();
    let old = arn(&t);
    let plan = t.preview(infra("10.1.0.0/16")).await.unwrap();
    assert_eq!(plan.change("net").unwrap().action, Action::Replace);
    assert_eq!(after(&plan, "web", "value"), Some(&Value::Unknown));
    // The key is force-new and unknown: the node is replaced too.
    assert_eq!(plan.change("web").unwrap().action, Action::Replace);
    t.up(infra("10.1.0.0/16")).await.unwrap();
    let new = arn(&t);
    assert_ne!(old, new);
    assert_eq!(
        t.cloud().object_named("web").inputs.get("value"),
        Some(&Value::from(format!("https://{new}/dev")))
    );
}

#[tokio::test]
async fn a_value_known_while_planning_is_shown_computed_in_the_plan() {
    let t = TestStack::new("dev");
    let plan = t
        .preview(|stack: &mut Stack| {
            let name = Input::value("web".to_string());
            let port = Input::value(8080u16);
            let both = name.zip(port).map(|(n, p)| format!("{n}:{p}"));
            stack.add("n", node("v", "k", vec![both]));
            Ok(())
        })
        .await
        .unwrap();
    let refs = after(&plan, "n", "refs").unwrap();
    assert_eq!(refs, &Value::List(vec![Value::from("web:8080")]));
}

#[tokio::test]
async fn a_secret_source_makes_the_computed_value_secret() {
    let t = TestStack::new("dev");
    let program = |stack: &mut Stack| {
        let password = Input::value(Secret::new("hunter2".to_string()));
        let net = stack.add("net", network("10.0.0.0/16"));
        let dsn = password
            .zip(net.out().arn)
            .map(|(pw, arn)| format!("postgres://app:{}@{arn}/db", pw.expose()));
        stack.add("n", node("v", "k", vec![dsn]));
        Ok(())
    };
    let plan = t.preview(program).await.unwrap();
    assert!(!plan.render().contains("hunter2"));
    t.up(program).await.unwrap();
    let recorded = &t.state().await.resources["n"].inputs;
    let dsn = &recorded.get("refs").unwrap();
    match dsn {
        Value::List(items) => match &items[0] {
            Value::Secret(inner) => assert!(
                inner
                    .as_str()
                    .unwrap()
                    .starts_with("postgres://app:hunter2@arn:fake"),
                "{inner:?}"
            ),
            other => panic!("not secret: {other}"),
        },
        other => panic!("not a list: {other}"),
    }
    assert!(!recorded.render().contains("hunter2"));
}

#[tokio::test]
async fn a_failing_closure_fails_the_plan_naming_the_resource_and_line() {
    let t = TestStack::new("dev");
    let line = line!() + 4;
    let err = t
        .preview(|stack: &mut Stack| {
            let size = Input::value("large".to_string());
            let n = size.try_map(|s| s.parse::<u32>().map(|n| n.to_string()));
            stack.add("n", node("v", "k", vec![n]));
            Ok(())
        })
        .await;
    let problems = program_problems(err);
    assert_eq!(problems.len(), 1, "{problems:?}");
    let p = &problems[0];
    assert_eq!(p.resource.as_deref(), Some("n"));
    assert_eq!(p.location.as_ref().unwrap().line, line);
    assert_eq!(p.message, "computed value: invalid digit found in string");
    let text = dafnck_core::Error::Program(problems.clone()).to_string();
    assert!(
        text.contains(&format!("computed.rs:{line}:"))
            && text.contains("resource \"n\": computed value: invalid digit"),
        "{text}"
    );
}

#[tokio::test]
async fn a_failing_closure_at_apply_fails_that_step_and_skips_its_dependents() {
    let t = TestStack::new("dev");
    let program = |stack: &mut Stack| {
        let net = stack.add("net", network("10.0.0.0/16"));
        let bad = net
            .out()
            .arn
            .try_map(|arn| Err::<String, _>(format!("no port in {arn}")));
        let n = stack.add("n", node("v", "k", vec![bad]));
        stack.add("after", node("v", "k", vec![n.out().node_id]));
        Ok(())
    };
    let report = crate::common::apply_failure(t.up(program).await);
    let failed: Vec<_> = report.failed().map(|s| s.name.as_str()).collect();
    assert_eq!(failed, ["n"]);
    let error = format!("{:?}", report.failed().next().unwrap().status);
    assert!(error.contains("computed value declared at"), "{error}");
    assert!(error.contains("no port in arn:fake"), "{error}");
    assert_eq!(report.skipped().count(), 1);
    assert!(calls(t.cloud(), FakeOp::Create, "n").is_empty());
    assert_eq!(calls(t.cloud(), FakeOp::Create, "net").len(), 1);
}

#[tokio::test]
async fn a_plan_holding_a_computed_value_cannot_be_saved() {
    let t = TestStack::new("dev");
    let plan = t.preview(infra("10.0.0.0/16")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = t
        .engine()
        .save_plan(&plan, &dir.path().join("plan.json"))
        .unwrap_err();
    assert!(matches!(err, Error::PlanFile { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("resource \"web\" holds a value computed by the program (declared at"),
        "{text}"
    );
    assert!(text.contains("lifecycle/computed.rs:"), "{text}");
    assert!(!dir.path().join("plan.json").exists());
}

#[tokio::test]
async fn several_resources_feed_one_value_through_all() {
    let t = TestStack::new("dev");
    let program = |stack: &mut Stack| {
        let nets: Vec<_> = ["a", "b", "c"]
            .iter()
            .enumerate()
            .map(|(i, n)| stack.add(n, network(&format!("10.{i}.0.0/16"))))
            .collect();
        let joined = Input::all(nets.iter().map(|n| n.out().arn)).map(|arns| arns.join(","));
        stack.add(
            "all",
            Network {
                cidr: "10.9.0.0/16".into(),
                tags: Default::default(),
            },
        );
        stack.add("n", node("v", "k", vec![joined]));
        Ok(())
    };
    let plan = t.preview(program).await.unwrap();
    let deps: Vec<_> = plan
        .change("n")
        .unwrap()
        .dependencies
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(deps, ["a", "b", "c"]);
    t.up(program).await.unwrap();
    let refs = t
        .cloud()
        .object_named("n")
        .inputs
        .get("refs")
        .cloned()
        .unwrap();
    let text = refs.render();
    assert_eq!(
        text.matches("arn:fake:fake:net:Network:").count(),
        3,
        "{text}"
    );
}
