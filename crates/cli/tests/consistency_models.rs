//! `--consistency-models` below linearizability, end to end: the ladder
//! `lightcone check` prints for register histories, and lin-kv nodes held
//! to weaker models in `lightcone test` (a Python node that forwards every
//! request to the workbench's seq-kv or lww-kv service).

mod common;

use std::path::{Path, PathBuf};

use common::{have_python, lightcone_in};
use serde_json::Value;

fn node_script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/nodes")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// The paired histories of the ladder (lightcone-weak's test data).
fn ladder_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../weak/tests/ladder")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    results: Option<Value>,
}

fn test(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["test"];
    all.extend_from_slice(args);
    let out = lightcone_in(dir.path(), &all);
    let results = std::fs::read_to_string(dir.path().join("store/latest/results.json"))
        .ok()
        .map(|t| serde_json::from_str(&t).unwrap());
    Run {
        code: out.status.code().expect("an exit code"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        results,
    }
}

/// Each model's verdict in a run's results.json.
fn verdicts(results: &Value) -> Vec<(String, Value)> {
    results["workload"]["rungs"]
        .as_array()
        .unwrap_or_else(|| panic!("no rungs in {}", results["workload"]))
        .iter()
        .map(|r| (r["model"].as_str().unwrap().to_string(), r["valid"].clone()))
        .collect()
}

fn proxy_run(service: &str, models: &str, seed: &str) -> Run {
    test(&[
        "-w",
        "lin-kv",
        "--bin",
        &node_script("service_proxy_kv.py"),
        "--node-count",
        "3",
        "--time-limit",
        "5",
        "--rate",
        "100",
        "--consistency-models",
        models,
        "--seed",
        seed,
        "--",
        service,
    ])
}

#[test]
fn a_node_forwarding_to_seq_kv_is_sequential_but_not_linearizable() {
    if !have_python() {
        return;
    }
    let r = proxy_run("seq-kv", "linearizable,sequential", "1");
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let results = r.results.expect("results.json");
    assert_eq!(
        verdicts(&results),
        [
            ("linearizable".to_string(), Value::Bool(false)),
            ("sequential".to_string(), Value::Bool(true)),
        ],
        "{}",
        results["workload"]
    );
    assert!(
        r.stdout.contains("not linearizable"),
        "the summary names the model that broke: {}",
        r.stdout
    );
    // Held to sequential consistency alone, the same node passes.
    let r = proxy_run("seq-kv", "sequential", "1");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn a_node_forwarding_to_lww_kv_breaks_monotonic_reads() {
    if !have_python() {
        return;
    }
    let r = proxy_run("lww-kv", "monotonic-reads", "1");
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let results = r.results.expect("results.json");
    assert_eq!(
        verdicts(&results),
        [("monotonic-reads".to_string(), Value::Bool(false))]
    );
    let rung = &results["workload"]["rungs"][0];
    assert!(
        !rung["ops"].as_array().unwrap().is_empty() && rung["witness"].is_string(),
        "the witness names its operations: {rung}"
    );
}

#[test]
fn the_reference_raft_node_holds_every_model() {
    let r = test(&[
        "--sim",
        "-w",
        "lin-kv",
        "--time-limit",
        "10",
        "--rate",
        "50",
        "--nemesis",
        "partition",
        "--consistency-models",
        "all",
        "--seed",
        "3",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let verdicts = verdicts(&r.results.expect("results.json"));
    assert_eq!(verdicts.len(), 10, "{verdicts:?}");
    assert!(
        verdicts.iter().all(|(_, v)| *v == Value::Bool(true)),
        "{verdicts:?}"
    );
}

#[test]
fn check_prints_the_ladder_of_each_paired_history() {
    let dir = ladder_dir();
    let expected = std::fs::read_to_string(dir.join("expected.tsv")).expect("expected.tsv");
    let mut lines = expected.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let mut checked = 0;
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let file = dir.join(cols[0]);
        let out = lightcone_in(
            &dir,
            &[
                "check",
                "--model",
                "independent-register",
                "--consistency-models",
                "all",
                "--json",
                file.to_str().unwrap(),
            ],
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let v: Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("{}: {e}: {stdout}", cols[0]));
        for (model, want) in header.iter().zip(&cols).skip(1) {
            let rung = v["consistency-models"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["model"] == *model)
                .unwrap_or_else(|| panic!("{}: no {model}", cols[0]));
            let want = match *want {
                "valid" => Value::Bool(true),
                "invalid" => Value::Bool(false),
                other => Value::from(other),
            };
            assert_eq!(rung["valid"], want, "{} under {model}: {rung}", cols[0]);
        }
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} paired histories");
}

#[test]
fn consistency_models_that_do_not_apply_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("h.jsonl");
    std::fs::write(
        &history,
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"add\",\"value\":1}\n\
         {\"process\":0,\"type\":\"ok\",\"f\":\"add\",\"value\":1}\n",
    )
    .unwrap();
    let out = lightcone_in(
        dir.path(),
        &[
            "check",
            "--model",
            "set",
            "--consistency-models",
            "sequential",
            history.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("does not apply to the set model"),
        "{stderr}"
    );
    let out = lightcone_in(
        dir.path(),
        &[
            "check",
            "--model",
            "register",
            "--consistency-models",
            "snapshot-isolation",
            history.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("\"snapshot-isolation\""), "{stderr}");
}
