//! results.json keeps Maelstrom's keys: for every workload, the sections
//! and key names that ../shared/docs/MAELSTROM.md lists for Maelstrom's
//! results.edn (with `valid?` spelt `valid`, as JSON has no `?` keys;
//! `perf`, `timeline` and `exceptions` are Maelstrom's plots and crash
//! reports, which lightcone does not write). Where ../shared is absent the
//! test says SKIPPED and passes (CI always has it).

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

/// The words of the first backquoted group after `marker` in `doc`
/// (`valid?` read as `valid`).
fn listed(doc: &str, marker: &str) -> Vec<String> {
    let start = doc
        .find(marker)
        .unwrap_or_else(|| panic!("MAELSTROM.md mentions {marker}"));
    let group = doc[start + marker.len()..]
        .split('`')
        .nth(1)
        .expect("a backquoted group follows");
    group
        .split(|c: char| c.is_whitespace() || "{},".contains(c))
        .filter(|w| !w.is_empty())
        .map(|w| w.trim_end_matches('?').to_string())
        .collect()
}

fn run(workload: &str, dir: &Path) -> Value {
    let status = Command::new(env!("CARGO_BIN_EXE_lightcone"))
        .args(["test", "--sim", "-w", workload, "--node-count", "2"])
        .args(["--concurrency", "4", "--time-limit", "2", "--rate", "20"])
        .args(["--recovery-time", "1", "--seed", "5"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(status.status.code().is_some(), "{workload}");
    let text = std::fs::read_to_string(dir.join("store/latest/results.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_workload_keeps_maelstroms_result_keys() {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/docs/MAELSTROM.md");
    let Ok(doc) = std::fs::read_to_string(&doc_path) else {
        eprintln!("SKIPPED: ../shared/docs/MAELSTROM.md is absent; the results-keys test needs it");
        return;
    };
    let results = &doc[doc
        .find("## Results")
        .expect("MAELSTROM.md has a Results section")..];
    let top: Vec<String> = listed(results, "with keys")
        .into_iter()
        .filter(|k| !["perf", "timeline", "exceptions"].contains(&k.as_str()))
        .collect();
    let stats = listed(results, "`stats` =");
    let net_classes = listed(results, "`net` =");
    // "each with `send-count recv-count msg-count` and, for all and
    // servers, `msgs-per-op`": the first group is every class's.
    let traffic = listed(results, "each with");
    let availability = listed(results, "`availability` =");
    assert_eq!(top, ["stats", "availability", "net", "workload", "valid"]);
    assert!(stats.contains(&"by-f".to_string()), "{stats:?}");

    for workload in lightcone_workload::NAMES {
        let dir = tempfile::tempdir().unwrap();
        let r = run(workload, dir.path());
        for key in &top {
            assert!(r.get(key).is_some(), "{workload}: results.json lacks {key}");
        }
        for key in &stats {
            assert!(
                r["stats"].get(key).is_some(),
                "{workload}: stats lacks {key}"
            );
        }
        for class in &net_classes {
            for key in &traffic {
                assert!(
                    r["net"][class].get(key).is_some(),
                    "{workload}: net.{class} lacks {key}"
                );
            }
        }
        for class in ["all", "servers"] {
            assert!(
                r["net"][class]["msgs-per-op"].is_number(),
                "{workload}: net.{class}"
            );
        }
        for key in &availability {
            assert!(
                r["availability"].get(key).is_some(),
                "{workload}: availability lacks {key}"
            );
        }
        assert!(r["workload"]["valid"].is_boolean() || r["workload"]["valid"] == "unknown");
    }
}
