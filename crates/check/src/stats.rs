//! Success and failure counts, overall and per function (Jepsen's `stats`).

use std::collections::BTreeMap;

use lightcone_history::{History, OpType};
use serde::Serialize;

use crate::{CheckResult, Validity};

/// Completions of one kind of operation (or of all of them), as Jepsen
/// counts them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct OpCounts {
    /// All completions: `ok` + `fail` + `info`.
    pub count: u64,
    pub ok_count: u64,
    pub fail_count: u64,
    pub info_count: u64,
}

impl OpCounts {
    pub fn add(&mut self, kind: OpType) {
        match kind {
            OpType::Ok => self.ok_count += 1,
            OpType::Fail => self.fail_count += 1,
            OpType::Info => self.info_count += 1,
            OpType::Invoke => return,
        }
        self.count += 1;
    }
}

/// The stats checker's section of results.json.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Details {
    #[serde(flatten)]
    pub all: OpCounts,
    pub by_f: BTreeMap<String, FunctionStats>,
}

/// One function's completions, and whether any succeeded.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct FunctionStats {
    #[serde(flatten)]
    pub counts: OpCounts,
    pub valid: Validity,
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
pub fn check(history: &History) -> CheckResult<Details> {
    let mut all = OpCounts::default();
    let mut by_f: BTreeMap<&str, OpCounts> = BTreeMap::new();
    for op in history
        .iter()
        .filter(|op| op.is_client() && !op.is_invoke())
    {
        all.add(op.kind);
        by_f.entry(op.f.as_str()).or_default().add(op.kind);
    }

    let mut problems = Vec::new();
    let mut valid = Validity::Valid;
    let mut stats = BTreeMap::new();
    for (f, counts) in by_f {
        let f_valid = if counts.ok_count > 0 {
            Validity::Valid
        } else {
            Validity::Invalid
        };
        if f_valid == Validity::Invalid && !NEVER_OK.contains(&f) {
            problems.push(format!(
                "no {f} operation succeeded ({} failed, {} indeterminate)",
                counts.fail_count, counts.info_count
            ));
            valid = valid.merge(f_valid);
        }
        stats.insert(
            f.to_string(),
            FunctionStats {
                counts,
                valid: f_valid,
            },
        );
    }
    CheckResult::new(valid, problems, Details { all, by_f: stats })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{invoke, nemesis, ok, op};
    use serde_json::{json, Value};

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
        assert_eq!(r.details.by_f["crash"].valid, Validity::Invalid);
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
        assert_eq!(r.details.all.count, 3);
        assert_eq!(r.details.all.ok_count, 1);
        assert_eq!(r.details.all.fail_count, 1);
        assert_eq!(r.details.all.info_count, 1);
        assert_eq!(
            crate::testing::to_json(&r.details.by_f),
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
        assert_eq!(r.details.by_f["read"].counts.count, 2);
    }

    #[test]
    fn empty_history_is_valid() {
        let r = check(&History::default());
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details.all.count, 0);
        assert_eq!(crate::testing::to_json(&r.details.by_f), json!({}));
    }
}
