//! dafnck: infrastructure as code and progressive delivery as a Rust
//! library. This facade re-exports the engine ([`core`]), the providers,
//! the state stores and the deployment strategies; most programs depend on
//! `dafnck-core` and the provider features they need directly.

pub use dafnck_core as core;
pub use dafnck_core::prelude;
pub use dafnck_providers as providers;
pub use dafnck_stores as stores;
pub use dafnck_strategies as strategies;

/// The command line of [`dafnck_core::cli`], with every state store this
/// package was built with registered: `--state postgres://...` works when
/// the `postgres` feature is on, `--state s3://...` when `s3` is,
/// `--state gs://...` when `gcs` is, `--state azblob://...` when `azblob`
/// is, and a scheme not built in is refused with the schemes it knows.
pub mod cli {
    pub use dafnck_core::cli::*;

    use dafnck_core::Stack;

    /// Like [`dafnck_core::cli::run`], with the state store backends of
    /// the enabled features (`postgres`, `s3`, `gcs`, `azblob`) registered.
    ///
    /// ```no_run
    /// # fn infra(_: &mut dafnck::core::Stack) -> dafnck::core::Result<()> { Ok(()) }
    /// #[tokio::main]
    /// async fn main() -> std::process::ExitCode {
    ///     dafnck::cli::run(infra)
    ///         .provider(dafnck::core::testing::FakeCloud::new())
    ///         .await
    /// }
    /// ```
    pub fn run<F>(program: F) -> Cli<F>
    where
        F: Fn(&mut Stack) -> dafnck_core::Result<()> + Send + Sync + 'static,
    {
        let cli = dafnck_core::cli::run(program);
        #[cfg(feature = "postgres")]
        let cli = cli.state_backend(dafnck_stores::postgres::backend());
        #[cfg(feature = "s3")]
        let cli = cli.state_backend(dafnck_stores::s3::backend());
        #[cfg(feature = "gcs")]
        let cli = cli.state_backend(dafnck_stores::gcs::backend());
        #[cfg(feature = "azblob")]
        let cli = cli.state_backend(dafnck_stores::azblob::backend());
        cli
    }
}

/// The guide under `docs/` and the README, compiled and run as doc tests
/// (`cargo test --doc`), so every Rust example in them builds against the
/// code it describes. Only built by rustdoc's test runner.
#[cfg(doctest)]
pub mod guide {
    #[doc = include_str!("../README.md")]
    pub struct Readme;
    #[doc = include_str!("../docs/programs.md")]
    pub struct Programs;
    #[doc = include_str!("../docs/cli.md")]
    pub struct Cli;
    #[doc = include_str!("../docs/embedding.md")]
    pub struct Embedding;
    #[doc = include_str!("../docs/engine.md")]
    pub struct Engine;
    #[doc = include_str!("../docs/state.md")]
    pub struct State;
    #[doc = include_str!("../docs/testing.md")]
    pub struct Testing;
    #[doc = include_str!("../docs/performance.md")]
    pub struct Performance;
    #[doc = include_str!("../docs/policy.md")]
    pub struct Policy;
    /// Uses the `local` provider.
    #[cfg(feature = "local")]
    #[doc = include_str!("../docs/providers.md")]
    pub struct Providers;
    /// Uses the `local` provider and nginx's router.
    #[cfg(feature = "local")]
    #[doc = include_str!("../docs/strategies.md")]
    pub struct Strategies;
    /// Uses the AWS provider and the ALB router.
    #[cfg(feature = "aws")]
    #[doc = include_str!("../docs/aws.md")]
    pub struct Aws;
    /// The GCP provider.
    #[cfg(feature = "gcp")]
    #[doc = include_str!("../docs/gcp.md")]
    pub struct Gcp;
    /// The Kubernetes provider.
    #[cfg(feature = "kubernetes")]
    #[doc = include_str!("../docs/kubernetes.md")]
    pub struct Kubernetes;
}
