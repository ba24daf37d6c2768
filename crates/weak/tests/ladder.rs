//! The ladder: tiny hand-written histories, each valid under one model and
//! invalid under the next stronger one (README.md in `ladder/` says what
//! each is). Every model's column of `ladder/expected.tsv` is checked; the
//! linearizable and sequential columns belong to other crates' checkers
//! (and are checked here against a brute force, in differential.rs).

use std::path::Path;

use lightcone_check::Validity;
use lightcone_history::History;
use lightcone_weak::{check, WeakOptions, MODEL_NAMES};

fn ladder() -> Vec<(String, Vec<(String, String)>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ladder");
    let text = std::fs::read_to_string(dir.join("expected.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            assert_eq!(cells.len(), header.len(), "row {l}");
            let verdicts = header[1..]
                .iter()
                .zip(&cells[1..])
                .map(|(m, v)| (m.to_string(), v.to_string()))
                .collect();
            (cells[0].to_string(), verdicts)
        })
        .collect()
}

#[test]
fn every_ladder_history_gets_its_expected_verdicts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ladder");
    let rows = ladder();
    assert!(rows.len() >= 12);
    let mut checked = 0;
    for (file, verdicts) in rows {
        let text = std::fs::read_to_string(dir.join(&file)).unwrap();
        let history = History::from_jsonl(&text).unwrap();
        for (model, expected) in verdicts {
            if !MODEL_NAMES.contains(&model.as_str()) {
                continue;
            }
            let r = check(&history, &model, &WeakOptions::keyed()).unwrap();
            let want = match expected.as_str() {
                "valid" => Validity::Valid,
                "invalid" => Validity::Invalid,
                other => panic!("{file}: {model}: `{other}` is not valid/invalid"),
            };
            assert_eq!(
                r.valid, want,
                "{file}: {model}: {:?} {:?}",
                r.witness, r.reason
            );
            if want == Validity::Invalid {
                let w = r.witness.as_ref().unwrap();
                assert!(!w.ops.is_empty() && !w.description.is_empty());
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 13 * MODEL_NAMES.len());
}

#[test]
fn witnesses_name_the_papers_patterns() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ladder");
    let cases = [
        ("cc-not-cm.jsonl", "causal-memory", "CyclicHB"),
        ("cc-not-cm.jsonl", "causal-convergence", "CyclicCF"),
        ("ccv-not-cm.jsonl", "causal-memory", "WriteHBInitRead"),
        ("ccv-not-cm.jsonl", "pram", "WriteViewInitRead"),
        ("pram-not-cc.jsonl", "causal", "WriteCOInitRead"),
        ("wfr-only.jsonl", "causal", "CyclicCO"),
        (
            "wfr-only.jsonl",
            "writes-follow-reads",
            "CyclicWritesFollowReads",
        ),
        ("mw-with-mr.jsonl", "causal", "WriteCORead"),
        ("thin-air.jsonl", "monotonic-writes", "ThinAirRead"),
        ("ryw-only.jsonl", "read-your-writes", "OwnWriteInitRead"),
        (
            "ryw-own-order.jsonl",
            "read-your-writes",
            "OwnWritesOutOfOrder",
        ),
        ("mr-only.jsonl", "monotonic-reads", "NonMonotonicRead"),
        ("mr-only.jsonl", "pram", "CyclicView"),
    ];
    for (file, model, pattern) in cases {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let history = History::from_jsonl(&text).unwrap();
        let r = check(&history, model, &WeakOptions::keyed()).unwrap();
        let w = r
            .witness
            .unwrap_or_else(|| panic!("{file} {model}: no witness"));
        eprintln!("{file} {model}: {} {:?}: {}", w.name, w.ops, w.description);
        assert_eq!(w.name, pattern, "{file} {model}: {}", w.description);
    }
}
