//! Checking a program against [`Policies`]: at plan time over every
//! declared resource and the whole program, and at apply time over one
//! resource whose inputs were not all known when planned.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

use super::rule::{Check, Findings, ResourceView, StackView, StringCheck, TypeIndex};
use super::{date, walk, Policies, Suppressed, Suppression, Violation};
use crate::name::Name;
use crate::plan::{Action, Change, Plan};
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
///
/// This is a pass over the program of its own. Planning and checking a
/// large program together is cheaper with
/// [`planner::plan_checked`](crate::planner::plan_checked), which checks
/// each resource as it plans it, while its inputs are in cache (the same
/// report).
pub fn check(policies: &Policies, desired: &Desired, plan: Option<&Plan>) -> PolicyReport {
    let mut checker = Checker::new(policies);
    if !policies.is_empty() {
        for (i, node) in desired.nodes.iter().enumerate() {
            checker.resource(i, node);
        }
    }
    checker.finish(desired, plan)
}

/// The resources `plan` creates, imports, updates or replaces (or
/// re-checks) with inputs not all known at plan time: checked again at
/// apply, before the provider call.
pub(crate) fn at_apply(plan: &Plan) -> Vec<String> {
    plan.changes
        .iter()
        .filter(|c| checked_at_apply(c))
        .map(|c| c.name.to_string())
        .collect()
}

/// Whether `change` is checked again at apply: it creates, imports, updates
/// or replaces (or re-checks) with inputs not all known now.
fn checked_at_apply(change: &Change) -> bool {
    (matches!(
        change.action,
        Action::Create | Action::Import | Action::Update | Action::Replace
    ) || change.recheck)
        && change.inputs.as_ref().is_some_and(|i| !i.is_fully_known())
}

/// Checks a program's resources one at a time, in whatever order a pass
/// over them meets them, then the program as a whole. [`check`] makes a
/// pass of its own; the planner feeds it each resource as it plans it
/// ([`crate::planner::plan_checked`]), when the resource's inputs are in
/// cache: at 100,000 resources a second pass over their values costs
/// about half of planning them (BENCHMARKS.md §18).
pub(crate) struct Checker<'a> {
    policies: &'a Policies,
    today: i64,
    scratch: Scratch<'a>,
    /// Each violation found, with the index of its resource.
    violations: Vec<(u32, Violation)>,
    /// The resources checked.
    resources: usize,
    /// The last type met (a program declares many resources of a type in
    /// a row): its rules and its slot in `types`.
    last_type: Option<(&'a str, &'a [usize], usize)>,
    /// The resources of each type, for the rules over the program (built
    /// only when there are some).
    types: TypeIndex<'a>,
    /// What the planner found to check at apply, as it planned; `None`
    /// when the plan is read afterwards.
    at_apply: Option<Vec<String>>,
}

impl<'a> Checker<'a> {
    pub(crate) fn new(policies: &'a Policies) -> Self {
        Checker {
            policies,
            today: date::today(),
            scratch: Scratch::new(policies),
            violations: Vec::new(),
            resources: 0,
            last_type: None,
            types: TypeIndex::default(),
            at_apply: None,
        }
    }

    /// Checks resource `i` of the program, `node`, against the rules over
    /// its type and over any resource.
    pub(crate) fn resource(&mut self, i: usize, node: &'a Node) {
        self.resources += 1;
        let policies = self.policies;
        let type_name = node.type_name.as_str();
        // Resources of one type share its name's allocation: the same
        // pointer is the same type, without comparing or hashing.
        let (typed, slot) = match self.last_type {
            Some((t, typed, slot)) if std::ptr::eq(t, type_name) || t == type_name => (typed, slot),
            _ => {
                let typed = policies.typed_rules(type_name);
                let slot = if policies.stack_rules().is_empty() {
                    0
                } else {
                    self.types.slot(type_name)
                };
                self.last_type = Some((type_name, typed, slot));
                (typed, slot)
            }
        };
        if !policies.stack_rules().is_empty() {
            self.types.push(slot, i);
        }
        let view = ResourceView::of(node);
        let violations = &mut self.violations;
        self.scratch.check(
            policies,
            typed,
            &view,
            &node.options.suppressions,
            self.today,
            false,
            &mut |v| violations.push((i as u32, v)),
        );
    }

    /// The planner planned `change` (of a resource checked already): notes
    /// it if it is to be checked again at apply.
    pub(crate) fn planned(&mut self, change: &Change) {
        let at_apply = self.at_apply.get_or_insert_with(Vec::new);
        if checked_at_apply(change) {
            at_apply.push(change.name.to_string());
        }
    }

    /// Checks the program as a whole and reports every violation, those of
    /// resources in declaration order, then those of the rules over the
    /// program; with `plan` (what the program was planned as, if the
    /// planner fed this checker: its final form, after any restriction to
    /// targets), what is checked again at apply.
    pub(crate) fn finish(self, desired: &'a Desired, plan: Option<&Plan>) -> PolicyReport {
        let policies = self.policies;
        let mut report = PolicyReport {
            resources: desired.nodes.len(),
            rules: policies.rules().count(),
            ..PolicyReport::default()
        };
        let mut violations = self.violations;
        // A pass in dependency order meets resources out of declaration
        // order; the sort is stable, so each resource's violations keep
        // the order of its rules.
        if !violations.is_sorted_by_key(|(i, _)| *i) {
            violations.sort_by_key(|(i, _)| *i);
        }
        report.violations = violations.into_iter().map(|(_, v)| v).collect();
        if policies.is_empty() {
            return report;
        }
        debug_assert_eq!(
            self.resources,
            desired.nodes.len(),
            "every resource checked"
        );
        let mut types = self.types;
        types.sort();
        let stack = StackView {
            desired,
            types: &types,
        };
        let mut findings = Findings::default();
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
                    policies, pack, rule, &view, sups, self.today, field, message, false,
                ));
            }
        }
        if let Some(plan) = plan {
            report.at_apply = match self.at_apply {
                // Restricted to targets after planning: only those kept.
                Some(found) if !plan.targets.is_empty() => {
                    let kept: HashSet<&str> =
                        plan.changes.iter().map(|c| c.name.as_str()).collect();
                    found
                        .into_iter()
                        .filter(|n| kept.contains(n.as_str()))
                        .collect()
                }
                Some(found) => found,
                None => at_apply(plan),
            };
        }
        report
    }
}

/// What checking one resource needs besides the resource: buffers kept
/// from one resource to the next (checking clean inputs allocates
/// nothing), and the rules over plain strings, fed by one walk.
struct Scratch<'a> {
    findings: Findings,
    strings: Vec<&'a StringCheck>,
    /// What each rule of `strings` flagged in the resource being checked.
    found: Vec<Findings>,
}

impl<'a> Scratch<'a> {
    fn new(policies: &'a Policies) -> Self {
        let strings: Vec<&'a StringCheck> = policies
            .string_rules()
            .iter()
            .filter_map(|&i| match &policies.rule(i)?.1.check {
                Check::Strings(f) => Some(&**f),
                _ => None,
            })
            .collect();
        Scratch {
            findings: Findings::default(),
            found: strings.iter().map(|_| Findings::default()).collect(),
            strings,
        }
    }

    /// Checks `view` against the rules `typed` (over its type), then those
    /// over any resource, giving each violation to `out` in that order.
    #[allow(clippy::too_many_arguments)]
    fn check(
        &mut self,
        policies: &Policies,
        typed: &[usize],
        view: &ResourceView<'_>,
        suppressions: &[Suppression],
        today: i64,
        at_apply: bool,
        out: &mut dyn FnMut(Violation),
    ) {
        walk::strings(view, &self.strings, &mut self.found);
        let mut next_string = 0;
        for &i in typed.iter().chain(policies.any_rules()) {
            let Some((pack, rule)) = policies.rule(i) else {
                continue;
            };
            let found = match &rule.check {
                Check::Typed(_, f) | Check::Any(f) => {
                    f(view, &mut self.findings);
                    &mut self.findings
                }
                Check::Strings(_) => {
                    next_string += 1;
                    &mut self.found[next_string - 1]
                }
                Check::Stack(_) => continue,
            };
            for (_, field, message) in found.found.drain(..) {
                out(violation(
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
    Scratch::new(policies).check(
        policies,
        policies.typed_rules(view.type_name),
        view,
        suppressions,
        date::today(),
        true,
        &mut |v| out.push(v),
    );
    out
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
