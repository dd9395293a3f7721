//! A serverless service on AWS: an IAM execution role, a Lambda function
//! packaged from a local directory, a published version of its code, the
//! alias `live` that callers invoke, and an S3 bucket for release
//! artifacts (versioned, private, encrypted) holding a record of each
//! release. A change of the function's code is deployed by canary: the new
//! version is published and the alias sends it 5%, 25%, then 50% of the
//! calls while a CloudWatch metric gate watches its errors, then all of
//! them; a breach of the gate rolls the alias back onto the old version.
//!
//! ```text
//! cargo run --features aws --example aws_serverless -- preview
//! cargo run --features aws --example aws_serverless -- up --yes
//! cargo run --features aws --example aws_serverless -- up --yes --config code=path/to/new/code
//! cargo run --features aws --example aws_serverless -- destroy --yes
//! ```
//!
//! Credentials, region and endpoint come from the AWS SDK's standard chain
//! (`AWS_PROFILE`, `AWS_REGION`, ...). Against moto instead of AWS:
//!
//! ```text
//! eval "$(scripts/servers/moto.sh start)"
//! export AWS_ENDPOINT_URL=$DAFNCK_MOTO_URL AWS_REGION=us-east-1 \
//!        AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
//! cargo run --features aws --example aws_serverless -- up --yes
//! ```
//!
//! Configuration (`--config KEY=VALUE`, or `dafnck.<stack>.json`): `code`
//! (the function's code directory, default `examples/serverless/api` of
//! this checkout), `stage` (its `STAGE` variable, default `dev`),
//! `memory` (MB, default 128), `team` (a tag, default `serverless`),
//! `canary_steps` (`PERCENT:SECONDS` pairs, default `5:60,25:60,50:60`),
//! `analysis_interval_ms` (default 10000), `max_errors` (the gate's
//! limit, default 0), `lookback_secs` (how far back the gate looks for the
//! newest minute with data, default 300).
//!
//! # The canary
//! The `Version` carries the canary policy (`Options::deploy_with`): new
//! code changes its `code_sha256`, which replaces it, so the engine updates
//! the function's code, publishes the new version beside the old one, and
//! the policy moves the alias (`AliasRouter`): the old version stays the
//! alias's version and the new one is its additional version at 5%, 25%,
//! 50%, then the alias points at the new version alone. Every analysis
//! interval the gate asks CloudWatch (GetMetricData) for the sum of
//! `AWS/Lambda` `Errors` of the new version behind the alias (dimensions
//! `FunctionName`, `Resource` = `NAME:live`, `ExecutedVersion`), the
//! newest minute with data: more than `max_errors` rolls back; no data
//! pauses the rollout (the no-data verdict, `NoData::Inconclusive`) until
//! `rollout resume|promote|abort api-version`. Old versions are kept
//! (`retain_on_delete`): the alias can be pointed back at one by hand, and
//! destroying the function deletes them all.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use dafnck::core::prelude::*;
use dafnck::core::Error;
use dafnck::providers::aws::iam::Role;
use dafnck::providers::aws::lambda::{Alias, Function, Package, Version};
use dafnck::providers::aws::s3::{Bucket, BucketObject, Content};
use dafnck::strategies::cloudwatch::{CloudWatch, MetricQuery};
use dafnck::strategies::lambda::{version_of, AliasRouter};
use dafnck::strategies::{AnalysisSet, Canary, MetricGate, Strategy, Threshold};

#[path = "support/stack_config.rs"]
mod stack_config;

use stack_config::{config, number, steps};

/// Lambda may assume the role.
const LAMBDA_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// The alias callers invoke, which the canary moves.
const ALIAS: &str = "live";

/// The version's options: the canary through the alias, gated on the new
/// version's errors in CloudWatch.
fn canary(stack: &Stack) -> dafnck::core::Result<Options> {
    let policy = Canary {
        analysis_interval: Duration::from_millis(number(stack, "analysis_interval_ms", "10000")?),
        ..Canary::with_steps(steps(&config(stack, "canary_steps", "5:60,25:60,50:60"))?)
    };
    let max_errors: f64 = number(stack, "max_errors", "0")?;
    let lookback: u64 = number(stack, "lookback_secs", "300")?;
    let cloudwatch = CloudWatch::from_env();
    let strategy = Strategy::canary(policy, AliasRouter::for_alias(ALIAS))
        .map_err(|e| Error::Usage(format!("config canary_steps: {e}")))?
        .analysis(move |_old, new| {
            let Ok((function, version)) = version_of(new) else {
                // No new version was published: nothing to judge.
                return AnalysisSet::new();
            };
            let errors = MetricQuery::new("AWS/Lambda", "Errors", "Sum")
                .dimension("FunctionName", &function)
                .dimension("Resource", format!("{function}:{ALIAS}"))
                .dimension("ExecutedVersion", version)
                .lookback(Duration::from_secs(lookback));
            AnalysisSet::new().with(MetricGate::new(
                "errors of the new version",
                cloudwatch.clone(),
                errors,
                Threshold::AtMost(max_errors),
            ))
        });
    Ok(Options::new().deploy_with(strategy).retain_on_delete())
}

fn infra(stack: &mut Stack) -> dafnck::core::Result<()> {
    let default_code = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/serverless/api");
    let code_dir = PathBuf::from(config(stack, "code", default_code));
    let code = Package::directory(&code_dir).map_err(|e| {
        Error::Usage(format!(
            "config code: the function's code directory cannot be packaged: {e}"
        ))
    })?;
    let stage = config(stack, "stage", "dev");
    let memory_size: u32 = number(stack, "memory", "128")?;
    let tags = BTreeMap::from([
        ("app".to_owned(), "api".to_owned()),
        ("team".to_owned(), config(stack, "team", "serverless")),
    ]);

    let role = stack.add(
        "api-role",
        Role {
            assume_role_policy: LAMBDA_TRUST.into(),
            description: "runs the api function".into(),
            tags: tags.clone(),
            ..Default::default()
        },
    );
    let artifacts = stack.add(
        "artifacts",
        Bucket {
            versioning: true,
            tags: tags.clone(),
            ..Default::default()
        },
    );
    let api = stack.add(
        "api",
        Function {
            code: code.clone(),
            runtime: "python3.12".into(),
            handler: "main.handler".into(),
            role: role.out().arn,
            memory_size,
            timeout: 10,
            environment: [("STAGE".to_owned(), stage.into())].into(),
            tags: tags.clone(),
            ..Default::default()
        },
    );
    // A record of the code released, kept in the artifacts bucket (with
    // its versions, the bucket keeps every release's record).
    stack.add(
        "release",
        BucketObject {
            bucket: artifacts.out().bucket,
            key: "releases/api.json".into(),
            content: Content::Text(format!(
                "{{\"function\":\"api\",\"code_sha256\":\"{}\"}}\n",
                code.sha256
            )),
            content_type: Some("application/json".into()),
        },
    );
    let options = canary(stack)?;
    let version = stack.add_with(
        "api-version",
        Version {
            function_name: api.out().name,
            code_sha256: code.sha256.into(),
            description: "released by dafnck".into(),
        },
        options,
    );
    let live = stack.add(
        "api-live",
        Alias {
            name: ALIAS.into(),
            function_name: api.out().name,
            function_version: version.out().version,
            description: "what callers invoke".into(),
            ..Default::default()
        },
    );
    stack.export("function", api.out().name);
    stack.export("alias_arn", live.out().arn);
    stack.export("artifacts_bucket", artifacts.out().bucket);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    dafnck::cli::run(infra)
        .provider(dafnck::providers::aws::Provider::from_env())
        .cost_model(dafnck::providers::aws::cost::model())
        .await
}
