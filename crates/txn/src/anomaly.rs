//! The anomalies found, as Elle reports them: one witness per case, in
//! Elle's shapes and kebab-case keys (`{op, mop, writer, element}` for an
//! aborted read, `{cycle, steps, type}` for a cycle, ...).

use std::collections::BTreeMap;

use lightcone_history::Op;
use serde::Serialize;
use serde_json::Value;

/// Witnesses kept per anomaly type; past it they are only counted.
pub const CASES_MAX: usize = 1000;

/// One case of an anomaly.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Witness {
    /// G1a, G1b: `op` read `element`, which `writer` wrote (and aborted, or
    /// overwrote within itself).
    Read {
        op: Op,
        mop: Value,
        writer: Op,
        #[serde(skip_serializing_if = "Option::is_none")]
        element: Option<Value>,
    },
    /// internal: `op` read something its own earlier micro-ops rule out.
    Internal { op: Op, mop: Value, expected: Value },
    /// future-read: `op` read an element it appends later.
    FutureRead { op: Op, mop: Value, element: Value },
    /// duplicate-elements: a read holding some element more than once.
    Duplicates {
        op: Op,
        mop: Value,
        duplicates: BTreeMap<String, usize>,
    },
    /// incompatible-order: two reads of a key, neither a prefix of the
    /// other.
    IncompatibleOrder { key: Value, values: [Value; 2] },
    /// dirty-update: a committed append directly after an aborted one.
    DirtyUpdate {
        key: Value,
        values: Vec<Value>,
        txns: [Value; 3],
    },
    /// lost-update: committed transactions that read `value` of `key` and
    /// then wrote `key`.
    LostUpdate {
        key: Value,
        value: Value,
        txns: Vec<Op>,
    },
    /// cyclic-versions: a key's inferred version order has a cycle.
    CyclicVersions {
        key: Value,
        scc: Vec<Value>,
        sources: Vec<&'static str>,
    },
    /// A cycle of dependencies between transactions.
    Cycle(Cycle),
    /// `<model>-cycle-exists`: a cycle exists in the subgraph that model
    /// must keep acyclic, found without naming it.
    CycleExists {
        #[serde(rename = "type")]
        kind: String,
        not: &'static str,
        subgraph: Value,
        #[serde(rename = "scc-size")]
        scc_size: usize,
        scc: Vec<u64>,
    },
    /// cycle-search-timeout: a component's search ran out of budget.
    Timeout {
        #[serde(rename = "type")]
        kind: &'static str,
        #[serde(rename = "anomaly-spec-type")]
        anomaly_spec_type: &'static str,
        #[serde(rename = "does-not-contain")]
        does_not_contain: Vec<&'static str>,
        #[serde(rename = "scc-size")]
        scc_size: usize,
    },
}

/// A cycle: the ops in order (the first repeated at the end), why each
/// precedes the next, and its type.
#[derive(Debug, Clone, Serialize)]
pub struct Cycle {
    pub cycle: Vec<Op>,
    pub steps: Vec<Step>,
    #[serde(rename = "type")]
    pub kind: String,
    /// Elle's text for the cycle (what `<type>.txt` holds).
    #[serde(skip)]
    pub text: String,
}

/// Why one transaction precedes the next in a cycle.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Step {
    /// A data dependency on `key`: `value` is the version a wrote or read,
    /// `value'` the one b wrote (ww, rw); wr has no `value'`.
    Data {
        #[serde(rename = "type")]
        kind: &'static str,
        key: Value,
        value: Value,
        #[serde(rename = "value'", skip_serializing_if = "Option::is_none")]
        value2: Option<Value>,
        #[serde(rename = "a-mop-index", skip_serializing_if = "Option::is_none")]
        a_mop_index: Option<usize>,
        #[serde(rename = "b-mop-index", skip_serializing_if = "Option::is_none")]
        b_mop_index: Option<usize>,
    },
    /// a's completion came before b's invocation.
    Realtime {
        #[serde(rename = "type")]
        kind: &'static str,
        #[serde(rename = "a'")]
        a: Op,
        b: Op,
    },
    /// One process ran a, then b.
    Process {
        #[serde(rename = "type")]
        kind: &'static str,
        process: u64,
    },
}

impl Step {
    /// The step's relation: ww, wr, rw, realtime or process.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Data { kind, .. } | Step::Realtime { kind, .. } | Step::Process { kind, .. } => {
                kind
            }
        }
    }
}

/// The anomalies of one history: witnesses by type (at most
/// [`CASES_MAX`] each) and how many cases each type had.
#[derive(Debug, Clone, Default)]
pub struct Anomalies {
    pub cases: BTreeMap<String, Vec<Witness>>,
    pub counts: BTreeMap<String, usize>,
}

impl Anomalies {
    /// Records an anomaly that has no cases, only presence (Elle's
    /// `:empty-transaction-graph true`).
    pub fn flag(&mut self, kind: &str) {
        self.counts.insert(kind.to_string(), 0);
    }

    pub fn add(&mut self, kind: &str, witness: Witness) {
        *self.counts.entry(kind.to_string()).or_default() += 1;
        let cases = self.cases.entry(kind.to_string()).or_default();
        if cases.len() < CASES_MAX {
            cases.push(witness);
        }
    }

    pub fn contains(&self, kind: &str) -> bool {
        self.counts.contains_key(kind)
    }

    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.counts.keys().map(String::as_str)
    }

    pub fn merge(&mut self, other: Anomalies) {
        for (kind, cases) in other.cases {
            let count = other.counts.get(&kind).copied().unwrap_or(cases.len());
            let mine = self.cases.entry(kind.clone()).or_default();
            let room = CASES_MAX.saturating_sub(mine.len());
            mine.extend(cases.into_iter().take(room));
            *self.counts.entry(kind).or_default() += count;
        }
    }
}
