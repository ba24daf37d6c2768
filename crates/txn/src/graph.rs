//! The dependency graph between transactions: vertices are transactions
//! (`u32`, their position in the checked history), edges carry a bitmask of
//! relations (Elle's `BitRels`), stored as compressed adjacency (CSR) in both
//! directions. Strongly connected components are found iteratively (Tarjan,
//! with an explicit stack), so a history of millions of transactions cannot
//! overflow the call stack.

use std::fmt;

/// A set of relations between two transactions (Elle's `BitRels`; lightcone's
/// workloads have no predicates, so there are no `wwp`/`wrp`/`rwp`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Rels(pub u8);

impl Rels {
    pub const NONE: Rels = Rels(0);
    /// Write-write: b overwrote a's version.
    pub const WW: Rels = Rels(1);
    /// Write-read: b read a's version.
    pub const WR: Rels = Rels(2);
    /// Read-write: b overwrote the version a read (an anti-dependency).
    pub const RW: Rels = Rels(4);
    /// Process order: b followed a in one process.
    pub const PROCESS: Rels = Rels(8);
    /// Real-time order: a completed before b was invoked.
    pub const REALTIME: Rels = Rels(16);
    /// The data dependencies.
    pub const DATA: Rels = Rels(1 | 2 | 4);

    pub fn union(self, other: Rels) -> Rels {
        Rels(self.0 | other.0)
    }

    pub fn intersects(self, other: Rels) -> bool {
        self.0 & other.0 != 0
    }

    pub fn contains(self, other: Rels) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Elle's name for a single relation.
    pub fn name(self) -> &'static str {
        match self {
            Rels::WW => "ww",
            Rels::WR => "wr",
            Rels::RW => "rw",
            Rels::PROCESS => "process",
            Rels::REALTIME => "realtime",
            _ => "rels",
        }
    }
}

impl fmt::Debug for Rels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [Rels::WW, Rels::WR, Rels::RW, Rels::PROCESS, Rels::REALTIME]
            .into_iter()
            .filter(|r| self.contains(*r))
            .map(Rels::name)
            .collect();
        write!(f, "{{{}}}", names.join(" "))
    }
}

/// Edges gathered before the graph is built; parallel edges are merged.
#[derive(Default)]
pub struct GraphBuilder {
    edges: Vec<(u32, u32, Rels)>,
}

impl GraphBuilder {
    /// Adds `from -> to` with `rels`; self-edges are dropped (Elle's
    /// dependency graphs have none).
    pub fn link(&mut self, from: u32, to: u32, rels: Rels) {
        if from != to {
            self.edges.push((from, to, rels));
        }
    }

    pub fn len(&self) -> usize {
        self.edges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }

    /// The graph over `vertex_count` vertices: edges bucketed by source (a
    /// counting sort, linear in the edges), each bucket sorted by target and
    /// its parallel edges merged.
    pub fn build(self, vertex_count: usize) -> Graph {
        let n = vertex_count;
        assert!(
            self.edges.len() < u32::MAX as usize,
            "a transaction graph holds fewer than 2^32 edges"
        );
        let mut start = vec![0u32; n + 1];
        for &(a, _, _) in &self.edges {
            start[a as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut by_source: Vec<(u32, Rels)> = vec![(0, Rels::NONE); self.edges.len()];
        for (a, b, r) in self.edges {
            let at = &mut fill[a as usize];
            by_source[*at as usize] = (b, r);
            *at += 1;
        }
        drop(fill);
        // Sort and merge each bucket, compacting towards the front.
        let mut out_start = vec![0u32; n + 1];
        let mut len = 0usize;
        for v in 0..n {
            let bucket = start[v] as usize..start[v + 1] as usize;
            by_source[bucket.clone()].sort_unstable_by_key(|e| e.0);
            let first = len;
            for i in bucket {
                let (b, r) = by_source[i];
                if len > first && by_source[len - 1].0 == b {
                    by_source[len - 1].1 = by_source[len - 1].1.union(r);
                } else {
                    by_source[len] = (b, r);
                    len += 1;
                }
            }
            out_start[v + 1] = len as u32;
        }
        by_source.truncate(len);
        Graph::from_buckets(out_start, &by_source)
    }
}

/// A directed graph in compressed form, with out- and in-adjacency.
pub struct Graph {
    out_start: Vec<u32>,
    out_to: Vec<u32>,
    out_rels: Vec<Rels>,
    in_start: Vec<u32>,
    in_from: Vec<u32>,
    in_rels: Vec<Rels>,
}

impl Graph {
    /// The graph from its out-adjacency: `out[out_start[v]..out_start[v + 1]]`
    /// are `v`'s edges, by target, without duplicates.
    fn from_buckets(out_start: Vec<u32>, out: &[(u32, Rels)]) -> Graph {
        let n = out_start.len() - 1;
        let mut in_start = vec![0u32; n + 1];
        for &(b, _) in out {
            in_start[b as usize + 1] += 1;
        }
        for i in 0..n {
            in_start[i + 1] += in_start[i];
        }
        let out_to: Vec<u32> = out.iter().map(|e| e.0).collect();
        let out_rels: Vec<Rels> = out.iter().map(|e| e.1).collect();
        let mut fill = in_start.clone();
        let mut in_from = vec![0u32; out.len()];
        let mut in_rels = vec![Rels::NONE; out.len()];
        // Sources in order, so each in-list comes out sorted by source.
        for a in 0..n {
            for &(b, r) in &out[out_start[a] as usize..out_start[a + 1] as usize] {
                let at = fill[b as usize] as usize;
                in_from[at] = a as u32;
                in_rels[at] = r;
                fill[b as usize] += 1;
            }
        }
        Graph {
            out_start,
            out_to,
            out_rels,
            in_start,
            in_from,
            in_rels,
        }
    }

    pub fn vertex_count(&self) -> usize {
        self.out_start.len() - 1
    }

    pub fn edge_count(&self) -> usize {
        self.out_to.len()
    }

    /// `v`'s out-edges: (target, relations), by target.
    pub fn out(&self, v: u32) -> impl Iterator<Item = (u32, Rels)> + '_ {
        let range = self.out_start[v as usize] as usize..self.out_start[v as usize + 1] as usize;
        self.out_to[range.clone()]
            .iter()
            .copied()
            .zip(self.out_rels[range].iter().copied())
    }

    /// `v`'s in-edges: (source, relations), by source.
    pub fn incoming(&self, v: u32) -> impl Iterator<Item = (u32, Rels)> + '_ {
        let range = self.in_start[v as usize] as usize..self.in_start[v as usize + 1] as usize;
        self.in_from[range.clone()]
            .iter()
            .copied()
            .zip(self.in_rels[range].iter().copied())
    }

    /// The relations on the edge `a -> b` (none when there is no edge).
    pub fn rels(&self, a: u32, b: u32) -> Rels {
        let range = self.out_start[a as usize] as usize..self.out_start[a as usize + 1] as usize;
        match self.out_to[range.clone()].binary_search(&b) {
            Ok(i) => self.out_rels[range.start + i],
            Err(_) => Rels::NONE,
        }
    }

    /// Whether `v` has any edge.
    pub fn has_edges(&self, v: u32) -> bool {
        self.out_start[v as usize] != self.out_start[v as usize + 1]
            || self.in_start[v as usize] != self.in_start[v as usize + 1]
    }
}

/// Strongly connected components of the subgraph on `vertices` whose edges
/// `keep` accepts, each sorted, in order of their smallest vertex. Only
/// components with more than one vertex are returned (our graphs have no
/// self-edges). `member` says which vertices are in the subgraph; it must
/// be true exactly for `vertices`.
pub fn sccs(
    graph: &Graph,
    vertices: &[u32],
    member: &dyn Fn(u32) -> bool,
    keep: &dyn Fn(Rels) -> bool,
) -> Vec<Vec<u32>> {
    let mut tarjan = Tarjan::new(graph.vertex_count());
    for &v in vertices {
        if tarjan.index[v as usize] == UNVISITED {
            tarjan.visit(v, &|x| {
                graph
                    .out(x)
                    .filter(|&(y, r)| keep(r) && member(y))
                    .map(|(y, _)| y)
            });
        }
    }
    let mut components = tarjan.components;
    for c in &mut components {
        c.sort_unstable();
    }
    components.sort_unstable_by_key(|c| c[0]);
    components
}

const UNVISITED: u32 = u32::MAX;

/// Tarjan's algorithm with an explicit call stack.
struct Tarjan {
    index: Vec<u32>,
    low: Vec<u32>,
    on_stack: Vec<bool>,
    stack: Vec<u32>,
    next_index: u32,
    components: Vec<Vec<u32>>,
}

impl Tarjan {
    fn new(n: usize) -> Tarjan {
        Tarjan {
            index: vec![UNVISITED; n],
            low: vec![0; n],
            on_stack: vec![false; n],
            stack: Vec::new(),
            next_index: 0,
            components: Vec::new(),
        }
    }

    /// Visits everything reachable from `root` through `succ`.
    fn visit<I: Iterator<Item = u32>>(&mut self, root: u32, succ: &dyn Fn(u32) -> I) {
        // Each frame: a vertex and its remaining successors.
        let mut frames: Vec<(u32, I)> = Vec::new();
        self.open(root);
        frames.push((root, succ(root)));
        while let Some((v, successors)) = frames.last_mut() {
            let v = *v;
            match successors.next() {
                Some(w) if self.index[w as usize] == UNVISITED => {
                    self.open(w);
                    frames.push((w, succ(w)));
                }
                Some(w) => {
                    if self.on_stack[w as usize] {
                        self.low[v as usize] = self.low[v as usize].min(self.index[w as usize]);
                    }
                }
                None => {
                    frames.pop();
                    if let Some((parent, _)) = frames.last() {
                        let p = *parent as usize;
                        self.low[p] = self.low[p].min(self.low[v as usize]);
                    }
                    if self.low[v as usize] == self.index[v as usize] {
                        self.close(v);
                    }
                }
            }
        }
    }

    fn open(&mut self, v: u32) {
        self.index[v as usize] = self.next_index;
        self.low[v as usize] = self.next_index;
        self.next_index += 1;
        self.stack.push(v);
        self.on_stack[v as usize] = true;
    }

    /// `v` is the root of a component: pops it off the stack.
    fn close(&mut self, v: u32) {
        let mut component = Vec::new();
        loop {
            let w = self.stack.pop().expect("the root is on the stack");
            self.on_stack[w as usize] = false;
            component.push(w);
            if w == v {
                break;
            }
        }
        if component.len() > 1 {
            self.components.push(component);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(n: usize, edges: &[(u32, u32, Rels)]) -> Graph {
        let mut b = GraphBuilder::default();
        for &(a, c, r) in edges {
            b.link(a, c, r);
        }
        b.build(n)
    }

    fn all(g: &Graph) -> Vec<u32> {
        (0..g.vertex_count() as u32).collect()
    }

    #[test]
    fn parallel_edges_merge_and_self_edges_vanish() {
        let g = graph(
            3,
            &[
                (0, 1, Rels::WW),
                (0, 1, Rels::RW),
                (1, 1, Rels::WR),
                (2, 0, Rels::REALTIME),
            ],
        );
        assert_eq!(g.edge_count(), 2);
        assert_eq!(g.rels(0, 1), Rels::WW.union(Rels::RW));
        assert_eq!(g.rels(1, 0), Rels::NONE);
        assert_eq!(g.incoming(0).collect::<Vec<_>>(), vec![(2, Rels::REALTIME)]);
        assert!(g.has_edges(1) && g.has_edges(2));
        assert!(!graph(2, &[(1, 1, Rels::WW)]).has_edges(1));
    }

    #[test]
    fn components_are_found_and_filtered_by_relation() {
        // 0 -ww-> 1 -ww-> 2 -rw-> 0, and 3 <-> 4 by wr.
        let g = graph(
            5,
            &[
                (0, 1, Rels::WW),
                (1, 2, Rels::WW),
                (2, 0, Rels::RW),
                (3, 4, Rels::WR),
                (4, 3, Rels::WR),
            ],
        );
        let everything = sccs(&g, &all(&g), &|_| true, &|_| true);
        assert_eq!(everything, vec![vec![0, 1, 2], vec![3, 4]]);
        let ww_only = sccs(&g, &all(&g), &|_| true, &|r| r.intersects(Rels::WW));
        assert!(ww_only.is_empty());
        let restricted = sccs(&g, &[3, 4], &|v| v >= 3, &|_| true);
        assert_eq!(restricted, vec![vec![3, 4]]);
    }

    #[test]
    fn a_long_chain_closed_into_a_cycle_does_not_overflow_the_stack() {
        let n = 1_000_000u32;
        let mut edges: Vec<(u32, u32, Rels)> = (0..n - 1).map(|i| (i, i + 1, Rels::WW)).collect();
        edges.push((n - 1, 0, Rels::WW));
        let g = graph(n as usize, &edges);
        let found = sccs(&g, &all(&g), &|_| true, &|_| true);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].len(), n as usize);
    }
}
