//! Whole-command benchmark of the transactional checker: `lightcone gen`
//! writes a history to a file, then `lightcone check FILE --model M` runs
//! as a child process, so the time is the user's (reading and parsing the
//! file, the check under the default strict-serializable with its real-time
//! edges, printing, exit) and the memory is the child's own peak resident
//! set (`wait4`'s `ru_maxrss`).
//!
//! `cargo bench -p lightcone --bench check_txn` runs the cases:
//! 10^5 list-append transactions from 50 processes, 10^6 from 30 processes
//! with 1-2 micro-ops each, and 10^5 rw-register transactions from 50
//! processes, each `REPS` times. `-- WORKLOAD TXNS PROCESSES MAX_TXN_LENGTH`
//! runs one case. Prints wall ms, user and system CPU ms, peak MB, and the
//! check's own ms as `lightcone check --json` reports it (`time-ms`).

use std::process::{Command, Stdio};
use std::time::Instant;

const REPS: usize = 5;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let cases: Vec<(String, usize, usize, usize)> = match args.as_slice() {
        [w, txns, procs, len] => vec![(
            w.clone(),
            txns.parse().expect("TXNS is a number"),
            procs.parse().expect("PROCESSES is a number"),
            len.parse().expect("MAX_TXN_LENGTH is a number"),
        )],
        _ => vec![
            ("list-append".into(), 100_000, 50, 4),
            ("rw-register".into(), 100_000, 50, 4),
            ("list-append".into(), 1_000_000, 30, 2),
        ],
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    println!(
        "{:>12} {:>8} {:>6} {:>4} {:>6} {:>8} {:>8} {:>8} {:>8} {:>9} {:>10}",
        "workload",
        "txns",
        "procs",
        "len",
        "MB",
        "wall ms",
        "user ms",
        "sys ms",
        "peak MB",
        "check ms",
        "edges"
    );
    for (workload, txns, processes, max_len) in cases {
        let path = dir.path().join(format!("{workload}-{txns}.jsonl"));
        let file = std::fs::File::create(&path).expect("the history file");
        let status = Command::new(env!("CARGO_BIN_EXE_lightcone"))
            .args(["gen", &workload, "--seed", "42"])
            .args(["--txns", &txns.to_string()])
            .args(["--processes", &processes.to_string()])
            .args(["--max-txn-length", &max_len.to_string()])
            .stdout(file)
            .status()
            .expect("lightcone gen runs");
        assert!(status.success(), "lightcone gen {workload} failed");
        let size = std::fs::metadata(&path).map_or(0, |m| m.len()) as f64 / 1e6;
        for _ in 0..REPS {
            let start = Instant::now();
            let child = Command::new(env!("CARGO_BIN_EXE_lightcone"))
                .arg("check")
                .arg(&path)
                .args(["--model", &workload, "--json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("lightcone check runs");
            let pid = child.id() as libc::pid_t;
            let output = child.wait_with_output_rusage(pid);
            let wall = start.elapsed().as_secs_f64() * 1000.0;
            let (status, usage, stdout) = output;
            assert_eq!(status, 0, "a generated history is valid (exit 0)");
            let json: serde_json::Value =
                serde_json::from_slice(&stdout).expect("lightcone check --json prints JSON");
            let ms = |tv: libc::timeval| tv.tv_sec as f64 * 1000.0 + tv.tv_usec as f64 / 1000.0;
            println!(
                "{:>12} {:>8} {:>6} {:>4} {:>6.0} {:>8.0} {:>8.0} {:>8.0} {:>8} {:>9.0} {:>10}",
                workload,
                txns,
                processes,
                max_len,
                size,
                wall,
                ms(usage.ru_utime),
                ms(usage.ru_stime),
                usage.ru_maxrss / 1024,
                json["time-ms"].as_f64().unwrap_or(f64::NAN),
                json["edge-count"],
            );
        }
    }
}

trait WaitRusage {
    /// Reads the child's stdout to the end, then reaps it with `wait4`:
    /// (exit code, its resource usage, its stdout).
    fn wait_with_output_rusage(self, pid: libc::pid_t) -> (i32, libc::rusage, Vec<u8>);
}

impl WaitRusage for std::process::Child {
    fn wait_with_output_rusage(mut self, pid: libc::pid_t) -> (i32, libc::rusage, Vec<u8>) {
        use std::io::Read;
        let mut stdout = Vec::new();
        if let Some(mut out) = self.stdout.take() {
            out.read_to_end(&mut stdout).expect("the child's stdout");
        }
        let mut status = 0;
        // SAFETY: a zeroed rusage is a valid value for wait4 to fill.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: pid is our own unreaped child; status and usage are valid
        // pointers for the call's duration.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        assert_eq!(reaped, pid, "wait4 reaps the child");
        (libc::WEXITSTATUS(status), usage, stdout)
    }
}
