//! The three patch formats of `PATCH` besides server-side apply
//! (<https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/>):
//! JSON merge patch (RFC 7386), strategic merge patch (lists with a patch
//! merge key merged item by item, and the `$patch`, `$retainKeys`,
//! `$setElementOrder/` and `$deleteFromPrimitiveList/` directives kubectl
//! sends) and JSON patch (RFC 6902).

use crate::fields::{item_key, keys_at, Path};
use serde_json::{Map, Value};

/// `target` with the JSON merge patch `patch` applied (RFC 7386).
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().expect("made an object above");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// `target` with the strategic merge patch `patch` applied.
///
/// # Errors
/// A directive with a value the server does not know (`$patch: frobnicate`).
pub fn strategic_merge_patch(target: &mut Value, patch: &Value) -> Result<(), String> {
    smp_map(target, patch, &mut Path::new())
}

fn smp_map(target: &mut Value, patch: &Value, path: &mut Path) -> Result<(), String> {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return Ok(());
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut clean = p.clone();
            clean.remove("$patch");
            *target = Value::Object(clean);
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Object(Map::new());
            return Ok(());
        }
        Some("merge") | None => {}
        Some(other) => return Err(format!("unknown patch type: {other:?}")),
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let t = target.as_object_mut().expect("made an object above");
    for (k, v) in p {
        if k == "$patch" || k == "$retainKeys" || k.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Some(del)) = (t.get_mut(field), v.as_array()) {
                items.retain(|i| !del.contains(i));
            }
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        path.push(format!("f:{k}"));
        match (t.get_mut(k), v) {
            (Some(cur @ Value::Array(_)), Value::Array(items)) => {
                if let Some(keys) = keys_at(path) {
                    smp_list(cur, items, keys, path)?;
                } else {
                    *cur =
                        Value::Array(items.iter().filter(|i| !is_directive(i)).cloned().collect());
                }
            }
            (Some(cur), Value::Object(_)) if cur.is_object() => smp_map(cur, v, path)?,
            (_, _) => {
                let mut fresh = Value::Null;
                if v.is_object() {
                    smp_map(&mut fresh, v, path)?;
                } else if let Value::Array(items) = v {
                    fresh = Value::Array(
                        items
                            .iter()
                            .filter(|i| !is_directive(i))
                            .cloned()
                            .map(|mut i| {
                                strip_directives(&mut i);
                                i
                            })
                            .collect(),
                    );
                } else {
                    fresh = v.clone();
                }
                t.insert(k.clone(), fresh);
            }
        }
        path.pop();
    }
    if let Some(Value::Array(keep)) = p.get("$retainKeys") {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        t.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (k, v) in p {
        if let (Some(field), Value::Array(order)) = (k.strip_prefix("$setElementOrder/"), v) {
            path.push(format!("f:{field}"));
            let keys = keys_at(path);
            path.pop();
            if let (Some(keys), Some(Value::Array(items))) = (keys, t.get_mut(field)) {
                let rank = |it: &Value| {
                    order
                        .iter()
                        .position(|o| item_key(o, keys) == item_key(it, keys))
                        .unwrap_or(usize::MAX)
                };
                items.sort_by_key(rank);
            }
        }
    }
    Ok(())
}

fn is_directive(item: &Value) -> bool {
    item.get("$patch").is_some()
}

fn strip_directives(v: &mut Value) {
    if let Value::Object(m) = v {
        m.retain(|k, _| !k.starts_with('$'));
        for c in m.values_mut() {
            strip_directives(c);
        }
    } else if let Value::Array(items) = v {
        for c in items {
            strip_directives(c);
        }
    }
}

fn smp_list(
    cur: &mut Value,
    items: &[Value],
    keys: &[&str],
    path: &mut Path,
) -> Result<(), String> {
    if items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *cur = Value::Array(items.iter().filter(|i| !is_directive(i)).cloned().collect());
        return Ok(());
    }
    let list = cur.as_array_mut().expect("matched an array");
    for item in items {
        // The strategic merge key is the first list key.
        let key = item_key(item, &keys[..1]);
        let pos = list.iter().position(|i| item_key(i, &keys[..1]) == key);
        match (item.get("$patch").and_then(Value::as_str), pos) {
            (Some("delete"), Some(i)) => {
                list.remove(i);
            }
            (Some("delete"), None) => {}
            (_, Some(i)) => {
                path.push(key);
                let mut clean = item.clone();
                if let Value::Object(m) = &mut clean {
                    m.remove("$patch");
                }
                smp_map(&mut list[i], &clean, path)?;
                path.pop();
            }
            (_, None) => {
                let mut fresh = Value::Null;
                path.push(key);
                smp_map(&mut fresh, item, path)?;
                path.pop();
                list.push(fresh);
            }
        }
    }
    Ok(())
}

/// `target` with the JSON patch `ops` applied (RFC 6902: `add`, `remove`,
/// `replace`, `move`, `copy`, `test`).
///
/// # Errors
/// A malformed operation, a missing path or a failed `test`.
pub fn json_patch(target: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or("a JSON patch must be a list of operations")?;
    for op in ops {
        let name = op
            .get("op")
            .and_then(Value::as_str)
            .ok_or("operation without \"op\"")?;
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or("operation without \"path\"")?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or(format!("{name} {path}: no \"value\""))
        };
        match name {
            "add" => pointer_add(target, path, value()?)?,
            "remove" => {
                pointer_remove(target, path)?;
            }
            "replace" => {
                let slot = target
                    .pointer_mut(path)
                    .ok_or(format!("replace {path}: no such path"))?;
                *slot = value()?;
            }
            "move" | "copy" => {
                let from = op
                    .get("from")
                    .and_then(Value::as_str)
                    .ok_or("no \"from\"")?;
                let v = if name == "move" {
                    pointer_remove(target, from)?
                } else {
                    target
                        .pointer(from)
                        .cloned()
                        .ok_or(format!("copy {from}: no such path"))?
                };
                pointer_add(target, path, v)?;
            }
            "test" => {
                if target.pointer(path) != Some(&value()?) {
                    return Err(format!("test {path}: the value differs"));
                }
            }
            other => return Err(format!("unknown JSON patch operation {other:?}")),
        }
    }
    Ok(())
}

fn split_pointer(path: &str) -> Result<(&str, String), String> {
    let i = path
        .rfind('/')
        .ok_or(format!("{path}: not a JSON pointer"))?;
    Ok((
        &path[..i],
        path[i + 1..].replace("~1", "/").replace("~0", "~"),
    ))
}

fn pointer_add(target: &mut Value, path: &str, v: Value) -> Result<(), String> {
    if path.is_empty() {
        *target = v;
        return Ok(());
    }
    let (parent, last) = split_pointer(path)?;
    match target.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.insert(last, v);
        }
        Some(Value::Array(items)) => {
            let i = if last == "-" {
                items.len()
            } else {
                last.parse::<usize>()
                    .map_err(|_| format!("add {path}: bad index"))?
            };
            if i > items.len() {
                return Err(format!("add {path}: index out of range"));
            }
            items.insert(i, v);
        }
        _ => return Err(format!("add {path}: no such parent")),
    }
    Ok(())
}

fn pointer_remove(target: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, last) = split_pointer(path)?;
    let removed = match target.pointer_mut(parent) {
        Some(Value::Object(m)) => m.remove(&last),
        Some(Value::Array(items)) => last
            .parse::<usize>()
            .ok()
            .filter(|i| *i < items.len())
            .map(|i| items.remove(i)),
        _ => None,
    };
    removed.ok_or(format!("remove {path}: no such path"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
    }

    #[test]
    fn strategic_merge_merges_containers_by_name_and_honours_directives() {
        let mut t = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}
        ]}}, "args": ["x"]}});
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "a", "image": "a:2"}, {"name": "c", "$patch": "delete"}]
        }}, "args": ["y"]}});
        strategic_merge_patch(&mut t, &patch).unwrap();
        assert_eq!(
            t,
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "b", "image": "b:1"}, {"name": "a", "image": "a:2"}
            ]}}, "args": ["y"]}})
        );
        strategic_merge_patch(
            &mut t,
            &json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "$patch": "delete"}]}}}}),
        )
        .unwrap();
        assert_eq!(
            t["spec"]["template"]["spec"]["containers"],
            json!([{"name": "a", "image": "a:2"}])
        );
    }

    #[test]
    fn json_patch_adds_replaces_removes_and_tests() {
        let mut t = json!({"spec": {"replicas": 1, "list": [1, 3]}});
        json_patch(
            &mut t,
            &json!([
                {"op": "test", "path": "/spec/replicas", "value": 1},
                {"op": "replace", "path": "/spec/replicas", "value": 3},
                {"op": "add", "path": "/spec/list/1", "value": 2},
                {"op": "remove", "path": "/spec/list/0"}
            ]),
        )
        .unwrap();
        assert_eq!(t, json!({"spec": {"replicas": 3, "list": [2, 3]}}));
        let err = json_patch(
            &mut t,
            &json!([{"op": "test", "path": "/spec/replicas", "value": 1}]),
        );
        assert!(err.unwrap_err().contains("differs"));
    }
}
