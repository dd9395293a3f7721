//! The Route 53 weighted-record router against moto: each test makes a
//! hosted zone of its own, moves a name's answers between two weighted
//! records through `Route53Router`, and reads the weights back with
//! ListResourceRecordSets (the test's own client). moto comes from
//! `DAFNCK_MOTO_URL` (`scripts/servers/moto.sh start`, or `scripts/test.sh`);
//! without it the tests say they are skipped, unless
//! `DAFNCK_REQUIRE_SERVERS=1`.

#![cfg(feature = "route53")]

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use aws_sdk_route53::Client;
use dafnck_strategies::route53::{Target, WeightedRecord};
use dafnck_strategies::{
    AnalysisSet, Canary, MemoryFleet, MemoryLog, Phase, Route53Error, Route53Router, Step,
    TrafficRollout, TrafficRouter, Verdict, Weights,
};
use support::moto::{moto_url, sdk_config, unique};
use support::Script;

/// A hosted zone of its own in moto, and the router's two records in it.
struct Zone {
    config: aws_config::SdkConfig,
    client: Client,
    id: String,
    name: String,
}

impl Zone {
    async fn new(test: &str) -> Option<Zone> {
        let url = moto_url(test)?;
        let config = sdk_config(&url).await;
        let client = Client::new(&config);
        let zone = format!("{}.example.com", unique("r53"));
        let out = client
            .create_hosted_zone()
            .name(&zone)
            .caller_reference(unique("ref"))
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!("{test}: cannot make a hosted zone in moto at {url}: {e:?}")
            });
        let id = out.hosted_zone().unwrap().id().to_owned();
        Some(Zone {
            config,
            client,
            id,
            name: format!("www.{zone}"),
        })
    }

    fn router(&self) -> Route53Router {
        Route53Router::with_config(
            &self.config,
            &self.id,
            &self.name,
            "A",
            WeightedRecord::new("blue", Target::values(30, ["192.0.2.10"])),
            WeightedRecord::new("green", Target::values(30, ["192.0.2.20"])),
        )
        .confirm(Duration::from_secs(10), Duration::from_millis(100))
    }

    /// The weighted records of the name as ListResourceRecordSets shows
    /// them: set identifier → (weight, values).
    async fn listed(&self) -> BTreeMap<String, (i64, Vec<String>)> {
        let out = self
            .client
            .list_resource_record_sets()
            .hosted_zone_id(&self.id)
            .send()
            .await
            .unwrap();
        out.resource_record_sets()
            .iter()
            .filter(|s| s.name().trim_end_matches('.') == self.name && s.r#type() == &RrType::A)
            .map(|s| {
                (
                    s.set_identifier().unwrap_or("(none)").to_owned(),
                    (
                        s.weight().unwrap_or(-1),
                        s.resource_records()
                            .iter()
                            .map(|r| r.value().to_owned())
                            .collect(),
                    ),
                )
            })
            .collect()
    }

    async fn weights(&self) -> BTreeMap<String, i64> {
        self.listed()
            .await
            .into_iter()
            .map(|(id, (w, _))| (id, w))
            .collect()
    }

    /// Adds a record of the name made by someone else.
    async fn add(&self, set_identifier: Option<&str>, weight: Option<i64>) {
        let set = ResourceRecordSet::builder()
            .name(&self.name)
            .r#type(RrType::A)
            .ttl(30)
            .set_set_identifier(set_identifier.map(str::to_owned))
            .set_weight(weight)
            .resource_records(
                ResourceRecord::builder()
                    .value("192.0.2.99")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        self.client
            .change_resource_record_sets()
            .hosted_zone_id(&self.id)
            .change_batch(
                ChangeBatch::builder()
                    .changes(
                        Change::builder()
                            .action(ChangeAction::Create)
                            .resource_record_set(set)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
}

fn weights(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(id, w)| (id.to_string(), *w)).collect()
}

#[tokio::test]
async fn each_split_is_listed_by_route53_when_set_weights_returns() {
    let Some(zone) = Zone::new("each_split_is_listed_by_route53_when_set_weights_returns").await
    else {
        return;
    };
    let router = zone.router();
    assert!(
        router.describe().contains(&zone.name),
        "{}",
        router.describe()
    );
    for (new, want) in [
        (0, weights(&[("blue", 100)])),
        (5, weights(&[("blue", 95), ("green", 5)])),
        (25, weights(&[("blue", 75), ("green", 25)])),
        (50, weights(&[("blue", 50), ("green", 50)])),
        (100, weights(&[("green", 100)])),
    ] {
        router.set_weights(Weights::to_new(new)).await.unwrap();
        assert_eq!(zone.weights().await, want, "after setting {new}% new");
        assert_eq!(router.shown().await.unwrap(), want);
    }
    let listed = zone.listed().await;
    assert_eq!(listed["green"].1, vec!["192.0.2.20".to_string()]);
    // Back to the stable record alone; the same split twice is fine.
    for new in [25, 25, 0] {
        router.set_weights(Weights::to_new(new)).await.unwrap();
    }
    assert_eq!(zone.listed().await, {
        let mut m = BTreeMap::new();
        m.insert("blue".to_string(), (100, vec!["192.0.2.10".to_string()]));
        m
    });
}

/// The router, with the weights ListResourceRecordSets shows read back
/// after every change.
struct Watched {
    router: Route53Router,
    zone: Arc<Zone>,
    seen: Arc<Mutex<Vec<BTreeMap<String, i64>>>>,
}

#[async_trait]
impl TrafficRouter for Watched {
    fn describe(&self) -> String {
        self.router.describe()
    }
    async fn set_weights(&self, weights: Weights) -> Result<(), String> {
        self.router.set_weights(weights).await?;
        let now = self.zone.weights().await;
        self.seen.lock().unwrap().push(now);
        Ok(())
    }
}

fn canary() -> Canary {
    Canary {
        steps: vec![
            Step::new(5, Duration::from_millis(300)),
            Step::new(25, Duration::from_millis(300)),
            Step::new(50, Duration::from_millis(300)),
        ],
        analysis_interval: Duration::from_millis(100),
        ready_timeout: Duration::from_secs(5),
        failure_limit: 0,
    }
}

async fn watched(zone: Zone) -> (Watched, Arc<Zone>, Arc<Mutex<Vec<BTreeMap<String, i64>>>>) {
    let zone = Arc::new(zone);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let w = Watched {
        router: zone.router(),
        zone: Arc::clone(&zone),
        seen: Arc::clone(&seen),
    };
    (w, zone, seen)
}

#[tokio::test]
async fn a_canary_by_dns_weights_moves_step_by_step_to_the_new_endpoint() {
    let test = "a_canary_by_dns_weights_moves_step_by_step_to_the_new_endpoint";
    let Some(zone) = Zone::new(test).await else {
        return;
    };
    let (router, zone, seen) = watched(zone).await;
    let log = MemoryLog::new();
    let mut rollout = TrafficRollout::canary("www", &canary(), MemoryFleet::new(), router)
        .unwrap()
        .analysis(AnalysisSet::new().with(Script::always(Verdict::Pass)))
        .log(log.clone());
    let done = rollout.run(None).await.unwrap();
    assert_eq!(done.phase, Phase::Completed, "{done:?}");
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            weights(&[("blue", 95), ("green", 5)]),
            weights(&[("blue", 75), ("green", 25)]),
            weights(&[("blue", 50), ("green", 50)]),
            weights(&[("green", 100)]),
        ]
    );
    assert_eq!(zone.weights().await, weights(&[("green", 100)]));
}

#[tokio::test]
async fn a_canary_failing_its_analysis_puts_the_stable_endpoint_back_at_full_weight() {
    let test = "a_canary_failing_its_analysis_puts_the_stable_endpoint_back_at_full_weight";
    let Some(zone) = Zone::new(test).await else {
        return;
    };
    let (router, zone, seen) = watched(zone).await;
    // Passes during the 5% step, fails at 25%.
    let gate = Script::new(
        vec![Verdict::Pass, Verdict::Pass, Verdict::Pass],
        support::fail("error rate 9% > 1%"),
    );
    let mut rollout = TrafficRollout::canary("www", &canary(), MemoryFleet::new(), router)
        .unwrap()
        .analysis(AnalysisSet::new().with(gate));
    let done = rollout.run(None).await.unwrap();
    assert_eq!(done.phase, Phase::RolledBack, "{done:?}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.first(), Some(&weights(&[("blue", 95), ("green", 5)])));
    assert!(
        seen.contains(&weights(&[("blue", 75), ("green", 25)])),
        "{seen:?}"
    );
    assert_eq!(seen.last(), Some(&weights(&[("blue", 100)])), "{seen:?}");
    // The new record is gone; the stable one answers alone, at full weight.
    assert_eq!(
        zone.listed().await,
        BTreeMap::from([("blue".to_string(), (100, vec!["192.0.2.10".to_string()]))])
    );
}

#[tokio::test]
async fn a_blue_green_switch_by_dns_moves_every_answer_at_once() {
    let test = "a_blue_green_switch_by_dns_moves_every_answer_at_once";
    let Some(zone) = Zone::new(test).await else {
        return;
    };
    let (router, zone, seen) = watched(zone).await;
    let policy = dafnck_strategies::BlueGreen {
        rollback_window: Duration::from_millis(300),
        analysis_interval: Duration::from_millis(100),
        ready_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let mut rollout = TrafficRollout::blue_green("www", &policy, MemoryFleet::new(), router)
        .unwrap()
        .analysis(AnalysisSet::new().with(Script::always(Verdict::Pass)));
    let done = rollout.run(None).await.unwrap();
    assert_eq!(done.phase, Phase::Completed, "{done:?}");
    // The switch (and the promotion after the window): never a split.
    let seen = seen.lock().unwrap().clone();
    assert!(
        !seen.is_empty() && seen.iter().all(|w| *w == weights(&[("green", 100)])),
        "{seen:?}"
    );
    assert_eq!(zone.weights().await, weights(&[("green", 100)]));
}

#[tokio::test]
async fn records_the_router_does_not_own_are_refused_by_name() {
    let test = "records_the_router_does_not_own_are_refused_by_name";
    let Some(zone) = Zone::new(test).await else {
        return;
    };
    zone.add(Some("red"), Some(10)).await;
    let e = zone
        .router()
        .apply(Weights::to_new(25))
        .await
        .expect_err("a foreign weighted record");
    assert!(matches!(e, Route53Error::ForeignRecord { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains(&zone.name) && text.contains("red") && text.contains("blue"),
        "{text}"
    );
    // Nothing was changed.
    assert_eq!(zone.weights().await, weights(&[("red", 10)]));

    let Some(plain) = Zone::new(test).await else {
        return;
    };
    plain.add(None, None).await;
    let e = plain.router().apply(Weights::to_new(25)).await.unwrap_err();
    assert!(matches!(e, Route53Error::NotWeighted { .. }), "{e:?}");
    assert!(e.to_string().contains("a simple record"), "{e}");

    let missing = Route53Router::with_config(
        &plain.config,
        "Z0000000000000NOSUCH",
        "www.example.com",
        "A",
        WeightedRecord::new("blue", Target::values(30, ["192.0.2.10"])),
        WeightedRecord::new("green", Target::values(30, ["192.0.2.20"])),
    );
    let e = missing.apply(Weights::to_new(5)).await.unwrap_err();
    assert!(
        matches!(e, Route53Error::ZoneNotFound { .. }) && e.to_string().contains("NOSUCH"),
        "{e:?}"
    );
}
