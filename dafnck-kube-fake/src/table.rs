//! `Table` responses (`meta.k8s.io/v1`), which `kubectl get` asks for
//! (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`) to print the
//! columns a real cluster prints: a Deployment's READY, UP-TO-DATE and
//! AVAILABLE, a Service's TYPE, CLUSTER-IP and PORT(S)...
//! (<https://kubernetes.io/docs/reference/using-api/api-concepts/#receiving-resources-as-tables>).

use crate::kinds::Kind;
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// The content type of a `Table` response.
pub const CONTENT_TYPE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// Whether an `Accept` header asks for a `Table`.
pub fn wanted(accept: &str) -> bool {
    accept.split(',').any(|media| {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        params.contains(&"as=Table") && params.contains(&"g=meta.k8s.io")
    })
}

/// The columns of `kind`: `(name, type, priority)`; priority 1 columns are
/// `-o wide`'s.
fn columns(kind: &Kind) -> &'static [(&'static str, &'static str, u8)] {
    match kind.kind {
        "Namespace" => &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Age", "string", 0),
        ],
        "ConfigMap" => &[
            ("Name", "string", 0),
            ("Data", "integer", 0),
            ("Age", "string", 0),
        ],
        "Secret" => &[
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Data", "integer", 0),
            ("Age", "string", 0),
        ],
        "Service" => &[
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            ("Age", "string", 0),
            ("Selector", "string", 1),
        ],
        "Deployment" => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        "Ingress" => &[
            ("Name", "string", 0),
            ("Class", "string", 0),
            ("Hosts", "string", 0),
            ("Address", "string", 0),
            ("Ports", "string", 0),
            ("Age", "string", 0),
        ],
        "HorizontalPodAutoscaler" => &[
            ("Name", "string", 0),
            ("Reference", "string", 0),
            ("Targets", "string", 0),
            ("MinPods", "string", 0),
            ("MaxPods", "integer", 0),
            ("Replicas", "integer", 0),
            ("Age", "string", 0),
        ],
        _ => &[("Name", "string", 0), ("Age", "string", 0)],
    }
}

/// A duration as kubectl prints ages (`45s`, `3m12s`, `5h`, `2d3h`).
pub fn human(secs: u64) -> String {
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86_400);
    match secs {
        s if s < 120 => format!("{s}s"),
        _ if m < 10 => format!("{m}m{}s", secs % 60),
        _ if h < 3 => format!("{m}m"),
        _ if h < 8 => format!("{h}h{}m", m % 60),
        _ if h < 48 => format!("{h}h"),
        _ if d < 8 => format!("{d}d{}h", h % 24),
        _ if d < 365 * 2 => format!("{d}d"),
        _ => format!("{}y{}d", d / 365, d % 365),
    }
}

fn age(object: &Value) -> String {
    let created = object["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        })
        .map(|t| t.unix_timestamp())
        .unwrap_or(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    human(u64::try_from(now - created).unwrap_or(0))
}

fn or_none(s: String) -> String {
    if s.is_empty() {
        "<none>".into()
    } else {
        s
    }
}

fn joined(items: &Value, f: impl Fn(&Value) -> Option<String>) -> String {
    items
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(f)
        .collect::<Vec<_>>()
        .join(",")
}

fn labels(map: &Value) -> String {
    map.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn cells(kind: &Kind, o: &Value) -> Vec<Value> {
    let name = json!(o["metadata"]["name"]);
    let spec = &o["spec"];
    let status = &o["status"];
    let n = |v: &Value| json!(v.as_i64().unwrap_or(0));
    match kind.kind {
        "Namespace" => vec![name, json!(status["phase"]), json!(age(o))],
        "ConfigMap" => {
            let count = o["data"].as_object().map_or(0, |m| m.len())
                + o["binaryData"].as_object().map_or(0, |m| m.len());
            vec![name, json!(count), json!(age(o))]
        }
        "Secret" => vec![
            name,
            json!(o["type"]),
            json!(o["data"].as_object().map_or(0, |m| m.len())),
            json!(age(o)),
        ],
        "Service" => {
            let external = match spec["type"].as_str() {
                Some("LoadBalancer") => "<pending>".to_string(),
                Some("ExternalName") => spec["externalName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                _ => or_none(joined(&spec["externalIPs"], |v| {
                    v.as_str().map(String::from)
                })),
            };
            let ports = joined(&spec["ports"], |p| {
                let node = p["nodePort"]
                    .as_i64()
                    .map(|n| format!(":{n}"))
                    .unwrap_or_default();
                Some(format!(
                    "{}{node}/{}",
                    p["port"],
                    p["protocol"].as_str().unwrap_or("TCP")
                ))
            });
            vec![
                name,
                json!(spec["type"]),
                json!(spec["clusterIP"].as_str().unwrap_or("None")),
                json!(external),
                json!(or_none(ports)),
                json!(age(o)),
                json!(or_none(labels(&spec["selector"]))),
            ]
        }
        "Deployment" => {
            let containers = &spec["template"]["spec"]["containers"];
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    status["readyReplicas"].as_i64().unwrap_or(0),
                    spec["replicas"].as_i64().unwrap_or(0)
                )),
                n(&status["updatedReplicas"]),
                n(&status["availableReplicas"]),
                json!(age(o)),
                json!(joined(containers, |c| c["name"].as_str().map(String::from))),
                json!(joined(containers, |c| c["image"]
                    .as_str()
                    .map(String::from))),
                json!(or_none(labels(&spec["selector"]["matchLabels"]))),
            ]
        }
        "Ingress" => {
            let hosts = or_none(joined(&spec["rules"], |r| {
                r["host"].as_str().map(String::from)
            }));
            let tls = spec["tls"].as_array().is_some_and(|t| !t.is_empty());
            vec![
                name,
                json!(spec["ingressClassName"].as_str().unwrap_or("<none>")),
                json!(if hosts == "<none>" {
                    "*".to_string()
                } else {
                    hosts
                }),
                json!(joined(&status["loadBalancer"]["ingress"], |i| i["ip"]
                    .as_str()
                    .or(i["hostname"].as_str())
                    .map(String::from))),
                json!(if tls { "80, 443" } else { "80" }),
                json!(age(o)),
            ]
        }
        "HorizontalPodAutoscaler" => {
            let target = &spec["scaleTargetRef"];
            let targets = joined(&spec["metrics"], |m| {
                let t = &m["resource"]["target"];
                let want = t["averageUtilization"]
                    .as_i64()
                    .map(|u| format!("{u}%"))
                    .or_else(|| t["averageValue"].as_str().map(String::from))?;
                Some(format!(
                    "{}: <unknown>/{want}",
                    m["resource"]["name"].as_str().unwrap_or("metric")
                ))
            });
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    target["kind"].as_str().unwrap_or_default(),
                    target["name"].as_str().unwrap_or_default()
                )),
                json!(or_none(targets)),
                json!(spec["minReplicas"].as_i64().unwrap_or(1).to_string()),
                n(&spec["maxReplicas"]),
                n(&status["currentReplicas"]),
                json!(age(o)),
            ]
        }
        _ => vec![name, json!(age(o))],
    }
}

/// One row's `object`, as `includeObject` asks: `None`, `Metadata` (the
/// default: a `PartialObjectMetadata`) or `Object`.
fn row_object(o: &Value, include: &str) -> Value {
    match include {
        "None" => Value::Null,
        "Object" => o.clone(),
        _ => {
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]})
        }
    }
}

/// A `Table` of `objects` of `kind` at resource version `rv`.
pub fn table(kind: &Kind, objects: &[Value], rv: &str, include: &str) -> Value {
    let defs: Vec<Value> = columns(kind)
        .iter()
        .map(|(name, typ, priority)| {
            json!({"name": name, "type": typ, "format": if *name == "Name" { "name" } else { "" },
                   "description": format!("{name} of the {}", kind.kind), "priority": priority})
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut row = json!({"cells": cells(kind, o)});
            let obj = row_object(o, include);
            if !obj.is_null() {
                row["object"] = obj;
            }
            row
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv},
           "columnDefinitions": defs, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_kubectl_prints_them() {
        assert_eq!(human(5), "5s");
        assert_eq!(human(150), "2m30s");
        assert_eq!(human(3600), "60m");
        assert_eq!(human(4 * 3600 + 120), "4h2m");
        assert_eq!(human(30 * 3600), "30h");
        assert_eq!(human(3 * 86_400 + 7200), "3d2h");
    }

    #[test]
    fn a_deployment_row_has_ready_up_to_date_and_available() {
        let kind = crate::kinds::by_kind("apps/v1", "Deployment").unwrap();
        let d = json!({"metadata": {"name": "web"}, "spec": {"replicas": 3,
            "template": {"spec": {"containers": [{"name": "app", "image": "demo:1"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        let t = table(kind, &[d], "7", "Metadata");
        let cells = t["rows"][0]["cells"].as_array().unwrap();
        assert_eq!(cells[..4], [json!("web"), json!("2/3"), json!(3), json!(2)]);
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["columnDefinitions"][1]["name"], "Ready");
    }
}
