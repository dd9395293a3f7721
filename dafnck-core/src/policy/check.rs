//! Checking a program against [`Policies`]: at plan time over every
//! declared resource and the whole program, and at apply time over one
//! resource whose inputs were not all known when planned.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::rule::{Check, Findings, ResourceView, StackView};
use super::{date, Policies, Suppressed, Suppression, Violation};
use crate::name::Name;
use crate::plan::{Action, Plan};
use crate::resource::Location;
use crate::stack::{Desired, Node};
use crate::value::Value;

/// What checking a program found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PolicyReport {
    /// Every violation, suppressed ones included, in declaration order.
    pub violations: Vec<Violation>,
    /// How many resources were checked.
    pub resources: usize,
    /// How many rules were checked.
    pub rules: usize,
    /// Resources that will be created or updated with inputs not known at
    /// plan time: checked again at apply time, before the provider call.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub at_apply: Vec<String>,
}

impl PolicyReport {
    /// The violations that make `up` refuse.
    pub fn blocking(&self) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(|v| v.blocks())
    }

    /// Whether any violation makes `up` refuse.
    pub fn is_blocking(&self) -> bool {
        self.blocking().next().is_some()
    }

    /// The error `up` refuses with: every blocking violation.
    pub fn refusal(&self) -> Option<crate::Error> {
        let blocking: Vec<crate::Diagnostic> = self
            .blocking()
            .map(|v| crate::Diagnostic {
                resource: Some(v.resource.clone()),
                location: v.location.clone(),
                message: format!(
                    "violates {} ({}, {}){}: {}",
                    v.rule,
                    v.severity,
                    v.title,
                    if v.field.is_empty() {
                        String::new()
                    } else {
                        format!(" at {}", v.field)
                    },
                    v.message
                ),
            })
            .collect();
        (!blocking.is_empty()).then_some(crate::Error::PolicyViolations(blocking))
    }

    /// The violations as text, one per line, for under a plan.
    pub fn render(&self) -> String {
        if self.violations.is_empty() {
            return String::new();
        }
        let mut s = format!(
            "\nPolicy: {} violation(s) of {} rule(s) over {} resource(s):\n",
            self.violations.iter().filter(|v| v.counts()).count(),
            self.rules,
            self.resources
        );
        for v in &self.violations {
            let mark = match (&v.suppressed, v.blocks()) {
                (Some(sup), _) if !sup.expired => "suppressed",
                (_, true) => "MANDATORY",
                _ => "advisory",
            };
            s.push_str(&format!("  {mark:<10} {v}\n"));
            if let Some(sup) = &v.suppressed {
                let until = sup.until.as_deref().unwrap_or("no end");
                let state = if sup.expired { "expired" } else { "holds" };
                s.push_str(&format!(
                    "             suppression ({state}, until {until}): {}\n",
                    sup.reason
                ));
            }
        }
        if !self.at_apply.is_empty() {
            s.push_str(&format!(
                "  {} resource(s) with values known only at apply are checked again then.\n",
                self.at_apply.len()
            ));
        }
        s
    }
}

/// Checks every declared resource of `desired` and the program as a whole.
/// With `plan`, resources it creates, imports, updates or replaces whose
/// inputs refer to outputs not known yet are listed in
/// [`PolicyReport::at_apply`].
pub fn check(policies: &Policies, desired: &Desired, plan: Option<&Plan>) -> PolicyReport {
    let today = date::today();
    let mut report = PolicyReport {
        resources: desired.nodes.len(),
        rules: policies.rules().count(),
        ..PolicyReport::default()
    };
    if policies.is_empty() {
        return report;
    }
    let mut findings = Findings::default();
    for node in &desired.nodes {
        let view = ResourceView::of(node);
        check_one(
            policies,
            &view,
            &node.options.suppressions,
            today,
            &mut findings,
            &mut report.violations,
            false,
        );
    }
    let stack = StackView { desired };
    for &i in policies.stack_rules() {
        let Some((pack, rule)) = policies.rule(i) else {
            continue;
        };
        let Check::Stack(f) = &rule.check else {
            continue;
        };
        f(&stack, &mut findings);
        for (resource, field, message) in findings.found.drain(..) {
            let resource = resource.unwrap_or_default();
            let node = desired.node(&resource);
            let view = ResourceView {
                name: &resource,
                type_name: node.map_or("", |n| &n.type_name),
                inputs: &Value::Null,
                location: node.map(|n| &*n.location),
            };
            let sups = node.map_or(&[][..], |n| &n.options.suppressions[..]);
            report.violations.push(violation(
                policies, pack, rule, &view, sups, today, field, message, false,
            ));
        }
    }
    if let Some(plan) = plan {
        report.at_apply = plan
            .changes
            .iter()
            .filter(|c| {
                matches!(
                    c.action,
                    Action::Create | Action::Import | Action::Update | Action::Replace
                ) || c.recheck
            })
            .filter(|c| c.inputs.as_ref().is_some_and(|i| !i.is_fully_known()))
            .map(|c| c.name.to_string())
            .collect();
    }
    report
}

/// Checks one resource with its inputs resolved (at apply time): the
/// violations of rules over its type and over any resource.
pub fn check_resolved(policies: &Policies, node: &Node, inputs: &Value) -> Vec<Violation> {
    let view = ResourceView {
        inputs,
        ..ResourceView::of(node)
    };
    check_at_apply(policies, &view, &node.options.suppressions)
}

/// The violations of `view` (its inputs resolved at apply) under
/// `suppressions`.
fn check_at_apply(
    policies: &Policies,
    view: &ResourceView<'_>,
    suppressions: &[Suppression],
) -> Vec<Violation> {
    let mut out = Vec::new();
    check_one(
        policies,
        view,
        suppressions,
        date::today(),
        &mut Findings::default(),
        &mut out,
        true,
    );
    out
}

fn check_one(
    policies: &Policies,
    view: &ResourceView<'_>,
    suppressions: &[Suppression],
    today: i64,
    findings: &mut Findings,
    out: &mut Vec<Violation>,
    at_apply: bool,
) {
    for i in policies.resource_rules(view.type_name) {
        let Some((pack, rule)) = policies.rule(i) else {
            continue;
        };
        let (Check::Typed(_, f) | Check::Any(f)) = &rule.check else {
            continue;
        };
        f(view, findings);
        for (_, field, message) in findings.found.drain(..) {
            out.push(violation(
                policies,
                pack,
                rule,
                view,
                suppressions,
                today,
                field,
                message,
                at_apply,
            ));
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn violation(
    policies: &Policies,
    pack: &str,
    rule: &super::Rule,
    view: &ResourceView<'_>,
    suppressions: &[Suppression],
    today: i64,
    field: String,
    message: String,
    at_apply: bool,
) -> Violation {
    let suppressed = suppressions
        .iter()
        .find(|s| s.rule == rule.info.id)
        .map(|s| Suppressed {
            reason: s.reason.clone(),
            until: s.until.clone(),
            expired: !s.holds_on(today),
        });
    Violation {
        rule: rule.info.id,
        title: rule.info.title,
        severity: rule.info.severity,
        pack: pack.to_owned(),
        resource: view.name.to_owned(),
        type_name: view.type_name.to_owned(),
        field,
        message,
        location: view.location.cloned(),
        enforcement: policies.enforcement_of(pack, rule.info.id),
        suppressed,
        at_apply,
    }
}

/// Checks, at apply time, the resources whose inputs were not all known
/// when planned, before their provider call.
#[derive(Clone, Debug)]
pub struct PolicyGuard {
    policies: Arc<Policies>,
    /// The resources to check, by name, with what a rule sees of their
    /// declarations.
    nodes: HashMap<Name, Guarded>,
}

/// What a [`PolicyGuard`] keeps of a declared resource besides its name:
/// what a rule sees of it other than its inputs (which are checked as
/// resolved at apply). Not the whole [`Node`]: a guard lists every
/// resource created with a reference to another's output, and a `Node`
/// held in a map is about six times the size (measured at 10,000 such
/// resources: 6 MB of a 67 MB peak of `up`; BENCHMARKS.md §13).
#[derive(Clone, Debug)]
struct Guarded {
    type_name: Name,
    location: Arc<Location>,
    suppressions: Vec<Suppression>,
}

impl PolicyGuard {
    /// A guard over the resources `report` lists as checked at apply.
    pub fn new(policies: Arc<Policies>, desired: &Desired, report: &PolicyReport) -> Self {
        let nodes = report
            .at_apply
            .iter()
            .filter_map(|n| desired.node(n))
            .map(|node| {
                let guarded = Guarded {
                    type_name: node.type_name.clone(),
                    location: Arc::clone(&node.location),
                    suppressions: node.options.suppressions.clone(),
                };
                (node.name.clone(), guarded)
            })
            .collect();
        PolicyGuard { policies, nodes }
    }

    /// Whether it checks anything.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Checks resource `name` with its resolved `inputs`.
    ///
    /// # Errors
    /// Every blocking violation, as one message, when there is one.
    pub fn check(&self, name: &str, inputs: &Value) -> Result<(), String> {
        let Some(node) = self.nodes.get(name) else {
            return Ok(());
        };
        let view = ResourceView {
            name,
            type_name: &node.type_name,
            inputs,
            location: Some(&node.location),
        };
        let blocking: Vec<String> = check_at_apply(&self.policies, &view, &node.suppressions)
            .into_iter()
            .filter(Violation::blocks)
            .map(|v| {
                format!(
                    "{} ({}){}: {}",
                    v.rule,
                    v.severity,
                    if v.field.is_empty() {
                        String::new()
                    } else {
                        format!(" at {}", v.field)
                    },
                    v.message
                )
            })
            .collect();
        if blocking.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "refused by policy before the provider call (values known only at apply): {}",
                blocking.join("; ")
            ))
        }
    }
}
