//! The cycle part of Jepsen's kafka analysis: Elle's cycle search over a
//! dependency graph of sends, polls and transactions.
//!
//! Maelstrom's kafka test infers no write-write dependencies from offsets
//! (`:ww-deps` is off) and Jepsen draws no read-write edges (its `rw-graph`
//! is commented out), so the graph has two relations (`jepsen.tests.kafka`
//! `graph` and `cycles!`, Elle 0.2.2 `elle.txn/additional-graphs` for
//! strict serializability):
//!
//! - **wr**: T1 sent a message and T2 polled it (T1 is the last op that
//!   tried to send it, whatever its outcome: Jepsen's `writer-of`);
//! - **realtime**: T1 completed `ok` before T2 was invoked, kept as Elle's
//!   transitive reduction (`elle.core/realtime-graph`): each invocation is
//!   linked from the `ok` completions not already implied by a later one.
//!
//! A cycle of wr edges alone is **G1c**; one that needs a realtime edge is
//! **G1c-realtime**. With sends and polls in separate ops, wr edges only run
//! from sends to polls, so every cycle is a poll that returned a message
//! whose send began only after the poll completed: a read from the future.
//! A graph with no edges at all is Elle's **empty-transaction-graph**,
//! which the kafka checker counts as an error like the others.
//!
//! Strongly connected components come from petgraph's Kosaraju search (no
//! recursion, so long chains cannot overflow the stack); in each one, a
//! breadth-first search finds a shortest cycle to show.

use std::collections::{BTreeSet, VecDeque};

use lightcone_history::OpType;
use petgraph::algo::kosaraju_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use rustc_hash::FxHashSet;
use serde_json::{json, Value};

use super::anomalies::{quoted, Case};
use super::ops::{KeyId, MsgId, Parsed};
use super::orders::Indexes;

/// Why one op precedes another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    /// The target polled this message, which the source sent.
    Wr(KeyId, MsgId),
    Realtime,
}

/// What the cycle search found.
#[derive(Debug, Default)]
pub(super) struct Cycles {
    pub g1c: Vec<Case>,
    pub g1c_realtime: Vec<Case>,
    /// No dependency at all between any two ops.
    pub empty_graph: bool,
}

/// Builds the graph and looks for cycles in it.
pub(super) fn cycles(parsed: &Parsed, ix: &Indexes) -> Cycles {
    let graph = build(parsed, ix);
    let mut found = Cycles {
        empty_graph: graph.edge_count() == 0,
        ..Cycles::default()
    };
    if found.empty_graph {
        return found;
    }
    // Cycles of wr edges alone.
    let wr_only = graph.filter_map(
        |_, &op| Some(op),
        |_, &edge| matches!(edge, Edge::Wr(..)).then_some(edge),
    );
    for scc in kosaraju_scc(&wr_only).into_iter().filter(|c| c.len() > 1) {
        let members = membership(graph.node_count(), &scc);
        let start = *scc.iter().min().expect("a component has nodes");
        if let Some(cycle) = shortest_path(&wr_only, &members, start, start) {
            found
                .g1c
                .push(describe(parsed, &wr_only, "G1c", start, &cycle));
        }
    }
    // Cycles through a realtime edge: one per component that has one inside.
    for scc in kosaraju_scc(&graph).into_iter().filter(|c| c.len() > 1) {
        let members = membership(graph.node_count(), &scc);
        let inner_realtime = scc.iter().find_map(|&n| {
            graph
                .edges_directed(n, Direction::Outgoing)
                .find(|e| *e.weight() == Edge::Realtime && members[e.target().index()])
                .map(|e| (e.source(), e.target()))
        });
        let Some((from, to)) = inner_realtime else {
            continue;
        };
        if let Some(back) = shortest_path(&graph, &members, to, from) {
            let mut cycle = vec![to];
            cycle.extend(back);
            found
                .g1c_realtime
                .push(describe(parsed, &graph, "G1c-realtime", from, &cycle));
        }
    }
    found
}

type Graph = DiGraph<usize, Edge>;

/// The graph over the sends, polls and transactions (node weights are
/// positions in `Parsed::ops`).
fn build(parsed: &Parsed, ix: &Indexes) -> Graph {
    let mut graph = Graph::new();
    let mut node_of: Vec<Option<NodeIndex>> = vec![None; parsed.ops.len()];
    for (i, op) in parsed.ops.iter().enumerate() {
        if op.func.is_txn_like() {
            node_of[i] = Some(graph.add_node(i));
        }
    }
    // wr: from the writer of each message polled to each op that polled it.
    let mut linked: FxHashSet<(usize, usize)> = FxHashSet::default();
    for (reader, op) in parsed.ops.iter().enumerate() {
        let Some(to) = node_of[reader] else { continue };
        for (key, polled) in &op.reads {
            for &(_, msg) in polled {
                let Some(&writer) = ix.writer_of.get(&(*key, msg)) else {
                    continue;
                };
                let Some(from) = node_of[writer] else {
                    continue;
                };
                if writer != reader && linked.insert((writer, reader)) {
                    graph.add_edge(from, to, Edge::Wr(*key, msg));
                }
            }
        }
    }
    // realtime: Elle's transitive reduction, over invocations and
    // completions in history order.
    let mut events: Vec<(usize, bool, usize)> = Vec::new();
    for (i, op) in parsed.ops.iter().enumerate() {
        if node_of[i].is_none() {
            continue;
        }
        events.push((op.invoke_pos, true, i));
        if op.completed && op.kind == OpType::Ok {
            events.push((op.pos, false, i));
        }
    }
    events.sort_unstable();
    let mut completed: BTreeSet<usize> = BTreeSet::new();
    // Per op, the completions linked to its invocation.
    let mut preceded_by: Vec<Vec<usize>> = vec![Vec::new(); parsed.ops.len()];
    for (_, is_invoke, i) in events {
        let to = node_of[i].expect("events are of graph nodes");
        if is_invoke {
            for &before in &completed {
                let from = node_of[before].expect("completed ops are graph nodes");
                graph.add_edge(from, to, Edge::Realtime);
            }
            preceded_by[i] = completed.iter().copied().collect();
        } else {
            for before in std::mem::take(&mut preceded_by[i]) {
                completed.remove(&before);
            }
            completed.insert(i);
        }
    }
    graph
}

fn membership(node_count: usize, scc: &[NodeIndex]) -> Vec<bool> {
    let mut members = vec![false; node_count];
    for n in scc {
        members[n.index()] = true;
    }
    members
}

/// A shortest path from `from` to `to` (at least one edge) inside the
/// component: the nodes after `from`, ending with `to`.
fn shortest_path(
    graph: &Graph,
    members: &[bool],
    from: NodeIndex,
    to: NodeIndex,
) -> Option<Vec<NodeIndex>> {
    let mut parent: Vec<Option<NodeIndex>> = vec![None; graph.node_count()];
    let mut queue = VecDeque::from([from]);
    while let Some(n) = queue.pop_front() {
        for next in graph.neighbors_directed(n, Direction::Outgoing) {
            if !members[next.index()] {
                continue;
            }
            if next == to {
                let mut path = vec![to];
                let mut at = n;
                while at != from {
                    path.push(at);
                    at = parent[at.index()].expect("visited nodes have parents");
                }
                path.reverse();
                return Some(path);
            }
            if next != from && parent[next.index()].is_none() {
                parent[next.index()] = Some(n);
                queue.push_back(next);
            }
        }
    }
    None
}

/// A cycle `start -> cycle[0] -> ... -> start` as Elle shows one: the ops,
/// and the step between each pair.
fn describe(
    parsed: &Parsed,
    graph: &Graph,
    name: &str,
    start: NodeIndex,
    cycle: &[NodeIndex],
) -> Case {
    let mut nodes = vec![start];
    nodes.extend_from_slice(cycle);
    if nodes.last() != Some(&start) {
        nodes.push(start);
    }
    let ops: Vec<Value> = nodes
        .iter()
        .map(|n| parsed.ops[graph[*n]].to_json())
        .collect();
    let mut steps = Vec::new();
    let mut words = Vec::new();
    for pair in nodes.windows(2) {
        let (a, b) = (&parsed.ops[graph[pair[0]]], &parsed.ops[graph[pair[1]]]);
        // Prefer showing why in data terms: a wr edge names the message.
        let edge = graph
            .edges_connecting(pair[0], pair[1])
            .map(|e| *e.weight())
            .min_by_key(|e| matches!(e, Edge::Realtime));
        match edge {
            Some(Edge::Wr(key, msg)) => {
                steps.push(json!({
                    "type": "wr",
                    "key": parsed.key_name(key),
                    "value": parsed.msg_json(msg),
                }));
                words.push(format!(
                    "{a} sent message {} of key {}, which {b} polled",
                    parsed.msg(msg),
                    quoted(parsed.key_name(key))
                ));
            }
            _ => {
                steps.push(json!({"type": "realtime"}));
                words.push(format!("{a} completed before {b} began"));
            }
        }
    }
    Case {
        sort: steps.len() as i64,
        details: json!({"type": name, "cycle": ops, "steps": steps}),
        sentence: format!("{}: a cycle of dependencies", words.join("; ")),
    }
}
