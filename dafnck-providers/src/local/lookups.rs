//! The local provider's data sources (see [`dafnck_core::data`]): a
//! file's content ([`FileContent`], `local:fs:FileContent`) and a
//! directory's entries ([`DirectoryListing`], `local:fs:DirectoryListing`)
//! — files the stack reads but does not own (made by hand, or by another
//! stack), read at every preview and up, never deleted. A program's output
//! is the third local data source, [`super::CommandOutput`].

use std::io;

use dafnck_core::prelude::*;
use dafnck_core::ProviderError;

use super::error::LocalError;
use super::file::sha256_hex;
use super::Local;

/// Looks up an existing file: its content and digest.
///
/// ```
/// use dafnck_core::prelude::*;
/// use dafnck_providers::local::{File, FileContent};
///
/// fn infra(stack: &mut Stack) -> dafnck_core::Result<()> {
///     let key = stack.read("key", FileContent { path: "/etc/ssh/ssh_host_ed25519_key.pub".into() });
///     stack.add("copy", File { path: "host.pub".into(), content: key.out().content, mode: None });
///     Ok(())
/// }
/// # fn main() {}
/// ```
#[derive(DataSource, Serialize, Deserialize, Clone, Debug, Default)]
#[data_source(type = "local:fs:FileContent", outputs = FileContentOutputs)]
pub struct FileContent {
    /// Where; relative to the provider's work dir unless absolute. Known
    /// when planning: a value, or another stack's export.
    pub path: Input<String>,
}

/// What a [`FileContent`] finds.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct FileContentOutputs {
    /// Its absolute path.
    pub path: String,
    /// Its content (UTF-8 text; bytes that are not are replaced).
    pub content: String,
    /// The SHA-256 of its bytes, in lowercase hex.
    pub sha256: String,
}

/// Looks up an existing directory: the names of its entries.
#[derive(DataSource, Serialize, Deserialize, Clone, Debug, Default)]
#[data_source(type = "local:fs:DirectoryListing", outputs = DirectoryListingOutputs)]
pub struct DirectoryListing {
    /// Where; relative to the provider's work dir unless absolute. Known
    /// when planning: a value, or another stack's export.
    pub path: Input<String>,
}

/// What a [`DirectoryListing`] finds.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct DirectoryListingOutputs {
    /// Its absolute path.
    pub path: String,
    /// The names of its entries, sorted.
    pub entries: Vec<String>,
}

/// The path of a query (which the engine resolved before asking).
fn query_path(p: &Local, path: &Input<String>) -> Result<std::path::PathBuf, ProviderError> {
    path.as_value()
        .map(|path| p.resolve(path))
        .ok_or_else(|| ProviderError::new("the path of a lookup must be known when planning"))
}

/// Finding nothing is an error naming the path.
fn not_found(what: &str, path: &std::path::Path) -> ProviderError {
    ProviderError::new(format!("no {what} at {}", path.display()))
}

data_handler!(FileContentHandler, FileContent, Local, |p, _, q| {
    let path = query_path(p, &q.path)?;
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_found("file", &path)),
        Err(e) => return Err(LocalError::io("read", path, e).into()),
    };
    Ok(FileContentOutputs {
        path: path.to_string_lossy().into_owned(),
        content: String::from_utf8_lossy(&bytes).into_owned(),
        sha256: sha256_hex(&bytes),
    })
});

data_handler!(
    DirectoryListingHandler,
    DirectoryListing,
    Local,
    |p, _, q| {
        let path = query_path(p, &q.path)?;
        let entries = match std::fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(not_found("directory", &path))
            }
            Err(e) => return Err(LocalError::io("list", path, e).into()),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| LocalError::io("list", path.clone(), e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(DirectoryListingOutputs {
            path: path.to_string_lossy().into_owned(),
            entries: names,
        })
    }
);
