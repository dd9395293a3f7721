//! [`Policies`]: the packs a program checks, and how strictly.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::rule::{Check, Pack, Rule};
use super::Severity;

/// What a violation of a rule does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Enforcement {
    /// Shown under the plan; `up` goes on.
    #[default]
    Advisory,
    /// `up` refuses before any change, naming every such violation.
    Mandatory,
}

impl Enforcement {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Enforcement::Advisory => "advisory",
            Enforcement::Mandatory => "mandatory",
        }
    }
}

/// The packs a program is checked against, which are enabled, what their
/// violations do, and the least severity that counts.
///
/// Set in the program (`Engine::policies`, `cli::run(..).policies(..)`)
/// and adjusted per stack by configuration (see [`Policies::configured`]).
#[derive(Clone, Debug, Default)]
pub struct Policies {
    packs: Vec<Pack>,
    /// Names of the enabled packs; none: every pack.
    enabled: Option<Vec<String>>,
    default: Enforcement,
    /// By pack name or rule id; a rule's own entry wins over its pack's.
    overrides: HashMap<String, Enforcement>,
    min_severity: Option<Severity>,
    /// Every rule of the enabled packs (pack, rule), then those checked
    /// (at or above the minimum severity; indices into `flat`): by type
    /// name, over any resource (those over plain strings among them), over
    /// strings alone, over the program. Built when packs or the minimum
    /// change.
    flat: Vec<(usize, usize)>,
    by_type: HashMap<&'static str, Vec<usize>>,
    any: Vec<usize>,
    strings: Vec<usize>,
    stack: Vec<usize>,
}

impl Policies {
    /// No packs: nothing is checked.
    pub fn new() -> Self {
        Policies::default()
    }

    /// Adds a pack (replacing one of the same name).
    pub fn pack(mut self, pack: Pack) -> Self {
        self.packs.retain(|p| p.name != pack.name);
        self.packs.push(pack);
        self.reindex();
        self
    }

    /// Enables only these packs (by name).
    pub fn enable<I: IntoIterator<Item = S>, S: Into<String>>(mut self, packs: I) -> Self {
        self.enabled = Some(packs.into_iter().map(Into::into).collect());
        self.reindex();
        self
    }

    /// Every rule's violations make `up` refuse (unless an override says
    /// otherwise).
    pub fn mandatory(mut self) -> Self {
        self.default = Enforcement::Mandatory;
        self
    }

    /// Sets what violations of one pack (by name) or one rule (by id) do.
    pub fn enforce(mut self, pack_or_rule: impl Into<String>, enforcement: Enforcement) -> Self {
        self.overrides.insert(pack_or_rule.into(), enforcement);
        self
    }

    /// Rules below this severity are not checked.
    pub fn min_severity(mut self, severity: Severity) -> Self {
        self.min_severity = Some(severity);
        self.reindex();
        self
    }

    /// Applies a stack's configuration values:
    ///
    /// | key | value |
    /// | --- | --- |
    /// | `policy.packs` | comma-separated pack names to enable (others off) |
    /// | `policy.enforcement` | `advisory` or `mandatory`, for every rule |
    /// | `policy.mandatory` | comma-separated pack names or rule ids made mandatory |
    /// | `policy.advisory` | comma-separated pack names or rule ids made advisory |
    /// | `policy.min_severity` | `low`, `medium`, `high` or `critical` |
    /// | `policy.required_tags` | comma-separated tags the `generic` pack requires |
    ///
    /// # Errors
    /// A message naming the key whose value cannot be read.
    pub fn configured(mut self, config: &BTreeMap<String, String>) -> Result<Self, String> {
        let list = |v: &str| -> Vec<String> {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        if let Some(v) = config.get("policy.packs") {
            let names = list(v);
            if let Some(unknown) = names
                .iter()
                .find(|n| !self.packs.iter().any(|p| &p.name == *n))
            {
                return Err(format!(
                    "policy.packs names pack {unknown:?}, which the program does not register (it has: {})",
                    self.pack_names().join(", ")
                ));
            }
            self = self.enable(names);
        }
        if let Some(v) = config.get("policy.enforcement") {
            self.default = match v.trim() {
                "advisory" => Enforcement::Advisory,
                "mandatory" => Enforcement::Mandatory,
                other => {
                    return Err(format!(
                        "policy.enforcement is {other:?}; expected advisory or mandatory"
                    ))
                }
            };
        }
        for (key, e) in [
            ("policy.mandatory", Enforcement::Mandatory),
            ("policy.advisory", Enforcement::Advisory),
        ] {
            if let Some(v) = config.get(key) {
                for name in list(v) {
                    self.overrides.insert(name, e);
                }
            }
        }
        if let Some(v) = config.get("policy.min_severity") {
            self.min_severity = Some(Severity::parse(v).ok_or_else(|| {
                format!("policy.min_severity is {v:?}; expected low, medium, high or critical")
            })?);
            self.reindex();
        }
        if let Some(v) = config.get("policy.required_tags") {
            let tags = list(v);
            if self.packs.iter().any(|p| p.name == super::generic::PACK) {
                self = self.pack(super::generic_pack(&tags));
            }
        }
        Ok(self)
    }

    /// The registered packs (enabled or not).
    pub fn packs(&self) -> &[Pack] {
        &self.packs
    }

    /// Whether pack `name` is enabled.
    pub fn is_enabled(&self, name: &str) -> bool {
        self.enabled
            .as_ref()
            .is_none_or(|e| e.iter().any(|n| n == name))
    }

    /// Whether no rule is checked at all.
    pub fn is_empty(&self) -> bool {
        self.flat.is_empty()
    }

    /// The rules that are checked (enabled packs, at or above the minimum
    /// severity), each with its pack's name.
    pub fn rules(&self) -> impl Iterator<Item = (&str, &Rule)> + '_ {
        (0..self.flat.len()).filter_map(|i| self.rule(i))
    }

    /// What violations of `rule` (of pack `pack`) do.
    pub fn enforcement_of(&self, pack: &str, rule: &str) -> Enforcement {
        self.overrides
            .get(rule)
            .or_else(|| self.overrides.get(pack))
            .copied()
            .unwrap_or(self.default)
    }

    fn pack_names(&self) -> Vec<String> {
        self.packs.iter().map(|p| p.name.clone()).collect()
    }

    fn reindex(&mut self) {
        self.flat.clear();
        self.by_type.clear();
        self.any.clear();
        self.strings.clear();
        self.stack.clear();
        for (p, pack) in self.packs.iter().enumerate() {
            if !self.enabled.as_ref().is_none_or(|e| e.contains(&pack.name)) {
                continue;
            }
            for r in 0..pack.rules.len() {
                self.flat.push((p, r));
            }
        }
        for (i, &(p, r)) in self.flat.iter().enumerate() {
            let rule = &self.packs[p].rules[r];
            if self.min_severity.is_some_and(|m| rule.info.severity < m) {
                continue;
            }
            match &rule.check {
                Check::Typed(t, _) => self.by_type.entry(t).or_default().push(i),
                Check::Any(_) => self.any.push(i),
                Check::Strings(_) => {
                    self.any.push(i);
                    self.strings.push(i);
                }
                Check::Stack(_) => self.stack.push(i),
            }
        }
    }

    /// The checked rules (indices into `flat`) over resources of
    /// `type_name`.
    pub(crate) fn typed_rules(&self, type_name: &str) -> &[usize] {
        self.by_type.get(type_name).map_or(&[][..], Vec::as_slice)
    }

    /// The checked rules over any resource, in order; those over plain
    /// strings among them.
    pub(crate) fn any_rules(&self) -> &[usize] {
        &self.any
    }

    /// The checked rules over plain strings, in order.
    pub(crate) fn string_rules(&self) -> &[usize] {
        &self.strings
    }

    /// The checked rules over the whole program.
    pub(crate) fn stack_rules(&self) -> &[usize] {
        &self.stack
    }

    /// Rule `i` of `flat` with its pack's name, if at or above the minimum
    /// severity.
    pub(crate) fn rule(&self, i: usize) -> Option<(&str, &Rule)> {
        let (p, r) = self.flat[i];
        let pack = &self.packs[p];
        let rule = &pack.rules[r];
        (self.min_severity.is_none_or(|m| rule.info.severity >= m))
            .then_some((pack.name.as_str(), rule))
    }
}
