//! The kafka checker on hand-built histories: a clean run, and one minimal
//! history per anomaly.

use lightcone_check::{kafka, Validity};
use lightcone_history::{History, Op, OpType, Process};
use serde_json::{json, Value};

const ANOMALIES: [&str; 6] = [
    "inconsistent-offsets",
    "lost-writes",
    "nonmonotonic-send",
    "nonmonotonic-poll",
    "poll-skip",
    "committed-offsets-regress",
];

/// Builds a kafka history with times in steps of 10 ns; each helper returns
/// the index of the completion.
#[derive(Default)]
struct Script {
    history: History,
    time: u64,
}

impl Script {
    fn push(&mut self, process: u64, kind: OpType, f: &str, value: Value) -> u64 {
        self.time += 10;
        self.history
            .push(Op::new(Process::Client(process), kind, f, value).at(self.time));
        self.history.len() as u64 - 1
    }

    fn call(&mut self, process: u64, f: &str, request: Value, reply: Value) -> u64 {
        self.push(process, OpType::Invoke, f, request);
        self.push(process, OpType::Ok, f, reply)
    }

    fn send(&mut self, process: u64, key: &str, msg: i64, offset: i64) -> u64 {
        self.call(
            process,
            "send",
            json!([key, msg]),
            json!([key, msg, offset]),
        )
    }

    fn poll(&mut self, process: u64, requested: Value, result: Value) -> u64 {
        self.call(process, "poll", requested, result)
    }

    fn commit(&mut self, process: u64, offsets: Value) -> u64 {
        self.call(process, "commit_offsets", offsets.clone(), offsets)
    }

    fn list(&mut self, process: u64, keys: Value, offsets: Value) -> u64 {
        self.call(process, "list_committed_offsets", keys, offsets)
    }
}

/// The anomaly counts, in the order of `ANOMALIES`.
fn counts(r: &lightcone_check::CheckResult) -> Vec<u64> {
    ANOMALIES
        .iter()
        .map(|a| r.details[&format!("{a}-count")].as_u64().unwrap())
        .collect()
}

/// Only `anomaly` occurred, `n` times.
fn only(anomaly: &str, n: u64) -> Vec<u64> {
    ANOMALIES
        .iter()
        .map(|a| if *a == anomaly { n } else { 0 })
        .collect()
}

#[test]
fn a_clean_history_is_valid() {
    let mut s = Script::default();
    s.send(0, "k1", 10, 0);
    s.send(1, "k2", 20, 0);
    s.send(0, "k1", 11, 1);
    s.poll(
        2,
        json!({"k1": 0, "k2": 0}),
        json!({"k1": [[0, 10], [1, 11]], "k2": [[0, 20]]}),
    );
    s.commit(2, json!({"k1": 2, "k2": 1}));
    s.send(1, "k1", 12, 2);
    s.list(3, json!(["k1", "k2"]), json!({"k1": 2, "k2": 1}));
    s.poll(3, json!({"k1": 2}), json!({"k1": [[2, 12]]}));
    s.commit(3, json!({"k1": 3}));
    s.list(3, json!(["k1"]), json!({"k1": 3}));
    // A poll past the end returns nothing, and is no skip.
    s.poll(2, json!({"k1": 3}), json!({"k1": []}));
    let r = kafka::check(&s.history);
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
    assert!(r.problems.is_empty());
    assert_eq!(counts(&r), [0; 6]);
    assert_eq!(r.details["send-count"], json!(4));
    assert_eq!(r.details["poll-count"], json!(3));
    assert_eq!(r.details["key-count"], json!(2));
    assert_eq!(r.details["valid"], json!(true));
}

#[test]
fn two_nodes_allocating_one_offset_are_caught() {
    // A kafka node that allocates offsets locally, without coordination:
    // clients of two nodes both get offset 0 for key "k".
    let mut s = Script::default();
    let a = s.send(0, "k", 1, 0);
    let b = s.send(1, "k", 2, 0);
    s.send(0, "k", 3, 1);
    s.poll(2, json!({"k": 0}), json!({"k": [[0, 1], [1, 3]]}));
    let r = kafka::check(&s.history);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.details["inconsistent-offsets-count"], json!(1));
    assert_eq!(
        r.details["inconsistent-offsets"][0],
        json!({
            "kind": "offset-with-several-messages",
            "key": "k",
            "offset": 0,
            "messages": [1, 2],
            "ops": [
                {"f": "send", "process": 0, "index": a},
                {"f": "send", "process": 1, "index": b},
            ],
        })
    );
    assert_eq!(
        r.problems[0],
        format!(
            "inconsistent offsets: key \"k\" offset 0 holds different messages: \
             1 (send, op {a}, process 0), 2 (send, op {b}, process 1)"
        )
    );
    // Message 2 was overwritten: the polls went past it and never saw it.
    assert_eq!(r.details["lost-writes-count"], json!(1));
    assert_eq!(r.details["lost-writes"][0]["message"], json!(2));
}

#[test]
fn one_message_at_two_offsets_is_inconsistent() {
    let mut s = Script::default();
    s.send(0, "k", 7, 0);
    let p = s.poll(1, json!({"k": 0}), json!({"k": [[0, 7], [1, 7]]}));
    let r = kafka::check(&s.history);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(counts(&r), only("inconsistent-offsets", 1));
    let e = &r.details["inconsistent-offsets"][0];
    assert_eq!(e["kind"], json!("message-at-several-offsets"));
    assert_eq!(e["offsets"], json!([0, 1]));
    assert_eq!(e["ops"][1], json!({"f": "poll", "process": 1, "index": p}));
}

#[test]
fn a_write_polls_went_past_is_lost() {
    let mut s = Script::default();
    s.send(0, "k1", 40, 6);
    let lost = s.send(3, "k1", 42, 7);
    s.send(0, "k1", 43, 8);
    s.send(0, "k1", 44, 9);
    s.poll(1, json!({"k1": 6}), json!({"k1": [[6, 40]]}));
    s.poll(1, json!({"k1": 8}), json!({"k1": [[8, 43], [9, 44]]}));
    let r = kafka::check(&s.history);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(counts(&r), only("lost-writes", 1));
    assert_eq!(
        r.details["lost-writes"][0],
        json!({
            "key": "k1",
            "message": 42,
            "offset": 7,
            "polled-max": 9,
            "ops": [{"f": "send", "process": 3, "index": lost}],
        })
    );
    assert_eq!(
        r.problems,
        [format!(
            "lost write: key \"k1\" message 42 acknowledged at offset 7 (op {lost}, process 3) \
             never appeared in a poll, though polls reached offset 9"
        )]
    );
}

#[test]
fn a_write_no_poll_went_past_is_not_lost() {
    let mut s = Script::default();
    s.send(0, "k", 1, 0);
    s.send(0, "k", 2, 1);
    s.poll(1, json!({"k": 0}), json!({"k": [[0, 1]]}));
    let r = kafka::check(&s.history);
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
}

#[test]
fn offsets_of_one_process_sends_must_increase() {
    let mut s = Script::default();
    let first = s.send(3, "k1", 42, 7);
    // Another process's lower offset is fine.
    s.send(4, "k1", 41, 6);
    // And so is a lower offset of another key.
    s.send(3, "k2", 50, 0);
    let second = s.send(3, "k1", 43, 5);
    let r = kafka::check(&s.history);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(counts(&r), only("nonmonotonic-send", 1));
    assert_eq!(r.details["nonmonotonic-send"][0]["offsets"], json!([7, 5]));
    assert_eq!(
        r.problems,
        [format!(
            "nonmonotonic send: process 3 sent message 43 to key \"k1\" at offset 5 (op {second}) \
             after message 42 at offset 7 (op {first})"
        )]
    );
}

#[test]
fn poll_offsets_must_increase_from_the_requested_offset() {
    let mut s = Script::default();
    s.send(0, "k", 1, 2);
    s.send(0, "k", 2, 3);
    let backwards = s.poll(1, json!({"k": 2}), json!({"k": [[3, 2], [2, 1]]}));
    let r = kafka::check(&s.history);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(counts(&r), only("nonmonotonic-poll", 1));
    assert_eq!(
        r.details["nonmonotonic-poll"][0]["kind"],
        json!("not-increasing")
    );
    assert_eq!(
        r.problems,
        [format!(
            "nonmonotonic poll: a poll of key \"k\" by process 1 (op {backwards}) returned \
             offset 2 after offset 3"
        )]
    );

    let mut s = Script::default();
    s.send(0, "k", 1, 2);
    s.send(0, "k", 2, 3);
    s.poll(1, json!({"k": 3}), json!({"k": [[2, 1], [3, 2]]}));
    let r = kafka::check(&s.history);
    assert_eq!(counts(&r), only("nonmonotonic-poll", 1));
    assert_eq!(
        r.details["nonmonotonic-poll"][0],
        json!({
            "kind": "below-requested",
            "key": "k",
            "requested": 3,
            "offset": 2,
            "ops": [{"f": "poll", "process": 1, "index": 5}],
        })
    );
}

#[test]
fn a_poll_jumping_over_a_written_offset_skips_it() {
    let mut s = Script::default();
    s.send(0, "k", 10, 0);
    s.send(0, "k", 11, 1);
    s.send(0, "k", 12, 2);
    let skip = s.poll(1, json!({"k": 0}), json!({"k": [[0, 10], [2, 12]]}));
    s.poll(2, json!({"k": 1}), json!({"k": [[1, 11]]}));
    let r = kafka::check(&s.history);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(counts(&r), only("poll-skip", 1));
    assert_eq!(r.details["poll-skip"][0]["skipped"], json!([1]));
    assert_eq!(
        r.problems,
        [format!(
            "poll skip: a poll of key \"k\" by process 1 (op {skip}) went from offset 0 to 2, \
             skipping offset 1, which holds messages"
        )]
    );

    // Starting past the requested offset skips too.
    let mut s = Script::default();
    s.send(0, "k", 10, 0);
    s.send(0, "k", 11, 1);
    s.poll(1, json!({"k": 0}), json!({"k": [[1, 11]]}));
    s.poll(2, json!({"k": 0}), json!({"k": [[0, 10], [1, 11]]}));
    let r = kafka::check(&s.history);
    assert_eq!(counts(&r), only("poll-skip", 1));
    assert_eq!(r.details["poll-skip"][0]["requested"], json!(0));
    assert_eq!(r.details["poll-skip"][0]["to"], json!(1));
    assert!(
        r.problems[0].contains("asked for offsets from 0 but began at 1, skipping offset 0"),
        "{:?}",
        r.problems
    );

    // Gaps where nothing is known to exist are no skip.
    let mut s = Script::default();
    s.send(0, "k", 10, 0);
    s.send(0, "k", 12, 5);
    s.poll(1, json!({"k": 0}), json!({"k": [[0, 10], [5, 12]]}));
    assert_eq!(kafka::check(&s.history).valid, Validity::Valid);
}

#[test]
fn committed_offsets_listed_lower_by_the_same_process_regress() {
    let mut s = Script::default();
    let first = s.list(1, json!(["k"]), json!({"k": 5}));
    let second = s.list(1, json!(["k"]), json!({"k": 3}));
    // Another process seeing less is not this rule's business.
    s.list(2, json!(["k"]), json!({"k": 2}));
    let r = kafka::check(&s.history);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(counts(&r), only("committed-offsets-regress", 1));
    assert_eq!(
        r.details["committed-offsets-regress"][0]["kind"],
        json!("process-listed-lower")
    );
    assert_eq!(
        r.problems,
        [format!(
            "committed offsets regressed: process 1 listed key \"k\" at 3 (op {second}) after \
             listing it at 5 (op {first})"
        )]
    );
}

#[test]
fn an_acknowledged_commit_must_be_listed() {
    let mut s = Script::default();
    let commit = s.commit(1, json!({"k": 5}));
    let list = s.list(2, json!(["k"]), json!({"k": 3}));
    let r = kafka::check(&s.history);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(counts(&r), only("committed-offsets-regress", 1));
    assert_eq!(
        r.details["committed-offsets-regress"][0],
        json!({
            "kind": "listed-below-acknowledged-commit",
            "key": "k",
            "committed": 5,
            "listed": 3,
            "ops": [
                {"f": "commit_offsets", "process": 1, "index": commit},
                {"f": "list_committed_offsets", "process": 2, "index": list},
            ],
        })
    );

    // A commit still in flight when the list began may not be visible yet.
    let mut s = Script::default();
    s.push(1, OpType::Invoke, "commit_offsets", json!({"k": 5}));
    s.push(2, OpType::Invoke, "list_committed_offsets", json!(["k"]));
    s.push(1, OpType::Ok, "commit_offsets", json!({"k": 5}));
    s.push(2, OpType::Ok, "list_committed_offsets", json!({"k": 3}));
    let r = kafka::check(&s.history);
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
}
