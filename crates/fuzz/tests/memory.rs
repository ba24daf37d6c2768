//! Reading a history with one huge value allocates a few times the text,
//! not the 68 times that issue 17 measured for a 50 MB EDN vector (a tree
//! of forms for the whole text, then a copy into JSON, then vectors
//! doubling their way to their length). Counted with a counting global
//! allocator, so the figures are the same on every machine; BENCHMARKS.md
//! has the whole command's peak resident set (`cargo bench -p lightcone
//! --bench check_memory`).

use std::fmt::Write as _;

use lightcone_fuzz::CountingAlloc;
use lightcone_history::formats::{self, Format};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

/// 200,000 integers, 0 to 199,999, joined by `sep`: about 1.3 MB.
fn integers(sep: char) -> String {
    let mut out = String::new();
    for i in 0..200_000u32 {
        if i > 0 {
            out.push(sep);
        }
        write!(out, "{i}").unwrap();
    }
    out
}

/// The peak bytes allocated while reading `text` as `format`, beyond what
/// was allocated before, and the ops read.
fn peak_reading(text: &str, format: Format) -> (usize, usize) {
    let before = ALLOC.reset_peak();
    let history = formats::read(text, format).unwrap();
    let peak = ALLOC.peak() - before;
    (peak, history.len())
}

#[test]
fn one_huge_value_reads_in_a_few_times_its_text() {
    let v = integers(' ');
    let edn = format!(
        "[{{:process 0, :type :invoke, :f :write, :value [{v}]}}\n {{:process 0, :type :ok, :f :write, :value [{v}]}}]\n"
    );
    let v = integers(',');
    let jsonl = format!(
        "{{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":[{v}]}}\n\
         {{\"index\":1,\"time\":2,\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"value\":[{v}]}}\n"
    );
    for (text, format) in [(edn, Format::Edn), (jsonl, Format::Jsonl)] {
        let (peak, ops) = peak_reading(&text, format);
        assert_eq!(ops, 2);
        // The values themselves: 400,000 JSON values of 32 bytes, against
        // 6.6 bytes of text each; the rest is the reading's.
        let values = 400_000 * 32;
        let per_byte = peak as f64 / text.len() as f64;
        println!(
            "{format}: {} bytes of text, peak {peak} bytes ({per_byte:.1} per byte)",
            text.len()
        );
        assert!(
            peak < values + values / 4,
            "{format}: {peak} bytes at the peak, {per_byte:.1} per byte of text"
        );
    }
}
