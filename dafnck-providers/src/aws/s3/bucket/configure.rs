//! Setting a bucket's configuration: versioning, encryption, public
//! access block, lifecycle rules and website, each with its own S3 call,
//! made only where what is found differs from what is declared.

use super::*;

/// Makes the bucket's configuration what `v` declares, given what `found`
/// (`None`: a new bucket, nothing set yet) says it is; tags aside.
pub(super) async fn configure(
    client: &Client,
    s: &Subject<'_>,
    name: &str,
    v: &Bucket,
    found: Option<&Bucket>,
) -> Result<(), AwsError> {
    // A new bucket is unversioned: only turning it on needs a call.
    if found.is_some_and(|b| b.versioning) != v.versioning {
        let status = if v.versioning {
            BucketVersioningStatus::Enabled
        } else {
            BucketVersioningStatus::Suspended
        };
        client
            .put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(VersioningConfiguration::builder().status(status).build())
            .send()
            .await
            .map_err(|e| s.error("PutBucketVersioning", e))?;
    }
    if found.is_none_or(|b| b.encryption != v.encryption) {
        let default = match &v.encryption {
            Encryption::Aes256 => {
                ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256)
            }
            Encryption::Kms { key_id } => ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::AwsKms)
                .set_kms_master_key_id(key_id.clone()),
        }
        .build()
        .map_err(|e| s.invalid(e.to_string()))?;
        let config = ServerSideEncryptionConfiguration::builder()
            .rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(default)
                    .build(),
            )
            .build()
            .map_err(|e| s.invalid(e.to_string()))?;
        client
            .put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(config)
            .send()
            .await
            .map_err(|e| s.error("PutBucketEncryption", e))?;
    }
    if found.is_none_or(|b| b.public_access_block != v.public_access_block) {
        let b = &v.public_access_block;
        client
            .put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(b.block_public_acls)
                    .ignore_public_acls(b.ignore_public_acls)
                    .block_public_policy(b.block_public_policy)
                    .restrict_public_buckets(b.restrict_public_buckets)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| s.error("PutPublicAccessBlock", e))?;
    }
    let current_rules = found.map_or(&[][..], |b| b.lifecycle_rules.as_slice());
    if current_rules != v.lifecycle_rules.as_slice() {
        put_lifecycle(client, s, name, &v.lifecycle_rules).await?;
    }
    if found.map_or(&None, |b| &b.website) != &v.website {
        put_website(client, s, name, v.website.as_ref()).await?;
    }
    Ok(())
}

async fn put_lifecycle(
    client: &Client,
    s: &Subject<'_>,
    name: &str,
    rules: &[LifecycleRule],
) -> Result<(), AwsError> {
    if rules.is_empty() {
        client
            .delete_bucket_lifecycle()
            .bucket(name)
            .send()
            .await
            .map_err(|e| s.error("DeleteBucketLifecycle", e))?;
        return Ok(());
    }
    let rules = rules
        .iter()
        .map(|r| {
            aws_sdk_s3::types::LifecycleRule::builder()
                .id(&r.id)
                .filter(LifecycleRuleFilter::builder().prefix(&r.prefix).build())
                .status(if r.enabled {
                    ExpirationStatus::Enabled
                } else {
                    ExpirationStatus::Disabled
                })
                .expiration(
                    LifecycleExpiration::builder()
                        .days(i32::try_from(r.expiration_days).unwrap_or(i32::MAX))
                        .build(),
                )
                .build()
                .map_err(|e| s.invalid(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let config = BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .map_err(|e| s.invalid(e.to_string()))?;
    client
        .put_bucket_lifecycle_configuration()
        .bucket(name)
        .lifecycle_configuration(config)
        .send()
        .await
        .map_err(|e| s.error("PutBucketLifecycleConfiguration", e))?;
    Ok(())
}

async fn put_website(
    client: &Client,
    s: &Subject<'_>,
    name: &str,
    website: Option<&Website>,
) -> Result<(), AwsError> {
    let Some(w) = website else {
        client
            .delete_bucket_website()
            .bucket(name)
            .send()
            .await
            .map_err(|e| s.error("DeleteBucketWebsite", e))?;
        return Ok(());
    };
    let index = IndexDocument::builder()
        .suffix(&w.index_document)
        .build()
        .map_err(|e| s.invalid(e.to_string()))?;
    let error = w
        .error_document
        .as_ref()
        .map(|key| ErrorDocument::builder().key(key).build())
        .transpose()
        .map_err(|e| s.invalid(e.to_string()))?;
    client
        .put_bucket_website()
        .bucket(name)
        .website_configuration(
            WebsiteConfiguration::builder()
                .index_document(index)
                .set_error_document(error)
                .build(),
        )
        .send()
        .await
        .map_err(|e| s.error("PutBucketWebsite", e))?;
    Ok(())
}
