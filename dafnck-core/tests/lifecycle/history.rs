//! State history: every run that writes the state leaves a numbered
//! version, listed with who ran what, and readable as it was.

use dafnck_core::testing::{FakeOp, TestStack};
use dafnck_core::{ProviderError, Stack};

use crate::common::node;

fn infra(value: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        stack.add("a", node(value, "k", vec![]));
        stack.add("b", node("b", "k", vec![]));
        Ok(())
    }
}

#[tokio::test]
async fn every_run_leaves_a_numbered_version_readable_as_it_was() {
    let t = TestStack::new("dev");
    assert!(t.engine().history().await.unwrap().is_empty());
    t.up(infra("v1")).await.unwrap();
    t.up(infra("v2")).await.unwrap();
    t.engine().refresh().await.unwrap();
    t.destroy().await.unwrap();

    let history = t.engine().history().await.unwrap();
    let rows: Vec<(u64, &str, &str)> = history
        .iter()
        .map(|v| (v.version, v.operation.as_str(), v.summary.as_str()))
        .collect();
    assert_eq!(
        rows,
        vec![
            (1, "up", "create 2, update 0, replace 0, delete 0"),
            (2, "up", "create 0, update 1, replace 0, delete 0"),
            (3, "refresh", "0 drifted"),
            (4, "destroy", "create 0, update 0, replace 0, delete 2"),
        ]
    );
    assert!(history
        .windows(2)
        .all(|w| w[0].at <= w[1].at && w[0].serial <= w[1].serial));
    assert!(history[0].by.contains('@'), "{}", history[0].by);

    let v1 = t.engine().version(1).await.unwrap();
    assert_eq!(
        v1.resources["a"].inputs.get("value").unwrap().as_str(),
        Some("v1")
    );
    let v2 = t.engine().version(2).await.unwrap();
    assert_eq!(
        v2.resources["a"].inputs.get("value").unwrap().as_str(),
        Some("v2")
    );
    assert!(t.engine().version(4).await.unwrap().resources.is_empty());
    let err = t.engine().version(9).await.unwrap_err();
    assert!(err.to_string().contains("has no version 9"), "{err}");
}

#[tokio::test]
async fn a_run_with_failed_steps_is_a_version_too() {
    let t = TestStack::new("dev");
    t.cloud().inject(
        Some(FakeOp::Create),
        Some("b"),
        None,
        dafnck_core::testing::Fault::Error(ProviderError::new("quota exceeded")),
    );
    let _ = t.up(infra("v1")).await.unwrap_err();
    let history = t.engine().history().await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        history[0].summary,
        "create 2, update 0, replace 0, delete 0 (1 failed)"
    );
    let v1 = t.engine().version(1).await.unwrap();
    assert!(v1.resources.contains_key("a") && !v1.resources.contains_key("b"));
}
