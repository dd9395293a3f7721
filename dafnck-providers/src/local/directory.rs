//! [`Directory`] (`local:fs:Directory`): a directory on this machine.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use dafnck_core::prelude::*;
use dafnck_core::provider::kit::{
    Create, CreateResult, Delete, Found, Made, Read, ReadResult, ResourceHandler, Update,
    UpdateResult,
};
use dafnck_core::ProviderError;

use super::error::LocalError;
use super::Local;

/// A directory on this machine, created with any missing parents.
///
/// - `path`: where; relative to the provider's work dir unless absolute.
///   Changing it replaces the directory.
/// - `mode`: its permission bits (`Some(0o755)`), set in place; `None`
///   leaves them as the umask makes them and does not watch them.
///
/// # Drift
/// `read` reports the directory deleted when nothing (or something other
/// than a directory) is at its path, and reports `mode` changed when `mode`
/// is set and the permission bits differ.
///
/// # Caveats
/// Deleting removes the directory only when it is empty, so it never
/// deletes files the program does not manage: make [`File`](super::File)
/// resources inside it depend on it (`Options::depends_on`) so they are
/// deleted first. Parents it created are left in place.
///
/// ```
/// use dafnck_providers::local::Directory;
/// let site = Directory { path: "site".into(), mode: Some(0o755) };
/// # let _ = site;
/// ```
#[derive(Resource, Serialize, Deserialize, Clone, Debug, Default)]
#[resource(type = "local:fs:Directory", outputs = DirectoryOutputs)]
pub struct Directory {
    /// Where; relative to the provider's work dir unless absolute.
    /// Changing it replaces the directory.
    #[resource(force_new)]
    pub path: Input<String>,
    /// Permission bits (`0o755`); `None` leaves them alone.
    pub mode: Option<u32>,
}

/// What a [`Directory`] reports.
#[derive(Outputs, Serialize, Deserialize, Clone, Debug, Default)]
pub struct DirectoryOutputs {
    /// Its absolute path (also its provider id).
    pub path: String,
}

fn path_of(p: &Local, d: &Directory) -> Result<PathBuf, LocalError> {
    match d.path.as_value() {
        Some(path) if !path.is_empty() => Ok(p.resolve(path)),
        _ => Err(LocalError::Invalid {
            type_name: Directory::TYPE,
            message: "`path` must not be empty".into(),
        }),
    }
}

/// Checks a `mode` input: permission bits only.
pub(super) fn check_mode(type_name: &'static str, mode: Option<u32>) -> Result<(), LocalError> {
    match mode {
        Some(m) if m > 0o7777 => Err(LocalError::Invalid {
            type_name,
            message: format!("`mode` {m:#o} is not a permission mode (at most 0o7777)"),
        }),
        _ => Ok(()),
    }
}

/// Sets the permission bits of `path`.
pub(super) fn set_mode(path: &Path, mode: u32) -> Result<(), LocalError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| LocalError::io("set the mode of", path, e))
}

/// The permission bits of a file's metadata.
pub(super) fn mode_of(meta: &std::fs::Metadata) -> u32 {
    meta.permissions().mode() & 0o7777
}

fn ensure(path: &Path, mode: Option<u32>) -> Result<DirectoryOutputs, LocalError> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_dir() => {
            return Err(LocalError::io(
                "create directory",
                path,
                io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "something other than a directory is there",
                ),
            ))
        }
        _ => std::fs::create_dir_all(path)
            .map_err(|e| LocalError::io("create directory", path, e))?,
    }
    if let Some(mode) = mode {
        set_mode(path, mode)?;
    }
    Ok(DirectoryOutputs {
        path: path.to_string_lossy().into_owned(),
    })
}

/// Serves [`Directory`].
pub(super) struct DirectoryHandler;

#[async_trait]
impl ResourceHandler for DirectoryHandler {
    type Resource = Directory;
    type Context = Local;

    async fn create(&self, p: &Local, req: Create<Directory>) -> CreateResult<Directory> {
        let d = req.inputs;
        check_mode(Directory::TYPE, d.mode)?;
        let path = path_of(p, &d)?;
        let outputs = ensure(&path, d.mode)?;
        Ok(Made {
            id: path.to_string_lossy().into_owned(),
            outputs,
        })
    }

    async fn read(&self, p: &Local, req: Read<Directory>) -> ReadResult<Directory> {
        let d = req.recorded.decode()?;
        let path = match &req.id {
            Some(id) => p.resolve(id),
            None => path_of(p, &d)?,
        };
        let meta = match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => meta,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LocalError::io("read", path, e).into()),
        };
        let path = path.to_string_lossy().into_owned();
        Ok(Some(Found {
            id: path.clone(),
            inputs: Directory {
                mode: d.mode.map(|_| mode_of(&meta)),
                ..d
            },
            outputs: DirectoryOutputs { path },
        }))
    }

    async fn update(&self, p: &Local, req: Update<Directory>) -> UpdateResult<Directory> {
        let d = req.inputs;
        check_mode(Directory::TYPE, d.mode)?;
        // The path never changes in place: the id is the directory (a
        // relative id, as an import may give, is relative to the work dir).
        Ok(ensure(&p.resolve(&req.id), d.mode)?)
    }

    async fn delete(&self, p: &Local, req: Delete<Directory>) -> Result<(), ProviderError> {
        let path = &p.resolve(&req.id);
        match std::fs::remove_dir(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => Err(LocalError::NotEmpty {
                path: path.to_path_buf(),
            }
            .into()),
            Err(e) => Err(LocalError::io("remove directory", path, e).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_above_permission_bits_are_refused() {
        assert!(check_mode(Directory::TYPE, Some(0o755)).is_ok());
        assert!(check_mode(Directory::TYPE, None).is_ok());
        let e = check_mode(Directory::TYPE, Some(0o100644)).unwrap_err();
        assert!(e.to_string().contains("0o100644"), "{e}");
    }

    #[test]
    fn path_is_the_only_replacing_field() {
        assert_eq!(Directory::force_new_fields(), &["path"]);
    }
}
