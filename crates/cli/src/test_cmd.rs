//! `lightcone test`: Maelstrom's flags, lightcone's defaults.

use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Args;
use lightcone_core::{Availability, LatencyDist, NemesisConfig, Ratio, TestConfig, NANOS_PER_MS};
use lightcone_nodes::NodeSpec;
use lightcone_runner::{exit_code, ProgramError, RunOptions, RunnerError};
use lightcone_workload::Topology;

use crate::flags::{self, excerpt};
use crate::memory;
use crate::sim_cmd::{self, Shard};

/// The most nodes a test takes (`--node-count`, `--nodes`); a run that
/// large is also held to the memory estimate.
const NODE_COUNT_MAX: usize = 1_000_000;
/// The most clients (`--concurrency`); held to the memory estimate too.
const CONCURRENCY_MAX: usize = 10_000_000;

#[derive(Args, Debug)]
pub struct TestArgs {
    /// The workload.
    #[arg(short = 'w', long, default_value = "lin-kv",
          value_parser = clap::builder::PossibleValuesParser::new(lightcone_workload::NAMES))]
    workload: String,
    /// The node program: a path (a bare name of a file in the current folder runs that file,
    /// as in Maelstrom), or else a name looked up in PATH (python3 with the script as its
    /// argument); defaults to lightcone's reference node for the workload.
    #[arg(long)]
    bin: Option<PathBuf>,
    /// Number of nodes, named n0..n(N-1).
    #[arg(long)]
    node_count: Option<usize>,
    /// Node names, comma-separated (default n1..n5 when --node-count is absent).
    #[arg(long, value_delimiter = ',')]
    nodes: Option<Vec<String>>,
    /// Seconds of workload before healing and final reads (at most a year).
    #[arg(long, default_value = "60", value_parser = flags::seconds, allow_hyphen_values = true,
          value_name = "SECONDS")]
    time_limit: u64,
    /// Client requests per second, over all clients.
    #[arg(long, default_value_t = 5.0, allow_hyphen_values = true)]
    rate: f64,
    /// Number of clients; a suffix n multiplies by the node count (2n). Default: Maelstrom's 1n,
    /// and 2n for lin-kv, which needs two clients per key and node.
    #[arg(long)]
    concurrency: Option<String>,
    /// Mean network latency between nodes, in ms (at most a year).
    #[arg(long, default_value_t = 0, value_parser = flags::millis, allow_hyphen_values = true)]
    latency: u64,
    /// constant, uniform or exponential.
    #[arg(long, default_value = "constant")]
    latency_dist: LatencyDist,
    /// Faults, comma-separated: partition, kill, pause, clock (clock needs --sim).
    #[arg(long, value_delimiter = ',')]
    nemesis: Vec<String>,
    /// Flip a node's runtime flag during the run, on every node:
    /// NAME:on@SECONDS,off@SECONDS,... after the workload starts (repeat the option for
    /// several flags), e.g. degraded-reads:on@10,off@20 (the Raft lin-kv node's degraded
    /// reads). Each flip is the message {"type":"flag","name":NAME,"value":true|false},
    /// answered flag_ok (a node without the flag answers error 10; logged, the run goes on),
    /// recorded in the history as the nemesis op `flag` with the value [NAME, true|false].
    #[arg(long, value_name = "NAME:on@S,off@S")]
    flag_schedule: Vec<String>,
    /// Bound of the clock offsets `--nemesis clock` gives nodes, in ms (at most a year).
    #[arg(long, default_value_t = 1000, value_parser = flags::millis, allow_hyphen_values = true)]
    clock_skew_ms: u64,
    /// Probability that a message between nodes is lost, as a ratio (1/100).
    #[arg(long, default_value = "0/1")]
    loss: Ratio,
    /// Probability that a message between nodes is delivered twice (1/100).
    #[arg(long, default_value = "0/1")]
    duplicate: Ratio,
    /// Run on virtual time, deterministic from --seed: lightcone's SDK nodes in-process, or, with
    /// --bin, the program's processes one event at a time on a virtual clock (docs/seeded-nodes.md).
    #[arg(long)]
    sim: bool,
    /// With --sim: sweep many seeds, a count (100) or a range (A..B).
    #[arg(long, requires = "sim", value_parser = sim_cmd::parse_seeds)]
    seeds: Option<Range<u64>>,
    /// With --seeds: run only shard i of n (i/n), for batch schedulers.
    #[arg(long, requires = "seeds", value_parser = sim_cmd::parse_shard)]
    shard: Option<Shard>,
    /// With --seeds: write the sweep's summary (configuration, seeds run, counts, failures with
    /// their replay commands) to this JSON file, rewritten as seeds end, for `lightcone merge`.
    #[arg(long, requires = "seeds", value_name = "FILE")]
    sweep_out: Option<PathBuf>,
    /// With --seeds: do not shrink the first failing seed.
    #[arg(long, requires = "seeds")]
    no_shrink: bool,
    /// With --sim --bin: mean virtual time, in ms, a node process takes to handle one message,
    /// drawn for each from the seed (exponential); what it prints in answer is sent that much
    /// later, so that requests overlap inside a node as on the real clock. 0: no time. [default: 1]
    #[arg(long, requires = "sim", value_name = "MS")]
    handling_ms: Option<f64>,
    /// With --sim --bin: the longest wall time, in ms, to wait for a node process to go quiet
    /// after a message (a new process: at least 30 s to start); past it the run goes on, and the
    /// wait is counted in workbench.json.
    #[arg(long, requires = "sim", default_value_t = 5000, value_name = "MS")]
    settle_timeout_ms: u64,
    /// With --sim --bin: leave the node's clock alone (no LD_PRELOAD of lightcone's clock
    /// library): its sleeps and timers run on the wall clock, outside the seed's control.
    #[arg(long, requires = "sim")]
    wall_clock_timers: bool,
    /// Mean seconds between nemesis operations (at most a year).
    #[arg(long, default_value = "10", value_parser = flags::seconds, allow_hyphen_values = true,
          value_name = "SECONDS")]
    nemesis_interval: u64,
    /// Broadcast topology: line, grid, tree, tree2, tree3, tree4, total.
    #[arg(long, default_value = "grid")]
    topology: Topology,
    /// `total`, or the fraction of requests that must succeed.
    #[arg(long)]
    availability: Option<String>,
    /// The consistency models the history must satisfy, comma-separated: for txn-list-append
    /// and txn-rw-register Elle's names and aliases (default strict-serializable); for lin-kv
    /// linearizable (the default), sequential, causal-memory, causal-convergence, causal,
    /// pram, read-your-writes, monotonic-reads, monotonic-writes, writes-follow-reads or all
    /// (then every write is of a value new to its key, so that the weaker models can be decided).
    #[arg(long)]
    consistency_models: Option<String>,
    /// Keys in play at once (kafka and the transactional workloads; Elle's default 10).
    #[arg(long)]
    key_count: Option<u64>,
    /// Most micro-operations in a transaction (txn-list-append, txn-rw-register).
    #[arg(long, default_value_t = 4)]
    max_txn_length: u64,
    /// Most writes to one key before it is retired (kafka and transactional workloads).
    #[arg(long, default_value_t = 16)]
    max_writes_per_key: u64,
    /// Copy node stderr to the console.
    #[arg(long)]
    log_stderr: bool,
    /// Log every message as it is sent.
    #[arg(long)]
    log_net_send: bool,
    /// Log every message as it is received.
    #[arg(long)]
    log_net_recv: bool,
    /// Run the test this many times (seeds --seed, --seed+1, ... or fresh ones; the worst exit
    /// code wins). With --sim too; not with --seeds.
    #[arg(long, default_value_t = 1)]
    test_count: u32,
    /// The run's seed (network latency, partitions, generator); chosen and printed when absent.
    #[arg(long)]
    seed: Option<u64>,
    /// Bound of each node's inbound message queue; messages past it are dropped and counted.
    #[arg(long, default_value_t = 100_000)]
    node_queue_max: usize,
    /// Bound of the bytes queued for each node (64 MiB); messages past it are dropped and counted.
    #[arg(long, default_value_t = 64 << 20)]
    node_queue_bytes_max: u64,
    /// The longest line read from a node's stdout (16 MiB); a longer one is reported as malformed, with its size, and skipped.
    #[arg(long, default_value_t = 16 << 20)]
    line_bytes_max: usize,
    /// Bytes of each node process's stderr kept in its log (128 MiB); the rest is counted, with a marker where the log was cut.
    #[arg(long, default_value_t = 128 << 20)]
    node_log_bytes_max: u64,
    /// Seconds to wait between healing and the final reads (at most a year).
    #[arg(long, default_value = "10", value_parser = flags::seconds, allow_hyphen_values = true,
          value_name = "SECONDS")]
    recovery_time: u64,
    /// Folder for results.
    #[arg(long, default_value = "store")]
    store: PathBuf,
    /// Do not write report.html (the run's page) in the results folder.
    #[arg(long)]
    no_report: bool,
    /// Messages recorded for report.html's space-time diagram, at most
    /// (the rest are counted, not drawn).
    #[arg(long, default_value_t = 100_000)]
    message_log_max: usize,
    /// The most memory, in GB, the run may be estimated to need (default: this machine's
    /// memory); a run estimated to need more is refused before it starts.
    #[arg(long, value_parser = memory::parse_gb, allow_hyphen_values = true, value_name = "GB")]
    memory_max: Option<f64>,
    /// Arguments passed to the node program (after `--` when they start with `-`).
    #[arg(trailing_var_arg = true)]
    args: Vec<String>,
}

fn usage(message: String) -> i32 {
    crate::flags::print_error(&message);
    exit_code::USAGE
}

/// A `--bin` that cannot be run is a bad argument, found before anything
/// ran.
fn bad_program(e: &ProgramError) -> i32 {
    usage(format!("{e}\nnothing was run and no results were written"))
}

/// `--consistency-models` for `workload`, in the order the workload's
/// checker names them: the register ladder's for lin-kv, Elle's for every
/// other workload (ignored by those that check no transactions, as in
/// Maelstrom). Absent: the workload's default (an empty list).
fn consistency_models(workload: &str, list: Option<&str>) -> Result<Vec<String>, String> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    let models = match workload {
        "lin-kv" => lightcone_workload::ladder::parse_register_models(list),
        // Maelstrom takes the flag for every workload and ignores it where
        // nothing checks transactions; so does lightcone, with Elle's names.
        _ => lightcone_txn::consistency::parse_models(list).map_err(|e| e.to_string()),
    };
    models
        .map(|m| m.into_iter().map(str::to_string).collect())
        .map_err(|e| format!("--consistency-models: {e}"))
}

/// Maelstrom's `pos?` check on an integer flag.
fn positive(flag: &str, value: Option<u64>) -> Result<Option<u64>, String> {
    match value {
        Some(0) => Err(format!("{flag} is 0; it must be positive")),
        other => Ok(other),
    }
}

fn parse_concurrency(s: &str, node_count: usize) -> Result<usize, String> {
    let (number, per_node) = match s.strip_suffix('n') {
        Some(n) => (n, true),
        None => (s, false),
    };
    let n: usize = number
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("--concurrency is {:?}; use a positive integer, optionally with the suffix n (2n = twice the node count)", excerpt(s)))?;
    let clients = if per_node {
        n.checked_mul(node_count)
    } else {
        Some(n)
    };
    clients.filter(|c| *c <= CONCURRENCY_MAX).ok_or_else(|| {
        format!(
            "--concurrency is {:?}; use at most {CONCURRENCY_MAX} clients",
            excerpt(s)
        )
    })
}

fn parse_availability(s: &str) -> Result<Availability, String> {
    if s == "total" {
        return Ok(Availability::Total);
    }
    s.parse::<f64>()
        .ok()
        .filter(|f| (0.0..=1.0).contains(f))
        .map(Availability::Fraction)
        .ok_or_else(|| {
            format!(
                "--availability is {:?}; use `total` or a fraction from 0 to 1",
                excerpt(s)
            )
        })
}

/// The run `args` describe (the workload's name was checked by clap).
fn config(args: &TestArgs, seed: u64) -> Result<TestConfig, String> {
    let nodes: Vec<String> = match (args.node_count, &args.nodes) {
        (Some(0), _) => return Err("--node-count is 0; a test needs at least one node".into()),
        (Some(n), _) if n > NODE_COUNT_MAX => {
            return Err(format!(
                "--node-count is {n}; use at most {NODE_COUNT_MAX} nodes"
            ))
        }
        (Some(n), _) => (0..n).map(|i| format!("n{i}")).collect(),
        (None, Some(nodes)) if nodes.len() > NODE_COUNT_MAX => {
            return Err(format!(
                "--nodes names {} nodes; use at most {NODE_COUNT_MAX}",
                nodes.len()
            ))
        }
        (None, Some(nodes)) => nodes.iter().map(|id| id.trim().to_string()).collect(),
        (None, None) => (1..=5).map(|i| format!("n{i}")).collect(),
    };
    let mut nemesis = NemesisConfig {
        interval_ns: args.nemesis_interval,
        // Bounded by flags::millis: no overflow.
        clock_skew_ns: args.clock_skew_ms * NANOS_PER_MS,
        ..NemesisConfig::default()
    };
    for fault in &args.nemesis {
        match fault.trim() {
            "partition" => nemesis.partition = true,
            "kill" => nemesis.kill = true,
            "pause" => nemesis.pause = true,
            "clock" => nemesis.clock = true,
            "" => {}
            other => {
                return Err(format!(
                    "unknown nemesis {:?}; the faults are partition, kill, pause, clock (comma-separated)",
                    excerpt(other)
                ))
            }
        }
    }
    for schedule in &args.flag_schedule {
        nemesis
            .flags
            .extend(lightcone_core::parse_flag_schedule(schedule)?);
    }
    nemesis.flags.sort_by_key(|f| f.at_ns);
    if nemesis.clock && !args.sim {
        return Err(
            "--nemesis clock needs --sim: only simulated nodes take their time from lightcone"
                .into(),
        );
    }
    if !(args.rate.is_finite() && args.rate >= 0.0) {
        return Err(format!(
            "--rate is {}; use a non-negative number",
            args.rate
        ));
    }
    if args.test_count == 0 {
        return Err("--test-count is 0; use at least 1".into());
    }
    if args.node_queue_max == 0 {
        return Err(
            "--node-queue-max is 0; a node's inbound queue must hold at least 1 message \
             (with 0 not even init would reach it)"
                .into(),
        );
    }
    // Below a kilobyte not even init fits, nor a line worth reading.
    for (flag, value) in [
        ("--node-queue-bytes-max", args.node_queue_bytes_max),
        ("--line-bytes-max", args.line_bytes_max as u64),
        ("--node-log-bytes-max", args.node_log_bytes_max),
    ] {
        if value < 1024 {
            return Err(format!(
                "{flag} is {value}; use at least 1024 bytes (the default is {})",
                match flag {
                    "--node-queue-bytes-max" => "67108864 (64 MiB)",
                    "--line-bytes-max" => "16777216 (16 MiB)",
                    _ => "134217728 (128 MiB)",
                }
            ));
        }
    }
    let config = TestConfig {
        workload: args.workload.clone(),
        node_count: nodes.len(),
        concurrency: match &args.concurrency {
            Some(text) => parse_concurrency(text, nodes.len())?,
            None => lightcone_workload::default_concurrency(&args.workload, nodes.len()),
        },
        nodes,
        rate: args.rate,
        time_limit_ns: args.time_limit,
        latency_ms: args.latency,
        latency_dist: args.latency_dist,
        loss: args.loss,
        duplicate: args.duplicate,
        nemesis,
        topology: args.topology,
        key_count: positive("--key-count", args.key_count)?,
        max_writes_per_key: positive("--max-writes-per-key", Some(args.max_writes_per_key))?
            .unwrap_or_default(),
        max_txn_length: positive("--max-txn-length", Some(args.max_txn_length))?
            .unwrap_or_default(),
        consistency_models: consistency_models(&args.workload, args.consistency_models.as_deref())?,
        availability: args
            .availability
            .as_deref()
            .map(parse_availability)
            .transpose()?,
        seed,
        recovery_ns: args.recovery_time,
        log_net_send: args.log_net_send,
        log_net_recv: args.log_net_recv,
        message_log_max: if args.no_report {
            0
        } else {
            args.message_log_max
        },
        ..TestConfig::default()
    };
    // Checked here, before any seed is printed or folder made.
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

pub fn run(args: TestArgs) -> i32 {
    if args.sim {
        return run_sim(args);
    }
    let interrupt = Arc::new(AtomicBool::new(false));
    {
        let interrupt = Arc::clone(&interrupt);
        // The first Ctrl-C stops the run and writes its results; a second
        // one, in whatever phase, stops at once: every node process and
        // whatever they started is killed, and history.jsonl (written as
        // the run goes) keeps what was recorded.
        let handler = move || {
            if interrupt.swap(true, Ordering::SeqCst) {
                lightcone_runner::kill_all_descendants(&[]);
                eprintln!(
                    "\nstopped at once (second Ctrl-C); history.jsonl holds what was recorded"
                );
                std::process::exit(lightcone_runner::exit_code::INTERRUPTED);
            }
            eprintln!(
                "\nCtrl-C: stopping the run and writing its results (Ctrl-C again to stop at once)"
            );
        };
        if let Err(e) = ctrlc::set_handler(handler) {
            eprintln!("warning: Ctrl-C will not stop the test cleanly: {e}");
        }
    }
    let (bin, node_args) = match node_program(&args) {
        Ok(program) => program,
        Err(code) => return code,
    };
    let command_line = std::env::args().collect::<Vec<_>>().join(" ");
    let mut worst = 0;
    for i in 0..args.test_count {
        let seed = match args.seed {
            Some(s) => s.wrapping_add(u64::from(i)),
            None => lightcone_rng::fresh_seed(),
        };
        let config = match config(&args, seed) {
            Ok(c) => c,
            Err(message) => return usage(message),
        };
        if i == 0 {
            if let Err(message) = fits_in_memory(&args, &config, 1) {
                return usage(message);
            }
        }
        eprintln!("seed {seed} (replay with --seed {seed})");
        let options = RunOptions {
            config,
            bin: bin.clone(),
            args: node_args.clone(),
            store_root: args.store.clone(),
            node_queue_max: args.node_queue_max,
            node_queue_bytes_max: args.node_queue_bytes_max,
            line_bytes_max: args.line_bytes_max,
            node_log_bytes_max: args.node_log_bytes_max,
            log_stderr: args.log_stderr,
            command_line: command_line.clone(),
            progress: true,
            report: !args.no_report,
            replay: None,
        };
        let code = match lightcone_runner::run(&options, Arc::clone(&interrupt)) {
            Ok(report) => {
                println!("{}", report.summary());
                report.exit_code()
            }
            Err(RunnerError::Config(e)) => return usage(e.to_string()),
            Err(RunnerError::Program(e)) if args.bin.is_some() => return bad_program(&e),
            Err(RunnerError::Program(e)) => {
                crate::flags::print_error(&format!(
                    "cannot run lightcone's own reference node: {e}"
                ));
                return exit_code::WORKBENCH;
            }
            Err(e) => {
                crate::flags::print_error(&e);
                exit_code::WORKBENCH
            }
        };
        worst = worse(worst, code);
        if interrupt.load(Ordering::SeqCst) {
            break;
        }
    }
    worst
}

/// The node program and its arguments: `--bin`'s, checked, or lightcone's
/// own reference node for the workload (`lightcone node WORKLOAD ...`), its
/// flags checked. Checked once, before any seed is printed; the runner
/// checks the program again and maps a failure to start the first
/// processes to the same error. On a bad program or flags, the exit code.
fn node_program(args: &TestArgs) -> Result<(PathBuf, Vec<String>), i32> {
    let Some(bin) = &args.bin else {
        let exe = std::env::current_exe().map_err(|e| {
            eprintln!(
                "error: cannot find the lightcone executable to run its reference node: {e}; pass --bin"
            );
            exit_code::WORKBENCH
        })?;
        // An unknown workload is left to the configuration's message.
        if lightcone_workload::NAMES.contains(&args.workload.as_str()) {
            if let Err(e) = NodeSpec::parse(&args.workload, &args.args) {
                return Err(usage(e.to_string()));
            }
        }
        let mut node_args = vec!["node".to_string(), args.workload.clone()];
        node_args.extend(args.args.iter().cloned());
        return Ok((exe, node_args));
    };
    let bin = here_or_in_path(bin);
    lightcone_runner::resolve_program(&bin).map_err(|e| bad_program(&e))?;
    Ok((bin, args.args.clone()))
}

/// A bare `--bin` name (no `/`) that names a file in the current folder
/// is that file, as in Maelstrom, which runs `--bin` as a path relative
/// to where it was started (`--bin echo.py` runs ./echo.py); any other
/// bare name is looked up in PATH (`--bin python3 -- node.py`), which
/// Maelstrom does not do.
fn here_or_in_path(bin: &Path) -> PathBuf {
    let bare = !bin.as_os_str().is_empty() && !bin.as_os_str().as_bytes().contains(&b'/');
    if bare && bin.is_file() {
        Path::new(".").join(bin)
    } else {
        bin.to_path_buf()
    }
}

/// `--sim --bin`: the foreign node program, checked, as the replay
/// commands give it, and the factory that starts it for every node of
/// every seed.
fn seeded_nodes(
    args: &TestArgs,
    bin: &Path,
) -> Result<(sim_cmd::NodeCmd, lightcone_runner::SeededFactory), i32> {
    let bin = here_or_in_path(bin);
    let resolved = lightcone_runner::resolve_program(&bin).map_err(|e| bad_program(&e))?;
    let handling_ms = args.handling_ms.unwrap_or(DEFAULT_HANDLING_MS);
    if !handling_ms.is_finite() || !(0.0..=HANDLING_MS_MAX).contains(&handling_ms) {
        return Err(usage(format!(
            "--handling-ms is {handling_ms}; give a mean in ms from 0 to {HANDLING_MS_MAX}"
        )));
    }
    if args.settle_timeout_ms == 0 {
        return Err(usage(
            "--settle-timeout-ms is 0; give the most ms to wait for a node to go quiet (default 5000)".into(),
        ));
    }
    let options = lightcone_runner::SeededOptions {
        bin: resolved,
        args: args.args.clone(),
        handling_mean_ns: (handling_ms * 1e6).round() as u64,
        settle_timeout: std::time::Duration::from_millis(args.settle_timeout_ms),
        line_bytes_max: args.line_bytes_max,
        virtual_time: !args.wall_clock_timers,
    };
    let seeded = lightcone_runner::seeded_factory(options, &std::env::temp_dir()).map_err(|e| {
        crate::flags::print_error(&format!(
            "cannot make a folder for the nodes' storage and clock library in {}: {e} (set TMPDIR to a writable folder)",
            std::env::temp_dir().display()
        ));
        exit_code::WORKBENCH
    })?;
    let mut flags = format!(
        " --bin {} --handling-ms {handling_ms}",
        sim_cmd::shell_word(&bin.to_string_lossy())
    );
    if args.settle_timeout_ms != DEFAULT_SETTLE_TIMEOUT_MS {
        flags += &format!(" --settle-timeout-ms {}", args.settle_timeout_ms);
    }
    if args.wall_clock_timers {
        flags += " --wall-clock-timers";
    }
    let node = sim_cmd::NodeCmd {
        flags,
        args: args.args.clone(),
    };
    Ok((node, seeded))
}

/// `--handling-ms` when not given.
const DEFAULT_HANDLING_MS: f64 = 1.0;
/// The longest mean handling time: a minute.
const HANDLING_MS_MAX: f64 = 60_000.0;
/// `--settle-timeout-ms`'s default (keep equal to its clap default).
const DEFAULT_SETTLE_TIMEOUT_MS: u64 = 5000;

/// Refuses a run estimated to need more memory than `--memory-max` or,
/// without it, this machine has; `at_once` runs side by side.
fn fits_in_memory(args: &TestArgs, config: &TestConfig, at_once: usize) -> Result<(), String> {
    let reference_node = args.bin.is_none();
    let estimate = memory::estimate(config, reference_node);
    let (limit, from) = match (args.memory_max, memory::machine_bytes()) {
        (Some(gb), _) => (gb * 1e9, "--memory-max"),
        (None, Some(bytes)) => (bytes, "this machine's memory"),
        // Nothing to hold the estimate to.
        (None, None) => return Ok(()),
    };
    memory::check(&estimate, at_once, limit, from)
}

/// The worse of two exit codes: errors and interrupts, then invalid, then
/// unknown, then valid.
fn worse(a: i32, b: i32) -> i32 {
    let rank = |c: i32| match c {
        exit_code::VALID => 0,
        exit_code::UNKNOWN => 1,
        exit_code::INVALID => 2,
        _ => 3,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

fn run_sim(args: TestArgs) -> i32 {
    if args.seeds.is_some() && args.test_count > 1 {
        return usage(format!(
            "--test-count {} repeats one run, and --seeds already runs one per seed; drop one of them",
            args.test_count
        ));
    }
    let first_seed = args.seed.unwrap_or_else(lightcone_rng::fresh_seed);
    let config = match config(&args, first_seed) {
        Ok(c) => c,
        Err(message) => return usage(message),
    };
    let (node, seeded) = match &args.bin {
        Some(bin) => match seeded_nodes(&args, bin) {
            Ok((node, seeded)) => (node, Some(seeded)),
            Err(code) => return code,
        },
        None => {
            if args.handling_ms.is_some() {
                return usage("--handling-ms is the time a --bin node process takes under --sim; lightcone's own nodes take none (add --bin, or drop --handling-ms)".into());
            }
            (sim_cmd::NodeCmd::reference(&args.args), None)
        }
    };
    let sdk_factory;
    let factory: &lightcone_sim::SharedFactory = match &seeded {
        Some(s) => &*s.factory,
        None => {
            sdk_factory = match sim_cmd::factory(&config.workload, &args.args) {
                Ok(f) => f,
                Err(message) => return usage(message),
            };
            &*sdk_factory
        }
    };
    // A sweep runs a simulation per thread at once.
    let at_once = match &args.seeds {
        Some(range) => std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(range.clone().count().max(1)),
        None => 1,
    };
    if let Err(message) = fits_in_memory(&args, &config, at_once) {
        return usage(message);
    }
    if let Some(range) = args.seeds.clone() {
        // A sweep writes no report: record no messages.
        return sim_cmd::run_sweep(
            sim_cmd::SweepPlan {
                config: TestConfig {
                    message_log_max: 0,
                    ..config
                },
                node: &node,
                range,
                shard: args.shard,
                no_shrink: args.no_shrink,
                sweep_out: args.sweep_out.clone(),
                seeded: seeded.as_ref(),
            },
            factory,
        );
    }
    // --test-count as in process mode: the run again with the next seed
    // (or a fresh one when --seed is absent), the worst exit code wins.
    let command_line = std::env::args().collect::<Vec<_>>().join(" ");
    let mut worst = exit_code::VALID;
    for i in 0..args.test_count {
        let seed = match (i, args.seed) {
            (0, _) => first_seed,
            (_, Some(s)) => s.wrapping_add(u64::from(i)),
            (_, None) => lightcone_rng::fresh_seed(),
        };
        let code = sim_cmd::run_one(
            TestConfig {
                seed,
                ..config.clone()
            },
            factory,
            &node,
            args.store.clone(),
            command_line.clone(),
            args.no_report,
            seeded.as_ref(),
        );
        worst = worse(worst, code);
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_suffix_multiplies_by_node_count() {
        assert_eq!(parse_concurrency("2n", 3), Ok(6));
        assert_eq!(parse_concurrency("4", 3), Ok(4));
        assert!(parse_concurrency("0n", 3).is_err());
        assert!(parse_concurrency("xn", 3).unwrap_err().contains("suffix n"));
    }

    #[test]
    fn availability_is_total_or_a_fraction() {
        assert_eq!(parse_availability("total"), Ok(Availability::Total));
        assert_eq!(parse_availability("0.99"), Ok(Availability::Fraction(0.99)));
        assert!(parse_availability("1.5").is_err());
    }

    /// `lightcone test ARGS` as the command line parses it.
    fn parse(args: &[&str]) -> TestArgs {
        #[derive(clap::Parser)]
        struct Command {
            #[command(flatten)]
            args: TestArgs,
        }
        let argv = std::iter::once("test").chain(args.iter().copied());
        <Command as clap::Parser>::try_parse_from(argv)
            .expect("the arguments parse")
            .args
    }

    #[test]
    fn a_replay_command_gives_back_the_same_configuration() {
        for args in [
            &[
                "--sim",
                "-w",
                "kafka",
                "--node-count",
                "2",
                "--key-count",
                "3",
                "--max-writes-per-key",
                "4",
            ][..],
            &[
                "--sim",
                "-w",
                "broadcast",
                "--nemesis",
                "partition,kill",
                "--loss",
                "1/100",
                "--topology",
                "tree3",
            ],
            &[
                "--sim",
                "-w",
                "txn-list-append",
                "--max-txn-length",
                "2",
                "--consistency-models",
                "serializable, read-committed",
            ],
            &[
                "--sim",
                "-w",
                "lin-kv",
                "--consistency-models",
                "monotonic-reads, sequential",
            ],
            // Sub-millisecond durations (once printed in a form that read
            // back a nanosecond short, or as 0, which is refused).
            &[
                "--sim",
                "-w",
                "echo",
                "--recovery-time",
                "0.0000005",
                "--time-limit",
                "0.000000003",
                "--nemesis",
                "partition",
                "--nemesis-interval",
                "2.5e-7",
            ],
        ] {
            let original = config(&parse(args), 7).unwrap();
            let replay = crate::sim_cmd::replay_command(&original, &sim_cmd::NodeCmd::default());
            let words: Vec<&str> = replay.split_whitespace().skip(2).collect();
            let replayed = config(&parse(&words), 7).unwrap();
            assert_eq!(replayed, original, "{replay}");
        }
    }

    /// Command lines over the flags a replay command carries.
    fn command_lines() -> impl proptest::strategy::Strategy<Value = Vec<String>> {
        use proptest::prelude::*;
        let workload = proptest::sample::select(lightcone_workload::NAMES.to_vec());
        let nodes = prop_oneof![
            Just(None),
            (1usize..6).prop_map(|n| Some(vec!["--node-count".to_string(), n.to_string()])),
            Just(Some(vec!["--nodes".to_string(), "a1,b2,n7".to_string()])),
        ];
        let faults =
            proptest::sample::subsequence(vec!["partition", "kill", "pause", "clock"], 0..=4);
        // Indices into each workload's own names (below).
        let models = proptest::sample::subsequence(vec![0usize, 1, 2, 3], 1..=3);
        (
            workload,
            nodes,
            (1u32..5, 1u32..200, 1u32..4, 0u64..50, 0usize..3),
            faults,
            (0u64..3, 0u64..3, 1u64..20, 1u64..40, 1u64..9),
            models,
            ((0u32..30, 0u32..1_000_000_000), any::<u32>()),
        )
            .prop_map(
                |(
                    workload,
                    nodes,
                    (time, rate, per_node, latency, dist),
                    faults,
                    (loss, dup, keys, writes, txn),
                    models,
                    ((recovery_s, recovery_ns), seed),
                )| {
                    // Any positive number of seconds to the nanosecond.
                    let recovery = format!("{recovery_s}.{:09}", recovery_ns.max(1));
                    let mut args: Vec<String> = ["--sim", "-w", workload]
                        .iter()
                        .map(|s| s.to_string())
                        .collect();
                    if let Some(n) = nodes {
                        args.extend(n);
                    }
                    let dist = ["constant", "uniform", "exponential"][dist];
                    for (flag, value) in [
                        ("--time-limit", time.to_string()),
                        ("--rate", rate.to_string()),
                        ("--concurrency", format!("{}n", per_node * 2)),
                        ("--latency", latency.to_string()),
                        ("--latency-dist", dist.to_string()),
                        ("--loss", format!("{loss}/100")),
                        ("--duplicate", format!("{dup}/100")),
                        ("--key-count", keys.to_string()),
                        ("--max-writes-per-key", writes.to_string()),
                        ("--max-txn-length", txn.to_string()),
                        ("--recovery-time", recovery.to_string()),
                        ("--seed", seed.to_string()),
                    ] {
                        args.push(flag.to_string());
                        args.push(value);
                    }
                    if !faults.is_empty() {
                        args.push("--nemesis".to_string());
                        args.push(faults.join(","));
                    }
                    let names = match workload {
                        "txn-list-append" | "txn-rw-register" => [
                            "read-committed",
                            "serializable",
                            "strict-serializable",
                            "PL-2",
                        ],
                        "lin-kv" => ["sequential", "causal", "monotonic-reads", "pram"],
                        _ => return args,
                    };
                    let chosen: Vec<&str> = models.iter().map(|i| names[*i]).collect();
                    args.push("--consistency-models".to_string());
                    args.push(chosen.join(","));
                    args
                },
            )
    }

    proptest::proptest! {
        /// Over generated command lines: the printed replay command parses
        /// back to the run's configuration.
        #[test]
        fn replay_commands_parse_back_to_their_configuration(args in command_lines()) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let seed = config(&parse(&args), 0).unwrap().seed;
            let original = config(&parse(&args), seed).unwrap();
            let replay = crate::sim_cmd::replay_command(&original, &sim_cmd::NodeCmd::default());
            let words: Vec<&str> = replay.split_whitespace().skip(2).collect();
            let replayed = config(&parse(&words), seed).unwrap();
            proptest::prop_assert_eq!(replayed, original, "{}", replay);
        }
    }

    #[test]
    fn elle_model_names_and_positive_counts_are_required() {
        let e = config(
            &parse(&["-w", "txn-list-append", "--consistency-models", "bogus"]),
            1,
        )
        .unwrap_err();
        assert!(
            e.starts_with("--consistency-models: unknown consistency model \"bogus\""),
            "{e}"
        );
        let e = config(
            &parse(&["-w", "lin-kv", "--consistency-models", "serializable"]),
            1,
        )
        .unwrap_err();
        assert!(
            e.contains("\"serializable\"") && e.contains("monotonic-reads"),
            "{e}"
        );
        let e = config(
            &parse(&["-w", "echo", "--consistency-models", "sequential"]),
            1,
        )
        .unwrap_err();
        assert!(
            e.contains("only lin-kv, txn-list-append and txn-rw-register"),
            "{e}"
        );
        let ok = config(
            &parse(&["-w", "lin-kv", "--consistency-models", "pram, sequential"]),
            1,
        )
        .unwrap();
        assert_eq!(ok.consistency_models, ["sequential", "pram"]);
        for flag in ["--max-txn-length", "--max-writes-per-key", "--key-count"] {
            let e = config(&parse(&[flag, "0"]), 1).unwrap_err();
            assert!(e.starts_with(flag) && e.contains("positive"), "{e}");
        }
        let ok = config(
            &parse(&[
                "-w",
                "txn-list-append",
                "--consistency-models",
                "read-committed,serializable",
            ]),
            1,
        )
        .unwrap();
        assert_eq!(ok.consistency_models, ["read-committed", "serializable"]);
    }

    #[test]
    fn worst_exit_code_wins() {
        assert_eq!(worse(0, 2), 2);
        assert_eq!(worse(2, 1), 1);
        assert_eq!(worse(1, 3), 3);
        assert_eq!(worse(1, 0), 1);
    }
}
