//! `lightcone test --sim`: one seeded simulation, or a sweep of seeds with
//! replay commands and shrinking.

use std::ops::Range;
use std::path::PathBuf;

use lightcone_core::{Availability, TestConfig};
use lightcone_nodes::{NodeSpec, SpecError};
use lightcone_runner::{exit_code, RunOptions, SeededFactory};
use lightcone_sim::{SeedOutcome, SharedFactory};

use crate::sweep_summary::{Failure, SeedRange, ShardId, SummaryRecorder, SweepSummary};

/// Simulations a shrink may run.
const SHRINK_ATTEMPTS_MAX: usize = 200;
/// Simulations a shrink of foreign nodes may run (each starts processes).
const SEEDED_SHRINK_ATTEMPTS_MAX: usize = 40;

/// `--seeds`: a count N (seeds 0..N) or a range A..B (A included, B not).
pub fn parse_seeds(s: &str) -> Result<Range<u64>, String> {
    let bad = || {
        format!("--seeds is {s:?}; give a count (100) or a range A..B (first included, last not)")
    };
    let (start, end) = match s.split_once("..") {
        Some((a, b)) => (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?),
        None => (0, s.parse().map_err(|_| bad())?),
    };
    if start >= end {
        return Err(bad());
    }
    Ok(start..end)
}

/// `--shard i/n`: this machine runs the seeds whose position modulo n is i.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

/// `--shard i/n`, with 0 <= i < n.
pub fn parse_shard(s: &str) -> Result<Shard, String> {
    let bad = || format!("--shard is {s:?}; write i/n with 0 <= i < n, e.g. 3/16");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (index, count): (u64, u64) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if count == 0 || index >= count {
        return Err(bad());
    }
    Ok(Shard { index, count })
}

impl Shard {
    /// The seeds of `range` this shard runs.
    pub fn seeds(&self, range: &Range<u64>) -> Vec<u64> {
        range
            .clone()
            .enumerate()
            .filter(|(i, _)| *i as u64 % self.count == self.index)
            .map(|(_, s)| s)
            .collect()
    }
}

/// The reference node of `workload` as a simulator factory: the node's
/// arguments are parsed once, here, and every start and restart of every
/// node (in every seed of a sweep) builds from the same spec.
pub fn factory(workload: &str, node_args: &[String]) -> Result<Box<SharedFactory>, String> {
    let spec = NodeSpec::parse(workload, node_args).map_err(|e| match e {
        SpecError::UnknownNode { .. } => {
            format!("{e} (--sim runs lightcone's own SDK nodes in-process)")
        }
        e => e.to_string(),
    })?;
    Ok(Box::new(move |_index, seed, storage| {
        spec.build(seed, Box::new(storage))
    }))
}

/// The simulated nodes as the command line chooses them: the reference
/// node (no flags) or `--bin PROGRAM` with the flags of foreign nodes under
/// the seed, and the node's arguments.
#[derive(Debug, Clone, Default)]
pub struct NodeCmd {
    /// Flags, each with a leading space (` --bin ./node.py --handling-ms 1`).
    pub flags: String,
    pub args: Vec<String>,
}

impl NodeCmd {
    /// lightcone's own node for the workload, with `args`.
    pub fn reference(args: &[String]) -> NodeCmd {
        NodeCmd {
            flags: String::new(),
            args: args.to_vec(),
        }
    }
}

/// `word` as a shell reads it back: itself when plain, else single-quoted.
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@+%".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// The command that replays `config` exactly (flags in canonical form).
pub fn replay_command(config: &TestConfig, node: &NodeCmd) -> String {
    command_with(config, node, &format!("--seed {}", config.seed))
}

/// The command that runs the sweep of `range` with `config` (flags in
/// canonical form, no `--shard`): every shard of one sweep has this same
/// command, which is how merging tells shards of one sweep from others.
pub fn sweep_command(config: &TestConfig, node: &NodeCmd, range: &Range<u64>) -> String {
    command_with(
        config,
        node,
        &format!("--seeds {}..{}", range.start, range.end),
    )
}

/// `config`'s flags in canonical form, with `seeds` (`--seed N` or
/// `--seeds A..B`) last before the node's arguments.
fn command_with(config: &TestConfig, node: &NodeCmd, seeds: &str) -> String {
    // Nodes named n0.. by count, any others by name (Maelstrom's default
    // without --node-count is n1..n5).
    let ids = config.node_ids();
    let nodes = if ids.iter().enumerate().all(|(i, id)| *id == format!("n{i}")) {
        format!("--node-count {}", ids.len())
    } else {
        format!("--nodes {}", ids.join(","))
    };
    let mut cmd = format!(
        "lightcone test --sim -w {} {nodes} --concurrency {} --rate {} --time-limit {} --latency {} --latency-dist {}",
        config.workload,
        config.concurrency,
        config.rate,
        secs(config.time_limit_ns),
        config.latency_ms,
        config.latency_dist,
    );
    cmd += &fault_flags(config);
    cmd += &workload_flags(config);
    cmd += &format!(
        " --recovery-time {}{} {seeds}",
        secs(config.recovery_ns),
        node.flags
    );
    if !node.args.is_empty() {
        cmd += &format!(" -- {}", node.args.join(" "));
    }
    cmd
}

/// Nanoseconds as a flag's seconds (exact: the decimal parses back to
/// the same nanoseconds).
fn secs(ns: u64) -> String {
    crate::flags::format_seconds(ns)
}

/// The flags of the faults `config` injects (nemesis, loss, duplication).
fn fault_flags(config: &TestConfig) -> String {
    let mut cmd = String::new();
    let n = &config.nemesis;
    let faults: Vec<&str> = [
        (n.partition, "partition"),
        (n.kill, "kill"),
        (n.pause, "pause"),
        (n.clock, "clock"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, name)| name)
    .collect();
    if !faults.is_empty() {
        cmd += &format!(
            " --nemesis {} --nemesis-interval {}",
            faults.join(","),
            secs(n.interval_ns)
        );
        if n.clock {
            cmd += &format!(" --clock-skew-ms {}", n.clock_skew_ns / 1_000_000);
        }
    }
    // Each flag's flips, in time order, as one --flag-schedule.
    let mut names: Vec<&str> = Vec::new();
    for flip in &n.flags {
        if !names.contains(&flip.name.as_str()) {
            names.push(&flip.name);
        }
    }
    for name in names {
        let flips: Vec<String> = n
            .flags
            .iter()
            .filter(|f| f.name == name)
            .map(|f| {
                let state = if f.value { "on" } else { "off" };
                format!("{state}@{}", f.at_ns as f64 / 1e9)
            })
            .collect();
        cmd += &format!(" --flag-schedule {name}:{}", flips.join(","));
    }
    if !config.loss.is_zero() {
        cmd += &format!(" --loss {}", config.loss);
    }
    if !config.duplicate.is_zero() {
        cmd += &format!(" --duplicate {}", config.duplicate);
    }
    cmd
}

/// The flags of `config`'s workload options that differ from the defaults.
fn workload_flags(config: &TestConfig) -> String {
    let mut cmd = String::new();
    if config.workload == "broadcast" {
        cmd += &format!(" --topology {}", config.topology);
    }
    let defaults = TestConfig::default();
    if let Some(keys) = config.key_count {
        cmd += &format!(" --key-count {keys}");
    }
    if config.max_writes_per_key != defaults.max_writes_per_key {
        cmd += &format!(" --max-writes-per-key {}", config.max_writes_per_key);
    }
    if config.max_txn_length != defaults.max_txn_length {
        cmd += &format!(" --max-txn-length {}", config.max_txn_length);
    }
    if config.consistency_models != defaults.consistency_models {
        cmd += &format!(
            " --consistency-models {}",
            config.consistency_models.join(",")
        );
    }
    match config.availability {
        Some(Availability::Total) => cmd += " --availability total",
        Some(Availability::Fraction(f)) => cmd += &format!(" --availability {f}"),
        None => {}
    }
    cmd
}

/// One simulation, writing its results folder.
pub fn run_one(
    config: TestConfig,
    factory: &SharedFactory,
    node: &NodeCmd,
    store: PathBuf,
    command_line: String,
    no_report: bool,
    seeded: Option<&SeededFactory>,
) -> i32 {
    let replay = replay_command(&config, node);
    eprintln!("seed {} (replay: {replay})", config.seed);
    let options = RunOptions {
        config,
        bin: PathBuf::new(),
        args: node.args.clone(),
        store_root: store,
        node_queue_max: 0,
        node_queue_bytes_max: 0,
        line_bytes_max: 0,
        node_log_bytes_max: 0,
        log_stderr: false,
        command_line,
        progress: false,
        report: !no_report,
        replay: Some(replay),
    };
    match lightcone_runner::run_sim(&options, factory, seeded) {
        Ok(report) => {
            println!("{}", report.summary());
            let w = &report.workbench;
            if let Some(s) = &w.seeded {
                println!("  {}", s.sentence());
            }
            if let Some(speed) = &w.simulation {
                println!(
                    "  simulated {:.1} s in {:.3} s of wall time ({:.0}x; {:.3} s of it writing \
                     history.jsonl), {} steps",
                    speed.virtual_s,
                    w.duration_s,
                    speed.speedup,
                    speed.history_write_s,
                    speed.step_count
                );
            }
            report.exit_code()
        }
        Err(lightcone_runner::RunnerError::Config(e)) => {
            crate::flags::print_error(&e);
            exit_code::USAGE
        }
        Err(e) => {
            crate::flags::print_error(&e);
            exit_code::WORKBENCH
        }
    }
}

fn describe(o: &SeedOutcome) -> String {
    match &o.aborted {
        Some(why) => format!("ABORTED: {why}"),
        None => {
            let first = o.problems.first().cloned().unwrap_or_default();
            format!("{}: {first}", o.valid.to_string().to_uppercase())
        }
    }
}

/// What a sweep runs (with a node factory): `config` with every seed of `range` (or of one
/// shard of it), and where its summary goes.
pub struct SweepPlan<'a> {
    pub config: TestConfig,
    pub node: &'a NodeCmd,
    pub range: Range<u64>,
    pub shard: Option<Shard>,
    pub no_shrink: bool,
    /// `--sweep-out`: the summary file, rewritten as seeds end.
    pub sweep_out: Option<PathBuf>,
    /// Foreign nodes under the seed: their factory, for its statistics.
    pub seeded: Option<&'a SeededFactory>,
}

/// The failure `o` is, if it is one, with its replay command.
fn failure_of(o: &SeedOutcome, config: &TestConfig, node: &NodeCmd) -> Option<Failure> {
    let kind = o.failure_kind()?;
    let mut c = config.clone();
    c.seed = o.seed;
    Some(Failure {
        seed: o.seed,
        verdict: o.valid.to_string(),
        kind,
        problem: describe(o),
        replay: replay_command(&c, node),
        shrunk_replay: None,
        shrink_steps: Vec::new(),
    })
}

/// A sweep of seeds; failures print their replay command, and the first is
/// shrunk unless `no_shrink`. With `sweep_out`, the sweep's summary is
/// written there too.
pub fn run_sweep(plan: SweepPlan, factory: &SharedFactory) -> i32 {
    let SweepPlan {
        config,
        node,
        range,
        ..
    } = &plan;
    let shard = plan.shard.unwrap_or(Shard { index: 0, count: 1 });
    let seeds = shard.seeds(range);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    eprintln!(
        "sweeping {} seeds ({}..{}, shard {}/{}) on {threads} threads",
        seeds.len(),
        range.start,
        range.end,
        shard.index,
        shard.count
    );
    let summary = SweepSummary::start(
        sweep_command(config, node, range),
        SeedRange {
            start: range.start,
            end: range.end,
        },
        ShardId {
            index: shard.index,
            count: shard.count,
        },
        seeds.len() as u64,
        threads,
    );
    let recorder = match SummaryRecorder::start(plan.sweep_out.clone(), summary) {
        Ok(r) => r,
        Err(e) => {
            crate::flags::print_error(&e);
            return exit_code::USAGE;
        }
    };
    let record = |o: &SeedOutcome| recorder.record(o, failure_of(o, config, node));
    let outcomes = match lightcone_sim::sweep_each(config, &seeds, factory, threads, &record) {
        Ok(o) => o,
        Err(e) => {
            crate::flags::print_error(&e);
            return exit_code::USAGE;
        }
    };
    // Every failure on stdout (the summary keeps the details of a bounded
    // number).
    for f in outcomes.iter().filter_map(|o| failure_of(o, config, node)) {
        println!("seed {}: {}\n  replay: {}", f.seed, f.problem, f.replay);
    }
    let mut summary = recorder.summary();
    println!(
        "\n{}; {:.0} s simulated in {:.2} s ({:.0} seeds/min)",
        summary.counts.sentence(),
        summary.virtual_s,
        summary.wall_s,
        summary.counts.seeds as f64 / summary.wall_s.max(1e-9) * 60.0
    );
    if let Some(seeded) = plan.seeded {
        println!("{}", seeded.take_report().sentence());
    }
    // Each shrinking step of foreign nodes is a whole run of real
    // processes: fewer of them.
    let attempts = if plan.seeded.is_some() {
        SEEDED_SHRINK_ATTEMPTS_MAX
    } else {
        SHRINK_ATTEMPTS_MAX
    };
    if let Some(first) = summary.failures.first_mut() {
        if !plan.no_shrink {
            let mut c = config.clone();
            c.seed = first.seed;
            if let Some((small, steps)) = print_shrunk(&c, factory, node, attempts) {
                first.shrunk_replay = Some(replay_command(&small, node));
                first.shrink_steps = steps;
            }
        }
    }
    if let Err(e) = recorder.finish(summary.clone()) {
        crate::flags::print_error(&e);
        return exit_code::WORKBENCH;
    }
    summary.exit_code
}

/// Shrinks the failing run `config` and prints the smaller run's replay
/// command (or that it does not shrink).
/// Returns the smaller run and the steps taken, if it shrank.
fn print_shrunk(
    config: &TestConfig,
    factory: &SharedFactory,
    node: &NodeCmd,
    attempts: usize,
) -> Option<(TestConfig, Vec<String>)> {
    match lightcone_sim::shrink(config, factory, attempts) {
        Ok((small, steps)) if !steps.is_empty() => {
            println!(
                "shrunk seed {} ({}):\n  replay: {}",
                config.seed,
                steps.join(", "),
                replay_command(&small, node)
            );
            Some((small, steps))
        }
        Ok(_) => {
            println!("seed {} does not shrink further", config.seed);
            None
        }
        Err(e) => {
            eprintln!(
                "error while shrinking: {}",
                crate::flags::bound_message(&e.to_string())
            );
            None
        }
    }
}
