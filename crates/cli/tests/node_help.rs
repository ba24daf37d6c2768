//! `lightcone node`: every reference node's `--help` lists its flags, the
//! node list comes from `lightcone_nodes::NAMES`, and bad names and flags
//! are refused (exit 4) with what is wrong and the fix.

use std::process::{Command, Output, Stdio};

use lightcone_nodes::{NodeSpec, NAMES};

fn lightcone(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lightcone"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The flags the tests, README.md, ARCHITECTURE.md and BENCHMARKS.md use,
/// by node: renaming one breaks them.
const FLAGS_IN_USE: &[(&str, &[&str])] = &[
    ("echo", &[]),
    ("unique-ids", &["--epoch", "--volatile"]),
    (
        "broadcast",
        &["--gossip-ms", "--retry-ms", "--overlay", "--unreliable"],
    ),
    (
        "g-set",
        &[
            "--broadcast",
            "--gossip-ms",
            "--log-len-max",
            "--full-state",
            "--direct",
            "--retry-ms",
            "--overlay",
            "--unreliable",
        ],
    ),
    (
        "g-counter",
        &[
            "--crdt",
            "--seq-kv",
            "--own-only",
            "--gossip-ms",
            "--full-state",
            "--direct",
        ],
    ),
    (
        "pn-counter",
        &[
            "--crdt",
            "--seq-kv",
            "--own-only",
            "--gossip-ms",
            "--full-state",
            "--direct",
        ],
    ),
    (
        "lin-kv",
        &[
            "--proxy",
            "--cached-reads",
            "--tick-ms",
            "--election-ticks",
            "--request-ms",
            "--snapshot-every",
            "--log-applied",
            "--restore",
            "--degraded-reads",
            "--degraded-read-ms",
            "--unsafe-local-reads",
            "--unsafe-commit-previous-term",
            "--paxos",
            "--unsafe-ignore-promised-values",
        ],
    ),
    ("kafka", &["--local-offsets"]),
    (
        "txn-list-append",
        &[
            "--thunks",
            "--conflict-retries",
            "--unsafe-lww-thunks",
            "--raft",
            "--tick-ms",
        ],
    ),
    (
        "txn-rw-register",
        &[
            "--thunks",
            "--conflict-retries",
            "--unsafe-lww-thunks",
            "--raft",
            "--tick-ms",
            "--totally-available",
            "--gossip-ms",
            "--unsafe-dirty-writes",
        ],
    ),
];

#[test]
fn every_node_help_exits_0_and_lists_its_flags() {
    assert_eq!(
        FLAGS_IN_USE.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        NAMES,
        "a node without its flags listed here"
    );
    for (name, in_use) in FLAGS_IN_USE {
        let out = lightcone(&["node", name, "--help"]);
        let help = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        assert!(
            help.contains(&format!("Usage: lightcone node {name}")),
            "{help}"
        );
        let parser = NodeSpec::command(name).unwrap();
        let mut flags: Vec<String> = parser
            .get_arguments()
            .filter_map(|a| a.get_long())
            .map(|long| format!("--{long}"))
            .collect();
        flags.extend(in_use.iter().map(|f| f.to_string()));
        for flag in &flags {
            assert!(help.contains(flag), "{name} --help lacks {flag}:\n{help}");
        }
        // Each documented: no flag without a line of help.
        for arg in parser.get_arguments() {
            assert!(
                arg.get_help().is_some(),
                "{name}: {:?} has no help",
                arg.get_id()
            );
        }
    }
}

#[test]
fn node_help_lists_every_node() {
    let out = lightcone(&["node", "--help"]);
    let help = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for name in NAMES {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(name)),
            "{name} missing:\n{help}"
        );
    }
}

#[test]
fn an_unknown_node_lists_the_valid_ones() {
    let out = lightcone(&["node", "lin_kv"]);
    let error = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{error}");
    assert!(error.contains("no reference node \"lin_kv\""), "{error}");
    for name in NAMES {
        assert!(error.contains(name), "{name} missing: {error}");
    }
}

#[test]
fn bad_flags_are_refused_with_the_flag_and_the_fix() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["node", "lin-kv", "--tick-ms", "0"],
            &["--tick-ms", "from 1 to"],
        ),
        (&["node", "lin-kv", "--fast"], &["--fast"]),
        (
            &["node", "g-set", "--broadcast", "--full-state"],
            &["drop --full-state or --broadcast"],
        ),
        (
            &["node", "pn-counter", "--own-only"],
            &["add --seq-kv, or drop --own-only"],
        ),
        (
            &["test", "--sim", "-w", "lin-kv", "--", "--cached-reads"],
            &["node lin-kv", "add --proxy"],
        ),
        // Process mode checks the reference node's flags before any node
        // starts.
        (
            &["test", "-w", "broadcast", "--", "--retry-ms", "0"],
            &["node broadcast", "--retry-ms", "from 1 to"],
        ),
    ];
    for (args, words) in cases {
        let out = lightcone(args);
        let error = stderr(&out);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {error}");
        for word in *words {
            assert!(error.contains(word), "{args:?}: {error:?} lacks {word:?}");
        }
    }
}
