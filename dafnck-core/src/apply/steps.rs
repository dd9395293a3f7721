//! From a plan to a graph of steps: which provider calls happen, and which
//! must finish before which.
//!
//! Ordering rules (an edge `a → b`: `b` waits for `a`):
//! 1. A resource is created/updated after the resources it depends on in
//!    the program are created/updated.
//! 2. An old object (deleted, or the old half of a replacement) is deleted
//!    after every object that recorded a dependency on it is deleted, and —
//!    unless it is deleted first to make room (delete-before-replace) —
//!    after those that stay have been moved off it (created/updated).
//! 3. Create-before-delete: the new half first; delete-before-replace: the
//!    old half first.

use std::collections::HashMap;

use crate::graph::DepGraph;
use crate::plan::{Action, Change, Plan, ReplaceOrder};
use crate::state::State;

use crate::report::StepKind;

/// One step: a provider call (or a state-only record) for one change.
#[derive(Clone, Debug)]
pub(crate) struct Step {
    /// Index into the plan's changes.
    pub change: usize,
    /// What it does.
    pub kind: StepKind,
    /// Whether it is the first step of its change (it records a rename).
    pub first: bool,
}

pub(crate) struct StepGraph {
    pub steps: Vec<Step>,
    pub deps: DepGraph,
}

/// Whether a step of this kind resolves its change's inputs from the
/// outputs of the resources it depends on.
pub(crate) fn reads_inputs(kind: StepKind) -> bool {
    matches!(
        kind,
        StepKind::Create
            | StepKind::Import
            | StepKind::Update
            | StepKind::Recheck
            | StepKind::CreateReplacement
    )
}

/// Whether a no-op change still has something to record: the planner keeps
/// the recorded object on a no-op only for a rename or changed options.
pub(crate) fn needs_record(c: &Change) -> bool {
    c.action == Action::NoOp && !c.recheck && c.before.is_some()
}

pub(crate) fn build(plan: &Plan, _state: &State) -> StepGraph {
    let mut steps: Vec<Step> = Vec::with_capacity(plan.changes.len());
    let mut edges: Vec<(usize, usize)> = Vec::new();
    let mut make: HashMap<&str, usize> = HashMap::new();
    // Recorded name → (step deleting its current object, deleted first?).
    let mut old_delete: HashMap<&str, (usize, bool)> = HashMap::new();
    // (change, step) of each deposed object's delete.
    let mut deposed: Vec<(usize, usize)> = Vec::new();

    let push = |steps: &mut Vec<Step>, change: usize, kind: StepKind, first: bool| {
        steps.push(Step {
            change,
            kind,
            first,
        });
        steps.len() - 1
    };

    for (ci, c) in plan.changes.iter().enumerate() {
        match c.action {
            Action::Create => {
                let s = push(&mut steps, ci, StepKind::Create, true);
                make.insert(&c.name, s);
            }
            Action::Import => {
                let s = push(&mut steps, ci, StepKind::Import, true);
                make.insert(&c.name, s);
            }
            Action::Update => {
                let s = push(&mut steps, ci, StepKind::Update, true);
                make.insert(&c.name, s);
            }
            Action::NoOp if c.recheck => {
                let s = push(&mut steps, ci, StepKind::Recheck, true);
                make.insert(&c.name, s);
            }
            Action::NoOp => {
                if needs_record(c) {
                    push(&mut steps, ci, StepKind::Record, true);
                }
            }
            Action::Replace => match c.replace_order {
                ReplaceOrder::CreateBeforeDelete => {
                    let a = push(&mut steps, ci, StepKind::CreateReplacement, true);
                    let d = push(&mut steps, ci, StepKind::DeleteReplaced, false);
                    edges.push((a, d));
                    make.insert(&c.name, a);
                    old_delete.insert(&c.name, (d, false));
                }
                ReplaceOrder::DeleteBeforeCreate => {
                    let d = push(&mut steps, ci, StepKind::DeleteReplaced, true);
                    let a = push(&mut steps, ci, StepKind::CreateReplacement, false);
                    edges.push((d, a));
                    make.insert(&c.name, a);
                    old_delete.insert(&c.name, (d, true));
                }
            },
            Action::Delete if c.deposed => {
                let d = push(&mut steps, ci, StepKind::DeleteDeposed, true);
                deposed.push((ci, d));
            }
            Action::Delete => {
                let kind = if c.flags.retain_on_delete {
                    StepKind::Forget
                } else {
                    StepKind::Delete
                };
                let d = push(&mut steps, ci, kind, true);
                old_delete.insert(&c.name, (d, false));
            }
        }
    }

    // Rule 1.
    for (s, step) in steps.iter().enumerate() {
        if make.get(plan.changes[step.change].name.as_str()) != Some(&s) {
            continue;
        }
        for dep in plan.changes[step.change].dependencies.iter() {
            if let Some(&m) = make.get(dep.as_str()) {
                edges.push((m, s));
            }
        }
    }

    // Rule 2: recorded users of each recorded name. A dependency recorded
    // under a name an alias renames in this plan means the new name.
    let renamed: HashMap<&str, &str> = plan
        .changes
        .iter()
        .filter_map(|c| Some((c.renamed_from.as_deref()?, c.name.as_str())))
        .collect();
    let mut users: HashMap<&str, Vec<usize>> = HashMap::new();
    for (ci, c) in plan.changes.iter().enumerate() {
        if let Some(b) = &c.before {
            for dep in &b.dependencies {
                users.entry(current(&renamed, dep)).or_default().push(ci);
            }
        }
    }
    // The step deleting each change's old object, by change.
    let deletes: HashMap<usize, usize> = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            matches!(
                s.kind,
                StepKind::Delete
                    | StepKind::Forget
                    | StepKind::DeleteReplaced
                    | StepKind::DeleteDeposed
            )
        })
        .map(|(i, s)| (s.change, i))
        .collect();
    // "Move users off an old object before deleting it" edges are soft: a
    // replaced user's old half is deleted first anyway, and where the soft
    // edges close a cycle (a user updated onto a resource that is itself
    // replaced delete-first) they give way, since no order satisfies both.
    let mut soft: Vec<(usize, usize)> = Vec::new();
    for (name, &(d, deleted_first)) in &old_delete {
        for &u in users.get(name).map(Vec::as_slice).unwrap_or(&[]) {
            let user = plan.changes[u].name.as_str();
            match deletes.get(&u) {
                // A deposed user may have depended on an older object of
                // this name: ordered when an order exists.
                Some(&du) if du != d && plan.changes[u].deposed => soft.push((du, d)),
                Some(&du) if du != d => edges.push((du, d)),
                Some(_) => {}
                None if !deleted_first => {
                    if let Some(&mu) = make.get(user) {
                        soft.push((mu, d));
                    }
                }
                None => {}
            }
        }
    }
    // A deposed object (the old half of a replacement that did not finish)
    // still holds what recorded a dependency on its name: it goes after
    // them, like the old half of a create-before-delete replacement. Which
    // object of the name a user meant is not recorded, so these are soft.
    for &(ci, d) in &deposed {
        let name = current(&renamed, &plan.changes[ci].name);
        for &u in users.get(name).map(Vec::as_slice).unwrap_or(&[]) {
            match deletes.get(&u) {
                Some(&du) if du != d => soft.push((du, d)),
                Some(_) => {}
                None => {
                    if let Some(&mu) = make.get(plan.changes[u].name.as_str()) {
                        soft.push((mu, d));
                    }
                }
            }
        }
    }

    let graph = |soft: &[(usize, usize)]| {
        let mut deps = DepGraph::new(steps.len());
        for &(a, b) in edges.iter().chain(soft) {
            deps.add_edge(a, b);
        }
        deps
    };
    let mut deps = graph(&soft);
    let cycles = deps.cycles();
    if !cycles.is_empty() {
        let mut in_cycle = vec![usize::MAX; steps.len()];
        for (k, cycle) in cycles.iter().enumerate() {
            for &s in cycle {
                in_cycle[s] = k;
            }
        }
        soft.retain(|&(a, b)| in_cycle[a] == usize::MAX || in_cycle[a] != in_cycle[b]);
        deps = graph(&soft);
    }
    StepGraph { steps, deps }
}

/// The name `name` has once this plan's renames are done.
fn current<'a>(renamed: &HashMap<&'a str, &'a str>, name: &'a str) -> &'a str {
    renamed.get(name).copied().unwrap_or(name)
}
