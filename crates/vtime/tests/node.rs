//! Node.js (libuv: clock_gettime and epoll_wait) under a virtual clock.

mod support;

use std::path::PathBuf;
use std::process::Command;
use support::Node;

const MS: u64 = 1_000_000;

const TIMERS: &str =
    "const now = () => (process.hrtime.bigint() - 1000000000000000n).toString();\n\
    console.log('start', Date.now(), now());\n\
    setTimeout(() => {\n\
    \x20 console.log('first', Date.now(), now());\n\
    \x20 setTimeout(() => console.log('second', Date.now(), now()), 250);\n\
    }, 500);\n";

#[test]
fn node_timers_follow_virtual_time() {
    let Ok(out) = Command::new("node")
        .args(["-e", "console.log(process.execPath)"])
        .output()
    else {
        println!("SKIPPED node_timers_follow_virtual_time: node is not installed");
        return;
    };
    let node_path = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let node = Node::start("node_timers", &node_path, &["-e", TIMERS]);
    assert_eq!(node.line(), "start 1704067200000 0");
    node.wait_quiet();
    node.silent();
    assert_eq!(node.step(), 500 * MS);
    assert_eq!(node.line(), "first 1704067200500 500000000");
    assert_eq!(node.step(), 750 * MS);
    assert_eq!(node.line(), "second 1704067200750 750000000");
    node.finish();
}
