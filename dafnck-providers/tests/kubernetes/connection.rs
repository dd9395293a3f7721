//! Where the provider connects: a context of a kubeconfig per provider
//! instance, and clear errors for a kubeconfig or context that does not
//! work. Always against a fake API server of the test's own (the contexts
//! are the test's).

use dafnck_core::provider::CreateRequest;
use dafnck_core::Provider as _;
use dafnck_providers::kubernetes::{Namespace, Provider, Settings};

fn create(name: &str) -> CreateRequest {
    let ns = Namespace {
        name: name.into(),
        ..Default::default()
    };
    super::support::create("ns", &ns, "t-1")
}

#[tokio::test]
async fn each_instance_uses_its_own_context_and_a_bad_one_is_named() {
    let server = dafnck_kube_fake::spawn().expect("the fake API server starts");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    // Two contexts: one for the server, one for a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1
kind: Config
clusters:
- {{name: good, cluster: {{server: {}}}}}
- {{name: bad, cluster: {{server: http://{closed}}}}}
contexts:
- {{name: good, context: {{cluster: good, user: anyone}}}}
- {{name: bad, context: {{cluster: bad, user: anyone}}}}
current-context: bad
users:
- {{name: anyone, user: {{}}}}
",
            server.url()
        ),
    )
    .unwrap();

    let good = Provider::new(Settings::kubeconfig(&path, Some("good".into())));
    let made = good.create(create("by-context")).await.unwrap();
    assert_eq!(made.id, "by-context");
    dafnck_providers::kubernetes::install_tls_provider();
    let client = kube::Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
    let live = kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(client)
        .get_opt("by-context")
        .await
        .unwrap();
    assert!(
        live.is_some(),
        "the namespace is on the good context's server"
    );

    // The current context (bad): nothing answers, which a retry may fix.
    let bad = Provider::new(Settings::kubeconfig(&path, None));
    let e = bad.create(create("nowhere")).await.unwrap_err();
    assert!(e.retryable, "{}", e.message);
    assert!(
        e.message.starts_with("kubernetes:core:Namespace \"ns\""),
        "{}",
        e.message
    );

    let unknown = Provider::new(Settings::kubeconfig(&path, Some("staging".into())));
    let e = unknown.create(create("nowhere")).await.unwrap_err();
    assert!(!e.retryable);
    assert!(e.message.contains("context \"staging\""), "{}", e.message);

    let missing = Provider::new(Settings::kubeconfig(dir.path().join("none"), None));
    let e = missing.create(create("nowhere")).await.unwrap_err();
    assert!(
        e.message
            .contains("cannot configure a client for kubeconfig"),
        "{}",
        e.message
    );
}
