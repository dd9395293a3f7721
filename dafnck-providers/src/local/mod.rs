//! The `local` provider (package `local`): [`Directory`] and [`File`]
//! resources (`local:fs:*`), shell [`Command`]s run on create, update and
//! delete like Terraform's local-exec, and long-running [`Service`]s
//! (`local:exec:*`) started detached with an HTTP health check on
//! 127.0.0.1, alone or as a [`ServiceGroup`] of replicas; data sources
//! [`FileContent`] and [`DirectoryListing`] read files it does not own,
//! and [`CommandOutput`] runs a program to ask it something (no shell
//! unless asked). It makes real changes on this machine, so a quickstart
//! deploys something real with no cloud account. Relative paths are
//! relative to the provider's work dir, under which it also keeps what it
//! cannot read back from the system: `.dafnck-local/commands/` (each
//! command's outputs) and `.dafnck-local/services/` (each service's process
//! id and log).
//!
//! ```no_run
//! use dafnck_core::prelude::*;
//! use dafnck_providers::local::{self, File, Service};
//!
//! fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
//!     stack.add("index", File {
//!         path: "site/index.html".into(),
//!         content: "<h1>hello</h1>".into(),
//!         ..Default::default()
//!     });
//!     let web = stack.add("web", Service {
//!         name: "web".into(),
//!         command: "python3".into(),
//!         args: vec!["-m".into(), "http.server".into(), "8080".into(), "--bind".into(), "127.0.0.1".into()],
//!         dir: Some("site".into()),
//!         port: 8080,
//!         health_path: Some("/".into()),
//!         ..Default::default()
//!     });
//!     stack.export("url", web.out().url);
//!     Ok(())
//! }
//!
//! # async fn run() {
//! let providers = Providers::new().with(local::Provider::default());
//! # let _ = (providers, infra);
//! # }
//! ```

mod command;
pub mod command_output;
mod directory;
mod error;
mod file;
mod group;
pub mod http;
mod lookups;
pub mod policy;
mod process;
mod record;
mod service;

use std::path::{Path, PathBuf};

use dafnck_core::provider::kit::Kit;

pub use command::{Command, CommandOutputs, CommandOutputsRefs};
pub use command_output::{CommandOutput, CommandOutputOutputs, CommandOutputOutputsRefs};
pub use directory::{Directory, DirectoryOutputs, DirectoryOutputsRefs};
pub use file::{File, FileOutputs, FileOutputsRefs};
pub use group::{ServiceGroup, ServiceGroupOutputs, ServiceGroupOutputsRefs};
pub use lookups::{
    DirectoryListing, DirectoryListingOutputs, DirectoryListingOutputsRefs, FileContent,
    FileContentOutputs, FileContentOutputsRefs,
};
pub use service::{Service, ServiceOutputs, ServiceOutputsRefs};

/// The local provider: serves the `local:*` types on this machine.
///
/// Relative paths in resources are taken relative to its work dir, and it
/// keeps its records in `<work dir>/.dafnck-local/`.
///
/// ```
/// let provider = dafnck_providers::local::Provider::new("/srv/demo");
/// assert_eq!(provider.work_dir(), std::path::Path::new("/srv/demo"));
/// ```
#[derive(Clone, Debug)]
pub struct Provider {
    kit: Kit<Local>,
}

impl Default for Provider {
    /// A provider working in the current directory.
    fn default() -> Self {
        Provider::new(std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")))
    }
}

impl Provider {
    /// A provider working in `work_dir` (made absolute against the current
    /// directory if it is relative).
    pub fn new(work_dir: impl Into<PathBuf>) -> Self {
        let kit = Kit::new("local", Local::new(work_dir))
            .with(directory::DirectoryHandler)
            .with(file::FileHandler)
            .with(command::CommandHandler)
            .with(service::ServiceHandler)
            .with(group::ServiceGroupHandler)
            .with_data(lookups::FileContentHandler)
            .with_data(lookups::DirectoryListingHandler)
            .with_data(command_output::CommandOutputHandler);
        Provider { kit }
    }

    /// The directory relative paths are relative to.
    pub fn work_dir(&self) -> &Path {
        &self.kit.context().work_dir
    }
}

served_by_kit!(Provider);

/// What the local handlers share: the work dir.
#[derive(Clone, Debug)]
pub(crate) struct Local {
    work_dir: PathBuf,
}

impl Local {
    /// Working in `work_dir`, made absolute against the current directory.
    pub(crate) fn new(work_dir: impl Into<PathBuf>) -> Self {
        let work_dir = work_dir.into();
        let work_dir = std::path::absolute(&work_dir).unwrap_or(work_dir);
        Local { work_dir }
    }

    /// The directory relative paths are relative to.
    fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// `path` made absolute against the work dir.
    fn resolve(&self, path: &str) -> PathBuf {
        self.work_dir.join(path)
    }

    /// Where the provider keeps its records.
    fn records_dir(&self) -> PathBuf {
        self.work_dir.join(".dafnck-local")
    }
}

/// The last `lines` lines of `text`, trimmed.
fn tail(text: &str, lines: usize) -> String {
    let text = text.trim_end();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn _obj_safe(_: Box<dyn dafnck_core::Provider>) {}

    #[test]
    fn serves_its_five_types() {
        let p = Provider::new("demo");
        let mut types: Vec<&str> = p.kit.types().collect();
        types.sort_unstable();
        assert_eq!(
            types,
            [
                "local:exec:Command",
                "local:exec:Service",
                "local:exec:ServiceGroup",
                "local:fs:Directory",
                "local:fs:File"
            ]
        );
    }

    #[tokio::test]
    async fn other_types_are_refused_by_name() {
        let e = dafnck_core::Provider::delete(
            &Provider::new("demo"),
            dafnck_core::provider::DeleteRequest {
                name: "l".into(),
                stack: "dev".into(),
                type_name: "local:fs:Link".into(),
                id: "x".into(),
                inputs: dafnck_core::Value::Null,
                outputs: dafnck_core::Value::Null,
            },
        )
        .await
        .unwrap_err();
        assert!(e.message.contains("local:fs:Link"), "{}", e.message);
    }

    #[test]
    fn relative_work_dirs_become_absolute() {
        let p = Provider::new("demo");
        assert!(p.work_dir().is_absolute());
        assert!(p.work_dir().ends_with("demo"));
        assert_eq!(p.kit.context().resolve("/etc/x"), PathBuf::from("/etc/x"));
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
        assert_eq!(tail("", 5), "");
    }
}
