//! A node process's pipes, read and written without blocking.

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::SeededOptions;
use crate::node::{set_nonblocking, start_process, Spawn};
use crate::reaper;

/// The running process and its pipes.
pub(super) struct Io {
    pub(super) child: Child,
    pub(super) pid: i32,
    pub(super) stdin: ChildStdin,
    pub(super) stdout: ChildStdout,
    pub(super) stderr: ChildStderr,
    pub(super) out: LineBuffer,
    pub(super) err: LineBuffer,
    pub(super) stdout_open: bool,
    pub(super) stderr_open: bool,
    pub(super) token: String,
}

/// Bytes of one stderr line kept in the node's log.
pub(super) const LOG_LINE_BYTES_MAX: usize = 64 * 1024;

impl Io {
    pub(super) fn spawn(
        options: &SeededOptions,
        index: usize,
        seed: u64,
        storage_dir: PathBuf,
        clock_env: &[(String, String)],
    ) -> Result<Io, String> {
        std::fs::create_dir_all(&storage_dir).map_err(|e| {
            format!(
                "its storage folder {} could not be made: {e}",
                storage_dir.display()
            )
        })?;
        let spec = Spawn {
            index,
            id: format!("n{index}"),
            bin: options.bin.clone(),
            args: options.args.clone(),
            run_seed: 0,
            log_path: PathBuf::new(),
            storage_dir,
            log_stderr: false,
            queue_capacity: 0,
            queue_capacity_bytes: 0,
            line_bytes_max: options.line_bytes_max,
            log_bytes_max: 0,
        };
        static STARTS: AtomicU64 = AtomicU64::new(0);
        let token = format!(
            "{}-seeded-{}",
            std::process::id(),
            STARTS.fetch_add(1, Ordering::Relaxed)
        );
        // Python's string hashing is salted per process unless fixed: the
        // order of a set of strings would differ from run to run.
        let mut extra: Vec<(&str, OsString)> = Vec::new();
        if std::env::var_os("PYTHONHASHSEED").is_none() {
            extra.push(("PYTHONHASHSEED", "0".into()));
        }
        for (key, value) in clock_env {
            extra.push((key.as_str(), value.into()));
        }
        let mut child = start_process(&spec, seed, &token, &extra).map_err(|e| format!("{e:?}"))?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        for fd in [stdin.as_raw_fd(), stdout.as_raw_fd(), stderr.as_raw_fd()] {
            set_nonblocking(fd)
                .map_err(|e| format!("its pipes could not be set non-blocking: {e}"))?;
        }
        Ok(Io {
            pid: child.id() as i32,
            child,
            stdin,
            stdout,
            stderr,
            out: LineBuffer::default(),
            err: LineBuffer::default(),
            stdout_open: true,
            stderr_open: true,
            token,
        })
    }

    /// Waits up to `timeout` for output (and, with `writable`, for room in
    /// stdin).
    pub(super) fn wait(&self, writable: bool, timeout: Duration) {
        let mut fds = vec![
            libc::pollfd {
                fd: self.stdout.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.stderr.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        if writable {
            fds.push(libc::pollfd {
                fd: self.stdin.as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            });
        }
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: `fds` is a valid array of `fds.len()` pollfds for the
        // duration of the call; `ts` is a valid timespec; no signal mask.
        unsafe {
            libc::ppoll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                &ts,
                std::ptr::null(),
            );
        }
    }

    /// Bytes written to the node's stdin that it has not read yet.
    pub(super) fn unread_stdin(&self) -> usize {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD on a pipe (either end) stores the bytes in it
        // into the int we pass.
        let ok = unsafe { libc::ioctl(self.stdin.as_raw_fd(), libc::FIONREAD, &mut n) } == 0;
        if ok {
            n.max(0) as usize
        } else {
            0
        }
    }

    /// Kills the node's process group and whatever else of it is left, and
    /// reaps it.
    pub(super) fn kill(&mut self) {
        // SAFETY: kill(2) on the node's own process group.
        unsafe {
            libc::kill(-self.pid, libc::SIGKILL);
        }
        // Its descendants and whatever carries its token; not the holders
        // of its pipes, as process mode also kills: in a sweep, another
        // seed's thread may have just forked, and its child holds copies
        // of every pipe until it execs (seen: a sweep's node killed at
        // its start by another seed's kill).
        reaper::kill_node_processes(self.pid, &[], &self.token);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A line read from a pipe.
pub(super) struct Line {
    pub(super) text: String,
    /// Longer than the bound: `text` is its head.
    pub(super) too_long: bool,
}

/// The unfinished line of a pipe.
#[derive(Default)]
pub(super) struct LineBuffer {
    partial: Vec<u8>,
    /// Bytes of the current line beyond those kept (it is too long).
    skipped: u64,
}

/// Reads everything available from `pipe` without waiting, splitting it
/// into lines (a line over `max` bytes keeps its first `max` and is marked).
/// Returns the bytes read and whether the pipe is still open.
pub(super) fn read_available(
    pipe: &mut impl Read,
    buf: &mut LineBuffer,
    max: usize,
    lines: &mut Vec<Line>,
) -> (usize, bool) {
    let mut chunk = [0u8; 16 * 1024];
    let mut total = 0;
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) => {
                if !buf.partial.is_empty() || buf.skipped > 0 {
                    lines.push(finish_line(buf));
                }
                return (total, false);
            }
            Ok(n) => {
                total += n;
                let mut rest = &chunk[..n];
                while let Some(at) = rest.iter().position(|&b| b == b'\n') {
                    take_bytes(buf, &rest[..at], max);
                    lines.push(finish_line(buf));
                    rest = &rest[at + 1..];
                }
                take_bytes(buf, rest, max);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (total, true),
            Err(_) => return (total, false),
        }
    }
}

fn take_bytes(buf: &mut LineBuffer, bytes: &[u8], max: usize) {
    let room = max.saturating_sub(buf.partial.len());
    let kept = bytes.len().min(room);
    buf.partial.extend_from_slice(&bytes[..kept]);
    buf.skipped += (bytes.len() - kept) as u64;
}

fn finish_line(buf: &mut LineBuffer) -> Line {
    let text = String::from_utf8_lossy(&buf.partial)
        .trim_end_matches('\r')
        .to_string();
    let too_long = buf.skipped > 0;
    buf.partial.clear();
    buf.skipped = 0;
    Line { text, too_long }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_bounded() {
        let mut buf = LineBuffer::default();
        let mut lines = Vec::new();
        let mut input: &[u8] = b"{\"a\":1}\nxxxxxxxxxxxxxxxxxxxx\nlast";
        let (n, open) = read_available(&mut input, &mut buf, 10, &mut lines);
        assert_eq!(n, 33);
        assert!(!open, "a slice ends");
        let got: Vec<(&str, bool)> = lines
            .iter()
            .map(|l| (l.text.as_str(), l.too_long))
            .collect();
        assert_eq!(
            got,
            vec![("{\"a\":1}", false), ("xxxxxxxxxx", true), ("last", false)]
        );
    }
}
