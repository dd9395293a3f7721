//! The typed calls a [`ResourceHandler`](super::ResourceHandler) answers,
//! and what it answers with: the engine's requests with their inputs
//! decoded into the resource's own structs, and recorded values decoded
//! only on demand.

use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::provider::ProviderError;
use crate::resource::Resource;
use crate::value::Value;

/// The outputs struct of resource type `R`.
pub type OutputsOf<R> = <R as Resource>::Outputs;

/// What [`ResourceHandler::create`](super::ResourceHandler::create) answers.
pub type CreateResult<R> = Result<Made<OutputsOf<R>>, ProviderError>;

/// What [`ResourceHandler::read`](super::ResourceHandler::read) answers.
pub type ReadResult<R> = Result<Option<Found<R, OutputsOf<R>>>, ProviderError>;

/// What [`ResourceHandler::read_many`](super::ResourceHandler::read_many)
/// answers: one answer per request, in order.
pub type ReadManyResult<R> = Result<Vec<Option<Found<R, OutputsOf<R>>>>, ProviderError>;

/// What [`ResourceHandler::update`](super::ResourceHandler::update) answers.
pub type UpdateResult<R> = Result<OutputsOf<R>, ProviderError>;

/// A value recorded in the state (inputs or outputs), decoded only when a
/// handler asks for it: a read after an import knows no inputs, and some
/// handlers can do without them.
pub struct Recorded<T> {
    value: Value,
    what: &'static str,
    type_name: &'static str,
    name: String,
    _type: PhantomData<fn() -> T>,
}

// By hand: derives would ask `T: Clone + Debug` of a value never held.
impl<T> Clone for Recorded<T> {
    fn clone(&self) -> Self {
        Recorded {
            value: self.value.clone(),
            what: self.what,
            type_name: self.type_name,
            name: self.name.clone(),
            _type: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Recorded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorded")
            .field("what", &self.what)
            .field("value", &self.value)
            .finish()
    }
}

impl<T: DeserializeOwned> Recorded<T> {
    pub(super) fn new(
        value: Value,
        what: &'static str,
        type_name: &'static str,
        name: &str,
    ) -> Self {
        Recorded {
            value,
            what,
            type_name,
            name: name.to_owned(),
            _type: PhantomData,
        }
    }

    /// The value, decoded.
    ///
    /// # Errors
    /// A non-retryable error naming the resource, its type and what does
    /// not decode.
    pub fn decode(&self) -> Result<T, ProviderError> {
        decode(&self.value, self.what, self.type_name, &self.name)
    }

    /// The value, decoded, or `T::default()` when it does not decode (none
    /// was recorded).
    pub fn decode_or_default(&self) -> T
    where
        T: Default,
    {
        self.decode().unwrap_or_default()
    }
}

pub(super) fn decode<T: DeserializeOwned>(
    value: &Value,
    what: &str,
    type_name: &str,
    name: &str,
) -> Result<T, ProviderError> {
    value
        .deserialize_into()
        .map_err(|e| ProviderError::new(format!("{type_name} {name:?}: invalid {what}: {e}")))
}

pub(super) fn encode<T: Serialize>(
    value: &T,
    what: &str,
    type_name: &str,
    name: &str,
) -> Result<Value, ProviderError> {
    Value::from_serialize(value)
        .map_err(|e| ProviderError::new(format!("{type_name} {name:?}: cannot encode {what}: {e}")))
}

/// A create call for one resource, its inputs decoded.
#[derive(Clone, Debug)]
pub struct Create<R> {
    /// The resource's name in its stack.
    pub name: String,
    /// The stack's name (providers tag objects with it).
    pub stack: String,
    /// The idempotency token: stamp it on the object so that a create whose
    /// answer was lost is found again by [`Read::token`].
    pub token: String,
    /// Resolved inputs.
    pub inputs: R,
}

/// A read call for one resource: by id, or — after a create whose answer
/// was lost — by the create's token.
#[derive(Clone, Debug)]
pub struct Read<R> {
    /// The resource's name in its stack.
    pub name: String,
    /// The stack's name.
    pub stack: String,
    /// The object's id, when known.
    pub id: Option<String>,
    /// The idempotency token of the create that may have made the object,
    /// when the id is not known.
    pub token: Option<String>,
    /// The inputs last recorded (or sent), for what cannot be read back.
    pub recorded: Recorded<R>,
}

/// An update call for one resource, its desired inputs decoded.
#[derive(Clone, Debug)]
pub struct Update<R: Resource> {
    /// The resource's name in its stack.
    pub name: String,
    /// The stack's name.
    pub stack: String,
    /// The object's id.
    pub id: String,
    /// Resolved desired inputs.
    pub inputs: R,
    /// Inputs recorded in the state.
    pub old_inputs: Recorded<R>,
    /// Outputs recorded in the state.
    pub old_outputs: Recorded<OutputsOf<R>>,
    /// The top-level input fields that differ.
    pub changed: Vec<String>,
}

/// A delete call for one resource.
#[derive(Clone, Debug)]
pub struct Delete<R: Resource> {
    /// The resource's name in its stack.
    pub name: String,
    /// The stack's name.
    pub stack: String,
    /// The object's id.
    pub id: String,
    /// Inputs recorded in the state.
    pub inputs: Recorded<R>,
    /// Outputs recorded in the state.
    pub outputs: Recorded<OutputsOf<R>>,
}

/// What a create made.
#[derive(Clone, Debug, PartialEq)]
pub struct Made<O> {
    /// The provider's id for the new object.
    pub id: String,
    /// Its outputs.
    pub outputs: O,
}

/// An object as a read found it.
#[derive(Clone, Debug, PartialEq)]
pub struct Found<R, O> {
    /// The object's id.
    pub id: String,
    /// Its inputs as found (compared with the recorded ones for drift).
    pub inputs: R,
    /// Its outputs.
    pub outputs: O,
}
