//! The HTTP layer: the API's URL layout
//! (<https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-uris>),
//! verbs, patch content types, watch streams and the control endpoints.

use crate::controller::RolloutMode;
use crate::discovery;
use crate::kinds::{self, Kind};
use crate::meta::ApiError;
use crate::select::Selector;
use crate::store::{Patch, WriteOptions};
use crate::table;
use crate::Cluster;
use bytes::Bytes;
use http_body::Frame;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// A response body: a whole document, or a watch's stream of events.
pub type Body = BoxBody<Bytes, Infallible>;

/// A watch stream's body: the lines its task sends.
struct Lines(mpsc::Receiver<Bytes>);

impl http_body::Body for Lines {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|line| line.map(|b| Ok(Frame::data(b))))
    }
}

fn respond(code: u16, content_type: &str, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        content_type.parse().expect("a valid content type"),
    );
    r
}

fn json_response(code: u16, v: &Value) -> Response<Body> {
    let bytes = Bytes::from(serde_json::to_vec(v).unwrap_or_default());
    respond(code, "application/json", Full::new(bytes).boxed())
}

fn table_response(t: &Value) -> Response<Body> {
    let bytes = Bytes::from(serde_json::to_vec(t).unwrap_or_default());
    respond(200, table::CONTENT_TYPE, Full::new(bytes).boxed())
}

fn error(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.status())
}

use dafnck_fake_server::query;

/// What a resource URL names.
struct Target {
    kind: &'static Kind,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn target(segs: &[&str]) -> Result<Target, ApiError> {
    let path = format!("/{}", segs.join("/"));
    let (group, version, rest) = match segs {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(ApiError::no_route(&path)),
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, res, rest @ ..] if *res != "status" && *res != "finalize" => {
            (Some(ns.to_string()), {
                let mut v = vec![*res];
                v.extend_from_slice(rest);
                v
            })
        }
        _ => (None, rest.to_vec()),
    };
    let (resource, name, sub) = match rest.as_slice() {
        [r] => (*r, None, None),
        [r, n] => (*r, Some(n.to_string()), None),
        [r, n, s] => (*r, Some(n.to_string()), Some(s.to_string())),
        _ => return Err(ApiError::no_route(&path)),
    };
    let kind = kinds::find(group, version, resource).ok_or_else(|| ApiError::no_route(&path))?;
    if namespace.is_some() && !kind.namespaced {
        return Err(ApiError::no_route(&path));
    }
    if kind.namespaced && namespace.is_none() && name.is_some() {
        return Err(ApiError::no_route(&path));
    }
    match sub.as_deref() {
        None => {}
        Some("status") if kind.status => {}
        Some("scale") if kind.kind == "Deployment" => {}
        Some(_) => return Err(ApiError::no_route(&path)),
    }
    Ok(Target {
        kind,
        namespace,
        name,
        subresource: sub,
    })
}

/// The field manager of a write: `fieldManager`, else the user agent's
/// product name, as the API server derives it.
fn manager(q: &HashMap<String, String>, headers: &hyper::HeaderMap) -> String {
    if let Some(m) = q.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.clone();
    }
    headers
        .get(hyper::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown")
        .to_string()
}

fn parse_body(bytes: &[u8], yaml: bool) -> Result<Value, ApiError> {
    if yaml {
        let v: serde_yaml::Value = serde_yaml::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
        serde_json::to_value(v)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
    } else {
        serde_json::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("error decoding JSON: {e}")))
    }
}

/// `object` as a list item: the API omits kind and apiVersion there.
fn list_item(mut object: Value) -> Value {
    if let Some(m) = object.as_object_mut() {
        m.remove("kind");
        m.remove("apiVersion");
    }
    object
}

/// Answers one request.
pub async fn handle(
    cluster: Arc<Cluster>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    let bytes = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return Ok(error(&ApiError::bad_request(format!(
                "reading the body: {e}"
            ))))
        }
    };
    if cluster.verbose {
        eprintln!(
            "dafnck-kube-fake: {} {} [{}] {}",
            parts.method,
            parts.uri,
            parts
                .headers
                .get(hyper::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
            parts
                .headers
                .get(hyper::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        );
    }
    let q = query(parts.uri.query());
    let segs: Vec<&str> = parts
        .uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let get = parts.method == Method::GET;
    let accept = parts
        .headers
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if get && discovery::wants_aggregated(accept) {
        let doc = match segs.as_slice() {
            ["api"] => Some(discovery::aggregated(true)),
            ["apis"] => Some(discovery::aggregated(false)),
            _ => None,
        };
        if let Some(doc) = doc {
            let bytes = Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
            return Ok(respond(
                200,
                discovery::AGGREGATED_CONTENT_TYPE,
                Full::new(bytes).boxed(),
            ));
        }
    }
    let doc = match segs.as_slice() {
        ["version"] if get => Some(discovery::version()),
        ["api"] if get => Some(discovery::core_versions(&cluster.address)),
        ["apis"] if get => Some(discovery::group_list()),
        ["apis", g] if get => discovery::api_group(g),
        ["api", v] if get => discovery::resource_list("", v),
        ["apis", g, v] if get => discovery::resource_list(g, v),
        ["openapi", "v3"] if get => Some(discovery::openapi_root()),
        ["openapi", "v3", rest @ ..] if get => discovery::openapi_group_version(&rest.join("/")),
        _ => None,
    };
    if let Some(doc) = doc {
        return Ok(json_response(200, &doc));
    }
    let response = match segs.as_slice() {
        ["healthz" | "readyz" | "livez"] if get => respond(
            200,
            "text/plain",
            Full::new(Bytes::from_static(b"ok")).boxed(),
        ),
        ["fake", "v1", rest @ ..] => control(&cluster, &parts.method, rest, &bytes),
        ["api" | "apis", ..] => match target(&segs) {
            Ok(t) => resource(&cluster, &parts, t, &q, &bytes).unwrap_or_else(|e| error(&e)),
            Err(e) => error(&e),
        },
        _ => error(&ApiError::no_route(parts.uri.path())),
    };
    Ok(response)
}

fn resource(
    cluster: &Arc<Cluster>,
    parts: &hyper::http::request::Parts,
    t: Target,
    q: &HashMap<String, String>,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let kind = t.kind;
    let ns = t.namespace.clone().unwrap_or_default();
    let sub = t.subresource.as_deref().unwrap_or("");
    let manager = manager(q, &parts.headers);
    let opts = WriteOptions {
        manager: &manager,
        dry_run: q.get("dryRun").is_some_and(|d| d == "All"),
        subresource: sub,
    };
    let content_type = parts
        .headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    if content_type == "application/vnd.kubernetes.protobuf" {
        return Err(ApiError::protobuf());
    }
    // `kubectl get` asks for a Table, each row with the object as
    // `includeObject` says (its metadata by default).
    let as_table = parts
        .headers
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .filter(|a| table::wanted(a))
        .map(|_| {
            q.get("includeObject")
                .cloned()
                .unwrap_or_else(|| "Metadata".into())
        });
    let mut guard = cluster.lock();
    let store = &mut guard.store;
    if sub == "scale" {
        let name = t.name.as_deref().unwrap_or_default();
        return scale(
            store,
            kind,
            &ns,
            name,
            &parts.method,
            &content_type,
            body,
            opts,
        );
    }
    match (&parts.method, t.name.as_deref()) {
        (&Method::GET, None) => {
            let selector = Selector::parse(
                q.get("labelSelector").map(String::as_str),
                q.get("fieldSelector").map(String::as_str),
            )
            .map_err(ApiError::bad_request)?;
            if q.get("watch").is_some_and(|w| w == "true" || w == "1") {
                return watch(store, kind, t.namespace, selector, q, as_table);
            }
            let objects: Vec<Value> = store
                .list(kind, t.namespace.as_deref())
                .into_iter()
                .filter(|o| selector.matches(o))
                .collect();
            let rv = store.resource_version().to_string();
            if let Some(include) = &as_table {
                return Ok(table_response(&table::table(kind, &objects, &rv, include)));
            }
            let items: Vec<Value> = objects.into_iter().map(list_item).collect();
            Ok(json_response(
                200,
                &json!({
                    "kind": format!("{}List", kind.kind), "apiVersion": kind.api_version(),
                    "metadata": {"resourceVersion": store.resource_version().to_string()},
                    "items": items
                }),
            ))
        }
        (&Method::GET, Some(name)) => {
            let object = store.get(kind, &ns, name)?;
            match &as_table {
                Some(include) => {
                    let rv = object["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    Ok(table_response(&table::table(kind, &[object], &rv, include)))
                }
                None => Ok(json_response(200, &object)),
            }
        }
        (&Method::POST, None) => {
            if kind.namespaced && t.namespace.is_none() {
                return Err(ApiError::method_not_allowed("POST"));
            }
            let created = store.create(kind, &ns, parse_body(body, false)?, opts)?;
            Ok(json_response(201, &created))
        }
        (&Method::PUT, Some(name)) => Ok(json_response(
            200,
            &store.replace(kind, &ns, name, parse_body(body, false)?, opts)?,
        )),
        (&Method::PATCH, Some(name)) => {
            let apply = content_type == "application/apply-patch+yaml";
            let patch_body = parse_body(body, apply)?;
            let p = match content_type.as_str() {
                "application/merge-patch+json" => Patch::Merge(&patch_body),
                "application/strategic-merge-patch+json" => Patch::Strategic(&patch_body),
                "application/json-patch+json" => Patch::Json(&patch_body),
                "application/apply-patch+yaml" => {
                    if !q.contains_key("fieldManager") {
                        return Err(ApiError::invalid(
                            kind,
                            name,
                            &[(
                                "fieldManager".into(),
                                "Required value: is required for apply patch".into(),
                            )],
                        ));
                    }
                    Patch::Apply(&patch_body, q.get("force").is_some_and(|f| f == "true"))
                }
                other => return Err(ApiError::unsupported_media_type(other)),
            };
            let (object, created) = store.patch(kind, &ns, name, p, opts)?;
            Ok(json_response(if created { 201 } else { 200 }, &object))
        }
        (&Method::DELETE, Some(name)) => {
            let options = if body.is_empty() {
                json!({})
            } else {
                parse_body(body, false)?
            };
            let gone = store.delete(kind, &ns, name, &options["preconditions"], opts.dry_run)?;
            Ok(json_response(200, &gone))
        }
        (&Method::DELETE, None) => {
            let selector = Selector::parse(
                q.get("labelSelector").map(String::as_str),
                q.get("fieldSelector").map(String::as_str),
            )
            .map_err(ApiError::bad_request)?;
            let mut items = Vec::new();
            for o in store
                .list(kind, t.namespace.as_deref())
                .into_iter()
                .filter(|o| selector.matches(o))
            {
                let (n, s) = (
                    o["metadata"]["namespace"].as_str().unwrap_or_default(),
                    o["metadata"]["name"].as_str().unwrap_or_default(),
                );
                store.delete(kind, n, s, &Value::Null, opts.dry_run)?;
                items.push(list_item(o.clone()));
            }
            Ok(json_response(
                200,
                &json!({"kind": format!("{}List", kind.kind), "apiVersion": kind.api_version(),
                        "metadata": {"resourceVersion": store.resource_version().to_string()}, "items": items}),
            ))
        }
        (m, _) => Err(ApiError::method_not_allowed(m.as_str())),
    }
}

/// The `Scale` of a Deployment (`autoscaling/v1`).
fn scale_of(d: &Value) -> Value {
    let m = &d["metadata"];
    let selector: Vec<String> = d["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|l| {
            l.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
                     "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"]},
        "spec": {"replicas": d["spec"]["replicas"]},
        "status": {"replicas": d["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector.join(",")}
    })
}

/// `GET`, `PUT` and `PATCH` (JSON, merge and strategic merge) of a
/// Deployment's `/scale`: its `spec.replicas`, written as the `scale`
/// subresource (how autoscalers and `kubectl scale` write it).
#[allow(clippy::too_many_arguments)]
fn scale(
    store: &mut crate::store::Store,
    kind: &'static Kind,
    ns: &str,
    name: &str,
    method: &Method,
    content_type: &str,
    body: &[u8],
    opts: WriteOptions<'_>,
) -> Result<Response<Body>, ApiError> {
    let current = store.get(kind, ns, name)?;
    let old = scale_of(&current);
    let new = match *method {
        Method::GET => return Ok(json_response(200, &old)),
        Method::PUT => parse_body(body, false)?,
        Method::PATCH => {
            let p = parse_body(body, false)?;
            let mut new = old.clone();
            match content_type {
                "application/merge-patch+json" => crate::patch::merge_patch(&mut new, &p),
                "application/strategic-merge-patch+json" => {
                    crate::patch::strategic_merge_patch(&mut new, &p)
                        .map_err(ApiError::bad_request)?
                }
                "application/json-patch+json" => {
                    crate::patch::json_patch(&mut new, &p).map_err(ApiError::bad_request)?
                }
                other => return Err(ApiError::unsupported_media_type(other)),
            }
            new
        }
        ref m => return Err(ApiError::method_not_allowed(m.as_str())),
    };
    if let Some(rv) = new["metadata"]["resourceVersion"]
        .as_str()
        .filter(|s| !s.is_empty())
    {
        if Some(rv) != current["metadata"]["resourceVersion"].as_str() {
            return Err(ApiError::conflict(kind, name));
        }
    }
    let Some(replicas) = new["spec"]["replicas"].as_i64() else {
        return Err(ApiError::invalid(
            kind,
            name,
            &[("spec.replicas".into(), "Required value".into())],
        ));
    };
    let mut scaled = current.clone();
    scaled["spec"]["replicas"] = json!(replicas);
    let updated = store.replace(kind, ns, name, scaled, opts)?;
    Ok(json_response(200, &scale_of(&updated)))
}

fn watch(
    store: &crate::store::Store,
    kind: &'static Kind,
    namespace: Option<String>,
    selector: Selector,
    q: &HashMap<String, String>,
    as_table: Option<String>,
) -> Result<Response<Body>, ApiError> {
    let initial = q.get("sendInitialEvents").is_some_and(|s| s == "true");
    let since = match q.get("resourceVersion").filter(|s| !s.is_empty()) {
        _ if initial => None,
        None => None,
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {s:?}")))?,
        ),
    };
    let (backlog, mut rx) = match store.watch(kind, since) {
        Ok(w) => w,
        // Too old a resource version: as the API server's watch cache does,
        // a 200 whose one event is an ERROR carrying the 410 Status (clients
        // list again).
        Err(e) => {
            let mut line = serde_json::to_vec(&json!({"type": "ERROR", "object": e.status()}))
                .unwrap_or_default();
            line.push(b'\n');
            return Ok(respond(
                200,
                "application/json",
                Full::new(Bytes::from(line)).boxed(),
            ));
        }
    };
    let current = store.resource_version();
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1800u64);
    let (tx, out) = mpsc::channel::<Bytes>(256);
    let selects = move |o: &Value| {
        namespace
            .as_deref()
            .is_none_or(|ns| o["metadata"]["namespace"] == ns)
            && selector.matches(o)
    };
    // The event type this watch sees for `e`, if any: a change that makes
    // an object start (stop) matching the selectors is ADDED (DELETED), as
    // the API server's watch cache reports it.
    let seen = move |e: &crate::store::Event| -> Option<&'static str> {
        if e.kind.resource != kind.resource {
            return None;
        }
        let now = selects(&e.object);
        if e.typ != "MODIFIED" {
            return now.then_some(e.typ);
        }
        match (e.previous.as_ref().is_some_and(&selects), now) {
            (true, true) => Some("MODIFIED"),
            (false, true) => Some("ADDED"),
            (true, false) => Some("DELETED"),
            (false, false) => None,
        }
    };
    let line = move |typ: &str, object: &Value| {
        let object = match &as_table {
            Some(include) => {
                let rv = object["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or_default();
                table::table(kind, std::slice::from_ref(object), rv, include)
            }
            None => object.clone(),
        };
        let mut b = serde_json::to_vec(&json!({"type": typ, "object": object})).unwrap_or_default();
        b.push(b'\n');
        Bytes::from(b)
    };
    let mut first: Vec<Bytes> = backlog
        .iter()
        .filter_map(|e| seen(e).map(|typ| line(typ, &e.object)))
        .collect();
    if initial {
        let bookmark = json!({"kind": kind.kind, "apiVersion": kind.api_version(), "metadata": {
            "resourceVersion": current.to_string(),
            "annotations": {"k8s.io/initial-events-end": "true"}}});
        first.push(line("BOOKMARK", &bookmark));
    }
    tokio::spawn(async move {
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        for b in first {
            if tx.send(b).await.is_err() {
                return;
            }
        }
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                ev = rx.recv() => match ev {
                    Ok(e) if e.rv > current => {
                        if let Some(typ) = seen(&e) {
                            if tx.send(line(typ, &e.object)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Ok(_) => {}
                    // Lagged or closed: end the watch; the client lists again.
                    Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    Ok(respond(200, "application/json", Lines(out).boxed()))
}

/// The control endpoints of the simulation:
/// `PUT /fake/v1/namespaces/{ns}/deployments/{name}/rollout` with body
/// `progress`, `stall` or `fail`, and
/// `PUT /fake/v1/namespaces/{ns}/horizontalpodautoscalers/{name}/desired`
/// with a replica count.
fn control(cluster: &Cluster, method: &Method, rest: &[&str], body: &[u8]) -> Response<Body> {
    let text = String::from_utf8_lossy(body)
        .trim()
        .trim_matches('"')
        .to_string();
    let result = match (method, rest) {
        (&Method::PUT, ["namespaces", ns, "deployments", name, "rollout"]) => text
            .parse::<RolloutMode>()
            .map(|m| cluster.set_rollout(ns, name, m)),
        (&Method::PUT, ["namespaces", ns, "horizontalpodautoscalers", name, "desired"]) => text
            .parse::<i64>()
            .map_err(|_| format!("{text:?} is not a replica count"))
            .map(|n| cluster.set_hpa_desired(ns, name, n)),
        _ => return error(&ApiError::no_route(&format!("/fake/v1/{}", rest.join("/")))),
    };
    match result {
        Ok(()) => json_response(
            200,
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
        ),
        Err(e) => error(&ApiError::bad_request(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_components_are_decoded() {
        let q = query(Some(
            "labelSelector=app%3Dweb%2Ctier+in+%28a%29&watch=true&x",
        ));
        assert_eq!(q["labelSelector"], "app=web,tier in (a)");
        assert_eq!(q["watch"], "true");
        assert_eq!(q["x"], "");
    }

    #[test]
    fn urls_name_kinds_namespaces_and_subresources() {
        let t = target(&[
            "apis",
            "apps",
            "v1",
            "namespaces",
            "a",
            "deployments",
            "web",
            "status",
        ])
        .unwrap();
        assert_eq!(
            (
                t.kind.kind,
                t.namespace.as_deref(),
                t.name.as_deref(),
                t.subresource.as_deref()
            ),
            ("Deployment", Some("a"), Some("web"), Some("status"))
        );
        let t = target(&["api", "v1", "namespaces", "a"]).unwrap();
        assert_eq!((t.kind.kind, t.name.as_deref()), ("Namespace", Some("a")));
        let t = target(&["api", "v1", "namespaces", "a", "status"]).unwrap();
        assert_eq!(
            (t.kind.kind, t.subresource.as_deref()),
            ("Namespace", Some("status"))
        );
        assert!(target(&["api", "v1", "pods"]).is_err());
        assert!(
            target(&["api", "v1", "configmaps", "x"]).is_err(),
            "a namespaced object needs its namespace"
        );
    }
}
