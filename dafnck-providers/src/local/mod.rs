//! The `local` provider (package `local`): [`Directory`] and [`File`]
//! resources (`local:fs:*`), shell [`Command`]s run on create, update and
//! delete like Terraform's local-exec, and long-running [`Service`]s
//! (`local:exec:*`) started detached with an HTTP health check on
//! 127.0.0.1, alone or as a [`ServiceGroup`] of replicas. It makes real changes on this machine, so a quickstart
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
mod directory;
mod error;
mod file;
mod group;
pub mod http;
mod process;
mod record;
mod service;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use dafnck_core::provider::{
    CreateRequest, Created, DeleteRequest, Observed, ProviderError, ReadRequest, UpdateRequest,
};
use dafnck_core::{Resource, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use command::{Command, CommandOutputs, CommandOutputsRefs};
pub use directory::{Directory, DirectoryOutputs, DirectoryOutputsRefs};
pub use file::{File, FileOutputs, FileOutputsRefs};
pub use group::{ServiceGroup, ServiceGroupOutputs, ServiceGroupOutputsRefs};
pub use service::{Service, ServiceOutputs, ServiceOutputsRefs};

use error::LocalError;

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
    work_dir: PathBuf,
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
        let work_dir = work_dir.into();
        let work_dir = std::path::absolute(&work_dir).unwrap_or(work_dir);
        Provider { work_dir }
    }

    /// The directory relative paths are relative to.
    pub fn work_dir(&self) -> &Path {
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

/// The types this provider serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Directory,
    File,
    Command,
    Service,
    ServiceGroup,
}

impl Kind {
    fn of(type_name: &str) -> Result<Kind, LocalError> {
        [
            (Directory::TYPE, Kind::Directory),
            (File::TYPE, Kind::File),
            (Command::TYPE, Kind::Command),
            (Service::TYPE, Kind::Service),
            (ServiceGroup::TYPE, Kind::ServiceGroup),
        ]
        .into_iter()
        .find(|(t, _)| *t == type_name)
        .map(|(_, k)| k)
        .ok_or_else(|| LocalError::UnknownType(type_name.to_owned()))
    }
}

/// Reads a resource's inputs into its typed struct.
fn inputs_of<R: Resource + DeserializeOwned>(inputs: &Value) -> Result<R, LocalError> {
    inputs
        .deserialize_into::<R>()
        .map_err(|e| LocalError::Invalid {
            type_name: R::TYPE,
            message: e.to_string(),
        })
}

/// A typed value as the engine's [`Value`].
fn value_of<T: Serialize>(value: &T) -> Value {
    // Every type passed here is plain data whose serialization cannot fail.
    Value::from_serialize(value).unwrap_or(Value::Null)
}

/// The last `lines` lines of `text`, trimmed.
fn tail(text: &str, lines: usize) -> String {
    let text = text.trim_end();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[async_trait]
impl dafnck_core::Provider for Provider {
    fn package(&self) -> &str {
        "local"
    }

    async fn create(&self, req: CreateRequest) -> Result<Created, ProviderError> {
        let created = match Kind::of(&req.type_name)? {
            Kind::Directory => directory::create(self, &req),
            Kind::File => file::create(self, &req),
            Kind::Command => command::create(self, &req).await,
            Kind::Service => service::create(self, &req).await,
            Kind::ServiceGroup => group::create(self, &req).await,
        };
        Ok(created?)
    }

    async fn read(&self, req: ReadRequest) -> Result<Option<Observed>, ProviderError> {
        let observed = match Kind::of(&req.type_name)? {
            Kind::Directory => directory::read(self, &req),
            Kind::File => file::read(self, &req),
            Kind::Command => command::read(self, &req),
            Kind::Service => service::read(self, &req),
            Kind::ServiceGroup => group::read(self, &req),
        };
        Ok(observed?)
    }

    async fn update(&self, req: UpdateRequest) -> Result<Value, ProviderError> {
        let outputs = match Kind::of(&req.type_name)? {
            Kind::Directory => directory::update(self, &req),
            Kind::File => file::update(self, &req),
            Kind::Command => command::update(self, &req).await,
            Kind::Service => service::update(self, &req).await,
            Kind::ServiceGroup => group::update(self, &req).await,
        };
        Ok(outputs?)
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError> {
        match Kind::of(&req.type_name)? {
            Kind::Directory => directory::delete(self, &req),
            Kind::File => file::delete(self, &req),
            Kind::Command => command::delete(self, &req).await,
            Kind::Service => service::delete(self, &req).await,
            Kind::ServiceGroup => group::delete(self, &req).await,
        }?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn _obj_safe(_: Box<dyn dafnck_core::Provider>) {}

    #[test]
    fn serves_its_four_types_only() {
        assert_eq!(Kind::of("local:fs:File").unwrap(), Kind::File);
        assert_eq!(Kind::of("local:exec:Service").unwrap(), Kind::Service);
        let e = ProviderError::from(Kind::of("local:fs:Link").unwrap_err());
        assert!(e.message.contains("local:fs:Link"), "{}", e.message);
    }

    #[test]
    fn relative_work_dirs_become_absolute() {
        let p = Provider::new("demo");
        assert!(p.work_dir().is_absolute());
        assert!(p.work_dir().ends_with("demo"));
        assert_eq!(p.resolve("/etc/x"), PathBuf::from("/etc/x"));
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
        assert_eq!(tail("", 5), "");
    }
}
