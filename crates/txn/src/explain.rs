//! Cycles explained the way Elle explains them: each step is the first
//! relation the pair has (in the model's order, then process or real-time
//! order), and a cycle renders as Elle's `<type>.txt` files do ("Let: T1 =
//! ..., Then: T1 < T2, because ... However, T3 < T1, because ...: a
//! contradiction!").

use lightcone_history::Op;
use serde_json::Value;

use crate::anomaly::{Cycle, Step};
use crate::cycles::{classify, ExplainOrder, Label};
use crate::graph::{Graph, Rels};
use crate::ops::Txns;

/// Explains data dependencies between two transactions.
pub trait DataExplainer {
    /// Why `b` depends on `a` by the data relation `rel`.
    fn explain(&self, a: u32, b: u32, rel: Rels) -> Option<Step>;
    /// A data step in words, with the transactions' names.
    fn render(&self, step: &Step, a: &str, b: &str) -> String;
}

/// Explains cycles of a graph.
pub struct Explainer<'a, 'h> {
    pub txns: &'a Txns<'h>,
    pub graph: &'a Graph,
    pub order: ExplainOrder,
    /// The order relation the graph carries, if any.
    pub order_rels: Rels,
    pub data: &'a dyn DataExplainer,
}

impl Explainer<'_, '_> {
    /// The cycle (vertices, the first repeated last) with each step
    /// explained and its type.
    pub fn cycle(&self, vertices: &[u32]) -> Cycle {
        let mut steps = Vec::new();
        let mut labels = Vec::new();
        for pair in vertices.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let label = self
                .order
                .label(self.graph.rels(a, b))
                .expect("a cycle's steps are edges");
            labels.push(label);
            steps.push(self.step(a, b, label));
        }
        let mut cycle = Cycle {
            cycle: vertices.iter().map(|&v| self.txns.op(v).clone()).collect(),
            steps,
            kind: classify(&labels, self.order_rels).unwrap_or_else(|| "cycle".into()),
            text: String::new(),
        };
        cycle.text = self.render(&cycle);
        cycle
    }

    fn step(&self, a: u32, b: u32, label: Label) -> Step {
        let rel = match label {
            Label::Ww => Rels::WW,
            Label::Wr => Rels::WR,
            Label::Rw => Rels::RW,
            Label::Order if self.order_rels == Rels::PROCESS => {
                return Step::Process {
                    kind: "process",
                    process: self.txns.txn(a).process,
                }
            }
            Label::Order => {
                return Step::Realtime {
                    kind: "realtime",
                    a: self.txns.op(a).clone(),
                    b: self.txns.invocation(b).clone(),
                }
            }
        };
        self.data
            .explain(a, b, rel)
            .expect("every data edge has an explanation")
    }

    /// Elle's text for one cycle.
    pub fn render(&self, cycle: &Cycle) -> String {
        let n = cycle.cycle.len() - 1;
        let names: Vec<String> = (1..=n).map(|i| format!("T{i}")).collect();
        let mut text = String::from("Let:\n");
        for (name, op) in names.iter().zip(&cycle.cycle) {
            text.push_str(&format!("  {name} = {}\n", op_edn(op)));
        }
        text.push_str("\nThen:\n");
        for (i, step) in cycle.steps.iter().enumerate() {
            let (a, b) = (&names[i], &names[(i + 1) % n]);
            let why = self.render_step(step, a, b);
            if i + 1 == cycle.steps.len() {
                text.push_str(&format!(
                    "  - However, {a} < {b}, because {why}: a contradiction!"
                ));
            } else {
                text.push_str(&format!("  - {a} < {b}, because {why}.\n"));
            }
        }
        text
    }

    fn render_step(&self, step: &Step, a: &str, b: &str) -> String {
        match step {
            Step::Data { .. } => self.data.render(step, a, b),
            Step::Process { process, .. } => format!("process {process} executed {a} before {b}"),
            Step::Realtime {
                a: a_op, b: b_op, ..
            } => {
                let gap = match b_op.time.checked_sub(a_op.time) {
                    Some(dt) if dt > 0 => format!(" {:.3} seconds", dt as f64 / 1e9),
                    _ => " just".to_string(),
                };
                format!(
                    "{a} completed at index {},{gap} before the invocation of {b}, at index {}",
                    a_op.index, b_op.index
                )
            }
        }
    }
}

/// An op as Elle prints one: an EDN map.
pub fn op_edn(op: &Op) -> String {
    let mut parts = vec![
        format!(":index {}", op.index),
        format!(":time {}", op.time),
        format!(":type :{}", op.kind.as_str()),
        format!(":process {}", op.process),
        format!(":f :{}", op.f),
        format!(":value {}", txn_edn(&op.value)),
    ];
    if let Some(error) = &op.error {
        parts.push(format!(":error {}", edn(error)));
    }
    format!("{{{}}}", parts.join(", "))
}

/// A transaction's micro-ops with their functions as keywords.
fn txn_edn(value: &Value) -> String {
    let Value::Array(mops) = value else {
        return edn(value);
    };
    let mops: Vec<String> = mops
        .iter()
        .map(|mop| match mop {
            Value::Array(parts) if !parts.is_empty() => {
                let f = match parts[0].as_str() {
                    Some(name) => format!(":{name}"),
                    None => edn(&parts[0]),
                };
                let rest: Vec<String> = parts[1..].iter().map(edn).collect();
                format!("[{f} {}]", rest.join(" "))
            }
            other => edn(other),
        })
        .collect();
    format!("[{}]", mops.join(" "))
}

/// A JSON value as Elle prints it (EDN-like: keywords unquoted are not
/// recoverable, so strings stay quoted).
pub fn edn(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Array(items) => format!("[{}]", items.iter().map(edn).collect::<Vec<_>>().join(" ")),
        other => other.to_string(),
    }
}
