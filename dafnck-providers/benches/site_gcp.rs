//! Redeploying a static site of N files with 10 changed, against
//! gcp-storage-emulator: the first deploy (a bucket and a `Site` of N
//! files, every file uploaded), then a redeploy after 10 files changed —
//! its time, and how many objects got a new generation (uploads, counted
//! on the emulator), against the first deploy's.
//!
//! Needs `DAFNCK_GCS_EMULATOR_URL` (`eval "$(scripts/servers/gcs.sh
//! start)"`); skips with a message without it. `cargo bench -p
//! dafnck-providers --features gcp --bench site_gcp` runs N = 1000
//! (`DAFNCK_SITE_FILES` sets another); `cargo test --benches` runs it once
//! with N = 20 (what CI checks).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use dafnck_core::engine::{Engine, Settings as EngineSettings};
use dafnck_core::state::MemoryStore;
use dafnck_core::{Providers, Stack};
use dafnck_providers::gcp::{Bucket, Provider, Settings, Site};

/// Files changed between the two deploys.
const CHANGED: usize = 10;

fn program(bucket: String, dir: &Path) -> impl FnOnce(&mut Stack) -> dafnck_core::Result<()> + '_ {
    move |stack: &mut Stack| {
        let b = stack.add(
            "www",
            Bucket {
                name: bucket,
                force_destroy: true,
                ..Default::default()
            },
        );
        stack.add(
            "pages",
            Site::from_dir(b.out().name, dir).expect("the site is readable"),
        );
        Ok(())
    }
}

/// Every object of `bucket` on the emulator: name → generation.
async fn generations(url: &str, bucket: &str) -> BTreeMap<String, String> {
    let http = reqwest::Client::new();
    let mut out = BTreeMap::new();
    let mut page = String::new();
    loop {
        let mut req = http.get(format!("{url}/storage/v1/b/{bucket}/o?maxResults=1000"));
        if !page.is_empty() {
            req = req.query(&[("pageToken", &page)]);
        }
        let listed: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
        for o in listed["items"].as_array().into_iter().flatten() {
            out.insert(
                o["name"].as_str().unwrap().to_owned(),
                o["generation"].to_string(),
            );
        }
        match listed["nextPageToken"].as_str() {
            Some(t) if !t.is_empty() => page = t.to_owned(),
            _ => return out,
        }
    }
}

fn main() {
    let Ok(url) = std::env::var("DAFNCK_GCS_EMULATOR_URL") else {
        eprintln!(
            "SKIPPED site_gcp: DAFNCK_GCS_EMULATOR_URL is not set \
             (eval \"$(scripts/servers/gcs.sh start)\")"
        );
        return;
    };
    // `cargo bench` passes `--bench`; `cargo test --benches` does not.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let n: usize = match std::env::var("DAFNCK_SITE_FILES") {
        Ok(n) => n.parse().expect("DAFNCK_SITE_FILES: a number"),
        Err(_) if benchmarking => 1000,
        Err(_) => 20,
    };
    assert!(n >= CHANGED, "at least {CHANGED} files");
    let dir = tempfile::tempdir().unwrap();
    for i in 0..n {
        let sub = dir.path().join(format!("d{}", i % 10));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(
            sub.join(format!("page{i}.html")),
            format!("<p>page {i}, version 1</p>"),
        )
        .unwrap();
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let bucket = format!("dafnck-bench-{nanos:x}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let engine = Engine::new(
            "bench",
            MemoryStore::new(),
            Providers::new().with(Provider::new(Settings::emulator(url.clone(), "bench"))),
        )
        .settings(EngineSettings::default());
        let start = Instant::now();
        engine
            .up(program(bucket.clone(), dir.path()), false)
            .await
            .expect("first deploy");
        let first_time = start.elapsed();
        let first = generations(&url, &bucket).await;
        assert_eq!(first.len(), n);

        for i in (0..n).step_by(n / CHANGED).take(CHANGED) {
            let path = dir
                .path()
                .join(format!("d{}", i % 10))
                .join(format!("page{i}.html"));
            std::fs::write(path, format!("<p>page {i}, version 2</p>")).unwrap();
        }
        let start = Instant::now();
        engine
            .up(program(bucket.clone(), dir.path()), false)
            .await
            .expect("redeploy");
        let second_time = start.elapsed();
        let second = generations(&url, &bucket).await;
        let uploaded = second
            .iter()
            .filter(|(k, g)| first.get(*k) != Some(*g))
            .count();
        assert_eq!(uploaded, CHANGED, "only the changed files are uploaded");

        println!("| site of {n} files | time | objects uploaded |");
        println!("|---|---:|---:|");
        println!("| first deploy | {first_time:.2?} | {} |", first.len());
        println!("| redeploy, {CHANGED} files changed | {second_time:.2?} | {uploaded} |");
        println!(
            "redeploy / first deploy: {:.1}%",
            100.0 * second_time.as_secs_f64() / first_time.as_secs_f64()
        );
        engine.destroy().await.expect("destroy");
    });
}
