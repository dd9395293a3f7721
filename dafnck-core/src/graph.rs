//! A dependency graph over dense node indices, knowing nothing of
//! infrastructure: topological order, every cycle, reachability.
//!
//! petgraph does the work; its types stay inside this module.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

/// A directed graph whose nodes are `0..len`; an edge `a → b` means `a` must
/// come before `b`.
#[derive(Clone, Debug, Default)]
pub struct DepGraph {
    g: DiGraph<(), (), u32>,
}

impl DepGraph {
    /// A graph of `len` nodes and no edges.
    pub fn new(len: usize) -> Self {
        let mut g = DiGraph::with_capacity(len, len * 2);
        for _ in 0..len {
            g.add_node(());
        }
        DepGraph { g }
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.g.node_count()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.g.node_count() == 0
    }

    /// Adds `before → after`.
    pub fn add_edge(&mut self, before: usize, after: usize) {
        self.g
            .add_edge(NodeIndex::new(before), NodeIndex::new(after), ());
    }

    /// The nodes that must come right before `node`.
    pub fn predecessors(&self, node: usize) -> impl Iterator<Item = usize> + '_ {
        self.g
            .edges_directed(NodeIndex::new(node), Direction::Incoming)
            .map(|e| e.source().index())
    }

    /// The nodes that come right after `node`.
    pub fn successors(&self, node: usize) -> impl Iterator<Item = usize> + '_ {
        self.g
            .edges_directed(NodeIndex::new(node), Direction::Outgoing)
            .map(|e| e.target().index())
    }

    /// A topological order that stays as close to index order as the edges
    /// allow: among the nodes whose predecessors are all placed, the lowest
    /// index comes first (Kahn's algorithm with a min-heap). When every edge
    /// goes from a lower index to a higher one — a program declares what a
    /// resource refers to before the resource — that is index order itself,
    /// found in one pass over the edges. Or every cycle: each strongly
    /// connected component of more than one node, and each node with an edge
    /// to itself, with its members in index order.
    ///
    /// Index order matters for speed as well as for reading: whoever walks
    /// the nodes in this order walks what was built for them (a program's
    /// resources, allocated as they were declared) front to back, which the
    /// CPU's prefetching follows, instead of jumping about a large heap.
    ///
    /// # Errors
    /// The cycles, when there are any.
    pub fn toposort(&self) -> Result<Vec<usize>, Vec<Vec<usize>>> {
        let n = self.len();
        if self
            .g
            .edge_references()
            .all(|e| e.source().index() < e.target().index())
        {
            return Ok((0..n).collect());
        }
        let mut indegree: Vec<u32> = vec![0; n];
        for e in self.g.edge_references() {
            indegree[e.target().index()] += 1;
        }
        let mut order = Vec::with_capacity(n);
        let mut ready: BinaryHeap<Reverse<usize>> =
            (0..n).filter(|&i| indegree[i] == 0).map(Reverse).collect();
        while let Some(Reverse(i)) = ready.pop() {
            order.push(i);
            for s in self.successors(i) {
                indegree[s] -= 1;
                if indegree[s] == 0 {
                    ready.push(Reverse(s));
                }
            }
        }
        if order.len() == n {
            return Ok(order);
        }
        Err(self.cycles())
    }

    /// For each node, the number of nodes on the longest path that starts
    /// at it (1 for a node nothing comes after). For nodes on a cycle, or
    /// leading to one, it is a lower bound (what was found before the cycle
    /// stopped the count).
    pub fn heights(&self) -> Vec<u32> {
        self.longest_paths(|_| 1)
            .into_iter()
            .map(|h| u32::try_from(h).unwrap_or(u32::MAX))
            .collect()
    }

    /// For each node, the largest sum of `weight` over the nodes of a path
    /// that starts at it (its own weight included): [`DepGraph::heights`]
    /// when every weight is 1. On cycles, a lower bound as for heights.
    pub fn longest_paths(&self, weight: impl Fn(usize) -> u64) -> Vec<u64> {
        let n = self.len();
        let mut path: Vec<u64> = (0..n).map(&weight).collect();
        // Kahn's algorithm from the sinks backwards.
        let mut later: Vec<u32> = (0..n).map(|i| self.successors(i).count() as u32).collect();
        let mut done: Vec<usize> = (0..n).filter(|&i| later[i] == 0).collect();
        while let Some(i) = done.pop() {
            for p in self.predecessors(i) {
                path[p] = path[p].max(weight(p).saturating_add(path[i]));
                later[p] -= 1;
                if later[p] == 0 {
                    done.push(p);
                }
            }
        }
        path
    }

    /// Every cycle (see [`DepGraph::toposort`]), sorted.
    pub fn cycles(&self) -> Vec<Vec<usize>> {
        let mut cycles: Vec<Vec<usize>> = tarjan_scc(&self.g)
            .into_iter()
            .filter(|scc| scc.len() > 1 || self.g.contains_edge(scc[0], scc[0]))
            .map(|scc| {
                let mut members: Vec<usize> = scc.into_iter().map(NodeIndex::index).collect();
                members.sort_unstable();
                members
            })
            .collect();
        cycles.sort();
        cycles
    }

    /// Every node reachable from `start` (not including `start` unless on a cycle).
    pub fn descendants(&self, start: usize) -> Vec<usize> {
        let mut seen = vec![false; self.len()];
        let mut stack: Vec<usize> = self.successors(start).collect();
        let mut out = Vec::new();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            out.push(i);
            stack.extend(self.successors(i));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_dependencies_first() {
        let mut g = DepGraph::new(4);
        g.add_edge(2, 0);
        g.add_edge(0, 1);
        g.add_edge(3, 1);
        let order = g.toposort().unwrap();
        let pos = |x| order.iter().position(|&i| i == x).unwrap();
        assert!(pos(2) < pos(0) && pos(0) < pos(1) && pos(3) < pos(1));
    }

    #[test]
    fn keeps_index_order_when_the_edges_allow_it() {
        // Every edge from a lower index to a higher one: index order, even
        // where a depth-first or breadth-first order would differ.
        let mut g = DepGraph::new(6);
        for (a, b) in [(0, 3), (0, 1), (1, 2), (3, 4), (2, 5), (4, 5)] {
            g.add_edge(a, b);
        }
        assert_eq!(g.toposort().unwrap(), vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn otherwise_places_the_lowest_ready_index_first() {
        // 4 must come before 1; everything else keeps index order.
        let mut g = DepGraph::new(6);
        g.add_edge(4, 1);
        g.add_edge(0, 5);
        assert_eq!(g.toposort().unwrap(), vec![0, 2, 3, 4, 1, 5]);
    }

    #[test]
    fn reports_every_cycle_with_all_members() {
        let mut g = DepGraph::new(6);
        g.add_edge(0, 1);
        g.add_edge(1, 2);
        g.add_edge(2, 0);
        g.add_edge(3, 4);
        g.add_edge(4, 3);
        g.add_edge(5, 5);
        assert_eq!(
            g.toposort().unwrap_err(),
            vec![vec![0, 1, 2], vec![3, 4], vec![5]]
        );
    }

    #[test]
    fn heights_count_the_longest_path_after_each_node() {
        let mut g = DepGraph::new(5);
        g.add_edge(0, 1);
        g.add_edge(1, 2);
        g.add_edge(0, 3);
        assert_eq!(g.heights(), vec![3, 2, 1, 1, 1]);
        // A cycle does not hang it.
        let mut c = DepGraph::new(3);
        c.add_edge(0, 1);
        c.add_edge(1, 0);
        c.add_edge(1, 2);
        assert_eq!(c.heights(), vec![1, 2, 1]);
    }

    #[test]
    fn longest_paths_add_weights_along_the_heaviest_path() {
        let mut g = DepGraph::new(4);
        g.add_edge(0, 1);
        g.add_edge(1, 2);
        g.add_edge(0, 3);
        let w = [1, 2, 3, 10];
        assert_eq!(g.longest_paths(|i| w[i]), vec![11, 5, 3, 10]);
    }

    #[test]
    fn descendants_are_transitive() {
        let mut g = DepGraph::new(4);
        g.add_edge(0, 1);
        g.add_edge(1, 2);
        let mut d = g.descendants(0);
        d.sort();
        assert_eq!(d, vec![1, 2]);
        assert!(g.descendants(3).is_empty());
    }
}
