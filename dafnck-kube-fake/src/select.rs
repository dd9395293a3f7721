//! Label and field selectors of list and watch requests
//! (<https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors>,
//! <https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/>).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed `labelSelector` or `fieldSelector`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selector {
    labels: Vec<Req>,
    fields: Vec<Req>,
}

/// Splits on commas outside parentheses.
fn terms(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    out.retain(|t| !t.is_empty());
    out
}

fn parse_term(t: &str) -> Result<Req, String> {
    let set = |rest: &str| -> Result<Vec<String>, String> {
        let inner = rest
            .trim()
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .ok_or(format!("invalid selector term {t:?}: expected a (list)"))?;
        Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
    };
    if let Some(k) = t.strip_prefix('!') {
        return Ok(Req::NotExists(k.trim().into()));
    }
    if let Some((k, v)) = t.split_once("!=") {
        return Ok(Req::Ne(k.trim().into(), v.trim().into()));
    }
    if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
        return Ok(Req::Eq(k.trim().into(), v.trim().into()));
    }
    if let Some((k, rest)) = t.split_once(" notin ") {
        return Ok(Req::NotIn(k.trim().into(), set(rest)?));
    }
    if let Some((k, rest)) = t.split_once(" in ") {
        return Ok(Req::In(k.trim().into(), set(rest)?));
    }
    if t.contains(' ') || t.contains('(') {
        return Err(format!("invalid selector term {t:?}"));
    }
    Ok(Req::Exists(t.into()))
}

fn holds(req: &Req, get: &dyn Fn(&str) -> Option<String>) -> bool {
    match req {
        Req::Eq(k, v) => get(k).as_deref() == Some(v),
        Req::Ne(k, v) => get(k).as_deref() != Some(v),
        Req::In(k, vs) => get(k).is_some_and(|x| vs.contains(&x)),
        Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(&x)),
        Req::Exists(k) => get(k).is_some(),
        Req::NotExists(k) => get(k).is_none(),
    }
}

impl Selector {
    /// Parses the `labelSelector` and `fieldSelector` query parameters.
    ///
    /// # Errors
    /// A term the grammar does not allow, or a field selector on a field
    /// other than `metadata.name` and `metadata.namespace`.
    pub fn parse(labels: Option<&str>, fields: Option<&str>) -> Result<Self, String> {
        let labels = terms(labels.unwrap_or_default())
            .into_iter()
            .map(parse_term)
            .collect::<Result<_, _>>()?;
        let fields: Vec<Req> = terms(fields.unwrap_or_default())
            .into_iter()
            .map(parse_term)
            .collect::<Result<_, _>>()?;
        for f in &fields {
            let (Req::Eq(k, _) | Req::Ne(k, _)) = f else {
                return Err("field selectors support only =, == and !=".into());
            };
            if k != "metadata.name" && k != "metadata.namespace" {
                return Err(format!("field label not supported: {k}"));
            }
        }
        Ok(Selector { labels, fields })
    }

    /// Whether `object` is selected.
    pub fn matches(&self, object: &Value) -> bool {
        let meta = &object["metadata"];
        let label = |k: &str| meta["labels"][k].as_str().map(String::from);
        let field = |k: &str| {
            let f = k.strip_prefix("metadata.").unwrap_or(k);
            Some(meta[f].as_str().unwrap_or_default().to_string())
        };
        self.labels.iter().all(|r| holds(r, &label)) && self.fields.iter().all(|r| holds(r, &field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_match_labels_and_names() {
        let o = json!({"metadata": {"name": "web", "namespace": "a", "labels": {"app": "web", "tier": "fe"}}});
        let yes = |l: &str, f: &str| Selector::parse(Some(l), Some(f)).unwrap().matches(&o);
        assert!(yes("app=web", ""));
        assert!(yes("app==web,tier in (fe, be)", "metadata.name=web"));
        assert!(yes("!missing,app", "metadata.namespace!=b"));
        assert!(!yes("app notin (web)", ""));
        assert!(!yes("", "metadata.name=db"));
        assert!(Selector::parse(None, Some("spec.x=1")).is_err());
    }
}
