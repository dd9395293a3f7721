//! Learned timings: every apply records how long each type's provider
//! calls took, and the next apply starts first the steps with the longest
//! expected time ahead of them — not merely the longest chain of steps.
//! Before anything is learned, the provider's priors
//! (`Provider::expected_duration`) stand in; once learned, what was
//! measured wins.

use std::time::Duration;

use dafnck_core::engine::Settings;
use dafnck_core::state::CallKind;
use dafnck_core::testing::{fast_retry, FakeCloud, FakeOp, TestStack};
use dafnck_core::Stack;

use crate::common::{call, network, node};

const NETWORK: &str = "fake:net:Network";
const NODE: &str = "fake:graph:Node";

/// A slow network (100 ms a call) beside a chain of two fast nodes (5 ms),
/// one call at a time.
fn stack() -> TestStack {
    let cloud = FakeCloud::new();
    cloud.set_latency(|_, name| Duration::from_millis(if name == "slow" { 100 } else { 5 }));
    TestStack::with_cloud("dev", cloud).settings(Settings {
        parallelism: 1,
        retry: fast_retry(),
        ..Settings::default()
    })
}

fn program(stack: &mut Stack) -> dafnck_core::Result<()> {
    stack.add("slow", network("10.0.0.0/16"));
    let f0 = stack.add("f0", node("v", "k", vec![]));
    stack.add("f1", node("v", "k", vec![f0.out().node_id]));
    Ok(())
}

fn first_create(t: &TestStack) -> &'static str {
    let slow = call(t.cloud(), FakeOp::Create, "slow");
    let f0 = call(t.cloud(), FakeOp::Create, "f0");
    if slow.started < f0.started {
        "slow"
    } else {
        "f0"
    }
}

#[tokio::test(start_paused = true)]
async fn an_apply_records_how_long_each_types_calls_took() {
    let t = stack();
    assert!(t.state().await.timings.is_empty());
    t.up(program).await.unwrap();
    let timings = t.state().await.timings;
    let mean = |type_name, kind| timings.get(type_name, kind).map(|t| (t.mean(), t.calls));
    // Durations on the runtime's clock, here the paused one: exact.
    assert_eq!(
        mean(NETWORK, CallKind::Create),
        Some((Duration::from_millis(100), 1))
    );
    assert_eq!(
        mean(NODE, CallKind::Create),
        Some((Duration::from_millis(5), 2))
    );
    assert_eq!(mean(NODE, CallKind::Delete), None);

    t.destroy().await.unwrap();
    let timings = t.state().await.timings;
    assert_eq!(
        timings.get(NODE, CallKind::Delete).map(|t| t.mean()),
        Some(Duration::from_millis(5))
    );
    // A run with no provider call learns nothing and records nothing.
    let serial = t.state().await.serial;
    t.up(|_: &mut Stack| Ok(())).await.unwrap();
    assert_eq!(t.state().await.serial, serial);
}

#[tokio::test(start_paused = true)]
async fn the_next_apply_starts_the_longest_expected_work_first() {
    let t = stack();
    // Nothing learned: each step counts as one, so the chain of two goes
    // before the single network.
    t.up(program).await.unwrap();
    assert_eq!(first_create(&t), "f0");

    // Learned: the network (100 ms) is longer than the chain (2 × 5 ms).
    t.destroy().await.unwrap();
    t.up(program).await.unwrap();
    let creates: Vec<_> = t.cloud().calls_of(FakeOp::Create);
    let second_run = &creates[3..];
    assert_eq!(second_run[0].name, "slow", "{second_run:?}");
}

/// The resource whose create started first in the last `up` (its three
/// creates are the last three).
fn last_run_first_create(t: &TestStack) -> String {
    let creates = t.cloud().calls_of(FakeOp::Create);
    let mut last = creates[creates.len() - 3..].to_vec();
    last.sort_by_key(|c| c.started);
    last[0].name.clone()
}

#[tokio::test(start_paused = true)]
async fn with_nothing_learned_the_providers_priors_order_the_first_apply() {
    let t = stack();
    // Right priors: the network (100 ms) is longer than the chain of two
    // (2 × 5 ms), so it goes first — with no prior, the chain would.
    t.cloud()
        .expect_duration(NETWORK, CallKind::Create, Duration::from_millis(100));
    t.cloud()
        .expect_duration(NODE, CallKind::Create, Duration::from_millis(5));
    t.up(program).await.unwrap();
    assert_eq!(first_create(&t), "slow");
    // A prior for one type only: the others are expected to take the mean
    // of the priors given (here the network's), so the chain of two goes
    // first.
    let t = stack();
    t.cloud()
        .expect_duration(NETWORK, CallKind::Create, Duration::from_millis(100));
    t.up(program).await.unwrap();
    assert_eq!(first_create(&t), "f0");
}

#[tokio::test(start_paused = true)]
async fn learned_durations_take_precedence_over_the_providers_priors() {
    let t = stack();
    // Wrong priors: the network said to be quick, the nodes slow.
    t.cloud()
        .expect_duration(NETWORK, CallKind::Create, Duration::from_millis(1));
    t.cloud()
        .expect_duration(NODE, CallKind::Create, Duration::from_millis(50));
    t.up(program).await.unwrap();
    assert_eq!(first_create(&t), "f0");
    // The first run measured 100 ms and 5 ms: those order the second.
    t.destroy().await.unwrap();
    t.up(program).await.unwrap();
    assert_eq!(last_run_first_create(&t), "slow");
}
