//! Discovery and OpenAPI documents
//! (<https://kubernetes.io/docs/concepts/overview/kubernetes-api/#discovery-api>).
//!
//! Discovery is served in both forms: aggregated (`/api` and `/apis` as
//! `APIGroupDiscoveryList` of `apidiscovery.k8s.io/v2`, when the `Accept`
//! header asks for it, as kubectl 1.32 does) and unaggregated (`/api`,
//! `/apis`, one `APIResourceList` per group version, which kube-rs'
//! `Discovery::run` reads).
//!
//! OpenAPI v3 (`/openapi/v3` and one document per group version) lists, for
//! every served kind, the `PATCH` operation with its
//! `x-kubernetes-group-version-kind` and the `fieldValidation` query
//! parameter: that is how kubectl learns the server validates fields
//! itself, so `kubectl apply` runs without `--validate=false`. The
//! documents carry no schemas, so kubectl computes its strategic merge
//! patches from its compiled-in types, as it does for a server without
//! OpenAPI; `/openapi/v2` answers 404.

use crate::kinds::{group_versions, KINDS};
use serde_json::{json, Value};

/// `/version`: Kubernetes 1.32, the version of the kubectl these tests use.
pub fn version() -> Value {
    json!({
        "major": "1", "minor": "32", "gitVersion": "v1.32.0-dafnck-fake",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `/api`.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
    })
}

fn group(name: &str) -> Value {
    let versions: Vec<Value> = group_versions()
        .into_iter()
        .filter(|(g, _)| *g == name)
        .map(|(g, v)| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
        .collect();
    json!({"name": name, "versions": versions, "preferredVersion": versions[0]})
}

/// `/apis`.
pub fn group_list() -> Value {
    let mut names: Vec<&str> = Vec::new();
    for (g, _) in group_versions() {
        if !g.is_empty() && !names.contains(&g) {
            names.push(g);
        }
    }
    json!({
        "kind": "APIGroupList", "apiVersion": "v1",
        "groups": names.into_iter().map(group).collect::<Vec<_>>()
    })
}

/// `/apis/{group}`, when the group is served.
pub fn api_group(name: &str) -> Option<Value> {
    group_versions()
        .iter()
        .any(|(g, _)| *g == name && !g.is_empty())
        .then(|| {
            let mut g = group(name);
            g["kind"] = json!("APIGroup");
            g["apiVersion"] = json!("v1");
            g
        })
}

/// `/api/v1` or `/apis/{group}/{version}`, when served.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let kinds: Vec<_> = KINDS
        .iter()
        .filter(|k| k.group == group && k.version == version)
        .collect();
    if kinds.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for k in kinds {
        let mut r = json!({
            "name": k.resource, "singularName": k.singular, "namespaced": k.namespaced,
            "kind": k.kind,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        });
        if !k.short_names.is_empty() {
            r["shortNames"] = json!(k.short_names);
        }
        if k.kind == "Deployment" || k.kind == "Service" || k.kind == "HorizontalPodAutoscaler" {
            r["categories"] = json!(["all"]);
        }
        resources.push(r);
        if k.kind == "Deployment" {
            resources.push(json!({
                "name": "deployments/scale", "singularName": "", "namespaced": true,
                "group": "autoscaling", "version": "v1", "kind": "Scale",
                "verbs": ["get", "patch", "update"]
            }));
        }
        if k.status {
            resources.push(json!({
                "name": format!("{}/status", k.resource), "singularName": "",
                "namespaced": k.namespaced, "kind": k.kind, "verbs": ["get", "patch", "update"]
            }));
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: where each group version's document is.
pub fn openapi_root() -> Value {
    let mut paths = serde_json::Map::new();
    for (g, v) in group_versions() {
        let p = gv_path(g, v);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash=dafnck")}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v3/{api/v1 | apis/group/version}`: the `PATCH` operation of
/// each kind, with the query parameters the server takes.
pub fn openapi_group_version(path: &str) -> Option<Value> {
    let (g, v) = group_versions()
        .into_iter()
        .find(|(g, v)| gv_path(g, v) == path)?;
    let mut paths = serde_json::Map::new();
    for k in KINDS.iter().filter(|k| k.group == g && k.version == v) {
        let prefix = format!("/{}", gv_path(g, v));
        let item = if k.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", k.resource)
        } else {
            format!("{prefix}/{}/{{name}}", k.resource)
        };
        let param = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}});
        paths.insert(
            item,
            json!({"patch": {
                "operationId": format!("patch{}", k.kind),
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": g, "kind": k.kind, "version": v},
                "parameters": [param("dryRun"), param("fieldManager"), param("fieldValidation"), param("force")],
                "responses": {"200": {"description": "OK"}}
            }}),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0-dafnck-fake"},
        "paths": paths,
        "components": {"schemas": {}}
    }))
}

/// The content type of aggregated discovery documents.
pub const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether an `Accept` header asks for aggregated discovery (v2).
pub fn wants_aggregated(accept: &str) -> bool {
    accept.split(',').any(|media| {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        params.contains(&"g=apidiscovery.k8s.io")
            && params.contains(&"v=v2")
            && params.contains(&"as=APIGroupDiscoveryList")
    })
}

/// Aggregated discovery: `/api` (`core`: the core group) or `/apis`.
pub fn aggregated(core: bool) -> Value {
    let mut items = Vec::new();
    let mut groups: Vec<&str> = Vec::new();
    for (g, _) in group_versions() {
        if g.is_empty() == core && !groups.contains(&g) {
            groups.push(g);
        }
    }
    for g in groups {
        let versions: Vec<Value> = group_versions()
            .into_iter()
            .filter(|(gg, _)| *gg == g)
            .map(|(_, v)| {
                let resources: Vec<Value> = KINDS
                    .iter()
                    .filter(|k| k.group == g && k.version == v)
                    .map(|k| {
                        let kind_ref = json!({"group": g, "version": v, "kind": k.kind});
                        let mut subresources = Vec::new();
                        if k.kind == "Deployment" {
                            subresources.push(json!({
                                "subresource": "scale",
                                "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
                                "verbs": ["get", "patch", "update"]
                            }));
                        }
                        if k.status {
                            subresources.push(json!({"subresource": "status", "responseKind": kind_ref, "verbs": ["get", "patch", "update"]}));
                        }
                        let mut r = json!({
                            "resource": k.resource, "responseKind": kind_ref,
                            "scope": if k.namespaced { "Namespaced" } else { "Cluster" },
                            "singularResource": k.singular,
                            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                        });
                        if !k.short_names.is_empty() {
                            r["shortNames"] = json!(k.short_names);
                        }
                        if matches!(k.kind, "Deployment" | "Service" | "HorizontalPodAutoscaler") {
                            r["categories"] = json!(["all"]);
                        }
                        if !subresources.is_empty() {
                            r["subresources"] = json!(subresources);
                        }
                        r
                    })
                    .collect();
                json!({"version": v, "resources": resources, "freshness": "Current"})
            })
            .collect();
        let metadata = if g.is_empty() {
            json!({"creationTimestamp": null})
        } else {
            json!({"name": g, "creationTimestamp": null})
        };
        items.push(json!({"metadata": metadata, "versions": versions}));
    }
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}
