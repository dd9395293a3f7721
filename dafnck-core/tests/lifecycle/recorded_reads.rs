//! Data-source reads recorded in the state: an `up` whose steps all
//! succeed records each read (type, query, answer, since when); a preview
//! shows an answer that changed since, with the resources it changes, and
//! writes nothing; `drift` asks the recorded queries again; a read the
//! program no longer declares is dropped; a failed or targeted `up` and a
//! preview leave the recorded reads alone; `destroy` empties them; an
//! accepted `refresh` records a changed answer as `up` does; the
//! history's summary counts read changes. `TestStack::data` answers
//! are recorded like a provider's.

use std::collections::BTreeMap;

use dafnck_core::state::reads::read_changes;
use dafnck_core::state::StateHistory;
use dafnck_core::testing::resources::{Network, NetworkLookup};
use dafnck_core::testing::{FakeCloud, FakeOp, Fault, TestStack};
use dafnck_core::{Action, ProviderError, Stack, Value};

use crate::common::{shared_networks, subnet, tags};

/// Reads the shared network; `sub` takes its id, `solo` takes nothing
/// from the read (its tag is `env`).
fn app(env: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let net = stack.read(
            "net",
            NetworkLookup {
                tags: tags("shared"),
            },
        );
        stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
        stack.add(
            "solo",
            Network {
                cidr: "10.9.0.0/16".into(),
                tags: [("env".to_string(), env.to_string())].into(),
            },
        );
        stack.export("arn", net.out().arn);
        Ok(())
    }
}

/// Moves the `role=shared` tag from `shared-net` to `other-net`, behind
/// the app's back: the app's lookup now finds the other network.
fn move_shared_tag(cloud: &FakeCloud) {
    let (old, new) = (
        cloud.object_named("shared-net"),
        cloud.object_named("other-net"),
    );
    for (id, role) in [(old.id, "old"), (new.id, "shared")] {
        cloud.mutate(&id, |o| {
            if let Value::Map(inputs) = &mut o.inputs {
                inputs.insert("tags".into(), Value::from_serialize(&tags(role)).unwrap());
            }
        });
    }
}

#[tokio::test]
async fn an_up_records_each_read_and_a_preview_shows_a_changed_answer_with_what_it_changes() {
    let cloud = FakeCloud::new();
    shared_networks(&cloud).await;
    let (shared, other) = (
        cloud.object_named("shared-net"),
        cloud.object_named("other-net"),
    );
    let t = TestStack::with_cloud("app", cloud.clone());

    // The first preview reads but records nothing.
    let plan = t.preview(app("a")).await.unwrap();
    assert!(plan.reads[0].to_record && plan.reads[0].changed.is_empty());
    assert!(t.state().await.reads.is_empty());

    t.up(app("a")).await.unwrap();
    let state = t.state().await;
    let read = &state.reads["net"];
    assert_eq!(read.type_name, "fake:net:NetworkLookup");
    assert_eq!(
        read.query,
        Value::from_serialize(&serde_json::json!({"tags": {"role": "shared"}})).unwrap()
    );
    assert_eq!(read.answer, shared.outputs);
    assert!(read.at > 0);
    let first_at = read.at;

    // Read again with the same answer: nothing to record, no work.
    let plan = t.preview(app("a")).await.unwrap();
    assert!(
        !plan.has_changes() && !plan.records_reads(),
        "{}",
        plan.render()
    );
    t.up(app("a")).await.unwrap();
    assert_eq!(
        t.state().await.reads["net"].at,
        first_at,
        "the answer's time is kept"
    );

    // The answer changes: the preview says how, and what it changes.
    move_shared_tag(&cloud);
    let serial = t.state().await.serial;
    let plan = t.preview(app("b")).await.unwrap();
    assert_eq!(plan.action("sub"), Some(Action::Replace));
    assert_eq!(plan.action("solo"), Some(Action::Update));
    let net = &plan.reads[0];
    let fields: Vec<&str> = net.changed.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["arn", "id", "network_id", "tags"]);
    assert_eq!(net.affects, ["sub"], "solo takes nothing from the read");
    let text = plan.render();
    for line in [
        " <= read data source \"net\" (fake:net:NetworkLookup): answer changed\n",
        &format!(
            "        network_id: \"{}\" -> \"{}\"\n",
            shared.id, other.id
        ),
        "        affects: sub\n",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    // A preview writes nothing.
    let state = t.state().await;
    assert_eq!(
        (state.serial, &state.reads["net"].answer),
        (serial, &shared.outputs)
    );

    // `drift` asks the recorded query again and reports the new answer.
    let drift = t.engine().drift().await.unwrap();
    assert!(drift.drifted.is_empty() && drift.has_drift());
    assert_eq!(drift.reads[0].name, "net");
    assert!(
        drift.render().contains(
            "~ data source \"net\" (fake:net:NetworkLookup): answers differently than recorded"
        ),
        "{}",
        drift.render()
    );

    t.up(app("b")).await.unwrap();
    let state = t.state().await;
    assert_eq!(state.reads["net"].answer, other.outputs);
    assert!(state.reads["net"].at >= first_at);
    assert!(!t.engine().drift().await.unwrap().has_drift());
    let plan = t.preview(app("b")).await.unwrap();
    assert!(plan.reads[0].changed.is_empty() && !plan.has_changes());
}

#[tokio::test]
async fn a_failed_or_targeted_up_keeps_the_recorded_answer_so_the_change_still_shows() {
    let cloud = FakeCloud::new();
    shared_networks(&cloud).await;
    let shared = cloud.object_named("shared-net");
    let t = TestStack::with_cloud("app", cloud.clone());
    t.up(app("a")).await.unwrap();
    move_shared_tag(&cloud);

    // Only `solo` is applied: the read stays as recorded.
    t.engine()
        .clone()
        .targets(vec!["solo".into()])
        .up(app("b"), false)
        .await
        .unwrap();
    assert_eq!(t.state().await.reads["net"].answer, shared.outputs);

    // The replacement of `sub` fails: the read stays as recorded.
    cloud.inject(
        Some(FakeOp::Create),
        Some("sub"),
        None,
        Fault::Error(ProviderError::new("quota exceeded")),
    );
    assert!(t.up(app("b")).await.is_err());
    assert_eq!(t.state().await.reads["net"].answer, shared.outputs);
    let plan = t.preview(app("b")).await.unwrap();
    assert_eq!(plan.reads[0].affects, ["sub"]);
}

#[tokio::test]
async fn mocked_answers_are_recorded_a_dropped_read_leaves_the_state_and_the_history_counts_them() {
    let zone = |id: &str| serde_json::json!({"network_id": id, "arn": format!("arn:fake:{id}")});
    let both = |stack: &mut Stack| {
        let net = stack.read("net", NetworkLookup::default());
        let spare = stack.read(
            "spare",
            NetworkLookup {
                tags: tags("spare"),
            },
        );
        stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
        stack.export("spare", spare.out().arn);
        Ok(())
    };
    let one = |stack: &mut Stack| {
        let net = stack.read("net", NetworkLookup::default());
        stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
        Ok(())
    };
    let t = TestStack::new("app")
        .data("net", zone("network-1"))
        .data("spare", zone("network-7"));
    t.up(both).await.unwrap();
    let state = t.state().await;
    assert_eq!(state.reads.keys().collect::<Vec<_>>(), ["net", "spare"]);
    assert_eq!(
        state.reads["net"].answer.get("network_id"),
        Some(&Value::from("network-1"))
    );
    assert!(t.cloud().data_reads().is_empty(), "no provider was asked");

    // `spare` is no longer declared and `net` answers differently.
    let t = t.data("net", zone("network-2"));
    let plan = t.preview(one).await.unwrap();
    assert_eq!(
        plan.dropped_reads,
        BTreeMap::from([("spare".to_owned(), "fake:net:NetworkLookup".to_owned())])
    );
    assert!(
        plan.render().contains(
            " -  data source \"spare\" (fake:net:NetworkLookup) is no longer read: dropped from the state\n"
        ),
        "{}",
        plan.render()
    );
    t.up(one).await.unwrap();
    let after = t.state().await;
    assert_eq!(after.reads.keys().collect::<Vec<_>>(), ["net"]);
    assert_eq!(
        read_changes(&state.reads, &after.reads),
        [
            "~ data source net (fake:net:NetworkLookup)",
            "    arn: \"arn:fake:network-1\" -> \"arn:fake:network-2\"",
            "    network_id: \"network-1\" -> \"network-2\"",
            "- data source spare (fake:net:NetworkLookup)",
        ]
    );

    // Each version's summary counts the read changes; its state keeps them.
    let versions = t.store().versions("app").await.unwrap();
    let summaries: Vec<&str> = versions.iter().map(|v| v.summary.as_str()).collect();
    assert_eq!(
        summaries,
        [
            "create 1, update 0, replace 0, delete 0; data sources: 2 new",
            "create 0, update 0, replace 1, delete 0; data sources: 1 changed, 1 dropped",
        ]
    );
    let first = t.store().read_version("app", 1).await.unwrap().unwrap();
    assert_eq!(first.reads.len(), 2);

    // A read alone, its answer changed, is still recorded by `up`.
    let t = t.data("net", zone("network-2"));
    let only_read = |stack: &mut Stack| {
        let net = stack.read("net", NetworkLookup::default());
        stack.export("net", net.out().network_id);
        Ok(())
    };
    t.up(only_read).await.unwrap();
    let t = t.data("net", zone("network-3"));
    let plan = t.preview(only_read).await.unwrap();
    assert!(!plan.has_changes() && plan.records_reads());
    assert!(
        plan.render().contains("Reads: 1 to record, 0 to drop"),
        "{}",
        plan.render()
    );
    t.up(only_read).await.unwrap();
    assert_eq!(
        t.state().await.reads["net"].answer.get("network_id"),
        Some(&Value::from("network-3"))
    );

    // `destroy` leaves nothing recorded, reads included.
    t.destroy().await.unwrap();
    assert!(t.state().await.reads.is_empty());
}

#[tokio::test]
async fn a_refresh_records_a_changed_answer_and_the_next_preview_compares_with_it() {
    let cloud = FakeCloud::new();
    shared_networks(&cloud).await;
    let (shared, other) = (
        cloud.object_named("shared-net"),
        cloud.object_named("other-net"),
    );
    let t = TestStack::with_cloud("app", cloud.clone());
    t.up(app("a")).await.unwrap();
    let first_at = t.state().await.reads["net"].at;

    // Nothing changed: a refresh records the same answer, since the same
    // time.
    let report = t.engine().refresh().await.unwrap();
    assert!(report.reads.is_empty() && report.reads_checked == 1);
    assert_eq!(t.state().await.reads["net"].at, first_at);

    // The answer changes behind the stack's back: the refresh reports it
    // and records it, resources untouched.
    move_shared_tag(&cloud);
    let report = t.engine().refresh().await.unwrap();
    assert_eq!(report.reads.len(), 1, "{report:?}");
    assert_eq!(report.reads[0].name, "net");
    let state = t.state().await;
    assert_eq!(state.reads["net"].answer, other.outputs);
    assert!(state.reads["net"].at >= first_at);
    assert_eq!(
        state.resources["sub"].inputs.get("network_id"),
        Some(&Value::from(shared.id.as_str())),
        "a refresh changes no resource"
    );
    assert!(!t.engine().drift().await.unwrap().has_drift());

    // The next preview compares with the recorded answer: nothing new to
    // say of the read, but the subnet still follows it.
    let plan = t.preview(app("a")).await.unwrap();
    assert!(plan.reads[0].changed.is_empty() && !plan.reads[0].to_record);
    assert_eq!(plan.action("sub"), Some(Action::Replace));

    // The history's refresh versions say what they recorded.
    let versions = t.store().versions("app").await.unwrap();
    let summaries: Vec<&str> = versions.iter().map(|v| v.summary.as_str()).collect();
    assert_eq!(
        summaries[1..],
        ["0 drifted", "0 drifted; data sources: 1 changed"],
        "{summaries:?}"
    );
    let refreshed = t
        .store()
        .read_version("app", versions.last().unwrap().version)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refreshed.reads["net"].answer, other.outputs);
}
