//! The defaults the API server fills in and the checks it makes, for the
//! fields the served kinds' clients read back (a subset of each kind's
//! defaulting and validation in the Kubernetes API reference,
//! <https://kubernetes.io/docs/reference/kubernetes-api/>).

use crate::kinds::Kind;
use serde_json::{json, Map, Value};

/// Fills in `object`'s defaults (`old`: the stored object an update
/// replaces, whose allocated values, such as a Service's cluster IP, are
/// kept). `next_ip` hands out cluster IPs.
pub fn apply_defaults(
    kind: &Kind,
    object: &mut Value,
    old: Option<&Value>,
    next_ip: &mut dyn FnMut() -> String,
) {
    match kind.kind {
        "Namespace" => {
            let name = object["metadata"]["name"].clone();
            set_default(
                object,
                &["metadata", "labels", "kubernetes.io/metadata.name"],
                name,
            );
            set_default(object, &["spec", "finalizers"], json!(["kubernetes"]));
            set_default(object, &["status", "phase"], json!("Active"));
        }
        "Secret" => {
            set_default(object, &["type"], json!("Opaque"));
            if let Some(Value::Object(plain)) =
                object.as_object_mut().and_then(|m| m.remove("stringData"))
            {
                for (k, v) in plain {
                    let text = v.as_str().unwrap_or_default().as_bytes().to_vec();
                    set(object, &["data", &k], json!(base64(&text)));
                }
            }
        }
        "Service" => {
            set_default(object, &["spec", "type"], json!("ClusterIP"));
            set_default(object, &["spec", "sessionAffinity"], json!("None"));
            if object["spec"]["type"] != "ExternalName" {
                let kept = old.and_then(|o| o.pointer("/spec/clusterIP")).cloned();
                if object
                    .pointer("/spec/clusterIP")
                    .is_none_or(|v| v.as_str() == Some(""))
                {
                    let ip = kept.unwrap_or_else(|| json!(next_ip()));
                    set(object, &["spec", "clusterIP"], ip);
                }
                let ip = object["spec"]["clusterIP"].clone();
                set(object, &["spec", "clusterIPs"], json!([ip]));
                set_default(object, &["spec", "ipFamilies"], json!(["IPv4"]));
                set_default(object, &["spec", "ipFamilyPolicy"], json!("SingleStack"));
                set_default(object, &["spec", "internalTrafficPolicy"], json!("Cluster"));
            }
            if let Some(Value::Array(ports)) = object.pointer_mut("/spec/ports") {
                for p in ports {
                    set_default(p, &["protocol"], json!("TCP"));
                    let port = p["port"].clone();
                    set_default(p, &["targetPort"], port);
                }
            }
            set_default(object, &["status", "loadBalancer"], json!({}));
        }
        "Deployment" => {
            set_default(object, &["spec", "replicas"], json!(1));
            set_default(object, &["spec", "revisionHistoryLimit"], json!(10));
            set_default(object, &["spec", "progressDeadlineSeconds"], json!(600));
            set_default(
                object,
                &["spec", "strategy", "type"],
                json!("RollingUpdate"),
            );
            if object["spec"]["strategy"]["type"] == "RollingUpdate" {
                set_default(
                    object,
                    &["spec", "strategy", "rollingUpdate", "maxSurge"],
                    json!("25%"),
                );
                set_default(
                    object,
                    &["spec", "strategy", "rollingUpdate", "maxUnavailable"],
                    json!("25%"),
                );
            }
            if let Some(spec) = object.pointer_mut("/spec/template/spec") {
                set_default(spec, &["restartPolicy"], json!("Always"));
                set_default(spec, &["terminationGracePeriodSeconds"], json!(30));
                set_default(spec, &["dnsPolicy"], json!("ClusterFirst"));
                set_default(spec, &["schedulerName"], json!("default-scheduler"));
                set_default(spec, &["securityContext"], json!({}));
                if let Some(Value::Array(containers)) = spec.get_mut("containers") {
                    for c in containers {
                        container_defaults(c);
                    }
                }
            }
            set_default(object, &["status"], json!({}));
        }
        "Ingress" => set_default(object, &["status", "loadBalancer"], json!({})),
        "HorizontalPodAutoscaler" => {
            set_default(object, &["spec", "minReplicas"], json!(1));
            set_default(object, &["status", "currentReplicas"], json!(0));
            set_default(object, &["status", "desiredReplicas"], json!(0));
        }
        _ => {}
    }
}

fn container_defaults(c: &mut Value) {
    let image = c["image"].as_str().unwrap_or_default();
    let latest =
        !image.rsplit('/').next().unwrap_or_default().contains(':') || image.ends_with(":latest");
    set_default(
        c,
        &["imagePullPolicy"],
        json!(if latest { "Always" } else { "IfNotPresent" }),
    );
    set_default(
        c,
        &["terminationMessagePath"],
        json!("/dev/termination-log"),
    );
    set_default(c, &["terminationMessagePolicy"], json!("File"));
    set_default(c, &["resources"], json!({}));
    if let Some(Value::Array(ports)) = c.get_mut("ports") {
        for p in ports {
            set_default(p, &["protocol"], json!("TCP"));
        }
    }
}

fn slot<'a>(v: &'a mut Value, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    let mut cur = v;
    for seg in &path[..path.len() - 1] {
        let m = cur.as_object_mut()?;
        cur = m.entry(seg.to_string()).or_insert_with(|| json!({}));
    }
    cur.as_object_mut()
}

fn set_default(v: &mut Value, path: &[&str], value: Value) {
    if let Some(m) = slot(v, path) {
        m.entry(path[path.len() - 1].to_string()).or_insert(value);
    }
}

fn set(v: &mut Value, path: &[&str], value: Value) {
    if let Some(m) = slot(v, path) {
        m.insert(path[path.len() - 1].to_string(), value);
    }
}

/// Standard base64 with padding (Secret `data`).
pub fn base64(bytes: &[u8]) -> String {
    use base64ct::Encoding;
    base64ct::Base64::encode_string(bytes)
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// The problems with `object` (`old`: the object an update replaces), as
/// `(field, message)` pairs in the API's wording; empty when it is valid.
pub fn validate(kind: &Kind, object: &Value, old: Option<&Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let label = matches!(kind.kind, "Namespace" | "Service");
    if name.is_empty() {
        out.push((
            "metadata.name".into(),
            "Required value: name or generateName is required".into(),
        ));
    } else if !is_dns_subdomain(name) || (label && (name.len() > 63 || name.contains('.'))) {
        out.push((
            "metadata.name".into(),
            format!("Invalid value: {name:?}: a lowercase RFC 1123 {} must consist of lower case alphanumeric characters, '-' or '.'", if label { "label" } else { "subdomain" }),
        ));
    }
    match kind.kind {
        "Deployment" => {
            let selector = &object["spec"]["selector"];
            let labels = &object["spec"]["template"]["metadata"]["labels"];
            match selector.get("matchLabels").and_then(Value::as_object) {
                None if selector.get("matchExpressions").is_none() => {
                    out.push(("spec.selector".into(), "Required value".into()))
                }
                Some(m) if m.iter().any(|(k, v)| labels.get(k) != Some(v)) => out.push((
                    "spec.template.metadata.labels".into(),
                    format!("Invalid value: {labels}: `selector` does not match template `labels`"),
                )),
                _ => {}
            }
            if let Some(old) = old {
                if old["spec"]["selector"] != *selector {
                    out.push((
                        "spec.selector".into(),
                        format!("Invalid value: {selector}: field is immutable"),
                    ));
                }
            }
            let containers = object["spec"]["template"]["spec"]["containers"].as_array();
            if containers.is_none_or(Vec::is_empty) {
                out.push((
                    "spec.template.spec.containers".into(),
                    "Required value".into(),
                ));
            }
            for (i, c) in containers.into_iter().flatten().enumerate() {
                for f in ["name", "image"] {
                    if c[f].as_str().is_none_or(str::is_empty) {
                        out.push((
                            format!("spec.template.spec.containers[{i}].{f}"),
                            "Required value".into(),
                        ));
                    }
                }
            }
            let strategy = &object["spec"]["strategy"];
            if strategy["type"] == "Recreate" && strategy.get("rollingUpdate").is_some() {
                out.push((
                    "spec.strategy.rollingUpdate".into(),
                    "Forbidden: may not be specified when strategy `type` is 'Recreate'".into(),
                ));
            }
            if object["spec"]["replicas"].as_i64().is_some_and(|r| r < 0) {
                out.push((
                    "spec.replicas".into(),
                    "Invalid value: must be greater than or equal to 0".into(),
                ));
            }
        }
        "Secret" => {
            use base64ct::Encoding;
            for (k, v) in object["data"].as_object().into_iter().flatten() {
                if v.as_str()
                    .is_none_or(|b| base64ct::Base64::decode_vec(b).is_err())
                {
                    out.push((
                        format!("data[{k}]"),
                        "Invalid value: not base64-encoded (illegal base64 data)".into(),
                    ));
                }
            }
        }
        "Service" => {
            if let Some(old) = old {
                let (a, b) = (&old["spec"]["clusterIP"], &object["spec"]["clusterIP"]);
                if a != b && a.is_string() {
                    out.push((
                        "spec.clusterIPs[0]".into(),
                        format!("Invalid value: {b}: may not change once set"),
                    ));
                }
            }
            for (i, p) in object["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                if p["port"].as_i64().is_none_or(|n| !(1..=65535).contains(&n)) {
                    out.push((
                        format!("spec.ports[{i}].port"),
                        "Invalid value: must be between 1 and 65535, inclusive".into(),
                    ));
                }
            }
        }
        "Ingress" => {
            for (i, r) in object["spec"]["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                for (j, p) in r["http"]["paths"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    if p["pathType"].as_str().is_none() {
                        out.push((
                            format!("spec.rules[{i}].http.paths[{j}].pathType"),
                            "Required value: pathType must be specified".into(),
                        ));
                    }
                }
            }
        }
        "HorizontalPodAutoscaler" => {
            let max = object["spec"]["maxReplicas"].as_i64();
            let min = object["spec"]["minReplicas"].as_i64().unwrap_or(1);
            match max {
                None => out.push(("spec.maxReplicas".into(), "Required value".into())),
                Some(m) if m < min => out.push((
                    "spec.maxReplicas".into(),
                    format!("Invalid value: {m}: must be greater than or equal to `minReplicas`"),
                )),
                _ => {}
            }
            if object["spec"]["scaleTargetRef"]["name"].as_str().is_none() {
                out.push(("spec.scaleTargetRef.name".into(), "Required value".into()));
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_pads_like_the_standard_alphabet() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"hunter2!"), "aHVudGVyMiE=");
    }

    #[test]
    fn secret_data_must_be_base64() {
        let kind = crate::kinds::by_kind("v1", "Secret").unwrap();
        let ok = json!({"metadata": {"name": "s"}, "data": {"a": base64(b"x")}});
        assert!(validate(kind, &ok, None).is_empty());
        let bad = json!({"metadata": {"name": "s"}, "data": {"a": "not base64!"}});
        assert_eq!(validate(kind, &bad, None)[0].0, "data[a]");
    }

    #[test]
    fn a_deployment_whose_selector_misses_its_labels_is_invalid() {
        let kind = crate::kinds::by_kind("apps/v1", "Deployment").unwrap();
        let d = json!({"metadata": {"name": "web"}, "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "other"}},
                         "spec": {"containers": [{"name": "web", "image": "demo"}]}}}});
        let problems = validate(kind, &d, None);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0]
            .1
            .contains("`selector` does not match template `labels`"));
    }
}
