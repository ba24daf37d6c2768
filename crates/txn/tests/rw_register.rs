//! rw-register histories whose verdicts Elle's own tests pin down
//! (test/elle/rw_register_test.clj), rewritten in lightcone's terms:
//! histories in a tiny language ("wx1ry_" writes x = 1, then reads y as
//! nil), each run through lightcone's checker, asserting what Elle
//! asserts.

use lightcone_check::Validity;
use lightcone_history::{History, Op, OpType, Process};
use lightcone_txn::{check, TxnModel, TxnOptions};
use serde_json::{json, Value};

/// A completed transaction from the tiny language.
fn op(process: u64, kind: OpType, text: &str) -> Op {
    let mut mops: Vec<Value> = Vec::new();
    let mut chars = text.chars();
    while let Some(f) = chars.next() {
        let k = chars.next().expect("a key");
        let v = chars.next().expect("a value");
        let value = if v == '_' {
            Value::Null
        } else {
            json!(v.to_digit(10).expect("a digit"))
        };
        mops.push(json!([
            if f == 'w' { "w" } else { "r" },
            k.to_string(),
            value
        ]));
    }
    Op::new(Process::Client(process), kind, "txn", Value::Array(mops))
}

fn ok(process: u64, text: &str) -> Op {
    op(process, OpType::Ok, text)
}

/// The invocation of a completion: its reads say nothing yet.
fn invocation(completion: &Op) -> Op {
    let Value::Array(mops) = &completion.value else {
        unreachable!()
    };
    let mops = mops
        .iter()
        .map(|m| {
            if m[0] == "r" {
                json!(["r", m[1], null])
            } else {
                m.clone()
            }
        })
        .collect();
    Op::new(
        completion.process,
        OpType::Invoke,
        "txn",
        Value::Array(mops),
    )
}

fn history(ops: Vec<Op>) -> History {
    let mut h = History::default();
    for (i, mut op) in ops.into_iter().enumerate() {
        op.index = i as u64;
        op.time = i as u64;
        h.push(op);
    }
    h
}

struct Expect {
    valid: Validity,
    types: &'static [&'static str],
    not: &'static [&'static str],
}

fn run(options: TxnOptions, h: &History, expect: Expect) {
    let r = check(h, &options);
    assert_eq!(r.valid, expect.valid, "{:#?}", r.problems);
    assert_eq!(r.details.anomaly_types, expect.types, "{:#?}", r.problems);
    let not: Vec<&str> = r
        .details
        .not
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    assert_eq!(not, expect.not, "{:#?}", r.problems);
}

fn options(models: &[&'static str]) -> TxnOptions {
    let mut o = TxnOptions::new(TxnModel::RwRegister);
    o.consistency_models = models.to_vec();
    o.wfr_keys = false;
    o
}

const VALID: Expect = Expect {
    valid: Validity::Valid,
    types: &[],
    not: &[],
};

#[test]
fn linearizable_keys_turn_a_stale_read_into_cyclic_versions() {
    let (t1, t2, t3) = (ok(0, "wx1"), ok(0, "rx2"), ok(0, "rx1"));
    let mut o = options(&["strict-serializable"]);
    o.linearizable_keys = true;
    // Elle's own test notes this first one as a bug it does not catch yet.
    let h = history(vec![
        invocation(&t1),
        t1.clone(),
        invocation(&t2),
        t2.clone(),
    ]);
    run(o.clone(), &h, VALID);
    let h = history(vec![
        invocation(&t1),
        t1,
        invocation(&t2),
        t2,
        invocation(&t3),
        t3,
    ]);
    let r = check(&h, &o);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.details.anomaly_types, vec!["cyclic-versions"]);
    let cases = serde_json::to_value(&r.details.anomalies["cyclic-versions"]).unwrap();
    assert_eq!(
        cases,
        json!([{"key": "x", "scc": [1, 2], "sources": ["initial-state", "linearizable-keys"]}])
    );
}

#[test]
fn a_write_cycle_needs_sequential_keys_to_be_seen() {
    let (t1, t2) = (op(0, OpType::Ok, "wx1wy2"), op(1, OpType::Ok, "wx2wy1"));
    let mut o = options(&[]);
    o.anomalies = vec!["G0"];
    let h = history(vec![
        invocation(&t1),
        t1.clone(),
        invocation(&t2),
        t2.clone(),
    ]);
    run(
        o.clone(),
        &h,
        Expect {
            valid: Validity::Unknown,
            types: &["empty-transaction-graph"],
            not: &[],
        },
    );
    let (t3, t4) = (op(0, OpType::Ok, "rx2"), op(1, OpType::Ok, "ry2"));
    let h = history(vec![
        invocation(&t1),
        t1,
        invocation(&t2),
        t2,
        invocation(&t3),
        t3,
        invocation(&t4),
        t4,
    ]);
    o.sequential_keys = true;
    run(
        o,
        &h,
        Expect {
            valid: Validity::Invalid,
            types: &["G0"],
            not: &["read-uncommitted"],
        },
    );
}

#[test]
fn aborted_and_intermediate_reads() {
    let h = history(vec![ok(0, "rx1"), op(0, OpType::Fail, "wx1")]);
    let mut o = options(&[]);
    o.anomalies = vec!["G1"];
    run(
        o.clone(),
        &h,
        Expect {
            valid: Validity::Invalid,
            types: &["G1a", "empty-transaction-graph"],
            not: &["read-committed"],
        },
    );
    let h = history(vec![ok(0, "wx1wx2"), ok(0, "rx1")]);
    run(
        o,
        &h,
        Expect {
            valid: Validity::Invalid,
            types: &["G1b", "empty-transaction-graph"],
            not: &["read-committed"],
        },
    );
    run(
        options(&["repeatable-read"]),
        &h,
        Expect {
            valid: Validity::Invalid,
            types: &["G1b", "empty-transaction-graph"],
            not: &["read-committed"],
        },
    );
    let mut g0 = options(&[]);
    g0.anomalies = vec!["G0"];
    run(
        g0,
        &h,
        Expect {
            valid: Validity::Unknown,
            types: &["empty-transaction-graph"],
            not: &["read-committed"],
        },
    );
}

#[test]
fn circular_information_flow_is_g1c() {
    let h = history(vec![ok(0, "wx1ry1"), ok(0, "wy1rx1")]);
    let mut g0 = options(&[]);
    g0.anomalies = vec!["G0"];
    run(g0, &h, VALID);
    run(options(&["read-uncommitted"]), &h, VALID);
    let g1c = Expect {
        valid: Validity::Invalid,
        types: &["G1c"],
        not: &["read-committed"],
    };
    let mut g1 = options(&[]);
    g1.anomalies = vec!["G1"];
    run(g1, &h, Expect { ..g1c });
    run(options(&["read-committed"]), &h, Expect { ..g1c });
    let mut g2 = options(&[]);
    g2.anomalies = vec!["G2"];
    run(g2, &h, VALID);
    run(options(&["serializable"]), &h, g1c);
    let r = check(&h, &options(&["serializable"]));
    let text = lightcone_txn::render_witness(&r.details.anomalies_of("G1c")[0]);
    assert!(
        text.contains("T1 < T2, because T1 wrote \"x\" = 1, which was read by T2.")
            && text.contains("However, T2 < T1, because T2 wrote \"y\" = 1, which was read by T1: a contradiction!"),
        "{text}"
    );
}

#[test]
fn internal_inconsistency() {
    let h = history(vec![ok(0, "rx1rx2")]);
    let mut o = options(&[]);
    o.anomalies = vec!["internal"];
    run(
        o,
        &h,
        Expect {
            valid: Validity::Invalid,
            types: &["empty-transaction-graph", "internal"],
            not: &["read-atomic"],
        },
    );
}

#[test]
fn the_initial_nil_precedes_every_value() {
    let (t1, t2) = (ok(0, "rx_ry1"), ok(0, "wy1wx2"));
    let h = history(vec![invocation(&t1), invocation(&t2), t2, t1]);
    run(
        options(&["serializable"]),
        &h,
        Expect {
            valid: Validity::Invalid,
            types: &["G-single-item"],
            not: &["consistent-view", "repeatable-read"],
        },
    );
}

#[test]
fn writes_follow_reads_orders_a_transactions_read_before_its_write() {
    let h = history(vec![ok(0, "ry1wx1wy2"), ok(0, "rx1ry1")]);
    run(options(&["serializable"]), &h, VALID);
    let mut wfr = options(&["serializable"]);
    wfr.wfr_keys = true;
    run(
        wfr,
        &h,
        Expect {
            valid: Validity::Invalid,
            types: &["G-single-item"],
            not: &["consistent-view", "repeatable-read"],
        },
    );
}

#[test]
fn sequential_keys_can_contradict_the_initial_state() {
    let (t1, t2, t3) = (ok(0, "wx1"), ok(0, "wx2"), ok(0, "rx1"));
    let h = history(vec![
        invocation(&t1),
        t1,
        invocation(&t2),
        t2,
        invocation(&t3),
        t3,
    ]);
    let mut o = TxnOptions::new(TxnModel::RwRegister);
    o.wfr_keys = false;
    o.sequential_keys = true;
    run(
        o,
        &h,
        Expect {
            valid: Validity::Invalid,
            types: &["cyclic-versions"],
            not: &["read-uncommitted"],
        },
    );
}

#[test]
fn two_transactions_reading_and_writing_one_version_lose_an_update() {
    let (t1, t2) = (op(0, OpType::Ok, "rx0wx1"), op(1, OpType::Ok, "rx0wx2"));
    let h = history(vec![invocation(&t1), t1, invocation(&t2), t2]);
    let mut o = TxnOptions::new(TxnModel::RwRegister);
    o.wfr_keys = false;
    run(
        o,
        &h,
        Expect {
            valid: Validity::Invalid,
            types: &["lost-update"],
            not: &["cursor-stability", "update-atomic"],
        },
    );
}

#[test]
fn stale_reads_under_linearizable_keys_show_as_g1c_realtime_and_cyclic_versions() {
    let t1 = ok(0, "rx1");
    let t2 = ok(0, "rx_");
    let t3 = ok(0, "rx4wx3");
    let t4 = ok(0, "wx4");
    let h = history(vec![
        invocation(&t1),
        t1,
        invocation(&t2),
        t2,
        invocation(&t3),
        t3,
        invocation(&t4),
        t4,
    ]);
    let mut o = TxnOptions::new(TxnModel::RwRegister);
    o.consistency_models = vec!["strong-serializable"];
    o.wfr_keys = true;
    o.linearizable_keys = true;
    run(
        o,
        &h,
        Expect {
            valid: Validity::Invalid,
            types: &["G1c-realtime", "cyclic-versions"],
            not: &["read-uncommitted"],
        },
    );
}
