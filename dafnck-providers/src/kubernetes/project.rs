//! A live object restricted to the fields a manifest sets: what a read
//! reports, so that defaults the server fills in and fields other managers
//! own are not drift, while a field the manifest sets reads as the cluster
//! has it now.
//!
//! Maps keep the manifest's keys. Lists of objects are matched item by
//! item the way server-side apply merges them: by their merge key (`name`,
//! `containerPort`, `port`, `mountPath`, `type`, when every item of the
//! manifest has it), else by position when the lengths agree; items others
//! added are left out, items that went missing stay missing. Any other
//! list, and every scalar, reads as it is.

use serde_json::{Map, Value};

/// The keys associative lists are merged by, tried in order (the first
/// that every item of the manifest has, with a value of its own).
const MERGE_KEYS: &[&str] = &["name", "containerPort", "port", "mountPath", "type"];

/// `live` restricted to the fields `desired` sets.
pub(crate) fn project(live: &Value, desired: &Value) -> Value {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => Value::Object(project_map(l, d)),
        (Value::Array(d), Value::Array(l)) => project_list(l, d),
        _ => live.clone(),
    }
}

fn project_map(live: &Map<String, Value>, desired: &Map<String, Value>) -> Map<String, Value> {
    desired
        .iter()
        .filter_map(|(k, d)| live.get(k).map(|l| (k.clone(), project(l, d))))
        .collect()
}

fn project_list(live: &[Value], desired: &[Value]) -> Value {
    let objects = |items: &[Value]| items.iter().all(Value::is_object);
    if desired.is_empty() || !objects(desired) || !objects(live) {
        return Value::Array(live.to_vec());
    }
    // A key identifies items only when every item has it, each its own.
    let key = MERGE_KEYS.iter().find(|k| {
        let values: Vec<&Value> = desired.iter().filter_map(|d| d.get(**k)).collect();
        values.len() == desired.len()
            && values
                .iter()
                .enumerate()
                .all(|(i, v)| !values[..i].contains(v))
    });
    match key {
        Some(key) => Value::Array(
            desired
                .iter()
                .filter_map(|d| {
                    live.iter()
                        .find(|l| l.get(*key) == d.get(*key))
                        .map(|l| project(l, d))
                })
                .collect(),
        ),
        None if live.len() == desired.len() => Value::Array(
            live.iter()
                .zip(desired)
                .map(|(l, d)| project(l, d))
                .collect(),
        ),
        None => Value::Array(live.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_only_what_the_manifest_sets() {
        let desired = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "a:1", "ports": [{"containerPort": 80}]}
        ]}}}});
        let live = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "sidecar", "image": "s:1"},
            {"name": "web", "image": "a:2", "imagePullPolicy": "IfNotPresent",
             "ports": [{"containerPort": 80, "protocol": "TCP"}]}
        ]}}}});
        assert_eq!(
            project(&live, &desired),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "web", "image": "a:2", "ports": [{"containerPort": 80}]}
            ]}}}})
        );
    }

    #[test]
    fn a_key_shared_by_items_is_no_merge_key() {
        let desired = json!([{"type": "Resource", "n": "cpu"}, {"type": "Resource", "n": "mem"}]);
        let live =
            json!([{"type": "Resource", "n": "cpu", "d": 1}, {"type": "Resource", "n": "mem"}]);
        assert_eq!(
            project(&live, &desired),
            json!([{"type": "Resource", "n": "cpu"}, {"type": "Resource", "n": "mem"}])
        );
    }

    #[test]
    fn missing_fields_and_items_stay_missing() {
        let desired = json!({"data": {"a": "1", "b": "2"}, "args": ["x"],
                             "rules": [{"host": "h", "x": 1}]});
        let live = json!({"data": {"a": "1"}, "args": ["x", "y"],
                          "rules": [{"host": "h", "x": 1, "d": 0}, {"host": "i"}]});
        assert_eq!(
            project(&live, &desired),
            json!({"data": {"a": "1"}, "args": ["x", "y"],
                   "rules": [{"host": "h", "x": 1, "d": 0}, {"host": "i"}]})
        );
    }
}
