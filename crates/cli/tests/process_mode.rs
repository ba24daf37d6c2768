//! `lightcone test` end to end against real node processes: the built-in
//! reference nodes, a foreign (Python) node, deliberately buggy nodes, and
//! each protocol misbehaviour the workbench must report and survive.
//!
//! The Python nodes in tests/nodes use only the standard library. Where
//! `python3` is missing, those tests print SKIPPED and pass.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

fn lightcone() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lightcone"))
}

fn node_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/nodes")
        .join(name)
}

fn have_python() -> bool {
    let ok = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: python3 not found; the foreign-node tests need it");
    }
    ok
}

struct Run {
    output: Output,
    dir: tempfile::TempDir,
}

impl Run {
    fn code(&self) -> i32 {
        self.output
            .status
            .code()
            .expect("lightcone exits with a code")
    }
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    fn results(&self) -> Value {
        let text = std::fs::read_to_string(self.dir.path().join("store/latest/results.json"))
            .expect("results.json is written");
        serde_json::from_str(&text).unwrap()
    }
    fn history(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("store/latest/history.jsonl")).unwrap()
    }
}

fn run(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let output = lightcone()
        .arg("test")
        .args(args)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run { output, dir }
}

fn script(name: &str) -> String {
    node_script(name).to_string_lossy().into_owned()
}

#[test]
fn builtin_echo_is_valid() {
    let r = run(&[
        "-w",
        "echo",
        "--node-count",
        "1",
        "--time-limit",
        "2",
        "--rate",
        "20",
    ]);
    assert_eq!(r.code(), 0, "{}{}", r.stdout(), r.stderr());
    let results = r.results();
    assert_eq!(results["valid"], true);
    assert!(results["stats"]["ok-count"].as_u64().unwrap() > 5);
    assert_eq!(results["nodes"]["n0"]["init-ok"]["sdk"], "lightcone/0.1.0");
    assert!(r.stdout().contains("VALID"));
    let queue = &results["nodes"]["n0"]["queue"];
    assert!(queue["enqueued-count"].as_u64().unwrap() > 5);
    assert!(queue["time-in-queue-ms"]["0.99"].is_number());
    let seed = results["seed"].as_u64().unwrap();
    assert!(r.stderr().contains(&format!("--seed {seed}")));
    assert!(r
        .dir
        .path()
        .join("store/echo/latest/node-logs/n0.log")
        .exists());
}

/// The regression of issue 20: the spawn exec'd nodes without the
/// environment it set, so they ran on memory, with no seed and no token.
#[test]
fn builtin_lin_kv_nodes_keep_their_state_in_their_storage_folder() {
    let r = run(&[
        "-w",
        "lin-kv",
        "--node-count",
        "3",
        "--time-limit",
        "3",
        "--rate",
        "20",
    ]);
    // The run ends and its history is linearizable. Whether a cas
    // succeeded in 3 s (the stats check) is luck, and not what this tests.
    assert!(matches!(r.code(), 0 | 1), "{}{}", r.stdout(), r.stderr());
    assert_eq!(r.results()["workload"]["valid"], true, "{}", r.stdout());
    for node in ["n0", "n1", "n2"] {
        let wal = r
            .dir
            .path()
            .join("store/lin-kv/latest/node-storage")
            .join(node)
            .join("wal");
        let len = std::fs::metadata(&wal).map_or(0, |m| m.len());
        assert!(len > 8, "{} holds {len} bytes", wal.display());
    }
}

#[test]
fn python_echo_is_valid() {
    if !have_python() {
        return;
    }
    let bin = script("echo.py");
    let r = run(&[
        "-w",
        "echo",
        "--bin",
        &bin,
        "--node-count",
        "2",
        "--time-limit",
        "2",
        "--rate",
        "20",
    ]);
    assert_eq!(r.code(), 0, "{}{}", r.stdout(), r.stderr());
    // A foreign node sends no sdk field; nothing is invented for it.
    assert!(r.results()["nodes"]["n0"]["init-ok"].get("sdk").is_none());
}

/// The workbench turns transparent huge pages off for itself (runner's
/// huge_pages.rs) and not for the nodes: a node starts with the setting the
/// workbench was started with.
#[test]
fn nodes_keep_the_huge_page_setting_the_workbench_turned_off_for_itself() {
    if !have_python() {
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let Some(ours) = status.lines().find(|l| l.starts_with("THP_enabled:")) else {
        eprintln!("SKIPPED: this kernel has no THP_enabled line in /proc/self/status");
        return;
    };
    let bin = script("thp_echo.py");
    let r = run(&[
        "-w",
        "echo",
        "--bin",
        &bin,
        "--node-count",
        "1",
        "--time-limit",
        "1",
        "--rate",
        "10",
    ]);
    assert_eq!(r.code(), 0, "{}{}", r.stdout(), r.stderr());
    let log = std::fs::read_to_string(r.dir.path().join("store/latest/node-logs/n0.log")).unwrap();
    let theirs = log.lines().find(|l| l.contains("THP_enabled:"));
    assert_eq!(
        theirs.map(|l| l.split_whitespace().last()),
        Some(ours.split_whitespace().last()),
        "{log}"
    );
}

/// results.json's `workbench` section: the workbench's own cost and the
/// time messages spent inside it. Consistency only; timing figures belong
/// in the process_mode bench.
#[test]
fn workbench_cost_and_message_latency_are_reported() {
    if !have_python() {
        return;
    }
    let bin = script("echo.py");
    let r = run(&[
        "-w",
        "echo",
        "--bin",
        &bin,
        "--node-count",
        "2",
        "--time-limit",
        "2",
        "--rate",
        "50",
    ]);
    assert_eq!(r.code(), 0, "{}{}", r.stdout(), r.stderr());
    let results = r.results();
    let w = &results["workbench"];
    let f = |v: &Value| v.as_f64().unwrap_or_else(|| panic!("a number: {w:#}"));
    assert!(f(&w["cpu-s"]) > 0.0, "{w:#}");
    assert!(f(&w["duration-s"]) > 0.0, "{w:#}");
    assert!(
        (f(&w["cpu-share"]) - f(&w["cpu-s"]) / f(&w["duration-s"])).abs() < 1e-9,
        "{w:#}"
    );
    assert!(f(&w["main-cpu-share"]) >= 0.0, "{w:#}");
    assert!(w["peak-rss-bytes"].as_u64().unwrap() > 0, "{w:#}");
    let depth_max = w["reader-queue-depth-max"].as_u64().unwrap();
    assert!(depth_max >= 1, "{w:#}");
    assert!(
        depth_max <= w["reader-queue-capacity"].as_u64().unwrap(),
        "{w:#}"
    );
    let latency = &w["message-latency-ms"];
    let ordered = |q: &Value| {
        assert!(f(&q["0.5"]) >= 0.0, "{q:#}");
        assert!(f(&q["0.5"]) <= f(&q["0.95"]), "{q:#}");
        assert!(f(&q["0.95"]) <= f(&q["0.99"]), "{q:#}");
        assert!(f(&q["0.99"]) <= f(&q["1"]), "{q:#}");
    };
    ordered(latency);
    for stage in ["reader-queue", "handling", "lateness", "writer-queue"] {
        ordered(&latency[stage]);
    }
    // Every message that reached a node's stdin or, as a reply, its
    // client: here every message sent (an echo run has no services and
    // nothing in flight at its end).
    let count = latency["count"].as_u64().unwrap();
    assert_eq!(count, results["net"]["all"]["recv-count"].as_u64().unwrap());
    let written: u64 = ["n0", "n1"]
        .iter()
        .map(|n| {
            results["nodes"][n]["queue"]["dequeued-count"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(latency["writer-queue"]["count"].as_u64().unwrap(), written);
    assert_eq!(latency["lateness"]["count"].as_u64().unwrap(), written);
    // Each line the nodes printed (init_ok and echo_ok) went through the
    // reader queue and the main loop once, and was a reply to a client.
    let lines = latency["reader-queue"]["count"].as_u64().unwrap();
    assert_eq!(latency["handling"]["count"].as_u64().unwrap(), lines);
    assert_eq!(count, written + lines);
    let ops = results["stats"]["ok-count"].as_u64().unwrap();
    assert_eq!(lines, ops + 2, "an echo_ok per op and an init_ok per node");
    let rate = f(&w["routed-per-s"]);
    assert!(
        (rate - count as f64 / f(&w["duration-s"])).abs() < 1e-6,
        "{w:#}"
    );
}

#[test]
fn builtin_broadcast_survives_partitions() {
    let r = run(&[
        "-w",
        "broadcast",
        "--node-count",
        "5",
        "--time-limit",
        "4",
        "--rate",
        "50",
        "--latency",
        "5",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "1",
        "--recovery-time",
        "2",
    ]);
    assert_eq!(r.code(), 0, "{}{}", r.stdout(), r.stderr());
    let results = r.results();
    assert_eq!(results["workload"]["lost-count"], 0);
    assert_eq!(results["workload"]["final-read-count"], 5);
    assert!(results["workload"]["stable-count"].as_u64().unwrap() > 10);
    assert!(r.history().contains("\"process\":\"nemesis\""));
}

#[test]
fn broadcast_that_never_forwards_loses_messages() {
    if !have_python() {
        return;
    }
    let bin = script("lazy_broadcast.py");
    let r = run(&[
        "-w",
        "broadcast",
        "--bin",
        &bin,
        "--node-count",
        "3",
        "--time-limit",
        "2",
        "--rate",
        "40",
        "--recovery-time",
        "1",
    ]);
    assert_eq!(r.code(), 1, "{}{}", r.stdout(), r.stderr());
    assert!(r.results()["workload"]["lost-count"].as_u64().unwrap() > 0);
    assert!(r.stdout().contains("INVALID"));
    assert!(
        r.stdout().contains("lost"),
        "the summary names the problem: {}",
        r.stdout()
    );
}

fn partial_broadcast(node_args: &[&str]) -> Run {
    let bin = script("partial_broadcast.py");
    let mut args = vec![
        "-w",
        "broadcast",
        "--bin",
        &bin,
        "--node-count",
        "3",
        "--time-limit",
        "3",
        "--rate",
        "20",
        "--recovery-time",
        "1",
    ];
    args.extend(node_args);
    run(&args)
}

#[test]
fn broadcast_that_never_reaches_one_node_fails_its_final_read() {
    // n0 drops the first message gossiped to it; n1 and n2 have it, and
    // n2's final read begins last (client 2 of 3), so Maelstrom's set-full
    // calls every message stable. The per-node final-read check does not.
    if !have_python() {
        return;
    }
    let r = partial_broadcast(&[]);
    let out = r.stdout();
    assert_eq!(r.code(), 1, "{out}{}", r.stderr());
    let results = r.results();
    let workload = &results["workload"];
    assert_eq!(workload["valid"], false);
    assert_eq!(workload["maelstrom-valid"], true, "{workload}");
    assert_eq!(results["maelstrom-valid"], true);
    assert_eq!(workload["lost-count"], 0);
    assert_eq!(workload["final-read-count"], 3);
    assert_eq!(workload["final-read-missing-count"], 1, "{workload}");
    let missing = &workload["final-read-missing"][0];
    assert_eq!(missing["node"], "n0");
    assert_eq!(missing["missing-count"], 1);
    // Worker 0 talks to n0, as process 0 (3, 6, ... after a crash).
    assert_eq!(missing["process"].as_u64().unwrap() % 3, 0);
    // The element n0 says it dropped.
    let log = std::fs::read_to_string(r.dir.path().join("store/latest/node-logs/n0.log")).unwrap();
    let dropped = log
        .lines()
        .find_map(|l| l.strip_prefix("dropping message "))
        .and_then(|l| l.split_whitespace().next())
        .expect("n0 logs the message it drops");
    assert_eq!(missing["missing"][0].to_string(), dropped, "{log}");
    assert!(
        out.contains(&format!(
            "problem (beyond Maelstrom): workload: node n0's final read (process {}) lacks 1 of",
            missing["process"]
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("before it began: {dropped}\n")),
        "{out}"
    );
    assert!(
        out.contains("Maelstrom's checkers would say valid: lightcone is deliberately stricter"),
        "{out}"
    );
}

#[test]
fn broadcast_that_reaches_every_node_passes_every_final_read() {
    // The same node without its bug: the control for the test above.
    if !have_python() {
        return;
    }
    let r = partial_broadcast(&["--", "--correct"]);
    assert_eq!(r.code(), 0, "{}{}", r.stdout(), r.stderr());
    let workload = &r.results()["workload"];
    assert_eq!(workload["final-read-count"], 3);
    assert_eq!(workload["final-read-missing-count"], 0);
    assert!(workload.get("maelstrom-valid").is_none(), "{workload}");
    assert!(!r.stdout().contains("beyond Maelstrom"), "{}", r.stdout());
}

#[test]
fn counter_unique_ids_are_duplicates() {
    if !have_python() {
        return;
    }
    let bin = script("counter_ids.py");
    let r = run(&[
        "-w",
        "unique-ids",
        "--bin",
        &bin,
        "--node-count",
        "3",
        "--time-limit",
        "2",
        "--rate",
        "50",
    ]);
    assert_eq!(r.code(), 1, "{}{}", r.stdout(), r.stderr());
    assert!(
        r.results()["workload"]["duplicated-count"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(r.stdout().contains("duplicate"), "{}", r.stdout());
}

fn misbehaving(kind: &str) -> Run {
    let bin = script("misbehaving_echo.py");
    run(&[
        "-w",
        "echo",
        "--bin",
        &bin,
        "--node-count",
        "1",
        "--time-limit",
        "2",
        "--rate",
        "20",
        kind,
    ])
}

fn assert_reported_and_survived(r: &Run, what: &str) {
    // The run went on: it is valid, and the line is counted and named.
    assert_eq!(r.code(), 0, "{}{}", r.stdout(), r.stderr());
    let stderr = r.stderr();
    assert!(
        stderr.contains("node n0 printed a line that is not a valid message"),
        "{stderr}"
    );
    assert!(stderr.contains("line "), "names the line number: {stderr}");
    assert!(
        stderr.contains(what),
        "says what is wrong ({what}): {stderr}"
    );
    let results = r.results();
    assert_eq!(results["malformed-lines"]["count"], 1);
    assert_eq!(results["nodes"]["n0"]["malformed-line-count"], 1);
    assert!(
        results["stats"]["ok-count"].as_u64().unwrap() > 5,
        "echoes after the bad line were answered"
    );
}

#[test]
fn line_that_is_not_json_is_reported_and_skipped() {
    if !have_python() {
        return;
    }
    let r = misbehaving("not-json");
    assert_reported_and_survived(&r, "not JSON");
    assert!(r.stderr().contains("`hello, this is not json`"));
}

#[test]
fn line_without_dest_is_reported_and_skipped() {
    if !have_python() {
        return;
    }
    assert_reported_and_survived(&misbehaving("missing-dest"), "lacks the field `dest`");
}

#[test]
fn message_to_unknown_dest_is_reported_and_skipped() {
    if !have_python() {
        return;
    }
    assert_reported_and_survived(&misbehaving("unknown-dest"), "addressed to \"n99\"");
}

#[test]
fn message_with_an_unknown_src_is_reported_and_skipped() {
    if !have_python() {
        return;
    }
    assert_reported_and_survived(&misbehaving("wrong-src"), "its src is \"n42\"");
}

#[test]
fn node_that_exits_early_aborts_with_its_status_and_stderr() {
    if !have_python() {
        return;
    }
    let bin = script("early_exit.py");
    let r = run(&[
        "-w",
        "echo",
        "--bin",
        &bin,
        "--node-count",
        "1",
        "--time-limit",
        "5",
        "--rate",
        "20",
    ]);
    assert_eq!(r.code(), 3, "{}{}", r.stdout(), r.stderr());
    let out = r.stdout();
    assert!(
        out.contains("node n0 exited early (exit status: 3)"),
        "{out}"
    );
    assert!(out.contains("boom: giving up on purpose"), "{out}");
    let results = r.results();
    assert_eq!(results["valid"], "unknown");
    assert!(results["aborted"]
        .as_str()
        .unwrap()
        .contains("exited early"));
}

#[test]
fn node_that_never_answers_init_fails_after_10_s() {
    if !have_python() {
        return;
    }
    let bin = script("no_init.py");
    let r = run(&[
        "-w",
        "echo",
        "--bin",
        &bin,
        "--node-count",
        "2",
        "--time-limit",
        "5",
    ]);
    assert_eq!(r.code(), 3, "{}{}", r.stdout(), r.stderr());
    let stdout = r.stdout();
    assert!(
        stdout.contains("n0, n1 did not answer init with init_ok within 10 s"),
        "{stdout}"
    );
    // No operation ran: no availability figure and no workload verdict to
    // mislead under the ABORTED headline.
    assert!(stdout.contains("ABORTED"), "{stdout}");
    assert!(
        stdout.contains("no client operation ran, so nothing was checked"),
        "{stdout}"
    );
    assert!(!stdout.contains("availability"), "{stdout}");
    assert!(!stdout.contains("valid true"), "{stdout}");
    assert_eq!(r.results()["valid"], "unknown");
}

#[test]
fn node_process_groups_are_killed_and_reaped() {
    if !have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let bin = script("forking_echo.py");
    let status = lightcone()
        .args([
            "test",
            "-w",
            "echo",
            "--bin",
            &bin,
            "--node-count",
            "2",
            "--time-limit",
            "1",
        ])
        .arg(&pids)
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let text = std::fs::read_to_string(&pids).unwrap();
    let all: Vec<u32> = text
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(all.len(), 4, "two nodes, each with one child: {text}");
    for pid in all {
        // The node and its `sleep 300` child are gone: killed with the
        // process group, and (for the node) reaped by the workbench. The
        // grandchild's SIGKILL is delivered asynchronously and it is reaped
        // by init, so give it a moment.
        let alive = || {
            Path::new(&format!("/proc/{pid}")).exists()
                && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .unwrap_or_default()
                    .contains(") Z ")
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while alive() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(), "process {pid} outlived the test");
    }
}

#[test]
fn ctrl_c_writes_results_marked_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let child = lightcone()
        .args([
            "test",
            "-w",
            "echo",
            "--node-count",
            "1",
            "--time-limit",
            "60",
            "--rate",
            "50",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: signals our own child process.
    unsafe {
        libc_kill(child.id() as i32, 2);
    }
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("store/latest/results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(results["interrupted"], true);
    assert!(results["stats"]["ok-count"].as_u64().unwrap() > 10);
    let history = std::fs::read_to_string(dir.path().join("store/latest/history.jsonl")).unwrap();
    assert!(history.lines().count() > 20);
    assert!(String::from_utf8_lossy(&output.stdout).contains("INTERRUPTED"));
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn bad_arguments_exit_4_with_a_message() {
    let r = run(&["-w", "nosuch", "--time-limit", "1"]);
    assert_eq!(r.code(), 4);
    assert!(
        r.stderr().contains("invalid value 'nosuch'")
            && r.stderr().contains("lin-kv")
            && r.stderr().contains("kafka"),
        "{}",
        r.stderr()
    );
    let r = run(&["-w", "echo", "--concurrency", "zero"]);
    assert_eq!(r.code(), 4);
    assert!(r.stderr().contains("--concurrency"));
    let r = run(&["-w", "echo", "--bogus-flag"]);
    assert_eq!(r.code(), 4);
    assert!(r.stderr().contains("--bogus-flag"), "{}", r.stderr());
    // Maelstrom's own check lets any model name through; lightcone names
    // the ones Elle knows.
    let r = run(&["-w", "echo", "--consistency-models", "bogus"]);
    assert_eq!(r.code(), 4);
    assert!(
        r.stderr().contains(
            "--consistency-models: unknown consistency model \"bogus\"; known models are"
        ),
        "{}",
        r.stderr()
    );
    let r = run(&["-w", "kafka", "--max-writes-per-key", "0"]);
    assert_eq!(r.code(), 4);
    assert!(
        r.stderr().contains("--max-writes-per-key is 0"),
        "{}",
        r.stderr()
    );
    let r = run(&[
        "-w",
        "echo",
        "--bin",
        "/nonexistent/node",
        "--time-limit",
        "1",
    ]);
    assert_bad_bin(&r, "--bin /nonexistent/node: no such file");
}

/// A `--bin` that cannot be run exits 4 (a bad argument), says what is wrong
/// and how to fix it, and runs nothing.
fn assert_bad_bin(r: &Run, what: &str) {
    let stderr = r.stderr();
    assert_eq!(r.code(), 4, "{stderr}");
    assert!(stderr.contains(what), "{stderr}");
    assert!(
        stderr.contains("nothing was run and no results were written"),
        "{stderr}"
    );
    assert!(
        !r.dir.path().join("store/latest").exists(),
        "no results folder is linked as the latest run"
    );
}

fn write_script(dir: &Path, name: &str, text: &str, mode: u32) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path.to_string_lossy().into_owned()
}

fn run_echo_with(bin: &str) -> Run {
    run(&[
        "-w",
        "echo",
        "--node-count",
        "1",
        "--time-limit",
        "1",
        "--bin",
        bin,
    ])
}

#[test]
fn bin_that_does_not_exist_exits_4_saying_where_it_looked() {
    let r = run_echo_with("./nodes/echo.py");
    assert_bad_bin(&r, "--bin ./nodes/echo.py: no such file (looked for /");
    assert!(r
        .stderr()
        .contains("nodes/echo.py); give the path of an executable node program"));
    // Found before the run: no seed, no results folder.
    assert!(!r.stderr().contains("seed"), "{}", r.stderr());
    assert!(!r.dir.path().join("store").exists());

    let r = run_echo_with("no-such-node-program");
    assert_bad_bin(
        &r,
        "--bin no-such-node-program: no executable of that name in the folders of PATH (",
    );
}

#[test]
fn bin_that_is_a_folder_exits_4() {
    let scripts = tempfile::tempdir().unwrap();
    let folder = scripts.path().to_string_lossy().into_owned();
    let r = run_echo_with(&folder);
    assert_bad_bin(&r, &format!("{folder} is a folder, not a program"));
}

#[test]
fn bin_without_execute_permission_exits_4_and_the_suggested_fix_works() {
    let scripts = tempfile::tempdir().unwrap();
    let echo = std::fs::read_to_string(node_script("echo.py")).unwrap();
    let lib = std::fs::read_to_string(node_script("node_lib.py")).unwrap();
    let bin = write_script(scripts.path(), "echo.py", &echo, 0o644);
    write_script(scripts.path(), "node_lib.py", &lib, 0o644);
    let r = run_echo_with(&bin);
    assert_bad_bin(
        &r,
        &format!(
            "--bin {bin}: {bin} is not executable; chmod +x it, or run it through its \
             interpreter: --bin python3 -- {bin}"
        ),
    );
    if !have_python() {
        return;
    }
    // The fix as suggested: a bare name found in PATH, with the script as
    // its argument.
    let r = run(&[
        "-w",
        "echo",
        "--node-count",
        "1",
        "--time-limit",
        "1",
        "--bin",
        "python3",
        "--",
        &bin,
    ]);
    assert_eq!(r.code(), 0, "{}{}", r.stdout(), r.stderr());
}

#[test]
fn bin_whose_interpreter_is_missing_exits_4_naming_it() {
    let scripts = tempfile::tempdir().unwrap();
    let bin = write_script(
        scripts.path(),
        "node",
        "#!/no/such/interpreter\nprint('hi')\n",
        0o755,
    );
    let r = run_echo_with(&bin);
    assert_bad_bin(
        &r,
        &format!(
            "--bin {bin}: its #! line names the interpreter /no/such/interpreter, which does not \
             exist; install it, or correct the #! line of {bin}"
        ),
    );
    // Through env, the interpreter is looked up in PATH.
    let bin = write_script(
        scripts.path(),
        "env-node",
        "#!/usr/bin/env no-such-interpreter-for-lightcone\n",
        0o755,
    );
    let r = run_echo_with(&bin);
    assert_bad_bin(
        &r,
        "its #! line runs no-such-interpreter-for-lightcone through env, and no folder of PATH",
    );
}

#[test]
fn bin_the_system_cannot_execute_exits_4_and_leaves_no_results() {
    // Executable, but no #! line: the check passes and the start fails
    // with "exec format error".
    let scripts = tempfile::tempdir().unwrap();
    let bin = write_script(scripts.path(), "node.sh", "echo hello\n", 0o755);
    let r = run_echo_with(&bin);
    assert_bad_bin(
        &r,
        &format!("--bin {bin}: {bin} is not a program this machine can run ("),
    );
    assert!(r
        .stderr()
        .contains("a script needs a first line naming its interpreter"));
    // The results folder made for the run is removed again.
    let runs = std::fs::read_dir(r.dir.path().join("store/echo")).unwrap();
    assert_eq!(runs.count(), 0, "no results folder is left");
}

#[test]
fn bin_that_cannot_be_restarted_mid_run_is_a_workbench_failure() {
    // The program ran, so it was a good argument; when a restart after a
    // kill cannot start it (here it deleted itself), the run fails with 5.
    if !have_python() {
        return;
    }
    let scripts = tempfile::tempdir().unwrap();
    let echo = std::fs::read_to_string(node_script("echo.py")).unwrap();
    let lib = std::fs::read_to_string(node_script("node_lib.py")).unwrap();
    let echo = echo.replacen('\n', "\nimport os, sys; os.remove(sys.argv[0])\n", 1);
    let bin = write_script(scripts.path(), "echo.py", &echo, 0o755);
    write_script(scripts.path(), "node_lib.py", &lib, 0o644);
    let r = run(&[
        "-w",
        "echo",
        "--node-count",
        "1",
        "--time-limit",
        "5",
        "--nemesis",
        "kill",
        "--nemesis-interval",
        "0.2",
        "--bin",
        &bin,
    ]);
    assert_eq!(r.code(), 5, "{}{}", r.stdout(), r.stderr());
    assert!(
        r.stderr().contains("could not start node n0"),
        "{}",
        r.stderr()
    );
}

#[test]
fn kill_and_pause_keep_a_durable_node_valid() {
    // The reference unique-ids node bumps an epoch in its storage folder on
    // every start, so ids stay unique across SIGKILLs and restarts.
    let r = run(&[
        "-w",
        "unique-ids",
        "--node-count",
        "3",
        "--time-limit",
        "6",
        "--rate",
        "100",
        "--nemesis",
        "kill,pause",
        "--nemesis-interval",
        "0.5",
    ]);
    assert_eq!(r.code(), 0, "{}{}", r.stdout(), r.stderr());
    let results = r.results();
    let starts: u64 = ["n0", "n1", "n2"]
        .iter()
        .map(|n| results["nodes"][*n]["start-count"].as_u64().unwrap())
        .sum();
    assert!(
        starts > 3,
        "some node was killed and restarted: {}",
        results["nodes"]
    );
    let history = r.history();
    assert!(history.contains("\"f\":\"kill\"") && history.contains("\"f\":\"start\""));
}

#[test]
fn kill_catches_a_node_that_keeps_its_state_in_memory() {
    // The --volatile variant forgets its epoch when killed and repeats ids.
    let mut caught = false;
    for seed in ["1", "2", "3"] {
        let r = run(&[
            "-w",
            "unique-ids",
            "--node-count",
            "2",
            "--time-limit",
            "6",
            "--rate",
            "100",
            "--nemesis",
            "kill",
            "--nemesis-interval",
            "0.5",
            "--seed",
            seed,
            "--",
            "--volatile",
        ]);
        if r.code() == 1 {
            assert!(
                r.stdout().contains("returned more than once"),
                "{}",
                r.stdout()
            );
            caught = true;
            break;
        }
    }
    assert!(caught, "a memory-only node repeats ids after a kill");
}

#[test]
fn a_node_forwarding_client_requests_as_the_client_is_valid() {
    // Maelstrom's demo/python/raft.py forwards a request to the leader with
    // the client's src, and the leader answers the client directly.
    if !have_python() {
        return;
    }
    let bin = script("forwarding_kv.py");
    let r = run(&[
        "-w",
        "lin-kv",
        "--bin",
        &bin,
        "--node-count",
        "3",
        "--concurrency",
        "6",
        "--time-limit",
        "3",
        "--rate",
        "50",
    ]);
    assert_eq!(r.code(), 0, "{}{}", r.stdout(), r.stderr());
    let results = r.results();
    assert_eq!(results["malformed-lines"]["count"], 0);
    assert!(
        results["net"]["forwarded-count"].as_u64().unwrap() > 10,
        "{}",
        results["net"]
    );
    assert!(results["stats"]["ok-count"].as_u64().unwrap() > 20);
    assert!(
        r.stderr().contains("sends messages as c"),
        "the first forward is logged: {}",
        r.stderr()
    );
}

#[test]
fn log_net_recv_shows_client_deliveries() {
    let r = run(&[
        "-w",
        "echo",
        "--node-count",
        "1",
        "--time-limit",
        "1",
        "--rate",
        "10",
        "--log-net-recv",
    ]);
    assert_eq!(r.code(), 0, "{}{}", r.stdout(), r.stderr());
    let log = std::fs::read_to_string(r.dir.path().join("store/latest/lightcone.log")).unwrap();
    let client_to_node = log
        .lines()
        .filter(|l| {
            l.starts_with("recv ") && l.contains("\"dest\":\"n0\"") && l.contains("\"src\":\"c")
        })
        .count();
    let node_to_client = log
        .lines()
        .filter(|l| l.starts_with("recv ") && l.contains("\"src\":\"n0\""))
        .count();
    assert!(client_to_node >= 5, "client -> node receives: {log}");
    assert!(node_to_client >= 5, "node -> client receives: {log}");
    assert!(
        !log.lines().any(|l| l.starts_with("send ")),
        "--log-net-send is off"
    );
}

fn kafka(node_args: &[&str], rate: &str, time_limit: &str) -> Run {
    let bin = script("memory_kafka.py");
    let mut args = vec![
        "-w",
        "kafka",
        "--bin",
        &bin,
        "--node-count",
        "1",
        "--concurrency",
        "4",
        "--rate",
        rate,
        "--time-limit",
        time_limit,
        "--recovery-time",
        "1",
    ];
    if !node_args.is_empty() {
        args.push("--");
        args.extend_from_slice(node_args);
    }
    run(&args)
}

/// Acknowledged sends per key, from the history's `ok` sends.
fn kafka_sends_per_key(history: &str) -> std::collections::BTreeMap<String, u64> {
    let mut per_key = std::collections::BTreeMap::new();
    for line in history.lines() {
        let op: Value = serde_json::from_str(line).unwrap();
        if op["f"] == "send" && op["type"] == "ok" {
            let key = op["value"][0][1].as_str().unwrap().to_string();
            *per_key.entry(key).or_insert(0) += 1;
        }
    }
    per_key
}

#[test]
fn a_kafka_node_whose_committed_offsets_go_back_is_valid() {
    // Last commit wins, and lists come from a replica a commit behind:
    // Kafka allows both, and Jepsen's checker has no rule about them.
    if !have_python() {
        return;
    }
    let r = kafka(&["--lagging-lists"], "300", "5");
    assert_eq!(r.code(), 0, "{}{}", r.stdout(), r.stderr());
    let workload = &r.results()["workload"];
    assert_eq!(workload["bad-error-types"], Value::Array(vec![]));
    assert!(
        workload["committed-offsets-regress-count"]
            .as_u64()
            .unwrap()
            > 0,
        "the regressions are reported as information: {workload}"
    );
    // Maelstrom's key scheme: many short logs.
    let per_key = kafka_sends_per_key(&r.history());
    assert!(per_key.len() > 20, "{per_key:?}");
    assert!(per_key.values().all(|n| *n <= 16), "{per_key:?}");
}

#[test]
fn a_kafka_node_that_acknowledges_sends_and_never_returns_them_is_invalid() {
    if !have_python() {
        return;
    }
    let r = kafka(&["--drop"], "100", "3");
    assert_eq!(r.code(), 1, "{}{}", r.stdout(), r.stderr());
    let workload = &r.results()["workload"];
    assert_eq!(workload["bad-error-types"], serde_json::json!(["unseen"]));
    let unseen = &workload["unseen"];
    let per_key = kafka_sends_per_key(&r.history());
    let total: u64 = unseen["unseen"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(
        total,
        per_key.values().sum::<u64>(),
        "every message is unseen"
    );
    for (key, sent) in &per_key {
        assert_eq!(unseen["unseen"][key], *sent, "key {key}");
        assert_eq!(
            unseen["messages"][key][0], 1,
            "key {key}'s first message is named"
        );
    }
    assert!(
        r.stdout().contains("problem: workload: unseen:"),
        "{}",
        r.stdout()
    );
}

#[test]
fn the_raft_node_takes_a_flag_flip_through_its_stdin_and_the_run_stays_valid() {
    let r = run(&[
        "-w",
        "lin-kv",
        "--node-count",
        "3",
        "--concurrency",
        "6",
        "--time-limit",
        "5",
        "--rate",
        "50",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "1",
        "--recovery-time",
        "2",
        "--flag-schedule",
        "degraded-reads:on@1,off@4",
    ]);
    assert_eq!(r.code(), 0, "{}{}", r.stdout(), r.stderr());
    let flips: Vec<Value> = r
        .history()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|op| op["process"] == "nemesis" && op["f"] == "flag" && !op["value"].is_null())
        .collect();
    assert_eq!(flips.len(), 2, "{flips:?}");
    assert_eq!(
        flips[0]["value"],
        serde_json::json!(["degraded-reads", true])
    );
    let log = std::fs::read_to_string(r.dir.path().join("store/latest/lightcone.log")).unwrap();
    assert!(log.contains("nemesis flag"), "{log}");
    assert!(
        !log.contains("answered a flag flip"),
        "every node answered flag_ok: {log}"
    );
}
