//! What the command-line test files share: running the built `lightcone`
//! binary, and whether the foreign (Python) nodes can run. Each test file
//! is its own crate and uses some of these, hence the `dead_code` allow.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `lightcone ARGS` in the current folder, with no standard input.
pub fn lightcone(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lightcone"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Runs `lightcone ARGS` in `dir` (where `lightcone test` writes its
/// store), with no standard input.
pub fn lightcone_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lightcone"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Whether `python3` runs; if not, says the tests that need it are
/// SKIPPED.
pub fn have_python() -> bool {
    let ok = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: python3 not found; the foreign-node tests need it");
    }
    ok
}
