//! What the command-line test files share: running the built `lightcone`
//! binary, and whether the foreign (Python) nodes can run. Each test file
//! is its own crate and uses some of these, hence the `dead_code` allow.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// Runs `lightcone ARGS` in the current folder, with no standard input.
pub fn lightcone(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lightcone"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Runs `lightcone ARGS` in the current folder with `input` on its
/// standard input (written from a thread, so a large input cannot
/// deadlock against the output).
pub fn lightcone_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lightcone"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out
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

/// A running `lightcone serve`, killed when dropped.
pub struct Serving {
    child: Child,
    pub addr: String,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(store: &Path) -> Serving {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lightcone"))
        .args(["serve", "--port", "0", "--store"])
        .arg(store)
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let start = line.find("http://").expect("serve prints its address") + 7;
    let addr = line[start..]
        .trim()
        .trim_end_matches(|c| c != '/')
        .trim_end_matches('/');
    let addr = addr.split_whitespace().next().unwrap().to_string();
    Serving { child, addr }
}

/// GET `path`: the status code and the body.
pub fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
