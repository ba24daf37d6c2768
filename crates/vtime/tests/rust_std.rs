//! A Rust std program (tests/testdata/std_waits.rs, compiled here with
//! rustc): std's timed waits go through syscall(SYS_futex, ...).

mod support;

use std::path::PathBuf;
use std::process::Command;
use support::{scratch, Node};

const MS: u64 = 1_000_000;

#[test]
fn rust_std_timed_waits_follow_virtual_time() {
    let test = "rust_std_timed_waits_follow_virtual_time";
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/std_waits.rs");
    let binary = scratch(test).join("std_waits");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    match Command::new(rustc)
        .args(["--edition", "2021", "-O", "-o"])
        .arg(&binary)
        .arg(&source)
        .status()
    {
        Ok(s) if s.success() => {}
        _ => {
            println!("SKIPPED {test}: rustc could not build {}", source.display());
            return;
        }
    }
    let mut node = Node::start(test, &binary, &[]);
    assert_eq!(node.line(), "start 1704067200");
    assert_eq!(node.step(), 300 * MS);
    assert_eq!(node.line(), "recv_timeout true 300000000");
    assert_eq!(node.step(), 600 * MS);
    assert_eq!(node.line(), "wait_timeout true 600000000");
    assert_eq!(node.step(), 700 * MS);
    assert_eq!(node.line(), "sleep 700000000");
    node.wait_quiet();
    assert_eq!(node.clock.next_deadline(), Some(10_700 * MS));
    node.write("go\n");
    assert_eq!(node.line(), "recv_timeout Ok(7) 700000000");
    node.finish();
}
