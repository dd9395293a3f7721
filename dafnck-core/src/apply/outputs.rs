//! The outputs the executor substitutes into inputs: those of steps
//! finished in this run, else the recorded ones (read in place, not
//! copied). A fresh output is let go once every step that reads it has
//! started, unless an export refers to it, so a large apply holds only the
//! outputs still to be read.

use std::collections::{HashMap, HashSet};

use crate::name::Name;
use crate::plan::Plan;
use crate::state::State;
use crate::value::Value;

use super::steps::{reads_inputs, StepGraph};

pub(crate) struct LiveOutputs<'a> {
    state: &'a State,
    /// New name → recorded name, for renames.
    renamed: HashMap<&'a str, &'a str>,
    /// Outputs of steps finished in this run.
    fresh: HashMap<&'a str, Value>,
    /// Steps yet to start that read a resource's outputs.
    readers: HashMap<&'a str, usize>,
    /// Resources an export refers to.
    exported: HashSet<&'a str>,
}

impl<'a> LiveOutputs<'a> {
    pub fn new(plan: &'a Plan, graph: &StepGraph, state: &'a State) -> Self {
        let renamed = plan
            .changes
            .iter()
            .filter_map(|c| Some((c.name.as_str(), c.renamed_from.as_deref()?)))
            .collect();
        let mut readers: HashMap<&str, usize> = HashMap::new();
        for step in graph.steps.iter().filter(|s| reads_inputs(s.kind)) {
            for dep in plan.changes[step.change].dependencies.iter() {
                *readers.entry(dep.as_str()).or_default() += 1;
            }
        }
        let mut exported = HashSet::new();
        for value in plan.exports.values() {
            value.visit_refs(&mut |r| {
                exported.insert(r.resource.as_str());
            });
        }
        LiveOutputs {
            state,
            renamed,
            fresh: HashMap::new(),
            readers,
            exported,
        }
    }

    /// The outputs of resource `name` as known now.
    pub fn get(&self, name: &str) -> Option<&Value> {
        if let Some(v) = self.fresh.get(name) {
            return Some(v);
        }
        let recorded = self.renamed.get(name).copied().unwrap_or(name);
        self.state.resources.get(recorded).map(|r| &r.outputs)
    }

    /// Resource `name` has new outputs.
    pub fn set(&mut self, name: &'a str, outputs: Value) {
        if self.readers.get(name).is_some_and(|&n| n > 0) || self.exported.contains(name) {
            self.fresh.insert(name, outputs);
        } else {
            // Nothing will read them; recorded outputs are not read either.
            self.fresh.remove(name);
        }
    }

    /// A step reading the outputs of `dependencies` has started.
    pub fn read_by(&mut self, dependencies: &[Name]) {
        for dep in dependencies {
            let Some(left) = self.readers.get_mut(dep.as_str()) else {
                continue;
            };
            *left = left.saturating_sub(1);
            if *left == 0 && !self.exported.contains(dep.as_str()) {
                self.fresh.remove(dep.as_str());
            }
        }
    }
}
