//! The engine's dynamic value: what a resource's inputs and outputs become
//! once they leave the user's typed structs.
//!
//! Besides plain data a [`Value`] can be a [`Value::Secret`] (redacted in every
//! rendering), a [`Value::Unknown`] (an output not known until apply) or a
//! [`Value::Ref`] (a typed reference to another resource's output, which the
//! engine turns into a dependency edge and later substitutes).

use std::fmt;

use std::sync::Arc;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::computed::{self, ComputeError, Computed};

mod map;

pub use map::ValueMap;

/// A reference to one output field of another resource of the same stack.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OutputRef {
    /// The stack that declared the referenced resource.
    pub stack: String,
    /// The referenced resource's name.
    pub resource: String,
    /// The output field, as the provider names it.
    pub field: String,
}

/// A dynamic value: inputs and outputs as the planner, the state and the
/// providers see them.
#[derive(Clone, PartialEq, Default)]
pub enum Value {
    /// No value.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// A floating point number.
    Float(f64),
    /// A string.
    String(String),
    /// An ordered list.
    List(Vec<Value>),
    /// A map with sorted keys, so renderings and hashes are stable (its
    /// entries shared between clones, see [`ValueMap`]).
    Map(ValueMap),
    /// A secret: shown as `(secret)` everywhere but in the state itself.
    Secret(Box<Value>),
    /// A value that will only be known after apply.
    Unknown,
    /// A reference to another resource's output, not yet resolved (boxed:
    /// inline it would make every value, and every map slot, 80 bytes
    /// instead of 32).
    Ref(Box<OutputRef>),
    /// A value the program computes from others (see [`crate::computed`]):
    /// becomes the computed value, or [`Value::Unknown`], once its
    /// references are resolved.
    Computed(Arc<Computed>),
}

const SECRET_KEY: &str = "$secret";
const REF_KEY: &str = "$ref";
const UNKNOWN_KEY: &str = "$unknown";

impl Value {
    /// Converts any serializable value. [`crate::Input`] references and
    /// [`crate::Secret`]s keep their meaning.
    ///
    /// # Errors
    /// When `T`'s `Serialize` implementation fails, or produces a number that
    /// fits neither `i64` nor `f64`.
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Value, serde_json::Error> {
        computed::capturing(|| crate::value_serde::to_value(value))
    }

    /// Converts a JSON value, decoding the `$secret` / `$ref` / `$unknown`
    /// markers that [`Value::to_json`] writes.
    pub fn from_json(json: serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(items) => {
                Value::List(items.into_iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => {
                if map.len() == 1 {
                    if let Some(v) = map.get(SECRET_KEY) {
                        return Value::Secret(Box::new(Value::from_json(v.clone())));
                    }
                    if let Some(v) = map.get(REF_KEY) {
                        if let Ok(r) = serde_json::from_value::<OutputRef>(v.clone()) {
                            return Value::Ref(Box::new(r));
                        }
                    }
                    if map.get(UNKNOWN_KEY) == Some(&serde_json::Value::Bool(true)) {
                        return Value::Unknown;
                    }
                    if let Some(v) = computed::captured(&map) {
                        return v;
                    }
                }
                Value::Map(
                    map.into_iter()
                        .map(|(k, v)| (k, Value::from_json(v)))
                        .collect(),
                )
            }
        }
    }

    /// Converts to JSON with markers for secrets, references and unknowns,
    /// so [`Value::from_json`] gives the same value back.
    pub fn to_json(&self) -> serde_json::Value {
        self.json(true)
    }

    /// Converts to plain JSON for deserializing into a user's typed struct:
    /// secrets become their inner value, unknowns and references `null`.
    pub fn to_plain_json(&self) -> serde_json::Value {
        self.json(false)
    }

    fn json(&self, markers: bool) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::String(s) => J::String(s.clone()),
            Value::List(items) => J::Array(items.iter().map(|v| v.json(markers)).collect()),
            Value::Map(map) => J::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), v.json(markers)))
                    .collect(),
            ),
            Value::Secret(inner) if markers => {
                let mut m = serde_json::Map::new();
                m.insert(SECRET_KEY.into(), inner.json(markers));
                J::Object(m)
            }
            Value::Secret(inner) => inner.json(markers),
            Value::Unknown if markers => {
                let mut m = serde_json::Map::new();
                m.insert(UNKNOWN_KEY.into(), J::Bool(true));
                J::Object(m)
            }
            Value::Ref(r) if markers => {
                let mut m = serde_json::Map::new();
                m.insert(
                    REF_KEY.into(),
                    serde_json::to_value(r).unwrap_or(serde_json::Value::Null),
                );
                J::Object(m)
            }
            Value::Computed(c) if markers => computed::marker_json(c),
            Value::Unknown | Value::Ref(_) | Value::Computed(_) => J::Null,
        }
    }

    /// Deserializes into a typed value (secrets are revealed, unknowns and
    /// references read as `null`).
    ///
    /// # Errors
    /// When the value does not have the shape `T` expects.
    pub fn deserialize_into<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        crate::value_serde::from_value(self)
    }

    /// The field of a map, if this is a map and has it.
    pub fn get(&self, field: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m.get(field),
            Value::Secret(inner) => inner.get(field),
            _ => None,
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The map inside, if this is a map.
    pub fn as_map(&self) -> Option<&ValueMap> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Whether an [`Value::Unknown`] or a [`Value::Ref`] appears anywhere inside.
    pub fn is_fully_known(&self) -> bool {
        match self {
            Value::Unknown | Value::Ref(_) | Value::Computed(_) => false,
            Value::List(items) => items.iter().all(Value::is_fully_known),
            Value::Map(m) => m.values().all(Value::is_fully_known),
            Value::Secret(inner) => inner.is_fully_known(),
            _ => true,
        }
    }

    /// Whether a [`Value::Ref`] or a [`Value::Computed`] appears anywhere
    /// inside: whether [`Value::resolve_refs`] has anything to replace.
    fn has_refs(&self) -> bool {
        match self {
            Value::Ref(_) | Value::Computed(_) => true,
            Value::List(items) => items.iter().any(Value::has_refs),
            Value::Map(m) => m.values().any(Value::has_refs),
            Value::Secret(inner) => inner.has_refs(),
            _ => false,
        }
    }

    /// Whether a secret appears anywhere inside.
    pub fn contains_secret(&self) -> bool {
        match self {
            Value::Secret(_) => true,
            Value::List(items) => items.iter().any(Value::contains_secret),
            Value::Map(m) => m.values().any(Value::contains_secret),
            _ => false,
        }
    }

    /// The value with every secret replaced by its content: what a provider
    /// sends to its cloud.
    pub fn revealed(&self) -> Value {
        if !self.contains_secret() {
            // A clone shares the maps inside instead of copying them.
            return self.clone();
        }
        match self {
            Value::Secret(inner) => inner.revealed(),
            Value::List(items) => Value::List(items.iter().map(Value::revealed).collect()),
            Value::Map(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), v.revealed())).collect()),
            other => other.clone(),
        }
    }

    /// Marks as secret every part of `self` that is a secret in `template`.
    ///
    /// Providers read secrets back as plain values; aligning them with what
    /// was recorded keeps them redacted and keeps drift from seeing a change.
    pub fn with_secrets_of(self, template: &Value) -> Value {
        match (template, self) {
            (Value::Secret(t), v) => {
                let inner = match v {
                    Value::Secret(inner) => *inner,
                    other => other,
                };
                Value::Secret(Box::new(inner.with_secrets_of(t)))
            }
            (Value::Map(t), Value::Map(m)) => Value::Map(
                m.into_iter()
                    .map(|(k, v)| match t.get(&k) {
                        Some(tv) => {
                            let v = v.with_secrets_of(tv);
                            (k, v)
                        }
                        None => (k, v),
                    })
                    .collect(),
            ),
            (Value::List(t), Value::List(l)) => Value::List(
                l.into_iter()
                    .enumerate()
                    .map(|(i, v)| match t.get(i) {
                        Some(tv) => v.with_secrets_of(tv),
                        None => v,
                    })
                    .collect(),
            ),
            (_, v) => v,
        }
    }

    /// Calls `f` for every reference inside, in order.
    pub fn visit_refs<'a>(&'a self, f: &mut impl FnMut(&'a OutputRef)) {
        match self {
            Value::Ref(r) => f(r),
            Value::List(items) => items.iter().for_each(|v| v.visit_refs(f)),
            Value::Map(m) => m.values().for_each(|v| v.visit_refs(f)),
            Value::Secret(inner) => inner.visit_refs(f),
            Value::Computed(c) => c.sources().iter().for_each(|v| v.visit_refs(f)),
            _ => {}
        }
    }

    /// Replaces every reference by what `resolve` returns for it, and
    /// every computed value by what it computes once its sources are fully
    /// known (else by [`Value::Unknown`]).
    ///
    /// # Errors
    /// The first error `resolve` returns, or the first computed value that
    /// fails.
    pub fn resolve_refs<E: From<ComputeError>>(
        &self,
        resolve: &mut impl FnMut(&OutputRef) -> Result<Value, E>,
    ) -> Result<Value, E> {
        Ok(match self {
            Value::Ref(r) => resolve(r)?,
            // Nothing to resolve: a clone shares the maps inside.
            Value::List(_) | Value::Map(_) | Value::Secret(_) if !self.has_refs() => self.clone(),
            Value::List(items) => Value::List(
                items
                    .iter()
                    .map(|v| v.resolve_refs(resolve))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Map(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), v.resolve_refs(resolve)?)))
                    .collect::<Result<_, E>>()?,
            ),
            Value::Secret(inner) => Value::Secret(Box::new(inner.resolve_refs(resolve)?)),
            Value::Computed(c) => {
                let sources = c
                    .sources()
                    .iter()
                    .map(|v| v.resolve_refs(resolve))
                    .collect::<Result<Vec<_>, E>>()?;
                if sources.iter().all(Value::is_fully_known) {
                    c.compute(&sources)?
                } else {
                    Value::Unknown
                }
            }
            other => other.clone(),
        })
    }

    /// Whether `self`, with every reference replaced by what `resolve`
    /// gives, equals `other` — without building the resolved value. A
    /// reference `resolve` cannot resolve (`None`) makes them differ.
    pub(crate) fn equals_resolved<'v>(
        &self,
        other: &Value,
        resolve: &mut impl FnMut(&OutputRef) -> Option<&'v Value>,
    ) -> bool {
        match (self, other) {
            (Value::Ref(r), other) => resolve(r).is_some_and(|v| v == other),
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.equals_resolved(b, resolve))
            }
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, a), (kb, b))| ka == kb && a.equals_resolved(b, resolve))
            }
            (Value::Secret(a), Value::Secret(b)) => a.equals_resolved(b, resolve),
            (Value::Computed(c), other) => {
                // Every source's references are met, in order, before
                // computing (the walk's cursor counts on it).
                let sources = c
                    .sources()
                    .iter()
                    .map(|v| {
                        v.resolve_refs(&mut |r| resolve(r).cloned().ok_or(Unresolved::Missing))
                    })
                    .collect::<Result<Vec<_>, Unresolved>>();
                match sources {
                    Ok(s) if s.iter().all(Value::is_fully_known) => {
                        c.compute(&s).is_ok_and(|v| &v == other)
                    }
                    _ => false,
                }
            }
            (a, b) => a == b,
        }
    }

    /// A one-line rendering for plans and reports: secrets as `(secret)`,
    /// unknowns as `(known after apply)`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    fn render_into(&self, out: &mut String) {
        use std::fmt::Write;
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => {
                let _ = write!(out, "{b}");
            }
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => {
                let _ = write!(out, "{f}");
            }
            Value::String(s) => {
                let _ = write!(out, "{s:?}");
            }
            Value::List(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.render_into(out);
                }
                out.push(']');
            }
            Value::Map(m) => {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let _ = write!(out, "{k} = ");
                    v.render_into(out);
                }
                out.push('}');
            }
            Value::Secret(_) => out.push_str("(secret)"),
            Value::Unknown => out.push_str("(known after apply)"),
            Value::Ref(r) => {
                let _ = write!(out, "(output {}.{})", r.resource, r.field);
            }
            Value::Computed(c) => {
                let _ = write!(out, "(computed at {})", c.location());
            }
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Float(f) => serializer.serialize_f64(*f),
            Value::String(s) => serializer.serialize_str(s),
            Value::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Map(m) => {
                let mut map = serializer.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Value::Secret(inner) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(SECRET_KEY, inner)?;
                map.end()
            }
            Value::Unknown => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(UNKNOWN_KEY, &true)?;
                map.end()
            }
            Value::Ref(r) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(REF_KEY, r)?;
                map.end()
            }
            Value::Computed(c) => computed::marker_json(c).serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a dafnck value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Value, A::Error> {
        let map = ValueMap::from_entries(map::read_entries(access)?);
        if map.len() == 1 {
            if map.single(SECRET_KEY).is_some() {
                let inner = map.into_single().unwrap_or_default();
                return Ok(Value::Secret(Box::new(inner)));
            }
            if map.single(UNKNOWN_KEY) == Some(&Value::Bool(true)) {
                return Ok(Value::Unknown);
            }
            if let Some(Value::Map(r)) = map.single(REF_KEY) {
                let field = |name: &str| r.get(name).and_then(Value::as_str).map(str::to_owned);
                if let (Some(stack), Some(resource), Some(f)) =
                    (field("stack"), field("resource"), field("field"))
                {
                    return Ok(Value::Ref(Box::new(OutputRef {
                        stack,
                        resource,
                        field: f,
                    })));
                }
            }
        }
        Ok(Value::Map(map))
    }
}

/// Why a computed value's sources did not resolve while comparing.
enum Unresolved {
    Missing,
    Failed,
}

impl From<ComputeError> for Unresolved {
    fn from(_: ComputeError) -> Self {
        Unresolved::Failed
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Value {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Value {
        Value::Map(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_through_json_text() {
        let v: Value = [
            ("a", Value::Secret(Box::new("pw".into()))),
            ("b", Value::Unknown),
            (
                "c",
                Value::Ref(Box::new(OutputRef {
                    stack: "dev".into(),
                    resource: "vpc".into(),
                    field: "id".into(),
                })),
            ),
            ("d", Value::List(vec![Value::Int(1), Value::Float(1.5)])),
        ]
        .into_iter()
        .collect();
        let text = serde_json::to_string(&v).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
        assert_eq!(Value::from_json(v.to_json()), v);
    }

    #[test]
    fn secrets_are_redacted_in_renderings_but_not_in_plain_json() {
        let v: Value = [("password", Value::Secret(Box::new("hunter2".into())))]
            .into_iter()
            .collect();
        assert!(!format!("{v:?}").contains("hunter2"));
        assert!(!v.render().contains("hunter2"));
        assert_eq!(v.to_plain_json()["password"], "hunter2");
    }

    #[test]
    fn secrets_read_back_in_plain_are_marked_again() {
        let recorded: Value = [
            ("pw", Value::Secret(Box::new("x".into()))),
            (
                "list",
                Value::List(vec![Value::Secret(Box::new("y".into())), "z".into()]),
            ),
            ("name", "n".into()),
        ]
        .into_iter()
        .collect();
        let read: Value = [
            ("pw", Value::from("x")),
            ("list", Value::List(vec!["y".into(), "z".into()])),
            ("name", "n".into()),
        ]
        .into_iter()
        .collect();
        assert_eq!(read.with_secrets_of(&recorded), recorded);
    }

    #[test]
    fn equals_resolved_agrees_with_resolving_first() {
        let r = |resource: &str| {
            Value::Ref(Box::new(OutputRef {
                stack: "s".into(),
                resource: resource.into(),
                field: "id".into(),
            }))
        };
        let desired: Value = [
            ("a", r("x")),
            ("b", Value::List(vec![r("y"), Value::Int(1)])),
            ("c", Value::Secret(Box::new("pw".into()))),
        ]
        .into_iter()
        .collect();
        let x = Value::from("x-1");
        let y = Value::from("y-1");
        let mut known = |o: &OutputRef| match o.resource.as_str() {
            "x" => Some(&x),
            "y" => Some(&y),
            _ => None,
        };
        let resolved = desired
            .resolve_refs(&mut |o| known(o).cloned().ok_or(None::<ComputeError>))
            .unwrap();
        assert!(desired.equals_resolved(&resolved, &mut known));
        let mut other = resolved.clone();
        if let Value::Map(m) = &mut other {
            m.insert("b".into(), Value::List(vec![y.clone()]));
        }
        assert!(!desired.equals_resolved(&other, &mut known));
        // An unresolvable reference never matches.
        assert!(!r("z").equals_resolved(&Value::Null, &mut known));
        // Extra or missing fields differ.
        let mut fewer = resolved.clone();
        if let Value::Map(m) = &mut fewer {
            m.remove("c");
        }
        assert!(!desired.equals_resolved(&fewer, &mut known));
    }

    #[test]
    fn resolve_refs_substitutes_in_place() {
        let r = OutputRef {
            stack: "s".into(),
            resource: "a".into(),
            field: "id".into(),
        };
        let v = Value::List(vec![Value::Ref(Box::new(r.clone())), Value::Int(3)]);
        assert!(!v.is_fully_known());
        let resolved = v
            .resolve_refs(&mut |got: &OutputRef| {
                assert_eq!(got, &r);
                Ok::<_, ComputeError>(Value::from("a-1"))
            })
            .unwrap();
        assert_eq!(resolved, Value::List(vec!["a-1".into(), Value::Int(3)]));
        assert!(resolved.is_fully_known());
    }
}
