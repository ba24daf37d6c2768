//! Simulation speed: virtual time per wall second, steps and messages per
//! second, for 5-node clusters at rate 100 over 60 s of simulated time
//! (plus Maelstrom's 10 s recovery wait before final reads).
//!
//! `cargo bench -p lightcone --bench simulation [-- WORKLOAD]` (only the
//! runs of that workload when one is named).
//!
//! Each figure is one seed run in memory with no files written, what a
//! sweep does per seed, timed in three phases: the simulation itself (the
//! run), the check of its history, and freeing it. Best of 5 seeds (by the
//! sum of the phases), on one thread.

use std::time::Instant;

// The lightcone binary's allocator.
#[path = "../src/alloc.rs"]
mod alloc;

use lightcone_core::{NemesisConfig, Test, TestConfig, Validity, NANOS_PER_SEC};
use lightcone_sdk::{MemoryStorage, NodeRuntime};
use lightcone_sim::Simulation;

/// Wall seconds of one seed's phases: the simulation itself, the check of
/// its history, and freeing the history.
struct Phases {
    run_s: f64,
    check_s: f64,
    drop_s: f64,
    virtual_ns: u64,
    steps: u64,
    /// Messages delivered (node, client and service traffic).
    messages: u64,
}

impl Phases {
    fn total(&self) -> f64 {
        self.run_s + self.check_s + self.drop_s
    }
}

/// What `lightcone_runner::run_seed` does (build, run, check, free), timed
/// phase by phase.
fn run_phases(
    config: &TestConfig,
    seed: u64,
    factory: &dyn Fn(usize, u64, MemoryStorage) -> Box<dyn NodeRuntime>,
) -> Phases {
    let mut config = config.clone();
    config.seed = seed;
    let start = Instant::now();
    let test = Test::new(config).unwrap();
    let (test, stats, _) = Simulation::new(test, factory).run(&mut |_| {});
    let ran = Instant::now();
    let messages_delivered = test.net_stats().all.recv_count;
    let checked = test.check();
    let done = Instant::now();
    assert!(
        test.failure().is_none() && stats.livelock.is_none() && checked.valid == Validity::Valid,
        "seed {seed}: {:?} {:?} {:?}",
        test.failure(),
        stats.livelock,
        checked.problems
    );
    drop(test);
    let dropped = Instant::now();
    Phases {
        run_s: (ran - start).as_secs_f64(),
        check_s: (done - ran).as_secs_f64(),
        drop_s: (dropped - done).as_secs_f64(),
        virtual_ns: stats.virtual_ns,
        steps: stats.step_count,
        messages: messages_delivered,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument picks a workload.
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    for (workload, partition, node_args) in [
        ("broadcast", false, &[][..]),
        ("broadcast", true, &[]),
        ("lin-kv", false, &[]),
        ("lin-kv", true, &[]),
        ("echo", false, &[]),
        ("unique-ids", true, &[]),
        ("txn-list-append", false, &[]),
        ("txn-list-append", true, &[]),
        ("txn-list-append", false, &["--raft"]),
        ("txn-rw-register", false, &[]),
    ] {
        if only.as_deref().is_some_and(|w| w != workload) {
            continue;
        }
        let node_args: Vec<String> = node_args.iter().map(|a| a.to_string()).collect();
        let config = TestConfig {
            workload: workload.into(),
            node_count: 5,
            // lin-kv needs a multiple of 2 x the node count.
            concurrency: if workload == "lin-kv" { 10 } else { 5 },
            rate: 100.0,
            time_limit_ns: 60 * NANOS_PER_SEC,
            latency_ms: 100,
            nemesis: NemesisConfig {
                partition,
                interval_ns: 10 * NANOS_PER_SEC,
                ..NemesisConfig::default()
            },
            ..TestConfig::default()
        };
        let spec = lightcone_nodes::NodeSpec::parse(workload, &node_args).unwrap();
        let factory =
            move |_: usize, seed: u64, storage: MemoryStorage| spec.build(seed, Box::new(storage));
        let mut best: Option<Phases> = None;
        for seed in 1..=5 {
            let phases = run_phases(&config, seed, &factory);
            if best.as_ref().is_none_or(|b| phases.total() < b.total()) {
                best = Some(phases);
            }
        }
        let p = best.unwrap();
        let virtual_s = p.virtual_ns as f64 / NANOS_PER_SEC as f64;
        println!(
            "{workload:<10}{} 5 nodes, rate 100, latency 100 ms{}: {virtual_s:.0} s simulated; \
             run {:.1} ms = {:.0}x, + check {:.1} ms + drop {:.1} ms = {:.1} ms = {:.0}x real time; \
             {} steps, {:.0} steps/s and {:.0} messages delivered/s of run",
            if node_args.is_empty() {
                String::new()
            } else {
                format!(" ({})", node_args.join(" "))
            },
            if partition { ", partitions" } else { "" },
            p.run_s * 1000.0,
            virtual_s / p.run_s,
            p.check_s * 1000.0,
            p.drop_s * 1000.0,
            p.total() * 1000.0,
            virtual_s / p.total(),
            p.steps,
            p.steps as f64 / p.run_s,
            p.messages as f64 / p.run_s
        );
    }
}
