//! Bad input, a taken bucket name and a non-empty bucket's delete are clear
//! errors naming the resource; a crashed create is adopted by its token.

use dafnck_core::provider::{CreateRequest, DeleteRequest, Provider as _};
use dafnck_core::Value;
use dafnck_providers::gcp::{Bucket, Object};

use super::support::{emulator, fresh_bucket};

fn create(name: &str, type_name: &str, inputs: Value, token: &str) -> CreateRequest {
    CreateRequest {
        name: name.into(),
        stack: "dev".into(),
        type_name: type_name.into(),
        inputs,
        token: token.into(),
    }
}

fn bucket_inputs(name: &str) -> Value {
    Value::from_serialize(&Bucket {
        name: name.into(),
        labels: [("team".to_owned(), "web".to_owned())].into(),
        ..Default::default()
    })
    .unwrap()
}

#[tokio::test]
async fn a_bucket_name_someone_else_took_is_a_clear_error() {
    let Some(gcs) = emulator("a_bucket_name_someone_else_took_is_a_clear_error") else {
        return;
    };
    let name = fresh_bucket("taken");
    gcs.make_bucket(&name).await;
    let e = gcs
        .provider
        .create(create(
            "www",
            "gcp:storage:Bucket",
            bucket_inputs(&name),
            "t1",
        ))
        .await
        .unwrap_err();
    assert!(!e.retryable);
    assert!(
        e.message.starts_with("gcp:storage:Bucket \"www\":"),
        "{}",
        e.message
    );
    assert!(
        e.message
            .contains("is taken by a bucket this resource did not make"),
        "{}",
        e.message
    );
    // Untouched: no label of ours was added.
    let found = gcs.bucket(&name).await.unwrap();
    assert!(found["labels"].get("dafnck-token").is_none(), "{found}");
}

#[tokio::test]
async fn a_crashed_bucket_create_is_adopted_by_its_token() {
    let Some(gcs) = emulator("a_crashed_bucket_create_is_adopted_by_its_token") else {
        return;
    };
    let name = fresh_bucket("adopt");
    let first = gcs
        .provider
        .create(create(
            "www",
            "gcp:storage:Bucket",
            bucket_inputs(&name),
            "run-1/www",
        ))
        .await
        .unwrap();
    // The answer was lost; the engine creates again with the same token.
    let again = gcs
        .provider
        .create(create(
            "www",
            "gcp:storage:Bucket",
            bucket_inputs(&name),
            "run-1/www",
        ))
        .await
        .unwrap();
    assert_eq!(first.id, again.id);
    // Another resource's create (another token) is refused.
    let e = gcs
        .provider
        .create(create(
            "www2",
            "gcp:storage:Bucket",
            bucket_inputs(&name),
            "run-2/www2",
        ))
        .await
        .unwrap_err();
    assert!(e.message.contains("is taken"), "{}", e.message);
    gcs.delete_bucket(&name).await.unwrap();
}

#[tokio::test]
async fn a_non_empty_bucket_is_deleted_only_with_force_destroy() {
    let Some(gcs) = emulator("a_non_empty_bucket_is_deleted_only_with_force_destroy") else {
        return;
    };
    let name = fresh_bucket("full");
    let made = gcs
        .provider
        .create(create(
            "www",
            "gcp:storage:Bucket",
            bucket_inputs(&name),
            "t-full",
        ))
        .await
        .unwrap();
    gcs.put(&name, "a.txt", b"a").await.unwrap();
    let delete = |force: bool| DeleteRequest {
        name: "www".into(),
        stack: "dev".into(),
        type_name: "gcp:storage:Bucket".into(),
        id: made.id.clone(),
        inputs: Value::from_serialize(&Bucket {
            name: name.clone(),
            force_destroy: force,
            ..Default::default()
        })
        .unwrap(),
        outputs: made.outputs.clone(),
    };
    let e = gcs.provider.delete(delete(false)).await.unwrap_err();
    assert!(!e.retryable);
    assert!(e.message.contains("still holds objects"), "{}", e.message);
    assert!(gcs.bucket(&name).await.is_some());
    gcs.provider.delete(delete(true)).await.unwrap();
    assert!(gcs.bucket(&name).await.is_none());
}

#[tokio::test]
async fn bad_inputs_name_the_resource() {
    let Some(gcs) = emulator("bad_inputs_name_the_resource") else {
        return;
    };
    let e = gcs
        .provider
        .create(create(
            "www",
            "gcp:storage:Bucket",
            bucket_inputs("Not_A_Bucket"),
            "t",
        ))
        .await
        .unwrap_err();
    assert!(
        e.message.starts_with("gcp:storage:Bucket \"www\": `name`"),
        "{}",
        e.message
    );
    let object = Object {
        bucket: fresh_bucket("missing").into(),
        name: "a.txt".into(),
        ..Default::default()
    };
    let e = gcs
        .provider
        .create(create(
            "a",
            "gcp:storage:Object",
            Value::from_serialize(&object).unwrap(),
            "t",
        ))
        .await
        .unwrap_err();
    assert!(
        e.message.starts_with("gcp:storage:Object \"a\":"),
        "{}",
        e.message
    );
}
