//! The `aws` and `local` policy packs: a program with one violation per
//! rule gets exactly those (ids, resources, declaring lines); a program
//! that follows every rule gets none; suppressing each leaves none that
//! counts, and an expired suppression counts again. Plan-time checks over
//! the typed structs: no cloud is called.
#![cfg(all(feature = "aws", feature = "local"))]

#[path = "policy/programs.rs"]
mod programs;

use dafnck_core::policy::{self, Policies, PolicyReport, Suppression};
use dafnck_core::{Options, Stack};
use dafnck_providers::local;

use programs::{following, violating};

fn policies() -> Policies {
    Policies::new()
        .pack(dafnck_providers::aws::policy::pack())
        .pack(local::policy::pack())
        .mandatory()
}

fn checked(program: impl FnOnce(&mut Stack)) -> PolicyReport {
    let mut st = Stack::new("dev");
    program(&mut st);
    let desired = st.into_desired().expect("a valid program");
    policy::check(&policies(), &desired, None)
}

fn found(report: &PolicyReport) -> Vec<(&'static str, String, u32)> {
    let mut v: Vec<_> = report
        .violations
        .iter()
        .filter(|v| v.counts())
        .map(|v| {
            (
                v.rule,
                v.resource.clone(),
                v.location.as_ref().map_or(0, |l| l.line),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn one_violation_per_rule_gives_exactly_those_with_their_lines() {
    let mut want = Vec::new();
    let report = checked(|st| want = violating(st, &|_| Options::new()));
    want.sort();
    let rules = policies().rules().count();
    assert_eq!(rules, 28);
    let covered: std::collections::BTreeSet<_> = want.iter().map(|w| w.0).collect();
    assert_eq!(covered.len(), rules, "every aws and local rule");
    assert_eq!(found(&report), want);
    assert!(report.is_blocking());
}

#[test]
fn a_program_that_follows_every_rule_has_no_violation() {
    let report = checked(following);
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
}

#[test]
fn suppressions_silence_each_rule_and_an_expired_one_counts_again() {
    let report = checked(|st| {
        violating(st, &|rule| {
            Options::new().suppress(Suppression::new(rule, "accepted risk").until("2999-12-31"))
        });
    });
    assert!(found(&report).is_empty(), "{:?}", found(&report));
    assert!(!report.is_blocking());
    let mut expired_line = 0;
    let report = checked(|st| {
        let want = violating(st, &|rule| {
            let s = Suppression::new(rule, "accepted risk");
            Options::new().suppress(if rule == "DAF-AWS-001" {
                s.until("2020-01-01")
            } else {
                s
            })
        });
        expired_line = want.iter().find(|w| w.0 == "DAF-AWS-001").unwrap().2;
    });
    assert_eq!(
        found(&report),
        vec![("DAF-AWS-001", "ssh".to_owned(), expired_line)]
    );
}

#[test]
fn the_compliance_report_lists_controls_with_pass_and_fail() {
    let policies = policies();
    let report = checked(|st| {
        violating(st, &|_| Options::new());
    });
    let soc2 = policy::compliance_report(&policies, &report, policy::Standard::Soc2);
    let cc66 = soc2
        .controls
        .iter()
        .find(|c| c.control.id == "CC6.6")
        .expect("CC6.6 covered");
    assert!(cc66.rules.contains(&"DAF-AWS-001") && !cc66.passes());
    assert!(soc2.render().contains("FAIL CC6.6"));
    let clean = checked(following);
    let cis = policy::compliance_report(&policies, &clean, policy::Standard::CisAws);
    assert!(cis.passes() && cis.controls.iter().any(|c| c.control.id == "5.2"));
}
