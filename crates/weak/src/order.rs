//! Orders over events: a graph of edges that say why, its topological
//! order (or a cycle), and vector clocks of reachability.
//!
//! Every relation the models use contains program order, so whether an
//! event `a` reaches `b` is whether `b`'s clock has reached `a`'s position
//! in `a`'s process: n x processes entries instead of a quadratic closure.

use crate::prepare::{Event, Prepared};

/// Why an edge is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Why {
    /// Program order.
    Po,
    /// The target reads the source's value.
    Wr,
    /// Forced by the read `read` (which reads the target): the source
    /// write precedes `read`, so must precede the write it reads.
    Before { read: u32 },
    /// Session order of `read` (reading the source) before the target.
    ReadThenWrite { read: u32 },
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Edge {
    pub from: u32,
    pub to: u32,
    pub why: Why,
}

/// A directed graph in compressed form: each node's incoming edges.
pub(crate) struct Graph {
    node_count: usize,
    /// Start of each node's incoming edges in `incoming`.
    starts: Vec<u32>,
    incoming: Vec<Edge>,
}

impl Graph {
    pub fn new(node_count: usize, edges: &[Edge]) -> Graph {
        let mut starts = vec![0u32; node_count + 1];
        for e in edges {
            starts[e.to as usize + 1] += 1;
        }
        for i in 0..node_count {
            starts[i + 1] += starts[i];
        }
        let mut fill = starts.clone();
        let mut incoming = vec![
            Edge {
                from: 0,
                to: 0,
                why: Why::Po
            };
            edges.len()
        ];
        for e in edges {
            let slot = &mut fill[e.to as usize];
            incoming[*slot as usize] = *e;
            *slot += 1;
        }
        Graph {
            node_count,
            starts,
            incoming,
        }
    }

    pub fn incoming(&self, node: u32) -> &[Edge] {
        let n = node as usize;
        &self.incoming[self.starts[n] as usize..self.starts[n + 1] as usize]
    }

    /// A topological order of the nodes (Kahn), or the edges of a short
    /// cycle in order.
    pub fn topological_order(&self) -> Result<Vec<u32>, Vec<Edge>> {
        let n = self.node_count;
        let mut out_starts = vec![0u32; n + 1];
        for e in &self.incoming {
            out_starts[e.from as usize + 1] += 1;
        }
        for i in 0..n {
            out_starts[i + 1] += out_starts[i];
        }
        let mut fill = out_starts.clone();
        // Each node's outgoing edges, as positions in `incoming`.
        let mut outgoing = vec![0u32; self.incoming.len()];
        for (k, e) in self.incoming.iter().enumerate() {
            let slot = &mut fill[e.from as usize];
            outgoing[*slot as usize] = k as u32;
            *slot += 1;
        }
        let out = |v: usize| &outgoing[out_starts[v] as usize..out_starts[v + 1] as usize];
        let mut pending: Vec<u32> = (0..n)
            .map(|v| self.starts[v + 1] - self.starts[v])
            .collect();
        let mut order: Vec<u32> = (0..n as u32)
            .filter(|&v| pending[v as usize] == 0)
            .collect();
        let mut next = 0;
        while next < order.len() {
            let v = order[next] as usize;
            next += 1;
            for &k in out(v) {
                let w = self.incoming[k as usize].to as usize;
                pending[w] -= 1;
                if pending[w] == 0 {
                    order.push(w as u32);
                }
            }
        }
        if order.len() == n {
            return Ok(order);
        }
        let cycle = self.cycle(&pending);
        // A shorter cycle through one of the found cycle's first nodes
        // (breadth-first over the nodes Kahn could not order).
        let best = cycle
            .iter()
            .take(CYCLE_STARTS_MAX)
            .filter_map(|e| self.shortest_cycle_through(e.to, &pending, &out))
            .min_by_key(Vec::len);
        Err(match best {
            Some(best) if best.len() < cycle.len() => best,
            _ => cycle,
        })
    }

    /// The shortest cycle through `start` among unordered nodes.
    fn shortest_cycle_through<'a>(
        &self,
        start: u32,
        pending: &[u32],
        out: &impl Fn(usize) -> &'a [u32],
    ) -> Option<Vec<Edge>> {
        let mut via: Vec<u32> = vec![u32::MAX; self.node_count];
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(v) = queue.pop_front() {
            for &k in out(v as usize) {
                let e = self.incoming[k as usize];
                let w = e.to as usize;
                if pending[w] == 0 || via[w] != u32::MAX {
                    continue;
                }
                via[w] = k;
                if e.to == start {
                    let mut cycle = Vec::new();
                    let mut at = start;
                    loop {
                        let e = self.incoming[via[at as usize] as usize];
                        cycle.push(e);
                        at = e.from;
                        if at == start {
                            break;
                        }
                    }
                    cycle.reverse();
                    return Some(cycle);
                }
                queue.push_back(e.to);
            }
        }
        None
    }

    /// A cycle among the nodes Kahn's algorithm could not order: from any
    /// of them walk back along incoming edges from unordered nodes until a
    /// node repeats.
    fn cycle(&self, pending: &[u32]) -> Vec<Edge> {
        let start = (0..self.node_count)
            .find(|&v| pending[v] > 0)
            .expect("a cycle exists when not every node is ordered") as u32;
        let mut seen_at: Vec<u32> = vec![u32::MAX; self.node_count];
        let mut path: Vec<Edge> = Vec::new();
        let mut v = start;
        loop {
            seen_at[v as usize] = path.len() as u32;
            let e = *self
                .incoming(v)
                .iter()
                .find(|e| pending[e.from as usize] > 0)
                .expect("an unordered node has an unordered predecessor");
            path.push(e);
            v = e.from;
            if seen_at[v as usize] != u32::MAX {
                let mut cycle = path.split_off(seen_at[v as usize] as usize);
                cycle.reverse();
                return cycle;
            }
        }
    }
}

/// How many nodes of a found cycle a shorter one is searched through.
const CYCLE_STARTS_MAX: usize = 16;

/// Vector clocks: for each event and process, one more than the last
/// position of that process's events that reach the event (itself
/// included).
pub(crate) struct Clocks {
    width: usize,
    entries: Vec<u32>,
}

impl Clocks {
    /// Clocks of the graph's events in a topological order; nodes past the
    /// events (auxiliary ones) are not clocked.
    pub fn new(prepared: &Prepared, graph: &Graph, order: &[u32]) -> Clocks {
        let width = prepared.lanes.len();
        let n = prepared.events.len();
        let mut entries = vec![0u32; n * width];
        let mut clock = vec![0u32; width];
        for &v in order {
            let v = v as usize;
            if v >= n {
                continue;
            }
            clock.fill(0);
            for e in graph.incoming(v as u32) {
                let from = e.from as usize;
                if from >= n {
                    continue;
                }
                let theirs = &entries[from * width..(from + 1) * width];
                for (mine, &t) in clock.iter_mut().zip(theirs) {
                    *mine = (*mine).max(t);
                }
            }
            let ev = &prepared.events[v];
            clock[ev.lane as usize] = clock[ev.lane as usize].max(ev.pos + 1);
            entries[v * width..(v + 1) * width].copy_from_slice(&clock);
        }
        Clocks { width, entries }
    }

    /// Positions below this in `lane` reach `event`.
    pub fn frontier(&self, event: u32, lane: u32) -> u32 {
        self.entries[event as usize * self.width + lane as usize]
    }

    /// Whether `a` reaches `b` (or is `b`).
    pub fn reaches(&self, events: &[Event], a: u32, b: u32) -> bool {
        let ea = &events[a as usize];
        self.frontier(b, ea.lane) > ea.pos
    }

    /// The memory the clocks of `prepared` take, in entries.
    pub fn entry_count(prepared: &Prepared) -> usize {
        prepared.events.len().saturating_mul(prepared.lanes.len())
    }
}

/// The last write of `writes` (one process's writes of a key, in program
/// order, as (position, event id)) strictly before `limit` in position.
pub(crate) fn last_before(writes: &[(u32, u32)], limit: u32) -> Option<u32> {
    let k = writes.partition_point(|&(pos, _)| pos < limit);
    k.checked_sub(1).map(|k| writes[k].1)
}

/// The limit to give [`last_before`] for `lane`'s writes before `read`.
pub(crate) fn limit_before(events: &[Event], clocks: &Clocks, read: u32, lane: u32) -> u32 {
    let r = &events[read as usize];
    if r.lane == lane {
        r.pos
    } else {
        clocks.frontier(read, lane)
    }
}
