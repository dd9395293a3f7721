//! What the command line prints besides plans: the stable JSON documents,
//! graphs, recorded resources, and errors that point at the program's source.

use std::fmt::Write;

use serde_json::json;

use crate::drift::{DriftKind, DriftReport};
use crate::error::{Diagnostic, Error};
use crate::plan::Plan;
use crate::resource::Location;
use crate::stack::Desired;
use crate::state::ResourceState;
use crate::value::Value;

/// The plan as the stable JSON document of `preview --json`:
/// `{"changes":[{"name","type","action","fields":[..]}],"summary":{..}}`,
/// and when the program reads data sources, `"reads":[{"name","type",
/// "changed":[..],"affects":[..]}]` (the outputs whose answer changed
/// since the recorded one, and the resources changed because of it).
pub fn plan_json(plan: &Plan) -> serde_json::Value {
    let mut doc = plan_changes_json(plan);
    let reads: Vec<serde_json::Value> = plan
        .reads
        .iter()
        .filter(|r| r.kind == crate::lookup::ReadKind::Data)
        .map(|r| {
            json!({
                "name": r.name,
                "type": r.type_name,
                "changed": r.changed.iter().map(|c| c.field.clone()).collect::<Vec<_>>(),
                "affects": r.affects,
            })
        })
        .collect();
    if !reads.is_empty() {
        doc["reads"] = serde_json::Value::Array(reads);
    }
    doc
}

fn plan_changes_json(plan: &Plan) -> serde_json::Value {
    let s = plan.summary();
    json!({
        "changes": plan.changes.iter().map(|c| json!({
            "name": c.name,
            "type": c.type_name,
            "action": c.action.as_str(),
            "fields": c.fields,
        })).collect::<Vec<_>>(),
        "summary": {
            "create": s.create,
            "update": s.update,
            "replace": s.replace,
            "delete": s.delete,
            "noop": s.noop,
        },
    })
}

/// The drift as the stable JSON document of `drift --json`: a list of
/// `{"name","type","kind":"changed|deleted|read_changed","fields":[..]}`
/// (`read_changed`: a recorded data source answers differently; its
/// fields are the outputs that differ).
pub fn drift_json(report: &DriftReport) -> serde_json::Value {
    serde_json::Value::Array(
        report
            .drifted
            .iter()
            .map(|d| {
                json!({
                    "name": d.name,
                    "type": d.type_name,
                    "kind": match d.kind { DriftKind::Changed => "changed", DriftKind::Deleted => "deleted" },
                    "fields": d.fields.iter().map(|f| f.field.clone()).collect::<Vec<_>>(),
                })
            })
            .chain(report.reads.iter().map(|r| {
                json!({
                    "name": r.name,
                    "type": r.type_name,
                    "kind": "read_changed",
                    "fields": r.changes.iter().map(|c| c.field.clone()).collect::<Vec<_>>(),
                })
            }))
            .collect(),
    )
}

/// A value as JSON with every secret replaced by `"(secret)"`.
pub fn redacted_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Secret(_) => serde_json::Value::String("(secret)".into()),
        Value::Unknown => serde_json::Value::String("(known after apply)".into()),
        Value::List(items) => serde_json::Value::Array(items.iter().map(redacted_json).collect()),
        Value::Map(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), redacted_json(v)))
                .collect(),
        ),
        other => other.to_plain_json(),
    }
}

/// One recorded resource, for `state show` (secrets redacted).
pub fn resource_json(r: &ResourceState) -> serde_json::Value {
    json!({
        "name": r.name,
        "type": r.type_name,
        "id": r.id,
        "inputs": redacted_json(&r.inputs),
        "outputs": redacted_json(&r.outputs),
        "dependencies": r.dependencies,
        "protect": r.protect,
        "retain_on_delete": r.retain_on_delete,
        "declared_at": r.location.as_ref().map(ToString::to_string),
    })
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// One line per recorded rollout (or only `name`'s): whether it is under
/// way, and what the strategy's record says of its phase, step, weight,
/// attempt and message.
pub fn rollouts(state: &crate::state::State, name: Option<&str>) -> Vec<String> {
    let mut lines = Vec::new();
    for (resource, mark) in &state.handovers {
        if name.is_some_and(|n| n != resource) {
            continue;
        }
        let r = &mark.record;
        let mut line = format!(
            "{resource}\t{}",
            if mark.active { "under way" } else { "finished" }
        );
        if let Some(phase) = r.get("phase").and_then(|p| p.as_str()) {
            let _ = write!(line, "\t{phase}");
        }
        for (key, label) in [
            ("attempt", "attempt"),
            ("step", "step"),
            ("weight", "new version at"),
        ] {
            if let Some(v) = r.get(key).and_then(|v| v.as_u64()) {
                let suffix = if key == "weight" { "%" } else { "" };
                let v = if key == "step" { v + 1 } else { v };
                let _ = write!(line, "\t{label} {v}{suffix}");
            }
        }
        if let Some(message) = r.get("message").and_then(|m| m.as_str()) {
            let _ = write!(line, "\t{message}");
        }
        let at = |key: &str| r.get(key).and_then(|v| v.as_u64());
        if let (Some(failed), Some(off)) = (at("failed_at"), at("traffic_off_at")) {
            let _ = write!(
                line,
                "\ttraffic off the new version {} ms after it failed",
                off.saturating_sub(failed)
            );
        }
        lines.push(line);
    }
    lines
}

/// The dependency graph in Graphviz or Mermaid form; edges point from a
/// dependency to its dependent.
pub fn graph(desired: &Desired, mermaid: bool) -> String {
    let mut out = String::new();
    let id = |i: usize| format!("n{i}");
    // Components (`app/web`) are drawn as groups: a mermaid subgraph, a
    // dot cluster, one per component path.
    let mut groups: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, n) in desired.nodes.iter().enumerate() {
        groups
            .entry(crate::component::parent_of(&n.name).unwrap_or(""))
            .or_default()
            .push(i);
    }
    if mermaid {
        out.push_str("flowchart LR\n");
    } else {
        let _ = writeln!(out, "digraph {:?} {{\n    rankdir=LR;", desired.stack);
    }
    for (g, (path, members)) in groups.iter().enumerate() {
        let indent = if path.is_empty() { "    " } else { "        " };
        match (path.is_empty(), mermaid) {
            (true, _) => {}
            (false, true) => {
                let _ = writeln!(out, "    subgraph c{g}[\"{path}\"]");
            }
            (false, false) => {
                let _ = writeln!(
                    out,
                    "    subgraph \"cluster_{g}\" {{\n        label={path:?};"
                );
            }
        }
        for &i in members {
            let n = &desired.nodes[i];
            if mermaid {
                let _ = writeln!(
                    out,
                    "{indent}{}[\"{}<br/><small>{}</small>\"]",
                    id(i),
                    n.name,
                    n.type_name
                );
            } else {
                let _ = writeln!(
                    out,
                    "{indent}{} [label={:?}];",
                    id(i),
                    format!("{}\n{}", n.name, n.type_name)
                );
            }
        }
        match (path.is_empty(), mermaid) {
            (true, _) => {}
            (false, true) => out.push_str("    end\n"),
            (false, false) => out.push_str("    }\n"),
        }
    }
    for (i, n) in desired.nodes.iter().enumerate() {
        for d in n.dependencies.iter() {
            if let Some(j) = desired.position(d) {
                if mermaid {
                    let _ = writeln!(out, "    {} --> {}", id(j), id(i));
                } else {
                    let _ = writeln!(out, "    {} -> {};", id(j), id(i));
                }
            }
        }
    }
    if !mermaid {
        out.push_str("}\n");
    }
    out
}

/// An error for a person: the message, then each declaration site it names
/// with the line of source, when the file can be read.
pub fn error_text(err: &Error) -> String {
    let mut out = format!("error: {err}\n");
    let mut sites: Vec<&Location> = Vec::new();
    let diagnostics: &[Diagnostic] = match err {
        Error::Program(d) | Error::PlanRefused(d) | Error::Read(d) => d,
        _ => &[],
    };
    sites.extend(diagnostics.iter().filter_map(|d| d.location.as_ref()));
    if let Error::Apply(report) = err {
        sites.extend(report.failed().filter_map(|s| s.location.as_ref()));
    }
    if let Error::NoProvider {
        location: Some(l), ..
    } = err
    {
        sites.push(l);
    }
    let mut shown = 0;
    for loc in sites {
        if shown == 8 {
            break;
        }
        if let Some(snippet) = snippet(loc) {
            out.push_str(&snippet);
            shown += 1;
        }
    }
    out
}

/// `  --> file:line:col`, the line, and a caret under the column.
fn snippet(loc: &Location) -> Option<String> {
    let text = std::fs::read_to_string(&loc.file).ok()?;
    let line = text.lines().nth(loc.line.checked_sub(1)? as usize)?;
    let number = loc.line.to_string();
    let pad = " ".repeat(number.len());
    let caret = " ".repeat(loc.column.saturating_sub(1) as usize);
    Some(format!(
        "  {pad}--> {loc}\n  {pad} |\n  {number} | {line}\n  {pad} | {caret}^\n"
    ))
}

/// What a hand edit of a snapshot changed, against the stack's last
/// version when there is one: a line per resource added, removed or
/// changed, after a line with the edited state's serial and size.
pub(super) fn edit_summary(
    edited: &crate::state::State,
    last: Option<(u64, &crate::state::State)>,
) -> Vec<String> {
    let mut lines = vec![format!(
        "serial {}, lineage {}, {} resource(s)",
        edited.serial,
        edited.lineage,
        edited.resources.len()
    )];
    let Some((version, before)) = last else {
        lines.push("(no earlier version to compare with)".into());
        return lines;
    };
    let changes = state_changes(before, edited);
    if changes.is_empty() {
        lines.push(format!("no resource differs from version {version}"));
    } else {
        lines.push(format!("against version {version}:"));
        lines.extend(changes);
    }
    lines
}

/// What differs from `before` to `after`, one line per resource (`+`
/// added, `~` changed, `-` removed), one for the exported values and one
/// per data-source read recorded, changed or dropped; under
/// a changed resource, a line per field that differs (`    inputs.size:
/// "small" -> "large"`), secrets shown as `(secret)`.
pub(super) fn state_changes(
    before: &crate::state::State,
    after: &crate::state::State,
) -> Vec<String> {
    let mut changes = Vec::new();
    for (name, r) in &after.resources {
        match before.resources.get(name) {
            None => changes.push(format!("+ {name} ({}, id {})", r.type_name, r.id)),
            Some(b) if b != r => {
                changes.push(format!("~ {name} ({}, id {})", r.type_name, r.id));
                changes.extend(field_changes(b, r));
            }
            Some(_) => {}
        }
    }
    for (name, r) in &before.resources {
        if !after.resources.contains_key(name) {
            changes.push(format!("- {name} ({}, id {})", r.type_name, r.id));
        }
    }
    if after.outputs != before.outputs {
        changes.push("~ the stack's exported values".into());
    }
    changes.extend(crate::state::reads::read_changes(
        &before.reads,
        &after.reads,
    ));
    changes
}

/// The fields of a resource that differ between two recorded versions of
/// it, one indented line each: its id, the top-level keys of its inputs and
/// outputs, and what it depends on.
fn field_changes(
    before: &crate::state::ResourceState,
    after: &crate::state::ResourceState,
) -> Vec<String> {
    const WIDTH: usize = 60;
    let show = |v: Option<&Value>| -> String {
        let text = v.map_or_else(|| "(none)".to_owned(), Value::render);
        if text.chars().count() > WIDTH {
            format!("{}...", text.chars().take(WIDTH).collect::<String>())
        } else {
            text
        }
    };
    let mut lines = Vec::new();
    if before.id != after.id {
        lines.push(format!("    id: {} -> {}", before.id, after.id));
    }
    let empty = Default::default();
    for (side, a, b) in [
        ("inputs", &before.inputs, &after.inputs),
        ("outputs", &before.outputs, &after.outputs),
    ] {
        let (a, b) = (a.as_map().unwrap_or(&empty), b.as_map().unwrap_or(&empty));
        let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for key in keys {
            let (old, new) = (a.get(key), b.get(key));
            if old != new {
                lines.push(format!("    {side}.{key}: {} -> {}", show(old), show(new)));
            }
        }
    }
    if before.dependencies != after.dependencies {
        lines.push(format!(
            "    depends on: [{}] -> [{}]",
            before.dependencies.join(", "),
            after.dependencies.join(", ")
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_edit_is_summarized_against_the_last_version() {
        use crate::state::{ResourceState, State};
        let res = |name: &str, id: &str| ResourceState {
            name: name.into(),
            type_name: "fake:t:T".into(),
            id: id.into(),
            inputs: Value::Null,
            outputs: Value::Null,
            dependencies: vec![],
            protect: false,
            retain_on_delete: false,
            location: None,
            provider: None,
        };
        let mut before = State::empty("dev");
        before.serial = 4;
        for name in ["a", "b"] {
            before.resources.insert(name.into(), res(name, "1").into());
        }
        let mut edited = before.clone();
        edited.resources.insert("a".into(), res("a", "2").into());
        edited.resources.remove("b");
        edited.resources.insert("c".into(), res("c", "3").into());
        assert_eq!(
            edit_summary(&edited, Some((3, &before))),
            [
                "serial 4, lineage , 2 resource(s)",
                "against version 3:",
                "~ a (fake:t:T, id 2)",
                "    id: 1 -> 2",
                "+ c (fake:t:T, id 3)",
                "- b (fake:t:T, id 1)",
            ]
        );
        assert_eq!(
            edit_summary(&before, Some((3, &before)))[1],
            "no resource differs from version 3"
        );
        assert_eq!(
            edit_summary(&edited, None)[1],
            "(no earlier version to compare with)"
        );
    }

    #[test]
    fn a_changed_resource_lists_its_changed_fields_with_secrets_hidden() {
        use crate::state::{ResourceState, State};
        let res = |size: &str, pw: &str| ResourceState {
            name: "db".into(),
            type_name: "fake:t:Db".into(),
            id: "db-1".into(),
            inputs: [
                ("size", Value::from(size)),
                ("password", Value::Secret(Box::new(pw.into()))),
                ("zone", Value::from("a")),
            ]
            .into_iter()
            .collect(),
            outputs: Value::Null,
            dependencies: vec![],
            protect: false,
            retain_on_delete: false,
            location: None,
            provider: None,
        };
        let mut before = State::empty("dev");
        before
            .resources
            .insert("db".into(), res("small", "hunter2").into());
        let mut after = before.clone();
        after
            .resources
            .insert("db".into(), res("large", "hunter3").into());
        let lines = state_changes(&before, &after);
        assert_eq!(
            lines,
            [
                "~ db (fake:t:Db, id db-1)",
                "    inputs.password: (secret) -> (secret)",
                "    inputs.size: \"small\" -> \"large\"",
            ]
        );
        assert!(!lines.concat().contains("hunter"));
    }

    #[test]
    fn secrets_are_redacted_in_json() {
        let v: Value = [
            ("pw", Value::Secret(Box::new("hunter2".into()))),
            ("n", Value::Int(1)),
        ]
        .into_iter()
        .collect();
        let j = redacted_json(&v).to_string();
        assert!(!j.contains("hunter2"));
        assert_eq!(j, r#"{"n":1,"pw":"(secret)"}"#);
    }

    #[test]
    fn snippets_show_the_declaring_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("main.rs");
        std::fs::write(&file, "fn main() {\n    stack.add(\"web\", web);\n}\n").unwrap();
        let loc = Location {
            file: file.display().to_string(),
            line: 2,
            column: 5,
        };
        let s = snippet(&loc).unwrap();
        assert!(s.contains("2 |     stack.add(\"web\", web);"), "{s}");
        assert!(s.contains("|     ^"), "{s}");
    }

    #[test]
    fn rollouts_show_phase_step_weight_and_why() {
        let mut state = crate::state::State::default();
        state.handovers.insert(
            "web".into(),
            crate::state::HandoverMark {
                active: false,
                record: json!({"phase": "RolledBack", "attempt": 2, "step": 1, "weight": 0,
                               "message": "error rate 0.2 > 0.05",
                               "failed_at": 1_000, "traffic_off_at": 1_140}),
            },
        );
        state.handovers.insert(
            "api".into(),
            crate::state::HandoverMark {
                active: true,
                record: json!({"phase": "Progressing", "attempt": 1, "step": 0, "weight": 5}),
            },
        );
        assert_eq!(
            rollouts(&state, None),
            vec![
                "api\tunder way\tProgressing\tattempt 1\tstep 1\tnew version at 5%",
                "web\tfinished\tRolledBack\tattempt 2\tstep 2\tnew version at 0%\terror rate 0.2 > 0.05\ttraffic off the new version 140 ms after it failed",
            ]
        );
        assert_eq!(rollouts(&state, Some("web")).len(), 1);
        assert!(rollouts(&state, Some("db")).is_empty());
    }

    #[test]
    fn times_print_as_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_795_684_959_000), "2026-11-26 09:22:39 UTC");
    }
}
