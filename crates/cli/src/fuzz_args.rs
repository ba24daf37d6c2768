//! Fuzzing the command line's value syntaxes as clap reads them: each case
//! is a flag of `lightcone test` (or `check`, `gen`) and a mutated value
//! (`--loss 1/20`, `--seeds 3..9`, `--shard 2/8`, `--latency-dist`,
//! `--topology`, `--format`...), parsed by `Cli::try_parse_from`, whose
//! errors are fine and whose panics are not. The library syntaxes behind
//! them are fuzzed on their own in crates/fuzz.
//!
//! `cargo test -p lightcone fuzz_args` runs 2,000 cases;
//! `cargo test --release -p lightcone --bin lightcone fuzz_args -- --ignored`
//! runs 100,000.

use std::time::Duration;

use clap::Parser;
use lightcone_fuzz::{run, Limits, Target};

use crate::Cli;

/// Each case's first byte picks the command line; the rest is the value.
const COMMAND_LINES: &[&[&str]] = &[
    &["test", "-w", "lin-kv", "--loss"],
    &["test", "-w", "lin-kv", "--duplicate"],
    &["test", "-w", "lin-kv", "--latency-dist"],
    &["test", "-w", "broadcast", "--topology"],
    &["test", "-w", "lin-kv", "--sim", "--seeds"],
    &["test", "-w", "lin-kv", "--sim", "--seeds", "10", "--shard"],
    &["test", "-w", "lin-kv", "--nemesis"],
    &["test", "-w", "lin-kv", "--nemesis-interval"],
    &["test", "-w", "lin-kv", "--time-limit"],
    &["test", "-w", "lin-kv", "--rate"],
    &["test", "-w", "lin-kv", "--concurrency"],
    &["test", "-w", "lin-kv", "--availability"],
    &["test", "-w"],
    &["check", "h.jsonl", "--format"],
    &["check", "h.jsonl", "--time-limit"],
    &["check", "h.jsonl", "--configs-max"],
    &["gen", "--ops"],
];

fn target() -> Target {
    let values: &[(u8, &str)] = &[
        (0, "1/20"),
        (1, "0/1"),
        (2, "exponential"),
        (3, "tree4"),
        (4, "3..9"),
        (5, "2/8"),
        (6, "partition,kill"),
        (7, "2.5"),
        (8, "30"),
        (9, "100"),
        (10, "2n"),
        (11, "total"),
        (12, "echo"),
        (13, "porcupine-etcd"),
        (14, "1e3"),
        (15, "10000000"),
        (16, "1000"),
    ];
    Target {
        name: "cli-args",
        corpus: values
            .iter()
            .map(|(line, value)| [&[*line][..], value.as_bytes()].concat())
            .collect(),
        tokens: vec![
            b"/",
            b"..",
            b"-",
            b"n",
            b",",
            b"0",
            b"18446744073709551616",
            b"NaN",
            b"inf",
        ],
        parse: |input| {
            let Some((&line, value)) = input.split_first() else {
                return;
            };
            let line = COMMAND_LINES[usize::from(line) % COMMAND_LINES.len()];
            let value = String::from_utf8_lossy(value).into_owned();
            let args = std::iter::once("lightcone")
                .chain(line.iter().copied())
                .chain(std::iter::once(value.as_str()));
            let _ = Cli::try_parse_from(args);
            let _ = crate::sim_cmd::parse_seeds(&value);
            let _ = crate::sim_cmd::parse_shard(&value);
        },
        input_bytes_max: None,
    }
}

fn campaign(cases: u64) {
    let limits = Limits {
        input_bytes_max: 4096,
        case_time_max: Duration::from_secs(30),
        memory_bytes_per_input_byte: usize::MAX,
        memory_bytes_extra: usize::MAX,
    };
    let dir = std::env::temp_dir().join("lightcone-fuzz-failures");
    // The binary's allocator is mimalloc: memory is not counted here.
    let out = run(&target(), 17, 0..cases, &limits, &dir, None);
    println!("{}", out.summary());
    let failures: Vec<String> = out
        .failures
        .iter()
        .take(5)
        .map(|f| {
            format!(
                "case {} (seed 17): {}; input {}",
                f.case,
                f.what,
                f.input_path.display()
            )
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn fuzz_args_slice() {
    campaign(2_000);
}

#[test]
#[ignore = "100,000 cases; run with --release -- --ignored"]
fn fuzz_args_full() {
    campaign(100_000);
}
