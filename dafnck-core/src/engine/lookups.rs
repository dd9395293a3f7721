//! Resolving what a program reads before planning: other stacks' exports
//! and data sources (see [`crate::lookup`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Engine;
use crate::data::DataRequest;
use crate::error::{Diagnostic, Error};
use crate::lookup::{check_wants, Lookup, Lookups, Read, Source};
use crate::resource::Location;
use crate::stack::Desired;
use crate::state::encryption::{is_sealed, SealingStore};
use crate::state::{self, StateStore, StoreBackends};
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
        for lookup in &desired.lookups {
            if let Err(p) = self.read_data(&desired.stack, lookup).await {
                problems.push(p);
            }
        }
        if !problems.is_empty() {
            return Err(Error::Program(problems));
        }
        Ok(desired.lookups.iter().map(Lookup::read).collect())
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

    /// Reads one data source (not a stack reference: `Ok`).
    async fn read_data(&self, stack: &str, lookup: &Lookup) -> Result<(), Diagnostic> {
        let Source::Data {
            name,
            type_name,
            query,
            provider,
        } = &lookup.source
        else {
            return Ok(());
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
                    query,
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
        let _ = lookup.answer.set(found);
        Ok(())
    }
}

/// A secret export this run cannot open is named as such, not as a map.
pub(crate) fn sealed_message(v: &Value) -> Option<&'static str> {
    is_sealed(v).then_some("is a secret sealed with a key this run does not have (run with the passphrase of the stack that exported it)")
}
