//! A serverless stack against moto: an IAM role, a function, a published
//! version and an alias go up; a preview changes nothing; a handler and an
//! environment variable changed by hand are drift (and `up --refresh` puts
//! them back); changed code publishes a new version and moves the alias to
//! it; destroy leaves nothing, counted with the Lambda and IAM APIs.
//!
//! moto's Lambda runs in its no-Docker mode: nothing here invokes a
//! function, so what a version or an alias answers is not shown.

use std::path::{Path, PathBuf};

use dafnck_core::drift::DriftKind;
use dafnck_core::prelude::*;
use dafnck_providers::aws::iam::Role;
use dafnck_providers::aws::lambda::{
    Alias, AliasOutputs, Function, FunctionOutputs, Package, Version, VersionOutputs,
};
use dafnck_providers::aws::sdk::lambda::Client as LambdaClient;

use super::lambda_conformance::LAMBDA_TRUST;
use super::s3_iam_stack::clients;
use super::support::{moto, outputs};

/// The stack, with its code from `dir` and the variable `STAGE`.
fn program(dir: PathBuf, stage: &'static str) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let role = stack.add(
            "api-role",
            Role {
                assume_role_policy: LAMBDA_TRUST.into(),
                ..Default::default()
            },
        );
        let code = Package::directory(&dir).expect("the function's code");
        let api = stack.add(
            "api",
            Function {
                code: code.clone(),
                runtime: "python3.12".into(),
                handler: "main.handler".into(),
                role: role.out().arn,
                memory_size: 256,
                environment: [("STAGE".to_string(), stage.into())].into(),
                secret_environment: [(
                    "DB_PASSWORD".to_string(),
                    Secret::new("hunter2".to_string()).into(),
                )]
                .into(),
                tags: [("team".to_string(), "api".to_string())].into(),
                ..Default::default()
            },
        );
        let version = stack.add(
            "api-version",
            Version {
                function_name: api.out().name,
                code_sha256: code.sha256.into(),
                description: "released by dafnck".into(),
            },
        );
        stack.add(
            "api-live",
            Alias {
                name: "live".into(),
                function_name: api.out().name,
                function_version: version.out().version,
                ..Default::default()
            },
        );
        Ok(())
    }
}

fn write_code(dir: &Path, answer: u32) {
    std::fs::write(
        dir.join("main.py"),
        format!("def handler(event, context):\n    return {answer}\n"),
    )
    .unwrap();
}

/// Functions in the region, and the published versions and aliases of
/// each.
async fn counts(lambda: &LambdaClient) -> (usize, usize, usize) {
    let functions = lambda.list_functions().send().await.unwrap();
    let (mut versions, mut aliases) = (0, 0);
    for f in functions.functions() {
        let name = f.function_name().unwrap();
        let v = lambda
            .list_versions_by_function()
            .function_name(name)
            .send()
            .await
            .unwrap();
        versions += v
            .versions()
            .iter()
            .filter(|v| v.version() != Some("$LATEST"))
            .count();
        let a = lambda
            .list_aliases()
            .function_name(name)
            .send()
            .await
            .unwrap();
        aliases += a.aliases().len();
    }
    (functions.functions().len(), versions, aliases)
}

#[tokio::test]
async fn a_serverless_stack_goes_up_drifts_publishes_new_code_and_is_destroyed() {
    let Some(m) =
        moto("a_serverless_stack_goes_up_drifts_publishes_new_code_and_is_destroyed").await
    else {
        return;
    };
    let lambda = m.provider.lambda_client().await.clone();
    let (_, iam) = clients(&m).await;
    let dir = tempfile::tempdir().unwrap();
    write_code(dir.path(), 1);
    let code = || dir.path().to_path_buf();
    let engine = m.engine();

    let report = engine.up(program(code(), "prod"), false).await.unwrap();
    assert!(report.is_success());
    assert_eq!(counts(&lambda).await, (1, 1, 1));
    let api: FunctionOutputs = outputs(&engine, "api").await;
    let first: VersionOutputs = outputs(&engine, "api-version").await;
    let live: AliasOutputs = outputs(&engine, "api-live").await;
    assert_eq!(
        api.code_sha256,
        Package::directory(code()).unwrap().sha256,
        "Lambda's CodeSha256 is the package's hash"
    );
    let config = lambda
        .get_function_configuration()
        .function_name(api.name.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(config.handler(), Some("main.handler"));
    assert_eq!(config.memory_size(), Some(256));
    let vars = config.environment().unwrap().variables().unwrap();
    assert_eq!(vars["STAGE"], "prod");
    assert_eq!(vars["DB_PASSWORD"], "hunter2");
    let alias = lambda
        .get_alias()
        .function_name(api.name.as_str())
        .name("live")
        .send()
        .await
        .unwrap();
    assert_eq!(alias.function_version(), Some(first.version.as_str()));
    assert_eq!(alias.alias_arn(), Some(live.arn.as_str()));

    // Nothing changed: no drift, nothing to do, and nothing uploaded.
    let drift = engine.drift().await.unwrap();
    assert!(!drift.has_drift(), "{}", drift.render());
    let preview = engine.preview(program(code(), "prod"), true).await.unwrap();
    assert!(!preview.plan.has_changes(), "{}", preview.plan.render());
    // The secret is never shown.
    assert!(!preview.plan.render().contains("hunter2"));

    // Someone changes the handler and a variable by hand.
    let mut changed = vars.clone();
    changed.insert("STAGE".into(), "by-hand".into());
    lambda
        .update_function_configuration()
        .function_name(api.name.as_str())
        .handler("main.by_hand")
        .environment(
            dafnck_providers::aws::sdk::lambda::types::Environment::builder()
                .set_variables(Some(changed))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let drift = engine.drift().await.unwrap();
    assert_eq!(drift.drifted.len(), 1, "{}", drift.render());
    let d = drift.get("api").expect("the function drifted");
    assert_eq!(d.kind, DriftKind::Changed);
    let mut fields: Vec<&str> = d.fields.iter().map(|f| f.field.as_str()).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["environment", "handler"], "{}", drift.render());
    assert!(!drift.render().contains("hunter2"), "{}", drift.render());

    // up --refresh puts it back.
    engine.up(program(code(), "prod"), true).await.unwrap();
    let drift = engine.drift().await.unwrap();
    assert!(!drift.has_drift(), "{}", drift.render());

    // New code: uploaded, a new version published, the alias moved to it,
    // the old version deleted.
    write_code(dir.path(), 2);
    let preview = engine.preview(program(code(), "prod"), true).await.unwrap();
    assert!(preview.plan.has_changes());
    engine.up(program(code(), "prod"), true).await.unwrap();
    let api2: FunctionOutputs = outputs(&engine, "api").await;
    let second: VersionOutputs = outputs(&engine, "api-version").await;
    assert_eq!(api2.name, api.name);
    assert_ne!(api2.code_sha256, api.code_sha256);
    assert_ne!(second.version, first.version);
    let alias = lambda
        .get_alias()
        .function_name(api.name.as_str())
        .name("live")
        .send()
        .await
        .unwrap();
    assert_eq!(alias.function_version(), Some(second.version.as_str()));
    let published = lambda
        .get_function_configuration()
        .function_name(api.name.as_str())
        .qualifier(second.version.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(published.code_sha256(), Some(api2.code_sha256.as_str()));
    assert_eq!(counts(&lambda).await, (1, 1, 1), "the old version is gone");
    let drift = engine.drift().await.unwrap();
    assert!(!drift.has_drift(), "{}", drift.render());

    engine.destroy().await.unwrap();
    assert_eq!(counts(&lambda).await, (0, 0, 0));
    assert!(iam.list_roles().send().await.unwrap().roles().is_empty());
}
