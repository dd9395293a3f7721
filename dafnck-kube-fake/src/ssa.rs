//! Field ownership: `metadata.managedFields` kept for every write, and
//! server-side apply on top of it, as
//! <https://kubernetes.io/docs/reference/using-api/server-side-apply/>
//! describes:
//!
//! - an apply (`PATCH` with `application/apply-patch+yaml`) by a field
//!   manager makes it the owner of exactly the fields in its configuration;
//!   fields it owned before and left out are removed from the object unless
//!   another manager owns them too;
//! - an apply that sets a field another manager owns to a different value
//!   fails with a 409 listing each conflict (manager and field), unless
//!   `force=true`, which takes those fields over;
//! - an update (`PUT`, other patches, the controller's status writes) makes
//!   its manager the owner of the fields it changed and takes them from
//!   every other manager, without conflicts;
//! - the same value applied by two managers is shared, not a conflict.

use crate::fields::{self, covers, dotted, get, is_item, of_object, FieldSet, Path};
use crate::meta::now_rfc3339;
use serde_json::{json, Value};

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The field manager.
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// The API version the fields were written in.
    pub api_version: String,
    /// When the entry last changed.
    pub time: String,
    /// `""` or `status`.
    pub subresource: String,
    /// The fields the manager owns.
    pub fields: FieldSet,
}

/// One apply conflict: the manager owning the field, its API version and
/// the field's dotted path.
pub type Conflict = (String, String, String);

/// The entries of `object`'s `metadata.managedFields`.
pub fn read_entries(object: &Value) -> Vec<Entry> {
    let Some(list) = object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    let s = |e: &Value, k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    list.iter()
        .map(|e| Entry {
            manager: s(e, "manager"),
            operation: s(e, "operation"),
            api_version: s(e, "apiVersion"),
            time: s(e, "time"),
            subresource: s(e, "subresource"),
            fields: e
                .get("fieldsV1")
                .map(fields::from_fields_v1)
                .unwrap_or_default(),
        })
        .collect()
}

/// Writes `entries` to `object`'s `metadata.managedFields`, leaving out
/// those that own nothing.
pub fn write_entries(object: &mut Value, entries: &[Entry]) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager, "operation": e.operation,
                "apiVersion": e.api_version, "time": e.time,
                "fieldsType": "FieldsV1", "fieldsV1": fields::to_fields_v1(&e.fields)
            });
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            v
        })
        .collect();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("managedFields".into(), Value::Array(list));
    }
}

fn entry_mut<'a>(
    entries: &'a mut Vec<Entry>,
    manager: &str,
    operation: &str,
    subresource: &str,
    api_version: &str,
) -> &'a mut Entry {
    let i = match entries.iter().position(|e| {
        e.manager == manager && e.operation == operation && e.subresource == subresource
    }) {
        Some(i) => i,
        None => {
            entries.push(Entry {
                manager: manager.into(),
                operation: operation.into(),
                api_version: api_version.into(),
                time: String::new(),
                subresource: subresource.into(),
                fields: FieldSet::new(),
            });
            entries.len() - 1
        }
    };
    let e = &mut entries[i];
    e.api_version = api_version.into();
    e.time = now_rfc3339();
    e
}

/// Records an update by `manager` (through `subresource`, `""` or
/// `status`) that turned `old` into `new`: the manager owns the fields it
/// changed, and no other manager owns them any more.
pub fn record_update(
    entries: &mut Vec<Entry>,
    manager: &str,
    api_version: &str,
    subresource: &str,
    old: &Value,
    new: &Value,
) {
    let status_only = subresource == "status";
    let old_set = of_object(old, status_only);
    let new_set = of_object(new, status_only);
    let changed = fields::changed(&old_set, old, &new_set, new);
    if changed.is_empty() {
        return;
    }
    for e in entries.iter_mut() {
        e.fields.retain(|p| !changed.contains(p));
    }
    let e = entry_mut(entries, manager, "Update", subresource, api_version);
    e.fields.extend(changed.intersection(&new_set).cloned());
}

/// Server-side apply of `config` by `manager` to `live` (an existing
/// object, or the bare identity of one to create): the merged object, with
/// `entries` updated.
///
/// # Errors
/// The conflicts, when `config` sets fields other managers own to other
/// values and `force` is false (nothing is changed then).
pub fn apply(
    live: &Value,
    entries: &mut Vec<Entry>,
    config: &Value,
    manager: &str,
    force: bool,
    api_version: &str,
    status_only: bool,
) -> Result<Value, Vec<Conflict>> {
    let mut cfg = config.clone();
    strip_nulls(&mut cfg);
    if let Some(m) = cfg.as_object_mut() {
        if status_only {
            let status = m.remove("status");
            m.retain(|k, _| k == "apiVersion" || k == "kind" || k == "metadata");
            if let Some(s) = status {
                m.insert("status".into(), s);
            }
        } else {
            m.remove("status");
        }
    }
    let sub = if status_only { "status" } else { "" };
    let applied = of_object(&cfg, status_only);
    let mine = |e: &Entry| e.manager == manager && e.operation == "Apply" && e.subresource == sub;

    let mut conflicts: Vec<(usize, Path)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if mine(e) {
            continue;
        }
        for p in applied.intersection(&e.fields) {
            if !is_item(p) && get(&cfg, p) != get(live, p) {
                conflicts.push((i, p.clone()));
            }
        }
    }
    if !conflicts.is_empty() {
        if !force {
            return Err(conflicts
                .iter()
                .map(|(i, p)| {
                    let e = &entries[*i];
                    (e.manager.clone(), e.api_version.clone(), dotted(p))
                })
                .collect());
        }
        for (i, p) in &conflicts {
            entries[*i].fields.remove(p);
        }
    }

    let prev: FieldSet = entries
        .iter()
        .find(|e| mine(e))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let mut result = live.clone();
    // Shortest first: a list item goes as a whole while its key fields
    // still name it (removing them first would leave a keyless husk).
    let mut dropped: Vec<&Path> = prev.difference(&applied).collect();
    dropped.sort_by_key(|p| p.len());
    for p in dropped {
        let kept = covers(&applied, p) || entries.iter().any(|e| !mine(e) && covers(&e.fields, p));
        if !kept {
            fields::remove(&mut result, p);
        }
    }
    merge_applied(&mut result, &cfg, &mut Path::new());
    entry_mut(entries, manager, "Apply", sub, api_version).fields = applied;
    Ok(result)
}

fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, c| !c.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// Merges an applied configuration into `live`: maps field by field,
/// associative lists item by item (by their keys), anything else replaced.
fn merge_applied(live: &mut Value, cfg: &Value, path: &mut Path) {
    let (Some(l), Some(c)) = (live.as_object_mut(), cfg.as_object()) else {
        *live = cfg.clone();
        return;
    };
    for (k, cv) in c {
        path.push(format!("f:{k}"));
        match l.get_mut(k) {
            None => {
                l.insert(k.clone(), cv.clone());
            }
            Some(lv) => match (lv, cv) {
                (lv @ Value::Object(_), Value::Object(cm)) => {
                    if !cm.is_empty() {
                        merge_applied(lv, cv, path);
                    }
                }
                (Value::Array(litems), Value::Array(citems)) if fields::keys_at(path).is_some() => {
                    let keys = fields::keys_at(path).expect("checked");
                    for ci in citems {
                        let key = fields::item_key(ci, keys);
                        match litems
                            .iter_mut()
                            .find(|li| fields::item_key(li, keys) == key)
                        {
                            Some(li) => {
                                path.push(key);
                                merge_applied(li, ci, path);
                                path.pop();
                            }
                            None => litems.push(ci.clone()),
                        }
                    }
                }
                (lv, cv) => *lv = cv.clone(),
            },
        }
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "web", "image": image}
            ]}}}
        })
    }

    /// The identity of the Deployment the tests apply to.
    fn bare() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "default"}})
    }

    /// Our first apply of `deployment(2, "demo:1")` as `dafnck`: the
    /// entries and the object.
    fn ours() -> (Vec<Entry>, Value) {
        let mut entries = Vec::new();
        let out = apply_as(
            &bare(),
            &mut entries,
            &deployment(2, "demo:1"),
            "dafnck",
            false,
        );
        (entries, out.expect("a first apply has no conflicts"))
    }

    /// An apply of an `apps/v1` object's main resource.
    fn apply_as(
        live: &Value,
        entries: &mut Vec<Entry>,
        config: &Value,
        manager: &str,
        force: bool,
    ) -> Result<Value, Vec<Conflict>> {
        apply(live, entries, config, manager, force, "apps/v1", false)
    }

    fn owners(entries: &[Entry], dotted_path: &str) -> Vec<String> {
        entries
            .iter()
            .filter(|e| e.fields.iter().any(|p| dotted(p) == dotted_path))
            .map(|e| e.manager.clone())
            .collect()
    }

    #[test]
    fn an_apply_owns_exactly_the_fields_it_sets() {
        let (entries, out) = ours();
        assert_eq!(out["spec"]["replicas"], 2);
        assert_eq!(owners(&entries, ".spec.replicas"), ["dafnck"]);
        assert_eq!(
            owners(
                &entries,
                ".spec.template.spec.containers[name=\"web\"].image"
            ),
            ["dafnck"]
        );
        assert!(
            owners(&entries, ".metadata.name").is_empty(),
            "identity is not owned"
        );
    }

    #[test]
    fn a_field_another_manager_changed_is_theirs_and_applying_it_conflicts_unless_forced() {
        let (mut entries, ours) = ours();
        // An autoscaler scales the deployment with an update.
        let mut scaled = ours.clone();
        scaled["spec"]["replicas"] = json!(5);
        record_update(
            &mut entries,
            "hpa-controller",
            "apps/v1",
            "",
            &ours,
            &scaled,
        );
        assert_eq!(owners(&entries, ".spec.replicas"), ["hpa-controller"]);
        assert_eq!(
            owners(
                &entries,
                ".spec.template.spec.containers[name=\"web\"].image"
            ),
            ["dafnck"],
            "the update took only the field it changed"
        );

        // Re-applying the same replicas count conflicts with the new owner.
        let before = entries.clone();
        let err = apply_as(
            &scaled,
            &mut entries,
            &deployment(2, "demo:2"),
            "dafnck",
            false,
        )
        .unwrap_err();
        assert_eq!(
            err,
            vec![(
                "hpa-controller".to_string(),
                "apps/v1".to_string(),
                ".spec.replicas".to_string()
            )]
        );
        assert_eq!(entries, before, "a refused apply changes no ownership");

        // Leaving replicas out applies cleanly and leaves the HPA's value.
        let mut without = deployment(0, "demo:2");
        without["spec"].as_object_mut().unwrap().remove("replicas");
        let out = apply_as(&scaled, &mut entries, &without, "dafnck", false).unwrap();
        assert_eq!(
            out["spec"]["replicas"], 5,
            "a field we gave up but another owns stays"
        );
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"][0]["image"],
            "demo:2"
        );

        // Forcing takes the field over.
        let out = apply_as(&out, &mut entries, &deployment(3, "demo:2"), "dafnck", true).unwrap();
        assert_eq!(out["spec"]["replicas"], 3);
        assert_eq!(owners(&entries, ".spec.replicas"), ["dafnck"]);
    }

    #[test]
    fn an_associative_list_item_left_out_goes_as_a_whole() {
        let mut entries = Vec::new();
        let service = |port: i64| {
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                   "spec": {"ports": [{"port": port, "targetPort": 8080}]}})
        };
        let base = json!({"apiVersion": "v1", "kind": "Service",
                          "metadata": {"name": "web", "namespace": "default"}});
        let out = apply(&base, &mut entries, &service(80), "a", false, "v1", false).unwrap();
        // The server's default of a key field.
        let mut out = out;
        out["spec"]["ports"][0]["protocol"] = json!("TCP");
        let out = apply(&out, &mut entries, &service(8080), "a", false, "v1", false).unwrap();
        assert_eq!(
            out["spec"]["ports"],
            json!([{"port": 8080, "targetPort": 8080}])
        );
    }

    #[test]
    fn the_same_value_is_shared_and_a_field_left_out_is_removed_only_when_nobody_else_owns_it() {
        let mut entries = Vec::new();
        let base = json!({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "c", "namespace": "default"}});
        let a = json!({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "c"}, "data": {"shared": "1", "mine": "x"}});
        let out = apply(&base, &mut entries, &a, "a", false, "v1", false).unwrap();
        let b = json!({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "c"}, "data": {"shared": "1"}});
        let out = apply(&out, &mut entries, &b, "b", false, "v1", false)
            .expect("same value: no conflict");
        assert_eq!(owners(&entries, ".data.shared"), ["a", "b"]);
        let a2 =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}});
        let out = apply(&out, &mut entries, &a2, "a", false, "v1", false).unwrap();
        assert_eq!(
            out["data"],
            json!({"shared": "1"}),
            "b still owns shared; mine is gone"
        );
    }

    #[test]
    fn managed_fields_round_trip_through_the_object() {
        let (entries, mut out) = ours();
        write_entries(&mut out, &entries);
        assert_eq!(out["metadata"]["managedFields"][0]["operation"], "Apply");
        assert_eq!(
            out["metadata"]["managedFields"][0]["fieldsType"],
            "FieldsV1"
        );
        assert_eq!(read_entries(&out), entries);
    }
}
