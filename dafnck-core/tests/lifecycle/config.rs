//! Typed config: `Stack::config_as::<T>(key)` reads a stack's config value
//! as a `T`; a missing key or a value of another type is an error naming
//! the key, the stack and the type; `TestStack::config` supplies values.

use dafnck_core::testing::TestStack;
use dafnck_core::{Error, Stack, Value};
use serde::Deserialize;

use crate::common::{network, node, planned};

#[derive(Deserialize, Debug, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Size {
    Small,
    Large,
}

/// Reads typed config into a network's range and a node's fields.
fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
    let octet: u8 = stack.config_as("octet")?;
    let size: Size = stack.config_as("size")?;
    let zones: Vec<String> = stack.config_or("zones", vec!["a".into()])?;
    let public: bool = stack.config_or("public", false)?;
    stack.add("net", network(&format!("10.{octet}.0.0/16")));
    stack.add(
        "n",
        node(
            &format!("{size:?}/{public}"),
            "k",
            zones.into_iter().map(Into::into).collect(),
        ),
    );
    Ok(())
}

#[tokio::test]
async fn typed_values_reach_the_program() {
    let t = TestStack::new("dev")
        .config("octet", "7")
        .config("size", "large")
        .config("zones", r#"["a","b"]"#);
    let plan = t.preview(infra).await.unwrap();
    assert_eq!(planned(&plan, "net", "cidr"), Value::from("10.7.0.0/16"));
    assert_eq!(planned(&plan, "n", "value"), Value::from("Large/false"));
    assert_eq!(
        planned(&plan, "n", "refs"),
        Value::List(vec!["a".into(), "b".into()])
    );
}

#[tokio::test]
async fn a_missing_key_names_the_key_and_the_stack() {
    let t = TestStack::new("prod").config("size", "small");
    let err = t.preview(infra).await.unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "stack \"prod\" has no configuration value \"octet\""
    );
}

#[tokio::test]
async fn a_value_of_another_type_names_the_key_the_stack_and_the_type() {
    let t = TestStack::new("prod")
        .config("octet", "300")
        .config("size", "small");
    let err = t.preview(infra).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "config value \"octet\" of stack \"prod\" is not a u8: invalid value: integer `300`, expected u8"
    );
    let t = TestStack::new("prod")
        .config("octet", "1")
        .config("size", "huge");
    let err = t.preview(infra).await.unwrap_err();
    assert!(
        matches!(&err, Error::ConfigType { key, expected, .. } if key == "size" && expected == "Size"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("unknown variant `huge`, expected `small` or `large`"),
        "{err}"
    );
}

#[tokio::test]
async fn a_default_applies_only_when_the_key_is_not_set() {
    let t = TestStack::new("dev")
        .config("octet", "1")
        .config("size", "small")
        .config("public", "yes");
    let err = t.preview(infra).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "config value \"public\" of stack \"dev\" is not a bool: invalid type: string \"yes\", expected a boolean"
    );
    let t = TestStack::new("dev")
        .config("octet", "1")
        .config("size", "small")
        .config("public", "true");
    let plan = t.preview(infra).await.unwrap();
    assert_eq!(planned(&plan, "n", "value"), Value::from("Small/true"));
    assert_eq!(planned(&plan, "n", "refs"), Value::List(vec!["a".into()]));
}

#[tokio::test]
async fn a_string_key_takes_the_text_as_it_is() {
    let t = TestStack::new("dev").config("name", "0042");
    let plan = t
        .preview(|stack: &mut Stack| {
            let name: String = stack.config_as("name")?;
            stack.add("n", node(&name, "k", vec![]));
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(planned(&plan, "n", "value"), Value::from("0042"));
}

#[tokio::test]
async fn a_value_read_as_a_secret_stays_secret_in_the_plan_and_the_state() {
    use dafnck_core::testing::resources::Instance;
    use dafnck_core::Secret;
    let t = TestStack::new("dev").config("admin_password", "hunter2");
    let program = |stack: &mut Stack| {
        let password: Secret<String> = stack.config_as("admin_password")?;
        assert_eq!(
            stack.secret_config::<String>("admin_password")?.expose(),
            "hunter2"
        );
        stack.add(
            "web",
            Instance {
                admin_password: Some(password),
                ..Default::default()
            },
        );
        Ok(())
    };
    let plan = t.preview(program).await.unwrap();
    assert!(!plan.render().contains("hunter2"), "{}", plan.render());
    t.up(program).await.unwrap();
    let recorded = t.state().await.resources["web"].inputs.clone();
    assert_eq!(
        recorded.get("admin_password"),
        Some(&Value::Secret(Box::new("hunter2".into())))
    );
}

#[tokio::test]
async fn a_secret_config_value_is_read_only_as_a_secret() {
    let t = TestStack::new("prod").secret_config("db_password", "hunter2");
    let plan = t
        .preview(|stack: &mut Stack| {
            assert_eq!(stack.config("db_password"), None, "not given out as text");
            assert!(stack.is_secret_config("db_password"));
            let pw: dafnck_core::Secret<String> = stack.secret_config("db_password")?;
            let value = pw.expose().len().to_string();
            stack.add("n", node(&value, "k", vec![]));
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(planned(&plan, "n", "value"), Value::from("7"));
    let err = t
        .preview(|stack: &mut Stack| {
            let _: String = stack.config_as("db_password")?;
            Ok(())
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "config value \"db_password\" of stack \"prod\" is not a String: the value is secret: read it with `secret_config`"
    );
    assert!(!err.to_string().contains("hunter2"));
}
