//! dafnck: infrastructure as code and progressive delivery as a Rust
//! library. This facade re-exports the engine ([`core`]), the providers and
//! the deployment strategies; most programs depend on `dafnck-core` and the
//! provider features they need directly.

pub use dafnck_core as core;
pub use dafnck_core::prelude;
pub use dafnck_providers as providers;
pub use dafnck_strategies as strategies;
