//! `Bucket`, `Object` and `Site` pass the provider conformance suite against
//! the emulator; changes and deletes out of band are plain JSON API calls,
//! as someone at the console would make them.

use std::sync::Arc;

use async_trait::async_trait;
use dafnck_core::provider::Observed;
use dafnck_core::testing::conformance::{conformance, OutOfBand, Sample};
use dafnck_providers::gcp::{Bucket, Content, Cors, LifecycleRule, Object, Site, Website};
use serde_json::json;

use super::support::{emulator, fresh_bucket, Emulator};

/// Someone at the console, for one type.
struct Console {
    gcs: Arc<Emulator>,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    Bucket,
    Object,
    Site,
}

fn output(found: &Observed, field: &str) -> String {
    found
        .outputs
        .get(field)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The names (under its prefix) of a site's objects, from what a read
/// found: its input fields that are paths (`/index.html`).
fn site_keys(found: &Observed) -> Vec<String> {
    found
        .inputs
        .as_map()
        .map(|m| {
            m.keys()
                .filter_map(|k| k.strip_prefix('/'))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[async_trait]
impl OutOfBand for Console {
    async fn change(&self, found: &Observed) -> Result<bool, String> {
        match self.kind {
            Kind::Bucket => {
                self.gcs
                    .patch_bucket(&found.id, json!({ "labels": { "changed": "by-hand" } }))
                    .await?;
            }
            Kind::Object => {
                let (bucket, name) = found.id.split_once('/').unwrap();
                self.gcs.put(bucket, name, b"changed by hand").await?;
            }
            Kind::Site => {
                let bucket = output(found, "bucket");
                let prefix = output(found, "prefix");
                let key = site_keys(found).into_iter().next().ok_or("no file")?;
                self.gcs
                    .put(&bucket, &format!("{prefix}{key}"), b"changed by hand")
                    .await?;
            }
        }
        Ok(true)
    }

    async fn delete(&self, found: &Observed) -> Result<(), String> {
        match self.kind {
            Kind::Bucket => self.gcs.delete_bucket(&found.id).await,
            Kind::Object => {
                let (bucket, name) = found.id.split_once('/').unwrap();
                self.gcs.delete_object(bucket, name).await
            }
            Kind::Site => {
                let bucket = output(found, "bucket");
                let prefix = output(found, "prefix");
                for key in site_keys(found) {
                    self.gcs
                        .delete_object(&bucket, &format!("{prefix}{key}"))
                        .await?;
                }
                Ok(())
            }
        }
    }
}

fn website_bucket(name: &str) -> Bucket {
    Bucket {
        name: name.to_owned(),
        location: Some("us".into()),
        storage_class: Some("STANDARD".into()),
        uniform_access: true,
        public_access_prevention: Some("inherited".into()),
        versioning: false,
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
            methods: vec!["GET".into(), "HEAD".into()],
            response_headers: vec!["Content-Type".into()],
            max_age_seconds: Some(3600),
        }],
        force_destroy: false,
    }
}

#[tokio::test]
async fn bucket_object_and_site_pass_the_conformance_suite() {
    let Some(gcs) = emulator("bucket_object_and_site_pass_the_conformance_suite") else {
        return;
    };
    let gcs = Arc::new(gcs);
    let console = |kind| Console {
        gcs: Arc::clone(&gcs),
        kind,
    };

    let bucket = website_bucket(&fresh_bucket("conf"));
    let updated = Bucket {
        storage_class: Some("NEARLINE".into()),
        public_access_prevention: Some("enforced".into()),
        versioning: true,
        lifecycle: vec![LifecycleRule {
            action: "SetStorageClass".into(),
            storage_class: Some("COLDLINE".into()),
            age_days: Some(90),
            ..Default::default()
        }],
        labels: [("team".to_owned(), "platform".to_owned())].into(),
        website: None,
        cors: vec![],
        ..bucket.clone()
    };

    // Objects and sites live in a bucket made first.
    let home = fresh_bucket("conf-objects");
    gcs.make_bucket(&home).await;
    let object = Object {
        bucket: home.clone().into(),
        name: "notes/hello.txt".into(),
        content: Content::text("hello"),
        content_type: Some("text/plain".into()),
        metadata: [("owner".to_owned(), "web".to_owned())].into(),
        ..Default::default()
    };
    let object_updated = Object {
        content: Content::text("hello again"),
        cache_control: Some("no-cache".into()),
        ..object.clone()
    };

    let v1 = tempfile::tempdir().unwrap();
    let v2 = tempfile::tempdir().unwrap();
    for (dir, index) in [(&v1, "<h1>one</h1>"), (&v2, "<h1>two</h1>")] {
        std::fs::create_dir_all(dir.path().join("css")).unwrap();
        std::fs::write(dir.path().join("index.html"), index).unwrap();
        std::fs::write(dir.path().join("css/site.css"), "h1 { color: red }").unwrap();
    }
    std::fs::write(v2.path().join("about.html"), "<p>about</p>").unwrap();
    let site = Site::from_dir(home.clone(), v1.path())
        .unwrap()
        .prefix("www/");
    let site_updated = Site::from_dir(home.clone(), v2.path())
        .unwrap()
        .prefix("www/");

    conformance(
        &gcs.provider,
        &[
            Sample::new(bucket, updated, console(Kind::Bucket)),
            Sample::new(object, object_updated, console(Kind::Object)),
            Sample::new(site, site_updated, console(Kind::Site)),
        ],
    )
    .await
    .unwrap();
}
