use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who performed an operation: a numbered client process, or the nemesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Process {
    Client(u64),
    Nemesis,
}

impl Serialize for Process {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(p) => s.serialize_u64(*p),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) if n.as_u64().is_some() => Ok(Process::Client(n.as_u64().unwrap())),
            Value::String(s) if s == "nemesis" => Ok(Process::Nemesis),
            other => Err(serde::de::Error::custom(format!(
                "a process is a non-negative integer or \"nemesis\", not {other}"
            ))),
        }
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(p) => write!(f, "{p}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

/// The four kinds of history event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    Invoke,
    Ok,
    Fail,
    Info,
}

impl OpType {
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }
}

/// One event of a history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Position in the history, from 0.
    #[serde(default)]
    pub index: u64,
    /// Nanoseconds since the test began.
    #[serde(default)]
    pub time: u64,
    pub process: Process,
    #[serde(rename = "type")]
    pub kind: OpType,
    pub f: String,
    #[serde(default)]
    pub value: Value,
    /// Why a completion failed or is indeterminate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// The node a client op was sent to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Marks the final reads made after healing.
    #[serde(default, rename = "final", skip_serializing_if = "std::ops::Not::not")]
    pub is_final: bool,
}

impl Op {
    pub fn new(process: Process, kind: OpType, f: impl Into<String>, value: Value) -> Op {
        Op {
            index: 0,
            time: 0,
            process,
            kind,
            f: f.into(),
            value,
            error: None,
            node: None,
            is_final: false,
        }
    }

    pub fn at(mut self, time: u64) -> Op {
        self.time = time;
        self
    }

    pub fn is_invoke(&self) -> bool {
        self.kind == OpType::Invoke
    }

    pub fn is_client(&self) -> bool {
        matches!(self.process, Process::Client(_))
    }
}

/// An ordered list of operations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub ops: Vec<Op>,
}

impl History {
    /// Appends an op, numbering it.
    pub fn push(&mut self, mut op: Op) {
        op.index = self.ops.len() as u64;
        self.ops.push(op);
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Op> {
        self.ops.iter()
    }

    /// Client invocations paired with their completions, in invocation order.
    /// An invocation with no completion (the run ended first) is paired with
    /// `None`: it is indeterminate.
    pub fn pairs(&self) -> Vec<(&Op, Option<&Op>)> {
        self.pair_positions()
            .into_iter()
            .map(|(i, c)| (&self.ops[i], c.map(|c| &self.ops[c])))
            .collect()
    }

    /// [`History::pairs`] as positions in `ops`, for checkers that order
    /// events by (time, position) and must not trust an op's `index` field.
    pub fn pair_positions(&self) -> Vec<(usize, Option<usize>)> {
        let mut open: BTreeMap<Process, usize> = BTreeMap::new();
        let mut pairs = Vec::new();
        for (pos, op) in self.ops.iter().enumerate() {
            if !op.is_client() {
                continue;
            }
            if op.is_invoke() {
                open.insert(op.process, pairs.len());
                pairs.push((pos, None));
            } else if let Some(i) = open.remove(&op.process) {
                pairs[i].1 = Some(pos);
            }
        }
        pairs
    }
}

impl FromIterator<Op> for History {
    fn from_iter<I: IntoIterator<Item = Op>>(iter: I) -> History {
        let mut h = History::default();
        for op in iter {
            h.push(op);
        }
        h
    }
}
