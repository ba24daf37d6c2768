//! The gadget test data (crates/txn/testdata) is well-formed, agrees with
//! itself and with Elle's lattice, and splices into a host history intact.
//!
//! What Elle reports for each file is in `testdata/expected.json`; the
//! checker's own tests run the files and compare. Here: every file parses as
//! Jepsen EDN into transactions of its model's micro-ops, one process at a
//! time; every bad file has an ok twin and every file an entry; every entry
//! is a result Elle's `result-map` could give for its `found` anomalies
//! (which anomalies are reportable, and `not`/`also-not` from
//! `friendly-boundary`, via `consistency.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use lightcone_history::formats::{self, Format};
use lightcone_history::{History, Op, OpType, Process};
use lightcone_txn::consistency::{
    anomalies_prohibited_by, anomalies_to_impossible_models, canonical_model_name,
    friendly_boundary,
};
use lightcone_txn::gadgets::{anomalies, gadget, splice};
use serde_json::{json, Value};

const MODELS: [&str; 2] = ["list-append", "rw-register"];
const CONSISTENCY_MODELS: [&str; 3] = [
    "serializable",
    "strict-serializable",
    "strong-session-serializable",
];
/// Elle's `unknown-anomaly-types`: reportable, but they make a result
/// unknown rather than invalid.
const UNKNOWN: [&str; 2] = ["empty-transaction-graph", "cycle-search-timeout"];

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// The `.edn` files of a model's directory, by name.
fn files(model: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(testdata().join(model)).expect("the model's testdata directory") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        assert!(
            name.ends_with(".bad.edn") || name.ends_with(".ok.edn"),
            "{model}/{name}: expected <anomaly>.bad.edn or <anomaly>.ok.edn"
        );
        out.insert(name, fs::read_to_string(&path).unwrap());
    }
    out
}

fn read(model: &str, name: &str, text: &str) -> History {
    formats::read(text, Format::Edn).unwrap_or_else(|e| panic!("{model}/{name}: {e}"))
}

fn expected() -> Vec<Value> {
    let text = fs::read_to_string(testdata().join("expected.json")).unwrap();
    serde_json::from_str(&text).expect("expected.json is JSON")
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected a list of names, found {value}"))
        .iter()
        .map(|v| v.as_str().expect("a name"))
        .collect()
}

fn is_sorted(names: &[&str]) -> bool {
    names.windows(2).all(|w| w[0] < w[1])
}

/// Whether a micro-op is one of the model's kinds, with the shape of value
/// its position (invocation or completion) calls for.
fn mop_ok(model: &str, mop: &Value, completed: bool) -> bool {
    let Some([f, k, v]) = mop.as_array().map(Vec::as_slice) else {
        return false;
    };
    if !k.is_u64() {
        return false;
    }
    let int = |v: &Value| v.is_u64();
    match (model, f.as_str()) {
        ("list-append", Some("append")) | ("rw-register", Some("w")) => int(v),
        ("list-append", Some("r")) if completed => {
            v.is_null() || v.as_array().is_some_and(|xs| xs.iter().all(int))
        }
        ("rw-register", Some("r")) if completed => v.is_null() || int(v),
        (_, Some("r")) => v.is_null(),
        _ => false,
    }
}

#[test]
fn every_file_is_a_commented_history_of_the_models_transactions() {
    for model in MODELS {
        for (name, text) in files(model) {
            let first = text.lines().next().unwrap_or("");
            assert!(
                first.starts_with("; ") && text.lines().skip(1).all(|l| l.starts_with('{')),
                "{model}/{name}: one `;` comment line, then one op map per line"
            );
            let history = read(model, &name, &text);
            assert!(
                history.len() >= 4,
                "{model}/{name}: at least two transactions"
            );
            let mut open: BTreeMap<Process, &Op> = BTreeMap::new();
            let mut time_last = None;
            for op in history.iter() {
                assert_eq!(op.f, "txn", "{model}/{name}: op {} is not a txn", op.index);
                assert!(time_last < Some(op.time), "{model}/{name}: times increase");
                time_last = Some(op.time);
                let completed = op.kind == OpType::Ok;
                let mops = op
                    .value
                    .as_array()
                    .expect("a txn's value is a list of micro-ops");
                assert!(!mops.is_empty());
                for mop in mops {
                    assert!(
                        mop_ok(model, mop, completed),
                        "{model}/{name}: op {}: micro-op {mop}",
                        op.index
                    );
                }
                if op.kind == OpType::Invoke {
                    assert!(
                        open.insert(op.process, op).is_none(),
                        "{model}/{name}: process {} is not sequential",
                        op.process
                    );
                } else {
                    let invocation = open
                        .remove(&op.process)
                        .expect("a completion follows its invocation");
                    assert_eq!(invocation.value.as_array().unwrap().len(), mops.len());
                    if op.kind != OpType::Ok {
                        assert_eq!(
                            invocation.value, op.value,
                            "{model}/{name}: a failed txn keeps its invocation's value"
                        );
                    }
                }
            }
            assert!(
                open.is_empty(),
                "{model}/{name}: every invocation completes"
            );
        }
    }
}

#[test]
fn appends_and_writes_are_unique_per_key() {
    for model in MODELS {
        for (name, text) in files(model) {
            let mut written = BTreeSet::new();
            for op in read(model, &name, &text)
                .iter()
                .filter(|op| op.kind == OpType::Invoke)
            {
                for mop in op.value.as_array().unwrap() {
                    if mop[0] != "r" {
                        assert!(
                            written.insert((mop[1].as_u64(), mop[2].as_u64())),
                            "{model}/{name}: {mop} twice"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn every_bad_file_has_an_ok_twin_and_every_file_an_entry() {
    let entries = expected();
    let mut histories = BTreeSet::new();
    for entry in &entries {
        let path = entry["history"]
            .as_str()
            .expect("an entry names its history");
        assert!(histories.insert(path), "{path} has two entries");
        let model = entry["model"].as_str().unwrap();
        assert!(
            path.starts_with(&format!("{model}/")),
            "{path}: model {model}"
        );
        assert!(testdata().join(path).is_file(), "{path} does not exist");
    }
    for model in MODELS {
        let files = files(model);
        for name in files.keys() {
            assert!(
                histories.contains(format!("{model}/{name}").as_str()),
                "{model}/{name} has no entry in expected.json"
            );
            if let Some(stem) = name.strip_suffix(".bad.edn") {
                assert!(
                    files.contains_key(&format!("{stem}.ok.edn")),
                    "{model}/{name} has no ok twin"
                );
            } else {
                let stem = name.strip_suffix(".ok.edn").unwrap();
                assert!(
                    files.contains_key(&format!("{stem}.bad.edn")),
                    "{model}/{name} has no bad twin"
                );
            }
        }
    }
}

/// What Elle's `result-map` returns for these found anomalies under one
/// consistency model: the reportable ones (prohibited, or unknown markers),
/// less the `-cycle-exists` ones another reportable anomaly already
/// explains; `{"valid": true}` when none is left.
fn result_map(model: &str, found: &[&str]) -> Value {
    let prohibited = anomalies_prohibited_by(&[model]).expect("a known model");
    let mut reportable: BTreeSet<&str> = found
        .iter()
        .copied()
        .filter(|a| prohibited.contains(a) || UNKNOWN.contains(a))
        .collect();
    let specific: Vec<&str> = reportable
        .iter()
        .copied()
        .filter(|a| !a.ends_with("-cycle-exists"))
        .collect();
    let ruled_out = anomalies_to_impossible_models(&specific);
    reportable.retain(|a| match a.strip_suffix("-cycle-exists") {
        Some(level) => !ruled_out.contains(canonical_model_name(level)),
        None => true,
    });
    if reportable.is_empty() {
        return json!({"valid": true});
    }
    let bad = found.iter().any(|a| prohibited.contains(a));
    let boundary = friendly_boundary(found);
    json!({
        "valid": if bad { json!(false) } else { json!("unknown") },
        "anomaly-types": reportable,
        "not": boundary.not,
        "also-not": boundary.also_not,
    })
}

#[test]
fn every_entry_is_a_result_elle_could_give_for_what_it_found() {
    for entry in expected() {
        let path = entry["history"].as_str().unwrap();
        let keys: BTreeSet<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let allowed = BTreeSet::from(["history", "model", "options", "results", "found"]);
        assert!(keys.is_subset(&allowed), "{path}: unknown fields {keys:?}");
        if let Some(options) = entry.get("options") {
            assert_eq!(
                entry["model"], "rw-register",
                "{path}: options are register options"
            );
            for (k, v) in options.as_object().unwrap() {
                assert!(
                    ["wfr-keys", "sequential-keys", "linearizable-keys"].contains(&k.as_str())
                        && v.is_boolean(),
                    "{path}: option {k}"
                );
            }
        }
        for model in CONSISTENCY_MODELS {
            let result = &entry["results"][model];
            let found = strings(&entry["found"][model]);
            assert!(is_sorted(&found), "{path} {model}: found is sorted");
            let valid = &result["valid"];
            if valid == true {
                assert_eq!(
                    result,
                    &json!({"valid": true}),
                    "{path} {model}: a valid result says nothing else"
                );
            } else {
                assert!(
                    *valid == false || *valid == "unknown",
                    "{path} {model}: valid is true, false or \"unknown\""
                );
                let types = strings(&result["anomaly-types"]);
                assert!(
                    !types.is_empty(),
                    "{path} {model}: an invalid result names its anomalies"
                );
                for field in ["anomaly-types", "not", "also-not"] {
                    assert!(
                        is_sorted(&strings(&result[field])),
                        "{path} {model}: {field} is sorted"
                    );
                }
                assert!(
                    types.iter().all(|t| found.contains(t)),
                    "{path} {model}: every reported anomaly was found"
                );
                let not: BTreeSet<&str> = strings(&result["not"]).into_iter().collect();
                assert!(strings(&result["also-not"])
                    .iter()
                    .all(|m| !not.contains(m)));
            }
            assert_eq!(
                result,
                &result_map(model, &found),
                "{path} {model}: not what Elle's result-map gives for {found:?}"
            );
        }
        if path.ends_with(".ok.edn") {
            for model in CONSISTENCY_MODELS {
                assert_eq!(
                    entry["results"][model],
                    json!({"valid": true}),
                    "{path}: an ok twin is valid under {model}"
                );
                assert_eq!(
                    entry["found"][model],
                    json!([]),
                    "{path}: an ok twin shows nothing under {model}"
                );
            }
        } else {
            let any_invalid = CONSISTENCY_MODELS
                .iter()
                .any(|m| entry["results"][m]["valid"] == false);
            assert!(
                any_invalid,
                "{path}: a bad history is invalid under some model"
            );
        }
    }
}

#[test]
fn each_gadget_is_reported_under_its_name() {
    for entry in expected() {
        let path = entry["history"].as_str().unwrap();
        let Some(stem) = path.strip_suffix(".bad.edn") else {
            continue;
        };
        let model = entry["model"].as_str().unwrap();
        let name = stem.split('/').nth(1).unwrap();
        let anomaly = anomalies(model)
            .iter()
            .find(|a| a.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("{path} is not among anomalies({model:?})"));
        // A -process gadget is a -realtime one under strict serializability,
        // whose real-time order includes each process's order.
        let strict = anomaly.replace("-process", "-realtime");
        let reported = |m: &str| {
            strings(&entry["results"][m]["anomaly-types"]).contains(
                &if m == "strict-serializable" {
                    strict.as_str()
                } else {
                    anomaly
                },
            )
        };
        match anomaly.rsplit('-').next() {
            Some("realtime") => assert!(
                reported("strict-serializable")
                    && entry["results"]["serializable"]["valid"] == true
                    && entry["results"]["strong-session-serializable"]["valid"] == true,
                "{path}"
            ),
            Some("process") => assert!(
                reported("strict-serializable")
                    && reported("strong-session-serializable")
                    && entry["results"]["serializable"]["valid"] == true,
                "{path}"
            ),
            _ => assert!(CONSISTENCY_MODELS.iter().all(|m| reported(m)), "{path}"),
        }
    }
}

#[test]
fn gadget_returns_the_bad_files() {
    for model in MODELS {
        let files = files(model);
        let bad: BTreeSet<&str> = files
            .keys()
            .filter_map(|n| n.strip_suffix(".bad.edn"))
            .collect();
        let listed: BTreeSet<String> = anomalies(model).iter().map(|a| a.to_lowercase()).collect();
        assert_eq!(
            bad,
            listed.iter().map(String::as_str).collect(),
            "{model}: anomalies() and the bad files"
        );
        for anomaly in anomalies(model) {
            let name = format!("{}.bad.edn", anomaly.to_lowercase());
            assert_eq!(
                gadget(model, anomaly),
                Some(read(model, &name, &files[&name]))
            );
        }
    }
}

/// The keys of an op's micro-ops, in order.
fn keys(op: &Op) -> Vec<u64> {
    op.value
        .as_array()
        .unwrap()
        .iter()
        .map(|mop| mop[1].as_u64().unwrap())
        .collect()
}

/// The op with its keys and process wiped, to compare modulo renaming.
fn shape(op: &Op) -> (OpType, String, Value) {
    let mut value = op.value.clone();
    for mop in value.as_array_mut().unwrap() {
        mop[1] = Value::Null;
    }
    (op.kind, op.f.clone(), value)
}

fn client(op: &Op) -> u64 {
    match op.process {
        Process::Client(p) => p,
        Process::Nemesis => panic!("a nemesis op"),
    }
}

/// Records `from -> to` in a renaming, which must stay one-to-one.
fn rename(map: &mut BTreeMap<u64, u64>, from: u64, to: u64, what: &str) {
    assert_eq!(
        *map.entry(from).or_insert(to),
        to,
        "{what} {from} renamed two ways"
    );
}

#[test]
fn splice_keeps_the_gadget_and_the_host_intact() {
    for model in MODELS {
        let host_text = &files(model)["g-nonadjacent-item.ok.edn"];
        let host = read(model, "host", host_text);
        let host_key_max = host.iter().flat_map(keys).max().unwrap();
        let host_process_max = host.iter().map(client).max().unwrap();
        for anomaly in anomalies(model) {
            let bad = gadget(model, anomaly).unwrap();
            for seed in 0..16 {
                let mut spliced = host.clone();
                splice(&mut spliced, &bad, seed);
                let what = format!("{model} {anomaly} seed {seed}");
                assert_eq!(spliced.len(), host.len() + bad.len(), "{what}");
                for (i, op) in spliced.iter().enumerate() {
                    assert_eq!(op.index, i as u64, "{what}: indices renumbered");
                }
                let times: Vec<u64> = spliced.iter().map(|op| op.time).collect();
                assert!(
                    times.windows(2).all(|w| w[0] < w[1]),
                    "{what}: times increase"
                );

                // The gadget's ops are a contiguous block strictly inside the host's span.
                let at = spliced
                    .iter()
                    .position(|op| client(op) > host_process_max)
                    .unwrap();
                assert!(
                    at >= 1 && at + bad.len() < spliced.len(),
                    "{what}: inside the span"
                );
                let (before, rest) = spliced.ops.split_at(at);
                let (block, after) = rest.split_at(bad.len());

                // The host's ops, in order and unchanged but for time.
                let host_again: Vec<(OpType, Process, String, &Value)> = before
                    .iter()
                    .chain(after)
                    .map(|op| (op.kind, op.process, op.f.clone(), &op.value))
                    .collect();
                let host_ops: Vec<_> = host
                    .iter()
                    .map(|op| (op.kind, op.process, op.f.clone(), &op.value))
                    .collect();
                assert_eq!(host_again, host_ops, "{what}: host ops kept");

                // The gadget's ops, in order, the same modulo fresh keys and processes.
                let mut key_map = BTreeMap::new();
                let mut process_map = BTreeMap::new();
                for (original, spliced_op) in bad.iter().zip(block) {
                    assert_eq!(
                        shape(original),
                        shape(spliced_op),
                        "{what}: op {}",
                        original.index
                    );
                    assert_eq!(
                        spliced_op.time - block[0].time,
                        original.time - bad.ops[0].time,
                        "{what}: gaps kept"
                    );
                    rename(
                        &mut process_map,
                        client(original),
                        client(spliced_op),
                        "process",
                    );
                    for (k, k2) in keys(original).into_iter().zip(keys(spliced_op)) {
                        rename(&mut key_map, k, k2, "key");
                        assert!(k2 > host_key_max, "{what}: key {k2} is fresh");
                    }
                }
                let distinct =
                    |m: &BTreeMap<u64, u64>| m.values().collect::<BTreeSet<_>>().len() == m.len();
                assert!(
                    distinct(&key_map) && distinct(&process_map),
                    "{what}: renamings are one-to-one"
                );
                assert!(
                    process_map.values().all(|p| *p > host_process_max),
                    "{what}: processes are fresh"
                );
            }
        }
    }
}

#[test]
fn splice_into_an_empty_history_numbers_keys_and_processes_from_zero() {
    let bad = gadget("rw-register", "G1c").unwrap();
    let mut empty = History::default();
    splice(&mut empty, &bad, 7);
    let bare = |h: &History| h.iter().map(shape).collect::<Vec<_>>();
    assert_eq!(bare(&empty), bare(&bad));
    // Keys 1 and 2 become 0 and 1; processes 0 and 1 stay.
    assert_eq!(keys(&empty.ops[0]), [0, 1]);
    assert_eq!(empty.iter().map(client).collect::<Vec<_>>(), [0, 1, 0, 1]);
}
