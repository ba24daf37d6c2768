//! Fuzzing every parser of outside input with seeded mutations of valid
//! inputs: Jepsen EDN histories, JSONL histories, Porcupine's etcd logs and
//! kv histories, Maelstrom's message envelope, and the command line's value
//! syntaxes (ratios, latency distributions, topologies, history formats).
//!
//! - `cargo test -p lightcone-fuzz` runs a short slice (20,000 cases in
//!   all, inputs up to 64 KiB) with every test run.
//! - `cargo test --release -p lightcone-fuzz --test parsers -- --ignored
//!   --nocapture` runs the full campaign: 1,000,000 cases, inputs up to
//!   1 MiB (`LIGHTCONE_FUZZ_CASES` and `LIGHTCONE_FUZZ_SEED` change the
//!   count and the seed).
//! - `LIGHTCONE_FUZZ_REPLAY=target:seed:case` runs one case, uncaught, for
//!   its backtrace (the failure messages print this).
//!
//! Failing inputs are saved under the target folder's `fuzz-failures/`.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use lightcone_fuzz::{run, CountingAlloc, Limits, Mutator, Outcome, Target};
use lightcone_history::formats::{self, Format};
use lightcone_history::{History, HistoryWriter, Op, OpType, Process};
use serde_json::json;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

/// The seed of the campaigns, unless `LIGHTCONE_FUZZ_SEED` says otherwise.
const SEED: u64 = 17;

/// Cases of the slice every `cargo test` runs, over all targets.
const SLICE_CASES: u64 = 20_000;

/// Cases of the full campaign, over all targets.
const FULL_CASES: u64 = 1_000_000;

/// Peak allocation allowed per byte of input. The tightest honest bound:
/// a vector of one-digit integers (`[1 1 1 ...]`, two bytes an element)
/// becomes 32 bytes of `serde_json::Value` an element, and a set sorts
/// with the JSON text of each member beside it.
const MEMORY_BYTES_PER_INPUT_BYTE: usize = 96;

fn limits(input_bytes_max: usize) -> Limits {
    Limits {
        input_bytes_max,
        case_time_max: Duration::from_secs(30),
        memory_bytes_per_input_byte: MEMORY_BYTES_PER_INPUT_BYTE,
        memory_bytes_extra: 1 << 20,
    }
}

fn text(input: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(input)
}

/// A small history with every kind of op, value and field.
fn sample_history() -> History {
    let mut h = History::default();
    let mut add = |p: Process, kind: OpType, f: &str, value: serde_json::Value| {
        let mut op = Op::new(p, kind, f, value).at(h.len() as u64 * 1000);
        if kind == OpType::Info && p != Process::Nemesis {
            op.error = Some(Box::new(json!("timed-out")));
        }
        if let Process::Client(n) = p {
            op.node = Some(format!("n{}", n % 3).into());
        }
        op.is_final = f == "final-read";
        h.push(op);
    };
    add(Process::Client(0), OpType::Invoke, "write", json!([1, 5]));
    add(Process::Client(1), OpType::Invoke, "read", json!([1, null]));
    add(
        Process::Nemesis,
        OpType::Info,
        "start-partition",
        json!({"n1": ["n2", "n3"]}),
    );
    add(Process::Client(0), OpType::Ok, "write", json!([1, 5]));
    add(Process::Client(1), OpType::Ok, "read", json!([1, 5]));
    add(
        Process::Client(2),
        OpType::Invoke,
        "cas",
        json!([1, [5, 6]]),
    );
    add(Process::Client(2), OpType::Info, "cas", json!([1, [5, 6]]));
    add(
        Process::Client(3),
        OpType::Invoke,
        "txn",
        json!([["append", 1, 2], ["r", 1, null]]),
    );
    add(
        Process::Client(3),
        OpType::Fail,
        "txn",
        json!([["append", 1, 2], ["r", 1, null]]),
    );
    add(
        Process::Client(4),
        OpType::Invoke,
        "final-read",
        json!("é \"q\"\n"),
    );
    add(
        Process::Client(4),
        OpType::Ok,
        "final-read",
        json!([1.5, -2, 18446744073709551615u64, true]),
    );
    h
}

fn edn_target() -> Target {
    let written = formats::to_edn(&sample_history());
    let corpus = [
        written.as_str(),
        "[{:process 0, :type :invoke, :f :read, :value nil, :time 1200}\n {:process 0, :type :ok, :f :read, :value 3}]",
        "#jepsen.history.Op{:index 0, :time 10, :type :invoke, :process 1, :f :txn, :value [[:append 1 2] [:r 1 nil]]}\n\
         #jepsen.history.Op{:index 1, :time 20, :type :ok, :process 1, :f :txn, :value [[:append 1 2] [:r 1 [1 2]]]}",
        "; a comment\n{:process :nemesis, :type :info, :f :start, :value #{\"n1\" \"n2\"}}\n\
         {:process 2 :type :invoke :f :cas :value (1 2) :error #_ :skipped :x}\n\
         {:process 2, :type :info, :f :cas, :value {:k [1 2N 1.5M 1/3 ##Inf -0.0 1e10], \"s\" \\a, [1] \\newline}}",
        "({:process 3, :type :invoke, :f :write, :value #inst \"2020-01-01\" :final true :node \"n1\"})",
    ];
    Target {
        name: "edn",
        corpus: corpus.iter().map(|s| s.as_bytes().to_vec()).collect(),
        tokens: vec![
            b"#_",
            b"##Inf",
            b"##NaN",
            b"#{",
            b"#jepsen.history.Op{",
            b"#inst ",
            b"\\newline",
            b"\\u00e9",
            b"\\",
            b"\"",
            b":",
            b"nil",
            b"99999999999999999999",
            b"1e999",
            b"1/0",
            b"-",
            b"N",
            b"M",
            b";",
            b"[",
            b"]",
            b"{",
            b"}",
            b"(",
            b")",
            b":process",
            b":type :ok",
            b":f",
        ],
        parse: |input| {
            let text = text(input);
            if let Ok(h) = formats::read(&text, Format::Edn) {
                // What was read is written and read again as it was.
                let again = formats::read(&formats::to_edn(&h), Format::Edn);
                assert_eq!(again.as_ref(), Ok(&h), "EDN round trip");
            }
            let _ = formats::read(&text, Format::PorcupineKv);
            let _ = formats::read_auto(&text);
        },
        input_bytes_max: None,
    }
}

fn jsonl_target() -> Target {
    let mut writer = HistoryWriter::new(Vec::new());
    for op in sample_history().ops {
        writer.write(&op).unwrap();
    }
    let written = String::from_utf8(writer.into_inner()).unwrap();
    let testdata = [
        include_str!("../../check/testdata/register-ok.jsonl"),
        include_str!("../../check/testdata/kafka-ok.jsonl"),
        include_str!("../../check/testdata/kv-bad.jsonl"),
        include_str!("../../check/testdata/mutex-ok.jsonl"),
    ];
    let plain = "{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"add\",\"value\":[[1,2],{\"a\":[3]}]}\n\
                 {\"index\":1,\"time\":2,\"process\":0,\"type\":\"ok\",\"f\":\"add\",\"value\":null}\n";
    let mut corpus: Vec<Vec<u8>> = vec![written.into_bytes(), plain.as_bytes().to_vec()];
    corpus.extend(testdata.iter().map(|s| s.as_bytes().to_vec()));
    Target {
        name: "jsonl",
        corpus,
        tokens: vec![
            b"\\u00",
            b"\\ud800",
            b"\"",
            b"\\",
            b"[",
            b"]",
            b"{",
            b"}",
            b",",
            b":",
            b"null",
            b"1e999",
            b"-0",
            b"18446744073709551616",
            b"\"nemesis\"",
            b"\"type\":\"ok\"",
            b"\"process\":",
            b"\"value\":",
            b"\"final\":true",
            b"\n",
            b"\r\n",
        ],
        parse: |input| {
            let text = text(input);
            if let Ok(h) = History::from_jsonl(&text) {
                assert_eq!(
                    History::from_jsonl(&h.to_jsonl()).as_ref().ok(),
                    Some(&h),
                    "JSONL round trip"
                );
            }
            // Each line reads as serde_json reads an op (the quick reading
            // of lines as the workbench writes them included), op or error.
            for line in text.lines().filter(|l| !l.trim().is_empty()).take(50) {
                let want = serde_json::from_str::<Op>(line).map_err(|e| e.to_string());
                let got = History::from_jsonl(line)
                    .map(|h| h.ops[0].clone())
                    .map_err(|e| e.message);
                let want = want.map(|mut op| {
                    op.index = 0;
                    op
                });
                assert_eq!(got, want, "the line {line:?}");
            }
            let _ = formats::read_for_check(&text, Some(Format::Jsonl));
            let _ = formats::read_for_check(&text, None);
        },
        input_bytes_max: None,
    }
}

fn porcupine_etcd_target() -> Target {
    let log = "INFO  jepsen.util - 2\t:invoke\t:cas\t[3 0]\n\
               INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
               INFO  jepsen.util - 2\t:fail\t:cas\t[3 0]\n\
               INFO  jepsen.util - 0\t:ok\t:read\tnil\n\
               INFO  jepsen.util - 1  :invoke  :write  4\n\
               INFO  jepsen.util - 13\t:invoke\t:cas\t[1 2]\n\
               INFO  jepsen.util - 1  :ok  :write  4\n\
               INFO  jepsen.util - 13\t:info\t:cas\t:timed-out\n";
    Target {
        name: "porcupine-etcd",
        corpus: vec![log.as_bytes().to_vec()],
        tokens: vec![
            b"INFO  jepsen.util - ",
            b"\t",
            b"  ",
            b":invoke",
            b":ok",
            b":fail",
            b":info",
            b":read",
            b":write",
            b":cas",
            b":timed-out",
            b"nil",
            b"[",
            b"]",
            b"-9223372036854775809",
        ],
        parse: |input| {
            let _ = formats::read(&text(input), Format::PorcupineEtcd);
        },
        input_bytes_max: None,
    }
}

fn porcupine_kv_target() -> Target {
    let kv = "{:process 9, :type :invoke, :f :append, :key \"0\", :value \"x 9 0 y\"}\n\
              {:process 1, :type :invoke, :f :get, :key \"9\", :value nil}\n\
              {:process 1, :type :ok, :f :get, :key \"9\", :value \"x 5 0 yx 3 0 y\"}\n\
              {:process 9, :type :ok, :f :append, :key \"0\", :value \"x 9 0 y\"}\n\
              {:process 4, :type :invoke, :f :put, :key \"1\", :value \"\"}\n";
    Target {
        name: "porcupine-kv",
        corpus: vec![kv.as_bytes().to_vec()],
        tokens: vec![
            b":key", b":get", b":put", b":append", b"\"", b"\\", b"{", b"}", b"#_",
        ],
        parse: |input| {
            let _ = formats::read(&text(input), Format::PorcupineKv);
        },
        input_bytes_max: None,
    }
}

fn envelope_target() -> Target {
    let lines = [
        r#"{"src":"c0","dest":"n1","body":{"type":"echo","msg_id":1,"echo":"hi"}}"#,
        r#"{"id":7,"src":"n1","dest":"c0","body":{"type":"echo_ok","in_reply_to":1,"msg_id":2,"echo":"hi"}}"#,
        r#"{"src":"c1","dest":"n2","body":{"type":"init","msg_id":1,"node_id":"n2","node_ids":["n1","n2","n3"]}}"#,
        r#"{"src":"n3","dest":"c4","body":{"type":"error","in_reply_to":5,"code":20,"text":"key does not exist"}}"#,
        r#"{"src":"c2","dest":"n1","body":{"type":"txn","msg_id":3,"txn":[["r",1,null],["append",2,3]]}}"#,
        r#"{"src":"n1","dest":"n2","body":{"type":"gossip","msg_id":null,"seen":{"a":[1,2.5,-3e2]}}}"#,
    ];
    Target {
        name: "envelope",
        corpus: lines.iter().map(|s| s.as_bytes().to_vec()).collect(),
        tokens: vec![
            b"\"src\":",
            b"\"dest\":",
            b"\"body\":",
            b"\"type\":",
            b"\"msg_id\":",
            b"\"in_reply_to\":",
            b"\"id\":",
            b"null",
            b"-1",
            b"1.5",
            b"18446744073709551616",
            b"\\u0000",
            b"[",
            b"{",
        ],
        parse: |input| {
            let text = text(input);
            for line in std::iter::once(text.as_ref()).chain(text.lines()) {
                if let Ok(env) = lightcone_proto::Envelope::parse_line(line) {
                    // What a node printed is written again on the wire.
                    let _ = lightcone_proto::Envelope::parse_line(&env.to_line());
                }
            }
        },
        input_bytes_max: None,
    }
}

fn cli_values_target() -> Target {
    let values = [
        "1/20",
        "0/7",
        "3/3",
        " 1 / 100 ",
        "constant",
        "uniform",
        "exponential",
        "line",
        "grid",
        "tree",
        "tree4",
        "total",
        "jsonl",
        "edn",
        "porcupine-etcd",
        "porcupine-kv",
        "18446744073709551615/18446744073709551615",
    ];
    Target {
        name: "cli-values",
        corpus: values.iter().map(|s| s.as_bytes().to_vec()).collect(),
        tokens: vec![
            b"/",
            b"0",
            b"-",
            b"+",
            b"..",
            b"n",
            b" ",
            b"99999999999999999999",
        ],
        parse: |input| {
            let text = text(input);
            let _ = lightcone_core::Ratio::from_str(&text).map(|r| r.to_string());
            let _ = lightcone_core::LatencyDist::from_str(&text).map(|d| d.to_string());
            let _ = lightcone_workload::Topology::from_str(&text)
                .map(|t| t.build(&["n1".to_string(), "n2".to_string(), "n3".to_string()]));
            let _ = Format::from_str(&text);
        },
        // A command-line argument is at most 128 KiB (MAX_ARG_STRLEN).
        input_bytes_max: Some(128 << 10),
    }
}

fn targets() -> Vec<Target> {
    vec![
        edn_target(),
        jsonl_target(),
        porcupine_etcd_target(),
        porcupine_kv_target(),
        envelope_target(),
        cli_values_target(),
    ]
}

fn failures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures")
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
        .unwrap_or(default)
}

/// Runs `cases` cases spread over the targets, and fails with every
/// failing case's seed, number, saved input and replay command.
fn campaign(cases: u64, input_bytes_max: usize) {
    let seed = env_u64("LIGHTCONE_FUZZ_SEED", SEED);
    let targets = targets();
    let n = targets.len() as u64;
    let limits = limits(input_bytes_max);
    let outcomes: Vec<Outcome> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            // The cases shared out, the first targets taking what is left.
            let count = cases / n + u64::from((i as u64) < cases % n);
            let out = run(t, seed, 0..count, &limits, &failures_dir(), Some(&ALLOC));
            println!("{}", out.summary());
            out
        })
        .collect();
    let mut report = String::new();
    for out in &outcomes {
        for f in out.failures.iter().take(5) {
            report.push_str(&format!(
                "\n{} case {} (seed {}): {}\n  input: {}\n  replay: LIGHTCONE_FUZZ_REPLAY={}:{}:{} LIGHTCONE_FUZZ_INPUT_BYTES_MAX={input_bytes_max} cargo test -p lightcone-fuzz --test parsers replay -- --nocapture",
                out.target, f.case, out.seed, f.what, f.input_path.display(), out.target, out.seed, f.case
            ));
        }
    }
    assert!(report.is_empty(), "fuzzing found failures:{report}");
}

#[test]
fn a_slice_of_every_target() {
    campaign(SLICE_CASES, 64 << 10);
}

#[test]
#[ignore = "the full campaign: a million cases; run it with --release -- --ignored"]
fn the_full_campaign() {
    campaign(env_u64("LIGHTCONE_FUZZ_CASES", FULL_CASES), 1 << 20);
}

/// Runs the one case `LIGHTCONE_FUZZ_REPLAY=target:seed:case` names,
/// uncaught (without the variable, nothing).
#[test]
fn replay() {
    let Ok(which) = std::env::var("LIGHTCONE_FUZZ_REPLAY") else {
        return;
    };
    let parts: Vec<&str> = which.split(':').collect();
    let [name, seed, case] = parts[..] else {
        panic!("LIGHTCONE_FUZZ_REPLAY is target:seed:case, not {which}");
    };
    let targets = targets();
    let target = targets
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no target {name}"));
    let input_bytes_max = env_u64("LIGHTCONE_FUZZ_INPUT_BYTES_MAX", 1 << 20) as usize;
    let input =
        Mutator::new(target, input_bytes_max).case(seed.parse().unwrap(), case.parse().unwrap());
    println!(
        "{} bytes: {}",
        input.len(),
        text(&input[..input.len().min(2000)])
    );
    (target.parse)(&input);
}
