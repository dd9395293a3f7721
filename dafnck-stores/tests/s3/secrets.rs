//! No plaintext in S3: every object under the bucket, after applying a
//! program with secrets.

use std::collections::BTreeMap;

#[path = "../common/secrets.rs"]
mod common;

use super::moto;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_any_object() {
    let Some(moto) = moto("secrets").await else {
        return;
    };
    common::apply_with_secrets(moto.store().await).await;
    let mut objects = BTreeMap::new();
    for key in moto.keys().await {
        let bytes = moto.get(&key).await;
        objects.insert(format!("s3://{}/{key}", moto.bucket), bytes);
    }
    assert!(
        objects
            .keys()
            .any(|k| k.ends_with("state/dev/snapshot.json"))
            && objects.keys().any(|k| k.ends_with("/info.json")),
        "{:?}",
        objects.keys()
    );
    common::assert_no_plaintext(&objects);
}
