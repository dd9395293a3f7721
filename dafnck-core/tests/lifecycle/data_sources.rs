//! Data sources: a program looks up objects it does not own; the engine
//! reads them at preview and at up, their outputs are usable as typed
//! inputs, the plan lists the reads, and nothing read is recorded or
//! deleted. A lookup that finds nothing, or whose query is not known when
//! planning, is an error naming the program line; `TestStack::data`
//! answers without a provider.

use dafnck_core::lookup::ReadKind;
use dafnck_core::testing::resources::{Network, NetworkLookup};
use dafnck_core::testing::{FakeCloud, TestStack};
use dafnck_core::{Action, Input, Stack, Value};

use crate::common::{planned, program_problems, shared_networks, subnet, tags};

fn app(stack: &mut Stack) -> dafnck_core::Result<()> {
    let net = stack.read(
        "net",
        NetworkLookup {
            tags: tags("shared"),
        },
    );
    stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
    stack.export("arn", net.out().arn);
    Ok(())
}

#[tokio::test]
async fn a_data_source_is_read_at_preview_and_up_and_never_owned() {
    let cloud = FakeCloud::new();
    shared_networks(&cloud).await;
    let shared = cloud.object_named("shared-net");
    let t = TestStack::with_cloud("app", cloud.clone());

    let plan = t.preview(app).await.unwrap();
    assert_eq!(
        planned(&plan, "sub", "network_id"),
        Value::from(shared.id.as_str())
    );
    assert_eq!(
        plan.changes.len(),
        1,
        "the read is no change: {:?}",
        plan.changes
    );
    assert_eq!(plan.reads.len(), 1);
    assert_eq!(plan.reads[0].kind, ReadKind::Data);
    assert_eq!(
        plan.reads[0].type_name.as_deref(),
        Some("fake:net:NetworkLookup")
    );
    assert!(
        plan.render()
            .contains("<= read data source \"net\" (fake:net:NetworkLookup)"),
        "{}",
        plan.render()
    );
    assert_eq!(cloud.data_reads().len(), 1);

    t.up(app).await.unwrap();
    assert_eq!(cloud.data_reads().len(), 2, "up reads again");
    let state = t.state().await;
    assert_eq!(state.resources.keys().collect::<Vec<_>>(), ["sub"]);
    assert_eq!(
        state.outputs["arn"],
        shared.outputs.get("arn").unwrap().clone()
    );

    // Destroying the stack leaves what it only read.
    t.destroy().await.unwrap();
    assert!(cloud.objects().contains_key(&shared.id));
    assert!(cloud.objects_named("sub").is_empty());
}

#[tokio::test]
async fn a_lookup_that_finds_nothing_is_an_error_naming_its_line() {
    let t = TestStack::new("app");
    let line = line!() + 3;
    let problems = program_problems(
        t.preview(|stack: &mut Stack| {
            let net = stack.read(
                "net",
                NetworkLookup {
                    tags: tags("missing"),
                },
            );
            stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
            Ok(())
        })
        .await,
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].resource.as_deref(), Some("net"));
    assert_eq!(problems[0].location.as_ref().unwrap().line, line);
    assert!(
        problems[0].message.starts_with(
            "data source \"net\" (fake:net:NetworkLookup) could not be read: no fake:net:Network matches"
        ),
        "{}",
        problems[0].message
    );
}

#[tokio::test]
async fn a_query_of_resource_outputs_and_a_duplicate_name_are_errors() {
    let t = TestStack::new("app");
    let line = line!() + 5;
    let problems = program_problems(
        t.preview(|stack: &mut Stack| {
            let made = stack.add("made", Network::default());
            let role: Input<String> = made.out().arn;
            let net = stack.read("net", RoleLookup { role });
            stack.read("net", NetworkLookup::default());
            stack.export("id", net.out().network_id);
            Ok(())
        })
        .await,
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].location.as_ref().unwrap().line, line + 1);
    assert!(problems[0]
        .message
        .starts_with("duplicate data source name \"net\""));

    let problems = program_problems(
        t.preview(|stack: &mut Stack| {
            let made = stack.add("made", Network::default());
            let net = stack.read(
                "net",
                RoleLookup {
                    role: made.out().arn,
                },
            );
            stack.export("id", net.out().network_id);
            Ok(())
        })
        .await,
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        problems[0].message,
        "the query of data source \"net\" (fake:net:NetworkLookup) refers to \"arn\" of resource \"made\", which is not known when planning"
    );
}

/// A query holding an input (the fake cloud's lookups take tags).
#[derive(serde::Serialize)]
struct RoleLookup {
    role: Input<String>,
}

impl dafnck_core::DataSource for RoleLookup {
    const TYPE: &'static str = "fake:net:NetworkLookup";
    type Outputs = dafnck_core::testing::resources::NetworkOutputs;
}

#[tokio::test]
async fn test_stacks_answer_data_sources_without_a_provider() {
    let t = TestStack::new("app").data(
        "net",
        serde_json::json!({"network_id": "network-42", "arn": "arn:fake:network-42"}),
    );
    let plan = t.preview(app).await.unwrap();
    assert_eq!(plan.action("sub"), Some(Action::Create));
    assert_eq!(
        planned(&plan, "sub", "network_id"),
        Value::from("network-42")
    );
    assert!(t.cloud().data_reads().is_empty());

    // An answer of another shape than the data source's outputs is named.
    let t = TestStack::new("app").data("net", serde_json::json!({"network_id": 42}));
    let problems = program_problems(t.preview(app).await);
    assert!(
        problems[0]
            .message
            .starts_with("data source \"net\" (fake:net:NetworkLookup): its answer is a map but the program asks for NetworkOutputs: invalid type: integer `42`"),
        "{}",
        problems[0].message
    );
}
