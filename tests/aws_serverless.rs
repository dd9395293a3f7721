//! The `aws_serverless` example as a user runs it, against a moto server
//! on 127.0.0.1: up → no-change preview → a memory size changed by hand is
//! drift → new code is deployed by canary, the alias's additional version
//! weight watched through GetAlias while `up` runs (5% → 25% → 50% → the
//! new version alone) and promoted as the CloudWatch gate passes → newer
//! code whose errors breach the gate is rolled back onto the serving
//! version → destroy, after which the Lambda, IAM and S3 APIs list nothing.
//!
//! moto runs no function code (its Lambda is in the no-Docker mode), so no
//! invocation emits metrics: the test puts the `AWS/Lambda` `Errors` data
//! points the new version would have emitted (PutMetricData) before each
//! rollout, as CloudWatch would have them from Lambda.
//!
//! Needs `DAFNCK_MOTO_URL` (`scripts/servers/moto.sh start`, or
//! `scripts/test.sh`); without it the test says it is skipped, unless
//! `DAFNCK_REQUIRE_SERVERS=1`, when it fails.
#![cfg(feature = "aws")]

mod support;

#[path = "support/aws_example.rs"]
mod aws_example;

use std::io::Write as _;
use std::path::Path;

use aws_example::{done_at, expect, reset, sdk_config, Example, Run};
use dafnck::providers::aws::sdk::config::SdkConfig;
use dafnck::providers::aws::sdk::{cloudwatch, iam, lambda, s3};
use dafnck::strategies::lambda::{AliasRouter, AliasRouting};

const SERVERLESS: Example = Example("aws_serverless");

/// SDK clients on moto for what this test checks.
struct Aws {
    config: SdkConfig,
    lambda: lambda::Client,
    iam: iam::Client,
    s3: s3::Client,
    cloudwatch: cloudwatch::Client,
}

impl Aws {
    async fn new(url: &str) -> Aws {
        let config = sdk_config(url).await;
        Aws {
            config: config.clone(),
            lambda: lambda::Client::new(&config),
            iam: iam::Client::new(&config),
            s3: s3::Client::from_conf(
                s3::config::Builder::from(&config)
                    .force_path_style(true)
                    .build(),
            ),
            cloudwatch: cloudwatch::Client::new(&config),
        }
    }

    /// The alias `live` as GetAlias shows it.
    async fn routing(&self, function: &str) -> AliasRouting {
        AliasRouter::with_config(&self.config, function, "live", "", "")
            .read()
            .await
            .unwrap()
    }

    /// The function's published versions, sorted by number.
    async fn versions(&self, function: &str) -> Vec<String> {
        let out = self
            .lambda
            .list_versions_by_function()
            .function_name(function)
            .send()
            .await
            .unwrap();
        let mut v: Vec<String> = out
            .versions()
            .iter()
            .filter_map(|c| c.version())
            .filter(|v| *v != "$LATEST")
            .map(str::to_owned)
            .collect();
        v.sort_by_key(|n| n.parse::<u32>().unwrap_or(u32::MAX));
        v
    }

    /// What the version `version` behind the alias reported as its errors
    /// this minute, as Lambda would emit it.
    async fn errors(&self, function: &str, version: &str, count: f64) {
        let dim = |k: &str, v: &str| {
            cloudwatch::types::Dimension::builder()
                .name(k)
                .value(v)
                .build()
        };
        self.cloudwatch
            .put_metric_data()
            .namespace("AWS/Lambda")
            .metric_data(
                cloudwatch::types::MetricDatum::builder()
                    .metric_name("Errors")
                    .dimensions(dim("FunctionName", function))
                    .dimensions(dim("Resource", &format!("{function}:live")))
                    .dimensions(dim("ExecutedVersion", version))
                    .value(count)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }

    /// Runs `up` with `config` (new code), the version it publishes
    /// (`errs.0`) having reported `errs.1` errors this minute; returns the
    /// run and every routing of the alias seen meanwhile.
    async fn release(
        &self,
        dir: &Path,
        url: &str,
        function: &str,
        config: &[String],
        errs: (&str, f64),
    ) -> (Run, Vec<AliasRouting>) {
        self.errors(function, errs.0, errs.1).await;
        SERVERLESS
            .up_watching(dir, url, config, || self.routing(function))
            .await
    }

    /// Functions, roles and buckets in the account.
    async fn counts(&self) -> (usize, usize, usize) {
        let functions = self.lambda.list_functions().send().await.unwrap();
        let roles = self.iam.list_roles().send().await.unwrap();
        let buckets = self.s3.list_buckets().send().await.unwrap();
        (
            functions.functions().len(),
            roles.roles().len(),
            buckets.buckets().len(),
        )
    }
}

fn write_code(dir: &Path, release: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("main.py"),
        format!("def handler(event, context):\n    return {{\"release\": \"{release}\"}}\n"),
    )
    .unwrap();
}

/// The alias on `version`, with `additional` (a version and its share).
fn routing(version: &str, additional: Option<(&str, f64)>) -> AliasRouting {
    AliasRouting {
        version: version.to_owned(),
        additional: additional.map(|(v, w)| (v.to_owned(), w)),
    }
}

/// The version the state lists as `api-version`.
fn serving(dir: &Path, url: &str) -> String {
    let arn = SERVERLESS.id_of(dir, url, "api-version");
    arn.rsplit(':').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_is_deployed_drifts_is_released_by_canary_rolled_back_and_destroyed() {
    let Ok(url) = std::env::var("DAFNCK_MOTO_URL") else {
        let why = "moto is not running (scripts/servers/moto.sh start, or scripts/test.sh)";
        if std::env::var("DAFNCK_REQUIRE_SERVERS").as_deref() == Ok("1") {
            panic!("{why}, and DAFNCK_REQUIRE_SERVERS=1 requires it");
        }
        let _ = writeln!(std::io::stderr(), "SKIPPED aws_serverless example: {why}");
        return;
    };
    reset(&url);
    let aws = Aws::new(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let config = |release: &str| -> Vec<String> {
        let code = dir.join("code").join(release);
        write_code(&code, release);
        vec![
            format!("code={}", code.display()),
            "canary_steps=5:1.5,25:1.5,50:1.5".to_owned(),
            "analysis_interval_ms=300".to_owned(),
        ]
    };
    let v1 = config("v1");

    // up, then nothing to do.
    let r = SERVERLESS.run(dir, &url, &["up", "--yes"], &v1);
    expect(&r, 0);
    assert!(r.stdout.contains("alias_arn"), "{}", r.stdout);
    assert_eq!(aws.counts().await, (1, 1, 1));
    let function = SERVERLESS.id_of(dir, &url, "api");
    assert_eq!(aws.routing(&function).await, routing("1", None));
    let r = SERVERLESS.run(dir, &url, &["preview", "--detailed-exitcode"], &v1);
    expect(&r, 0);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);

    // Memory changed by hand is drift, and the next `up` puts it back.
    aws.lambda
        .update_function_configuration()
        .function_name(&function)
        .memory_size(512)
        .send()
        .await
        .unwrap();
    let r = SERVERLESS.run(dir, &url, &["drift", "--json"], &v1);
    expect(&r, 2);
    let drift: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let drifted: Vec<&str> = drift
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(drifted, ["api"], "{drift}");
    assert!(r.stdout.contains("memory_size"), "{}", r.stdout);
    let r = SERVERLESS.run(dir, &url, &["preview", "--detailed-exitcode"], &v1);
    expect(&r, 2);

    // v2: the function's code is updated, version 2 published, and the
    // alias moved to it step by step; the gate sees no errors.
    let v2 = config("v2");
    let (r, seen) = aws.release(dir, &url, &function, &v2, ("2", 0.0)).await;
    expect(&r, 0);
    assert_eq!(
        seen,
        [
            routing("1", None),
            routing("1", Some(("2", 0.05))),
            routing("1", Some(("2", 0.25))),
            routing("1", Some(("2", 0.5))),
            routing("2", None),
        ],
        "the alias follows the canary's steps"
    );
    let e = &r.stderr;
    assert!(
        done_at(e, "update api") < done_at(e, "create replacement api-version"),
        "the code is updated before the version is published:\n{e}"
    );
    let found = aws
        .lambda
        .get_function_configuration()
        .function_name(&function)
        .send()
        .await
        .unwrap();
    assert_eq!(found.memory_size(), Some(128), "the drift was put back");
    assert_eq!(serving(dir, &url), "2");
    assert_eq!(
        aws.versions(&function).await,
        ["1", "2"],
        "the old version is kept (retain_on_delete), no longer in the state"
    );
    let r = SERVERLESS.run(dir, &url, &["preview", "--detailed-exitcode"], &v2);
    expect(&r, 0);

    // v3 errs: its first step's errors breach the gate, and the alias goes
    // back to version 2 alone.
    let v3 = config("v3");
    let (r, seen) = aws.release(dir, &url, &function, &v3, ("3", 4.0)).await;
    assert_ne!(r.code, 0, "a rolled-back rollout fails the run");
    assert!(
        r.stderr.contains("rolled back") && r.stderr.contains("errors of the new version"),
        "the run says why:\n{}",
        r.stderr
    );
    assert_eq!(
        seen,
        [
            routing("2", None),
            routing("2", Some(("3", 0.05))),
            routing("2", None)
        ],
        "version 3 got its first step's 5% and no more"
    );
    assert_eq!(serving(dir, &url), "2");
    let r = SERVERLESS.run(dir, &url, &["drift", "--json"], &v3);
    expect(&r, 0);
    assert_eq!(r.stdout.trim(), "[]", "nothing drifted");

    // destroy leaves no function, role or bucket.
    expect(&SERVERLESS.run(dir, &url, &["destroy", "--yes"], &v3), 0);
    assert_eq!(aws.counts().await, (0, 0, 0));
}
