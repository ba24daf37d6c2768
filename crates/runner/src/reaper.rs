//! Every descendant of a node dies with it.
//!
//! A node may fork helpers, and a daemon forks twice and calls `setsid`, so
//! its grandchild leaves the node's process group and, once the middle
//! process exits, is no longer anyone's descendant. The workbench makes
//! itself a child subreaper (`PR_SET_CHILD_SUBREAPER`): such orphans are
//! re-parented to it rather than to init, so they stay in its process tree.
//! A node's processes are then found, when it is killed, three ways, from
//! `/proc`: its descendants; processes holding one of its pipes (which keep
//! the workbench's readers from seeing end of file); and orphans that carry
//! its token (`LIGHTCONE_NODE_TOKEN`, inherited through the environment).
//! At the end of a run every remaining descendant of the workbench is
//! killed. Killed orphans are the workbench's children, and are reaped.
//!
//! Nodes also get a parent-death signal (`PR_SET_PDEATHSIG`), so that a
//! SIGKILLed or OOM-killed workbench takes them along.
//!
//! Linux only, like the rest of the process mode; where `/proc` cannot be
//! read, the process group is all that is killed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// The environment variable that marks a node's processes.
pub const TOKEN_VAR: &str = "LIGHTCONE_NODE_TOKEN";

/// Rounds of finding and killing a node's processes: a process may fork
/// between a scan and the kill.
const KILL_ROUNDS_MAX: usize = 5;
/// How long killed orphans get to be reaped.
const REAP_WAIT: Duration = Duration::from_millis(500);

/// Makes this process a child subreaper: orphaned descendants are
/// re-parented to it. Says whether the kernel agreed.
pub fn become_subreaper() -> bool {
    // SAFETY: prctl(2) with PR_SET_CHILD_SUBREAPER takes an integer flag
    // and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 }
}

/// The inode of a pipe end, as `/proc/PID/fd/N` links name it
/// (`pipe:[INODE]`).
pub fn pipe_inode(fd: &impl AsRawFd) -> Option<u64> {
    // SAFETY: fstat(2) fills the struct we pass; zeroed is a valid initial
    // value for this plain C struct.
    let stat = unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        if libc::fstat(fd.as_raw_fd(), &mut stat) != 0 {
            return None;
        }
        stat
    };
    Some(stat.st_ino)
}

/// One process seen in `/proc`.
struct Proc {
    pid: i32,
    ppid: i32,
}

fn processes() -> Vec<Proc> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (comm) state ppid ...": comm may hold spaces and
            // parentheses, so read after the last ')'.
            let rest = &stat[stat.rfind(')')? + 1..];
            let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
            Some(Proc { pid, ppid })
        })
        .collect()
}

/// `root`'s descendants (not `root` itself), from a scan of `/proc`.
fn descendants(all: &[Proc], root: i32) -> BTreeSet<i32> {
    let mut children: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for p in all {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut found = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        for &child in children.get(&pid).into_iter().flatten() {
            if found.insert(child) {
                stack.push(child);
            }
        }
    }
    found
}

/// Whether `pid` holds an open descriptor on one of `inodes`' pipes.
fn holds_pipe(pid: i32, inodes: &[u64]) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        fs::read_link(fd.path()).is_ok_and(|target| {
            let target = target.to_string_lossy();
            target
                .strip_prefix("pipe:[")
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok())
                .is_some_and(|inode| inodes.contains(&inode))
        })
    })
}

/// Whether `pid`'s environment holds `TOKEN_VAR=token`.
fn carries_token(pid: i32, token: &str) -> bool {
    let Ok(environ) = fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    let want = format!("{TOKEN_VAR}={token}");
    environ.split(|&b| b == 0).any(|var| var == want.as_bytes())
}

/// A node's processes besides its own: its descendants, the workbench's
/// descendants that hold one of its pipes, and orphans re-parented to the
/// workbench that carry its token.
fn node_processes(node_pid: i32, pipe_inodes: &[u64], token: &str) -> BTreeSet<i32> {
    let all = processes();
    let me = std::process::id() as i32;
    let mut found = descendants(&all, node_pid);
    for pid in descendants(&all, me) {
        if pid != node_pid
            && !found.contains(&pid)
            && (holds_pipe(pid, pipe_inodes) || carries_token(pid, token))
        {
            found.insert(pid);
        }
    }
    found
}

fn signal(pid: i32, sig: libc::c_int) {
    // SAFETY: kill(2) sends a signal; it touches no memory of ours.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// Kills every process of a node besides its own (which its process group
/// and `Child` handle take care of), and reaps those that were the
/// workbench's children. Returns how many were killed.
pub fn kill_node_processes(node_pid: i32, pipe_inodes: &[u64], token: &str) -> usize {
    kill_in_rounds(|| node_processes(node_pid, pipe_inodes, token))
}

/// Kills every descendant of the workbench but `spared` (the node
/// processes it still holds a `Child` for, which it waits for itself), and
/// reaps them: the end of a run. Returns how many were killed.
pub fn kill_all_descendants(spared: &[i32]) -> usize {
    let me = std::process::id() as i32;
    kill_in_rounds(|| {
        let mut found = descendants(&processes(), me);
        found.retain(|pid| !spared.contains(pid));
        found
    })
}

/// Kills what `find` finds, in rounds until it finds nothing alive that
/// was not killed (a process may fork between a scan and the kill), at
/// most [`KILL_ROUNDS_MAX`]; then reaps them.
fn kill_in_rounds(find: impl Fn() -> BTreeSet<i32>) -> usize {
    let mut killed = BTreeSet::new();
    for _ in 0..KILL_ROUNDS_MAX {
        let found: Vec<i32> = find()
            .into_iter()
            .filter(|pid| !killed.contains(pid) || alive(*pid))
            .collect();
        if found.is_empty() {
            break;
        }
        for &pid in &found {
            // A paused process must run to die.
            signal(pid, libc::SIGCONT);
            signal(pid, libc::SIGKILL);
            killed.insert(pid);
        }
    }
    reap(&killed);
    killed.len()
}

/// Whether `pid` still runs (a zombie does not).
fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rfind(')')
            .and_then(|at| stat[at + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// Waits (within [`REAP_WAIT`]) for those of `pids` that are the
/// workbench's children, so that no zombie is left. Only these pids are
/// waited for: a `Child` of the standard library keeps its own.
fn reap(pids: &BTreeSet<i32>) {
    let deadline = Instant::now() + REAP_WAIT;
    let mut left: Vec<i32> = pids.iter().copied().collect();
    while !left.is_empty() {
        left.retain(|&pid| {
            let mut status = 0;
            // SAFETY: waitpid(2) on one pid with WNOHANG; `status` is ours.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            // 0: still running. -1 (ECHILD): not our child, or reaped.
            r == 0
        });
        if left.is_empty() || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_descendants_through_the_whole_tree() {
        let all = [
            Proc { pid: 1, ppid: 0 },
            Proc { pid: 10, ppid: 1 },
            Proc { pid: 11, ppid: 10 },
            Proc { pid: 12, ppid: 11 },
            Proc { pid: 20, ppid: 1 },
        ];
        assert_eq!(
            descendants(&all, 10),
            BTreeSet::from([11, 12]),
            "children and grandchildren, not siblings"
        );
        assert!(descendants(&all, 12).is_empty());
    }

    #[test]
    fn reads_this_process_and_its_pipes_from_proc() {
        let me = std::process::id() as i32;
        assert!(processes().iter().any(|p| p.pid == me));
        assert!(alive(me));
        let (reader, _writer) = std::io::pipe().unwrap();
        let inode = pipe_inode(&reader).unwrap();
        assert!(holds_pipe(me, &[inode]));
        assert!(!holds_pipe(me, &[inode + 1_000_000_007]));
    }
}
