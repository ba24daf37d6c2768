//! Graceful degradation: the Raft key-value node's runtime flag
//! `degraded-reads` under partitions, set at start (`--degraded-reads`) or
//! flipped during the run (`--flag-schedule`, the nemesis op `flag`). Its
//! degraded reads are counted apart and left out of the linearizability
//! check, so the run stays valid.

use lightcone_core::NANOS_PER_SEC;
use lightcone_core::{parse_flag_schedule, NemesisConfig, Test, TestConfig, Validity};
use lightcone_history::{OpType, Process};
use lightcone_nodes::runtime;
use lightcone_sdk::{MemoryStorage, NodeRuntime};
use lightcone_sim::Simulation;
use serde_json::{json, Value};

fn config(seed: u64, schedule: Option<&str>) -> TestConfig {
    TestConfig {
        workload: "lin-kv".into(),
        node_count: 5,
        concurrency: 10,
        rate: 100.0,
        time_limit_ns: 30 * NANOS_PER_SEC,
        seed,
        nemesis: NemesisConfig {
            partition: true,
            interval_ns: 5 * NANOS_PER_SEC,
            flags: schedule
                .map(|s| parse_flag_schedule(s).unwrap())
                .unwrap_or_default(),
            ..NemesisConfig::default()
        },
        ..TestConfig::default()
    }
}

fn run(workload: &str, config: TestConfig, node_args: &[&str]) -> Test {
    let args: Vec<String> = node_args.iter().map(|s| s.to_string()).collect();
    let workload = workload.to_string();
    let factory = |_: usize, seed: u64, storage: MemoryStorage| -> Box<dyn NodeRuntime> {
        runtime(&workload, &args, seed, Box::new(storage)).unwrap()
    };
    let test = Test::new(config).unwrap();
    let (test, stats, _) = Simulation::new(test, &factory).run(&mut |_| {});
    assert!(stats.livelock.is_none(), "{:?}", stats.livelock);
    test
}

/// The times of the degraded reads' completions.
fn degraded_times(test: &Test) -> Vec<u64> {
    test.history()
        .iter()
        .filter(|op| op.is_client() && op.f == "read-degraded")
        .inspect(|op| assert_eq!(op.kind, OpType::Ok, "{op:?}"))
        .map(|op| op.time)
        .collect()
}

/// The workload section of the run's results, as results.json has it.
fn workload_details(test: &Test) -> (Validity, Value) {
    let checked = test.check();
    let details = serde_json::to_value(&checked.workload.details).unwrap();
    (checked.workload.valid, details)
}

#[test]
fn off_by_default_a_partition_gets_no_degraded_answer() {
    let test = run("lin-kv", config(3, None), &[]);
    assert!(degraded_times(&test).is_empty());
    let (valid, details) = workload_details(&test);
    assert_eq!(valid, Validity::Valid);
    assert!(details.get("degraded-read-count").is_none(), "{details}");
}

#[test]
fn on_from_the_start_degraded_reads_are_counted_and_the_run_stays_linearizable() {
    let test = run("lin-kv", config(3, None), &["--degraded-reads"]);
    let degraded = degraded_times(&test);
    assert!(
        !degraded.is_empty(),
        "partitions every 5 s bring degraded reads"
    );
    let (valid, details) = workload_details(&test);
    assert_eq!(valid, Validity::Valid, "{details}");
    assert_eq!(details["degraded-read-count"], json!(degraded.len()));
}

#[test]
fn flipped_during_the_run_the_flips_are_nemesis_ops_and_bound_the_degraded_reads() {
    let test = run("lin-kv", config(3, Some("degraded-reads:on@8,off@22")), &[]);
    let flips: Vec<(u64, Value)> = test
        .history()
        .iter()
        .filter(|op| op.process == Process::Nemesis && op.f == "flag" && !op.value.is_null())
        .map(|op| (op.time, op.value.clone()))
        .collect();
    assert_eq!(flips.len(), 2, "{flips:?}");
    assert_eq!(flips[0].1, json!(["degraded-reads", true]));
    assert_eq!(flips[1].1, json!(["degraded-reads", false]));
    let (on, off) = (flips[0].0, flips[1].0);
    assert_eq!(off - on, 14 * NANOS_PER_SEC);
    let degraded = degraded_times(&test);
    assert!(!degraded.is_empty(), "a partition between 8 s and 22 s");
    // A read answered degraded completes while the flag is on (or within
    // the client's 1 s timeout after the flip off, sent before it).
    assert!(
        degraded.iter().all(|t| *t > on && *t < off + NANOS_PER_SEC),
        "on {on} off {off}: {degraded:?}"
    );
    let (valid, details) = workload_details(&test);
    assert_eq!(valid, Validity::Valid, "{details}");
    assert_eq!(details["degraded-read-count"], json!(degraded.len()));
}

#[test]
fn a_node_without_the_flag_answers_10_and_the_run_goes_on() {
    let mut config = config(1, Some("degraded-reads:on@2"));
    config.workload = "echo".into();
    config.concurrency = 5;
    config.nemesis.partition = false;
    config.time_limit_ns = 5 * NANOS_PER_SEC;
    let test = run("echo", config, &[]);
    let checked = test.check();
    assert_eq!(checked.valid, Validity::Valid, "{:?}", checked.problems);
    assert!(test
        .history()
        .iter()
        .any(|op| op.process == Process::Nemesis && op.f == "flag"));
}

/// A restarted node's state starts behind what it had applied (its stored
/// commit index lags): served degraded at once, it read null after having
/// read 98 (not monotonic-reads, not PRAM, not causal). It waits until it
/// has applied the log it recovered. Seed 99 of a sweep, shrunk.
#[test]
fn a_restarted_node_serves_no_degraded_read_older_than_before_its_crash() {
    let mut config = config(99, Some("degraded-reads:on@3"));
    config.node_count = 3;
    config.concurrency = 6;
    config.rate = 50.0;
    config.latency_ms = 10;
    config.time_limit_ns = 10 * NANOS_PER_SEC;
    config.nemesis.kill = true;
    config.consistency_models = ["linearizable", "sequential", "causal", "pram"]
        .map(String::from)
        .to_vec();
    let test = run("lin-kv", config, &[]);
    assert!(
        test.history()
            .iter()
            .any(|op| op.process == Process::Nemesis && op.f == "start"),
        "a node was restarted"
    );
    assert!(!degraded_times(&test).is_empty());
    let (valid, details) = workload_details(&test);
    assert_eq!(valid, Validity::Valid, "{details}");
}
