//! `lightcone check` against Porcupine's test histories: every file listed
//! in ../shared/data/porcupine/expected.tsv must get the listed verdict.
//! The data lives outside the repository; without it the test says
//! SKIPPED and passes (CI always has it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

fn data_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/porcupine");
    if dir.join("expected.tsv").exists() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: ../shared/data/porcupine is absent; the Porcupine conformance suite needs it"
        );
        None
    }
}

#[test]
fn every_porcupine_history_gets_the_expected_verdict() {
    let Some(dir) = data_dir() else {
        return;
    };
    let expected = std::fs::read_to_string(dir.join("expected.tsv")).unwrap();
    let rows: Vec<(String, bool)> = expected
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols[0].to_string(), cols[2] == "true")
        })
        .collect();
    assert!(rows.len() >= 100, "expected.tsv lists the 108 histories");
    let files: Vec<PathBuf> = rows.iter().map(|(f, _)| dir.join(f)).collect();
    let output = Command::new(env!("CARGO_BIN_EXE_lightcone"))
        .arg("check")
        .arg("--json")
        .args(&files)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let verdicts: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        verdicts.len(),
        rows.len(),
        "one verdict per file; stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut wrong = Vec::new();
    for ((file, linearizable), verdict) in rows.iter().zip(&verdicts) {
        assert!(verdict["file"].as_str().unwrap().ends_with(file.as_str()));
        if verdict["valid"] != Value::Bool(*linearizable) {
            wrong.push(format!(
                "{file}: expected {linearizable}, got {}",
                verdict["valid"]
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong verdicts:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // Some are invalid, so the worst verdict decides the exit code.
    assert_eq!(output.status.code(), Some(1));
}
