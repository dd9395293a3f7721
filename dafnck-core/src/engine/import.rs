//! Adopting objects that already exist: [`Engine::preview_import`] reads
//! the named objects and shows what would be recorded (and what the next
//! `up` would change of them); [`Engine::import_previewed`] records exactly
//! those, in one locked, journaled write. Neither creates, updates nor
//! deletes anything: the only provider calls are reads (batched for types
//! whose provider reads in batches).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{unknown_resource, Engine};
use crate::drift;
use crate::error::{Diagnostic, Error};
use crate::plan::{Action, Change, Plan};
use crate::planner;
use crate::stack::{Desired, Stack};
use crate::state::{self, Entry, ResourceState, State};
use crate::value::Value;

/// One object to adopt: the program's resource `name` records the object
/// `id` (of the resource's type, at the provider instance the program
/// declares for it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSpec {
    /// The resource's name in the program.
    pub name: String,
    /// The object's id at its provider.
    pub id: String,
    /// The named provider instance the object lives at; when given it must
    /// be the one the program declares for the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

impl ImportSpec {
    /// Adopt `id` as `name`.
    pub fn new(name: impl Into<String>, id: impl Into<String>) -> Self {
        ImportSpec {
            name: name.into(),
            id: id.into(),
            provider: None,
        }
    }
}

/// A bulk import file: which object each resource adopts.
///
/// ```json
/// { "resources": [ { "name": "web", "id": "i-0abc" },
///                  { "name": "eu-vpc", "id": "vpc-0def", "provider": "eu" } ] }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportFile {
    /// The objects, in any order.
    pub resources: Vec<ImportSpec>,
}

impl ImportFile {
    /// Parses an import file (JSON).
    ///
    /// # Errors
    /// [`Error::Usage`] saying where the text is not an import file.
    pub fn parse(text: &str, origin: &str) -> crate::Result<ImportFile> {
        serde_json::from_str(text)
            .map_err(|e| Error::Usage(format!("{origin} is not an import file: {e}")))
    }

    /// The file as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// What an import would record, and what the next `up` would then change.
#[derive(Clone, Debug)]
pub struct ImportPreview {
    /// One [`Action::Import`] change per object: `before` is the object as
    /// read, `after` what the program declares, `fields` where they differ.
    pub imports: Vec<Change>,
    /// The plan the next `up` would carry out for the imported resources,
    /// were they recorded as read (only their changes).
    pub next_up: Plan,
    records: Vec<ResourceState>,
}

impl ImportPreview {
    /// The objects that would be recorded, as the state will hold them.
    pub fn records(&self) -> &[ResourceState] {
        &self.records
    }

    /// Whether the program declares every adopted object as it is (the
    /// next `up` would change none of them).
    pub fn matches_program(&self) -> bool {
        !self.next_up.has_changes()
    }

    /// The preview as text: one line per object, then the differences.
    pub fn render(&self) -> String {
        self.render_styled(false)
    }

    /// [`ImportPreview::render`], with ANSI colors when `color` is set.
    pub fn render_styled(&self, color: bool) -> String {
        let mut out = String::new();
        for c in &self.imports {
            out.push_str(&format!(
                "  = {} ({}) (import {})\n",
                c.name,
                c.type_name,
                c.import_id.as_deref().unwrap_or_default()
            ));
        }
        out.push_str(&format!(
            "Import: {} object(s) to record; nothing is created, updated or deleted.\n",
            self.imports.len()
        ));
        if self.matches_program() {
            out.push_str("Every object matches the program.\n");
        } else {
            out.push_str("They differ from the program; the next `up` would change them so:\n");
            out.push_str(&self.next_up.render_styled(color));
        }
        out
    }
}

/// What [`Engine::import_previewed`] recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportReport {
    /// `(name, id)` of each object recorded.
    pub imported: Vec<(String, String)>,
}

impl Engine {
    /// Reads the objects `specs` name and shows what importing them would
    /// record. Changes nothing: the only provider calls are reads.
    ///
    /// # Errors
    /// [`Error::Program`] naming each resource the program does not declare,
    /// is already recorded, is named twice, whose provider instance is not
    /// the declared one, whose object another resource already manages,
    /// that depends on a resource neither recorded nor imported with it, or
    /// whose object does not exist; [`Error::Read`] when a read fails.
    pub async fn preview_import<F>(
        &self,
        program: F,
        specs: &[ImportSpec],
    ) -> crate::Result<ImportPreview>
    where
        F: FnOnce(&mut Stack) -> crate::Result<()>,
    {
        let desired = self.desired(program)?;
        self.resolve_lookups(&desired).await?;
        let stored = self.state().await?;
        let (state, _) = self.resolved_in_memory(stored).await?;
        self.preview_import_against(&desired, &state, specs).await
    }

    /// Records the objects a preview read, in one locked, journaled write;
    /// their dependents' references resolve to them from then on.
    ///
    /// # Errors
    /// A held lock, state errors, and [`Error::Program`] when a resource was
    /// recorded (or its object adopted) by another run since the preview.
    pub async fn import_previewed(&self, preview: &ImportPreview) -> crate::Result<ImportReport> {
        let secrets = preview.records.iter().any(|r| r.inputs.contains_secret());
        self.locked("import", |this| async move {
            let (state, _, _) = this.prepare("import", false, secrets).await?;
            let mut problems = Vec::new();
            let managed = managed_ids(&state);
            for r in &preview.records {
                if let Some(owner) = state.resources.get(&r.name) {
                    problems.push(already_recorded(&r.name, &owner.id));
                } else if let Some(owner) = managed.get(&(r.type_name.as_str(), r.id.as_str())) {
                    problems.push(managed_by(r, owner));
                }
            }
            if !problems.is_empty() {
                return Err(Error::Program(problems));
            }
            let (journal, task) = this.journal(state);
            for r in &preview.records {
                journal.record(Entry::Put {
                    resource: r.clone(),
                });
            }
            let state = task.finish().await?;
            this.store.compact(&this.stack, &state).await?;
            let text = format!("import {}", preview.records.len());
            this.save_version("import", text, &state, state::RunOutcome::Succeeded)
                .await?;
            Ok(ImportReport {
                imported: preview
                    .records
                    .iter()
                    .map(|r| (r.name.clone(), r.id.clone()))
                    .collect(),
            })
        })
        .await
    }

    /// [`Engine::preview_import`] then [`Engine::import_previewed`]: adopts
    /// every object `specs` names, or none.
    ///
    /// # Errors
    /// Those of both.
    pub async fn import_all<F>(
        &self,
        program: F,
        specs: &[ImportSpec],
    ) -> crate::Result<ImportReport>
    where
        F: FnOnce(&mut Stack) -> crate::Result<()>,
    {
        let preview = self.preview_import(program, specs).await?;
        self.import_previewed(&preview).await
    }

    /// Adopts the existing object `id` for the declared resource `name`,
    /// recording it as it is (see [`Engine::import_all`]); a difference
    /// from the program is what the next `up` changes.
    ///
    /// # Errors
    /// Those of [`Engine::import_all`].
    pub async fn import<F>(&self, program: F, name: &str, id: &str) -> crate::Result<ImportReport>
    where
        F: FnOnce(&mut Stack) -> crate::Result<()>,
    {
        self.import_all(program, &[ImportSpec::new(name, id)]).await
    }

    async fn preview_import_against(
        &self,
        desired: &Desired,
        state: &State,
        specs: &[ImportSpec],
    ) -> crate::Result<ImportPreview> {
        if specs.is_empty() {
            return Err(Error::Usage(
                "nothing to import: name at least one object".into(),
            ));
        }
        let wanted = check_specs(desired, state, specs)?;
        // Read every object, batched per type and provider instance, in
        // waves: an object after those it refers to, so the read gets its
        // declared inputs resolved as a read of a recorded object would.
        let mut after = state.clone();
        let mut records: Vec<ResourceState> = Vec::with_capacity(wanted.len());
        let mut left: Vec<(usize, &ImportSpec)> = wanted;
        let importing: HashSet<usize> = left.iter().map(|&(i, _)| i).collect();
        while !left.is_empty() {
            let (wave, later): (Vec<_>, Vec<_>) = left.into_iter().partition(|&(i, _)| {
                desired.dependency_indices(i).iter().all(|&d| {
                    let d = d as usize;
                    !importing.contains(&d) || after.resources.contains_key(&*desired.nodes[d].name)
                })
            });
            left = later;
            let probes: Vec<ResourceState> = wave
                .iter()
                .map(|&(i, spec)| probe(desired, i, spec, &after))
                .collect();
            let found = self.read_probes(&probes).await?;
            for ((p, o), &(i, _)) in probes.into_iter().zip(found).zip(&wave) {
                // Providers read secrets back as plain values: those the
                // program declares secret are recorded sealed.
                let r = ResourceState {
                    id: o.id,
                    inputs: o.inputs.with_secrets_of(&desired.nodes[i].inputs),
                    outputs: o.outputs,
                    ..p
                };
                after.resources.insert(r.name.clone(), Arc::new(r.clone()));
                records.push(r);
            }
            if wave.is_empty() {
                break; // a cycle, which the program's check refuses first
            }
        }
        // What the next `up` would do, were they recorded as read.
        let planned = planner::plan(desired, &after, &self.providers)?;
        let names: HashSet<&str> = records.iter().map(|r| r.name.as_str()).collect();
        let mut next_up = planned.clone();
        next_up.changes.retain(|c| names.contains(&*c.name));
        next_up.exports = BTreeMap::new();
        let by_name: HashMap<&str, &Change> =
            planned.changes.iter().map(|c| (&*c.name, c)).collect();
        let imports = records
            .iter()
            .map(|r| {
                let c = by_name[r.name.as_str()];
                Change {
                    action: Action::Import,
                    before: Some(Arc::new(r.clone())),
                    import_id: Some(r.id.clone()),
                    ..c.clone()
                }
            })
            .collect();
        Ok(ImportPreview {
            imports,
            next_up,
            records,
        })
    }
}

impl Engine {
    /// Reads `probes` (batched where their provider reads in batches): one
    /// object each, in order.
    pub(super) async fn read_probes(
        &self,
        probes: &[ResourceState],
    ) -> crate::Result<Vec<crate::provider::Observed>> {
        let units = drift::read_units(probes.iter(), &self.providers);
        let answers = drift::bounded(
            units
                .iter()
                .map(|(unit, batched)| {
                    drift::read_unit(
                        &self.stack,
                        unit,
                        *batched,
                        &self.providers,
                        &self.settings.retry,
                    )
                })
                .collect(),
            self.settings.parallelism,
        )
        .await;
        let mut found: HashMap<String, crate::provider::Observed> = HashMap::new();
        let mut missing = Vec::new();
        let mut failed = Vec::new();
        for ((unit, _), answers) in units.iter().zip(answers) {
            for (r, answer) in unit.iter().zip(answers) {
                let problem = |message: String| Diagnostic {
                    resource: Some(r.name.clone()),
                    location: r.location.clone(),
                    message,
                };
                match answer {
                    Ok(Some(o)) => {
                        found.insert(r.name.clone(), o);
                    }
                    Ok(None) => missing.push(problem(format!(
                        "there is no {} with id {:?} to import",
                        r.type_name, r.id
                    ))),
                    Err(e) => failed.push(problem(e)),
                }
            }
        }
        if !failed.is_empty() {
            return Err(Error::Read(failed));
        }
        if !missing.is_empty() {
            return Err(Error::Program(missing));
        }
        Ok(probes
            .iter()
            .map(|p| found.remove(&p.name).expect("every probe was answered"))
            .collect())
    }
}

/// Checks what `specs` ask against the program and the state; the
/// program's index of each.
fn check_specs<'s>(
    desired: &Desired,
    state: &State,
    specs: &'s [ImportSpec],
) -> crate::Result<Vec<(usize, &'s ImportSpec)>> {
    let mut problems = Vec::new();
    let mut wanted = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    let named: HashSet<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    let managed = managed_ids(state);
    for spec in specs {
        let Some(i) = desired.position(&spec.name) else {
            problems.push(unknown_resource(&spec.name, "declared by the program"));
            continue;
        };
        let node = &desired.nodes[i];
        let problem = |message: String| Diagnostic {
            resource: Some(spec.name.clone()),
            location: Some((*node.location).clone()),
            message,
        };
        if !seen.insert(&spec.name) {
            problems.push(problem("is named twice in one import".into()));
            continue;
        }
        if let Some(r) = state.resources.get(&spec.name) {
            problems.push(already_recorded(&spec.name, &r.id));
            continue;
        }
        if let Some(owner) = managed.get(&(&*node.type_name, spec.id.as_str())) {
            problems.push(problem(format!(
                "imports {:?}, which resource {owner:?} already manages",
                spec.id
            )));
            continue;
        }
        if spec.provider.is_some() && spec.provider != node.options.provider {
            problems.push(problem(format!(
                "is to be imported from provider instance {:?}, but the program declares it at {}",
                spec.provider.as_deref().unwrap_or_default(),
                node.options
                    .provider
                    .as_deref()
                    .map_or("its package's default instance".to_owned(), |p| format!(
                        "{p:?}"
                    ))
            )));
            continue;
        }
        for &d in desired.dependency_indices(i) {
            let dep = &desired.nodes[d as usize].name;
            if !state.resources.contains_key(&**dep) && !named.contains(&**dep) {
                problems.push(problem(format!(
                    "depends on {:?}, which is not recorded yet: import it in the same command \
                     (or create it with `up` first)",
                    &**dep
                )));
            }
        }
        wanted.push((i, spec));
    }
    if problems.is_empty() {
        Ok(wanted)
    } else {
        Err(Error::Program(problems))
    }
}

/// The record of node `i` adopting `spec`'s object, before it is read.
fn probe(desired: &Desired, i: usize, spec: &ImportSpec, state: &State) -> ResourceState {
    let node = &desired.nodes[i];
    // Providers that cannot read every field back (write-only secrets) get
    // the declared inputs, resolved against what is recorded when they can be.
    let inputs = node
        .inputs
        .resolve_refs(&mut |r| {
            state
                .resources
                .get(&*r.resource)
                .and_then(|d| d.outputs.get(&r.field))
                .cloned()
                .ok_or(None::<crate::computed::ComputeError>)
        })
        .unwrap_or(Value::Null);
    ResourceState {
        name: spec.name.clone(),
        type_name: node.type_name.to_string(),
        id: spec.id.clone(),
        inputs,
        outputs: Value::Null,
        dependencies: node.dependencies.iter().map(|d| d.to_string()).collect(),
        protect: node.options.protect,
        retain_on_delete: node.options.retain_on_delete,
        location: Some((*node.location).clone()),
        provider: node.options.provider.clone(),
    }
}

fn managed_ids(state: &State) -> HashMap<(&str, &str), &str> {
    state
        .resources
        .values()
        .map(|r| ((r.type_name.as_str(), r.id.as_str()), r.name.as_str()))
        .collect()
}

fn already_recorded(name: &str, id: &str) -> Diagnostic {
    let mut d = unknown_resource(name, "");
    d.message =
        format!("is already recorded (as {id}); `state rm` it first to import another object");
    d
}

fn managed_by(r: &ResourceState, owner: &str) -> Diagnostic {
    Diagnostic {
        resource: Some(r.name.clone()),
        location: r.location.clone(),
        message: format!(
            "imports {:?}, which resource {owner:?} already manages",
            r.id
        ),
    }
}
