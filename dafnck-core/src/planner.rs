//! The planner: (desired graph, recorded state) → [`Plan`]. It is pure and
//! synchronous, O(V + E): it never calls a mutating provider method, only
//! [`Provider::diff`](crate::Provider::diff), which must not touch the cloud.
//!
//! Outputs of resources that will be created or replaced are unknown while
//! planning; fields referring to them are [`Value::Unknown`], never guessed.
//! Outputs of resources updated in place keep their recorded values: an
//! in-place update does not change an object's identity.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::computed::ComputeError;
use crate::error::{Diagnostic, Error};
use crate::name::Name;
use crate::plan::{Action, Change, ChangeFlags, Plan, ReplaceOrder, StateBinding};
use crate::policy::{Checker, Policies, PolicyReport};
use crate::provider::{Diff, DiffRequest, Providers};
use crate::resource::Timeouts;
use crate::stack::{Desired, Node};
use crate::state::{ResourceState, State};
use crate::value::{OutputRef, Value};

/// Plans the changes that bring `state` to `desired`.
///
/// The state must have no pending operations (resolve them first with
/// [`crate::recover`]).
///
/// # Errors
/// - [`Error::Program`] listing every reference to an output field the
///   referenced resource does not have, and every resource whose provider
///   is missing.
/// - [`Error::PlanRefused`] naming every protected resource the plan would
///   delete or replace.
pub fn plan(desired: &Desired, state: &State, providers: &Providers) -> crate::Result<Plan> {
    plan_bound(desired, state, providers, None, None)
}

/// [`plan`], checking the program against `policies` as it plans: the plan
/// and the report [`policy::check`](crate::policy::check) gives for it.
///
/// Each resource is checked when the planner reaches it, while its inputs
/// are in cache from comparing them with the recorded ones, on the thread
/// that plans while a second one hashes the state: at 100,000 resources
/// on a quiet machine it added at most 1.5% to the plan's time, where a
/// check of its own afterwards costs about a quarter of it
/// (BENCHMARKS.md §18).
///
/// # Errors
/// As [`plan`].
pub fn plan_checked(
    desired: &Desired,
    state: &State,
    providers: &Providers,
    policies: &Policies,
) -> crate::Result<(Plan, PolicyReport)> {
    let mut checker = Checker::new(policies);
    let plan = plan_bound(desired, state, providers, None, Some(&mut checker))?;
    let report = checker.finish(desired, Some(&plan));
    Ok((plan, report))
}

/// From this many recorded resources on, the state's fingerprint is
/// computed on a second thread while the changes are planned: hashing walks
/// the whole state, a tenth to a fifth of the work of planning.
const FINGERPRINT_ALONGSIDE: usize = 2_000;

/// [`plan`], bound to `base` when given (the state as stored, when `state`
/// is that state with pending operations resolved or refreshed in memory),
/// else to `state`; with `checker`, each resource is checked against its
/// policies as it is planned (the caller finishes the check).
pub(crate) fn plan_bound<'a>(
    desired: &'a Desired,
    state: &State,
    providers: &Providers,
    base: Option<StateBinding>,
    checker: Option<&mut Checker<'a>>,
) -> crate::Result<Plan> {
    let (planned, base) = match base {
        Some(base) => (plan_changes(desired, state, providers, checker), base),
        None if state.resources.len() >= FINGERPRINT_ALONGSIDE => std::thread::scope(|s| {
            let hashing = std::thread::Builder::new()
                .name("dafnck-fingerprint".into())
                .spawn_scoped(s, || StateBinding::of(state));
            let planned = plan_changes(desired, state, providers, checker);
            let base = match hashing {
                Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
                // No thread to be had: hash here.
                Err(_) => StateBinding::of(state),
            };
            (planned, base)
        }),
        None => (
            plan_changes(desired, state, providers, checker),
            StateBinding::of(state),
        ),
    };
    let mut plan = planned?;
    plan.base = base;
    Ok(plan)
}

/// The plan's changes and exports; its base is left for the caller. Each
/// resource is given to `checker` as it is reached.
fn plan_changes<'a>(
    desired: &'a Desired,
    state: &State,
    providers: &Providers,
    mut checker: Option<&mut Checker<'a>>,
) -> crate::Result<Plan> {
    let mut plan = Plan::new(&desired.stack, StateBinding::unbound(), false);
    let mut problems = Vec::new();

    // The recorded object of each desired resource: matched by name in one
    // pass over the state (a hash lookup each, no search of the state's
    // tree per resource), then by alias for those left.
    let mut recorded_for: Vec<Option<(&Arc<ResourceState>, Option<String>)>> =
        vec![None; desired.nodes.len()];
    // Whether each recorded object (in the state's order) is claimed by name.
    let mut claimed = Vec::with_capacity(state.resources.len());
    for (name, r) in &state.resources {
        let found = desired.position(name);
        if let Some(i) = found {
            recorded_for[i] = Some((r, None));
        }
        claimed.push(found.is_some());
    }
    // Recorded names claimed through an alias (those claimed by name are
    // the desired names).
    let mut by_alias: HashSet<&str> = HashSet::new();
    for (node, found) in desired.nodes.iter().zip(&mut recorded_for) {
        if found.is_some() || node.options.aliases.is_empty() {
            continue;
        }
        *found = node.options.aliases.iter().find_map(|alias| {
            let taken = desired.position(alias).is_some();
            state
                .resources
                .get(alias)
                .filter(|_| !taken)
                .map(|r| (r, Some(alias.clone())))
        });
        if let Some((r, _)) = found {
            by_alias.insert(&r.name);
        }
    }

    // An import must not adopt an object another resource already manages.
    if desired.nodes.iter().any(|n| n.options.import.is_some()) {
        let managed: HashMap<(&str, &str), &str> = state
            .resources
            .values()
            .map(|r| ((r.type_name.as_str(), r.id.as_str()), r.name.as_str()))
            .collect();
        for (node, recorded) in desired.nodes.iter().zip(&recorded_for) {
            let Some(id) = &node.options.import else {
                continue;
            };
            if recorded.is_some() {
                continue;
            }
            if let Some(owner) = managed.get(&(node.type_name.as_str(), id.as_str())) {
                problems.push(Diagnostic {
                    resource: Some(node.name.to_string()),
                    location: Some((*node.location).clone()),
                    message: format!("imports {id:?}, which resource {owner:?} already manages"),
                });
            }
        }
    }

    // Per desired resource, by index (references name their dependencies,
    // whose indices the checked program holds: no lookups by name here):
    // its outputs when known at plan time (None: unknown until apply);
    let n = desired.nodes.len();
    let mut known: Vec<Option<&Value>> = vec![None; n];
    // whether it is replaced delete-first (its dependents that are replaced
    // must be too, or the order would be a cycle);
    let mut dbr = vec![false; n];
    // whether it is made only after a delete-first replacement's old object
    // is deleted (it depends on one, directly or through others);
    let mut after_dbr = vec![false; n];
    // whether its outputs may change in place (updated, or re-checked): its
    // unchanged dependents are re-checked at apply.
    let mut updated = vec![false; n];
    // Desired resources first, in dependency order, then deletes; written
    // in place (one change per resource, no second copy of the list).
    plan.changes
        .reserve(desired.nodes.len() + state.deposed.len());

    let mut flags = SharedFlags::default();
    let mut last_provider: Option<(&str, Option<&str>, &Arc<dyn crate::Provider>)> = None;
    for &i in &desired.order {
        let node = &desired.nodes[i];
        // Checked first: the walk of its inputs brings them into cache for
        // the comparison below (or the comparison would for the walk).
        if let Some(c) = checker.as_deref_mut() {
            c.resource(i, node);
        }
        let recorded = recorded_for[i].as_ref();
        let deps = desired.dependency_indices(i);
        let refs = Refs { desired, i };
        // A program declares many resources of a type in a row: the last
        // type's provider is reused without hashing its package again.
        let instance = node.options.provider.as_deref();
        let found = match &last_provider {
            Some((t, n, p)) if *t == node.type_name.as_str() && *n == instance => Ok(*p),
            _ => {
                providers.for_instance(&node.name, &node.type_name, instance, Some(&*node.location))
            }
        };
        let provider = match found {
            Ok(p) => {
                last_provider = Some((node.type_name.as_str(), instance, p));
                p
            }
            Err(e) => {
                resolved_inputs(node, &refs, &known, &mut problems);
                problems.push(Diagnostic {
                    resource: Some(node.name.to_string()),
                    location: Some((*node.location).clone()),
                    message: e.to_string(),
                });
                continue;
            }
        };
        let mut change = Change {
            name: node.name.clone(),
            type_name: node.type_name.clone(),
            action: Action::NoOp,
            before: None,
            after: None,
            inputs: None,
            fields: Vec::new(),
            replace_because: Vec::new(),
            replace_order: ReplaceOrder::default(),
            dependencies: Arc::clone(&node.dependencies),
            flags: flags.of(node),
            import_id: None,
            renamed_from: recorded.and_then(|(_, alias)| alias.clone()),
            deposed: false,
            recheck: false,
            location: Some(Arc::clone(&node.location)),
        };
        // Why a new object of this resource cannot exist beside its old one.
        let mut conflict = None;
        match recorded {
            None => {
                let resolved = resolved_inputs(node, &refs, &known, &mut problems);
                change.action = if let Some(id) = &node.options.import {
                    change.import_id = Some(id.clone());
                    Action::Import
                } else {
                    Action::Create
                };
                change.fields = resolved
                    .as_map()
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                change.after = Some(resolved);
                change.inputs = Some(Arc::clone(&node.inputs));
            }
            Some((old, _))
                if old.type_name != node.type_name || old.provider != node.options.provider =>
            {
                // A new type, or another provider instance (another region
                // or account): a new object there, the old one deleted
                // through the instance that made it.
                let why = if old.type_name != node.type_name {
                    "type"
                } else {
                    "provider"
                };
                let resolved = resolved_inputs(node, &refs, &known, &mut problems);
                change.action = Action::Replace;
                change.replace_because = vec![why.into()];
                change.fields = vec![why.into()];
                change.after = Some(resolved);
                change.inputs = Some(Arc::clone(&node.inputs));
                change.before = Some(Arc::clone(old));
            }
            Some((old, _)) => {
                // Inputs equal to the recorded ones are no change: most
                // resources of a large stack are decided here, without
                // building their resolved inputs or asking the provider.
                let mut next = refs.in_order();
                let unchanged = node.inputs.equals_resolved(&old.inputs, &mut |r| {
                    next(r)
                        .and_then(|d| known[d])
                        .and_then(|outputs| outputs.get(&r.field))
                });
                let mut resolved = None;
                let diff = if unchanged {
                    Diff::default()
                } else {
                    let new_inputs =
                        resolved.insert(resolved_inputs(node, &refs, &known, &mut problems));
                    provider.diff(&DiffRequest {
                        name: &node.name,
                        type_name: &node.type_name,
                        old_inputs: &old.inputs,
                        new_inputs,
                        force_new: &node.force_new,
                        ignore_changes: &node.options.ignore_changes,
                    })
                };
                change.fields = diff.changed;
                conflict = diff.replace_conflict;
                if !diff.replace_because.is_empty() {
                    change.action = Action::Replace;
                    change.replace_because = diff.replace_because;
                } else if change.flags.handover.is_some() && !change.fields.is_empty() {
                    // A handover takes every change beside the old object:
                    // a replacement, with the hook between create and
                    // delete.
                    change.action = Action::Replace;
                    change.replace_because = change.fields.clone();
                } else {
                    change.action = if change.fields.is_empty() {
                        Action::NoOp
                    } else {
                        Action::Update
                    };
                    known[i] = Some(&old.outputs);
                }
                // A no-op carries the recorded object only when there is
                // something to record (a rename, changed options), and no
                // inputs: planning a large unchanged stack copies nothing.
                let record = change.renamed_from.is_some() || options_changed(old, &change);
                // An in-place update keeps an object's identity but may change
                // an output a dependent uses; re-resolve that dependent at
                // apply and update it then if so, in the same run.
                change.recheck =
                    change.action == Action::NoOp && deps.iter().any(|&d| updated[d as usize]);
                updated[i] = change.action == Action::Update || change.recheck;
                if change.action != Action::NoOp {
                    let resolved = resolved
                        .unwrap_or_else(|| resolved_inputs(node, &refs, &known, &mut problems));
                    let (after, inputs) = keep_ignored(resolved, node, old);
                    change.after = Some(after);
                    change.inputs = Some(inputs);
                } else if change.recheck {
                    // The executor resolves these again; what the plan shows
                    // of a no-op is nothing.
                    change.inputs = Some(ignoring(node, old));
                }
                if change.action != Action::NoOp || record {
                    change.before = Some(Arc::clone(old));
                }
            }
        }
        let waits_on_dbr = deps
            .iter()
            .any(|&d| dbr[d as usize] || after_dbr[d as usize]);
        if change.action == Action::Replace {
            let dependency_dbr = deps.iter().any(|&d| dbr[d as usize]);
            // Made first, the new object would wait on an old object's
            // delete that may wait (through the deletes of what the old
            // object of this one recorded as dependencies) on deleting this
            // old object: a cycle. Deleting this one first breaks it.
            let old_depends = change
                .before
                .as_ref()
                .is_some_and(|b| !b.dependencies.is_empty());
            if node.options.delete_before_replace || dependency_dbr || (waits_on_dbr && old_depends)
            {
                change.replace_order = ReplaceOrder::DeleteBeforeCreate;
                dbr[i] = true;
                if let Some(hook) = &change.flags.handover {
                    problems.push(Diagnostic {
                        resource: Some(node.name.to_string()),
                        location: Some((*node.location).clone()),
                        message: format!(
                            "it is handed over ({hook}), which needs the new object beside the old one, but it must be deleted before it is replaced ({})",
                            if node.options.delete_before_replace {
                                "delete_before_replace is set"
                            } else {
                                "a resource it depends on is replaced delete-first"
                            }
                        ),
                    });
                }
            } else if let Some(why) = conflict {
                problems.push(Diagnostic {
                    resource: Some(node.name.to_string()),
                    location: Some((*node.location).clone()),
                    message: match &change.flags.handover {
                        Some(hook) => format!(
                            "it is handed over ({hook}), which needs the new object beside the old one, but {why}"
                        ),
                        None => format!(
                            "it is replaced ({}) by creating the new object before deleting the old one, but {why} (or declare it with delete_before_replace)",
                            change.replace_because.join(", ")
                        ),
                    },
                });
            }
        }
        after_dbr[i] = waits_on_dbr;
        if let Some(c) = checker.as_deref_mut() {
            c.planned(&change);
        }
        plan.changes.push(change);
    }

    let mut refused = Vec::new();
    for change in &plan.changes {
        if change.action.is_destructive() && change.flags.protect {
            refused.push(protected(change));
        }
    }
    // `plan_deletes` walks the state in the same order as the pass above.
    let mut claimed = claimed.into_iter();
    plan_deletes(
        state,
        |name| claimed.next().unwrap_or(false) || by_alias.contains(name),
        &mut plan,
        &mut refused,
    );
    plan.exports = desired.exports.clone();

    if !problems.is_empty() {
        return Err(Error::Program(problems));
    }
    if !refused.is_empty() {
        return Err(Error::PlanRefused(refused));
    }
    Ok(plan)
}

/// Keeps only the changes of `targets` and of the resources they depend on
/// (transitively); a target may also name a recorded resource that left the
/// program, whose delete is kept. Everything else is left as it is.
///
/// # Errors
/// [`Error::Program`] naming every target that is neither declared nor recorded.
pub fn restrict(plan: &mut Plan, desired: &Desired, targets: &[String]) -> crate::Result<()> {
    let mut keep: HashSet<&str> = HashSet::new();
    let mut problems = Vec::new();
    let mut stack: Vec<&str> = Vec::new();
    for t in targets {
        if desired.position(t).is_some() {
            stack.push(t);
        } else if plan.changes.iter().any(|c| c.name == *t) {
            keep.insert(t);
        } else {
            problems.push(Diagnostic {
                resource: Some(t.clone()),
                location: None,
                message: "is targeted, but the program does not declare it and the state does not record it".into(),
            });
        }
    }
    while let Some(name) = stack.pop() {
        if !keep.insert(name) {
            continue;
        }
        if let Some(node) = desired.node(name) {
            stack.extend(node.dependencies.iter().map(Name::as_str));
        }
    }
    if !problems.is_empty() {
        return Err(Error::Program(problems));
    }
    let keep: HashSet<String> = keep.into_iter().map(str::to_owned).collect();
    plan.changes.retain(|c| keep.contains(c.name.as_str()));
    // Exports referring to resources left out would be resolved from stale
    // outputs; a targeted run leaves the exports as they were.
    plan.exports.clear();
    plan.targets = targets.to_vec();
    Ok(())
}

/// Plans the deletion of everything `state` records.
///
/// # Errors
/// [`Error::PlanRefused`] naming every protected resource.
pub fn plan_destroy(state: &State) -> crate::Result<Plan> {
    plan_destroy_bound(state, StateBinding::of(state))
}

/// [`plan_destroy`], bound to `base` (see [`plan_bound`]).
pub(crate) fn plan_destroy_bound(state: &State, base: StateBinding) -> crate::Result<Plan> {
    let mut plan = Plan::new(&state.stack, base, true);
    let mut refused = Vec::new();
    plan_deletes(state, |_| false, &mut plan, &mut refused);
    if !refused.is_empty() {
        return Err(Error::PlanRefused(refused));
    }
    Ok(plan)
}

/// Deletes every recorded object not kept, and every deposed one; the
/// protected ones are also refused. `keep` is asked about each recorded
/// name once, in the state's order.
fn plan_deletes(
    state: &State,
    mut keep: impl FnMut(&str) -> bool,
    plan: &mut Plan,
    refused: &mut Vec<Diagnostic>,
) {
    for (name, r) in &state.resources {
        if keep(name) {
            continue;
        }
        let change = delete_change(Arc::clone(r), false);
        if r.protect {
            refused.push(protected(&change));
        }
        plan.changes.push(change);
    }
    for r in &state.deposed {
        plan.changes.push(delete_change(Arc::new(r.clone()), true));
    }
}

/// A resource's inputs with references resolved as far as known now; bad
/// references are collected as problems.
fn resolved_inputs(
    node: &Node,
    refs: &Refs<'_>,
    known: &[Option<&Value>],
    problems: &mut Vec<Diagnostic>,
) -> Value {
    let mut next = refs.in_order();
    let mut found = Vec::new();
    let resolved = node.inputs.resolve_refs(&mut |r: &OutputRef| {
        let d = next(r);
        Ok::<_, ComputeError>(resolve_planned(r, d, known, node, &mut found))
    });
    problems.append(&mut found);
    resolved.unwrap_or_else(|e| {
        problems.push(Diagnostic {
            resource: Some(node.name.to_string()),
            message: format!("computed value: {}", e.message),
            location: Some(e.location),
        });
        Value::Unknown
    })
}

fn resolve_planned(
    r: &OutputRef,
    dependency: Option<usize>,
    known: &[Option<&Value>],
    node: &Node,
    problems: &mut Vec<Diagnostic>,
) -> Value {
    match dependency.and_then(|d| known[d]) {
        Some(outputs) => match outputs.get(&r.field) {
            Some(v) => v.clone(),
            None => {
                problems.push(Diagnostic {
                    resource: Some(node.name.to_string()),
                    location: Some((*node.location).clone()),
                    message: format!(
                        "refers to output {:?} of {:?}, which that resource does not report",
                        r.field, r.resource
                    ),
                });
                Value::Unknown
            }
        },
        // Unknown until apply (created, replaced, or its provider is missing).
        None => Value::Unknown,
    }
}

/// Which resource each reference of node `i` names, as a node index: read
/// from what the checked program recorded, in the order references are met,
/// instead of comparing names.
struct Refs<'a> {
    desired: &'a Desired,
    i: usize,
}

impl<'a> Refs<'a> {
    /// A cursor for one walk over the node's inputs (resolving or comparing
    /// them): called with each reference in turn, it gives the node index
    /// of the resource that reference names.
    fn in_order(&self) -> impl FnMut(&OutputRef) -> Option<usize> + 'a {
        let desired = self.desired;
        let deps = desired.dependency_indices(self.i);
        let mut positions = desired.reference_positions(self.i).iter();
        move |r: &OutputRef| {
            let d = *deps.get(*positions.next()? as usize)? as usize;
            debug_assert_eq!(
                desired.nodes[d].name.as_str(),
                r.resource,
                "references are met in the order they were recorded"
            );
            Some(d)
        }
    }
}

/// Whether options the state keeps differ from the recorded ones (the
/// declaration site alone does not count: it changes with every edit above
/// it, and rides along with real changes).
fn options_changed(old: &ResourceState, change: &Change) -> bool {
    old.protect != change.flags.protect
        || old.retain_on_delete != change.flags.retain_on_delete
        || old
            .dependencies
            .iter()
            .map(String::as_str)
            .ne(change.dependencies.iter().map(Name::as_str))
}

fn flags_of(node: &Node) -> ChangeFlags {
    ChangeFlags {
        protect: node.options.protect,
        retain_on_delete: node.options.retain_on_delete,
        ignore_changes: node.options.ignore_changes.clone(),
        force_new: node.force_new.clone(),
        timeouts: node.options.timeouts,
        handover: node.options.handover.as_ref().map(|h| h.hook().describe()),
        provider: node.options.provider.clone(),
    }
}

/// The flags of each change: one shared value per list of force-new
/// fields (per type, as the program shares those) for the resources
/// declared without an option the flags show; their own for the others.
#[derive(Default)]
struct SharedFlags {
    /// The last list of force-new fields seen (a program declares many
    /// resources of one type in a row) and its flags.
    last: Option<(*const String, Arc<ChangeFlags>)>,
    by_list: HashMap<*const String, Arc<ChangeFlags>>,
}

impl SharedFlags {
    fn of(&mut self, node: &Node) -> Arc<ChangeFlags> {
        let o = &node.options;
        let plain = !o.protect
            && !o.retain_on_delete
            && o.ignore_changes.is_empty()
            && o.timeouts == Timeouts::default()
            && o.handover.is_none()
            && o.provider.is_none();
        if !plain {
            return Arc::new(flags_of(node));
        }
        // The list's address identifies it while the program holds it.
        let key = node.force_new.as_ptr();
        match &self.last {
            Some((k, f)) if *k == key => Arc::clone(f),
            _ => {
                let f = Arc::clone(
                    self.by_list
                        .entry(key)
                        .or_insert_with(|| Arc::new(flags_of(node))),
                );
                self.last = Some((key, Arc::clone(&f)));
                f
            }
        }
    }
}

/// Fields under `ignore_changes` keep their recorded values, in what is
/// shown and in what will be sent.
fn keep_ignored(mut resolved: Value, node: &Node, old: &ResourceState) -> (Value, Arc<Value>) {
    keep_recorded(&mut resolved, node, old);
    (resolved, ignoring(node, old))
}

/// The inputs to send: the program's, with fields under `ignore_changes`
/// as recorded. Without such fields they are shared, not copied.
fn ignoring(node: &Node, old: &ResourceState) -> Arc<Value> {
    if node.options.ignore_changes.is_empty() {
        return Arc::clone(&node.inputs);
    }
    let mut inputs = (*node.inputs).clone();
    keep_recorded(&mut inputs, node, old);
    Arc::new(inputs)
}

fn keep_recorded(v: &mut Value, node: &Node, old: &ResourceState) {
    let Value::Map(m) = v else { return };
    for field in &node.options.ignore_changes {
        match old.inputs.get(field) {
            Some(r) => {
                m.insert(field.clone(), r.clone());
            }
            None => {
                m.remove(field);
            }
        }
    }
}

/// The delete of `r`, which the change shares.
fn delete_change(r: Arc<ResourceState>, deposed: bool) -> Change {
    Change {
        name: Name::from(&r.name),
        type_name: Name::from(&r.type_name),
        action: Action::Delete,
        before: Some(Arc::clone(&r)),
        after: None,
        inputs: None,
        fields: Vec::new(),
        replace_because: Vec::new(),
        replace_order: ReplaceOrder::default(),
        dependencies: Arc::from([]),
        flags: Arc::new(ChangeFlags {
            protect: r.protect && !deposed,
            retain_on_delete: r.retain_on_delete,
            ..ChangeFlags::default()
        }),
        import_id: None,
        renamed_from: None,
        deposed,
        recheck: false,
        location: r.location.clone().map(Arc::new),
    }
}

fn protected(change: &Change) -> Diagnostic {
    Diagnostic {
        resource: Some(change.name.to_string()),
        location: change.location.as_deref().cloned(),
        message: format!(
            "is protected, and the plan would {} it{}; remove `protect` first if this is intended",
            if change.action == Action::Replace {
                "replace"
            } else {
                "delete"
            },
            if change.replace_because.is_empty() {
                String::new()
            } else {
                format!(" (forced by {})", change.replace_because.join(", "))
            }
        ),
    }
}

#[cfg(test)]
mod tests;
