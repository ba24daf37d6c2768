//! Success and failure counts, overall and per function (Jepsen's `stats`).

use std::collections::BTreeMap;

use lightcone_history::{History, OpType};
use serde_json::{json, Map, Value};

use crate::{CheckResult, Validity};

/// Completions of one kind of operation (or of all of them).
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    ok: usize,
    fail: usize,
    info: usize,
}

impl Counts {
    fn add(&mut self, kind: OpType) {
        match kind {
            OpType::Ok => self.ok += 1,
            OpType::Fail => self.fail += 1,
            OpType::Info => self.info += 1,
            OpType::Invoke => {}
        }
    }

    fn count(self) -> usize {
        self.ok + self.fail + self.info
    }

    fn to_details(self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("count".to_string(), json!(self.count()));
        m.insert("ok-count".to_string(), json!(self.ok));
        m.insert("fail-count".to_string(), json!(self.fail));
        m.insert("info-count".to_string(), json!(self.info));
        m
    }
}

/// Functions that never succeed by design (see [`check`]).
const NEVER_OK: [&str; 2] = ["crash", "debug-topic-partitions"];

/// Counts client completions (`ok`, `fail`, `info`) overall and by `f`.
/// Invocations that never completed are not counted. As in Jepsen, the
/// history is valid iff every `f` that completed at all has at least one
/// `ok`: a function that never once succeeded usually means a broken node or
/// a misconfigured workload, whatever the other checkers say. A history with
/// no completions is valid.
///
/// Except for `crash` and `debug-topic-partitions`, which never succeed by
/// design: Maelstrom wraps its stats checker in Jepsen's
/// `jepsen.tests.kafka/stats-checker`, which leaves them out of the verdict
/// (kafka's clients crash on purpose).
pub fn check(history: &History) -> CheckResult {
    let mut all = Counts::default();
    let mut by_f: BTreeMap<&str, Counts> = BTreeMap::new();
    for op in history
        .iter()
        .filter(|op| op.is_client() && !op.is_invoke())
    {
        all.add(op.kind);
        by_f.entry(op.f.as_str()).or_default().add(op.kind);
    }

    let mut problems = Vec::new();
    let mut valid = Validity::Valid;
    let mut by_f_details = Map::new();
    for (f, counts) in &by_f {
        let f_valid = if counts.ok > 0 {
            Validity::Valid
        } else {
            Validity::Invalid
        };
        if f_valid == Validity::Invalid && !NEVER_OK.contains(f) {
            problems.push(format!(
                "no {f} operation succeeded ({} failed, {} indeterminate)",
                counts.fail, counts.info
            ));
            valid = valid.merge(f_valid);
        }
        let mut entry = Map::new();
        entry.insert("valid".to_string(), f_valid.to_json());
        entry.extend(counts.to_details());
        by_f_details.insert((*f).to_string(), Value::Object(entry));
    }

    let mut details = all.to_details();
    details.insert("by-f".to_string(), Value::Object(by_f_details));
    CheckResult::new(valid, problems, details)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{invoke, nemesis, ok, op};
    use serde_json::json;

    #[test]
    fn crash_ops_never_succeed_and_that_is_fine() {
        let h: History = [
            invoke(0, "crash", Value::Null, 1),
            op(0, OpType::Info, "crash", Value::Null, 2),
            invoke(1, "poll", json!([["poll"]]), 3),
            ok(1, "poll", json!([["poll", {}]]), 4),
        ]
        .into_iter()
        .collect();
        let r = check(&h);
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
        // As in Jepsen, the function's own entry still says it never succeeded.
        assert_eq!(r.details["by-f"]["crash"]["valid"], json!(false));
    }

    #[test]
    fn counts_by_f_and_flags_an_f_without_ok() {
        let h: History = [
            invoke(0, "read", Value::Null, 1),
            ok(0, "read", json!([]), 2),
            invoke(0, "add", json!(1), 3),
            op(0, OpType::Fail, "add", Value::Null, 4),
            invoke(0, "add", json!(2), 5),
            op(0, OpType::Info, "add", Value::Null, 6),
            nemesis("start-partition", 7),
            nemesis("stop-partition", 8),
            invoke(1, "read", Value::Null, 9),
        ]
        .into_iter()
        .collect();
        let r = check(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.details["count"], json!(3));
        assert_eq!(r.details["ok-count"], json!(1));
        assert_eq!(r.details["fail-count"], json!(1));
        assert_eq!(r.details["info-count"], json!(1));
        assert_eq!(
            r.details["by-f"],
            json!({
                "add": {"valid": false, "count": 2, "ok-count": 0, "fail-count": 1, "info-count": 1},
                "read": {"valid": true, "count": 1, "ok-count": 1, "fail-count": 0, "info-count": 0},
            })
        );
        assert_eq!(
            r.problems,
            ["no add operation succeeded (1 failed, 1 indeterminate)"]
        );
    }

    #[test]
    fn every_f_with_an_ok_is_valid() {
        let h: History = [
            invoke(0, "read", Value::Null, 1),
            op(0, OpType::Fail, "read", Value::Null, 2),
            invoke(0, "read", Value::Null, 3),
            ok(0, "read", json!(5), 4),
        ]
        .into_iter()
        .collect();
        let r = check(&h);
        assert_eq!(r.valid, Validity::Valid);
        assert!(r.problems.is_empty());
        assert_eq!(r.details["by-f"]["read"]["count"], json!(2));
    }

    #[test]
    fn empty_history_is_valid() {
        let r = check(&History::default());
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["count"], json!(0));
        assert_eq!(r.details["by-f"], json!({}));
    }
}
