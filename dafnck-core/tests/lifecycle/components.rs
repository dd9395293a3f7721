//! Components: resources declared in `Stack::component` are named under
//! the instance (`blue/web`), so one component can be used twice; plans
//! and graphs show them as a tree; renaming an instance with its old name
//! as an alias moves every child, nested ones too, without replacing any.

use dafnck_core::component::ComponentOptions;
use dafnck_core::testing::resources::{Network, NetworkId, Node, Subnet};
use dafnck_core::testing::{FakeOp, TestStack};
use dafnck_core::{Action, Handle, Input, Stack};

use crate::common::{calls, network, node, program_problems, subnet};

/// A component's typed result.
struct App {
    subnet: Handle<Subnet>,
    web: Handle<Node>,
}

/// A component with typed arguments: a subnet, a node in it, and a nested
/// `db` component.
fn app(stack: &mut Stack, network_id: Input<NetworkId>, cidr: &str) -> dafnck_core::Result<App> {
    let subnet = stack.add("subnet", subnet(network_id, cidr));
    let db = stack.component("db", |s| Ok(s.add("primary", node("db", "k", vec![]))))?;
    let web = stack.add("web", node("web", "k", vec![db.out().node_id]));
    Ok(App { subnet, web })
}

fn two_apps(
    second: &'static str,
    aliases: &'static [&'static str],
) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let net: Handle<Network> = stack.add("net", network("10.0.0.0/16"));
        let blue = stack.component("blue", |s| app(s, net.out().network_id, "10.0.1.0/24"))?;
        let other = stack.component_with(
            second,
            ComponentOptions::new().aliases(aliases.iter().copied()),
            |s| app(s, net.out().network_id, "10.0.2.0/24"),
        )?;
        // A component's outputs are typed references like any other.
        stack.add(
            "edge",
            node(
                "edge",
                "k",
                vec![blue.web.out().node_id, other.web.out().node_id],
            ),
        );
        assert_eq!(other.subnet.name(), format!("{second}/subnet"));
        Ok(())
    }
}

fn names(plan: &dafnck_core::Plan, action: Action) -> Vec<String> {
    plan.changes
        .iter()
        .filter(|c| c.action == action)
        .map(|c| c.name.to_string())
        .collect()
}

#[tokio::test]
async fn a_component_used_twice_names_its_resources_under_each_instance() {
    let t = TestStack::new("dev");
    let plan = t.preview(two_apps("green", &[])).await.unwrap();
    let mut created = names(&plan, Action::Create);
    created.sort();
    assert_eq!(
        created,
        [
            "blue/db/primary",
            "blue/subnet",
            "blue/web",
            "edge",
            "green/db/primary",
            "green/subnet",
            "green/web",
            "net"
        ]
    );
    let deps: Vec<String> = plan
        .change("blue/web")
        .unwrap()
        .dependencies
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(deps, ["blue/db/primary"]);
    t.up(two_apps("green", &[])).await.unwrap();
    assert_eq!(t.state().await.resources.len(), 8);
}

#[tokio::test]
async fn the_plan_shows_components_as_a_tree() {
    let t = TestStack::new("dev");
    let text = t.preview(two_apps("green", &[])).await.unwrap().render();
    assert!(
        text.contains("blue/\n  + blue/subnet (fake:net:Subnet)\n"),
        "{text}"
    );
    assert!(
        text.contains("  db/\n    + blue/db/primary (fake:graph:Node)\n"),
        "{text}"
    );
    // Fields are indented with their resource.
    assert!(text.contains("\n        value = \"db\"\n"), "{text}");
    // A top-level resource after a component is not indented.
    assert!(text.contains("\n+ edge (fake:graph:Node)\n"), "{text}");
}

#[tokio::test]
async fn the_graph_groups_each_component() {
    let t = TestStack::new("dev");
    let desired = t.engine().desired(two_apps("green", &[])).unwrap();
    let dot = dafnck_core::cli::output::graph(&desired, false);
    assert!(dot.contains("label=\"blue\";"), "{dot}");
    assert!(dot.contains("label=\"blue/db\";"), "{dot}");
    assert!(dot.contains("subgraph \"cluster_"), "{dot}");
    let mermaid = dafnck_core::cli::output::graph(&desired, true);
    assert!(mermaid.contains("[\"green\"]"), "{mermaid}");
    assert_eq!(
        mermaid.matches("subgraph").count(),
        mermaid.matches("    end").count()
    );
}

#[tokio::test]
async fn renaming_an_instance_with_its_old_name_as_alias_moves_its_children() {
    let t = TestStack::new("dev");
    t.up(two_apps("green", &[])).await.unwrap();
    let recorded = t.state().await;
    let ids: Vec<String> = ["green/subnet", "green/web", "green/db/primary"]
        .iter()
        .map(|n| recorded.resources[*n].id.clone())
        .collect();
    let before = t.cloud().calls().len();

    let plan = t.preview(two_apps("teal", &["green"])).await.unwrap();
    assert!(names(&plan, Action::Create).is_empty(), "{}", plan.render());
    assert!(names(&plan, Action::Delete).is_empty(), "{}", plan.render());
    assert!(
        names(&plan, Action::Replace).is_empty(),
        "{}",
        plan.render()
    );
    for (new, old) in [
        ("teal/subnet", "green/subnet"),
        ("teal/web", "green/web"),
        ("teal/db/primary", "green/db/primary"),
    ] {
        assert_eq!(plan.change(new).unwrap().renamed_from.as_deref(), Some(old));
    }
    t.up(two_apps("teal", &["green"])).await.unwrap();
    let run = &t.cloud().calls()[before..];
    assert!(
        run.iter()
            .all(|c| c.op != FakeOp::Create && c.op != FakeOp::Delete),
        "{run:?}"
    );
    let state = t.state().await;
    for (name, id) in ["teal/subnet", "teal/web", "teal/db/primary"]
        .iter()
        .zip(&ids)
    {
        assert_eq!(&state.resources[*name].id, id);
    }
    assert!(!state.resources.contains_key("green/web"));
}

#[tokio::test]
async fn renaming_an_instance_without_an_alias_replaces_its_children() {
    let t = TestStack::new("dev");
    t.up(two_apps("green", &[])).await.unwrap();
    let plan = t.preview(two_apps("teal", &[])).await.unwrap();
    assert_eq!(names(&plan, Action::Create).len(), 3);
    assert_eq!(names(&plan, Action::Delete).len(), 3);
    assert!(calls(t.cloud(), FakeOp::Delete, "green/web").is_empty());
}

#[tokio::test]
async fn two_instances_with_one_name_clash_by_resource_name() {
    let t = TestStack::new("dev");
    let problems = program_problems(t.preview(two_apps("blue", &[])).await);
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("duplicate resource name \"blue/subnet\"")),
        "{messages:?}"
    );
}

#[tokio::test]
async fn a_component_name_with_a_slash_is_a_program_error() {
    let t = TestStack::new("dev");
    let problems = program_problems(
        t.preview(|stack: &mut Stack| {
            stack.component("a/b", |s| Ok(s.add("n", node("v", "k", vec![]))))?;
            Ok(())
        })
        .await,
    );
    assert_eq!(
        problems[0].message,
        "invalid component name \"a/b\" (it may not be empty or hold '/')"
    );
    assert!(problems[0]
        .location
        .as_ref()
        .unwrap()
        .file
        .ends_with("components.rs"));
}
