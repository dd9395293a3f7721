//! Policy checking cost beside planning: the layered 1k / 10k / 100k
//! programs planned with no changes (`plan_no_changes`); planned and
//! checked against every built-in pack (generic, local, and aws with the
//! `aws` feature) in the planner's pass, as the engine does
//! (`plan_checked`); and checked alone, in a pass of its own over a
//! planned program (`check_all_packs`). What checking adds to planning is
//! `plan_checked` − `plan_no_changes`.
//!
//! `cargo bench --bench policy` measures; `cargo test --benches` runs each
//! case once at a tiny size (what CI checks).

mod common;

use criterion::{BenchmarkId, Criterion};
use dafnck::core::planner;
use dafnck::core::policy::{self, generic_pack, Policies};
use dafnck::core::testing::FakeCloud;
use dafnck::core::Providers;

use common::{benchmarking, desired, layered, recorded};

fn sizes() -> Vec<usize> {
    if benchmarking() {
        vec![1_000, 10_000, 100_000]
    } else {
        vec![100]
    }
}

/// Every built-in pack this build has, mandatory, with required tags.
fn all_packs() -> Policies {
    let p = Policies::new()
        .pack(generic_pack(&["owner".to_owned()]))
        .pack(dafnck::providers::local::policy::pack());
    #[cfg(feature = "aws")]
    let p = p.pack(dafnck::providers::aws::policy::pack());
    p.mandatory()
}

fn bench_policy(c: &mut Criterion) {
    let providers = Providers::new().with(FakeCloud::new());
    let policies = all_packs();
    let mut group = c.benchmark_group("policy");
    group.sample_size(10);
    for n in sizes() {
        let shape = layered(n, 0x9E37_79B9_7F4A_7C15);
        let program = desired(&shape, None);
        let state = recorded(&program);
        group.bench_function(BenchmarkId::new("plan_no_changes", n), |b| {
            b.iter(|| planner::plan(&program, &state, &providers).expect("plans"))
        });
        group.bench_function(BenchmarkId::new("plan_checked", n), |b| {
            b.iter(|| {
                let (plan, report) =
                    planner::plan_checked(&program, &state, &providers, &policies).expect("plans");
                assert_eq!(report.resources, n);
                (plan, report)
            })
        });
        let plan = planner::plan(&program, &state, &providers).expect("plans");
        group.bench_function(BenchmarkId::new("check_all_packs", n), |b| {
            b.iter(|| {
                let report = policy::check(&policies, &program, Some(&plan));
                assert_eq!(report.resources, n);
                report
            })
        });
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_policy(&mut c);
    c.final_summary();
}
