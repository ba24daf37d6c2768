//! One node process: spawned in its own process group, with a thread per
//! pipe. The stdin side is a bounded, measured queue.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver, Sender};
use hdrhistogram::Histogram;
use lightcone_proto::{Envelope, LineError};

/// How many of a node's last stderr lines are kept for error messages.
const STDERR_TAIL_LEN: usize = 20;

/// What the reader threads tell the main loop.
pub enum Inbound {
    Line {
        node: usize,
        incarnation: u32,
        line_number: u64,
        message: Result<Envelope, (LineError, String)>,
    },
    /// The node closed its stdout (it exited, or is about to).
    Eof { node: usize, incarnation: u32 },
}

/// The bounded queue of lines waiting to be written to a node's stdin.
///
/// The channel itself is unbounded so that memory follows the real depth,
/// not the bound; the bound is enforced here by counting what the writer
/// has taken out.
pub struct InboundQueue {
    tx: Option<Sender<(Instant, String)>>,
    dequeued: Arc<AtomicU64>,
    pub capacity: usize,
    pub enqueued_count: u64,
    pub dropped_count: u64,
    pub depth_max: usize,
    writer: Option<JoinHandle<QueueDrain>>,
}

/// What the writer thread measured.
pub struct QueueDrain {
    pub dequeued_count: u64,
    /// Time from enqueue to the write into the pipe, in microseconds.
    pub wait_us: Histogram<u64>,
}

impl InboundQueue {
    /// Queues a line; drops it (counted) when the queue is full or the node
    /// is gone. Says whether it was queued.
    pub fn push(&mut self, line: String) -> bool {
        let Some(tx) = &self.tx else {
            self.dropped_count += 1;
            return false;
        };
        let depth = self.enqueued_count - self.dequeued.load(Ordering::Relaxed);
        if depth as usize >= self.capacity || tx.send((Instant::now(), line)).is_err() {
            self.dropped_count += 1;
            return false;
        }
        self.enqueued_count += 1;
        self.depth_max = self.depth_max.max(depth as usize + 1);
        true
    }

    /// Lines queued and not yet written to the node's stdin.
    pub fn depth(&self) -> u64 {
        self.enqueued_count
            .saturating_sub(self.dequeued.load(Ordering::Relaxed))
    }

    /// Closes the queue and waits for the writer to finish.
    pub fn close(&mut self) -> Option<QueueDrain> {
        self.tx = None;
        self.writer.take().and_then(|h| h.join().ok())
    }
}

pub struct NodeProcess {
    pub id: String,
    /// How many times this node was started before this process.
    pub incarnation: u32,
    pub child: Child,
    pub queue: InboundQueue,
    pub stderr_tail: Arc<Mutex<VecDeque<String>>>,
    readers: Vec<JoinHandle<()>>,
    pub exit_status: Option<ExitStatus>,
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
        inbound: Sender<Inbound>,
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
        let mut child = start_process(spec, incarnation)?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");

        let (tx, rx) = unbounded::<(Instant, String)>();
        let dequeued = Arc::new(AtomicU64::new(0));
        let dequeued_by_writer = Arc::clone(&dequeued);
        let writer = pipe_thread(&spec.id, "stdin", move || {
            write_stdin(stdin, &rx, &dequeued_by_writer)
        })?;

        let node = spec.index;
        let stdout_reader = pipe_thread(&spec.id, "stdout", move || {
            read_stdout(stdout, node, incarnation, &inbound)
        })?;

        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail = Arc::clone(&stderr_tail);
        let echo_as = spec.log_stderr.then(|| spec.id.clone());
        let stderr_reader = pipe_thread(&spec.id, "stderr", move || {
            read_stderr(stderr, log, &tail, echo_as.as_deref())
        })?;

        Ok(NodeProcess {
            id: spec.id.to_string(),
            incarnation,
            child,
            queue: InboundQueue {
                tx: Some(tx),
                dequeued,
                capacity: spec.queue_capacity,
                enqueued_count: 0,
                dropped_count: 0,
                depth_max: 0,
                writer: Some(writer),
            },
            stderr_tail,
            readers: vec![stdout_reader, stderr_reader],
            exit_status: None,
        })
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

    /// Kills the node's whole process group and reaps it: no zombies.
    pub fn kill(&mut self) -> Option<QueueDrain> {
        self.signal_group(libc::SIGCONT);
        self.signal_group(libc::SIGKILL);
        if let Ok(status) = self.child.wait() {
            self.exit_status.get_or_insert(status);
        }
        let drain = self.queue.close();
        for h in self.readers.drain(..) {
            let _ = h.join();
        }
        drain
    }
}

/// Starts the node's program with its three pipes, its seed and its storage
/// folder, in a process group of its own.
fn start_process(spec: &Spawn, incarnation: u32) -> Result<Child, StartError> {
    let seed = lightcone_rng::node_seed(spec.run_seed, spec.index, u64::from(incarnation));
    Command::new(&spec.bin)
        .args(&spec.args)
        .env("LIGHTCONE_NODE_SEED", seed.to_string())
        .env("LIGHTCONE_NODE_STORAGE", &spec.storage_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: killed as a group, and a Ctrl-C at the
        // terminal reaches the workbench only.
        .process_group(0)
        .spawn()
        .map_err(StartError::Exec)
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

/// The stdin writer: takes queued lines in order, measures how long each
/// waited, and flushes whenever the queue runs dry.
fn write_stdin(
    stdin: ChildStdin,
    queue: &Receiver<(Instant, String)>,
    dequeued: &AtomicU64,
) -> QueueDrain {
    let mut out = BufWriter::new(stdin);
    let mut drain = QueueDrain {
        dequeued_count: 0,
        wait_us: Histogram::new(3).expect("3 significant figures is valid"),
    };
    while let Ok((queued_at, line)) = queue.recv() {
        drain.dequeued_count += 1;
        dequeued.fetch_add(1, Ordering::Relaxed);
        let waited = queued_at.elapsed().as_micros() as u64;
        drain.wait_us.saturating_record(waited);
        if writeln!(out, "{line}").is_err() {
            break;
        }
        if queue.is_empty() && out.flush().is_err() {
            break;
        }
    }
    drain
}

/// The stdout reader: every non-blank line, parsed, to the main loop, then
/// `Eof` when the node closes its stdout.
fn read_stdout(stdout: ChildStdout, node: usize, incarnation: u32, inbound: &Sender<Inbound>) {
    let mut reader = BufReader::new(stdout);
    let mut buf = Vec::new();
    let mut line_number = 0;
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        line_number += 1;
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        let message = Envelope::parse_line(text).map_err(|e| (e, text.to_string()));
        let sent = inbound.send(Inbound::Line {
            node,
            incarnation,
            line_number,
            message,
        });
        if sent.is_err() {
            return;
        }
    }
    let _ = inbound.send(Inbound::Eof { node, incarnation });
}

/// The stderr reader: every line to the node's log file and its kept tail,
/// and echoed to the workbench's stderr as `id: line` when asked.
fn read_stderr(
    stderr: ChildStderr,
    mut log: BufWriter<File>,
    tail: &Mutex<VecDeque<String>>,
    echo_as: Option<&str>,
) {
    let mut reader = BufReader::new(stderr);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let _ = log.write_all(&buf);
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
            let _ = log.flush();
        }
    }
    let _ = log.flush();
}
