//! Bad input is refused before anything runs: exit 4 and a message that
//! names the flag, what is wrong and what to give instead (issue 17). Node
//! ids that are not plain names, durations that would overflow
//! nanoseconds, sizes that cannot fit, check's time limit and
//! configuration bound, and gen's sizes.

mod common;

use std::path::Path;
use std::process::Output;

use common::{lightcone, lightcone_in, lightcone_stdin};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts that `out` is a refusal: exit 4, and stderr holds each of
/// `needles`.
fn assert_refused(out: &Output, needles: &[&str]) {
    let text = stderr(out);
    assert_eq!(out.status.code(), Some(4), "{text}");
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
}

/// `lightcone test ARGS` in a fresh folder, which must stay empty (no
/// store, no run); its output.
fn refused_test(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut argv = vec!["test"];
    argv.extend_from_slice(args);
    let out = lightcone_in(dir.path(), &argv);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "a refused test wrote {left:?}");
    out
}

#[test]
fn node_ids_that_are_not_plain_names_exit_4() {
    // `--nodes ../../x` once wrote node-logs/../../x.log outside the store.
    let outer = tempfile::tempdir().unwrap();
    let dir = outer.path().join("a/b");
    std::fs::create_dir_all(&dir).unwrap();
    for sim in [false, true] {
        let mut args = vec![
            "test",
            "-w",
            "echo",
            "--nodes",
            "../../x",
            "--time-limit",
            "1",
        ];
        if sim {
            args.push("--sim");
        }
        let out = lightcone_in(&dir, &args);
        assert_refused(
            &out,
            &[
                "node id \"../../x\": node ids are letters, digits, `-` and `_`",
                "name nodes n1, n2",
            ],
        );
        assert!(!outer.path().join("x.log").exists());
        assert!(!dir.join("store").exists());
    }
    for service in ["lin-kv", "seq-kv", "lww-kv", "lin-tso"] {
        let nodes = format!("n1,{service}");
        let out = refused_test(&["--sim", "-w", "echo", "--nodes", &nodes]);
        assert_refused(
            &out,
            &[&format!(
                "node id \"{service}\": that id belongs to a service"
            )],
        );
    }
    let out = refused_test(&["--sim", "-w", "echo", "--nodes", "n1,c2"]);
    assert_refused(
        &out,
        &["node id \"c2\": ids starting with `c` belong to clients"],
    );
    let long = "n".repeat(65);
    let out = refused_test(&["--sim", "-w", "echo", "--nodes", &long]);
    assert_refused(&out, &["node ids are at most 64 characters"]);
    // Letters, digits, `-` and `_` are fine, and spaces after commas too.
    let dir = tempfile::tempdir().unwrap();
    let out = lightcone_in(
        dir.path(),
        &[
            "test",
            "--sim",
            "-w",
            "echo",
            "--nodes",
            "n-1, N_2",
            "--time-limit",
            "1",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn durations_that_would_overflow_nanoseconds_exit_4_with_the_maximum() {
    let max_ms = "from 0 to 31536000000 (a year)";
    for flag in ["--latency", "--clock-skew-ms"] {
        for value in ["18446744073709551615", "31536000001"] {
            let out = refused_test(&["--sim", "-w", "echo", flag, value]);
            assert_refused(&out, &[flag, "more than the maximum", max_ms]);
        }
        let out = refused_test(&["--sim", "-w", "echo", flag, "-5"]);
        assert_refused(&out, &[flag, "it is negative"]);
    }
    for flag in ["--time-limit", "--nemesis-interval", "--recovery-time"] {
        for value in ["1e100", "18446744073709551615", "31536000.5"] {
            let out = refused_test(&["--sim", "-w", "echo", flag, value]);
            assert_refused(&out, &[flag, "more than the maximum, 31536000 s (a year)"]);
        }
        for (value, what) in [
            ("NaN", "use a number of seconds such as 10, 0.5 or 2.5e-3"),
            ("inf", "use a number of seconds such as 10, 0.5 or 2.5e-3"),
            ("-1", "it is negative"),
            ("0", "it must be positive"),
            ("1e-12", "it must be positive"),
        ] {
            let out = refused_test(&["--sim", "-w", "echo", flag, value]);
            assert_refused(&out, &[flag, what]);
        }
    }
    // A positive rate so small that its delays would pass any time limit.
    let out = refused_test(&["--sim", "-w", "echo", "--rate", "1e-9"]);
    assert_refused(
        &out,
        &["--rate is 0.000000001; use 0 (no requests) or at least 0.000001"],
    );
    let out = refused_test(&["--sim", "-w", "echo", "--rate", "-1"]);
    assert_refused(&out, &["--rate is -1; use a non-negative number"]);
}

#[test]
fn counts_that_cannot_fit_exit_4_with_the_maximum() {
    let out = refused_test(&[
        "--sim",
        "-w",
        "echo",
        "--node-count",
        "18446744073709551615",
    ]);
    assert_refused(
        &out,
        &["--node-count is 18446744073709551615; use at most 1000000 nodes"],
    );
    let out = refused_test(&[
        "--sim",
        "-w",
        "echo",
        "--concurrency",
        "18446744073709551615n",
    ]);
    assert_refused(
        &out,
        &["--concurrency is \"18446744073709551615n\"; use at most 10000000"],
    );
    let out = refused_test(&[
        "--sim",
        "-w",
        "kafka",
        "--key-count",
        "18446744073709551615",
    ]);
    assert_refused(
        &out,
        &["--key-count is 18446744073709551615; use at most 1000000 keys"],
    );
    let out = refused_test(&[
        "--sim",
        "-w",
        "txn-list-append",
        "--max-txn-length",
        "100001",
    ]);
    assert_refused(
        &out,
        &["--max-txn-length is 100001; use a positive number of operations, at most 100000"],
    );
}

#[test]
fn a_node_queue_of_zero_exits_4_instead_of_blaming_the_node() {
    let out = refused_test(&["-w", "echo", "--node-count", "1", "--node-queue-max", "0"]);
    assert_refused(
        &out,
        &["--node-queue-max is 0; a node's inbound queue must hold at least 1 message"],
    );
}

fn history(dir: &Path) -> String {
    let out = lightcone(&["gen", "register", "--clients", "3", "--ops", "50"]);
    assert!(out.status.success());
    let path = dir.join("h.jsonl");
    std::fs::write(&path, &out.stdout).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn check_time_limit_is_a_positive_number_of_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let h = history(dir.path());
    let check = |limit: &str| {
        lightcone(&[
            "check",
            &h,
            "--model",
            "cas-register",
            "--time-limit",
            limit,
        ])
    };
    // 1e100 once panicked; 0, NaN and negatives raced the timer, so that
    // the verdict varied from run to run.
    for (limit, what) in [
        ("1e100", "it is more than the maximum, 31536000 s (a year)"),
        ("NaN", "use a number of seconds such as 10"),
        ("-1", "it is negative"),
        ("0", "it must be positive"),
    ] {
        assert_refused(&check(limit), &["'--time-limit <SECONDS>'", what]);
    }
    let out = check("10");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn check_configs_max_of_zero_is_bad_input_not_a_malformed_history() {
    let dir = tempfile::tempdir().unwrap();
    let h = history(dir.path());
    let out = lightcone(&["check", &h, "--model", "cas-register", "--configs-max", "0"]);
    assert_refused(
        &out,
        &["--configs-max is 0; the search needs room for at least 1 configuration"],
    );
    assert!(!stderr(&out).contains("malformed"));
    assert!(out.stdout.is_empty(), "no verdict is printed");
}

#[test]
fn gen_sizes_are_bounded_before_anything_is_allocated() {
    // 18446744073709551615 clients once panicked, 4000000000 ran out of
    // memory.
    for clients in ["18446744073709551615", "4000000000", "1000001"] {
        for kind in ["register", "unique-register"] {
            let out = lightcone(&["gen", kind, "--clients", clients]);
            assert_refused(
                &out,
                &[&format!(
                    "--clients is {clients}; use at most 1000000 (each client keeps a slot)"
                )],
            );
        }
    }
    let out = lightcone(&["gen", "register", "--ops", "18446744073709551615"]);
    assert_refused(
        &out,
        &["--ops is 18446744073709551615; use at most 10000000 (the history is built in memory"],
    );
    let out = lightcone(&["gen", "list-append", "--txns", "5000001", "--inject", "G0"]);
    assert_refused(
        &out,
        &["--txns is 5000001; use at most 5000000 (with --inject"],
    );
}

fn have_python() -> bool {
    common::have_python()
}

/// Writes `name` into `dir` with `mode`, from the test nodes' `source`.
fn write_node(dir: &Path, name: &str, source: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let nodes = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nodes");
    let path = dir.join(name);
    std::fs::copy(nodes.join(source), &path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_bare_bin_name_runs_the_file_of_that_name_here_as_maelstrom_does() {
    let dir = tempfile::tempdir().unwrap();
    let echo = |dir: &Path, bin: &str| {
        lightcone_in(
            dir,
            &[
                "test",
                "-w",
                "echo",
                "--node-count",
                "1",
                "--time-limit",
                "1",
                "--bin",
                bin,
            ],
        )
    };
    // Neither here nor in PATH: a bad argument, nothing run.
    let out = echo(dir.path(), "echo.py");
    assert_refused(
        &out,
        &[
            "--bin echo.py: no executable of that name in the folders of PATH",
            "nothing was run and no results were written",
        ],
    );
    assert!(!dir.path().join("store").exists());
    // Here but not executable: the fix is named.
    write_node(dir.path(), "echo.py", "echo.py", 0o644);
    write_node(dir.path(), "node_lib.py", "node_lib.py", 0o644);
    let out = echo(dir.path(), "echo.py");
    assert_refused(&out, &["echo.py is not executable; chmod +x it"]);
    if !have_python() {
        return;
    }
    // Here and executable: it runs (it was once looked up in PATH only).
    write_node(dir.path(), "echo.py", "echo.py", 0o755);
    let out = echo(dir.path(), "echo.py");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Names that are not files here still come from PATH.
    let node = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nodes/echo.py");
    let out = lightcone_in(
        dir.path(),
        &[
            "test",
            "-w",
            "echo",
            "--node-count",
            "1",
            "--time-limit",
            "1",
            "--bin",
            "python3",
            "--",
            &node.to_string_lossy(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn nodes_the_system_will_not_start_leave_no_run_folder_and_no_latest_link() {
    // With few file descriptors, the first nodes start and a later one
    // cannot (too many open files): the workbench's limit, not the
    // program's fault, so exit 5, with the fix; the folder made for the
    // run is removed and `latest` is not made.
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 24 && exec {} test -w echo --node-count 20 --time-limit 1",
            env!("CARGO_BIN_EXE_lightcone")
        ))
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(
        text.contains("Too many open files")
            && text.contains("raise the limit (ulimit -n) or run fewer nodes"),
        "{text}"
    );
    assert!(!dir.path().join("store/latest").exists());
    assert!(!dir.path().join("store/echo/latest").exists());
    let runs = std::fs::read_dir(dir.path().join("store/echo")).unwrap();
    assert_eq!(runs.count(), 0, "no run folder is left");
}

/// A 100 KB token in the input is shown as its first 80 characters and
/// its length, wherever the message comes from (clap, the flags, the
/// history readers, the checker's malformed-history reason).
#[test]
fn error_messages_show_an_excerpt_of_a_huge_bad_value() {
    let token = "x".repeat(100_000);
    let shown = format!("{}... (100000 bytes)", "x".repeat(80));
    let bounded = |out: &Output| {
        let text = format!("{}{}", stderr(out), String::from_utf8_lossy(&out.stdout));
        assert!(text.len() < 2500, "{} bytes: {}", text.len(), &text[..2000]);
        text
    };
    for (workload, flag) in [
        ("echo", "--latency"),
        ("echo", "--time-limit"),
        ("echo", "--nodes"),
        ("echo", "--concurrency"),
        ("echo", "--nemesis"),
        ("txn-list-append", "--consistency-models"),
        ("lin-kv", "--consistency-models"),
    ] {
        let out = refused_test(&["--sim", "-w", workload, flag, &token]);
        assert_eq!(out.status.code(), Some(4), "{flag}");
        let text = bounded(&out);
        // The excerpt may begin with a quote the message puts around it.
        assert!(text.contains(&shown[..60]), "{flag}: {text}");
        assert!(
            text.contains("x... (100000 bytes)") || text.contains("x... (100001 bytes)"),
            "{flag}: {text}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let check = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        lightcone(&["check", &path.to_string_lossy(), "--model", "cas-register"])
    };
    let out = check(
        "a.edn",
        format!("{{:process 0, :type :{token}, :f :read}}\n"),
    );
    assert_refused(
        &out,
        &["found :xxxxxxxx", "... (100001 bytes)", "reading as edn"],
    );
    bounded(&out);
    let out = check(
        "b.log",
        format!("INFO  jepsen.util - 0\t:invoke\t:read\t{token}\n"),
    );
    assert_refused(
        &out,
        &[
            "found `xxxx",
            "... (100001 bytes)`; reading as porcupine-etcd",
        ],
    );
    bounded(&out);
    // Read, but malformed for the model: the verdict's reason is bounded.
    let out = check(
        "c.edn",
        format!("{{:process 0, :type :invoke, :f {token}}}\n"),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("malformed history"));
    bounded(&out);
}

/// Input that is not UTF-8 is refused with the byte offset, line and
/// column of the first bad byte, and what the byte is.
#[test]
fn a_history_that_is_not_text_is_refused_at_its_first_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.jsonl");
    let mut bytes = b"{\"process\":0}\n\nab\xc3\xa9cd".to_vec();
    bytes.extend([0xff, 0xfe, 0x00, 0x81, 0x82]);
    std::fs::write(&path, &bytes).unwrap();
    let out = lightcone(&["check", &path.to_string_lossy(), "--model", "cas-register"]);
    assert_refused(
        &out,
        &[
            "garbage.jsonl: byte 21 (line 3, column 6) is not UTF-8 text (bytes 0xff 0xfe 0x00 0x81)",
            "a history is text",
        ],
    );
}

/// A history of a megabyte or more is mapped into memory rather than read
/// (check_cmd.rs, `MAP_MIN_BYTES`): the verdict is the one reading it from
/// standard input gives, and a bad byte deep in it is still placed.
#[test]
fn a_large_history_is_read_from_its_mapping_as_from_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = lightcone(&[
        "gen",
        "unique-register",
        "--clients",
        "10",
        "--keys",
        "10",
        "--ops",
        "20000",
    ]);
    assert!(out.status.success());
    assert!(
        out.stdout.len() > 1 << 20,
        "the history must be mapped: {} bytes",
        out.stdout.len()
    );
    let path = dir.path().join("big.jsonl");
    std::fs::write(&path, &out.stdout).unwrap();
    let args = ["--model", "independent-register", "--json"];
    let mapped = lightcone(&[&["check", &path.to_string_lossy()][..], &args].concat());
    let piped = lightcone_stdin(&[&["check", "-"][..], &args].concat(), &out.stdout);
    assert_eq!(
        mapped.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&mapped.stderr)
    );
    assert_eq!(piped.status.code(), Some(0));
    let verdict = |o: &std::process::Output| {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (v["valid"].clone(), v["op-count"].clone())
    };
    assert_eq!(verdict(&mapped), verdict(&piped));

    let mut bytes = out.stdout.clone();
    let lines = bytes.iter().filter(|&&b| b == b'\n').count();
    bytes.extend(b"{\"process\":0,\xff}\n");
    std::fs::write(&path, &bytes).unwrap();
    let out = lightcone(&[
        "check",
        &path.to_string_lossy(),
        "--model",
        "independent-register",
    ]);
    assert_refused(
        &out,
        &[&format!(
            "(line {}, column 14) is not UTF-8 text",
            lines + 1
        )],
    );
}

/// A run that cannot fit is refused before it starts, with the estimate,
/// its largest part, what lowers it and the flag to go ahead anyway.
#[test]
fn runs_that_cannot_fit_in_memory_are_refused_with_the_figure() {
    // 360 million operations: about 220 GB.
    let out = refused_test(&[
        "--sim",
        "-w",
        "echo",
        "--rate",
        "100000",
        "--time-limit",
        "3600",
        "--memory-max",
        "100",
    ]);
    assert_refused(
        &out,
        &[
            "this run would need about 220.7 GB of memory, more than --memory-max (100.0 GB): \
             220.7 GB for 360000000 operations (--rate 100000 x --time-limit 3600 s) at 613 B \
             each (echo); lower --rate or --time-limit, or pass --memory-max 221 to run it anyway",
        ],
    );
    // Without --memory-max the limit is this machine's memory: 22 TB is
    // more than any machine this runs on.
    let out = refused_test(&[
        "--sim",
        "-w",
        "echo",
        "--rate",
        "100000",
        "--time-limit",
        "360000",
    ]);
    assert_refused(&out, &["more than this machine's memory ("]);
    // 100000 nodes, in process mode too: refused before any is started.
    let out = refused_test(&[
        "-w",
        "echo",
        "--node-count",
        "100000",
        "--memory-max",
        "100",
    ]);
    assert_refused(
        &out,
        &["500.0 GB for 100000 nodes (50 B x nodes²); lower the node count"],
    );
    let out = refused_test(&[
        "--sim",
        "-w",
        "broadcast",
        "--node-count",
        "1000",
        "--topology",
        "total",
        "--memory-max",
        "20",
    ]);
    assert_refused(
        &out,
        &["45.0 GB for the total topology, sent to every node"],
    );
    // A small run over a smaller limit, then let through by a larger one.
    let small = [
        "--sim",
        "-w",
        "echo",
        "--node-count",
        "1",
        "--time-limit",
        "1",
        "--memory-max",
    ];
    let out = refused_test(&[&small[..], &["0.001"]].concat());
    assert_refused(
        &out,
        &[
            "more than --memory-max (1 MB)",
            "pass --memory-max 1 to run it anyway",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let out = lightcone_in(dir.path(), &[&["test"][..], &small, &["1"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = refused_test(&[&small[..], &["0"]].concat());
    assert_refused(&out, &["use a positive number of gigabytes"]);
}
