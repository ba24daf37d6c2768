//! Nothing a node does can hang the workbench, exhaust its memory or
//! outlive it (issue 17): nodes that daemonise, ignore end of file, print
//! endless lines, flood a peer that does not read, flood their stderr, or
//! print bytes that are not UTF-8; a workbench that fails mid-run or is
//! killed outright. The misbehaving node is tests/nodes/hostile.py.
//!
//! Each run is bounded by a deadline here, so a regression fails the test
//! instead of hanging it. Without `python3`, these tests print SKIPPED.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::have_python;
use serde_json::Value;

/// The longest any run here may take.
const RUN_DEADLINE: Duration = Duration::from_secs(90);

fn hostile() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/nodes/hostile.py")
        .to_string_lossy()
        .into_owned()
}

/// `lightcone test` arguments for an echo run of `node_count` hostile
/// nodes: `-w echo --bin BIN --node-count N FLAGS -- NODE_ARGS`.
fn hostile_args(bin: &str, node_count: u32, flags: &[&str], node_args: &[&str]) -> Vec<String> {
    let count = node_count.to_string();
    ["-w", "echo", "--bin", bin, "--node-count", &count]
        .into_iter()
        .chain(flags.iter().copied())
        .chain(["--"])
        .chain(node_args.iter().copied())
        .map(str::to_string)
        .collect()
}

fn start(dir: &Path, args: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_lightcone"))
        .arg("test")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` within [`RUN_DEADLINE`]; a run that hangs is killed
/// and fails the test.
fn finish(mut child: Child) -> Output {
    let deadline = Instant::now() + RUN_DEADLINE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "lightcone test hung for {RUN_DEADLINE:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn run(dir: &Path, args: &[String]) -> Output {
    finish(start(dir, args))
}

fn results(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("store/latest/results.json")).unwrap())
        .unwrap()
}

fn workbench(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("store/latest/workbench.json")).unwrap())
        .unwrap()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat[stat.rfind(')').unwrap() + 1..]
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string();
        state != "Z" && state != "X"
    })
}

/// The pids a hostile node wrote to `file`.
fn pids(file: &Path) -> Vec<u32> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

/// Every pid in `file` is gone within a few seconds.
fn assert_all_dead(file: &Path, at_least: usize) {
    let all = pids(file);
    assert!(
        all.len() >= at_least,
        "{} pids in {}",
        all.len(),
        file.display()
    );
    for pid in all {
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(pid), "process {pid} outlived the run");
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_daemonising_node_neither_hangs_the_run_nor_outlives_it() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pids");
    let bin = hostile();
    let out = run(
        dir.path(),
        &hostile_args(
            &bin,
            2,
            &["--time-limit", "2"],
            &["daemonize", file.to_str().unwrap()],
        ),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(results(dir.path())["valid"], true);
    assert_all_dead(&file, 2);
}

#[test]
fn killing_daemonising_nodes_mid_run_does_not_freeze_the_run() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pids");
    let bin = hostile();
    let out = run(
        dir.path(),
        &hostile_args(
            &bin,
            2,
            &[
                "--time-limit",
                "4",
                "--nemesis",
                "kill",
                "--nemesis-interval",
                "1",
            ],
            &["daemonize", file.to_str().unwrap()],
        ),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = results(dir.path());
    let starts: u64 = ["n0", "n1"]
        .iter()
        .map(|n| r["nodes"][n]["start-count"].as_u64().unwrap())
        .sum();
    assert!(
        starts > 2,
        "the nemesis killed and restarted nodes: {starts}"
    );
    // A daemon per start that got as far as init, each killed with its
    // node.
    assert_all_dead(&file, 2);
}

#[test]
fn ctrl_c_stops_a_run_whose_nodes_ignore_end_of_file_and_daemonise() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pids");
    let bin = hostile();
    let child = start(
        dir.path(),
        &hostile_args(
            &bin,
            2,
            &["--time-limit", "60"],
            &["ignore-eof+daemonize", file.to_str().unwrap()],
        ),
    );
    std::thread::sleep(Duration::from_secs(3));
    // SAFETY: signals our own child process.
    unsafe {
        libc_kill(child.id() as i32, 2);
    }
    let began = Instant::now();
    let out = finish(child);
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        began.elapsed() < Duration::from_secs(20),
        "stopped in {:?}",
        began.elapsed()
    );
    assert_eq!(results(dir.path())["interrupted"], true);
    assert_all_dead(&file, 4);
}

#[test]
fn a_failed_restart_kills_the_nodes_still_running() {
    if !have_python() {
        return;
    }
    // The script deletes itself at the first echo, so the first restart
    // fails: the workbench fails (exit 5) and must still kill the node left
    // running, which ignores end of file.
    let dir = tempfile::tempdir().unwrap();
    let scripts = tempfile::tempdir().unwrap();
    let nodes = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nodes");
    for name in ["hostile.py", "node_lib.py"] {
        std::fs::copy(nodes.join(name), scripts.path().join(name)).unwrap();
    }
    let bin = scripts.path().join("hostile.py");
    let file = dir.path().join("pids");
    let out = run(
        dir.path(),
        &hostile_args(
            bin.to_str().unwrap(),
            2,
            &[
                "--time-limit",
                "10",
                "--nemesis",
                "kill",
                "--nemesis-interval",
                "0.5",
                "--rate",
                "50",
            ],
            &["remove-self+ignore-eof", file.to_str().unwrap()],
        ),
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("could not start node"),
        "{}",
        stderr(&out)
    );
    assert_all_dead(&file, 2);
}

#[test]
fn a_sigkilled_workbench_takes_its_nodes_along_and_leaves_its_log() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pids");
    let bin = hostile();
    let mut child = start(
        dir.path(),
        &hostile_args(
            &bin,
            2,
            &["--time-limit", "60"],
            &["ignore-eof", file.to_str().unwrap()],
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while pids(&file).len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(2));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_all_dead(&file, 2);
    let log = std::fs::read_to_string(dir.path().join("store/latest/lightcone.log")).unwrap();
    assert!(
        log.contains("Running"),
        "lightcone.log was flushed as it went: {log:?}"
    );
}

#[test]
fn an_endless_stdout_line_is_reported_with_its_size_and_memory_stays_bounded() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = hostile();
    let out = run(
        dir.path(),
        &hostile_args(
            &bin,
            1,
            &["--time-limit", "3", "--rate", "20"],
            &["endless-stdout"],
        ),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains("it is 67108865 bytes long, over the limit of 16777216 bytes"),
        "{text}"
    );
    let r = results(dir.path());
    assert_eq!(r["nodes"]["n0"]["malformed-line-count"], 1);
    assert!(
        r["stats"]["ok-count"].as_u64().unwrap() > 10,
        "the run went on"
    );
    let rss = workbench(dir.path())["peak-rss-mb"].as_f64().unwrap();
    assert!(rss < 200.0, "peak memory {rss} MB for a 64 MiB line");
}

#[test]
fn an_endless_stderr_line_is_cut_in_the_log() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = hostile();
    let out = run(
        dir.path(),
        &hostile_args(
            &bin,
            1,
            &["--time-limit", "3", "--rate", "20"],
            &["endless-stderr"],
        ),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = std::fs::read(dir.path().join("store/latest/node-logs/n0.log")).unwrap();
    let log = String::from_utf8_lossy(&log);
    assert!(log.len() < 1 << 20, "{} bytes of log", log.len());
    assert!(log.contains("[lightcone: a line of 67108864 bytes, cut at 65536]"));
    let rss = workbench(dir.path())["peak-rss-mb"].as_f64().unwrap();
    assert!(rss < 200.0, "peak memory {rss} MB for a 64 MiB line");
}

#[test]
fn a_node_log_is_capped_with_a_marker_and_the_rest_counted() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = hostile();
    let out = run(
        dir.path(),
        &hostile_args(
            &bin,
            1,
            &[
                "--time-limit",
                "3",
                "--rate",
                "20",
                "--node-log-bytes-max",
                "1048576",
            ],
            &["stderr-flood"],
        ),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = std::fs::read_to_string(dir.path().join("store/latest/node-logs/n0.log")).unwrap();
    assert!(log.len() < (1 << 20) + 1024, "{} bytes of log", log.len());
    assert!(log.contains("[lightcone: this log is cut here, at 1048576 bytes"));
    let cut = results(dir.path())["nodes"]["n0"]["log-bytes-cut"]
        .as_u64()
        .unwrap();
    assert!(cut >= (31 << 20), "{cut} bytes counted as cut");
}

#[test]
fn a_queue_to_a_node_that_does_not_read_is_bounded_by_bytes() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = hostile();
    let out = run(
        dir.path(),
        &hostile_args(
            &bin,
            2,
            &[
                "--time-limit",
                "3",
                "--rate",
                "10",
                "--node-queue-bytes-max",
                "1048576",
            ],
            &["flood-peer"],
        ),
    );
    assert!(matches!(out.status.code(), Some(0..=2)), "{}", stderr(&out));
    let queue = &results(dir.path())["nodes"]["n1"]["queue"];
    assert_eq!(queue["capacity-bytes"], 1048576);
    assert!(
        queue["depth-bytes-max"].as_u64().unwrap() <= 1048576,
        "{queue}"
    );
    assert!(queue["dropped-count"].as_u64().unwrap() > 0, "{queue}");
    let rss = workbench(dir.path())["peak-rss-mb"].as_f64().unwrap();
    assert!(rss < 150.0, "peak memory {rss} MB");
}

#[test]
fn a_line_that_is_not_utf8_is_counted_and_reported() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = hostile();
    let out = run(
        dir.path(),
        &hostile_args(
            &bin,
            1,
            &["--time-limit", "2", "--rate", "20"],
            &["invalid-utf8"],
        ),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("printed a line that is not valid UTF-8 (line "));
    assert_eq!(
        results(dir.path())["nodes"]["n0"]["invalid-utf8-line-count"],
        1
    );
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn duplicate_and_stray_replies_are_counted_and_reported() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = hostile();
    let out = run(
        dir.path(),
        &hostile_args(
            &bin,
            1,
            &["--time-limit", "2", "--rate", "20"],
            &["stray-replies"],
        ),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = results(dir.path());
    let ok = r["stats"]["ok-count"].as_u64().unwrap();
    let u = &r["unexpected-replies"];
    // Each echo is answered twice (the second is late) and once more to a
    // msg_id never sent.
    assert_eq!(u["late-count"].as_u64().unwrap(), ok, "{u}");
    assert_eq!(u["unknown-count"].as_u64().unwrap(), ok, "{u}");
    assert_eq!(u["samples"][0]["why"], "late");
    assert!(String::from_utf8_lossy(&out.stdout).contains("unexpected replies to clients, dropped"));
}

#[test]
fn byte_bounds_below_a_kilobyte_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for flag in [
        "--node-queue-bytes-max",
        "--line-bytes-max",
        "--node-log-bytes-max",
    ] {
        let out = run(
            dir.path(),
            &["-w", "echo", "--time-limit", "1", flag, "10"].map(str::to_string),
        );
        assert_eq!(out.status.code(), Some(4), "{flag}");
        assert!(
            stderr(&out).contains(&format!("{flag} is 10; use at least 1024 bytes")),
            "{}",
            stderr(&out)
        );
    }
}
