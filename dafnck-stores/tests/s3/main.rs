//! The S3 state store against a moto server on 127.0.0.1.
//!
//! Tests take the server's URL from `DAFNCK_MOTO_URL` (set by
//! `scripts/servers/moto.sh start` or `scripts/test.sh`); without it a test
//! says it is skipped and passes, unless `DAFNCK_REQUIRE_SERVERS=1`, when it
//! fails. Each test works in its own bucket (`t-<test>-<random>`), so tests
//! run in parallel, never see each other's objects, and never reset moto.
//! Some tests run this test binary again as child processes (`--ignored
//! --exact <child>`), which find the store through the AWS environment
//! (`AWS_ENDPOINT_URL`, ...), as a program run by a user does.
#![cfg(feature = "s3")]

mod damage;
mod processes;
#[path = "../common/race.rs"]
mod race;
mod references;
mod secrets;
mod store;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::Credentials;
use dafnck_core::state::new_id;
use dafnck_stores::s3::S3Store;

pub(crate) use race::{engine, program};

/// A fresh bucket on the moto server for one test.
pub(crate) struct Moto {
    /// The moto server's URL.
    pub(crate) endpoint: String,
    /// The bucket.
    pub(crate) bucket: String,
    /// `s3://bucket/state`: the store's URL.
    pub(crate) url: String,
    /// A raw client, to look at and damage objects.
    pub(crate) client: aws_sdk_s3::Client,
}

/// A new bucket for `test`, or `None` (skipped) without a moto server.
pub(crate) async fn moto(test: &str) -> Option<Moto> {
    let Ok(endpoint) = std::env::var("DAFNCK_MOTO_URL") else {
        let why = "moto is not available (set DAFNCK_MOTO_URL: scripts/servers/moto.sh start, or scripts/test.sh)";
        if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
            panic!("{test}: {why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
        }
        let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
        return None;
    };
    let bucket = format!("t-{test}-{}", &new_id()[..10]);
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk_config(&endpoint).await)
            .force_path_style(true)
            .build(),
    );
    client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create bucket {bucket} on moto at {endpoint}: {e:?}"));
    Some(Moto {
        url: format!("s3://{bucket}/state"),
        endpoint,
        bucket,
        client,
    })
}

/// An SDK configuration for the server at `endpoint`: explicit region and
/// credentials, so nothing is read from this process's environment.
pub(crate) async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

impl Moto {
    /// A store on this bucket.
    pub(crate) async fn store(&self) -> S3Store {
        S3Store::with_config(&self.url, &sdk_config(&self.endpoint).await)
            .await
            .unwrap()
    }

    /// Every key in the bucket.
    pub(crate) async fn keys(&self) -> Vec<String> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .send()
            .await
            .unwrap();
        assert_ne!(
            out.is_truncated(),
            Some(true),
            "more than a page of objects"
        );
        out.contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect()
    }

    /// The bytes of `key`.
    pub(crate) async fn get(&self, key: &str) -> Vec<u8> {
        self.client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get {key}: {e:?}"))
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes()
            .to_vec()
    }

    /// Writes `bytes` at `key`, unconditionally.
    pub(crate) async fn put(&self, key: &str, bytes: &[u8]) {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(bytes.to_vec().into())
            .send()
            .await
            .unwrap();
    }
}

/// Runs this test binary again as the child test `name` (`--ignored
/// --exact`), with the store's URL, the fake cloud's directory, and an AWS
/// environment that points at moto.
pub(crate) fn spawn_child(name: &str, moto: &Moto, cloud_dir: &Path) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--ignored",
            "--exact",
            name,
            "--nocapture",
            "--test-threads=1",
        ])
        .env("DAFNCK_TEST_URL", &moto.url)
        .env("DAFNCK_TEST_CLOUD", cloud_dir)
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    aws_env(&mut command, &moto.endpoint);
    command.spawn().expect("spawn a child")
}

/// Points `command`'s AWS SDK at moto, and at nothing else.
pub(crate) fn aws_env(command: &mut Command, endpoint: &str) {
    for var in [
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL_S3",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ] {
        command.env_remove(var);
    }
    command
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true");
}
