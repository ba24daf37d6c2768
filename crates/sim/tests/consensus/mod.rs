//! What the sweeps of the two consensus key-value nodes (`raft_kv.rs`,
//! `paxos_kv.rs`) share: the faults they run under, the seed count, and a
//! run that checks the history and the node's own invariants from its
//! logs.

use lightcone_core::{NemesisConfig, Test, TestConfig, Validity, NANOS_PER_SEC};
use lightcone_nodes::runtime;
use lightcone_sdk::{MemoryStorage, NodeRuntime};
use lightcone_sim::Simulation;

/// What one seed showed.
pub struct Outcome {
    pub valid: Validity,
    pub problems: Vec<String>,
    pub violations: Vec<String>,
}

/// The node's invariants from its log lines: the violations, and how
/// many applied-entry lines were read.
pub type Invariants = fn(&[Vec<String>]) -> (Vec<String>, usize);

/// Runs the lin-kv node with `node_args` and `--log-applied` under
/// `config`; `applied_lines` names the log lines `invariants` counts, for
/// the message when there are none.
pub fn run(
    config: TestConfig,
    node_args: &[&str],
    invariants: Invariants,
    applied_lines: &str,
) -> Outcome {
    let mut args = vec!["--log-applied".to_string()];
    args.extend(node_args.iter().map(|s| s.to_string()));
    let factory = |_: usize, seed: u64, storage: MemoryStorage| -> Box<dyn NodeRuntime> {
        runtime("lin-kv", &args, seed, Box::new(storage)).unwrap()
    };
    let test = Test::new(config).unwrap();
    let (test, stats, logs) = Simulation::new(test, &factory).run(&mut |_| {});
    assert!(stats.livelock.is_none(), "{:?}", stats.livelock);
    let checked = test.check();
    let (violations, applied) = invariants(&logs);
    // Guards the log format: if no line parsed, the check would pass
    // vacuously.
    assert!(applied > 0, "no `{applied_lines}` lines in the node logs");
    Outcome {
        valid: checked.valid,
        problems: checked.problems,
        violations,
    }
}

/// `nodes` nodes at 50 requests/s for `time_limit_s`, 10 ms latency,
/// partitions, crashes and pauses every 5 s, 1/50 loss and duplication.
pub fn config(nodes: usize, seed: u64, time_limit_s: u64) -> TestConfig {
    TestConfig {
        workload: "lin-kv".into(),
        node_count: nodes,
        concurrency: 2 * nodes,
        rate: 50.0,
        time_limit_ns: time_limit_s * NANOS_PER_SEC,
        latency_ms: 10,
        seed,
        nemesis: NemesisConfig {
            partition: true,
            kill: true,
            pause: true,
            interval_ns: 5 * NANOS_PER_SEC,
            ..NemesisConfig::default()
        },
        loss: "1/50".parse().unwrap(),
        duplicate: "1/50".parse().unwrap(),
        ..TestConfig::default()
    }
}

/// Seeds for a sweep: the environment variable `var` overrides the count
/// CI runs.
pub fn seed_count(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}
