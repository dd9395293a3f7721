//! [`File`] (`local:fs:File`): a file on this machine with given content.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    Create, CreateResult, Delete, Found, Made, Read, ReadResult, ResourceHandler, Update,
    UpdateResult,
};
use dafnck_core::ProviderError;
use sha2::{Digest, Sha256};

use super::directory::{check_mode, mode_of, set_mode};
use super::error::LocalError;
use super::record::remove_file_if_present;
use super::Local;

/// A file on this machine with given content, written atomically (a
/// temporary file renamed over it), with any missing parent directories.
///
/// - `path`: where; relative to the provider's work dir unless absolute.
///   Changing it replaces the file.
/// - `content`: what it holds; changed in place.
/// - `mode`: its permission bits (`Some(0o644)`), set in place; `None`
///   keeps the bits of the file it replaces (or the umask's for a new one)
///   and does not watch them.
///
/// # Drift
/// `read` reports the file deleted when no regular file is at its path,
/// `content` changed when its bytes differ, and `mode` changed when `mode`
/// is set and the permission bits differ.
///
/// ```
/// use dafnck_providers::local::File;
/// let conf = File { path: "app.conf".into(), content: "port = 8080\n".into(), mode: Some(0o600) };
/// # let _ = conf;
/// ```
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[resource(type = "local:fs:File", outputs = FileOutputs)]
pub struct File {
    /// Where; relative to the provider's work dir unless absolute. Changing
    /// it replaces the file.
    #[resource(force_new)]
    pub path: Input<String>,
    /// What it holds (UTF-8 text).
    pub content: Input<String>,
    /// Permission bits (`0o644`); `None` leaves them alone.
    pub mode: Option<u32>,
}

/// What a [`File`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct FileOutputs {
    /// Its absolute path (also its provider id).
    pub path: String,
    /// The SHA-256 of its content, in lowercase hex.
    pub sha256: String,
}

fn path_of(p: &Local, f: &File) -> Result<PathBuf, LocalError> {
    match f.path.as_value() {
        Some(path) if !path.is_empty() => Ok(p.resolve(path)),
        _ => Err(LocalError::Invalid {
            type_name: File::TYPE,
            message: "`path` must not be empty".into(),
        }),
    }
}

/// The lowercase hex SHA-256 of `bytes`.
pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `bytes` to `path` atomically: into a temporary file beside it,
/// synced, then renamed over it. `mode` sets the permission bits; `None`
/// keeps those of the file replaced.
pub(super) fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<(), LocalError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(LocalError::io(
            "write",
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "not a file path"),
        ));
    };
    let tmp = dir.join(format!(
        ".{}.dafnck-{}-{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let mode = mode.or_else(|| std::fs::metadata(path).ok().map(|m| mode_of(&m)));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| LocalError::io("create", &tmp, e))?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| LocalError::io("write", &tmp, e))?;
        if let Some(mode) = mode {
            set_mode(&tmp, mode)?;
        }
        std::fs::rename(&tmp, path).map_err(|e| LocalError::io("write", path, e))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn write(path: &Path, f: &File) -> Result<FileOutputs, LocalError> {
    check_mode(File::TYPE, f.mode)?;
    let content = f.content.as_value().map(String::as_str).unwrap_or_default();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| LocalError::io("create directory", dir, e))?;
    }
    if path.is_dir() {
        return Err(LocalError::io(
            "write",
            path,
            io::Error::new(io::ErrorKind::IsADirectory, "a directory is there"),
        ));
    }
    write_atomic(path, content.as_bytes(), f.mode)?;
    Ok(FileOutputs {
        path: path.to_string_lossy().into_owned(),
        sha256: sha256_hex(content.as_bytes()),
    })
}

/// Serves [`File`].
pub(super) struct FileHandler;

#[async_trait]
impl ResourceHandler for FileHandler {
    type Resource = File;
    type Context = Local;

    async fn create(&self, p: &Local, req: Create<File>) -> CreateResult<File> {
        let path = path_of(p, &req.inputs)?;
        let outputs = write(&path, &req.inputs)?;
        Ok(Made {
            id: path.to_string_lossy().into_owned(),
            outputs,
        })
    }

    async fn read(&self, p: &Local, req: Read<File>) -> ReadResult<File> {
        let f = req.recorded.decode()?;
        let path = match &req.id {
            Some(id) => p.resolve(id),
            None => path_of(p, &f)?,
        };
        let meta = match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => meta,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LocalError::io("read", path, e).into()),
        };
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LocalError::io("read", path, e).into()),
        };
        let path_text = path.to_string_lossy().into_owned();
        Ok(Some(Found {
            id: path_text.clone(),
            inputs: File {
                path: f.path,
                content: String::from_utf8_lossy(&bytes).into_owned().into(),
                mode: f.mode.map(|_| mode_of(&meta)),
            },
            outputs: FileOutputs {
                path: path_text,
                sha256: sha256_hex(&bytes),
            },
        }))
    }

    async fn update(&self, p: &Local, req: Update<File>) -> UpdateResult<File> {
        // The path never changes in place: the id is the file.
        Ok(write(&p.resolve(&req.id), &req.inputs)?)
    }

    async fn delete(&self, p: &Local, req: Delete<File>) -> Result<(), ProviderError> {
        Ok(remove_file_if_present(&p.resolve(&req.id))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn atomic_writes_keep_the_mode_and_leave_no_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.txt");
        write_atomic(&path, b"one", Some(0o640)).unwrap();
        write_atomic(&path, b"two", None).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(mode_of(&std::fs::metadata(&path).unwrap()), 0o640);
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.txt")]);
    }
}
