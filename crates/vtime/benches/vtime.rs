//! The costs recorded in NOTES-vtime.md. `cargo bench -p lightcone-vtime`
//! (or `cargo bench -p lightcone-vtime -- quick` for fewer iterations).
//!
//! 1. An intercepted clock_gettime(CLOCK_MONOTONIC) against the real vDSO
//!    call, in a C loop (benches/c/clock_loop.c).
//! 2. Wake latency: from the moment the workbench calls advance_to to the
//!    moment a C sleeper (benches/c/wake.c) runs again, over many wakes.
//! 3. For the Go section: the cost of stopping a process at a system call
//!    with ptrace, PTRACE_SYSEMU, seccomp RET_TRACE and seccomp user
//!    notification (benches/c/trace_cost.c).

use lightcone_vtime::{preload_library, quiet, VirtualClock};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn compile(dir: &Path, name: &str) -> PathBuf {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("benches/c/{name}.c"));
    let binary = dir.join(name);
    let status = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&binary)
        .arg(&source)
        .arg("-lpthread")
        .status()
        .expect("run cc");
    assert!(status.success(), "cc {} failed", source.display());
    binary
}

fn monotonic_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out pointer. This process is not preloaded: the real clock.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn clock_read_cost(dir: &Path, library: &Path, calls: u64) {
    let binary = compile(dir, "clock_loop");
    let run = |env: Vec<(String, String)>| {
        let out = Command::new(&binary)
            .arg(calls.to_string())
            .envs(env)
            .output()
            .expect("run clock_loop");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let clock = VirtualClock::create(&dir.join("clock_loop.vtime")).unwrap();
    for round in 1..=3 {
        let real = run(Vec::new());
        let virtual_ = run(clock.env_over(library, None));
        println!("clock_gettime round {round}: real vDSO {real} ns/call, intercepted {virtual_} ns/call ({calls} calls)");
    }
    println!(
        "clock reads counted by the library: {}",
        clock.stats().clock_read_count
    );
}

fn wake_latency(dir: &Path, library: &Path, wakes: usize) {
    let binary = compile(dir, "wake");
    let clock = VirtualClock::create(&dir.join("wake.vtime")).unwrap();
    let mut child = Command::new(&binary)
        .arg(wakes.to_string())
        .envs(clock.env_over(library, None))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut latencies_ns = Vec::with_capacity(wakes);
    for _ in 0..wakes {
        // Wait until the sleeper is registered and blocked in the kernel.
        let deadline = loop {
            if let Some(d) = clock.next_deadline() {
                if quiet::sample(pid).unwrap().all_sleeping {
                    break d;
                }
            }
            std::thread::yield_now();
        };
        let before = monotonic_ns();
        clock.advance_to(deadline);
        let woke: u64 = lines.next().unwrap().unwrap().parse().unwrap();
        latencies_ns.push(woke.saturating_sub(before));
    }
    child.wait().unwrap();
    latencies_ns.sort_unstable();
    let at = |q: f64| latencies_ns[((latencies_ns.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    println!(
        "wake latency advance_to -> sleeper running, {wakes} wakes: median {:.1} us, p90 {:.1} us, p99 {:.1} us, max {:.1} us",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}

fn trace_cost(dir: &Path, calls: u64) {
    if !cfg!(target_arch = "x86_64") {
        println!("trace costs: x86_64 only, skipped");
        return;
    }
    let binary = compile(dir, "trace_cost");
    for mode in ["plain", "ptrace", "sysemu", "seccomp", "notify"] {
        let out = Command::new(&binary)
            .args([mode, &calls.to_string()])
            .output()
            .unwrap();
        print!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let dir = std::env::temp_dir().join(format!("lightcone-vtime-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let library = preload_library(&dir).unwrap();
    clock_read_cost(&dir, &library, if quick { 1_000_000 } else { 10_000_000 });
    wake_latency(&dir, &library, if quick { 200 } else { 2000 });
    trace_cost(&dir, if quick { 5_000 } else { 50_000 });
    let _ = std::fs::remove_dir_all(&dir);
}
