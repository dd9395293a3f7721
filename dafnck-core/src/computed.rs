//! Computed values: typed transformations of values that may only be known
//! at apply time.
//!
//! [`Input::map`] runs a closure over one input, [`Input::zip`] and
//! [`Input::all`] combine several, and [`interpolate!`](crate::interpolate)
//! formats references into a string. The closure runs in the program's own
//! process: while planning as soon as every source is known (a value stated
//! in the program, the recorded output of a resource the plan leaves alone),
//! otherwise by the executor as soon as the resources it reads are done.
//! Until then the plan shows the value as `(known after apply)`. The
//! computed value is what the journal records in the inputs (or exports)
//! that hold it, and it is a secret when any of its sources is.
//!
//! ```
//! use dafnck_core::prelude::*;
//! use dafnck_core::interpolate;
//!
//! fn urls(dns_name: Input<String>, port: Input<u16>) -> (Input<String>, Input<String>) {
//!     let url = interpolate!("https://{}:{}/", dns_name.clone(), port);
//!     let upper = dns_name.map(|d| d.to_uppercase());
//!     (url, upper)
//! }
//! # fn main() {}
//! ```
//!
//! # Caveats
//! A closure cannot be written to a file, so a plan holding a computed
//! value cannot be saved with `preview --out` (the error names where the
//! value was declared); `up` applies such programs directly.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::resource::{Input, Location};
use crate::value::Value;

/// The closure of a computed value, over its sources (revealed, resolved,
/// fully known).
type ComputeFn = dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync;

/// A value computed from other values (usually references) by a closure of
/// the program: what [`Input::map`] and friends put in a resource's inputs.
#[derive(Clone)]
pub struct Computed {
    sources: Vec<Value>,
    compute: Arc<ComputeFn>,
    location: Location,
    /// The data source whose answer it takes a value from (a data
    /// source's output, see [`crate::data`]).
    read: Option<Arc<str>>,
}

/// Two computed values are the same when they were declared at the same
/// place over the same sources (a closure cannot be compared).
impl PartialEq for Computed {
    fn eq(&self, other: &Self) -> bool {
        self.location == other.location && self.sources == other.sources
    }
}

impl fmt::Debug for Computed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(computed at {})", self.location)
    }
}

/// A computed value's closure could not take its sources (a source of
/// another type than the closure expects) or failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("computed value declared at {location}: {message}")]
pub struct ComputeError {
    /// Where the computed value was declared.
    pub location: Location,
    /// What went wrong.
    pub message: String,
}

/// The executor reports a step's errors as text.
impl From<ComputeError> for String {
    fn from(e: ComputeError) -> String {
        e.to_string()
    }
}

impl Computed {
    fn new(sources: Vec<Value>, compute: Arc<ComputeFn>, location: Location) -> Self {
        Computed {
            sources,
            compute,
            location,
            read: None,
        }
    }

    /// The data sources it takes a value from, directly or through its
    /// sources, added to `into`.
    pub(crate) fn reads_into(&self, into: &mut std::collections::BTreeSet<Arc<str>>) {
        if let Some(read) = &self.read {
            into.insert(Arc::clone(read));
        }
        for s in &self.sources {
            reads_in(s, into);
        }
    }

    /// The values it is computed from (references until resolved).
    pub fn sources(&self) -> &[Value] {
        &self.sources
    }

    /// Where the program declared it.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Runs the closure over `sources`, this value's sources resolved and
    /// fully known. The result is a secret when a source holds one.
    ///
    /// # Errors
    /// [`ComputeError`] when a source does not have the type the closure
    /// takes, or the closure fails.
    pub fn compute(&self, sources: &[Value]) -> Result<Value, ComputeError> {
        let secret = sources.iter().any(Value::contains_secret);
        let revealed: Vec<Value> = sources.iter().map(Value::revealed).collect();
        let value = (self.compute)(&revealed).map_err(|message| ComputeError {
            location: self.location.clone(),
            message,
        })?;
        Ok(match value {
            v @ Value::Secret(_) => v,
            v if secret => Value::Secret(Box::new(v)),
            v => v,
        })
    }
}

thread_local! {
    /// The computed values met while [`capturing`] serializes a value:
    /// serde has no room for a closure, so a computed input serializes as
    /// its index here and [`Value::from_json`] takes it back.
    static CAPTURED: RefCell<Option<Vec<Arc<Computed>>>> = const { RefCell::new(None) };
}

const COMPUTED_KEY: &str = "$computed";

/// Runs `f` (a serialization and its conversion to a [`Value`]) with the
/// computed values it serializes kept aside for [`captured`].
pub(crate) fn capturing<R>(f: impl FnOnce() -> R) -> R {
    let outer = CAPTURED.with(|c| c.borrow_mut().replace(Vec::new()));
    let result = f();
    CAPTURED.with(|c| *c.borrow_mut() = outer);
    result
}

/// The computed value a `{"$computed": index}` marker stands for, while
/// [`capturing`].
pub(crate) fn captured(marker: &serde_json::Map<String, serde_json::Value>) -> Option<Value> {
    if marker.len() != 1 {
        return None;
    }
    captured_at(marker.get(COMPUTED_KEY)?.as_u64()?)
}

/// The computed value captured at `index`, while [`capturing`].
pub(crate) fn captured_at(index: u64) -> Option<Value> {
    CAPTURED.with(|c| {
        let c = c.borrow();
        let found = c.as_ref()?.get(usize::try_from(index).ok()?)?;
        Some(Value::Computed(Arc::clone(found)))
    })
}

/// Serializes a computed input: its index among the captured values, or,
/// serialized outside the engine (no capture), as not known.
pub(crate) fn serialize<S: serde::Serializer>(
    computed: &Arc<Computed>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let index = CAPTURED.with(|c| {
        c.borrow_mut().as_mut().map(|list| {
            list.push(Arc::clone(computed));
            list.len() - 1
        })
    });
    let mut map = serializer.serialize_map(Some(1))?;
    match index {
        Some(i) => map.serialize_entry(COMPUTED_KEY, &i)?,
        None => map.serialize_entry("$unknown", &true)?,
    }
    map.end()
}

/// The JSON a [`Value::Computed`] shows as in a state or plan file (which
/// never hold one to apply: see the module's caveats).
pub(crate) fn marker_json(c: &Computed) -> serde_json::Value {
    serde_json::json!({
        COMPUTED_KEY: {
            "at": c.location.to_string(),
            "sources": c.sources.iter().map(Value::to_json).collect::<Vec<_>>(),
        }
    })
}

/// One source of a computed value, from what the program gave.
fn source<V: Serialize + ?Sized>(v: &V) -> Result<Value, String> {
    Value::from_serialize(v).map_err(|e| format!("a source cannot be serialized: {e}"))
}

/// A computed input over `sources`, whose serialization errors surface when
/// it is computed.
fn computed<U>(
    sources: Vec<Result<Value, String>>,
    compute: impl Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static,
    location: Location,
) -> Input<U> {
    let mut values = Vec::with_capacity(sources.len());
    let mut broken = None;
    for s in sources {
        match s {
            Ok(v) => values.push(v),
            Err(e) => {
                broken.get_or_insert(e);
                values.push(Value::Null);
            }
        }
    }
    let compute: Arc<ComputeFn> = match broken {
        Some(e) => Arc::new(move |_: &[Value]| Err(e.clone())),
        None => Arc::new(compute),
    };
    Input::computed(Arc::new(Computed::new(values, compute, location)))
}

/// A source as the closure's argument type.
fn typed<T: DeserializeOwned>(v: &Value) -> Result<T, String> {
    v.deserialize_into::<T>().map_err(|e| {
        format!(
            "a source is {} but the closure takes {}: {e}",
            v.render(),
            std::any::type_name::<T>()
        )
    })
}

fn to_value<U: Serialize>(u: &U) -> Result<Value, String> {
    Value::from_serialize(u).map_err(|e| format!("the result cannot be serialized: {e}"))
}

impl<T: Serialize + DeserializeOwned + 'static> Input<T> {
    /// A value computed from this one by `f`: at plan time when this is
    /// known then, else at apply as soon as it is (see [`crate::computed`]).
    ///
    /// ```
    /// # use dafnck_core::prelude::*;
    /// fn url(dns_name: Input<String>) -> Input<String> {
    ///     dns_name.map(|d| format!("https://{d}/"))
    /// }
    /// ```
    #[track_caller]
    pub fn map<U, F>(self, f: F) -> Input<U>
    where
        U: Serialize,
        F: Fn(T) -> U + Send + Sync + 'static,
    {
        let location = Location::caller();
        computed(
            vec![source(&self)],
            move |v: &[Value]| to_value(&f(typed::<T>(&v[0])?)),
            location,
        )
    }

    /// Like [`Input::map`], with a closure that can fail: its error fails
    /// the plan (or the step that needed the value), naming where the value
    /// was declared.
    #[track_caller]
    pub fn try_map<U, E, F>(self, f: F) -> Input<U>
    where
        U: Serialize,
        E: fmt::Display,
        F: Fn(T) -> Result<U, E> + Send + Sync + 'static,
    {
        let location = Location::caller();
        computed(
            vec![source(&self)],
            move |v: &[Value]| to_value(&f(typed::<T>(&v[0])?).map_err(|e| e.to_string())?),
            location,
        )
    }

    /// This value and `other` as a pair, known when both are: map the pair
    /// to combine them (`a.zip(b).map(|(a, b)| ..)`).
    #[track_caller]
    pub fn zip<U: Serialize + DeserializeOwned + 'static>(self, other: Input<U>) -> Input<(T, U)> {
        let location = Location::caller();
        computed(
            vec![source(&self), source(&other)],
            |v: &[Value]| {
                typed::<T>(&v[0])?;
                typed::<U>(&v[1])?;
                Ok(Value::List(v.to_vec()))
            },
            location,
        )
    }

    /// All of `inputs` as one list, known when every one is.
    #[track_caller]
    pub fn all(inputs: impl IntoIterator<Item = Input<T>>) -> Input<Vec<T>> {
        let location = Location::caller();
        computed(
            inputs.into_iter().map(|i| source(&i)).collect(),
            |v: &[Value]| {
                for item in v {
                    typed::<T>(item)?;
                }
                Ok(Value::List(v.to_vec()))
            },
            location,
        )
    }
}

/// A computed input with no sources: `read` gives the value once a lookup
/// (see [`crate::lookup`]) has been resolved, so the planner computes it
/// like any value whose sources are known.
pub(crate) fn over_answer<U>(
    take: impl Fn() -> Result<Value, String> + Send + Sync + 'static,
    read: Option<Arc<str>>,
    location: Location,
) -> Input<U> {
    let compute: Arc<ComputeFn> = Arc::new(move |_: &[Value]| take());
    let mut c = Computed::new(Vec::new(), compute, location);
    c.read = read;
    Input::computed(Arc::new(c))
}

/// The data sources the computed values within `value` take values from
/// (see [`Computed::reads_into`]), added to `into`.
pub(crate) fn reads_in(value: &Value, into: &mut std::collections::BTreeSet<Arc<str>>) {
    match value {
        Value::Computed(c) => c.reads_into(into),
        Value::List(items) => items.iter().for_each(|v| reads_in(v, into)),
        Value::Map(map) => map.values().for_each(|v| reads_in(v, into)),
        Value::Secret(inner) => reads_in(inner, into),
        _ => {}
    }
}

/// One argument of [`interpolate!`](crate::interpolate): an [`Input`] or
/// any serializable value. Not for direct use.
#[doc(hidden)]
pub fn part<V: Serialize + ?Sized>(v: &V) -> Result<Value, String> {
    source(v)
}

/// The computed string [`interpolate!`](crate::interpolate) builds. Not for
/// direct use.
#[doc(hidden)]
#[track_caller]
pub fn interpolated(
    parts: Vec<Result<Value, String>>,
    format: impl Fn(&[String]) -> String + Send + Sync + 'static,
) -> Input<String> {
    let location = Location::caller();
    computed(
        parts,
        move |v: &[Value]| {
            let texts: Vec<String> = v.iter().map(text_of).collect();
            Ok(Value::String(format(&texts)))
        },
        location,
    )
}

/// How a value reads inside an interpolated string: strings and numbers as
/// themselves, anything else as JSON.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => other.to_plain_json().to_string(),
    }
}

/// A string computed from references, like `format!`: each `{}` takes the
/// next argument, an [`Input`] of any type or a plain value. Known in the
/// plan when every argument is, else computed at apply; a secret argument
/// makes the string secret.
///
/// ```
/// use dafnck_core::prelude::*;
/// use dafnck_core::interpolate;
///
/// fn url(dns_name: Input<String>, port: Input<u16>) -> Input<String> {
///     interpolate!("https://{}:{}/health", dns_name, port)
/// }
/// # fn main() {}
/// ```
///
/// Arguments are positional: `{}`, `{0}` and format specs (`{:>8}`) work,
/// names captured from the scope (`{dns_name}`) do not.
#[macro_export]
macro_rules! interpolate {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {
        $crate::computed::interpolated(
            ::std::vec![$($crate::computed::part(&$arg)),*],
            move |parts: &[::std::string::String]| {
                #[allow(unused_mut, unused_variables)]
                let mut parts = parts.iter();
                ::std::format!(
                    $fmt,
                    $({
                        let _ = ::core::stringify!($arg);
                        parts.next().map(::std::string::String::as_str).unwrap_or_default()
                    }),*
                )
            },
        )
    };
}

/// The first computed value inside `value`, if any.
pub(crate) fn find(value: &Value) -> Option<&Computed> {
    match value {
        Value::Computed(c) => Some(c),
        Value::List(items) => items.iter().find_map(find),
        Value::Map(m) => m.values().find_map(find),
        Value::Secret(inner) => find(inner),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::OutputRef;
    use crate::ResourceRef;

    fn reference() -> Input<String> {
        ResourceRef::new("dev", "lb", "test:lb:Lb").output("dns_name")
    }

    fn only(v: &Value) -> &Computed {
        match v {
            Value::Computed(c) => c,
            other => panic!("not computed: {other}"),
        }
    }

    #[test]
    fn a_mapped_reference_converts_to_a_computed_value_over_the_reference() {
        let url = reference().map(|d| format!("https://{d}/"));
        let v = Value::from_serialize(&url).unwrap();
        let c = only(&v);
        let mut refs = Vec::new();
        v.visit_refs(&mut |r: &OutputRef| refs.push(r.resource.clone()));
        assert_eq!(refs, ["lb"]);
        assert!(!v.is_fully_known());
        assert_eq!(
            c.compute(&[Value::from("lb-1.example")]).unwrap(),
            Value::from("https://lb-1.example/")
        );
    }

    #[test]
    fn resolving_computes_once_every_source_is_known_and_keeps_secrets() {
        let v = Value::from_serialize(&interpolate!("{}:{}", reference(), 8080)).unwrap();
        let resolved = v
            .resolve_refs(&mut |_| Ok::<_, ComputeError>(Value::from("db")))
            .unwrap();
        assert_eq!(resolved, Value::from("db:8080"));
        let unknown = v
            .resolve_refs(&mut |_| Ok::<_, ComputeError>(Value::Unknown))
            .unwrap();
        assert_eq!(unknown, Value::Unknown);
        let secret = v
            .resolve_refs(&mut |_| Ok::<_, ComputeError>(Value::Secret(Box::new("db".into()))))
            .unwrap();
        assert_eq!(secret, Value::Secret(Box::new("db:8080".into())));
    }

    #[test]
    fn a_source_of_another_type_is_an_error_naming_the_declaration() {
        let n: Input<u16> = ResourceRef::new("dev", "lb", "test:lb:Lb").output("port");
        let line = line!() + 1;
        let v = Value::from_serialize(&n.map(|p| p + 1)).unwrap();
        let err = v
            .resolve_refs(&mut |_| Ok::<_, ComputeError>(Value::from("eighty")))
            .unwrap_err();
        assert_eq!(err.location.line, line);
        assert!(err.to_string().contains("closure takes u16"), "{err}");
    }

    #[test]
    fn serialized_outside_the_engine_a_computed_input_reads_as_unknown() {
        let json = serde_json::to_value(reference().map(|d| d.len())).unwrap();
        assert_eq!(json, serde_json::json!({"$unknown": true}));
    }

    #[test]
    fn zip_and_all_combine_known_and_referenced_values() {
        let pair = reference()
            .zip(Input::value(3u32))
            .map(|(d, n)| format!("{d}x{n}"));
        let v = Value::from_serialize(&pair).unwrap();
        let resolved = v
            .resolve_refs(&mut |_| Ok::<_, ComputeError>(Value::from("a")))
            .unwrap();
        assert_eq!(resolved, Value::from("ax3"));
        let all = Input::all([Input::value(1i64), Input::value(2)]).map(|v| v.iter().sum::<i64>());
        let v = Value::from_serialize(&all).unwrap();
        let resolved = v
            .resolve_refs(&mut |_| Ok::<_, ComputeError>(Value::Null))
            .unwrap();
        assert_eq!(resolved, Value::Int(3));
    }
}
