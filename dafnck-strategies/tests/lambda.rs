//! The Lambda alias router against moto: each test makes an IAM role, a
//! function with published versions and an alias `live` on version 1, then
//! moves the alias through `AliasRouter` and checks it with GetAlias.
//! moto comes from `DAFNCK_MOTO_URL` (set by `scripts/servers/moto.sh
//! start` or `scripts/test.sh`, which puts moto's Lambda in its no-Docker
//! mode); without it the tests say they are skipped, unless
//! `DAFNCK_REQUIRE_SERVERS=1`.
//!
//! The tests do not reset moto: every function and role has a name of its
//! own, so they run in parallel and beside other tests' objects.

#![cfg(feature = "lambda")]

mod support;

use aws_config::SdkConfig;
use aws_sdk_lambda::error::DisplayErrorContext;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime};
use aws_sdk_lambda::Client;
use dafnck_core::Value;
use dafnck_strategies::lambda::{AliasError, AliasRouter, AliasRouting};
use dafnck_strategies::{TrafficRouter, Weights};
use support::{moto_url, sdk_config, unique};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An empty zip whose comment is `n` (so each differs, and its hash).
fn zip(n: u8) -> Blob {
    let mut bytes = b"PK\x05\x06".to_vec();
    bytes.extend([0u8; 16]);
    bytes.extend([1, 0, n]);
    Blob::new(bytes)
}

/// Creates an IAM role Lambda may assume (one IAM Query API call: this
/// crate has no IAM SDK) and returns its ARN.
async fn role(url: &str) -> String {
    let host = url.trim_start_matches("http://");
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let body = format!(
        "Action=CreateRole&Version=2010-05-08&RoleName={}&AssumeRolePolicyDocument={}",
        unique("router"),
        encode(trust)
    );
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(host).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let start = response
        .find("<Arn>")
        .unwrap_or_else(|| panic!("moto made no role: {response}"))
        + "<Arn>".len();
    let end = start + response[start..].find("</Arn>").unwrap();
    response[start..end].to_owned()
}

/// A function with versions 1 and 2 and the alias `live` on version 1.
struct World {
    config: SdkConfig,
    lambda: Client,
    function: String,
}

async fn world(test: &str) -> Option<World> {
    let url = moto_url(test)?;
    let config = sdk_config(&url).await;
    let lambda = Client::new(&config);
    let function = unique("api");
    lambda
        .create_function()
        .function_name(&function)
        .runtime(Runtime::Python312)
        .handler("main.handler")
        .role(role(&url).await)
        .code(FunctionCode::builder().zip_file(zip(1)).build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateFunction {function}: {}", DisplayErrorContext(e)));
    let w = World {
        config,
        lambda,
        function,
    };
    w.publish(1).await;
    w.publish(2).await;
    w.lambda
        .create_alias()
        .function_name(&w.function)
        .name("live")
        .function_version("1")
        .description("kept")
        .send()
        .await
        .unwrap();
    Some(w)
}

impl World {
    /// Uploads code `n` and publishes it.
    async fn publish(&self, n: u8) -> String {
        if n > 1 {
            self.lambda
                .update_function_code()
                .function_name(&self.function)
                .zip_file(zip(n))
                .send()
                .await
                .unwrap();
        }
        let v = self
            .lambda
            .publish_version()
            .function_name(&self.function)
            .send()
            .await
            .unwrap();
        v.version().unwrap().to_owned()
    }

    fn router(&self, alias: &str) -> AliasRouter {
        AliasRouter::with_config(&self.config, &self.function, alias, "1", "2")
    }

    /// The alias as GetAlias shows it: version, additional version and
    /// its percentage, description.
    async fn alias(&self) -> (String, Option<(String, u32)>, String) {
        let a = self
            .lambda
            .get_alias()
            .function_name(&self.function)
            .name("live")
            .send()
            .await
            .unwrap();
        let additional = a
            .routing_config()
            .and_then(|r| r.additional_version_weights())
            .and_then(|w| w.iter().next())
            .map(|(v, w)| (v.clone(), (w * 100.0).round() as u32));
        (
            a.function_version().unwrap().to_owned(),
            additional,
            a.description().unwrap_or_default().to_owned(),
        )
    }
}

#[tokio::test]
async fn the_canarys_splits_are_on_the_alias_when_set_weights_returns() {
    let Some(w) = world("lambda_alias_splits").await else {
        return;
    };
    let router = w.router("live");
    assert_eq!(
        router.describe(),
        format!("Lambda alias live of function {}", w.function)
    );
    let kept = "kept".to_owned();
    for (share, want) in [
        (0, ("1", None)),
        (5, ("1", Some(("2", 5)))),
        (25, ("1", Some(("2", 25)))),
        (50, ("1", Some(("2", 50)))),
        (100, ("2", None)),
        (0, ("1", None)),
    ] {
        router.set_weights(Weights::to_new(share)).await.unwrap();
        let (version, additional) = want;
        assert_eq!(
            w.alias().await,
            (
                version.to_owned(),
                additional.map(|(v, p): (&str, u32)| (v.to_owned(), p)),
                kept.clone()
            ),
            "after setting {share}% new"
        );
    }
    // The same split again is no change.
    router.set_weights(Weights::to_new(0)).await.unwrap();
    assert_eq!(
        router.read().await.unwrap(),
        AliasRouting {
            version: "1".into(),
            additional: None
        }
    );
}

#[tokio::test]
async fn a_router_built_from_version_outputs_moves_their_functions_alias() {
    let Some(w) = world("lambda_alias_from_outputs").await else {
        return;
    };
    let outputs = |n: &str| {
        Value::from_json(serde_json::json!({
            "arn": format!("arn:aws:lambda:us-east-1:123456789012:function:{}:{n}", w.function),
            "version": n,
        }))
    };
    let build = AliasRouter::for_alias_with(&w.config, "live");
    let router = build(&outputs("1"), &outputs("2")).unwrap();
    router.set_weights(Weights::to_new(25)).await.unwrap();
    assert_eq!(w.alias().await.1, Some(("2".to_owned(), 25)));
    router.set_weights(Weights::to_new(0)).await.unwrap();
    assert_eq!(w.alias().await.0, "1");
    assert_eq!(w.alias().await.1, None);
    // A rollout whose new version was never published: the old version
    // alone is already in effect, and no share can go to the new one.
    let unpublished = build(&outputs("1"), &Value::Null).unwrap();
    unpublished.set_weights(Weights::to_new(0)).await.unwrap();
    let e = unpublished
        .set_weights(Weights::to_new(5))
        .await
        .unwrap_err();
    assert!(e.contains("none was published"), "{e}");
    assert_eq!(w.alias().await.0, "1");
}

#[tokio::test]
async fn an_alias_on_a_third_version_or_no_alias_is_an_error_naming_it() {
    let Some(w) = world("lambda_alias_errors").await else {
        return;
    };
    let third = w.publish(3).await;
    w.lambda
        .update_alias()
        .function_name(&w.function)
        .name("live")
        .function_version(&third)
        .send()
        .await
        .unwrap();
    let e = w
        .router("live")
        .apply(Weights::to_new(5))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, AliasError::ForeignVersion { found, .. } if *found == third),
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.contains(&w.function) && text.contains("will not take its traffic away"),
        "{text}"
    );
    assert_eq!(w.alias().await.0, third, "the alias is left alone");

    let e = w
        .router("missing")
        .apply(Weights::to_new(5))
        .await
        .unwrap_err();
    assert!(matches!(e, AliasError::NotFound { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("alias missing") && text.contains(&w.function),
        "{text}"
    );
}
