//! The fake API server's fidelity, proven with the real kubectl: what
//! kubectl sends for `apply` (client- and server-side), `get`, `rollout
//! status` and `delete` is understood, and what it reads back is what it
//! expects from a real cluster.

mod support;

use serde_json::Value;
use support::{condition, replicas_owners, Fake};

const APP: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: shop
data:
  greeting: hello
---
apiVersion: v1
kind: Secret
metadata:
  name: web-secret
  namespace: shop
stringData:
  password: hunter2
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: demo-app:1.0.0
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop
spec:
  rules:
  - host: shop.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: web, port: {number: 80}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
  namespace: shop
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 10
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
"#;

/// `kubectl rollout status` of the example's Deployment.
const ROLLOUT_STATUS: [&str; 7] = [
    "-n",
    "shop",
    "rollout",
    "status",
    "deployment/web",
    "--timeout",
    "30s",
];

fn json(s: &str) -> Value {
    serde_json::from_str(s).expect("kubectl printed JSON")
}

/// The example's Deployment as `kubectl get -o json` prints it (with its
/// managed fields when `managed`).
fn web(fake: &Fake, managed: bool) -> Value {
    let mut args = vec!["-n", "shop", "get", "deployment", "web", "-o", "json"];
    if managed {
        args.push("--show-managed-fields");
    }
    json(&fake.kubectl_ok(&args))
}

#[test]
fn kubectl_apply_creates_every_kind_and_get_reads_them_back_with_server_defaults() {
    let Some(fake) = Fake::with_kubectl(
        "kubectl_apply_creates_every_kind_and_get_reads_them_back_with_server_defaults",
    ) else {
        return;
    };
    let out = fake.apply_file("app.yaml", APP, &[]);
    for line in [
        "namespace/shop created",
        "configmap/web-config created",
        "secret/web-secret created",
        "deployment.apps/web created",
        "service/web created",
        "ingress.networking.k8s.io/web created",
        "horizontalpodautoscaler.autoscaling/web created",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }

    let d = web(&fake, false);
    assert_eq!(d["metadata"]["generation"], 1);
    assert_eq!(d["metadata"]["uid"].as_str().map(str::len), Some(36));
    assert!(d["metadata"]["creationTimestamp"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
    assert!(
        d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string(),
        "client-side apply keeps its last configuration"
    );

    let s = json(&fake.kubectl_ok(&["-n", "shop", "get", "secret", "web-secret", "-o", "json"]));
    assert_eq!(
        s["data"]["password"], "aHVudGVyMg==",
        "stringData is stored base64-encoded"
    );
    assert_eq!(s["type"], "Opaque");
    assert!(s.get("stringData").is_none());

    let svc = json(&fake.kubectl_ok(&["-n", "shop", "get", "svc", "web", "-o", "json"]));
    assert!(svc["spec"]["clusterIP"]
        .as_str()
        .is_some_and(|ip| ip.starts_with("10.96.")));
    assert_eq!(svc["spec"]["ports"][0]["protocol"], "TCP");

    // Short names and label selectors resolve as on a real cluster.
    let names = fake.kubectl_ok(&[
        "-n",
        "shop",
        "get",
        "deploy,svc,ing,hpa,cm",
        "-l",
        "app=web",
        "-o",
        "name",
    ]);
    assert_eq!(names.trim(), "deployment.apps/web");

    // `kubectl get` prints the server's table columns.
    let table = fake.kubectl_ok(&["-n", "shop", "get", "deployment,service,hpa"]);
    for header in [
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "CLUSTER-IP",
        "PORT(S)",
        "REFERENCE",
        "MAXPODS",
    ] {
        assert!(table.contains(header), "{header} missing from:\n{table}");
    }
    assert!(
        table.lines().any(|l| l.starts_with("service/web")
            && l.contains("ClusterIP")
            && l.contains("80/TCP")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("horizontalpodautoscaler.autoscaling/web")
                && l.contains("Deployment/web")),
        "{table}"
    );

    // kubectl's `create <kind>` generators send protobuf: refused, clearly.
    let out = fake.kubectl(&[
        "-n",
        "shop",
        "create",
        "configmap",
        "made",
        "--from-literal=a=b",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("speaks JSON only"));

    // Apply again with a new image: configured, a new generation.
    let out = fake.apply_file(
        "app2.yaml",
        &APP.replace("demo-app:1.0.0", "demo-app:1.1.0"),
        &[],
    );
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    assert!(out.contains("service/web unchanged"), "{out}");
    let d = web(&fake, false);
    assert_eq!(d["metadata"]["generation"], 2);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "demo-app:1.1.0"
    );
}

#[test]
fn kubectl_rollout_status_waits_for_the_simulated_rollout_and_fails_on_a_stalled_one() {
    let Some(fake) = Fake::with_kubectl(
        "kubectl_rollout_status_waits_for_the_simulated_rollout_and_fails_on_a_stalled_one",
    ) else {
        return;
    };
    fake.apply_file("app.yaml", APP, &[]);
    let out = fake.kubectl_ok(&ROLLOUT_STATUS);
    assert!(
        out.contains("Waiting for deployment \"web\" rollout to finish"),
        "{out}"
    );
    assert!(
        out.contains("deployment \"web\" successfully rolled out"),
        "{out}"
    );
    let d = web(&fake, false);
    let st = &d["status"];
    assert_eq!(
        (
            st["observedGeneration"].as_i64(),
            st["updatedReplicas"].as_i64()
        ),
        (Some(1), Some(3))
    );
    assert_eq!(
        (
            st["readyReplicas"].as_i64(),
            st["availableReplicas"].as_i64()
        ),
        (Some(3), Some(3))
    );
    let progressing = condition(&d, "Progressing").unwrap();
    assert_eq!(progressing["reason"], "NewReplicaSetAvailable");

    // The next version stalls: rollout status fails once the deadline passes.
    let stalled = APP
        .replace("demo-app:1.0.0", "demo-app:2.0.0")
        .replace("  replicas: 3\n", "  replicas: 3\n  progressDeadlineSeconds: 2\n")
        .replace("  labels: {app: web}\nspec:\n  replicas", "  labels: {app: web}\n  annotations: {fake.dafnck.dev/rollout: stall}\nspec:\n  replicas");
    assert!(stalled.contains("fake.dafnck.dev/rollout: stall"));
    fake.apply_file("stalled.yaml", &stalled, &[]);
    let out = fake.kubectl(&ROLLOUT_STATUS);
    assert!(
        !out.status.success(),
        "a stalled rollout fails rollout status"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("deployment \"web\" exceeded its progress deadline"),
        "{err}"
    );
    let d = web(&fake, false);
    let progressing = condition(&d, "Progressing").unwrap();
    assert_eq!(progressing["status"], "False");
    assert_eq!(progressing["reason"], "ProgressDeadlineExceeded");
    assert!(
        progressing["message"]
            .as_str()
            .unwrap()
            .ends_with("has timed out progressing."),
        "{progressing}"
    );
    assert_eq!(
        d["status"]["availableReplicas"], 3,
        "the old pods still serve"
    );
}

#[test]
fn a_rollout_told_to_fail_reports_replica_failure_and_fails_rollout_status() {
    let Some(fake) = Fake::with_kubectl(
        "a_rollout_told_to_fail_reports_replica_failure_and_fails_rollout_status",
    ) else {
        return;
    };
    fake.server
        .cluster()
        .set_rollout("shop", "web", dafnck_kube_fake::RolloutMode::Fail);
    fake.apply_file(
        "app.yaml",
        &APP.replace(
            "  replicas: 3\n",
            "  replicas: 3\n  progressDeadlineSeconds: 1\n",
        ),
        &[],
    );
    let out = fake.kubectl(&ROLLOUT_STATUS);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exceeded its progress deadline"));
    let d = web(&fake, false);
    let failure = condition(&d, "ReplicaFailure");
    assert_eq!(
        failure.map(|c| c["reason"].clone()),
        Some(Value::from("FailedCreate"))
    );
}

#[test]
fn kubectl_server_side_apply_conflicts_with_another_manager_until_forced() {
    let Some(fake) =
        Fake::with_kubectl("kubectl_server_side_apply_conflicts_with_another_manager_until_forced")
    else {
        return;
    };
    let out = fake.apply_file(
        "app.yaml",
        APP,
        &["--server-side", "--field-manager", "dafnck"],
    );
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "{out}"
    );
    let d = web(&fake, true);
    let entries = d["metadata"]["managedFields"].as_array().unwrap();
    let ours = entries
        .iter()
        .find(|e| e["manager"] == "dafnck")
        .expect("our managed fields");
    assert_eq!(ours["operation"], "Apply");
    assert!(
        ours["fieldsV1"]["f:spec"]["f:replicas"].is_object(),
        "{ours}"
    );
    assert!(
        ours["fieldsV1"]["f:spec"]
            .get("f:progressDeadlineSeconds")
            .is_none(),
        "defaults are nobody's"
    );

    // Another manager sets replicas to another value: a conflict, named.
    let scale = fake.file(
        "scale.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  replicas: 5\n",
    );
    let out = fake.kubectl(&[
        "apply",
        "--server-side",
        "--field-manager",
        "ops",
        "-f",
        scale.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Apply failed with 1 conflict: conflict with \"dafnck\""),
        "{err}"
    );
    assert!(err.contains(".spec.replicas"), "{err}");

    // Forced, the field changes hands.
    fake.kubectl_ok(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager",
        "ops",
        "-f",
        scale.to_str().unwrap(),
    ]);
    let d = web(&fake, true);
    assert_eq!(d["spec"]["replicas"], 5);
    assert_eq!(replicas_owners(&d), ["ops"]);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"], "demo-app:1.0.0",
        "the rest is untouched"
    );
}

#[test]
fn kubectl_delete_removes_objects_and_a_namespace_with_its_contents() {
    let Some(fake) =
        Fake::with_kubectl("kubectl_delete_removes_objects_and_a_namespace_with_its_contents")
    else {
        return;
    };
    fake.apply_file("app.yaml", APP, &[]);
    let out = fake.kubectl_ok(&["-n", "shop", "delete", "configmap", "web-config"]);
    assert!(out.contains("configmap \"web-config\" deleted"), "{out}");
    let gone = fake.kubectl(&["-n", "shop", "get", "configmap", "web-config"]);
    assert!(String::from_utf8_lossy(&gone.stderr).contains("configmaps \"web-config\" not found"));

    let out = fake.kubectl_ok(&["delete", "namespace", "shop", "--timeout", "30s"]);
    assert!(out.contains("namespace \"shop\" deleted"), "{out}");
    let left = fake.kubectl_ok(&["get", "deployments,services,secrets", "-A", "-o", "name"]);
    assert_eq!(left.trim(), "", "the namespace's objects went with it");
    let out = fake.kubectl(&["delete", "namespace", "default"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("this namespace may not be deleted"));
}

#[test]
fn kubectl_scale_writes_replicas_through_the_scale_subresource() {
    let Some(fake) =
        Fake::with_kubectl("kubectl_scale_writes_replicas_through_the_scale_subresource")
    else {
        return;
    };
    fake.apply_file(
        "app.yaml",
        APP,
        &["--server-side", "--field-manager", "dafnck"],
    );
    let out = fake.kubectl_ok(&["-n", "shop", "scale", "deployment/web", "--replicas", "4"]);
    assert!(out.contains("deployment.apps/web scaled"), "{out}");
    let d = web(&fake, true);
    assert_eq!(d["spec"]["replicas"], 4);
    let scaler = d["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["subresource"] == "scale")
        .cloned()
        .expect("an entry for the scale subresource");
    assert!(
        scaler["fieldsV1"]["f:spec"]["f:replicas"].is_object(),
        "{scaler}"
    );
    assert_eq!(scaler["operation"], "Update");
    let out = fake.kubectl_ok(&ROLLOUT_STATUS);
    assert!(out.contains("successfully rolled out"), "{out}");
    let d = web(&fake, false);
    assert_eq!(d["status"]["availableReplicas"], 4);
}

#[test]
fn kubectl_strategic_merge_patches_merge_containers_by_name_and_remove_what_apply_dropped() {
    let Some(fake) = Fake::with_kubectl(
        "kubectl_strategic_merge_patches_merge_containers_by_name_and_remove_what_apply_dropped",
    ) else {
        return;
    };
    let two = APP.replace(
        "      - name: web\n        image: demo-app:1.0.0\n",
        "      - name: web\n        image: demo-app:1.0.0\n      - name: sidecar\n        image: proxy:1\n",
    );
    assert!(two.contains("sidecar"));
    fake.apply_file("two.yaml", &two, &[]);
    let names = |d: &Value| -> Vec<String> {
        d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                format!(
                    "{}={}",
                    c["name"].as_str().unwrap(),
                    c["image"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        names(&web(&fake, false)),
        ["web=demo-app:1.0.0", "sidecar=proxy:1"]
    );

    // kubectl patch (strategic by default) merges the list by name.
    fake.kubectl_ok(&[
        "-n",
        "shop",
        "patch",
        "deployment",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"proxy:2"}]}}}}"#,
    ]);
    assert_eq!(
        names(&web(&fake, false)),
        ["web=demo-app:1.0.0", "sidecar=proxy:2"]
    );

    // Applying the manifest without the sidecar removes it (kubectl sends
    // a `$patch: delete` computed from its last applied configuration).
    let out = fake.apply_file("one.yaml", APP, &[]);
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    assert_eq!(names(&web(&fake, false)), ["web=demo-app:1.0.0"]);
}
