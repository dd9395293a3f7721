//! The Route 53 types pass the provider conformance suite against moto. A
//! zone's change out of band is a comment set by hand, a health check's a
//! failure threshold set by hand, a record's a weight set by hand; deletes
//! are the SDK's. Also: a repeated create finds its zone by its
//! `CallerReference`, and a zone holding records the program does not
//! declare is not deleted.

use async_trait::async_trait;
use dafnck_core::provider::{CreateRequest, DeleteRequest, Observed};
use dafnck_core::testing::conformance::{conformance, OutOfBand, Sample};
use dafnck_core::{Provider as _, Resource, Value};
use dafnck_providers::aws::route53::{
    CheckType, HealthCheck, HostedZone, HostedZoneId, Record, RecordType,
};
use dafnck_providers::aws::sdk::route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use dafnck_providers::aws::sdk::route53::Client;

use super::asg_conformance::show;
use super::support::{moto, sdk_config, tags, Moto};

/// A Route 53 client for the moto server.
pub(crate) async fn route53(m: &Moto) -> Client {
    Client::new(&sdk_config(&m.url).await)
}

/// The record of zone `zone` named `name` with set identifier `set`.
pub(crate) async fn record_set(
    client: &Client,
    zone: &str,
    name: &str,
    set: Option<&str>,
) -> Result<ResourceRecordSet, String> {
    let out = client
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
        .map_err(show)?;
    out.resource_record_sets()
        .iter()
        .find(|r| r.name().trim_end_matches('.') == name && r.set_identifier() == set)
        .cloned()
        .ok_or_else(|| format!("no record {name} {set:?} in {zone}"))
}

/// Sends one change of zone `zone`.
pub(crate) async fn change(
    client: &Client,
    zone: &str,
    action: ChangeAction,
    set: ResourceRecordSet,
) -> Result<(), String> {
    let change = Change::builder()
        .action(action)
        .resource_record_set(set)
        .build()
        .map_err(show)?;
    client
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(
            ChangeBatch::builder()
                .changes(change)
                .build()
                .map_err(show)?,
        )
        .send()
        .await
        .map_err(show)?;
    Ok(())
}

/// Someone at the Route 53 console.
struct Console {
    client: Client,
    type_name: &'static str,
    /// The zone of the records.
    zone: String,
}

#[async_trait]
impl OutOfBand for Console {
    async fn change(&self, found: &Observed) -> Result<bool, String> {
        let c = &self.client;
        match self.type_name {
            "aws:route53:HostedZone" => {
                c.update_hosted_zone_comment()
                    .id(&found.id)
                    .comment("by hand")
                    .send()
                    .await
                    .map_err(show)?;
            }
            "aws:route53:HealthCheck" => {
                c.update_health_check()
                    .health_check_id(&found.id)
                    .failure_threshold(9)
                    .send()
                    .await
                    .map_err(show)?;
            }
            _ => {
                let name = found.outputs.get("fqdn").and_then(|n| n.as_str());
                let current =
                    record_set(c, &self.zone, name.unwrap_or_default(), Some("blue")).await?;
                let mut by_hand = current.clone();
                by_hand.weight = Some(99);
                change(c, &self.zone, ChangeAction::Upsert, by_hand).await?;
            }
        }
        Ok(true)
    }

    async fn delete(&self, found: &Observed) -> Result<(), String> {
        let c = &self.client;
        match self.type_name {
            "aws:route53:HostedZone" => {
                c.delete_hosted_zone()
                    .id(&found.id)
                    .send()
                    .await
                    .map_err(show)?;
            }
            "aws:route53:HealthCheck" => {
                c.delete_health_check()
                    .health_check_id(&found.id)
                    .send()
                    .await
                    .map_err(show)?;
            }
            _ => {
                let name = found.outputs.get("fqdn").and_then(|n| n.as_str());
                let current =
                    record_set(c, &self.zone, name.unwrap_or_default(), Some("blue")).await?;
                change(c, &self.zone, ChangeAction::Delete, current).await?;
            }
        }
        Ok(())
    }
}

/// A zone made by hand, for records; its bare id.
pub(crate) async fn zone_by_hand(client: &Client, name: &str) -> String {
    let out = client
        .create_hosted_zone()
        .name(name)
        .caller_reference(format!("by-hand-{name}"))
        .send()
        .await
        .unwrap();
    out.hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_owned()
}

async fn samples(m: &Moto) -> Vec<Sample> {
    let client = route53(m).await;
    let zone = zone_by_hand(&client, "records.example.com").await;
    let console = |type_name| Console {
        client: client.clone(),
        type_name,
        zone: zone.clone(),
    };
    let hosted = HostedZone {
        name: "conformance.example.com".into(),
        comment: "v1".into(),
        tags: tags(&[("v", "1")]),
        ..Default::default()
    };
    let hosted_updated = HostedZone {
        comment: "v2".into(),
        tags: tags(&[("v", "2"), ("team", "dns")]),
        ..hosted.clone()
    };
    let check = HealthCheck {
        check_type: CheckType::Http,
        ip_address: Some("192.0.2.10".into()),
        resource_path: "/health".into(),
        tags: tags(&[("v", "1")]),
        ..Default::default()
    };
    let check_updated = HealthCheck {
        port: 8080,
        resource_path: "/ready".into(),
        failure_threshold: 5,
        tags: tags(&[("v", "2")]),
        ..check.clone()
    };
    let record = Record {
        zone_id: HostedZoneId(zone.clone()).into(),
        name: "www.records.example.com".into(),
        record_type: RecordType::A,
        ttl: 60,
        values: vec!["192.0.2.1".into()],
        set_identifier: Some("blue".into()),
        weight: Some(10),
        ..Default::default()
    };
    let record_updated = Record {
        ttl: 120,
        values: vec!["192.0.2.1".into(), "192.0.2.2".into()],
        weight: Some(20),
        ..record.clone()
    };
    vec![
        Sample::new(hosted, hosted_updated, console(HostedZone::TYPE)),
        Sample::new(check, check_updated, console(HealthCheck::TYPE)),
        Sample::new(record, record_updated, console(Record::TYPE)),
    ]
}

#[tokio::test]
async fn the_route53_types_pass_the_provider_conformance_suite() {
    let Some(m) = moto("the_route53_types_pass_the_provider_conformance_suite").await else {
        return;
    };
    let samples = samples(&m).await;
    conformance(&m.provider, &samples).await.unwrap();
}

/// A create with the engine's token, as the engine calls it.
async fn create<R: Resource + serde::Serialize>(
    m: &Moto,
    inputs: &R,
    token: &str,
) -> Result<String, dafnck_core::ProviderError> {
    let created = m
        .provider
        .create(CreateRequest {
            name: "again".into(),
            stack: "test".into(),
            type_name: R::TYPE.into(),
            inputs: Value::from_serialize(inputs).unwrap(),
            token: token.into(),
        })
        .await?;
    Ok(created.id)
}

#[tokio::test]
async fn a_repeated_create_finds_its_zone_and_a_zone_with_undeclared_records_is_kept() {
    let Some(m) =
        moto("a_repeated_create_finds_its_zone_and_a_zone_with_undeclared_records_is_kept").await
    else {
        return;
    };
    let client = route53(&m).await;
    let zone = HostedZone {
        name: "again.example.com".into(),
        ..Default::default()
    };
    let check = HealthCheck {
        fqdn: Some("again.example.com".into()),
        ..Default::default()
    };
    // The same create twice (its first answer lost): one object, one id.
    let id = create(&m, &zone, "run-1-again").await.unwrap();
    assert_eq!(create(&m, &zone, "run-1-again").await.unwrap(), id);
    let check_id = create(&m, &check, "run-1-again").await.unwrap();
    assert_eq!(create(&m, &check, "run-1-again").await.unwrap(), check_id);
    let zones = client.list_hosted_zones().send().await.unwrap();
    assert_eq!(zones.hosted_zones().len(), 1);
    let checks = client.list_health_checks().send().await.unwrap();
    assert_eq!(checks.health_checks().len(), 1);

    // A record made by hand keeps the zone, and the error says which.
    let by_hand = ResourceRecordSet::builder()
        .name("hand.again.example.com")
        .r#type(RrType::Txt)
        .ttl(60)
        .resource_records(ResourceRecord::builder().value("\"x\"").build().unwrap())
        .build()
        .unwrap();
    change(&client, &id, ChangeAction::Create, by_hand)
        .await
        .unwrap();
    let delete = DeleteRequest {
        name: "again".into(),
        stack: "test".into(),
        type_name: HostedZone::TYPE.into(),
        id: id.clone(),
        inputs: Value::from_serialize(&zone).unwrap(),
        outputs: Value::Null,
    };
    let e = m.provider.delete(delete.clone()).await.unwrap_err();
    assert!(!e.retryable);
    assert!(
        e.message.contains("aws:route53:HostedZone \"again\"")
            && e.message.contains("hand.again.example.com")
            && e.message.contains("does not declare"),
        "{}",
        e.message
    );
    assert_eq!(
        client
            .list_hosted_zones()
            .send()
            .await
            .unwrap()
            .hosted_zones()
            .len(),
        1
    );
    let current = record_set(&client, &id, "hand.again.example.com", None)
        .await
        .unwrap();
    change(&client, &id, ChangeAction::Delete, current)
        .await
        .unwrap();
    m.provider.delete(delete).await.unwrap();
    assert!(client
        .list_hosted_zones()
        .send()
        .await
        .unwrap()
        .hosted_zones()
        .is_empty());
}
