//! `lightcone test --sim --bin`: foreign node processes under the seed.
//!
//! The nodes are Python programs of ours in tests/nodes (standard library
//! only). Where `python3` is missing, these tests print SKIPPED and pass.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{have_python, lightcone_in};

fn node_script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/nodes")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A lin-kv sweep of the cas_kv.py node in `mode`: 3 nodes, rate 50.
fn cas_sweep(dir: &Path, mode: &str, extra: &[&str]) -> Output {
    let bin = node_script("cas_kv.py");
    let mut args = vec![
        "test",
        "--sim",
        "-w",
        "lin-kv",
        "--bin",
        &bin,
        "--node-count",
        "3",
        "--rate",
        "50",
        "--time-limit",
        "10",
        "--seeds",
        "50",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", mode]);
    lightcone_in(dir, &args)
}

/// The acceptance of issue 21's first stage: a cas done as a read, a
/// comparison and a write races with another cas only when the two meet
/// inside the node. On the real clock at rate 50 that is luck; under the
/// seed, with handling time drawn from it, a sweep of 50 seeds finds it,
/// and the printed replay fails again.
#[test]
fn a_read_then_write_cas_is_caught_within_50_seeds_and_its_replay_fails_again() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = cas_sweep(dir.path(), "read-then-write", &[]);
    let all = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the sweep finds the race:\n{all}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let invalid = stdout
        .lines()
        .position(|l| l.starts_with("seed ") && l.contains("INVALID: workload"))
        .unwrap_or_else(|| panic!("an invalid seed is printed:\n{all}"));
    let replay = stdout.lines().nth(invalid + 1).unwrap();
    let replay = replay
        .trim()
        .strip_prefix("replay: lightcone ")
        .unwrap_or_else(|| panic!("a replay command follows the failure: {replay}"));
    assert!(
        replay.contains(" --bin ") && replay.contains(" --handling-ms 1 "),
        "the replay names the program and the handling time: {replay}"
    );
    // Shrinking ran on the first failure, and said what it found.
    assert!(
        stdout.contains("shrunk seed") || stdout.contains("does not shrink further"),
        "{all}"
    );
    // The printed replay, as a shell runs it.
    let again = Command::new("sh")
        .arg("-c")
        .arg(format!("\"$0\" {replay}"))
        .arg(env!("CARGO_BIN_EXE_lightcone"))
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(1),
        "the replay fails again:\n{}",
        text(&again)
    );
    assert!(String::from_utf8_lossy(&again.stdout).contains("not linearizable"));
}

#[test]
fn the_atomic_cas_passes_the_same_sweep() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = cas_sweep(dir.path(), "atomic", &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("50 seeds: 50 valid"), "{all}");
    // What waiting for the processes cost is said.
    assert!(all.contains("node processes: "), "{all}");
    // No seed's node was killed by another's: killing a node once also
    // killed whatever held its pipes, which, in a sweep, included another
    // seed's child between its fork and its exec.
    assert!(!all.contains("exited by themselves"), "{all}");
}

/// Runs one seeded simulation in a fresh folder and returns its
/// history.jsonl and workbench.json.
fn one_run(args: &[&str]) -> (String, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = lightcone_in(dir.path(), args);
    let store = dir.path().join("store/latest");
    let history = std::fs::read_to_string(store.join("history.jsonl"))
        .unwrap_or_else(|e| panic!("history.jsonl: {e}\n{}", text(&out)));
    let workbench: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(store.join("workbench.json")).unwrap())
            .unwrap();
    (history, workbench, text(&out))
}

/// A node without timers does only what its input says: the same seed
/// gives the same history, byte for byte, with kills and partitions too.
#[test]
fn a_node_without_timers_gives_the_same_history_for_the_same_seed() {
    if !have_python() {
        return;
    }
    let echo = node_script("echo.py");
    let kv = node_script("cas_kv.py");
    let runs: [Vec<&str>; 2] = [
        vec![
            "test",
            "--sim",
            "-w",
            "echo",
            "--bin",
            &echo,
            "--node-count",
            "3",
            "--rate",
            "100",
            "--time-limit",
            "5",
            "--seed",
            "7",
            "--no-report",
        ],
        vec![
            "test",
            "--sim",
            "-w",
            "lin-kv",
            "--bin",
            &kv,
            "--node-count",
            "3",
            "--rate",
            "50",
            "--time-limit",
            "10",
            "--nemesis",
            "kill,partition",
            "--nemesis-interval",
            "2",
            "--seed",
            "11",
            "--no-report",
            "--",
            "atomic",
        ],
    ];
    for args in runs {
        let (first, workbench, out) = one_run(&args);
        let (second, _, _) = one_run(&args);
        assert!(first.lines().count() > 100, "a real run: {out}");
        assert!(first == second, "two runs of {args:?} differ");
        let seeded = &workbench["seeded"];
        assert_eq!(seeded["settle-timeout-count"], 0, "{seeded}");
        assert!(seeded["settle-count"].as_u64().unwrap() > 100, "{seeded}");
        if args.contains(&"kill,partition") {
            assert!(
                seeded["start-count"].as_u64().unwrap() > 3,
                "killed nodes were started again: {seeded}"
            );
        }
    }
}

/// A node that never goes quiet (a thread that spins) is waited for up to
/// the bound after each message; the run goes on and the waits that hit
/// the bound are counted. Its start ends once it reads its stdin.
#[test]
fn a_node_that_never_goes_quiet_is_waited_for_up_to_the_bound_and_counted() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spinning = write_spinning_echo(dir.path());
    let spinning = spinning.to_string_lossy();
    let out = lightcone_in(
        dir.path(),
        &[
            "test",
            "--sim",
            "-w",
            "echo",
            "--bin",
            &spinning,
            "--node-count",
            "1",
            "--rate",
            "2",
            "--time-limit",
            "2",
            "--recovery-time",
            "0.1",
            "--settle-timeout-ms",
            "300",
            "--no-report",
            // Python's GIL switch on the real clock: on the virtual one the
            // spinning thread would keep the GIL until time moves, and the
            // node would take the 30 s start bound to reach its stdin.
            "--wall-clock-timers",
        ],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    let workbench: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("store/latest/workbench.json")).unwrap(),
    )
    .unwrap();
    let seeded = &workbench["seeded"];
    assert!(
        seeded["settle-timeout-count"].as_u64().unwrap() >= 3,
        "init and each echo hit the bound: {seeded}"
    );
    assert_eq!(seeded["settle-timeout-ms"], 300.0);
    assert!(all.contains("reached the 300 ms bound"), "{all}");
    let log = std::fs::read_to_string(dir.path().join("store/latest/node-logs/n0.log")).unwrap();
    assert!(log.contains("did not go quiet within 300 ms"), "{log}");
}

/// The echo node with a thread that never sleeps.
fn write_spinning_echo(dir: &Path) -> PathBuf {
    let path = dir.join("spinning_echo.py");
    let lib = node_script("node_lib.py");
    let lib_dir = Path::new(&lib)
        .parent()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    std::fs::write(
        &path,
        format!(
            "#!/usr/bin/env python3\n\
             import sys, threading\n\
             sys.path.insert(0, {lib_dir:?})\n\
             from node_lib import Node\n\
             def spin():\n\
             \x20   n = 0\n\
             \x20   while True:\n\
             \x20       n += 1\n\
             threading.Thread(target=spin, daemon=True).start()\n\
             node = Node()\n\
             node.on('echo', lambda m: node.reply(m, {{'type': 'echo_ok', 'echo': m['body']['echo']}}))\n\
             node.run()\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// `--handling-ms` belongs to foreign nodes; lightcone's own take no time.
#[test]
fn handling_time_without_bin_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = lightcone_in(
        dir.path(),
        &["test", "--sim", "-w", "echo", "--handling-ms", "2"],
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(text(&out).contains("--handling-ms"), "{}", text(&out));
}

/// Issue 21's second stage: a node whose gossip runs on a timer thread
/// (`time.sleep`) gets lightcone's virtual clock, so its timer fires at
/// the virtual instant the seed says and the run repeats: at least 9 of
/// 10 runs of one seed write the same history.
#[test]
fn a_gossip_timer_node_repeats_its_history_under_the_virtual_clock() {
    if !have_python() {
        return;
    }
    let gossip = node_script("gossip_broadcast.py");
    let args = [
        "test",
        "--sim",
        "-w",
        "broadcast",
        "--bin",
        &gossip,
        "--node-count",
        "5",
        "--rate",
        "20",
        "--time-limit",
        "10",
        "--seed",
        "3",
        "--no-report",
    ];
    let mut histories: Vec<String> = Vec::new();
    let mut workbench = serde_json::Value::Null;
    for _ in 0..10 {
        let (history, w, out) = one_run(&args);
        assert!(out.contains("VALID"), "{out}");
        histories.push(history);
        workbench = w;
    }
    let most = histories
        .iter()
        .map(|h| histories.iter().filter(|g| *g == h).count())
        .max()
        .unwrap();
    assert!(most >= 9, "only {most} of 10 runs agree");
    let clock = &workbench["seeded"]["virtual-clock"];
    assert_eq!(clock["attached-count"], 5, "{clock}");
    assert!(clock["sleep-count"].as_u64().unwrap() > 100, "{clock}");
    assert_eq!(clock["table-full-count"], 0, "{clock}");
    // The gossip went through: messages between nodes were sent.
    assert!(histories[0].lines().count() > 100);
}

/// `--wall-clock-timers` is stage 1 alone: no clock library, and the
/// quiet moments see the timer thread asleep on the wall clock.
#[test]
fn wall_clock_timers_leave_the_node_clock_alone_and_say_so() {
    if !have_python() {
        return;
    }
    let gossip = node_script("gossip_broadcast.py");
    let (_, workbench, out) = one_run(&[
        "test",
        "--sim",
        "-w",
        "broadcast",
        "--bin",
        &gossip,
        "--node-count",
        "3",
        "--rate",
        "10",
        "--time-limit",
        "3",
        "--seed",
        "1",
        "--no-report",
        "--wall-clock-timers",
    ]);
    let seeded = &workbench["seeded"];
    assert!(
        seeded["timer-sleep-count"].as_u64().unwrap() > 0,
        "{seeded}"
    );
    assert_eq!(seeded["virtual-clock"]["attached-count"], 0, "{seeded}");
    assert!(out.contains("timers on the wall clock"), "{out}");
    assert!(
        out.contains("--wall-clock-timers"),
        "the replay keeps it: {out}"
    );
}
