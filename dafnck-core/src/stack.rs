//! The program's builder: a [`Stack`] collects declared resources and
//! exported values; [`Stack::into_desired`] checks them and yields the
//! [`Desired`] graph the planner diffs against the state.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;

use crate::error::{Diagnostic, Error};
use crate::graph::DepGraph;
use crate::name::{Name, NameMap};
use crate::resource::{Handle, Location, Options, Resource, ResourceRef};
use crate::value::Value;

/// One declared resource, as the engine sees it.
///
/// Names, type names, force-new lists and declaration sites are shared
/// ([`Name`], `Arc`): with the plan's changes, and between the resources of
/// one type or declared at one site (a loop), so a large program holds
/// each once.
#[derive(Clone, Debug)]
pub struct Node {
    /// Unique name in the stack.
    pub name: Name,
    /// Type name, `package:module:Type`.
    pub type_name: Name,
    /// Inputs, possibly holding [`Value::Ref`]s to other resources' outputs;
    /// shared with the plan's [`Change::inputs`](crate::Change::inputs).
    pub inputs: Arc<Value>,
    /// Names of the resources this one depends on (references and
    /// `depends_on`), deduplicated, in declaration order; shared with the
    /// plan's [`Change::dependencies`](crate::Change::dependencies).
    pub dependencies: Arc<[Name]>,
    /// The declaration's options.
    pub options: Options,
    /// Fields whose change forces a replacement (from the type and options).
    pub force_new: Arc<[String]>,
    /// Where it was declared.
    pub location: Arc<Location>,
}

/// The builder a program fills in: resources, exports and configuration of
/// one stack (dev, staging, prod each have their own state and config).
///
/// Problems found while declaring (duplicate names, references to another
/// stack, unserializable inputs) are collected, not raised at once, and
/// reported together by [`Stack::into_desired`].
#[derive(Debug)]
pub struct Stack {
    name: String,
    config: BTreeMap<String, String>,
    /// The config keys whose values are secret (see [`Stack::config_as`]).
    secret_keys: std::collections::BTreeSet<String>,
    /// The components being declared, outermost first.
    scopes: Vec<crate::component::Scope>,
    nodes: Vec<Node>,
    index: NameMap<usize>,
    exports: BTreeMap<String, (Value, Location)>,
    problems: Vec<Diagnostic>,
    /// Each type's name and force-new fields, made once.
    types: HashMap<&'static str, (Name, Arc<[String]>)>,
    /// The last declaration site (a loop declares many at one).
    site: Option<Arc<Location>>,
    /// For each node, where its references start in `ref_positions`.
    ref_start: Vec<u32>,
    /// Each reference of each node's inputs, in the order
    /// [`Value::visit_refs`] meets them: the position of the resource it
    /// names in the node's `dependencies`.
    ref_positions: Vec<u32>,
    /// What the program reads: other stacks' exports, data sources.
    lookups: Vec<crate::lookup::Lookup>,
}

impl Stack {
    /// An empty stack called `name` with no configuration.
    pub fn new(name: impl Into<String>) -> Self {
        Stack::with_config(name, BTreeMap::new())
    }

    /// An empty stack with per-stack configuration values.
    pub fn with_config(name: impl Into<String>, config: BTreeMap<String, String>) -> Self {
        Stack {
            name: name.into(),
            config,
            secret_keys: Default::default(),
            scopes: Vec::new(),
            nodes: Vec::new(),
            index: NameMap::default(),
            exports: BTreeMap::new(),
            problems: Vec::new(),
            types: HashMap::new(),
            site: None,
            ref_start: Vec::new(),
            ref_positions: Vec::new(),
            lookups: Vec::new(),
        }
    }

    /// The stack's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A configuration value of this stack, as text (a secret value is
    /// not given out as text: read it with [`Stack::config_as`] as a
    /// [`Secret`](crate::Secret)).
    pub fn config(&self, key: &str) -> Option<&str> {
        if self.secret_keys.contains(key) {
            return None;
        }
        self.config_text(key)
    }

    /// The text of a configuration value, secret or not.
    pub(crate) fn config_text(&self, key: &str) -> Option<&str> {
        self.config.get(key).map(String::as_str)
    }

    /// Whether the configuration value `key` is secret.
    pub fn is_secret_config(&self, key: &str) -> bool {
        self.secret_keys.contains(key)
    }

    /// Adds secret configuration values (they replace plain ones of the
    /// same key).
    pub fn with_secret_config(
        mut self,
        secrets: impl IntoIterator<Item = (String, crate::Secret<String>)>,
    ) -> Self {
        for (k, v) in secrets {
            self.config.insert(k.clone(), v.into_inner());
            self.secret_keys.insert(k);
        }
        self
    }

    /// A configuration value that must be set.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key and the stack when it is not set.
    pub fn require_config(&self, key: &str) -> crate::Result<&str> {
        self.config(key).ok_or_else(|| Error::Config {
            stack: self.name.clone(),
            key: key.to_owned(),
        })
    }

    /// Declares a resource with default options.
    #[track_caller]
    pub fn add<R: Resource>(&mut self, name: &str, resource: R) -> Handle<R> {
        let site = std::panic::Location::caller();
        let (name, options) = self.scoped(name, Options::new());
        self.declare(&name, resource, options, site)
    }

    /// Declares a resource with options.
    #[track_caller]
    pub fn add_with<R: Resource>(
        &mut self,
        name: &str,
        resource: R,
        options: Options,
    ) -> Handle<R> {
        let site = std::panic::Location::caller();
        let (name, options) = self.scoped(name, options);
        self.declare(&name, resource, options, site)
    }

    pub(crate) fn scopes(&self) -> &[crate::component::Scope] {
        &self.scopes
    }

    pub(crate) fn scopes_mut(&mut self) -> &mut Vec<crate::component::Scope> {
        &mut self.scopes
    }

    pub(crate) fn problem(&mut self, problem: Diagnostic) {
        self.problems.push(problem);
    }

    pub(crate) fn add_lookup(&mut self, lookup: crate::lookup::Lookup) {
        self.lookups.push(lookup);
    }

    /// Where the data source read as `name` was declared, if it was.
    pub(crate) fn data_read(&self, name: &str) -> Option<&Location> {
        self.lookups.iter().find_map(|l| match &l.source {
            crate::lookup::Source::Data { name: n, .. } if n == name => Some(&l.location),
            _ => None,
        })
    }

    /// The location of `site`, shared with the previous declaration's when
    /// it is the same site.
    fn location(&mut self, site: &std::panic::Location<'_>) -> Arc<Location> {
        match &self.site {
            Some(l)
                if l.line == site.line() && l.column == site.column() && l.file == site.file() =>
            {
                Arc::clone(l)
            }
            _ => {
                let l = Arc::new(Location {
                    file: site.file().to_owned(),
                    line: site.line(),
                    column: site.column(),
                });
                self.site = Some(Arc::clone(&l));
                l
            }
        }
    }

    fn declare<R: Resource>(
        &mut self,
        name: &str,
        resource: R,
        options: Options,
        site: &std::panic::Location<'_>,
    ) -> Handle<R> {
        let location = self.location(site);
        let handle = Handle::new(ResourceRef::new(&self.name, name, R::TYPE));
        let problem = |message: String| Diagnostic {
            resource: Some(name.to_owned()),
            location: Some((*location).clone()),
            message,
        };
        if name.is_empty() || name.contains(char::is_control) {
            self.problems
                .push(problem(format!("invalid resource name {name:?}")));
            return handle;
        }
        if let Some(&first) = self.index.get(name) {
            let first = &self.nodes[first].location;
            self.problems.push(problem(format!(
                "duplicate resource name {name:?} (first declared at {first})"
            )));
            return handle;
        }
        let inputs = match Value::from_serialize(&resource) {
            Ok(v @ Value::Map(_)) => v,
            Ok(other) => {
                self.problems.push(problem(format!(
                    "inputs of {} must serialize to a map of fields, got {other}",
                    R::TYPE
                )));
                return handle;
            }
            Err(e) => {
                self.problems
                    .push(problem(format!("inputs cannot be serialized: {e}")));
                return handle;
            }
        };
        let mut dependencies: Vec<Name> = Vec::new();
        let mut foreign = Vec::new();
        // A dependency's name is the declared resource's, shared.
        let known = |dep: &str| match self.index.get_key_value(dep) {
            Some((name, _)) => name.clone(),
            None => Name::from(dep),
        };
        let mut positions: Vec<u32> = Vec::new();
        inputs.visit_refs(&mut |r| {
            if r.stack != self.name {
                foreign.push(format!("{} of stack {:?}", r.resource, r.stack));
                positions.push(u32::MAX);
            } else if let Some(j) = dependencies.iter().position(|d| *d == r.resource) {
                positions.push(j as u32);
            } else {
                positions.push(dependencies.len() as u32);
                dependencies.push(known(&r.resource));
            }
        });
        for (dep, stack) in options.depends_on.iter().zip(&options.depends_on_stacks) {
            if *stack != self.name {
                foreign.push(format!("{dep} of stack {stack:?}"));
            } else if !dependencies.iter().any(|d| d == dep) {
                dependencies.push(known(dep));
            }
        }
        for f in foreign {
            self.problems.push(problem(format!(
                "references {f}, but this is stack {:?}; use an export of that stack instead",
                self.name
            )));
        }
        for field in options
            .ignore_changes
            .iter()
            .chain(&options.replace_on_changes)
        {
            if inputs.as_map().is_none_or(|m| m.get(field).is_none()) {
                self.problems.push(problem(format!(
                    "option names field {field:?}, which {} does not have",
                    R::TYPE
                )));
            }
        }
        let (type_name, type_force_new) = self
            .types
            .entry(R::TYPE)
            .or_insert_with(|| {
                let fields: Vec<String> = R::force_new_fields()
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect();
                (Name::from(R::TYPE), fields.into())
            })
            .clone();
        let extra: Vec<&String> = options
            .replace_on_changes
            .iter()
            .filter(|f| !type_force_new.contains(f))
            .collect();
        let force_new = if extra.is_empty() {
            type_force_new
        } else {
            let mut fields = type_force_new.to_vec();
            for f in extra {
                if !fields.contains(f) {
                    fields.push(f.clone());
                }
            }
            fields.into()
        };
        let name = Name::from(name);
        self.index.insert(name.clone(), self.nodes.len());
        self.ref_start.push(self.ref_positions.len() as u32);
        self.ref_positions.extend(positions);
        self.nodes.push(Node {
            name,
            type_name,
            inputs: Arc::new(inputs),
            dependencies: dependencies.into(),
            options,
            force_new,
            location,
        });
        handle
    }

    /// Exports a value as a stack output: a typed reference to a resource's
    /// output (`web.out().arn`), or any serializable value.
    #[track_caller]
    pub fn export<V: Serialize>(&mut self, name: &str, value: V) {
        let location = Location::caller();
        match Value::from_serialize(&value) {
            Ok(v) => {
                self.exports.insert(name.to_owned(), (v, location));
            }
            Err(e) => self.problems.push(Diagnostic {
                resource: None,
                location: Some(location),
                message: format!("export {name:?} cannot be serialized: {e}"),
            }),
        }
    }

    /// The declared resources, in declaration order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Checks the declarations and builds the dependency graph.
    ///
    /// # Errors
    /// [`Error::Program`] with every problem found: duplicate names,
    /// references to undeclared resources or to another stack, every
    /// dependency cycle (naming all its resources), bad option fields.
    pub fn into_desired(self) -> crate::Result<Desired> {
        let Stack {
            name,
            nodes,
            index,
            exports,
            mut problems,
            mut ref_start,
            ref_positions,
            lookups,
            ..
        } = self;
        ref_start.push(ref_positions.len() as u32);
        let mut graph = DepGraph::new(nodes.len());
        let mut dependency_start = Vec::with_capacity(nodes.len() + 1);
        let mut dependency_index = Vec::with_capacity(nodes.len() * 2);
        for (i, node) in nodes.iter().enumerate() {
            dependency_start.push(dependency_index.len() as u32);
            for dep in node.dependencies.iter() {
                match index.get(dep) {
                    Some(&d) => {
                        graph.add_edge(d, i);
                        dependency_index.push(d as u32);
                    }
                    None => problems.push(Diagnostic {
                        resource: Some(node.name.to_string()),
                        location: Some((*node.location).clone()),
                        message: format!("depends on {dep:?}, which is not declared in this stack"),
                    }),
                }
            }
        }
        dependency_start.push(dependency_index.len() as u32);
        for (export, (value, location)) in &exports {
            value.visit_refs(&mut |r| {
                if r.stack != name || !index.contains_key(r.resource.as_str()) {
                    problems.push(Diagnostic {
                        resource: None,
                        location: Some(location.clone()),
                        message: format!(
                            "export {export:?} refers to {:?} of stack {:?}, which this stack does not declare",
                            r.resource, r.stack
                        ),
                    });
                }
            });
        }
        let order = match graph.toposort() {
            Ok(order) => order,
            Err(cycles) => {
                for cycle in cycles {
                    let names: Vec<String> = cycle
                        .iter()
                        .map(|&i| format!("{} ({})", nodes[i].name, nodes[i].location))
                        .collect();
                    let first = &nodes[cycle[0]];
                    problems.push(Diagnostic {
                        resource: Some(first.name.to_string()),
                        location: Some((*first.location).clone()),
                        message: format!("dependency cycle: {}", names.join(" → ")),
                    });
                }
                Vec::new()
            }
        };
        if !problems.is_empty() {
            return Err(Error::Program(problems));
        }
        Ok(Desired {
            stack: name,
            nodes,
            index,
            dependency_start,
            dependency_index,
            ref_start,
            ref_positions,
            order,
            exports: exports.into_iter().map(|(k, (v, _))| (k, v)).collect(),
            lookups,
        })
    }
}

/// A checked program: the desired resources, their dependency graph and a
/// topological order.
#[derive(Clone, Debug)]
pub struct Desired {
    /// The stack's name.
    pub stack: String,
    /// Resources in declaration order.
    pub nodes: Vec<Node>,
    pub(crate) index: NameMap<usize>,
    /// Each node's dependencies as indices into `nodes`, in the order of
    /// its `dependencies`: node `i`'s are
    /// `dependency_index[dependency_start[i]..dependency_start[i + 1]]`.
    dependency_start: Vec<u32>,
    dependency_index: Vec<u32>,
    /// Each node's references as positions in its dependencies (see
    /// [`Desired::reference_positions`]): node `i`'s are
    /// `ref_positions[ref_start[i]..ref_start[i + 1]]`.
    ref_start: Vec<u32>,
    ref_positions: Vec<u32>,
    /// Indices into `nodes`, dependencies first.
    pub order: Vec<usize>,
    /// Exported values, possibly holding references.
    pub exports: BTreeMap<String, Value>,
    /// What the program reads, resolved by the engine before planning
    /// (see [`crate::lookup`]).
    pub(crate) lookups: Vec<crate::lookup::Lookup>,
}

impl Desired {
    /// The resource called `name`.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    /// The index of the resource called `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The indices of the resources node `i` depends on, in the order of
    /// its [`Node::dependencies`] (found once, when the program was checked).
    pub(crate) fn dependency_indices(&self, i: usize) -> &[u32] {
        let (start, end) = (self.dependency_start[i], self.dependency_start[i + 1]);
        &self.dependency_index[start as usize..end as usize]
    }

    /// For each reference in node `i`'s inputs, in the order
    /// [`Value::visit_refs`] meets them (the order resolving and comparing
    /// follow too), the position in [`Desired::dependency_indices`] of the
    /// resource it names: found when it was declared, so planning resolves
    /// references without comparing names.
    pub(crate) fn reference_positions(&self, i: usize) -> &[u32] {
        let (start, end) = (self.ref_start[i], self.ref_start[i + 1]);
        &self.ref_positions[start as usize..end as usize]
    }
}
