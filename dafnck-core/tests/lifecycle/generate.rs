//! Declarations written from live objects: [`Engine::declaration`] (what
//! `import --generate NAME ID` prints) reads the one object and writes it
//! as the program would declare it, an id of a recorded resource as a
//! reference to it; [`Engine::program`] (what `adopt` writes) does so for
//! many, each after those it refers to. Both make reads only and record
//! nothing.

use std::collections::BTreeMap;

use dafnck_core::engine::ImportSpec;
use dafnck_core::testing::resources::{Instance, Network, Subnet};
use dafnck_core::testing::{FakeCloud, FakeOp, TestStack};
use dafnck_core::{Resource, Stack};

use crate::common::{instance, network, program_problems, subnet};

/// A network, a subnet in it, an instance in that.
fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
    let mut net = network("10.0.0.0/16");
    net.tags = BTreeMap::from([("team".to_string(), "core".to_string())]);
    let net = stack.add("net", net);
    let sub = stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
    stack.add("web", instance(sub.out().subnet_id, "small"));
    Ok(())
}

/// The objects another stack made over `cloud`, by resource name: their ids.
async fn made_elsewhere(cloud: &FakeCloud) -> BTreeMap<String, String> {
    let legacy = TestStack::with_cloud("legacy", cloud.clone());
    legacy.up(infra).await.unwrap();
    let state = legacy.state().await;
    state
        .resources
        .values()
        .map(|r| (r.name.clone(), r.id.clone()))
        .collect()
}

#[tokio::test]
async fn import_generate_writes_the_object_as_it_is_referring_to_what_is_recorded_and_only_reads() {
    let cloud = FakeCloud::new();
    let ids = made_elsewhere(&cloud).await;
    let t = TestStack::with_cloud("dev", cloud.clone());
    t.engine().import(infra, "net", &ids["net"]).await.unwrap();
    let recorded = t.state().await;
    let calls_before = cloud.calls().len();

    let generated = t
        .engine()
        .declaration(infra, "sub", &ids["sub"])
        .await
        .unwrap();
    assert_eq!(generated.statements.len(), 1);
    assert_eq!(
        generated.statements[0].1,
        "let sub = stack.add(\"sub\", Subnet {\n    network_id: net.out().network_id,\n    \
         cidr: \"10.0.1.0/24\".into(),\n    tags: Default::default(),\n});"
    );
    assert!(
        generated.uses.is_empty(),
        "the fake cloud's types are named bare"
    );

    // The call log: one read, nothing else; nothing recorded.
    let calls = &cloud.calls()[calls_before..];
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].op, FakeOp::Read);
    assert_eq!(t.state().await.resources, recorded.resources);

    // Nothing recorded to refer to: the id is written as it is.
    let fresh = TestStack::with_cloud("fresh", cloud.clone());
    let generated = fresh
        .engine()
        .declaration(infra, "sub", &ids["sub"])
        .await
        .unwrap();
    assert!(
        generated.statements[0].1.contains(&format!(
            "network_id: Input::value(NetworkId({:?}.into())),",
            ids["net"]
        )),
        "{}",
        generated.statements[0].1
    );
}

#[tokio::test]
async fn import_generate_of_a_missing_object_or_an_undeclared_name_is_an_error_naming_it() {
    let cloud = FakeCloud::new();
    made_elsewhere(&cloud).await;
    let t = TestStack::with_cloud("dev", cloud.clone());
    let problems = program_problems(t.engine().declaration(infra, "sub", "subnet-404").await);
    let text = problems[0].to_string();
    assert!(
        text.contains("sub") && text.contains("subnet-404"),
        "{text}"
    );
    let problems = program_problems(t.engine().declaration(infra, "nope", "x-1").await);
    assert!(
        problems[0].to_string().contains("no resource \"nope\""),
        "{}",
        problems[0]
    );
    assert!(t.state().await.resources.is_empty());
}

#[tokio::test]
async fn a_program_declares_each_object_after_those_it_refers_to_with_references_rebuilt() {
    let cloud = FakeCloud::new();
    let ids = made_elsewhere(&cloud).await;
    let t = TestStack::with_cloud("dev", cloud.clone());
    let calls_before = cloud.calls().len();

    // Given in an order where each refers to one after it.
    let objects = [
        (ImportSpec::new("web-0", &ids["web"]), Instance::TYPE),
        (ImportSpec::new("public", &ids["sub"]), Subnet::TYPE),
        (ImportSpec::new("main", &ids["net"]), Network::TYPE),
    ];
    let generated = t.engine().program(&objects).await.unwrap();
    let names: Vec<&str> = generated
        .statements
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, ["main", "public", "web-0"]);
    let code: Vec<&str> = generated
        .statements
        .iter()
        .map(|(_, s)| s.as_str())
        .collect();
    assert!(
        code[0].starts_with("let main = stack.add(\"main\", Network {")
            && code[0].contains("(\"team\".into(), \"core\".into()),"),
        "{}",
        code[0]
    );
    assert!(
        code[1].contains("network_id: main.out().network_id,"),
        "{}",
        code[1]
    );
    assert!(
        code[2].starts_with("let web_0 = stack.add(\"web-0\", Instance {")
            && code[2].contains("subnet_id: public.out().subnet_id,"),
        "{}",
        code[2]
    );
    assert_eq!(
        generated.references,
        vec![
            ("public".to_string(), "main".to_string()),
            ("web-0".to_string(), "public".to_string())
        ]
    );
    let main_rs = generated.main_rs(&[]);
    assert!(main_rs.contains("fn infra(stack: &mut Stack)"), "{main_rs}");

    let calls = &cloud.calls()[calls_before..];
    assert!(calls.iter().all(|c| c.op == FakeOp::Read), "{calls:?}");
    assert_eq!(calls.len(), 3, "one read per object: {calls:?}");
    assert!(t.state().await.resources.is_empty(), "nothing recorded");

    // An object that is not there is named.
    let missing = [(ImportSpec::new("ghost", "net-404"), Network::TYPE)];
    let problems = program_problems(t.engine().program(&missing).await);
    assert!(
        problems[0].to_string().contains("ghost") && problems[0].to_string().contains("net-404"),
        "{}",
        problems[0]
    );
}
