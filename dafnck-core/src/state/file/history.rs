//! Versions in the file store: `<root>/<stack>/history/<N>.json` holds the
//! state version N left (a unit of the [`envelope`] format), and
//! `history/index.jsonl` one line per version, `<crc32>\t<entry JSON>` as
//! the journal's (written after its state file, so every listed version
//! can be read). Lines of format 1, the entry alone, are still read.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use async_trait::async_trait;

use super::{
    check_stack, io_err, parse_snapshot, FileStore, Inner, Seen, BACKEND, HISTORY, SNAPSHOT,
};
use crate::state::{envelope, State, StateError, StateHistory, VersionInfo};

const INDEX: &str = "index.jsonl";

fn encode<T: serde::Serialize>(value: &T, what: &str) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec(value).map_err(|e| StateError::Backend {
        backend: BACKEND.into(),
        message: format!("cannot encode {what}: {e}"),
    })
}

/// Where a version's state comes from.
pub(super) enum Source<'a> {
    /// Encoded from the state.
    State(&'a State),
    /// Copied from a snapshot file that holds that state (whole, header
    /// and all: a snapshot and a version are the same kind of unit).
    Snapshot(&'a Path),
}

pub(super) fn save(
    inner: &Inner,
    dir: &Path,
    info: &VersionInfo,
    source: Source<'_>,
) -> Result<(), StateError> {
    fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    if list(dir)?.iter().any(|v| v.version == info.version) {
        return Err(StateError::Backend {
            backend: BACKEND.into(),
            message: format!("{} already has version {}", dir.display(), info.version),
        });
    }
    let path = dir.join(format!("{}.json", info.version));
    match source {
        Source::State(state) => {
            inner.write_unit_atomic(&path, envelope::Unit::State, |out| {
                envelope::write_state_body(state, false, out, BACKEND)
            })?;
        }
        Source::Snapshot(snapshot) => {
            inner.copy_atomic(snapshot, &path)?;
        }
    }
    let mut line = envelope::encode_line(&encode(info, "a version's entry")?);
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

/// The versions listed, oldest first. Any bad line is damage, a torn last
/// line too: a crash in the middle of appending one short line is far less
/// likely than a file cut short, and a version is never numbered again
/// over one that may exist.
pub(super) fn list(dir: &Path) -> Result<Vec<VersionInfo>, StateError> {
    let index = dir.join(INDEX);
    let bytes = match fs::read(&index) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("read", &index)(e)),
    };
    let text = String::from_utf8_lossy(&bytes);
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(StateError::Damaged {
            location: format!("{}:{}", index.display(), text.lines().count()),
            message: "the last line is cut short (no newline)".into(),
        });
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut versions = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let parsed = envelope::decode_line(line.as_bytes()).and_then(|json| {
            serde_json::from_slice::<VersionInfo>(json)
                .map_err(|e| format!("not a version entry: {e}"))
        });
        match parsed {
            Ok(v) => versions.push(v),
            Err(message) => {
                return Err(StateError::Damaged {
                    location: format!("{}:{}", index.display(), i + 1),
                    message,
                })
            }
        }
    }
    // A version file past the last listed version: the index lost lines
    // (cut short at a line's end, which no checksum can see), or a crash
    // came between writing that version and listing it. Either way the
    // next version must not be written over it.
    let last = versions.last().map_or(0, |v| v.version);
    if let Some(unlisted) = version_files(dir)?.into_iter().find(|&n| n > last) {
        return Err(StateError::Damaged {
            location: index.display().to_string(),
            message: format!(
                "it lists versions up to {last}, but {} exists: the index may have been cut short (restore it from a backup), or a run died between writing that version and listing it (then remove that file)",
                dir.join(format!("{unlisted}.json")).display()
            ),
        });
    }
    Ok(versions)
}

/// The numbers of the `<N>.json` files in `dir`.
fn version_files(dir: &Path) -> Result<Vec<u64>, StateError> {
    let entries = fs::read_dir(dir).map_err(io_err("list", dir))?;
    Ok(entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_suffix(".json")?.parse().ok()
        })
        .collect())
}

pub(super) fn read(dir: &Path, version: u64) -> Result<Option<State>, StateError> {
    if !list(dir)?.iter().any(|v| v.version == version) {
        return Ok(None);
    }
    let path = dir.join(format!("{version}.json"));
    let bytes = fs::read(&path).map_err(io_err("read", &path))?;
    parse_snapshot(&bytes, &path).map(Some)
}

/// Drops the listed versions but the newest: the index is written again
/// without them (atomically), then their state files are removed. A crash
/// between leaves state files the index does not list, below its last
/// version, which nothing reads.
pub(super) fn drop(inner: &Inner, dir: &Path, versions: &[u64]) -> Result<(), StateError> {
    let listed = list(dir)?;
    let drop = crate::state::droppable(&listed, versions);
    if drop.is_empty() {
        return Ok(());
    }
    let mut index = Vec::new();
    for v in listed.iter().filter(|v| !drop.contains(&v.version)) {
        index.extend(envelope::encode_line(&encode(v, "a version's entry")?));
        index.push(b'\n');
    }
    inner.write_atomic(&dir.join(INDEX), &index, true)?;
    for v in drop {
        let path = dir.join(format!("{v}.json"));
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("remove", &path)(e)),
        }
    }
    Ok(())
}

#[async_trait]
impl StateHistory for FileStore {
    async fn save_version(
        &self,
        stack: &str,
        info: &VersionInfo,
        state: &State,
    ) -> Result<(), StateError> {
        check_stack(stack)?;
        let dir = self.inner.root.join(stack).join(HISTORY);
        let (info, state) = (info.clone(), state.clone());
        self.blocking(move |inner| save(inner, &dir, &info, Source::State(&state)))
            .await
    }

    /// Copies the snapshot when this store compacted it at `state`'s serial
    /// and it is unchanged since (length and modification time), else
    /// encodes `state`.
    async fn save_compacted_version(
        &self,
        stack: &str,
        info: &VersionInfo,
        state: &State,
    ) -> Result<(), StateError> {
        check_stack(stack)?;
        let stack_dir = self.inner.root.join(stack);
        let (info, state, stack) = (info.clone(), state.clone(), stack.to_owned());
        self.blocking(move |inner| {
            let dir = stack_dir.join(HISTORY);
            let snapshot = stack_dir.join(SNAPSHOT);
            let compacted = inner.stats().get(&stack).and_then(|s| s.compacted);
            let unchanged = fs::metadata(&snapshot).ok().map(|m| Seen::of(&m));
            let source = match (compacted, unchanged) {
                (Some((serial, seen)), Some(now)) if serial == state.serial && seen == now => {
                    Source::Snapshot(&snapshot)
                }
                _ => Source::State(&state),
            };
            save(inner, &dir, &info, source)
        })
        .await
    }

    async fn versions(&self, stack: &str) -> Result<Vec<VersionInfo>, StateError> {
        check_stack(stack)?;
        let dir = self.inner.root.join(stack).join(HISTORY);
        self.blocking(move |_| list(&dir)).await
    }

    async fn read_version(&self, stack: &str, version: u64) -> Result<Option<State>, StateError> {
        check_stack(stack)?;
        let dir = self.inner.root.join(stack).join(HISTORY);
        self.blocking(move |_| read(&dir, version)).await
    }

    async fn drop_versions(&self, stack: &str, versions: &[u64]) -> Result<(), StateError> {
        check_stack(stack)?;
        let dir = self.inner.root.join(stack).join(HISTORY);
        let versions = versions.to_vec();
        self.blocking(move |inner| drop(inner, &dir, &versions))
            .await
    }
}
