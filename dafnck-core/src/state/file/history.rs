//! Versions in the file store: `<root>/<stack>/history/<N>.json` holds the
//! state version N left, and `history/index.jsonl` one line per version
//! (written after its state file, so every listed version can be read).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use super::{io_err, parse_snapshot, Inner, BACKEND};
use crate::state::{State, StateError, VersionInfo};

const INDEX: &str = "index.jsonl";

fn encode<T: serde::Serialize>(value: &T, what: &str) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec(value).map_err(|e| StateError::Backend {
        backend: BACKEND.into(),
        message: format!("cannot encode {what}: {e}"),
    })
}

pub(super) fn save(
    inner: &Inner,
    dir: &Path,
    info: &VersionInfo,
    state: &State,
) -> Result<(), StateError> {
    fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    if list(dir)?.iter().any(|v| v.version == info.version) {
        return Err(StateError::Backend {
            backend: BACKEND.into(),
            message: format!("{} already has version {}", dir.display(), info.version),
        });
    }
    let state_bytes = encode(state, "a version of the state")?;
    inner.write_atomic(
        &dir.join(format!("{}.json", info.version)),
        &state_bytes,
        true,
    )?;
    let mut line = encode(info, "a version's entry")?;
    line.push(b'\n');
    let index = dir.join(INDEX);
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&index)
        .map_err(io_err("open", &index))?;
    file.write_all(&line).map_err(io_err("append to", &index))?;
    inner.sync(&file, &index, true)
}

/// The versions listed, oldest first; a torn last line (a crash mid-append)
/// is left out, damage elsewhere is corruption.
pub(super) fn list(dir: &Path) -> Result<Vec<VersionInfo>, StateError> {
    let index = dir.join(INDEX);
    let text = match fs::read_to_string(&index) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("read", &index)(e)),
    };
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut versions = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str::<VersionInfo>(line) {
            Ok(v) => versions.push(v),
            Err(_) if i + 1 == lines.len() && !complete => break,
            Err(e) => {
                return Err(StateError::Corrupt {
                    location: format!("{}:{}", index.display(), i + 1),
                    message: format!("not a version entry: {e}"),
                })
            }
        }
    }
    Ok(versions)
}

pub(super) fn read(dir: &Path, version: u64) -> Result<Option<State>, StateError> {
    if !list(dir)?.iter().any(|v| v.version == version) {
        return Ok(None);
    }
    let path = dir.join(format!("{version}.json"));
    let bytes = fs::read(&path).map_err(io_err("read", &path))?;
    parse_snapshot(&bytes, &path).map(Some)
}
