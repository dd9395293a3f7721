//! Derive macros for dafnck resource types: `#[derive(Resource)]` for a
//! struct of inputs, `#[derive(DataSource)]` for a query a provider answers,
//! and `#[derive(Outputs)]` for the struct of outputs a provider reports,
//! which also generates typed references to each output.
//!
//! Use them through `dafnck_core::prelude`, which exports each derive under
//! the same name as the trait it implements (as serde does). Field names the
//! traits report are the *serialized* names: the derives read serde's
//! `rename`, `rename_all` and `skip` attributes to match what serde writes.

mod attrs;
mod declare;
mod outputs;
mod resource;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Implements `dafnck_core::Resource` for a struct with named fields, and
/// `dafnck_core::declare::Declare` (as `#[derive(Declare)]` does), so a
/// live object of the type can be written as its declaration: every
/// field's type must implement `Declare` too.
///
/// Container attributes (in one `#[resource(..)]` or spread over several):
///
/// - `type = "package:module:Type"` (required): the resource type name; the
///   package selects the provider. Checked to have three non-empty parts.
/// - `outputs = SomeOutputs` (required): the type of its outputs, which
///   implements `Outputs` (usually by `#[derive(Outputs)]`).
/// - `crate = "path::to::dafnck_core"` (optional, default `::dafnck_core`):
///   where the traits live, e.g. `crate = "crate"` inside `dafnck-core`.
///
/// Field attribute `#[resource(force_new)]`: a change of this field replaces
/// the resource instead of updating it. `force_new_fields()` lists such
/// fields by their serialized names (after `#[serde(rename = "..")]` or the
/// struct's `#[serde(rename_all = "..")]`); marking a field that serde skips
/// or flattens is an error.
///
/// Generic structs, tuple structs, unit structs and enums are rejected.
///
/// ```ignore
/// use dafnck_core::prelude::*;
///
/// #[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
/// #[serde(rename_all = "camelCase")]
/// #[resource(type = "example:net:Network", outputs = NetworkOutputs)]
/// pub struct Network {
///     /// Changing the range replaces the network.
///     #[resource(force_new)]
///     pub cidr_block: Input<String>,
///     /// Can be changed in place.
///     pub name: Input<String>,
/// }
///
/// assert_eq!(Network::TYPE, "example:net:Network");
/// assert_eq!(Network::force_new_fields(), &["cidrBlock"]);
/// ```
#[proc_macro_derive(Resource, attributes(resource, declare))]
pub fn derive_resource(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    resource::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements `dafnck_core::DataSource` for a struct with named fields (a
/// query a provider answers), with the same container attributes as
/// `#[derive(Resource)]` under `#[data_source(..)]`: `type` (required,
/// `package:module:Type`), `outputs` (required: what the query finds) and
/// `crate`.
///
/// ```ignore
/// use dafnck_core::prelude::*;
///
/// #[derive(DataSource, Serialize, Deserialize, Clone, Debug, Default)]
/// #[data_source(type = "example:net:NetworkLookup", outputs = NetworkOutputs)]
/// pub struct NetworkLookup {
///     /// The tags the network carries.
///     pub tags: std::collections::BTreeMap<String, String>,
/// }
///
/// assert_eq!(NetworkLookup::TYPE, "example:net:NetworkLookup");
/// ```
#[proc_macro_derive(DataSource, attributes(data_source))]
pub fn derive_data_source(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    resource::expand_data_source(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements `dafnck_core::Outputs` for a struct with named fields, and
/// generates `<Name>Refs`: a struct with the same visibility holding one
/// `Input<T>` per output field (same name and visibility), each a reference
/// to that output of one resource. `Handle::out()` returns it.
///
/// Each field of `<Name>Refs` keeps the output field's doc comment (or gets
/// a generated one). Fields with `#[serde(skip)]` are left out; names follow
/// `#[serde(rename)]` / `#[serde(rename_all)]`; `#[serde(flatten)]` is an
/// error. Generic structs, tuple structs, unit structs and enums are
/// rejected.
///
/// The only option is the container attribute
/// `#[outputs(crate = "path::to::dafnck_core")]` (default `::dafnck_core`).
///
/// ```ignore
/// use dafnck_core::prelude::*;
///
/// #[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
/// pub struct NetworkOutputs {
///     /// The network's id.
///     pub network_id: String,
///     /// The port it listens on.
///     pub port: u16,
/// }
///
/// // Generated:
/// // pub struct NetworkOutputsRefs {
/// //     /// The network's id.
/// //     pub network_id: Input<String>,
/// //     /// The port it listens on.
/// //     pub port: Input<u16>,
/// // }
/// let r = dafnck_core::ResourceRef::new("dev", "net", "example:net:Network");
/// let refs: NetworkOutputsRefs = NetworkOutputs::refs(&r);
/// assert_eq!(refs.network_id.as_output().unwrap().field, "network_id");
/// assert_eq!(NetworkOutputs::field_names(), &["network_id", "port"]);
/// ```
#[proc_macro_derive(Outputs, attributes(outputs))]
pub fn derive_outputs(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    outputs::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements `dafnck_core::declare::Declare` for a struct or an enum: the
/// value is written as the Rust expression that builds it (`Name { field:
/// .. }`, `Name(..)`, `Name::Variant { .. }`), each field writing itself, so
/// a live object can be printed as a declaration ready to paste. The type is
/// named by its bare name: the program `use`s it.
///
/// The only container option is `#[declare(crate = "path::to::dafnck_core")]`
/// (default `::dafnck_core`). A field of a type that cannot implement
/// `Declare` (one of another crate) but is serializable can be marked
/// `#[declare(json)]`: it is written as `serde_json::from_value(serde_json::json!(..)).unwrap()`.
///
/// ```ignore
/// use dafnck_core::prelude::*;
///
/// #[derive(Declare)]
/// enum Protocol { Tcp, Udp }
///
/// #[derive(Declare)]
/// struct Rule { port: u16, protocol: Protocol }
///
/// let code = dafnck_core::declare::Declaration::new()
///     .expression(&Rule { port: 22, protocol: Protocol::Tcp });
/// assert_eq!(code, "Rule {\n    port: 22,\n    protocol: Protocol::Tcp,\n}");
/// ```
#[proc_macro_derive(Declare, attributes(declare))]
pub fn derive_declare(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    declare::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
