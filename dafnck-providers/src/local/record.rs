//! [`Records`]: what the provider keeps for objects it cannot read back
//! from the system (a command's stdout, a service's process id), one JSON
//! file per object under `<work dir>/.dafnck-local/<kind>/`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::LocalError;
use super::file::write_atomic;
use super::Local;

/// Held while a record directory is made and filled, or pruned: the
/// engine runs calls in parallel, and a delete pruning the directory must
/// not remove it under a create about to write into it.
static DIRS: Mutex<()> = Mutex::new(());

fn dirs_lock() -> std::sync::MutexGuard<'static, ()> {
    DIRS.lock().unwrap_or_else(|p| p.into_inner())
}

/// The records of one kind of object.
#[derive(Clone, Debug)]
pub(crate) struct Records {
    dir: PathBuf,
}

impl Records {
    /// The records of `kind` (`commands`, `services`) of provider `p`.
    pub(crate) fn new(p: &Local, kind: &str) -> Self {
        Records {
            dir: p.records_dir().join(kind),
        }
    }

    /// The directory that holds them.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `f` with the directory made, and not pruned until `f` returns:
    /// a file `f` creates in it keeps it from being pruned afterwards.
    pub(crate) fn in_dir<T>(
        &self,
        f: impl FnOnce(&Path) -> Result<T, LocalError>,
    ) -> Result<T, LocalError> {
        let _held = dirs_lock();
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| LocalError::io("create directory", &self.dir, e))?;
        f(&self.dir)
    }

    /// The record file of object `id`.
    pub(crate) fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// The record of `id`, if there is one.
    pub(crate) fn load<T: DeserializeOwned>(&self, id: &str) -> Result<Option<T>, LocalError> {
        let path = self.path(id);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LocalError::io("read", path, e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| LocalError::Record { path, source })
    }

    /// Writes the record of `id` atomically.
    pub(crate) fn save<T: Serialize>(&self, id: &str, record: &T) -> Result<(), LocalError> {
        let bytes = serde_json::to_vec_pretty(record).map_err(|source| LocalError::Record {
            path: self.path(id),
            source,
        })?;
        self.in_dir(|_| write_atomic(&self.path(id), &bytes, None))
    }

    /// Removes the record of `id` (fine if there is none), and the record
    /// directories once they are empty, so a destroyed stack leaves nothing.
    pub(crate) fn remove(&self, id: &str) -> Result<(), LocalError> {
        remove_file_if_present(&self.path(id))?;
        self.prune();
        Ok(())
    }

    /// Removes the record directories if they are empty.
    pub(crate) fn prune(&self) {
        let _held = dirs_lock();
        // Failing here only means other records (or other files) remain.
        let _ = std::fs::remove_dir(&self.dir);
        if let Some(parent) = self.dir.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

/// Removes a file, succeeding if it is already gone.
pub(crate) fn remove_file_if_present(path: &Path) -> Result<(), LocalError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LocalError::io("remove", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_leave_nothing_when_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let records = Records::new(&Local::new(tmp.path()), "commands");
        assert_eq!(records.load::<Vec<u32>>("a").unwrap(), None);
        records.save("a", &vec![1u32, 2]).unwrap();
        assert_eq!(records.load::<Vec<u32>>("a").unwrap(), Some(vec![1, 2]));
        records.remove("a").unwrap();
        records.remove("a").unwrap();
        assert!(!tmp.path().join(".dafnck-local").exists());
    }

    #[test]
    fn a_corrupt_record_is_an_error_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let records = Records::new(&Local::new(tmp.path()), "services");
        std::fs::create_dir_all(records.dir()).unwrap();
        std::fs::write(records.path("web"), "{").unwrap();
        let e = records.load::<Vec<u32>>("web").unwrap_err().to_string();
        assert!(e.contains("web.json"), "{e}");
    }
}
