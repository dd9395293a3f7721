//! Helpers shared by the lifecycle tests: small programs over the fake
//! cloud's resource types, and assertions on its call log.

use dafnck_core::apply::ApplyReport;
use dafnck_core::testing::resources::{Instance, Network, Node, Subnet};
use dafnck_core::testing::{FakeCall, FakeCloud, FakeOp};
use dafnck_core::{Error, Input, Value};

/// A network with this address range.
pub fn network(cidr: &str) -> Network {
    Network {
        cidr: cidr.into(),
        ..Default::default()
    }
}

/// A subnet of the network `network_id` refers to.
pub fn subnet(network_id: Input<dafnck_core::testing::resources::NetworkId>, cidr: &str) -> Subnet {
    Subnet {
        network_id,
        cidr: cidr.into(),
        ..Default::default()
    }
}

/// An instance in the subnet `subnet_id` refers to.
pub fn instance(
    subnet_id: Input<dafnck_core::testing::resources::SubnetId>,
    size: &str,
) -> Instance {
    Instance {
        subnet_id,
        image: "img-1".into(),
        size: size.into(),
        ..Default::default()
    }
}

/// A graph node with a value, a force-new key and references.
pub fn node(value: &str, key: &str, refs: Vec<Input<String>>) -> Node {
    Node {
        value: value.into(),
        key: key.into(),
        refs,
    }
}

/// The planned value of `field` of resource `name`, which must be planned.
pub fn planned(plan: &dafnck_core::Plan, name: &str, field: &str) -> Value {
    match after(plan, name, field) {
        Some(v) => v.clone(),
        None => panic!("{name}.{field} is not planned"),
    }
}

/// The report of an apply that must have failed with [`Error::Apply`].
pub fn apply_failure<T: std::fmt::Debug>(result: dafnck_core::Result<T>) -> ApplyReport {
    match result {
        Err(Error::Apply(report)) => *report,
        other => panic!("expected Error::Apply, got {other:?}"),
    }
}

/// The diagnostics of a result that must be [`Error::Program`].
pub fn program_problems<T: std::fmt::Debug>(
    result: dafnck_core::Result<T>,
) -> Vec<dafnck_core::Diagnostic> {
    match result {
        Err(Error::Program(problems)) => problems,
        other => panic!("expected Error::Program, got {other:?}"),
    }
}

/// The calls of `op` for resource `name`, in the order they ended.
pub fn calls(cloud: &FakeCloud, op: FakeOp, name: &str) -> Vec<FakeCall> {
    cloud
        .calls()
        .into_iter()
        .filter(|c| c.op == op && c.name == name)
        .collect()
}

/// The one successful call of `op` for resource `name`.
pub fn call(cloud: &FakeCloud, op: FakeOp, name: &str) -> FakeCall {
    find(&cloud.calls(), op, name)
}

/// The one successful call of `op` for resource `name` among `calls`
/// (a slice of [`FakeCloud::calls`], such as the calls of the last run).
pub fn find(calls: &[FakeCall], op: FakeOp, name: &str) -> FakeCall {
    let found: Vec<&FakeCall> = calls
        .iter()
        .filter(|c| c.op == op && c.name == name && !c.failed)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one successful {op:?} of {name:?}, got {found:?}; all calls: {calls:?}"
    );
    found[0].clone()
}

/// Asserts that call `first` ended before call `then` started.
pub fn assert_before(first: &FakeCall, then: &FakeCall) {
    assert!(
        first.ended < then.started,
        "expected {:?} {} to end before {:?} {} started: {first:?} / {then:?}",
        first.op,
        first.name,
        then.op,
        then.name
    );
}

/// How many calls of `op` the cloud has seen (any resource).
pub fn count(cloud: &FakeCloud, op: FakeOp) -> usize {
    cloud.calls_of(op).len()
}

/// The planned value of input `field` of resource `name`.
pub fn after<'a>(plan: &'a dafnck_core::Plan, name: &str, field: &str) -> Option<&'a Value> {
    plan.change(name)?.after.as_ref()?.get(field)
}

/// Tags with this `role`.
pub fn tags(role: &str) -> std::collections::BTreeMap<String, String> {
    [("role".to_string(), role.to_string())].into()
}

/// Made elsewhere: a network tagged `role=shared`, and another.
pub async fn shared_networks(cloud: &FakeCloud) {
    let owner = dafnck_core::engine::Engine::new(
        "shared",
        dafnck_core::state::MemoryStore::new(),
        dafnck_core::Providers::new().with(cloud.clone()),
    );
    owner
        .up(
            |stack: &mut dafnck_core::Stack| {
                for (name, role) in [("shared-net", "shared"), ("other-net", "other")] {
                    stack.add(
                        name,
                        Network {
                            cidr: "10.0.0.0/16".into(),
                            tags: tags(role),
                        },
                    );
                }
                Ok(())
            },
            false,
        )
        .await
        .unwrap();
}
