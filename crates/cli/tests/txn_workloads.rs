//! txn-list-append and txn-rw-register end to end in process mode: the
//! reference transactor and the totally-available node valid under faults,
//! their broken variants invalid with the anomaly named in the summary and
//! in results.json, a foreign (Python) transactional node of our own valid
//! and its broken variants caught, and malformed replies named. Short runs;
//! the full-size ones are in tests/acceptance.rs. Where `python3` is
//! missing, the Python tests print SKIPPED and pass.

mod common;

use std::path::Path;

use common::{have_python, lightcone_in};
use serde_json::Value;

struct Run {
    code: i32,
    summary: String,
    results: Value,
    history: String,
}

fn run(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let output = lightcone_in(dir.path(), &[&["test"][..], args].concat());
    let read = |name: &str| std::fs::read_to_string(dir.path().join("store/latest").join(name));
    let summary = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Run {
        code: output.status.code().unwrap(),
        results: serde_json::from_str(&read("results.json").expect("results.json")).unwrap(),
        history: read("history.jsonl").unwrap_or_default(),
        summary,
    }
}

fn script() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/nodes/txn_shared_state.py")
        .to_string_lossy()
        .into_owned()
}

fn anomaly_types(results: &Value) -> Vec<String> {
    results["workload"]["anomaly-types"]
        .as_array()
        .map(|a| a.iter().map(|t| t.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn the_transactor_is_strict_serializable_under_partitions_and_kills() {
    let r = run(&[
        "-w",
        "txn-list-append",
        "--node-count",
        "3",
        "--time-limit",
        "6",
        "--rate",
        "50",
        "--nemesis",
        "partition,kill",
        "--nemesis-interval",
        "2",
    ]);
    assert_eq!(r.code, 0, "{}", r.summary);
    let w = &r.results["workload"];
    assert_eq!(w["valid"], true);
    assert_eq!(w["model"], "list-append");
    assert_eq!(
        w["consistency-models"],
        serde_json::json!(["strict-serializable"])
    );
    assert!(w["ok-count"].as_u64().unwrap() > 100, "{}", r.summary);
    assert!(w["edge-count"].as_u64().unwrap() > 100, "{}", r.summary);
    // Reads that saw something: the transactions share their data.
    let nonempty_reads = r
        .history
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|op| op["type"] == "ok")
        .flat_map(|op| op["value"].as_array().cloned().unwrap_or_default())
        .filter(|mop| mop[0] == "r" && mop[2].as_array().is_some_and(|l| !l.is_empty()))
        .count();
    assert!(nonempty_reads > 10, "{}", r.summary);
}

#[test]
fn the_transactor_on_registers_is_valid_and_its_lww_shortcut_is_caught() {
    let ok = run(&[
        "-w",
        "txn-rw-register",
        "--node-count",
        "2",
        "--time-limit",
        "4",
        "--rate",
        "50",
    ]);
    assert_eq!(ok.code, 0, "{}", ok.summary);
    assert_eq!(ok.results["workload"]["model"], "rw-register");

    let bad = run(&[
        "-w",
        "txn-list-append",
        "--node-count",
        "2",
        "--time-limit",
        "6",
        "--rate",
        "50",
        "--",
        "--unsafe-lww-thunks",
    ]);
    assert_eq!(bad.code, 1, "{}", bad.summary);
    let types = anomaly_types(&bad.results);
    assert!(!types.is_empty(), "{}", bad.summary);
    assert!(
        bad.summary
            .contains(&format!("  anomaly types: {}", types.join(", "))),
        "{}",
        bad.summary
    );
    assert!(bad.summary.contains("  not: "), "{}", bad.summary);
    assert!(bad.results["workload"]["not"].is_array());
    assert!(bad.results["workload"]["also-not"].is_array());
}

#[test]
fn the_totally_available_node_is_read_committed_under_partitions_not_more() {
    let args = |models: &'static str, extra: &'static [&'static str]| {
        let mut a = vec![
            "-w",
            "txn-rw-register",
            "--node-count",
            "2",
            "--time-limit",
            "6",
            "--rate",
            "200",
            "--concurrency",
            "2n",
            "--availability",
            "total",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "2",
            "--consistency-models",
            models,
            "--",
            "--totally-available",
        ];
        a.extend_from_slice(extra);
        a
    };
    let ok = run(&args("read-committed", &[]));
    assert_eq!(ok.code, 0, "{}", ok.summary);
    assert_eq!(ok.results["availability"]["valid"], true, "{}", ok.summary);

    let strict = run(&args("strict-serializable", &[]));
    assert_eq!(strict.code, 1, "{}", strict.summary);
    assert!(!anomaly_types(&strict.results).is_empty());

    let dirty = run(&args("read-committed", &["--unsafe-dirty-writes"]));
    assert_eq!(dirty.code, 1, "{}", dirty.summary);
    let types = anomaly_types(&dirty.results);
    assert!(
        types.iter().any(|t| t == "G1a" || t == "G1b"),
        "{types:?}\n{}",
        dirty.summary
    );
    assert_eq!(
        dirty.results["workload"]["not"],
        serde_json::json!(["read-committed"])
    );
}

#[test]
fn a_python_transactional_node_is_valid_and_its_local_variant_is_not() {
    if !have_python() {
        return;
    }
    let script = script();
    let base = [
        "-w",
        "txn-list-append",
        "--bin",
        &script,
        "--node-count",
        "3",
        "--time-limit",
        "5",
        "--rate",
        "50",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "2",
    ];
    let ok = run(&base);
    assert_eq!(ok.code, 0, "{}", ok.summary);
    assert!(ok.results["workload"]["ok-count"].as_u64().unwrap() > 50);

    let local = run(&[&base[..], &["--", "--local"]].concat());
    assert_eq!(local.code, 1, "{}", local.summary);
    assert!(
        !anomaly_types(&local.results).is_empty(),
        "{}",
        local.summary
    );
}

#[test]
fn txn_conflict_is_a_definite_failure() {
    if !have_python() {
        return;
    }
    // Five nodes racing for one lin-kv value: some lose (txn-conflict, 30).
    let script = script();
    let r = run(&[
        "-w",
        "txn-rw-register",
        "--bin",
        &script,
        "--node-count",
        "5",
        "--time-limit",
        "4",
        "--rate",
        "200",
    ]);
    assert_eq!(r.code, 0, "{}", r.summary);
    let fails: Vec<Value> = r
        .history
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|op| op["type"] == "fail")
        .collect();
    assert!(!fails.is_empty(), "no conflicts at all:\n{}", r.summary);
    for op in &fails {
        assert_eq!(op["error"][0], "txn-conflict", "{op}");
    }
    assert_eq!(r.results["workload"]["fail-count"], fails.len());
}

#[test]
fn a_reply_with_its_micro_ops_reordered_is_named_as_malformed() {
    if !have_python() {
        return;
    }
    let script = script();
    let r = run(&[
        "-w",
        "txn-list-append",
        "--bin",
        &script,
        "--node-count",
        "1",
        "--time-limit",
        "3",
        "--rate",
        "30",
        "--",
        "--reorder",
    ]);
    let count = r.results["malformed-reply-count"].as_u64().unwrap();
    assert!(count > 0, "{}", r.summary);
    assert!(
        r.summary
            .contains(&format!("malformed replies to clients: {count}")),
        "{}",
        r.summary
    );
    assert!(
        r.history
            .contains("a reply must return the transaction's micro-ops in order"),
        "{}",
        r.summary
    );
    let named = &r.results["malformed-replies"][0];
    assert_eq!(named["node"], "n0");
    assert_eq!(named["type"], "txn_ok");
    assert!(named["problem"]
        .as_str()
        .unwrap()
        .contains("where the transaction had"));
}

#[test]
fn simulated_sweeps_find_each_broken_variant_and_their_replays_reproduce_it() {
    let variants: [(&str, &str, &[&str]); 3] = [
        (
            "txn-list-append",
            "strict-serializable",
            &["--unsafe-lww-thunks"],
        ),
        (
            "txn-rw-register",
            "strict-serializable",
            &["--totally-available"],
        ),
        (
            "txn-rw-register",
            "read-committed",
            &["--totally-available", "--unsafe-dirty-writes"],
        ),
    ];
    for (workload, models, node_args) in variants {
        let dir = tempfile::tempdir().unwrap();
        let args = [
            &[
                "test",
                "--sim",
                "-w",
                workload,
                "--node-count",
                "2",
                "--time-limit",
                "5",
                "--rate",
                "30",
                "--consistency-models",
                models,
                "--seeds",
                "10",
                "--",
            ][..],
            node_args,
        ]
        .concat();
        let out = lightcone_in(dir.path(), &args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(1), "{node_args:?}: {stdout}");
        let replay = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("replay: "))
            .unwrap_or_else(|| panic!("a failing seed prints its replay: {stdout}"));
        assert!(replay.ends_with(&node_args.join(" ")), "{replay}");
        let args: Vec<&str> = replay.split_whitespace().skip(1).collect();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = lightcone_in(a.path(), &args);
        assert_eq!(first.status.code(), Some(1), "{replay}");
        assert_eq!(lightcone_in(b.path(), &args).status.code(), Some(1));
        let read =
            |d: &Path, f: &str| std::fs::read_to_string(d.join("store/latest").join(f)).unwrap();
        assert_eq!(
            read(a.path(), "history.jsonl"),
            read(b.path(), "history.jsonl"),
            "{replay}"
        );
        let results: Value = serde_json::from_str(&read(a.path(), "results.json")).unwrap();
        let types = anomaly_types(&results);
        assert!(!types.is_empty(), "{replay}");
        let summary = String::from_utf8_lossy(&first.stdout);
        assert!(
            summary.contains(&format!("  anomaly types: {}", types.join(", "))),
            "{summary}"
        );
    }
}

#[test]
fn simulated_sweeps_of_the_reference_nodes_are_valid_under_faults() {
    let dir = tempfile::tempdir().unwrap();
    for (workload, node_args) in [
        ("txn-list-append", &[][..]),
        ("txn-list-append", &["--", "--raft"][..]),
        ("txn-rw-register", &[][..]),
    ] {
        let out = lightcone_in(
            dir.path(),
            &[
                &[
                    "test",
                    "--sim",
                    "-w",
                    workload,
                    "--node-count",
                    "3",
                    "--time-limit",
                    "10",
                    "--rate",
                    "50",
                    "--nemesis",
                    "partition,kill,pause",
                    "--nemesis-interval",
                    "2",
                    "--seeds",
                    "8",
                ][..],
                node_args,
            ]
            .concat(),
        );
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{workload} {node_args:?}: {stdout}"
        );
        assert!(stdout.contains("8 seeds: 8 valid"), "{stdout}");
    }
}
