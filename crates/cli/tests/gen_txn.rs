//! `lightcone gen list-append` and `lightcone gen rw-register`: the history
//! the library generates, written as JSONL or Jepsen EDN, the same for the
//! same seed; `--inject` adds the gadget; bad options and an unknown
//! anomaly refused (exit 4) with what is wrong.

mod common;

use std::process::Output;

use common::lightcone;

use lightcone_history::formats::{self, Format};
use lightcone_history::History;
use lightcone_txn::gen::{self, GenOptions};

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn options(txns: usize) -> GenOptions {
    GenOptions {
        txns,
        ..GenOptions::default()
    }
}

#[test]
fn list_append_prints_two_lines_a_txn_and_the_same_twice() {
    let args = ["gen", "list-append", "--txns", "100", "--seed", "3"];
    let first = lightcone(&args);
    assert!(first.status.success(), "{}", stderr(&first));
    let text = stdout(&first);
    assert_eq!(text.lines().count(), 200);
    assert_eq!(text, stdout(&lightcone(&args)));
    let history = History::from_jsonl(&text).unwrap();
    assert_eq!(history, gen::list_append_history(3, &options(100)));
    assert_ne!(
        text,
        stdout(&lightcone(&[
            "gen",
            "list-append",
            "--txns",
            "100",
            "--seed",
            "4"
        ]))
    );
}

#[test]
fn rw_register_takes_every_option_and_writes_edn_with_keyword_micro_ops() {
    let args = [
        "gen",
        "rw-register",
        "--txns",
        "300",
        "--processes",
        "4",
        "--key-count",
        "3",
        "--min-txn-length",
        "2",
        "--max-txn-length",
        "6",
        "--max-writes-per-key",
        "8",
        "--fail-permille",
        "100",
        "--info-permille",
        "100",
        "--seed",
        "5",
        "--edn",
    ];
    let out = lightcone(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("[:w ") && text.contains("[:r ") && !text.contains("[\"w\" "));
    let o = GenOptions {
        txns: 300,
        processes: 4,
        key_count: 3,
        min_txn_length: 2,
        max_txn_length: 6,
        max_writes_per_key: 8,
        fail_permille: 100,
        info_permille: 100,
    };
    let expected = gen::rw_register_history(5, &o);
    assert_eq!(formats::read(&text, Format::Edn).unwrap(), expected);
}

#[test]
fn list_append_edn_reads_back_as_the_same_history() {
    let out = lightcone(&[
        "gen",
        "list-append",
        "--txns",
        "5000",
        "--edn",
        "--seed",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let history = formats::read(&stdout(&out), Format::Edn).unwrap();
    assert_eq!(history, gen::list_append_history(1, &options(5000)));
}

#[test]
fn bad_options_and_unknown_anomalies_are_refused_with_the_flag() {
    for (args, says) in [
        (
            &["gen", "list-append", "--max-txn-length", "0"][..],
            "--max-txn-length 0 is out of range",
        ),
        (
            &["gen", "rw-register", "--processes", "0"][..],
            "--processes 0",
        ),
        (
            &[
                "gen",
                "list-append",
                "--fail-permille",
                "700",
                "--info-permille",
                "400",
            ][..],
            "add up to more than 1000",
        ),
        (
            &["gen", "rw-register", "--inject", "G0"][..],
            "--inject \"G0\": a rw-register history has no such anomaly to inject; use one of G1a,",
        ),
    ] {
        let out = lightcone(args);
        assert_eq!(out.status.code(), Some(4), "{args:?}");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn inject_adds_the_gadget_where_the_seed_says() {
    let args = |seed| {
        [
            "gen",
            "list-append",
            "--txns",
            "50",
            "--inject",
            "g1c",
            "--seed",
            seed,
        ]
    };
    let out = lightcone(&args("5"));
    assert!(out.status.success(), "{}", stderr(&out));
    let history = History::from_jsonl(&stdout(&out)).unwrap();
    let mut want = gen::list_append_history(5, &options(50));
    gen::inject(&mut want, gen::Workload::ListAppend, "G1c", 5).unwrap();
    assert_eq!(history, want);
    assert_eq!(history.len(), 100 + 4, "two more transactions");
    assert_ne!(stdout(&out), stdout(&lightcone(&args("6"))));
}
