//! Compliance reports: for one standard, each control the enabled rules
//! map to, the rules that cover it, and whether the stack passes it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Control, Policies, PolicyReport, Standard};

/// One control of a [`ComplianceReport`].
#[derive(Clone, Debug, Serialize)]
pub struct ControlStatus {
    /// The control.
    pub control: Control,
    /// The ids of the rules that cover it.
    pub rules: Vec<&'static str>,
    /// Violations of those rules that count (not suppressed).
    pub violations: usize,
    /// Violations of those rules that are suppressed.
    pub suppressed: usize,
}

impl ControlStatus {
    /// Whether the stack meets the control as far as its rules can tell.
    pub fn passes(&self) -> bool {
        self.violations == 0
    }
}

/// A stack's standing against one standard.
#[derive(Clone, Debug, Serialize)]
pub struct ComplianceReport {
    /// The standard.
    pub standard: Standard,
    /// Each control the enabled rules cover, in control order.
    pub controls: Vec<ControlStatus>,
}

impl ComplianceReport {
    /// Whether every control passes.
    pub fn passes(&self) -> bool {
        self.controls.iter().all(ControlStatus::passes)
    }

    /// The report as text: one line per control.
    pub fn render(&self) -> String {
        let mut s = format!("{}\n", self.standard.title());
        for c in &self.controls {
            s.push_str(&format!(
                "  {} {:<16} {}  [{}]{}\n",
                if c.passes() { "PASS" } else { "FAIL" },
                c.control.id,
                c.control.title,
                c.rules.join(", "),
                match (c.violations, c.suppressed) {
                    (0, 0) => String::new(),
                    (v, 0) => format!(" {v} violation(s)"),
                    (v, sup) => format!(" {v} violation(s), {sup} suppressed"),
                }
            ));
        }
        let failed = self.controls.iter().filter(|c| !c.passes()).count();
        s.push_str(&format!(
            "{} control(s) covered, {} passed, {} failed\n",
            self.controls.len(),
            self.controls.len() - failed,
            failed
        ));
        s
    }
}

/// Maps `checked` (a check of the stack) onto `standard`'s controls.
pub fn compliance_report(
    policies: &Policies,
    checked: &PolicyReport,
    standard: Standard,
) -> ComplianceReport {
    let mut controls: BTreeMap<&'static str, ControlStatus> = BTreeMap::new();
    for (_, rule) in policies.rules() {
        for c in rule.info.controls.iter().filter(|c| c.standard == standard) {
            let entry = controls.entry(c.id).or_insert_with(|| ControlStatus {
                control: *c,
                rules: Vec::new(),
                violations: 0,
                suppressed: 0,
            });
            if !entry.rules.contains(&rule.info.id) {
                entry.rules.push(rule.info.id);
            }
        }
    }
    for status in controls.values_mut() {
        for v in checked
            .violations
            .iter()
            .filter(|v| status.rules.contains(&v.rule))
        {
            if v.counts() {
                status.violations += 1;
            } else {
                status.suppressed += 1;
            }
        }
    }
    ComplianceReport {
        standard,
        controls: controls.into_values().collect(),
    }
}
