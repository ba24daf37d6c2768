//! Simulation speed: virtual time per wall second and steps per second,
//! for 5-node clusters at rate 100 over 60 s of simulated time (plus
//! Maelstrom's 10 s recovery wait before final reads).
//!
//! `cargo bench -p lightcone --bench simulation [-- WORKLOAD]` (only the
//! runs of that workload when one is named).
//!
//! Each figure is one seed run in memory, history checked, no files
//! written (what a sweep does per seed), best of 5 seeds, on one thread.

use std::time::Instant;

use lightcone_runner::run_seed;
use lightcone_sdk::MemoryStorage;
use lightcone_sim::{NemesisConfig, TestConfig, NANOS_PER_SEC};

fn main() {
    // `cargo bench` passes `--bench`; any other argument picks a workload.
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    for (workload, partition) in [
        ("broadcast", false),
        ("broadcast", true),
        ("lin-kv", false),
        ("lin-kv", true),
        ("echo", false),
        ("unique-ids", true),
    ] {
        if only.as_deref().is_some_and(|w| w != workload) {
            continue;
        }
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
        let factory = move |_: usize, seed: u64, storage: MemoryStorage| {
            lightcone_nodes::runtime(workload, &[], seed, Box::new(storage)).unwrap()
        };
        let mut best: Option<(f64, f64, u64)> = None;
        for seed in 1..=5 {
            let start = Instant::now();
            let outcome = run_seed(&config, seed, &factory).unwrap();
            let wall = start.elapsed().as_secs_f64();
            assert!(
                !outcome.is_failure(),
                "{workload} seed {seed}: {:?}",
                outcome.problems
            );
            let virtual_s = outcome.virtual_ns as f64 / NANOS_PER_SEC as f64;
            if best.is_none_or(|(w, _, _)| wall < w) {
                best = Some((wall, virtual_s, outcome.step_count));
            }
        }
        let (wall, virtual_s, steps) = best.unwrap();
        println!(
            "{workload:<10} 5 nodes, rate 100, latency 100 ms{}: {virtual_s:.0} s simulated in {:.1} ms = {:.0}x real time; {} steps, {:.0} steps/s",
            if partition { ", partitions" } else { "" },
            wall * 1000.0,
            virtual_s / wall,
            steps,
            steps as f64 / wall
        );
    }
}
