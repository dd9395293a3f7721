//! Plans as text: one block per change with the changed fields old → new,
//! like Terraform's. Rendering is a view of the plan, kept apart from the
//! plan's data.

use std::fmt::{self, Write};

use crate::plan::{Action, Change, Plan, ReplaceOrder};
use crate::value::Value;

impl Plan {
    /// A text rendering like Terraform's: one block per change with the
    /// changed fields old → new, secrets as `(secret)`, unknowns as
    /// `(known after apply)`, then a summary line.
    pub fn render(&self) -> String {
        self.render_styled(false)
    }

    /// [`Plan::render`], with ANSI colors when `color` is set: green
    /// creates, yellow updates, magenta replacements, red deletes.
    pub fn render_styled(&self, color: bool) -> String {
        let mut out = String::new();
        for read in &self.reads {
            let mut lines = read.lines().into_iter();
            if let Some(first) = lines.next() {
                let _ = writeln!(out, " <= {first}");
            }
            for line in lines {
                let _ = writeln!(out, "    {line}");
            }
        }
        for (name, type_name) in &self.dropped_reads {
            let _ = writeln!(
                out,
                " -  data source {name:?} ({type_name}) is no longer read: dropped from the state"
            );
        }
        // Resources of a component (`app/web`) are shown under a line
        // naming it, indented one step per level: a tree.
        let mut open: Vec<&str> = Vec::new();
        for c in self
            .changes
            .iter()
            .filter(|c| c.action.is_change() || c.renamed_from.is_some())
        {
            let path: Vec<&str> = crate::component::parent_of(&c.name)
                .map(|p| p.split('/').collect())
                .unwrap_or_default();
            let common = open.iter().zip(&path).take_while(|(a, b)| a == b).count();
            for (depth, segment) in path.iter().enumerate().skip(common) {
                let _ = writeln!(out, "{}{segment}/", "  ".repeat(depth));
            }
            open = path;
            if open.is_empty() {
                render_change(&mut out, c, color);
            } else {
                let mut block = String::new();
                render_change(&mut block, c, color);
                let indent = "  ".repeat(open.len());
                for line in block.lines() {
                    let _ = writeln!(out, "{indent}{line}");
                }
            }
        }
        if !self.has_changes() {
            out.push_str("No changes: the stack matches the program.\n");
            // Why an `up` of this plan still writes the state.
            if self.records_reads() {
                let record = self.reads.iter().filter(|r| r.to_record).count();
                let _ = writeln!(
                    out,
                    "Reads: {record} to record, {} to drop (the state keeps what the data sources answered).",
                    self.dropped_reads.len()
                );
            }
        }
        let s = self.summary();
        let _ = writeln!(
            out,
            "Plan: {} to create, {} to update, {} to replace, {} to delete.",
            s.create, s.update, s.replace, s.delete
        );
        out
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

fn render_change(out: &mut String, c: &Change, color: bool) {
    let symbol = match (c.action, c.replace_order) {
        (Action::Create, _) => "+",
        (Action::Import, _) => "<=",
        (Action::Update, _) => "~",
        (Action::Replace, ReplaceOrder::CreateBeforeDelete) => "+/-",
        (Action::Replace, ReplaceOrder::DeleteBeforeCreate) => "-/+",
        (Action::Delete, _) => "-",
        (Action::NoOp, _) => " ",
    };
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    };
    let code = match c.action {
        Action::Create => "32",
        Action::Import => "36",
        Action::Update => "33",
        Action::Replace => "35",
        Action::Delete => "31",
        Action::NoOp => "0",
    };
    let symbol = paint(code, symbol);
    let what = if c.deposed { " (deposed object)" } else { "" };
    let _ = write!(out, "{symbol} {} ({}){what}", c.name, c.type_name);
    if let Some(from) = &c.renamed_from {
        let _ = write!(out, " (renamed from {from})");
    }
    if let Some(id) = &c.import_id {
        let _ = write!(out, " (import {id})");
    }
    match (&c.flags.handover, c.action) {
        (Some(hook), Action::Replace) => {
            let _ = write!(out, " ({hook})");
        }
        _ if !c.replace_because.is_empty() => {
            let _ = write!(out, " (forced by {})", c.replace_because.join(", "));
        }
        _ => {}
    }
    out.push('\n');
    let empty = crate::value::ValueMap::new();
    let old = c
        .before
        .as_ref()
        .and_then(|b| b.inputs.as_map())
        .unwrap_or(&empty);
    let new = c.after.as_ref().and_then(Value::as_map).unwrap_or(&empty);
    match c.action {
        Action::Create | Action::Import => {
            for (k, v) in new {
                let _ = writeln!(out, "    {k} = {v}");
            }
        }
        Action::Update | Action::Replace => {
            for k in &c.fields {
                let a = old.get(k).map_or("(none)".to_owned(), Value::render);
                let b = new.get(k).map_or("(none)".to_owned(), Value::render);
                let mark = if c.replace_because.contains(k) {
                    "  # forces replacement"
                } else if old.get(k).is_some_and(crate::state::encryption::is_sealed) {
                    // Without the key the recorded secret cannot be compared.
                    "  # may change: the recorded secret is encrypted and no key was given"
                } else {
                    ""
                };
                let _ = writeln!(out, "    {k}: {a} → {b}{mark}");
            }
        }
        Action::Delete | Action::NoOp => {}
    }
}
