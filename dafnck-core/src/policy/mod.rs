//! Policy as code: rules written in Rust over a resource's typed inputs (or
//! over the whole program, for rules across resources), checked on every
//! plan before anything changes.
//!
//! A [`Rule`] carries its metadata ([`RuleInfo`]: a stable id such as
//! `DAF-AWS-001`, a title, a [`Severity`], a category, remediation text and
//! the [`Control`]s of CIS AWS Foundations, SOC 2, HIPAA, GDPR and PCI DSS it
//! helps meet) and a check that reports [`Violation`]s naming the resource,
//! the field, and the line of the program that declared it. Rules come in
//! [`Pack`]s; [`Policies`] says which packs are enabled, which are
//! mandatory (`up` refuses before any change) or advisory (shown), and the
//! minimum severity that counts. A declaration can carry a [`Suppression`]
//! of one rule, with a reason and an optional expiry date (past it, the
//! violation counts again).
//!
//! Inputs that refer to outputs not known at plan time read as references
//! ([`Input::as_output`](crate::Input::as_output)); a rule passes what it
//! cannot decide, and the engine checks such a resource again at apply
//! time, with its inputs resolved, before the provider is called.
//!
//! ```
//! use dafnck_core::policy::{Pack, Policies, Rule, RuleInfo, Severity};
//! use dafnck_core::testing::resources::Network;
//!
//! const WIDE: RuleInfo = RuleInfo {
//!     id: "ACME-001",
//!     title: "Networks are no wider than /16",
//!     severity: Severity::Medium,
//!     category: "networking",
//!     remediation: "Split the range.",
//!     controls: &[],
//! };
//! let pack = Pack::new("acme", "ACME's house rules").rule(Rule::resource(WIDE, |n: &Network, out| {
//!     if let Some(cidr) = n.cidr.as_value() {
//!         if cidr.ends_with("/8") {
//!             out.flag("cidr", format!("{cidr} is a /8"));
//!         }
//!     }
//! }));
//! let policies = Policies::new().pack(pack).mandatory();
//! assert_eq!(policies.rules().count(), 1);
//! ```

mod check;
mod config;
pub mod controls;
mod generic;
mod report;
mod rule;
mod sarif;
pub(crate) mod typed;
mod walk;

pub(crate) use check::{at_apply, Checker};
pub use check::{check, check_resolved, PolicyGuard, PolicyReport};
pub use config::{Enforcement, Policies};
pub use generic::generic_pack;
pub use report::{compliance_report, ComplianceReport, ControlStatus};
pub use rule::{Findings, Pack, ResourceView, Rule, StackView};
pub use sarif::sarif;
pub use walk::PlainString;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::resource::Location;

/// How bad a violation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Hygiene; worth fixing.
    Low,
    /// A weakness that needs another mistake to be exploited.
    Medium,
    /// Exposure or loss of control over data or access.
    High,
    /// Exposure to anyone on the internet, or of credentials.
    Critical,
}

impl Severity {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses `low`, `medium`, `high` or `critical`.
    pub fn parse(s: &str) -> Option<Severity> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A compliance standard a rule maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standard {
    /// CIS Amazon Web Services Foundations Benchmark.
    CisAws,
    /// SOC 2 Trust Services Criteria.
    Soc2,
    /// HIPAA Security Rule, technical safeguards (45 CFR 164.312).
    Hipaa,
    /// GDPR Article 32, security of processing.
    Gdpr,
    /// PCI DSS v4.0.
    PciDss,
}

impl Standard {
    /// Every standard.
    pub const ALL: [Standard; 5] = [
        Standard::CisAws,
        Standard::Soc2,
        Standard::Hipaa,
        Standard::Gdpr,
        Standard::PciDss,
    ];

    /// The short name the command line takes (`cis-aws`, `soc2`, `hipaa`,
    /// `gdpr`, `pci-dss`).
    pub fn key(self) -> &'static str {
        match self {
            Standard::CisAws => "cis-aws",
            Standard::Soc2 => "soc2",
            Standard::Hipaa => "hipaa",
            Standard::Gdpr => "gdpr",
            Standard::PciDss => "pci-dss",
        }
    }

    /// The standard's full name.
    pub fn title(self) -> &'static str {
        match self {
            Standard::CisAws => "CIS AWS Foundations Benchmark",
            Standard::Soc2 => "SOC 2 Trust Services Criteria",
            Standard::Hipaa => "HIPAA Security Rule, 45 CFR 164.312",
            Standard::Gdpr => "GDPR Article 32",
            Standard::PciDss => "PCI DSS v4.0",
        }
    }

    /// Parses [`Standard::key`].
    pub fn parse(s: &str) -> Option<Standard> {
        Standard::ALL.into_iter().find(|st| st.key() == s)
    }
}

/// One control of a standard: `CIS AWS 5.2`, `SOC 2 CC6.1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Control {
    /// The standard.
    pub standard: Standard,
    /// The control's id in it.
    pub id: &'static str,
    /// What the control asks, in a few words.
    pub title: &'static str,
}

impl Control {
    /// A control of `standard`.
    pub const fn new(standard: Standard, id: &'static str, title: &'static str) -> Self {
        Control {
            standard,
            id,
            title,
        }
    }
}

/// What a rule is: stable id, title, severity, category, how to fix it and
/// which controls it helps meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    /// The stable id (`DAF-AWS-001`): suppressions and reports name it.
    pub id: &'static str,
    /// One line saying what the rule wants.
    pub title: &'static str,
    /// How bad a violation is.
    pub severity: Severity,
    /// A category: `networking`, `encryption`, `identity`, `secrets`, ...
    pub category: &'static str,
    /// How to fix a violation.
    pub remediation: &'static str,
    /// The controls the rule helps meet.
    pub controls: &'static [Control],
}

/// Declares a `pub const` [`RuleInfo`] named `$name`, documented with its id
/// and title: the one way the built-in packs declare their rules, and a
/// short one for a program's own.
///
/// The arguments, in order: the constant's name, the stable id, the
/// [`Severity`] variant, the category, the title, the remediation, and the
/// controls (`&[Control]`).
///
/// ```
/// use dafnck_core::policy::{RuleInfo, Severity};
///
/// dafnck_core::policy_rule!(
///     WIDE,
///     "ACME-001",
///     Medium,
///     "networking",
///     "Networks are no wider than /16",
///     "Split the range.",
///     &[]
/// );
/// assert_eq!((WIDE.id, WIDE.severity), ("ACME-001", Severity::Medium));
/// ```
#[macro_export]
macro_rules! policy_rule {
    ($name:ident, $id:literal, $sev:ident, $cat:literal, $title:literal, $fix:literal, $controls:expr $(,)?) => {
        #[doc = concat!($id, ": ", $title)]
        pub const $name: $crate::policy::RuleInfo = $crate::policy::RuleInfo {
            id: $id,
            title: $title,
            severity: $crate::policy::Severity::$sev,
            category: $cat,
            remediation: $fix,
            controls: $controls,
        };
    };
}

/// A rule's suppression on one declaration: written in the program next to
/// the resource (`Options::new().suppress(..)`), with a reason, and an
/// optional last day after which the violation counts again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// The rule's id.
    pub rule: String,
    /// Why the violation is accepted.
    pub reason: String,
    /// The last day (`YYYY-MM-DD`, UTC) the suppression holds; none: no end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

impl Suppression {
    /// Suppresses rule `rule` for `reason`.
    pub fn new(rule: impl Into<String>, reason: impl Into<String>) -> Self {
        Suppression {
            rule: rule.into(),
            reason: reason.into(),
            until: None,
        }
    }

    /// Holds until the end of `day` (`YYYY-MM-DD`, UTC).
    pub fn until(mut self, day: impl Into<String>) -> Self {
        self.until = Some(day.into());
        self
    }

    /// Whether it still holds on `today` (days since 1970-01-01, UTC). A
    /// date that cannot be read holds never: the violation is shown.
    pub fn holds_on(&self, today: i64) -> bool {
        match &self.until {
            None => true,
            Some(day) => date::parse(day).is_some_and(|last| today <= last),
        }
    }
}

/// How a violation was suppressed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppressed {
    /// The reason the program gave.
    pub reason: String,
    /// Its last day, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Whether that day has passed: the violation counts again.
    pub expired: bool,
}

/// One violation of one rule by one resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The rule's id.
    pub rule: &'static str,
    /// The rule's title.
    pub title: &'static str,
    /// The rule's severity.
    pub severity: Severity,
    /// The pack that holds the rule.
    pub pack: String,
    /// The resource.
    pub resource: String,
    /// Its type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The offending input field (a path such as `ingress[0].cidr_blocks`),
    /// empty when the resource as a whole is at fault.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// Where the resource was declared.
    pub location: Option<Location>,
    /// Whether `up` refuses because of it (unless suppressed).
    pub enforcement: Enforcement,
    /// Its suppression, if the declaration carries one.
    pub suppressed: Option<Suppressed>,
    /// Found at apply time, with inputs resolved.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub at_apply: bool,
}

impl Violation {
    /// Whether it stands: not suppressed, or suppressed past the expiry.
    pub fn counts(&self) -> bool {
        self.suppressed.as_ref().is_none_or(|s| s.expired)
    }

    /// Whether it makes `up` refuse: it counts and its rule is mandatory.
    pub fn blocks(&self) -> bool {
        self.counts() && self.enforcement == Enforcement::Mandatory
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = &self.location {
            write!(f, "{l}: ")?;
        }
        write!(
            f,
            "[{} {}] {} {:?}",
            self.rule, self.severity, self.type_name, self.resource
        )?;
        if !self.field.is_empty() {
            write!(f, " field {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Days since 1970-01-01 for civil dates (UTC).
pub(crate) mod date {
    /// `YYYY-MM-DD` as days since 1970-01-01.
    pub fn parse(s: &str) -> Option<i64> {
        let mut it = s.trim().splitn(3, '-');
        let y: i64 = it.next()?.parse().ok()?;
        let m: i64 = it.next()?.parse().ok()?;
        let d: i64 = it.next()?.parse().ok()?;
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return None;
        }
        Some(days_from_civil(y, m, d))
    }

    /// Today, UTC.
    pub fn today() -> i64 {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        secs.div_euclid(86_400)
    }

    fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn known_days() {
            assert_eq!(super::parse("1970-01-01"), Some(0));
            assert_eq!(super::parse("2000-03-01"), Some(11_017));
            assert_eq!(super::parse("2026-12-04"), Some(20_791));
            assert_eq!(super::parse("2026-13-04"), None);
            assert_eq!(super::parse("soon"), None);
        }
    }
}
