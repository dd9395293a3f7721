//! A stack's state with its history as one portable JSON document
//! (`state export` / `state import`): moved between stores with its
//! versions, secrets sealed as they were stored, and a SHA-256 checksum
//! of its content so a damaged or edited file is refused.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{State, StateError, VersionInfo};

/// The format a document names in its `format` field: `/2` since states
/// record data-source reads (state format 3), which a reader of `/1`
/// would drop without a word; this program also reads `/1`.
pub const EXPORT_FORMAT: &str = "dafnck-state-export/2";

/// The older formats still read.
const OLDER_FORMATS: [&str; 1] = ["dafnck-state-export/1"];

/// A stack's state and history, as `state export` writes them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exported {
    /// The stack it was exported from.
    pub stack: String,
    /// When, Unix milliseconds.
    pub exported_at: u64,
    /// The state as stored (secrets sealed).
    pub state: State,
    /// The versions of its history, oldest first (empty when the store
    /// keeps none).
    pub history: Vec<ExportedVersion>,
}

/// One version of an exported history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportedVersion {
    /// Its entry.
    pub info: VersionInfo,
    /// The state it left, as stored.
    pub state: State,
}

#[derive(Serialize, Deserialize)]
struct Document {
    format: String,
    checksum: String,
    content: serde_json::Value,
}

fn checksum(content: &serde_json::Value) -> String {
    // serde_json's maps are sorted: the same content gives the same bytes.
    sha256_tag(&serde_json::to_vec(content).unwrap_or_default())
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_tag(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

impl Exported {
    /// The document's bytes (pretty JSON, with its checksum).
    ///
    /// # Errors
    /// [`StateError::Backend`] when the state cannot be serialized.
    pub fn to_document(&self) -> Result<Vec<u8>, StateError> {
        let fail = |e: serde_json::Error| StateError::Backend {
            backend: "export".into(),
            message: format!("cannot serialize the state of stack {:?}: {e}", self.stack),
        };
        let content = serde_json::to_value(self).map_err(fail)?;
        let doc = Document {
            format: EXPORT_FORMAT.into(),
            checksum: checksum(&content),
            content,
        };
        let mut bytes = serde_json::to_vec_pretty(&doc).map_err(fail)?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Reads a document `state export` wrote; `location` names it in
    /// errors.
    ///
    /// # Errors
    /// [`StateError::Corrupt`] for bytes that are not such a document (or
    /// of another format); [`StateError::Damaged`] when its content does
    /// not match its checksum.
    pub fn from_document(bytes: &[u8], location: &str) -> Result<Exported, StateError> {
        let corrupt = |message: String| StateError::Corrupt {
            location: location.into(),
            message,
        };
        let doc: Document = serde_json::from_slice(bytes)
            .map_err(|e| corrupt(format!("not a state export ({EXPORT_FORMAT}): {e}")))?;
        if doc.format != EXPORT_FORMAT && !OLDER_FORMATS.contains(&doc.format.as_str()) {
            return Err(corrupt(format!(
                "its format is {:?}; this program reads {EXPORT_FORMAT:?} and {}",
                doc.format,
                OLDER_FORMATS.map(|f| format!("{f:?}")).join(", ")
            )));
        }
        let actual = checksum(&doc.content);
        if actual != doc.checksum {
            return Err(StateError::Damaged {
                location: location.into(),
                message: format!(
                    "its content's checksum is {actual}, and the document says {}",
                    doc.checksum
                ),
            });
        }
        serde_json::from_value(doc.content)
            .map_err(|e| corrupt(format!("its content is not a stack's state: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Exported {
        let mut state = State::empty("dev");
        state.lineage = "l1".into();
        state.serial = 7;
        Exported {
            stack: "dev".into(),
            exported_at: 5,
            state: state.clone(),
            history: vec![ExportedVersion {
                info: VersionInfo {
                    version: 1,
                    serial: 7,
                    ..Default::default()
                },
                state,
            }],
        }
    }

    #[test]
    fn a_document_reads_back_and_an_edit_is_refused() {
        let doc = sample().to_document().unwrap();
        assert_eq!(Exported::from_document(&doc, "f").unwrap(), sample());
        let text = String::from_utf8(doc).unwrap();
        let edited = text.replacen("\"serial\": 7", "\"serial\": 8", 1);
        assert_ne!(edited, text);
        let e = Exported::from_document(edited.as_bytes(), "f.json")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("f.json is damaged") && e.contains("checksum"),
            "{e}"
        );
        let e = Exported::from_document(b"{}", "f.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a state export"), "{e}");
    }

    #[test]
    fn a_document_of_format_1_reads_and_a_newer_one_is_refused_naming_both() {
        let doc = String::from_utf8(sample().to_document().unwrap()).unwrap();
        let old = doc.replacen(EXPORT_FORMAT, "dafnck-state-export/1", 1);
        assert_ne!(old, doc);
        assert_eq!(
            Exported::from_document(old.as_bytes(), "f").unwrap(),
            sample()
        );
        let newer = doc.replacen(EXPORT_FORMAT, "dafnck-state-export/3", 1);
        let e = Exported::from_document(newer.as_bytes(), "f.json")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"dafnck-state-export/3\"") && e.contains(EXPORT_FORMAT),
            "{e}"
        );
    }
}
