//! Resolving what a program reads before planning: other stacks' exports
//! and data sources (see [`crate::lookup`]).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use super::Engine;
use crate::data::DataRequest;
use crate::drift::ReadDrift;
use crate::error::{Diagnostic, Error};
use crate::lookup::{check_wants, Lookup, Lookups, Read, ReadKind, Source};
use crate::plan::Plan;
use crate::resource::Location;
use crate::stack::Desired;
use crate::state::encryption::{is_sealed, SealingStore};
use crate::state::reads::answer_changes;
use crate::state::{self, ReadState, State, StateStore, StoreBackends};
use crate::value::{OutputRef, Value};

fn problem(location: &Location, resource: Option<&str>, message: String) -> Diagnostic {
    Diagnostic {
        resource: resource.map(str::to_owned),
        location: Some(location.clone()),
        message,
    }
}

impl Engine {
    /// Answers these lookups from `lookups` instead of the stores and the
    /// providers (what [`TestStack`](crate::testing::TestStack) mocks
    /// with): a referenced stack found there is not loaded, a data source
    /// found there is not read.
    pub fn lookups(mut self, lookups: Lookups) -> Self {
        self.lookups = Arc::new(lookups);
        self
    }

    /// The backends a stack reference with a store URL
    /// ([`Stack::reference_in`](crate::Stack::reference_in)) is opened
    /// with (by default only `file://`).
    pub fn reference_backends(mut self, backends: StoreBackends) -> Self {
        self.backends = backends;
        self
    }

    /// Reads everything the program declared it reads, and lists the reads
    /// for the plan.
    ///
    /// # Errors
    /// [`Error::Program`] naming the program line of each read that failed:
    /// a stack with no state, a missing export or one of another type, a
    /// data source whose query is not known or that found nothing.
    pub(crate) async fn resolve_lookups(&self, desired: &Desired) -> crate::Result<Vec<Read>> {
        let mut problems = Vec::new();
        let mut loaded: BTreeMap<(String, Option<String>), Result<Value, String>> = BTreeMap::new();
        // Stack references first: a data source's query may use them.
        for lookup in &desired.lookups {
            let Source::Stack { stack, store } = &lookup.source else {
                continue;
            };
            let key = (stack.clone(), store.clone());
            if !loaded.contains_key(&key) {
                let exports = self.exports_of(stack, store.as_deref()).await;
                loaded.insert(key.clone(), exports);
            }
            match &loaded[&key] {
                Ok(exports) => {
                    let _ = lookup.answer.set(exports.clone());
                    check_wants(lookup, stack, &mut problems);
                }
                Err(message) => problems.push(problem(&lookup.location, None, message.clone())),
            }
        }
        if !problems.is_empty() {
            return Err(Error::Program(problems));
        }
        let mut records = BTreeMap::new();
        for lookup in &desired.lookups {
            match self.read_data(&desired.stack, lookup).await {
                Ok(Some(record)) => {
                    records.insert(record.name.clone(), record);
                }
                Ok(None) => {}
                Err(p) => problems.push(p),
            }
        }
        if !problems.is_empty() {
            return Err(Error::Program(problems));
        }
        Ok(desired
            .lookups
            .iter()
            .map(|lookup| {
                let mut read = lookup.read();
                if read.kind == ReadKind::Data {
                    read.record = records.remove(&read.name);
                }
                read
            })
            .collect())
    }

    /// The exports of `stack` (a map), from the mocks, this stack's store
    /// or the store at `url`.
    async fn exports_of(&self, stack: &str, url: Option<&str>) -> Result<Value, String> {
        if let Some(exports) = self.lookups.exports.get(stack) {
            return Ok(Value::Map(exports.clone().into()));
        }
        let store: Arc<dyn StateStore> = match url {
            None => Arc::clone(&self.store),
            Some(url) => {
                let raw = self.backends.open(url).await.map_err(|e| {
                    format!("cannot open the store of the referenced stack {stack:?}: {e}")
                })?;
                Arc::new(SealingStore::new(raw, self.sealing.key_source().clone()))
            }
        };
        let state = state::load(&*store, stack)
            .await
            .map_err(|e| format!("cannot read the state of the referenced stack {stack:?}: {e}"))?;
        if state.lineage.is_empty() && state.serial == 0 {
            return Err(format!(
                "the referenced stack {stack:?} has no state in {} (apply it first, or give its store)",
                store.describe()
            ));
        }
        Ok(Value::Map(state.outputs.into()))
    }

    /// Reads one data source, and returns what the state records of it
    /// (not a stack reference: `Ok(None)`).
    async fn read_data(
        &self,
        stack: &str,
        lookup: &Lookup,
    ) -> Result<Option<ReadState>, Diagnostic> {
        let Source::Data {
            name,
            type_name,
            query,
            provider,
        } = &lookup.source
        else {
            return Ok(None);
        };
        let fail = |message: String| problem(&lookup.location, Some(name), message);
        let what = format!("data source {name:?} ({type_name})");
        let query = query
            .resolve_refs(&mut |r: &OutputRef| {
                Err::<Value, String>(format!(
                    "the query of {what} refers to {:?} of resource {:?}, which is not known when planning",
                    r.field, r.resource
                ))
            })
            .map_err(&fail)?;
        if !query.is_fully_known() {
            return Err(fail(format!(
                "the query of {what} is not known when planning"
            )));
        }
        let found = match self.lookups.data.get(name) {
            Some(answer) => answer.clone(),
            None => {
                let p = self
                    .providers
                    .for_instance(name, type_name, provider.as_deref(), Some(&lookup.location))
                    .map_err(|e| fail(e.to_string()))?;
                let req = DataRequest {
                    name: name.clone(),
                    stack: stack.to_owned(),
                    type_name: (*type_name).to_owned(),
                    query: query.clone(),
                };
                self.settings
                    .retry
                    .run(0, || p.read_data(req.clone()))
                    .await
                    .map_err(|e| fail(format!("{what} could not be read: {e}")))?
            }
        };
        if let Some(check) = &lookup.check {
            check(&found).map_err(|e| fail(format!("{what}: its answer {e}")))?;
        }
        let record = ReadState {
            name: name.clone(),
            type_name: (*type_name).to_owned(),
            query,
            answer: found.clone(),
            at: state::now_millis(),
            provider: provider.clone(),
        };
        let _ = lookup.answer.set(found);
        Ok(Some(record))
    }
}

/// A secret export this run cannot open is named as such, not as a map.
pub(crate) fn sealed_message(v: &Value) -> Option<&'static str> {
    is_sealed(v).then_some("is a secret sealed with a key this run does not have (run with the passphrase of the stack that exported it)")
}

/// Compares the data sources `plan` read with those `recorded` keeps:
/// marks each read the state does not record as it is now, lists how each
/// answer changed and which of the resources the plan changes take a value
/// from it, and lists the recorded reads the program no longer declares.
pub(crate) fn compare_reads(plan: &mut Plan, recorded: &State, desired: &Desired) {
    let mut changed = BTreeSet::new();
    for read in &mut plan.reads {
        let Some(now) = &read.record else { continue };
        match recorded.reads.get(&read.name) {
            Some(before) => {
                read.to_record = !before.same_as(now);
                read.changed = answer_changes(&before.answer, &now.answer);
                if !read.changed.is_empty() {
                    changed.insert(read.name.clone());
                }
            }
            None => read.to_record = true,
        }
    }
    plan.dropped_reads = recorded
        .reads
        .iter()
        .filter(|(name, _)| {
            !plan
                .reads
                .iter()
                .any(|r| r.kind == ReadKind::Data && &r.name == *name)
        })
        .map(|(name, r)| (name.clone(), r.type_name.clone()))
        .collect();
    if changed.is_empty() {
        return;
    }
    // Which resources take a value from a changed read, among those the
    // plan changes: one pass over the program's declarations.
    let changing: HashSet<&str> = plan
        .changes
        .iter()
        .filter(|c| c.action.is_change())
        .map(|c| c.name.as_str())
        .collect();
    let mut affects: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for node in &desired.nodes {
        if !changing.contains(node.name.as_str()) {
            continue;
        }
        let mut reads = BTreeSet::new();
        crate::computed::reads_in(&node.inputs, &mut reads);
        for read in reads.iter().filter(|r| changed.contains(&***r)) {
            affects
                .entry(read.to_string())
                .or_default()
                .push(node.name.to_string());
        }
    }
    for read in &mut plan.reads {
        if let Some(names) = affects.remove(&read.name) {
            read.affects = names;
        }
    }
}

impl Engine {
    /// Asks each data source `state` records its recorded query again (or
    /// the mocked answer, see [`Engine::lookups`]) and returns those whose
    /// answer changed.
    ///
    /// # Errors
    /// [`Error::Read`] naming each data source that could not be read.
    pub(crate) async fn read_again(&self, state: &State) -> crate::Result<Vec<ReadDrift>> {
        Ok(self.answers_again(state).await?.0)
    }

    /// [`Engine::read_again`], and the reads as the state should record
    /// them now: each changed answer in place of the recorded one, since
    /// now (`at`); `None` when no answer changed.
    ///
    /// # Errors
    /// As [`Engine::read_again`].
    pub(crate) async fn answers_again(
        &self,
        state: &State,
    ) -> crate::Result<(Vec<ReadDrift>, Option<BTreeMap<String, ReadState>>)> {
        let mut updated = state.reads.clone();
        let mut changed = Vec::new();
        let mut problems = Vec::new();
        for r in state.reads.values() {
            let what = format!("data source {:?} ({})", r.name, r.type_name);
            let found = match self.lookups.data.get(&r.name) {
                Some(answer) => Ok(answer.clone()),
                None => match self.providers.for_instance(
                    &r.name,
                    &r.type_name,
                    r.provider.as_deref(),
                    None,
                ) {
                    Err(e) => Err(e.to_string()),
                    Ok(p) => {
                        let req = DataRequest {
                            name: r.name.clone(),
                            stack: state.stack.clone(),
                            type_name: r.type_name.clone(),
                            query: r.query.clone(),
                        };
                        self.settings
                            .retry
                            .run(0, || p.read_data(req.clone()))
                            .await
                            .map_err(|e| e.to_string())
                    }
                },
            };
            match found {
                Ok(answer) => {
                    let changes = answer_changes(&r.answer, &answer);
                    if !changes.is_empty() {
                        changed.push(ReadDrift {
                            name: r.name.clone(),
                            type_name: r.type_name.clone(),
                            changes,
                        });
                        if let Some(recorded) = updated.get_mut(&r.name) {
                            recorded.answer = answer;
                            recorded.at = state::now_millis();
                        }
                    }
                }
                Err(e) => problems.push(Diagnostic {
                    resource: None,
                    location: None,
                    message: format!("{what} could not be read again: {e}"),
                }),
            }
        }
        if problems.is_empty() {
            let updated = (!changed.is_empty()).then_some(updated);
            Ok((changed, updated))
        } else {
            Err(Error::Read(problems))
        }
    }
}
