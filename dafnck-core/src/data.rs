//! Data sources: objects a program looks up but does not own (Terraform's
//! `data` blocks) — an existing network by tag, the latest machine image,
//! a file's content.
//!
//! A data source type is a query struct that implements [`DataSource`]
//! (`#[derive(DataSource)]` with `#[data_source(type = "pkg:mod:Type",
//! outputs = TypeOutputs)]`, as resources derive `Resource`), with an
//! outputs struct like a resource's (`#[derive(Outputs)]`).
//! [`Stack::read`] declares a read and returns a [`DataHandle`] whose
//! [`DataHandle::out`] gives typed [`Input`](crate::Input)s, usable in any
//! resource's fields:
//!
//! ```
//! use dafnck_core::prelude::*;
//! use dafnck_core::testing::resources::{NetworkLookup, Subnet};
//!
//! fn app(stack: &mut Stack) -> dafnck_core::Result<()> {
//!     let tags = [("role".to_string(), "shared".to_string())].into();
//!     let net = stack.read("shared", NetworkLookup { tags });
//!     stack.add("a", Subnet {
//!         network_id: net.out().network_id,
//!         cidr: "10.0.1.0/24".into(),
//!         ..Default::default()
//!     });
//!     Ok(())
//! }
//! # fn main() {}
//! ```
//!
//! The engine reads every data source at `preview` and at `up` (see
//! [`crate::lookup`]) through its package's provider
//! ([`Provider::read_data`](crate::Provider::read_data)): the answer is
//! known when planning, shown in the plan's [`reads`](crate::Plan::reads),
//! and never recorded as an object of the stack, so never deleted. A query
//! must be known when planning: made of values, config, or other reads,
//! not of resources' outputs.
//!
//! An `up` whose steps all succeed records each read — its type, query and
//! answer, and since when the answer has been the same — in the state's
//! [`reads`](crate::state::State::reads) (see [`crate::state::reads`]); a
//! read the program no longer declares is dropped. A later preview shows
//! a read whose answer changed since (`image_id: "ami-1" -> "ami-2"`) and
//! the resources it changes because of it; `drift` reads the recorded
//! data sources again with their recorded queries; the history shows
//! read changes beside resource changes.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Diagnostic;
use crate::lookup::{AnswerRef, Lookup, Source};
use crate::resource::{Location, Outputs, ResourceRef};
use crate::stack::Stack;
use crate::value::Value;

/// A data source type: a query struct the program fills in.
pub trait DataSource: Serialize + Send + Sync + 'static {
    /// The type name, `package:module:Type`; the package selects the
    /// provider.
    const TYPE: &'static str;
    /// What the provider finds.
    type Outputs: Outputs + DeserializeOwned;
}

/// Input to [`Provider::read_data`](crate::Provider::read_data).
#[derive(Clone, Debug)]
pub struct DataRequest {
    /// The name the program gave the read.
    pub name: String,
    /// The stack's name.
    pub stack: String,
    /// The data source's type.
    pub type_name: String,
    /// The query, fully known.
    pub query: Value,
}

/// The result of declaring a read: its typed outputs with
/// [`DataHandle::out`].
pub struct DataHandle<D: DataSource> {
    r: ResourceRef,
    _type: PhantomData<fn() -> D>,
}

impl<D: DataSource> Clone for DataHandle<D> {
    fn clone(&self) -> Self {
        DataHandle {
            r: self.r.clone(),
            _type: PhantomData,
        }
    }
}

impl<D: DataSource> std::fmt::Debug for DataHandle<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataHandle({} {})", D::TYPE, self.r.name())
    }
}

impl<D: DataSource> DataHandle<D> {
    /// Typed references to what the read finds.
    pub fn out(&self) -> <D::Outputs as Outputs>::Refs {
        <D::Outputs as Outputs>::refs(&self.r)
    }

    /// The read's name in the program.
    pub fn name(&self) -> &str {
        self.r.name()
    }
}

impl Stack {
    /// Declares a read of the data source `query` under `name` (unique
    /// among the program's reads), through its package's default provider.
    #[track_caller]
    pub fn read<D: DataSource>(&mut self, name: &str, query: D) -> DataHandle<D> {
        self.read_at(name, query, None, Location::caller())
    }

    /// Like [`Stack::read`], through the provider instance registered as
    /// `provider` (see [`Options::provider`](crate::Options::provider)).
    #[track_caller]
    pub fn read_through<D: DataSource>(
        &mut self,
        name: &str,
        query: D,
        provider: &str,
    ) -> DataHandle<D> {
        self.read_at(name, query, Some(provider.to_owned()), Location::caller())
    }

    fn read_at<D: DataSource>(
        &mut self,
        name: &str,
        query: D,
        provider: Option<String>,
        location: Location,
    ) -> DataHandle<D> {
        let what: Arc<str> = format!("data source {name:?} ({})", D::TYPE).into();
        let query = match Value::from_serialize(&query) {
            Ok(v) => v,
            Err(e) => {
                self.problem(Diagnostic {
                    resource: Some(name.to_owned()),
                    location: Some(location.clone()),
                    message: format!("the query of {what} cannot be serialized: {e}"),
                });
                Value::Null
            }
        };
        let mut lookup = Lookup::new(
            Source::Data {
                name: name.to_owned(),
                type_name: D::TYPE,
                query,
                provider,
            },
            location.clone(),
        );
        lookup.check = Some(crate::lookup::type_check::<D::Outputs>());
        let answer = AnswerRef {
            answer: Arc::clone(&lookup.answer),
            what,
            location: location.clone(),
            read: name.into(),
        };
        if let Some(first) = self.data_read(name) {
            let first = first.clone();
            self.problem(Diagnostic {
                resource: Some(name.to_owned()),
                location: Some(location),
                message: format!("duplicate data source name {name:?} (first declared at {first})"),
            });
        } else {
            self.add_lookup(lookup);
        }
        DataHandle {
            r: ResourceRef::data(self.name(), name, D::TYPE, answer),
            _type: PhantomData,
        }
    }
}
