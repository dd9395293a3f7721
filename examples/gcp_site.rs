//! A static website on Google Cloud Storage: a bucket configured for a
//! public website (main page `index.html`, 404 page `404.html`, uniform
//! bucket-level access, CORS for GET) and a `Site` uploading a directory
//! (`examples/site/` by default) as its objects. A redeploy uploads only
//! the files whose CRC32C changed and deletes removed ones after.
//!
//! ```text
//! export GOOGLE_CLOUD_PROJECT=my-project   # where the bucket is made
//! cargo run --features gcp --example gcp_site -- up --yes --config bucket=my-site-8c1f2a
//! cargo run --features gcp --example gcp_site -- outputs
//! cargo run --features gcp --example gcp_site -- destroy --yes
//! ```
//!
//! Credentials are application default credentials
//! (`gcloud auth application-default login`, or
//! `GOOGLE_APPLICATION_CREDENTIALS` naming a service-account key file).
//! Against an emulator instead of GCP:
//!
//! ```text
//! eval "$(scripts/servers/gcs.sh start)"
//! export DAFNCK_GCS_ENDPOINT=$DAFNCK_GCS_EMULATOR_URL GOOGLE_CLOUD_PROJECT=local
//! cargo run --features gcp --example gcp_site -- up --yes --config bucket=my-site
//! curl "$DAFNCK_GCS_EMULATOR_URL/my-site/index.html"
//! ```
//!
//! Configuration (`--config KEY=VALUE`, or `dafnck.<stack>.json`): `bucket`
//! (required: bucket names are global), `site_dir` (default this
//! checkout's `examples/site`), `location` (default `US`), `public`
//! (`true`: public access prevention `inherited`, so the objects can be
//! made public with an IAM binding for `allUsers`; default `false`:
//! `enforced`).
//!
//! Outputs: `site_url` (where the site's objects are served:
//! `https://storage.googleapis.com/<bucket>/` on GCP, the emulator's
//! `/<bucket>/` locally) and `bucket_url` (`gs://<bucket>`).

use std::process::ExitCode;

use dafnck::core::prelude::*;
use dafnck::core::Error;
use dafnck::providers::gcp::{Bucket, Cors, Site, Website};

fn infra(stack: &mut Stack) -> dafnck::core::Result<()> {
    let Some(name) = stack.config("bucket").map(str::to_owned) else {
        return Err(Error::Usage(
            "set the bucket's name: --config bucket=NAME (bucket names are global)".into(),
        ));
    };
    let dir = stack.config("site_dir").map_or_else(
        || concat!(env!("CARGO_MANIFEST_DIR"), "/examples/site").to_owned(),
        str::to_owned,
    );
    let public = stack.config("public") == Some("true");
    let bucket = stack.add(
        "www",
        Bucket {
            name,
            location: Some(stack.config("location").unwrap_or("US").to_owned()),
            uniform_access: true,
            public_access_prevention: Some(if public { "inherited" } else { "enforced" }.into()),
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
            labels: [("app".to_owned(), "gcp-site".to_owned())].into(),
            force_destroy: true,
            ..Default::default()
        },
    );
    let site = Site::from_dir(bucket.out().name, &dir)
        .map_err(|e| Error::Usage(format!("cannot read the site directory {dir}: {e}")))?;
    let site = stack.add(
        "pages",
        Site {
            cache_control: Some("public, max-age=300".into()),
            ..site
        },
    );
    stack.export("site_url", site.out().url);
    stack.export("bucket_url", bucket.out().url);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    dafnck::cli::run(infra)
        .provider(dafnck::providers::gcp::Provider::from_env())
        .await
}
