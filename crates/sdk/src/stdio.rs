use std::io::{self, BufRead, Write};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, RecvTimeoutError};
use lightcone_proto::Envelope;

use crate::{FileStorage, MemoryStorage, Node, NodeRuntime, Runtime, Storage};

/// Why the stdio runner stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    #[error("could not write to stdout: {0}")]
    Stdout(io::Error),
    #[error("could not open the storage folder named by LIGHTCONE_NODE_STORAGE: {0}")]
    Storage(io::Error),
}

/// Lines from stdin waiting for the node; past this the reader blocks, and
/// the pipe pushes back on the workbench.
const INBOX_LEN_MAX: usize = 4096;

/// Runs `node` as a Maelstrom process: messages on stdin, one JSON object
/// per line; messages out on stdout; logs on stderr. Returns when stdin
/// closes.
///
/// The RNG is seeded from `LIGHTCONE_NODE_SEED` when set (the workbench sets
/// it), otherwise from the process id and the start time. Durable storage
/// is the folder `LIGHTCONE_NODE_STORAGE` when set, else memory.
pub fn run_stdio<N: Node>(node: N) -> Result<(), StdioError> {
    let (seed, storage) = process_seed_and_storage()?;
    run_stdio_runtime(&mut Runtime::with_storage(node, seed, storage))
}

/// The seed and storage a node process should use, from the environment
/// the workbench sets.
pub fn process_seed_and_storage() -> Result<(u64, Box<dyn Storage>), StdioError> {
    let storage: Box<dyn Storage> = match std::env::var_os("LIGHTCONE_NODE_STORAGE") {
        Some(dir) => Box::new(FileStorage::open(&dir).map_err(StdioError::Storage)?),
        None => Box::new(MemoryStorage::new()),
    };
    let seed = std::env::var("LIGHTCONE_NODE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(lightcone_rng::fresh_seed);
    Ok((seed, storage))
}

/// Runs an already built runtime on stdin/stdout until stdin closes.
pub fn run_stdio_runtime(runtime: &mut dyn NodeRuntime) -> Result<(), StdioError> {
    let start = Instant::now();
    let (tx, rx) = bounded::<String>(INBOX_LEN_MAX);
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            for line in io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        })
        .expect("spawning the stdin thread");

    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let stderr = io::stderr();
    loop {
        let now = start.elapsed().as_nanos() as u64;
        runtime.tick(now);
        flush(runtime, &mut out, &stderr)?;
        let received = match runtime.next_deadline() {
            Some(deadline) => {
                let wait = Duration::from_nanos(deadline.saturating_sub(now));
                rx.recv_timeout(wait)
            }
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(line) => {
                let mut lines = vec![line];
                lines.extend(rx.try_iter());
                for line in lines {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let now = start.elapsed().as_nanos() as u64;
                    match Envelope::parse_line(&line) {
                        Ok(msg) => runtime.receive(now, msg),
                        Err(e) => {
                            let _ =
                                writeln!(stderr.lock(), "ignoring a line on stdin: {e}: {line}");
                        }
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                flush(runtime, &mut out, &stderr)?;
                return Ok(());
            }
        }
    }
}

fn flush(
    runtime: &mut dyn NodeRuntime,
    out: &mut impl Write,
    stderr: &io::Stderr,
) -> Result<(), StdioError> {
    let logs = runtime.take_logs();
    if !logs.is_empty() {
        let mut err = stderr.lock();
        for line in logs {
            let _ = writeln!(err, "{line}");
        }
    }
    let outbox = runtime.take_outbox();
    if outbox.is_empty() {
        return Ok(());
    }
    for msg in outbox {
        serde_json::to_writer(&mut *out, &msg).map_err(|e| StdioError::Stdout(e.into()))?;
        out.write_all(b"\n").map_err(StdioError::Stdout)?;
    }
    out.flush().map_err(StdioError::Stdout)
}
