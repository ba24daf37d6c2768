//! The Multi-Paxos key-value node (`lin-kv --paxos`) in simulation sweeps,
//! as the Raft node is swept in `raft_kv.rs`: valid under partitions,
//! crashes, pauses, message loss and duplication, with Paxos's agreement
//! (no two values chosen for one slot) checked from what the nodes log as
//! they run; and the deliberately broken variant (a new leader that does
//! not adopt the values reported in phase 1) caught within a bounded
//! number of seeds, with the command that replays it.

use std::collections::{BTreeMap, BTreeSet};

use lightcone_core::{TestConfig, Validity, NANOS_PER_SEC};

mod consensus;

use consensus::{config, Outcome};

fn run(config: TestConfig, extra_args: &[&str]) -> Outcome {
    let mut args = vec!["--paxos"];
    args.extend_from_slice(extra_args);
    consensus::run(config, &args, invariant_violations, "paxos apply")
}

/// Agreement (Paxos Made Simple, 2.1: "only a single value is chosen"),
/// per slot across nodes and across one node's restarts (a restarted node
/// replays its chosen values), and one leader per ballot, from the nodes'
/// `paxos apply SLOT DIGEST` and `paxos leader ballot R.N` log lines.
/// Returns the violations and the number of `paxos apply` lines read.
fn invariant_violations(logs: &[Vec<String>]) -> (Vec<String>, usize) {
    let mut violations = Vec::new();
    let mut leaders: BTreeMap<String, usize> = BTreeMap::new();
    let mut applied: BTreeMap<u64, (String, usize)> = BTreeMap::new();
    let mut applied_lines = 0;
    let mut reported = BTreeSet::new();
    for (node, lines) in logs.iter().enumerate() {
        for line in lines {
            let mut words: Vec<&str> = line.split_whitespace().collect();
            // The simulator prefixes each line with its time in ns.
            if words.first().is_some_and(|w| w.parse::<u64>().is_ok()) {
                words.remove(0);
            }
            match words.as_slice() {
                ["paxos", "leader", "ballot", ballot] => {
                    match leaders.insert(ballot.to_string(), node) {
                        Some(other) if other != node => violations
                            .push(format!("nodes {other} and {node} both led ballot {ballot}")),
                        _ => {}
                    }
                }
                ["paxos", "apply", slot, digest] => {
                    applied_lines += 1;
                    let slot: u64 = slot.parse().unwrap();
                    match applied.get(&slot) {
                        Some((d, other)) if d != digest && reported.insert(slot) => violations
                            .push(format!(
                                "agreement: at slot {slot} node {other} applied {d}, \
                                 node {node} {digest}"
                            )),
                        Some(_) => {}
                        None => {
                            applied.insert(slot, (digest.to_string(), node));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    (violations, applied_lines)
}

fn seed_count(default: u64) -> u64 {
    consensus::seed_count("PAXOS_KV_SEEDS", default)
}

#[test]
fn valid_under_every_fault_with_paxos_agreement_held() {
    let mut failures = Vec::new();
    for seed in 0..seed_count(200) {
        let outcome = run(config(5, seed, 20), &[]);
        if outcome.valid != Validity::Valid || !outcome.violations.is_empty() {
            failures.push(format!(
                "seed {seed}: {:?} {:?} {:?}",
                outcome.valid, outcome.problems, outcome.violations
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Faults every second on average and elections after 80-160 ms, so that
/// leaders often change with values accepted but not yet known chosen.
fn leader_churn_config(seed: u64) -> TestConfig {
    let mut c = config(3, seed, 20);
    c.nemesis.interval_ns = NANOS_PER_SEC;
    c
}

const FAST_ELECTIONS: [&str; 4] = ["--election-ticks", "8", "--tick-ms", "10"];

#[test]
fn a_leader_that_ignores_promised_values_is_caught_within_50_seeds() {
    let mut args = vec!["--unsafe-ignore-promised-values"];
    args.extend(FAST_ELECTIONS);
    // Two catches: two values applied at one slot (from the node logs),
    // and a history that is not linearizable (which the command line's
    // sweep sees too, so its replay command shows it).
    let mut agreement = None;
    let mut linearizability = None;
    for seed in 0..50 {
        let outcome = run(leader_churn_config(seed), &args);
        let unsafe_ = outcome
            .problems
            .iter()
            .any(|p| p.contains("not linearizable"));
        if agreement.is_none() && !outcome.violations.is_empty() {
            agreement = Some((seed, outcome.violations.clone()));
        }
        if linearizability.is_none() && unsafe_ {
            linearizability = Some((seed, outcome.problems.clone()));
        }
        if agreement.is_some() && linearizability.is_some() {
            break;
        }
    }
    let (seed, violations) =
        agreement.expect("Paxos Made Simple, 2.2: no seed of 50 chose two values for a slot");
    eprintln!("--unsafe-ignore-promised-values broke agreement at seed {seed}: {violations:?}");
    let (seed, problems) =
        linearizability.expect("no seed of 50 showed a non-linearizable history");
    eprintln!(
        "--unsafe-ignore-promised-values not linearizable at seed {seed}: {problems:?}\n  \
         replay: lightcone test --sim -w lin-kv --node-count 3 --concurrency 6 --rate 50 \
         --time-limit 20 --latency 10 --latency-dist constant --nemesis partition,kill,pause \
         --nemesis-interval 1 --loss 1/50 --duplicate 1/50 --recovery-time 10 --seed {seed} \
         -- --paxos {}",
        args.join(" ")
    );

    // The correct node stays safe under the very faults that catch the
    // broken one. Faults every second on 3 nodes can leave no majority up
    // for most of a run (seed 153 of 200: one node cut off while the other
    // two are killed and paused in turn); the Raft node answers about 5% of
    // requests on that seed too. So here only safety counts: a run invalid
    // for "no cas operation succeeded" alone is a liveness figure, printed.
    let mut failures = Vec::new();
    for seed in 0..seed_count(30) {
        let outcome = run(leader_churn_config(seed), &FAST_ELECTIONS);
        let liveness_only = outcome
            .problems
            .iter()
            .all(|p| p.starts_with("stats: no ") && p.contains("succeeded"));
        if outcome.valid != Validity::Valid && liveness_only && outcome.violations.is_empty() {
            eprintln!(
                "seed {seed}: unavailable, not unsafe: {:?}",
                outcome.problems
            );
            continue;
        }
        if outcome.valid != Validity::Valid || !outcome.violations.is_empty() {
            failures.push(format!(
                "seed {seed}: {:?} {:?} {:?}",
                outcome.valid, outcome.problems, outcome.violations
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
