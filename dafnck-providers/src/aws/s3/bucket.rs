//! [`Bucket`] (`aws:s3:Bucket`): an S3 bucket with its versioning,
//! encryption, public access block, lifecycle rules, website and tags.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, BucketVersioningStatus,
    CreateBucketConfiguration, ErrorDocument, ExpirationStatus, IndexDocument, LifecycleExpiration,
    LifecycleRuleFilter, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, VersioningConfiguration, WebsiteConfiguration,
};
use aws_sdk_s3::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Made, Read, ReadResult, ResourceHandler, Update, UpdateResult,
};
use dafnck_core::provider::DiffRequest;
use dafnck_core::state::CallKind;

use super::super::error::{AwsError, Subject};
use super::super::tags::{self, client_token, TOKEN_TAG};
use super::super::{failed_after_create, lookup, one_call, Aws};
use super::{bucket_name, unless_absent, versioning_in_body};

mod configure;

use configure::configure;

ids! {
    /// The name of a [`Bucket`] (its identity in S3, and its id).
    BucketName;
}

/// An S3 bucket.
///
/// - `name`: its name, global across all AWS accounts (3 to 63 lowercase
///   letters, digits, hyphens and dots); `None` (the default) derives one
///   from the resource's name and 8 hex digits that differ from create to
///   create. Changing it replaces the bucket.
/// - `versioning`: whether versioning is on; turning it off suspends it
///   (S3 cannot turn it off once on). Set in place.
/// - `encryption`: default server-side encryption (SSE-S3, AWS's default,
///   unless set). Set in place.
/// - `public_access_block`: the bucket's public access block (all four
///   blocks on by default, as AWS makes new buckets). Set in place.
/// - `lifecycle_rules`: expiration rules, authoritative (rules added
///   outside the program are removed). Set in place.
/// - `website`: static website hosting (index and error documents), or
///   `None`. Set in place.
/// - `tags`: the user's tags; set in place.
///
/// # Drift
/// `read` reports every field as S3 has it: versioning suspended outside
/// the program reads as `versioning: false`, a rule, a website or a tag
/// added or removed reads as such.
///
/// # Caveats
/// CreateBucket takes no tags, so the bucket is tagged (with its
/// `dafnck:token`) by a second call. After a crash between the two, the
/// next run finds a bucket with the derived name and no tags at all, and
/// adopts it as the one its create made; with a declared `name` it cannot
/// tell that bucket from anyone's, and says so (import it). A bucket that holds
/// objects (or object versions) is not deleted: S3 refuses, and the error
/// says so; declare the objects as [`BucketObject`](super::BucketObject)s
/// so the engine deletes them first.
///
/// ```
/// use dafnck_core::prelude::*;
/// use dafnck_providers::aws::s3::{Bucket, LifecycleRule};
///
/// fn infra(stack: &mut Stack) {
///     stack.add("logs", Bucket {
///         versioning: true,
///         lifecycle_rules: vec![LifecycleRule {
///             id: "expire-tmp".into(),
///             prefix: "tmp/".into(),
///             expiration_days: 7,
///             ..Default::default()
///         }],
///         ..Default::default()
///     });
/// }
/// # let _ = infra;
/// ```
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:s3:Bucket", outputs = BucketOutputs)]
pub struct Bucket {
    /// Its name; `None` derives one. Changing it replaces the bucket.
    #[resource(force_new)]
    pub name: Option<String>,
    /// Whether versioning is on (off: suspended).
    pub versioning: bool,
    /// Default server-side encryption.
    pub encryption: Encryption,
    /// The public access block.
    pub public_access_block: PublicAccessBlock,
    /// Expiration rules.
    pub lifecycle_rules: Vec<LifecycleRule>,
    /// Static website hosting.
    pub website: Option<Website>,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// A [`Bucket`]'s default server-side encryption.
#[derive(Declare, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Encryption {
    /// SSE-S3: keys S3 manages (AES-256), AWS's default.
    #[default]
    Aes256,
    /// SSE-KMS: a KMS key (`None`: the account's `aws/s3` key).
    Kms {
        /// The key's id or ARN.
        key_id: Option<String>,
    },
}

/// A [`Bucket`]'s public access block: each `true` blocks one way of making
/// the bucket public.
#[derive(Declare, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default)]
pub struct PublicAccessBlock {
    /// Refuse new public ACLs.
    pub block_public_acls: bool,
    /// Ignore public ACLs.
    pub ignore_public_acls: bool,
    /// Refuse public bucket policies.
    pub block_public_policy: bool,
    /// Restrict access under a public policy to AWS services and the
    /// owner's account.
    pub restrict_public_buckets: bool,
}

impl Default for PublicAccessBlock {
    /// All four blocks on, as AWS makes new buckets.
    fn default() -> Self {
        PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: true,
        }
    }
}

/// A lifecycle rule of a [`Bucket`]: objects under `prefix` expire
/// `expiration_days` after they were made.
#[derive(Declare, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default)]
pub struct LifecycleRule {
    /// The rule's id, unique in the bucket.
    pub id: String,
    /// The keys it applies to (empty: every key).
    pub prefix: String,
    /// Days after which objects expire (at least 1).
    pub expiration_days: u32,
    /// Whether the rule is in force (default `true`).
    pub enabled: bool,
}

impl Default for LifecycleRule {
    fn default() -> Self {
        LifecycleRule {
            id: String::new(),
            prefix: String::new(),
            expiration_days: 0,
            enabled: true,
        }
    }
}

/// A [`Bucket`]'s static website hosting.
#[derive(Declare, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(default)]
pub struct Website {
    /// The object served for a directory (`index.html`).
    pub index_document: String,
    /// The object served on an error (`error.html`), if any.
    pub error_document: Option<String>,
}

/// What a [`Bucket`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct BucketOutputs {
    /// Its name (and id), for [`BucketObject::bucket`](super::BucketObject::bucket).
    pub bucket: BucketName,
    /// Its ARN (`arn:aws:s3:::NAME`).
    pub arn: String,
    /// Its region.
    pub region: String,
}

/// Whether the bucket exists (and this account may see it).
async fn exists(client: &Client, s: &Subject<'_>, name: &str) -> Result<bool, AwsError> {
    match client.head_bucket().bucket(name).send().await {
        Ok(_) => Ok(true),
        Err(e) => match s.error("HeadBucket", e) {
            e if e.is_not_found() => Ok(false),
            e if matches!(e.code(), Some("Forbidden" | "AccessDenied" | "403")) => {
                Err(s.invalid(format!(
                    "a bucket named {name:?} exists and this account may not use it (bucket \
                     names are global across all AWS accounts): choose another `name`, or \
                     leave it unset"
                )))
            }
            e => Err(e),
        },
    }
}

/// All the bucket's tags, by key (none: empty).
async fn all_tags(
    client: &Client,
    s: &Subject<'_>,
    name: &str,
) -> Result<BTreeMap<String, String>, AwsError> {
    let out = unless_absent(
        s,
        "GetBucketTagging",
        &["NoSuchTagSet"],
        client.get_bucket_tagging().bucket(name).send().await,
    )?;
    Ok(out
        .map(|out| {
            out.tag_set()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect()
        })
        .unwrap_or_default())
}

/// The bucket as S3 has it (`None`: there is no such bucket).
async fn observe(
    client: &Client,
    s: &Subject<'_>,
    name: &str,
    declared: Option<String>,
) -> Result<Option<(Bucket, BTreeMap<String, String>)>, AwsError> {
    if !exists(client, s, name).await? {
        return Ok(None);
    }
    let versioning = match client.get_bucket_versioning().bucket(name).send().await {
        Ok(out) => out.status().cloned(),
        Err(e) => match versioning_in_body(&e) {
            Some(status) => status,
            None => return Err(s.error("GetBucketVersioning", e)),
        },
    };
    let encryption = unless_absent(
        s,
        "GetBucketEncryption",
        &["ServerSideEncryptionConfigurationNotFoundError"],
        client.get_bucket_encryption().bucket(name).send().await,
    )?;
    let encryption = encryption
        .as_ref()
        .and_then(|e| e.server_side_encryption_configuration())
        .and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default())
        .map_or(Encryption::Aes256, |d| match d.sse_algorithm() {
            ServerSideEncryption::Aes256 => Encryption::Aes256,
            _ => Encryption::Kms {
                key_id: d.kms_master_key_id().map(str::to_owned),
            },
        });
    let block = unless_absent(
        s,
        "GetPublicAccessBlock",
        &["NoSuchPublicAccessBlockConfiguration"],
        client.get_public_access_block().bucket(name).send().await,
    )?;
    let block = block
        .as_ref()
        .and_then(|b| b.public_access_block_configuration())
        .map_or(
            PublicAccessBlock {
                block_public_acls: false,
                ignore_public_acls: false,
                block_public_policy: false,
                restrict_public_buckets: false,
            },
            |b| PublicAccessBlock {
                block_public_acls: b.block_public_acls().unwrap_or_default(),
                ignore_public_acls: b.ignore_public_acls().unwrap_or_default(),
                block_public_policy: b.block_public_policy().unwrap_or_default(),
                restrict_public_buckets: b.restrict_public_buckets().unwrap_or_default(),
            },
        );
    let lifecycle = unless_absent(
        s,
        "GetBucketLifecycleConfiguration",
        &["NoSuchLifecycleConfiguration"],
        client
            .get_bucket_lifecycle_configuration()
            .bucket(name)
            .send()
            .await,
    )?;
    let lifecycle_rules = lifecycle
        .as_ref()
        .map(|l| {
            l.rules()
                .iter()
                .map(|r| LifecycleRule {
                    id: r.id().unwrap_or_default().to_owned(),
                    prefix: r
                        .filter()
                        .and_then(|f| f.prefix())
                        .unwrap_or_default()
                        .to_owned(),
                    expiration_days: r
                        .expiration()
                        .and_then(|e| e.days())
                        .and_then(|d| u32::try_from(d).ok())
                        .unwrap_or_default(),
                    enabled: r.status() == &ExpirationStatus::Enabled,
                })
                .collect()
        })
        .unwrap_or_default();
    let website = unless_absent(
        s,
        "GetBucketWebsite",
        &["NoSuchWebsiteConfiguration"],
        client.get_bucket_website().bucket(name).send().await,
    )?;
    let website = website.and_then(|w| {
        Some(Website {
            index_document: w.index_document()?.suffix().to_owned(),
            error_document: w.error_document().map(|e| e.key().to_owned()),
        })
    });
    let tags = all_tags(client, s, name).await?;
    let bucket = Bucket {
        name: declared.map(|_| name.to_owned()),
        versioning: versioning == Some(BucketVersioningStatus::Enabled),
        encryption,
        public_access_block: block,
        lifecycle_rules,
        website,
        tags: tags
            .iter()
            .filter(|(k, _)| tags::is_users(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    Ok(Some((bucket, tags)))
}

/// Checks what S3 would refuse, before any call.
fn check(s: &Subject<'_>, v: &Bucket) -> Result<(), AwsError> {
    tags::check_user_tags(s, &v.tags)?;
    if let Some(name) = &v.name {
        let valid = (3..=63).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !valid {
            return Err(s.invalid(format!(
                "`name` {name:?} is not a bucket name (3 to 63 lowercase letters, digits, \
                 hyphens and dots, starting and ending with a letter or digit)"
            )));
        }
    }
    let mut ids = std::collections::BTreeSet::new();
    for rule in &v.lifecycle_rules {
        if rule.id.is_empty() || !ids.insert(rule.id.as_str()) {
            return Err(s.invalid(format!(
                "every lifecycle rule needs an `id` of its own (got {:?})",
                rule.id
            )));
        }
        if rule.expiration_days == 0 {
            return Err(s.invalid(format!(
                "lifecycle rule {:?}: `expiration_days` must be at least 1",
                rule.id
            )));
        }
    }
    if v.website
        .as_ref()
        .is_some_and(|w| w.index_document.is_empty())
    {
        return Err(s.invalid("`website.index_document` must be set"));
    }
    Ok(())
}

fn s3_tag(s: &Subject<'_>, key: &str, value: &str) -> Result<Tag, AwsError> {
    Tag::builder()
        .key(key)
        .value(value)
        .build()
        .map_err(|e| s.invalid(e.to_string()))
}

/// Sets the bucket's whole tag set: the provider's tags as found in
/// `ours` (or made for a create) and the user's.
async fn put_tags(
    client: &Client,
    s: &Subject<'_>,
    name: &str,
    ours: &BTreeMap<String, String>,
    user: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let set = ours
        .iter()
        .filter(|(k, _)| !tags::is_users(k) && !k.starts_with("aws:"))
        .chain(user)
        .map(|(k, v)| s3_tag(s, k, v))
        .collect::<Result<Vec<_>, _>>()?;
    if set.is_empty() {
        lookup::deleted(
            s,
            "DeleteBucketTagging",
            client.delete_bucket_tagging().bucket(name).send().await,
        )?;
        return Ok(());
    }
    let tagging = Tagging::builder()
        .set_tag_set(Some(set))
        .build()
        .map_err(|e| s.invalid(e.to_string()))?;
    client
        .put_bucket_tagging()
        .bucket(name)
        .tagging(tagging)
        .send()
        .await
        .map_err(|e| s.error("PutBucketTagging", e))?;
    Ok(())
}

async fn delete_bucket(client: &Client, s: &Subject<'_>, name: &str) -> Result<(), AwsError> {
    lookup::deleted(
        s,
        "DeleteBucket",
        client.delete_bucket().bucket(name).send().await,
    )
}

/// The region the client's configuration names (`us-east-1` when none).
fn region_of(client: &Client) -> String {
    client
        .config()
        .region()
        .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string())
}

fn outputs(client: &Client, name: &str) -> BucketOutputs {
    BucketOutputs {
        bucket: BucketName(name.to_owned()),
        arn: format!("arn:aws:s3:::{name}"),
        region: region_of(client),
    }
}

/// Whether the tags say a create with `token` made the bucket: its token
/// tag, or — for a name derived from that token, which no one else would
/// choose — no tags at all (a create that crashed before tagging; see the
/// type's caveats).
fn made_by(tags: &BTreeMap<String, String>, token: &str, derived: bool) -> bool {
    (derived && tags.is_empty()) || tags.get(TOKEN_TAG) == Some(&client_token(token))
}

/// The bucket a create with `token` made, if any (`name` is the name that
/// create gives it); an error when a bucket of that name exists that it
/// did not make.
async fn by_token(
    client: &Client,
    s: &Subject<'_>,
    name: &str,
    token: &str,
    declared: Option<String>,
) -> Result<Option<(Bucket, BTreeMap<String, String>)>, AwsError> {
    let Some((bucket, tags)) = observe(client, s, name, declared).await? else {
        return Ok(None);
    };
    if made_by(&tags, token, bucket.name.is_none()) {
        Ok(Some((bucket, tags)))
    } else {
        Err(s.invalid(format!(
            "a bucket named {name:?} already exists and was not made by this resource \
             (choose another `name`, or import it)"
        )))
    }
}

/// Serves [`Bucket`].
pub(crate) struct BucketHandler;

#[async_trait]
impl ResourceHandler for BucketHandler {
    type Resource = Bucket;
    type Context = Aws;

    fn replace_conflict(&self, req: &DiffRequest<'_>) -> Option<String> {
        super::super::iam::fixed_name_conflict(req, "bucket", "bucket names are global")
    }

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<Bucket>) -> CreateResult<Bucket> {
        let s = Subject::of::<Bucket>(&req.name);
        let v = &req.inputs;
        check(&s, v)?;
        let name = bucket_name(v.name.as_deref(), &req.name, &req.token);
        let client = p.s3_client().await;
        let found = by_token(client, &s, &name, &req.token, v.name.clone()).await?;
        if found.is_none() {
            let region = region_of(client);
            let mut create = client.create_bucket().bucket(&name);
            if region != "us-east-1" {
                create = create.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(region.as_str()))
                        .build(),
                );
            }
            create
                .send()
                .await
                .map_err(|e| s.error("CreateBucket", e))?;
        }
        let settled = async {
            let ours: BTreeMap<String, String> = tags::ours(&req.stack, &req.name, &req.token)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            put_tags(client, &s, &name, &ours, &v.tags).await?;
            configure(client, &s, &name, v, found.as_ref().map(|(b, _)| b)).await
        };
        if let Err(e) = settled.await {
            return Err(failed_after_create(e, &name, delete_bucket(client, &s, &name)).await);
        }
        Ok(Made {
            outputs: outputs(client, &name),
            id: name,
        })
    }

    async fn read(&self, p: &Aws, req: Read<Bucket>) -> ReadResult<Bucket> {
        let s = Subject::of::<Bucket>(&req.name);
        let client = p.s3_client().await;
        let declared = req.recorded.decode_or_default().name;
        let found = match (&req.id, &req.token) {
            (Some(id), _) => observe(client, &s, id, declared).await?,
            (None, Some(token)) => {
                let name = bucket_name(declared.as_deref(), &req.name, token);
                by_token(client, &s, &name, token, declared).await?
            }
            (None, None) => None,
        };
        Ok(found.map(|(bucket, _)| {
            let name = match (&req.id, &bucket.name) {
                (Some(id), _) => id.clone(),
                (None, Some(name)) => name.clone(),
                (None, None) => req
                    .token
                    .as_deref()
                    .map(|t| bucket_name(None, &req.name, t))
                    .unwrap_or_default(),
            };
            kit::Found {
                outputs: outputs(client, &name),
                id: name,
                inputs: bucket,
            }
        }))
    }

    async fn update(&self, p: &Aws, req: Update<Bucket>) -> UpdateResult<Bucket> {
        let s = Subject::of::<Bucket>(&req.name);
        let v = &req.inputs;
        check(&s, v)?;
        let client = p.s3_client().await;
        let name = req.id.as_str();
        let (found, all) = observe(client, &s, name, v.name.clone())
            .await?
            .ok_or_else(|| s.gone(name))?;
        configure(client, &s, name, v, Some(&found)).await?;
        if found.tags != v.tags {
            put_tags(client, &s, name, &all, &v.tags).await?;
        }
        Ok(outputs(client, name))
    }

    deletes_by!(Bucket, s3_client, delete_bucket);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_name_replaces_the_bucket() {
        assert_eq!(Bucket::force_new_fields(), &["name"]);
    }

    #[test]
    fn defaults_are_aws_s_for_a_new_bucket() {
        let b: Bucket = serde_json::from_str("{}").unwrap();
        assert_eq!(b.encryption, Encryption::Aes256);
        assert!(b.public_access_block.block_public_acls);
        assert!(b.public_access_block.restrict_public_buckets);
        let r: LifecycleRule = serde_json::from_str(r#"{"id":"a","expiration_days":3}"#).unwrap();
        assert!(r.enabled);
    }

    #[test]
    fn bad_names_and_rules_are_refused_naming_the_resource() {
        let s = Subject::of::<Bucket>("logs");
        let bad = Bucket {
            name: Some("Logs_Bucket".into()),
            ..Default::default()
        };
        let e = check(&s, &bad).unwrap_err().to_string();
        assert!(
            e.contains("aws:s3:Bucket \"logs\"") && e.contains("not a bucket name"),
            "{e}"
        );
        let rules = Bucket {
            lifecycle_rules: vec![LifecycleRule {
                id: "a".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let e = check(&s, &rules).unwrap_err().to_string();
        assert!(e.contains("expiration_days"), "{e}");
        assert!(check(&s, &Bucket::default()).is_ok());
    }

    #[test]
    fn an_untagged_bucket_is_taken_for_a_crashed_create() {
        let mut tags = BTreeMap::new();
        assert!(made_by(&tags, "t1", true));
        assert!(
            !made_by(&tags, "t1", false),
            "a declared name may be anyone's"
        );
        tags.insert(TOKEN_TAG.to_owned(), "t2".to_owned());
        assert!(!made_by(&tags, "t1", true));
        assert!(made_by(&tags, "t2", false));
    }
}
