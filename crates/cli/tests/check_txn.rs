//! `lightcone check --model list-append|rw-register` through the command
//! line: the verdict as exit code (0 valid, 1 invalid, 2 unknown, 4 bad
//! arguments), the text summary with `not`, `also not` and Elle's
//! explanation, `--json` with Elle's kebab-case keys, `--out DIR` with one
//! file per anomaly type, the flags passed through, an injected anomaly
//! found in a generated history, and Elle's si-without-g-single history
//! (skipped, and said so, without ../shared).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::lightcone;
use serde_json::Value;

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn gadget(model: &str, file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../txn/testdata")
        .join(model)
        .join(file);
    path.to_str().unwrap().to_string()
}

#[test]
fn a_cycle_is_invalid_and_explained_and_its_twin_valid() {
    let bad = gadget("list-append", "g1c.bad.edn");
    let out = lightcone(&["check", "--model", "list-append", &bad]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains(
            "INVALID (list-append model, 2 transactions, consistency models strict-serializable)"
        ),
        "{said}"
    );
    assert!(said.contains("  not read-committed\n"), "{said}");
    assert!(said.contains("  also not causal-cerone, "), "{said}");
    assert!(said.contains("G1c: 1 case"), "{said}");
    assert!(
        said.contains("- T1 < T2, because T2 observed T1's append of 1 to key 1."),
        "{said}"
    );
    assert!(
        said.contains(
            "- However, T2 < T1, because T1 observed T2's append of 1 to key 2: a contradiction!"
        ),
        "{said}"
    );

    let ok = gadget("list-append", "g1c.ok.edn");
    let out = lightcone(&["check", "--model", "list-append", &ok]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains(": VALID (list-append model"));
}

#[test]
fn json_has_elles_keys_and_the_cycle_steps() {
    let bad = gadget("rw-register", "g-single-item.bad.edn");
    let out = lightcone(&["check", "--model", "rw-register", "--json", &bad]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["valid"], Value::Bool(false));
    assert_eq!(v["anomaly-types"], serde_json::json!(["G-single-item"]));
    assert_eq!(
        v["not"],
        serde_json::json!(["consistent-view", "repeatable-read"])
    );
    assert!(v["also-not"].as_array().unwrap().len() > 5);
    assert_eq!(v["model"], "rw-register");
    assert_eq!(
        v["consistency-models"],
        serde_json::json!(["strict-serializable"])
    );
    let cycle = &v["anomalies"]["G-single-item"][0];
    assert_eq!(cycle["type"], "G-single-item");
    let steps = cycle["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["type"] == "rw"), "{cycle}");
    assert_eq!(cycle["cycle"].as_array().unwrap().len(), steps.len() + 1);
    assert!(v["time-ms"].as_f64().is_some());
}

#[test]
fn out_writes_a_file_per_anomaly_type() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("elle");
    let bad = gadget("list-append", "g1b.bad.edn");
    let out = lightcone(&[
        "check",
        "--model",
        "list-append",
        "--out",
        out_dir.to_str().unwrap(),
        &bad,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let mut files: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["G-single-item.txt", "G1b.json"]);
    let cycle = std::fs::read_to_string(out_dir.join("G-single-item.txt")).unwrap();
    assert!(
        cycle.starts_with("G-single-item #0\nLet:\n  T1 = {:index"),
        "{cycle}"
    );
    assert!(cycle.contains("\nThen:\n  - T1 < T2, because"), "{cycle}");
    let g1b: Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("G1b.json")).unwrap()).unwrap();
    assert_eq!(g1b.as_array().unwrap().len(), 1, "{g1b}");
}

#[test]
fn models_and_anomalies_flags_decide_what_is_reported() {
    let bad = gadget("list-append", "g-single-item-realtime.bad.edn");
    // Strict-serializable builds real-time edges and finds the cycle.
    let out = lightcone(&["check", "--model", "list-append", &bad]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("G-single-item-realtime: 1 case"));
    // Serializable does not look at real time: valid.
    let out = lightcone(&[
        "check",
        "--model",
        "list-append",
        "--consistency-models",
        "serializable",
        &bad,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // An alias with spaces in the list, and an anomaly asked for by name.
    let out = lightcone(&[
        "check",
        "--model",
        "list-append",
        "--consistency-models",
        "read-committed, strong-serializable",
        "--anomalies",
        "G1",
        &bad,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("consistency models read-committed, strong-serializable"));
}

#[test]
fn a_broken_precondition_is_unknown_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dup.jsonl");
    std::fs::write(
        &path,
        r#"{"process":0,"type":"invoke","f":"txn","value":[["append",1,1]]}
{"process":0,"type":"ok","f":"txn","value":[["append",1,1]]}
{"process":1,"type":"invoke","f":"txn","value":[["append",1,1],["r",1,null]]}
{"process":1,"type":"ok","f":"txn","value":[["append",1,1],["r",1,[1,1]]]}
"#,
    )
    .unwrap();
    let out = lightcone(&["check", "--model", "list-append", path.to_str().unwrap()]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("UNKNOWN (list-append model, consistency models"),
        "{said}"
    );
    assert!(
        said.contains("duplicate-appends: value 1 appended to key 1"),
        "{said}"
    );
}

#[test]
fn bad_model_and_anomaly_names_are_refused_naming_the_flag() {
    let ok = gadget("list-append", "g1c.ok.edn");
    for (flag, value, says) in [
        (
            "--consistency-models",
            "serializable, snapshot-isolaton",
            "--consistency-models: unknown consistency model \"snapshot-isolaton\"",
        ),
        ("--anomalies", "G3", "--anomalies: unknown anomaly \"G3\""),
    ] {
        let out = lightcone(&["check", "--model", "list-append", flag, value, &ok]);
        let said = text(&out);
        assert_eq!(out.status.code(), Some(4), "{said}");
        assert!(said.contains(says), "{said}");
        assert!(out.stdout.is_empty(), "{said}");
    }
}

#[test]
fn an_injected_anomaly_is_found_in_a_generated_history() {
    let dir = tempfile::tempdir().unwrap();
    for (model, anomaly, reported) in [
        ("list-append", "G0-realtime", "G0-realtime"),
        ("list-append", "incompatible-order", "incompatible-order"),
        ("rw-register", "G2-item", "G2-item"),
        ("rw-register", "lost-update", "lost-update"),
    ] {
        let path = dir.path().join(format!("{model}-{anomaly}.jsonl"));
        let args = ["gen", model, "--txns", "2000", "--processes", "20"];
        let clean = lightcone(&args);
        assert!(clean.status.success(), "{}", text(&clean));
        std::fs::write(&path, &clean.stdout).unwrap();
        let out = lightcone(&["check", "--model", model, path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{model}: {}", text(&out));

        let injected = lightcone(&[&args[..], &["--inject", anomaly]].concat());
        assert!(injected.status.success(), "{}", text(&injected));
        std::fs::write(&path, &injected.stdout).unwrap();
        let out = lightcone(&["check", "--model", model, "--json", path.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{model} {anomaly}: {}",
            text(&out)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let types: Vec<&str> = v["anomaly-types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert!(types.contains(&reported), "{model} {anomaly}: {types:?}");
        let gadget = lightcone_txn::gadgets::gadget(model, anomaly).unwrap();
        assert_eq!(v["txn-count"], 2000 + gadget.len() / 2, "{model} {anomaly}");
    }
}

fn elle_data(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/elle")
        .join(name);
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "SKIPPED: {} is absent; this conformance test needs ../shared/data/elle",
            path.display()
        );
        None
    }
}

#[test]
fn elles_si_without_g_single_through_the_command_line() {
    let Some(path) = elle_data("si-without-g-single.edn") else {
        return;
    };
    let out = lightcone(&[
        "check",
        "--model",
        "list-append",
        "--consistency-models",
        "snapshot-isolation,repeatable-read",
        "--json",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["anomaly-types"], serde_json::json!(["G2-item"]));
    assert_eq!(v["not"], serde_json::json!(["repeatable-read"]));
}

#[test]
fn where_lightcone_is_stricter_than_elle_it_says_so() {
    // A transaction appends 1 then 2; a later read shows 2 before 1. Elle
    // drops a transaction's edges to itself and calls this valid;
    // lightcone reports it as internal, marked beyond Elle.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reorder.jsonl");
    std::fs::write(
        &path,
        r#"{"process":0,"type":"invoke","f":"txn","value":[["append",1,1],["append",1,2]]}
{"process":0,"type":"ok","f":"txn","value":[["append",1,1],["append",1,2]]}
{"process":1,"type":"invoke","f":"txn","value":[["append",1,3]]}
{"process":1,"type":"ok","f":"txn","value":[["append",1,3]]}
{"process":1,"type":"invoke","f":"txn","value":[["r",1,null]]}
{"process":1,"type":"ok","f":"txn","value":[["r",1,[2,1,3]]]}
"#,
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let out = lightcone(&["check", "--model", "list-append", path]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("Elle would say valid: lightcone is deliberately stricter here"),
        "{said}"
    );
    assert_eq!(said.matches("internal: 1 case").count(), 1, "{said}");
    assert!(said.contains("(beyond Elle)"), "{said}");
    let out = lightcone(&["check", "--model", "list-append", "--json", path]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["maelstrom-valid"], true);
    assert_eq!(v["anomaly-types"], serde_json::json!(["internal"]));
}
