//! A C program (tests/testdata/waits.c, compiled here with cc) through each
//! glibc timed call in turn.

mod support;

use std::path::PathBuf;
use std::process::Command;
use support::{scratch, Node};

const MS: u64 = 1_000_000;

fn compile(test: &str) -> Option<PathBuf> {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/waits.c");
    let binary = scratch(test).join("waits");
    let status = Command::new("cc")
        .arg("-O1")
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .arg("-lpthread")
        .status();
    match status {
        Ok(s) if s.success() => Some(binary),
        _ => {
            println!("SKIPPED {test}: no working C compiler `cc`");
            None
        }
    }
}

#[test]
fn c_sleeps_polls_and_condvars_follow_virtual_time() {
    let Some(binary) = compile("c_waits") else {
        return;
    };
    let mut node = Node::start("c_waits", &binary, &[]);
    assert_eq!(node.line(), "zero 0 0 0", "zero timeouts do not block");
    let expected = [
        (100, "nanosleep 100000000"),
        (300, "clock_nanosleep 300000000"),
        (600, "poll 0 600000000"),
        (1600, "cond_realtime ETIMEDOUT 1600000000"),
        (3600, "cond_monotonic ETIMEDOUT 3600000000"),
    ];
    for (deadline_ms, line) in expected {
        assert_eq!(node.step(), deadline_ms * MS);
        assert_eq!(node.line(), line);
    }
    // A poll with 5 s to go ends on input, at the same virtual time.
    node.wait_quiet();
    assert_eq!(node.clock.next_deadline(), Some(8600 * MS));
    node.write("x\n");
    assert_eq!(node.line(), "poll_input 1 2 3600000000");
    assert_eq!(node.step(), 3601 * MS);
    assert_eq!(node.line(), "usleep 3601000000");
    assert_eq!(node.step(), 4601 * MS);
    assert_eq!(node.line(), "sleep 4601000000");
    assert_eq!(node.step(), 5101 * MS);
    assert_eq!(node.line(), "select 0 5101000000");
    let stats = node.clock.stats();
    node.finish();
    assert_eq!(stats.table_full_count, 0);
    assert_eq!(stats.broadcast_count, 2, "{stats:?}");
}
