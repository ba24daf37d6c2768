use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{self, IsTerminal, LineWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lightcone_core::{
    Effect, Ending, MalformedLines, NodeFacts, Phase, Test, TestConfig, WorkbenchCost,
    NANOS_PER_SEC,
};
use lightcone_proto::is_client_id;

use crate::error::{write_err, RunnerError};
use crate::folder::{RunFacts, RunFolder, MALFORMED_SAMPLES_MAX};
use crate::latency::MessageClock;
use crate::mailbox::{Mailbox, Taken};
use crate::node::{Inbound, NodeProcess, Spawn, StartError, THREAD_JOIN_WAIT};
use crate::program::{resolve_program, ProgramError};
use crate::reaper;
use crate::report::{QueueTotals, RunReport, Workbench};

/// Lines read from all nodes waiting for the main loop; past this the
/// reader threads block and the nodes' stdout pipes push back.
const INBOUND_LEN_MAX: usize = 4096;
/// Malformed lines reported on the console; the rest are only counted.
const MALFORMED_PRINTED_MAX: u64 = 10;
/// Malformed lines kept per node (and in results.json over all nodes,
/// `MALFORMED_SAMPLES_MAX`).
const MALFORMED_SAMPLES_PER_NODE_MAX: usize = 5;
/// How much of a malformed line its report shows.
const MALFORMED_SHOWN_CHARS_MAX: usize = 200;
/// The longest the loop waits without ticking the core.
const TICK_WAIT_MAX_NS: u64 = 250_000_000;
/// How long a node whose stdout closed gets to report its exit.
const EXIT_WAIT: Duration = Duration::from_millis(500);
/// How often the live progress line is redrawn.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// How often each node's queue depth is sampled for the report.
const QUEUE_SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// One node's malformed lines: all counted, the first few kept.
#[derive(Debug, Default)]
struct Malformed {
    count: u64,
    samples: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub config: TestConfig,
    /// The node program and its arguments.
    pub bin: PathBuf,
    pub args: Vec<String>,
    /// Where results folders go (`store`).
    pub store_root: PathBuf,
    /// Bound of each node's inbound (stdin) queue; messages past it are
    /// dropped and counted.
    pub node_queue_max: usize,
    /// Bound of the bytes in each node's inbound queue, likewise.
    pub node_queue_bytes_max: u64,
    /// The longest line read from a node's stdout; a longer one is
    /// reported as malformed, with its size, and skipped.
    pub line_bytes_max: usize,
    /// Bytes of a node process's stderr kept in its log.
    pub node_log_bytes_max: u64,
    pub log_stderr: bool,
    /// The command line as typed, recorded with the results.
    pub command_line: String,
    /// Show a live progress line (when stderr is a terminal).
    pub progress: bool,
    /// Write report.html at the end (`--no-report` turns it off).
    pub report: bool,
    /// The command that replays the run exactly (a simulation's), shown
    /// in the report.
    pub replay: Option<String>,
}

struct Loop {
    test: Test,
    /// The current process of each node (a killed one until its restart).
    nodes: Vec<NodeProcess>,
    specs: Vec<Spawn>,
    /// What the reader threads send; kept for restarts, whose reader
    /// threads send here too.
    inbound: Arc<Mailbox<Inbound>>,
    /// Killed by the nemesis and not yet restarted.
    dead: Vec<bool>,
    /// Queue measurements of processes already killed.
    totals: Vec<QueueTotals>,
    folder: RunFolder,
    /// lightcone.log, flushed line by line: a workbench killed mid-run
    /// leaves what it had logged.
    log: LineWriter<File>,
    malformed: BTreeMap<String, Malformed>,
    malformed_count: u64,
    /// Lines per node that were not valid UTF-8 (read with replacement
    /// characters, as Maelstrom's JVM reader does).
    invalid_utf8: Vec<u64>,
    /// Log bytes cut and pipe threads left blocked, of processes already
    /// killed, per node.
    log_bytes_cut: Vec<u64>,
    stuck_threads: Vec<u64>,
    line_bytes_max: usize,
    start: Instant,
    progress_line: bool,
    /// The time messages spend inside the workbench.
    clock: MessageClock,
    /// Wall time and CPU seconds when the main phase began, then the share
    /// of a core over it once it ended.
    main_began: Option<(Instant, f64)>,
    main_cpu_share: Option<f64>,
}

/// Runs one test to the end (or to Ctrl-C, when `interrupt` is set).
pub fn run(options: &RunOptions, interrupt: Arc<AtomicBool>) -> Result<RunReport, RunnerError> {
    let test = Test::new(options.config.clone())?;
    // Orphans of the nodes (daemons) come to us, not to init: see reaper.
    reaper::become_subreaper();
    // Small pages for the workbench's many threads (the nodes keep the
    // machine's setting): see huge_pages.
    crate::huge_pages::disable();
    let program = resolve_program(&options.bin)?;
    let mut folder = RunFolder::create(
        &options.store_root,
        &options.config.workload,
        &options.command_line,
    )?;
    folder.set_report(options.report, options.replay.clone());
    let log_path = folder.path("lightcone.log");
    let log = File::create(&log_path).map_err(write_err(&log_path))?;

    let inbound = Arc::new(Mailbox::new(INBOUND_LEN_MAX));
    let mut nodes = Vec::new();
    let mut specs = Vec::new();
    for (i, id) in test.nodes().iter().enumerate() {
        let spec = Spawn {
            index: i,
            id: id.clone(),
            bin: options.bin.clone(),
            args: options.args.clone(),
            run_seed: options.config.seed,
            log_path: folder.node_log_path(id),
            storage_dir: folder.path("node-storage").join(id),
            log_stderr: options.log_stderr,
            queue_capacity: options.node_queue_max,
            queue_capacity_bytes: options.node_queue_bytes_max,
            line_bytes_max: options.line_bytes_max,
            log_bytes_max: options.node_log_bytes_max,
        };
        match NodeProcess::spawn(&spec, 0, Arc::clone(&inbound)) {
            Ok(p) => nodes.push(p),
            Err(e) => {
                for p in &mut nodes {
                    p.kill();
                }
                // The run never started: leave no empty results behind
                // (and `latest` was not moved).
                folder.discard();
                let source = match e {
                    StartError::Exec(source) => {
                        match ProgramError::from_exec(&options.bin, &program, source) {
                            Ok(e) => return Err(e.into()),
                            Err(source) => source,
                        }
                    }
                    StartError::Io(source) => source,
                };
                return Err(RunnerError::Spawn {
                    node: id.clone(),
                    bin: options.bin.clone(),
                    source,
                });
            }
        }
        specs.push(spec);
    }
    // Linked once the nodes run, so that `latest` is never a run that
    // did not start.
    folder.link_latest();

    let count = nodes.len();
    let mut state = Loop {
        test,
        nodes,
        specs,
        inbound,
        dead: vec![false; count],
        totals: (0..count).map(|_| QueueTotals::default()).collect(),
        folder,
        log: LineWriter::new(log),
        malformed: BTreeMap::new(),
        malformed_count: 0,
        invalid_utf8: vec![0; count],
        log_bytes_cut: vec![0; count],
        stuck_threads: vec![0; count],
        line_bytes_max: options.line_bytes_max,
        start: Instant::now(),
        progress_line: options.progress && io::stderr().is_terminal(),
        clock: MessageClock::default(),
        main_began: None,
        main_cpu_share: None,
    };
    let ending = state.drive(&interrupt)?;
    state.finish(options, ending)
}

impl Loop {
    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn drive(&mut self, interrupt: &AtomicBool) -> Result<Ending, RunnerError> {
        self.test.start(0);
        self.apply_effects()?;
        let mut last_progress = Instant::now();
        let mut last_msg_count = 0;
        let mut last_sample: Option<Instant> = None;
        // Lines taken from the reader threads at once (at most
        // INBOUND_LEN_MAX), handled before ticking again.
        let mut batch = VecDeque::new();
        loop {
            if last_sample.is_none_or(|t| t.elapsed() >= QUEUE_SAMPLE_EVERY) {
                last_sample = Some(Instant::now());
                let depths = self.nodes.iter().map(|n| n.queue.depth()).collect();
                let now = self.now();
                self.folder.sample_queues(now, self.test.nodes(), depths);
            }
            if interrupt.load(Ordering::SeqCst) {
                self.clear_progress();
                return Ok(Ending::Interrupted);
            }
            let now = self.now();
            self.test.tick(now);
            self.apply_effects()?;
            self.watch_main_phase();
            if let Some(failure) = self.test.failure() {
                return Ok(Ending::Aborted(failure.to_string()));
            }
            if self.test.is_done() {
                self.clear_progress();
                return Ok(Ending::Completed);
            }
            if self.progress_line && last_progress.elapsed() >= PROGRESS_EVERY {
                let p = self.test.progress();
                let rate =
                    (p.msg_count - last_msg_count) as f64 / last_progress.elapsed().as_secs_f64();
                last_msg_count = p.msg_count;
                last_progress = Instant::now();
                let limit = self.test.config().time_limit_ns as f64 / NANOS_PER_SEC as f64;
                eprint!(
                    "\r[{:6.1} / {limit} s] {:?}: ok {} fail {} info {} | {:.0} msgs/s   ",
                    p.main_elapsed_ns as f64 / NANOS_PER_SEC as f64,
                    p.phase,
                    p.ops.ok_count,
                    p.ops.fail_count,
                    p.ops.info_count,
                    rate
                );
            }
            let wait = self
                .test
                .next_deadline()
                .map(|d| d.saturating_sub(self.now()))
                .unwrap_or(u64::MAX)
                .min(TICK_WAIT_MAX_NS);
            match self
                .inbound
                .take_all(&mut batch, Some(Duration::from_nanos(wait)))
            {
                Taken::Items => {}
                Taken::Timeout => continue,
                Taken::Closed => unreachable!("the inbound mailbox is closed only at the end"),
            }
            while let Some(inbound) = batch.pop_front() {
                if let Some(outcome) = self.handle_inbound(inbound)? {
                    self.clear_progress();
                    return Ok(outcome);
                }
            }
        }
    }

    /// Notes the CPU time when the main phase begins and ends, for its
    /// share of a core (two `getrusage` calls a run).
    fn watch_main_phase(&mut self) {
        let phase = self.test.phase();
        if self.main_began.is_none() && phase >= Phase::Main {
            self.main_began = Some((Instant::now(), own_usage().cpu_s));
        }
        if let (Some((began, cpu_s)), None) = (self.main_began, self.main_cpu_share) {
            if phase > Phase::Main {
                let wall_s = began.elapsed().as_secs_f64().max(1e-9);
                self.main_cpu_share = Some((own_usage().cpu_s - cpu_s) / wall_s);
            }
        }
    }

    fn clear_progress(&self) {
        if self.progress_line {
            eprint!("\r{:100}\r", "");
        }
    }

    fn handle_inbound(&mut self, inbound: Inbound) -> Result<Option<Ending>, RunnerError> {
        match inbound {
            Inbound::Line {
                node, incarnation, ..
            }
            | Inbound::TooLong {
                node, incarnation, ..
            }
            | Inbound::Eof { node, incarnation }
                if incarnation != self.nodes[node].incarnation || self.dead[node] =>
            {
                // From a process the nemesis killed: it is gone.
                Ok(None)
            }
            Inbound::TooLong {
                node,
                line_number,
                bytes,
                head,
                ..
            } => {
                let why = format!(
                    "it is {bytes} bytes long, over the limit of {} bytes (raise --line-bytes-max \
                     if the node's messages are that large); skipped to its end",
                    self.line_bytes_max
                );
                self.malformed(node, line_number, &why, &head)?;
                Ok(None)
            }
            Inbound::Line {
                node,
                line_number,
                read_at,
                message,
                lossy,
                ..
            } => {
                let taken_at = Instant::now();
                self.clock
                    .reader_queue
                    .record(taken_at.saturating_duration_since(read_at));
                if lossy {
                    self.invalid_utf8(node, line_number)?;
                }
                // Routed as of its read: its wait for this loop is part of
                // its network latency, not added to it.
                let sent_ns = read_at.saturating_duration_since(self.start).as_nanos() as u64;
                let mut to_client = false;
                let problem = match message {
                    // Serialised again only when the network refuses it.
                    Ok(msg) => {
                        to_client = is_client_id(&msg.dest);
                        self.test
                            .receive(sent_ns, node, msg)
                            .err()
                            .map(|refused| (refused.why.to_string(), refused.msg.to_line()))
                    }
                    Err((e, line)) => Some((e.to_string(), line)),
                };
                if let Some((why, line)) = problem {
                    to_client = false;
                    self.malformed(node, line_number, &why, &line)?;
                }
                self.apply_effects()?;
                let done_at = Instant::now();
                self.clock
                    .handling
                    .record(done_at.saturating_duration_since(taken_at));
                if to_client {
                    // A reply to a client ends here: the client is ours.
                    self.clock
                        .client_replies
                        .record(done_at.saturating_duration_since(read_at));
                }
                Ok(None)
            }
            Inbound::Eof { node, .. } => {
                let p = &mut self.nodes[node];
                let status = p
                    .wait_exit(EXIT_WAIT)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "still running, but its stdout is closed".into());
                let tail = p.stderr_tail();
                let mut message = format!("node {} exited early ({status})", p.id);
                if tail.is_empty() {
                    message.push_str("; it wrote nothing to stderr");
                } else {
                    message.push_str("; its last stderr lines:");
                    for line in tail {
                        message.push_str("\n    ");
                        message.push_str(&line);
                    }
                }
                Ok(Some(Ending::Aborted(message)))
            }
        }
    }

    fn malformed(
        &mut self,
        node: usize,
        line_number: u64,
        why: &str,
        line: &str,
    ) -> Result<(), RunnerError> {
        let id = self.nodes[node].id.clone();
        let shown: String = line.chars().take(MALFORMED_SHOWN_CHARS_MAX).collect();
        let cut = if shown.len() < line.len() { "..." } else { "" };
        let text = format!(
            "node {id} printed a line that is not a valid message (line {line_number} of its stdout): {why}: `{shown}{cut}`; nodes must print one JSON message per line, {{\"src\": ..., \"dest\": ..., \"body\": {{\"type\": ...}}}}"
        );
        self.malformed_count += 1;
        let entry = self.malformed.entry(id).or_default();
        entry.count += 1;
        if entry.samples.len() < MALFORMED_SAMPLES_PER_NODE_MAX {
            entry.samples.push(text.clone());
        }
        if self.malformed_count <= MALFORMED_PRINTED_MAX {
            self.clear_progress();
            eprintln!("warning: {text}");
            if self.malformed_count == MALFORMED_PRINTED_MAX {
                eprintln!("warning: further malformed lines are only counted (see results.json)");
            }
        }
        writeln!(self.log, "warning: {text}").map_err(write_err(Path::new("lightcone.log")))
    }

    /// A line that was not valid UTF-8: read with replacement characters
    /// (as Maelstrom's JVM reader does), counted, and the first of each
    /// node's reported.
    fn invalid_utf8(&mut self, node: usize, line_number: u64) -> Result<(), RunnerError> {
        self.invalid_utf8[node] += 1;
        if self.invalid_utf8[node] > 1 {
            return Ok(());
        }
        let text = format!(
            "node {} printed a line that is not valid UTF-8 (line {line_number} of its stdout); \
             it was read with replacement characters (U+FFFD), as Maelstrom reads it; further such \
             lines are counted in results.json",
            self.nodes[node].id
        );
        self.clear_progress();
        eprintln!("warning: {text}");
        writeln!(self.log, "warning: {text}").map_err(write_err(Path::new("lightcone.log")))
    }

    /// Kills node `node`'s process, keeping its measurements.
    fn kill_node(&mut self, node: usize) {
        let p = &mut self.nodes[node];
        let drain = p.kill();
        if let Some(d) = &drain {
            self.clock.writers.add(&d.latencies);
        }
        self.totals[node].add(&p.queue, drain);
        self.log_bytes_cut[node] += p.log_bytes_cut.load(std::sync::atomic::Ordering::Relaxed);
        self.stuck_threads[node] += std::mem::take(&mut p.stuck_thread_count);
    }

    fn apply_effects(&mut self) -> Result<(), RunnerError> {
        let mut recorded = false;
        for effect in self.test.take_effects() {
            match effect {
                Effect::Deliver { node, msg, due_ns } => {
                    if self.dead[node] {
                        // Sent to a killed node: lost, as on a real network.
                        self.totals[node].dropped_count += 1;
                    } else {
                        // Read for each delivery: the writes of those before it
                        // in this tick (the loop writes into the pipes itself,
                        // `InboundQueue::push`) are part of its lateness, so that
                        // the stages add up to the whole.
                        let now = Instant::now();
                        let due = self.start + Duration::from_nanos(due_ns);
                        self.clock
                            .lateness
                            .record(now.saturating_duration_since(due));
                        self.nodes[node].queue.push(msg.to_line(), due);
                    }
                }
                Effect::Record(index) => {
                    self.folder.record(&self.test.history().ops[index])?;
                    recorded = true;
                }
                Effect::Log(line) => {
                    self.clear_progress();
                    eprintln!("{line}");
                    let _ = writeln!(self.log, "{line}");
                }
                Effect::Crash { node } => {
                    self.dead[node] = true;
                    self.kill_node(node);
                }
                Effect::Restart { node } => {
                    let incarnation = self.nodes[node].incarnation + 1;
                    let spec = &self.specs[node];
                    // A restart that fails is the workbench's failure, even
                    // when the program is at fault: the run had started.
                    let p = NodeProcess::spawn(spec, incarnation, Arc::clone(&self.inbound))
                        .map_err(|(StartError::Exec(source) | StartError::Io(source))| {
                            RunnerError::Spawn {
                                node: spec.id.clone(),
                                bin: spec.bin.clone(),
                                source,
                            }
                        })?;
                    self.nodes[node] = p;
                    self.dead[node] = false;
                }
                Effect::Pause { node } => self.nodes[node].pause(),
                Effect::Resume { node } => self.nodes[node].resume(),
                Effect::Clock { node, .. } => {
                    // Validation keeps clock faults out of process mode.
                    unreachable!("clock faults need --sim (node {node})")
                }
            }
        }
        if recorded {
            // Flushed as the run goes, so a crash leaves a checkable prefix.
            self.folder.flush_history()?;
        }
        Ok(())
    }

    fn finish(mut self, options: &RunOptions, ending: Ending) -> Result<RunReport, RunnerError> {
        let duration = self.start.elapsed();
        // Nothing more is read: reader threads waiting for room end.
        self.inbound.close();
        for node in 0..self.nodes.len() {
            if !self.dead[node] {
                self.kill_node(node);
            }
        }
        // Whatever of the nodes' is left (a daemon that closed its pipes
        // and cleared its environment): every descendant of ours.
        let orphans = reaper::kill_all_descendants(&[]);
        if orphans > 0 {
            let _ = writeln!(
                self.log,
                "killed {orphans} process(es) the nodes left behind at the end of the run"
            );
        }
        let stuck: u64 = self.stuck_threads.iter().sum();
        if stuck > 0 {
            self.clear_progress();
            let text = format!(
                "{stuck} pipe thread(s) of killed nodes were still blocked after {} s and were \
                 left behind (a process outside the workbench's reach held a node's pipe)",
                THREAD_JOIN_WAIT.as_secs()
            );
            eprintln!("warning: {text}");
            let _ = writeln!(self.log, "warning: {text}");
        }
        let _ = self.log.flush();
        let usage = own_usage();
        let nodes = self
            .nodes
            .iter()
            .zip(&self.totals)
            .enumerate()
            .map(|(node, (p, totals))| {
                let facts = NodeFacts {
                    queue: Some(totals.stats(duration)),
                    start_count: u64::from(p.incarnation) + 1,
                    malformed_line_count: Some(self.malformed.get(&p.id).map_or(0, |m| m.count)),
                    invalid_utf8_line_count: Some(self.invalid_utf8[node]),
                    log_bytes_cut: Some(self.log_bytes_cut[node]),
                    exit_status: p.exit_status.map(|s| s.to_string()),
                    ..NodeFacts::default()
                };
                (p.id.clone(), facts)
            })
            .collect();
        let malformed = MalformedLines {
            count: self.malformed_count,
            samples: self
                .malformed
                .values()
                .flat_map(|m| m.samples.clone())
                .take(MALFORMED_SAMPLES_MAX)
                .collect(),
        };
        let duration_s = duration.as_secs_f64().max(1e-9);
        let message_latency_ms = self.clock.summary();
        let cost = WorkbenchCost {
            duration_s,
            cpu_s: usage.cpu_s,
            cpu_share: usage.cpu_s / duration_s,
            main_cpu_share: self.main_cpu_share,
            peak_rss_bytes: usage.peak_rss_bytes,
            reader_queue_capacity: INBOUND_LEN_MAX,
            reader_queue_depth_max: self.inbound.depth_max(),
            routed_per_s: message_latency_ms.total.count as f64 / duration_s,
            message_latency_ms,
        };
        let workbench = Workbench {
            report_write_s: None,
            mode: "process",
            duration_s: duration.as_secs_f64(),
            cpu_s: usage.cpu_s,
            peak_rss_mb: usage.peak_rss_bytes as f64 / (1024.0 * 1024.0),
            event_queue_depth_max: self.test.event_queue_depth_max(),
            bin: Some(options.bin.clone()),
            seeded: None,
            simulation: None,
        };
        let run = RunFacts {
            nodes,
            malformed,
            ending,
            workbench,
            cost: Some(cost),
        };
        self.folder.finish(&self.test, run, &options.command_line)
    }
}

/// The workbench's own CPU time and peak memory (not its children's).
pub(crate) struct Usage {
    pub cpu_s: f64,
    pub peak_rss_bytes: u64,
}

pub(crate) fn own_usage() -> Usage {
    // SAFETY: getrusage(2) fills the struct we pass; zeroed is a valid
    // initial value for this plain C struct.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Usage {
        cpu_s: secs(usage.ru_utime) + secs(usage.ru_stime),
        // ru_maxrss is in kilobytes on Linux.
        peak_rss_bytes: (usage.ru_maxrss as u64).saturating_mul(1024),
    }
}
