//! The file store's control channel: one small JSON file per message in
//! `<root>/<stack>/controls/`, written atomically and removed when taken.

use std::fs;
use std::path::Path;

use super::{io_err, Inner};
use crate::state::{Message, StateError};

/// Leaves `message` as `<topic, hex>.<at>.<random>.json`.
pub(super) fn send(inner: &Inner, dir: &Path, message: &Message) -> Result<(), StateError> {
    fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    let bytes = serde_json::to_vec(message).map_err(|e| StateError::Backend {
        backend: "file".into(),
        message: format!("cannot encode a control message: {e}"),
    })?;
    let name = format!(
        "{}.{:015}.{}.json",
        hex(&message.topic),
        message.at,
        crate::state::new_id()
    );
    inner.write_atomic(&dir.join(name), &bytes, true)
}

/// Takes the messages for `topic`, oldest first; unreadable files are
/// reported, not skipped.
pub(super) fn take(dir: &Path, topic: &str) -> Result<Vec<Message>, StateError> {
    let prefix = format!("{}.", hex(topic));
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("list", dir)(e)),
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(&prefix) && n.ends_with(".json"))
        .collect();
    names.sort();
    let mut taken = Vec::with_capacity(names.len());
    for name in names {
        let path = dir.join(&name);
        let bytes = fs::read(&path).map_err(io_err("read", &path))?;
        let message: Message = serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
            location: path.display().to_string(),
            message: format!("not a control message: {e}"),
        })?;
        fs::remove_file(&path).map_err(io_err("remove", &path))?;
        taken.push(message);
    }
    Ok(taken)
}

/// A topic as a file-name-safe prefix.
fn hex(name: &str) -> String {
    name.bytes().map(|b| format!("{b:02x}")).collect()
}
