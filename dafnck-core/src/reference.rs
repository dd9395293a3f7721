//! Stack references: a program reads another stack's exports as typed
//! [`Input`]s.
//!
//! ```
//! use dafnck_core::prelude::*;
//!
//! fn app(stack: &mut Stack) -> dafnck_core::Result<()> {
//!     let network = stack.reference("network");
//!     let vpc_id: Input<String> = network.output("vpc_id");
//!     let db_password: Input<String> = network.output("db_password"); // stays secret
//!     # let _ = (vpc_id, db_password);
//!     Ok(())
//! }
//! # fn main() {}
//! ```
//!
//! The referenced stack's state is read from this stack's store
//! ([`Stack::reference`]) or from another store by URL
//! ([`Stack::reference_in`], e.g. `s3://bucket/states` with the S3
//! backend registered), when the engine previews or applies — see
//! [`crate::lookup`] for the design. A secret export is a secret input
//! (redacted in plans, sealed in this stack's state); opening it needs
//! the key it was sealed with (the same `DAFNCK_PASSPHRASE`).
//!
//! Errors, each naming the program line: a stack referencing itself (at
//! [`Stack::reference`]), a referenced stack with no state, an export it
//! does not have, an export of another type than the program asks (at
//! [`StackReference::output`]).

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Diagnostic;
use crate::lookup::{self, Lookup, Source, Want};
use crate::resource::{Input, Location};
use crate::stack::Stack;
use crate::value::Value;

/// Another stack whose exports this program reads (see the
/// [module](self)).
#[derive(Clone, Debug)]
pub struct StackReference {
    stack: String,
    lookup: Lookup,
}

impl Stack {
    /// A reference to the exports of `stack`, kept in this stack's store.
    #[track_caller]
    pub fn reference(&mut self, stack: &str) -> StackReference {
        self.reference_at(stack, None, Location::caller())
    }

    /// A reference to the exports of `stack` kept in the store at `url`
    /// (any scheme the program's backends serve: `file://`, `postgres://`,
    /// `s3://`, ...).
    #[track_caller]
    pub fn reference_in(&mut self, stack: &str, url: &str) -> StackReference {
        self.reference_at(stack, Some(url.to_owned()), Location::caller())
    }

    fn reference_at(
        &mut self,
        stack: &str,
        store: Option<String>,
        location: Location,
    ) -> StackReference {
        let lookup = Lookup::new(
            Source::Stack {
                stack: stack.to_owned(),
                store: store.clone(),
            },
            location.clone(),
        );
        if stack == self.name() && store.is_none() {
            self.problem(Diagnostic {
                resource: None,
                location: Some(location),
                message: format!(
                    "stack {stack:?} references itself; use its resources' outputs directly"
                ),
            });
        } else if stack.is_empty() {
            self.problem(Diagnostic {
                resource: None,
                location: Some(location),
                message: "a stack reference needs a stack name".into(),
            });
        } else {
            self.add_lookup(lookup.clone());
        }
        StackReference {
            stack: stack.to_owned(),
            lookup,
        }
    }
}

impl StackReference {
    /// The referenced stack's name.
    pub fn name(&self) -> &str {
        &self.stack
    }

    /// The export `key` of the referenced stack, as a `T`: known when the
    /// engine plans, secret if the export is. A missing key, or a value
    /// that is not a `T`, is an error naming this line.
    #[track_caller]
    pub fn output<T: Serialize + DeserializeOwned + 'static>(&self, key: &str) -> Input<T> {
        let location = Location::caller();
        if let Ok(mut wants) = self.lookup.wants.lock() {
            wants.push(Want {
                key: key.to_owned(),
                location: location.clone(),
                check: lookup::type_check::<T>(),
            });
        }
        let (stack, wanted) = (self.stack.clone(), key.to_owned());
        lookup::input_over(
            &self.lookup.answer,
            format!("stack reference {:?}", self.stack),
            None,
            location,
            move |exports: &Value| {
                exports
                    .get(&wanted)
                    .cloned()
                    .ok_or_else(|| format!("stack {stack:?} has no export {wanted:?}"))
            },
        )
    }
}
