//! Resources as typed Rust structs, their typed output references and the
//! options a declaration can carry.
//!
//! A resource type is a struct of inputs that implements [`Resource`]
//! (usually by `#[derive(Resource)]`), with an outputs struct that implements
//! [`Outputs`] (by `#[derive(Outputs)]`). Declaring it in a
//! [`Stack`](crate::Stack) returns a [`Handle`], whose [`Handle::out`] gives one
//! [`Input<T>`] per output field: putting one in another resource's field is
//! a typed reference, and a dependency edge.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::value::OutputRef;

/// Where a declaration was written in the user's program.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Location {
    /// Source file, as the compiler names it.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl Location {
    /// The location of the caller of the `#[track_caller]` function that
    /// calls this.
    #[track_caller]
    pub fn caller() -> Location {
        let l = std::panic::Location::caller();
        Location {
            file: l.file().to_owned(),
            line: l.line(),
            column: l.column(),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A resource type: a struct of inputs the user fills in.
///
/// Implement it with `#[derive(Resource)]`:
///
/// ```
/// use dafnck_core::prelude::*;
///
/// #[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
/// #[resource(type = "example:net:Network", outputs = NetworkOutputs)]
/// pub struct Network {
///     /// Changing the range replaces the network.
///     #[resource(force_new)]
///     pub cidr: Input<String>,
/// }
///
/// #[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
/// pub struct NetworkOutputs {
///     /// The network's id.
///     pub network_id: String,
/// }
/// # fn main() {}
/// ```
pub trait Resource: Serialize + Send + Sync + 'static {
    /// The type name, `package:module:Type`; the package selects the provider.
    const TYPE: &'static str;
    /// What the provider reports once the resource exists.
    type Outputs: Outputs;
    /// Input fields whose change replaces the resource instead of updating
    /// it in place (as serialized).
    fn force_new_fields() -> &'static [&'static str] {
        &[]
    }
}

/// The outputs of a resource type, with typed references to each field.
pub trait Outputs {
    /// A struct with one [`Input<T>`] per output field, each referring to
    /// that field of one resource.
    type Refs;
    /// References to the outputs of the resource `of`.
    fn refs(of: &ResourceRef) -> Self::Refs;
    /// The output field names, as serialized.
    fn field_names() -> &'static [&'static str];

    /// Each output field: its serialized name, its Rust name and type (what
    /// a generated program needs to refer to it). `#[derive(Outputs)]`
    /// lists them all; the default lists none.
    fn fields() -> Vec<OutputField> {
        Vec::new()
    }
}

/// One output field of a resource type (see [`Outputs::fields`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputField {
    /// Its name as serialized (in outputs and the state).
    pub name: &'static str,
    /// The Rust field of the outputs' references (`vpc.out().vpc_id`).
    pub rust_name: &'static str,
    /// Its Rust type, as [`std::any::type_name`] writes it.
    pub rust_type: &'static str,
}

/// Names one declared resource of one stack.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceRef {
    stack: Arc<str>,
    name: Arc<str>,
    type_name: &'static str,
    /// For a data source, the answer its outputs are read from.
    answer: Option<crate::lookup::AnswerRef>,
}

impl ResourceRef {
    /// A reference to resource `name` of type `type_name` in `stack`.
    pub fn new(stack: &str, name: &str, type_name: &'static str) -> Self {
        ResourceRef {
            stack: stack.into(),
            name: name.into(),
            type_name,
            answer: None,
        }
    }

    /// A reference to the data source read as `name`, whose outputs are
    /// read from its answer.
    pub(crate) fn data(
        stack: &str,
        name: &str,
        type_name: &'static str,
        answer: crate::lookup::AnswerRef,
    ) -> Self {
        ResourceRef {
            answer: Some(answer),
            ..ResourceRef::new(stack, name, type_name)
        }
    }

    /// The stack's name.
    pub fn stack(&self) -> &str {
        &self.stack
    }

    /// The resource's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The resource's type name.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// A typed reference to the output `field` of this resource.
    pub fn output<T>(&self, field: &str) -> Input<T> {
        if let Some(answer) = &self.answer {
            return answer.field(field);
        }
        Input {
            inner: InputInner::Output(OutputRef {
                stack: self.stack.to_string(),
                resource: self.name.to_string(),
                field: field.to_owned(),
            }),
        }
    }
}

/// The result of declaring a resource: refer to its outputs with [`Handle::out`]
/// or depend on it with [`Options::depends_on`](crate::Options::depends_on).
pub struct Handle<R: Resource> {
    r: ResourceRef,
    _type: PhantomData<fn() -> R>,
}

impl<R: Resource> Clone for Handle<R> {
    fn clone(&self) -> Self {
        Handle {
            r: self.r.clone(),
            _type: PhantomData,
        }
    }
}

impl<R: Resource> fmt::Debug for Handle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle({} {})", R::TYPE, self.r.name)
    }
}

impl<R: Resource> Handle<R> {
    pub(crate) fn new(r: ResourceRef) -> Self {
        Handle {
            r,
            _type: PhantomData,
        }
    }

    /// Typed references to this resource's outputs.
    pub fn out(&self) -> <R::Outputs as Outputs>::Refs {
        <R::Outputs as Outputs>::refs(&self.r)
    }

    /// The resource's name in its stack.
    pub fn name(&self) -> &str {
        self.r.name()
    }

    /// The untyped reference.
    pub fn resource_ref(&self) -> &ResourceRef {
        &self.r
    }
}

impl<R: Resource> From<&Handle<R>> for ResourceRef {
    fn from(h: &Handle<R>) -> ResourceRef {
        h.r.clone()
    }
}

/// An input field: a value known now, or a typed reference to another
/// resource's output (a dependency edge, resolved at apply).
#[derive(Clone, PartialEq)]
pub struct Input<T> {
    inner: InputInner<T>,
}

#[derive(Clone, PartialEq)]
enum InputInner<T> {
    Value(T),
    Output(OutputRef),
    Computed(Arc<crate::computed::Computed>),
}

impl<T> Input<T> {
    /// A value known now.
    pub fn value(value: T) -> Self {
        Input {
            inner: InputInner::Value(value),
        }
    }

    /// The value, if it is known now (not a reference).
    pub fn as_value(&self) -> Option<&T> {
        match &self.inner {
            InputInner::Value(v) => Some(v),
            InputInner::Output(_) | InputInner::Computed(_) => None,
        }
    }

    /// The referenced output, if this is a reference.
    pub fn as_output(&self) -> Option<&OutputRef> {
        match &self.inner {
            InputInner::Value(_) | InputInner::Computed(_) => None,
            InputInner::Output(r) => Some(r),
        }
    }

    /// A value computed by the program (see [`crate::computed`]).
    pub(crate) fn computed(c: Arc<crate::computed::Computed>) -> Self {
        Input {
            inner: InputInner::Computed(c),
        }
    }

    /// The computed value, if this is one (see [`Input::map`]).
    pub fn as_computed(&self) -> Option<&crate::computed::Computed> {
        match &self.inner {
            InputInner::Computed(c) => Some(c),
            _ => None,
        }
    }
}

impl<T: Default> Default for Input<T> {
    fn default() -> Self {
        Input::value(T::default())
    }
}

impl<T: fmt::Debug> fmt::Debug for Input<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            InputInner::Value(v) => v.fmt(f),
            InputInner::Output(r) => write!(f, "<output {}.{}>", r.resource, r.field),
            InputInner::Computed(c) => write!(f, "<computed at {}>", c.location()),
        }
    }
}

impl<T> From<T> for Input<T> {
    fn from(value: T) -> Self {
        Input::value(value)
    }
}

impl From<&str> for Input<String> {
    fn from(value: &str) -> Self {
        Input::value(value.to_owned())
    }
}

/// A reference serializes as `{"$ref": {..}}`, which
/// [`crate::Value::from_serialize`] turns into a [`crate::Value::Ref`].
impl<T: Serialize> Serialize for Input<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.inner {
            InputInner::Value(v) => v.serialize(serializer),
            InputInner::Output(r) => {
                use serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("$ref", r)?;
                map.end()
            }
            InputInner::Computed(c) => crate::computed::serialize(c, serializer),
        }
    }
}

/// Reads the value. Through the policy checker's reader (see
/// [`crate::policy`]), a reference reads back as the reference; every other
/// deserializer gives the newtype's content to `T`.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Input<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(
            crate::policy::typed::INPUT_TOKEN,
            InputVisitor(PhantomData),
        )
    }
}

struct InputVisitor<T>(PhantomData<fn() -> T>);

impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for InputVisitor<T> {
    type Value = Input<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an input value")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Input<T>, D::Error> {
        T::deserialize(d).map(Input::value)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Input<T>, A::Error> {
        match map.next_key::<String>()? {
            Some(k) if k == "$ref" => {
                let r: OutputRef = map.next_value()?;
                Ok(Input {
                    inner: InputInner::Output(r),
                })
            }
            _ => Err(serde::de::Error::custom("expected a reference")),
        }
    }
}

/// How long each provider call of one resource may take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    /// For `create`.
    pub create: Option<Duration>,
    /// For `update`.
    pub update: Option<Duration>,
    /// For `delete`.
    pub delete: Option<Duration>,
}

/// Options of one declaration, built fluently:
/// `Options::new().protect().depends_on(&vpc)`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// Explicit dependencies besides those the references imply.
    pub depends_on: Vec<String>,
    pub(crate) depends_on_stacks: Vec<String>,
    /// A plan that would delete or replace the resource is refused.
    pub protect: bool,
    /// Input fields whose changes are ignored after creation.
    pub ignore_changes: Vec<String>,
    /// Input fields whose change replaces the resource, besides those the
    /// resource type declares.
    pub replace_on_changes: Vec<String>,
    /// Replace by deleting the old object first (default: create the new one
    /// first, then delete the old).
    pub delete_before_replace: bool,
    /// Deleting the resource only forgets it; the object is left alone.
    pub retain_on_delete: bool,
    /// Adopt this existing object (by provider id) instead of creating one.
    pub import: Option<String>,
    /// Names this resource had before; a rename is not a replacement.
    pub aliases: Vec<String>,
    /// Per-call time limits.
    pub timeouts: Timeouts,
    /// The named instance of its package's provider that manages it (none:
    /// the package's default instance). See [`Providers::with_named`].
    ///
    /// [`Providers::with_named`]: crate::Providers::with_named
    pub provider: Option<String>,
    /// What takes a changed resource's new object into service (none:
    /// updated in place or replaced, as the provider says). See
    /// [`crate::handover`].
    #[serde(skip)]
    pub handover: Option<crate::handover::HandoverHook>,
    /// Policy rules whose violations by this resource are accepted (see
    /// [`crate::policy`]), each with a reason and an optional expiry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressions: Vec<crate::policy::Suppression>,
}

impl Options {
    /// No options.
    pub fn new() -> Self {
        Options::default()
    }

    /// Depends on `other` even without a reference to its outputs.
    pub fn depends_on(mut self, other: impl Into<ResourceRef>) -> Self {
        let r = other.into();
        self.depends_on.push(r.name().to_owned());
        self.depends_on_stacks.push(r.stack().to_owned());
        self
    }

    /// Refuse plans that would delete or replace this resource.
    pub fn protect(mut self) -> Self {
        self.protect = true;
        self
    }

    /// Ignore changes of these input fields after creation.
    pub fn ignore_changes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, fields: I) -> Self {
        self.ignore_changes
            .extend(fields.into_iter().map(Into::into));
        self
    }

    /// Replace the resource when one of these input fields changes.
    pub fn replace_on_changes<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        fields: I,
    ) -> Self {
        self.replace_on_changes
            .extend(fields.into_iter().map(Into::into));
        self
    }

    /// Replace by deleting first, then creating.
    pub fn delete_before_replace(mut self) -> Self {
        self.delete_before_replace = true;
        self
    }

    /// Leave the object in place when the resource is deleted.
    pub fn retain_on_delete(mut self) -> Self {
        self.retain_on_delete = true;
        self
    }

    /// Adopt the existing object with this provider id.
    pub fn import(mut self, id: impl Into<String>) -> Self {
        self.import = Some(id.into());
        self
    }

    /// Earlier names of this resource.
    pub fn aliases<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.aliases.extend(names.into_iter().map(Into::into));
        self
    }

    /// Replaces this resource beside the old object on every change of its
    /// inputs, and hands both objects to `hook` before the old one is
    /// deleted (or, if the hook declines, the new one). See
    /// [`crate::handover`].
    pub fn hand_over(mut self, hook: impl crate::handover::Handover + 'static) -> Self {
        self.handover = Some(crate::handover::HandoverHook::new(hook));
        self
    }

    /// Manages this resource through the provider instance registered as
    /// `name` (two AWS regions or accounts, two local roots) instead of its
    /// package's default one. The instance is recorded with the object, so
    /// a later run deletes or reads it through the same one; moving a
    /// resource to another instance replaces it.
    pub fn provider(mut self, name: impl Into<String>) -> Self {
        self.provider = Some(name.into());
        self
    }

    /// Accepts this resource's violations of one policy rule, for a reason
    /// and optionally until a day:
    /// `Options::new().suppress(Suppression::new("DAF-AWS-001", "bastion").until("2027-06-30"))`.
    /// Past that day the violation counts again.
    pub fn suppress(mut self, suppression: crate::policy::Suppression) -> Self {
        self.suppressions.push(suppression);
        self
    }

    /// Per-call time limits.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }
}

/// The package part of a type name: `aws` in `aws:ec2:Vpc`.
pub fn package_of(type_name: &str) -> &str {
    type_name.split(':').next().unwrap_or(type_name)
}
