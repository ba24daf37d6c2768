//! `lightcone check` on the repository's own paired histories
//! (crates/check/testdata): every `-ok` file is valid, every `-bad` one
//! invalid with a witness, through the command line.

use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn paired_histories_get_their_verdicts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../check/testdata");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let Some((model, kind)) = name.rsplit_once('-') else {
            continue;
        };
        let output = Command::new(env!("CARGO_BIN_EXE_lightcone"))
            .args(["check", "--model", model])
            .arg(&path)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let expected = if kind == "ok" { 0 } else { 1 };
        assert_eq!(
            output.status.code(),
            Some(expected),
            "{name}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        if kind == "bad" {
            assert!(stdout.contains("INVALID"), "{name}: {stdout}");
        }
        checked += 1;
    }
    assert_eq!(
        checked, 16,
        "7 linearizability models and kafka, a pair each"
    );
}

#[test]
fn malformed_input_is_an_error_naming_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.jsonl");
    std::fs::write(&path, "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n{\"process\":0,\"type\":\"maybe\"}\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lightcone"))
        .args(["check", "--model", "register"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("line 2, column"), "{stderr}");
}

#[test]
fn standard_input_and_worst_verdict() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../check/testdata");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lightcone"))
        .args(["check", "--model", "register", "-"])
        .arg(dir.join("register-ok.jsonl"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(dir.join("register-bad.jsonl")).unwrap())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.lines().filter(|l| l.contains("VALID")).count(),
        2,
        "{stdout}"
    );
    assert_eq!(output.status.code(), Some(1), "the worst verdict decides");
}
