//! What a stack records of the data sources its program reads
//! ([`crate::data`]): each read's type, query and answer, written when an
//! `up` succeeds ([`Entry::Reads`](super::Entry::Reads)), so a later
//! preview, `drift` and the history can say how an answer changed.
//!
//! A read is never an object of the stack: recording it creates nothing,
//! and dropping it (the program no longer declares it) deletes nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::value::Value;

/// What the state records of one data-source read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReadState {
    /// The name the program gave the read.
    pub name: String,
    /// The data source's type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The query it was asked, fully known.
    pub query: Value,
    /// What the provider answered (the data source's outputs).
    pub answer: Value,
    /// When a run first read this answer, Unix milliseconds: a later run
    /// that reads the same answer keeps it, so it says since when the
    /// answer has been what it is.
    pub at: u64,
    /// The named provider instance that read it (none: its package's
    /// default instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

impl ReadState {
    /// Whether `other` is the same read with the same answer (its time
    /// aside).
    pub fn same_as(&self, other: &ReadState) -> bool {
        self.name == other.name
            && self.type_name == other.type_name
            && self.query == other.query
            && self.answer == other.answer
            && self.provider == other.provider
    }
}

/// One output of a data source whose answer differs from the recorded one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnswerChange {
    /// The output (a top-level key of the answer; empty when the answer is
    /// not a map).
    pub field: String,
    /// What the state recorded (none: the output is new).
    pub before: Option<Value>,
    /// What was read now (none: the output is gone).
    pub after: Option<Value>,
}

impl AnswerChange {
    /// `image_id: "ami-1" -> "ami-2"`, secrets shown as `(secret)`.
    pub fn describe(&self) -> String {
        let show = |v: &Option<Value>| v.as_ref().map_or_else(|| "(none)".into(), Value::render);
        let arrow = format!("{} -> {}", show(&self.before), show(&self.after));
        if self.field.is_empty() {
            arrow
        } else {
            format!("{}: {arrow}", self.field)
        }
    }
}

/// How the answer `after` differs from `before`: one change per top-level
/// output that differs, in key order.
pub fn answer_changes(before: &Value, after: &Value) -> Vec<AnswerChange> {
    match (before.as_map(), after.as_map()) {
        (Some(a), Some(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter()
                .filter(|k| a.get(*k) != b.get(*k))
                .map(|k| AnswerChange {
                    field: k.clone(),
                    before: a.get(k).cloned(),
                    after: b.get(k).cloned(),
                })
                .collect()
        }
        _ if before == after => Vec::new(),
        _ => vec![AnswerChange {
            field: String::new(),
            before: Some(before.clone()),
            after: Some(after.clone()),
        }],
    }
}

/// The reads to record after a run that read `now`: each keeps the time
/// of its recorded twin when its answer did not change.
pub fn carry_times(
    recorded: &BTreeMap<String, ReadState>,
    now: impl IntoIterator<Item = ReadState>,
) -> BTreeMap<String, ReadState> {
    now.into_iter()
        .map(|mut r| {
            if let Some(old) = recorded.get(&r.name).filter(|old| old.same_as(&r)) {
                r.at = old.at;
            }
            (r.name.clone(), r)
        })
        .collect()
}

/// What differs between the reads `before` and `after` record, one line
/// per read (`+` new, `~` changed, `-` dropped) and, under a changed one,
/// a line per output whose answer differs (`    image_id: "ami-1" ->
/// "ami-2"`, secrets as `(secret)`): how the history shows read changes.
pub fn read_changes(
    before: &BTreeMap<String, ReadState>,
    after: &BTreeMap<String, ReadState>,
) -> Vec<String> {
    let mut lines = Vec::new();
    for (name, r) in after {
        match before.get(name) {
            None => lines.push(format!("+ data source {name} ({})", r.type_name)),
            Some(b) if !b.same_as(r) => {
                lines.push(format!("~ data source {name} ({})", r.type_name));
                if b.query != r.query {
                    lines.push(format!(
                        "    query: {} -> {}",
                        b.query.render(),
                        r.query.render()
                    ));
                }
                for c in answer_changes(&b.answer, &r.answer) {
                    lines.push(format!("    {}", c.describe()));
                }
            }
            Some(_) => {}
        }
    }
    for (name, r) in before {
        if !after.contains_key(name) {
            lines.push(format!("- data source {name} ({})", r.type_name));
        }
    }
    lines
}

/// How a run changed the recorded reads, for its version's summary
/// (`data sources: 1 changed, 1 dropped`); `None` when it did not.
pub fn summary(
    before: &BTreeMap<String, ReadState>,
    after: &BTreeMap<String, ReadState>,
) -> Option<String> {
    let new = after.keys().filter(|k| !before.contains_key(*k)).count();
    let changed = after
        .iter()
        .filter(|(k, r)| before.get(*k).is_some_and(|b| !b.same_as(r)))
        .count();
    let dropped = before.keys().filter(|k| !after.contains_key(*k)).count();
    let parts: Vec<String> = [(changed, "changed"), (new, "new"), (dropped, "dropped")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    (!parts.is_empty()).then(|| format!("data sources: {}", parts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(answer: Value, at: u64) -> ReadState {
        ReadState {
            name: "ami".into(),
            type_name: "aws:ec2:AmiLookup".into(),
            query: Value::from("web-*"),
            answer,
            at,
            provider: None,
        }
    }

    fn map(pairs: &[(&str, Value)]) -> Value {
        pairs.iter().map(|(k, v)| (*k, v.clone())).collect()
    }

    #[test]
    fn changes_name_each_output_that_differs_and_hide_secrets() {
        let before = map(&[
            ("image_id", "ami-1".into()),
            ("name", "web-1".into()),
            ("token", Value::Secret(Box::new("s1".into()))),
        ]);
        let after = map(&[
            ("image_id", "ami-2".into()),
            ("name", "web-1".into()),
            ("token", Value::Secret(Box::new("s2".into()))),
            ("arch", "arm64".into()),
        ]);
        let lines: Vec<String> = answer_changes(&before, &after)
            .iter()
            .map(AnswerChange::describe)
            .collect();
        assert_eq!(
            lines,
            [
                "arch: (none) -> \"arm64\"",
                "image_id: \"ami-1\" -> \"ami-2\"",
                "token: (secret) -> (secret)",
            ]
        );
        assert!(answer_changes(&before, &before).is_empty());
        assert_eq!(
            answer_changes(&Value::from(1), &Value::from(2))[0].describe(),
            "1 -> 2"
        );
    }

    #[test]
    fn history_lines_and_the_summary_name_each_read_change() {
        let mut old = read(map(&[("image_id", "ami-1".into())]), 5);
        let before: BTreeMap<String, ReadState> = [
            ("ami".to_owned(), old.clone()),
            ("gone".to_owned(), {
                old.name = "gone".into();
                old.clone()
            }),
        ]
        .into();
        let mut after = BTreeMap::new();
        after.insert(
            "ami".to_owned(),
            read(map(&[("image_id", "ami-2".into())]), 9),
        );
        let mut zones = read(Value::from(3), 9);
        zones.name = "zones".into();
        zones.type_name = "aws:ec2:AvailabilityZones".into();
        after.insert("zones".to_owned(), zones);
        assert_eq!(
            read_changes(&before, &after),
            [
                "~ data source ami (aws:ec2:AmiLookup)",
                "    image_id: \"ami-1\" -> \"ami-2\"",
                "+ data source zones (aws:ec2:AvailabilityZones)",
                "- data source gone (aws:ec2:AmiLookup)",
            ]
        );
        assert_eq!(
            summary(&before, &after).as_deref(),
            Some("data sources: 1 changed, 1 new, 1 dropped")
        );
        assert_eq!(summary(&after, &after), None);
        assert!(read_changes(&after, &after).is_empty());
    }

    #[test]
    fn an_unchanged_answer_keeps_its_first_time() {
        let recorded: BTreeMap<String, ReadState> = [(
            "ami".to_owned(),
            read(map(&[("image_id", "ami-1".into())]), 5),
        )]
        .into();
        let same = carry_times(&recorded, [read(map(&[("image_id", "ami-1".into())]), 9)]);
        assert_eq!(same["ami"].at, 5);
        let changed = carry_times(&recorded, [read(map(&[("image_id", "ami-2".into())]), 9)]);
        assert_eq!(changed["ami"].at, 9);
    }
}
