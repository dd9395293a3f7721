//! The HTTP layer: ARM's URL layout, verbs, api-version checks, throttling
//! and the control endpoints.

use crate::error::ArmError;
use crate::ids::{self, key, Route};
use crate::ops::OpKind;
use crate::store::{Ctx, Reply, State};
use crate::types::{self, TypeDef};
use crate::{compute, Arm};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

/// `%xx` decoding of a query component.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query(q: Option<&str>) -> HashMap<String, String> {
    q.unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k).to_ascii_lowercase(), decode(v))
        })
        .collect()
}

fn to_response(reply: Reply) -> Response<Full<Bytes>> {
    let body = reply
        .body
        .map(|b| Bytes::from(serde_json::to_vec(&b).unwrap_or_default()))
        .unwrap_or_default();
    let has_body = !body.is_empty();
    let mut r = Response::new(Full::new(body));
    *r.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    if has_body {
        h.insert(
            hyper::header::CONTENT_TYPE,
            "application/json; charset=utf-8"
                .parse()
                .expect("a header value"),
        );
    }
    for (name, value) in reply.headers {
        if let Ok(v) = value.parse() {
            h.insert(name, v);
        }
    }
    r
}

fn error_reply(e: &ArmError) -> Reply {
    let mut r = Reply::json(e.status, e.body());
    if let Some(s) = e.retry_after {
        r.headers.push(("Retry-After", s.to_string()));
    }
    r
}

/// Answers one request.
pub async fn handle(
    arm: Arc<Arm>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let host = parts
        .headers
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(String::from)
        .unwrap_or_else(|| arm.address.clone());
    let q = query(parts.uri.query());
    let reply = {
        let mut state = arm.lock();
        state.settle();
        let ctx = Ctx {
            base: format!("http://{host}"),
            api_version: q.get("api-version").cloned().unwrap_or_default(),
        };
        answer(
            &mut state,
            &ctx,
            &parts.method,
            parts.uri.path(),
            &q,
            &bytes,
        )
        .unwrap_or_else(|e| error_reply(&e))
    };
    if arm.verbose {
        eprintln!(
            "dafnck-arm-fake: {} {} -> {}",
            parts.method, parts.uri, reply.status
        );
    }
    let mut reply = reply;
    reply.headers.push(("x-ms-request-id", arm.lock().guid()));
    Ok(to_response(reply))
}

fn parse_json(bytes: &[u8]) -> Result<Value, ArmError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ArmError::invalid_content(format!(
            "The request content was invalid and could not be deserialized: '{e}'."
        ))
    })
}

fn no_route(method: &Method, path: &str) -> ArmError {
    ArmError::new(
        404,
        "NoRouteFound",
        format!("The request {method} {path} matches no route of this server (dafnck-arm-fake)."),
    )
}

fn answer(
    state: &mut State,
    ctx: &Ctx,
    method: &Method,
    path: &str,
    q: &HashMap<String, String>,
    body: &[u8],
) -> Result<Reply, ArmError> {
    let route = ids::parse(path).ok_or_else(|| no_route(method, path))?;
    if let Route::Control(what) = &route {
        return control(state, method, what, body);
    }
    if let Some(e) = state.faults.take_throttle() {
        return Err(e);
    }
    let api = q.get("api-version").map(String::as_str);
    match route {
        Route::Control(_) => unreachable!("answered above"),
        Route::Groups { sub } => {
            types::RESOURCE_GROUP.check_version(api, "global")?;
            if *method != Method::GET {
                return Err(method_not_allowed(method, path));
            }
            let prefix = key(&format!("/subscriptions/{sub}/resourcegroups/"));
            let groups: Vec<Value> = state
                .resources
                .iter()
                .filter(|(k, r)| {
                    k.starts_with(&prefix) && std::ptr::eq(r.def, &types::RESOURCE_GROUP)
                })
                .filter_map(|(k, _)| state.render(k))
                .collect();
            Ok(Reply::json(200, json!({ "value": groups })))
        }
        Route::Group { sub, rg } => {
            types::RESOURCE_GROUP.check_version(api, "global")?;
            group(state, ctx, method, &sub, &rg, body)
        }
        Route::GroupResources { sub, rg } => {
            types::RESOURCE_GROUP.check_version(api, "global")?;
            let g = key(&state.group(&sub, &rg)?.id.clone());
            // Generic resources: id, name, type, location, tags (no
            // properties), children not included, as ARM lists them.
            let items: Vec<Value> = state
                .resources
                .iter()
                .filter(|(k, r)| k.starts_with(&format!("{g}/")) && r.def.tracked)
                .map(|(_, r)| {
                    json!({"id": r.id, "name": r.body["name"], "type": r.body["type"],
                           "location": r.body["location"], "tags": r.body["tags"]})
                })
                .collect();
            Ok(Reply::json(200, json!({ "value": items })))
        }
        Route::Operation { result, id, .. } => {
            types::check_version_syntax(api)?;
            operation(state, ctx, result, &id)
        }
        Route::Provider {
            sub,
            rg,
            namespace,
            segments,
        } => provider(
            state,
            ctx,
            method,
            path,
            api,
            &sub,
            rg.as_deref(),
            &namespace,
            &segments,
            body,
        ),
    }
}

fn method_not_allowed(method: &Method, path: &str) -> ArmError {
    ArmError::new(
        405,
        "MethodNotAllowed",
        format!("The requested resource does not support http method '{method}' ({path})."),
    )
}

fn group(
    state: &mut State,
    ctx: &Ctx,
    method: &Method,
    sub: &str,
    rg: &str,
    body: &[u8],
) -> Result<Reply, ArmError> {
    let gid = ids::group_id(sub, rg);
    let k = key(&gid);
    match *method {
        Method::GET => state
            .render(&k)
            .map(|v| Reply::json(200, v))
            .ok_or_else(|| ArmError::group_not_found(rg)),
        Method::HEAD => Ok(Reply::empty(if state.resources.contains_key(&k) {
            204
        } else {
            404
        })),
        Method::PUT => {
            if rg.len() > 90
                || rg.ends_with('.')
                || !rg
                    .chars()
                    .all(|c| c.is_alphanumeric() || "-_.()".contains(c))
            {
                return Err(ArmError::new(
                    400,
                    "InvalidResourceGroup",
                    format!("The provided resource group name '{rg}' has these invalid characters or is too long."),
                ));
            }
            let existing = state.resources.get(&k).cloned();
            if existing
                .as_ref()
                .is_some_and(|e| e.body["properties"]["provisioningState"] == "Deleting")
            {
                state.group(sub, rg)?;
            }
            let id = existing.as_ref().map(|e| e.id.clone()).unwrap_or(gid);
            let (mut v, _) = state.normalize(&types::RESOURCE_GROUP, &id, parse_json(body)?, existing.as_ref()).map_err(|e| {
                if e.code == "InvalidResourceLocation" {
                    let prev = existing.as_ref().and_then(|x| x.body["location"].as_str()).unwrap_or_default();
                    ArmError::conflict(
                        "InvalidResourceGroupLocation",
                        format!("Invalid resource group location. The Resource group already exists in location '{prev}'."),
                    )
                } else {
                    e
                }
            })?;
            v["properties"] = json!({"provisioningState": "Succeeded"});
            let created = existing.is_none();
            state.resources.insert(
                k.clone(),
                crate::store::Resource {
                    id,
                    def: &types::RESOURCE_GROUP,
                    body: v,
                    op: None,
                    scale_set: None,
                },
            );
            Ok(Reply::json(
                if created { 201 } else { 200 },
                state.render(&k).unwrap_or_default(),
            ))
        }
        Method::PATCH => {
            let patch = parse_json(body)?;
            let r = state
                .resources
                .get_mut(&k)
                .ok_or_else(|| ArmError::group_not_found(rg))?;
            patch_tags(&mut r.body, &patch)?;
            if let Some(m) = patch.get("managedBy") {
                r.body["managedBy"] = m.clone();
            }
            Ok(Reply::json(200, state.render(&k).unwrap_or_default()))
        }
        Method::DELETE => {
            if !state.resources.contains_key(&k) {
                return Err(ArmError::group_not_found(rg));
            }
            state.delete(ctx, &k)
        }
        _ => Err(method_not_allowed(method, &gid)),
    }
}

/// Replaces `body`'s tags with the patch's, when it has them.
fn patch_tags(body: &mut Value, patch: &Value) -> Result<(), ArmError> {
    match patch.get("tags") {
        None => Ok(()),
        Some(Value::Object(t)) if t.values().all(Value::is_string) => {
            body["tags"] = Value::Object(t.clone());
            Ok(())
        }
        Some(_) => Err(ArmError::invalid_parameter(
            "tags",
            "tags must be an object of strings",
        )),
    }
}

fn operation(state: &mut State, ctx: &Ctx, result: bool, id: &str) -> Result<Reply, ArmError> {
    let op = state.ops.get(id).cloned().ok_or_else(|| {
        ArmError::new(
            404,
            "OperationNotFound",
            format!("The operation '{id}' could not be found."),
        )
    })?;
    let retry = op.retry_after(state.faults.retry_after).to_string();
    if !result {
        let mut reply = Reply::json(200, op.status_body(&ctx.base));
        if op.running() {
            reply.headers.push(("Retry-After", retry));
        }
        return Ok(reply);
    }
    if op.running() {
        let mut reply = Reply::empty(202);
        reply.headers = vec![
            ("Location", op.result_url(&ctx.base)),
            ("Retry-After", retry),
        ];
        return Ok(reply);
    }
    match (&op.failure, op.status, op.kind) {
        (Some(f), "Failed", _) => Err(ArmError::new(f.status, &f.code, f.message.clone())),
        (_, "Canceled", _) => Err(ArmError::conflict(
            "Canceled",
            "Operation was canceled: a later write of the resource superseded it.",
        )),
        (_, _, OpKind::Delete) => Ok(Reply::empty(204)),
        _ => Ok(state
            .render(&op.target)
            .map(|v| Reply::json(200, v))
            .unwrap_or_else(|| Reply::empty(204))),
    }
}

#[allow(clippy::too_many_arguments)]
fn provider(
    state: &mut State,
    ctx: &Ctx,
    method: &Method,
    path: &str,
    api: Option<&str>,
    sub: &str,
    rg: Option<&str>,
    namespace: &str,
    segments: &[String],
    body: &[u8],
) -> Result<Reply, ArmError> {
    // The longest type path the segments name: `virtualNetworks/subnets`.
    let types_of = |n: usize| {
        segments
            .iter()
            .step_by(2)
            .take(n)
            .cloned()
            .collect::<Vec<_>>()
            .join("/")
    };
    let levels = segments.len().div_ceil(2);
    let found = (1..=levels)
        .rev()
        .find_map(|n| types::find(namespace, &types_of(n)).map(|d| (n, d)));
    let Some((n, def)) = found else {
        if types::namespace_known(namespace).is_none() {
            return Err(ArmError::new(
                404,
                "InvalidResourceNamespace",
                format!("The resource namespace '{namespace}' is invalid."),
            ));
        }
        return Err(ArmError::new(
            400,
            "InvalidResourceType",
            format!("The resource type '{}' could not be found in the namespace '{namespace}' for api version '{}'.", types_of(1), api.unwrap_or("")),
        ));
    };
    let location = rg
        .and_then(|rg| state.group(sub, rg).ok())
        .and_then(|g| g.body["location"].as_str())
        .unwrap_or("global")
        .to_string();
    def.check_version(api, &location)?;
    let names: Vec<String> = segments
        .iter()
        .skip(1)
        .step_by(2)
        .take(n)
        .cloned()
        .collect();
    let extra = &segments[(2 * n).min(segments.len())..];
    let Some(rg) = rg else {
        if *method == Method::GET && names.is_empty() && def.tracked {
            return Ok(Reply::json(
                200,
                json!({ "value": state.list(sub, None, def, None) }),
            ));
        }
        return Err(no_route(method, path));
    };
    let group_id = state
        .group(sub, rg)
        .map_err(|e| {
            if e.status == 409 && *method == Method::GET {
                ArmError::group_not_found(rg)
            } else {
                e
            }
        })?
        .id
        .clone();
    if names.len() < n {
        // A collection: `.../virtualNetworks` or `.../virtualNetworks/v/subnets`.
        if *method != Method::GET {
            return Err(method_not_allowed(method, path));
        }
        let parent = match names.len() {
            0 => None,
            _ => Some(existing_id(state, &group_id, def, &names, rg)?),
        };
        return Ok(Reply::json(
            200,
            json!({ "value": state.list(sub, Some(rg), def, parent.as_deref()) }),
        ));
    }
    if !extra.is_empty() {
        let id = existing_id(state, &group_id, def, &names, rg)?;
        return compute::extra(state, ctx, method, def, &id, extra, body)
            .unwrap_or_else(|| Err(no_route(method, path)));
    }
    match *method {
        Method::PUT => state.put(ctx, def, sub, rg, &names, parse_json(body)?),
        Method::GET => {
            let id = existing_id(state, &group_id, def, &names, rg)?;
            Ok(Reply::json(
                200,
                state.render(&key(&id)).unwrap_or_default(),
            ))
        }
        Method::PATCH => {
            let id = existing_id(state, &group_id, def, &names, rg)?;
            patch(state, ctx, def, sub, rg, &id, parse_json(body)?)
        }
        Method::DELETE => match existing_id(state, &group_id, def, &names, rg) {
            Ok(id) => state.delete(ctx, &key(&id)),
            // ARM answers a delete of what is not there with 204.
            Err(e) if e.code == "ResourceNotFound" => Ok(Reply::empty(204)),
            Err(e) => Err(e),
        },
        _ => Err(method_not_allowed(method, path)),
    }
}

/// The id of the stored resource of `def` named `names`, or 404.
fn existing_id(
    state: &State,
    group_id: &str,
    def: &TypeDef,
    names: &[String],
    rg: &str,
) -> Result<String, ArmError> {
    let segs: Vec<&str> = def.path.split('/').collect();
    let mut id = format!("{group_id}/providers/{}", def.namespace);
    for (i, name) in names.iter().enumerate() {
        id = format!("{id}/{}/{name}", segs[i]);
        match state.resources.get(&key(&id)) {
            Some(r) => id = r.id.clone(),
            None => {
                return Err(ArmError::not_found(
                    &format!(
                        "{}/{}/{}",
                        def.namespace,
                        segs[..=i].join("/"),
                        names[..=i].join("/")
                    ),
                    rg,
                ));
            }
        }
    }
    Ok(id)
}

/// PATCH: tags for every type; for compute types (whose PATCH is an
/// update) a JSON merge of the other fields too, as a long-running update.
fn patch(
    state: &mut State,
    ctx: &Ctx,
    def: &'static TypeDef,
    sub: &str,
    rg: &str,
    id: &str,
    patch: Value,
) -> Result<Reply, ArmError> {
    if !patch.is_object() {
        return Err(ArmError::invalid_content(
            "The request content was invalid: a JSON object is expected.",
        ));
    }
    let k = key(id);
    if def.namespace == "Microsoft.Compute" {
        let mut merged = state.render(&k).unwrap_or_default();
        merge(&mut merged, &patch);
        // Tags are replaced whole, as by every ARM PATCH.
        if let Some(tags) = patch.get("tags") {
            merged["tags"] = tags.clone();
        }
        compute::forget_secrets_from_render(state, &k, &mut merged);
        let names: Vec<String> = id.split('/').skip(8).step_by(2).map(String::from).collect();
        return state.put(ctx, def, sub, rg, &names, merged).map(|mut r| {
            r.status = 200;
            r
        });
    }
    let r = state
        .resources
        .get_mut(&k)
        .ok_or_else(|| ArmError::not_found(id, rg))?;
    if def.tracked {
        patch_tags(&mut r.body, &patch)?;
    }
    Ok(Reply::json(200, state.render(&k).unwrap_or_default()))
}

/// JSON merge patch (RFC 7386).
pub fn merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

fn control(state: &mut State, method: &Method, what: &str, body: &[u8]) -> Result<Reply, ArmError> {
    match (method.as_str(), what) {
        ("GET", "health") => Ok(Reply::json(200, json!({"status": "ok"}))),
        ("GET", "faults") => Ok(Reply::json(200, state.faults.show())),
        ("POST", "faults") => {
            state.faults.apply(&parse_json(body)?)?;
            Ok(Reply::json(200, state.faults.show()))
        }
        ("DELETE", "faults") => {
            state.faults = Default::default();
            Ok(Reply::json(200, state.faults.show()))
        }
        ("GET", "resources") => {
            let ids: Vec<&str> = state.resources.values().map(|r| r.id.as_str()).collect();
            Ok(Reply::json(200, json!({ "value": ids })))
        }
        _ => Err(ArmError::new(
            404,
            "NoRouteFound",
            format!("no control endpoint {method} /_fake/{what}"),
        )),
    }
}
