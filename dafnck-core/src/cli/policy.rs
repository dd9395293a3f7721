//! The `policy` verb, `preview --sarif` and the `violations` of
//! `preview --json`.

use std::path::Path;

use serde_json::json;

use super::args::PolicyCommand;
use crate::engine::Engine;
use crate::error::Error;
use crate::policy::{self, PolicyReport, Standard};
use crate::stack::Stack;

/// The `violations` list of `preview --json`: rule id, severity, resource,
/// type, field, message, location, enforcement and suppression of each.
pub(super) fn violations_json(report: Option<&PolicyReport>) -> serde_json::Value {
    report.map_or(json!([]), |r| {
        serde_json::to_value(&r.violations).unwrap_or_else(|_| json!([]))
    })
}

/// Writes the check as SARIF 2.1.0 to `path`.
pub(super) fn write_sarif(
    engine: &Engine,
    report: Option<&PolicyReport>,
    path: &Path,
) -> crate::Result<()> {
    let policies = engine.policies_in_force()?.unwrap_or_default();
    let empty = PolicyReport::default();
    let doc = policy::sarif(&policies, report.unwrap_or(&empty));
    let text = serde_json::to_string_pretty(&doc).expect("SARIF is plain JSON");
    std::fs::write(path, text + "\n")
        .map_err(|e| Error::Usage(format!("cannot write {}: {e}", path.display())))
}

/// Runs a `policy` subcommand.
pub(super) fn command<F>(engine: &Engine, program: F, command: &PolicyCommand) -> crate::Result<u8>
where
    F: FnOnce(&mut Stack) -> crate::Result<()>,
{
    let policies = engine.policies_in_force()?.unwrap_or_default();
    match command {
        PolicyCommand::List { json } => {
            if *json {
                let packs: Vec<serde_json::Value> = policies
                    .packs()
                    .iter()
                    .map(|p| {
                        json!({
                            "name": p.name,
                            "description": p.description,
                            "enabled": policies.is_enabled(&p.name),
                            "rules": p.rules.iter().map(|r| {
                                let mut v = serde_json::to_value(r.info).unwrap_or_default();
                                v["enforcement"] = json!(policies.enforcement_of(&p.name, r.info.id).as_str());
                                v["type"] = json!(r.type_name());
                                v
                            }).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                outln!("{}", json!({ "packs": packs }));
                return Ok(0);
            }
            for p in policies.packs() {
                let enabled = policies.is_enabled(&p.name);
                outln!(
                    "{} — {} ({} rules){}",
                    p.name,
                    p.description,
                    p.rules.len(),
                    if enabled { "" } else { " [disabled]" }
                );
                for r in &p.rules {
                    let controls: Vec<String> = r
                        .info
                        .controls
                        .iter()
                        .map(|c| format!("{} {}", c.standard.key(), c.id))
                        .collect();
                    outln!(
                        "  {:<12} {:<8} {:<9} {}",
                        r.info.id,
                        r.info.severity,
                        policies.enforcement_of(&p.name, r.info.id).as_str(),
                        r.info.title
                    );
                    if !controls.is_empty() {
                        outln!("  {:<31}controls: {}", "", controls.join(", "));
                    }
                }
            }
            Ok(0)
        }
        PolicyCommand::Report { standard, json } => {
            let standard = Standard::parse(standard).ok_or_else(|| {
                Error::Usage(format!(
                    "--standard {standard:?}: expected one of {}",
                    Standard::ALL.map(Standard::key).join(", ")
                ))
            })?;
            let desired = engine.desired(program)?;
            let checked = policy::check(&policies, &desired, None);
            let report = policy::compliance_report(&policies, &checked, standard);
            if *json {
                let controls: Vec<serde_json::Value> = report
                    .controls
                    .iter()
                    .map(|c| {
                        json!({
                            "id": c.control.id,
                            "title": c.control.title,
                            "rules": c.rules,
                            "violations": c.violations,
                            "suppressed": c.suppressed,
                            "passes": c.passes(),
                        })
                    })
                    .collect();
                outln!(
                    "{}",
                    json!({ "standard": standard.key(), "controls": controls, "passes": report.passes() })
                );
            } else {
                out!("{}", report.render());
            }
            Ok(if report.passes() { 0 } else { 2 })
        }
    }
}
