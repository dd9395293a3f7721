use crate::plan::Action;
use crate::testing::resources::Node;
use crate::testing::TestStack;
use crate::{Handle, Stack, Value};

/// More dependencies than a resource usually has (references were once
/// found by scanning up to 16, then through a map).
const MANY: usize = 20;

/// `sink` refers to many resources.
fn fan_in(changed: Option<usize>) -> impl Fn(&mut Stack) -> crate::Result<()> {
    move |stack| {
        let sources: Vec<Handle<Node>> = (0..MANY)
            .map(|i| {
                let value = if changed == Some(i) { "v2" } else { "v1" };
                stack.add(
                    &format!("s{i}"),
                    Node {
                        value: value.into(),
                        ..Node::default()
                    },
                )
            })
            .collect();
        stack.add(
            "sink",
            Node {
                refs: sources.iter().map(|h| h.out().node_id).collect(),
                ..Node::default()
            },
        );
        Ok(())
    }
}

#[tokio::test]
async fn references_of_a_resource_with_many_dependencies_resolve() {
    let t = TestStack::new("dev");
    let plan = t.preview(fan_in(None)).await.unwrap();
    let refs = plan
        .change("sink")
        .unwrap()
        .after
        .as_ref()
        .unwrap()
        .get("refs");
    assert_eq!(refs, Some(&Value::List(vec![Value::Unknown; MANY])));
    t.up(fan_in(None)).await.unwrap();
    // Every reference resolves to the recorded id: nothing changes.
    assert!(!t.preview(fan_in(None)).await.unwrap().has_changes());
    // One source updated in place: the sink is re-checked, not updated.
    let plan = t.preview(fan_in(Some(7))).await.unwrap();
    assert_eq!(plan.action("s7"), Some(Action::Update));
    let sink = plan.change("sink").unwrap();
    assert_eq!((sink.action, sink.recheck), (Action::NoOp, true));
}

#[tokio::test]
async fn changes_of_plain_resources_of_one_type_share_their_flags() {
    let t = TestStack::new("dev");
    let plan = t
        .preview(|stack: &mut Stack| {
            stack.add("a", Node::default());
            stack.add("b", Node::default());
            stack.add_with("c", Node::default(), crate::Options::new().protect());
            Ok(())
        })
        .await
        .unwrap();
    let flags = |n: &str| std::sync::Arc::clone(&plan.change(n).unwrap().flags);
    assert!(std::sync::Arc::ptr_eq(&flags("a"), &flags("b")));
    assert!(!flags("a").protect && flags("c").protect);
    assert_eq!(flags("a").force_new, flags("c").force_new);
}
