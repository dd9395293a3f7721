//! The journal's line format: `<crc32 as 8 lowercase hex>\t<record JSON>\n`
//! ([`envelope::encode_line`]), and the scan that tells a torn final line
//! from corruption.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::super::{envelope, Record, StateError};

/// What a compaction needs of a record: its number. Reading only this
/// skips building the record's values (its checksum is still checked).
#[derive(Deserialize)]
pub(super) struct Seq {
    pub(super) seq: u64,
}

/// A journal's valid lines' records, and where the lines end (anything
/// after is a torn final line).
pub(super) struct Scan<R = Record> {
    pub(super) records: Vec<R>,
    pub(super) good_len: usize,
}

impl<R> Default for Scan<R> {
    fn default() -> Self {
        Scan {
            records: Vec::new(),
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
            Ok(record) => scan.records.push(record),
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

/// Scans a journal as [`scan_journal`] does, streaming: it holds one line
/// at a time, never the file, and gives each valid line's record and bytes
/// (with the `\n`) to `on_line`. Returns where the valid lines end
/// (anything after is a torn final line). A compaction of a large journal
/// then costs the records it keeps, not the journal.
pub(super) fn scan_journal_stream<R: DeserializeOwned>(
    reader: impl Read,
    path: &Path,
    mut on_line: impl FnMut(R, &[u8]),
) -> Result<u64, StateError> {
    let io = |source| StateError::Io {
        op: "read",
        path: path.display().to_string(),
        source,
    };
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut line = Vec::new();
    let mut good_len = 0u64;
    let mut line_no = 0;
    loop {
        line.clear();
        reader.read_until(b'\n', &mut line).map_err(io)?;
        if line.last() != Some(&b'\n') {
            break; // the end, or no newline: an append that did not finish
        }
        line_no += 1;
        match parse_line(&line[..line.len() - 1]) {
            Ok(record) => on_line(record, &line),
            Err(message) => {
                if reader.fill_buf().map_err(io)?.is_empty() {
                    break; // torn final line
                }
                return Err(StateError::Damaged {
                    location: format!("{}:{line_no}", path.display()),
                    message,
                });
            }
        }
        good_len += line.len() as u64;
    }
    Ok(good_len)
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
