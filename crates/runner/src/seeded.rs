//! Foreign node processes under the seed (`lightcone test --sim --bin`).
//!
//! The node program runs for real, as in process mode, but the simulator
//! owns the order of events: each node process is a [`NodeRuntime`] to
//! `lightcone_sim::Simulation`, which gives it one message (or one due
//! time) at a time, in the order the seed picks, and after each waits
//! until the process is quiescent (`quiet.rs`: every thread asleep, none
//! run between two looks) before it chooses the next event. What the node
//! printed meanwhile is what it did in answer.
//!
//! Handling takes virtual time: a node's lines from one event are sent a
//! seed-drawn time after the event (exponential, mean `handling_mean_ns`),
//! in the order it printed them, so two requests can be in flight inside
//! one node at once, and the seed decides how they interleave. With a mean
//! of 0 a node answers in no time, like the SDK's nodes.
//!
//! What is not owned: a node's own timers run on the wall clock (stage 1
//! of issue 21), so what a gossip timer sends, and when, differs between
//! runs; threads asleep on a timer are counted (`timer-sleeps`).

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use lightcone_proto::Envelope;
use lightcone_rng::Rng;
use lightcone_sdk::{MemoryStorage, NodeRuntime, Storage};
use lightcone_sim::SharedFactory;
use lightcone_vtime::VirtualClock;
use serde::Serialize;

use crate::node::{pipe_inodes, start_process, Spawn};
use crate::quiet::{is_timer_sleep, Look, ProcReader};
use crate::reaper;

/// How foreign nodes run under the seed.
#[derive(Debug, Clone)]
pub struct SeededOptions {
    /// The node program (resolved) and its arguments.
    pub bin: PathBuf,
    pub args: Vec<String>,
    /// Mean virtual time a node takes to handle one event.
    pub handling_mean_ns: u64,
    /// Longest wall time to wait for a node to go quiet after an event;
    /// past it the run goes on and the timeout is counted.
    pub settle_timeout: Duration,
    /// The longest line read from a node's stdout; longer ones are skipped
    /// and logged.
    pub line_bytes_max: usize,
    /// Give each process lightcone's virtual clock (an LD_PRELOAD library,
    /// `lightcone-vtime`), so that its timers fire when the seed says.
    pub virtual_time: bool,
}

/// The key under which a node slot's storage folder is kept in its
/// [`MemoryStorage`], which outlives a crash: the restarted process is
/// given the same folder.
const STORAGE_DIR_KEY: &str = "lightcone/seeded-storage-dir";
/// The key under which a slot's last virtual time is kept, for the clock
/// of a restarted process to start from.
const LAST_NOW_KEY: &str = "lightcone/seeded-last-now";
/// The RNG stream of a node's handling times (its seed is the node's).
const HANDLING_STREAM: u64 = 0x68616e646c65;
/// Longest wait between looks at a busy process.
const POLL_WAIT_MAX: Duration = Duration::from_millis(1);
/// The least wall time a new process is given to start and go quiet.
const STARTUP_SETTLE_MIN: Duration = Duration::from_secs(30);
/// Reasons for failed starts kept for the report.
const START_FAILURES_KEPT: usize = 8;
/// Lines a process may have printed and not yet sent (their handling time
/// not passed); more are dropped and counted.
const HELD_LINES_MAX: usize = 1_000_000;
/// Log lines a node keeps per incarnation before counting the rest.
const LOG_LINES_MAX: usize = 100_000;

/// What waiting for quiescence cost, over every node of a run (or sweep).
#[derive(Debug)]
pub struct SettleStats {
    settles: u64,
    timeouts: u64,
    looks: u64,
    /// Wall time from an event to quiet, in µs.
    wall_us: Histogram<u64>,
    /// Settles at whose end some thread was asleep on a timer.
    timer_sleeps: u64,
    /// The call each thread was blocked in when its node went quiet.
    blocked_in: BTreeMap<&'static str, u64>,
    lines: u64,
    malformed_lines: u64,
    dropped_lines: u64,
    starts: u64,
    /// The first few reasons a start failed, and how many did.
    start_failures: Vec<String>,
    start_failure_count: u64,
    exits: u64,
    clock: ClockTotals,
}

/// The virtual clocks of a run's processes, added up.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ClockTotals {
    /// Processes that loaded the clock library, and that did not (a Go or
    /// static program: their timers run on the wall clock).
    pub attached_count: u64,
    pub not_attached_count: u64,
    pub clock_read_count: u64,
    pub sleep_count: u64,
    pub timed_wait_count: u64,
    /// Waits that found the library's table of waiting threads full and
    /// fell back to the wall clock: the run was not deterministic.
    pub table_full_count: u64,
}

impl ClockTotals {
    fn add(&mut self, other: &ClockTotals) {
        self.attached_count += other.attached_count;
        self.not_attached_count += other.not_attached_count;
        self.clock_read_count += other.clock_read_count;
        self.sleep_count += other.sleep_count;
        self.timed_wait_count += other.timed_wait_count;
        self.table_full_count += other.table_full_count;
    }
}

impl Default for SettleStats {
    fn default() -> Self {
        SettleStats {
            settles: 0,
            timeouts: 0,
            looks: 0,
            wall_us: Histogram::new_with_bounds(1, 60_000_000, 2).expect("valid bounds"),
            timer_sleeps: 0,
            blocked_in: BTreeMap::new(),
            lines: 0,
            malformed_lines: 0,
            dropped_lines: 0,
            starts: 0,
            start_failures: Vec::new(),
            start_failure_count: 0,
            exits: 0,
            clock: ClockTotals::default(),
        }
    }
}

impl SettleStats {
    fn merge(&mut self, other: &SettleStats) {
        self.settles += other.settles;
        self.timeouts += other.timeouts;
        self.looks += other.looks;
        let _ = self.wall_us.add(&other.wall_us);
        self.timer_sleeps += other.timer_sleeps;
        for (k, v) in &other.blocked_in {
            *self.blocked_in.entry(k).or_default() += v;
        }
        self.lines += other.lines;
        self.malformed_lines += other.malformed_lines;
        self.dropped_lines += other.dropped_lines;
        self.starts += other.starts;
        self.start_failure_count += other.start_failure_count;
        let room = START_FAILURES_KEPT.saturating_sub(self.start_failures.len());
        self.start_failures
            .extend(other.start_failures.iter().take(room).cloned());
        self.exits += other.exits;
        self.clock.add(&other.clock);
    }

    /// The report of these statistics (workbench.json, the sweep's
    /// closing lines).
    pub fn report(&self, settle_timeout: Duration) -> SeededReport {
        let q = |p: f64| self.wall_us.value_at_quantile(p) as f64 / 1000.0;
        SeededReport {
            settle_count: self.settles,
            settle_timeout_count: self.timeouts,
            settle_timeout_ms: settle_timeout.as_secs_f64() * 1000.0,
            looks_per_settle: self.looks as f64 / self.settles.max(1) as f64,
            settle_ms: SettleQuantiles {
                p50: q(0.5),
                p99: q(0.99),
                max: self.wall_us.max() as f64 / 1000.0,
            },
            timer_sleep_count: self.timer_sleeps,
            blocked_in: self
                .blocked_in
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            line_count: self.lines,
            malformed_line_count: self.malformed_lines,
            dropped_line_count: self.dropped_lines,
            start_count: self.starts,
            start_failures: self.start_failures.clone(),
            start_failure_count: self.start_failure_count,
            exit_count: self.exits,
            virtual_clock: self.clock.clone(),
        }
    }
}

/// Waiting for quiescence, as reported.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SeededReport {
    /// Events after which a node was waited for.
    pub settle_count: u64,
    /// Waits that reached the bound and went on without quiet.
    pub settle_timeout_count: u64,
    pub settle_timeout_ms: f64,
    pub looks_per_settle: f64,
    /// Wall time from an event to quiet.
    pub settle_ms: SettleQuantiles,
    /// Quiet moments with a thread asleep on the wall clock (its timer
    /// will fire outside the seed's control).
    pub timer_sleep_count: u64,
    /// Threads' blocking calls at quiet moments, counted.
    pub blocked_in: BTreeMap<String, u64>,
    pub line_count: u64,
    pub malformed_line_count: u64,
    /// Lines dropped past the bound of lines printed and not yet sent.
    pub dropped_line_count: u64,
    pub start_count: u64,
    /// Starts that failed, and the first few reasons.
    pub start_failure_count: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub start_failures: Vec<String>,
    /// Node processes that exited by themselves.
    pub exit_count: u64,
    /// The processes' virtual clocks (all zero when they run on the wall
    /// clock).
    pub virtual_clock: ClockTotals,
}

#[derive(Debug, Clone, Serialize)]
pub struct SettleQuantiles {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl SeededReport {
    /// One line for people.
    pub fn sentence(&self) -> String {
        let blocked: Vec<String> = self
            .blocked_in
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        format!(
            "node processes: {} events waited for (median {:.2} ms, p99 {:.2} ms, max {:.1} ms; {:.1} looks each), \
             {} reached the {:.0} ms bound; threads at quiet blocked in: {}; {} quiet moments had a thread asleep on a wall-clock timer; {}",
            self.settle_count,
            self.settle_ms.p50,
            self.settle_ms.p99,
            self.settle_ms.max,
            self.looks_per_settle,
            self.settle_timeout_count,
            self.settle_timeout_ms,
            if blocked.is_empty() { "-".to_string() } else { blocked.join(", ") },
            self.timer_sleep_count,
            self.clock_sentence(),
        ) + &self.trouble_sentence()
    }

    /// What went wrong with the processes themselves, if anything.
    fn trouble_sentence(&self) -> String {
        let mut s = String::new();
        if let Some(first) = self.start_failures.first() {
            s += &format!(
                "; {} starts failed, the first: {first}",
                self.start_failures.len()
            );
        }
        if self.exit_count > 0 {
            s += &format!(
                "; {} processes exited by themselves (see node-logs/)",
                self.exit_count
            );
        }
        if self.malformed_line_count > 0 {
            s += &format!(
                "; {} stdout lines were not messages (see node-logs/)",
                self.malformed_line_count
            );
        }
        if self.dropped_line_count > 0 {
            s += &format!(
                "; {} lines dropped past the bound of {HELD_LINES_MAX} held",
                self.dropped_line_count
            );
        }
        s
    }

    fn clock_sentence(&self) -> String {
        let c = &self.virtual_clock;
        if c.attached_count == 0 && c.not_attached_count == 0 {
            return "timers on the wall clock (no virtual clock)".to_string();
        }
        let mut s = format!(
            "virtual clock in {} of {} processes ({} clock reads, {} sleeps, {} timed waits)",
            c.attached_count,
            c.attached_count + c.not_attached_count,
            c.clock_read_count,
            c.sleep_count,
            c.timed_wait_count
        );
        if c.not_attached_count > 0 {
            s += "; the others did not load it (Go or a static program?): their timers ran on the wall clock";
        }
        if c.table_full_count > 0 {
            s += &format!(
                "; {} waits found the clock's table full and ran on the wall clock: NOT deterministic",
                c.table_full_count
            );
        }
        s
    }
}

/// A simulator factory for foreign nodes, and the statistics its
/// processes add to as they end.
pub struct SeededFactory {
    pub factory: Box<SharedFactory>,
    pub stats: Arc<Mutex<SettleStats>>,
    pub options: SeededOptions,
    /// Removed with the factory.
    _storage: StorageRoot,
}

impl SeededFactory {
    /// The statistics of the processes that have ended since the last
    /// report (a run's, when its simulation has ended), and a fresh start.
    pub fn take_report(&self) -> SeededReport {
        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *stats).report(self.options.settle_timeout)
    }
}

/// A folder holding the nodes' storage folders of every run made by one
/// factory, removed when the factory is.
struct StorageRoot(PathBuf);

impl Drop for StorageRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The factory that starts `options.bin` for every node of every run;
/// storage folders go under a new folder in `scratch` (removed with the
/// factory).
pub fn factory(options: SeededOptions, scratch: &Path) -> io::Result<SeededFactory> {
    static ROOTS: AtomicU64 = AtomicU64::new(0);
    let root = scratch.join(format!(
        "lightcone-seeded-{}-{}",
        std::process::id(),
        ROOTS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&root)?;
    let library = if options.virtual_time {
        Some(lightcone_vtime::preload_library(&root)?)
    } else {
        None
    };
    let stats = Arc::new(Mutex::new(SettleStats::default()));
    let runs = Arc::new(AtomicU64::new(0));
    let (opts, shared, folder) = (options.clone(), Arc::clone(&stats), root.clone());
    let build = move |index: usize, seed: u64, storage: MemoryStorage| -> Box<dyn NodeRuntime> {
        let mut storage = storage;
        // The slot's folder: made at its first start, kept across restarts.
        let dir = match storage.get(STORAGE_DIR_KEY) {
            Some(bytes) => PathBuf::from(String::from_utf8_lossy(&bytes).into_owned()),
            None => {
                let dir = folder.join(format!("{}-n{index}", runs.fetch_add(1, Ordering::Relaxed)));
                storage.put(STORAGE_DIR_KEY, dir.to_string_lossy().as_bytes());
                dir
            }
        };
        let last_now = storage
            .get(LAST_NOW_KEY)
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map_or(0, u64::from_le_bytes);
        let start = Start {
            index,
            seed,
            storage_dir: dir,
            clock_at: last_now,
            library: library.as_deref(),
        };
        Box::new(SeededProcess::start(
            &opts,
            start,
            storage,
            Arc::clone(&shared),
        ))
    };
    Ok(SeededFactory {
        factory: Box::new(build),
        stats,
        options,
        _storage: StorageRoot(root),
    })
}

/// What one start of a node process needs.
struct Start<'a> {
    index: usize,
    seed: u64,
    storage_dir: PathBuf,
    /// Virtual time for its clock to start at (a restarted process: the
    /// last time its predecessor was given).
    clock_at: u64,
    /// The clock library, when nodes get virtual time.
    library: Option<&'a Path>,
}

/// One node process under the simulator.
pub struct SeededProcess {
    io: Option<Io>,
    /// Its virtual clock, when it has one.
    clock: Option<VirtualClock>,
    /// The slot's storage, where the last virtual time is kept.
    slot: MemoryStorage,
    /// Spawned, not yet waited for (see `finish_start`).
    starting: bool,
    handling_mean_ns: u64,
    settle_timeout: Duration,
    line_bytes_max: usize,
    rng: Rng,
    now: u64,
    /// The handling time drawn for the event being handled (on its first
    /// line), so that all its lines leave together.
    current_handling: Option<u64>,
    /// Lines printed, waiting for their virtual send time (nondecreasing).
    held: VecDeque<(u64, Envelope)>,
    logs: Vec<String>,
    logs_dropped: u64,
    reader: ProcReader,
    stats: SettleStats,
    shared: Arc<Mutex<SettleStats>>,
}

/// The running process and its pipes.
struct Io {
    child: Child,
    pid: i32,
    stdin: ChildStdin,
    stdout: ChildStdout,
    stderr: ChildStderr,
    out: LineBuffer,
    err: LineBuffer,
    stdout_open: bool,
    stderr_open: bool,
    pipe_inodes: Vec<u64>,
    token: String,
}

/// Bytes of one stderr line kept in the node's log.
const LOG_LINE_BYTES_MAX: usize = 64 * 1024;

impl SeededProcess {
    fn start(
        options: &SeededOptions,
        start: Start,
        slot: MemoryStorage,
        shared: Arc<Mutex<SettleStats>>,
    ) -> SeededProcess {
        let Start {
            index,
            seed,
            storage_dir,
            clock_at,
            library,
        } = start;
        let mut p = SeededProcess {
            io: None,
            clock: None,
            slot,
            starting: false,
            handling_mean_ns: options.handling_mean_ns,
            settle_timeout: options.settle_timeout,
            line_bytes_max: options.line_bytes_max,
            rng: Rng::new(seed, HANDLING_STREAM),
            now: clock_at,
            current_handling: None,
            held: VecDeque::new(),
            logs: Vec::new(),
            logs_dropped: 0,
            reader: ProcReader::default(),
            stats: SettleStats::default(),
            shared,
        };
        p.stats.starts += 1;
        let mut env = Vec::new();
        if let Some(library) = library {
            static CLOCKS: AtomicU64 = AtomicU64::new(0);
            let path = storage_dir
                .with_extension(format!("{}.vtime", CLOCKS.fetch_add(1, Ordering::Relaxed)));
            match VirtualClock::create(&path) {
                Ok(clock) => {
                    clock.advance_to(clock_at);
                    env = clock.env(library);
                    p.clock = Some(clock);
                }
                Err(e) => {
                    let why = format!(
                        "node {index}: its virtual clock {} could not be made: {e}",
                        path.display()
                    );
                    p.log(why.clone());
                    p.stats.start_failure_count += 1;
                    p.stats.start_failures.push(why);
                    return p;
                }
            }
        }
        match Io::spawn(options, index, seed, storage_dir, &env) {
            Ok(io) => {
                p.io = Some(io);
                // Waited for at its first event, so that the processes of
                // a run start side by side.
                p.starting = true;
            }
            Err(why) => {
                let why = format!(
                    "node {index} ({}) did not start: {why}",
                    options.bin.display()
                );
                p.log(why.clone());
                p.stats.start_failures.push(why);
            }
        }
        p
    }

    fn log(&mut self, line: String) {
        if self.logs.len() < LOG_LINES_MAX {
            self.logs.push(line);
        } else {
            self.logs_dropped += 1;
        }
    }

    /// Moves the node's time (and its clock: virtual time never goes back,
    /// so a clock fault that sets it back holds it still).
    fn set_now(&mut self, now: u64) {
        if now > self.now {
            self.now = now;
            self.slot.put(LAST_NOW_KEY, &now.to_le_bytes());
        }
        if let Some(clock) = &self.clock {
            if now > clock.now() {
                clock.advance_to(now);
            }
        }
    }

    /// Gives the node one line and waits until it is quiet again.
    fn deliver(&mut self, line: &str) {
        self.current_handling = None;
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        let mut at = 0;
        while at < bytes.len() {
            let Some(io) = self.io.as_mut() else { return };
            match io.stdin.write(&bytes[at..]) {
                Ok(n) => at += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // A full pipe: read its output meanwhile, so that a
                    // node blocked writing its stdout cannot block us.
                    io.wait(true, POLL_WAIT_MAX);
                    self.drain();
                }
                // The node closed its stdin or died: the message is lost,
                // as a crashed node's are.
                Err(_) => break,
            }
        }
        self.settle(self.settle_timeout, false);
    }

    /// Before a new process's first event: waits until it has started,
    /// loaded and waits for its first line (an interpreter's start can take
    /// seconds on a busy machine, and must not be taken for handling time),
    /// and notes whether it loaded the clock library.
    fn finish_start(&mut self) {
        if !std::mem::take(&mut self.starting) {
            return;
        }
        self.settle_start();
        if let Some(clock) = &self.clock {
            if clock.attached() {
                self.stats.clock.attached_count += 1;
            } else {
                self.stats.clock.not_attached_count += 1;
                self.log(
                    "lightcone: the node did not load lightcone's clock library (a Go or static program?): its timers run on the wall clock"
                        .to_string(),
                );
            }
        }
    }

    /// Waits for a new process to start: until it is quiet, or, once past
    /// the settle timeout, until a thread of it reads its stdin (so that a
    /// node that never sleeps still starts); at most the larger of the
    /// settle timeout and [`STARTUP_SETTLE_MIN`].
    fn settle_start(&mut self) {
        self.settle(self.settle_timeout.max(STARTUP_SETTLE_MIN), true);
    }

    /// Waits until the node is quiet: every thread asleep and none run
    /// between two looks, nothing more printed. Bounded by the settle
    /// timeout, counted when it is reached.
    fn settle(&mut self, bound: Duration, starting: bool) {
        let Some(pid) = self.io.as_ref().map(|io| io.pid) else {
            return;
        };
        let began = Instant::now();
        let mut earlier: Option<Look> = None;
        let mut wait = Duration::from_micros(20);
        self.stats.settles += 1;
        loop {
            let printed = self.drain();
            let look = self.reader.look(pid);
            self.stats.looks += 1;
            if look.threads.is_empty() && self.exited() {
                self.note_exit();
                break;
            }
            // Everything given to it taken from its stdin: a node asleep
            // with a line still in the pipe has not started on it (it was
            // still starting, or sleeps elsewhere and reads later).
            let unread = self.io.as_ref().map_or(0, Io::unread_stdin);
            // A thread that virtual time released may not have run yet:
            // /proc still shows it asleep.
            let overdue = self.clock.as_ref().map_or(0, VirtualClock::overdue);
            if printed == 0
                && unread == 0
                && overdue == 0
                && earlier.as_ref().is_some_and(|e| look.quiet_since(e))
            {
                let calls = self.reader.blocked_in(pid);
                if calls.iter().any(|c| is_timer_sleep(c)) {
                    self.stats.timer_sleeps += 1;
                }
                for c in calls {
                    *self.stats.blocked_in.entry(c).or_default() += 1;
                }
                break;
            }
            let asleep = look.all_asleep();
            earlier = Some(look);
            // Every thread asleep yet a wait overdue: its wake was lost
            // (it began waiting as the clock moved); wake it again.
            if asleep && overdue > 0 {
                if let Some(clock) = &self.clock {
                    clock.advance_to(clock.now());
                }
            }
            let past_timeout = began.elapsed() >= self.settle_timeout;
            if began.elapsed() >= bound
                || (starting && past_timeout && self.reader.reading_stdin(pid))
            {
                self.stats.timeouts += 1;
                let why = format!(
                    "lightcone: the node did not go quiet within {} ms; going on (counted in workbench.json)",
                    bound.as_millis()
                );
                self.log(why);
                break;
            }
            if !asleep {
                if let Some(io) = self.io.as_ref() {
                    io.wait(false, wait);
                }
                wait = (wait * 2).min(POLL_WAIT_MAX);
            }
        }
        let took = began.elapsed().as_micros() as u64;
        let _ = self.stats.wall_us.record(took.max(1));
    }

    /// Whether the process has exited (it is reaped here if so).
    fn exited(&mut self) -> bool {
        self.io
            .as_mut()
            .is_none_or(|io| !matches!(io.child.try_wait(), Ok(None)))
    }

    /// Notes once that the process exited by itself.
    fn note_exit(&mut self) {
        let Some(mut io) = self.io.take() else { return };
        self.drain_from(&mut io);
        let status = io.child.try_wait().ok().flatten();
        self.stats.exits += 1;
        self.log(format!(
            "lightcone: the node process exited by itself ({})",
            status.map_or("status unknown".to_string(), |s| s.to_string())
        ));
        io.kill();
    }

    /// Reads what the node has printed, without waiting; returns the bytes
    /// read.
    fn drain(&mut self) -> usize {
        let Some(mut io) = self.io.take() else {
            return 0;
        };
        let n = self.drain_from(&mut io);
        self.io = Some(io);
        n
    }

    fn drain_from(&mut self, io: &mut Io) -> usize {
        let mut lines = Vec::new();
        let mut errs = Vec::new();
        let mut total = 0;
        if io.stdout_open {
            let (n, open) =
                read_available(&mut io.stdout, &mut io.out, self.line_bytes_max, &mut lines);
            total += n;
            io.stdout_open = open;
        }
        if io.stderr_open {
            let (n, open) =
                read_available(&mut io.stderr, &mut io.err, LOG_LINE_BYTES_MAX, &mut errs);
            total += n;
            io.stderr_open = open;
        }
        for e in errs {
            self.log(e.text);
        }
        for line in lines {
            if line.too_long {
                self.stats.malformed_lines += 1;
                let head: String = line.text.chars().take(200).collect();
                self.log(format!(
                    "lightcone: a stdout line of more than {} bytes was skipped: {head}...",
                    self.line_bytes_max
                ));
                continue;
            }
            if line.text.trim().is_empty() {
                continue;
            }
            self.stats.lines += 1;
            match Envelope::parse_line(&line.text) {
                Ok(msg) => self.hold(msg),
                Err(e) => {
                    self.stats.malformed_lines += 1;
                    self.log(format!(
                        "lightcone: a stdout line is not a message ({e}): {}",
                        line.text
                    ));
                }
            }
        }
        total
    }

    /// Holds a printed message until its send time: the event's handling
    /// time after now, and never before the node's earlier lines.
    fn hold(&mut self, msg: Envelope) {
        if self.held.len() >= HELD_LINES_MAX {
            self.stats.dropped_lines += 1;
            if self.stats.dropped_lines == 1 {
                self.log(format!(
                    "lightcone: more than {HELD_LINES_MAX} lines printed and not yet sent; the rest are dropped and counted"
                ));
            }
            return;
        }
        let floor = self.held.back().map_or(0, |(t, _)| *t);
        let at = (self.now + self.handling_ns()).max(floor);
        self.held.push_back((at, msg));
    }

    /// This event's handling time: drawn once per event, on its first line.
    fn handling_ns(&mut self) -> u64 {
        if let Some(h) = self.current_handling {
            return h;
        }
        let h = if self.handling_mean_ns == 0 {
            0
        } else {
            let u = self.rng.unit();
            (-(1.0 - u).ln() * self.handling_mean_ns as f64) as u64
        };
        self.current_handling = Some(h);
        h
    }
}

impl NodeRuntime for SeededProcess {
    fn node_id(&self) -> &str {
        ""
    }

    fn receive(&mut self, now: u64, msg: Envelope) {
        // Timers due at this instant fire first, and the node is quiet
        // again before the message: never both at once.
        self.tick(now);
        self.deliver(&msg.to_line());
    }

    fn tick(&mut self, now: u64) {
        self.finish_start();
        // Whether a timer is due is decided before the clock moves: once
        // it has, the woken thread may already have run and waited again.
        let due = self
            .clock
            .as_ref()
            .and_then(VirtualClock::next_deadline)
            .is_some_and(|d| d <= now);
        self.set_now(now);
        if due {
            self.current_handling = None;
            self.settle(self.settle_timeout, false);
        }
    }

    fn next_deadline(&self) -> Option<u64> {
        let held = self.held.front().map(|(t, _)| *t);
        let timer = self.clock.as_ref().and_then(VirtualClock::next_deadline);
        held.into_iter().chain(timer).min()
    }

    fn take_outbox(&mut self) -> Vec<Envelope> {
        // Lines printed outside an event (a wall-clock timer fired) are
        // handled as an event of their own, now.
        self.current_handling = None;
        self.drain();
        let mut out = Vec::new();
        while self.held.front().is_some_and(|(t, _)| *t <= self.now) {
            if let Some((_, msg)) = self.held.pop_front() {
                out.push(msg);
            }
        }
        out
    }

    fn take_logs(&mut self) -> Vec<String> {
        if self.logs_dropped > 0 {
            let dropped = std::mem::take(&mut self.logs_dropped);
            self.logs
                .push(format!("({dropped} more log lines were not kept)"));
        }
        std::mem::take(&mut self.logs)
    }
}

impl Drop for SeededProcess {
    fn drop(&mut self) {
        if let Some(mut io) = self.io.take() {
            io.kill();
        }
        if let Some(clock) = self.clock.take() {
            let c = clock.stats();
            self.stats.clock.clock_read_count += c.clock_read_count;
            self.stats.clock.sleep_count += c.sleep_count;
            self.stats.clock.timed_wait_count += c.timed_wait_count;
            self.stats.clock.table_full_count += c.table_full_count;
            let _ = std::fs::remove_file(clock.path());
        }
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        shared.merge(&self.stats);
    }
}

impl Io {
    fn spawn(
        options: &SeededOptions,
        index: usize,
        seed: u64,
        storage_dir: PathBuf,
        clock_env: &[(String, String)],
    ) -> Result<Io, String> {
        std::fs::create_dir_all(&storage_dir).map_err(|e| {
            format!(
                "its storage folder {} could not be made: {e}",
                storage_dir.display()
            )
        })?;
        let spec = Spawn {
            index,
            id: format!("n{index}"),
            bin: options.bin.clone(),
            args: options.args.clone(),
            run_seed: 0,
            log_path: PathBuf::new(),
            storage_dir,
            log_stderr: false,
            queue_capacity: 0,
            queue_capacity_bytes: 0,
            line_bytes_max: options.line_bytes_max,
            log_bytes_max: 0,
        };
        static STARTS: AtomicU64 = AtomicU64::new(0);
        let token = format!(
            "{}-seeded-{}",
            std::process::id(),
            STARTS.fetch_add(1, Ordering::Relaxed)
        );
        // Python's string hashing is salted per process unless fixed: the
        // order of a set of strings would differ from run to run.
        let mut extra: Vec<(&str, OsString)> = Vec::new();
        if std::env::var_os("PYTHONHASHSEED").is_none() {
            extra.push(("PYTHONHASHSEED", "0".into()));
        }
        for (key, value) in clock_env {
            extra.push((key.as_str(), value.into()));
        }
        let mut child = start_process(&spec, seed, &token, &extra).map_err(|e| format!("{e:?}"))?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let pipe_inodes = pipe_inodes(&stdin, &stdout, &stderr);
        for fd in [stdin.as_raw_fd(), stdout.as_raw_fd(), stderr.as_raw_fd()] {
            set_nonblocking(fd)
                .map_err(|e| format!("its pipes could not be set non-blocking: {e}"))?;
        }
        Ok(Io {
            pid: child.id() as i32,
            child,
            stdin,
            stdout,
            stderr,
            out: LineBuffer::default(),
            err: LineBuffer::default(),
            stdout_open: true,
            stderr_open: true,
            pipe_inodes,
            token,
        })
    }

    /// Waits up to `timeout` for output (and, with `writable`, for room in
    /// stdin).
    fn wait(&self, writable: bool, timeout: Duration) {
        let mut fds = vec![
            libc::pollfd {
                fd: self.stdout.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.stderr.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        if writable {
            fds.push(libc::pollfd {
                fd: self.stdin.as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            });
        }
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: `fds` is a valid array of `fds.len()` pollfds for the
        // duration of the call; `ts` is a valid timespec; no signal mask.
        unsafe {
            libc::ppoll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                &ts,
                std::ptr::null(),
            );
        }
    }

    /// Bytes written to the node's stdin that it has not read yet.
    fn unread_stdin(&self) -> usize {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD on a pipe (either end) stores the bytes in it
        // into the int we pass.
        let ok = unsafe { libc::ioctl(self.stdin.as_raw_fd(), libc::FIONREAD, &mut n) } == 0;
        if ok {
            n.max(0) as usize
        } else {
            0
        }
    }

    /// Kills the node's process group and whatever else of it is left, and
    /// reaps it.
    fn kill(&mut self) {
        // SAFETY: kill(2) on the node's own process group.
        unsafe {
            libc::kill(-self.pid, libc::SIGKILL);
        }
        reaper::kill_node_processes(self.pid, &self.pipe_inodes, &self.token);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn set_nonblocking(fd: i32) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A line read from a pipe.
struct Line {
    text: String,
    /// Longer than the bound: `text` is its head.
    too_long: bool,
}

/// The unfinished line of a pipe.
#[derive(Default)]
struct LineBuffer {
    partial: Vec<u8>,
    /// Bytes of the current line beyond those kept (it is too long).
    skipped: u64,
}

/// Reads everything available from `pipe` without waiting, splitting it
/// into lines (a line over `max` bytes keeps its first `max` and is marked).
/// Returns the bytes read and whether the pipe is still open.
fn read_available(
    pipe: &mut impl Read,
    buf: &mut LineBuffer,
    max: usize,
    lines: &mut Vec<Line>,
) -> (usize, bool) {
    let mut chunk = [0u8; 16 * 1024];
    let mut total = 0;
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) => {
                if !buf.partial.is_empty() || buf.skipped > 0 {
                    lines.push(finish_line(buf));
                }
                return (total, false);
            }
            Ok(n) => {
                total += n;
                let mut rest = &chunk[..n];
                while let Some(at) = rest.iter().position(|&b| b == b'\n') {
                    take_bytes(buf, &rest[..at], max);
                    lines.push(finish_line(buf));
                    rest = &rest[at + 1..];
                }
                take_bytes(buf, rest, max);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (total, true),
            Err(_) => return (total, false),
        }
    }
}

fn take_bytes(buf: &mut LineBuffer, bytes: &[u8], max: usize) {
    let room = max.saturating_sub(buf.partial.len());
    let kept = bytes.len().min(room);
    buf.partial.extend_from_slice(&bytes[..kept]);
    buf.skipped += (bytes.len() - kept) as u64;
}

fn finish_line(buf: &mut LineBuffer) -> Line {
    let text = String::from_utf8_lossy(&buf.partial)
        .trim_end_matches('\r')
        .to_string();
    let too_long = buf.skipped > 0;
    buf.partial.clear();
    buf.skipped = 0;
    Line { text, too_long }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_bounded() {
        let mut buf = LineBuffer::default();
        let mut lines = Vec::new();
        let mut input: &[u8] = b"{\"a\":1}\nxxxxxxxxxxxxxxxxxxxx\nlast";
        let (n, open) = read_available(&mut input, &mut buf, 10, &mut lines);
        assert_eq!(n, 33);
        assert!(!open, "a slice ends");
        let got: Vec<(&str, bool)> = lines
            .iter()
            .map(|l| (l.text.as_str(), l.too_long))
            .collect();
        assert_eq!(
            got,
            vec![("{\"a\":1}", false), ("xxxxxxxxxx", true), ("last", false)]
        );
    }
}
