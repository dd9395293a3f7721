//! Policy enforcement in the engine: mandatory violations refuse `up`
//! before any change, advisory ones are shown, suppressions hold until
//! they expire, and values known only at apply are checked before the
//! provider call.

use std::collections::BTreeMap;

use dafnck_core::policy::{
    generic_pack, Enforcement, Pack, Policies, Rule, RuleInfo, Severity, Suppression,
};
use dafnck_core::testing::resources::{Network, Node};
use dafnck_core::testing::TestStack;
use dafnck_core::{Error, Options, Stack};

const WIDE: RuleInfo = RuleInfo {
    id: "TEST-001",
    title: "Networks are no wider than /16",
    severity: Severity::High,
    category: "networking",
    remediation: "Split the range.",
    controls: &[],
};

const NO_ARN: RuleInfo = RuleInfo {
    id: "TEST-002",
    title: "Node values are not ARNs",
    severity: Severity::Critical,
    category: "test",
    remediation: "Pass an id.",
    controls: &[],
};

fn pack() -> Pack {
    Pack::new("test", "test rules")
        .rule(Rule::resource(WIDE, |n: &Network, out| {
            if n.cidr.as_value().is_some_and(|c| c.ends_with("/8")) {
                out.flag("cidr", "is a /8");
            }
        }))
        .rule(Rule::resource(NO_ARN, |n: &Node, out| {
            if n.value.as_value().is_some_and(|v| v.starts_with("arn:")) {
                out.flag("value", "is an ARN");
            }
        }))
}

fn stack(policies: Policies) -> TestStack {
    TestStack::new("dev").policies(policies)
}

#[tokio::test]
async fn up_with_a_mandatory_violation_changes_nothing_and_names_every_violation() {
    let s = stack(Policies::new().pack(pack()).mandatory());
    let mut lines = Vec::new();
    let err = s
        .up(|st: &mut Stack| {
            lines.push(line!() + 1);
            st.add(
                "a",
                Network {
                    cidr: "10.0.0.0/8".into(),
                    ..Default::default()
                },
            );
            lines.push(line!() + 1);
            st.add(
                "b",
                Network {
                    cidr: "11.0.0.0/8".into(),
                    ..Default::default()
                },
            );
            st.add(
                "ok",
                Network {
                    cidr: "12.0.0.0/16".into(),
                    ..Default::default()
                },
            );
            Ok(())
        })
        .await
        .expect_err("refused");
    let Error::PolicyViolations(found) = &err else {
        panic!("expected a policy refusal, got {err}");
    };
    let named: Vec<(&str, u32)> = found
        .iter()
        .map(|d| {
            (
                d.resource.as_deref().unwrap(),
                d.location.as_ref().unwrap().line,
            )
        })
        .collect();
    assert_eq!(named, vec![("a", lines[0]), ("b", lines[1])]);
    assert!(err.to_string().contains("TEST-001"), "{err}");
    assert!(s.cloud().objects().is_empty(), "nothing created");
    let state = s.state().await;
    assert_eq!(state.serial, 0, "state untouched");
    assert!(state.resources.is_empty());
}

#[tokio::test]
async fn advisory_violations_are_shown_and_up_goes_on() {
    let s = stack(Policies::new().pack(pack()));
    let program = |st: &mut Stack| {
        st.add(
            "a",
            Network {
                cidr: "10.0.0.0/8".into(),
                ..Default::default()
            },
        );
        Ok(())
    };
    let preview = s.engine().preview(program, false).await.unwrap();
    let report = preview.policy.expect("checked");
    assert_eq!(report.violations.len(), 1);
    assert_eq!(report.violations[0].rule, "TEST-001");
    assert_eq!(report.violations[0].field, "cidr");
    assert!(!report.is_blocking());
    assert!(report.render().contains("advisory"));
    s.up(program).await.expect("advisory does not refuse");
    assert_eq!(s.cloud().objects().len(), 1);
}

#[tokio::test]
async fn a_suppression_holds_until_it_expires() {
    let s = stack(Policies::new().pack(pack()).mandatory());
    let held = |st: &mut Stack| {
        st.add_with(
            "a",
            Network {
                cidr: "10.0.0.0/8".into(),
                ..Default::default()
            },
            Options::new()
                .suppress(Suppression::new("TEST-001", "legacy range").until("2999-12-31")),
        );
        Ok(())
    };
    s.up(held).await.expect("suppressed");
    let expired = |st: &mut Stack| {
        st.add_with(
            "a",
            Network {
                cidr: "10.0.0.0/8".into(),
                ..Default::default()
            },
            Options::new()
                .suppress(Suppression::new("TEST-001", "legacy range").until("2020-01-01")),
        );
        Ok(())
    };
    let preview = s.engine().preview(expired, false).await.unwrap();
    let v = &preview.policy.unwrap().violations[0];
    assert!(v.suppressed.as_ref().unwrap().expired);
    assert!(v.blocks());
    assert!(matches!(
        s.up(expired).await,
        Err(Error::PolicyViolations(_))
    ));
}

/// A network, and a node whose value is the network's ARN (known only
/// once the network is created), declared with `options`.
fn net_and_node(st: &mut Stack, options: Options) -> dafnck_core::Result<()> {
    let net = st.add(
        "net",
        Network {
            cidr: "10.0.0.0/16".into(),
            ..Default::default()
        },
    );
    st.add_with(
        "node",
        Node {
            value: net.out().arn,
            ..Default::default()
        },
        options,
    );
    Ok(())
}

#[tokio::test]
async fn a_value_known_only_at_apply_is_checked_before_the_provider_call() {
    let s = stack(Policies::new().pack(pack()).mandatory());
    let program = |st: &mut Stack| net_and_node(st, Options::new());
    let preview = s.engine().preview(program, false).await.unwrap();
    let report = preview.policy.unwrap();
    assert!(report.violations.is_empty(), "unknown at plan time");
    assert_eq!(report.at_apply, vec!["node".to_owned()]);
    let err = s.up(program).await.expect_err("refused at apply");
    let text = err.to_string();
    assert!(
        text.contains("TEST-002") && text.contains("before the provider call"),
        "{text}"
    );
    let objects = s.cloud().objects();
    assert_eq!(objects.len(), 1, "the network only: {objects:?}");
    assert!(!s.state().await.resources.contains_key("node"));
}

#[tokio::test]
async fn a_suppression_holds_for_a_value_known_only_at_apply() {
    let s = stack(Policies::new().pack(pack()).mandatory());
    let program = |st: &mut Stack| {
        net_and_node(
            st,
            Options::new()
                .suppress(Suppression::new("TEST-002", "an ARN here").until("2999-12-31")),
        )
    };
    let preview = s.engine().preview(program, false).await.unwrap();
    assert_eq!(preview.policy.unwrap().at_apply, vec!["node".to_owned()]);
    s.up(program).await.expect("the suppression holds at apply");
    assert!(s.state().await.resources.contains_key("node"));
}

#[tokio::test]
async fn minimum_severity_and_per_rule_enforcement() {
    let program = |st: &mut Stack| {
        st.add(
            "a",
            Network {
                cidr: "10.0.0.0/8".into(),
                ..Default::default()
            },
        );
        Ok(())
    };
    let s = stack(
        Policies::new()
            .pack(pack())
            .mandatory()
            .min_severity(Severity::Critical),
    );
    s.up(program).await.expect("TEST-001 is below the minimum");
    let s = stack(
        Policies::new()
            .pack(pack())
            .mandatory()
            .enforce("TEST-001", Enforcement::Advisory),
    );
    s.up(program).await.expect("TEST-001 made advisory");
}

#[tokio::test]
async fn configuration_enables_packs_and_enforcement() {
    let program = |st: &mut Stack| {
        st.add(
            "Bad Name",
            Network {
                cidr: "10.0.0.0/16".into(),
                ..Default::default()
            },
        );
        Ok(())
    };
    let policies = Policies::new().pack(pack()).pack(generic_pack(&[]));
    let config = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let s = TestStack::new("dev");
    let engine = s
        .engine()
        .clone()
        .policies(policies.clone())
        .config(config(&[("policy.enforcement", "mandatory")]));
    let err = engine
        .up(program, false)
        .await
        .expect_err("naming is mandatory now");
    assert!(err.to_string().contains("DAF-GEN-001"), "{err}");
    let engine = s
        .engine()
        .clone()
        .policies(policies.clone())
        .config(config(&[
            ("policy.enforcement", "mandatory"),
            ("policy.packs", "test"),
        ]));
    engine
        .up(program, false)
        .await
        .expect("generic pack disabled");
    let engine = s
        .engine()
        .clone()
        .policies(policies)
        .config(config(&[("policy.packs", "nope")]));
    let err = engine.up(program, false).await.expect_err("unknown pack");
    assert!(err.to_string().contains("nope"), "{err}");
}

#[tokio::test]
async fn generic_rules_pass_and_fail() {
    let policies = Policies::new().pack(generic_pack(&["owner".to_owned()]));
    let s = stack(policies);
    let failing = |st: &mut Stack| {
        st.add(
            "Upper",
            Network {
                cidr: "10.0.0.0/16".into(),
                ..Default::default()
            },
        );
        st.add(
            "key",
            Node {
                value: "AKIAIOSFODNN7EXAMPLE".into(),
                ..Default::default()
            },
        );
        st.add(
            "pem",
            Node {
                value: "-----BEGIN RSA PRIVATE KEY-----\nMII\n-----END RSA PRIVATE KEY-----".into(),
                ..Default::default()
            },
        );
        st.add(
            "url",
            Node {
                value: "postgres://app:hunter2@db/x".into(),
                ..Default::default()
            },
        );
        let mut tags = BTreeMap::new();
        tags.insert("db_password".to_owned(), "hunter2".to_owned());
        st.add(
            "pw",
            Network {
                cidr: "10.1.0.0/16".into(),
                tags,
            },
        );
        Ok(())
    };
    let report = s
        .engine()
        .preview(failing, false)
        .await
        .unwrap()
        .policy
        .unwrap();
    let mut found: Vec<(&str, &str)> = report
        .violations
        .iter()
        .map(|v| (v.rule, v.resource.as_str()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("DAF-GEN-001", "Upper"),
            ("DAF-GEN-002", "Upper"),
            ("DAF-GEN-002", "pw"),
            ("DAF-GEN-003", "key"),
            ("DAF-GEN-004", "pem"),
            ("DAF-GEN-005", "pw"),
            ("DAF-GEN-006", "url"),
        ]
    );
    let passing = |st: &mut Stack| {
        let mut tags = BTreeMap::new();
        tags.insert("owner".to_owned(), "platform".to_owned());
        st.add(
            "net-a",
            Network {
                cidr: "10.0.0.0/16".into(),
                tags,
            },
        );
        st.add(
            "node.b",
            Node {
                value: "postgres://app@db/x AKIA".into(),
                ..Default::default()
            },
        );
        // A component's child is named `app/web`: each part is judged.
        st.component("app", |s| {
            s.add(
                "web",
                Node {
                    value: "v".into(),
                    ..Default::default()
                },
            );
            Ok(())
        })?;
        Ok(())
    };
    let report = s
        .engine()
        .preview(passing, false)
        .await
        .unwrap()
        .policy
        .unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

const WIDE_ANYWHERE: RuleInfo = RuleInfo {
    id: "TEST-003",
    title: "The program has no /8 network",
    severity: Severity::Low,
    category: "networking",
    remediation: "Split the range.",
    controls: &[],
};

/// Checking each resource as the planner reaches it (in dependency order,
/// here not the declaration order) gives the report a check of its own
/// gives: the same violations in the same order, rules over the program
/// seeing the resources of a type in declaration order, and the same
/// resources left to check at apply.
#[test]
fn planning_checks_each_resource_as_it_plans_with_the_same_report() {
    use dafnck_core::planner;
    use dafnck_core::policy;
    use dafnck_core::state::State;
    use dafnck_core::testing::FakeCloud;
    use dafnck_core::{Providers, Resource, ResourceRef};

    let wide = |cidr: &str, tags: &[(&str, &str)]| Network {
        cidr: cidr.into(),
        tags: tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    let mut st = Stack::new("dev");
    st.add_with(
        "Net-A",
        wide("10.0.0.0/8", &[]),
        // On a resource declared after it (by name): planned after it.
        Options::new().depends_on(ResourceRef::new("dev", "z-net", Network::TYPE)),
    );
    st.add(
        "b",
        Node {
            value: "postgres://app:hunter2@db/x".into(),
            ..Default::default()
        },
    );
    st.add(
        "c",
        wide("10.2.0.0/8", &[("owner", "x"), ("db_password", "hunter2")]),
    );
    let d = st.add(
        "d",
        Node {
            value: "AKIAIOSFODNN7EXAMPLE".into(),
            ..Default::default()
        },
    );
    st.add(
        "e",
        Node {
            refs: vec![d.out().node_id],
            ..Default::default()
        },
    );
    st.add("z-net", wide("10.9.0.0/8", &[("owner", "x")]));
    let desired = st.into_desired().expect("a valid program");
    assert_eq!(desired.order, [1, 2, 3, 4, 5, 0], "planned out of order");

    let policies = Policies::new()
        .pack(generic_pack(&["owner".to_owned()]))
        .pack(pack().rule(Rule::stack(WIDE_ANYWHERE, |s, out| {
            for (v, n) in s.of_type::<Network>() {
                if n.cidr.as_value().is_some_and(|c| c.ends_with("/8")) {
                    out.flag_resource(v.name, "cidr", "is a /8");
                }
            }
        })))
        .mandatory();
    let providers = Providers::new().with(FakeCloud::new());
    let (plan, fused) =
        planner::plan_checked(&desired, &State::empty("dev"), &providers, &policies)
            .expect("plans");
    let alone = policy::check(&policies, &desired, Some(&plan));

    let found: Vec<(&str, &str, &str)> = fused
        .violations
        .iter()
        .map(|v| (v.rule, v.resource.as_str(), v.field.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("TEST-001", "Net-A", "cidr"),
            ("DAF-GEN-001", "Net-A", ""),
            ("DAF-GEN-002", "Net-A", "tags"),
            ("DAF-GEN-006", "b", "value"),
            ("TEST-001", "c", "cidr"),
            ("DAF-GEN-005", "c", "tags.db_password"),
            ("DAF-GEN-003", "d", "value"),
            ("TEST-001", "z-net", "cidr"),
            ("TEST-003", "Net-A", "cidr"),
            ("TEST-003", "c", "cidr"),
            ("TEST-003", "z-net", "cidr"),
        ]
    );
    assert_eq!(fused.violations, alone.violations);
    assert_eq!(
        (fused.resources, fused.rules),
        (alone.resources, alone.rules)
    );
    assert_eq!(fused.at_apply, ["e"]);
    assert_eq!(fused.at_apply, alone.at_apply);
}
