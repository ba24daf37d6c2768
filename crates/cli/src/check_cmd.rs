//! `lightcone check`: decide whether recorded histories are linearizable,
//! whether (`--model kafka`) a kafka-style log history holds up under
//! Jepsen's kafka analysis, or (`--model list-append`, `rw-register`) which
//! transactional anomalies a history shows, as Elle reports them.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use lightcone_check::{CheckResult, Validity};
use lightcone_history::formats::{self, Format};
use lightcone_history::History;
use lightcone_linear::{self as linear, LinearOptions, LinearResult, SequentialOptions};
use lightcone_runner::exit_code;
use lightcone_workload::ladder::{self, Ladder, LadderOptions};

use crate::check_txn;
use crate::flags::bound_message;
use serde_json::{json, Value};

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// History files (`-` reads standard input). Each gets its own verdict.
    #[arg(required = true)]
    histories: Vec<PathBuf>,
    /// register, cas-register, kv, set, fifo-queue, unordered-queue, mutex
    /// (independent-NAME checks NAME per key of [key, value] tuples),
    /// kafka (Jepsen's kafka analysis of send/poll/assign histories), or
    /// list-append / rw-register (Elle's transactional analysis).
    /// Default: cas-register for porcupine-etcd, kv for porcupine-kv.
    #[arg(long)]
    model: Option<String>,
    /// The consistency models the history must satisfy, comma-separated.
    /// list-append, rw-register: Elle's names and aliases (default
    /// strict-serializable). register, cas-register, kv, independent-*:
    /// linearizable (the default), sequential, causal-memory,
    /// causal-convergence, causal, pram, read-your-writes, monotonic-reads,
    /// monotonic-writes, writes-follow-reads, or all (the whole ladder).
    #[arg(long)]
    consistency_models: Option<String>,
    /// list-append, rw-register: further anomalies to look for (Elle's
    /// names, comma-separated), e.g. G-single-item,lost-update.
    #[arg(long)]
    anomalies: Option<String>,
    /// rw-register: infer version orders assuming each key is linearizable.
    #[arg(long)]
    linearizable_keys: bool,
    /// rw-register: infer version orders assuming each key is sequential.
    #[arg(long)]
    sequential_keys: bool,
    /// rw-register: do not assume writes follow reads within a transaction
    /// (Maelstrom assumes they do).
    #[arg(long)]
    no_wfr_keys: bool,
    /// list-append, rw-register: edge visits one strongly connected
    /// component's cycle search may spend before cycle-search-timeout.
    #[arg(long, default_value_t = lightcone_txn::SEARCH_BUDGET_DEFAULT)]
    search_budget: u64,
    /// list-append, rw-register: write one file per anomaly type here
    /// (cycles as Elle's <type>.txt).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The model's initial state, as JSON (a register's initial value...).
    #[arg(long)]
    initial: Option<String>,
    /// jsonl, edn, porcupine-etcd or porcupine-kv; detected when absent.
    #[arg(long)]
    format: Option<Format>,
    /// Seconds per history before the verdict is unknown (positive, at
    /// most a year; no limit when absent).
    #[arg(long, value_parser = crate::flags::seconds, allow_hyphen_values = true,
          value_name = "SECONDS")]
    time_limit: Option<u64>,
    /// Most search configurations cached at once (memory budget, at least
    /// 1); past it the verdict is unknown.
    #[arg(long, default_value_t = 10_000_000)]
    configs_max: usize,
    /// Check every partition to the end, for a witness of each invalid one.
    #[arg(long)]
    all_witnesses: bool,
    /// Check a partitioned model (kv, independent-*) as one whole history
    /// instead of per key (P-compositionality off; slower).
    #[arg(long)]
    no_split: bool,
    /// One JSON object per history on stdout, instead of text.
    #[arg(long)]
    json: bool,
    /// Also write the history's page here: its operation timeline, latency
    /// and throughput, the verdict and its witness (one history only).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// A history's bytes: the file mapped into memory, or what standard input
/// (or a file that cannot be mapped) gave.
///
/// Mapping a large file spares the copy into fresh memory that reading it
/// costs (for the 183 MB history of a million ops, 183 MB of pages the
/// kernel must zero, then the copy: a fifth of the check's wall time,
/// BENCHMARKS.md).
enum Input {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl Input {
    fn bytes(&self) -> &[u8] {
        match self {
            Input::Mapped(map) => map,
            Input::Read(bytes) => bytes,
        }
    }
}

/// Tells the allocator (mimalloc) to keep the pages this process frees
/// instead of handing them back to the kernel.
///
/// By default mimalloc purges memory that has been free for 10 ms
/// (`madvise(MADV_DONTNEED)`); the next allocation there faults the pages
/// back in, and the kernel zeroes them again. A check frees its temporary
/// vectors (the partitioning's pieces, the search's tables) while it
/// still allocates: for the history of a million ops, 278 MiB was purged
/// and most of it faulted back in. A check is a short-lived process whose
/// peak is its footprint, so keeping the pages costs no peak memory.
fn keep_freed_pages() {
    // SAFETY: sets one of mimalloc's options, a plain integer it reads
    // when it decides whether to purge; any value is valid (-1: never).
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
    }
}

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (v2 and v3 alike:
/// after `mi_option_deprecated_eager_commit_delay`, 14, and before
/// `mi_option_use_numa_nodes`, 16, which libmimalloc-sys names); the Rust
/// bindings do not name it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Files smaller than this are read: mapping them saves nothing.
const MAP_MIN_BYTES: u64 = 1 << 20;

fn read_bytes(path: &Path) -> Result<Input, String> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("could not read standard input: {e}"))?;
        return Ok(Input::Read(bytes));
    }
    let could_not = |e: std::io::Error| format!("could not read {}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(could_not)?;
    let meta = file.metadata().map_err(could_not)?;
    if meta.is_file() && meta.len() >= MAP_MIN_BYTES {
        // SAFETY: the map is only read, and lives until the history has
        // been parsed into memory of its own. A file truncated by another
        // process while it is being read would fault (SIGBUS). A running
        // test only appends to its history.jsonl, which is safe; it cuts
        // the file back only after a failed write (a full disk), the one
        // moment a check of the same file could fault.
        let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) };
        if let Ok(map) = map {
            return Ok(Input::Mapped(map));
        }
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    (&file).read_to_end(&mut bytes).map_err(could_not)?;
    Ok(Input::Read(bytes))
}

/// The history's text, checked to be UTF-8.
fn input_text<'a>(path: &Path, input: &'a Input) -> Result<&'a str, String> {
    let bytes = input.bytes();
    std::str::from_utf8(bytes).map_err(|e| {
        let name = if path.as_os_str() == "-" {
            "standard input".to_string()
        } else {
            path.display().to_string()
        };
        not_utf8(&name, bytes, e.valid_up_to())
    })
}

/// The error for input that is not UTF-8 text: where the first bad byte
/// is (byte offset, line and column) and what it is.
fn not_utf8(name: &str, bytes: &[u8], offset: usize) -> String {
    let before = &bytes[..offset];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    // The prefix is valid UTF-8, so the column counts its characters.
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    let shown: Vec<String> = bytes[offset..]
        .iter()
        .take(4)
        .map(|b| format!("{b:#04x}"))
        .collect();
    format!(
        "{name}: byte {offset} (line {line}, column {column}) is not UTF-8 text (bytes {}); \
         a history is text: JSONL, EDN or Porcupine's logs",
        shown.join(" ")
    )
}

/// `--time-limit` as a duration.
fn time_limit(args: &CheckArgs) -> Option<Duration> {
    args.time_limit.map(Duration::from_nanos)
}

fn parse(args: &CheckArgs, path: &Path) -> Result<formats::Reading, String> {
    let input = read_bytes(path)?;
    let text = input_text(path, &input)?;
    let reading = formats::read_for_check(text, args.format)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(torn) = &reading.torn_line {
        // What a run that stopped mid-write (a full disk, a crash) leaves:
        // the ops before it are whole, and are checked.
        eprintln!(
            "warning: {}: line {} is torn (it has no newline at its end and is not a whole op: column {}: {}); it is left out and the {} ops before it are checked",
            path.display(),
            torn.line,
            torn.column,
            torn.message,
            reading.history.len()
        );
    }
    Ok(reading)
}

/// Completions with no invocation open stand for whole transactions in
/// the transactional checks (Elle's tests write histories of completions
/// alone); any other check would leave them out, so it refuses them.
fn refuse_lone_completions(
    path: &Path,
    model: &str,
    lone: &formats::LoneCompletions,
) -> Result<(), String> {
    let Some(first) = &lone.first else {
        return Ok(());
    };
    if lone_transactions_allowed(model) {
        return Ok(());
    }
    let others = match lone.count - 1 {
        0 => String::new(),
        1 => " (and 1 more like it)".to_string(),
        n => format!(" (and {n} more like it)"),
    };
    Err(format!(
        "{}: {first}{others}; the {model} check pairs each completion with its invocation, and only the transactional checks (--model list-append, rw-register) take a completion alone, as a whole transaction",
        path.display()
    ))
}

fn lone_transactions_allowed(model: &str) -> bool {
    lightcone_txn::TxnModel::by_name(model).is_some()
}

fn model_name(args: &CheckArgs, format: Format) -> Result<String, String> {
    match (&args.model, format) {
        (Some(m), _) => Ok(m.clone()),
        (None, Format::PorcupineEtcd) => Ok("cas-register".into()),
        (None, Format::PorcupineKv) => Ok("kv".into()),
        (None, _) => Err(format!(
            "--model is needed for {format} histories; one of {}",
            linear::model_names().join(", ")
        )),
    }
}

/// What a check found.
enum Outcome {
    /// A linearizability verdict and its witness's timeline.
    Linear(LinearResult, String),
    /// A workload checker's result (kafka).
    Workload {
        model: String,
        op_count: usize,
        result: CheckResult<lightcone_kafka::Details>,
    },
    /// The transactional checker's result.
    Txn(CheckResult<lightcone_txn::Details>),
    /// A register or key-value history held to several models
    /// (`--consistency-models`), strongest first.
    Ladder {
        model: String,
        op_count: usize,
        ladder: Box<Ladder>,
    },
}

impl Outcome {
    fn valid(&self) -> Validity {
        match self {
            Outcome::Linear(result, _) => result.valid,
            Outcome::Workload { result, .. } => result.valid,
            Outcome::Txn(result) => check_txn::valid(result),
            Outcome::Ladder { ladder, .. } => ladder.valid(),
        }
    }
}

/// Checks one history; `Err` is a malformed input or a bad argument.
fn check_one(args: &CheckArgs, path: &Path) -> Result<(Outcome, Duration, History), String> {
    let reading = parse(args, path)?;
    let model = model_name(args, reading.format)?;
    refuse_lone_completions(path, &model, &reading.lone_completions)?;
    let (outcome, took) = check_parsed(args, &reading.history, reading.format)?;
    Ok((outcome, took, reading.history))
}

/// Checks a parsed history by the model the arguments name.
fn check_parsed(
    args: &CheckArgs,
    history: &History,
    format: Format,
) -> Result<(Outcome, Duration), String> {
    let name = model_name(args, format)?;
    if let Some(model) = lightcone_txn::TxnModel::by_name(&name) {
        let flags = check_txn::TxnFlags {
            consistency_models: args.consistency_models.as_deref(),
            anomalies: args.anomalies.as_deref(),
            linearizable_keys: args.linearizable_keys,
            sequential_keys: args.sequential_keys,
            no_wfr_keys: args.no_wfr_keys,
            search_budget: args.search_budget,
        };
        let options = check_txn::options(model, &flags)?;
        let (result, took) = check_txn::check(history, options, time_limit(args));
        return Ok((Outcome::Txn(result), took));
    }
    if name == "kafka" {
        let start = Instant::now();
        let result = lightcone_kafka::check(history);
        let op_count = history
            .iter()
            .filter(|op| op.is_client() && op.is_invoke())
            .count();
        let outcome = Outcome::Workload {
            model: name,
            op_count,
            result,
        };
        return Ok((outcome, start.elapsed()));
    }
    let initial = match &args.initial {
        Some(text) => Some(serde_json::from_str::<Value>(text).map_err(|e| {
            format!(
                "--initial {text:?} is not JSON ({e}); write e.g. --initial 0 or --initial '\"x\"'"
            )
        })?),
        None => None,
    };
    let initial_value = initial.clone();
    let model = linear::model_by_name(&name, initial).ok_or_else(|| {
        format!(
            "unknown model {name:?}; the models are {}, kafka, list-append, rw-register",
            linear::model_names().join(", ")
        )
    })?;
    let models = register_models(args, &name)?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut options = LinearOptions::default();
    options.configs_max = args.configs_max;
    options.all_witnesses = args.all_witnesses;
    options.split = !args.no_split;
    options.stop = Some(Arc::clone(&stop));
    let done = Arc::new(AtomicBool::new(false));
    if let Some(limit) = time_limit(args) {
        // The checker never reads a clock: this thread tells it to stop.
        let (stop, done) = (Arc::clone(&stop), Arc::clone(&done));
        std::thread::spawn(move || {
            let start = Instant::now();
            while start.elapsed() < limit {
                if done.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5).min(limit));
            }
            stop.store(true, Ordering::Relaxed);
        });
    }
    let start = Instant::now();
    if models != ["linearizable"] {
        let mut sequential = SequentialOptions::default();
        sequential.configs_max = args.configs_max;
        sequential.stop = Some(Arc::clone(&stop));
        let ladder_options = LadderOptions {
            linear: options,
            sequential,
            keyed: name == "kv" || name.starts_with("independent-"),
            initial: initial_value.unwrap_or(Value::Null),
        };
        let mut ladder = ladder::climb(history, model.as_ref(), &models, &ladder_options);
        let took = start.elapsed();
        done.store(true, Ordering::Relaxed);
        if stop.load(Ordering::Relaxed) {
            for rung in &mut ladder.rungs {
                if rung.valid == Validity::Unknown && rung.reason.is_none() {
                    rung.reason = Some(format!(
                        "the time limit of {} s ran out",
                        crate::flags::format_seconds(args.time_limit.unwrap_or(0))
                    ));
                }
            }
        }
        let op_count = history
            .iter()
            .filter(|op| op.is_client() && op.is_invoke())
            .count();
        let outcome = Outcome::Ladder {
            model: name,
            op_count,
            ladder: Box::new(ladder),
        };
        return Ok((outcome, took));
    }
    // Degraded reads (read-degraded) are not linearizable by design: left out.
    let strict = ladder::without_degraded_reads(history);
    let mut result = linear::check(&strict, model.as_ref(), &options);
    let took = start.elapsed();
    done.store(true, Ordering::Relaxed);
    if stop.load(Ordering::Relaxed) && result.valid == Validity::Unknown && result.reason.is_none()
    {
        result.reason = Some(format!(
            "the time limit of {} s ran out",
            crate::flags::format_seconds(args.time_limit.unwrap_or(0))
        ));
    }
    let timeline = result
        .witness()
        .map(|w| w.timeline(model.as_ref()))
        .unwrap_or_default();
    Ok((Outcome::Linear(result, timeline), took))
}

/// The register and key-value models the ladder reads.
const LADDER_MODELS: &[&str] = &[
    "register",
    "cas-register",
    "kv",
    "independent-register",
    "independent-cas-register",
];

/// `--consistency-models` for a linearizability model: the ladder's names
/// (linearizable alone when absent).
fn register_models(args: &CheckArgs, model: &str) -> Result<Vec<&'static str>, String> {
    let Some(list) = &args.consistency_models else {
        return Ok(vec!["linearizable"]);
    };
    if !LADDER_MODELS.contains(&model) {
        return Err(format!(
            "--consistency-models does not apply to the {model} model; it takes the register \
             and key-value models ({}) and the transactional ones (list-append, rw-register)",
            LADDER_MODELS.join(", ")
        ));
    }
    ladder::parse_register_models(list).map_err(|e| format!("--consistency-models: {e}"))
}

/// The ladder: the overall verdict, then one line per model, strongest
/// first, with its witness or the reason it is undecided.
fn print_ladder(path: &Path, model: &str, op_count: usize, ladder: &Ladder, ms: f64) {
    println!(
        "{}: {} ({model} model, {op_count} ops) in {ms:.2} ms",
        path.display(),
        ladder.valid().to_string().to_uppercase(),
    );
    let width = ladder
        .rungs
        .iter()
        .map(|r| r.model.len())
        .max()
        .unwrap_or(0);
    for rung in &ladder.rungs {
        let why = match rung.valid {
            Validity::Valid => String::new(),
            Validity::Invalid => format!(": {}", rung.witness.as_deref().unwrap_or("no witness")),
            Validity::Unknown => format!(": {}", rung.reason.as_deref().unwrap_or("no reason")),
        };
        println!(
            "  {:<width$}  {}{}",
            rung.model,
            rung.valid,
            bound_message(&why)
        );
    }
}

fn print_linear(path: &Path, result: &LinearResult, timeline: &str, ms: f64) {
    let parts = result.partitions.len();
    println!(
        "{}: {} ({} model, {} ops, {parts} partition{}) in {ms:.2} ms",
        path.display(),
        result.valid.to_string().to_uppercase(),
        result.model,
        result.op_count,
        if parts == 1 { "" } else { "s" },
    );
    // A malformed history's reason may quote its input: bounded.
    if let Some(reason) = &result.reason {
        println!("  {}", bound_message(reason));
    }
    for problem in result.problems() {
        println!("  {}", bound_message(&problem.to_string()));
    }
    for line in timeline.lines() {
        println!("  {line}");
    }
}

fn print_workload(
    path: &Path,
    model: &str,
    op_count: usize,
    result: &CheckResult<lightcone_kafka::Details>,
    ms: f64,
) {
    println!(
        "{}: {} ({model} model, {op_count} ops) in {ms:.2} ms",
        path.display(),
        result.valid.to_string().to_uppercase(),
    );
    if result.maelstrom_valid != result.valid {
        println!(
            "  Maelstrom's checker would say {}: lightcone is deliberately stricter here",
            result.maelstrom_valid
        );
    }
    for problem in &result.problems {
        if result.beyond_maelstrom.contains(problem) {
            println!("  {problem} (beyond Maelstrom)");
        } else {
            println!("  {problem}");
        }
    }
}

/// Writes a checked history's page to `file`.
fn write_html(
    file: &Path,
    path: &Path,
    outcome: &Outcome,
    history: &History,
) -> Result<(), String> {
    let (verdict, problems, section) = match outcome {
        Outcome::Txn(result) => (
            result.valid,
            result.problems.clone(),
            serde_json::to_value(result.section()).ok(),
        ),
        Outcome::Workload { result, .. } => (
            result.valid,
            result.problems.clone(),
            serde_json::to_value(result.section()).ok(),
        ),
        Outcome::Ladder { model, ladder, .. } => (
            ladder.valid(),
            ladder.problems(),
            Some(json!({
                "model": model,
                "consistency-models": ladder.rungs,
                "linear": ladder.linear.as_ref().map(|l| l.to_json()),
            })),
        ),
        Outcome::Linear(result, timeline) => {
            let mut problems = Vec::new();
            if let Some(reason) = &result.reason {
                problems.push(reason.clone());
            }
            if !timeline.is_empty() {
                problems.push(timeline.clone());
            }
            (result.valid, problems, Some(result.to_json()))
        }
    };
    let ops = history
        .iter()
        .filter(|op| op.is_client() && op.is_invoke())
        .count();
    let input = lightcone_report::ReportInput {
        title: path.display().to_string(),
        verdict: verdict.to_string(),
        command_line: std::env::args().collect::<Vec<_>>().join(" "),
        replay: None,
        problems,
        figures: vec![("operations".to_string(), ops.to_string())],
        workload: section.as_ref(),
        messages: None,
        queues: None,
    };
    let page = lightcone_report::render(&input, history);
    std::fs::write(file, page)
        .map_err(|e| format!("could not write --html {}: {e}", file.display()))
}

pub fn run(args: CheckArgs) -> i32 {
    keep_freed_pages();
    let mut worst = Validity::Valid;
    let mut errors = 0;
    if args.configs_max == 0 {
        eprintln!(
            "error: --configs-max is 0; the search needs room for at least 1 configuration \
             (the default is 10000000)"
        );
        return exit_code::USAGE;
    }
    if args.html.is_some() && args.histories.len() > 1 {
        eprintln!(
            "error: --html writes one history's page, and {} histories were given; check them one at a time",
            args.histories.len()
        );
        return exit_code::USAGE;
    }
    for (position, path) in args.histories.iter().enumerate() {
        match check_one(&args, path) {
            Ok((outcome, took, history)) => {
                worst = worst.merge(outcome.valid());
                if let Some(file) = &args.html {
                    if let Err(message) = write_html(file, path, &outcome, &history) {
                        errors += 1;
                        crate::flags::print_error(&message);
                    }
                }
                let ms = took.as_secs_f64() * 1000.0;
                if let (Outcome::Txn(result), Some(dir)) = (&outcome, &args.out) {
                    let dir = check_txn::out_dir(dir, path, position, args.histories.len());
                    if let Err(message) = check_txn::write_out(&dir, result) {
                        errors += 1;
                        crate::flags::print_error(&message);
                    }
                }
                match (&outcome, args.json) {
                    (Outcome::Txn(result), true) => {
                        println!("{}", check_txn::to_json(path, result, ms))
                    }
                    (Outcome::Txn(result), false) => check_txn::print(path, result, ms),
                    (
                        Outcome::Ladder {
                            model,
                            op_count,
                            ladder,
                        },
                        true,
                    ) => {
                        let v = json!({
                            "file": path,
                            "model": model,
                            "valid": ladder.valid(),
                            "op-count": op_count,
                            "consistency-models": ladder.rungs,
                            "problems": ladder.problems(),
                            "time-ms": ms,
                        });
                        println!("{v}");
                    }
                    (
                        Outcome::Ladder {
                            model,
                            op_count,
                            ladder,
                        },
                        false,
                    ) => print_ladder(path, model, *op_count, ladder, ms),
                    (Outcome::Linear(result, _), true) => {
                        let mut v = result.to_json();
                        v["file"] = json!(path);
                        v["time-ms"] = json!(ms);
                        println!("{v}");
                    }
                    (Outcome::Workload { model, result, .. }, true) => {
                        let mut v =
                            serde_json::to_value(result.section()).expect("details serialize");
                        v["file"] = json!(path);
                        v["model"] = json!(model);
                        v["problems"] = json!(result.problems);
                        v["time-ms"] = json!(ms);
                        println!("{v}");
                    }
                    (Outcome::Linear(result, timeline), false) => {
                        print_linear(path, result, timeline, ms)
                    }
                    (
                        Outcome::Workload {
                            model,
                            op_count,
                            result,
                        },
                        false,
                    ) => print_workload(path, model, *op_count, result, ms),
                }
                if position + 1 == args.histories.len() {
                    // The process ends now and hands all its memory back:
                    // freeing a million ops one by one first would take
                    // tens of milliseconds for nothing.
                    std::mem::forget(history);
                    std::mem::forget(outcome);
                }
            }
            Err(message) => {
                errors += 1;
                crate::flags::print_error(&message);
            }
        }
    }
    if errors > 0 {
        exit_code::USAGE
    } else {
        worst.exit_code()
    }
}
