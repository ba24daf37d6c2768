//! Is a process blocked? A look at `/proc/<pid>/task/*`, for tests and
//! tools; the runner has its own quiescence detection.
//!
//! A process is quiet when every thread is sleeping (state `S`), no thread
//! used CPU between two looks, and its virtual clock has no overdue wait
//! (a thread that virtual time released but that has not run yet).

use crate::VirtualClock;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::time::Duration;

/// One look at a process's threads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Every thread was in state `S` (interruptible sleep).
    pub all_sleeping: bool,
    /// Per thread id, the CPU time it has used (schedstat's first field, ns).
    pub cpu_ns: BTreeMap<u32, u64>,
}

/// Looks at every thread of `pid` once.
pub fn sample(pid: u32) -> io::Result<Sample> {
    let mut all_sleeping = true;
    let mut cpu_ns = BTreeMap::new();
    for entry in fs::read_dir(format!("/proc/{pid}/task"))? {
        let entry = entry?;
        let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // A thread can end between read_dir and these reads: skip it.
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Ok(schedstat) = fs::read_to_string(entry.path().join("schedstat")) else {
            continue;
        };
        // The state follows the last ')' (the command name may hold one).
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next());
        if state != Some('S') {
            all_sleeping = false;
        }
        let cpu = schedstat
            .split_whitespace()
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        cpu_ns.insert(tid, cpu);
    }
    Ok(Sample {
        all_sleeping,
        cpu_ns,
    })
}

/// Whether two looks `settle` apart find `pid` quiet (see the module docs).
/// Always takes `settle`, so that a loop over it never spins.
pub fn quiet(pid: u32, clock: Option<&VirtualClock>, settle: Duration) -> io::Result<bool> {
    let first = sample(pid)?;
    std::thread::sleep(settle);
    if !first.all_sleeping || clock.is_some_and(|c| c.overdue() > 0) {
        return Ok(false);
    }
    let second = sample(pid)?;
    Ok(second.all_sleeping
        && first.cpu_ns == second.cpu_ns
        && clock.is_none_or(|c| c.overdue() == 0))
}

/// Looks until `pid` is quiet, at most `tries` times (each try takes at
/// least `settle`). Returns whether it became quiet.
pub fn wait_quiet(
    pid: u32,
    clock: Option<&VirtualClock>,
    settle: Duration,
    tries: u32,
) -> io::Result<bool> {
    for _ in 0..tries {
        if quiet(pid, clock, settle)? {
            return Ok(true);
        }
    }
    Ok(false)
}
