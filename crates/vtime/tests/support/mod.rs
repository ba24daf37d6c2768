//! Drives real child processes under a VirtualClock.

#![allow(dead_code)]

use lightcone_vtime::{preload_library, quiet, VirtualClock};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::Duration;

/// How long the child must stay silent to count as "printed nothing".
pub const SILENCE: Duration = Duration::from_millis(300);
/// A bound, not a timing assertion: a line that does not come within this
/// long means the test is broken.
pub const LINE_LIMIT: Duration = Duration::from_secs(20);
const SETTLE: Duration = Duration::from_millis(20);
const QUIET_TRIES: u32 = 500;

pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lightcone-vtime-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The real python3 binary (not a pyenv shim, which is a shell script that
/// would load the library too), or None with a SKIPPED line.
pub fn python3(test: &str) -> Option<PathBuf> {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            Some(PathBuf::from(String::from_utf8(o.stdout).unwrap().trim()))
        }
        _ => {
            println!("SKIPPED {test}: python3 is not installed");
            None
        }
    }
}

pub struct Node {
    pub child: Child,
    pub clock: VirtualClock,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Node {
    /// Starts `program args` with the library preloaded on a fresh clock.
    pub fn start(test: &str, program: &Path, args: &[&str]) -> Node {
        Self::start_with(test, program, args, true)
    }

    pub fn start_with(test: &str, program: &Path, args: &[&str], preload: bool) -> Node {
        let dir = scratch(test);
        let library = preload_library(&dir).unwrap();
        let clock = VirtualClock::create(&dir.join("node.vtime")).unwrap();
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if preload {
            command.envs(clock.env_over(&library, None));
        } else {
            command.env(lightcone_vtime::ENV_PATH, clock.path());
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Node {
            child,
            clock,
            stdin,
            lines,
        }
    }

    pub fn line(&self) -> String {
        match self.lines.recv_timeout(LINE_LIMIT) {
            Ok(line) => line,
            Err(e) => panic!("no line from the child within {LINE_LIMIT:?}: {e:?}"),
        }
    }

    /// Asserts the child prints nothing for SILENCE of wall time.
    pub fn silent(&self) {
        match self.lines.recv_timeout(SILENCE) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(line) => panic!("the child printed {line:?} while virtual time stood still"),
            Err(RecvTimeoutError::Disconnected) => panic!("the child closed its stdout"),
        }
    }

    pub fn write(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Waits until the child is blocked with no overdue wait.
    pub fn wait_quiet(&self) {
        let quiet =
            quiet::wait_quiet(self.child.id(), Some(&self.clock), SETTLE, QUIET_TRIES).unwrap();
        assert!(
            quiet,
            "the child never became quiet; waiters: {:?}",
            self.clock.waiters()
        );
    }

    /// Waits for quiet, then advances to the next deadline; returns it.
    pub fn step(&self) -> u64 {
        self.wait_quiet();
        let deadline = self
            .clock
            .next_deadline()
            .expect("the child waits for a deadline");
        self.clock.advance_to(deadline);
        deadline
    }

    pub fn finish(mut self) -> Vec<String> {
        self.close_stdin();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the child failed: {status}");
        self.lines.iter().collect()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
