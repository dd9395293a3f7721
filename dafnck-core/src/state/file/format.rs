//! The journal's line format: `<crc32 as 8 lowercase hex>\t<record JSON>\n`,
//! and the scan that tells a torn final line from corruption.

use std::path::Path;

use super::super::{Record, StateError};

/// A valid journal line: its record and its bytes (with the `\n`).
pub(super) struct Line {
    pub(super) record: Record,
    pub(super) start: usize,
    pub(super) end: usize,
}

/// A journal's valid lines, and where they end (anything after is a torn
/// final line).
#[derive(Default)]
pub(super) struct Scan {
    pub(super) lines: Vec<Line>,
    pub(super) good_len: usize,
}

/// Parses a journal. A final line that is incomplete or bad is a torn
/// write and ends the scan; a bad line followed by more is corruption.
pub(super) fn scan_journal(bytes: &[u8], path: &Path) -> Result<Scan, StateError> {
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
                return Err(StateError::Corrupt {
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

fn parse_line(line: &[u8]) -> Result<Record, String> {
    let (Some(hex), Some(b'\t'), Some(json)) = (line.get(..8), line.get(8), line.get(9..)) else {
        return Err("the line is not `<crc32>\\t<record>`".into());
    };
    let stated = std::str::from_utf8(hex)
        .ok()
        .filter(|h| h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .ok_or("the line does not start with a checksum (8 lowercase hex digits)")?;
    let actual = crc32(json);
    if stated != actual {
        return Err(format!(
            "checksum mismatch: the line says {stated:08x}, its record hashes to {actual:08x}"
        ));
    }
    serde_json::from_slice(json).map_err(|e| format!("the record does not parse: {e}"))
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib computes it.
pub(super) fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}
