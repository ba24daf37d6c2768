//! Each key's log as the history shows it, and the indexes the anomaly
//! passes share (Jepsen's `version-orders`, `writer-of`, `readers-of`,
//! `writes-by-type`, `reads-by-type`).

use std::collections::BTreeMap;

use lightcone_history::OpType;
use rustc_hash::{FxHashMap, FxHashSet};

use super::ops::{KOp, KeyId, MsgId, Parsed};

/// One key's log: offset -> the messages seen there.
#[derive(Debug, Default)]
pub(super) struct Log {
    /// Offset -> the distinct messages seen at it, by id (the order they
    /// first appear in the history). Usually one.
    pub at: BTreeMap<i64, Vec<MsgId>>,
    /// Dense index (offsets with a message, in order) -> the message taken
    /// for it: the first seen, where an offset holds several (Jepsen takes
    /// any one of them).
    pub by_index: Vec<MsgId>,
    /// Message -> its dense index in `by_index`; the last, if it is there
    /// twice. Messages that lost out at a contested offset have none.
    pub by_value: FxHashMap<MsgId, usize>,
}

impl Log {
    fn add(&mut self, offset: i64, msg: MsgId) {
        let msgs = self.at.entry(offset).or_default();
        if let Err(i) = msgs.binary_search(&msg) {
            msgs.insert(i, msg);
        }
    }

    fn index(&mut self) {
        for (i, msgs) in self.at.values().enumerate() {
            self.by_index.push(msgs[0]);
            self.by_value.insert(msgs[0], i);
        }
    }

    /// The difference of two messages' dense indexes, or 1 (Jepsen: "we
    /// don't know; assume we just incremented by 1") if either has none.
    pub(super) fn delta(&self, from: Option<MsgId>, to: Option<MsgId>) -> i64 {
        match (
            from.and_then(|m| self.by_value.get(&m)),
            to.and_then(|m| self.by_value.get(&m)),
        ) {
            (Some(&a), Some(&b)) => b as i64 - a as i64,
            _ => 1,
        }
    }

    /// The messages strictly between two messages in the order.
    pub(super) fn between(&self, from: MsgId, to: MsgId) -> &[MsgId] {
        match (self.by_value.get(&from), self.by_value.get(&to)) {
            (Some(&a), Some(&b)) if a < b => &self.by_index[a + 1..b],
            _ => &[],
        }
    }
}

/// The indexes every pass uses.
pub(super) struct Indexes {
    /// Per key id.
    pub logs: Vec<Log>,
    /// (key, message) -> the position in `Parsed::ops` of the last op that
    /// tried to send it (any outcome), as Jepsen's `writer-of`.
    pub writer_of: FxHashMap<(KeyId, MsgId), usize>,
    /// (key, message) pairs read by `ok` ops.
    pub ok_reads: FxHashSet<(KeyId, MsgId)>,
    /// (key, message) pairs whose send definitely failed.
    pub failed_writes: FxHashSet<(KeyId, MsgId)>,
}

impl Indexes {
    pub(super) fn build(parsed: &Parsed) -> Indexes {
        let mut writer_of = FxHashMap::default();
        let mut ok_reads = FxHashSet::default();
        let mut failed_writes = FxHashSet::default();
        for (i, op) in parsed.ops.iter().enumerate() {
            for (key, sent) in &op.writes {
                for &(_, msg) in sent {
                    writer_of.insert((*key, msg), i);
                    if op.kind == OpType::Fail {
                        failed_writes.insert((*key, msg));
                    }
                }
            }
            if op.kind == OpType::Ok {
                for (key, polled) in &op.reads {
                    ok_reads.extend(polled.iter().map(|&(_, msg)| (*key, msg)));
                }
            }
        }
        let mut logs: Vec<Log> = (0..parsed.keys.len()).map(|_| Log::default()).collect();
        for op in parsed.ops.iter().filter(|op| op.func.is_txn_like()) {
            // Sends count only where their effects are known to be visible;
            // polls always: "pollers in Kafka's transaction design are
            // *always* supposed to emit safe data regardless of whether the
            // transaction commits or not" (Jepsen).
            if must_have_committed(op, &ok_reads) {
                for (key, sent) in &op.writes {
                    for &(offset, msg) in sent {
                        if let Some(offset) = offset {
                            logs[*key as usize].add(offset, msg);
                        }
                    }
                }
            }
            for (key, polled) in &op.reads {
                for &(offset, msg) in polled {
                    if let Some(offset) = offset {
                        logs[*key as usize].add(offset, msg);
                    }
                }
            }
        }
        for log in &mut logs {
            log.index();
        }
        Indexes {
            logs,
            writer_of,
            ok_reads,
            failed_writes,
        }
    }

    pub(super) fn log(&self, key: KeyId) -> &Log {
        &self.logs[key as usize]
    }
}

/// Jepsen's `must-have-committed?`: the op is `ok`, or `info` and some
/// message it sent was read by an `ok` op.
pub(super) fn must_have_committed(op: &KOp, ok_reads: &FxHashSet<(KeyId, MsgId)>) -> bool {
    match op.kind {
        OpType::Ok => true,
        OpType::Info => op
            .writes
            .iter()
            .any(|(key, sent)| sent.iter().any(|&(_, msg)| ok_reads.contains(&(*key, msg)))),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::parse;
    use lightcone_history::build::{invoke, op};
    use lightcone_history::History;
    use serde_json::json;

    #[test]
    fn sends_count_only_when_known_visible_and_polls_always() {
        let mut h = History::default();
        // An ok poll of a and b at offsets 0 and 1.
        h.push(invoke(0, "txn", json!([["poll"]]), 0));
        h.push(op(
            0,
            OpType::Ok,
            "txn",
            json!([["poll", {"x": [[0, "a"], [1, "b"]]}]]),
            1,
        ));
        // An info send of c at 1, b at 3, d at 4: it committed, since b was read.
        h.push(invoke(1, "txn", json!([["send", "x", "c"]]), 2));
        h.push(op(
            1,
            OpType::Info,
            "txn",
            json!([
                ["send", "x", [1, "c"]],
                ["send", "x", [3, "b"]],
                ["send", "x", [4, "d"]]
            ]),
            3,
        ));
        // A failed send at offset 9: not in the log.
        h.push(invoke(2, "send", json!([["send", "x", "e"]]), 4));
        h.push(op(
            2,
            OpType::Fail,
            "send",
            json!([["send", "x", [9, "e"]]]),
            5,
        ));
        let p = parse(&h);
        let ix = Indexes::build(&p);
        let log = ix.log(0);
        let name = |m: &MsgId| p.msg(*m).to_string();
        let at: Vec<(i64, Vec<String>)> = log
            .at
            .iter()
            .map(|(o, ms)| (*o, ms.iter().map(name).collect()))
            .collect();
        assert_eq!(
            at,
            vec![
                (0, vec!["\"a\"".to_string()]),
                (1, vec!["\"b\"".to_string(), "\"c\"".to_string()]),
                (3, vec!["\"b\"".to_string()]),
                (4, vec!["\"d\"".to_string()]),
            ]
        );
        let order: Vec<String> = log.by_index.iter().map(name).collect();
        assert_eq!(order, vec!["\"a\"", "\"b\"", "\"b\"", "\"d\""]);
        // b is taken at its last index; c lost out at offset 1.
        let b = log.by_index[1];
        assert_eq!(log.by_value[&b], 2);
        assert!(ix.failed_writes.len() == 1);
    }

    #[test]
    fn delta_is_one_when_an_index_is_unknown() {
        let log = Log::default();
        assert_eq!(log.delta(Some(0), Some(1)), 1);
        assert_eq!(log.delta(None, Some(1)), 1);
    }
}
