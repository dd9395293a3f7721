//! Batched reads: a refresh reads the objects of a type whose provider
//! reads in batches with one `read_many` call per batch of up to
//! `READ_BATCH`, and reports their drift as it does for single reads.

use dafnck_core::drift::DriftKind;
use dafnck_core::provider::READ_BATCH;
use dafnck_core::testing::resources::Node;
use dafnck_core::testing::{FakeOp, TestStack};
use dafnck_core::{Resource, Stack, Value};

use crate::common::{count, network, node};

const NODES: usize = 2 * READ_BATCH + 50;

fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
    stack.add("net", network("10.0.0.0/16"));
    for i in 0..NODES {
        stack.add(&format!("n{i}"), node(&format!("v{i}"), "k", vec![]));
    }
    Ok(())
}

#[tokio::test]
async fn a_refresh_reads_a_batched_type_in_batches_and_finds_its_drift() {
    let t = TestStack::new("dev");
    t.up(infra).await.unwrap();
    t.cloud().read_in_batches(Node::TYPE);
    let changed = t.cloud().object_named("n7").id;
    t.cloud().mutate(&changed, |o| {
        if let Value::Map(m) = &mut o.inputs {
            m.insert("value".into(), "by hand".into());
        }
    });
    let gone = t.cloud().object_named("n230").id;
    t.cloud().remove(&gone);
    let reads_before = count(t.cloud(), FakeOp::Read);

    let report = t.engine().drift().await.unwrap();

    assert_eq!(report.checked, NODES + 1);
    assert_eq!(report.drifted.len(), 2, "{report:?}");
    assert_eq!(report.get("n7").unwrap().kind, DriftKind::Changed);
    assert_eq!(report.get("n230").unwrap().kind, DriftKind::Deleted);
    // The nodes in three calls; the network, not batched, alone.
    assert_eq!(
        t.cloud().read_batches(),
        vec![READ_BATCH, READ_BATCH, NODES - 2 * READ_BATCH]
    );
    assert_eq!(count(t.cloud(), FakeOp::Read) - reads_before, NODES + 1);
}

#[tokio::test]
async fn without_batching_every_object_is_read_alone() {
    let t = TestStack::new("dev");
    t.up(infra).await.unwrap();
    let report = t.engine().drift().await.unwrap();
    assert!(!report.has_drift(), "{report:?}");
    assert!(t.cloud().read_batches().is_empty());
}
