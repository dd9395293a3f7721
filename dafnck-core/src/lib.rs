//! dafnck's engine: typed resources, the dependency planner, drift
//! detection, the journaled parallel executor, state stores and a testing
//! kit. It depends on no cloud SDK; providers live in `dafnck-providers`.
//!
//! A program declares resources in a [`Stack`], the [`planner`] diffs them
//! against the recorded [`state`] into a [`Plan`], and [`apply`] carries the
//! plan out through [`Provider`]s, journaling every step.
//!
//! # Features
//!
//! - `cli` (default): the `cli` module, the command line every program gets (clap,
//!   indicatif, tracing-subscriber). Without it the crate is the engine
//!   alone: a program that drives [`engine::Engine`] itself builds with
//!   `default-features = false` and none of those dependencies.
//! - `mock`: `testing::MockProvider`, a mockall mock of [`Provider`].

// The derive macros generate `::dafnck_core::...` paths; this lets them work
// inside this crate's own tests and doc examples too.
extern crate self as dafnck_core;

pub mod apply;
#[cfg(feature = "cli")]
pub mod cli;
pub mod component;
pub mod computed;
mod config;
#[cfg(feature = "cli")]
mod config_file;
pub mod cost;
pub mod data;
pub mod declare;
pub mod deploy;
pub mod dora;
pub mod drift;
pub mod engine;
mod error;
pub mod graph;
pub mod handover;
pub mod lookup;
mod name;
pub mod plan;
pub mod planner;
pub mod policy;
pub mod provider;
pub mod pulumi;
pub mod recover;
pub mod reference;
mod render;
pub mod report;
pub mod resource;
pub mod saved_plan;
mod secret;
pub mod stack;
pub mod state;
pub mod terraform;
pub mod testing;
mod value;
mod value_serde;

pub use data::{DataHandle, DataSource};
pub use declare::Declare;
pub use error::{Diagnostic, Error, Result};
pub use name::Name;
pub use plan::{Action, Change, Plan};
pub use provider::{Provider, ProviderError, Providers};
pub use reference::StackReference;
pub use resource::{Handle, Input, Location, Options, Outputs, Resource, ResourceRef, Timeouts};
pub use secret::Secret;
pub use stack::Stack;
pub use value::{OutputRef, Value, ValueMap};

/// What a program usually needs: `use dafnck_core::prelude::*;`.
pub mod prelude {
    pub use crate::component::ComponentOptions;
    pub use crate::{
        DataHandle, DataSource, Declare, Handle, Input, Options, Outputs, Plan, Providers,
        Resource, Secret, Stack, StackReference, Timeouts,
    };
    pub use dafnck_derive::{DataSource, Declare, Outputs, Resource};
    pub use serde::{Deserialize, Serialize};
}
