//! Schedules of a DAG whose node costs are known, on `p` identical slots
//! with no preemption: greedy list schedules (what the engine does, and
//! what a clairvoyant one would do), a search over list schedules for an
//! upper bound on the optimal makespan, and lower bounds on it. The
//! makespan figures compare the engine's apply with these.

use super::{Rng, Shape};

/// A DAG with known costs, on `p` slots.
pub struct Instance {
    deps: Vec<Vec<usize>>,
    after: Vec<Vec<usize>>,
    /// Costs in whole nanoseconds (exact ordering in the simulation).
    cost_ns: Vec<u64>,
    cost: Vec<f64>,
    p: usize,
}

impl Instance {
    /// `shape` with node `i` taking `cost[i]` seconds, on `p` slots.
    pub fn new(shape: &Shape, cost: &[f64], p: usize) -> Self {
        let n = shape.len();
        let mut after: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, deps) in shape.deps.iter().enumerate() {
            for &d in deps {
                after[d].push(i);
            }
        }
        Instance {
            deps: shape.deps.clone(),
            after,
            cost_ns: cost.iter().map(|c| (c * 1e9) as u64).collect(),
            cost: cost.to_vec(),
            p: p.max(1),
        }
    }

    fn len(&self) -> usize {
        self.deps.len()
    }

    /// The longest path from each node to the end, itself included, in
    /// nanoseconds of `cost_ns`.
    fn remaining_paths(&self, cost_ns: &[u64]) -> Vec<u64> {
        let mut rest = vec![0u64; self.len()];
        for i in (0..self.len()).rev() {
            let tail = self.after[i].iter().map(|&s| rest[s]).max().unwrap_or(0);
            rest[i] = tail + cost_ns[i];
        }
        rest
    }

    /// The makespan in seconds of the greedy list schedule: whenever a slot
    /// is free, the ready node with the highest `priority` starts (ties:
    /// the lowest index, as the engine breaks them).
    pub fn list_schedule(&self, priority: &[u64]) -> f64 {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let mut waiting: Vec<usize> = self.deps.iter().map(Vec::len).collect();
        let mut ready: BinaryHeap<(u64, Reverse<usize>)> = (0..self.len())
            .filter(|&i| waiting[i] == 0)
            .map(|i| (priority[i], Reverse(i)))
            .collect();
        // (finish time in ns, node), earliest first.
        let mut running: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
        let mut now = 0u64;
        loop {
            while running.len() < self.p {
                let Some((_, Reverse(i))) = ready.pop() else {
                    break;
                };
                running.push(Reverse((now + self.cost_ns[i], i)));
            }
            let Some(Reverse((t, i))) = running.pop() else {
                break;
            };
            now = t;
            for &s in &self.after[i] {
                waiting[s] -= 1;
                if waiting[s] == 0 {
                    ready.push((priority[s], Reverse(s)));
                }
            }
        }
        now as f64 / 1e9
    }

    /// The list schedule that knows every cost and starts the ready node
    /// with the longest remaining path first.
    pub fn clairvoyant(&self) -> f64 {
        self.list_schedule(&self.remaining_paths(&self.cost_ns))
    }

    /// The list schedule that starts the ready node with the longest
    /// remaining path first where paths are weighed by `expected` (seconds)
    /// instead of the real costs: what the engine does with those
    /// expectations.
    pub fn expected_order(&self, expected: &[f64]) -> f64 {
        let ns: Vec<u64> = expected.iter().map(|c| (c * 1e9) as u64).collect();
        self.list_schedule(&self.remaining_paths(&ns))
    }

    /// The shortest makespan found among `tries` list schedules whose
    /// priorities are random perturbations of the clairvoyant one (of it,
    /// or of the best so far), the clairvoyant one included: an upper bound
    /// on the optimal makespan, and how far list scheduling can get.
    pub fn best_found(&self, tries: usize, seed: u64) -> f64 {
        let base = self.remaining_paths(&self.cost_ns);
        let mut best = self.list_schedule(&base);
        let mut best_priority = base.clone();
        let mut rng = Rng::new(seed);
        let spreads = [0.01, 0.03, 0.1, 0.3];
        for k in 0..tries {
            let spread = spreads[k % spreads.len()];
            let from = if k % 2 == 0 { &base } else { &best_priority };
            let priority: Vec<u64> = from
                .iter()
                .map(|&x| {
                    let u = rng.next() as f64 / u64::MAX as f64 * 2.0 - 1.0;
                    (x as f64 * (1.0 + spread * u)) as u64
                })
                .collect();
            let m = self.list_schedule(&priority);
            if m < best {
                best = m;
                best_priority = priority;
            }
        }
        best
    }

    /// The classic lower bound on any schedule's makespan: max(critical
    /// path, total work / p).
    pub fn simple_bound(&self) -> f64 {
        let heads = self.heads();
        let critical = (0..self.len())
            .map(|v| heads[v] + self.cost[v])
            .fold(0.0, f64::max);
        let work: f64 = self.cost.iter().sum();
        critical.max(work / self.p as f64)
    }

    /// The longest path of predecessors before each node (its earliest
    /// start with unlimited slots).
    fn heads(&self) -> Vec<f64> {
        let mut head = vec![0.0f64; self.len()];
        for v in 0..self.len() {
            head[v] = self.deps[v]
                .iter()
                .map(|&u| head[u] + self.cost[u])
                .fold(0.0, f64::max);
        }
        head
    }

    /// A lower bound on the optimal makespan, at least [`simple_bound`]:
    /// the largest of
    ///
    /// - per node v: r(v) + c(v) + q(v), where r(v) is a lower bound on
    ///   v's start and q(v) one on the time from v's end to the schedule's
    ///   end, each the larger of a path bound and a work bound over v's
    ///   ancestors (descendants);
    /// - the energetic bound over windows [t, C − q] (below).
    ///
    /// Every argument holds for preemptive schedules too, so it bounds the
    /// non-preemptive optimum.
    ///
    /// [`simple_bound`]: Instance::simple_bound
    pub fn strong_bound(&self) -> f64 {
        let n = self.len();
        let p = self.p as f64;
        // Release bounds r, in topological order (dependencies have lower
        // indices). Tail bounds q: the same on the reversed graph, nodes
        // in reverse order.
        let r = release_bounds(&self.deps, &self.cost, p, (0..n).collect());
        let q = release_bounds(&self.after, &self.cost, p, (0..n).rev().collect());
        // v starts at or after r(v), runs c(v), and at least q(v) passes
        // after it ends.
        let per_node = (0..n)
            .map(|v| r[v] + self.cost[v] + q[v])
            .fold(0.0, f64::max);
        per_node
            .max(self.energetic(&r, &q))
            .max(self.simple_bound())
    }

    /// max over windows of t + q + E(t, q) / p, where E(t, q) = Σ_u max(0,
    /// c(u) − max(0, t − r(u)) − max(0, q − q(u))) is the work that must be
    /// done in [t, C − q]: u does at most t − r(u) of its work before t
    /// (it starts at r(u) or later) and at most q − q(u) after C − q (it ends
    /// by C − q(u)). When E > 0 the window is not empty (else each u's work
    /// before t and after C − q would cover all of it, and its term would be
    /// 0), so p (C − q − t) ≥ E. Windows: up to 64 × 64 thresholds taken
    /// from the r(u) and r(u) + c(u) (q likewise); any threshold is valid.
    fn energetic(&self, r: &[f64], q: &[f64]) -> f64 {
        let thresholds = |a: &[f64]| {
            let mut t: Vec<f64> = a
                .iter()
                .zip(&self.cost)
                .flat_map(|(&x, &c)| [x, x + c])
                .chain([0.0])
                .collect();
            t.sort_by(f64::total_cmp);
            t.dedup();
            let step = t.len().div_ceil(64).max(1);
            t.into_iter().step_by(step).collect::<Vec<_>>()
        };
        let (ts, qs) = (thresholds(r), thresholds(q));
        let mut best = 0.0f64;
        for &t in &ts {
            for &tq in &qs {
                let e: f64 = (0..self.len())
                    .map(|u| {
                        let before = (t - r[u]).max(0.0);
                        let after = (tq - q[u]).max(0.0);
                        (self.cost[u] - before - after).max(0.0)
                    })
                    .sum();
                if e > 0.0 {
                    best = best.max(t + tq + e / self.p as f64);
                }
            }
        }
        best
    }
}

/// For each node v (visited in `order`, each after everything in
/// `before[v]`), a lower bound r(v) on its start: the larger of
/// - max over u in before[v] of r(u) + c(u) (u ends before v starts);
/// - max over thresholds t = r(u) of t + W/p, W the work of v's
///   (transitive) predecessors u' with r(u') ≥ t: each of them starts at
///   t or later and ends before v starts, so all of W is done in
///   [t, start(v)] on p slots.
///
/// On the reversed graph the same gives q(v), a lower bound on the time
/// between v's end and the schedule's end.
fn release_bounds(before: &[Vec<usize>], cost: &[f64], p: f64, order: Vec<usize>) -> Vec<f64> {
    let n = before.len();
    let words = n.div_ceil(64);
    // Transitive predecessors of each node, as bit sets.
    let mut above = vec![0u64; n * words];
    let mut r = vec![0.0f64; n];
    let mut set: Vec<(f64, f64)> = Vec::new();
    for v in order {
        let mut bits = vec![0u64; words];
        for &u in &before[v] {
            bits[u / 64] |= 1 << (u % 64);
            for (b, a) in bits.iter_mut().zip(&above[u * words..(u + 1) * words]) {
                *b |= a;
            }
        }
        let path = before[v]
            .iter()
            .map(|&u| r[u] + cost[u])
            .fold(0.0, f64::max);
        set.clear();
        for (w, &word) in bits.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                let u = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                set.push((r[u], cost[u]));
            }
        }
        // Latest release first: each prefix is a set of predecessors all
        // released at or after its last member's release.
        set.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut work = 0.0;
        let mut energy = 0.0f64;
        for &(release, c) in &set {
            work += c;
            energy = energy.max(release + work / p);
        }
        r[v] = path.max(energy);
        above[v * words..(v + 1) * words].copy_from_slice(&bits);
    }
    r
}

/// Sanity checks of the bounds on small cases, run by the bench in its
/// tiny mode: lower bounds ≤ every schedule found, and exact where the
/// optimum is known.
pub fn check() {
    // A chain of three on two slots: the optimum is the chain.
    let chain = Shape {
        name: "chain",
        deps: vec![vec![], vec![0], vec![1]],
    };
    let i = Instance::new(&chain, &[1.0, 2.0, 3.0], 2);
    assert_eq!(i.simple_bound(), 6.0);
    assert_eq!(i.strong_bound(), 6.0);
    assert_eq!(i.clairvoyant(), 6.0);
    // One root before four independent unit nodes, two slots: the root runs
    // alone, then two rounds — 3, where max(path 2, work 5/2) says 2.5.
    let fan = Shape {
        name: "fan",
        deps: vec![vec![], vec![0], vec![0], vec![0], vec![0]],
    };
    let i = Instance::new(&fan, &[1.0; 5], 2);
    assert_eq!(i.simple_bound(), 2.5);
    assert_eq!(i.strong_bound(), 3.0);
    assert_eq!(i.best_found(50, 1), 3.0);
    // Random graphs: simple ≤ strong ≤ best found ≤ clairvoyant.
    for seed in 1..20 {
        let shape = super::layered(40, seed);
        let mut rng = Rng::new(seed);
        let cost: Vec<f64> = (0..40).map(|_| rng.between(20, 500) as f64 / 1e3).collect();
        for p in [1, 3, 10] {
            let i = Instance::new(&shape, &cost, p);
            let (simple, strong) = (i.simple_bound(), i.strong_bound());
            let (best, greedy) = (i.best_found(30, seed), i.clairvoyant());
            assert!(simple <= strong + 1e-9, "{simple} {strong}");
            assert!(
                strong <= best + 1e-6,
                "seed {seed} p {p}: {strong} > {best}"
            );
            assert!(best <= greedy);
        }
    }
}
