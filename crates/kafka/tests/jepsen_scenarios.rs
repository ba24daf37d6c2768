//! The kafka checker against the scenarios of Jepsen's own kafka tests
//! (jepsen/test/jepsen/tests/kafka_test.clj, version 0.3.7), written again
//! as lightcone histories, each asserting what Jepsen's test asserts; then
//! lightcone's additions and a clean history of Maelstrom's shape.

use lightcone_check::{CheckResult, Validity};
use lightcone_history::{History, Op, OpType, Process};
use lightcone_kafka as kafka;
use serde_json::{json, Value};

/// A history built op by op; each push returns the op's index.
#[derive(Default)]
struct H {
    history: History,
}

impl H {
    fn op(&mut self, process: u64, kind: &str, f: &str, value: Value) -> u64 {
        let kind = match kind {
            "invoke" => OpType::Invoke,
            "ok" => OpType::Ok,
            "fail" => OpType::Fail,
            "info" => OpType::Info,
            other => panic!("no op type {other}"),
        };
        let time = self.history.len() as u64;
        self.history
            .push(Op::new(Process::Client(process), kind, f, value).at(time));
        time
    }

    /// An invocation (with the completion's value turned back into a
    /// request) and its completion; returns the completion's index.
    fn call(&mut self, process: u64, kind: &str, f: &str, value: Value) -> u64 {
        let request = match f {
            "assign" | "subscribe" => value.clone(),
            _ => Value::Array(
                value
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|mop| match mop[0].as_str().unwrap() {
                        "send" => match &mop[2] {
                            Value::Array(pair) => json!(["send", mop[1], pair[1]]),
                            v => json!(["send", mop[1], v]),
                        },
                        _ => json!(["poll"]),
                    })
                    .collect(),
            ),
        };
        self.op(process, "invoke", f, request);
        self.op(process, kind, f, value)
    }

    fn check(&self) -> CheckResult<kafka::Details> {
        kafka::check(&self.history)
    }
}

fn errs(r: &CheckResult<kafka::Details>, error_type: &str) -> Vec<Value> {
    r.details
        .errors
        .get(error_type)
        .map(|e| e["errs"].as_array().unwrap().clone())
        .unwrap_or_default()
}

fn op_indexes(ops: &Value) -> Vec<u64> {
    ops.as_array()
        .unwrap()
        .iter()
        .map(|o| o["index"].as_u64().unwrap())
        .collect()
}

#[test]
fn info_sends_conflict_only_once_shown_to_have_committed() {
    let mut h = H::default();
    h.call(
        0,
        "info",
        "send",
        json!([["send", "x", [0, 1]], ["send", "y", 1]]),
    );
    h.call(1, "ok", "send", json!([["send", "x", [0, 2]]]));
    assert!(errs(&h.check(), "inconsistent-offsets").is_empty());
    // A poll that sees the info send's message to y proves it committed.
    h.call(2, "ok", "poll", json!([["poll", {"y": [[5, 1]]}]]));
    let r = h.check();
    assert_eq!(
        errs(&r, "inconsistent-offsets"),
        vec![json!({"key": "x", "index": 0, "offset": 0, "values": [1, 2]})]
    );
    assert_eq!(r.valid, Validity::Invalid);
}

#[test]
fn two_acknowledged_sends_at_one_offset_are_inconsistent() {
    let mut h = H::default();
    h.call(379, "ok", "send", json!([["send", 11, [537, 641]]]));
    h.call(363, "ok", "send", json!([["send", 11, [537, 645]]]));
    assert_eq!(
        errs(&h.check(), "inconsistent-offsets"),
        vec![json!({"key": "11", "index": 0, "offset": 537, "values": [641, 645]})]
    );
}

#[test]
fn a_poll_of_a_failed_send_is_g1a() {
    let mut h = H::default();
    let send = h.call(
        0,
        "fail",
        "send",
        json!([["send", "x", 2], ["send", "y", 3]]),
    );
    let poll = h.call(1, "ok", "poll", json!([["poll", {"x": [[0, 2]]}]]));
    let g1a = errs(&h.check(), "G1a");
    assert_eq!(g1a.len(), 1);
    assert_eq!(g1a[0]["key"], json!("x"));
    assert_eq!(g1a[0]["value"], json!(2));
    assert_eq!(g1a[0]["writer"]["index"], json!(send));
    assert_eq!(g1a[0]["reader"]["index"], json!(poll));
}

#[test]
fn lost_writes_consistent_log() {
    // a at 0, b at 1 and d at 3; a poll of c at 2 means a and b were lost.
    let mut h = H::default();
    let a = h.call(0, "ok", "send", json!([["send", "x", [0, "a"]]]));
    let bd = h.call(
        0,
        "ok",
        "send",
        json!([["send", "x", [1, "b"]], ["send", "x", [3, "d"]]]),
    );
    h.call(1, "info", "send", json!([["send", "x", "c"]]));
    let poll = h.call(0, "ok", "poll", json!([["poll", {"x": [[2, "c"]]}]]));
    let lost = errs(&h.check(), "lost-write");
    let summary: Vec<(Value, Value, Value, Value, Value)> = lost
        .iter()
        .map(|l| {
            (
                l["value"].clone(),
                l["index"].clone(),
                l["max-read-index"].clone(),
                l["writer"]["index"].clone(),
                l["max-read"]["index"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (json!("a"), json!(0), json!(2), json!(a), json!(poll)),
            (json!("b"), json!(1), json!(2), json!(bd), json!(poll)),
        ]
    );
}

#[test]
fn lost_writes_with_inconsistent_offsets() {
    // a is sent at 0 but b overwrites it there; reading c at 2 means a
    // should have been read too, though the version order may pick b.
    let mut h = H::default();
    let a = h.call(0, "ok", "send", json!([["send", "x", [0, "a"]]]));
    h.call(
        0,
        "ok",
        "send",
        json!([["send", "x", [0, "b"]], ["send", "x", [2, "c"]]]),
    );
    h.call(
        0,
        "ok",
        "poll",
        json!([["poll", {"x": [[0, "b"], [2, "c"]]}]]),
    );
    let lost = errs(&h.check(), "lost-write");
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0]["value"], json!("a"));
    assert_eq!(lost[0]["index"], json!(0));
    assert_eq!(lost[0]["max-read-index"], json!(1));
    assert_eq!(lost[0]["writer"]["index"], json!(a));
}

#[test]
fn lost_writes_of_a_crashed_send_count_once_it_is_shown_to_have_committed() {
    let mut h = H::default();
    let ab = h.call(
        0,
        "info",
        "send",
        json!([["send", "x", "a"], ["send", "y", [0, "b"]]]),
    );
    h.call(1, "info", "send", json!([["send", "y", "c"]]));
    let mut without = H {
        history: h.history.clone(),
    };
    without.call(3, "ok", "poll", json!([["poll", {"y": [[1, "c"]]}]]));
    assert!(errs(&without.check(), "lost-write").is_empty());

    h.call(2, "ok", "poll", json!([["poll", {"x": [[0, "a"]]}]]));
    let poll_c = h.call(3, "ok", "poll", json!([["poll", {"y": [[1, "c"]]}]]));
    let lost = errs(&h.check(), "lost-write");
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0]["key"], json!("y"));
    assert_eq!(lost[0]["value"], json!("b"));
    assert_eq!(lost[0]["max-read-index"], json!(1));
    assert_eq!(lost[0]["writer"]["index"], json!(ab));
    assert_eq!(lost[0]["max-read"]["index"], json!(poll_c));
}

/// Jepsen's poll-skip scenario: process 0 polls offsets 1-2, 4 and 7, and
/// other ops show that 3 and 6 exist.
fn poll_skip_history(
    between_first: Option<(&str, Value)>,
    between_second: Option<(&str, Value, &str)>,
) -> (H, [u64; 3]) {
    let mut h = H::default();
    let p12 = h.call(
        0,
        "ok",
        "poll",
        json!([["poll", {"x": [[1, "a"], [2, "b"]]}]]),
    );
    h.call(1, "ok", "poll", json!([["poll", {"x": [[3, "c"]]}]]));
    if let Some((f, keys)) = between_first {
        h.call(0, "ok", f, keys);
    }
    let p4 = h.call(0, "ok", "poll", json!([["poll", {"x": [[4, "d"]]}]]));
    if let Some((f, keys, kind)) = between_second {
        h.call(0, kind, f, keys);
    }
    h.call(2, "ok", "send", json!([["send", "x", [6, "f"]]]));
    let p7 = h.call(0, "ok", "poll", json!([["poll", {"x": [[7, "g"]]}]]));
    h.call(
        3,
        "info",
        "send",
        json!([
            ["send", "x", "a"],
            ["send", "x", "b"],
            ["send", "x", "c"],
            ["send", "x", "d"],
            ["send", "x", "g"]
        ]),
    );
    (h, [p12, p4, p7])
}

#[test]
fn poll_skips_between_a_processs_polls() {
    let (h, [p12, p4, p7]) = poll_skip_history(None, None);
    let skips = errs(&h.check(), "poll-skip");
    let summary: Vec<(Vec<u64>, Value, Value)> = skips
        .iter()
        .map(|s| {
            (
                op_indexes(&s["ops"]),
                s["delta"].clone(),
                s["skipped"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (vec![p12, p4], json!(2), json!(["c"])),
            (vec![p4, p7], json!(2), json!(["f"])),
        ]
    );
    // Assigning or subscribing to other keys forgets the position in x.
    for f in ["subscribe", "assign"] {
        let (h, _) = poll_skip_history(
            Some((f, json!(["y"]))),
            Some(("assign", json!(["y"]), "info")),
        );
        assert!(errs(&h.check(), "poll-skip").is_empty(), "{f}");
    }
    // Keys that still cover x keep it.
    let (h, _) = poll_skip_history(
        Some(("subscribe", json!(["x", "y"]))),
        Some(("assign", json!(["x", "y"]), "ok")),
    );
    assert_eq!(errs(&h.check(), "poll-skip").len(), 2);
}

fn sends_0_to(n: i64) -> Value {
    Value::Array((0..=n).map(|i| json!(["send", "x", [i, i]])).collect())
}

#[test]
fn aborted_polls_must_rewind() {
    // Failed and indeterminate polls that re-read from where the last ok
    // poll ended are fine.
    let mut h = H::default();
    h.call(0, "ok", "send", sends_0_to(2));
    h.call(1, "ok", "txn", json!([["poll", {"x": [[0, 0]]}]]));
    h.call(1, "fail", "txn", json!([["poll", {"x": [[1, 1], [2, 2]]}]]));
    h.call(1, "info", "txn", json!([["poll", {"x": [[1, 1], [2, 2]]}]]));
    h.call(1, "ok", "txn", json!([["poll", {"x": [[1, 1], [2, 2]]}]]));
    let r = h.check();
    assert!(r.details.bad_error_types.is_empty(), "{:?}", r.problems);
    assert_eq!(r.valid, Validity::Valid);

    // One that went on from the aborted poll's end skipped.
    let mut h = H::default();
    h.call(0, "ok", "send", sends_0_to(5));
    let p0 = h.call(1, "ok", "txn", json!([["poll", {"x": [[0, 0]]}]]));
    h.call(1, "fail", "txn", json!([["poll", {"x": [[1, 1], [2, 2]]}]]));
    let p34 = h.call(1, "fail", "txn", json!([["poll", {"x": [[3, 3], [4, 4]]}]]));
    let p5 = h.call(1, "ok", "txn", json!([["poll", {"x": [[5, 5]]}]]));
    let skips: Vec<(Vec<u64>, Value, Value)> = errs(&h.check(), "poll-skip")
        .iter()
        .map(|s| {
            (
                op_indexes(&s["ops"]),
                s["delta"].clone(),
                s["skipped"].clone(),
            )
        })
        .collect();
    assert_eq!(
        skips,
        vec![
            (vec![p0, p34], json!(3), json!([1, 2])),
            (vec![p0, p5], json!(5), json!([1, 2, 3, 4])),
        ]
    );
}

#[test]
fn a_process_polling_backwards_is_nonmonotonic() {
    let build = |between: Option<(&str, Value)>| {
        let mut h = H::default();
        h.call(
            0,
            "ok",
            "send",
            json!([
                ["send", "x", "a"],
                ["send", "x", "b"],
                ["send", "x", "c"],
                ["send", "x", "d"]
            ]),
        );
        let first = h.call(
            0,
            "ok",
            "poll",
            json!([["poll", {"x": [[1, "a"], [2, "b"], [3, "c"]]}]]),
        );
        if let Some((f, keys)) = between {
            h.call(0, "ok", f, keys);
        }
        let second = h.call(
            0,
            "ok",
            "poll",
            json!([["poll", {"x": [[2, "b"], [3, "c"], [4, "d"]]}]]),
        );
        (h, first, second)
    };
    let (h, first, second) = build(None);
    let nm = errs(&h.check(), "nonmonotonic-poll");
    assert_eq!(nm.len(), 1);
    assert_eq!(nm[0]["values"], json!(["c", "b"]));
    assert_eq!(nm[0]["delta"], json!(-1));
    assert_eq!(op_indexes(&nm[0]["ops"]), vec![first, second]);
    for f in ["subscribe", "assign"] {
        let (h, _, _) = build(Some((f, json!(["y"]))));
        assert!(errs(&h.check(), "nonmonotonic-poll").is_empty());
        let (h, _, _) = build(Some((f, json!(["x", "y"]))));
        assert_eq!(errs(&h.check(), "nonmonotonic-poll").len(), 1);
    }
}

#[test]
fn a_process_sending_backwards_is_nonmonotonic() {
    let build = |between: Option<(&str, Value, &str)>| {
        let mut h = H::default();
        let first = h.call(
            0,
            "ok",
            "send",
            json!([["send", "x", [3, "c"]], ["send", "x", [4, "d"]]]),
        );
        if let Some((f, keys, kind)) = between {
            h.call(0, kind, f, keys);
        }
        let second = h.call(
            0,
            "ok",
            "send",
            json!([["send", "x", [1, "a"]], ["send", "x", [2, "b"]]]),
        );
        (h, first, second)
    };
    let (h, first, second) = build(None);
    let nm = errs(&h.check(), "nonmonotonic-send");
    assert_eq!(nm.len(), 1);
    assert_eq!(nm[0]["values"], json!(["d", "a"]));
    assert_eq!(nm[0]["delta"], json!(-3));
    assert_eq!(op_indexes(&nm[0]["ops"]), vec![first, second]);
    let (h, _, _) = build(Some(("subscribe", json!(["y"]), "ok")));
    assert!(errs(&h.check(), "nonmonotonic-send").is_empty());
    let (h, _, _) = build(Some(("assign", json!(["y"]), "info")));
    assert!(errs(&h.check(), "nonmonotonic-send").is_empty());
    let (h, _, _) = build(Some(("assign", json!(["x", "y"]), "ok")));
    assert_eq!(errs(&h.check(), "nonmonotonic-send").len(), 1);
}

#[test]
fn skips_within_one_poll() {
    let mut h = H::default();
    h.call(
        1,
        "info",
        "send",
        json!([["send", "x", "a"], ["send", "x", "b"], ["send", "x", "d"]]),
    );
    let one = h.call(
        0,
        "ok",
        "poll",
        json!([["poll", {"x": [[1, "a"], [4, "d"]]}]]),
    );
    let two = h.call(
        0,
        "ok",
        "poll",
        json!([["poll", {"x": [[1, "a"]]}], ["poll", {"x": [[4, "d"]]}]]),
    );
    h.call(0, "ok", "poll", json!([["poll", {"x": [[2, "b"]]}]]));
    let skips: Vec<(Value, Value, Value, Value)> = errs(&h.check(), "int-poll-skip")
        .iter()
        .map(|s| {
            (
                s["values"].clone(),
                s["skipped"].clone(),
                s["delta"].clone(),
                s["op"]["index"].clone(),
            )
        })
        .collect();
    assert_eq!(
        skips,
        vec![
            (json!(["a", "d"]), json!(["b"]), json!(2), json!(one)),
            (json!(["a", "d"]), json!(["b"]), json!(2), json!(two)),
        ]
    );
}

#[test]
fn skips_within_one_send_are_reported_but_allowed() {
    let mut h = H::default();
    let send = h.call(
        0,
        "ok",
        "send",
        json!([["send", "x", [1, "a"]], ["send", "x", "c"]]),
    );
    h.call(1, "info", "send", json!([["send", "x", "b"]]));
    h.call(
        2,
        "ok",
        "poll",
        json!([["poll", {"x": [[2, "b"], [3, "c"]]}]]),
    );
    let r = h.check();
    let skips = errs(&r, "int-send-skip");
    assert_eq!(skips.len(), 1);
    assert_eq!(skips[0]["values"], json!(["a", "c"]));
    assert_eq!(skips[0]["skipped"], json!(["b"]));
    assert_eq!(skips[0]["op"]["index"], json!(send));
    assert!(!r.details.bad_error_types.contains(&"int-send-skip"));
    assert!(r.details.error_types.contains(&"int-send-skip"));
}

#[test]
fn nonmonotonic_within_one_poll() {
    let mut h = H::default();
    h.call(
        0,
        "info",
        "send",
        json!([["send", "x", "a"], ["send", "x", "b"], ["send", "x", "c"]]),
    );
    let one = h.call(
        0,
        "ok",
        "poll",
        json!([["poll", {"x": [[3, "c"], [1, "a"]]}]]),
    );
    let two = h.call(
        0,
        "ok",
        "poll",
        json!([["poll", {"x": [[2, "b"], [3, "c"]]}], ["poll", {"x": [[3, "c"]]}]]),
    );
    let nm: Vec<(Value, Value, Value)> = errs(&h.check(), "int-nonmonotonic-poll")
        .iter()
        .map(|s| {
            (
                s["values"].clone(),
                s["delta"].clone(),
                s["op"]["index"].clone(),
            )
        })
        .collect();
    assert_eq!(
        nm,
        vec![
            (json!(["c", "a"]), json!(-2), json!(one)),
            (json!(["c", "c"]), json!(0), json!(two)),
        ]
    );
}

#[test]
fn nonmonotonic_within_one_send() {
    let mut h = H::default();
    let x = h.call(
        0,
        "ok",
        "send",
        json!([["send", "x", [3, "c"]], ["send", "x", [1, "a"]]]),
    );
    let y = h.call(
        0,
        "info",
        "send",
        json!([["send", "y", "d"], ["send", "y", "b"]]),
    );
    h.call(1, "info", "send", json!([["send", "y", "c"]]));
    h.call(
        0,
        "ok",
        "poll",
        json!([["poll", {"y": [[2, "b"], [3, "c"], [4, "d"]]}]]),
    );
    let nm: Vec<(Value, Value, Value, Value)> = errs(&h.check(), "int-nonmonotonic-send")
        .iter()
        .map(|s| {
            (
                s["key"].clone(),
                s["values"].clone(),
                s["delta"].clone(),
                s["op"]["index"].clone(),
            )
        })
        .collect();
    // The checker's output shows them as Jepsen's condense-error does:
    // sorted by delta.
    assert_eq!(
        nm,
        vec![
            (json!("y"), json!(["d", "b"]), json!(-2), json!(y)),
            (json!("x"), json!(["c", "a"]), json!(-1), json!(x)),
        ]
    );
}

#[test]
fn a_message_at_two_offsets_is_a_duplicate() {
    let mut h = H::default();
    h.call(0, "ok", "send", json!([["send", "x", [1, "a"]]]));
    h.call(1, "info", "send", json!([["send", "x", "b"]]));
    h.call(
        2,
        "ok",
        "poll",
        json!([["poll", {"x": [[2, "b"], [3, "a"]]}]]),
    );
    assert_eq!(
        errs(&h.check(), "duplicate"),
        vec![json!({"key": "x", "value": "a", "count": 2, "offsets": [1, 3]})]
    );
}

#[test]
fn every_duplicate_is_found_whatever_the_version_order_picks() {
    let mut h = H::default();
    for value in 0..10 {
        h.call(0, "ok", "send", json!([["send", "x", [0, value]]]));
        h.call(1, "ok", "poll", json!([["poll", {"x": [[1, value]]}]]));
    }
    let r = h.check();
    let mut dups: Vec<i64> = errs(&r, "duplicate")
        .iter()
        .map(|d| d["value"].as_i64().unwrap())
        .collect();
    dups.sort_unstable();
    assert_eq!(dups, (0..10).collect::<Vec<_>>());
    let values: Vec<i64> = (0..10).collect();
    assert_eq!(
        errs(&r, "inconsistent-offsets"),
        vec![
            json!({"key": "x", "offset": 0, "index": 0, "values": values}),
            json!({"key": "x", "offset": 1, "index": 1, "values": values}),
        ]
    );
}

#[test]
fn aborted_polls_count_for_duplicates_but_failed_sends_do_not() {
    let mut h = H::default();
    h.call(0, "ok", "send", json!([["send", "x", [1, 0]]]));
    h.call(0, "fail", "send", json!([["send", "x", [2, 1]]]));
    h.call(
        1,
        "fail",
        "poll",
        json!([["poll", {"x": [[11, 0], [12, 1]]}]]),
    );
    assert_eq!(
        errs(&h.check(), "duplicate"),
        vec![json!({"key": "x", "value": 0, "count": 2, "offsets": [1, 11]})]
    );
}

#[test]
fn a_history_with_nothing_related_is_invalid_as_in_jepsen() {
    let mut h = H::default();
    h.call(0, "ok", "assign", json!(["x"]));
    let r = h.check();
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.details.bad_error_types, ["empty-transaction-graph"]);
}

#[test]
fn acknowledged_messages_never_polled_are_unseen() {
    let mut h = H::default();
    h.call(0, "ok", "poll", json!([["poll", {}]]));
    h.call(
        0,
        "ok",
        "send",
        json!([["send", "x", [0, "a"]], ["send", "x", [1, "b"]]]),
    );
    h.call(0, "ok", "poll", json!([["poll", {"x": [[0, "a"]]}]]));
    let r = h.check();
    assert_eq!(
        r.details.errors["unseen"],
        json!({"time": 5, "unseen": {"x": 1}, "messages": {"x": ["b"]}})
    );
    assert_eq!(r.valid, Validity::Invalid);
    assert!(
        r.problems
            .iter()
            .any(|p| p.starts_with("unseen: 1 acknowledged message in 1 key")),
        "{:?}",
        r.problems
    );
    // Polling b as well clears it.
    h.call(0, "ok", "poll", json!([["poll", {"x": [[1, "b"]]}]]));
    let r = h.check();
    assert!(!r.details.errors.contains_key("unseen"));
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
}

#[test]
fn transactions_that_see_each_other_are_g1c() {
    let mut h = H::default();
    h.op(0, "invoke", "txn", json!([["send", "x", "a"], ["poll"]]));
    h.op(1, "invoke", "txn", json!([["send", "y", "b"], ["poll"]]));
    let t1 = h.op(
        0,
        "ok",
        "txn",
        json!([["send", "x", [0, "a"]], ["poll", {"y": [[0, "b"]]}]]),
    );
    let t2 = h.op(
        1,
        "ok",
        "txn",
        json!([["send", "y", [0, "b"]], ["poll", {"x": [[0, "a"]]}]]),
    );
    let r = h.check();
    let g1c = errs(&r, "G1c");
    assert_eq!(g1c.len(), 1, "{:?}", r.details);
    let mut cycle = op_indexes(&g1c[0]["cycle"]);
    cycle.sort_unstable();
    cycle.dedup();
    assert_eq!(cycle, vec![t1, t2]);
    assert!(g1c[0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["type"] == "wr"));
}

#[test]
fn a_transaction_polling_its_own_send_is_a_precommitted_read() {
    let mut h = H::default();
    let t = h.call(
        0,
        "ok",
        "txn",
        json!([["send", "x", [0, "a"]], ["poll", {"x": [[0, "a"]]}]]),
    );
    let pre = errs(&h.check(), "precommitted-read");
    assert_eq!(pre.len(), 1);
    assert_eq!(pre[0]["op"]["index"], json!(t));
    assert_eq!(pre[0]["key"], json!("x"));
    assert_eq!(pre[0]["value"], json!("a"));
}

// lightcone's histories, as its kafka workload records them.

#[test]
fn a_poll_returning_a_message_sent_after_it_completed_is_g1c_realtime() {
    let mut h = H::default();
    let poll = h.call(0, "ok", "poll", json!([["poll", {"x": [[0, 1]]}]]));
    let send = h.call(1, "ok", "send", json!([["send", "x", [0, 1]]]));
    let r = h.check();
    let g = errs(&r, "G1c-realtime");
    assert_eq!(g.len(), 1, "{:?}", r.details);
    let mut cycle = op_indexes(&g[0]["cycle"]);
    cycle.sort_unstable();
    cycle.dedup();
    assert_eq!(cycle, vec![poll, send]);
    assert_eq!(r.valid, Validity::Invalid);
    // In the right order, nothing is wrong.
    let mut h = H::default();
    h.call(1, "ok", "send", json!([["send", "x", [0, 1]]]));
    h.call(0, "ok", "poll", json!([["poll", {"x": [[0, 1]]}]]));
    let r = h.check();
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
    assert!(r.details.error_types.is_empty());
}

#[test]
fn a_message_no_one_sent_is_invalid_beyond_maelstrom() {
    let mut h = H::default();
    h.call(1, "ok", "send", json!([["send", "x", [0, 1]]]));
    h.call(0, "ok", "poll", json!([["poll", {"x": [[0, 1], [1, 99]]}]]));
    let r = h.check();
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.maelstrom_valid, Validity::Unknown);
    assert_eq!(r.details.bad_error_types, ["unsent-read"]);
    assert_eq!(r.beyond_maelstrom.len(), 1);
    assert!(
        r.beyond_maelstrom[0].contains("99"),
        "{:?}",
        r.beyond_maelstrom
    );
    assert_eq!(r.section().maelstrom_valid, Some(Validity::Unknown));
}

#[test]
fn committed_offsets_going_back_are_information_only() {
    let mut h = H::default();
    h.call(0, "ok", "send", json!([["send", "x", [0, 1]]]));
    h.call(0, "ok", "send", json!([["send", "x", [1, 2]]]));
    h.call(0, "ok", "assign", json!({"keys": ["x"], "committed": {}}));
    // The poll commits offset 1 as part of the op.
    h.call(0, "ok", "poll", json!([["poll", {"x": [[0, 1], [1, 2]]}]]));
    // A later assign lists 0: the commit went back. Last commit wins.
    h.call(
        1,
        "ok",
        "assign",
        json!({"keys": ["x"], "committed": {"x": 0}}),
    );
    h.call(1, "ok", "poll", json!([["poll", {"x": [[0, 1], [1, 2]]}]]));
    let r = h.check();
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
    assert_eq!(r.details.committed_offsets_regress_count, 1);
    assert_eq!(
        r.details.information.committed_offsets_regress["errs"][0]["kind"],
        json!("listed-below-acknowledged-commit")
    );
}

#[test]
fn a_maelstrom_shaped_run_is_valid() {
    let mut h = H::default();
    // Crash ops, assigns, sends and polls that commit, as Maelstrom's client
    // records them.
    h.op(0, "invoke", "crash", Value::Null);
    h.op(0, "info", "crash", Value::Null);
    h.call(2, "ok", "send", json!([["send", "7", [0, 1]]]));
    h.call(1, "ok", "assign", json!({"keys": ["7"], "committed": {}}));
    h.call(1, "ok", "poll", json!([["poll", {"7": [[0, 1]]}]]));
    h.call(2, "ok", "send", json!([["send", "7", [1, 2]]]));
    h.call(2, "ok", "send", json!([["send", "8", [0, 1]]]));
    h.op(1, "invoke", "poll", json!([["poll"]]));
    h.op(1, "fail", "poll", json!([["poll"]]));
    h.call(1, "ok", "poll", json!([["poll", {"7": [[1, 2]]}]]));
    h.call(3, "ok", "assign", json!(["7", "8"]));
    h.call(
        3,
        "ok",
        "poll",
        json!([["poll", {"7": [[0, 1], [1, 2]], "8": [[0, 1]]}]]),
    );
    let r = h.check();
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
    assert_eq!(r.maelstrom_valid, Validity::Valid);
    assert_eq!(r.details.send_count, 3);
    assert_eq!(r.details.key_count, 2);
    assert!(r.details.error_types.is_empty());
    assert!(r.section().beyond_maelstrom.is_empty());
}

#[test]
fn unreadable_completions_make_a_clean_history_unknown() {
    let mut h = H::default();
    h.call(0, "ok", "send", json!([["send", "x", [0, 1]]]));
    h.call(0, "ok", "poll", json!([["poll", {"x": [[0, 1]]}]]));
    h.op(1, "invoke", "send", json!([["send", "x", 2]]));
    h.op(1, "ok", "send", json!({"offset": 1}));
    let r = h.check();
    assert_eq!(r.valid, Validity::Unknown);
    assert_eq!(r.details.malformed_count, 1);
    assert!(
        r.problems[0].starts_with("1 operation completed"),
        "{:?}",
        r.problems
    );
}

#[test]
fn examples_are_capped_but_counts_are_not() {
    // 40 acknowledged sends, and a poll that returns only the last: 39 lost
    // writes, all counted, 32 shown; one leading... poll skip is not
    // judged for a first poll.
    let mut h = H::default();
    for i in 0..40 {
        h.call(0, "ok", "send", json!([["send", "k", [i, i]]]));
    }
    h.call(1, "ok", "poll", json!([["poll", {"k": [[39, 39]]}]]));
    let r = h.check();
    assert_eq!(r.details.errors["lost-write"]["count"], json!(39));
    assert_eq!(errs(&r, "lost-write").len(), 32);
    assert!(
        r.problems
            .iter()
            .any(|p| p.starts_with("lost-write: 39 cases, e.g. message 0 of key \"k\"")),
        "{:?}",
        r.problems
    );
}
