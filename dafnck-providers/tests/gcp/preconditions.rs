//! What docs/gcp.md says of the emulators, checked with the crate itself:
//! fake-gcs-server honours `ifGenerationMatch` on the upload path
//! `google-cloud-storage` takes for small objects (a multipart upload), so a
//! lock made of generation preconditions can be shown there;
//! gcp-storage-emulator does not.

use std::io::Write;

use google_cloud_auth::credentials::anonymous;
use google_cloud_storage::client::Storage;

use super::support::fresh_bucket;

async fn storage(url: &str) -> Storage {
    Storage::builder()
        .with_endpoint(url)
        .with_credentials(anonymous::Builder::new().build())
        .build()
        .await
        .unwrap()
}

async fn make_bucket(url: &str, name: &str) {
    let resp = reqwest::Client::new()
        .post(format!("{url}/storage/v1/b?project=p"))
        .json(&serde_json::json!({ "name": name }))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
}

/// Uploads `body` with `ifGenerationMatch=generation`: the new generation,
/// or the HTTP status of the refusal.
async fn put(
    s: &Storage,
    bucket: &str,
    generation: i64,
    body: &'static str,
) -> Result<i64, Option<u16>> {
    s.write_object(format!("projects/_/buckets/{bucket}"), "lock.json", body)
        .set_if_generation_match(generation)
        // As the provider and the store upload: the checksum goes with the
        // metadata part (without it the crate appends a third, trailing
        // checksum part, which fake-gcs-server stores as content).
        .with_known_crc32c(crc32c::crc32c(body.as_bytes()))
        .send_unbuffered()
        .await
        .map(|o| o.generation)
        .map_err(|e| e.http_status_code())
}

fn url(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) => Some(url),
        Err(_) if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") => {
            panic!("{test}: {var} is not set (scripts/servers/gcs.sh start), and DAFNCK_REQUIRE_SERVERS=1 requires it")
        }
        Err(_) => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: {var} is not set (scripts/servers/gcs.sh start)"
            );
            None
        }
    }
}

#[tokio::test]
async fn fake_gcs_server_honours_generation_preconditions_on_the_crates_uploads() {
    let Some(url) = url(
        "DAFNCK_FAKE_GCS_URL",
        "fake_gcs_server_honours_generation_preconditions_on_the_crates_uploads",
    ) else {
        return;
    };
    let s = storage(&url).await;
    let bucket = fresh_bucket("pre");
    make_bucket(&url, &bucket).await;
    let first = put(&s, &bucket, 0, "one").await.expect("created");
    assert_eq!(
        put(&s, &bucket, 0, "two").await,
        Err(Some(412)),
        "create-only refused"
    );
    assert_eq!(
        put(&s, &bucket, first + 1, "three").await,
        Err(Some(412)),
        "stale generation refused"
    );
    let second = put(&s, &bucket, first, "four")
        .await
        .expect("replaced at its generation");
    assert_ne!(second, first);
    assert_eq!(
        put(&s, &bucket, first, "five").await,
        Err(Some(412)),
        "the old generation is stale now"
    );
}

#[tokio::test]
async fn gcp_storage_emulator_ignores_generation_preconditions() {
    let Some(url) = url(
        "DAFNCK_GCS_EMULATOR_URL",
        "gcp_storage_emulator_ignores_generation_preconditions",
    ) else {
        return;
    };
    let s = storage(&url).await;
    let bucket = fresh_bucket("pre");
    make_bucket(&url, &bucket).await;
    put(&s, &bucket, 0, "one").await.expect("created");
    // GCS would answer 412 here; this emulator overwrites.
    assert!(put(&s, &bucket, 0, "two").await.is_ok());
}
