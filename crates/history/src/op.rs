use std::collections::BTreeMap;
use std::fmt;

use serde::{de, Deserialize, Serialize};
use serde_json::Value;

use crate::value;

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
        d.deserialize_any(ProcessVisitor)
    }
}

/// Reads a process without building a JSON value first (it is read once
/// per op); anything else is an error that shows what it was as JSON.
struct ProcessVisitor;

impl ProcessVisitor {
    fn refuse<E: de::Error>(other: &Value) -> E {
        E::custom(format!(
            "a process is a non-negative integer or \"nemesis\", not {other}"
        ))
    }
}

impl<'de> de::Visitor<'de> for ProcessVisitor {
    type Value = Process;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a non-negative integer or \"nemesis\"")
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Process, E> {
        Ok(Process::Client(n))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Process, E> {
        match u64::try_from(n) {
            Ok(n) => Ok(Process::Client(n)),
            Err(_) => Err(Self::refuse(&Value::from(n))),
        }
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Process, E> {
        Err(Self::refuse(&Value::from(n)))
    }

    fn visit_i128<E: de::Error>(self, n: i128) -> Result<Process, E> {
        match u64::try_from(n) {
            Ok(n) => Ok(Process::Client(n)),
            Err(_) => Err(Self::refuse(&value::deserialize(
                de::value::I128Deserializer::<E>::new(n),
            )?)),
        }
    }

    fn visit_u128<E: de::Error>(self, n: u128) -> Result<Process, E> {
        match u64::try_from(n) {
            Ok(n) => Ok(Process::Client(n)),
            Err(_) => Err(Self::refuse(&value::deserialize(
                de::value::U128Deserializer::<E>::new(n),
            )?)),
        }
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Process, E> {
        Err(Self::refuse(&Value::Bool(b)))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Process, E> {
        if s == "nemesis" {
            Ok(Process::Nemesis)
        } else {
            Err(Self::refuse(&Value::from(s)))
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Process, E> {
        Err(Self::refuse(&Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Process, E> {
        Err(Self::refuse(&Value::Null))
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Process, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Process, A::Error> {
        let other = value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Err(Self::refuse(&other))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Process, A::Error> {
        let other = value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Err(Self::refuse(&other))
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
    #[serde(default, deserialize_with = "value::deserialize")]
    pub value: Value,
    /// Why a completion failed or is indeterminate. Boxed, like `node`:
    /// most ops have neither, and a history of a million ops holds two
    /// million of them (an `Op` is 120 bytes instead of 152).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "value::deserialize_boxed_option"
    )]
    pub error: Option<Box<Value>>,
    /// The node a client op was sent to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Box<str>>,
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
        const NONE: usize = usize::MAX;
        // The open invocation (a position in `pairs`) of each process:
        // client numbers below the history's length in a vector, any
        // others in a map.
        let dense_below = self.ops.len() as u64;
        let mut dense: Vec<usize> = Vec::new();
        let mut sparse: BTreeMap<u64, usize> = BTreeMap::new();
        let mut pairs = Vec::with_capacity(self.ops.len() / 2 + 1);
        for (pos, op) in self.ops.iter().enumerate() {
            let Process::Client(p) = op.process else {
                continue;
            };
            let open = if p < dense_below {
                let p = p as usize;
                if p >= dense.len() {
                    dense.resize(p + 1, NONE);
                }
                &mut dense[p]
            } else {
                sparse.entry(p).or_insert(NONE)
            };
            if op.is_invoke() {
                *open = pairs.len();
                pairs.push((pos, None));
            } else if *open != NONE {
                pairs[*open].1 = Some(pos);
                *open = NONE;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A million-op history holds two million ops: their size is most of
    /// the memory a check faults in (the error and the node are boxed).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn an_op_is_120_bytes() {
        assert_eq!(std::mem::size_of::<Op>(), 120);
    }

    #[test]
    fn processes_read_from_numbers_and_nemesis_and_nothing_else() {
        let read = |text: &str| serde_json::from_str::<Process>(text).map_err(|e| e.to_string());
        assert_eq!(read("3"), Ok(Process::Client(3)));
        assert_eq!(read("18446744073709551615"), Ok(Process::Client(u64::MAX)));
        assert_eq!(read("\"nemesis\""), Ok(Process::Nemesis));
        assert_eq!(
            serde_json::from_value::<Process>(serde_json::json!(7)).unwrap(),
            Process::Client(7)
        );
        for (text, shown) in [
            ("-1", "-1"),
            ("1.5", "1.5"),
            ("\"x\"", "\"x\""),
            ("null", "null"),
            ("true", "true"),
            ("[1, \"a\"]", "[1,\"a\"]"),
            ("{\"a\": [2]}", "{\"a\":[2]}"),
        ] {
            let e = read(text).unwrap_err();
            let want = format!("a process is a non-negative integer or \"nemesis\", not {shown}");
            assert!(e.starts_with(&want), "{text}: {e}");
        }
    }
}
