//! [`Bucket`] (`gcp:storage:Bucket`): a Cloud Storage bucket and its
//! settings, through the JSON API.

use std::collections::BTreeMap;

use async_trait::async_trait;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    Create, CreateResult, Delete, Found, Made, Read, ReadResult, ResourceHandler, Update,
    UpdateResult,
};
use dafnck_core::ProviderError;
use reqwest::Method;
use serde_json::{json, Map, Value as Json};
use sha2::{Digest, Sha256};

use super::api::{encode, JsonApi};
use super::{Gcp, TOKEN_KEY};

const TYPE: &str = "gcp:storage:Bucket";

/// A Cloud Storage bucket.
///
/// - `name`: globally unique; changing it replaces the bucket.
/// - `location`: `US`, `EU`, `EUROPE-WEST1`, ...; changing it replaces the
///   bucket. Compared without case (GCS reports it in capitals).
/// - `storage_class`: `STANDARD`, `NEARLINE`, `COLDLINE`, `ARCHIVE`
///   (`None`: GCS's default, `STANDARD`).
/// - `uniform_access`: uniform bucket-level access (IAM only, no ACLs).
/// - `public_access_prevention`: `enforced` or `inherited` (`None`: leave
///   it as GCS has it).
/// - `versioning`, `lifecycle`, `labels`, `website`, `cors`: as named.
/// - `force_destroy`: on delete, delete its objects first (otherwise a
///   non-empty bucket's delete fails with a clear error).
///
/// # Idempotent create
/// The bucket carries the label `dafnck-token` (a digest of its create's
/// token): a create that finds the name taken adopts the bucket only when
/// it carries that label; a bucket someone else made is an error.
///
/// # Drift
/// `read` reports every setting above as GCS has it (labels without the
/// provider's own).
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
#[resource(type = "gcp:storage:Bucket", outputs = BucketOutputs)]
pub struct Bucket {
    /// The bucket's name. Changing it replaces the bucket.
    #[resource(force_new)]
    pub name: String,
    /// Where it is (`None`: GCS's default, `US`). Changing it replaces the
    /// bucket.
    #[resource(force_new)]
    pub location: Option<String>,
    /// Its default storage class.
    pub storage_class: Option<String>,
    /// Uniform bucket-level access.
    pub uniform_access: bool,
    /// `enforced` or `inherited`.
    pub public_access_prevention: Option<String>,
    /// Whether overwritten and deleted objects keep older generations.
    pub versioning: bool,
    /// Lifecycle rules, in order.
    pub lifecycle: Vec<LifecycleRule>,
    /// Labels (the key `dafnck-token` is the provider's).
    pub labels: BTreeMap<String, String>,
    /// Static website pages.
    pub website: Option<Website>,
    /// Cross-origin rules.
    pub cors: Vec<Cors>,
    /// Delete its objects before the bucket itself.
    pub force_destroy: bool,
}

/// A lifecycle rule: `action` (`Delete` or `SetStorageClass`) when every
/// condition given holds.
#[derive(Declare, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(default)]
pub struct LifecycleRule {
    /// `Delete` or `SetStorageClass`.
    pub action: String,
    /// The class to move to, for `SetStorageClass`.
    pub storage_class: Option<String>,
    /// Age in days.
    pub age_days: Option<u32>,
    /// Newer generations that exist (versioned buckets).
    pub num_newer_versions: Option<u32>,
    /// Whether the object is the live generation.
    pub is_live: Option<bool>,
}

/// A bucket's website pages.
#[derive(Declare, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(default)]
pub struct Website {
    /// The page served for a directory (`index.html`).
    pub main_page_suffix: String,
    /// The page served for a missing object (`404.html`).
    pub not_found_page: Option<String>,
}

/// A cross-origin rule.
#[derive(Declare, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(default)]
pub struct Cors {
    /// Origins allowed (`*` for any).
    pub origins: Vec<String>,
    /// Methods allowed.
    pub methods: Vec<String>,
    /// Response headers browsers may read.
    pub response_headers: Vec<String>,
    /// How long a preflight answer may be cached.
    pub max_age_seconds: Option<u32>,
}

/// What a [`Bucket`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct BucketOutputs {
    /// Its name (what [`Object`](super::Object)s and [`Site`](super::Site)s
    /// take).
    pub name: String,
    /// `gs://name`.
    pub url: String,
    /// Where its objects are served over HTTP: the endpoint's
    /// `/<name>/` (`https://storage.googleapis.com/<name>/` on GCS).
    pub public_url: String,
    /// Its location, as GCS reports it.
    pub location: String,
    /// Its metadata generation (bumped by every settings change).
    pub metageneration: String,
}

/// The label value standing for `token`: label values are at most 63
/// lowercase letters, digits, `-` and `_`, which a token need not be.
pub(crate) fn token_label(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest[..20].iter().map(|b| format!("{b:02x}")).collect()
}

fn invalid(name: &str, why: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(format!("{TYPE} {name:?}: {why}"))
}

/// Checks what GCS would refuse with a less clear message.
fn check(name: &str, b: &Bucket) -> Result<(), ProviderError> {
    if b.name.len() < 3 || b.name.len() > 63 {
        return Err(invalid(
            name,
            format!("`name` {:?} must be 3 to 63 characters", b.name),
        ));
    }
    if !b
        .name
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.'))
    {
        return Err(invalid(
            name,
            format!(
                "`name` {:?} may hold only lowercase letters, digits, `-`, `_` and `.`",
                b.name
            ),
        ));
    }
    if b.labels.contains_key(TOKEN_KEY) {
        return Err(invalid(
            name,
            format!("the label {TOKEN_KEY:?} is the provider's"),
        ));
    }
    if let Some(p) = &b.public_access_prevention {
        if p != "enforced" && p != "inherited" {
            return Err(invalid(
                name,
                format!(
                    "`public_access_prevention` must be \"enforced\" or \"inherited\", not {p:?}"
                ),
            ));
        }
    }
    for rule in &b.lifecycle {
        if rule.action != "Delete" && rule.action != "SetStorageClass" {
            return Err(invalid(
                name,
                format!(
                    "lifecycle action {:?} is not `Delete` or `SetStorageClass`",
                    rule.action
                ),
            ));
        }
    }
    Ok(())
}

/// The settings part of a bucket's JSON (what a create sends and a patch
/// replaces), labels apart.
fn settings_json(b: &Bucket) -> Map<String, Json> {
    let mut m = Map::new();
    if let Some(class) = &b.storage_class {
        m.insert("storageClass".into(), json!(class));
    }
    let mut iam = json!({ "uniformBucketLevelAccess": { "enabled": b.uniform_access } });
    if let Some(p) = &b.public_access_prevention {
        iam["publicAccessPrevention"] = json!(p);
    }
    m.insert("iamConfiguration".into(), iam);
    m.insert("versioning".into(), json!({ "enabled": b.versioning }));
    let rules: Vec<Json> = b
        .lifecycle
        .iter()
        .map(|r| {
            let mut action = json!({ "type": r.action });
            if let Some(class) = &r.storage_class {
                action["storageClass"] = json!(class);
            }
            let mut condition = Map::new();
            if let Some(age) = r.age_days {
                condition.insert("age".into(), json!(age));
            }
            if let Some(n) = r.num_newer_versions {
                condition.insert("numNewerVersions".into(), json!(n));
            }
            if let Some(live) = r.is_live {
                condition.insert("isLive".into(), json!(live));
            }
            json!({ "action": action, "condition": condition })
        })
        .collect();
    m.insert("lifecycle".into(), json!({ "rule": rules }));
    m.insert(
        "website".into(),
        match &b.website {
            // Nulls clear a field in a patch.
            Some(w) => json!({
                "mainPageSuffix": w.main_page_suffix,
                "notFoundPage": w.not_found_page,
            }),
            None => json!({ "mainPageSuffix": null, "notFoundPage": null }),
        },
    );
    let cors: Vec<Json> = b
        .cors
        .iter()
        .map(|c| {
            let mut rule = json!({
                "origin": c.origins,
                "method": c.methods,
                "responseHeader": c.response_headers,
            });
            if let Some(age) = c.max_age_seconds {
                rule["maxAgeSeconds"] = json!(age);
            }
            rule
        })
        .collect();
    m.insert("cors".into(), json!(cors));
    m
}

fn strings(j: &Json) -> Vec<String> {
    j.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn number(j: &Json) -> Option<u32> {
    j.as_u64()
        .or_else(|| j.as_str().and_then(|s| s.parse().ok()))
        .and_then(|n| u32::try_from(n).ok())
}

/// The bucket `j` describes, as inputs, given what was `declared` (for
/// the fields GCS reports only once set, and letter case).
fn observed_inputs(j: &Json, declared: &Bucket) -> Bucket {
    let location = j["location"].as_str().map(str::to_owned);
    let location = match (&declared.location, &location) {
        (Some(d), Some(found)) if d.eq_ignore_ascii_case(found) => Some(d.clone()),
        (None, _) => None,
        _ => location,
    };
    let storage_class = match (&declared.storage_class, j["storageClass"].as_str()) {
        (None, Some("STANDARD") | None) => None,
        (_, found) => found.map(str::to_owned),
    };
    let iam = &j["iamConfiguration"];
    let public_access_prevention = match (
        &declared.public_access_prevention,
        iam["publicAccessPrevention"].as_str(),
    ) {
        (None, _) => None,
        (Some(_), found) => Some(found.unwrap_or("inherited").to_owned()),
    };
    let lifecycle = j["lifecycle"]["rule"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .map(|r| LifecycleRule {
                    action: r["action"]["type"].as_str().unwrap_or_default().to_owned(),
                    storage_class: r["action"]["storageClass"].as_str().map(str::to_owned),
                    age_days: number(&r["condition"]["age"]),
                    num_newer_versions: number(&r["condition"]["numNewerVersions"]),
                    is_live: r["condition"]["isLive"].as_bool(),
                })
                .collect()
        })
        .unwrap_or_default();
    let labels = j["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.as_str() != TOKEN_KEY)
                // A null is a label a patch removed (the emulator keeps it).
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let website = j["website"]["mainPageSuffix"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(|main| Website {
            main_page_suffix: main.to_owned(),
            not_found_page: j["website"]["notFoundPage"].as_str().map(str::to_owned),
        });
    let cors = j["cors"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .map(|c| Cors {
                    origins: strings(&c["origin"]),
                    methods: strings(&c["method"]),
                    response_headers: strings(&c["responseHeader"]),
                    max_age_seconds: number(&c["maxAgeSeconds"]),
                })
                .collect()
        })
        .unwrap_or_default();
    Bucket {
        name: j["name"].as_str().unwrap_or_default().to_owned(),
        location,
        storage_class,
        uniform_access: iam["uniformBucketLevelAccess"]["enabled"]
            .as_bool()
            .unwrap_or(false),
        public_access_prevention,
        versioning: j["versioning"]["enabled"].as_bool().unwrap_or(false),
        lifecycle,
        labels,
        website,
        cors,
        // Not a setting of the bucket: as declared.
        force_destroy: declared.force_destroy,
    }
}

fn outputs(api: &JsonApi, j: &Json) -> BucketOutputs {
    let name = j["name"].as_str().unwrap_or_default().to_owned();
    BucketOutputs {
        url: format!("gs://{name}"),
        public_url: format!("{}/{}/", api.endpoint(), name),
        location: j["location"].as_str().unwrap_or_default().to_owned(),
        metageneration: match &j["metageneration"] {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        },
        name,
    }
}

fn token_of(j: &Json) -> Option<&str> {
    j["labels"][TOKEN_KEY].as_str()
}

/// Patches `bucket` to `b`'s settings and labels, with the token label
/// `token` kept; labels found but not declared are removed.
async fn patch(
    api: &JsonApi,
    name: &str,
    bucket: &str,
    found: &Json,
    b: &Bucket,
    token: &str,
) -> Result<Json, ProviderError> {
    let mut body = settings_json(b);
    let mut labels = Map::new();
    if let Some(old) = found["labels"].as_object() {
        for k in old.keys() {
            labels.insert(k.clone(), Json::Null);
        }
    }
    for (k, v) in &b.labels {
        labels.insert(k.clone(), json!(v));
    }
    labels.insert(TOKEN_KEY.into(), json!(token));
    body.insert("labels".into(), Json::Object(labels));
    api.call(
        Method::PATCH,
        &JsonApi::bucket_path(bucket),
        Some(&Json::Object(body)),
    )
    .await
    .map_err(|e| e.about(TYPE, name))
}

/// Deletes every object (every generation) in `bucket`.
async fn empty(api: &JsonApi, name: &str, bucket: &str) -> Result<(), ProviderError> {
    loop {
        let path = format!(
            "/storage/v1/b/{}/o?versions=true&maxResults=1000",
            encode(bucket)
        );
        let Some(listed) = api.get_opt(&path).await.map_err(|e| e.about(TYPE, name))? else {
            return Ok(());
        };
        let items = listed["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            return Ok(());
        }
        for item in items {
            let object = item["name"].as_str().unwrap_or_default();
            let mut path = JsonApi::object_path(bucket, object);
            if let Some(generation) = item["generation"].as_str() {
                path.push_str(&format!("?generation={generation}"));
            }
            api.delete(&path).await.map_err(|e| e.about(TYPE, name))?;
        }
    }
}

/// Serves [`Bucket`].
pub(crate) struct BucketHandler;

#[async_trait]
impl ResourceHandler for BucketHandler {
    type Resource = Bucket;
    type Context = Gcp;

    fn replace_conflict(&self, req: &dafnck_core::provider::DiffRequest<'_>) -> Option<String> {
        let _ = req;
        Some(
            "a bucket's name is global: the new bucket cannot be made while the old one exists"
                .into(),
        )
    }

    async fn create(&self, p: &Gcp, req: Create<Bucket>) -> CreateResult<Bucket> {
        let b = &req.inputs;
        check(&req.name, b)?;
        let api = p.api().await?;
        let token = token_label(&req.token);
        let project = api.project().ok_or_else(|| {
            invalid(
                &req.name,
                "no project to make the bucket in (set GOOGLE_CLOUD_PROJECT)",
            )
        })?;
        let mut body = settings_json(b);
        body.insert("name".into(), json!(b.name));
        if let Some(location) = &b.location {
            body.insert("location".into(), json!(location));
        }
        let mut labels: Map<String, Json> = b
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        labels.insert(TOKEN_KEY.into(), json!(token));
        body.insert("labels".into(), Json::Object(labels));
        let path = format!("/storage/v1/b?project={}", encode(project));
        let made = match api
            .call(Method::POST, &path, Some(&Json::Object(body)))
            .await
        {
            // Settings again as a patch: GCS takes them with the insert, but
            // gcp-storage-emulator keeps only a new bucket's name.
            Ok(j) => patch(api, &req.name, &b.name, &j, b, &token).await?,
            Err(e) if e.is_conflict() => {
                // Taken: ours from a create that crashed, or someone else's.
                let found = api
                    .get_opt(&JsonApi::bucket_path(&b.name))
                    .await
                    .map_err(|e| e.about(TYPE, &req.name))?;
                match found {
                    Some(found) if token_of(&found) == Some(token.as_str()) => {
                        patch(api, &req.name, &b.name, &found, b, &token).await?
                    }
                    _ => {
                        return Err(invalid(
                            &req.name,
                            format!(
                                "the bucket name {:?} is taken by a bucket this resource did \
                                 not make (bucket names are global; choose another `name`, or \
                                 import it)",
                                b.name
                            ),
                        ))
                    }
                }
            }
            Err(e) => return Err(e.about(TYPE, &req.name)),
        };
        Ok(Made {
            id: b.name.clone(),
            outputs: outputs(api, &made),
        })
    }

    async fn read(&self, p: &Gcp, req: Read<Bucket>) -> ReadResult<Bucket> {
        let api = p.api().await?;
        let declared = req.recorded.decode_or_default();
        let name = match (&req.id, &req.token) {
            (Some(id), _) => id.clone(),
            (None, Some(_)) if !declared.name.is_empty() => declared.name.clone(),
            _ => return Ok(None),
        };
        let Some(found) = api
            .get_opt(&JsonApi::bucket_path(&name))
            .await
            .map_err(|e| e.about(TYPE, &req.name))?
        else {
            return Ok(None);
        };
        if let (None, Some(token)) = (&req.id, &req.token) {
            if token_of(&found) != Some(token_label(token).as_str()) {
                return Ok(None);
            }
        }
        Ok(Some(Found {
            id: name,
            inputs: observed_inputs(&found, &declared),
            outputs: outputs(api, &found),
        }))
    }

    async fn update(&self, p: &Gcp, req: Update<Bucket>) -> UpdateResult<Bucket> {
        let b = &req.inputs;
        check(&req.name, b)?;
        let api = p.api().await?;
        let found = api
            .get_opt(&JsonApi::bucket_path(&req.id))
            .await
            .map_err(|e| e.about(TYPE, &req.name))?
            .ok_or_else(|| invalid(&req.name, format!("the bucket {:?} is gone", req.id)))?;
        let token = token_of(&found).unwrap_or_default().to_owned();
        let patched = patch(api, &req.name, &req.id, &found, b, &token).await?;
        Ok(outputs(api, &patched))
    }

    async fn delete(&self, p: &Gcp, req: Delete<Bucket>) -> Result<(), ProviderError> {
        let api = p.api().await?;
        let declared = req.inputs.decode_or_default();
        if declared.force_destroy {
            empty(api, &req.name, &req.id).await?;
        }
        match api.delete(&JsonApi::bucket_path(&req.id)).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_conflict() || e.is_precondition_failed() => Err(invalid(
                &req.name,
                format!(
                    "the bucket {:?} still holds objects (delete them, or set `force_destroy`): {e}",
                    req.id
                ),
            )),
            Err(e) => Err(e.about(TYPE, &req.name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_and_location_replace_the_bucket() {
        assert_eq!(Bucket::force_new_fields(), &["name", "location"]);
    }

    #[test]
    fn token_labels_are_valid_label_values() {
        let l = token_label("Run-01.ABC/www");
        assert_eq!(l.len(), 40);
        assert!(l
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        assert_eq!(l, token_label("Run-01.ABC/www"));
        assert_ne!(l, token_label("Run-01.ABC/www2"));
    }

    #[test]
    fn bad_names_and_reserved_labels_are_refused() {
        let b = |name: &str| Bucket {
            name: name.into(),
            ..Default::default()
        };
        assert!(check("www", &b("my-site")).is_ok());
        let e = check("www", &b("My_Site")).unwrap_err();
        assert!(
            e.message.starts_with("gcp:storage:Bucket \"www\":"),
            "{}",
            e.message
        );
        assert!(check("www", &b("ab")).is_err());
        let mut reserved = b("my-site");
        reserved.labels.insert(TOKEN_KEY.into(), "x".into());
        assert!(check("www", &reserved).is_err());
    }

    #[test]
    fn settings_read_back_as_declared() {
        let declared = Bucket {
            name: "site".into(),
            location: Some("eu".into()),
            storage_class: Some("NEARLINE".into()),
            uniform_access: true,
            public_access_prevention: Some("enforced".into()),
            versioning: true,
            lifecycle: vec![LifecycleRule {
                action: "Delete".into(),
                age_days: Some(30),
                ..Default::default()
            }],
            labels: [("team".to_owned(), "web".to_owned())].into(),
            website: Some(Website {
                main_page_suffix: "index.html".into(),
                not_found_page: Some("404.html".into()),
            }),
            cors: vec![Cors {
                origins: vec!["*".into()],
                methods: vec!["GET".into()],
                response_headers: vec![],
                max_age_seconds: Some(60),
            }],
            force_destroy: true,
        };
        let mut j = Json::Object(settings_json(&declared));
        j["name"] = json!("site");
        j["location"] = json!("EU");
        j["labels"] = json!({ "team": "web", TOKEN_KEY: "abc" });
        let read = observed_inputs(&j, &declared);
        assert_eq!(
            serde_json::to_value(&read).unwrap(),
            serde_json::to_value(&declared).unwrap()
        );
    }
}
