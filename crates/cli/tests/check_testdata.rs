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

/// A history cut off in the middle of a line (a full disk, a crash) is
/// checked without its torn last line, with a warning naming the file and
/// the line.
#[test]
fn a_torn_last_line_is_left_out_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    let ok = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../check/testdata/register-ok.jsonl"),
    )
    .unwrap();
    let lines = ok.lines().count();
    std::fs::write(&path, format!("{ok}{{\"process\": 2, \"type\": \"inv")).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lightcone"))
        .args(["check", "--model", "register"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("VALID"), "{stdout}");
    let warning = stderr
        .lines()
        .find(|l| l.starts_with("warning:"))
        .unwrap_or_else(|| panic!("no warning: {stderr}"));
    assert!(warning.contains(&path.display().to_string()), "{warning}");
    assert!(
        warning.contains(&format!("line {} is torn", lines + 1)),
        "{warning}"
    );
    assert!(
        warning.contains(&format!("the {lines} ops before it")),
        "{warning}"
    );

    // With --format too, and from standard input.
    let mut child = Command::new(env!("CARGO_BIN_EXE_lightcone"))
        .args(["check", "--model", "register", "--format", "jsonl", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let torn = std::fs::read(&path).unwrap();
    child.stdin.take().unwrap().write_all(&torn).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("warning: -: line 7 is torn"), "{stderr}");
}

/// Only the last line may be torn: a bad line with a newline after it, or
/// before the last line, is an error naming its line and column.
#[test]
fn a_bad_line_that_is_not_the_torn_last_one_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let good = "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n";
    for (text, line) in [
        (format!("{good}{{\"process\":0,\"ty\n"), 2),
        (format!("{good}{{\"process\":0,\"ty\n{good}"), 2),
        (format!("{good}{{\"process\":0,\"ty\n{good}{{\"proc"), 2),
    ] {
        let path = dir.path().join("bad.jsonl");
        std::fs::write(&path, &text).unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_lightcone"))
            .args(["check", "--model", "register"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(4), "{text}: {stderr}");
        assert!(
            stderr.contains(&format!("line {line}, column ")),
            "{text}: {stderr}"
        );
    }
}

/// Client ops pair up as Jepsen's do: a process that invokes while busy,
/// or completes another function than it invoked, makes the history an
/// error naming the line and the fix; a completion with nothing open is
/// refused by every check but the transactional ones, which take it as a
/// whole transaction (Elle's completion-only histories).
#[test]
fn ops_that_do_not_pair_up_are_errors_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let check = |model: &str, text: &str| {
        let path = dir.path().join("h.jsonl");
        std::fs::write(&path, text).unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_lightcone"))
            .args(["check", "--model", model])
            .arg(&path)
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code(), said)
    };
    let op = |p: u64, kind: &str, f: &str| {
        format!("{{\"process\":{p},\"type\":\"{kind}\",\"f\":\"{f}\",\"value\":null}}\n")
    };

    let busy = [
        op(0, "invoke", "read"),
        op(1, "invoke", "read"),
        op(0, "invoke", "read"),
    ]
    .concat();
    let (code, said) = check("register", &busy);
    assert_eq!(code, Some(4), "{said}");
    assert!(said.contains("line 3, column 1: process 0 invokes `read` while its `read` invoked at line 1 is still running"), "{said}");
    assert!(
        said.contains("give this invocation a process of its own"),
        "{said}"
    );

    let other_f = [op(0, "invoke", "write"), op(0, "ok", "read")].concat();
    let (code, said) = check("register", &other_f);
    assert_eq!(code, Some(4), "{said}");
    assert!(
        said.contains(
            "line 2, column 1: process 0 completes `read` (ok) but invoked `write` at line 1"
        ),
        "{said}"
    );

    let lone = [
        op(0, "invoke", "read"),
        op(0, "ok", "read"),
        op(3, "ok", "read"),
        op(4, "info", "read"),
    ]
    .concat();
    let (code, said) = check("register", &lone);
    assert_eq!(code, Some(4), "{said}");
    assert!(
        said.contains(
            "line 3, column 1: process 3 completes `read` (ok) with no invocation of it open"
        ),
        "{said}"
    );
    assert!(said.contains("(and 1 more like it)"), "{said}");
    assert!(said.contains("--model list-append, rw-register"), "{said}");

    // A transaction completed alone is Elle's way of writing one: checked.
    let txn = "{\"process\":0,\"type\":\"ok\",\"f\":\"txn\",\"value\":[[\"append\",1,1]]}\n\
               {\"process\":1,\"type\":\"ok\",\"f\":\"txn\",\"value\":[[\"r\",1,[1]]]}\n";
    let (code, said) = check("list-append", txn);
    assert_eq!(code, Some(0), "{said}");
}
