//! Rules, packs of rules, and what a check sees ([`ResourceView`],
//! [`StackView`]) and reports ([`Findings`]).

use std::collections::HashMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::walk::PlainString;
use super::RuleInfo;
use crate::resource::{Location, Resource};
use crate::stack::{Desired, Node};
use crate::value::Value;

/// What checks report: a field and a message per violation.
#[derive(Debug, Default)]
pub struct Findings {
    pub(crate) found: Vec<(Option<String>, String, String)>,
}

impl Findings {
    /// The resource being checked violates the rule at `field` (a path such
    /// as `ingress[0].cidr_blocks`; empty for the resource as a whole).
    pub fn flag(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.found.push((None, field.into(), message.into()));
    }

    /// For a rule over the whole program: resource `resource` violates it.
    pub fn flag_resource(
        &mut self,
        resource: &str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.found
            .push((Some(resource.to_owned()), field.into(), message.into()));
    }
}

type ResourceCheck = dyn Fn(&ResourceView<'_>, &mut Findings) + Send + Sync;
type StackCheck = dyn Fn(&StackView<'_>, &mut Findings) + Send + Sync;
pub(crate) type StringCheck = dyn Fn(&PlainString<'_>, &mut Findings) + Send + Sync;

#[derive(Clone)]
pub(crate) enum Check {
    /// Over resources of one type.
    Typed(&'static str, Arc<ResourceCheck>),
    /// Over every resource.
    Any(Arc<ResourceCheck>),
    /// Over every plain string in any resource's inputs, fed by one walk
    /// shared by all such rules.
    Strings(Arc<StringCheck>),
    /// Over the whole program at once.
    Stack(Arc<StackCheck>),
}

/// One rule: its metadata and its check.
#[derive(Clone)]
pub struct Rule {
    /// What the rule is.
    pub info: RuleInfo,
    pub(crate) check: Check,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule").field("info", &self.info).finish()
    }
}

impl Rule {
    /// A rule over each resource of type `R`, given its typed inputs.
    /// References to outputs not known yet read as references: pass what
    /// you cannot decide; the engine checks again at apply time.
    pub fn resource<R, F>(info: RuleInfo, check: F) -> Rule
    where
        R: Resource + DeserializeOwned,
        F: Fn(&R, &mut Findings) + Send + Sync + 'static,
    {
        Rule {
            info,
            check: Check::Typed(
                R::TYPE,
                Arc::new(move |view, out| match view.typed::<R>() {
                    Ok(r) => check(&r, out),
                    Err(e) => out.flag("", format!("cannot be read as {} to check: {e}", R::TYPE)),
                }),
            ),
        }
    }

    /// A rule over every resource, whatever its type, given its inputs as
    /// a [`Value`] (generic rules: tags, names, secrets in plain fields).
    pub fn any<F>(info: RuleInfo, check: F) -> Rule
    where
        F: Fn(&ResourceView<'_>, &mut Findings) + Send + Sync + 'static,
    {
        Rule {
            info,
            check: Check::Any(Arc::new(check)),
        }
    }

    /// A rule over every plain string inside any resource's inputs (not
    /// those inside a `Secret`), given with the map key it is the value of
    /// (secrets by pattern, credentials in URLs, fields named like
    /// passwords). One walk over a resource's inputs feeds every such rule,
    /// where [`Rule::any`] rules that walk the inputs each walk them again.
    ///
    /// ```
    /// use dafnck_core::policy::{Pack, Policies, Rule, RuleInfo, Severity};
    ///
    /// const NO_TODO: RuleInfo = RuleInfo {
    ///     id: "ACME-002",
    ///     title: "No TODO left in an input",
    ///     severity: Severity::Low,
    ///     category: "hygiene",
    ///     remediation: "Finish it.",
    ///     controls: &[],
    /// };
    /// let rule = Rule::strings(NO_TODO, |s, out| {
    ///     if s.value.contains("TODO") {
    ///         s.flag(out, format!("{} is not finished", s.key.unwrap_or("a value")));
    ///     }
    /// });
    /// let policies = Policies::new().pack(Pack::new("acme", "house rules").rule(rule));
    /// assert_eq!(policies.rules().count(), 1);
    /// ```
    pub fn strings<F>(info: RuleInfo, check: F) -> Rule
    where
        F: Fn(&PlainString<'_>, &mut Findings) + Send + Sync + 'static,
    {
        Rule {
            info,
            check: Check::Strings(Arc::new(check)),
        }
    }

    /// A rule over the whole program (across resources); it reports with
    /// [`Findings::flag_resource`]. Checked at plan time only.
    pub fn stack<F>(info: RuleInfo, check: F) -> Rule
    where
        F: Fn(&StackView<'_>, &mut Findings) + Send + Sync + 'static,
    {
        Rule {
            info,
            check: Check::Stack(Arc::new(check)),
        }
    }

    /// The resource type it checks, for a rule over one type.
    pub fn type_name(&self) -> Option<&'static str> {
        match &self.check {
            Check::Typed(t, _) => Some(t),
            _ => None,
        }
    }

    /// Whether it looks at the whole program rather than one resource.
    pub fn is_stack_rule(&self) -> bool {
        matches!(self.check, Check::Stack(_))
    }
}

/// A named set of rules.
#[derive(Clone, Debug)]
pub struct Pack {
    /// Its name (`aws`, `local`, `generic`): config and the command line
    /// enable it by this name.
    pub name: String,
    /// One line on what it covers.
    pub description: String,
    /// Its rules.
    pub rules: Vec<Rule>,
}

impl Pack {
    /// An empty pack.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Pack {
            name: name.into(),
            description: description.into(),
            rules: Vec::new(),
        }
    }

    /// Adds a rule.
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }
}

/// One declared resource as a check sees it.
#[derive(Clone, Copy, Debug)]
pub struct ResourceView<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its type.
    pub type_name: &'a str,
    /// Its inputs: as declared (references as [`Value::Ref`]), or resolved
    /// at apply time.
    pub inputs: &'a Value,
    /// Where it was declared.
    pub location: Option<&'a Location>,
}

impl<'a> ResourceView<'a> {
    /// The inputs read into the resource's struct (references stay
    /// references).
    ///
    /// # Errors
    /// When the inputs do not have `R`'s shape (another type).
    pub fn typed<R: DeserializeOwned>(&self) -> Result<R, String> {
        super::typed::read(self.inputs).map_err(|e| e.to_string())
    }

    pub(crate) fn of(node: &'a Node) -> ResourceView<'a> {
        ResourceView {
            name: &node.name,
            type_name: &node.type_name,
            inputs: &node.inputs,
            location: Some(&node.location),
        }
    }
}

/// The whole program as a rule over several resources sees it.
#[derive(Clone, Copy, Debug)]
pub struct StackView<'a> {
    pub(crate) desired: &'a Desired,
    /// Which resources are of each type, found by the pass over every
    /// resource that precedes the rules over the program.
    pub(crate) types: &'a TypeIndex<'a>,
}

impl<'a> StackView<'a> {
    /// Every declared resource, in declaration order.
    pub fn resources(&self) -> impl Iterator<Item = ResourceView<'a>> + 'a {
        self.desired.nodes.iter().map(ResourceView::of)
    }

    /// The resource called `name`.
    pub fn get(&self, name: &str) -> Option<ResourceView<'a>> {
        self.desired.node(name).map(ResourceView::of)
    }

    /// Every resource of type `R`, in declaration order, read into its
    /// struct (those that cannot be read are left out; the type's own
    /// rules report them). Found through an index by type: a rule asking
    /// for a type the program has few of does not pass over every
    /// resource.
    pub fn of_type<R: Resource + DeserializeOwned>(
        &self,
    ) -> impl Iterator<Item = (ResourceView<'a>, R)> + 'a {
        let nodes = &self.desired.nodes;
        self.types
            .of(R::TYPE)
            .iter()
            .map(move |&i| ResourceView::of(&nodes[i as usize]))
            .filter_map(|v| v.typed::<R>().ok().map(|r| (v, r)))
    }

    /// The resource called `name` if it is of type `R`, read into its struct.
    pub fn typed<R: Resource + DeserializeOwned>(&self, name: &str) -> Option<R> {
        self.get(name)
            .filter(|v| v.type_name == R::TYPE)
            .and_then(|v| v.typed::<R>().ok())
    }
}

/// The resources of each type (indices into [`Desired::nodes`]), filled
/// one resource at a time as the check meets them.
#[derive(Debug, Default)]
pub(crate) struct TypeIndex<'a> {
    slots: HashMap<&'a str, usize>,
    nodes: Vec<Vec<u32>>,
}

impl<'a> TypeIndex<'a> {
    /// The slot of `type_name`, made on first sight: [`TypeIndex::push`]
    /// to it for each resource of the type.
    pub(crate) fn slot(&mut self, type_name: &'a str) -> usize {
        let next = self.nodes.len();
        let slot = *self.slots.entry(type_name).or_insert(next);
        if slot == next {
            self.nodes.push(Vec::new());
        }
        slot
    }

    /// Resource `i` is of the type of `slot`.
    pub(crate) fn push(&mut self, slot: usize, i: usize) {
        self.nodes[slot].push(i as u32);
    }

    /// Puts each type's resources in declaration order (a pass in
    /// dependency order may meet them in another).
    pub(crate) fn sort(&mut self) {
        for nodes in &mut self.nodes {
            if !nodes.is_sorted() {
                nodes.sort_unstable();
            }
        }
    }

    /// The resources of type `type_name`, in the order pushed.
    pub(crate) fn of(&self, type_name: &str) -> &[u32] {
        self.slots
            .get(type_name)
            .map_or(&[][..], |&s| &self.nodes[s][..])
    }
}
