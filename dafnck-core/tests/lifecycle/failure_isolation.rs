//! Failures are isolated: a failing resource stops its dependents while
//! independent work finishes; the error names each failure and where it was
//! declared; the state records exactly what succeeded; a rerun converges.
//! Provider panics are contained, and retryable errors retried.

use dafnck_core::apply::StepStatus;
use dafnck_core::testing::{FakeOp, Fault, TestStack};
use dafnck_core::{ProviderError, Stack};

use crate::common::{apply_failure, calls, count, instance, network, node, subnet};

const SUB_LINE: u32 = line!() + 5;
const LONER_LINE: u32 = line!() + 8;

fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
    let net = stack.add("net", network("10.0.0.0/16"));
    let sub = stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
    stack.add("web", instance(sub.out().subnet_id, "small"));
    stack.add("other", node("x", "k", vec![]));
    let other = stack.add("other-2", node("y", "k", vec![]));
    stack.add("loner", node("z", "k", vec![other.out().node_id]));
    Ok(())
}

fn fail(t: &TestStack, op: FakeOp, name: &str, error: ProviderError) {
    t.cloud()
        .inject(Some(op), Some(name), None, Fault::Error(error));
}

#[tokio::test]
async fn a_failure_skips_its_dependents_and_lets_independent_work_finish() {
    let t = TestStack::new("dev");
    fail(
        &t,
        FakeOp::Create,
        "sub",
        ProviderError::new("subnet quota exceeded"),
    );
    let report = apply_failure(t.up(infra).await);

    assert_eq!(report.status("net"), Some(&StepStatus::Done));
    assert!(
        matches!(report.status("sub"), Some(StepStatus::Failed { error, retryable: false }) if error.contains("quota"))
    );
    assert_eq!(
        report.status("web"),
        Some(&StepStatus::Skipped {
            because: "create sub".into()
        })
    );
    for name in ["other", "other-2", "loner"] {
        assert_eq!(report.status(name), Some(&StepStatus::Done), "{name}");
    }
    assert!(
        calls(t.cloud(), FakeOp::Create, "web").is_empty(),
        "web was never attempted"
    );

    let state = t.state().await;
    let mut recorded: Vec<&str> = state.resources.keys().map(String::as_str).collect();
    recorded.sort_unstable();
    assert_eq!(recorded, ["loner", "net", "other", "other-2"]);
    assert!(state.pending.is_empty());
    assert_eq!(t.cloud().objects().len(), 4);
}

#[tokio::test]
async fn the_error_names_every_failed_resource_with_its_declaration_site() {
    let t = TestStack::new("dev");
    fail(
        &t,
        FakeOp::Create,
        "sub",
        ProviderError::new("subnet quota exceeded"),
    );
    fail(
        &t,
        FakeOp::Create,
        "loner",
        ProviderError::new("loner refused"),
    );
    let err = t.up(infra).await.unwrap_err();
    let text = err.to_string();
    for (name, line, why) in [
        ("sub", SUB_LINE, "subnet quota exceeded"),
        ("loner", LONER_LINE, "loner refused"),
    ] {
        let site = format!("{}:{line}:", file!());
        let entry = text
            .lines()
            .find(|l| l.contains(&format!("failed: create {name} (")))
            .unwrap_or_else(|| panic!("{name} is not named in: {text}"));
        assert!(entry.contains(&site) && entry.contains(why), "{entry}");
    }
    assert!(text.contains("skipped: create web"), "{text}");
    let report = apply_failure(Err::<(), _>(err));
    assert_eq!(report.failed().count(), 2);
    assert_eq!(report.skipped().count(), 1);
}

#[tokio::test]
async fn a_rerun_after_the_fault_is_cleared_converges_without_redoing_finished_work() {
    let t = TestStack::new("dev");
    fail(
        &t,
        FakeOp::Create,
        "sub",
        ProviderError::new("subnet quota exceeded"),
    );
    apply_failure(t.up(infra).await);
    t.cloud().clear_faults();

    let report = t.up(infra).await.unwrap();
    assert!(report.is_success());
    assert_eq!(t.cloud().objects().len(), 6);
    for name in ["net", "other", "other-2", "loner", "web"] {
        assert_eq!(
            calls(t.cloud(), FakeOp::Create, name).len(),
            1,
            "{name} created once"
        );
    }
    assert_eq!(
        calls(t.cloud(), FakeOp::Create, "sub").len(),
        2,
        "one failure, one success"
    );
    assert!(!t.preview(infra).await.unwrap().has_changes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_panic_is_contained_reported_and_the_object_read_back() {
    let t = TestStack::new("dev");
    t.cloud().inject(
        Some(FakeOp::Create),
        Some("sub"),
        Some(1),
        Fault::PanicAfter,
    );
    let report = apply_failure(t.up(infra).await);

    let Some(StepStatus::Failed { error, .. }) = report.status("sub") else {
        panic!("sub did not fail: {report}");
    };
    assert!(error.contains("panicked"), "{error}");
    let sub = t.cloud().object_named("sub");
    assert!(
        error.contains(&sub.id) && error.contains("adopted"),
        "{error}"
    );
    assert_eq!(
        report.status("other"),
        Some(&StepStatus::Done),
        "the run went on"
    );
    // The object the panicking call made is recorded, not lost.
    let state = t.state().await;
    assert_eq!(state.resources["sub"].id, sub.id);
    assert!(state.pending.is_empty());
    assert_eq!(count(t.cloud(), FakeOp::Read), 1, "read back once");

    t.up(infra).await.unwrap();
    assert_eq!(
        calls(t.cloud(), FakeOp::Create, "sub").len(),
        1,
        "not created twice"
    );
    assert_eq!(t.cloud().objects_named("sub").len(), 1);
    assert_eq!(t.cloud().objects().len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_before_the_work_is_read_back_as_not_created() {
    let t = TestStack::new("dev");
    t.cloud().inject(
        Some(FakeOp::Create),
        Some("other"),
        Some(1),
        Fault::PanicBefore,
    );
    let report = apply_failure(t.up(infra).await);
    let Some(StepStatus::Failed { error, .. }) = report.status("other") else {
        panic!("other did not fail: {report}");
    };
    assert!(
        error.contains("panicked") && error.contains("not created"),
        "{error}"
    );
    assert!(!t.state().await.resources.contains_key("other"));
    t.up(infra).await.unwrap();
    assert_eq!(t.cloud().objects_named("other").len(), 1);
}

#[tokio::test]
async fn a_retryable_error_is_retried_until_it_succeeds() {
    let t = TestStack::new("dev");
    t.cloud().inject(
        Some(FakeOp::Create),
        Some("net"),
        Some(2),
        Fault::Error(ProviderError::retryable("throttled")),
    );
    let report = t.up(infra).await.unwrap();
    assert!(report.is_success());
    let attempts = calls(t.cloud(), FakeOp::Create, "net");
    assert_eq!(attempts.len(), 3);
    assert_eq!(attempts.iter().filter(|c| c.failed).count(), 2);
    assert_eq!(t.cloud().objects_named("net").len(), 1);
}

#[tokio::test]
async fn an_error_that_is_not_retryable_is_tried_once() {
    let t = TestStack::new("dev");
    t.cloud().inject(
        Some(FakeOp::Create),
        Some("net"),
        Some(1),
        Fault::Error(ProviderError::new("invalid cidr")),
    );
    apply_failure(t.up(infra).await);
    assert_eq!(calls(t.cloud(), FakeOp::Create, "net").len(), 1);
}

#[tokio::test]
async fn a_failed_delete_keeps_what_its_object_depends_on() {
    let t = TestStack::new("dev");
    t.up(infra).await.unwrap();
    fail(
        &t,
        FakeOp::Delete,
        "sub",
        ProviderError::new("subnet has dependencies"),
    );
    let report = apply_failure(t.destroy().await);
    assert_eq!(report.status("web"), Some(&StepStatus::Done));
    assert!(matches!(
        report.status("sub"),
        Some(StepStatus::Failed { .. })
    ));
    assert_eq!(
        report.status("net"),
        Some(&StepStatus::Skipped {
            because: "delete sub".into()
        })
    );
    let state = t.state().await;
    let mut left: Vec<&str> = state.resources.keys().map(String::as_str).collect();
    left.sort_unstable();
    assert_eq!(left, ["net", "sub"]);
    assert_eq!(t.cloud().objects().len(), 2);
}

#[tokio::test]
async fn a_retryable_error_that_persists_fails_after_the_last_attempt() {
    let t = TestStack::new("dev");
    fail(
        &t,
        FakeOp::Create,
        "net",
        ProviderError::retryable("throttled"),
    );
    let report = apply_failure(t.up(infra).await);
    let Some(StepStatus::Failed { error, retryable }) = report.status("net") else {
        panic!("net did not fail: {report}");
    };
    assert!(*retryable, "a later run may succeed");
    assert!(
        error.contains("throttled") && error.contains("after 5 attempts"),
        "{error}"
    );
    assert_eq!(calls(t.cloud(), FakeOp::Create, "net").len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_over_its_time_limit_is_abandoned_reported_and_read_back() {
    use dafnck_core::{Options, Timeouts};
    use std::time::Duration;
    let program = |stack: &mut Stack| {
        let timeouts = Timeouts {
            create: Some(Duration::from_millis(20)),
            ..Timeouts::default()
        };
        stack.add_with(
            "slow",
            node("x", "k", vec![]),
            Options::new().timeouts(timeouts),
        );
        stack.add("quick", node("y", "k", vec![]));
        Ok(())
    };
    let t = TestStack::new("dev");
    t.cloud().set_latency(|op, name| {
        let slow = op == FakeOp::Create && name == "slow";
        Duration::from_millis(if slow { 2_000 } else { 0 })
    });
    let report = apply_failure(t.up(program).await);
    let Some(StepStatus::Failed { error, .. }) = report.status("slow") else {
        panic!("slow did not fail: {report}");
    };
    assert!(
        error.contains("timed out") && error.contains("not created"),
        "{error}"
    );
    assert_eq!(report.status("quick"), Some(&StepStatus::Done));
    let state = t.state().await;
    assert!(state.pending.is_empty(), "the read-back settled it");
    assert!(!state.resources.contains_key("slow"));

    t.cloud().set_latency(|_, _| Duration::ZERO);
    t.up(program).await.unwrap();
    assert_eq!(t.cloud().objects_named("slow").len(), 1);
}
