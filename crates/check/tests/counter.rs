//! The g-counter and pn-counter checker on hand-built histories: the final
//! reads against the acceptable ranges (Maelstrom's check) and the reads
//! during the test against the bounds of their intervals.

use lightcone_check::{counter, Validity};
use lightcone_history::{History, Op, OpType, Process};
use serde_json::{json, Value};

/// Builds a counter history with times in steps of 10 ns.
#[derive(Default)]
struct Script {
    history: History,
    time: u64,
}

impl Script {
    fn push(&mut self, process: u64, kind: OpType, f: &str, value: Value, is_final: bool) -> u64 {
        self.time += 10;
        let mut op = Op::new(Process::Client(process), kind, f, value).at(self.time);
        op.is_final = is_final;
        self.history.push(op);
        self.history.len() as u64 - 1
    }

    /// An add that completes as `kind` before anything else happens.
    fn add(&mut self, process: u64, delta: i64, kind: OpType) -> &mut Self {
        self.push(process, OpType::Invoke, "add", json!(delta), false);
        self.push(process, kind, "add", json!(delta), false);
        self
    }

    /// A read that runs alone, during the test; returns the completion's
    /// index.
    fn read(&mut self, process: u64, value: i64) -> u64 {
        self.push(process, OpType::Invoke, "read", Value::Null, false);
        self.push(process, OpType::Ok, "read", json!(value), false)
    }

    /// A final read after healing; returns the completion's index.
    fn final_read(&mut self, process: u64, value: i64) -> u64 {
        self.push(process, OpType::Invoke, "read", Value::Null, true);
        self.push(process, OpType::Ok, "read", json!(value), true)
    }
}

/// A typed detail as JSON, to compare with what results.json shows.
fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("details serialize")
}

#[test]
fn an_exact_history_is_valid() {
    let mut s = Script::default();
    s.add(0, 1, OpType::Ok).add(1, 2, OpType::Ok);
    s.read(2, 3);
    s.add(0, 3, OpType::Ok);
    s.read(1, 6);
    s.final_read(0, 6);
    s.final_read(1, 6);
    let r = counter::check(&s.history);
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
    assert!(r.problems.is_empty());
    assert_eq!(r.valid, Validity::Valid);
    assert_eq!(to_json(&r.details.final_reads), json!([6, 6]));
    assert_eq!(to_json(&r.details.final_reads_source), json!("final"));
    assert_eq!(to_json(&r.details.acceptable), json!([[6, 6]]));
    assert_eq!(r.details.ok_add_count, 3);
    assert_eq!(r.details.info_add_count, 0);
    assert_eq!(r.details.error_count, 0);
    assert_eq!(r.details.read_error_count, 0);
    assert!(!r.details.ranges_approximated);
}

#[test]
fn an_indeterminate_add_may_be_counted_or_not() {
    let mut s = Script::default();
    s.add(0, 5, OpType::Ok).add(1, 3, OpType::Info);
    // An add that never completed is indeterminate too.
    s.push(2, OpType::Invoke, "add", json!(100), false);
    s.final_read(3, 5);
    s.final_read(4, 8);
    s.final_read(5, 105);
    s.final_read(6, 108);
    let r = counter::check(&s.history);
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
    assert_eq!(
        to_json(&r.details.acceptable),
        json!([[5, 5], [8, 8], [105, 105], [108, 108]])
    );
    assert_eq!(r.details.info_add_count, 2);

    // But not counted in part: 6 is no sum of a subset.
    s.final_read(7, 6);
    let r = counter::check(&s.history);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.details.error_count, 1);
    assert_eq!(to_json(&r.details.errors[0])["value"], json!(6));
    assert_eq!(to_json(&r.details.errors[0])["process"], json!(7));
}

#[test]
fn a_final_read_outside_the_range_is_invalid() {
    let mut s = Script::default();
    s.add(0, 12, OpType::Ok).add(1, 8, OpType::Ok);
    for p in 10..14 {
        s.add(p, 1, OpType::Info);
    }
    s.final_read(2, 22);
    let bad = s.final_read(3, 17);
    let r = counter::check(&s.history);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(to_json(&r.details.acceptable), json!([[20, 24]]));
    assert_eq!(to_json(&r.details.final_reads), json!([22, 17]));
    assert_eq!(
        to_json(&r.details.errors),
        json!([{"process": 3, "index": bad, "value": 17}])
    );
    assert_eq!(
        r.problems,
        [format!(
            "final read 17 by process 3 (op {bad}) is not an acceptable value; acceptable: [20, 24]"
        )]
    );
}

#[test]
fn failed_adds_count_for_nothing() {
    let mut s = Script::default();
    s.add(0, 4, OpType::Ok).add(1, 10, OpType::Fail);
    s.final_read(2, 14);
    let r = counter::check(&s.history);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(to_json(&r.details.acceptable), json!([[4, 4]]));
    assert_eq!(r.details.fail_add_count, 1);
}

#[test]
fn negative_deltas_of_a_pn_counter() {
    let mut s = Script::default();
    s.add(0, 5, OpType::Ok)
        .add(1, -3, OpType::Ok)
        .add(2, -2, OpType::Info)
        .add(3, -5, OpType::Info);
    s.read(4, 2);
    s.final_read(5, 0);
    s.final_read(6, -5);
    let r = counter::check(&s.history);
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
    assert_eq!(
        to_json(&r.details.acceptable),
        json!([[-5, -5], [-3, -3], [0, 0], [2, 2]])
    );

    s.final_read(7, -1);
    let r = counter::check(&s.history);
    assert_eq!(r.valid, Validity::Invalid);
    assert!(
        r.problems[0].starts_with("final read -1 by process 7"),
        "{:?}",
        r.problems
    );
    assert!(r.problems[0].ends_with("acceptable: [-5, -5], [-3, -3], [0, 0], [2, 2]"));
}

#[test]
fn twenty_indeterminate_unit_adds_merge_into_one_range() {
    let mut s = Script::default();
    s.add(0, 7, OpType::Ok);
    for p in 1..=20 {
        s.add(p, 1, OpType::Info);
    }
    s.final_read(30, 20);
    let r = counter::check(&s.history);
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
    assert_eq!(to_json(&r.details.acceptable), json!([[7, 27]]));
    assert_eq!(r.details.info_add_count, 20);
    assert!(!r.details.ranges_approximated);
}

#[test]
fn many_distinct_deltas_stay_bounded() {
    // Powers of two from 2^20: every subset sum is distinct and none touch,
    // so without the bound the set would double at each of 20 folds.
    let mut s = Script::default();
    for p in 0..20 {
        s.add(p, 1 << (20 + p), OpType::Info);
    }
    s.final_read(30, 3 << 20);
    let r = counter::check(&s.history);
    let ranges = r.details.acceptable.len();
    assert!(ranges <= counter::RANGES_MAX, "{ranges} ranges");
    assert!(r.details.ranges_approximated);
    // Merging only adds values: the true sum is still accepted.
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
}

#[test]
fn an_impossible_read_during_the_test_is_reported_but_only_final_reads_judge() {
    let mut s = Script::default();
    s.add(0, 5, OpType::Ok);
    let bad = s.read(1, 0);
    s.final_read(2, 5);
    let r = counter::check(&s.history);
    // Maelstrom's verdict: the final read converged. The stale read is
    // counted and listed, not held against the run.
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
    assert_eq!(r.details.error_count, 0, "the final read is fine");
    assert_eq!(r.details.read_error_count, 1);
    assert_eq!(
        to_json(&r.details.read_errors),
        json!([{"process": 1, "index": bad, "value": 0, "lower": 5, "upper": 5}])
    );
    assert!(r.problems.is_empty(), "{:?}", r.problems);
}

#[test]
fn a_read_concurrent_with_adds_may_see_any_of_them() {
    let mut s = Script::default();
    s.add(0, 2, OpType::Ok);
    // Read from 1 spans an add of 5 (ok) and an add of -1 (indeterminate).
    s.push(1, OpType::Invoke, "read", Value::Null, false);
    s.push(2, OpType::Invoke, "add", json!(5), false);
    s.push(3, OpType::Invoke, "add", json!(-1), false);
    s.push(2, OpType::Ok, "add", json!(5), false);
    s.push(1, OpType::Ok, "read", json!(1), false);
    s.push(3, OpType::Info, "add", json!(-1), false);
    s.final_read(4, 7);
    let r = counter::check(&s.history);
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
    assert_eq!(to_json(&r.details.acceptable), json!([[6, 7]]));

    // 8 is beyond every add invoked before the read ended: 2 + 5.
    let mut s2 = Script::default();
    s2.add(0, 2, OpType::Ok);
    s2.push(1, OpType::Invoke, "read", Value::Null, false);
    s2.push(2, OpType::Invoke, "add", json!(5), false);
    s2.push(1, OpType::Ok, "read", json!(8), false);
    s2.push(2, OpType::Ok, "add", json!(5), false);
    let r = counter::check(&s2.history);
    // No read began after the last acknowledged add: nothing says whether
    // the counter converged.
    assert_eq!(r.valid, Validity::Unknown, "{:?}", r.problems);
    assert!(
        r.problems[0].contains("1 of them impossible"),
        "{:?}",
        r.problems
    );
    assert_eq!(to_json(&r.details.read_errors[0])["lower"], json!(2));
    assert_eq!(to_json(&r.details.read_errors[0])["upper"], json!(7));
}

#[test]
fn without_final_reads_the_last_read_of_each_process_is_checked() {
    let mut s = Script::default();
    s.add(0, 3, OpType::Ok);
    s.read(1, 3);
    s.add(0, 4, OpType::Info);
    s.read(2, 3);
    s.read(1, 7);
    let r = counter::check(&s.history);
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
    assert_eq!(
        to_json(&r.details.final_reads_source),
        json!("last-read-per-process")
    );
    assert_eq!(to_json(&r.details.final_reads), json!([3, 7]));

    s.read(2, 5);
    let r = counter::check(&s.history);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(to_json(&r.details.final_reads), json!([7, 5]));
    assert_eq!(r.details.error_count, 1);
    // Checked once, as a final read, not again as a read during the test.
    assert_eq!(r.details.read_error_count, 0);
}

#[test]
fn an_add_acknowledged_after_a_final_read_began_is_optional() {
    let mut s = Script::default();
    s.add(0, 1, OpType::Ok);
    s.push(1, OpType::Invoke, "add", json!(2), false);
    s.push(2, OpType::Invoke, "read", Value::Null, true);
    s.push(1, OpType::Ok, "add", json!(2), false);
    s.push(2, OpType::Ok, "read", json!(1), true);
    let r = counter::check(&s.history);
    assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
    assert_eq!(to_json(&r.details.acceptable), json!([[1, 1], [3, 3]]));
    assert_eq!(r.details.concurrent_ok_add_count, 1);
}
