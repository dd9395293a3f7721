//! Program errors: inconsistent declarations are refused before anything
//! runs, with every problem listed (not just the first), each pointing at
//! its declaration; nothing is written and no provider is called.

use dafnck_core::resource::Resource;
use dafnck_core::state::{StateStore, Stored};
use dafnck_core::testing::resources::Node;
use dafnck_core::testing::TestStack;
use dafnck_core::{Diagnostic, Options, ResourceRef, Stack};

use crate::common::{network, node, program_problems};

/// Lines of the declarations the program made, by resource name.
type Lines = Vec<(&'static str, u32)>;

fn line_of(lines: &Lines, name: &str) -> u32 {
    lines
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, l)| *l)
        .unwrap()
}

fn broken(stack: &mut Stack, lines: &mut Lines) -> dafnck_core::Result<()> {
    let here = stack.name().to_owned();
    let later = |name: &str| ResourceRef::new(&here, name, Node::TYPE).output::<String>("node_id");

    lines.push(("dup-first", line!() + 1));
    stack.add("dup", node("1", "k", vec![]));
    lines.push(("dup", line!() + 1));
    stack.add("dup", node("2", "k", vec![]));

    // Two cycles: loop-a ⇄ loop-b, and cyc-c → cyc-d → cyc-e → cyc-c.
    lines.push(("loop-a", line!() + 1));
    let a = stack.add("loop-a", node("a", "k", vec![later("loop-b")]));
    stack.add("loop-b", node("b", "k", vec![a.out().node_id]));
    let c = stack.add("cyc-c", node("c", "k", vec![later("cyc-e")]));
    let d = stack.add("cyc-d", node("d", "k", vec![c.out().node_id]));
    stack.add("cyc-e", node("e", "k", vec![d.out().node_id]));

    lines.push(("orphan", line!() + 1));
    stack.add_with(
        "orphan",
        node("o", "k", vec![]),
        Options::new().depends_on(ResourceRef::new(&here, "ghost", Node::TYPE)),
    );

    let mut prod = Stack::new("prod");
    let db = prod.add("db", node("db", "k", vec![]));
    lines.push(("app", line!() + 1));
    stack.add("app", node("app", "k", vec![db.out().node_id.clone()]));
    lines.push(("export", line!() + 1));
    stack.export("db_id", db.out().node_id);

    lines.push(("net", line!() + 1));
    stack.add_with(
        "net",
        network("10.0.0.0/16"),
        Options::new().ignore_changes(["colour"]),
    );
    Ok(())
}

fn about<'a>(problems: &'a [Diagnostic], resource: &str) -> &'a Diagnostic {
    problems
        .iter()
        .find(|d| d.resource.as_deref() == Some(resource))
        .unwrap_or_else(|| panic!("no problem about {resource:?} in {problems:#?}"))
}

async fn all_problems() -> (TestStack, Vec<Diagnostic>, Lines) {
    let t = TestStack::new("dev");
    let mut lines = Vec::new();
    let problems = program_problems(t.preview(|s| broken(s, &mut lines)).await);
    (t, problems, lines)
}

#[tokio::test]
async fn every_problem_is_listed_with_its_declaration_site() {
    let (_, problems, _) = all_problems().await;
    assert_eq!(problems.len(), 7, "{problems:#?}");
    for p in &problems {
        let loc = p
            .location
            .as_ref()
            .unwrap_or_else(|| panic!("no location: {p}"));
        assert_eq!(loc.file, file!(), "{p}");
    }
}

#[tokio::test]
async fn a_duplicate_name_points_at_both_declarations() {
    let (_, problems, lines) = all_problems().await;
    let p = about(&problems, "dup");
    assert_eq!(p.location.as_ref().unwrap().line, line_of(&lines, "dup"));
    let first = format!("{}:{}:", file!(), line_of(&lines, "dup-first"));
    assert!(
        p.message.contains("duplicate") && p.message.contains(&first),
        "{p}"
    );
}

#[tokio::test]
async fn each_dependency_cycle_names_every_member() {
    let (_, problems, lines) = all_problems().await;
    let cycles: Vec<&Diagnostic> = problems
        .iter()
        .filter(|d| d.message.contains("dependency cycle"))
        .collect();
    assert_eq!(cycles.len(), 2, "{problems:#?}");
    let two = cycles
        .iter()
        .find(|d| d.message.contains("loop-a"))
        .unwrap();
    assert!(two.message.contains("loop-b"), "{two}");
    let site = format!("loop-a ({}:{}:", file!(), line_of(&lines, "loop-a"));
    assert!(two.message.contains(&site), "{two}");
    let three = cycles.iter().find(|d| d.message.contains("cyc-c")).unwrap();
    for member in ["cyc-c", "cyc-d", "cyc-e"] {
        assert!(three.message.contains(member), "{member} missing: {three}");
    }
    assert!(!three.message.contains("loop-"), "{three}");
}

#[tokio::test]
async fn a_depends_on_to_an_undeclared_resource_is_named() {
    let (_, problems, lines) = all_problems().await;
    let p = about(&problems, "orphan");
    assert!(
        p.message.contains("\"ghost\"") && p.message.contains("not declared"),
        "{p}"
    );
    assert_eq!(p.location.as_ref().unwrap().line, line_of(&lines, "orphan"));
}

#[tokio::test]
async fn a_reference_to_another_stacks_resource_is_refused() {
    let (_, problems, lines) = all_problems().await;
    let p = about(&problems, "app");
    assert!(
        p.message.contains("db") && p.message.contains("\"prod\""),
        "{p}"
    );
    assert_eq!(p.location.as_ref().unwrap().line, line_of(&lines, "app"));
}

#[tokio::test]
async fn an_export_of_another_stacks_output_is_refused() {
    let (_, problems, lines) = all_problems().await;
    let p = problems
        .iter()
        .find(|d| d.message.contains("export \"db_id\""))
        .unwrap_or_else(|| panic!("{problems:#?}"));
    assert!(p.message.contains("\"prod\""), "{p}");
    assert_eq!(p.location.as_ref().unwrap().line, line_of(&lines, "export"));
}

#[tokio::test]
async fn an_option_naming_a_field_the_type_lacks_is_refused() {
    let (_, problems, lines) = all_problems().await;
    let p = about(&problems, "net");
    assert!(
        p.message.contains("\"colour\"") && p.message.contains("fake:net:Network"),
        "{p}"
    );
    assert_eq!(p.location.as_ref().unwrap().line, line_of(&lines, "net"));
}

#[tokio::test]
async fn the_error_text_lists_every_problem() {
    let t = TestStack::new("dev");
    let mut lines = Vec::new();
    let err = t.up(|s| broken(s, &mut lines)).await.unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("the program has 7 problem(s):"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("  - ")).count(),
        7,
        "{text}"
    );
}

#[tokio::test]
async fn nothing_is_written_and_no_provider_is_called() {
    let (t, _, _) = all_problems().await;
    let mut lines = Vec::new();
    program_problems(t.up(|s| broken(s, &mut lines)).await);
    assert_eq!(t.store().read("dev").await.unwrap(), Stored::default());
    assert!(t.cloud().calls().is_empty());
    assert!(dafnck_core::state::StateLock::lock_info(t.store(), "dev")
        .await
        .unwrap()
        .is_none());

    // Also on a stack that already has state.
    t.up(|s: &mut Stack| {
        s.add("n", node("x", "k", vec![]));
        Ok(())
    })
    .await
    .unwrap();
    let stored = t.store().read("dev").await.unwrap();
    let calls = t.cloud().calls().len();
    let mut lines = Vec::new();
    program_problems(t.up(|s| broken(s, &mut lines)).await);
    assert_eq!(t.store().read("dev").await.unwrap(), stored);
    assert_eq!(t.cloud().calls().len(), calls);
}
