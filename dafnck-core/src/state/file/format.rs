//! The journal's line format: `<crc32 as 8 lowercase hex>\t<record JSON>\n`
//! ([`envelope::encode_line`]), and the scan that tells a torn final line
//! from corruption.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::super::{envelope, Record, StateError};

/// A valid journal line: its record (or as much of it as `R` reads) and
/// its bytes (with the `\n`).
pub(super) struct Line<R = Record> {
    pub(super) record: R,
    pub(super) start: usize,
    pub(super) end: usize,
}

/// What a compaction needs of a record: its number. Reading only this
/// skips building the record's values (its checksum is still checked).
#[derive(Deserialize)]
pub(super) struct Seq {
    pub(super) seq: u64,
}

/// A journal's valid lines, and where they end (anything after is a torn
/// final line).
pub(super) struct Scan<R = Record> {
    pub(super) lines: Vec<Line<R>>,
    pub(super) good_len: usize,
}

impl<R> Default for Scan<R> {
    fn default() -> Self {
        Scan {
            lines: Vec::new(),
            good_len: 0,
        }
    }
}

/// Parses a journal. A final line that is incomplete or bad is a torn
/// write and ends the scan; a bad line followed by more is corruption.
pub(super) fn scan_journal<R: DeserializeOwned>(
    bytes: &[u8],
    path: &Path,
) -> Result<Scan<R>, StateError> {
    let mut scan = Scan::default();
    let mut start = 0;
    let mut line_no = 0;
    while start < bytes.len() {
        line_no += 1;
        let Some(newline) = bytes[start..].iter().position(|&b| b == b'\n') else {
            break; // no newline: an append that did not finish
        };
        let end = start + newline + 1;
        match parse_line(&bytes[start..end - 1]) {
            Ok(record) => scan.lines.push(Line { record, start, end }),
            Err(_) if end == bytes.len() => break, // torn final line
            Err(message) => {
                return Err(StateError::Damaged {
                    location: format!("{}:{line_no}", path.display()),
                    message,
                })
            }
        }
        start = end;
        scan.good_len = end;
    }
    Ok(scan)
}

fn parse_line<R: DeserializeOwned>(line: &[u8]) -> Result<R, String> {
    // Every line this store wrote carries a checksum; a bare record is no
    // line of it.
    if line.first() == Some(&b'{') {
        return Err("the line is not `<crc32>\\t<record>`".into());
    }
    let json = envelope::decode_line(line)?;
    serde_json::from_slice(json).map_err(|e| format!("the record does not parse: {e}"))
}
