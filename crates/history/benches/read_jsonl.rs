//! Reading a JSONL history: 1,000,000 lin-kv-like ops (100 clients, 1,000 keys; reads, writes
//! and compare-and-sets, as `[key, value]` tuples) written by `HistoryWriter`, then read back
//! with `History::from_jsonl`, as `lightcone check` reads a file it was given.
//!
//! Run with `cargo bench -p lightcone-history --bench read_jsonl`. Prints the best and the
//! median of several runs; figures go in BENCHMARKS.md, never in test assertions.

// A benchmark measures wall time; the crate's ban on `Instant::now` is for library code.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use lightcone_history::{build, History, HistoryWriter, OpType};
use lightcone_rng::Rng;
use serde_json::json;

const OPS: usize = 1_000_000;
const CLIENTS: u64 = 100;
const KEYS: u64 = 1_000;
const RUNS: usize = 7;

/// The history's text: each client invokes an op and completes it before its next.
fn history_text() -> String {
    let mut rng = Rng::new(7, 0);
    let mut writer = HistoryWriter::new(Vec::new());
    let mut time = 0;
    for i in 0..OPS / 2 {
        let process = i as u64 % CLIENTS;
        let key = rng.below(KEYS);
        let (f, value, done) = match rng.below(3) {
            0 => ("read", json!([key, null]), json!([key, rng.below(5)])),
            1 => {
                let v = rng.below(5);
                ("write", json!([key, v]), json!([key, v]))
            }
            _ => {
                let cas = json!([key, [rng.below(5), rng.below(5)]]);
                ("cas", cas.clone(), cas)
            }
        };
        time += 1_000;
        writer
            .append(build::invoke(process, f, value, time))
            .expect("writing to memory");
        time += 1_000;
        let kind = if rng.below(10) == 0 {
            OpType::Fail
        } else {
            OpType::Ok
        };
        writer
            .append(build::op(process, kind, f, done, time))
            .expect("writing to memory");
    }
    String::from_utf8(writer.into_inner()).expect("JSON is UTF-8")
}

fn main() {
    let text = history_text();
    let mut samples: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let history = History::from_jsonl(&text).expect("the history reads back");
            let elapsed = start.elapsed();
            assert_eq!(history.ops.len(), OPS);
            drop(history);
            elapsed
        })
        .collect();
    samples.sort();
    println!(
        "read {OPS} ops ({:.0} MB of JSONL): best {:.0} ms, median {:.0} ms over {RUNS} runs",
        text.len() as f64 / 1e6,
        samples[0].as_secs_f64() * 1e3,
        samples[RUNS / 2].as_secs_f64() * 1e3
    );
}
