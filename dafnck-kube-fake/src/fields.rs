//! Field sets: the paths of an object's fields, in the `FieldsV1` form of
//! `metadata.managedFields`
//! (<https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management>).
//!
//! A path is a list of `FieldsV1` keys: `f:<field>` for a field of a map or
//! struct, `k:<json>` for an item of an associative list (its key fields,
//! `{"name":"web"}`), `v:<json>` for an item of a set, `i:<n>` for an item
//! by index. A set holds the leaves a manager owns (scalars, atomic lists,
//! empty maps) and the associative-list items it owns (`.` in `FieldsV1`).

use crate::kinds::{key_default, list_keys};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// One field path, as `FieldsV1` keys.
pub type Path = Vec<String>;

/// A set of field paths.
pub type FieldSet = BTreeSet<Path>;

/// The paths the API server never records as owned: identity, bookkeeping
/// and (on the main resource) `status`.
fn ignored(path: &[String], status_only: bool) -> bool {
    let first = path.first().map(String::as_str);
    if status_only {
        return first != Some("f:status");
    }
    match first {
        Some("f:apiVersion" | "f:kind" | "f:status") => true,
        Some("f:metadata") => matches!(
            path.get(1).map(String::as_str),
            Some(
                "f:name"
                    | "f:namespace"
                    | "f:uid"
                    | "f:resourceVersion"
                    | "f:generation"
                    | "f:creationTimestamp"
                    | "f:managedFields"
                    | "f:selfLink"
                    | "f:deletionTimestamp"
                    | "f:deletionGracePeriodSeconds"
            )
        ),
        _ => false,
    }
}

/// The field set of `object`: every leaf and associative-list item, without
/// the paths the server does not track. `status_only`: only `status` (the
/// status subresource).
pub fn of_object(object: &Value, status_only: bool) -> FieldSet {
    let mut out = FieldSet::new();
    let mut path = Path::new();
    walk_map(object, &mut path, &mut out);
    out.retain(|p| !ignored(p, status_only));
    out
}

fn walk_map(v: &Value, path: &mut Path, out: &mut FieldSet) {
    if let Value::Object(m) = v {
        for (k, child) in m {
            path.push(format!("f:{k}"));
            walk_child(child, path, out);
            path.pop();
        }
    }
}

fn walk_child(child: &Value, path: &mut Path, out: &mut FieldSet) {
    match child {
        Value::Object(m) if !m.is_empty() => walk_map(child, path, out),
        Value::Array(items) => match keys_at(path) {
            Some(keys) if items.iter().all(Value::is_object) => {
                for item in items {
                    path.push(item_key(item, keys));
                    out.insert(path.clone());
                    walk_map(item, path, out);
                    path.pop();
                }
            }
            _ => {
                out.insert(path.clone());
            }
        },
        _ => {
            out.insert(path.clone());
        }
    }
}

/// The list keys of the list at `path` (its last element is the list's
/// field), or `None` for an atomic list.
pub fn keys_at(path: &[String]) -> Option<&'static [&'static str]> {
    let field = path.last()?.strip_prefix("f:")?;
    let parent = match path.len() {
        0 | 1 => "",
        n => {
            let p = &path[n - 2];
            p.strip_prefix("f:").unwrap_or(p)
        }
    };
    list_keys(parent, field)
}

/// The `k:` key of an associative list's `item` for `keys` (defaults
/// filled in, as the server does for `protocol`).
pub fn item_key(item: &Value, keys: &[&str]) -> String {
    let mut m = Map::new();
    for k in keys {
        if let Some(v) = item.get(*k).cloned().or_else(|| key_default(k)) {
            m.insert((*k).to_string(), v);
        }
    }
    format!("k:{}", Value::Object(m))
}

/// Whether `item` is the one `element` (a `k:`, `v:` or `i:` key) names,
/// at index `index`.
fn matches(element: &str, index: usize, item: &Value) -> bool {
    if let Some(k) = element.strip_prefix("k:") {
        let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(k) else {
            return false;
        };
        keys.iter().all(|(name, want)| {
            item.get(name)
                .cloned()
                .or_else(|| key_default(name))
                .as_ref()
                == Some(want)
        })
    } else if let Some(v) = element.strip_prefix("v:") {
        serde_json::from_str::<Value>(v).ok().as_ref() == Some(item)
    } else if let Some(i) = element.strip_prefix("i:") {
        i.parse::<usize>().ok() == Some(index)
    } else {
        false
    }
}

/// The value at `path` in `object`.
pub fn get<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = object;
    for el in path {
        cur = match el.strip_prefix("f:") {
            Some(f) => cur.as_object()?.get(f)?,
            None => {
                let items = cur.as_array()?;
                items
                    .iter()
                    .enumerate()
                    .find(|(i, it)| matches(el, *i, it))?
                    .1
            }
        };
    }
    Some(cur)
}

/// Removes the value at `path` from `object` (a field of a map, or an item
/// of a list); whether there was one.
pub fn remove(object: &mut Value, path: &[String]) -> bool {
    let Some((last, parent_path)) = path.split_last() else {
        return false;
    };
    let mut cur = object;
    for el in parent_path {
        let next = match el.strip_prefix("f:") {
            Some(f) => cur.as_object_mut().and_then(|m| m.get_mut(f)),
            None => cur.as_array_mut().and_then(|items| {
                items
                    .iter_mut()
                    .enumerate()
                    .find(|(i, it)| matches(el, *i, it))
                    .map(|(_, it)| it)
            }),
        };
        match next {
            Some(n) => cur = n,
            None => return false,
        }
    }
    match last.strip_prefix("f:") {
        Some(f) => cur.as_object_mut().is_some_and(|m| m.remove(f).is_some()),
        None => match cur.as_array_mut() {
            Some(items) => {
                let before = items.len();
                let mut i = 0;
                items.retain(|it| {
                    let keep = !matches(last, i, it);
                    i += 1;
                    keep
                });
                items.len() != before
            }
            None => false,
        },
    }
}

/// Whether `path` names an item of a list (not a field).
pub fn is_item(path: &[String]) -> bool {
    path.last().is_some_and(|p| !p.starts_with("f:"))
}

/// The paths whose values differ between `old` and `new`: leaves added,
/// changed or removed, and list items added or removed.
pub fn changed(old: &FieldSet, old_obj: &Value, new: &FieldSet, new_obj: &Value) -> FieldSet {
    let mut out: FieldSet = old.difference(new).cloned().collect();
    for p in new {
        let differs = if is_item(p) {
            !old.contains(p)
        } else {
            get(old_obj, p) != get(new_obj, p)
        };
        if differs {
            out.insert(p.clone());
        }
    }
    out
}

#[derive(Default)]
struct Node {
    member: bool,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn to_value(&self) -> Value {
        let mut m = Map::new();
        if self.member && !self.children.is_empty() {
            m.insert(".".into(), Value::Object(Map::new()));
        }
        for (k, c) in &self.children {
            m.insert(k.clone(), c.to_value());
        }
        Value::Object(m)
    }
}

/// `set` in the `FieldsV1` form of `managedFields`.
pub fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Node::default();
    for p in set {
        let mut n = &mut root;
        for el in p {
            n = n.children.entry(el.clone()).or_default();
        }
        n.member = true;
    }
    root.to_value()
}

/// The set a `FieldsV1` value holds.
pub fn from_fields_v1(v: &Value) -> FieldSet {
    fn walk(v: &Value, path: &mut Path, out: &mut FieldSet) {
        let Some(m) = v.as_object() else { return };
        if (m.is_empty() || m.contains_key(".")) && !path.is_empty() {
            out.insert(path.clone());
        }
        for (k, c) in m {
            if k != "." {
                path.push(k.clone());
                walk(c, path, out);
                path.pop();
            }
        }
    }
    let mut out = FieldSet::new();
    walk(v, &mut Path::new(), &mut out);
    out
}

/// A path in the dotted form of conflict messages: `.spec.replicas`,
/// `.spec.template.spec.containers[name="web"].image`.
pub fn dotted(path: &[String]) -> String {
    let mut s = String::new();
    for el in path {
        if let Some(f) = el.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(k) = el.strip_prefix("k:") {
            let parts: Vec<String> = match serde_json::from_str::<Value>(k) {
                Ok(Value::Object(m)) => m.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                _ => vec![k.to_string()],
            };
            s.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = el.strip_prefix("v:") {
            s.push_str(&format!("[={v}]"));
        } else if let Some(i) = el.strip_prefix("i:") {
            s.push_str(&format!("[{i}]"));
        }
    }
    s
}

/// Whether some path of `set` is `path` or lies under it.
pub fn covers(set: &FieldSet, path: &[String]) -> bool {
    set.range(path.to_vec()..)
        .next()
        .is_some_and(|p| p.starts_with(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(els: &[&str]) -> Path {
        els.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_deployment_field_set_keys_containers_by_name_and_ports_by_port_and_protocol() {
        let d = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [
                {"name": "web", "image": "demo:1", "args": ["a", "b"],
                 "ports": [{"containerPort": 8080}]}
            ]}}}
        });
        let set = of_object(&d, false);
        // Paths under the container `web`.
        let web = |rest: &[&str]| {
            let mut v = p(&[
                "f:spec",
                "f:template",
                "f:spec",
                "f:containers",
                r#"k:{"name":"web"}"#,
            ]);
            v.extend(rest.iter().map(|s| s.to_string()));
            v
        };
        let port = r#"k:{"containerPort":8080,"protocol":"TCP"}"#;
        let want: FieldSet = [
            p(&["f:metadata", "f:labels", "f:app"]),
            p(&["f:spec", "f:replicas"]),
            web(&[]),
            web(&["f:name"]),
            web(&["f:image"]),
            web(&["f:args"]),
            web(&["f:ports", port]),
            web(&["f:ports", port, "f:containerPort"]),
        ]
        .into_iter()
        .collect();
        assert_eq!(set, want);
        let v1 = to_fields_v1(&set);
        assert_eq!(
            v1["f:spec"]["f:template"]["f:spec"]["f:containers"][r#"k:{"name":"web"}"#]["."],
            json!({})
        );
        assert_eq!(from_fields_v1(&v1), set);
        let image = web(&["f:image"]);
        assert_eq!(get(&d, &image), Some(&json!("demo:1")));
        assert_eq!(
            dotted(&image),
            ".spec.template.spec.containers[name=\"web\"].image"
        );
    }

    #[test]
    fn remove_takes_out_fields_and_keyed_items() {
        let mut d = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}], "x": 1}});
        assert!(remove(
            &mut d,
            &p(&["f:spec", "f:containers", r#"k:{"name":"a"}"#])
        ));
        assert!(remove(&mut d, &p(&["f:spec", "f:x"])));
        assert!(!remove(&mut d, &p(&["f:spec", "f:x"])));
        assert_eq!(d, json!({"spec": {"containers": [{"name": "b"}]}}));
    }
}
