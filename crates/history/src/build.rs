//! Shortcuts for writing histories by hand, in tests and examples:
//! `invoke(0, "read", json!(null), 10)` is client 0 invoking a read at 10 ns.

use serde_json::Value;

use crate::{Op, OpType, Process};

/// Client `process`'s op of `kind` at `time`.
pub fn op(process: u64, kind: OpType, f: &str, value: Value, time: u64) -> Op {
    Op::new(Process::Client(process), kind, f, value).at(time)
}

pub fn invoke(process: u64, f: &str, value: Value, time: u64) -> Op {
    op(process, OpType::Invoke, f, value, time)
}

pub fn ok(process: u64, f: &str, value: Value, time: u64) -> Op {
    op(process, OpType::Ok, f, value, time)
}

/// A nemesis op (Jepsen's shape: `info`, no value).
pub fn nemesis(f: &str, time: u64) -> Op {
    Op::new(Process::Nemesis, OpType::Info, f, Value::Null).at(time)
}
