//! A bucket and a `Site` deployed through the engine: a redeploy uploads
//! only the changed files and deletes removed ones after, the plan lists
//! exactly the files that change, an object changed out of band is drift
//! that `up --refresh` repairs, and destroy removes the bucket.

use std::path::Path;

use dafnck_core::drift::DriftKind;
use dafnck_core::prelude::*;
use dafnck_providers::gcp::{Bucket, BucketOutputs, Site, Website};

use super::support::{emulator, fresh_bucket};

fn program(bucket: String, dir: &Path) -> impl FnOnce(&mut Stack) -> dafnck_core::Result<()> + '_ {
    move |stack: &mut Stack| {
        let b = stack.add(
            "www",
            Bucket {
                name: bucket,
                website: Some(Website {
                    main_page_suffix: "index.html".into(),
                    not_found_page: Some("404.html".into()),
                }),
                force_destroy: true,
                ..Default::default()
            },
        );
        let site = Site::from_dir(b.out().name, dir).expect("the site's directory is readable");
        stack.add("pages", site);
        Ok(())
    }
}

#[tokio::test]
async fn a_site_redeploy_uploads_only_what_changed() {
    let Some(gcs) = emulator("a_site_redeploy_uploads_only_what_changed") else {
        return;
    };
    let engine = gcs.engine();
    let bucket = fresh_bucket("site");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("css")).unwrap();
    for i in 0..20 {
        std::fs::write(
            dir.path().join(format!("page{i}.html")),
            format!("<p>{i}</p>"),
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("index.html"), "<h1>v1</h1>").unwrap();
    std::fs::write(dir.path().join("css/site.css"), "h1 { color: red }").unwrap();
    engine
        .up(program(bucket.clone(), dir.path()), false)
        .await
        .unwrap();
    let first = gcs.generations(&bucket).await;
    assert_eq!(first.len(), 22, "{first:?}");
    let index = gcs.object(&bucket, "index.html").await.unwrap();
    assert_eq!(index["contentType"], "text/html; charset=utf-8");
    let state = engine.state().await.unwrap();
    let out: BucketOutputs = state.resources["www"].outputs.deserialize_into().unwrap();
    assert_eq!(out.public_url, format!("{}/{bucket}/", gcs.url));

    // One page changed, one removed, one added.
    std::fs::write(dir.path().join("index.html"), "<h1>v2</h1>").unwrap();
    std::fs::remove_file(dir.path().join("page3.html")).unwrap();
    std::fs::write(dir.path().join("new.html"), "<p>new</p>").unwrap();
    let preview = engine
        .preview(program(bucket.clone(), dir.path()), false)
        .await
        .unwrap();
    let change = preview
        .plan
        .changes
        .iter()
        .find(|c| c.name == "pages")
        .unwrap();
    assert_eq!(change.fields, ["/index.html", "/new.html", "/page3.html"]);
    assert!(
        preview.plan.render().contains("/index.html: {"),
        "{}",
        preview.plan.render()
    );
    engine
        .up(program(bucket.clone(), dir.path()), false)
        .await
        .unwrap();
    let second = gcs.generations(&bucket).await;
    let changed: Vec<&String> = second
        .iter()
        .filter(|(k, g)| first.get(*k) != Some(g))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(changed, ["index.html", "new.html"], "uploaded again");
    assert!(!second.contains_key("page3.html"));
    assert_eq!(second.len(), 22);

    // Someone overwrites a page by hand: drift, repaired by up --refresh.
    gcs.put(&bucket, "page5.html", b"defaced").await.unwrap();
    let drift = engine.drift().await.unwrap();
    let pages = drift.get("pages").expect("the site drifted");
    assert_eq!(pages.kind, DriftKind::Changed);
    assert_eq!(pages.fields.len(), 1, "{}", drift.render());
    assert_eq!(pages.fields[0].field, "/page5.html");
    engine
        .up(program(bucket.clone(), dir.path()), true)
        .await
        .unwrap();
    assert!(!engine.drift().await.unwrap().has_drift());
    let media = gcs.object(&bucket, "page5.html").await.unwrap();
    assert_eq!(media["crc32c"], dafnck_providers::gcp::crc32c(b"<p>5</p>"));

    engine.destroy().await.unwrap();
    assert!(gcs.bucket(&bucket).await.is_none(), "the bucket is gone");
}
