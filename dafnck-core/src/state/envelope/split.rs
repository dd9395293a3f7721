//! Parsing a large state's body on several threads.
//!
//! A state written readable ([`super::write_state_body`]) holds each of its
//! resources on a line of its own, between the lines `  "resources": {` and
//! `  }` (a compact JSON value holds no raw newline: one in a string is
//! escaped). Those lines are cut into one range per thread and parsed
//! there; the rest of the body is parsed with an empty resource map in
//! their place. Anything not laid out so (a compact body, a hand edit, a
//! line that does not parse) is parsed whole by the caller instead, which
//! also gives the error and where it is: this path only ever gives the
//! state the whole parse would.

use std::collections::BTreeMap;
use std::sync::Arc;

use memchr::memmem;

use crate::state::{ResourceState, State};

/// From this many bytes of body on, parsing is split.
const SPLIT_FROM: usize = 4 << 20;

/// At most this many threads parse one body.
const MAX_THREADS: usize = 4;

/// The state in `body`, parsed on several threads; `None` when the body is
/// small, not laid out one resource a line, or does not parse.
pub(super) fn parse_state(body: &[u8]) -> Option<State> {
    if body.len() < SPLIT_FROM {
        return None;
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_THREADS);
    if threads < 2 {
        return None;
    }
    parse_state_on(body, threads)
}

/// [`parse_state`] on `threads` threads, whatever the body's size.
fn parse_state_on(body: &[u8], threads: usize) -> Option<State> {
    const OPEN: &[u8] = b"\n  \"resources\": {\n";
    const CLOSE: &[u8] = b"\n  }";
    let open = memmem::find(body, OPEN)?;
    // The map's braces, and its lines between them.
    let brace = open + OPEN.len() - 2;
    let lines_start = open + OPEN.len();
    let close = lines_start - 1 + memmem::find(&body[lines_start - 1..], CLOSE)?;
    let close_brace = close + CLOSE.len() - 1;
    let lines = &body[lines_start..close + 1];

    let mut rest = Vec::with_capacity(body.len() - lines.len());
    rest.extend_from_slice(&body[..brace]);
    rest.extend_from_slice(b"{}");
    rest.extend_from_slice(&body[close_brace + 1..]);

    let ranges = cut(lines, threads);
    let (state, parsed) = std::thread::scope(|s| {
        let handles: Vec<_> = ranges[1..]
            .iter()
            .map(|range| s.spawn(move || parse_lines(range)))
            .collect();
        let first = parse_lines(ranges[0]);
        let state: Option<State> = serde_json::from_slice(&rest).ok();
        let mut parsed = vec![first];
        for h in handles {
            // A panic while parsing is the whole parse's to report.
            parsed.push(h.join().ok().flatten());
        }
        (state, parsed)
    });
    let mut state = state?;
    if !state.resources.is_empty() {
        return None;
    }
    let mut entries = Vec::with_capacity(parsed.iter().flatten().map(Vec::len).sum());
    for part in parsed {
        entries.extend(part?);
    }
    // Sorted already; a name given twice keeps its last, as a whole parse does.
    state.resources = entries.into_iter().collect::<BTreeMap<_, _>>();
    Some(state)
}

/// `lines` cut into `n` ranges of whole lines of about equal length.
fn cut(lines: &[u8], n: usize) -> Vec<&[u8]> {
    let mut ranges = Vec::with_capacity(n);
    let mut from = 0;
    for k in 1..n {
        let at = (lines.len() * k / n).max(from);
        let end = match memchr::memchr(b'\n', &lines[at..]) {
            Some(i) => at + i + 1,
            None => lines.len(),
        };
        ranges.push(&lines[from..end]);
        from = end;
    }
    ranges.push(&lines[from..]);
    ranges
}

/// The resources on `lines` (each `    "name": {...},`, the last one's
/// comma left off), in order; `None` when one does not parse.
fn parse_lines(lines: &[u8]) -> Option<Vec<(String, Arc<ResourceState>)>> {
    let mut out = Vec::with_capacity(lines.len() / 256 + 1);
    for line in lines.split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        let line = line.strip_prefix(b"    ")?;
        let line = line.strip_suffix(b",").unwrap_or(line);
        let mut keys = serde_json::Deserializer::from_slice(line).into_iter::<String>();
        let name = keys.next()?.ok()?;
        let value = line[keys.byte_offset()..]
            .trim_ascii_start()
            .strip_prefix(b":")?;
        let resource: ResourceState = serde_json::from_slice(value).ok()?;
        out.push((name, Arc::new(resource)));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::envelope::write_state_body;
    use crate::value::Value;

    fn resource(name: &str) -> ResourceState {
        ResourceState {
            name: name.into(),
            type_name: "fake:t:T".into(),
            id: format!("{name}-id"),
            inputs: Value::from_json(
                serde_json::json!({"k": "a \"quoted\"\nvalue, {with} braces"}),
            ),
            outputs: Value::from_json(serde_json::json!({"n": 1})),
            dependencies: vec![],
            protect: false,
            retain_on_delete: false,
            location: None,
            provider: None,
        }
    }

    fn state(names: &[&str]) -> State {
        let mut state = State::empty("dev");
        state.lineage = "l".into();
        state.serial = 7;
        for name in names {
            state
                .resources
                .insert((*name).to_owned(), Arc::new(resource(name)));
        }
        state.outputs.insert(
            "resources".into(),
            Value::from_json(serde_json::json!(["x"])),
        );
        state
    }

    fn body(state: &State) -> Vec<u8> {
        let mut out = Vec::new();
        write_state_body(state, true, &mut out, "test").unwrap();
        out
    }

    #[test]
    fn a_readable_body_parsed_in_ranges_is_the_state_the_whole_parse_gives() {
        let names: Vec<String> = (0..50).map(|i| format!("r{i}")).collect();
        let mut names: Vec<&str> = names.iter().map(String::as_str).collect();
        // Names that need escaping, and one that looks like the map's end.
        names.extend(["we\"ird", "line\nbreak", "  }"]);
        let state = state(&names);
        let body = body(&state);
        for threads in 1..=5 {
            let split = parse_state_on(&body, threads).expect("a readable body splits");
            assert_eq!(split, state, "{threads} thread(s)");
        }
        let whole: State = serde_json::from_slice(&body).unwrap();
        assert_eq!(whole, state);
    }

    #[test]
    fn what_is_not_laid_out_one_resource_a_line_is_left_to_the_whole_parse() {
        let state = state(&["a", "b", "c"]);
        // Compact: no lines.
        let compact = serde_json::to_vec(&state).unwrap();
        assert_eq!(parse_state_on(&compact, 2), None);
        // A line that does not parse.
        let damaged = String::from_utf8(body(&state))
            .unwrap()
            .replace("\"b\": {", "\"b\": {{");
        assert_eq!(parse_state_on(damaged.as_bytes(), 2), None);
        // No resources at all.
        assert_eq!(parse_state_on(&body(&State::empty("dev")), 2), None);
        // Small bodies are not split.
        assert_eq!(parse_state(&body(&state)), None);
    }
}
