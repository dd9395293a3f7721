//! A DNS stack against moto: a zone, a health check, two failover records
//! (the primary behind the health check) and two weighted records go up; a
//! preview with no change is empty; a weight set by hand is drift; an `up`
//! with other weights moves them (what a DNS-weights router builds on);
//! destroy leaves nothing, counted with the Route 53 API.

use dafnck_core::drift::DriftKind;
use dafnck_core::prelude::*;
use dafnck_providers::aws::route53::{
    Failover, HealthCheck, HealthCheckOutputs, HostedZone, HostedZoneOutputs, Record,
};
use dafnck_providers::aws::sdk::route53::types::ChangeAction;
use dafnck_providers::aws::sdk::route53::Client;

use crate::route53_conformance::{change, record_set, route53};
use crate::support::{moto, outputs};

/// The stack, with the weights of `blue` and `green`.
fn program(weights: (u8, u8)) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> + Clone {
    move |stack: &mut Stack| {
        let zone = stack.add(
            "example",
            HostedZone {
                name: "example.com".into(),
                comment: "the web".into(),
                ..Default::default()
            },
        );
        let check = stack.add(
            "primary-up",
            HealthCheck {
                ip_address: Some("192.0.2.10".into()),
                resource_path: "/health".into(),
                ..Default::default()
            },
        );
        let record = |set: &str, value: &str| Record {
            zone_id: zone.out().zone_id,
            name: "www.example.com".into(),
            ttl: 60,
            values: vec![value.into()],
            set_identifier: Some(set.into()),
            ..Default::default()
        };
        stack.add(
            "www-primary",
            Record {
                failover: Some(Failover::Primary),
                health_check_id: Some(check.out().health_check_id),
                ..record("primary", "192.0.2.10")
            },
        );
        stack.add(
            "www-secondary",
            Record {
                failover: Some(Failover::Secondary),
                ..record("secondary", "198.51.100.10")
            },
        );
        for (set, value, weight) in [
            ("blue", "192.0.2.20", weights.0),
            ("green", "192.0.2.30", weights.1),
        ] {
            stack.add(
                &format!("app-{set}"),
                Record {
                    name: "app.example.com".into(),
                    weight: Some(weight),
                    ..record(set, value)
                },
            );
        }
        Ok(())
    }
}

/// Zones, health checks, and records other than the zones' own NS and SOA.
async fn counts(client: &Client) -> [(&'static str, usize); 3] {
    let zones = client.list_hosted_zones().send().await.unwrap();
    let mut records = 0;
    for zone in zones.hosted_zones() {
        let sets = client
            .list_resource_record_sets()
            .hosted_zone_id(zone.id())
            .send()
            .await
            .unwrap();
        records += sets
            .resource_record_sets()
            .iter()
            .filter(|r| !matches!(r.r#type().as_str(), "NS" | "SOA"))
            .count();
    }
    let checks = client.list_health_checks().send().await.unwrap();
    [
        ("zones", zones.hosted_zones().len()),
        ("health checks", checks.health_checks().len()),
        ("records", records),
    ]
}

/// The weight Route 53 has for `app.example.com`'s record `set`.
async fn weight(client: &Client, zone: &str, set: &str) -> Option<i64> {
    record_set(client, zone, "app.example.com", Some(set))
        .await
        .unwrap()
        .weight()
}

#[tokio::test]
async fn a_dns_stack_goes_up_drifts_moves_its_weights_and_is_destroyed() {
    let Some(m) = moto("a_dns_stack_goes_up_drifts_moves_its_weights_and_is_destroyed").await
    else {
        return;
    };
    let client = route53(&m).await;
    let engine = m.engine();
    let report = engine.up(program((90, 10)), false).await.unwrap();
    assert!(report.is_success());
    assert_eq!(
        counts(&client).await,
        [("zones", 1), ("health checks", 1), ("records", 4)]
    );

    // What Route 53 has.
    let zone: HostedZoneOutputs = outputs(&engine, "example").await;
    let check: HealthCheckOutputs = outputs(&engine, "primary-up").await;
    assert!(!zone.name_servers.is_empty());
    let primary = record_set(
        &client,
        zone.zone_id.as_str(),
        "www.example.com",
        Some("primary"),
    )
    .await
    .unwrap();
    assert_eq!(primary.failover().map(|f| f.as_str()), Some("PRIMARY"));
    assert_eq!(
        primary.health_check_id(),
        Some(check.health_check_id.as_str())
    );
    let secondary = record_set(
        &client,
        zone.zone_id.as_str(),
        "www.example.com",
        Some("secondary"),
    )
    .await
    .unwrap();
    assert_eq!(secondary.failover().map(|f| f.as_str()), Some("SECONDARY"));
    assert_eq!(secondary.health_check_id(), None);
    assert_eq!(
        weight(&client, zone.zone_id.as_str(), "blue").await,
        Some(90)
    );
    assert_eq!(
        weight(&client, zone.zone_id.as_str(), "green").await,
        Some(10)
    );

    // Read back, nothing drifted and nothing is to do.
    let drift = engine.drift().await.unwrap();
    assert!(!drift.has_drift(), "{}", drift.render());
    let preview = engine.preview(program((90, 10)), true).await.unwrap();
    assert!(!preview.plan.has_changes(), "{}", preview.plan.render());

    // Someone moves all traffic to green by hand.
    let mut by_hand = record_set(
        &client,
        zone.zone_id.as_str(),
        "app.example.com",
        Some("blue"),
    )
    .await
    .unwrap();
    by_hand.weight = Some(0);
    change(
        &client,
        zone.zone_id.as_str(),
        ChangeAction::Upsert,
        by_hand,
    )
    .await
    .unwrap();
    let drift = engine.drift().await.unwrap();
    assert_eq!(drift.drifted.len(), 1, "{}", drift.render());
    let blue = drift.get("app-blue").expect("the blue record drifted");
    assert_eq!(blue.kind, DriftKind::Changed);
    assert_eq!(blue.fields.len(), 1);
    assert_eq!(blue.fields[0].field, "weight");

    // A canary step: the program's weights move, and Route 53's follow.
    let report = engine.up(program((50, 50)), true).await.unwrap();
    assert!(report.is_success());
    assert_eq!(
        weight(&client, zone.zone_id.as_str(), "blue").await,
        Some(50)
    );
    assert_eq!(
        weight(&client, zone.zone_id.as_str(), "green").await,
        Some(50)
    );
    let drift = engine.drift().await.unwrap();
    assert!(!drift.has_drift(), "{}", drift.render());
    let preview = engine.preview(program((50, 50)), true).await.unwrap();
    assert!(!preview.plan.has_changes(), "{}", preview.plan.render());

    engine.destroy().await.unwrap();
    assert_eq!(
        counts(&client).await,
        [("zones", 0), ("health checks", 0), ("records", 0)]
    );
}
