//! [`KeyPair`] (`aws:ec2:KeyPair`): an SSH key pair for instances, imported
//! from a public key or made by EC2.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::primitives::Blob;
use aws_sdk_ec2::types::{Filter, ResourceType};
use aws_sdk_ec2::Client;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    self, Create, CreateResult, Made, Read, ReadResult, ResourceHandler, Update, UpdateResult,
};
use dafnck_core::state::CallKind;
use dafnck_core::ProviderError;
use dafnck_core::Secret;
use sha2::{Digest, Sha256};

use super::super::error::{AwsError, Subject};
use super::super::lookup::Lookup;
use super::super::{lookup, one_call, tags, Aws};

ids! {
    /// The id of a [`KeyPair`] (`key-...`).
    KeyPairId;
}

/// An EC2 key pair, for [`Instance::key_name`](super::Instance::key_name).
///
/// - `key_name`: its name, unique in the region; `None` (the default)
///   derives one from the resource's name. Changing it replaces the pair.
/// - `public_key`: an OpenSSH public key (`ssh-ed25519 AAAA...`) to import
///   (ImportKeyPair). `None`: EC2 makes the pair (CreateKeyPair) and the
///   private key is the [`KeyPairOutputs::private_key`] output, a
///   [`Secret`]. Changing it replaces the pair.
/// - `tags`: the user's tags; set in place.
///
/// # Caveats
/// EC2 hands out a private key once, in the CreateKeyPair answer, and the
/// engine records it; a read cannot see it again (a refresh keeps the
/// recorded one: the engine keeps secret outputs a read does not return).
/// So a retried create deletes the pair its first attempt made and makes it
/// again, and after a crash mid-create the next run adopts the pair without
/// its private key (replace it to get one). Import a public key when the
/// private key must outlive such events.
///
/// ```
/// use dafnck_core::prelude::*;
/// use dafnck_providers::aws::ec2::{Instance, KeyPair};
///
/// fn infra(stack: &mut Stack) {
///     let key = stack.add("admin", KeyPair {
///         public_key: Some("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk0 admin".into()),
///         ..Default::default()
///     });
///     stack.add("web", Instance {
///         key_name: Some(key.out().key_name),
///         ..Default::default()
///     });
/// }
/// # let _ = infra;
/// ```
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "aws:ec2:KeyPair", outputs = KeyPairOutputs)]
pub struct KeyPair {
    /// Its name; `None` derives one. Changing it replaces the pair.
    #[resource(force_new)]
    pub key_name: Option<String>,
    /// The public key to import; `None`: EC2 makes the pair. Changing it
    /// replaces the pair.
    #[resource(force_new)]
    pub public_key: Option<String>,
    /// The user's tags.
    pub tags: BTreeMap<String, String>,
}

/// What a [`KeyPair`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct KeyPairOutputs {
    /// Its id.
    pub key_pair_id: KeyPairId,
    /// Its name, for [`Instance::key_name`](super::Instance::key_name).
    pub key_name: String,
    /// Its fingerprint as EC2 computes it.
    pub fingerprint: String,
    /// The private key (PEM), for a pair EC2 made, when the create's
    /// answer was recorded; `None` for an imported one.
    pub private_key: Option<Secret<String>>,
}

type Found = aws_sdk_ec2::types::KeyPairInfo;

/// The declared name, or one derived from the resource's name and the
/// create's token (stable for one create, new for a replacement).
fn name_of(v: &KeyPair, resource: &str, token: &str) -> String {
    if let Some(name) = &v.key_name {
        return name.clone();
    }
    let digest = Sha256::digest(tags::client_token(token).as_bytes());
    let suffix: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{resource}-{suffix}")
}

async fn by_id(client: &Client, s: &Subject<'_>, id: &str) -> Lookup<Found> {
    // A `key-pair-id` filter rather than `KeyPairId`s: the same answer from
    // AWS (without an error for an unknown id), and moto ignores the ids.
    let filter = Filter::builder().name("key-pair-id").values(id).build();
    let out = lookup::unless_not_found(
        s,
        "DescribeKeyPairs",
        client.describe_key_pairs().filters(filter).send().await,
    )?;
    Ok(out.and_then(|out| {
        out.key_pairs()
            .iter()
            .find(|k| k.key_pair_id() == Some(id))
            .cloned()
    }))
}

describe_by_token!(Found, "DescribeKeyPairs", describe_key_pairs, key_pairs);

find_by_id_or_token!(Found);

describe_by_ids!(
    Found,
    "DescribeKeyPairs",
    describe_key_pairs,
    "key-pair-id",
    key_pairs
);

find_many_by_ids!(Found, key_pair_id);

fn outputs(k: &Found, private_key: Option<String>) -> KeyPairOutputs {
    KeyPairOutputs {
        key_pair_id: KeyPairId(k.key_pair_id().unwrap_or_default().to_owned()),
        key_name: k.key_name().unwrap_or_default().to_owned(),
        fingerprint: k.key_fingerprint().unwrap_or_default().to_owned(),
        private_key: private_key.map(Secret::new),
    }
}

async fn delete_by_id(client: &Client, s: &Subject<'_>, id: &str) -> Result<(), AwsError> {
    // By name, which AWS and moto both take (moto ignores `KeyPairId`).
    let Some(name) = by_id(client, s, id)
        .await?
        .and_then(|k| k.key_name().map(str::to_owned))
    else {
        return Ok(());
    };
    lookup::deleted(
        s,
        "DeleteKeyPair",
        client.delete_key_pair().key_name(name).send().await,
    )
}

/// What ImportKeyPair or CreateKeyPair (`call`) answered.
struct Answer<'a> {
    call: &'static str,
    id: Option<&'a str>,
    key_name: &'a str,
    fingerprint: Option<&'a str>,
}

impl Answer<'_> {
    /// The new pair, with its private key when AWS made one.
    fn created(
        &self,
        s: &Subject<'_>,
        private_key: Option<String>,
    ) -> Result<Made<KeyPairOutputs>, AwsError> {
        let id = self
            .id
            .ok_or_else(|| s.incomplete(self.call, "a key pair id"))?;
        let k = Found::builder()
            .key_pair_id(id)
            .key_name(self.key_name)
            .key_fingerprint(self.fingerprint.unwrap_or_default())
            .build();
        Ok(Made {
            id: id.to_owned(),
            outputs: outputs(&k, private_key),
        })
    }
}

/// What a read reports of `k`, found for `req`: shared by `read` and
/// `read_many` so both answer alike.
fn observed_as(req: &Read<KeyPair>, k: &Found) -> kit::Found<KeyPair, KeyPairOutputs> {
    let recorded = req.recorded.decode_or_default();
    let observed = KeyPair {
        key_name: recorded
            .key_name
            .map(|_| k.key_name().unwrap_or_default().to_owned()),
        // EC2 does not give the key material back; it cannot drift.
        public_key: recorded.public_key,
        tags: tags::user_tags(k.tags()),
    };
    lookup::observed(
        k.key_pair_id().unwrap_or_default(),
        observed,
        outputs(k, None),
    )
}

/// Serves [`KeyPair`].
pub(crate) struct KeyPairHandler;

#[async_trait]
impl ResourceHandler for KeyPairHandler {
    type Resource = KeyPair;
    type Context = Aws;

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        one_call(call)
    }

    async fn create(&self, p: &Aws, req: Create<KeyPair>) -> CreateResult<KeyPair> {
        let s = Subject::of::<KeyPair>(&req.name);
        let v = &req.inputs;
        tags::check_user_tags(&s, &v.tags)?;
        let name = name_of(v, &req.name, &req.token);
        let client = p.ec2_client().await;
        let found = by_token(client, &s, &req.token).await?;
        let spec = || tags::for_create(ResourceType::KeyPair, &req, &v.tags);
        match (&v.public_key, found) {
            (Some(_), Some(k)) => Ok(Made {
                id: k.key_pair_id().unwrap_or_default().to_owned(),
                outputs: outputs(&k, None),
            }),
            (Some(public_key), None) => {
                let out = client
                    .import_key_pair()
                    .key_name(&name)
                    .public_key_material(Blob::new(public_key.as_bytes()))
                    .tag_specifications(spec())
                    .send()
                    .await
                    .map_err(|e| s.error("ImportKeyPair", e))?;
                let made = Answer {
                    call: "ImportKeyPair",
                    id: out.key_pair_id(),
                    key_name: out.key_name().unwrap_or(&name),
                    fingerprint: out.key_fingerprint(),
                };
                Ok(made.created(&s, None)?)
            }
            (None, found) => {
                // A pair an earlier attempt made lost its private key with that
                // attempt's answer: make it again.
                if let Some(k) = found {
                    delete_by_id(client, &s, k.key_pair_id().unwrap_or_default()).await?;
                }
                let out = client
                    .create_key_pair()
                    .key_name(&name)
                    .tag_specifications(spec())
                    .send()
                    .await
                    .map_err(|e| s.error("CreateKeyPair", e))?;
                let made = Answer {
                    call: "CreateKeyPair",
                    id: out.key_pair_id(),
                    key_name: out.key_name().unwrap_or(&name),
                    fingerprint: out.key_fingerprint(),
                };
                Ok(made.created(&s, out.key_material().map(str::to_owned))?)
            }
        }
    }

    async fn read(&self, p: &Aws, req: Read<KeyPair>) -> ReadResult<KeyPair> {
        let s = Subject::of::<KeyPair>(&req.name);
        let client = p.ec2_client().await;
        let found = find(client, &s, &req).await?;
        Ok(found.map(|k| observed_as(&req, &k)))
    }

    /// One DescribeKeyPairs for every object read by id (an id AWS no longer
    /// knows is an absent object); a read by token alone, as `read`.
    fn reads_in_batches(&self) -> bool {
        true
    }

    async fn read_many(
        &self,
        p: &Aws,
        reqs: Vec<Read<KeyPair>>,
    ) -> Result<Vec<Option<kit::Found<KeyPair, KeyPairOutputs>>>, ProviderError> {
        let client = p.ec2_client().await;
        let found = find_many(client, &reqs).await?;
        Ok(reqs
            .iter()
            .zip(found)
            .map(|(req, found)| found.map(|k| observed_as(req, &k)))
            .collect())
    }

    async fn update(&self, p: &Aws, req: Update<KeyPair>) -> UpdateResult<KeyPair> {
        let s = Subject::of::<KeyPair>(&req.name);
        let v = &req.inputs;
        tags::check_user_tags(&s, &v.tags)?;
        let client = p.ec2_client().await;
        let id = req.id.as_str();
        let k = existing(client, &s, id).await?;
        tags::apply(client, &s, id, &tags::user_tags(k.tags()), &v.tags).await?;
        // The private key, if any, stays as recorded.
        let kept = req
            .old_outputs
            .decode()
            .ok()
            .and_then(|o| o.private_key)
            .map(Secret::into_inner);
        Ok(outputs(&k, kept))
    }

    deletes_by!(KeyPair, ec2_client, delete_by_id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_and_public_key_replace_the_pair() {
        assert_eq!(KeyPair::force_new_fields(), &["key_name", "public_key"]);
    }

    #[test]
    fn derived_names_are_stable_per_create() {
        let v = KeyPair::default();
        assert_eq!(name_of(&v, "admin", "t1"), name_of(&v, "admin", "t1"));
        assert_ne!(name_of(&v, "admin", "t1"), name_of(&v, "admin", "t2"));
        let named = KeyPair {
            key_name: Some("ops".into()),
            ..Default::default()
        };
        assert_eq!(name_of(&named, "admin", "t1"), "ops");
    }
}
