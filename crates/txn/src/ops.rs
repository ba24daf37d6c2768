//! A history's transactions, parsed once into compact form: each client
//! invocation paired with its completion, its micro-ops with keys and
//! values interned to `u32`, list reads in one shared arena.
//!
//! Micro-ops are Maelstrom's `["append", k, v]`, `["r", k, v]`, `["w", k, v]`
//! (Jepsen's keywords read from EDN become the same strings).

use std::fmt;

use lightcone_history::{History, Op, OpType, Process};
use rustc_hash::FxHashMap;
use serde_json::Value;

/// Which transactional workload a history comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnModel {
    /// Appends to lists and reads of whole lists (Elle's list-append).
    ListAppend,
    /// Writes and reads of registers (Elle's rw-register).
    RwRegister,
}

impl TxnModel {
    pub fn name(self) -> &'static str {
        match self {
            TxnModel::ListAppend => "list-append",
            TxnModel::RwRegister => "rw-register",
        }
    }

    pub fn by_name(name: &str) -> Option<TxnModel> {
        match name {
            "list-append" => Some(TxnModel::ListAppend),
            "rw-register" => Some(TxnModel::RwRegister),
            _ => None,
        }
    }
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    /// Indeterminate: it may or may not have taken effect. A transaction
    /// whose completion is missing (the history ended first) is one too.
    Info,
    /// It certainly did not take effect.
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MopKind {
    Append,
    Read,
    Write,
}

impl MopKind {
    pub fn name(self) -> &'static str {
        match self {
            MopKind::Append => "append",
            MopKind::Read => "r",
            MopKind::Write => "w",
        }
    }
}

/// A read that returned nothing (`null`).
pub const NIL: u32 = u32::MAX;

/// One micro-operation. `value` is an interned value for appends, writes
/// and register reads; for a list read, an index into the list arena; for
/// a read of nothing, [`NIL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mop {
    pub kind: MopKind,
    pub key: u32,
    pub value: u32,
}

/// One transaction: an invocation and its completion.
#[derive(Debug, Clone)]
pub struct Txn {
    /// The invocation's position in the history.
    pub invoke: usize,
    /// The completion's position, or `None` when the history ended first.
    pub complete: Option<usize>,
    pub process: u64,
    pub status: Status,
    mops_start: u32,
    mops_len: u32,
}

impl Txn {
    /// The position Elle orders by: the completion's, or the invocation's
    /// when there is none.
    pub fn position(&self) -> usize {
        self.complete.unwrap_or(self.invoke)
    }
}

/// Values (or keys) interned by identity: two values are one when Elle's
/// `=` says so for the integers and strings these workloads use, that is
/// when their JSON texts are equal. Small non-negative integers (the usual
/// keys and values) are their own ids, without a table lookup.
#[derive(Default)]
pub struct Interner<'h> {
    ids: FxHashMap<ValueKey<'h>, u32>,
    values: Vec<&'h Value>,
}

/// Integers below this are their own ids; other values get ids from here on.
const DIRECT_MAX: u64 = 1 << 31;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ValueKey<'h> {
    Null,
    Bool(bool),
    Uint(u64),
    Int(i64),
    Str(&'h str),
    Text(String),
}

impl<'h> ValueKey<'h> {
    fn of(v: &'h Value) -> ValueKey<'h> {
        match v {
            Value::Null => ValueKey::Null,
            Value::Bool(b) => ValueKey::Bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => ValueKey::Uint(u),
                (None, Some(i)) => ValueKey::Int(i),
                (None, None) => ValueKey::Text(v.to_string()),
            },
            Value::String(s) => ValueKey::Str(s),
            _ => ValueKey::Text(v.to_string()),
        }
    }
}

impl<'h> Interner<'h> {
    pub fn id(&mut self, v: &'h Value) -> u32 {
        if let Some(n) = v.as_u64().filter(|&n| n < DIRECT_MAX) {
            return n as u32;
        }
        let next = DIRECT_MAX as u32 + self.values.len() as u32;
        let id = *self.ids.entry(ValueKey::of(v)).or_insert(next);
        if id == next {
            self.values.push(v);
        }
        id
    }

    /// The value of an id.
    pub fn value(&self, id: u32) -> Value {
        if (id as u64) < DIRECT_MAX {
            Value::from(id)
        } else {
            self.values[(id - DIRECT_MAX as u32) as usize].clone()
        }
    }
}

/// A history's transactions.
pub struct Txns<'h> {
    pub history: &'h History,
    pub model: TxnModel,
    pub txns: Vec<Txn>,
    mops: Vec<Mop>,
    /// (start, len) of each list read's elements in `elements`.
    lists: Vec<(u32, u32)>,
    elements: Vec<u32>,
    pub keys: Interner<'h>,
    pub values: Interner<'h>,
}

/// Why a history cannot be checked as transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The op's position in the history, and its `index`.
    pub position: usize,
    pub index: u64,
    /// Elle's name for the problem where it has one
    /// (`unexpected-txn-micro-op-types`), else lightcone's.
    pub kind: &'static str,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op {}: {}", self.index, self.message)
    }
}

impl<'h> Txns<'h> {
    /// Pairs `history`'s client invocations with their completions and
    /// parses their micro-ops.
    pub fn parse(history: &'h History, model: TxnModel) -> Result<Txns<'h>, ParseError> {
        let mut txns = Txns {
            history,
            model,
            txns: Vec::new(),
            mops: Vec::new(),
            lists: Vec::new(),
            elements: Vec::new(),
            keys: Interner::default(),
            values: Interner::default(),
        };
        for (invoke, complete) in pairs(history) {
            txns.push(invoke, complete)?;
        }
        Ok(txns)
    }

    fn push(&mut self, invoke: usize, complete: Option<usize>) -> Result<(), ParseError> {
        let ops = &self.history.ops;
        let (status, source) = match complete.map(|c| &ops[c]) {
            Some(c) if c.kind == OpType::Ok => (Status::Ok, c),
            // Jepsen's fail and info completions keep the invocation's value.
            Some(c) if c.kind == OpType::Fail => (Status::Fail, txn_value(c, &ops[invoke])),
            Some(c) => (Status::Info, txn_value(c, &ops[invoke])),
            None => (Status::Info, &ops[invoke]),
        };
        let position = complete.unwrap_or(invoke);
        let Value::Array(items) = &source.value else {
            return Err(self.error(
                position,
                "malformed-txn",
                format!(
                    "its value {} is not a transaction (a list of micro-ops such as \
                     [\"append\", 1, 2] or [\"r\", 1, null])",
                    source.value
                ),
            ));
        };
        let mops_start = self.mops.len() as u32;
        for item in items {
            let mop = self.mop(position, item, status == Status::Ok)?;
            self.mops.push(mop);
        }
        let Process::Client(process) = ops[invoke].process else {
            unreachable!("pair_positions pairs client ops only")
        };
        self.txns.push(Txn {
            invoke,
            complete,
            process,
            status,
            mops_start,
            mops_len: items.len() as u32,
        });
        Ok(())
    }

    fn mop(&mut self, position: usize, item: &'h Value, ok: bool) -> Result<Mop, ParseError> {
        let parts = match item {
            Value::Array(parts) if parts.len() == 3 => parts,
            _ => {
                return Err(self.error(
                    position,
                    "malformed-txn",
                    format!("micro-op {item} is not a [f, key, value] triple"),
                ))
            }
        };
        let kind = match (parts[0].as_str(), self.model) {
            (Some("append"), TxnModel::ListAppend) => MopKind::Append,
            (Some("w"), TxnModel::RwRegister) => MopKind::Write,
            (Some("r"), _) => MopKind::Read,
            _ => {
                let expected = match self.model {
                    TxnModel::ListAppend => "\"append\" or \"r\"",
                    TxnModel::RwRegister => "\"w\" or \"r\"",
                };
                return Err(self.error(
                    position,
                    "unexpected-txn-micro-op-types",
                    format!(
                        "micro-op {item} is not a {} micro-op: its first element must be {expected}",
                        self.model.name()
                    ),
                ));
            }
        };
        let key = self.keys.id(&parts[1]);
        let value = match (kind, &parts[2]) {
            (MopKind::Read, Value::Null) => NIL,
            // An invocation's (or an indeterminate txn's) read says nothing.
            (MopKind::Read, _) if !ok => NIL,
            (MopKind::Read, Value::Array(list)) if self.model == TxnModel::ListAppend => {
                self.list(list)
            }
            (MopKind::Read, other) if self.model == TxnModel::ListAppend => {
                return Err(self.error(
                    position,
                    "malformed-txn",
                    format!("list read {item} returned {other}, not a list"),
                ))
            }
            (_, v) => self.values.id(v),
        };
        Ok(Mop { kind, key, value })
    }

    fn list(&mut self, list: &'h [Value]) -> u32 {
        let start = self.elements.len() as u32;
        for v in list {
            let id = self.values.id(v);
            self.elements.push(id);
        }
        self.lists.push((start, list.len() as u32));
        (self.lists.len() - 1) as u32
    }

    fn error(&self, position: usize, kind: &'static str, message: String) -> ParseError {
        ParseError {
            position,
            index: self.history.ops[position].index,
            kind,
            message,
        }
    }

    pub fn len(&self) -> usize {
        self.txns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txns.is_empty()
    }

    pub fn mops(&self, t: u32) -> &[Mop] {
        let txn = &self.txns[t as usize];
        &self.mops[txn.mops_start as usize..(txn.mops_start + txn.mops_len) as usize]
    }

    /// The elements a list read returned; `None` for a read of nothing and
    /// for anything but a list-append read.
    pub fn list_of(&self, mop: &Mop) -> Option<&[u32]> {
        if mop.value == NIL || mop.kind != MopKind::Read || self.model != TxnModel::ListAppend {
            return None;
        }
        let (start, len) = self.lists[mop.value as usize];
        Some(&self.elements[start as usize..(start + len) as usize])
    }

    pub fn txn(&self, t: u32) -> &Txn {
        &self.txns[t as usize]
    }

    /// The op that stands for transaction `t` in witnesses: its completion,
    /// or its invocation when it has none.
    pub fn op(&self, t: u32) -> &'h Op {
        &self.history.ops[self.txns[t as usize].position()]
    }

    /// The invocation of transaction `t`.
    pub fn invocation(&self, t: u32) -> &'h Op {
        &self.history.ops[self.txns[t as usize].invoke]
    }

    pub fn key(&self, k: u32) -> Value {
        self.keys.value(k)
    }

    pub fn value(&self, v: u32) -> Value {
        self.values.value(v)
    }

    /// The micro-op as JSON, in the shape it was recorded.
    pub fn mop_json(&self, t: u32, i: usize) -> &'h Value {
        let Value::Array(items) = &self.op_value(t) else {
            unreachable!("parsed transactions are arrays")
        };
        &items[i]
    }

    fn op_value(&self, t: u32) -> &'h Value {
        let txn = &self.txns[t as usize];
        let ops = &self.history.ops;
        match txn.complete {
            Some(c) if txn.status == Status::Ok => &ops[c].value,
            Some(c) => &txn_value(&ops[c], &ops[txn.invoke]).value,
            None => &ops[txn.invoke].value,
        }
    }
}

/// Client invocations paired with their completions, in order of
/// invocation. A completion with no invocation before it (histories of
/// completions only, as Elle's tests write them) stands for a whole
/// transaction: it is paired with itself. An invocation the history never
/// completes is paired with `None`.
fn pairs(history: &History) -> Vec<(usize, Option<usize>)> {
    // Each process's open invocation, as its place in `pairs`.
    let mut open: FxHashMap<u64, usize> = FxHashMap::default();
    let mut pairs: Vec<(usize, Option<usize>)> = Vec::with_capacity(history.ops.len() / 2 + 1);
    for (pos, op) in history.ops.iter().enumerate() {
        let Process::Client(p) = op.process else {
            continue;
        };
        if op.is_invoke() {
            open.insert(p, pairs.len());
            pairs.push((pos, None));
        } else if let Some(slot) = open.remove(&p) {
            pairs[slot].1 = Some(pos);
        } else {
            pairs.push((pos, Some(pos)));
        }
    }
    pairs
}

/// The op whose value holds an indeterminate or failed txn's micro-ops:
/// the completion, unless it dropped the value (then the invocation).
fn txn_value<'h>(complete: &'h Op, invoke: &'h Op) -> &'h Op {
    if complete.value.is_array() {
        complete
    } else {
        invoke
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightcone_history::build::{invoke, ok, op};
    use serde_json::json;

    fn history(ops: Vec<Op>) -> History {
        ops.into_iter().collect()
    }

    #[test]
    fn invocations_pair_with_completions_and_values_intern() {
        let h = history(vec![
            invoke(0, "txn", json!([["append", 1, 2], ["r", 1, null]]), 1),
            invoke(1, "txn", json!([["r", 1, null]]), 2),
            ok(0, "txn", json!([["append", 1, 2], ["r", 1, [2]]]), 3),
            op(1, OpType::Info, "txn", json!([["r", 1, null]]), 4),
        ]);
        let txns = Txns::parse(&h, TxnModel::ListAppend).unwrap();
        assert_eq!(txns.len(), 2);
        assert_eq!(txns.txn(0).status, Status::Ok);
        assert_eq!(txns.txn(0).complete, Some(2));
        assert_eq!(txns.txn(1).status, Status::Info);
        let mops = txns.mops(0);
        assert_eq!(mops[0].kind, MopKind::Append);
        let read = txns.list_of(&mops[1]).unwrap();
        assert_eq!(read, &[mops[0].value]);
        assert_eq!(txns.key(mops[0].key), json!(1));
        assert_eq!(txns.list_of(&txns.mops(1)[0]), None);
    }

    #[test]
    fn a_missing_completion_is_indeterminate() {
        let h = history(vec![invoke(0, "txn", json!([["w", "x", 1]]), 1)]);
        let txns = Txns::parse(&h, TxnModel::RwRegister).unwrap();
        assert_eq!(txns.txn(0).status, Status::Info);
        assert_eq!(txns.txn(0).complete, None);
        assert_eq!(txns.op(0).index, 0);
    }

    #[test]
    fn foreign_micro_ops_are_named() {
        let h = history(vec![
            invoke(0, "txn", json!([["w", 1, 2]]), 1),
            ok(0, "txn", json!([["w", 1, 2]]), 2),
        ]);
        let e = Txns::parse(&h, TxnModel::ListAppend).err().unwrap();
        assert_eq!(e.kind, "unexpected-txn-micro-op-types");
        assert!(e.message.contains("\"append\" or \"r\""), "{e}");
        let h = history(vec![
            invoke(0, "txn", json!(5), 1),
            ok(0, "txn", json!(5), 2),
        ]);
        let e = Txns::parse(&h, TxnModel::RwRegister).err().unwrap();
        assert!(e.message.contains("not a transaction"), "{e}");
    }
}
