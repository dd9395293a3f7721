//! What the azure tests share: an ARM (the fake, or real Azure), a
//! provider pointed at it, and plain ARM calls (someone at the portal).

use std::time::Duration;

use dafnck_providers::azure::{Provider, Settings};
use serde_json::{json, Value as Json};

/// The subscription the fake's resources are in.
pub(crate) const SUB: &str = "00000000-0000-0000-0000-00000000d4fc";

/// An ARM for one test.
pub(crate) struct Arm {
    /// The fake, when the test runs against it.
    _fake: Option<dafnck_arm_fake::Running>,
    pub(crate) url: String,
    pub(crate) subscription: String,
    pub(crate) provider: Provider,
    http: reqwest::Client,
    token: String,
}

/// A fresh fake, served over HTTP.
pub(crate) fn fake() -> Arm {
    let fake = dafnck_arm_fake::spawn().expect("the ARM fake starts");
    let url = fake.url();
    Arm {
        provider: Provider::new(Settings::local(url.clone(), SUB)),
        _fake: Some(fake),
        url,
        subscription: SUB.into(),
        http: reqwest::Client::new(),
        token: "dafnck-local-arm".into(),
    }
}

/// Real Azure when `DAFNCK_AZURE_REAL=1` and `DAFNCK_AZURE_SUBSCRIPTION`
/// are set (the portal calls then need `DAFNCK_AZURE_TOKEN`, an ARM
/// bearer token: `az account get-access-token --query accessToken -o tsv`);
/// else a fresh fake.
pub(crate) fn arm() -> Arm {
    let real = std::env::var("DAFNCK_AZURE_REAL").as_deref() == Ok("1");
    match (real, std::env::var("DAFNCK_AZURE_SUBSCRIPTION")) {
        (true, Ok(sub)) => Arm {
            _fake: None,
            url: dafnck_providers::azure::PUBLIC_CLOUD.into(),
            subscription: sub,
            provider: Provider::from_env(),
            http: reqwest::Client::new(),
            token: std::env::var("DAFNCK_AZURE_TOKEN")
                .expect("DAFNCK_AZURE_TOKEN: an ARM token for the tests' own calls"),
        },
        _ => fake(),
    }
}

/// The api-version of an ARM id's type.
pub(crate) fn api_version(id: &str) -> &'static str {
    let id = id.to_ascii_lowercase();
    if id.contains("/microsoft.compute/") {
        "2024-07-01"
    } else if id.contains("/microsoft.network/") {
        "2024-03-01"
    } else if id.contains("/microsoft.insights/") {
        "2022-10-01"
    } else {
        "2021-04-01"
    }
}

impl Arm {
    /// `/subscriptions/<sub>/resourceGroups/<rg>`.
    pub(crate) fn group_id(&self, rg: &str) -> String {
        format!("/subscriptions/{}/resourceGroups/{rg}", self.subscription)
    }

    /// Sets the fake's faults (`POST /_fake/faults`).
    pub(crate) async fn faults(&self, control: Json) {
        let rsp = self
            .http
            .post(format!("{}/_fake/faults", self.url))
            .json(&control)
            .send()
            .await
            .unwrap();
        assert!(
            rsp.status().is_success(),
            "faults: {}",
            rsp.text().await.unwrap()
        );
    }

    async fn send(&self, method: reqwest::Method, id: &str, body: Option<&Json>) -> (u16, Json) {
        let mut req = self
            .http
            .request(
                method,
                format!("{}{id}?api-version={}", self.url, api_version(id)),
            )
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let rsp = req.send().await.unwrap();
        let status = rsp.status().as_u16();
        let body = rsp.json().await.unwrap_or(Json::Null);
        (status, body)
    }

    /// GET: the resource, or `None` (404).
    pub(crate) async fn get(&self, id: &str) -> Option<Json> {
        let (status, body) = self.send(reqwest::Method::GET, id, None).await;
        match status {
            200 => Some(body),
            404 => None,
            s => panic!("GET {id}: {s} {body}"),
        }
    }

    /// PUT `body` and waits until its provisioning state is terminal.
    pub(crate) async fn put(&self, id: &str, body: &Json) -> Json {
        let (status, answer) = self.send(reqwest::Method::PUT, id, Some(body)).await;
        assert!((200..300).contains(&status), "PUT {id}: {status} {answer}");
        for _ in 0..600 {
            let found = self.get(id).await.expect("just made");
            match found["properties"]["provisioningState"].as_str() {
                Some("Succeeded") | None => return found,
                Some("Failed") => panic!("PUT {id} failed: {found}"),
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        panic!("PUT {id} did not end");
    }

    /// DELETE and waits until it is gone.
    pub(crate) async fn delete(&self, id: &str) {
        let (status, body) = self.send(reqwest::Method::DELETE, id, None).await;
        assert!((200..300).contains(&status), "DELETE {id}: {status} {body}");
        for _ in 0..600 {
            if self.get(id).await.is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("DELETE {id} did not end");
    }

    /// A resource group made at the portal.
    pub(crate) async fn group(&self, rg: &str) -> String {
        let id = self.group_id(rg);
        self.put(&id, &json!({ "location": "westeurope" })).await;
        id
    }

    /// Everything the fake's group `rg` holds (ids).
    pub(crate) async fn group_resources(&self, rg: &str) -> Vec<String> {
        let id = format!("{}/resources", self.group_id(rg));
        let (status, body) = self.send(reqwest::Method::GET, &id, None).await;
        assert_eq!(status, 200, "{body}");
        body["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// A name no other test uses.
pub(crate) fn fresh(what: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "dafnck-{what}-{nanos:x}{}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A create through the provider, as the engine asks it.
pub(crate) async fn create<R: dafnck_core::prelude::Resource>(
    provider: &Provider,
    name: &str,
    inputs: &R,
    token: &str,
) -> Result<dafnck_core::provider::Created, dafnck_core::ProviderError> {
    dafnck_core::Provider::create(
        provider,
        dafnck_core::provider::CreateRequest {
            name: name.into(),
            stack: "test".into(),
            type_name: R::TYPE.into(),
            inputs: dafnck_core::Value::from_serialize(inputs).unwrap(),
            token: token.into(),
        },
    )
    .await
}

/// A delete through the provider, as the engine asks it.
pub(crate) async fn delete<R: dafnck_core::prelude::Resource>(
    provider: &Provider,
    name: &str,
    inputs: &R,
    id: &str,
) -> Result<(), dafnck_core::ProviderError> {
    dafnck_core::Provider::delete(
        provider,
        dafnck_core::provider::DeleteRequest {
            name: name.into(),
            stack: "test".into(),
            type_name: R::TYPE.into(),
            id: id.into(),
            inputs: dafnck_core::Value::from_serialize(inputs).unwrap(),
            outputs: dafnck_core::Value::Null,
        },
    )
    .await
}
