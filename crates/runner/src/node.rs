//! One node process: spawned in its own process group, with a thread per
//! pipe. The stdin side is a bounded, measured queue, which the main loop
//! skips (writing into the pipe itself) while the queue is empty, the
//! writer idle and the pipe has room.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use lightcone_proto::{Envelope, LineError};

use crate::latency::WriterLatencies;
use crate::mailbox::{Mailbox, Taken};
use crate::reaper;

/// How many of a node's last stderr lines are kept for error messages.
const STDERR_TAIL_LEN: usize = 20;
/// Bytes of one stderr line written to the node's log; the rest of a
/// longer line is cut, with a marker.
const STDERR_LINE_BYTES_MAX: usize = 64 * 1024;
/// Bytes of an over-long stdout line kept to show in its report.
const LONG_LINE_HEAD_BYTES: usize = 256;
/// Most lines a writer writes before it flushes, even while more are
/// queued: each line's write is timed at the flush that sends it.
const UNFLUSHED_LINES_MAX: usize = 256;
/// The stdout reader's buffer: a pipe's default capacity, so that a long
/// line (a broadcast `read_ok` holds every value so far) is read in few
/// `read` calls.
const STDOUT_BUFFER_BYTES: usize = 64 * 1024;
/// How long killing a node waits for each of its pipe threads to end; a
/// thread still blocked then is left behind (and reported), never waited
/// for without end.
pub(crate) const THREAD_JOIN_WAIT: Duration = Duration::from_secs(2);

/// What the reader threads tell the main loop.
pub enum Inbound {
    Line {
        node: usize,
        incarnation: u32,
        line_number: u64,
        /// When the line was taken off the node's stdout.
        read_at: Instant,
        message: Result<Envelope, (LineError, String)>,
        /// The line was not valid UTF-8 and was read with replacement
        /// characters (as a JVM reader does).
        lossy: bool,
    },
    /// A line longer than the limit: skipped to its end, not parsed.
    TooLong {
        node: usize,
        incarnation: u32,
        line_number: u64,
        bytes: u64,
        /// Its first bytes, for the report.
        head: String,
    },
    /// The node closed its stdout (it exited, or is about to).
    Eof { node: usize, incarnation: u32 },
}

/// A line waiting for a node's stdin.
pub struct Outbound {
    /// The line and its newline, or what is left of them after the main
    /// loop wrote their start.
    pub bytes: Vec<u8>,
    /// The whole line's bytes as counted by the queue's byte bound.
    pub counted_bytes: u64,
    pub queued_at: Instant,
    /// When the core meant it to reach the node.
    pub due: Instant,
}

/// The bounded queue of lines waiting to be written to a node's stdin.
///
/// The mailbox itself is unbounded so that memory follows the real depth,
/// not the bound; the bound is enforced here by counting what the writer
/// has taken out.
pub struct InboundQueue {
    mailbox: Option<Arc<Mailbox<Outbound>>>,
    /// The node's stdin (non-blocking), written by `push` while the writer
    /// is idle; owned by the writer thread, which closes the mailbox
    /// before it closes the pipe.
    stdin_fd: RawFd,
    /// What `push` wrote itself, measured as the writer measures.
    direct: QueueDrain,
    dequeued: Arc<AtomicU64>,
    /// Bytes of the lines the writer has taken out.
    dequeued_bytes: Arc<AtomicU64>,
    pub capacity: usize,
    /// Bound on the bytes of the queued lines.
    pub capacity_bytes: u64,
    pub enqueued_count: u64,
    pub enqueued_bytes: u64,
    pub dropped_count: u64,
    pub depth_max: usize,
    pub depth_bytes_max: u64,
    writer: Option<JoinHandle<QueueDrain>>,
}

/// What the writer thread measured.
pub struct QueueDrain {
    pub dequeued_count: u64,
    /// Time from enqueue to the write into the pipe, in microseconds.
    pub wait_us: Histogram<u64>,
    /// The same in the workbench-wide measure, and the time since each
    /// line was due.
    pub latencies: WriterLatencies,
}

impl QueueDrain {
    fn new() -> QueueDrain {
        QueueDrain {
            dequeued_count: 0,
            wait_us: Histogram::new(3).expect("3 significant figures is valid"),
            latencies: WriterLatencies::default(),
        }
    }

    fn add(&mut self, other: &QueueDrain) {
        self.dequeued_count += other.dequeued_count;
        // Same bounds on both sides: adding cannot fail.
        let _ = self.wait_us.add(&other.wait_us);
        self.latencies.add(&other.latencies);
    }
}

impl InboundQueue {
    /// Queues a line that was `due` then; drops it (counted) when the
    /// queue is full, by count or by bytes, or the node is gone. Says
    /// whether it was queued.
    ///
    /// While nothing is queued and the writer is idle, the line is
    /// written into the pipe here, without blocking: a wake-up of the
    /// writer thread saved per message. What the pipe has no room for goes
    /// to the writer, after which nothing passes it.
    pub fn push(&mut self, line: String, due: Instant) -> bool {
        let Some(mailbox) = &self.mailbox else {
            self.dropped_count += 1;
            return false;
        };
        let depth = self.enqueued_count - self.dequeued.load(Ordering::Relaxed);
        let depth_bytes = self.enqueued_bytes - self.dequeued_bytes.load(Ordering::Relaxed);
        let bytes = line.len() as u64 + 1;
        if depth as usize >= self.capacity || depth_bytes + bytes > self.capacity_bytes {
            self.dropped_count += 1;
            return false;
        }
        let mut line = line.into_bytes();
        line.push(b'\n');
        let outbound = Outbound {
            bytes: line,
            counted_bytes: bytes,
            queued_at: Instant::now(),
            due,
        };
        let fd = self.stdin_fd;
        let mut written_at = None;
        let sent = mailbox.send_unless_idle(outbound, |mut o| {
            let n = write_nonblocking(fd, &o.bytes);
            if n == o.bytes.len() {
                written_at = Some((o.queued_at, o.due));
                None
            } else {
                o.bytes.drain(..n);
                Some(o)
            }
        });
        if sent.is_err() {
            self.dropped_count += 1;
            return false;
        }
        if let Some((queued_at, due)) = written_at {
            let written = Instant::now();
            self.dequeued.fetch_add(1, Ordering::Relaxed);
            self.dequeued_bytes.fetch_add(bytes, Ordering::Relaxed);
            let d = &mut self.direct;
            d.dequeued_count += 1;
            d.wait_us
                .saturating_record(written.saturating_duration_since(queued_at).as_micros() as u64);
            d.latencies
                .writer_queue
                .record(written.saturating_duration_since(queued_at));
            d.latencies
                .since_due
                .record(written.saturating_duration_since(due));
        }
        self.enqueued_count += 1;
        self.enqueued_bytes += bytes;
        self.depth_max = self.depth_max.max(depth as usize + 1);
        self.depth_bytes_max = self.depth_bytes_max.max(depth_bytes + bytes);
        true
    }

    /// Lines queued and not yet written to the node's stdin.
    pub fn depth(&self) -> u64 {
        self.enqueued_count
            .saturating_sub(self.dequeued.load(Ordering::Relaxed))
    }

    /// Closes the queue and waits (within a deadline) for the writer to
    /// finish; its measurements include the lines `push` wrote itself.
    pub fn close(&mut self) -> Option<QueueDrain> {
        if let Some(mailbox) = self.mailbox.take() {
            mailbox.close();
        }
        let mut drain = self.writer.take().and_then(join_within)?;
        drain.add(&std::mem::replace(&mut self.direct, QueueDrain::new()));
        Some(drain)
    }
}

pub struct NodeProcess {
    pub id: String,
    /// How many times this node was started before this process.
    pub incarnation: u32,
    pub child: Child,
    pub queue: InboundQueue,
    pub stderr_tail: Arc<Mutex<VecDeque<String>>>,
    /// Bytes of stderr not written to the node's log (past its cap).
    pub log_bytes_cut: Arc<AtomicU64>,
    readers: Vec<JoinHandle<()>>,
    pub exit_status: Option<ExitStatus>,
    /// The inodes of its three pipes, to find every process holding one.
    pipe_inodes: Vec<u64>,
    /// Its `LIGHTCONE_NODE_TOKEN`, inherited by whatever it starts.
    token: String,
    /// Pipe threads left blocked after a kill (a process outside our
    /// reach still held a pipe).
    pub stuck_thread_count: u64,
    killed: bool,
}

/// How to start a node (kept, to restart it after a kill).
#[derive(Debug, Clone)]
pub struct Spawn {
    pub index: usize,
    pub id: String,
    pub bin: PathBuf,
    pub args: Vec<String>,
    /// The run's seed: the node's own comes from it, its index and its
    /// incarnation, as in the simulator (`lightcone_rng::node_seed`).
    pub run_seed: u64,
    pub log_path: PathBuf,
    /// The node's durable storage folder (LIGHTCONE_NODE_STORAGE).
    pub storage_dir: PathBuf,
    pub log_stderr: bool,
    pub queue_capacity: usize,
    pub queue_capacity_bytes: u64,
    /// The longest stdout line read; a longer one is reported and skipped.
    pub line_bytes_max: usize,
    /// Bytes of stderr written to the node's log, at most (per process).
    pub log_bytes_max: u64,
}

/// Why a node did not start.
#[derive(Debug)]
pub enum StartError {
    /// The system did not start the program (`Command::spawn`).
    Exec(io::Error),
    /// Its log file or a pipe thread could not be set up.
    Io(io::Error),
}

impl NodeProcess {
    pub fn spawn(
        spec: &Spawn,
        incarnation: u32,
        inbound: Arc<Mailbox<Inbound>>,
    ) -> Result<NodeProcess, StartError> {
        // Opened before the process starts, so that a failure here leaves
        // no process behind. Appended: a restarted node's log continues its
        // predecessor's.
        let log = BufWriter::new(
            File::options()
                .create(true)
                .append(true)
                .open(&spec.log_path)
                .map_err(StartError::Io)?,
        );
        let token = format!("{}-{}-{incarnation}", std::process::id(), spec.id);
        let seed = lightcone_rng::node_seed(spec.run_seed, spec.index, u64::from(incarnation));
        let mut child = start_process(spec, seed, &token, &[])?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let pipe_inodes = [
            reaper::pipe_inode(&stdin),
            reaper::pipe_inode(&stdout),
            reaper::pipe_inode(&stderr),
        ]
        .into_iter()
        .flatten()
        .collect();
        // From here on, a failure drops the process half made: `Drop` kills
        // it, so build the value first and start the threads into it.
        let stdin_fd = stdin.as_raw_fd();
        let mut p = NodeProcess {
            id: spec.id.to_string(),
            incarnation,
            child,
            queue: InboundQueue {
                mailbox: None,
                stdin_fd,
                direct: QueueDrain::new(),
                dequeued: Arc::new(AtomicU64::new(0)),
                dequeued_bytes: Arc::new(AtomicU64::new(0)),
                capacity: spec.queue_capacity,
                capacity_bytes: spec.queue_capacity_bytes,
                enqueued_count: 0,
                enqueued_bytes: 0,
                dropped_count: 0,
                depth_max: 0,
                depth_bytes_max: 0,
                writer: None,
            },
            stderr_tail: Arc::new(Mutex::new(VecDeque::new())),
            log_bytes_cut: Arc::new(AtomicU64::new(0)),
            readers: Vec::new(),
            exit_status: None,
            pipe_inodes,
            token,
            stuck_thread_count: 0,
            killed: false,
        };

        // Both `push` and the writer write without blocking; the writer
        // waits for room with poll(2).
        set_nonblocking(stdin_fd).map_err(StartError::Io)?;
        let mailbox = Arc::new(Mailbox::new(usize::MAX));
        let rx = Arc::clone(&mailbox);
        let dequeued = Arc::clone(&p.queue.dequeued);
        let dequeued_bytes = Arc::clone(&p.queue.dequeued_bytes);
        p.queue.writer = Some(pipe_thread(&spec.id, "stdin", move || {
            write_stdin(stdin, &rx, &dequeued, &dequeued_bytes)
        })?);
        p.queue.mailbox = Some(mailbox);

        let node = spec.index;
        let line_bytes_max = spec.line_bytes_max;
        p.readers.push(pipe_thread(&spec.id, "stdout", move || {
            read_stdout(stdout, node, incarnation, line_bytes_max, &inbound)
        })?);

        let tail = Arc::clone(&p.stderr_tail);
        let cut = Arc::clone(&p.log_bytes_cut);
        let echo_as = spec.log_stderr.then(|| spec.id.clone());
        let log_bytes_max = spec.log_bytes_max;
        p.readers.push(pipe_thread(&spec.id, "stderr", move || {
            let sink = LogSink {
                log,
                written: 0,
                max: log_bytes_max,
                marked: false,
                cut: &cut,
            };
            read_stderr(stderr, sink, &tail, echo_as.as_deref())
        })?);
        Ok(p)
    }

    /// The process id of the node's own process.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits up to `timeout` for the process to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit_status = Some(status);
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The last lines the node wrote to stderr (after its stderr closed,
    /// or within a short wait).
    pub fn stderr_tail(&mut self) -> Vec<String> {
        if let Some(h) = self.readers.pop() {
            // The stderr reader ends when the process's stderr closes.
            let deadline = Instant::now() + Duration::from_millis(500);
            while !h.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if h.is_finished() {
                let _ = h.join();
            } else {
                self.readers.push(h);
            }
        }
        self.stderr_tail
            .lock()
            .expect("stderr tail lock")
            .iter()
            .cloned()
            .collect()
    }

    fn signal_group(&self, signal: libc::c_int) {
        let pgid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) with a negative pid signals the process group we
        // created for this child; it touches no memory of ours.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }

    /// SIGSTOP to the node's process group.
    pub fn pause(&self) {
        self.signal_group(libc::SIGSTOP);
    }

    /// SIGCONT to the node's process group.
    pub fn resume(&self) {
        self.signal_group(libc::SIGCONT);
    }

    /// Kills the node: its process group, and every other process of its
    /// (descendants, holders of its pipes, orphans with its token; see
    /// [`reaper`]), reaps them, and ends its pipe threads, each wait with a
    /// deadline. No zombies, and nothing of the node's left running.
    pub fn kill(&mut self) -> Option<QueueDrain> {
        self.killed = true;
        // Found while the node's own process still holds its descendants.
        reaper::kill_node_processes(self.pid(), &self.pipe_inodes, &self.token);
        self.signal_group(libc::SIGCONT);
        self.signal_group(libc::SIGKILL);
        if let Ok(status) = self.child.wait() {
            self.exit_status.get_or_insert(status);
        }
        // A fork between the scan and the kill: once more, now that the
        // node's own process is gone.
        reaper::kill_node_processes(self.pid(), &self.pipe_inodes, &self.token);
        let drain = self.queue.close();
        if drain.is_none() {
            self.stuck_thread_count += 1;
        }
        for h in self.readers.drain(..) {
            if join_within(h).is_none() {
                self.stuck_thread_count += 1;
            }
        }
        drain
    }
}

/// A node the workbench lets go of without killing it (an early return on
/// an error, a panic) is killed all the same.
impl Drop for NodeProcess {
    fn drop(&mut self) {
        if !self.killed {
            self.kill();
        }
    }
}

/// Joins a thread, waiting at most [`THREAD_JOIN_WAIT`]; `None` when it
/// did not end in time (it is left behind) or panicked.
fn join_within<T>(handle: JoinHandle<T>) -> Option<T> {
    let deadline = Instant::now() + THREAD_JOIN_WAIT;
    while !handle.is_finished() {
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    handle.join().ok()
}

/// Starts the node's program with its three pipes, its seed (`node_seed`),
/// its storage folder, its token and `extra_env`, in a process group of its
/// own, with a parent-death signal.
pub(crate) fn start_process(
    spec: &Spawn,
    node_seed: u64,
    token: &str,
    extra_env: &[(&str, std::ffi::OsString)],
) -> Result<Child, StartError> {
    let parent = std::process::id() as libc::pid_t;
    let mut env: Vec<(&str, std::ffi::OsString)> = vec![
        ("LIGHTCONE_NODE_SEED", node_seed.to_string().into()),
        ("LIGHTCONE_NODE_STORAGE", spec.storage_dir.clone().into()),
        (reaper::TOKEN_VAR, token.into()),
    ];
    env.extend(extra_env.iter().cloned());
    let mut command = Command::new(&spec.bin);
    command
        .args(&spec.args)
        .envs(env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: killed as a group, and a Ctrl-C at the
        // terminal reaches the workbench only.
        .process_group(0);
    // The program, found as `resolve_program` finds it, and its argv,
    // made here: the child between fork and exec may not allocate.
    let exec = crate::program::resolve_program(&spec.bin)
        .ok()
        .and_then(|path| Exec::new(&path, &spec.bin, &spec.args, &env));
    // SAFETY: the closure runs in the child between fork and exec and
    // calls only async-signal-safe functions (prctl, getppid, execve,
    // _exit) on memory made before the fork.
    unsafe {
        command.pre_exec(move || {
            // SIGKILL when the thread that started it (the workbench's run
            // loop) dies, however it dies.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The workbench died before the signal was armed.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            // Huge pages as the workbench had them before it turned them
            // off for itself.
            crate::huge_pages::restore_in_child();
            // exec here: the standard library's own exec is `execvp`,
            // whose glibc version runs a file without `#!` through /bin/sh
            // where the kernel refuses it (ENOEXEC); Maelstrom's does not,
            // nor do we. With an environment of our own (`execve`):
            // `execv` here started nodes with the workbench's environment,
            // without the seed, storage folder and token set with `envs`
            // above (seen in issue 20: the node's /proc/PID/environ).
            if let Some(exec) = &exec {
                libc::execve(exec.path.as_ptr(), exec.argv.as_ptr(), exec.envp.as_ptr());
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn().map_err(StartError::Exec)
}

/// A program, its argv and its environment as C strings, for `execve` in
/// the child.
struct Exec {
    path: std::ffi::CString,
    /// Pointers into `_args`, then a null.
    argv: Vec<*const libc::c_char>,
    _args: Vec<std::ffi::CString>,
    /// Pointers into `_vars` (`KEY=value`), then a null.
    envp: Vec<*const libc::c_char>,
    _vars: Vec<std::ffi::CString>,
}

// SAFETY: the pointers in `argv` point into `_args`' heap buffers, which
// the value owns and never changes; it is read only, in the child.
unsafe impl Send for Exec {}
unsafe impl Sync for Exec {}

impl Exec {
    /// `env` is set on top of the workbench's own environment.
    fn new(
        path: &std::path::Path,
        arg0: &std::path::Path,
        args: &[String],
        env: &[(&str, std::ffi::OsString)],
    ) -> Option<Exec> {
        use std::os::unix::ffi::OsStrExt;
        let c = |bytes: &[u8]| std::ffi::CString::new(bytes).ok();
        let mut all = vec![c(arg0.as_os_str().as_bytes())?];
        for a in args {
            all.push(c(a.as_bytes())?);
        }
        let mut argv: Vec<*const libc::c_char> = all.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let inherited = std::env::vars_os().filter(|(key, _)| env.iter().all(|(k, _)| key != k));
        let set = env
            .iter()
            .map(|(k, v)| (std::ffi::OsString::from(k), v.clone()));
        let mut vars = Vec::new();
        for (key, value) in inherited.chain(set) {
            let mut pair = key.as_bytes().to_vec();
            pair.push(b'=');
            pair.extend_from_slice(value.as_bytes());
            vars.push(c(&pair)?);
        }
        let mut envp: Vec<*const libc::c_char> = vars.iter().map(|v| v.as_ptr()).collect();
        envp.push(std::ptr::null());
        Some(Exec {
            path: c(path.as_os_str().as_bytes())?,
            argv,
            _args: all,
            envp,
            _vars: vars,
        })
    }
}

/// Starts one of a node's pipe threads, named after the node and the pipe.
fn pipe_thread<T: Send + 'static>(
    node_id: &str,
    pipe: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, StartError> {
    std::thread::Builder::new()
        .name(format!("{node_id}-{pipe}"))
        .spawn(body)
        .map_err(StartError::Io)
}

/// The stdin writer: takes all queued lines at once, in order, measures
/// how long each waited, and writes them in one `write` per batch (or
/// per [`UNFLUSHED_LINES_MAX`] lines), waiting for room in the pipe as
/// long as it takes. A line counts as written when the write that sends
/// it returns. Between batches it tells the mailbox it is idle, so that
/// `InboundQueue::push` may write the next line itself. A writer that
/// stops (the node closed its stdin) closes its mailbox, so that further
/// lines are dropped and counted, and only then closes the pipe.
fn write_stdin(
    stdin: ChildStdin,
    queue: &Mailbox<Outbound>,
    dequeued: &AtomicU64,
    dequeued_bytes: &AtomicU64,
) -> QueueDrain {
    let fd = stdin.as_raw_fd();
    let mut drain = QueueDrain::new();
    let mut batch = VecDeque::new();
    let mut out: Vec<u8> = Vec::new();
    // (queued at, due) of the lines in `out`.
    let mut unflushed: Vec<(Instant, Instant)> = Vec::with_capacity(UNFLUSHED_LINES_MAX);
    'run: while queue.take_all(&mut batch, None) == Taken::Items {
        for o in batch.drain(..) {
            drain.dequeued_count += 1;
            dequeued.fetch_add(1, Ordering::Relaxed);
            dequeued_bytes.fetch_add(o.counted_bytes, Ordering::Relaxed);
            let waited = o.queued_at.elapsed().as_micros() as u64;
            drain.wait_us.saturating_record(waited);
            out.extend_from_slice(&o.bytes);
            unflushed.push((o.queued_at, o.due));
            if unflushed.len() >= UNFLUSHED_LINES_MAX
                && flush(fd, &mut out, &mut unflushed, &mut drain.latencies).is_err()
            {
                break 'run;
            }
        }
        if flush(fd, &mut out, &mut unflushed, &mut drain.latencies).is_err() {
            break;
        }
        queue.done_taking();
    }
    queue.close();
    // Closed after the mailbox: `push` writes to this descriptor only
    // under the mailbox's lock while it is open.
    drop(stdin);
    drain
}

/// Writes `out` into the pipe, waiting for room, and times the lines it
/// held.
fn flush(
    fd: RawFd,
    out: &mut Vec<u8>,
    unflushed: &mut Vec<(Instant, Instant)>,
    latencies: &mut WriterLatencies,
) -> io::Result<()> {
    let mut rest = &out[..];
    while !rest.is_empty() {
        let n = write_nonblocking(fd, rest);
        rest = &rest[n..];
        if n == 0 {
            wait_writable(fd)?;
        }
    }
    out.clear();
    let written = Instant::now();
    for (queued_at, due) in unflushed.drain(..) {
        latencies
            .writer_queue
            .record(written.saturating_duration_since(queued_at));
        latencies
            .since_due
            .record(written.saturating_duration_since(due));
    }
    Ok(())
}

/// Writes what fits of `bytes` into the non-blocking `fd`: the count
/// written, 0 when the pipe is full or broken (the writer finds out
/// which).
fn write_nonblocking(fd: RawFd, bytes: &[u8]) -> usize {
    loop {
        // SAFETY: write(2) reads `bytes.len()` bytes from a live slice.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n >= 0 {
            return n as usize;
        }
        if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return 0;
        }
    }
}

/// Waits until the pipe `fd` has room, or fails when its reader is gone
/// (or poll fails).
fn wait_writable(fd: RawFd) -> io::Result<()> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    loop {
        // SAFETY: poll(2) on one pollfd we own.
        let n = unsafe { libc::poll(&mut pfd, 1, -1) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        return Ok(());
    }
}

/// Sets `O_NONBLOCK` on our end of a pipe.
pub(crate) fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl(2) on a descriptor we own; no memory is passed.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The stdout reader: every non-blank line, parsed, to the main loop, then
/// `Eof` when the node closes its stdout. A line longer than
/// `line_bytes_max` is skipped to its end and reported as `TooLong`.
fn read_stdout(
    stdout: ChildStdout,
    node: usize,
    incarnation: u32,
    line_bytes_max: usize,
    inbound: &Mailbox<Inbound>,
) {
    let mut reader = BufReader::with_capacity(STDOUT_BUFFER_BYTES, stdout);
    let mut buf = Vec::new();
    let mut line_number = 0;
    loop {
        let read = match read_line_bounded(&mut reader, &mut buf, line_bytes_max) {
            Ok(LineRead::Eof) | Err(_) => break,
            Ok(read) => read,
        };
        line_number += 1;
        let read_at = Instant::now();
        let sent = if let LineRead::TooLong(bytes) = read {
            let head = String::from_utf8_lossy(&buf[..buf.len().min(LONG_LINE_HEAD_BYTES)]);
            inbound.send(Inbound::TooLong {
                node,
                incarnation,
                line_number,
                bytes,
                head: head.into_owned(),
            })
        } else {
            let text = String::from_utf8_lossy(&buf);
            let lossy = matches!(text, std::borrow::Cow::Owned(_));
            let text = text.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty() {
                continue;
            }
            let message = Envelope::parse_line(text).map_err(|e| (e, text.to_string()));
            inbound.send(Inbound::Line {
                node,
                incarnation,
                line_number,
                read_at,
                message,
                lossy,
            })
        };
        if sent.is_err() {
            return;
        }
    }
    let _ = inbound.send(Inbound::Eof { node, incarnation });
}

/// What [`read_line_bounded`] read.
#[derive(Debug, PartialEq)]
enum LineRead {
    Eof,
    /// A whole line (with its newline, unless the stream ended first).
    Line,
    /// A line of this many bytes, longer than the bound: its first bytes
    /// are kept, the rest was read and dropped.
    TooLong(u64),
}

/// Reads one line into `buf` keeping at most `max` bytes of it: a line
/// that never ends costs `max` bytes, not all of memory, and reading
/// resumes after its newline.
fn read_line_bounded(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<LineRead> {
    buf.clear();
    let mut total: u64 = 0;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        let (take, ends) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        buf.extend_from_slice(&available[..take.min(room)]);
        total += take as u64;
        reader.consume(take);
        if ends {
            break;
        }
    }
    Ok(match total {
        0 => LineRead::Eof,
        t if t > max as u64 => LineRead::TooLong(t),
        _ => LineRead::Line,
    })
}

/// A node's log file, written up to a cap: past it, a marker and then only
/// a count of the bytes cut.
struct LogSink<'a> {
    log: BufWriter<File>,
    written: u64,
    max: u64,
    /// Whether the marker of the cut is written.
    marked: bool,
    cut: &'a AtomicU64,
}

impl LogSink<'_> {
    fn write(&mut self, bytes: &[u8]) {
        let room = self.max.saturating_sub(self.written) as usize;
        let kept = bytes.len().min(room);
        let _ = self.log.write_all(&bytes[..kept]);
        self.written += kept as u64;
        if kept < bytes.len() {
            if !self.marked {
                self.marked = true;
                let _ = writeln!(
                    self.log,
                    "\n[lightcone: this log is cut here, at {} bytes (--node-log-bytes-max); the \
                     node's further stderr is counted in results.json, not kept]",
                    self.max
                );
            }
            self.cut
                .fetch_add((bytes.len() - kept) as u64, Ordering::Relaxed);
        }
    }
}

/// The stderr reader: every line to the node's log file (lines cut at
/// [`STDERR_LINE_BYTES_MAX`], the log at its cap) and its kept tail, and
/// echoed to the workbench's stderr as `id: line` when asked.
fn read_stderr(
    stderr: ChildStderr,
    mut log: LogSink,
    tail: &Mutex<VecDeque<String>>,
    echo_as: Option<&str>,
) {
    let mut reader = BufReader::new(stderr);
    let mut buf = Vec::new();
    loop {
        let read = match read_line_bounded(&mut reader, &mut buf, STDERR_LINE_BYTES_MAX) {
            Ok(LineRead::Eof) | Err(_) => break,
            Ok(read) => read,
        };
        log.write(&buf);
        if let LineRead::TooLong(bytes) = read {
            log.write(
                format!(
                    "... [lightcone: a line of {bytes} bytes, cut at {STDERR_LINE_BYTES_MAX}]\n"
                )
                .as_bytes(),
            );
        }
        let line = String::from_utf8_lossy(&buf).trim_end().to_string();
        if let Some(id) = echo_as {
            eprintln!("{id}: {line}");
        }
        let mut tail = tail.lock().expect("stderr tail lock");
        if tail.len() == STDERR_TAIL_LEN {
            tail.pop_front();
        }
        tail.push_back(line);
        drop(tail);
        if reader.buffer().is_empty() {
            let _ = log.log.flush();
        }
    }
    let _ = log.log.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_longer_than_the_bound_is_skipped_to_its_end() {
        let input = format!("short\n{}\nnext\nlast", "x".repeat(100));
        let mut reader = BufReader::with_capacity(7, input.as_bytes());
        let mut buf = Vec::new();
        let mut read = || {
            let r = read_line_bounded(&mut reader, &mut buf, 10).unwrap();
            (r, String::from_utf8_lossy(&buf).into_owned())
        };
        assert_eq!(read(), (LineRead::Line, "short\n".into()));
        assert_eq!(read(), (LineRead::TooLong(101), "x".repeat(10)));
        assert_eq!(read(), (LineRead::Line, "next\n".into()));
        assert_eq!(read(), (LineRead::Line, "last".into()));
        assert_eq!(read().0, LineRead::Eof);
    }

    #[test]
    fn a_log_past_its_cap_is_cut_with_a_marker_and_the_rest_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n0.log");
        let cut = AtomicU64::new(0);
        let mut sink = LogSink {
            log: BufWriter::new(File::create(&path).unwrap()),
            written: 0,
            max: 10,
            marked: false,
            cut: &cut,
        };
        sink.write(b"1234567\n");
        sink.write(b"ab");
        sink.write(b"cdef\n");
        sink.write(b"more\n");
        sink.log.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("1234567\nab\n[lightcone: this log is cut here"),
            "{text}"
        );
        assert_eq!(text.matches("[lightcone: this log is cut here").count(), 1);
        assert_eq!(cut.load(Ordering::Relaxed), 5 + 5);
    }
}
