//! Seed sweeps and shrinking: many simulations, in parallel, quietly.

use lightcone_check::Validity;
use lightcone_core::{ConfigError, Ratio, Test, TestConfig, NANOS_PER_SEC};
use lightcone_sdk::{MemoryStorage, NodeRuntime};
use rayon::prelude::*;

use crate::Simulation;

/// A node factory that sweep threads can share.
pub type SharedFactory = dyn Fn(usize, u64, MemoryStorage) -> Box<dyn NodeRuntime> + Sync;

/// How one seed of a sweep ended.
#[derive(Debug, Clone)]
pub struct SeedOutcome {
    pub seed: u64,
    pub valid: Validity,
    /// The run could not complete (init timeout, livelock...).
    pub aborted: Option<String>,
    pub problems: Vec<String>,
    pub virtual_ns: u64,
    pub step_count: u64,
}

impl SeedOutcome {
    /// Failed: invalid, or unable to finish.
    pub fn is_failure(&self) -> bool {
        self.valid == Validity::Invalid || self.aborted.is_some()
    }

    /// What failed, for shrinking to keep: `aborted`, else the checker
    /// section of the problems (`workload` before any other, since the
    /// others, such as `stats`' "no write operation succeeded", are what
    /// any small enough run shows); `None` if nothing failed.
    pub fn failure_kind(&self) -> Option<String> {
        if self.aborted.is_some() {
            return Some("aborted".to_string());
        }
        if self.valid != Validity::Invalid {
            return None;
        }
        let sections: Vec<&str> = self
            .problems
            .iter()
            .map(|p| p.split(':').next().unwrap_or(p).trim())
            .collect();
        let kind = if sections.contains(&"workload") {
            "workload"
        } else {
            sections.first().copied().unwrap_or("invalid")
        };
        Some(kind.to_string())
    }
}

/// Runs `config` with `seed`, in memory, and judges it.
pub fn run_seed(
    config: &TestConfig,
    seed: u64,
    factory: &SharedFactory,
) -> Result<SeedOutcome, ConfigError> {
    let mut config = config.clone();
    config.seed = seed;
    let test = Test::new(config)?;
    let (test, stats, _) = Simulation::new(test, factory).run(&mut |_| {});
    let aborted = match (test.failure(), stats.livelock) {
        (Some(f), _) => Some(f.to_string()),
        (None, why) => why,
    };
    let checked = test.check();
    Ok(SeedOutcome {
        seed,
        valid: if aborted.is_some() {
            Validity::Unknown
        } else {
            checked.valid
        },
        aborted,
        problems: checked.problems,
        virtual_ns: stats.virtual_ns,
        step_count: stats.step_count,
    })
}

/// Runs every seed, each a whole simulation, on `threads` threads (rayon);
/// outcomes come back in seed order. If the threads cannot be had, the
/// seeds run one after another on this one.
pub fn sweep(
    config: &TestConfig,
    seeds: &[u64],
    factory: &SharedFactory,
    threads: usize,
) -> Result<Vec<SeedOutcome>, ConfigError> {
    sweep_each(config, seeds, factory, threads, &|_| {})
}

/// [`sweep`], handing each outcome to `on_outcome` as soon as its seed
/// ends (in the order seeds end, from the sweep's threads), so that a
/// caller can record progress that outlives an interrupted sweep.
pub fn sweep_each(
    config: &TestConfig,
    seeds: &[u64],
    factory: &SharedFactory,
    threads: usize,
    on_outcome: &(dyn Fn(&SeedOutcome) + Sync),
) -> Result<Vec<SeedOutcome>, ConfigError> {
    config.validate()?;
    let one = |seed: u64| {
        let outcome = run_seed(config, seed, factory)?;
        on_outcome(&outcome);
        Ok(outcome)
    };
    let run_all = || -> Result<Vec<SeedOutcome>, ConfigError> {
        seeds.par_iter().map(|&seed| one(seed)).collect()
    };
    match rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
    {
        Ok(pool) => pool.install(run_all),
        Err(_) => seeds.iter().map(|&seed| one(seed)).collect(),
    }
}

/// Smaller versions of `config` to try, simplest changes first.
fn candidates(config: &TestConfig) -> Vec<(String, TestConfig)> {
    let mut out = Vec::new();
    let mut push = |why: &str, f: &dyn Fn(&mut TestConfig)| {
        let mut c = config.clone();
        f(&mut c);
        // `Test::new` also asks the workload (lin-kv needs a multiple of
        // 2n clients), so no candidate fails for being malformed.
        if c != *config && Test::new(c.clone()).is_ok() {
            out.push((why.to_string(), c));
        }
    };
    push("half the time limit", &|c| {
        c.time_limit_ns = (c.time_limit_ns / 2).max(NANOS_PER_SEC);
        // Flag flips past the new limit are dropped with it.
        let limit = c.time_limit_ns;
        c.nemesis.flags.retain(|f| f.at_ns < limit);
    });
    push("one node fewer", &|c| {
        if c.nodes.is_empty() && c.node_count > 1 {
            c.node_count -= 1;
        } else if c.nodes.len() > 1 {
            c.nodes.pop();
            c.node_count = c.nodes.len();
        }
        c.concurrency = c.concurrency.min(c.node_ids().len().max(1) * 2);
    });
    push("one client fewer", &|c| {
        c.concurrency = (c.concurrency - 1).max(1)
    });
    push("half the clients", &|c| {
        c.concurrency = (c.concurrency / 2).max(1)
    });
    push("no partitions", &|c| c.nemesis.partition = false);
    push("no kills", &|c| c.nemesis.kill = false);
    push("no pauses", &|c| c.nemesis.pause = false);
    push("no clock faults", &|c| c.nemesis.clock = false);
    push("no flag flips", &|c| c.nemesis.flags.clear());
    push("no message loss", &|c| c.loss = Ratio::ZERO);
    push("no duplication", &|c| c.duplicate = Ratio::ZERO);
    push("half the rate", &|c| c.rate = (c.rate / 2.0).max(1.0));
    out
}

/// Greedily shrinks a failing run: keeps any smaller configuration that
/// still fails the same way with the same seed (the same
/// [`SeedOutcome::failure_kind`]: a lost write must not shrink into a run
/// too small to have a successful write), until none does. Returns the
/// smallest and the steps taken. Bounded by `attempts_max` simulations.
pub fn shrink(
    config: &TestConfig,
    factory: &SharedFactory,
    attempts_max: usize,
) -> Result<(TestConfig, Vec<String>), ConfigError> {
    let mut best = config.clone();
    let mut steps = Vec::new();
    let mut attempts = 1;
    let kind = run_seed(config, config.seed, factory)?.failure_kind();
    if kind.is_none() {
        return Ok((best, steps));
    }
    'outer: loop {
        for (why, candidate) in candidates(&best) {
            if attempts >= attempts_max {
                break 'outer;
            }
            attempts += 1;
            if run_seed(&candidate, candidate.seed, factory)?.failure_kind() == kind {
                steps.push(why);
                best = candidate;
                continue 'outer;
            }
        }
        break;
    }
    Ok((best, steps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrink_candidates_are_runnable_configurations() {
        let config = TestConfig {
            workload: "lin-kv".into(),
            node_count: 5,
            concurrency: 10,
            ..TestConfig::default()
        };
        let candidates = candidates(&config);
        assert!(!candidates.is_empty());
        for (why, c) in &candidates {
            assert!(Test::new(c.clone()).is_ok(), "{why}: {c:?}");
            assert_eq!(c.concurrency % (2 * c.node_ids().len()), 0, "{why}");
        }
        // lin-kv cannot lose one client, but can lose a node (and its two).
        assert!(candidates.iter().all(|(why, _)| why != "one client fewer"));
        assert!(candidates.iter().any(|(why, _)| why == "one node fewer"));
    }

    fn outcome(valid: Validity, aborted: Option<&str>, problems: &[&str]) -> SeedOutcome {
        SeedOutcome {
            seed: 0,
            valid,
            aborted: aborted.map(str::to_string),
            problems: problems.iter().map(|p| p.to_string()).collect(),
            virtual_ns: 0,
            step_count: 0,
        }
    }

    #[test]
    fn the_failure_kind_prefers_the_workload_and_ignores_valid_runs() {
        let lost = outcome(
            Validity::Invalid,
            None,
            &[
                "stats: no write operation succeeded",
                "workload: key 0 is not linearizable",
            ],
        );
        assert_eq!(lost.failure_kind().as_deref(), Some("workload"));
        let stats = outcome(
            Validity::Invalid,
            None,
            &["stats: no write operation succeeded"],
        );
        assert_eq!(stats.failure_kind().as_deref(), Some("stats"));
        assert_ne!(stats.failure_kind(), lost.failure_kind());
        let aborted = outcome(Validity::Unknown, Some("livelock"), &[]);
        assert_eq!(aborted.failure_kind().as_deref(), Some("aborted"));
        assert_eq!(outcome(Validity::Valid, None, &[]).failure_kind(), None);
        assert_eq!(
            outcome(Validity::Unknown, None, &["x: y"]).failure_kind(),
            None
        );
    }

    #[test]
    fn shrinking_drops_flag_flips_past_the_halved_time_limit_or_all_of_them() {
        let mut config = TestConfig {
            workload: "lin-kv".into(),
            node_count: 5,
            concurrency: 10,
            ..TestConfig::default()
        };
        config.nemesis.flags =
            lightcone_core::parse_flag_schedule("degraded-reads:on@10,off@40").unwrap();
        let candidates = candidates(&config);
        let find = |name: &str| &candidates.iter().find(|(why, _)| why == name).unwrap().1;
        let half = find("half the time limit");
        let at: Vec<u64> = half.nemesis.flags.iter().map(|f| f.at_ns).collect();
        assert_eq!(at, [10 * NANOS_PER_SEC]);
        assert!(find("no flag flips").nemesis.flags.is_empty());
    }
}
