//! Peak memory of `lightcone check` on a history with one huge value, as
//! a multiple of the file's size: the case of issue 17, where a 50 MB EDN
//! vector took 68 times its size.
//!
//! Each case writes a history to a file: one process invokes `write` of a
//! vector of integers and completes it (`ok`, the same vector), about 50 MB
//! in all, in EDN (a top-level vector of op maps) and in JSONL (lines as
//! the workbench writes them); and, in EDN, a single invocation of a
//! 50 MB vector of one-digit integers (the worst case: two bytes of text
//! become a 32-byte JSON value). `lightcone check FILE --model M` then
//! runs as a child process and its peak resident set is read with `wait4`
//! (`ru_maxrss`), as `/usr/bin/time -f "%M KB"` reads it.
//!
//! `cargo bench -p lightcone --bench check_memory` prints, per case and
//! model, the file's size, the peak and their ratio. `register` is a
//! linearizability check (which copies each op's value once more into its
//! own model ops); `kafka` only reads the history here (no send or poll
//! ops, so its verdict is invalid: nothing to check), so its peak is the
//! reading's.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// Each history's size, about.
const FILE_BYTES: usize = 50_000_000;

fn main() {
    let dir = std::env::temp_dir().join(format!("lightcone-check-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let cases = [
        ("write-pair.edn", write_pair_edn()),
        ("write-pair.jsonl", write_pair_jsonl()),
        ("one-digit-ints.edn", one_digit_edn()),
    ];
    println!(
        "{:>20} {:>9} {:>9} {:>9} {:>6}",
        "history", "model", "file MB", "peak MB", "x file"
    );
    for (name, text) in cases {
        let path = dir.join(name);
        std::fs::write(&path, &text).expect("the history is written");
        for model in ["register", "kafka"] {
            let peak = peak_rss_bytes(&path, model);
            println!(
                "{name:>20} {model:>9} {:>9.1} {:>9.1} {:>6.1}",
                text.len() as f64 / 1e6,
                peak as f64 / 1e6,
                peak as f64 / text.len() as f64
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The integers 0, 1, 2... joined by `sep` up to about `bytes` of text.
fn integers(bytes: usize, sep: char) -> String {
    let mut out = String::with_capacity(bytes + 16);
    let mut i = 0u64;
    while out.len() < bytes {
        if i > 0 {
            out.push(sep);
        }
        write!(out, "{i}").expect("writing to a string");
        i += 1;
    }
    out
}

fn write_pair_edn() -> String {
    let v = integers(FILE_BYTES / 2, ' ');
    format!(
        "[{{:process 0, :type :invoke, :f :write, :value [{v}]}}\n {{:process 0, :type :ok, :f :write, :value [{v}]}}]\n"
    )
}

fn write_pair_jsonl() -> String {
    let v = integers(FILE_BYTES / 2, ',');
    format!(
        "{{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":[{v}]}}\n\
         {{\"index\":1,\"time\":2,\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"value\":[{v}]}}\n"
    )
}

fn one_digit_edn() -> String {
    let mut v = String::with_capacity(FILE_BYTES);
    for i in 0..FILE_BYTES / 2 {
        v.push(char::from(b'0' + (i % 10) as u8));
        v.push(' ');
    }
    format!("{{:process 0, :type :invoke, :f :write, :value [{v}]}}\n")
}

/// Runs `lightcone check --model MODEL PATH` and returns its peak resident
/// set in bytes.
// The child is reaped by wait4 (for its resource usage), which clippy
// cannot see.
#[allow(clippy::zombie_processes)]
fn peak_rss_bytes(path: &Path, model: &str) -> u64 {
    let child = Command::new(env!("CARGO_BIN_EXE_lightcone"))
        .args(["check", "--model", model])
        .arg(path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("lightcone runs");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own unreaped child; status and usage are valid
    // pointers for the call's duration.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4 reaps the child");
    // A verdict (valid, invalid or unknown), not an error.
    assert!(
        libc::WEXITSTATUS(status) <= 2,
        "{model} on {} gave a verdict",
        path.display()
    );
    // ru_maxrss is in kilobytes on Linux.
    usage.ru_maxrss as u64 * 1024
}
