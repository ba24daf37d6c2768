//! What a person reads when a history is not linearizable: the op that
//! cannot be linearized, the longest linearization the search found before
//! it, the ops concurrent with it, and the states the model could be in.

use std::fmt::Write as _;

use lightcone_history::Process;
use serde_json::{json, Map, Value};

use super::model::{Model, ModelOp};
use super::prepare::LinOp;

/// How many linearized ops a timeline and the JSON show (the last ones).
const PREFIX_SHOWN_MAX: usize = 12;
/// How many concurrent ops a timeline and the JSON show.
const CONCURRENT_SHOWN_MAX: usize = 16;

/// One op of the history, as the witness names it. Values are as the
/// partition's model sees them (for an independent key, the inner value).
#[derive(Debug, Clone, PartialEq)]
pub struct WitnessOp {
    pub process: Process,
    pub f: String,
    /// The invocation's value.
    pub input: Value,
    /// The `ok` completion's value; `None` when indeterminate.
    pub output: Option<Value>,
    /// History index of the invocation.
    pub invoke_index: u64,
    /// History index of the `ok` completion.
    pub complete_index: Option<u64>,
    pub invoke_time: u64,
    pub complete_time: Option<u64>,
    /// The model's description of the op (`Model::describe_op`, or
    /// `Model::describe_keyed_op` for a model whose partitions are keys).
    pub text: String,
}

/// How a witness names an op of the partition `key` (`None`: the
/// unpartitioned history): as [`Model::describe_keyed_op`] does, where the
/// model names keys, else as [`Model::describe_op`].
pub(crate) fn describe(model: &dyn Model, key: Option<&Value>, op: &ModelOp) -> String {
    key.and_then(|key| model.describe_keyed_op(key, op))
        .unwrap_or_else(|| model.describe_op(op))
}

impl WitnessOp {
    /// `op` of the partition `key`, as a witness names it.
    pub(crate) fn new(op: &LinOp, model: &dyn Model, key: Option<&Value>) -> WitnessOp {
        WitnessOp {
            process: op.process,
            f: op.op.f.to_string(),
            input: op.op.input.clone(),
            output: op.op.output.clone(),
            invoke_index: op.invoke_index,
            complete_index: op.complete_index(),
            invoke_time: op.invoke_time,
            complete_time: op.complete_time(),
            text: describe(model, key, &op.op),
        }
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("process".into(), json!(self.process));
        m.insert("f".into(), json!(self.f));
        m.insert("value".into(), self.input.clone());
        if let Some(out) = &self.output {
            m.insert("output".into(), out.clone());
        }
        m.insert("index".into(), json!(self.invoke_index));
        if let Some(i) = self.complete_index {
            m.insert("complete-index".into(), json!(i));
        }
        m.insert("time".into(), json!(self.invoke_time));
        if let Some(t) = self.complete_time {
            m.insert("complete-time".into(), json!(t));
        }
        m.insert("indeterminate".into(), json!(self.output.is_none()));
        m.insert("text".into(), json!(self.text));
        Value::Object(m)
    }

    /// "op 12 (process 3) write 4, 1.200000s..1.300000s".
    fn line(&self) -> String {
        let end = match self.complete_time {
            Some(t) => seconds(t),
            None => "indeterminate".to_string(),
        };
        format!(
            "op {} (process {}) {}, {}..{}",
            self.invoke_index,
            self.process,
            self.text,
            seconds(self.invoke_time),
            end
        )
    }
}

fn seconds(ns: u64) -> String {
    format!(
        "{}.{:06}s",
        ns / 1_000_000_000,
        (ns % 1_000_000_000) / 1_000
    )
}

/// An op of a linearization and the model state after it.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearizedOp {
    pub op: WitnessOp,
    pub state: Value,
}

/// Why a partition is not linearizable.
#[derive(Debug, Clone, PartialEq)]
pub struct Witness {
    /// The op that cannot be linearized.
    pub op: WitnessOp,
    /// A sentence saying why.
    pub cause: String,
    /// The longest linearization the search found before getting stuck at
    /// `op`, in order, with the state after each op (empty when a pre-pass
    /// decided).
    pub prefix: Vec<LinearizedOp>,
    /// Ops invoked before `op` returned that `prefix` leaves unlinearized:
    /// the candidates that could not be ordered to make `op` legal.
    pub concurrent: Vec<WitnessOp>,
    /// The model states the search reached there (after `prefix` and the
    /// other linearizations that got as far).
    pub states: Vec<Value>,
}

impl Witness {
    /// A witness found without a search (by a pre-pass, or the zone test):
    /// no linearization, no states.
    pub(crate) fn unsearched(op: WitnessOp, cause: String, concurrent: Vec<WitnessOp>) -> Witness {
        Witness {
            op,
            cause,
            prefix: Vec::new(),
            concurrent,
            states: Vec::new(),
        }
    }

    pub fn to_json(&self) -> Value {
        let shown_from = self.prefix.len().saturating_sub(PREFIX_SHOWN_MAX);
        json!({
            "op": self.op.to_json(),
            "cause": self.cause,
            "prefix-length": self.prefix.len(),
            "prefix-tail": self.prefix[shown_from..]
                .iter()
                .map(|l| json!({"op": l.op.to_json(), "state": l.state}))
                .collect::<Vec<_>>(),
            "concurrent-count": self.concurrent.len(),
            "concurrent": self.concurrent
                .iter()
                .take(CONCURRENT_SHOWN_MAX)
                .map(WitnessOp::to_json)
                .collect::<Vec<_>>(),
            "states": self.states,
        })
    }

    /// A short text timeline a person can read.
    pub fn timeline(&self, model: &dyn Model) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "cannot linearize {}", self.op.line());
        let _ = writeln!(out, "  because {}", self.cause);
        if self.prefix.is_empty() {
            let _ = writeln!(
                out,
                "  (no op before it could be linearized in a way that helps)"
            );
        } else {
            let shown_from = self.prefix.len().saturating_sub(PREFIX_SHOWN_MAX);
            let _ = writeln!(
                out,
                "  the longest linearization found has {} ops{}, then state:",
                self.prefix.len(),
                if shown_from > 0 {
                    "; its last ones"
                } else {
                    ""
                }
            );
            for l in &self.prefix[shown_from..] {
                let _ = writeln!(
                    out,
                    "    {:<60} -> {}",
                    l.op.line(),
                    model.describe_state(&l.state)
                );
            }
        }
        if !self.states.is_empty() {
            let states: Vec<String> = self
                .states
                .iter()
                .map(|s| model.describe_state(s))
                .collect();
            let _ = writeln!(
                out,
                "  states reachable at that point: {}",
                states.join(", ")
            );
        }
        if !self.concurrent.is_empty() {
            let _ = writeln!(
                out,
                "  {} concurrent ops not linearized there{}:",
                self.concurrent.len(),
                if self.concurrent.len() > CONCURRENT_SHOWN_MAX {
                    ", the first ones"
                } else {
                    ""
                }
            );
            for op in self.concurrent.iter().take(CONCURRENT_SHOWN_MAX) {
                let _ = writeln!(out, "    {}", op.line());
            }
        }
        out
    }
}
