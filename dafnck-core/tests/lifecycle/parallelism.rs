//! Parallelism: independent resources are worked on at once, never more
//! than `parallelism` provider calls at a time; a chain of dependents never
//! overlaps — each call starts after its dependency's call ended.

use std::time::Duration;

use dafnck_core::engine::Settings;
use dafnck_core::testing::{fast_retry, FakeCloud, FakeOp, TestStack};
use dafnck_core::Stack;

use crate::common::{assert_before, call, node};

fn stack(parallelism: usize, latency_ms: u64) -> TestStack {
    let cloud = FakeCloud::new().with_latency(Duration::from_millis(latency_ms));
    TestStack::with_cloud("dev", cloud).settings(Settings {
        parallelism,
        retry: fast_retry(),
        ..Settings::default()
    })
}

fn independent(n: usize) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        for i in 0..n {
            stack.add(&format!("n{i}"), node("v", "k", vec![]));
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_resources_run_concurrently_within_the_parallelism_bound() {
    let t = stack(4, 20);
    t.up(independent(12)).await.unwrap();
    let max = t.cloud().max_concurrency();
    assert!(max > 1, "independent creates overlapped: {max}");
    assert!(max <= 4, "at most 4 calls at once, saw {max}");
    assert_eq!(t.cloud().objects().len(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_and_destroy_keep_within_the_bound_too() {
    let t = stack(3, 10);
    t.up(independent(9)).await.unwrap();
    t.engine().drift().await.unwrap();
    t.destroy().await.unwrap();
    assert!(
        t.cloud().max_concurrency() <= 3,
        "{}",
        t.cloud().max_concurrency()
    );
    assert!(t.cloud().objects().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_of_dependents_never_overlaps() {
    let t = stack(8, 5);
    let chain = |stack: &mut Stack| {
        let mut prev = stack.add("c0", node("v", "k", vec![]));
        for i in 1..5 {
            prev = stack.add(&format!("c{i}"), node("v", "k", vec![prev.out().node_id]));
        }
        // Independent work alongside the chain.
        for i in 0..6 {
            stack.add(&format!("free{i}"), node("v", "k", vec![]));
        }
        Ok(())
    };
    t.up(chain).await.unwrap();
    let cloud = t.cloud();
    for i in 1..5 {
        assert_before(
            &call(cloud, FakeOp::Create, &format!("c{}", i - 1)),
            &call(cloud, FakeOp::Create, &format!("c{i}")),
        );
    }
    assert!(cloud.max_concurrency() > 1);

    t.destroy().await.unwrap();
    for i in 1..5 {
        assert_before(
            &call(cloud, FakeOp::Delete, &format!("c{i}")),
            &call(cloud, FakeOp::Delete, &format!("c{}", i - 1)),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependent_starts_as_soon_as_its_own_dependency_is_done_not_level_by_level() {
    // `fast` → `after-fast`; `slow` is independent and takes much longer:
    // `after-fast` must not wait for `slow`.
    let cloud = FakeCloud::new();
    cloud.set_latency(|_, name| Duration::from_millis(if name == "slow" { 300 } else { 5 }));
    let t = TestStack::with_cloud("dev", cloud);
    t.up(|stack: &mut Stack| {
        stack.add("slow", node("v", "k", vec![]));
        let fast = stack.add("fast", node("v", "k", vec![]));
        stack.add("after-fast", node("v", "k", vec![fast.out().node_id]));
        Ok(())
    })
    .await
    .unwrap();
    let slow = call(t.cloud(), FakeOp::Create, "slow");
    let after_fast = call(t.cloud(), FakeOp::Create, "after-fast");
    assert!(
        after_fast.ended < slow.ended,
        "{after_fast:?} waited for {slow:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_abandoned_at_their_time_limit_no_longer_count_as_in_flight() {
    use dafnck_core::{Options, Timeouts};
    let t = stack(2, 30);
    let limit = Timeouts {
        create: Some(Duration::from_millis(5)),
        ..Timeouts::default()
    };
    let program = move |stack: &mut Stack| {
        for i in 0..4 {
            stack.add_with(
                &format!("late{i}"),
                node("v", "k", vec![]),
                Options::new().timeouts(limit),
            );
        }
        Ok(())
    };
    assert!(t.up(program).await.is_err(), "every create timed out");
    t.up(independent(6)).await.unwrap();
    let max = t.cloud().max_concurrency();
    assert!(max <= 2, "at most 2 calls at once, saw {max}");
}

/// `up` of `n` independent resources on a file store whose cloud checks,
/// as each create is called, that the create's intent is already in the
/// journal file; the names it did not find, the fsyncs the run made, and
/// the most calls seen at once.
async fn journaled_up(
    n: usize,
    parallelism: usize,
    journal_ahead: usize,
) -> (Vec<String>, u64, usize) {
    use std::sync::{Arc, Mutex};

    use dafnck_core::engine::Engine;
    use dafnck_core::prelude::Providers;
    use dafnck_core::state::FileStore;

    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("dev").join("journal.jsonl");
    let cloud = FakeCloud::new();
    let missing = Arc::new(Mutex::new(Vec::new()));
    let seen = missing.clone();
    cloud.set_latency(move |op, name| {
        if op == FakeOp::Create {
            let text = std::fs::read_to_string(&journal).unwrap_or_default();
            let resource = format!("\"name\":\"{name}\"");
            let journaled = text
                .lines()
                .any(|l| l.contains("\"entry\":\"intent\"") && l.contains(&resource));
            if !journaled {
                seen.lock().unwrap().push(name.to_owned());
            }
        }
        Duration::ZERO
    });
    let store = FileStore::new(dir.path());
    let engine = Engine::new("dev", store.clone(), Providers::new().with(cloud.clone())).settings(
        Settings {
            parallelism,
            journal_ahead,
            retry: fast_retry(),
            ..Settings::default()
        },
    );
    engine.up(independent(n), false).await.unwrap();
    assert_eq!(cloud.objects().len(), n);
    let missing = missing.lock().unwrap().clone();
    (missing, store.fsyncs(), cloud.max_concurrency())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_journal_ahead_of_the_call_slots_sharing_fsyncs_each_intent_durable_before_its_call()
{
    let n = 200;
    // Steps may journal ahead of the two call slots (the default, 256).
    let (missing, fsyncs, max) = journaled_up(n, 2, 256).await;
    assert!(
        missing.is_empty(),
        "created before their intent was journaled: {missing:?}"
    );
    assert!(max <= 2, "at most 2 calls at once, saw {max}");
    // Not journaling ahead: at most two intents can share an fsync.
    let (missing, alone, max) = journaled_up(n, 2, 2).await;
    assert!(missing.is_empty(), "{missing:?}");
    assert!(max <= 2, "{max}");
    assert!(
        alone >= n as u64 / 2,
        "{alone} fsyncs for {n} creates, two at a time"
    );
    assert!(
        fsyncs * 4 < alone,
        "journaling ahead shares fsyncs: {fsyncs} against {alone} without"
    );
}
