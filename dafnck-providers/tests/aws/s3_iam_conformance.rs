//! The S3 and IAM types pass the provider conformance suite against moto.
//! What a sample needs around it (a bucket for objects, a role and two
//! policies for attachments and profiles) is made with the SDK first;
//! changes and deletes out of band are the SDK's, as someone at the
//! console would make them.

use std::collections::BTreeMap;

use async_trait::async_trait;
use dafnck_core::provider::Observed;
use dafnck_core::testing::conformance::{conformance, OutOfBand, Sample};
use dafnck_providers::aws::iam::{
    InstanceProfile, Policy, PolicyArn, Role, RoleName, RolePolicyAttachment,
};
use dafnck_providers::aws::s3::{
    Bucket, BucketName, BucketObject, Content, LifecycleRule, Website,
};
use dafnck_providers::aws::sdk::iam::Client as IamClient;
use dafnck_providers::aws::sdk::s3::Client as S3Client;

use super::s3_iam_stack::{clients, TRUST};
use super::support::moto;

const READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
const WRITE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject"],"Resource":"*"}]}"#;
const LIST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#;

/// Someone at the console, for one type.
struct Console {
    s3: S3Client,
    iam: IamClient,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    Bucket,
    Object,
    Role,
    Policy,
    Attachment,
    Profile,
}

fn show(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

fn output<'a>(found: &'a Observed, field: &str) -> &'a str {
    found
        .outputs
        .get(field)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
}

#[async_trait]
impl OutOfBand for Console {
    async fn change(&self, found: &Observed) -> Result<bool, String> {
        let id = found.id.clone();
        match self.kind {
            // The updated bucket is versioned: suspend it.
            Kind::Bucket => {
                use dafnck_providers::aws::sdk::s3::types::{
                    BucketVersioningStatus, VersioningConfiguration,
                };
                self.s3
                    .put_bucket_versioning()
                    .bucket(id)
                    .versioning_configuration(
                        VersioningConfiguration::builder()
                            .status(BucketVersioningStatus::Suspended)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(show)?;
            }
            Kind::Object => {
                let (bucket, key) = id.split_once('/').unwrap();
                self.s3
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .body(b"changed by hand".to_vec().into())
                    .send()
                    .await
                    .map_err(show)?;
            }
            Kind::Role => {
                let trust = TRUST.replace("ec2.amazonaws.com", "lambda.amazonaws.com");
                self.iam
                    .update_assume_role_policy()
                    .role_name(id)
                    .policy_document(trust)
                    .send()
                    .await
                    .map_err(show)?;
            }
            Kind::Policy => {
                self.iam
                    .create_policy_version()
                    .policy_arn(id)
                    .policy_document(LIST)
                    .set_as_default(true)
                    .send()
                    .await
                    .map_err(show)?;
            }
            // Nothing of an attachment changes but whether it exists.
            Kind::Attachment => return Ok(false),
            Kind::Profile => {
                let tag = dafnck_providers::aws::sdk::iam::types::Tag::builder()
                    .key("changed")
                    .value("by hand")
                    .build()
                    .unwrap();
                self.iam
                    .tag_instance_profile()
                    .instance_profile_name(id)
                    .tags(tag)
                    .send()
                    .await
                    .map_err(show)?;
            }
        }
        Ok(true)
    }

    async fn delete(&self, found: &Observed) -> Result<(), String> {
        let id = found.id.clone();
        match self.kind {
            Kind::Bucket => drop(
                self.s3
                    .delete_bucket()
                    .bucket(id)
                    .send()
                    .await
                    .map_err(show)?,
            ),
            Kind::Object => {
                let (bucket, key) = id.split_once('/').unwrap();
                drop(
                    self.s3
                        .delete_object()
                        .bucket(bucket)
                        .key(key)
                        .send()
                        .await
                        .map_err(show)?,
                )
            }
            Kind::Role => drop(
                self.iam
                    .delete_role()
                    .role_name(id)
                    .send()
                    .await
                    .map_err(show)?,
            ),
            Kind::Policy => drop(
                self.iam
                    .delete_policy()
                    .policy_arn(id)
                    .send()
                    .await
                    .map_err(show)?,
            ),
            Kind::Attachment => drop(
                self.iam
                    .detach_role_policy()
                    .role_name(output(found, "role"))
                    .policy_arn(output(found, "policy_arn"))
                    .send()
                    .await
                    .map_err(show)?,
            ),
            Kind::Profile => {
                for role in ["conformance-role"] {
                    let _ = self
                        .iam
                        .remove_role_from_instance_profile()
                        .instance_profile_name(&id)
                        .role_name(role)
                        .send()
                        .await;
                }
                drop(
                    self.iam
                        .delete_instance_profile()
                        .instance_profile_name(id)
                        .send()
                        .await
                        .map_err(show)?,
                )
            }
        }
        Ok(())
    }
}

fn tags(version: &str) -> BTreeMap<String, String> {
    [("v".to_string(), version.to_string())].into()
}

#[tokio::test]
async fn the_s3_and_iam_types_pass_the_provider_conformance_suite() {
    let Some(m) = moto("the_s3_and_iam_types_pass_the_provider_conformance_suite").await else {
        return;
    };
    let (s3, iam) = clients(&m).await;
    let console = |kind| Console {
        s3: s3.clone(),
        iam: iam.clone(),
        kind,
    };
    // What the samples stand in.
    s3.create_bucket()
        .bucket("conformance-objects")
        .send()
        .await
        .unwrap();
    iam.create_role()
        .role_name("conformance-role")
        .assume_role_policy_document(TRUST)
        .send()
        .await
        .unwrap();
    let mut arns = Vec::new();
    for (name, doc) in [("conformance-read", READ), ("conformance-write", WRITE)] {
        let out = iam
            .create_policy()
            .policy_name(name)
            .policy_document(doc)
            .send()
            .await
            .unwrap();
        arns.push(out.policy().unwrap().arn().unwrap().to_owned());
    }
    let role = || RoleName("conformance-role".into()).into();

    let samples = vec![
        Sample::new(
            Bucket {
                tags: tags("1"),
                ..Default::default()
            },
            Bucket {
                versioning: true,
                lifecycle_rules: vec![LifecycleRule {
                    id: "tmp".into(),
                    prefix: "tmp/".into(),
                    expiration_days: 7,
                    ..Default::default()
                }],
                website: Some(Website {
                    index_document: "index.html".into(),
                    error_document: Some("error.html".into()),
                }),
                tags: tags("2"),
                ..Default::default()
            },
            console(Kind::Bucket),
        ),
        Sample::new(
            BucketObject {
                bucket: BucketName("conformance-objects".into()).into(),
                key: "a/b.txt".into(),
                content: Content::text("one"),
                content_type: Some("text/plain".into()),
            },
            BucketObject {
                bucket: BucketName("conformance-objects".into()).into(),
                key: "a/b.txt".into(),
                content: Content::text("two"),
                content_type: None,
            },
            console(Kind::Object),
        ),
        Sample::new(
            Role {
                assume_role_policy: TRUST.into(),
                description: "one".into(),
                tags: tags("1"),
                ..Default::default()
            },
            Role {
                assume_role_policy: TRUST.into(),
                description: "two".into(),
                max_session_duration: 7200,
                tags: tags("2"),
                ..Default::default()
            },
            console(Kind::Role),
        ),
        Sample::new(
            Policy {
                document: READ.into(),
                tags: tags("1"),
                ..Default::default()
            },
            Policy {
                document: WRITE.into(),
                tags: tags("2"),
                ..Default::default()
            },
            console(Kind::Policy),
        ),
        Sample::new(
            RolePolicyAttachment {
                role: role(),
                policy_arn: PolicyArn(arns[0].clone()).into(),
            },
            RolePolicyAttachment {
                role: role(),
                policy_arn: PolicyArn(arns[1].clone()).into(),
            },
            console(Kind::Attachment),
        ),
        Sample::new(
            InstanceProfile {
                role: Some(role()),
                tags: tags("1"),
                ..Default::default()
            },
            InstanceProfile {
                role: None,
                tags: tags("2"),
                ..Default::default()
            },
            console(Kind::Profile),
        ),
    ];
    conformance(&m.provider, &samples).await.unwrap();
}

/// A create run again with its token (the engine's retry after an answer
/// was lost) finds the object the first one made; an object of the
/// declared name that another create made is refused, naming the resource.
#[tokio::test]
async fn a_create_retried_with_its_token_finds_its_object_and_a_foreign_name_is_refused() {
    use dafnck_core::provider::CreateRequest;
    use dafnck_core::{Provider, Resource, Value};

    let Some(m) =
        moto("a_create_retried_with_its_token_finds_its_object_and_a_foreign_name_is_refused")
            .await
    else {
        return;
    };
    let (s3, iam) = clients(&m).await;
    fn request<R: Resource>(inputs: &R, token: &str) -> CreateRequest {
        CreateRequest {
            name: "twice".into(),
            stack: "test".into(),
            type_name: R::TYPE.into(),
            inputs: Value::from_serialize(inputs).unwrap(),
            token: token.into(),
        }
    }
    let role = Role {
        assume_role_policy: TRUST.into(),
        ..Default::default()
    };
    let samples = [
        request(&role, "t1"),
        request(
            &Policy {
                document: READ.into(),
                ..Default::default()
            },
            "t1",
        ),
        request(&InstanceProfile::default(), "t1"),
        request(&Bucket::default(), "t1"),
    ];
    for req in samples {
        let first = m.provider.create(req.clone()).await.unwrap();
        let again = m.provider.create(req.clone()).await.unwrap();
        assert_eq!(first.id, again.id, "{}", req.type_name);
    }
    assert_eq!(iam.list_roles().send().await.unwrap().roles().len(), 1);
    assert_eq!(s3.list_buckets().send().await.unwrap().buckets().len(), 1);
    let profiles = iam.list_instance_profiles().send().await.unwrap();
    assert_eq!(profiles.instance_profiles().len(), 1);
    let policies = iam
        .list_policies()
        .scope(dafnck_providers::aws::sdk::iam::types::PolicyScopeType::Local)
        .send()
        .await
        .unwrap();
    assert_eq!(policies.policies().len(), 1);

    // A role named `taken` made by hand is not this resource's.
    iam.create_role()
        .role_name("taken")
        .assume_role_policy_document(TRUST)
        .send()
        .await
        .unwrap();
    let named = Role {
        name: Some("taken".into()),
        ..role
    };
    let e = m.provider.create(request(&named, "t2")).await.unwrap_err();
    assert!(!e.retryable);
    assert!(
        e.message.starts_with("aws:iam:Role \"twice\"")
            && e.message
                .contains("already exists and was not made by this resource"),
        "{}",
        e.message
    );
    // So is an untagged bucket of a declared name.
    s3.create_bucket().bucket("taken").send().await.unwrap();
    let e = m
        .provider
        .create(request(
            &Bucket {
                name: Some("taken".into()),
                ..Default::default()
            },
            "t2",
        ))
        .await
        .unwrap_err();
    assert!(
        e.message.starts_with("aws:s3:Bucket \"twice\"") && e.message.contains("import it"),
        "{}",
        e.message
    );
}
