//! Replacing a file of the store whole: a temporary file, fsynced,
//! renamed over it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};

use super::{io_err, parent_dir, Inner, BACKEND};
use crate::state::{envelope, StateError};

impl Inner {
    /// Replaces `path` with `bytes`: a temporary file, fsynced, renamed over
    /// it; the directory is fsynced too when `durable_rename`.
    pub(super) fn write_atomic(
        &self,
        path: &Path,
        bytes: &[u8],
        durable_rename: bool,
    ) -> Result<(), StateError> {
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        let mut file = File::create(&tmp).map_err(io_err("create", &tmp))?;
        file.write_all(bytes).map_err(io_err("write", &tmp))?;
        self.sync(&file, &tmp, false)?;
        drop(file);
        fs::rename(&tmp, path).map_err(io_err("rename", path))?;
        if durable_rename {
            self.sync_dir(parent_dir(path))?;
        }
        Ok(())
    }

    /// Replaces `path` durably (as [`Inner::write_atomic`]) with a unit of
    /// `kind` whose body `body` writes, without holding the unit in
    /// memory: the body goes to an unnamed scratch file as it is encoded,
    /// summed on the way, then the header and the body (copied by the
    /// kernel) to the temporary file renamed over `path`. Returns the
    /// bytes written.
    pub(super) fn write_unit_atomic(
        &self,
        path: &Path,
        kind: envelope::Unit,
        body: impl FnOnce(&mut dyn Write) -> Result<(), StateError>,
    ) -> Result<usize, StateError> {
        let named = |suffix: &str| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        };
        let (tmp, scratch_path) = (named(".tmp"), named(".body.tmp"));
        let mut scratch = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&scratch_path)
            .map_err(io_err("create", &scratch_path))?;
        // Unnamed at once where the system allows it: nothing is left
        // behind by a crash (else it is removed below).
        let unlinked = fs::remove_file(&scratch_path).is_ok();
        let summed = (|| {
            let mut out = envelope::Summing::new(io::BufWriter::with_capacity(1 << 16, &scratch));
            body(&mut out)?;
            let (buffered, crc, len) = out.finish();
            buffered
                .into_inner()
                .map_err(|e| io_err("write", &scratch_path)(e.into_error()))?;
            Ok::<_, StateError>((crc, len))
        })();
        let written = summed.and_then(|(crc, len)| {
            let header = envelope::header_of(kind, crc, len);
            scratch
                .seek(io::SeekFrom::Start(0))
                .map_err(io_err("seek", &scratch_path))?;
            let mut file = File::create(&tmp).map_err(io_err("create", &tmp))?;
            file.write_all(header.as_bytes())
                .map_err(io_err("write", &tmp))?;
            let copied = io::copy(&mut scratch, &mut file).map_err(io_err("write", &tmp))?;
            if copied != len as u64 {
                return Err(StateError::Backend {
                    backend: BACKEND.into(),
                    message: format!(
                        "{}: copied {copied} bytes of a {len}-byte body",
                        tmp.display()
                    ),
                });
            }
            self.sync(&file, &tmp, false)?;
            Ok(header.len() + len)
        });
        drop(scratch);
        if !unlinked {
            let _ = fs::remove_file(&scratch_path);
        }
        let written = written?;
        fs::rename(&tmp, path).map_err(io_err("rename", path))?;
        self.sync_dir(parent_dir(path))?;
        Ok(written)
    }

    /// Replaces `path` durably (as [`Inner::write_atomic`]) with a copy of
    /// the file `from` (copied by the kernel where it can); returns the
    /// bytes copied.
    pub(super) fn copy_atomic(&self, from: &Path, path: &Path) -> Result<u64, StateError> {
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        let mut source = File::open(from).map_err(io_err("open", from))?;
        let mut file = File::create(&tmp).map_err(io_err("create", &tmp))?;
        let copied = io::copy(&mut source, &mut file).map_err(io_err("write", &tmp))?;
        self.sync(&file, &tmp, false)?;
        drop(file);
        fs::rename(&tmp, path).map_err(io_err("rename", path))?;
        self.sync_dir(parent_dir(path))?;
        Ok(copied)
    }
}
