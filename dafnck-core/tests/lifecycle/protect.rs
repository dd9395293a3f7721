//! Protected resources: a plan that would delete or replace one is refused
//! with an error naming it and where it was declared, and nothing changes —
//! in the cloud or in the state. Destroy is refused the same way.

use dafnck_core::testing::TestStack;
use dafnck_core::{Error, Options, Stack};

use crate::common::{network, node};

const DB_LINE: u32 = line!() + 4;

fn infra(cidr: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        stack.add_with("db", network(cidr), Options::new().protect());
        stack.add("cache", node("c", "k", vec![]));
        Ok(())
    }
}

/// `file:line:` of the protected declaration.
fn db_site() -> String {
    format!("{}:{DB_LINE}:", file!())
}

fn refused(
    result: dafnck_core::Result<impl std::fmt::Debug>,
) -> (String, Vec<dafnck_core::Diagnostic>) {
    match result {
        Err(e @ Error::PlanRefused(_)) => {
            let text = e.to_string();
            let Error::PlanRefused(d) = e else {
                unreachable!()
            };
            (text, d)
        }
        other => panic!("expected Error::PlanRefused, got {other:?}"),
    }
}

async fn deployed() -> TestStack {
    let t = TestStack::new("dev");
    t.up(infra("10.0.0.0/16")).await.unwrap();
    t
}

fn calls(t: &TestStack) -> usize {
    t.cloud().calls().len()
}

#[tokio::test]
async fn replacing_a_protected_resource_is_refused_naming_it_and_its_declaration() {
    let t = deployed().await;
    let (state, objects, n) = (t.state().await, t.cloud().objects(), calls(&t));

    let (text, problems) = refused(t.preview(infra("10.9.0.0/16")).await);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].resource.as_deref(), Some("db"));
    assert_eq!(problems[0].location.as_ref().map(|l| l.line), Some(DB_LINE));
    assert!(
        text.contains(&db_site()) && text.contains("\"db\""),
        "{text}"
    );
    assert!(text.contains("replace") && text.contains("cidr"), "{text}");

    let (text, _) = refused(t.up(infra("10.9.0.0/16")).await);
    assert!(text.contains(&db_site()), "{text}");
    assert_eq!(t.state().await, state, "the state is untouched");
    assert_eq!(t.cloud().objects(), objects);
    assert_eq!(calls(&t), n, "no provider call was made");
}

#[tokio::test]
async fn deleting_a_protected_resource_removed_from_the_program_is_refused() {
    let t = deployed().await;
    let (state, n) = (t.state().await, calls(&t));
    let program = |stack: &mut Stack| {
        stack.add("cache", node("c", "k", vec![]));
        Ok(())
    };
    let (text, problems) = refused(t.up(program).await);
    assert_eq!(problems[0].resource.as_deref(), Some("db"));
    assert!(
        text.contains(&db_site()) && text.contains("delete"),
        "{text}"
    );
    assert_eq!(t.state().await, state);
    assert_eq!(calls(&t), n);
    assert_eq!(t.cloud().objects().len(), 2);
}

#[tokio::test]
async fn destroy_is_refused_while_a_resource_is_protected() {
    let t = deployed().await;
    let (state, n) = (t.state().await, calls(&t));
    let (text, problems) = refused(t.destroy().await);
    assert_eq!(
        problems.len(),
        1,
        "only the protected resource is named: {text}"
    );
    assert!(
        text.contains(&db_site()) && text.contains("\"db\""),
        "{text}"
    );
    assert_eq!(t.state().await, state);
    assert_eq!(calls(&t), n);
    assert_eq!(
        t.cloud().objects().len(),
        2,
        "not even the unprotected one is deleted"
    );
}

#[tokio::test]
async fn updating_a_protected_resource_in_place_is_allowed() {
    let t = deployed().await;
    t.up(|stack: &mut Stack| {
        let mut net = network("10.0.0.0/16");
        net.tags.insert("team".into(), "core".into());
        stack.add_with("db", net, Options::new().protect());
        stack.add("cache", node("c", "k", vec![]));
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(
        t.cloud()
            .calls_of(dafnck_core::testing::FakeOp::Update)
            .len(),
        1
    );
}

#[tokio::test]
async fn once_protection_is_lifted_the_resource_can_be_destroyed() {
    let t = deployed().await;
    t.up(|stack: &mut Stack| {
        stack.add("db", network("10.0.0.0/16"));
        stack.add("cache", node("c", "k", vec![]));
        Ok(())
    })
    .await
    .unwrap();
    assert!(!t.state().await.resources["db"].protect);
    t.destroy().await.unwrap();
    assert!(t.cloud().objects().is_empty());
}

#[tokio::test]
async fn protection_added_to_a_deployed_resource_is_recorded_without_a_provider_call() {
    let t = TestStack::new("dev");
    let unprotected = |stack: &mut Stack| {
        stack.add("db", network("10.0.0.0/16"));
        Ok(())
    };
    t.up(unprotected).await.unwrap();
    let n = calls(&t);
    let protected = |stack: &mut Stack| {
        stack.add_with("db", network("10.0.0.0/16"), Options::new().protect());
        Ok(())
    };
    t.up(protected).await.unwrap();
    assert_eq!(calls(&t), n);
    assert!(t.state().await.resources["db"].protect);
    refused(t.destroy().await);
    refused(t.up(|_: &mut Stack| Ok(())).await);
    assert_eq!(t.cloud().objects().len(), 1);
}
