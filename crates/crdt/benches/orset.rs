//! OR-Set merge time and encoded size at scale: 100,000 elements added across 100 replicas
//! (1,000 each), as a gossiping g-set/OR-Set node would hold them.
//!
//! Run with `cargo bench -p lightcone-crdt --bench orset`. Prints one line per figure; each
//! time is the median of several runs. Figures go in BENCHMARKS.md, never in test assertions.

// A benchmark measures wall time; the crate's ban on `Instant::now` is for library code.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use lightcone_crdt::{Crdt, DeltaBuffer, ORSet};

const REPLICAS: usize = 100;
const ELEMENTS_PER_REPLICA: u64 = 1_000;
const RUNS: usize = 5;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Times `work` on a fresh `setup()`; what `work` returns is dropped after the clock stops,
/// so freeing a 100,000-element set is not counted as merging it.
fn time<T, R>(runs: usize, mut setup: impl FnMut() -> T, mut work: impl FnMut(T) -> R) -> Duration {
    let samples = (0..runs)
        .map(|_| {
            let input = setup();
            let start = Instant::now();
            let output = work(input);
            let elapsed = start.elapsed();
            drop(output);
            elapsed
        })
        .collect();
    median(samples)
}

fn report(what: &str, value: impl std::fmt::Display) {
    println!("{what:<62} {value}");
}

fn main() {
    let nodes: Vec<String> = (0..REPLICAS).map(|i| format!("n{i}")).collect();
    let replicas: Vec<ORSet<u64>> = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let mut set = ORSet::new();
            let first = i as u64 * ELEMENTS_PER_REPLICA;
            for element in first..first + ELEMENTS_PER_REPLICA {
                set.add(node, element);
            }
            set
        })
        .collect();

    let merge_all = time(
        RUNS,
        || replicas[0].clone(),
        |mut set| {
            for other in &replicas[1..] {
                set.merge(other);
            }
            assert_eq!(set.len(), REPLICAS * ELEMENTS_PER_REPLICA as usize);
            set
        },
    );
    report(
        "merge 100 replica states (1,000 elements each) into one",
        format!("{:.1} ms", merge_all.as_secs_f64() * 1e3),
    );

    let mut full = replicas[0].clone();
    for other in &replicas[1..] {
        full.merge(other);
    }
    let catch_up = time(
        RUNS,
        || replicas[1].clone(),
        |mut set| {
            set.merge(&full);
            set
        },
    );
    report(
        "merge the full 100,000-element state into one replica",
        format!("{:.1} ms", catch_up.as_secs_f64() * 1e3),
    );
    let no_op = time(
        RUNS,
        || full.clone(),
        |mut set| {
            set.merge(&full);
            set
        },
    );
    report(
        "merge the full state into an equal full state (no change)",
        format!("{:.1} ms", no_op.as_secs_f64() * 1e3),
    );

    let json = serde_json::to_string(&full).expect("an OR-Set serialises");
    report(
        "encoded size of the full state (serde_json)",
        format!(
            "{} bytes ({:.1} bytes/element)",
            json.len(),
            json.len() as f64 / full.len() as f64
        ),
    );
    let encode = time(
        RUNS,
        || (),
        |()| {
            serde_json::to_string(&full).expect("an OR-Set serialises");
        },
    );
    let decode = time(
        RUNS,
        || (),
        |()| {
            let _: ORSet<u64> = serde_json::from_str(&json).expect("it parses back");
        },
    );
    report(
        "encode / decode the full state (serde_json)",
        format!(
            "{:.1} ms / {:.1} ms",
            encode.as_secs_f64() * 1e3,
            decode.as_secs_f64() * 1e3
        ),
    );
    report(
        "causal context of the full state",
        format!(
            "{} clock entries, {} cloud dots",
            full.context().clock().len(),
            full.context().cloud_len()
        ),
    );

    // Deltas: what a gossiping node sends instead of the state.
    let mut local = full.clone();
    let delta = local.add(&nodes[7], 1_000_000);
    let delta_json = serde_json::to_string(&delta).expect("a delta serialises");
    report(
        "encoded size of one add delta",
        format!("{} bytes", delta_json.len()),
    );
    let apply_delta = time(
        RUNS,
        || full.clone(),
        |mut set| {
            set.merge(&delta);
            set
        },
    );
    report(
        "merge one add delta into the full state",
        format!("{:.2} ms", apply_delta.as_secs_f64() * 1e3),
    );
    let mut buffer = DeltaBuffer::new();
    let mut gossiping = full.clone();
    for element in 0..100u64 {
        buffer.push(gossiping.add(&nodes[3], 2_000_000 + element));
        buffer.push(gossiping.remove(&element));
    }
    let group = buffer.take().expect("deltas were pushed");
    let group_json = serde_json::to_string(&group).expect("a delta group serialises");
    report(
        "encoded size of a delta group of 100 adds and 100 removes",
        format!("{} bytes", group_json.len()),
    );
    let apply_group = time(
        RUNS,
        || full.clone(),
        |mut set| {
            set.merge(&group);
            set
        },
    );
    report(
        "merge that delta group into the full state",
        format!("{:.2} ms", apply_group.as_secs_f64() * 1e3),
    );

    // Removals leave no tombstones: removing half the elements halves the state.
    let mut halved = full.clone();
    for element in (0..REPLICAS as u64 * ELEMENTS_PER_REPLICA).step_by(2) {
        halved.remove(&element);
    }
    let halved_json = serde_json::to_string(&halved).expect("an OR-Set serialises");
    report(
        "encoded size after removing every other element",
        format!("{} bytes", halved_json.len()),
    );
}
