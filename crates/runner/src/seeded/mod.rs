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
//! Timers: with `virtual_time`, each process loads `lightcone-vtime`'s
//! library and has a clock of its own; its sleeps and timed waits are
//! deadlines (`next_deadline`) fired by moving its clock, then waited for
//! like a message. Without it, or for a program that does not load the
//! library (Go, static binaries), its timers run on the wall clock: what a
//! gossip timer sends, and when, differs between runs, and the quiet
//! moments with a thread asleep on a timer are counted (`timer-sleeps`).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lightcone_proto::Envelope;
use lightcone_rng::Rng;
use lightcone_sdk::{MemoryStorage, NodeRuntime, Storage};
use lightcone_sim::SharedFactory;
use lightcone_vtime::VirtualClock;

use crate::quiet::{is_timer_sleep, Look, ProcReader};

mod pipes;
mod stats;

use pipes::{read_available, Io, LOG_LINE_BYTES_MAX};
use stats::HELD_LINES_MAX;
pub use stats::{ClockTotals, SeededReport, SettleQuantiles, SettleStats};

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
/// Log lines a node keeps per incarnation before counting the rest.
const LOG_LINES_MAX: usize = 100_000;

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
        self.now = self.now.max(now);
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
            let timed_out = began.elapsed() >= bound;
            let started_busy = starting
                && began.elapsed() >= self.settle_timeout
                && self.reader.reading_stdin(pid);
            if timed_out || started_busy {
                self.stats.timeouts += 1;
                let why = if timed_out {
                    format!(
                        "lightcone: the node did not go quiet within {} ms; going on (counted in workbench.json)",
                        bound.as_millis()
                    )
                } else {
                    format!(
                        "lightcone: the node reads its stdin but did not go quiet within {} ms of its start; going on (counted in workbench.json)",
                        self.settle_timeout.as_millis()
                    )
                };
                self.log(why);
                break;
            }
            // Busy, or kicked again: give it a moment (output ends the
            // wait at once).
            if !asleep || overdue > 0 {
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
        // For the clock of the process that restarts in this slot.
        self.slot.put(LAST_NOW_KEY, &self.now.to_le_bytes());
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
