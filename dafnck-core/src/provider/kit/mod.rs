//! Typed resource handlers, and [`Kit`], which serves a set of them as one
//! [`Provider`].
//!
//! A provider author writes one [`ResourceHandler`] per resource type, over
//! the type's own input struct (the `#[derive(Resource)]` struct) and its
//! outputs struct, and registers it with one line. The kit finds the
//! handler by type name, decodes the engine's [`Value`]s into the typed
//! structs (an error names the resource and its type) and encodes the
//! answers back: no `Value` and no dispatch over type names in the
//! author's code.
//!
//! ```
//! use dafnck_core::prelude::*;
//! use dafnck_core::provider::kit::{Create, Delete, Found, Kit, Made, Read, ResourceHandler, Update};
//! use dafnck_core::ProviderError;
//!
//! #[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
//! #[resource(type = "acme:kv:Entry", outputs = EntryOutputs)]
//! pub struct Entry {
//!     pub value: Input<String>,
//! }
//!
//! #[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
//! pub struct EntryOutputs {
//!     pub key: String,
//! }
//!
//! /// Where the handlers keep their objects (a real provider: its clients).
//! #[derive(Default)]
//! pub struct Store(std::sync::Mutex<std::collections::BTreeMap<String, String>>);
//!
//! struct EntryHandler;
//!
//! #[async_trait::async_trait]
//! impl ResourceHandler for EntryHandler {
//!     type Resource = Entry;
//!     type Context = Store;
//!
//!     async fn create(&self, cx: &Store, req: Create<Entry>) -> Result<Made<EntryOutputs>, ProviderError> {
//!         let value = req.inputs.value.as_value().cloned().unwrap_or_default();
//!         cx.0.lock().unwrap().insert(req.token.clone(), value);
//!         Ok(Made { id: req.token.clone(), outputs: EntryOutputs { key: req.token } })
//!     }
//!
//!     async fn read(&self, cx: &Store, req: Read<Entry>) -> Result<Option<Found<Entry, EntryOutputs>>, ProviderError> {
//!         // The token is the id here, so a lost create is found by it.
//!         let Some(key) = req.id.clone().or(req.token.clone()) else { return Ok(None) };
//!         let value = cx.0.lock().unwrap().get(&key).cloned();
//!         Ok(value.map(|v| Found {
//!             id: key.clone(),
//!             inputs: Entry { value: v.into() },
//!             outputs: EntryOutputs { key },
//!         }))
//!     }
//!
//!     async fn update(&self, cx: &Store, req: Update<Entry>) -> Result<EntryOutputs, ProviderError> {
//!         let value = req.inputs.value.as_value().cloned().unwrap_or_default();
//!         cx.0.lock().unwrap().insert(req.id.clone(), value);
//!         Ok(EntryOutputs { key: req.id })
//!     }
//!
//!     async fn delete(&self, cx: &Store, req: Delete<Entry>) -> Result<(), ProviderError> {
//!         cx.0.lock().unwrap().remove(&req.id);
//!         Ok(())
//!     }
//! }
//!
//! let provider = Kit::new("acme", Store::default()).with(EntryHandler);
//! assert_eq!(provider.types().collect::<Vec<_>>(), vec!["acme:kv:Entry"]);
//! let providers = Providers::new().with(provider);
//! # let _ = providers;
//! ```

mod calls;
mod data;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{
    standard_diff, CreateRequest, Created, Declared, DeleteRequest, Diff, DiffRequest, Observed,
    Provider, ProviderError, ReadRequest, UpdateRequest,
};
use crate::declare::{Declaration, Declare};
use crate::resource::Resource;
use crate::state::CallKind;
use crate::value::Value;

use calls::{decode, encode};
pub use calls::{
    Create, CreateResult, Delete, Found, Made, OutputsOf, Read, ReadManyResult, ReadResult,
    Recorded, Update, UpdateResult,
};
pub use data::DataHandler;

/// The create / read / update / delete life cycle of one resource type,
/// typed: registered in a [`Kit`] with [`Kit::with`].
///
/// # Guarantees a handler gives (checked by
/// [`testing::conformance`](crate::testing::conformance()))
/// - `delete` of an object that is already gone succeeds.
/// - `read` answers `None` for an object that does not exist, and finds an
///   object by [`Read::token`] when [`Read::id`] is `None`.
/// - Errors set [`ProviderError::retryable`] only when a retry can help.
#[async_trait]
pub trait ResourceHandler: Send + Sync + 'static {
    /// The resource type's input struct.
    type Resource: Resource<Outputs: Serialize + DeserializeOwned + Send + Sync>
        + DeserializeOwned
        + Declare
        + Send;
    /// What every handler of a provider shares (clients, a work dir).
    type Context: Send + Sync + 'static;

    /// Compares recorded and desired inputs, as [`Provider::diff`]; the
    /// default is [`standard_diff`] with [`ResourceHandler::replace_conflict`].
    fn diff(&self, req: &DiffRequest<'_>) -> Diff {
        Diff {
            replace_conflict: self.replace_conflict(req),
            ..standard_diff(req)
        }
    }

    /// Why the object's replacement could not be created while the old one
    /// exists, if it could not ([`Diff::replace_conflict`]); the default is
    /// `None`.
    fn replace_conflict(&self, req: &DiffRequest<'_>) -> Option<String> {
        let _ = req;
        None
    }

    /// How long a `call` typically takes, as
    /// [`Provider::expected_duration`]; the default is `None` (no idea).
    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        let _ = call;
        None
    }

    /// Creates an object.
    async fn create(
        &self,
        cx: &Self::Context,
        req: Create<Self::Resource>,
    ) -> Result<Made<OutputsOf<Self::Resource>>, ProviderError>;

    /// Reads an object back (`None`: it does not exist).
    async fn read(
        &self,
        cx: &Self::Context,
        req: Read<Self::Resource>,
    ) -> Result<Option<Found<Self::Resource, OutputsOf<Self::Resource>>>, ProviderError>;

    /// Whether [`ResourceHandler::read_many`] reads many objects in one
    /// call, as [`Provider::reads_in_batches`]; the default is `false`.
    fn reads_in_batches(&self) -> bool {
        false
    }

    /// Reads many objects: one answer per request, in order, as
    /// [`Provider::read_many`]. Called only when
    /// [`reads_in_batches`](ResourceHandler::reads_in_batches) is `true`;
    /// the default reads them one by one.
    async fn read_many(
        &self,
        cx: &Self::Context,
        reqs: Vec<Read<Self::Resource>>,
    ) -> ReadManyResult<Self::Resource> {
        let mut found = Vec::with_capacity(reqs.len());
        for req in reqs {
            found.push(self.read(cx, req).await?);
        }
        Ok(found)
    }

    /// Updates an object in place; returns its new outputs.
    async fn update(
        &self,
        cx: &Self::Context,
        req: Update<Self::Resource>,
    ) -> Result<OutputsOf<Self::Resource>, ProviderError>;

    /// Deletes an object (succeeding if it is already gone).
    async fn delete(
        &self,
        cx: &Self::Context,
        req: Delete<Self::Resource>,
    ) -> Result<(), ProviderError>;
}

/// A handler behind the engine's untyped requests.
#[async_trait]
trait Untyped<C>: Send + Sync {
    fn diff(&self, req: &DiffRequest<'_>) -> Diff;
    fn expected_duration(&self, call: CallKind) -> Option<Duration>;
    async fn create(&self, cx: &C, req: CreateRequest) -> Result<Created, ProviderError>;
    async fn read(&self, cx: &C, req: ReadRequest) -> Result<Option<Observed>, ProviderError>;
    fn reads_in_batches(&self) -> bool;
    async fn read_many(
        &self,
        cx: &C,
        reqs: Vec<ReadRequest>,
    ) -> Result<Vec<Option<Observed>>, ProviderError>;
    async fn update(&self, cx: &C, req: UpdateRequest) -> Result<Value, ProviderError>;
    async fn delete(&self, cx: &C, req: DeleteRequest) -> Result<(), ProviderError>;
    fn declare(
        &self,
        observed: &Observed,
        out: &mut Declaration,
    ) -> Result<Declared, ProviderError>;
}

struct Typed<H>(H);

/// A read request for resource type `R`.
fn typed_read<R: Resource + DeserializeOwned>(req: ReadRequest) -> Read<R> {
    Read {
        recorded: Recorded::new(req.inputs, "inputs", R::TYPE, &req.name),
        name: req.name,
        stack: req.stack,
        id: req.id,
        token: req.token,
    }
}

/// What a read of resource `name` found, as the engine takes it.
fn observed<R: Resource>(f: Found<R, OutputsOf<R>>, name: &str) -> Result<Observed, ProviderError>
where
    OutputsOf<R>: Serialize,
{
    Ok(Observed {
        id: f.id,
        inputs: encode(&f.inputs, "inputs", R::TYPE, name)?,
        outputs: encode(&f.outputs, "outputs", R::TYPE, name)?,
    })
}

#[async_trait]
impl<H: ResourceHandler> Untyped<H::Context> for Typed<H> {
    fn diff(&self, req: &DiffRequest<'_>) -> Diff {
        self.0.diff(req)
    }

    fn expected_duration(&self, call: CallKind) -> Option<Duration> {
        self.0.expected_duration(call)
    }

    async fn create(&self, cx: &H::Context, req: CreateRequest) -> Result<Created, ProviderError> {
        let t = H::Resource::TYPE;
        let inputs = decode(&req.inputs, "inputs", t, &req.name)?;
        let name = req.name;
        let made = self
            .0
            .create(
                cx,
                Create {
                    name: name.clone(),
                    stack: req.stack,
                    token: req.token,
                    inputs,
                },
            )
            .await?;
        Ok(Created {
            id: made.id,
            outputs: encode(&made.outputs, "outputs", t, &name)?,
        })
    }

    async fn read(
        &self,
        cx: &H::Context,
        req: ReadRequest,
    ) -> Result<Option<Observed>, ProviderError> {
        let name = req.name.clone();
        let found = self.0.read(cx, typed_read(req)).await?;
        found.map(|f| observed(f, &name)).transpose()
    }

    fn reads_in_batches(&self) -> bool {
        self.0.reads_in_batches()
    }

    async fn read_many(
        &self,
        cx: &H::Context,
        reqs: Vec<ReadRequest>,
    ) -> Result<Vec<Option<Observed>>, ProviderError> {
        let names: Vec<String> = reqs.iter().map(|r| r.name.clone()).collect();
        let found = self
            .0
            .read_many(cx, reqs.into_iter().map(typed_read).collect())
            .await?;
        if found.len() != names.len() {
            return Err(ProviderError::new(format!(
                "{}: read_many answered {} objects for {} requests",
                H::Resource::TYPE,
                found.len(),
                names.len()
            )));
        }
        found
            .into_iter()
            .zip(&names)
            .map(|(f, name)| f.map(|f| observed(f, name)).transpose())
            .collect()
    }

    async fn update(&self, cx: &H::Context, req: UpdateRequest) -> Result<Value, ProviderError> {
        let t = H::Resource::TYPE;
        let inputs = decode(&req.new_inputs, "inputs", t, &req.name)?;
        let update = Update {
            old_inputs: Recorded::new(req.old_inputs, "inputs", t, &req.name),
            old_outputs: Recorded::new(req.old_outputs, "outputs", t, &req.name),
            name: req.name,
            stack: req.stack,
            id: req.id,
            inputs,
            changed: req.changed,
        };
        let name = update.name.clone();
        let outputs = self.0.update(cx, update).await?;
        encode(&outputs, "outputs", t, &name)
    }

    async fn delete(&self, cx: &H::Context, req: DeleteRequest) -> Result<(), ProviderError> {
        let t = H::Resource::TYPE;
        let delete = Delete {
            inputs: Recorded::new(req.inputs, "inputs", t, &req.name),
            outputs: Recorded::new(req.outputs, "outputs", t, &req.name),
            name: req.name,
            stack: req.stack,
            id: req.id,
        };
        self.0.delete(cx, delete).await
    }

    fn declare(
        &self,
        observed: &Observed,
        out: &mut Declaration,
    ) -> Result<Declared, ProviderError> {
        super::declared::<H::Resource>(observed, out)
    }
}

/// Where a provider's types are in Rust, for the programs it writes (see
/// [`Kit::declared_in`]).
#[derive(Clone, Copy)]
struct RustPaths {
    modules: fn(&str) -> Option<String>,
    provider: &'static str,
}

/// A [`Provider`] made of typed [`ResourceHandler`]s, one per type, which
/// share a context `C` (a provider's clients, its work dir).
///
/// Cheap to clone when `C` is: the handlers are shared.
pub struct Kit<C> {
    package: String,
    context: C,
    handlers: Arc<HashMap<&'static str, Arc<dyn Untyped<C>>>>,
    data: Arc<HashMap<&'static str, Arc<dyn data::UntypedData<C>>>>,
    rust: Option<RustPaths>,
}

impl<C: Clone> Clone for Kit<C> {
    fn clone(&self) -> Self {
        Kit {
            package: self.package.clone(),
            context: self.context.clone(),
            handlers: Arc::clone(&self.handlers),
            data: Arc::clone(&self.data),
            rust: self.rust,
        }
    }
}

impl<C: fmt::Debug> fmt::Debug for Kit<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut types: Vec<&str> = self.handlers.keys().copied().collect();
        types.sort_unstable();
        f.debug_struct("Kit")
            .field("package", &self.package)
            .field("context", &self.context)
            .field("types", &types)
            .finish()
    }
}

impl<C: Send + Sync + 'static> Kit<C> {
    /// A provider of `package` serving no type yet, its handlers sharing
    /// `context`.
    pub fn new(package: impl Into<String>, context: C) -> Self {
        Kit {
            package: package.into(),
            context,
            handlers: Arc::default(),
            data: Arc::default(),
            rust: None,
        }
    }

    /// Says where the served types are in Rust, for the declarations the
    /// kit writes ([`Provider::declare`]): `modules` maps the module a type
    /// is defined in (`module_path!()`) to the public one a program imports
    /// (see [`Declaration::qualify`]), and `provider` is the expression
    /// making the provider in a generated program's `main`. Without it,
    /// types are written by their bare names.
    pub fn declared_in(
        mut self,
        modules: fn(&str) -> Option<String>,
        provider: &'static str,
    ) -> Self {
        self.rust = Some(RustPaths { modules, provider });
        self
    }

    /// Serves the handler's resource type with it (replacing any handler
    /// of that type).
    pub fn with<H: ResourceHandler<Context = C>>(mut self, handler: H) -> Self {
        let handlers = Arc::make_mut(&mut self.handlers);
        handlers.insert(H::Resource::TYPE, Arc::new(Typed(handler)));
        self
    }

    /// The context the handlers share.
    pub fn context(&self) -> &C {
        &self.context
    }

    /// The context the handlers share, to change a setting.
    pub fn context_mut(&mut self) -> &mut C {
        &mut self.context
    }

    /// The types served, in no particular order.
    pub fn types(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.handlers.keys().copied()
    }

    fn handler(&self, type_name: &str) -> Result<&dyn Untyped<C>, ProviderError> {
        self.handlers.get(type_name).map(|h| &**h).ok_or_else(|| {
            ProviderError::new(format!(
                "the {} provider does not serve type {type_name:?}",
                self.package
            ))
        })
    }
}

#[async_trait]
impl<C: Send + Sync + 'static> Provider for Kit<C> {
    fn package(&self) -> &str {
        &self.package
    }

    /// The handler's diff; [`standard_diff`] for a type not served (the
    /// create will say so).
    fn diff(&self, req: &DiffRequest<'_>) -> Diff {
        match self.handler(req.type_name) {
            Ok(h) => h.diff(req),
            Err(_) => standard_diff(req),
        }
    }

    fn expected_duration(&self, type_name: &str, call: CallKind) -> Option<Duration> {
        self.handler(type_name).ok()?.expected_duration(call)
    }

    async fn create(&self, req: CreateRequest) -> Result<Created, ProviderError> {
        self.handler(&req.type_name)?
            .create(&self.context, req)
            .await
    }

    async fn read(&self, req: ReadRequest) -> Result<Option<Observed>, ProviderError> {
        self.handler(&req.type_name)?.read(&self.context, req).await
    }

    fn reads_in_batches(&self, type_name: &str) -> bool {
        self.handler(type_name).is_ok_and(|h| h.reads_in_batches())
    }

    /// The handler's `read_many`; the requests must be of one type.
    async fn read_many(
        &self,
        reqs: Vec<ReadRequest>,
    ) -> Result<Vec<Option<Observed>>, ProviderError> {
        let Some(first) = reqs.first() else {
            return Ok(Vec::new());
        };
        let type_name = first.type_name.clone();
        if let Some(other) = reqs.iter().find(|r| r.type_name != type_name) {
            return Err(ProviderError::new(format!(
                "read_many takes objects of one type, got {type_name:?} and {:?}",
                other.type_name
            )));
        }
        self.handler(&type_name)?
            .read_many(&self.context, reqs)
            .await
    }

    async fn update(&self, req: UpdateRequest) -> Result<Value, ProviderError> {
        self.handler(&req.type_name)?
            .update(&self.context, req)
            .await
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError> {
        self.handler(&req.type_name)?
            .delete(&self.context, req)
            .await
    }

    /// The handler's type, decoded from the inputs read and written with
    /// `#[derive(Declare)]`'s code, its types placed by
    /// [`Kit::declared_in`].
    fn declare(
        &self,
        type_name: &str,
        observed: &Observed,
        out: &mut Declaration,
    ) -> Result<Declared, ProviderError> {
        let handler = self.handler(type_name)?;
        out.qualify(self.rust.map(|r| r.modules));
        Ok(Declared {
            provider: self.rust.map(|r| r.provider),
            ..handler.declare(observed, out)?
        })
    }

    async fn read_data(&self, req: crate::data::DataRequest) -> Result<Value, ProviderError> {
        self.read_data_with(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::resources::{Network, NetworkId, NetworkOutputs};

    /// Keeps networks in a map; reports what it was given.
    struct Networks;

    #[async_trait]
    impl ResourceHandler for Networks {
        type Resource = Network;
        type Context = std::sync::Mutex<HashMap<String, Network>>;

        fn expected_duration(&self, call: CallKind) -> Option<Duration> {
            (call == CallKind::Create).then_some(Duration::from_secs(7))
        }

        fn reads_in_batches(&self) -> bool {
            true
        }

        async fn create(
            &self,
            cx: &Self::Context,
            req: Create<Network>,
        ) -> Result<Made<NetworkOutputs>, ProviderError> {
            cx.lock().unwrap().insert(req.token.clone(), req.inputs);
            Ok(Made {
                id: req.token.clone(),
                outputs: NetworkOutputs {
                    network_id: NetworkId(req.token),
                    arn: String::new(),
                },
            })
        }

        async fn read(
            &self,
            cx: &Self::Context,
            req: Read<Network>,
        ) -> Result<Option<Found<Network, NetworkOutputs>>, ProviderError> {
            let recorded = req.recorded.decode()?;
            let id = req.id.or(req.token).unwrap_or_default();
            Ok(cx.lock().unwrap().get(&id).map(|_| Found {
                id: id.clone(),
                inputs: recorded,
                outputs: NetworkOutputs {
                    network_id: NetworkId(id),
                    arn: String::new(),
                },
            }))
        }

        async fn update(
            &self,
            cx: &Self::Context,
            req: Update<Network>,
        ) -> Result<NetworkOutputs, ProviderError> {
            let old = req.old_outputs.decode()?;
            cx.lock().unwrap().insert(req.id, req.inputs);
            Ok(old)
        }

        async fn delete(
            &self,
            cx: &Self::Context,
            req: Delete<Network>,
        ) -> Result<(), ProviderError> {
            cx.lock().unwrap().remove(&req.id);
            Ok(())
        }
    }

    fn kit() -> Kit<std::sync::Mutex<HashMap<String, Network>>> {
        Kit::new("fake", Default::default()).with(Networks)
    }

    fn _obj_safe(_: Box<dyn Provider>) {}

    #[tokio::test]
    async fn dispatches_by_type_and_converts_values() {
        let kit = kit();
        let inputs = Value::from_serialize(&Network {
            cidr: "10.0.0.0/16".into(),
            ..Default::default()
        })
        .unwrap();
        let created = kit
            .create(CreateRequest {
                name: "net".into(),
                stack: "dev".into(),
                type_name: Network::TYPE.into(),
                inputs: inputs.clone(),
                token: "t1".into(),
            })
            .await
            .unwrap();
        assert_eq!(created.id, "t1");
        assert_eq!(created.outputs.get("network_id"), Some(&Value::from("t1")));
        let observed = kit
            .read(ReadRequest {
                name: "net".into(),
                stack: "dev".into(),
                type_name: Network::TYPE.into(),
                id: None,
                token: Some("t1".into()),
                inputs: inputs.clone(),
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(observed.inputs.get("cidr"), inputs.get("cidr"));
        assert_eq!(
            kit.expected_duration(Network::TYPE, CallKind::Create),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            kit.expected_duration("fake:net:Other", CallKind::Create),
            None
        );
    }

    #[tokio::test]
    async fn bad_inputs_and_unknown_types_are_named() {
        let kit = kit();
        let e = kit
            .create(CreateRequest {
                name: "net".into(),
                stack: "dev".into(),
                type_name: Network::TYPE.into(),
                inputs: Value::from("not a map"),
                token: "t1".into(),
            })
            .await
            .unwrap_err();
        assert!(!e.retryable);
        assert!(
            e.message
                .starts_with(&format!("{} \"net\": invalid inputs:", Network::TYPE)),
            "{}",
            e.message
        );
        let e = kit
            .delete(DeleteRequest {
                name: "x".into(),
                stack: "dev".into(),
                type_name: "fake:net:Router".into(),
                id: "r-1".into(),
                inputs: Value::Null,
                outputs: Value::Null,
            })
            .await
            .unwrap_err();
        assert_eq!(
            e.message,
            "the fake provider does not serve type \"fake:net:Router\""
        );
    }

    fn read_of(type_name: &str, token: &str) -> ReadRequest {
        ReadRequest {
            name: token.into(),
            stack: "dev".into(),
            type_name: type_name.into(),
            id: None,
            token: Some(token.into()),
            inputs: Value::from_serialize(&Network::default()).unwrap(),
        }
    }

    #[tokio::test]
    async fn many_reads_of_one_type_answer_in_order() {
        let kit = kit();
        assert!(kit.reads_in_batches(Network::TYPE));
        assert!(!kit.reads_in_batches("fake:net:Other"));
        kit.create(CreateRequest {
            name: "b".into(),
            stack: "dev".into(),
            type_name: Network::TYPE.into(),
            inputs: Value::from_serialize(&Network::default()).unwrap(),
            token: "b".into(),
        })
        .await
        .unwrap();
        let found = kit
            .read_many(vec![
                read_of(Network::TYPE, "a"),
                read_of(Network::TYPE, "b"),
            ])
            .await
            .unwrap();
        assert_eq!(found.len(), 2);
        assert!(found[0].is_none());
        assert_eq!(found[1].as_ref().unwrap().id, "b");
        let e = kit
            .read_many(vec![
                read_of(Network::TYPE, "a"),
                read_of("fake:net:Other", "b"),
            ])
            .await
            .unwrap_err();
        assert!(e.message.contains("one type"), "{}", e.message);
    }

    #[tokio::test]
    async fn recorded_outputs_decode_on_demand() {
        let kit = kit();
        let e = kit
            .update(UpdateRequest {
                name: "net".into(),
                stack: "dev".into(),
                type_name: Network::TYPE.into(),
                id: "t1".into(),
                old_inputs: Value::Null,
                new_inputs: Value::from_serialize(&Network::default()).unwrap(),
                old_outputs: Value::from(3),
                changed: vec![],
            })
            .await
            .unwrap_err();
        assert!(e.message.contains("invalid outputs"), "{}", e.message);
    }
}
