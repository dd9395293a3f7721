//! A stack of IAM and S3 objects against moto: up, a preview with no
//! change, changes made outside the program reported as drift (and
//! repaired by `up --refresh`), destroy with nothing left, counted with
//! the AWS APIs.

use dafnck_core::drift::DriftKind;
use dafnck_core::prelude::*;
use dafnck_providers::aws::iam::{
    InstanceProfile, InstanceProfileOutputs, Policy, PolicyOutputs, Role, RoleOutputs,
    RolePolicyAttachment,
};
use dafnck_providers::aws::s3::{
    Bucket, BucketObject, BucketObjectOutputs, BucketOutputs, Content, LifecycleRule,
};
use dafnck_providers::aws::sdk::iam::types::PolicyScopeType;
use dafnck_providers::aws::sdk::iam::Client as IamClient;
use dafnck_providers::aws::sdk::s3::types::{BucketVersioningStatus, VersioningConfiguration};
use dafnck_providers::aws::sdk::s3::Client as S3Client;

use crate::support::{moto, outputs, sdk_config, Moto};

/// A trust policy for EC2 instances.
pub(crate) const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// S3 (path-style, as moto needs) and IAM clients for the moto server.
pub(crate) async fn clients(m: &Moto) -> (S3Client, IamClient) {
    let config = sdk_config(&m.url).await;
    let s3 = dafnck_providers::aws::sdk::s3::config::Builder::from(&config)
        .force_path_style(true)
        .build();
    (S3Client::from_conf(s3), IamClient::new(&config))
}

/// The assets policy, written as a person would: spaced out, one action
/// as a list. AWS keeps its own form; the provider compares them as JSON.
const ASSETS: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    { "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::*" }
  ]
}"#;

fn program(stack: &mut Stack) -> dafnck_core::Result<()> {
    let role = stack.add(
        "web-role",
        Role {
            assume_role_policy: TRUST.into(),
            description: "the web servers".into(),
            ..Default::default()
        },
    );
    let policy = stack.add(
        "assets-read",
        Policy {
            document: ASSETS.into(),
            description: "read the assets".into(),
            ..Default::default()
        },
    );
    stack.add(
        "web-assets-read",
        RolePolicyAttachment {
            role: role.out().name,
            policy_arn: policy.out().arn,
        },
    );
    stack.add(
        "web-profile",
        InstanceProfile {
            role: Some(role.out().name),
            ..Default::default()
        },
    );
    let bucket = stack.add(
        "assets",
        Bucket {
            versioning: true,
            lifecycle_rules: vec![LifecycleRule {
                id: "expire-tmp".into(),
                prefix: "tmp/".into(),
                expiration_days: 7,
                ..Default::default()
            }],
            tags: [("team".to_owned(), "web".to_owned())].into(),
            ..Default::default()
        },
    );
    stack.add(
        "index",
        BucketObject {
            bucket: bucket.out().bucket,
            key: "index.html".into(),
            content: Content::text("<h1>hello</h1>"),
            content_type: Some("text/html".into()),
        },
    );
    Ok(())
}

/// How many of each kind of object the account holds.
async fn counts(s3: &S3Client, iam: &IamClient) -> [(&'static str, usize); 4] {
    let buckets = s3.list_buckets().send().await.unwrap().buckets().len();
    let roles = iam.list_roles().send().await.unwrap().roles().len();
    let policies = iam
        .list_policies()
        .scope(PolicyScopeType::Local)
        .send()
        .await
        .unwrap()
        .policies()
        .len();
    let profiles = iam
        .list_instance_profiles()
        .send()
        .await
        .unwrap()
        .instance_profiles()
        .len();
    [
        ("buckets", buckets),
        ("roles", roles),
        ("policies", policies),
        ("instance profiles", profiles),
    ]
}

#[tokio::test]
async fn an_iam_and_s3_stack_goes_up_drifts_and_is_destroyed() {
    let Some(m) = moto("an_iam_and_s3_stack_goes_up_drifts_and_is_destroyed").await else {
        return;
    };
    let (s3, iam) = clients(&m).await;
    let engine = m.engine();
    let report = engine.up(program, false).await.unwrap();
    assert!(report.is_success());
    assert_eq!(
        counts(&s3, &iam).await,
        [
            ("buckets", 1),
            ("roles", 1),
            ("policies", 1),
            ("instance profiles", 1)
        ]
    );

    // What AWS has.
    let role: RoleOutputs = outputs(&engine, "web-role").await;
    let policy: PolicyOutputs = outputs(&engine, "assets-read").await;
    let profile: InstanceProfileOutputs = outputs(&engine, "web-profile").await;
    let bucket: BucketOutputs = outputs(&engine, "assets").await;
    let object: BucketObjectOutputs = outputs(&engine, "index").await;
    let attached = iam
        .list_attached_role_policies()
        .role_name(role.name.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(
        attached.attached_policies()[0].policy_arn(),
        Some(policy.arn.as_str())
    );
    let p = iam
        .get_instance_profile()
        .instance_profile_name(&profile.name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        p.instance_profile().unwrap().roles()[0].role_name(),
        role.name.as_str()
    );
    let body = s3
        .get_object()
        .bucket(bucket.bucket.as_str())
        .key("index.html")
        .send()
        .await
        .unwrap();
    assert_eq!(body.content_type(), Some("text/html"));
    let bytes = body.body.collect().await.unwrap().into_bytes();
    assert_eq!(&bytes[..], b"<h1>hello</h1>");
    assert!(object.version_id.is_some(), "a versioned bucket's object");

    // Read back: AWS's form of the policies is no drift, and nothing is to
    // do.
    let drift = engine.drift().await.unwrap();
    assert!(!drift.has_drift(), "{}", drift.render());
    let preview = engine.preview(program, true).await.unwrap();
    assert!(!preview.plan.has_changes(), "{}", preview.plan.render());

    // An unchanged object is not uploaded again: its version stays.
    engine.up(program, true).await.unwrap();
    let again: BucketObjectOutputs = outputs(&engine, "index").await;
    assert_eq!(again.version_id, object.version_id);

    // Someone suspends versioning and widens the policy.
    s3.put_bucket_versioning()
        .bucket(bucket.bucket.as_str())
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap();
    iam.create_policy_version()
        .policy_arn(policy.arn.as_str())
        .policy_document(ASSETS.replace("s3:GetObject", "s3:*"))
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    let drift = engine.drift().await.unwrap();
    assert_eq!(drift.drifted.len(), 2, "{}", drift.render());
    let b = drift.get("assets").expect("the bucket drifted");
    assert_eq!(b.kind, DriftKind::Changed);
    assert_eq!(b.fields.len(), 1);
    assert_eq!(b.fields[0].field, "versioning");
    let p = drift.get("assets-read").expect("the policy drifted");
    assert_eq!(p.fields.len(), 1);
    assert_eq!(p.fields[0].field, "document");
    assert!(p.fields[0].actual.render().contains("s3:*"));

    // up --refresh puts both back: a new default version, versioning on.
    engine.up(program, true).await.unwrap();
    let drift = engine.drift().await.unwrap();
    assert!(!drift.has_drift(), "{}", drift.render());
    let versions = iam
        .list_policy_versions()
        .policy_arn(policy.arn.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(versions.versions().len(), 3);

    engine.destroy().await.unwrap();
    assert_eq!(
        counts(&s3, &iam).await,
        [
            ("buckets", 0),
            ("roles", 0),
            ("policies", 0),
            ("instance profiles", 0)
        ]
    );
}

/// A policy updated more often than IAM keeps versions: the oldest are
/// deleted, the newest is the default.
#[tokio::test]
async fn policy_versions_past_iam_s_limit_are_pruned() {
    let Some(m) = moto("policy_versions_past_iam_s_limit_are_pruned").await else {
        return;
    };
    let (_, iam) = clients(&m).await;
    let engine = m.engine();
    let version = |n: usize| {
        move |stack: &mut Stack| -> dafnck_core::Result<()> {
            stack.add(
                "p",
                Policy {
                    name: Some("pruned".into()),
                    document: ASSETS.replace("arn:aws:s3:::*", &format!("arn:aws:s3:::b{n}")),
                    ..Default::default()
                },
            );
            Ok(())
        }
    };
    for n in 0..8 {
        engine.up(version(n), false).await.unwrap();
    }
    let p: PolicyOutputs = outputs(&engine, "p").await;
    assert_eq!(p.default_version_id, "v8");
    let versions = iam
        .list_policy_versions()
        .policy_arn(p.arn.as_str())
        .send()
        .await
        .unwrap();
    let mut ids: Vec<&str> = versions
        .versions()
        .iter()
        .filter_map(|v| v.version_id())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["v4", "v5", "v6", "v7", "v8"]);
    assert!(!engine.drift().await.unwrap().has_drift());
    engine.destroy().await.unwrap();
}

/// An object from a local file: hashed when declared, uploaded again only
/// when the file changed.
#[tokio::test]
async fn an_object_from_a_file_is_uploaded_again_only_when_the_file_changes() {
    let Some(m) = moto("an_object_from_a_file_is_uploaded_again_only_when_the_file_changes").await
    else {
        return;
    };
    let (s3, _) = clients(&m).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.js");
    std::fs::write(&path, "console.log(1)").unwrap();
    let program = |path: std::path::PathBuf| {
        move |stack: &mut Stack| -> dafnck_core::Result<()> {
            let bucket = stack.add(
                "assets",
                Bucket {
                    versioning: true,
                    ..Default::default()
                },
            );
            stack.add(
                "app",
                BucketObject {
                    bucket: bucket.out().bucket,
                    key: "js/app.js".into(),
                    content: Content::file(&path).expect("the file is there"),
                    content_type: Some("application/javascript".into()),
                },
            );
            Ok(())
        }
    };
    let engine = m.engine();
    engine.up(program(path.clone()), false).await.unwrap();
    let first: BucketObjectOutputs = outputs(&engine, "app").await;

    // The same file: nothing to do, no new version.
    let preview = engine.preview(program(path.clone()), true).await.unwrap();
    assert!(!preview.plan.has_changes(), "{}", preview.plan.render());
    engine.up(program(path.clone()), true).await.unwrap();
    let same: BucketObjectOutputs = outputs(&engine, "app").await;
    assert_eq!(same.version_id, first.version_id);

    // A changed file: a new version with the new content.
    std::fs::write(&path, "console.log(2)").unwrap();
    let preview = engine.preview(program(path.clone()), true).await.unwrap();
    assert!(preview.plan.has_changes());
    engine.up(program(path.clone()), true).await.unwrap();
    let second: BucketObjectOutputs = outputs(&engine, "app").await;
    assert_ne!(second.version_id, first.version_id);
    assert_ne!(second.sha256, first.sha256);
    let got = s3
        .get_object()
        .bucket(second.bucket.as_str())
        .key("js/app.js")
        .send()
        .await
        .unwrap();
    let bytes = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(&bytes[..], b"console.log(2)");

    // Destroy deletes both versions, then the bucket.
    engine.destroy().await.unwrap();
    assert!(s3.list_buckets().send().await.unwrap().buckets().is_empty());
}
