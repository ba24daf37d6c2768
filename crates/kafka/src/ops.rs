//! Reading a kafka history into the ops the analysis works on.
//!
//! The shapes are Jepsen's (`jepsen.tests.kafka`), which Maelstrom's
//! kafka workload records and lightcone's records too (JSON, or Jepsen EDN
//! whose keywords read as strings):
//!
//! - `send`: invoke `[["send", k, v]]`; ok `[["send", k, [offset, v]]]`; a
//!   failed or indeterminate send keeps its invocation's value (offset
//!   unknown), or carries `[offset, v]` where the client learnt it;
//! - `poll`: invoke `[["poll"]]`; ok `[["poll", {k: [[offset, v], ...]}]]`;
//! - `txn`: any sequence of those micro-ops;
//! - `assign` / `subscribe`: the keys, `[k, ...]`; lightcone's completed
//!   assign may be an object `{"keys": [...], "committed": {k: offset}}`
//!   carrying the committed offsets the client listed;
//! - anything else (`crash`, `debug-topic-partitions`) is kept only as a
//!   step in its process's sequence.
//!
//! Keys are taken as text (a JSON object's keys are strings; an integer key
//! of a send is its decimal text); messages are compared by value.

use std::collections::BTreeMap;
use std::fmt;

use lightcone_history::{History, OpType, Process};
use serde_json::{json, Value};

/// A key, numbered in order of first appearance.
pub(super) type KeyId = u32;
/// A message, numbered in order of first appearance.
pub(super) type MsgId = u32;

/// What an op does, by its `f`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Func {
    Send,
    Poll,
    Txn,
    Assign,
    Subscribe,
    Other,
}

impl Func {
    fn of(f: &str) -> Func {
        match f {
            "send" => Func::Send,
            "poll" => Func::Poll,
            "txn" => Func::Txn,
            "assign" => Func::Assign,
            "subscribe" => Func::Subscribe,
            _ => Func::Other,
        }
    }

    /// Sends, polls and transactions: the ops the dependency graph relates.
    pub(super) fn is_txn_like(self) -> bool {
        matches!(self, Func::Send | Func::Poll | Func::Txn)
    }
}

/// Per key, `(offset if known, message)` pairs in the order the op saw them.
pub(super) type PerKey = Vec<(KeyId, Vec<(Option<i64>, MsgId)>)>;

/// One client op, by its completion: an invocation the history never
/// completed counts as indeterminate (`info`), as Jepsen's histories would
/// record it.
#[derive(Debug)]
pub(super) struct KOp<'h> {
    /// Position of the completion in the history; an op never completed
    /// sorts after every completion, in invocation order.
    pub pos: usize,
    pub invoke_pos: usize,
    pub completed: bool,
    pub kind: OpType,
    pub func: Func,
    pub f: &'h str,
    pub process: Process,
    pub index: u64,
    pub time: u64,
    pub invoke_time: u64,
    pub error: Option<&'h Value>,
    /// Messages sent, per key (sorted by key id).
    pub writes: PerKey,
    /// Messages polled, per key (sorted by key id); a key a poll returned
    /// with no messages is present with an empty list, as in Jepsen.
    pub reads: PerKey,
    /// The keys of an assign or subscribe.
    pub keys: Vec<KeyId>,
    /// Committed offsets an assign listed (lightcone's histories only).
    pub committed: Vec<(KeyId, i64)>,
}

impl KOp<'_> {
    pub(super) fn reads_of(&self, key: KeyId) -> Option<&[(Option<i64>, MsgId)]> {
        find(&self.reads, key)
    }

    pub(super) fn writes_of(&self, key: KeyId) -> Option<&[(Option<i64>, MsgId)]> {
        find(&self.writes, key)
    }

    /// The op as the details show it.
    pub(super) fn to_json(&self) -> Value {
        json!({
            "index": self.index,
            "process": self.process,
            "type": self.kind.as_str(),
            "f": self.f,
        })
    }
}

/// "poll, op 12, process 3".
impl fmt::Display for KOp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} op {} by process {}",
            self.f, self.index, self.process
        )
    }
}

fn find(per_key: &PerKey, key: KeyId) -> Option<&[(Option<i64>, MsgId)]> {
    per_key
        .binary_search_by_key(&key, |(k, _)| *k)
        .ok()
        .map(|i| per_key[i].1.as_slice())
}

/// A message's identity: integers, what the workloads send, as numbers;
/// anything else by its JSON text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Msg {
    Int(i64),
    Text(String),
}

impl Msg {
    fn of(value: &Value) -> Msg {
        match value.as_i64() {
            Some(i) => Msg::Int(i),
            None => Msg::Text(value.to_string()),
        }
    }

    pub(super) fn to_json(&self) -> Value {
        match self {
            Msg::Int(i) => json!(i),
            Msg::Text(text) => serde_json::from_str(text).unwrap_or_else(|_| json!(text)),
        }
    }
}

impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Msg::Int(i) => write!(f, "{i}"),
            Msg::Text(text) => f.write_str(text),
        }
    }
}

/// Everything the analysis takes from a history.
#[derive(Debug, Default)]
pub(super) struct Parsed<'h> {
    /// Client ops in completion order.
    pub ops: Vec<KOp<'h>>,
    /// Key names by id.
    pub keys: Vec<String>,
    /// Messages by id.
    pub msgs: Vec<Msg>,
    /// History positions of completions whose value has a shape the
    /// analysis cannot read; those ops are left out.
    pub malformed: Vec<usize>,
}

impl Parsed<'_> {
    pub(super) fn key_name(&self, key: KeyId) -> &str {
        &self.keys[key as usize]
    }

    pub(super) fn msg(&self, msg: MsgId) -> &Msg {
        &self.msgs[msg as usize]
    }

    pub(super) fn msg_json(&self, msg: MsgId) -> Value {
        self.msg(msg).to_json()
    }

    /// Messages as a JSON list.
    pub(super) fn msgs_json(&self, msgs: &[MsgId]) -> Value {
        Value::Array(msgs.iter().map(|m| self.msg_json(*m)).collect())
    }
}

#[derive(Default)]
struct Interner {
    keys: BTreeMap<String, KeyId>,
    key_names: Vec<String>,
    msgs: BTreeMap<Msg, MsgId>,
    msg_values: Vec<Msg>,
}

impl Interner {
    fn key(&mut self, value: &Value) -> KeyId {
        let name = match value.as_str() {
            Some(s) => s.to_string(),
            None => value.to_string(),
        };
        self.key_named(name)
    }

    fn key_named(&mut self, name: String) -> KeyId {
        if let Some(id) = self.keys.get(&name) {
            return *id;
        }
        let id = self.key_names.len() as KeyId;
        self.key_names.push(name.clone());
        self.keys.insert(name, id);
        id
    }

    fn msg(&mut self, value: &Value) -> MsgId {
        let msg = Msg::of(value);
        if let Some(id) = self.msgs.get(&msg) {
            return *id;
        }
        let id = self.msg_values.len() as MsgId;
        self.msg_values.push(msg.clone());
        self.msgs.insert(msg, id);
        id
    }
}

/// Reads the client ops of a history.
pub(super) fn parse(history: &History) -> Parsed<'_> {
    let ops = &history.ops;
    let mut interner = Interner::default();
    let mut parsed = Parsed::default();
    for (inv, done) in history.pair_positions() {
        let invoke = &ops[inv];
        let (pos, completion) = match done {
            Some(d) => (d, &ops[d]),
            None => (ops.len() + inv, invoke),
        };
        let func = Func::of(&invoke.f);
        let mut op = KOp {
            pos,
            invoke_pos: inv,
            completed: done.is_some(),
            kind: if done.is_some() {
                completion.kind
            } else {
                OpType::Info
            },
            func,
            f: &invoke.f,
            process: invoke.process,
            index: completion.index,
            time: completion.time,
            invoke_time: invoke.time,
            error: completion.error.as_deref(),
            writes: Vec::new(),
            reads: Vec::new(),
            keys: Vec::new(),
            committed: Vec::new(),
        };
        let read = match func {
            Func::Send | Func::Poll | Func::Txn => {
                read_mops(&completion.value, &mut interner, &mut op)
            }
            Func::Assign | Func::Subscribe => {
                read_assign(&completion.value, &mut interner, &mut op)
            }
            Func::Other => Some(()),
        };
        if read.is_none() {
            parsed.malformed.push(done.unwrap_or(inv));
            op.func = Func::Other;
            op.writes.clear();
            op.reads.clear();
            op.keys.clear();
            op.committed.clear();
        }
        parsed.ops.push(op);
    }
    parsed.ops.sort_by_key(|op| op.pos);
    parsed.keys = interner.key_names;
    parsed.msgs = interner.msg_values;
    parsed
}

/// Reads a sequence of `send` and `poll` micro-ops into `op`.
fn read_mops(value: &Value, interner: &mut Interner, op: &mut KOp) -> Option<()> {
    let mut writes: BTreeMap<KeyId, Vec<(Option<i64>, MsgId)>> = BTreeMap::new();
    let mut reads: BTreeMap<KeyId, Vec<(Option<i64>, MsgId)>> = BTreeMap::new();
    for mop in value.as_array()? {
        let mop = mop.as_array()?;
        match (mop.first()?.as_str()?, &mop[1..]) {
            ("send", [key, sent]) => {
                // Jepsen: a vector is an [offset message] pair.
                let (offset, msg) = match sent {
                    Value::Array(pair) => match pair.as_slice() {
                        [offset, msg] => (read_offset(offset)?, msg),
                        _ => return None,
                    },
                    msg => (None, msg),
                };
                let key = interner.key(key);
                let msg = interner.msg(msg);
                writes.entry(key).or_default().push((offset, msg));
            }
            ("poll", []) => {}
            ("poll", [polled]) => {
                for (key, pairs) in polled.as_object()? {
                    let key = interner.key_named(key.clone());
                    let seen = reads.entry(key).or_default();
                    for pair in pairs.as_array()? {
                        match pair.as_array()?.as_slice() {
                            [offset, msg] => seen.push((read_offset(offset)?, interner.msg(msg))),
                            _ => return None,
                        }
                    }
                }
            }
            _ => return None,
        }
    }
    op.writes = writes.into_iter().collect();
    op.reads = reads.into_iter().collect();
    Some(())
}

/// An offset: an integer, or null when unknown.
fn read_offset(value: &Value) -> Option<Option<i64>> {
    match value {
        Value::Null => Some(None),
        other => other.as_i64().map(Some),
    }
}

/// The keys of an assign or subscribe, and the committed offsets a
/// lightcone assign listed.
fn read_assign(value: &Value, interner: &mut Interner, op: &mut KOp) -> Option<()> {
    let keys = match value {
        Value::Array(keys) => keys,
        Value::Object(fields) => {
            if let Some(committed) = fields.get("committed") {
                for (key, offset) in committed.as_object()? {
                    let key = interner.key_named(key.clone());
                    op.committed.push((key, offset.as_i64()?));
                }
            }
            fields.get("keys")?.as_array()?
        }
        _ => return None,
    };
    op.keys = keys.iter().map(|k| interner.key(k)).collect();
    op.keys.sort_unstable();
    op.keys.dedup();
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightcone_history::build::{invoke, op};

    fn parsed(h: &History) -> Parsed<'_> {
        parse(h)
    }

    #[test]
    fn micro_ops_are_read_per_key_in_order() {
        let mut h = History::default();
        h.push(invoke(0, "txn", json!([["send", 1, 5], ["poll"]]), 0));
        h.push(op(
            0,
            OpType::Ok,
            "txn",
            json!([["send", 1, [3, 5]], ["poll", {"1": [[2, 4], [3, 5]], "x": []}], ["send", "1", [null, 6]]]),
            1,
        ));
        let p = parsed(&h);
        assert!(p.malformed.is_empty());
        let o = &p.ops[0];
        assert_eq!(p.keys, vec!["1".to_string(), "x".to_string()]);
        let m = |v: i64| p.msgs.iter().position(|x| *x == Msg::Int(v)).unwrap() as MsgId;
        assert_eq!(o.writes_of(0).unwrap(), &[(Some(3), m(5)), (None, m(6))]);
        assert_eq!(o.reads_of(0).unwrap(), &[(Some(2), m(4)), (Some(3), m(5))]);
        assert_eq!(o.reads_of(1).unwrap(), &[]);
        assert_eq!(o.kind, OpType::Ok);
        assert_eq!(o.func, Func::Txn);
    }

    #[test]
    fn assigns_take_a_key_list_or_lightcones_object() {
        let mut h = History::default();
        h.push(invoke(0, "assign", json!(["b", "a"]), 0));
        h.push(op(0, OpType::Ok, "assign", json!(["b", "a"]), 1));
        h.push(invoke(1, "assign", json!(["c"]), 2));
        h.push(op(
            1,
            OpType::Ok,
            "assign",
            json!({"keys": ["c"], "committed": {"c": 4}}),
            3,
        ));
        let p = parsed(&h);
        assert_eq!(p.ops[0].keys, vec![0, 1]);
        assert_eq!(p.ops[1].keys, vec![2]);
        assert_eq!(p.ops[1].committed, vec![(2, 4)]);
    }

    #[test]
    fn unreadable_shapes_are_malformed_and_left_out() {
        for bad in [
            json!({"k": 1}),
            json!([["send", "k"]]),
            json!([["send", "k", [1, 2, 3]]]),
            json!([["poll", {"k": [[1]]}]]),
            json!([["poll", {"k": [["one", 2]]}]]),
            json!([["frob"]]),
        ] {
            let mut h = History::default();
            h.push(invoke(0, "send", json!([["send", "k", 1]]), 0));
            h.push(op(0, OpType::Ok, "send", bad.clone(), 1));
            let p = parsed(&h);
            assert_eq!(p.malformed, vec![1], "{bad}");
            assert_eq!(p.ops[0].func, Func::Other);
        }
    }

    #[test]
    fn an_op_never_completed_is_indeterminate_and_sorts_last() {
        let mut h = History::default();
        h.push(invoke(0, "send", json!([["send", "k", 1]]), 0));
        h.push(invoke(1, "poll", json!([["poll"]]), 1));
        h.push(op(1, OpType::Ok, "poll", json!([["poll", {}]]), 2));
        let p = parsed(&h);
        assert_eq!(p.ops[0].func, Func::Poll);
        assert_eq!(p.ops[1].func, Func::Send);
        assert_eq!(p.ops[1].kind, OpType::Info);
        assert!(!p.ops[1].completed);
        assert_eq!(p.ops[1].writes_of(0).unwrap().len(), 1);
    }

    #[test]
    fn messages_keep_their_json() {
        for v in [json!(5), json!("five"), json!({"a": 1}), json!(1.5)] {
            assert_eq!(Msg::of(&v).to_json(), v);
        }
        assert_ne!(Msg::of(&json!(5)), Msg::of(&json!("5")));
    }
}
