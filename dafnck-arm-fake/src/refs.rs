//! References between resources: every `{"id": "/subscriptions/..."}`
//! inside a resource's body (a NIC's subnet, a VM's NICs, a load
//! balancer's rules' frontend), checked on write (400
//! `InvalidResourceReference`) and on delete (409: in use).

use crate::ids;
use serde_json::Value;

/// Every reference in `v` below its top level, with the field path it is
/// at (`properties.ipConfigurations[0].properties.subnet.id`).
pub fn references(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(v, "", &mut out);
    out
}

fn walk(v: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match val {
                    Value::String(s)
                        if k == "id" && !path.is_empty() && s.starts_with("/subscriptions/") =>
                    {
                        out.push((p, s.clone()));
                    }
                    _ => walk(val, &p, out),
                }
            }
        }
        Value::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                walk(item, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Whether `id` names an entry inline in `body` (the resource `owner`):
/// `{owner}/{collection}/{name}` with an entry `name` in
/// `properties.{collection}` (a load balancer's backend pools, a NIC's IP
/// configurations), or `owner` itself.
pub fn inline_entry(owner: &str, body: &Value, id: &str) -> bool {
    if ids::key(owner) == ids::key(id) {
        return true;
    }
    if !ids::within(id, owner) {
        return false;
    }
    let rest = &id.trim_end_matches('/')[owner.trim_end_matches('/').len()..];
    let mut segs = rest.split('/').filter(|s| !s.is_empty());
    let (Some(collection), Some(name)) = (segs.next(), segs.next()) else {
        return false;
    };
    let Some(props) = body["properties"].as_object() else {
        return false;
    };
    props
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(collection))
        .and_then(|(_, v)| v.as_array())
        .is_some_and(|entries| {
            entries.iter().any(|e| {
                e["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_carry_their_field_paths() {
        let nic = json!({"id": "/subscriptions/s/x", "properties": {"ipConfigurations": [
            {"name": "c", "properties": {"subnet": {"id": "/subscriptions/s/sub"}}}]}});
        assert_eq!(
            references(&nic),
            vec![(
                "properties.ipConfigurations[0].properties.subnet.id".to_string(),
                "/subscriptions/s/sub".to_string()
            )]
        );
        let lb = json!({"properties": {"backendAddressPools": [{"name": "Pool"}]}});
        assert!(inline_entry("/s/lb", &lb, "/S/LB/backendAddressPools/pool"));
        assert!(!inline_entry(
            "/s/lb",
            &lb,
            "/s/lb/backendAddressPools/other"
        ));
    }
}
