//! The `import` operation ([`Engine::preview_import`],
//! [`Engine::import_previewed`]): it records exactly the objects named and
//! makes no provider call but reads; a dependency neither recorded nor
//! imported with it, a bad id, an unknown name are clear errors with
//! nothing recorded; a difference from the program is shown as what the
//! next `up` would change; a bulk import reads batched types in batches.

use std::collections::BTreeMap;

use dafnck_core::engine::{ImportFile, ImportSpec};
use dafnck_core::testing::resources::{Network, Node};
use dafnck_core::testing::{FakeCloud, FakeOp, TestStack};
use dafnck_core::{Action, Resource, Stack};

use crate::common::{count, instance, network, node, program_problems, subnet};

const SUB_LINE: u32 = line!() + 7;

/// A network, a subnet in it, an instance in that: the program adopting
/// what the `legacy` stack made.
fn infra(team: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let net = stack.add("net", tagged(team));
        let sub = stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
        stack.add("web", instance(sub.out().subnet_id, "small"));
        Ok(())
    }
}

fn tagged(team: &str) -> Network {
    let mut net = network("10.0.0.0/16");
    net.tags = BTreeMap::from([("team".to_string(), team.to_string())]);
    net
}

/// Objects made outside the adopting stack (by another stack over the same
/// cloud), by resource name: their ids.
async fn made_elsewhere(cloud: &FakeCloud) -> BTreeMap<String, String> {
    let legacy = TestStack::with_cloud("legacy", cloud.clone());
    legacy.up(infra("core")).await.unwrap();
    let state = legacy.state().await;
    state
        .resources
        .values()
        .map(|r| (r.name.clone(), r.id.clone()))
        .collect()
}

#[tokio::test]
async fn an_import_records_exactly_the_objects_named_and_only_reads() {
    let cloud = FakeCloud::new();
    let ids = made_elsewhere(&cloud).await;
    let calls_before = cloud.calls().len();
    let t = TestStack::with_cloud("dev", cloud.clone());

    let preview = t
        .engine()
        .preview_import(infra("core"), &[ImportSpec::new("net", &ids["net"])])
        .await
        .unwrap();
    assert!(preview.matches_program(), "{}", preview.render());
    assert_eq!(preview.imports.len(), 1);
    assert_eq!(preview.imports[0].action, Action::Import);
    let text = preview.render();
    assert!(
        text.contains(&format!("net ({}) (import {})", Network::TYPE, ids["net"])),
        "{text}"
    );
    assert!(
        t.state().await.resources.is_empty(),
        "a preview records nothing"
    );

    let report = t.engine().import_previewed(&preview).await.unwrap();
    assert_eq!(
        report.imported,
        vec![("net".to_string(), ids["net"].clone())]
    );

    let state = t.state().await;
    assert_eq!(
        state.resources.len(),
        1,
        "the other declared resources are not touched"
    );
    assert_eq!(state.resources["net"].id, ids["net"]);
    // The call log: reads only, one per object named.
    let calls = &cloud.calls()[calls_before..];
    assert!(calls.iter().all(|c| c.op == FakeOp::Read), "{calls:?}");
    assert_eq!(
        calls.len(),
        1,
        "the preview's read; recording reads nothing more: {calls:?}"
    );
    assert_eq!(cloud.objects().len(), 3);
}

#[tokio::test]
async fn a_dependency_neither_recorded_nor_imported_with_it_is_an_error_naming_it() {
    let cloud = FakeCloud::new();
    let ids = made_elsewhere(&cloud).await;
    let calls_before = cloud.calls().len();
    let t = TestStack::with_cloud("dev", cloud.clone());

    let problems = program_problems(t.engine().import(infra("core"), "sub", &ids["sub"]).await);
    assert_eq!(problems.len(), 1, "{problems:?}");
    let text = problems[0].to_string();
    assert!(
        text.contains("sub") && text.contains("depends on \"net\""),
        "{text}"
    );
    assert!(text.contains("not recorded"), "{text}");
    assert_eq!(
        problems[0].location.as_ref().map(|l| l.line),
        Some(SUB_LINE),
        "the declaration's line"
    );
    assert!(t.state().await.resources.is_empty());
    assert_eq!(cloud.calls().len(), calls_before, "nothing was even read");

    // Imported in the same command, both are recorded, and the dependent's
    // reference resolves to the imported object: no changes next.
    let specs = vec![
        ImportSpec::new("sub", &ids["sub"]),
        ImportSpec::new("net", &ids["net"]),
    ];
    t.engine().import_all(infra("core"), &specs).await.unwrap();
    let state = t.state().await;
    assert_eq!(state.resources.len(), 2);
    assert_eq!(state.resources["sub"].dependencies, vec!["net".to_string()]);
    let plan = t.preview(infra("core")).await.unwrap();
    assert_eq!(plan.change("net").unwrap().action, Action::NoOp);
    assert_eq!(plan.change("sub").unwrap().action, Action::NoOp);
    assert_eq!(plan.change("web").unwrap().action, Action::Create);
}

#[tokio::test]
async fn a_bad_id_or_name_is_a_clear_error_and_nothing_is_recorded() {
    let cloud = FakeCloud::new();
    let ids = made_elsewhere(&cloud).await;
    let t = TestStack::with_cloud("dev", cloud.clone());
    let specs = vec![
        ImportSpec::new("net", &ids["net"]),
        ImportSpec::new("sub", "net-nope"),
    ];
    let problems = program_problems(t.engine().import_all(infra("core"), &specs).await);
    assert_eq!(problems.len(), 1, "{problems:?}");
    let text = problems[0].to_string();
    assert!(
        text.contains("sub") && text.contains("net-nope") && text.contains("to import"),
        "{text}"
    );
    assert!(
        t.state().await.resources.is_empty(),
        "nothing of any of them is recorded"
    );

    let problems = program_problems(t.engine().import(infra("core"), "nope", "id-1").await);
    assert!(
        problems[0].to_string().contains("no resource \"nope\""),
        "{problems:?}"
    );

    let twice = vec![
        ImportSpec::new("net", &ids["net"]),
        ImportSpec::new("net", &ids["net"]),
    ];
    let problems = program_problems(t.engine().import_all(infra("core"), &twice).await);
    assert!(
        problems[0].to_string().contains("named twice"),
        "{problems:?}"
    );

    let mut elsewhere = ImportSpec::new("net", &ids["net"]);
    elsewhere.provider = Some("eu".into());
    let problems = program_problems(t.engine().import_all(infra("core"), &[elsewhere]).await);
    assert!(
        problems[0].to_string().contains("provider instance \"eu\""),
        "{problems:?}"
    );
    assert!(t.state().await.resources.is_empty());
    assert_eq!(
        count(&cloud, FakeOp::Create),
        3,
        "only the legacy stack's creates"
    );
}

#[tokio::test]
async fn a_difference_is_recorded_as_read_and_shown_as_what_the_next_up_changes() {
    let cloud = FakeCloud::new();
    let ids = made_elsewhere(&cloud).await;
    let t = TestStack::with_cloud("dev", cloud.clone());

    let preview = t
        .engine()
        .preview_import(infra("platform"), &[ImportSpec::new("net", &ids["net"])])
        .await
        .unwrap();
    assert!(!preview.matches_program());
    let next = preview.next_up.change("net").unwrap();
    assert_eq!(next.action, Action::Update);
    assert_eq!(next.fields, vec!["tags".to_string()]);
    assert_eq!(preview.imports[0].fields, vec!["tags".to_string()]);
    let text = preview.render();
    assert!(text.contains("the next `up` would change"), "{text}");
    assert!(text.contains("~ net"), "{text}");

    t.engine().import_previewed(&preview).await.unwrap();
    assert_eq!(
        count(&cloud, FakeOp::Update),
        0,
        "an import updates nothing"
    );
    let recorded = &t.state().await.resources["net"];
    assert_eq!(
        recorded.inputs.get("tags").and_then(|t| t.get("team")),
        Some(&dafnck_core::Value::from("core")),
        "recorded as it is"
    );
    let plan = t.preview(infra("platform")).await.unwrap();
    assert_eq!(plan.change("net").unwrap().action, Action::Update);
}

#[tokio::test]
async fn an_object_recorded_already_is_refused() {
    let cloud = FakeCloud::new();
    let ids = made_elsewhere(&cloud).await;
    let t = TestStack::with_cloud("dev", cloud.clone());
    t.engine()
        .import(infra("core"), "net", &ids["net"])
        .await
        .unwrap();
    let problems = program_problems(t.engine().import(infra("core"), "net", &ids["net"]).await);
    assert!(
        problems[0].to_string().contains("already recorded"),
        "{problems:?}"
    );
}

#[tokio::test]
async fn a_bulk_import_reads_batched_types_in_batches_in_one_operation() {
    const N: usize = 30;
    let cloud = FakeCloud::new();
    let program = |stack: &mut Stack| {
        for i in 0..N {
            stack.add(&format!("n{i}"), node(&format!("v{i}"), "k", vec![]));
        }
        Ok(())
    };
    let legacy = TestStack::with_cloud("legacy", cloud.clone());
    legacy.up(program).await.unwrap();
    let file = ImportFile {
        resources: legacy
            .state()
            .await
            .resources
            .values()
            .map(|r| ImportSpec::new(&r.name, &r.id))
            .collect(),
    };
    let file = ImportFile::parse(&file.to_json(), "imports.json").unwrap();
    cloud.read_in_batches(Node::TYPE);
    let reads_before = count(&cloud, FakeOp::Read);
    let t = TestStack::with_cloud("dev", cloud.clone());

    let report = t
        .engine()
        .import_all(program, &file.resources)
        .await
        .unwrap();

    assert_eq!(report.imported.len(), N);
    assert_eq!(
        cloud.read_batches(),
        vec![N],
        "one read_many for the {N} nodes"
    );
    assert_eq!(count(&cloud, FakeOp::Read) - reads_before, N);
    assert_eq!(count(&cloud, FakeOp::Create), N, "only the legacy stack's");
    assert_eq!(t.state().await.resources.len(), N);
    assert!(!t.preview(program).await.unwrap().has_changes());
    let versions = t.engine().history().await.unwrap();
    assert_eq!(versions.last().unwrap().operation, "import");
    assert_eq!(versions.len(), 1, "one operation");
}

#[tokio::test]
async fn secrets_read_back_as_plain_values_are_recorded_sealed() {
    let program = |stack: &mut Stack| {
        let net = stack.add("net", tagged("core"));
        let sub = stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
        let mut web = instance(sub.out().subnet_id, "small");
        web.admin_password = Some(dafnck_core::Secret::new("pw".to_string()));
        stack.add("web", web);
        Ok(())
    };
    let cloud = FakeCloud::new();
    let legacy = TestStack::with_cloud("legacy", cloud.clone());
    legacy.up(program).await.unwrap();
    let specs: Vec<ImportSpec> = legacy
        .state()
        .await
        .resources
        .values()
        .map(|r| ImportSpec::new(&r.name, &r.id))
        .collect();
    let t = TestStack::with_cloud("dev", cloud.clone());
    let preview = t.engine().preview_import(program, &specs).await.unwrap();
    assert!(preview.matches_program(), "{}", preview.render());
    assert!(!preview.render().contains("pw"), "{}", preview.render());
    t.engine().import_previewed(&preview).await.unwrap();
    assert!(t.state().await.resources["web"].inputs.contains_secret());
    assert!(!t.preview(program).await.unwrap().has_changes());
}
