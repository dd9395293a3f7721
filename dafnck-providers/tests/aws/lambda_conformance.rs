//! The Lambda types pass the provider conformance suite against moto (its
//! Lambda in the no-Docker mode `scripts/servers/moto.sh` sets: functions
//! are kept, versioned and aliased, never run). What a sample needs around
//! it (an execution role; a function for a version or an alias, with two
//! versions for an alias) is made with the SDK first; changes and deletes
//! out of band are the SDK's, as someone at the console would make them.

use std::collections::BTreeMap;

use async_trait::async_trait;
use dafnck_core::prelude::Secret;
use dafnck_core::provider::Observed;
use dafnck_core::testing::conformance::{conformance, OutOfBand, Sample};
use dafnck_core::Resource;
use dafnck_providers::aws::iam::RoleArn;
use dafnck_providers::aws::lambda::{
    Alias, Function, FunctionName, Package, Version, WeightedVersion,
};
use dafnck_providers::aws::sdk::lambda::primitives::Blob;
use dafnck_providers::aws::sdk::lambda::types::FunctionCode;
use dafnck_providers::aws::sdk::lambda::Client as LambdaClient;

use super::asg_conformance::create;
use super::s3_iam_stack::clients;
use super::support::{moto, tags, Moto};

/// Who may assume a function's role.
pub(crate) const LAMBDA_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn show(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

/// Someone at the Lambda console, for one type.
struct Console {
    lambda: LambdaClient,
    type_name: &'static str,
}

fn console<R: Resource>(lambda: &LambdaClient) -> Console {
    Console {
        lambda: lambda.clone(),
        type_name: R::TYPE,
    }
}

/// The function name and qualifier in a qualified ARN.
fn qualified(arn: &str) -> (String, String) {
    let (function, qualifier) = arn
        .rsplit_once(":function:")
        .and_then(|(_, rest)| rest.split_once(':'))
        .unwrap_or_else(|| panic!("not a qualified ARN: {arn}"));
    (function.to_owned(), qualifier.to_owned())
}

#[async_trait]
impl OutOfBand for Console {
    async fn change(&self, found: &Observed) -> Result<bool, String> {
        match self.type_name {
            "aws:lambda:Function" => {
                self.lambda
                    .update_function_configuration()
                    .function_name(&found.id)
                    .handler("by.hand")
                    .send()
                    .await
                    .map_err(show)?;
            }
            "aws:lambda:Alias" => {
                let (function, name) = qualified(&found.id);
                self.lambda
                    .update_alias()
                    .function_name(function)
                    .name(name)
                    .function_version("1")
                    .description("by hand")
                    .send()
                    .await
                    .map_err(show)?;
            }
            // A version never changes.
            _ => return Ok(false),
        }
        Ok(true)
    }

    async fn delete(&self, found: &Observed) -> Result<(), String> {
        match self.type_name {
            "aws:lambda:Function" => {
                self.lambda
                    .delete_function()
                    .function_name(&found.id)
                    .send()
                    .await
                    .map_err(show)?;
            }
            "aws:lambda:Alias" => {
                let (function, name) = qualified(&found.id);
                self.lambda
                    .delete_alias()
                    .function_name(function)
                    .name(name)
                    .send()
                    .await
                    .map_err(show)?;
            }
            _ => {
                let (function, version) = qualified(&found.id);
                self.lambda
                    .delete_function()
                    .function_name(function)
                    .qualifier(version)
                    .send()
                    .await
                    .map_err(show)?;
            }
        }
        Ok(())
    }
}

/// A directory holding `main.py` with `body`, and its package.
pub(crate) fn code(body: &str) -> (tempfile::TempDir, Package) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.py"), body).unwrap();
    let package = Package::directory(dir.path()).unwrap();
    (dir, package)
}

/// An execution role for functions, made with the SDK; its ARN.
pub(crate) async fn execution_role(m: &Moto, name: &str) -> String {
    let (_, iam) = clients(m).await;
    iam.create_role()
        .role_name(name)
        .assume_role_policy_document(LAMBDA_TRUST)
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn
}

/// A function made with the SDK, and its ARN.
async fn sdk_function(lambda: &LambdaClient, name: &str, role: &str) -> String {
    let (_dir, package) = code("def handler(event, context):\n    return 1\n");
    lambda
        .create_function()
        .function_name(name)
        .runtime("python3.12".into())
        .handler("main.handler")
        .role(role)
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(package.bytes().unwrap()))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .function_arn
        .unwrap()
}

/// Publishes a new version of `name` (its description changed first, so
/// Lambda has something new to publish); its number.
async fn sdk_version(lambda: &LambdaClient, name: &str, n: u32) -> String {
    lambda
        .update_function_configuration()
        .function_name(name)
        .description(format!("v{n}"))
        .send()
        .await
        .unwrap();
    lambda
        .publish_version()
        .function_name(name)
        .send()
        .await
        .unwrap()
        .version
        .unwrap()
}

fn v(version: &str) -> BTreeMap<String, String> {
    tags(&[("v", version)])
}

#[tokio::test]
async fn the_lambda_types_pass_the_provider_conformance_suite() {
    let Some(m) = moto("the_lambda_types_pass_the_provider_conformance_suite").await else {
        return;
    };
    let lambda = m.provider.lambda_client().await.clone();
    let role = execution_role(&m, "conformance-lambda").await;

    let (_a, first) = code("def handler(event, context):\n    return 1\n");
    let (_b, second) = code("def handler(event, context):\n    return 2\n");
    let function = Function {
        code: first,
        runtime: "python3.12".into(),
        handler: "main.handler".into(),
        role: RoleArn(role.clone()).into(),
        environment: [("STAGE".to_string(), "test".into())].into(),
        secret_environment: [(
            "TOKEN".to_string(),
            Secret::new("s3cr3t".to_string()).into(),
        )]
        .into(),
        tags: v("1"),
        ..Default::default()
    };
    let function_updated = Function {
        code: second,
        handler: "main.other".into(),
        memory_size: 256,
        timeout: 10,
        environment: [("STAGE".to_string(), "prod".into())].into(),
        description: "updated".into(),
        tags: v("2"),
        ..function.clone()
    };

    // A version of a function made by hand.
    sdk_function(&lambda, "versioned", &role).await;
    let sha = lambda
        .get_function_configuration()
        .function_name("versioned")
        .send()
        .await
        .unwrap()
        .code_sha256
        .unwrap();
    let version = Version {
        function_name: FunctionName::from("versioned").into(),
        code_sha256: sha.into(),
        description: "first".into(),
    };

    // An alias of a function with two versions made by hand.
    sdk_function(&lambda, "aliased", &role).await;
    let one = sdk_version(&lambda, "aliased", 1).await;
    let two = sdk_version(&lambda, "aliased", 2).await;
    assert_eq!((one.as_str(), two.as_str()), ("1", "2"));
    let alias = Alias {
        name: "live".into(),
        function_name: FunctionName::from("aliased").into(),
        function_version: one.clone().into(),
        ..Default::default()
    };
    let alias_updated = Alias {
        function_version: two.into(),
        routing: Some(WeightedVersion {
            version: one.into(),
            weight: 0.25,
        }),
        description: "canary".into(),
        ..alias.clone()
    };

    let samples = [
        Sample::new(function, function_updated, console::<Function>(&lambda)),
        Sample::immutable(version, console::<Version>(&lambda)),
        Sample::new(alias, alias_updated, console::<Alias>(&lambda)),
    ];
    conformance(&m.provider, &samples).await.unwrap();
    let left = lambda.list_functions().send().await.unwrap();
    let names: Vec<_> = left
        .functions()
        .iter()
        .filter_map(|f| f.function_name())
        .collect();
    assert_eq!(names.len(), 2, "the SDK's two functions only: {names:?}");
}

#[tokio::test]
async fn a_repeated_create_finds_its_objects_and_names_taken_by_others_are_refused() {
    let Some(m) =
        moto("a_repeated_create_finds_its_objects_and_names_taken_by_others_are_refused").await
    else {
        return;
    };
    let lambda = m.provider.lambda_client().await.clone();
    let role = execution_role(&m, "again-lambda").await;
    let (_dir, package) = code("def handler(event, context):\n    return 1\n");
    let function = Function {
        code: package.clone(),
        runtime: "python3.12".into(),
        handler: "main.handler".into(),
        role: RoleArn(role.clone()).into(),
        ..Default::default()
    };
    // The same create twice (its first answer lost): one function, one id.
    let token = "run-1-again";
    let name = create(&m, &function, token).await.unwrap();
    assert_eq!(create(&m, &function, token).await.unwrap(), name);
    let version = Version {
        function_name: FunctionName(name.clone()).into(),
        code_sha256: package.sha256.clone().into(),
        ..Default::default()
    };
    let published = create(&m, &version, token).await.unwrap();
    assert_eq!(create(&m, &version, token).await.unwrap(), published);
    let alias = Alias {
        name: "live".into(),
        function_name: FunctionName(name.clone()).into(),
        function_version: "1".to_string().into(),
        ..Default::default()
    };
    let arn = create(&m, &alias, token).await.unwrap();
    assert_eq!(create(&m, &alias, token).await.unwrap(), arn);
    let functions = lambda.list_functions().send().await.unwrap();
    assert_eq!(functions.functions().len(), 1);

    // A declared name another function has is not adopted, nor an alias
    // of the same name pointing elsewhere.
    sdk_function(&lambda, "by-hand", &role).await;
    let e = create(
        &m,
        &Function {
            name: Some("by-hand".into()),
            ..function
        },
        "run-2-again",
    )
    .await
    .unwrap_err();
    assert!(!e.retryable);
    assert!(
        e.message.contains("aws:lambda:Function \"again\"")
            && e.message
                .contains("already exists and was not made by this resource"),
        "{}",
        e.message
    );
    let e = create(
        &m,
        &Alias {
            function_version: "$LATEST".to_string().into(),
            ..alias
        },
        "run-2-again",
    )
    .await
    .unwrap_err();
    assert!(e.message.contains("points elsewhere"), "{}", e.message);

    // A version of code the function does not have is refused by name.
    let e = create(
        &m,
        &Version {
            code_sha256: "not-the-hash".to_string().into(),
            ..version
        },
        "run-3-again",
    )
    .await
    .unwrap_err();
    assert!(
        e.message.contains("aws:lambda:Version \"again\"") && e.message.contains("not-the-hash"),
        "{}",
        e.message
    );
}
