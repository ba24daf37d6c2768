//! Whether a node process is quiescent: every thread of it and of its
//! descendants asleep, and none of them run between two looks.
//!
//! The facts come from `/proc`: a thread's state (`task/<tid>/stat`), how
//! long and how many times it has run (`task/<tid>/schedstat`: run time in
//! ns and the count of times it was put on a CPU), its children
//! (`task/<tid>/children`), and, for the report, the system call it is
//! blocked in (`task/<tid>/syscall`).
//!
//! Why two looks suffice: a sleeping thread wakes only when something
//! wakes it. Inside the process set that is another thread, which must run
//! to do it; a thread that ran between the looks has a different run count
//! in the second. Outside it there is the workbench (which is not writing
//! while it looks), and timers: a thread asleep on the wall clock may wake
//! later by itself. That is the one thing the looks cannot see, and why
//! [`Look::timer_sleepers`] counts the threads asleep on a timer.

use std::fs;
use std::io::Read;

/// One thread, as seen in one look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadSeen {
    pub tid: i32,
    /// The state letter of `stat` (R running, S sleeping, D disk wait, T
    /// stopped, Z zombie...).
    pub state: u8,
    /// `schedstat`'s run time (ns) and run count: any run changes both.
    pub run_ns: u64,
    pub run_count: u64,
}

impl ThreadSeen {
    /// Asleep until something wakes it (interruptible sleep), stopped, or
    /// dead. A thread in disk wait (`D`) is working.
    pub fn is_asleep(&self) -> bool {
        matches!(self.state, b'S' | b'T' | b't' | b'Z' | b'X' | b'I')
    }
}

/// Every thread of a process and its descendants, sorted by thread id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Look {
    pub threads: Vec<ThreadSeen>,
}

impl Look {
    /// Every thread asleep.
    pub fn all_asleep(&self) -> bool {
        self.threads.iter().all(ThreadSeen::is_asleep)
    }

    /// Quiet: every thread asleep in this look and in `earlier`, the same
    /// threads, and none of them has run in between.
    pub fn quiet_since(&self, earlier: &Look) -> bool {
        self.all_asleep() && earlier.all_asleep() && self.threads == earlier.threads
    }
}

/// A reusable reader of `/proc` (one buffer for all the files).
#[derive(Debug, Default)]
pub struct ProcReader {
    buf: String,
}

impl ProcReader {
    /// Looks at `pid` and its descendants. A process that is gone has no
    /// threads; a thread that ends during the look is left out.
    pub fn look(&mut self, pid: i32) -> Look {
        let mut threads = Vec::new();
        let mut pending = vec![pid];
        // A bound on the processes followed: a node that forks without end
        // is still looked at, in part.
        let mut processes = 0;
        while let Some(p) = pending.pop() {
            processes += 1;
            if processes > PROCESSES_MAX {
                break;
            }
            for tid in thread_ids(p) {
                if let Some(seen) = self.thread(p, tid) {
                    threads.push(seen);
                }
                if self.read(&format!("/proc/{p}/task/{tid}/children")) {
                    pending.extend(
                        self.buf
                            .split_whitespace()
                            .filter_map(|c| c.parse::<i32>().ok()),
                    );
                }
            }
        }
        threads.sort_by_key(|t| t.tid);
        Look { threads }
    }

    fn thread(&mut self, pid: i32, tid: i32) -> Option<ThreadSeen> {
        if !self.read(&format!("/proc/{pid}/task/{tid}/stat")) {
            return None;
        }
        // `pid (comm) S ...`: the comm may hold spaces and parentheses, so
        // the state is the letter after the last `)`.
        let after = self.buf.rfind(')')?;
        let state = *self.buf.as_bytes().get(after + 2)?;
        if !self.read(&format!("/proc/{pid}/task/{tid}/schedstat")) {
            return None;
        }
        let mut fields = self.buf.split_whitespace();
        let run_ns = fields.next()?.parse().ok()?;
        let run_count = fields.nth(1)?.parse().ok()?;
        Some(ThreadSeen {
            tid,
            state,
            run_ns,
            run_count,
        })
    }

    /// The system call each thread of `pid` (not its descendants) is
    /// blocked in, by name (`running` when not in one).
    pub fn blocked_in(&mut self, pid: i32) -> Vec<&'static str> {
        let mut calls = Vec::new();
        self.each_syscall(pid, |text| {
            calls.push(syscall_name(text));
            false
        });
        calls
    }

    /// Whether some thread of `pid` is blocked reading its standard input
    /// (a `read` of descriptor 0): the node has started and waits for a
    /// line.
    pub fn reading_stdin(&mut self, pid: i32) -> bool {
        self.each_syscall(pid, |text| {
            let mut words = text.split_whitespace();
            let call = words.next().map(syscall_name);
            call == Some("read") && words.next() == Some("0x0")
        })
    }

    /// Calls `f` with each thread's `syscall` file of `pid` until it says
    /// true; says whether it did.
    fn each_syscall(&mut self, pid: i32, mut f: impl FnMut(&str) -> bool) -> bool {
        for tid in thread_ids(pid) {
            if self.read(&format!("/proc/{pid}/task/{tid}/syscall")) && f(&self.buf) {
                return true;
            }
        }
        false
    }

    /// Reads a small /proc file into the buffer; false if it is gone.
    fn read(&mut self, path: &str) -> bool {
        self.buf.clear();
        match fs::File::open(path) {
            Ok(mut f) => f.read_to_string(&mut self.buf).is_ok(),
            Err(_) => false,
        }
    }
}

/// The thread ids of `pid` (none if it is gone).
fn thread_ids(pid: i32) -> Vec<i32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| t.file_name().to_str().and_then(|s| s.parse().ok()))
        .collect()
}

/// Processes followed in one look, at most.
const PROCESSES_MAX: usize = 64;

/// The name of the call in a `syscall` file's text: its number first, or
/// `running`, or `-1` (blocked, but not in a system call).
pub fn syscall_name(text: &str) -> &'static str {
    let first = text.split_whitespace().next().unwrap_or("");
    if first == "running" {
        return "running";
    }
    let Ok(number) = first.parse::<i64>() else {
        return "unknown";
    };
    SYSCALL_NAMES
        .iter()
        .find(|(n, _)| *n == number)
        .map_or("other", |(_, name)| name)
}

/// Whether a blocked call is a sleep on a timer: a thread in it wakes by
/// itself, on the wall clock.
pub fn is_timer_sleep(name: &str) -> bool {
    matches!(name, "nanosleep" | "clock_nanosleep")
}

/// The calls a node's threads are usually blocked in.
const SYSCALL_NAMES: &[(i64, &str)] = &[
    (libc::SYS_read, "read"),
    (libc::SYS_write, "write"),
    (libc::SYS_futex, "futex"),
    (libc::SYS_ppoll, "ppoll"),
    (libc::SYS_pselect6, "pselect6"),
    (libc::SYS_epoll_pwait, "epoll_pwait"),
    (libc::SYS_nanosleep, "nanosleep"),
    (libc::SYS_clock_nanosleep, "clock_nanosleep"),
    (libc::SYS_wait4, "wait4"),
    (libc::SYS_waitid, "waitid"),
    (libc::SYS_accept4, "accept4"),
    (libc::SYS_recvfrom, "recvfrom"),
    (libc::SYS_rt_sigtimedwait, "rt_sigtimedwait"),
    #[cfg(target_arch = "x86_64")]
    (libc::SYS_poll, "poll"),
    #[cfg(target_arch = "x86_64")]
    (libc::SYS_select, "select"),
    #[cfg(target_arch = "x86_64")]
    (libc::SYS_epoll_wait, "epoll_wait"),
    #[cfg(target_arch = "x86_64")]
    (libc::SYS_pause, "pause"),
    (-1, "none"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    fn seen(tid: i32, state: u8, run_count: u64) -> ThreadSeen {
        ThreadSeen {
            tid,
            state,
            run_ns: run_count * 1000,
            run_count,
        }
    }

    #[test]
    fn quiet_needs_the_same_sleeping_threads_unrun() {
        let a = Look {
            threads: vec![seen(1, b'S', 5), seen(2, b'S', 7)],
        };
        assert!(a.quiet_since(&a.clone()));
        let ran = Look {
            threads: vec![seen(1, b'S', 6), seen(2, b'S', 7)],
        };
        assert!(!ran.quiet_since(&a));
        let running = Look {
            threads: vec![seen(1, b'R', 5), seen(2, b'S', 7)],
        };
        assert!(!running.quiet_since(&running.clone()));
        let disk = Look {
            threads: vec![seen(1, b'D', 5)],
        };
        assert!(!disk.quiet_since(&disk.clone()));
        let new_thread = Look {
            threads: vec![seen(1, b'S', 5), seen(2, b'S', 7), seen(3, b'S', 1)],
        };
        assert!(!new_thread.quiet_since(&a));
    }

    #[test]
    fn syscall_names_are_read_from_the_file_text() {
        assert_eq!(syscall_name("running\n"), "running");
        assert_eq!(
            syscall_name(&format!(
                "{} 0x0 0x7ff 0x1000 0x0 0x0 0x0 0x7ff 0x7ff\n",
                libc::SYS_read
            )),
            "read"
        );
        assert_eq!(syscall_name("-1 0x7ffd 0x7f\n"), "none");
        assert_eq!(syscall_name("99999 0x0"), "other");
        assert!(is_timer_sleep(syscall_name(&format!(
            "{} 0x1",
            libc::SYS_clock_nanosleep
        ))));
    }

    /// A real process: `cat` blocked on its stdin is quiet, and is seen
    /// running (or having run) after it is given a line.
    #[test]
    fn a_process_blocked_on_its_stdin_is_quiet_and_a_line_wakes_it() {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cat starts");
        let pid = child.id() as i32;
        let mut reader = ProcReader::default();
        // Wait (bounded) until it has started and blocked.
        let mut quiet = false;
        let mut before = reader.look(pid);
        for _ in 0..2000 {
            std::thread::sleep(std::time::Duration::from_millis(1));
            let now = reader.look(pid);
            if !now.threads.is_empty() && now.quiet_since(&before) {
                quiet = true;
                break;
            }
            before = now;
        }
        assert!(quiet, "cat never went quiet: {before:?}");
        assert_eq!(reader.blocked_in(pid), vec!["read"]);
        assert!(reader.reading_stdin(pid), "cat reads its stdin");
        let stdin = child.stdin.as_mut().expect("piped");
        stdin.write_all(b"hello\n").expect("written");
        let after = reader.look(pid);
        assert!(
            !after.quiet_since(&before),
            "a line written to cat must show as work: {before:?} then {after:?}"
        );
        child.kill().ok();
        child.wait().ok();
    }
}
