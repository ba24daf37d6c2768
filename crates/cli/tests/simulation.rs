//! `lightcone test --sim`: determinism through the command line, sweeps
//! that find a deliberately broken node, exact replay, and shrinking.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn lightcone(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lightcone"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Runs a printed replay command ("lightcone test ...") in `dir`.
fn replay(command: &str, dir: &Path) -> Output {
    let args: Vec<&str> = command.split_whitespace().skip(1).collect();
    assert_eq!(args[0], "test", "{command}");
    lightcone(&args, dir)
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join("store/latest").join(file)).unwrap()
}

const BROADCAST: &[&str] = &[
    "test",
    "--sim",
    "-w",
    "broadcast",
    "--node-count",
    "5",
    "--time-limit",
    "10",
    "--rate",
    "50",
    "--latency",
    "20",
    "--latency-dist",
    "exponential",
    "--nemesis",
    "partition,kill,pause,clock",
    "--nemesis-interval",
    "2",
    "--loss",
    "1/100",
    "--duplicate",
    "1/100",
    "--seed",
    "1234",
];

#[test]
fn same_seed_same_results_folder_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ra, rb) = (
        lightcone(BROADCAST, a.path()),
        lightcone(BROADCAST, b.path()),
    );
    assert_eq!(ra.status.code(), rb.status.code());
    for file in ["history.jsonl", "results.json", "node-logs/n0.log"] {
        assert_eq!(
            read(a.path(), file),
            read(b.path(), file),
            "{file} differs between two runs of one seed"
        );
    }
    let workbench = read(a.path(), "workbench.json");
    assert!(workbench.contains("\"speedup\"") && workbench.contains("\"history-write-s\""));
    let mut other: Vec<&str> = BROADCAST.to_vec();
    *other.last_mut().unwrap() = "1235";
    let c = tempfile::tempdir().unwrap();
    lightcone(&other, c.path());
    assert_ne!(
        read(a.path(), "history.jsonl"),
        read(c.path(), "history.jsonl")
    );
}

#[test]
fn sweep_finds_the_unreliable_broadcast_replays_it_and_shrinks_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = lightcone(
        &[
            "test",
            "--sim",
            "-w",
            "broadcast",
            "--node-count",
            "5",
            "--time-limit",
            "10",
            "--rate",
            "50",
            "--latency",
            "10",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "2",
            "--seeds",
            "100",
            "--",
            "--unreliable",
        ],
        dir.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("acknowledged elements were lost"),
        "{stdout}"
    );
    let replays: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("replay: "))
        .collect();
    assert!(
        replays.len() >= 2,
        "a failing seed and its shrunk form: {stdout}"
    );

    // The first failing seed replays exactly: invalid, twice the same bytes.
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    assert_eq!(replay(replays[0], a.path()).status.code(), Some(1));
    assert_eq!(replay(replays[0], b.path()).status.code(), Some(1));
    assert_eq!(
        read(a.path(), "history.jsonl"),
        read(b.path(), "history.jsonl")
    );

    // The shrunk run still fails, and is smaller.
    let shrunk = *replays.last().unwrap();
    assert!(stdout.contains("shrunk seed"), "{stdout}");
    let c = tempfile::tempdir().unwrap();
    let shrunk_out = replay(shrunk, c.path());
    assert_eq!(shrunk_out.status.code(), Some(1), "{shrunk}");
    // The same failure, not one any tiny run shows.
    let shrunk_stdout = String::from_utf8_lossy(&shrunk_out.stdout);
    assert!(
        shrunk_stdout
            .lines()
            .any(|l| l.trim_start().starts_with("problem") && l.contains(": workload: ")),
        "the shrunk run fails in the workload's check, as the original did: {shrunk_stdout}"
    );
    let ops = |d: &Path| read(d, "history.jsonl").lines().count();
    assert!(
        ops(c.path()) < ops(a.path()),
        "shrinking made the history shorter"
    );
}

#[test]
fn sweep_of_the_reliable_node_is_all_valid_and_shards_split_it() {
    let dir = tempfile::tempdir().unwrap();
    let base = [
        "test",
        "--sim",
        "-w",
        "broadcast",
        "--node-count",
        "3",
        "--time-limit",
        "5",
        "--rate",
        "30",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "1",
        "--loss",
        "1/50",
        "--seeds",
        "10..30",
    ];
    let out = lightcone(&base, dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("20 seeds: 20 valid"), "{stdout}");
    let mut sharded = base.to_vec();
    sharded.extend(["--shard", "1/4"]);
    let stdout = String::from_utf8_lossy(&lightcone(&sharded, dir.path()).stdout).into_owned();
    assert!(stdout.contains("5 seeds: 5 valid"), "{stdout}");
}

#[test]
fn clock_faults_need_sim_and_a_program_that_is_not_a_node_aborts_under_sim() {
    let dir = tempfile::tempdir().unwrap();
    let out = lightcone(&["test", "-w", "echo", "--nemesis", "clock"], dir.path());
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--nemesis clock needs --sim"));
    // `cat` runs under --sim --bin (tests/seeded.rs has real nodes), but
    // what it prints back is the workbench's own messages, not a reply:
    // init is never answered and the run aborts, saying so.
    let out = lightcone(
        &[
            "test",
            "--sim",
            "-w",
            "echo",
            "--bin",
            "/bin/cat",
            "--node-count",
            "1",
            "--time-limit",
            "1",
        ],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("did not answer init"));
    let out = lightcone(&["test", "--sim", "-w", "echo", "--seeds", "0"], dir.path());
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--seeds"));
}

/// The replay command a single simulation prints on stderr.
fn printed_replay(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let start = text
        .find("(replay: ")
        .expect("a simulation prints its replay command")
        + 9;
    let end = start + text[start..].find(')').expect("the replay command ends");
    text[start..end].to_string()
}

/// A run's printed replay command is the run: the replayed history is the
/// same bytes, with `--node-count` and without it (Maelstrom's default
/// nodes are n1..n5, which the command must name).
#[test]
fn a_printed_replay_command_replays_the_same_history() {
    for with_node_count in [true, false] {
        let mut args = vec![
            "test",
            "--sim",
            "-w",
            "g-set",
            "--time-limit",
            "4",
            "--rate",
            "30",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "1",
            "--seed",
            "77",
        ];
        if with_node_count {
            args.extend(["--node-count", "3"]);
        }
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = lightcone(&args, a.path());
        let command = printed_replay(&first.stderr);
        assert_eq!(
            command.contains("--nodes n1,n2,n3,n4,n5"),
            !with_node_count,
            "{command}"
        );
        replay(&command, b.path());
        assert_eq!(
            read(a.path(), "history.jsonl"),
            read(b.path(), "history.jsonl"),
            "{command}"
        );
        assert_eq!(
            read(a.path(), "results.json"),
            read(b.path(), "results.json")
        );
    }
}

/// `--test-count` with `--sim` runs the test that many times, as in
/// process mode: seeds --seed, --seed+1, ..., each with its own results
/// folder and replay command (it once ran once). With `--seeds` it is
/// refused.
#[test]
fn test_count_repeats_a_simulation_with_the_next_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "test",
        "--sim",
        "-w",
        "echo",
        "--node-count",
        "1",
        "--time-limit",
        "1",
        "--test-count",
        "3",
        "--seed",
        "7",
    ];
    let out = lightcone(&args, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for seed in [7, 8, 9] {
        assert!(
            stderr.contains(&format!("seed {seed} (replay: ")),
            "{stderr}"
        );
    }
    let runs = std::fs::read_dir(dir.path().join("store/echo"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name() != "latest")
        .count();
    assert_eq!(runs, 3);

    let out = lightcone(
        &[
            "test",
            "--sim",
            "-w",
            "echo",
            "--seeds",
            "3",
            "--test-count",
            "2",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "--test-count 2 repeats one run, and --seeds already runs one per seed; drop one"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A sub-millisecond `--recovery-time` (and other durations) is printed in
/// the replay command exactly as seconds the parser takes back: the
/// replay is accepted and replays the same run. Read as a float, 3 ns
/// once became 2 (and 0.1 ns became 0, printed as the refused
/// `--recovery-time 0`).
#[test]
fn a_sub_millisecond_recovery_time_replays() {
    let args = [
        "test",
        "--sim",
        "-w",
        "broadcast",
        "--node-count",
        "2",
        "--time-limit",
        "1",
        "--rate",
        "20",
        "--recovery-time",
        "0.000000003",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "0.000250001",
        "--seed",
        "5",
    ];
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // With so short a recovery the verdict may well be invalid; what
    // matters is that the replay is the same run.
    let first = lightcone(&args, a.path());
    let command = printed_replay(&first.stderr);
    assert!(
        command.contains("--recovery-time 0.000000003 "),
        "{command}"
    );
    assert!(
        command.contains("--nemesis-interval 0.000250001"),
        "{command}"
    );
    let second = replay(&command, b.path());
    assert!(
        matches!(second.status.code(), Some(0 | 1)),
        "{command}: {}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(second.status.code(), first.status.code());
    assert_eq!(printed_replay(&second.stderr), command);
    assert_eq!(
        read(a.path(), "history.jsonl"),
        read(b.path(), "history.jsonl")
    );
}

/// `--flag-schedule` flips the Raft node's degraded reads during a
/// partition: the flips are nemesis ops in history.jsonl, the degraded
/// reads `read-degraded` ops counted in results.json and the summary, the
/// run valid, and the replay command carries the schedule.
#[test]
fn a_flag_flipped_during_a_partition_is_in_the_history_and_degraded_reads_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "test",
        "--sim",
        "-w",
        "lin-kv",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "5",
        "--time-limit",
        "30",
        "--rate",
        "100",
        "--seed",
        "3",
        "--no-report",
        "--flag-schedule",
        "degraded-reads:on@8,off@22",
    ];
    let out = lightcone(&args, dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("degraded reads)") && stdout.contains("degraded-read-count"),
        "{stdout}"
    );
    let all = format!("{stdout}{stderr}");
    assert!(
        all.contains("--flag-schedule degraded-reads:on@8,off@22"),
        "the replay command: {all}"
    );
    let history = read(dir.path(), "history.jsonl");
    let flips: Vec<serde_json::Value> = history
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|op| op["process"] == "nemesis" && op["f"] == "flag" && !op["value"].is_null())
        .collect();
    assert_eq!(flips.len(), 2, "{flips:?}");
    assert_eq!(flips[0]["type"], "info");
    assert_eq!(
        flips[0]["value"],
        serde_json::json!(["degraded-reads", true])
    );
    assert_eq!(
        flips[1]["value"],
        serde_json::json!(["degraded-reads", false])
    );
    let degraded = history
        .lines()
        .filter(|l| l.contains("\"f\":\"read-degraded\""))
        .count();
    assert!(degraded > 0);
    let results: serde_json::Value =
        serde_json::from_str(&read(dir.path(), "results.json")).unwrap();
    assert_eq!(
        results["workload"]["degraded-read-count"],
        serde_json::json!(degraded)
    );
    assert_eq!(results["workload"]["valid"], serde_json::json!(true));
    // `lightcone check` reads the history back (a read completed as
    // read-degraded pairs with its invocation) and leaves them out too;
    // as ordinary reads, the stale answers are not linearizable.
    let history_path = dir.path().join("store/latest/history.jsonl");
    let path = history_path.to_str().unwrap();
    let check = |path: &str| {
        lightcone(
            &["check", "--model", "independent-cas-register", path],
            dir.path(),
        )
    };
    let out = check(path);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let as_reads = dir.path().join("as-reads.jsonl");
    std::fs::write(
        &as_reads,
        history.replace("\"f\":\"read-degraded\"", "\"f\":\"read\""),
    )
    .unwrap();
    let out = check(as_reads.to_str().unwrap());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("INVALID"), "{stdout}");
}

#[test]
fn a_bad_flag_schedule_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    for (schedule, why) in [
        ("degraded-reads", "has no `:`"),
        ("degraded-reads:on@40", "within the --time-limit"),
    ] {
        let out = lightcone(
            &[
                "test",
                "--sim",
                "-w",
                "lin-kv",
                "--time-limit",
                "30",
                "--flag-schedule",
                schedule,
            ],
            dir.path(),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{stderr}");
        assert!(stderr.contains(why), "{stderr}");
    }
    assert!(!dir.path().join("store").exists());
}
