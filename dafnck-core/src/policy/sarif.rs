//! SARIF 2.1.0 (what GitHub code scanning reads) from a policy check.

use serde_json::{json, Value as J};

use super::{Policies, PolicyReport, Severity};

/// The check as a SARIF 2.1.0 log: one run, the enabled rules as the
/// driver's rules (with their controls as tags), one result per violation
/// at the line that declared the resource; suppressed violations carry an
/// in-source suppression with its reason.
pub fn sarif(policies: &Policies, report: &PolicyReport) -> J {
    let rules: Vec<(&str, &super::Rule)> = policies.rules().collect();
    let descriptors: Vec<J> = rules
        .iter()
        .map(|(pack, r)| {
            let tags: Vec<String> = std::iter::once(r.info.category.to_owned())
                .chain(std::iter::once(format!("pack:{pack}")))
                .chain(
                    r.info
                        .controls
                        .iter()
                        .map(|c| format!("{} {}", c.standard.key(), c.id)),
                )
                .collect();
            json!({
                "id": r.info.id,
                "name": r.info.id.replace('-', ""),
                "shortDescription": { "text": r.info.title },
                "help": { "text": r.info.remediation },
                "defaultConfiguration": { "level": level(r.info.severity) },
                "properties": {
                    "tags": tags,
                    "severity": r.info.severity.as_str(),
                    "security-severity": security_severity(r.info.severity),
                }
            })
        })
        .collect();
    let results: Vec<J> = report
        .violations
        .iter()
        .map(|v| {
            let mut result = json!({
                "ruleId": v.rule,
                "level": level(v.severity),
                "message": { "text": format!("{} {:?}{}: {}", v.type_name, v.resource,
                    if v.field.is_empty() { String::new() } else { format!(" field {}", v.field) },
                    v.message) },
                "properties": {
                    "resource": v.resource,
                    "type": v.type_name,
                    "field": v.field,
                    "enforcement": v.enforcement.as_str(),
                }
            });
            if let Some(i) = rules.iter().position(|(_, r)| r.info.id == v.rule) {
                result["ruleIndex"] = json!(i);
            }
            if let Some(l) = &v.location {
                result["locations"] = json!([{
                    "physicalLocation": {
                        "artifactLocation": { "uri": l.file.replace('\\', "/") },
                        "region": { "startLine": l.line.max(1), "startColumn": l.column.max(1) }
                    },
                    "logicalLocations": [{ "name": v.resource, "kind": "resource" }]
                }]);
            }
            if let Some(s) = &v.suppressed {
                result["suppressions"] = json!([{
                    "kind": "inSource",
                    "status": if s.expired { "rejected" } else { "accepted" },
                    "justification": match &s.until {
                        Some(u) => format!("{} (until {u})", s.reason),
                        None => s.reason.clone(),
                    },
                }]);
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "dafnck-policy",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://crates.io/crates/dafnck-core",
                "rules": descriptors,
            }},
            "results": results,
        }]
    })
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// GitHub's numeric severity (critical ≥ 9, high ≥ 7, medium ≥ 4).
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
    }
}
