//! `gen::inject`: every gadget spliced into a generated history (with failed
//! and indeterminate transactions) is found again by the checker, which then
//! reports exactly what Elle reports for the gadget alone
//! (`testdata/expected.json`: the verdict, anomaly types, `not`, `also-not`)
//! under serializable, strict-serializable and strong-session-serializable;
//! the host alone is valid under all three.

use std::path::Path;

use lightcone_check::Validity;
use lightcone_history::History;
use lightcone_txn::consistency::parse_models;
use lightcone_txn::gadgets::anomalies;
use lightcone_txn::gen::{self, GenOptions, Workload};
use lightcone_txn::{check, TxnModel, TxnOptions};
use serde_json::{json, Value};

const MODELS: [&str; 3] = [
    "serializable",
    "strict-serializable",
    "strong-session-serializable",
];

fn expected() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/expected.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn host(workload: Workload, seed: u64) -> History {
    let options = GenOptions {
        txns: 300,
        processes: 8,
        key_count: 6,
        fail_permille: 80,
        info_permille: 40,
        ..GenOptions::default()
    };
    gen::generate(workload, seed, &options).unwrap().history
}

fn options(workload: Workload, models: &str, wfr_keys: bool) -> TxnOptions {
    let mut options = TxnOptions::new(TxnModel::by_name(workload.name()).unwrap());
    options.consistency_models = parse_models(models).unwrap();
    options.wfr_keys = wfr_keys;
    options
}

/// The sorted names of a JSON list, or none.
fn names(value: &Value) -> Vec<String> {
    let mut out: Vec<String> = value
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn every_injected_anomaly_is_found_as_in_the_gadget_alone() {
    let entries = expected();
    let mut checked = 0;
    for workload in [Workload::ListAppend, Workload::RwRegister] {
        let model = workload.name();
        for seed in [1, 2] {
            let host = host(workload, seed);
            for models in MODELS {
                for wfr in [false, true] {
                    let r = check(&host, &options(workload, models, wfr));
                    assert_eq!(r.valid, Validity::Valid, "{model} host {seed}: {r:?}");
                }
            }
            for anomaly in anomalies(model) {
                let file = format!("{model}/{}.bad.edn", anomaly.to_lowercase());
                let entry = entries
                    .iter()
                    .find(|e| e["history"] == json!(file))
                    .unwrap_or_else(|| panic!("{file} has no entry in expected.json"));
                let wfr = entry["options"]["wfr-keys"].as_bool().unwrap_or(false);
                let mut history = host.clone();
                gen::inject(&mut history, workload, anomaly, seed).unwrap();
                assert!(history.len() > host.len(), "{file}: nothing injected");
                for models in MODELS {
                    let want = &entry["results"][models];
                    let r = check(&history, &options(workload, models, wfr));
                    let what = format!("{anomaly} injected into {model} host {seed}, {models}");
                    assert_eq!(
                        json!(r.valid == Validity::Valid),
                        want["valid"],
                        "{what}: {:#?}",
                        r.problems
                    );
                    let mut got: Vec<String> = r
                        .details
                        .anomaly_types
                        .iter()
                        .map(|s| s.to_string())
                        .collect();
                    got.sort();
                    assert_eq!(got, names(&want["anomaly-types"]), "{what}");
                    if let Some(not) = &r.details.not {
                        let not: Vec<String> = not.iter().map(|s| s.to_string()).collect();
                        assert_eq!(not, names(&want["not"]), "{what}: not");
                    } else {
                        assert!(want.get("not").is_none(), "{what}: no `not`");
                    }
                    checked += 1;
                }
            }
        }
    }
    // 23 list-append and 17 rw-register gadgets, two hosts, three models.
    assert_eq!(checked, (23 + 17) * 2 * 3);
}

#[test]
fn a_gadget_the_workload_has_not_is_refused_with_the_ones_it_has() {
    let mut history = host(Workload::ListAppend, 3);
    let before = history.clone();
    let e = gen::inject(&mut history, Workload::ListAppend, "G17", 3).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("--inject \"G17\""), "{text}");
    assert!(text.contains("G-single-item-realtime"), "{text}");
    assert_eq!(history, before);
}
