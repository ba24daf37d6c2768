//! Tests of `check` as a whole: semantics of the history, verdicts,
//! witnesses, bounds and output.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use lightcone_history::{History, OpType};
use serde_json::{json, Value};

use super::*;
use lightcone_history::build::{invoke, nemesis, ok, op};

fn info(p: u64, f: &str, v: Value, t: u64) -> lightcone_history::Op {
    op(p, OpType::Info, f, v, t)
}

fn fail(p: u64, f: &str, v: Value, t: u64) -> lightcone_history::Op {
    op(p, OpType::Fail, f, v, t)
}

fn run(name: &str, ops: Vec<lightcone_history::Op>) -> LinearResult {
    let h: History = ops.into_iter().collect();
    let model = model_by_name(name, None).unwrap();
    check(&h, model.as_ref(), &LinearOptions::default())
}

/// A model that hides that it is a register, so no pre-pass decides and
/// the search (and its witness) is what is tested.
struct SearchOnly(Box<dyn Model>);

impl Model for SearchOnly {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn init(&self) -> Value {
        self.0.init()
    }
    fn step(&self, state: &Value, op: &ModelOp) -> Option<Value> {
        self.0.step(state, op)
    }
    fn is_read_only(&self, op: &ModelOp) -> bool {
        self.0.is_read_only(op)
    }
    fn describe_op(&self, op: &ModelOp) -> String {
        self.0.describe_op(op)
    }
    fn describe_state(&self, state: &Value) -> String {
        self.0.describe_state(state)
    }
}

fn search_only(name: &str) -> SearchOnly {
    SearchOnly(model_by_name(name, None).unwrap())
}

fn run_search(name: &str, ops: Vec<lightcone_history::Op>) -> LinearResult {
    let h: History = ops.into_iter().collect();
    check(&h, &search_only(name), &LinearOptions::default())
}

fn read(p: u64, v: Value, t0: u64, t1: u64) -> [lightcone_history::Op; 2] {
    [invoke(p, "read", Value::Null, t0), ok(p, "read", v, t1)]
}

fn write(p: u64, v: Value, t0: u64, t1: u64) -> [lightcone_history::Op; 2] {
    [invoke(p, "write", v.clone(), t0), ok(p, "write", v, t1)]
}

fn cas(p: u64, old: i64, new: i64, t0: u64, t1: u64) -> [lightcone_history::Op; 2] {
    [
        invoke(p, "cas", json!([old, new]), t0),
        ok(p, "cas", json!([old, new]), t1),
    ]
}

fn cat<const N: usize>(parts: [[lightcone_history::Op; 2]; N]) -> Vec<lightcone_history::Op> {
    let mut ops: Vec<_> = parts.into_iter().flatten().collect();
    ops.sort_by_key(|op| op.time);
    ops
}

#[test]
fn sequential_register_histories() {
    let good = run(
        "cas-register",
        cat([
            write(0, json!(1), 10, 20),
            read(1, json!(1), 30, 40),
            cas(0, 1, 2, 50, 60),
            read(1, json!(2), 70, 80),
        ]),
    );
    assert_eq!(good.valid, Validity::Valid, "{:?}", good.reason);
    assert_eq!(good.partitions[0].method, Method::Search);
    assert_eq!(
        good.partitions[0].linearization.as_deref(),
        Some(&[0, 2, 4, 6][..])
    );

    let ops = cat([
        write(0, json!(1), 10, 20),
        cas(0, 1, 2, 30, 40),
        read(1, json!(1), 50, 60),
    ]);
    let stale = run("cas-register", ops.clone());
    assert_eq!(stale.valid, Validity::Invalid);
    assert_eq!(stale.partitions[0].method, Method::StaleRead);
    let w = stale.witness().unwrap();
    assert_eq!(w.op.invoke_index, 4);
    assert!(w.cause.contains("op 2 wrote [1,2]"), "{}", w.cause);
    let stale = run_search("cas-register", ops);
    assert_eq!(stale.valid, Validity::Invalid);
    assert_eq!(stale.partitions[0].method, Method::Search);
    let w = stale.witness().unwrap();
    assert_eq!(w.op.invoke_index, 4);
    assert_eq!(w.states, vec![json!(2)]);
    assert_eq!(w.prefix.len(), 2);
    assert_eq!(w.prefix[1].state, json!(2));
}

#[test]
fn concurrent_ops_may_take_effect_in_either_order() {
    // The read overlaps both writes: it may see either value.
    for seen in [1, 2] {
        let r = run(
            "register",
            cat([
                write(0, json!(1), 10, 50),
                write(1, json!(2), 20, 60),
                read(2, json!(seen), 30, 70),
            ]),
        );
        assert_eq!(r.valid, Validity::Valid, "read {seen}");
    }
    // ... but not a value overwritten before it began.
    let r = run(
        "register",
        cat([
            write(0, json!(1), 10, 20),
            write(1, json!(2), 30, 40),
            read(2, json!(1), 50, 60),
            read(2, json!(2), 70, 80),
        ]),
    );
    assert_eq!(r.valid, Validity::Invalid);
}

#[test]
fn intervals_are_closed() {
    // The write completes at 20 and the read is invoked at 20: they
    // overlap, so the read may still see the old value.
    let r = run(
        "cas-register",
        cat([
            write(0, json!(1), 10, 20),
            read(1, Value::Null, 20, 30),
            read(1, json!(1), 40, 50),
        ]),
    );
    assert_eq!(r.valid, Validity::Valid);
    let r = run(
        "cas-register",
        cat([write(0, json!(1), 10, 20), read(1, Value::Null, 21, 30)]),
    );
    assert_eq!(r.valid, Validity::Invalid, "a definite nil after the write");
}

#[test]
fn indeterminate_ops_may_happen_late_or_never() {
    // An info write may take effect long after its invocation...
    let mut ops = vec![
        invoke(0, "write", json!(1), 10),
        info(0, "write", json!(1), 20),
    ];
    ops.extend(read(1, Value::Null, 30, 40));
    ops.extend(read(1, json!(1), 50, 60));
    assert_eq!(run("cas-register", ops.clone()).valid, Validity::Valid);
    // ... or never...
    ops.truncate(4);
    assert_eq!(run("cas-register", ops.clone()).valid, Validity::Valid);
    // ... but not before it was invoked.
    let mut early = read(1, json!(1), 1, 5).to_vec();
    early.extend([
        invoke(0, "write", json!(1), 10),
        info(0, "write", json!(1), 20),
    ]);
    assert_eq!(run("cas-register", early).valid, Validity::Invalid);
    // An op with no completion at all is indeterminate too, and a cas
    // takes effect at most once.
    let mut once = vec![invoke(0, "write", json!(0), 1), ok(0, "write", json!(0), 2)];
    once.push(invoke(2, "cas", json!([0, 1]), 3));
    once.extend(read(1, json!(1), 10, 11));
    once.extend(write(1, json!(0), 12, 13));
    once.extend(read(1, json!(1), 14, 15));
    assert_eq!(run("cas-register", once.clone()).valid, Validity::Invalid);
    once.truncate(once.len() - 2);
    assert_eq!(run("cas-register", once).valid, Validity::Valid);
}

#[test]
fn failed_ops_did_not_happen_and_the_nemesis_is_ignored() {
    let ops = vec![
        nemesis("start-partition", 1),
        invoke(0, "write", json!(1), 10),
        fail(0, "write", json!(1), 20),
        invoke(1, "read", Value::Null, 30),
        ok(1, "read", json!(1), 40),
        nemesis("stop-partition", 50),
    ];
    let r = run("register", ops);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.partitions[0].method, Method::ValueScreen);
    assert!(r.witness().unwrap().cause.contains("no op ever writes 1"));
}

#[test]
fn the_value_screen_and_zone_test_decide_registers_without_search() {
    let r = run(
        "register",
        cat([write(0, json!(1), 10, 20), read(1, json!(7), 30, 40)]),
    );
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.partitions[0].method, Method::ValueScreen);

    let r = run(
        "register",
        cat([
            write(0, json!(1), 10, 20),
            write(0, json!(2), 30, 40),
            read(1, json!(2), 50, 60),
        ]),
    );
    assert_eq!(r.valid, Validity::Valid);
    assert_eq!(r.partitions[0].method, Method::RegisterZones);

    let r = run(
        "register",
        cat([
            write(0, json!(1), 10, 20),
            write(0, json!(2), 30, 40),
            read(1, json!(1), 50, 60),
        ]),
    );
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.partitions[0].method, Method::StaleRead);

    // Both writes overlap; 2 is read, then 1: not stale by real time
    // alone, but the two values' zones overlap.
    let r = run(
        "register",
        cat([
            write(0, json!(1), 10, 20),
            write(2, json!(2), 10, 20),
            read(1, json!(2), 30, 40),
            read(1, json!(1), 50, 60),
        ]),
    );
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.partitions[0].method, Method::RegisterZones);
    let w = r.witness().unwrap();
    assert_eq!(w.op.invoke_index, 6, "the last read");
    assert!(w.cause.contains("zone test"), "{}", w.cause);
}

/// -0.0 and 0.0 are one value to the register models (`==`), as to
/// Knossos (Clojure's `=` on doubles): the pre-passes agree with the search.
#[test]
fn negative_zero_is_the_value_zero_for_the_pre_passes_and_the_search() {
    let histories = [
        cat([write(0, json!(0.0), 10, 20), read(1, json!(-0.0), 30, 40)]),
        cat([write(0, json!(-0.0), 10, 20), read(1, json!(0.0), 30, 40)]),
        cat([
            write(0, json!([0.0]), 10, 20),
            read(1, json!([-0.0]), 30, 40),
        ]),
        cat([
            write(0, json!({"a": -0.0}), 10, 20),
            write(0, json!(1), 30, 40),
            read(1, json!({"a": 0.0}), 50, 60),
        ]),
    ];
    for (i, ops) in histories.into_iter().enumerate() {
        let by_default = run("register", ops.clone());
        let by_search = run_search("register", ops);
        let expected = if i == 3 {
            Validity::Invalid
        } else {
            Validity::Valid
        };
        assert_eq!(by_search.valid, expected, "history {i}, search");
        assert_eq!(by_default.valid, expected, "history {i}, pre-passes");
    }
}

#[test]
fn independent_keys_are_checked_apart() {
    let kv = |p, f: &str, k: &str, v: Value, t0, t1| {
        let input = if f == "read" {
            json!([k, null])
        } else {
            json!([k, v])
        };
        [invoke(p, f, input, t0), ok(p, f, json!([k, v]), t1)]
    };
    let ops = cat([
        kv(0, "write", "a", json!(1), 10, 20),
        kv(1, "write", "b", json!(1), 11, 21),
        kv(0, "read", "a", json!(1), 30, 40),
        kv(1, "read", "b", json!(2), 31, 41),
        kv(2, "read", "c", Value::Null, 32, 42),
    ]);
    let h: History = ops.into_iter().collect();
    let model = model_by_name("independent-register", None).unwrap();
    for parallel in [false, true] {
        let options = LinearOptions {
            parallel,
            all_witnesses: true,
            ..LinearOptions::default()
        };
        let r = check(&h, model.as_ref(), &options);
        assert_eq!(r.valid, Validity::Invalid);
        let keys: Vec<_> = r.partitions.iter().map(|p| p.key.clone()).collect();
        assert_eq!(
            keys,
            vec![Some(json!("a")), Some(json!("b")), Some(json!("c"))]
        );
        let invalid: Vec<_> = r.invalid_partitions().map(|p| p.key.clone()).collect();
        assert_eq!(invalid, vec![Some(json!("b"))]);
        let json = r.to_json();
        assert_eq!(json["partition-count"], json!(3));
        assert_eq!(json["invalid-partitions"], json!(["b"]));
        assert_eq!(json["witness"]["op"]["output"], json!(2));
    }
}

/// Ops on key 0 of an independent register: `[0, v]` in, `[0, out]` back.
fn on_key_0(p: u64, f: &str, v: Value, out: Value, t0: u64, t1: u64) -> [lightcone_history::Op; 2] {
    [
        invoke(p, f, json!([0, v]), t0),
        ok(p, f, json!([0, out]), t1),
    ]
}

/// write 1; cas 1 -> 2; read 1, on key 0.
fn stale_on_key_0() -> History {
    cat([
        on_key_0(0, "write", json!(1), json!(1), 10, 20),
        on_key_0(0, "cas", json!([1, 2]), json!([1, 2]), 30, 40),
        on_key_0(1, "read", Value::Null, json!(1), 50, 60),
    ])
    .into_iter()
    .collect()
}

#[test]
fn independent_stale_reads_name_the_key_apart_from_the_value() {
    let model = model_by_name("independent-cas-register", None).unwrap();
    let r = check(&stale_on_key_0(), model.as_ref(), &LinearOptions::default());
    assert_eq!(r.partitions[0].method, Method::StaleRead);
    let w = r.witness().unwrap();
    assert_eq!(w.op.text, "read 1 from key 0");
    assert_eq!(
        w.cause,
        "op 2 wrote 2 to key 0 (cas 1 -> 2) after every op that could set 1 had completed \
         (the last, op 0), and before this read began"
    );
    let concurrent: Vec<&str> = w.concurrent.iter().map(|o| o.text.as_str()).collect();
    assert_eq!(concurrent, ["cas 1 -> 2 on key 0", "write 1 to key 0"]);
    assert!(r.problems()[0].starts_with(
        "key 0 is not linearizable: op 4 (process 1) read 1 from key 0 cannot be linearized: \
         op 2 wrote 2 to key 0 (cas 1 -> 2) after"
    ));
    let timeline = w.timeline(model.as_ref());
    assert!(
        timeline.starts_with("cannot linearize op 4 (process 1) read 1 from key 0, "),
        "{timeline}"
    );

    // A write, with the stale read's other sentence.
    let h: History = cat([
        on_key_0(0, "write", json!(1), json!(1), 10, 20),
        on_key_0(0, "write", json!(2), json!(2), 30, 40),
        on_key_0(1, "read", Value::Null, json!(3), 50, 60),
        on_key_0(2, "write", json!(3), json!(3), 70, 80),
    ])
    .into_iter()
    .collect();
    let model = model_by_name("independent-register", None).unwrap();
    let r = check(&h, model.as_ref(), &LinearOptions::default());
    let cause = &r.witness().unwrap().cause;
    assert!(
        cause.starts_with("op 2 wrote 2 to key 0 before this read began"),
        "{cause}"
    );
}

#[test]
fn independent_search_witnesses_name_the_key_of_every_op() {
    let model = model_by_name("independent-cas-register", None).unwrap();
    let search = LinearOptions {
        search_only: true,
        ..LinearOptions::default()
    };
    let unsplit = LinearOptions {
        split: false,
        ..search.clone()
    };
    for options in [search, unsplit] {
        let r = check(&stale_on_key_0(), model.as_ref(), &options);
        let w = r.witness().unwrap();
        assert_eq!(w.op.text, "read 1 from key 0");
        let prefix: Vec<&str> = w.prefix.iter().map(|l| l.op.text.as_str()).collect();
        assert_eq!(prefix, ["write 1 to key 0", "cas 1 -> 2 on key 0"]);
    }
}

#[test]
fn the_first_invalid_partition_cancels_the_rest_when_sequential() {
    let kv = |p, f: &str, k: i64, v: i64, t0, t1| {
        let input = if f == "read" {
            json!([k, null])
        } else {
            json!([k, v])
        };
        [invoke(p, f, input, t0), ok(p, f, json!([k, v]), t1)]
    };
    let h: History = cat([kv(0, "read", 1, 5, 10, 20), kv(0, "read", 2, 5, 30, 40)])
        .into_iter()
        .collect();
    let model = model_by_name("independent-register", None).unwrap();
    let options = LinearOptions {
        parallel: false,
        ..LinearOptions::default()
    };
    let r = check(&h, model.as_ref(), &options);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.partitions[0].valid, Validity::Invalid);
    assert_eq!(r.partitions[1].method, Method::NotChecked);
    assert_eq!(r.partitions[1].valid, Validity::Unknown);
    assert!(r.reason.is_none(), "not-checked partitions are no reason");
}

#[test]
fn a_quick_invalid_partition_is_found_behind_a_hard_one() {
    // Key "a" is a hard history the search could spend a long time on;
    // key "b" is plainly not linearizable. The partitions take turns, so
    // "b" is decided (and cancels "a") within the first round, in either
    // mode.
    let mut ops: Vec<lightcone_history::Op> = pathological(40)
        .ops
        .into_iter()
        .map(|mut op| {
            op.value = json!(["a", op.value]);
            op
        })
        .collect();
    let base = 10_000;
    ops.push(invoke(base, "write", json!(["b", 1]), 5_000));
    ops.push(ok(base, "write", json!(["b", 1]), 5_001));
    ops.push(invoke(base + 1, "read", json!(["b", null]), 5_002));
    ops.push(ok(base + 1, "read", json!(["b", 2]), 5_003));
    let h: History = ops.into_iter().collect();
    let model = model_by_name("independent-cas-register", None).unwrap();
    for parallel in [false, true] {
        let options = LinearOptions {
            parallel,
            ..LinearOptions::default()
        };
        let r = check(&h, model.as_ref(), &options);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.partitions[0].method, Method::NotChecked);
        assert!(r.partitions[0].steps <= 2 * FIRST_SLICE);
        assert_eq!(r.partitions[1].valid, Validity::Invalid);
        assert!(r.reason.is_none(), "{:?}", r.reason);
    }
}

#[test]
fn unsplit_checks_agree_with_split_ones() {
    let kv = |p, f: &str, k: &str, v: Value, out: Value, t0, t1| {
        [
            invoke(p, f, json!([k, v]), t0),
            ok(p, f, json!([k, out]), t1),
        ]
    };
    let history = |seen: &str| -> History {
        cat([
            kv(0, "put", "x", json!("a"), json!("a"), 0, 10),
            kv(1, "append", "y", json!("b"), json!("b"), 5, 30),
            kv(2, "append", "x", json!("c"), json!("c"), 12, 20),
            kv(3, "get", "x", Value::Null, json!(seen), 22, 40),
            kv(4, "get", "y", Value::Null, json!("b"), 35, 50),
        ])
        .into_iter()
        .collect()
    };
    let model = model_by_name("kv", None).unwrap();
    let unsplit = LinearOptions {
        split: false,
        ..LinearOptions::default()
    };
    for (seen, want) in [("ac", Validity::Valid), ("a", Validity::Invalid)] {
        let h = history(seen);
        let split = check(&h, model.as_ref(), &LinearOptions::default());
        let whole = check(&h, model.as_ref(), &unsplit);
        assert_eq!(split.valid, want, "{seen}");
        assert_eq!(whole.valid, want, "{seen}");
        assert_eq!(split.partitions.len(), 2);
        assert_eq!(whole.partitions.len(), 1);
        assert_eq!(whole.partitions[0].key, None);
        assert_eq!(whole.model, "kv");
    }
    let w = check(&history("a"), model.as_ref(), &unsplit);
    let witness = w.witness().unwrap();
    assert!(witness.op.text.contains("\"x\""), "{}", witness.op.text);
}

/// `n` ok writes that all overlap (values repeat, so no fast path), `n`
/// indeterminate writes invoked at the same time, then reads that see two
/// values alternately more often than the crashed writes could explain.
fn pathological(n: u64) -> History {
    let mut ops = Vec::new();
    for i in 0..n {
        ops.push(invoke(i, "write", json!(i % 3), i));
        ops.push(invoke(n + i, "write", json!(10 + i), n + i));
    }
    for i in 0..n {
        ops.push(ok(i, "write", json!(i % 3), 1_000 + i));
    }
    for k in 0..8u64 {
        let t = 2_000 + 10 * k;
        ops.extend(read(3 * n, json!(if k % 2 == 0 { 0 } else { 1 }), t, t + 5));
    }
    ops.into_iter().collect()
}

#[test]
fn a_pathological_history_is_unknown_within_the_budget() {
    let model = model_by_name("cas-register", None).unwrap();
    let options = LinearOptions {
        configs_max: 20_000,
        ..LinearOptions::default()
    };
    let r = check(&pathological(40), model.as_ref(), &options);
    assert_eq!(r.valid, Validity::Unknown);
    let reason = r.reason.as_deref().unwrap();
    assert!(reason.contains("configs_max (20000)"), "{reason}");
    assert!(r.configs <= 20_000 + 4096, "{}", r.configs);
    let result = r.to_check_result();
    assert_eq!(result.valid, Validity::Unknown);
    assert!(result.problems[0].contains("unknown"));
}

#[test]
fn a_stop_flag_set_from_outside_gives_unknown() {
    let model = model_by_name("cas-register", None).unwrap();
    let options = LinearOptions {
        stop: Some(Arc::new(AtomicBool::new(true))),
        ..LinearOptions::default()
    };
    let r = check(&pathological(40), model.as_ref(), &options);
    assert_eq!(r.valid, Validity::Unknown);
    assert!(r.reason.unwrap().contains("stopped"));
}

#[test]
fn malformed_histories_are_unknown_not_invalid() {
    let r = run("cas-register", vec![invoke(0, "frob", json!(1), 1)]);
    assert_eq!(r.valid, Validity::Unknown);
    assert!(r.reason.unwrap().contains("malformed history: op 0"));
    let model = model_by_name("register", None).unwrap();
    let options = LinearOptions {
        configs_max: 0,
        ..LinearOptions::default()
    };
    let r = check(&History::default(), model.as_ref(), &options);
    assert_eq!(r.valid, Validity::Unknown);
}

#[test]
fn empty_and_indeterminate_only_histories_are_valid() {
    assert_eq!(run("register", vec![]).valid, Validity::Valid);
    let r = run("register", vec![invoke(0, "write", json!(1), 1)]);
    assert_eq!(r.valid, Validity::Valid);
    assert_eq!(r.partitions[0].method, Method::Trivial);
}

#[test]
fn other_models_through_check() {
    let pair = |p, f: &str, input: Value, output: Value, t0, t1| {
        [invoke(p, f, input, t0), ok(p, f, output, t1)]
    };
    // A set read must contain every add completed before it began.
    let set = |seen: Value| {
        cat([
            pair(0, "add", json!(1), json!(1), 10, 20),
            pair(1, "add", json!(2), json!(2), 15, 40),
            pair(2, "read", Value::Null, seen, 30, 35),
        ])
    };
    assert_eq!(run("set", set(json!([1]))).valid, Validity::Valid);
    assert_eq!(run("set", set(json!([2, 1]))).valid, Validity::Valid);
    assert_eq!(run("set", set(json!([2]))).valid, Validity::Invalid);
    // The compact form broadcast and g-set histories record reads the same.
    let compact = |read: Value| set(lightcone_history::IntMultiset::compact(read));
    assert_eq!(run("set", compact(json!([2, 1]))).valid, Validity::Valid);
    assert_eq!(run("set", compact(json!([2]))).valid, Validity::Invalid);

    // FIFO: two sequential enqueues must dequeue in order.
    let fifo = |first: i64| {
        cat([
            pair(0, "enqueue", json!(1), json!(1), 10, 20),
            pair(0, "enqueue", json!(2), json!(2), 30, 40),
            pair(1, "dequeue", Value::Null, json!(first), 50, 60),
        ])
    };
    assert_eq!(run("fifo-queue", fifo(1)).valid, Validity::Valid);
    assert_eq!(run("fifo-queue", fifo(2)).valid, Validity::Invalid);
    assert_eq!(run("unordered-queue", fifo(2)).valid, Validity::Valid);

    // An indeterminate dequeue of an unordered queue may have taken
    // either element, so the queue may be empty afterwards.
    let mut ops = cat([
        pair(0, "enqueue", json!(1), json!(1), 10, 20),
        pair(0, "enqueue", json!(2), json!(2), 30, 40),
        pair(1, "dequeue", Value::Null, json!(1), 50, 60),
        pair(1, "dequeue", Value::Null, Value::Null, 90, 95),
    ]);
    assert_eq!(run("unordered-queue", ops.clone()).valid, Validity::Invalid);
    ops.push(invoke(2, "dequeue", Value::Null, 70));
    ops.push(info(2, "dequeue", Value::Null, 80));
    ops.sort_by_key(|op| op.time);
    assert_eq!(run("unordered-queue", ops).valid, Validity::Valid);

    // A mutex cannot be acquired twice without a release.
    let lock = |release: bool| {
        let mut ops = pair(0, "acquire", Value::Null, Value::Null, 10, 20).to_vec();
        if release {
            ops.extend(pair(0, "release", Value::Null, Value::Null, 30, 40));
        }
        ops.extend(pair(1, "acquire", Value::Null, Value::Null, 50, 60));
        ops
    };
    assert_eq!(run("mutex", lock(true)).valid, Validity::Valid);
    assert_eq!(run("mutex", lock(false)).valid, Validity::Invalid);

    // Porcupine's kv: appends accumulate per key.
    let kv = |p, f: &str, k: &str, input: &str, output: &str, t0, t1| {
        [
            invoke(p, f, json!([k, input]), t0),
            ok(p, f, json!([k, output]), t1),
        ]
    };
    let ops = cat([
        kv(0, "put", "x", "a", "a", 10, 20),
        kv(1, "append", "x", "b", "b", 30, 40),
        kv(2, "get", "x", "", "ab", 50, 60),
        kv(2, "get", "y", "", "", 70, 80),
    ]);
    assert_eq!(run("kv", ops.clone()).valid, Validity::Valid);
    let mut bad = ops;
    bad[5] = ok(2, "get", json!(["x", "ba"]), 60);
    assert_eq!(run("kv", bad).valid, Validity::Invalid);
}

#[test]
fn witnesses_name_every_state_reached_at_the_deepest_point() {
    // Two concurrent writes after a third: the read of 1 finds the register
    // holding 2 or 3.
    let r = run_search(
        "cas-register",
        cat([
            write(0, json!(1), 10, 20),
            write(1, json!(2), 30, 40),
            write(2, json!(3), 35, 45),
            read(0, json!(1), 50, 60),
        ]),
    );
    assert_eq!(r.valid, Validity::Invalid);
    let w = r.witness().unwrap();
    assert_eq!(w.op.invoke_index, 6);
    let mut states = w.states.clone();
    states.sort_by_key(|s| s.to_string());
    assert_eq!(states, vec![json!(2), json!(3)]);
    assert!(w.concurrent.is_empty(), "both writes are in the prefix");
}

#[test]
fn witnesses_read_well_and_convert_to_check_results() {
    let r = run_search(
        "cas-register",
        cat([
            write(0, json!(1), 10, 20),
            write(1, json!(2), 30, 40),
            write(2, json!(3), 35, 45),
            write(0, json!(1), 46, 47),
            write(0, json!(1), 48, 49),
            read(0, json!(2), 50, 60),
        ]),
    );
    assert_eq!(r.valid, Validity::Invalid);
    let model = search_only("cas-register");
    let w = r.witness().unwrap();
    assert_eq!(w.op.invoke_index, 10);
    assert_eq!(w.states, vec![json!(1)]);
    assert_eq!(w.prefix.len(), 5);
    let text = w.timeline(&model);
    assert!(
        text.contains("cannot linearize op 10 (process 0) read 2"),
        "{text}"
    );
    assert!(text.contains("states reachable at that point: "), "{text}");
    assert!(text.contains("0.000000s"), "{text}");

    let result = r.to_check_result();
    assert_eq!(result.valid, Validity::Invalid);
    assert_eq!(result.valid, Validity::Invalid);
    assert_eq!(result.details.partition_count, 1);
    assert_eq!(result.details.invalid_partitions, [Value::Null]);
    assert_eq!(
        result.details.witness.as_ref().unwrap()["op"]["index"],
        json!(10)
    );
    assert!(result.problems[0].starts_with("the history is not linearizable: op 10"));
}

/// `n` crashed writes of distinct values, all invoked at the start; then
/// sequential reads of each value in turn (each needs its crashed write),
/// and finally a read of the first value again, which nothing can explain.
fn crashed_writes_read_in_turn(n: u64) -> History {
    let mut ops = Vec::new();
    for i in 0..n {
        ops.push(invoke(100 + i, "write", json!(i), i));
        ops.push(info(100 + i, "write", json!(i), n + i));
    }
    for i in 0..=n {
        let t = 10 * n + 10 * i;
        ops.extend(read(0, json!(i % n), t, t + 5));
    }
    ops.into_iter().collect()
}

#[test]
fn crashed_ops_are_linearized_only_where_observed() {
    // For a register, a crashed write is tried only where a read needs its
    // value: each read has one candidate, and both searches stay linear.
    // (A model that does not say it is a register gets no such rule: 24
    // crashed writes then take the depth-first search past 10 million
    // configurations.)
    let h = crashed_writes_read_in_turn(24);
    let mut options = LinearOptions {
        search_only: true,
        ..LinearOptions::default()
    };
    for depth_first in [None, Some(0)] {
        options.depth_first_configs_max = depth_first;
        let model = model_by_name("register", None).unwrap();
        let r = check(&h, model.as_ref(), &options);
        assert_eq!(r.valid, Validity::Invalid, "{depth_first:?}");
        assert!(r.configs < 200, "{depth_first:?}: {} configs", r.configs);
        let w = r.witness().unwrap();
        assert_eq!(w.op.output, Some(json!(0)), "the last read");
        assert_eq!(w.op.invoke_index, 2 * 24 + 2 * 24);
    }
    let small = crashed_writes_read_in_turn(6);
    for depth_first in [None, Some(0)] {
        options.depth_first_configs_max = depth_first;
        let r = check(&small, &search_only("register"), &options);
        assert_eq!(r.valid, Validity::Invalid, "{depth_first:?}");
    }
    // Without the final read it is linearizable.
    let mut fine = crashed_writes_read_in_turn(24);
    fine.ops.truncate(fine.ops.len() - 2);
    options.depth_first_configs_max = None;
    let r = check(
        &fine,
        model_by_name("register", None).unwrap().as_ref(),
        &options,
    );
    assert_eq!(r.valid, Validity::Valid);
    assert!(r.configs < 200, "{} configs", r.configs);
}
