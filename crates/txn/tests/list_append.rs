//! List-append histories: Elle's preconditions, and what lightcone checks
//! beyond Elle.

use lightcone_check::Validity;
use lightcone_history::{History, Op, OpType, Process};
use lightcone_txn::{check, TxnModel, TxnOptions};
use serde_json::{json, Value};

fn history(ops: Vec<(u64, OpType, Value)>) -> History {
    let mut h = History::default();
    for (i, (p, kind, value)) in ops.into_iter().enumerate() {
        let mut op = Op::new(Process::Client(p), kind, "txn", value);
        op.index = i as u64;
        op.time = i as u64 * 10;
        h.push(op);
    }
    h
}

fn serializable() -> TxnOptions {
    let mut o = TxnOptions::new(TxnModel::ListAppend);
    o.consistency_models = vec!["serializable"];
    o
}

#[test]
fn a_transactions_own_appends_read_out_of_order_is_internal_beyond_elle() {
    let appends = json!([["append", 0, 1], ["append", 0, 2], ["append", 0, 3]]);
    let h = history(vec![
        (0, OpType::Invoke, appends.clone()),
        (0, OpType::Ok, appends),
        (1, OpType::Invoke, json!([["r", 0, null]])),
        (1, OpType::Ok, json!([["r", 0, [2, 1, 3]]])),
    ]);
    let r = check(&h, &serializable());
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.maelstrom_valid, Validity::Valid, "Elle does not see this");
    assert_eq!(r.details.anomaly_types, vec!["internal"]);
    assert!(
        r.beyond_maelstrom[0].starts_with("internal: 1 case")
            && r.beyond_maelstrom[0].ends_with("(beyond Elle)"),
        "{:?}",
        r.beyond_maelstrom
    );
    let witness = serde_json::to_value(&r.details.anomalies_of("internal")[0]).unwrap();
    assert_eq!(witness["expected"], json!(["...", 1, 2, 3]));
    // In order, it is valid.
    let appends = json!([["append", 0, 1], ["append", 0, 2]]);
    let h = history(vec![
        (0, OpType::Invoke, appends.clone()),
        (0, OpType::Ok, appends),
        (1, OpType::Invoke, json!([["r", 0, null]])),
        (1, OpType::Ok, json!([["r", 0, [1, 2]]])),
    ]);
    assert_eq!(check(&h, &serializable()).valid, Validity::Valid);
}

#[test]
fn a_value_appended_twice_to_a_key_makes_the_verdict_unknown() {
    let h = history(vec![
        (0, OpType::Invoke, json!([["append", "x", 1]])),
        (0, OpType::Ok, json!([["append", "x", 1]])),
        (1, OpType::Invoke, json!([["append", "x", 1]])),
        (1, OpType::Ok, json!([["append", "x", 1]])),
    ]);
    let r = check(&h, &serializable());
    assert_eq!(r.valid, Validity::Unknown);
    assert_eq!(r.details.error_type, Some("duplicate-appends"));
    assert!(
        r.problems[0].contains("value 1 appended to key \"x\" multiple times"),
        "{:?}",
        r.problems
    );
}

#[test]
fn a_read_of_an_element_nobody_appended_makes_the_verdict_unknown() {
    let h = history(vec![
        (0, OpType::Invoke, json!([["r", "x", null]])),
        (0, OpType::Ok, json!([["r", "x", [7]]])),
    ]);
    let r = check(&h, &serializable());
    assert_eq!(r.valid, Validity::Unknown);
    assert_eq!(r.details.error_type, Some("read-of-unwritten-element"));
}

#[test]
fn foreign_micro_ops_make_the_verdict_unknown_and_name_the_op() {
    let h = history(vec![
        (0, OpType::Invoke, json!([["w", "x", 1]])),
        (0, OpType::Ok, json!([["w", "x", 1]])),
    ]);
    let r = check(&h, &serializable());
    assert_eq!(r.valid, Validity::Unknown);
    assert_eq!(r.details.error_type, Some("unexpected-txn-micro-op-types"));
    assert!(r.problems[0].contains("op 1"), "{:?}", r.problems);
}

#[test]
fn a_history_with_no_dependencies_is_unknown_as_elle_says() {
    let h = history(vec![
        (0, OpType::Invoke, json!([["r", "x", null]])),
        (0, OpType::Ok, json!([["r", "x", []]])),
    ]);
    let r = check(&h, &serializable());
    assert_eq!(r.valid, Validity::Unknown);
    assert_eq!(r.details.anomaly_types, vec!["empty-transaction-graph"]);
    let v = serde_json::to_value(r.section()).unwrap();
    assert_eq!(v["anomalies"]["empty-transaction-graph"], json!(true));
}
