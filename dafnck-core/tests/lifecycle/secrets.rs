//! Secrets: a `Secret<String>` input is never shown — not in the rendered
//! plan, its `Debug` output, error messages or the drift report — but the
//! state keeps it (sealed in the store: see `secrets_at_rest`).

use dafnck_core::testing::{FakeOp, Fault, TestStack};
use dafnck_core::{Options, ProviderError, Secret, Stack, Value};

use crate::common::{instance, network, subnet};

const PASSWORD: &str = "hunter2-correct-horse";
const ROTATED: &str = "rotated-battery-staple";

fn infra(
    password: &'static str,
    size: &'static str,
    image: &'static str,
) -> impl Fn(&mut Stack) -> dafnck_core::Result<()> {
    move |stack| {
        let net = stack.add("net", network("10.0.0.0/16"));
        let sub = stack.add("sub", subnet(net.out().network_id, "10.0.1.0/24"));
        let mut web = instance(sub.out().subnet_id, size);
        web.image = image.into();
        web.admin_password = Some(Secret::new(password.to_string()));
        stack.add_with("web", web, Options::new().protect());
        Ok(())
    }
}

fn assert_hidden(what: &str, text: &str) {
    for secret in [PASSWORD, ROTATED] {
        assert!(!text.contains(secret), "{what} shows a secret:\n{text}");
    }
}

#[tokio::test]
async fn plans_never_show_a_secret() {
    let t = TestStack::new("dev");
    let plan = t.preview(infra(PASSWORD, "small", "img-1")).await.unwrap();
    assert!(
        plan.render().contains("admin_password = (secret)"),
        "{}",
        plan.render()
    );
    assert_hidden("the create plan", &plan.render());
    assert_hidden("the plan's Debug", &format!("{plan:?}"));
    assert_hidden("the plan's Display", &plan.to_string());

    t.up(infra(PASSWORD, "small", "img-1")).await.unwrap();
    let plan = t.preview(infra(ROTATED, "large", "img-1")).await.unwrap();
    assert_eq!(
        plan.change("web").unwrap().fields,
        vec!["admin_password".to_string(), "size".to_string()]
    );
    assert!(
        plan.render()
            .contains("admin_password: (secret) → (secret)"),
        "{}",
        plan.render()
    );
    assert_hidden("the update plan", &plan.render());
    assert_hidden("the update plan's Debug", &format!("{plan:?}"));
}

#[tokio::test]
async fn errors_never_show_a_secret() {
    let t = TestStack::new("dev");
    t.cloud().inject(
        Some(FakeOp::Create),
        Some("web"),
        Some(1),
        Fault::Error(ProviderError::new("password too weak")),
    );
    let err = t.up(infra(PASSWORD, "small", "img-1")).await.unwrap_err();
    assert_hidden("an apply error", &err.to_string());
    assert_hidden("an apply error's Debug", &format!("{err:?}"));

    t.cloud().clear_faults();
    t.up(infra(PASSWORD, "small", "img-1")).await.unwrap();
    // Replacing the protected instance is refused.
    let err = t.up(infra(ROTATED, "small", "img-2")).await.unwrap_err();
    assert!(matches!(err, dafnck_core::Error::PlanRefused(_)), "{err:?}");
    assert_hidden("a refused plan", &err.to_string());
    assert_hidden("a refused plan's Debug", &format!("{err:?}"));
}

#[tokio::test]
async fn the_drift_report_never_shows_a_secret() {
    let t = TestStack::new("dev");
    t.up(infra(PASSWORD, "small", "img-1")).await.unwrap();
    let id = t.cloud().object_named("web").id;
    // Someone rotates the password in the console; the provider reads it
    // back as a plain string, as real providers do.
    t.cloud().mutate(&id, |o| {
        if let Value::Map(m) = &mut o.inputs {
            m.insert("admin_password".into(), ROTATED.into());
        }
    });
    let report = t.engine().drift().await.unwrap();
    let web = report.get("web").expect("the rotation is drift");
    assert_eq!(web.fields.len(), 1);
    assert_eq!(web.fields[0].field, "admin_password");
    assert_hidden("the drift report", &report.render());
    assert_hidden("the drift report's Debug", &format!("{report:?}"));

    let preview = t
        .engine()
        .preview(infra(PASSWORD, "small", "img-1"), true)
        .await
        .unwrap();
    assert_hidden("a refreshing preview", &preview.plan.render());
    assert_hidden("a refreshing preview's Debug", &format!("{preview:?}"));
}

#[tokio::test]
async fn a_secret_read_back_as_plain_text_is_not_drift() {
    let t = TestStack::new("dev");
    t.up(infra(PASSWORD, "small", "img-1")).await.unwrap();
    let id = t.cloud().object_named("web").id;
    t.cloud().mutate(&id, |o| {
        if let Value::Map(m) = &mut o.inputs {
            m.insert("admin_password".into(), PASSWORD.into());
        }
    });
    let report = t.engine().drift().await.unwrap();
    assert!(!report.has_drift(), "{}", report.render());
    assert_hidden("the drift report", &report.render());
    t.engine()
        .up(infra(PASSWORD, "small", "img-1"), true)
        .await
        .unwrap();
    let recorded = &t.state().await.resources["web"].inputs;
    assert_eq!(
        recorded.get("admin_password"),
        Some(&Value::Secret(Box::new(PASSWORD.into()))),
        "still a secret in the state"
    );
}

#[tokio::test]
async fn the_state_keeps_the_secret() {
    let t = TestStack::new("dev");
    t.up(infra(PASSWORD, "small", "img-1")).await.unwrap();
    let state = t.state().await;
    let recorded = state.resources["web"].inputs.get("admin_password").unwrap();
    assert_eq!(recorded, &Value::Secret(Box::new(PASSWORD.into())));
    assert_hidden("the state's Debug", &format!("{state:?}"));
    let json = serde_json::to_string(&state).unwrap();
    assert!(
        json.contains(PASSWORD),
        "the state as loaded, opened with the key, holds the secret itself"
    );
    // The provider was given the value itself.
    let sent = t.cloud().object_named("web").inputs;
    assert_eq!(
        sent.get("admin_password").map(Value::to_plain_json),
        Some(PASSWORD.into())
    );
}
