use std::sync::Arc;

use super::*;
use crate::engine::Engine;
use crate::policy::{Pack, Policies, Severity};
use crate::prelude::*;
use crate::state::MemoryStore;
use crate::testing::resources::{Instance, Subnet};
use crate::testing::FakeCloud;

/// Instances by size; an instance in a subnet tagged `public=yes` also
/// pays for a public address (a reference followed to the subnet).
fn model() -> CostModel {
    let table = PriceTable::from_json(
        r#"{
        "date": "2026-11-01", "currency": "USD", "region": "test-1",
        "prices": {
            "fake:compute:Instance/small": {"unit": "hour", "price": 0.01},
            "fake:compute:Instance/large": {"unit": "hour", "price": 0.04},
            "fake:ip/public": {"unit": "hour", "price": 0.005},
            "fake:net:Subnet/requests": {"unit": "1M requests", "price": 0.2}
        }}"#,
    )
    .unwrap();
    CostModel::new(table)
        .resource(|i: &Instance, view, e| {
            let size = i.size.as_value().cloned().unwrap_or_default();
            let key = format!("fake:compute:Instance/{size}");
            e.hourly(view.prices(), &key, &format!("instance {size}"), 1.0);
            let subnet: Option<Subnet> = view.referenced(&i.subnet_id, "subnet_id");
            if subnet.is_some_and(|s| s.tags.get("public").map(String::as_str) == Some("yes")) {
                e.hourly(view.prices(), "fake:ip/public", "public address", 1.0);
            }
        })
        .resource(|_: &Subnet, view, e| {
            e.usage(view.prices(), "fake:net:Subnet/requests", "requests");
        })
}

fn program(sizes: &'static [&'static str]) -> impl Fn(&mut Stack) -> crate::Result<()> {
    move |stack| {
        let public = stack.add(
            "public",
            Subnet {
                cidr: "10.0.1.0/24".into(),
                tags: [("public".to_owned(), "yes".to_owned())].into(),
                ..Default::default()
            },
        );
        let private = stack.add(
            "private",
            Subnet {
                cidr: "10.0.2.0/24".into(),
                ..Default::default()
            },
        );
        for (i, size) in sizes.iter().enumerate() {
            let subnet = if i == 0 { &public } else { &private };
            stack.add(
                &format!("web-{i}"),
                Instance {
                    subnet_id: subnet.out().subnet_id,
                    image: "img".into(),
                    size: (*size).into(),
                    ..Default::default()
                },
            );
        }
        Ok(())
    }
}

fn desired(sizes: &'static [&'static str]) -> Desired {
    let mut stack = Stack::new("dev");
    program(sizes)(&mut stack).unwrap();
    stack.into_desired().unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn fixed_prices_are_counted_at_730_hours_and_references_are_followed() {
    let cost = model().of_program(&desired(&["small", "large"]));
    // web-0: small in the public subnet (instance + address); web-1:
    // large in the private one.
    let web0 = cost.get("web-0").unwrap();
    assert_eq!(
        web0.estimate
            .items
            .iter()
            .map(|i| (i.what.as_str(), i.quantity))
            .collect::<Vec<_>>(),
        [("instance small", 730.0), ("public address", 730.0)]
    );
    assert!(close(web0.estimate.total(), 730.0 * (0.01 + 0.005)));
    assert!(close(
        cost.get("web-1").unwrap().estimate.total(),
        730.0 * 0.04
    ));
    assert!(close(cost.monthly, 730.0 * (0.01 + 0.005 + 0.04)));
    // Usage-based prices are shown, not counted.
    let public = cost.get("public").unwrap();
    assert_eq!(public.estimate.total(), 0.0);
    assert_eq!(public.estimate.usage[0].unit, "1M requests");
}

#[test]
fn an_unknown_price_and_an_unmodelled_type_are_said_not_counted_as_free() {
    let cost = model().of_program(&desired(&["huge"]));
    let web = cost.get("web-0").unwrap();
    assert!(web.modelled);
    assert_eq!(
        web.estimate.unpriced,
        ["instance huge: no price known for fake:compute:Instance/huge"]
    );
    let bare = CostModel::new(model().prices().clone()).of_program(&desired(&["small"]));
    assert!(bare.resources.iter().all(|r| !r.modelled));
    let report = CostReport::new(StackCost::default(), bare, model().prices());
    assert!(
        report
            .render()
            .contains("No price known for: fake:compute:Instance, fake:net:Subnet"),
        "{}",
        report.render()
    );
}

#[tokio::test]
async fn a_recorded_state_is_priced_through_its_outputs_and_the_report_shows_the_change() {
    let cloud = FakeCloud::new();
    let engine = Engine::new("dev", MemoryStore::new(), Providers::new().with(cloud));
    engine
        .up(program(&["small", "small"]), false)
        .await
        .unwrap();
    let model = model();
    let before = model.of_state(&engine.state().await.unwrap());
    // The recorded subnet id leads to the public subnet's record.
    assert!(close(before.monthly, 730.0 * (0.01 + 0.005 + 0.01)));
    let after = model.of_program(&desired(&["small", "large"]));
    let report = CostReport::new(before, after, model.prices());
    assert!(close(report.delta(), 730.0 * 0.03));
    let text = report.render();
    assert!(
        text.contains("web-1") && text.contains("7.30 → 29.20"),
        "{text}"
    );
    assert!(
        text.contains("Total: 18.25 → 40.15 USD/month (+21.90)"),
        "{text}"
    );
    assert!(text.contains("test-1 prices of 2026-11-01"), "{text}");
}

#[test]
fn a_budget_rule_refuses_a_program_over_it_naming_the_dearest() {
    let model = Arc::new(model());
    let info = RuleInfo {
        id: "COST-001",
        title: "The monthly cost stays within the budget",
        severity: Severity::High,
        category: "cost",
        remediation: "Use smaller instances.",
        controls: &[],
    };
    let policies = Policies::new()
        .pack(Pack::new("budget", "cost").rule(model.budget_rule(info, 20.0)))
        .mandatory();
    let under = crate::policy::check(&policies, &desired(&["small"]), None);
    assert!(under.violations.is_empty(), "{:?}", under.violations);
    let over = crate::policy::check(&policies, &desired(&["small", "large"]), None);
    assert_eq!(over.violations.len(), 1, "{:?}", over.violations);
    let v = &over.violations[0];
    assert_eq!(v.resource, "web-1");
    assert!(
        v.message
            .contains("40.15 USD, over the budget of 20.00 USD")
            && v.message.contains("dearest: web-1 29.20, web-0 10.95"),
        "{}",
        v.message
    );
}

#[test]
fn price_tables_are_checked_and_overridden_key_by_key() {
    assert!(PriceTable::from_json("{}")
        .unwrap_err()
        .starts_with("not a price table"));
    let negative =
        r#"{"date":"d","currency":"USD","region":"r","prices":{"a":{"unit":"hour","price":-1}}}"#;
    assert_eq!(
        PriceTable::from_json(negative).unwrap_err(),
        "price a is -1, not a price"
    );
    let over = PriceTable::from_json(
        r#"{"date":"2026-12-01","currency":"USD","region":"test-2","prices":{
            "fake:compute:Instance/small":{"unit":"hour","price":0.02}}}"#,
    )
    .unwrap();
    let model = model().with_prices(over);
    assert_eq!(model.prices().region, "test-2");
    assert_eq!(
        model
            .prices()
            .get("fake:compute:Instance/small")
            .unwrap()
            .price,
        0.02
    );
    assert_eq!(
        model
            .prices()
            .get("fake:compute:Instance/large")
            .unwrap()
            .price,
        0.04
    );
    let dir = tempfile::tempdir().unwrap();
    let e = PriceTable::load(&dir.path().join("missing.json")).unwrap_err();
    assert!(e.contains("cannot read the price table"), "{e}");
}
