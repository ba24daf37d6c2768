//! A pre-pass that proves a register history is not sequentially
//! consistent without a search, when every written value is unique.
//!
//! Let every write and every cas's new value be distinct, and none equal
//! the initial value. Then each value v other than the initial one has one
//! writer W(v), and in any sequentially consistent order every op that
//! reads v (a read returning v, a cas from v) comes after W(v) with no
//! other write in between. Take two determinate ops o1 before o2 in one
//! process's program order, so o1 < o2 in the order. Let a be the value o1
//! knows: the value it writes, else the value it reads; W(a) <= o1 < o2
//! (W(a) = o1 when o1 writes a). Then:
//! - if o2 reads z != a: W(z) is the last write before o2, and W(a) is a
//!   write before o2 other than W(z), so W(a) < W(z);
//! - if o2 writes y: W(a) <= o1 < o2 = W(y).
//!
//! Also each cas from x to y is after W(x), so W(x) < W(y), and the
//! initial value is "written" before everything: an edge W(a) -> W(init)
//! (a process reading the initial value after it knew another) is a
//! contradiction by itself. So these edges must all hold in any order; a
//! cycle among them means there is no sequentially consistent order.
//!
//! Indeterminate ops take part only as writers and through the cas rule:
//! an edge out of W(v) arises only from an op that reads v, which makes
//! W(v) certain to have happened, so a cycle never leans on an
//! indeterminate op that did not happen. (Program-order pairs use
//! determinate ops only.) Values are compared by their JSON text; a
//! history with a float anywhere in a register value (where -0.0 equals
//! 0.0 but their texts differ) is left to the search.

use std::collections::BTreeMap;

use lightcone_history::Process;
use serde_json::Value;

use super::model::{Model, RegisterOp};
use super::prepare::LinOp;

/// One edge of a cycle: the write of `to` must follow the write of
/// `from`, because of `ops` (one op for the cas rule, two ops of one
/// process in program order otherwise).
#[derive(Debug, Clone)]
pub(crate) struct OrderEdge {
    pub from: Value,
    pub to: Value,
    pub ops: Vec<usize>,
}

/// The edges of a cycle of writes that program order forces, if the
/// written values are unique and there is one.
pub(crate) fn cycle(ops: &[LinOp], model: &dyn Model, init: &Value) -> Option<Vec<OrderEdge>> {
    let reg: Vec<RegisterOp> = ops
        .iter()
        .map(|op| model.register_op(&op.op))
        .collect::<Option<_>>()?;
    let graph = Graph::build(ops, &reg, init)?;
    graph.find_cycle()
}

/// The write-order graph: node 0 is the initial value, the others each
/// written value.
struct Graph {
    values: Vec<Value>,
    /// (to, the ops that force it) by node.
    edges: Vec<Vec<(usize, Vec<usize>)>>,
}

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(items) => items.iter().any(has_float),
        Value::Object(map) => map.values().any(has_float),
        _ => false,
    }
}

impl Graph {
    /// The graph, or `None` when a written value is not unique (or a float).
    fn build(ops: &[LinOp], reg: &[RegisterOp], init: &Value) -> Option<Graph> {
        let mut nodes: BTreeMap<String, usize> = BTreeMap::new();
        let mut values = vec![init.clone()];
        nodes.insert(init.to_string(), 0);
        for r in reg {
            let (read, written) = match *r {
                RegisterOp::Read(v) => (v, None),
                RegisterOp::Write(v) => (None, Some(v)),
                RegisterOp::Cas(old, new) => (Some(old), Some(new)),
            };
            if read.into_iter().chain(written).any(has_float) || has_float(init) {
                return None;
            }
            if let Some(v) = written {
                if nodes.insert(v.to_string(), values.len()).is_some() {
                    return None; // written twice, or the initial value
                }
                values.push(v.clone());
            }
        }
        let node = |v: &Value| nodes.get(&v.to_string()).copied();
        let mut graph = Graph {
            edges: vec![Vec::new(); values.len()],
            values,
        };
        // The cas rule.
        for (i, r) in reg.iter().enumerate() {
            if let RegisterOp::Cas(old, new) = *r {
                if let (Some(a), Some(b)) = (node(old), node(new)) {
                    graph.edges[a].push((b, vec![i]));
                }
            }
        }
        // Program order, determinate ops only.
        let mut programs: BTreeMap<Process, Vec<usize>> = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            if !op.is_indeterminate() {
                programs.entry(op.process).or_default().push(i);
            }
        }
        for program in programs.values_mut() {
            program.sort_by_key(|&i| ops[i].invoke_index);
            for pair in program.windows(2) {
                let (o1, o2) = (pair[0], pair[1]);
                let known = match reg[o1] {
                    RegisterOp::Write(v) | RegisterOp::Cas(_, v) => v,
                    RegisterOp::Read(Some(v)) => v,
                    RegisterOp::Read(None) => continue,
                };
                let Some(a) = node(known) else { continue };
                let target = match reg[o2] {
                    RegisterOp::Read(Some(z)) | RegisterOp::Cas(z, _) => {
                        node(z).filter(|&z| z != a)
                    }
                    RegisterOp::Write(y) => node(y),
                    RegisterOp::Read(None) => None,
                };
                if let Some(b) = target {
                    graph.edges[a].push((b, vec![o1, o2]));
                }
            }
        }
        Some(graph)
    }

    /// A cycle, as its edges in order.
    fn find_cycle(&self) -> Option<Vec<OrderEdge>> {
        let edge = |from: usize, to: usize, ops: &[usize]| OrderEdge {
            from: self.values[from].clone(),
            to: self.values[to].clone(),
            ops: ops.to_vec(),
        };
        // The initial value precedes every write: any edge into it closes
        // a cycle of two.
        for (from, out) in self.edges.iter().enumerate().skip(1) {
            if let Some((_, ops)) = out.iter().find(|(to, _)| *to == 0) {
                return Some(vec![edge(from, 0, ops)]);
            }
        }
        // Depth-first search with colours; the stack holds (node, next
        // edge), so a back edge closes the cycle of the nodes above it.
        const WHITE: u8 = 0;
        const GREY: u8 = 1;
        const BLACK: u8 = 2;
        let n = self.values.len();
        let mut colour = vec![WHITE; n];
        for root in 1..n {
            if colour[root] != WHITE {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            colour[root] = GREY;
            while let Some(&(v, next)) = stack.last() {
                let Some((to, _)) = self.edges[v].get(next) else {
                    colour[v] = BLACK;
                    stack.pop();
                    continue;
                };
                let to = *to;
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                match colour[to] {
                    WHITE => {
                        colour[to] = GREY;
                        stack.push((to, 0));
                    }
                    GREY => {
                        let start = stack
                            .iter()
                            .position(|&(u, _)| u == to)
                            .expect("a grey node is on the stack");
                        let cycle = stack[start..]
                            .iter()
                            .map(|&(u, next)| {
                                let (t, ops) = &self.edges[u][next - 1];
                                edge(u, *t, ops)
                            })
                            .collect();
                        return Some(cycle);
                    }
                    _ => {}
                }
            }
        }
        None
    }
}
