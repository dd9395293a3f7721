//! Property: whatever sequence of program edits and provider failures comes
//! first, once an apply succeeds the recorded state equals the desired graph
//! and the fake cloud holds exactly the recorded objects — no leak, no orphan.

use std::collections::{BTreeMap, BTreeSet};

use dafnck_core::prelude::*;
use dafnck_core::testing::resources::Node;
use dafnck_core::testing::{FakeOp, Fault, TestStack};
use dafnck_core::{ProviderError, Value};
use proptest::prelude::*;

/// Resource ids range over `0..IDS`: few enough that injected faults hit
/// resources that exist.
const IDS: u8 = 10;

/// One resource of a generated program: refs point at lower indices only,
/// so every program is a DAG (cycles are tested elsewhere).
#[derive(Clone, Debug)]
struct Spec {
    id: u8,
    value: u8,
    key: u8,
    refs: Vec<u8>,
    delete_first: bool,
}

/// A program: resources by id (names `n<id>`), in id order.
type Program = Vec<Spec>;

fn program() -> impl Strategy<Value = Program> {
    proptest::collection::btree_set(0u8..IDS, 0..8).prop_flat_map(|ids| {
        let ids: Vec<u8> = ids.into_iter().collect();
        let n = ids.len();
        (
            Just(ids),
            proptest::collection::vec(
                (
                    0u8..3,
                    0u8..2,
                    proptest::collection::vec(any::<prop::sample::Index>(), 0..3),
                    any::<bool>(),
                ),
                n,
            ),
        )
            .prop_map(|(ids, attrs)| {
                ids.iter()
                    .enumerate()
                    .zip(attrs)
                    .map(|((pos, &id), (value, key, refs, delete_first))| {
                        let mut refs: Vec<u8> = if pos == 0 {
                            Vec::new()
                        } else {
                            refs.iter().map(|ix| ids[ix.index(pos)]).collect()
                        };
                        refs.sort_unstable();
                        refs.dedup();
                        Spec {
                            id,
                            value,
                            key,
                            refs,
                            delete_first,
                        }
                    })
                    .collect()
            })
    })
}

#[derive(Clone, Debug)]
enum Injected {
    Fail(FakeOp, u8),
    PanicAfter(FakeOp, u8),
}

fn injected() -> impl Strategy<Value = Injected> {
    let op = prop_oneof![
        Just(FakeOp::Create),
        Just(FakeOp::Update),
        Just(FakeOp::Delete)
    ];
    prop_oneof![
        2 => (op.clone(), 0u8..IDS).prop_map(|(o, n)| Injected::Fail(o, n)),
        1 => (op, 0u8..IDS).prop_map(|(o, n)| Injected::PanicAfter(o, n)),
    ]
}

fn declare(p: &Program) -> impl FnOnce(&mut Stack) -> dafnck_core::Result<()> + '_ {
    move |stack| {
        let mut handles = BTreeMap::new();
        for s in p {
            let node = Node {
                value: format!("v{}", s.value).into(),
                key: format!("k{}", s.key).into(),
                refs: s
                    .refs
                    .iter()
                    .map(|r| {
                        handles
                            .get(r)
                            .map(|h: &Handle<Node>| h.out().node_id)
                            .unwrap_or_default()
                    })
                    .collect(),
            };
            let options = if s.delete_first {
                Options::new().delete_before_replace()
            } else {
                Options::new()
            };
            handles.insert(s.id, stack.add_with(&format!("n{}", s.id), node, options));
        }
        Ok(())
    }
}

async fn check_converged(t: &TestStack, p: &Program) -> Result<(), TestCaseError> {
    let state = t.state().await;
    prop_assert!(
        state.pending.is_empty(),
        "pending operations remain: {:?}",
        state.pending
    );
    prop_assert!(
        state.deposed.is_empty(),
        "deposed objects remain: {:?}",
        state.deposed
    );
    let want: BTreeSet<String> = p.iter().map(|s| format!("n{}", s.id)).collect();
    let have: BTreeSet<String> = state.resources.keys().cloned().collect();
    prop_assert_eq!(&have, &want);
    for s in p {
        let r = &state.resources[&format!("n{}", s.id)];
        prop_assert_eq!(
            r.inputs.get("value"),
            Some(&Value::from(format!("v{}", s.value)))
        );
        prop_assert_eq!(
            r.inputs.get("key"),
            Some(&Value::from(format!("k{}", s.key)))
        );
        let refs: Vec<Value> = s
            .refs
            .iter()
            .map(|d| Value::from(state.resources[&format!("n{d}")].id.clone()))
            .collect();
        prop_assert_eq!(
            r.inputs.get("refs"),
            Some(&Value::List(refs)),
            "refs of n{} point at the current objects",
            s.id
        );
    }
    let objects = t.cloud().objects();
    let recorded: BTreeSet<&String> = state.resources.values().map(|r| &r.id).collect();
    let existing: BTreeSet<&String> = objects.keys().collect();
    prop_assert_eq!(
        existing,
        recorded,
        "the cloud holds exactly the recorded objects"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn converges_with_no_leak_or_orphan(
        programs in proptest::collection::vec(program(), 1..4),
        faults in proptest::collection::vec(proptest::collection::vec(injected(), 0..5), 3),
        last in program(),
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        rt.block_on(async {
            let t = TestStack::new("prop");
            for (i, p) in programs.iter().enumerate() {
                for f in faults.get(i).into_iter().flatten() {
                    match f {
                        Injected::Fail(op, n) => t.cloud().inject(Some(*op), Some(&format!("n{n}")), Some(1), Fault::Error(ProviderError::new("injected"))),
                        Injected::PanicAfter(op, n) => t.cloud().inject(Some(*op), Some(&format!("n{n}")), Some(1), Fault::PanicAfter),
                    }
                }
                // May fail: that is the point.
                let _ = t.up(declare(p)).await;
                t.cloud().clear_faults();
            }
            let report = t.up(declare(&last)).await;
            prop_assert!(report.is_ok(), "the final apply failed: {}", report.err().map(|e| e.to_string()).unwrap_or_default());
            check_converged(&t, &last).await?;
            let again = t.preview(declare(&last)).await;
            prop_assert!(again.as_ref().is_ok_and(|p| !p.has_changes()), "a second preview is empty: {:?}", again.map(|p| p.render()));
            Ok(())
        })?;
    }
}
