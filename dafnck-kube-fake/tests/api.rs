//! The fake API server's raw API, as clients such as kube-rs use it:
//! `Status` errors, optimistic concurrency, status subresources,
//! generations, server-side apply over HTTP, watches and the simulated
//! autoscaler.

mod support;

use serde_json::{json, Value};
use std::time::Duration;
use support::{condition, eventually, replicas_owners, Fake};

const CM: &str = "/api/v1/namespaces/default/configmaps";
const DEPLOY: &str = "/apis/apps/v1/namespaces/default/deployments";

fn deployment(name: &str, image: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "app", "image": image}]}}
        }
    })
}

#[test]
fn errors_are_status_objects_with_the_api_servers_reasons() {
    let fake = Fake::still();
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
    let (code, created) = fake.http("POST", CM, "application/json", &cm.to_string());
    assert_eq!(code, 201);
    assert_eq!(
        created["metadata"]["resourceVersion"]
            .as_str()
            .map(|s| !s.is_empty()),
        Some(true)
    );

    let (code, status) = fake.http("POST", CM, "application/json", &cm.to_string());
    assert_eq!(code, 409);
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "AlreadyExists");
    assert_eq!(status["message"], "configmaps \"c\" already exists");
    assert_eq!(
        status["details"],
        json!({"name": "c", "group": "", "kind": "configmaps"})
    );

    let (code, status) = fake.get(&format!("{DEPLOY}/missing"));
    assert_eq!((code, status["reason"].as_str()), (404, Some("NotFound")));
    assert_eq!(status["message"], "deployments.apps \"missing\" not found");

    let (code, status) = fake.http(
        "POST",
        "/api/v1/namespaces/nowhere/configmaps",
        "application/json",
        &cm.to_string(),
    );
    assert_eq!(
        (code, status["message"].as_str()),
        (404, Some("namespaces \"nowhere\" not found"))
    );

    let bad = deployment("bad", "demo", 1);
    let mut bad = bad;
    bad["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"});
    let (code, status) = fake.http("POST", DEPLOY, "application/json", &bad.to_string());
    assert_eq!((code, status["reason"].as_str()), (422, Some("Invalid")));
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .starts_with("Deployment.apps \"bad\" is invalid: "),
        "{status}"
    );
}

#[test]
fn a_replace_with_a_stale_resource_version_conflicts() {
    let fake = Fake::still();
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
    let (_, created) = fake.http("POST", CM, "application/json", &cm.to_string());
    let mut first = created.clone();
    first["data"]["a"] = json!("2");
    let (code, updated) = fake.http(
        "PUT",
        &format!("{CM}/c"),
        "application/json",
        &first.to_string(),
    );
    assert_eq!(code, 200);
    assert_ne!(
        updated["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );

    let mut stale = created.clone();
    stale["data"]["a"] = json!("3");
    let (code, status) = fake.http(
        "PUT",
        &format!("{CM}/c"),
        "application/json",
        &stale.to_string(),
    );
    assert_eq!((code, status["reason"].as_str()), (409, Some("Conflict")));
    assert!(status["message"]
        .as_str()
        .unwrap()
        .contains("the object has been modified"));
    assert_eq!(fake.get(&format!("{CM}/c")).1["data"]["a"], "2");

    // An update that changes nothing keeps the resource version.
    let (_, same) = fake.http(
        "PUT",
        &format!("{CM}/c"),
        "application/json",
        &updated.to_string(),
    );
    assert_eq!(
        same["metadata"]["resourceVersion"],
        updated["metadata"]["resourceVersion"]
    );
}

#[test]
fn spec_changes_bump_the_generation_and_the_status_subresource_alone_writes_status() {
    let fake = Fake::still();
    let (code, d) = fake.http(
        "POST",
        DEPLOY,
        "application/json",
        &deployment("web", "demo:1", 2).to_string(),
    );
    assert_eq!(code, 201);
    assert_eq!(d["metadata"]["generation"], 1);

    // A label is metadata: no new generation.
    let (_, d) = fake.merge_patch(
        &format!("{DEPLOY}/web"),
        r#"{"metadata":{"labels":{"x":"y"}}}"#,
    );
    assert_eq!(d["metadata"]["generation"], 1);
    // The main resource ignores status.
    let (_, d) = fake.merge_patch(
        &format!("{DEPLOY}/web"),
        r#"{"spec":{"replicas":4},"status":{"replicas":99}}"#,
    );
    assert_eq!(d["metadata"]["generation"], 2);
    assert_ne!(d["status"]["replicas"], 99);
    // The status subresource ignores spec.
    let (code, d) = fake.merge_patch(
        &format!("{DEPLOY}/web/status"),
        r#"{"spec":{"replicas":7},"status":{"observedGeneration":1}}"#,
    );
    assert_eq!(code, 200);
    assert_eq!(d["spec"]["replicas"], 4);
    assert_eq!(d["metadata"]["generation"], 2);
    let status_writer = d["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == "dafnck-test" && e["subresource"] == "status");
    assert!(
        status_writer.is_some(),
        "the status write is recorded as the status subresource's: {d}"
    );
}

#[test]
fn server_side_apply_over_http_creates_records_ownership_and_reports_conflicts() {
    let fake = Fake::still();
    let url = format!("{DEPLOY}/web?fieldManager=dafnck");
    // YAML, as the content type says.
    let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: app\n        image: demo:1\n";
    let (code, d) = fake.http("PATCH", &url, "application/apply-patch+yaml", yaml);
    assert_eq!(code, 201, "{d}");
    assert_eq!(d["metadata"]["managedFields"][0]["manager"], "dafnck");
    let rv = d["metadata"]["resourceVersion"].clone();

    // The same configuration again changes nothing.
    let (code, d) = fake.http("PATCH", &url, "application/apply-patch+yaml", yaml);
    assert_eq!((code, &d["metadata"]["resourceVersion"]), (200, &rv));

    // Another manager takes replicas by an update (as an autoscaler would).
    let (code, _) = fake.merge_patch(
        &format!("{DEPLOY}/web?fieldManager=autoscaler"),
        r#"{"spec":{"replicas":6}}"#,
    );
    assert_eq!(code, 200);
    let (code, status) = fake.http("PATCH", &url, "application/apply-patch+yaml", yaml);
    assert_eq!(code, 409);
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(
        status["message"],
        "Apply failed with 1 conflict: conflict with \"autoscaler\" using apps/v1: .spec.replicas"
    );
    assert_eq!(
        status["details"]["causes"][0]["type"],
        "FieldManagerConflict"
    );
    assert_eq!(status["details"]["causes"][0]["field"], ".spec.replicas");

    // Without replicas our apply goes through and leaves theirs.
    let (code, d) = fake.http(
        "PATCH",
        &url,
        "application/apply-patch+yaml",
        &yaml
            .replace("  replicas: 2\n", "")
            .replace("demo:1", "demo:2"),
    );
    assert_eq!(code, 200, "{d}");
    assert_eq!(d["spec"]["replicas"], 6);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "demo:2"
    );
    assert_eq!(d["metadata"]["generation"], 3);

    // An apply needs a field manager.
    let (code, status) = fake.http(
        "PATCH",
        &format!("{DEPLOY}/web"),
        "application/apply-patch+yaml",
        yaml,
    );
    assert_eq!(code, 422);
    assert!(
        status["message"].as_str().unwrap().contains("fieldManager"),
        "{status}"
    );
}

#[test]
fn a_watch_streams_changes_from_a_resource_version_and_honours_selectors() {
    let fake = Fake::still();
    let (_, list) = fake.get(CM);
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(list["items"].as_array().unwrap().is_empty());
    for (name, app) in [("a", "web"), ("b", "db")] {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"app": app}}});
        assert_eq!(
            fake.http("POST", CM, "application/json", &cm.to_string()).0,
            201
        );
    }
    fake.merge_patch(&format!("{CM}/a"), r#"{"data":{"k":"v"}}"#);
    let (code, status) = fake.http("DELETE", &format!("{CM}/a"), "application/json", "");
    assert_eq!(
        (code, status["kind"].as_str(), status["status"].as_str()),
        (200, Some("Status"), Some("Success"))
    );
    assert_eq!(status["details"]["name"], "a");

    let events = fake.watch(
        &format!("{CM}?watch=true&resourceVersion={rv}&labelSelector=app%3Dweb"),
        Duration::from_secs(5),
        |e| e.len() >= 3,
    );
    let seen: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().into(),
                e["object"]["metadata"]["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("ADDED".into(), "a".into()),
            ("MODIFIED".into(), "a".into()),
            ("DELETED".into(), "a".into())
        ]
    );
    assert_eq!(
        events[1]["object"]["kind"], "ConfigMap",
        "watch events carry the kind"
    );

    // A live watch sees a change made after it opened (once the watches
    // above have closed, so the count below is this one's).
    let server = &fake;
    let watchers = || server.server.cluster().lock().store.watchers();
    eventually(Duration::from_secs(5), || (watchers() == 0).then_some(()))
        .expect("the watches above close");
    std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            server.watch(
                &format!("{CM}?watch=1&fieldSelector=metadata.name%3Dlate"),
                Duration::from_secs(5),
                |e| !e.is_empty(),
            )
        });
        eventually(Duration::from_secs(5), || {
            (server.server.cluster().lock().store.watchers() > 0).then_some(())
        })
        .expect("the watch opens");
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}});
        server.http("POST", CM, "application/json", &cm.to_string());
        let events = watcher.join().unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["object"]["metadata"]["name"], "late");
    });
}

#[test]
fn the_simulated_autoscaler_keeps_its_target_within_bounds_and_owns_the_replicas_it_sets() {
    let fake = Fake::start();
    fake.http(
        "POST",
        DEPLOY,
        "application/json",
        &deployment("web", "demo:1", 1).to_string(),
    );
    let hpa = json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "minReplicas": 2, "maxReplicas": 5}
    });
    let (code, _) = fake.http(
        "POST",
        "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers",
        "application/json",
        &hpa.to_string(),
    );
    assert_eq!(code, 201);
    let replicas = |want: i64| {
        eventually(Duration::from_secs(5), || {
            let (_, d) = fake.get(&format!("{DEPLOY}/web"));
            (d["spec"]["replicas"] == want).then_some(d)
        })
    };
    let d = replicas(2).expect("the HPA raised replicas to its minimum");
    assert_eq!(replicas_owners(&d), ["kube-controller-manager"]);

    fake.server.cluster().set_hpa_desired("default", "web", 50);
    replicas(5).expect("the HPA scaled up to its maximum");
    let hpa = eventually(Duration::from_secs(5), || {
        let (_, h) =
            fake.get("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/web");
        (h["status"]["desiredReplicas"] == 5).then_some(h)
    })
    .expect("the HPA reports its desired replicas");
    let limited = condition(&hpa, "ScalingLimited").unwrap();
    assert_eq!(limited["reason"], "TooManyReplicas");
}

#[test]
fn discovery_lists_the_served_kinds_and_openapi_tells_kubectl_fields_are_validated_here() {
    let fake = Fake::still();
    let (_, v) = fake.get("/version");
    assert_eq!(
        (v["major"].as_str(), v["minor"].as_str()),
        (Some("1"), Some("32"))
    );
    let (_, groups) = fake.get("/apis");
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["apps", "networking.k8s.io", "autoscaling"]);
    let (_, apps) = fake.get("/apis/apps/v1");
    let resources: Vec<&str> = apps["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        resources,
        ["deployments", "deployments/scale", "deployments/status"]
    );
    let (_, root) = fake.get("/openapi/v3");
    let url = root["paths"]["apis/autoscaling/v2"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, doc) = fake.get(&url);
    let patch = &doc["paths"]
        ["/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/{name}"]["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"]["kind"],
        "HorizontalPodAutoscaler"
    );
    assert!(patch["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "fieldValidation"));
}

#[test]
fn a_watch_from_a_resource_version_older_than_the_kept_history_gets_a_410_error_event() {
    let fake = Fake::still();
    {
        let cluster = fake.server.cluster();
        let mut state = cluster.lock();
        let kind = dafnck_kube_fake::kinds::by_kind("v1", "ConfigMap").unwrap();
        let opts = dafnck_kube_fake::store::WriteOptions {
            manager: "test",
            dry_run: false,
            subresource: "",
        };
        for i in 0..10_050 {
            let cm = json!({"metadata": {"name": format!("c{i}")}});
            state.store.create(kind, "default", cm, opts).unwrap();
        }
    }
    let events = fake.watch(
        &format!("{CM}?watch=true&resourceVersion=2"),
        Duration::from_secs(5),
        |e| !e.is_empty(),
    );
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(events[0]["object"]["code"], 410);
    assert_eq!(events[0]["object"]["reason"], "Expired");
    // A recent resource version still resumes.
    let rv = fake.get(CM).1["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let events = fake.watch(
        &format!("{CM}?watch=true&resourceVersion={}", rv - 1),
        Duration::from_secs(5),
        |e| !e.is_empty(),
    );
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["metadata"]["name"], "c10049");
}

#[test]
fn discovery_is_aggregated_when_asked_and_unaggregated_otherwise() {
    let fake = Fake::still();
    let accept =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let (code, ct, apis) = fake.http_with("GET", "/apis", "application/json", accept, "");
    assert_eq!(code, 200);
    assert_eq!(
        ct,
        "application/json;g=apidiscovery.k8s.io;v=v2;as=apigroupdiscoverylist"
    );
    assert_eq!(apis["kind"], "APIGroupDiscoveryList");
    let apps = apis["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["metadata"]["name"] == "apps")
        .unwrap();
    let deployments = &apps["versions"][0]["resources"][0];
    assert_eq!(deployments["resource"], "deployments");
    assert_eq!(deployments["scope"], "Namespaced");
    let subs: Vec<&str> = deployments["subresources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subresource"].as_str().unwrap())
        .collect();
    assert_eq!(subs, ["scale", "status"]);
    let (_, _, core) = fake.http_with("GET", "/api", "application/json", accept, "");
    let core_kinds: Vec<&str> = core["items"][0]["versions"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["responseKind"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(core_kinds, ["Namespace", "ConfigMap", "Secret", "Service"]);

    let (_, ct, legacy) =
        fake.http_with("GET", "/apis", "application/json", "application/json", "");
    assert_eq!(
        (ct.as_str(), legacy["kind"].as_str()),
        ("application/json", Some("APIGroupList"))
    );
}

#[test]
fn a_labelled_watch_sees_an_object_that_starts_or_stops_matching_as_added_or_deleted() {
    let fake = Fake::still();
    let rv = fake.get(CM).1["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m", "labels": {"tier": "cold"}}});
    fake.http("POST", CM, "application/json", &cm.to_string());
    fake.merge_patch(
        &format!("{CM}/m"),
        r#"{"metadata":{"labels":{"tier":"hot"}}}"#,
    );
    fake.merge_patch(&format!("{CM}/m"), r#"{"data":{"k":"v"}}"#);
    fake.merge_patch(
        &format!("{CM}/m"),
        r#"{"metadata":{"labels":{"tier":"cold"}}}"#,
    );
    let events = fake.watch(
        &format!("{CM}?watch=true&resourceVersion={rv}&labelSelector=tier%3Dhot"),
        Duration::from_secs(5),
        |e| e.len() >= 3,
    );
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["ADDED", "MODIFIED", "DELETED"]);
    assert_eq!(
        events[2]["object"]["metadata"]["labels"]["tier"], "cold",
        "the object as it is now"
    );
}
