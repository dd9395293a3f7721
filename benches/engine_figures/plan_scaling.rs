//! How planning time grows with the number of resources, measured so that
//! a shared, noisy machine does not decide the answer.
//!
//! Each measurement runs in a fresh process, as a real `preview` does: it
//! declares the program, builds the state an apply records, then plans —
//! so one size's heap and caches are never the other's. The small and the
//! large size take turns, round after round, and each round gives one ratio
//! (large / small) under about the same load; the figure is the median of
//! those ratios. The criterion bench (`benches/plan.rs`) times each size on
//! its own, minutes apart, so its ratios carry the machine's swings too.
//!
//! Two cache regimes: "warm" plans the same program again and again in the
//! process (what a criterion loop does: a small stack's data and freed
//! memory then stay in the CPU caches from one plan to the next, a large
//! one's cannot), "cold" writes 64 MB before each plan, as a process that
//! plans once sees it.

use std::time::{Duration, Instant};

use dafnck::core::planner;
use dafnck::core::stack::Desired;
use dafnck::core::state::State;

use crate::common::{chain, desired, fan_out, layered, recorded, Shape};
use crate::fake;

/// The child-process switch: `shape:n`.
pub const PLAN_CHILD: &str = "DAFNCK_FIGURES_PLAN";

/// Timed plans per regime in one child; the child reports their median.
const PLANS_PER_CHILD: usize = 5;

/// The four measurements of a child, in this order.
const CASES: [(&str, &str); 4] = [
    ("none", "warm"),
    ("none", "cold"),
    ("10% changed", "warm"),
    ("10% changed", "cold"),
];

fn shape(name: &str, n: usize) -> Shape {
    match name {
        "chain" => chain(n),
        "fan_out" => fan_out(n),
        _ => layered(n, 0x9E37_79B9_7F4A_7C15),
    }
}

/// Writes enough memory to push a plan's data out of the CPU caches (the
/// machine's last-level cache is 32 MB).
fn flush(scratch: &mut [u8]) {
    for (i, x) in scratch.iter_mut().enumerate() {
        *x = x.wrapping_add(i as u8);
    }
    std::hint::black_box(scratch);
}

/// One plan, timed (dropping the plan included, as in `benches/plan.rs`).
fn timed(program: &Desired, state: &State) -> Duration {
    let providers = fake();
    let started = Instant::now();
    let plan = planner::plan(program, state, &providers).expect("plans");
    std::hint::black_box(&plan);
    drop(plan);
    started.elapsed()
}

/// In a fresh process: declares `shape:n`, records its state, and prints
/// the median plan time of each of [`CASES`] in nanoseconds, one per line.
pub fn plan_child(spec: &str) {
    let (name, n) = spec.split_once(':').expect("shape:n");
    let n: usize = n.parse().expect("a size");
    let full = n >= 10_000;
    let s = shape(name, n);
    let unchanged = desired(&s, None);
    let state = recorded(&unchanged);
    let changed = desired(&s, Some(10));
    let mut scratch = vec![0u8; if full { 64 << 20 } else { 1 << 10 }];
    for (change, caches) in CASES {
        let program = if change == "none" {
            &unchanged
        } else {
            &changed
        };
        let cold = caches == "cold";
        if !cold {
            // "Warm" means repeated: one untimed plan first.
            timed(program, &state);
        }
        let mut times: Vec<Duration> = (0..PLANS_PER_CHILD)
            .map(|_| {
                if cold {
                    flush(&mut scratch);
                }
                timed(program, &state)
            })
            .collect();
        times.sort();
        println!("{}", times[times.len() / 2].as_nanos());
    }
}

/// Runs one child; its four median plan times.
fn child(shape: &str, n: usize) -> Vec<Duration> {
    let out = std::process::Command::new(std::env::current_exe().expect("this program"))
        .env(PLAN_CHILD, format!("{shape}:{n}"))
        .output()
        .expect("the child runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{shape}:{n}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let times: Vec<Duration> = text
        .lines()
        .map(|l| Duration::from_nanos(l.trim().parse().expect("nanoseconds")))
        .collect();
    assert_eq!(times.len(), CASES.len(), "{shape}:{n}: {text}");
    times
}

fn median<T: Copy>(mut xs: Vec<T>, cmp: impl Fn(&T, &T) -> std::cmp::Ordering) -> T {
    xs.sort_by(cmp);
    xs[xs.len() / 2]
}

/// Prints the table: per shape, change and cache regime, the median time
/// of each size and the median of the paired ratios (with their spread).
pub fn plan_scaling_table(full: bool) {
    let (small, large) = if full {
        (10_000, 100_000)
    } else {
        (100, 1_000)
    };
    let rounds = if full { 7 } else { 1 };
    println!(
        "\n## Plan time, {small} → {large} resources ({rounds} rounds; each: a fresh process \
         per size, the median of {PLANS_PER_CHILD} plans per case)\n"
    );
    println!(
        "| shape | change | caches | {small}: median | {large}: median | ratio: median of rounds | ratio: lowest–highest round |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for name in ["layered", "chain", "fan_out"] {
        // Per case: each round's (small, large).
        let mut pairs: Vec<Vec<(Duration, Duration)>> = vec![Vec::new(); CASES.len()];
        for _ in 0..rounds {
            let (s, l) = (child(name, small), child(name, large));
            for (k, p) in pairs.iter_mut().enumerate() {
                p.push((s[k], l[k]));
            }
        }
        for ((change, caches), p) in CASES.iter().zip(pairs) {
            let ratios: Vec<f64> = p
                .iter()
                .map(|(s, l)| l.as_secs_f64() / s.as_secs_f64())
                .collect();
            let lowest = ratios.iter().copied().fold(f64::INFINITY, f64::min);
            let highest = ratios.iter().copied().fold(0.0, f64::max);
            println!(
                "| {name} | {change} | {caches} | {} | {} | {:.1}× | {:.1}–{:.1}× |",
                crate::ms(median(p.iter().map(|x| x.0).collect(), Ord::cmp)),
                crate::ms(median(p.iter().map(|x| x.1).collect(), Ord::cmp)),
                median(ratios, f64::total_cmp),
                lowest,
                highest,
            );
        }
    }
}
