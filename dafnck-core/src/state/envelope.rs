//! The format every stored unit of state is written in, and the check of
//! its bytes on every read: a snapshot, a history version, a version's
//! entry and a saved plan are each one *unit*, and every store keeps each
//! as one file, row or object.
//!
//! A unit is a header line, then its JSON body:
//!
//! ```text
//! dafnck-state/4 crc32=5c6bd5a1 len=1614
//! {"stack":"dev", ...}
//! ```
//!
//! - `dafnck-<kind>` says what the unit holds ([`Unit`]);
//! - `/4` is the state format ([`FORMAT`]) that wrote it;
//! - `crc32` is the CRC-32 (as the journal's lines use) of the header's
//!   first field and the space after it (`dafnck-state/4 `) followed by
//!   the body, and `len` the length of the body: every byte after the
//!   header's `\n`. Every byte of the unit is covered: the kind and format
//!   by the sum, the sum and length by being compared.
//!
//! A journal kept as lines appended to one file, or as one row per record,
//! carries a checksum per record instead, `<crc32 as 8 lowercase hex>\t<record
//! JSON>` ([`encode_line`]); a journal kept as one object per batch makes
//! each batch a unit ([`Unit::Journal`]).
//!
//! # Formats
//! - **1**: the body alone, with no header (every unit written before the
//!   checksums existed, and journal rows and lines with no checksum in the
//!   PostgreSQL and S3 stores). Still read: a format-1 unit is recognized by
//!   its first byte, `{`, which no header can turn into by damage to one
//!   bit, since a header starts with `d`.
//! - **2**: the header above.
//! - **3**: as 2; a state may record the data sources its program read
//!   (`reads`, and journal records `"entry":"reads"`), which a reader of
//!   format 2 would drop without a word, so it must refuse them instead.
//! - **4**: as 3; the checksum covers the header's kind and format too.
//!   In formats 2 and 3 it covered the body alone, so damage to the
//!   format's digit that named an older format (`/3` read as `/2`) went
//!   unseen.
//!
//! A unit of a newer format than [`FORMAT`] is refused
//! ([`StateError::NewerFormat`], naming both); a unit whose header does not
//! parse, or whose body does not match its length or checksum, is
//! [`StateError::Damaged`], naming the unit. Either way nothing is written.
//!
//! ```
//! use dafnck_core::state::envelope::{self, Unit};
//! use dafnck_core::state::StateError;
//!
//! let bytes = envelope::encode(Unit::State, br#"{"stack":"dev"}"#);
//! assert!(bytes.starts_with(b"dafnck-state/4 crc32="));
//! let opened = envelope::decode(Unit::State, &bytes, "snapshot.json").unwrap();
//! assert_eq!((opened.format, opened.body), (4, &br#"{"stack":"dev"}"#[..]));
//!
//! // One appended byte: refused, naming the unit.
//! let mut damaged = bytes.clone();
//! damaged.push(b' ');
//! let err = envelope::decode(Unit::State, &damaged, "snapshot.json").unwrap_err();
//! assert!(matches!(err, StateError::Damaged { .. }));
//! assert!(err.to_string().contains("snapshot.json"));
//! ```

use super::{State, StateError};

/// The state format this code writes; it reads every format up to it.
pub const FORMAT: u32 = 4;

/// What a unit holds: the `<kind>` of its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A snapshot or a history version of a stack's state (`dafnck-state`).
    State,
    /// A history version's entry, [`VersionInfo`](super::VersionInfo)
    /// (`dafnck-version`).
    Version,
    /// A saved plan (`dafnck-plan`).
    Plan,
    /// A batch of journal records kept as one object, one record's JSON a
    /// line (`dafnck-journal`).
    Journal,
}

impl Unit {
    fn tag(self) -> &'static str {
        match self {
            Unit::State => "dafnck-state",
            Unit::Version => "dafnck-version",
            Unit::Plan => "dafnck-plan",
            Unit::Journal => "dafnck-journal",
        }
    }
}

/// A unit whose bytes were checked: its format and its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opened<'a> {
    /// The format that wrote it (1: no header, no checksum).
    pub format: u32,
    /// The body (JSON).
    pub body: &'a [u8],
}

/// `body` as a unit of `kind` in the current format: the header, then the
/// body as it is.
pub fn encode(kind: Unit, body: &[u8]) -> Vec<u8> {
    let header = header(kind, body);
    let mut out = Vec::with_capacity(header.len() + body.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(body);
    out
}

/// Like [`encode`], in place: puts the header before `body` (moving it,
/// not copying it into a second buffer: a large state's body is tens of
/// megabytes).
pub fn encode_owned(kind: Unit, mut body: Vec<u8>) -> Vec<u8> {
    let header = header(kind, &body);
    body.splice(0..0, header.bytes());
    body
}

fn header(kind: Unit, body: &[u8]) -> String {
    header_of(kind, crc32(body), body.len())
}

/// The header line (with its `\n`) of a unit of `kind` whose body is
/// `len` bytes with CRC-32 `crc`: what goes before a body written
/// through a [`Summing`] writer.
pub fn header_of(kind: Unit, crc: u32, len: usize) -> String {
    let sum = unit_sum(kind, FORMAT, crc, len);
    format!("{}/{FORMAT} crc32={sum:08x} len={len}\n", kind.tag())
}

/// The first format whose checksum covers the header's kind and format.
const SUMMED_HEADER: u32 = 4;

/// The checksum a unit of `kind` and `format` carries for a body of `len`
/// bytes with CRC-32 `body_crc`: from format 4 on, the CRC-32 of
/// `<kind>/<format> ` followed by the body (combined from the body's own,
/// so a body summed as it was streamed is not read again); before, the
/// body's alone.
fn unit_sum(kind: Unit, format: u32, body_crc: u32, len: usize) -> u32 {
    if format < SUMMED_HEADER {
        return body_crc;
    }
    let mut sum = crc32fast::Hasher::new();
    sum.update(kind.tag().as_bytes());
    sum.update(format!("/{format} ").as_bytes());
    sum.combine(&crc32fast::Hasher::new_with_initial_len(
        body_crc, len as u64,
    ));
    sum.finalize()
}

/// A writer that passes every byte on to `W` and sums them as a unit's
/// header does: a body can be written to a file as it is encoded, and its
/// header made after ([`header_of`]).
#[derive(Debug)]
pub struct Summing<W> {
    inner: W,
    crc: crc32fast::Hasher,
    len: usize,
}

impl<W: std::io::Write> Summing<W> {
    /// Sums what is written to `inner`.
    pub fn new(inner: W) -> Summing<W> {
        Summing {
            inner,
            crc: crc32fast::Hasher::new(),
            len: 0,
        }
    }

    /// The writer, the CRC-32 and the length of everything written.
    pub fn finish(self) -> (W, u32, usize) {
        (self.inner, self.crc.finalize(), self.len)
    }
}

impl<W: std::io::Write> std::io::Write for Summing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        self.len += n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Checks a unit of `kind` read at `location` (a file, row or object, for
/// messages) and returns its body.
///
/// # Errors
/// - [`StateError::NewerFormat`] when a newer dafnck wrote it;
/// - [`StateError::Damaged`] when the header does not parse, names another
///   kind, or the body's length or checksum is not the header's.
pub fn decode<'a>(kind: Unit, bytes: &'a [u8], location: &str) -> Result<Opened<'a>, StateError> {
    let damaged = |message: String| StateError::Damaged {
        location: location.to_owned(),
        message,
    };
    if bytes.first() == Some(&b'{') {
        return Ok(Opened {
            format: 1,
            body: bytes,
        });
    }
    let Some(newline) = bytes.iter().position(|&b| b == b'\n') else {
        return Err(damaged(if bytes.is_empty() {
            "it is empty".into()
        } else {
            "it has no header line".into()
        }));
    };
    let header = parse_header(kind, &bytes[..newline], location)?;
    let body = &bytes[newline + 1..];
    header.check(body.len(), crc32(body), location)?;
    Ok(Opened {
        format: header.format,
        body,
    })
}

/// The longest header line [`check_stream`] looks for (a header is about
/// 45 bytes).
const MAX_HEADER: u64 = 1024;

/// Checks a unit of `kind` read from `reader` (a file at `location`) as
/// [`decode`] does, streaming: it holds a buffer, never the unit, so a
/// large snapshot can be checked before it is overwritten without reading
/// it into memory. Returns the unit's format; a format-1 unit (no header,
/// no checksum) is not checked here: the caller parses it.
///
/// # Errors
/// As [`decode`], and [`StateError::Io`] when reading fails.
pub fn check_stream(
    kind: Unit,
    reader: impl std::io::Read,
    location: &str,
) -> Result<u32, StateError> {
    use std::io::{BufRead, BufReader, Read};
    let io = |source| StateError::Io {
        op: "read",
        path: location.to_owned(),
        source,
    };
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    if reader.fill_buf().map_err(io)?.first() == Some(&b'{') {
        return Ok(1);
    }
    let mut line = Vec::new();
    (&mut reader)
        .take(MAX_HEADER)
        .read_until(b'\n', &mut line)
        .map_err(io)?;
    if line.last() != Some(&b'\n') {
        return Err(StateError::Damaged {
            location: location.to_owned(),
            message: if line.is_empty() {
                "it is empty".into()
            } else {
                "it has no header line".into()
            },
        });
    }
    line.pop();
    let header = parse_header(kind, &line, location)?;
    let mut crc = crc32fast::Hasher::new();
    let mut len = 0usize;
    loop {
        let chunk = reader.fill_buf().map_err(io)?;
        if chunk.is_empty() {
            break;
        }
        crc.update(chunk);
        len += chunk.len();
        let n = chunk.len();
        reader.consume(n);
    }
    header.check(len, crc.finalize(), location)?;
    Ok(header.format)
}

/// What a unit's header line says.
struct Header {
    kind: Unit,
    format: u32,
    crc: u32,
    len: usize,
}

impl Header {
    /// Refuses a body of `len` bytes hashing to `crc` that is not the one
    /// the header describes (with, from format 4, the header's kind and
    /// format).
    fn check(&self, len: usize, crc: u32, location: &str) -> Result<(), StateError> {
        let crc = unit_sum(self.kind, self.format, crc, len);
        let damaged = |message: String| StateError::Damaged {
            location: location.to_owned(),
            message,
        };
        if len != self.len {
            return Err(damaged(format!(
                "its body is {len} bytes long, its header says {}",
                self.len
            )));
        }
        if crc != self.crc {
            return Err(damaged(format!(
                "checksum mismatch: the header says {:08x}, the unit hashes to {crc:08x}",
                self.crc
            )));
        }
        Ok(())
    }
}

/// Parses a header line of a unit of `kind` (without its `\n`).
fn parse_header(kind: Unit, line: &[u8], location: &str) -> Result<Header, StateError> {
    let damaged = |message: String| StateError::Damaged {
        location: location.to_owned(),
        message,
    };
    let header =
        std::str::from_utf8(line).map_err(|_| damaged("its header line is not text".into()))?;
    let expected = format!("{}/", kind.tag());
    let Some(rest) = header.strip_prefix(&expected) else {
        return Err(damaged(format!(
            "its header {header:?} does not start with {expected:?}"
        )));
    };
    let (format, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let format: u32 = format
        .parse()
        .map_err(|_| damaged(format!("its header {header:?} names no format")))?;
    if format > FORMAT {
        return Err(StateError::NewerFormat {
            location: location.to_owned(),
            found: format,
            supported: FORMAT,
        });
    }
    if format < 2 {
        return Err(damaged(format!(
            "its header names format {format}, which never had a header"
        )));
    }
    let mut crc = None;
    let mut len = None;
    for field in rest.split(' ') {
        match field.split_once('=') {
            Some(("crc32", hex)) if is_lower_hex(hex) => crc = u32::from_str_radix(hex, 16).ok(),
            Some(("len", n)) => len = n.parse::<usize>().ok(),
            _ => return Err(damaged(format!("its header {header:?} does not parse"))),
        }
    }
    let (Some(crc), Some(len)) = (crc, len) else {
        return Err(damaged(format!(
            "its header {header:?} lacks a checksum or a length"
        )));
    };
    Ok(Header {
        kind,
        format,
        crc,
        len,
    })
}

/// A state as a unit: JSON with each of the state's fields, and each
/// entry of those (each resource, each export), on a line of its own, the
/// rest compact (with a final newline, for people who read it:
/// `readable`), or compact throughout.
///
/// One line per resource keeps a large state's file about as small and
/// as quick to write and read as compact JSON (fully indented JSON is
/// half as large again), while a diff or an editor still shows one
/// resource a line.
///
/// # Errors
/// [`StateError::Backend`] of `backend` when the state cannot be encoded.
pub fn encode_state(state: &State, readable: bool, backend: &str) -> Result<Vec<u8>, StateError> {
    let mut json = Vec::new();
    write_state_body(state, readable, &mut json, backend)?;
    Ok(encode_owned(Unit::State, json))
}

/// Writes the body [`encode_state`] puts after its header to `out`, as it
/// is encoded (through a [`Summing`] writer, to make the header after).
///
/// # Errors
/// [`StateError::Backend`] of `backend` when the state cannot be encoded
/// or `out` fails.
pub fn write_state_body(
    state: &State,
    readable: bool,
    mut out: impl std::io::Write,
    backend: &str,
) -> Result<(), StateError> {
    let written = if readable {
        let mut ser = serde_json::Serializer::with_formatter(&mut out, EntryLines::default());
        serde::Serialize::serialize(state, &mut ser)
            .and_then(|()| out.write_all(b"\n").map_err(serde_json::Error::io))
    } else {
        serde_json::to_writer(&mut out, state)
    };
    written.map_err(|e| StateError::Backend {
        backend: backend.to_owned(),
        message: format!("cannot serialize the state of stack {:?}: {e}", state.stack),
    })
}

/// Writes JSON with the keys of the outer two levels of objects each on a
/// line, indented by two spaces a level, and everything deeper compact.
#[derive(Default)]
struct EntryLines {
    /// Per open object or array: whether it has an entry yet.
    open: Vec<bool>,
}

impl EntryLines {
    /// The lines stop below the outer two levels.
    const LINED: usize = 2;

    fn new_line<W: ?Sized + std::io::Write>(writer: &mut W, depth: usize) -> std::io::Result<()> {
        writer.write_all(b"\n")?;
        for _ in 0..depth {
            writer.write_all(b"  ")?;
        }
        Ok(())
    }
}

impl serde_json::ser::Formatter for EntryLines {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.open.push(false);
        writer.write_all(b"[")
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.open.pop();
        writer.write_all(b"]")
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.open.push(false);
        writer.write_all(b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        let depth = self.open.len();
        if self.open.pop() == Some(true) && depth <= Self::LINED {
            Self::new_line(writer, depth - 1)?;
        }
        writer.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if !first {
            writer.write_all(b",")?;
        }
        if let Some(open) = self.open.last_mut() {
            *open = true;
        }
        let depth = self.open.len();
        if depth <= Self::LINED {
            Self::new_line(writer, depth)?;
        }
        Ok(())
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(if self.open.len() <= Self::LINED {
            b": "
        } else {
            b":"
        })
    }
}

/// A state read from the unit at `location`, checked and parsed.
///
/// # Errors
/// As [`decode`]; [`StateError::Corrupt`] when a format-1 unit (no
/// checksum) does not parse, [`StateError::Damaged`] when a checked body
/// does not (a bug or an edit that kept the checksum right).
pub fn decode_state(bytes: &[u8], location: &str) -> Result<State, StateError> {
    let opened = decode(Unit::State, bytes, location)?;
    // A large state's resources on several threads, when laid out so.
    match split::parse_state(opened.body) {
        Some(state) => Ok(state),
        None => parse_opened(opened, location, "the state"),
    }
}

/// The state a hand edit left in the unit at `location`: `None` when the
/// unit matches its checksum (or has none, format 1), else the state read
/// without checking it ([`decode_state_unchecked`]).
///
/// # Errors
/// As [`decode_state_unchecked`].
pub fn decode_state_edited(bytes: &[u8], location: &str) -> Result<Option<State>, StateError> {
    match decode(Unit::State, bytes, location) {
        Ok(_) => Ok(None),
        Err(StateError::Damaged { .. }) => decode_state_unchecked(bytes, location).map(Some),
        Err(e) => Err(e),
    }
}

/// A state read from the unit at `location` *without* checking its
/// checksum or length: what a hand edit of a snapshot left, to show it
/// before accepting it ([`SnapshotEdits`](super::SnapshotEdits)). Only the
/// header's kind and format are checked.
///
/// # Errors
/// [`StateError::NewerFormat`]; [`StateError::Damaged`] when the header
/// is not a state's or the body does not parse.
pub fn decode_state_unchecked(bytes: &[u8], location: &str) -> Result<State, StateError> {
    let body = match decode(Unit::State, bytes, location) {
        Ok(opened) => opened.body,
        Err(StateError::Damaged { .. }) => {
            let header_end = bytes
                .iter()
                .position(|&b| b == b'\n')
                .unwrap_or(bytes.len());
            let header = String::from_utf8_lossy(&bytes[..header_end]);
            let headed = (2..=FORMAT)
                .any(|format| header.starts_with(&format!("{}/{format} ", Unit::State.tag())));
            if !headed {
                return Err(StateError::Damaged {
                    location: location.to_owned(),
                    message: format!(
                        "its header {header:?} is not a state's of format 2 to {FORMAT}"
                    ),
                });
            }
            bytes.get(header_end + 1..).unwrap_or_default()
        }
        Err(e) => return Err(e),
    };
    serde_json::from_slice(body).map_err(|e| StateError::Damaged {
        location: location.to_owned(),
        message: format!("the edited state does not parse: {e}"),
    })
}

/// A value of `kind` (a version's entry, a plan) read from the unit at
/// `location`, checked and parsed; `what` names it in messages.
///
/// # Errors
/// As [`decode_state`].
pub fn decode_json<T: serde::de::DeserializeOwned>(
    kind: Unit,
    bytes: &[u8],
    location: &str,
    what: &str,
) -> Result<T, StateError> {
    parse_opened(decode(kind, bytes, location)?, location, what)
}

/// The body of the `opened` unit at `location`, parsed; `what` names it in
/// messages.
fn parse_opened<T: serde::de::DeserializeOwned>(
    opened: Opened<'_>,
    location: &str,
    what: &str,
) -> Result<T, StateError> {
    serde_json::from_slice(opened.body).map_err(|e| {
        let message = format!("{what} does not parse: {e}");
        // A line and column point into the body, which is the file after
        // the header line for format 2.
        let location = match (opened.format, e.line()) {
            (1, line) if line > 0 => format!("{location}:{line}:{}", e.column()),
            (_, line) if line > 0 => format!("{location}:{}:{}", line + 1, e.column()),
            _ => location.to_owned(),
        };
        if opened.format == 1 {
            StateError::Corrupt { location, message }
        } else {
            StateError::Damaged { location, message }
        }
    })
}

/// A journal record's JSON as a line: `<crc32 as 8 lowercase hex>\t<json>`
/// (no `\n`).
pub fn encode_line(json: &[u8]) -> Vec<u8> {
    let mut line = Vec::with_capacity(json.len() + 9);
    line.extend_from_slice(format!("{:08x}\t", crc32(json)).as_bytes());
    line.extend_from_slice(json);
    line
}

/// The JSON of a line written by [`encode_line`], its checksum checked; a
/// line of format 1 (the JSON alone, starting with `{`) is returned as it
/// is.
///
/// # Errors
/// A message saying what is wrong with the line.
pub fn decode_line(line: &[u8]) -> Result<&[u8], String> {
    if line.first() == Some(&b'{') {
        return Ok(line);
    }
    let (Some(hex), Some(b'\t'), Some(json)) = (line.get(..8), line.get(8), line.get(9..)) else {
        return Err("the line is not `<crc32>\\t<record>`".into());
    };
    let stated = std::str::from_utf8(hex)
        .ok()
        .filter(|h| is_lower_hex(h))
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .ok_or("the line does not start with a checksum (8 lowercase hex digits)")?;
    let actual = crc32(json);
    if stated != actual {
        return Err(format!(
            "checksum mismatch: the line says {stated:08x}, its record hashes to {actual:08x}"
        ));
    }
    Ok(json)
}

/// Eight lowercase hex digits: the one way a checksum is written, so no
/// changed letter case reads as the same number.
fn is_lower_hex(hex: &str) -> bool {
    hex.len() == 8 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib
/// computes it (and as the journal's lines always carried it).
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

mod split;

#[cfg(test)]
mod tests;
