//! How histories are read: unknown verdicts with their reasons (repeated
//! values, other functions, bounds), the nemesis ignored, and what `info`
//! and `fail` completions mean.

use lightcone_check::Validity;
use lightcone_history::{History, Op, OpType, Process};
use lightcone_weak::{check, check_all, WeakOptions, MODEL_NAMES};
use serde_json::{json, Value};

/// (process, f, completion type, invocation value, completion value);
/// each op invoked and completed at once, in order.
type Step = (u64, &'static str, OpType, Value, Value);

fn history(steps: &[Step]) -> History {
    let mut h = History::default();
    for (p, f, kind, inv, comp) in steps {
        h.push(Op::new(
            Process::Client(*p),
            OpType::Invoke,
            *f,
            inv.clone(),
        ));
        h.push(Op::new(Process::Client(*p), *kind, *f, comp.clone()));
    }
    h
}

fn ok(p: u64, f: &'static str, inv: Value, comp: Value) -> Step {
    (p, f, OpType::Ok, inv, comp)
}

fn verdicts(h: &History) -> Vec<(&'static str, Validity)> {
    check_all(h, &WeakOptions::default())
        .into_iter()
        .map(|r| (r.model, r.valid))
        .collect()
}

fn all(h: &History, valid: Validity) {
    for r in check_all(h, &WeakOptions::default()) {
        assert_eq!(
            r.valid, valid,
            "{}: {:?} {:?}",
            r.model, r.reason, r.witness
        );
    }
}

fn one(h: &History, model: &str) -> lightcone_weak::WeakResult {
    check(h, model, &WeakOptions::default()).unwrap()
}

#[test]
fn a_value_written_twice_is_unknown_naming_key_and_value() {
    let h = history(&[
        ok(0, "write", json!(["k1", 5]), json!(["k1", 5])),
        ok(1, "write", json!(["k1", 5]), json!(["k1", 5])),
        ok(2, "read", json!(["k1", null]), json!(["k1", 5])),
    ]);
    for r in check_all(&h, &WeakOptions::keyed()) {
        assert_eq!(r.valid, Validity::Unknown, "{}", r.model);
        let reason = r.reason.unwrap();
        assert!(
            reason.contains("value 5 is written twice of key \"k1\" (ops 0 and 2)"),
            "{reason}"
        );
    }
}

#[test]
fn a_write_of_the_initial_value_is_unknown() {
    let h = history(&[ok(0, "write", json!(null), json!(null))]);
    let r = one(&h, "causal");
    assert_eq!(r.valid, Validity::Unknown);
    assert!(r.reason.unwrap().contains("writes the initial value null"));
}

#[test]
fn a_thin_air_read_is_invalid_even_when_values_repeat() {
    let h = history(&[
        ok(0, "write", json!(1), json!(1)),
        ok(1, "write", json!(1), json!(1)),
        ok(2, "read", json!(null), json!(7)),
    ]);
    for r in check_all(&h, &WeakOptions::default()) {
        assert_eq!(r.valid, Validity::Invalid, "{}", r.model);
        let w = r.witness.unwrap();
        assert_eq!((w.name, w.ops.as_slice()), ("ThinAirRead", &[4][..]));
    }
}

#[test]
fn another_function_is_unknown_naming_the_op_never_invalid() {
    let h = history(&[
        ok(0, "read", json!(null), json!(9)),
        ok(1, "append", json!(3), json!(3)),
    ]);
    for r in check_all(&h, &WeakOptions::default()) {
        assert_eq!(r.valid, Validity::Unknown, "{}", r.model);
        let reason = r.reason.unwrap();
        assert!(reason.contains("op 2 (process 1) is `append`"), "{reason}");
    }
}

#[test]
fn the_nemesis_is_ignored() {
    let mut h = History::default();
    h.push(Op::new(
        Process::Nemesis,
        OpType::Info,
        "start-partition",
        json!("majority"),
    ));
    h.push(Op::new(
        Process::Client(0),
        OpType::Invoke,
        "write",
        json!(1),
    ));
    h.push(Op::new(
        Process::Nemesis,
        OpType::Info,
        "start-partition",
        json!(null),
    ));
    h.push(Op::new(Process::Client(0), OpType::Ok, "write", json!(1)));
    h.push(Op::new(
        Process::Client(1),
        OpType::Invoke,
        "read",
        json!(null),
    ));
    h.push(Op::new(Process::Client(1), OpType::Ok, "read", json!(1)));
    h.push(Op::new(
        Process::Nemesis,
        OpType::Info,
        "kill",
        json!(["n1"]),
    ));
    all(&h, Validity::Valid);
    assert!(check_all(&h, &WeakOptions::default())
        .iter()
        .all(|r| r.op_count == 2));
}

#[test]
fn a_failed_op_did_not_happen() {
    // Were the failed write kept, process 0 would not read its writes.
    let h = history(&[
        (0, "write", OpType::Fail, json!(1), json!(1)),
        ok(0, "read", json!(null), json!(null)),
        (0, "cas", OpType::Fail, json!([null, 2]), json!([null, 2])),
        ok(0, "read", json!(null), json!(null)),
    ]);
    all(&h, Validity::Valid);
}

#[test]
fn an_indeterminate_write_happened_only_if_read() {
    // Unread: as if it never happened.
    let h = history(&[
        (0, "write", OpType::Info, json!(1), json!(1)),
        ok(1, "read", json!(null), json!(null)),
    ]);
    all(&h, Validity::Valid);
    // Read: it happened, in process 0 after its write of 1, so reading 2
    // and then 1 goes against causality.
    let h = history(&[
        ok(0, "write", json!(1), json!(1)),
        (0, "write", OpType::Info, json!(2), Value::Null),
        ok(1, "read", json!(null), json!(2)),
        ok(1, "read", json!(null), json!(1)),
    ]);
    let r = one(&h, "causal");
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.witness.unwrap().name, "WriteCORead");
    // An invocation with no completion is indeterminate too.
    let mut h = history(&[ok(1, "read", json!(null), json!(3))]);
    h.push(Op::new(
        Process::Client(0),
        OpType::Invoke,
        "write",
        json!(3),
    ));
    all(&h, Validity::Valid);
}

#[test]
fn an_indeterminate_read_tells_nothing() {
    let h = history(&[(0, "read", OpType::Info, json!(null), json!(42))]);
    all(&h, Validity::Valid);
}

#[test]
fn an_ok_cas_reads_then_writes() {
    // The cas reads 1 and writes 2: 2 is causally after 1.
    let h = history(&[
        ok(0, "write", json!(1), json!(1)),
        ok(1, "cas", json!([1, 2]), json!([1, 2])),
        ok(2, "read", json!(null), json!(2)),
        ok(2, "read", json!(null), json!(1)),
    ]);
    let r = one(&h, "causal");
    assert_eq!(r.witness.unwrap().name, "WriteCORead");
    assert_eq!(one(&h, "monotonic-reads").valid, Validity::Valid);
    // A cas of a value nothing writes is a thin-air read.
    let h = history(&[ok(1, "cas", json!([8, 2]), json!([8, 2]))]);
    assert_eq!(one(&h, "pram").witness.unwrap().name, "ThinAirRead");
}

#[test]
fn get_and_put_are_read_and_write() {
    let h = history(&[
        ok(0, "put", json!(["a", 1]), json!(["a", 1])),
        ok(0, "get", json!(["a", null]), json!(["a", null])),
    ]);
    let r = check(&h, "read-your-writes", &WeakOptions::keyed()).unwrap();
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.witness.unwrap().name, "OwnWriteInitRead");
}

#[test]
fn keys_are_independent_registers() {
    // Writes of the same value to two keys are still differentiated.
    let h = history(&[
        ok(0, "write", json!([1, 5]), json!([1, 5])),
        ok(0, "write", json!([2, 5]), json!([2, 5])),
        ok(1, "read", json!([2, null]), json!([2, 5])),
        ok(1, "read", json!([1, null]), json!([1, 5])),
    ]);
    for r in check_all(&h, &WeakOptions::keyed()) {
        assert_eq!(r.valid, Validity::Valid, "{}", r.model);
    }
    // Causality spans keys: after seeing key 2's write, key 1's initial
    // value is stale.
    let h = history(&[
        ok(0, "write", json!([1, 5]), json!([1, 5])),
        ok(0, "write", json!([2, 5]), json!([2, 5])),
        ok(1, "read", json!([2, null]), json!([2, 5])),
        ok(1, "read", json!([1, null]), json!([1, null])),
    ]);
    let r = check(&h, "causal", &WeakOptions::keyed()).unwrap();
    let w = r.witness.unwrap();
    assert_eq!((w.name, w.ops.as_slice()), ("WriteCOInitRead", &[0, 6][..]));
    assert!(
        w.description
            .contains("op 6 (process 1: read null of key 1)"),
        "{}",
        w.description
    );
}

#[test]
fn a_value_that_is_not_a_tuple_is_unknown_when_keyed() {
    let h = history(&[ok(0, "write", json!(1), json!(1))]);
    let r = check(&h, "causal", &WeakOptions::keyed()).unwrap();
    assert_eq!(r.valid, Validity::Unknown);
    assert!(r.reason.unwrap().contains("not a [key, value] tuple"));
}

#[test]
fn an_unknown_model_is_an_error_listing_the_models() {
    let e = check(&History::default(), "eventual", &WeakOptions::default()).unwrap_err();
    for m in MODEL_NAMES {
        assert!(e.contains(m), "{e}");
    }
}

#[test]
fn check_all_answers_every_model_in_order() {
    let h = history(&[ok(0, "write", json!(1), json!(1))]);
    let models: Vec<&str> = verdicts(&h).into_iter().map(|(m, _)| m).collect();
    assert_eq!(models, MODEL_NAMES);
}

#[test]
fn past_the_clock_bound_the_causal_models_are_unknown() {
    let h = history(&[
        ok(0, "write", json!(1), json!(1)),
        ok(1, "read", json!(null), json!(1)),
    ]);
    let options = WeakOptions {
        clock_entries_max: 3,
        ..WeakOptions::default()
    };
    for model in ["causal", "causal-convergence", "causal-memory", "pram"] {
        let r = check(&h, model, &options).unwrap();
        assert_eq!(r.valid, Validity::Unknown, "{model}");
        assert!(r.reason.unwrap().contains("clock_entries_max = 3"));
    }
    assert_eq!(
        check(&h, "monotonic-reads", &options).unwrap().valid,
        Validity::Valid
    );
}

#[test]
fn an_indeterminate_cas_read_only_by_another_indeterminate_cas_happened() {
    // Process 2 reads 3, written by process 1's indeterminate cas 2 -> 3,
    // which read 2, written by process 0's indeterminate cas 1 -> 2: both
    // happened, so nothing is read from thin air.
    let h = history(&[
        ok(3, "write", json!(1), json!(1)),
        (0, "cas", OpType::Info, json!([1, 2]), Value::Null),
        (1, "cas", OpType::Info, json!([2, 3]), Value::Null),
        ok(2, "read", json!(null), json!(3)),
    ]);
    all(&h, Validity::Valid);
}

#[test]
fn options_that_bound_nothing_are_refused() {
    let options = WeakOptions {
        saturation_rounds_max: 0,
        ..WeakOptions::default()
    };
    let e = check(&History::default(), "pram", &options).unwrap_err();
    assert!(e.contains("saturation_rounds_max is 0"), "{e}");
    for r in check_all(&History::default(), &options) {
        assert_eq!(r.valid, Validity::Unknown);
    }
}

#[test]
fn a_violation_that_holds_whatever_the_ambiguous_reads_read_is_invalid() {
    // Key 1's value 5 is written twice, so its read is ambiguous; key 2's
    // reads are not, and go back to the initial value.
    let h = history(&[
        ok(0, "write", json!([1, 5]), json!([1, 5])),
        ok(1, "write", json!([1, 5]), json!([1, 5])),
        ok(2, "read", json!([1, null]), json!([1, 5])),
        ok(0, "write", json!([2, 1]), json!([2, 1])),
        ok(2, "read", json!([2, null]), json!([2, 1])),
        ok(2, "read", json!([2, null]), json!([2, null])),
    ]);
    let results = check_all(&h, &WeakOptions::keyed());
    let get = |m: &str| results.iter().find(|r| r.model == m).unwrap();
    let cc = get("causal");
    assert_eq!(cc.valid, Validity::Invalid);
    assert_eq!(cc.witness.as_ref().unwrap().name, "WriteCOInitRead");
    assert_eq!(get("monotonic-reads").valid, Validity::Invalid);
    // Nothing certain is wrong for read-your-writes: unknown, with why.
    let ryw = get("read-your-writes");
    assert_eq!(ryw.valid, Validity::Unknown);
    assert!(ryw
        .reason
        .as_ref()
        .unwrap()
        .contains("value 5 is written twice of key 1"));
}

#[test]
fn a_cas_from_its_own_new_value_reads_thin_air() {
    let h = history(&[ok(0, "cas", json!([4, 4]), json!([4, 4]))]);
    for r in check_all(&h, &WeakOptions::default()) {
        assert_eq!(
            r.witness.map(|w| w.name),
            Some("ThinAirRead"),
            "{}",
            r.model
        );
    }
}
