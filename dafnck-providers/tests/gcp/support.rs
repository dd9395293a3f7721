//! What the gcp provider's tests share: the emulator, a provider pointed at
//! it, fresh bucket names and plain JSON API calls (someone at the
//! console).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use dafnck_core::engine::{Engine, Settings as EngineSettings};
use dafnck_core::prelude::*;
use dafnck_core::state::MemoryStore;
use dafnck_core::testing::fast_retry;
use dafnck_providers::gcp::{Provider, Settings};
use serde_json::Value as Json;

/// The emulator for one test.
pub(crate) struct Emulator {
    pub(crate) url: String,
    pub(crate) provider: Provider,
    http: reqwest::Client,
}

/// The emulator at `DAFNCK_GCS_EMULATOR_URL`; `None` (the test is skipped)
/// when none is running.
pub(crate) fn emulator(test: &str) -> Option<Emulator> {
    let Ok(url) = std::env::var("DAFNCK_GCS_EMULATOR_URL") else {
        let why =
            "the GCS emulator is not running (scripts/servers/gcs.sh start, or scripts/test.sh)";
        if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
            panic!("{test}: {why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
        }
        let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
        return None;
    };
    Some(Emulator {
        provider: Provider::new(Settings::emulator(url.clone(), "dafnck-tests")),
        url,
        http: reqwest::Client::new(),
    })
}

/// A bucket name no other test or run uses.
pub(crate) fn fresh_bucket(what: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "dafnck-{what}-{nanos:x}-{}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Percent-encodes a path segment.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Emulator {
    /// An engine with this provider and an in-memory state.
    pub(crate) fn engine(&self) -> Engine {
        Engine::new(
            "test",
            MemoryStore::new(),
            Providers::new().with(self.provider.clone()),
        )
        .settings(EngineSettings {
            retry: fast_retry(),
            ..EngineSettings::default()
        })
    }

    /// `method path` with a JSON body; the status and the JSON answered.
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Json>,
    ) -> (u16, Json) {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("the emulator answers");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Json::Null))
    }

    /// Makes bucket `name` as someone else would (no token label).
    pub(crate) async fn make_bucket(&self, name: &str) {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/storage/v1/b?project=other",
                Some(serde_json::json!({ "name": name })),
            )
            .await;
        assert_eq!(status, 200, "bucket {name}: {body}");
    }

    /// The bucket's JSON, or `None`.
    pub(crate) async fn bucket(&self, name: &str) -> Option<Json> {
        let (status, body) = self
            .call(
                reqwest::Method::GET,
                &format!("/storage/v1/b/{}", enc(name)),
                None,
            )
            .await;
        (status == 200).then_some(body)
    }

    /// The object's JSON metadata, or `None`.
    pub(crate) async fn object(&self, bucket: &str, name: &str) -> Option<Json> {
        let (status, body) = self
            .call(
                reqwest::Method::GET,
                &format!("/storage/v1/b/{}/o/{}", enc(bucket), enc(name)),
                None,
            )
            .await;
        (status == 200).then_some(body)
    }

    /// Every object in `bucket`: name → generation.
    pub(crate) async fn generations(
        &self,
        bucket: &str,
    ) -> std::collections::BTreeMap<String, String> {
        let mut out = std::collections::BTreeMap::new();
        let mut page = String::new();
        loop {
            let mut path = format!("/storage/v1/b/{}/o?maxResults=1000", enc(bucket));
            if !page.is_empty() {
                path.push_str(&format!("&pageToken={}", enc(&page)));
            }
            let (status, body) = self.call(reqwest::Method::GET, &path, None).await;
            assert_eq!(status, 200, "list {bucket}: {body}");
            for item in body["items"].as_array().into_iter().flatten() {
                out.insert(
                    item["name"].as_str().unwrap().to_owned(),
                    item["generation"].to_string(),
                );
            }
            match body["nextPageToken"].as_str() {
                Some(t) if !t.is_empty() => page = t.to_owned(),
                _ => return out,
            }
        }
    }

    /// Uploads `body` to `bucket`/`name` as someone else would (a simple
    /// media upload, no metadata).
    pub(crate) async fn put(&self, bucket: &str, name: &str, body: &[u8]) -> Result<(), String> {
        let resp = self
            .http
            .post(format!(
                "{}/upload/storage/v1/b/{}/o?uploadType=media&name={}",
                self.url,
                enc(bucket),
                enc(name)
            ))
            .header("content-type", "application/octet-stream")
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!(
                "{}: {}",
                resp.status(),
                resp.text().await.unwrap_or_default()
            ))
        }
    }

    /// Deletes `bucket`/`name`.
    pub(crate) async fn delete_object(&self, bucket: &str, name: &str) -> Result<(), String> {
        let (status, body) = self
            .call(
                reqwest::Method::DELETE,
                &format!("/storage/v1/b/{}/o/{}", enc(bucket), enc(name)),
                None,
            )
            .await;
        match status {
            200 | 204 | 404 => Ok(()),
            _ => Err(format!("{status}: {body}")),
        }
    }

    /// Patches the bucket's JSON.
    pub(crate) async fn patch_bucket(&self, bucket: &str, body: Json) -> Result<(), String> {
        let (status, answer) = self
            .call(
                reqwest::Method::PATCH,
                &format!("/storage/v1/b/{}", enc(bucket)),
                Some(body),
            )
            .await;
        (status == 200)
            .then_some(())
            .ok_or(format!("{status}: {answer}"))
    }

    /// Deletes the (empty) bucket.
    pub(crate) async fn delete_bucket(&self, bucket: &str) -> Result<(), String> {
        let (status, answer) = self
            .call(
                reqwest::Method::DELETE,
                &format!("/storage/v1/b/{}", enc(bucket)),
                None,
            )
            .await;
        match status {
            200 | 204 | 404 => Ok(()),
            _ => Err(format!("{status}: {answer}")),
        }
    }
}
