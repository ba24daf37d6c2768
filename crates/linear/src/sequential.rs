//! Sequential consistency (Lamport 1979, "How to make a multiprocessor
//! computer that correctly executes multiprocess programs"): is there one
//! total order of the history's operations that the sequential [`Model`]
//! accepts and that keeps each process's operations in the order the
//! process invoked them? Unlike linearizability there is no real-time
//! constraint between processes: a read may return a value that another
//! process overwrote long before, as long as every process sees one order.
//!
//! The history is read as [`check`](super::check) reads it: `ok` ops took
//! effect once, `fail` ops did not happen, and an `info` (or unfinished)
//! op may have taken effect at any point after its process's previous
//! ops, or never. Process order is the order of invocations per process.
//!
//! How it is decided, cheapest first:
//! 1. A linearizable history is sequentially consistent (a linearization
//!    is an order that respects program order): the linearizability
//!    checker is tried first with a small budget
//!    ([`SequentialOptions::linearizable_configs_max`]).
//! 2. For register models, two pre-passes decide "not sequentially
//!    consistent" without a search: a read of a value nothing writes
//!    (`register.rs`'s value screen, which looks at values only), and,
//!    when every written value is unique, a cycle in the order that each
//!    process's program order forces on the writes (`write_order.rs`).
//! 3. Otherwise a depth-first search over configurations (each process's
//!    progress and the model state), with a visited set and a budget
//!    (`sequential_search.rs`).
//!
//! Sequential consistency is not compositional (Vitenberg & Friedman,
//! "On the locality of consistency conditions", DISC 2003; unlike
//! linearizability, Herlihy & Wing 1990, section 3.4): every key's
//! sub-history may be sequentially consistent while the whole is not (two
//! processes each write one key and then read the other's initial value,
//! the store-buffering pattern). So for models that split by key
//! ([`Model::partition`]: `kv`, the `independent-` models) each key is
//! checked on its own first (a key that is not sequentially consistent
//! makes the history not so, with that key's witness), and then the whole
//! history is searched as one partition whose state maps every key to its
//! state (`whole.rs`).
//!
//! ```
//! use lightcone_linear::{check_sequential, model_by_name, SequentialOptions};
//! use lightcone_check::Validity;
//! use lightcone_history::{History, Op, OpType, Process};
//! use serde_json::{json, Value};
//!
//! // Process 0 writes 1; later, process 1 reads the initial nil: not
//! // linearizable, but sequentially consistent (the read goes first).
//! let op = |p, kind, f: &str, v, t| Op::new(Process::Client(p), kind, f, v).at(t);
//! let h: History = [
//!     op(0, OpType::Invoke, "write", json!(1), 10),
//!     op(0, OpType::Ok, "write", json!(1), 20),
//!     op(1, OpType::Invoke, "read", Value::Null, 30),
//!     op(1, OpType::Ok, "read", Value::Null, 40),
//! ]
//! .into_iter()
//! .collect();
//! let model = model_by_name("register", None).unwrap();
//! let result = check_sequential(&h, model.as_ref(), &SequentialOptions::default());
//! assert_eq!(result.valid, Validity::Valid);
//! assert_eq!(result.order, Some(vec![2, 0]));
//! ```

use std::borrow::Cow;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use lightcone_check::Validity;
use lightcone_history::History;
use serde_json::{json, Value};

use super::intern::Interner;
use super::model::Model;
use super::prepare::{self, LinOp};
use super::sequential_search::{self, Deepest, SeqBudget, SeqVerdict};
use super::whole::Whole;
use super::witness::{self, LinearizedOp, Witness, WitnessOp};
use super::write_order;
use super::{register, LinearOptions};

/// Bounds and choices for [`check_sequential`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SequentialOptions {
    /// The most configurations the searches may visit, over all of them
    /// (each key's, then the whole history's); past it the verdict is
    /// unknown. A configuration costs 16 bytes in the visited set (in a
    /// table at most 7/8 full that doubles as it grows) while the
    /// processes' counts, the state and the pending ops fit in 128 bits;
    /// otherwise 16 bytes and a heap block of 8 bytes per 64 bits. The
    /// default, 10 million, keeps the set under about 400 MB in the first
    /// case and 1 GB for histories of hundreds of processes.
    pub configs_max: usize,
    /// Set by the caller (a timer thread, Ctrl-C) to stop with unknown.
    /// The checker itself never reads a clock.
    pub stop: Option<Arc<AtomicBool>>,
    /// The budget of the linearizability check tried first (a
    /// linearizable history is sequentially consistent); 0 skips it.
    pub linearizable_configs_max: usize,
    /// Skip the linearizability check and the register pre-passes: decide
    /// everything by search (for cross-checks and benchmarks).
    pub search_only: bool,
}

impl Default for SequentialOptions {
    fn default() -> SequentialOptions {
        SequentialOptions {
            configs_max: 10_000_000,
            stop: None,
            linearizable_configs_max: 100_000,
            search_only: false,
        }
    }
}

impl SequentialOptions {
    pub fn validate(&self) -> Result<(), String> {
        if self.configs_max == 0 {
            return Err("configs_max must be at least 1".to_string());
        }
        Ok(())
    }
}

/// How a sequential consistency verdict was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SequentialMethod {
    /// Nothing to order: no op completed `ok`.
    Trivial,
    /// The linearizability checker found the history linearizable.
    Linearizable,
    /// A read (or cas) of a value nothing writes.
    ValueScreen,
    /// Unique written values: program order forces a cycle of writes.
    WriteOrder,
    /// The search over configurations.
    Search,
    /// Not decided (malformed history, budget, stop).
    Undecided,
}

impl SequentialMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SequentialMethod::Trivial => "trivial",
            SequentialMethod::Linearizable => "linearizable",
            SequentialMethod::ValueScreen => "value-screen",
            SequentialMethod::WriteOrder => "write-order",
            SequentialMethod::Search => "search",
            SequentialMethod::Undecided => "undecided",
        }
    }
}

/// The verdict of [`check_sequential`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SequentialResult {
    pub valid: Validity,
    /// The model's name.
    pub model: String,
    pub method: SequentialMethod,
    /// When not sequentially consistent: the key whose sub-history is not
    /// (`None`: the whole history, or a model without keys).
    pub key: Option<Value>,
    /// Why it is not sequentially consistent.
    pub witness: Option<Witness>,
    /// Why it is unknown.
    pub reason: Option<String>,
    /// Ops checked: `ok` and indeterminate ones (failed ops are dropped).
    pub op_count: usize,
    /// Configurations the searches visited.
    pub configs: usize,
    pub steps: u64,
    /// When the search found one: a sequentially consistent order, as the
    /// history indices of the invocations (indeterminate ops that need not
    /// have happened are left out).
    pub order: Option<Vec<u64>>,
}

impl SequentialResult {
    fn new(model: &str, op_count: usize) -> SequentialResult {
        SequentialResult {
            valid: Validity::Valid,
            model: model.to_string(),
            method: SequentialMethod::Trivial,
            key: None,
            witness: None,
            reason: None,
            op_count,
            configs: 0,
            steps: 0,
            order: None,
        }
    }

    fn unknown(model: &str, reason: String) -> SequentialResult {
        let mut r = SequentialResult::new(model, 0);
        r.valid = Validity::Unknown;
        r.method = SequentialMethod::Undecided;
        r.reason = Some(reason);
        r
    }

    /// "key 3" or "the history".
    fn name(&self) -> String {
        match &self.key {
            Some(k) => format!("key {k}"),
            None => "the history".to_string(),
        }
    }

    /// Problem sentences: why it is not sequentially consistent, or why
    /// that is unknown.
    pub fn problems(&self) -> Vec<String> {
        match (self.valid, &self.witness, &self.reason) {
            (Validity::Invalid, Some(w), _) => vec![format!(
                "{} is not sequentially consistent: op {} (process {}) {} cannot be ordered: {}",
                self.name(),
                w.op.invoke_index,
                w.op.process,
                w.op.text,
                w.cause
            )],
            (Validity::Invalid, None, _) => {
                vec![format!("{} is not sequentially consistent", self.name())]
            }
            (Validity::Unknown, _, Some(reason)) => {
                vec![format!("sequential consistency is unknown: {reason}")]
            }
            _ => Vec::new(),
        }
    }

    /// A short text a person can read: the verdict, and for a history
    /// that is not sequentially consistent the witness (the op that
    /// cannot be ordered and why, the end of the longest order found, the
    /// states reachable there, the other ops that could come next).
    pub fn timeline(&self, model: &dyn Model) -> String {
        let Some(w) = &self.witness else {
            return match self.valid {
                Validity::Valid => format!("sequentially consistent ({})\n", self.method.as_str()),
                _ => format!("{}\n", self.problems().join("\n")),
            };
        };
        let mut out = format!("{} is not sequentially consistent\n", self.name());
        // The witness's own timeline, in this checker's words.
        let text = w.timeline(model);
        let text = text
            .replacen("cannot linearize", "cannot order", 1)
            .replacen(
                "the longest linearization found",
                "the longest order found",
                1,
            )
            .replacen(
                "concurrent ops not linearized there",
                "other ops not taken there",
                1,
            )
            .replacen(
                "no op before it could be linearized in a way that helps",
                "found without a search",
                1,
            );
        out.push_str(&text);
        out
    }

    /// The result as JSON with kebab-case keys.
    pub fn to_json(&self) -> Value {
        json!({
            "valid": self.valid.to_json(),
            "model": self.model,
            "method": self.method.as_str(),
            "key": self.key,
            "op-count": self.op_count,
            "configs": self.configs,
            "steps": self.steps,
            "reason": self.reason,
            "witness": self.witness.as_ref().map(Witness::to_json),
        })
    }
}

/// Checks that `history` is sequentially consistent with respect to
/// `model` (see the module's doc).
pub fn check_sequential(
    history: &History,
    model: &dyn Model,
    options: &SequentialOptions,
) -> SequentialResult {
    let name = model.name();
    if let Err(e) = options.validate() {
        return SequentialResult::unknown(name, format!("bad options: {e}"));
    }
    let parts = match prepare::prepare(history, model) {
        Ok(parts) => parts,
        Err(e) => return SequentialResult::unknown(name, format!("malformed history: {e}")),
    };
    let op_count = parts.iter().map(|p| p.ops.len()).sum();
    let mut result = SequentialResult::new(name, op_count);
    if parts
        .iter()
        .flat_map(|p| &p.ops)
        .all(LinOp::is_indeterminate)
    {
        return result;
    }
    if !options.search_only && options.linearizable_configs_max > 0 {
        let linear = LinearOptions {
            configs_max: options.linearizable_configs_max,
            stop: options.stop.clone(),
            parallel: false,
            ..LinearOptions::default()
        };
        let lin = super::check(history, model, &linear);
        result.configs += lin.configs;
        if lin.valid == Validity::Valid {
            result.method = SequentialMethod::Linearizable;
            return result;
        }
    }
    let mut used = 0;
    let mut unknown: Vec<String> = Vec::new();
    // Each key on its own: a key that is not sequentially consistent
    // decides. With one partition, that is the whole history.
    for part in &parts {
        let r = check_part(&part.ops, part.key.as_ref(), model, options, &mut used);
        result.configs += r.configs;
        result.steps += r.steps;
        match r.valid {
            Validity::Invalid => return result.with(part.key.clone(), r),
            Validity::Unknown if parts.len() > 1 => unknown.push(format!(
                "key {}: {}",
                part.key
                    .as_ref()
                    .map_or_else(|| "none".to_string(), Value::to_string),
                r.reason.as_deref().unwrap_or("unknown")
            )),
            _ if parts.len() == 1 => return result.with(part.key.clone(), r),
            _ => {}
        }
    }
    // Then the whole history, as one partition (not compositional).
    let whole = Whole::new(model);
    let whole_parts = match prepare::prepare(history, &whole) {
        Ok(parts) => parts,
        Err(e) => return SequentialResult::unknown(name, format!("malformed history: {e}")),
    };
    assert_eq!(whole_parts.len(), 1, "the whole model has one partition");
    let r = check_part(&whole_parts[0].ops, None, &whole, options, &mut used);
    result.configs += r.configs;
    result.steps += r.steps;
    if r.valid == Validity::Unknown && !unknown.is_empty() {
        let mut r = r;
        r.reason = Some(format!(
            "{}; and undecided per key: {}",
            r.reason.as_deref().unwrap_or("unknown"),
            unknown.join("; ")
        ));
        return result.with(None, r);
    }
    result.with(None, r)
}

impl SequentialResult {
    fn with(mut self, key: Option<Value>, part: PartOutcome) -> SequentialResult {
        self.valid = part.valid;
        self.method = part.method;
        self.reason = part.reason;
        self.order = part.order;
        if part.valid == Validity::Invalid {
            self.key = key;
            self.witness = part.witness;
        }
        self
    }
}

/// What the check of one partition found.
struct PartOutcome {
    valid: Validity,
    method: SequentialMethod,
    witness: Option<Witness>,
    reason: Option<String>,
    order: Option<Vec<u64>>,
    configs: usize,
    steps: u64,
}

impl PartOutcome {
    fn decided(valid: Validity, method: SequentialMethod) -> PartOutcome {
        PartOutcome {
            valid,
            method,
            witness: None,
            reason: None,
            order: None,
            configs: 0,
            steps: 0,
        }
    }
}

/// The pre-passes, then the search, on one partition's ops. `used` counts
/// the configurations the searches so far visited.
fn check_part(
    ops: &[LinOp],
    key: Option<&Value>,
    model: &dyn Model,
    options: &SequentialOptions,
    used: &mut usize,
) -> PartOutcome {
    if ops.iter().all(LinOp::is_indeterminate) {
        return PartOutcome::decided(Validity::Valid, SequentialMethod::Trivial);
    }
    let init = model.init();
    let mut ops: Cow<[LinOp]> = Cow::Borrowed(ops);
    if !options.search_only {
        if let Some(screen) = register::screen(&ops, model, &init) {
            if let Some((i, cause)) = screen.impossible {
                let mut r = PartOutcome::decided(Validity::Invalid, SequentialMethod::ValueScreen);
                let op = WitnessOp::new(&ops[i], model, key);
                r.witness = Some(Witness::unsearched(op, cause, Vec::new()));
                return r;
            }
            // Indeterminate ops from values the register never holds
            // never took effect.
            ops = Cow::Owned(super::without(&ops, &screen.dropped).into_owned());
        }
        if let Some(cycle) = write_order::cycle(&ops, model, &init) {
            let mut r = PartOutcome::decided(Validity::Invalid, SequentialMethod::WriteOrder);
            r.witness = Some(write_order_witness(&ops, model, key, &cycle));
            return r;
        }
    }
    let mut intern = Interner::new(model);
    let init_id = intern.state_id(init);
    let budget = SeqBudget {
        configs_max: options.configs_max.saturating_sub(*used),
        configs_max_said: options.configs_max,
        stop: options.stop.as_deref(),
    };
    let outcome = sequential_search::search(&ops, &mut intern, init_id, &budget);
    *used += outcome.configs;
    let mut r = PartOutcome::decided(Validity::Valid, SequentialMethod::Search);
    r.configs = outcome.configs;
    r.steps = outcome.steps;
    match outcome.verdict {
        SeqVerdict::Valid(order) => {
            r.order = Some(order.iter().map(|&i| ops[i].invoke_index).collect());
        }
        SeqVerdict::Invalid(deepest) => {
            r.valid = Validity::Invalid;
            r.witness = Some(search_witness(&ops, key, &deepest, &intern));
        }
        SeqVerdict::Unknown(reason) => {
            r.valid = Validity::Unknown;
            r.method = SequentialMethod::Undecided;
            r.reason = Some(reason);
        }
    }
    r
}

/// The witness of a write-order cycle: each edge and the ops that force
/// it.
fn write_order_witness(
    ops: &[LinOp],
    model: &dyn Model,
    key: Option<&Value>,
    cycle: &[write_order::OrderEdge],
) -> Witness {
    let text = |i: usize| {
        format!(
            "op {} (process {}) {}",
            ops[i].invoke_index,
            ops[i].process,
            witness::describe(model, key, &ops[i].op)
        )
    };
    let edges: Vec<String> = cycle
        .iter()
        .map(|e| {
            let why = match e.ops.as_slice() {
                [one] => format!("{} reads {} and writes {}", text(*one), e.from, e.to),
                [o1, o2] => format!("{} comes before {} in program order", text(*o1), text(*o2)),
                _ => String::new(),
            };
            format!(
                "the write of {} must precede the write of {} ({why})",
                e.from, e.to
            )
        })
        .collect();
    let cause = if cycle.len() == 1 {
        format!(
            "every written value is unique and the initial value {} is written before every \
             other, but {}",
            cycle[0].to, edges[0]
        )
    } else {
        format!(
            "every written value is unique, so the order of the writes is forced, in a cycle: {}",
            edges.join("; ")
        )
    };
    let last = cycle
        .last()
        .and_then(|e| e.ops.last())
        .copied()
        .expect("a cycle has an edge with an op");
    let mut others: Vec<usize> = cycle.iter().flat_map(|e| e.ops.iter().copied()).collect();
    others.sort_unstable();
    others.dedup();
    others.retain(|&i| i != last);
    Witness::unsearched(
        WitnessOp::new(&ops[last], model, key),
        cause,
        others
            .iter()
            .map(|&i| WitnessOp::new(&ops[i], model, key))
            .collect(),
    )
}

/// The witness of a search that found no order: where it got deepest.
fn search_witness(
    ops: &[LinOp],
    key: Option<&Value>,
    deepest: &Deepest,
    intern: &Interner,
) -> Witness {
    let model = intern.model();
    let states: Vec<Value> = deepest
        .states
        .iter()
        .map(|&s| intern.state(s).clone())
        .collect();
    let described: Vec<String> = states.iter().map(|s| model.describe_state(s)).collect();
    // The op to blame: the earliest-called determinate op that could not
    // be taken next (an indeterminate one may simply never happen).
    let mut blocked = deepest.blocked.clone();
    blocked.sort_by_key(|&i| ops[i].call_rank);
    let stuck = deepest
        .doomed
        .or_else(|| {
            blocked
                .iter()
                .copied()
                .find(|&i| !ops[i].is_indeterminate())
        })
        .or_else(|| blocked.first().copied())
        .expect("a dead end has an op left to take");
    let heads: Vec<String> = blocked
        .iter()
        .map(|&i| {
            format!(
                "op {} (process {}) {}",
                ops[i].invoke_index,
                ops[i].process,
                witness::describe(model, key, &ops[i].op)
            )
        })
        .collect();
    let mut cause = format!(
        "the longest orders the search found that keep each process's program order take {} \
         ops; from there (states: {}) no choice of the next op leads to an order of every \
         op; the next ops: {}",
        deepest.path.len(),
        described.join(", "),
        heads.join("; ")
    );
    if let Some(i) = deepest.doomed {
        cause.push_str(&format!(
            "; op {} (process {}) {}, still to be taken, can never become legal from there \
             (no op still to be taken may make it legal)",
            ops[i].invoke_index,
            ops[i].process,
            witness::describe(model, key, &ops[i].op)
        ));
    }
    if !deepest.unwritten.is_empty() {
        let values: Vec<String> = deepest
            .unwritten
            .iter()
            .map(|&s| model.describe_state(intern.state(s)))
            .collect();
        cause.push_str(&format!(
            "; ops still to be taken need the value {}, which no op still to be taken writes",
            values.join(", ")
        ));
    }
    let prefix = deepest
        .path
        .iter()
        .map(|&(i, s)| LinearizedOp {
            op: WitnessOp::new(&ops[i], model, key),
            state: intern.state(s).clone(),
        })
        .collect();
    let concurrent = blocked
        .iter()
        .chain(&deepest.pending)
        .copied()
        .filter(|&i| i != stuck)
        .map(|i| WitnessOp::new(&ops[i], model, key))
        .collect();
    Witness {
        op: WitnessOp::new(&ops[stuck], model, key),
        cause,
        prefix,
        concurrent,
        states,
    }
}
