//! Simulation mode: the same results folder as process mode, from SDK
//! nodes run in-process on virtual time.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

use lightcone_core::{Test, NANOS_PER_SEC};
use lightcone_history::HistoryWriter;
use lightcone_sim::{NodeFactory, Simulation};
use serde_json::json;

use crate::report::{RunOutcome, RunReport};
use crate::run::{own_usage, write_err, RunOptions, RunnerError};
use crate::{results, store};

/// Ops written between flushes of history.jsonl.
const FLUSH_EVERY_OPS: u64 = 1024;

/// Runs one seeded simulation and writes its results folder.
pub fn run_sim(options: &RunOptions, factory: &NodeFactory) -> Result<RunReport, RunnerError> {
    let test = Test::new(options.config.clone())?;
    let root = &options.store_root;
    let workload = &options.config.workload;
    let dir = store::create_run_dir(root, workload).map_err(write_err(root))?;
    let command_path = dir.join("command");
    fs::write(&command_path, format!("{}\n", options.command_line))
        .map_err(write_err(&command_path))?;
    if let Err(e) = store::link_latest(root, workload, &dir) {
        eprintln!("warning: could not update the `latest` links under {root:?}: {e}");
    }
    let history_path = dir.join("history.jsonl");
    let file = File::create(&history_path).map_err(write_err(&history_path))?;
    let mut history = HistoryWriter::new(BufWriter::new(file));
    let mut write_error = None;
    let mut recorded = 0u64;
    // Wall time spent streaming the history, part of the run's: for
    // broadcast, whose reads return every message so far, most of it.
    let mut writing = Duration::ZERO;

    let start = Instant::now();
    let (test, stats, logs) = Simulation::new(test, factory).run(&mut |op| {
        if write_error.is_some() {
            return;
        }
        let began = Instant::now();
        recorded += 1;
        let written = history.write(op).and_then(|_| {
            if recorded.is_multiple_of(FLUSH_EVERY_OPS) {
                history.flush()
            } else {
                Ok(())
            }
        });
        if let Err(e) = written {
            write_error = Some(e);
        }
        writing += began.elapsed();
    });
    let wall = start.elapsed();
    if let Some(e) = write_error {
        return Err(write_err(&history_path)(e));
    }
    history.flush().map_err(write_err(&history_path))?;

    let log_path = dir.join("lightcone.log");
    let mut log = stats.log.join("\n");
    if stats.log_dropped > 0 {
        log.push_str(&format!(
            "\n({} more log lines were not kept)",
            stats.log_dropped
        ));
    }
    log.push('\n');
    fs::write(&log_path, log).map_err(write_err(&log_path))?;
    let mut nodes = serde_json::Map::new();
    for (i, id) in test.nodes().iter().enumerate() {
        let path = dir.join("node-logs").join(format!("{id}.log"));
        let mut text = logs[i].join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        fs::write(&path, text).map_err(write_err(&path))?;
        nodes.insert(id.clone(), json!({"start-count": stats.start_counts[i]}));
    }
    let malformed = json!({
        "count": stats.malformed.len(),
        "samples": stats.malformed.iter().take(20).collect::<Vec<_>>(),
    });
    let outcome = match (test.failure(), &stats.livelock) {
        (Some(failure), _) => RunOutcome::Aborted(failure.to_string()),
        (None, Some(why)) => RunOutcome::Aborted(why.clone()),
        (None, None) => RunOutcome::Completed,
    };
    let usage = own_usage();
    let virtual_s = stats.virtual_ns as f64 / NANOS_PER_SEC as f64;
    let wall_s = wall.as_secs_f64().max(1e-9);
    let workbench = json!({
        "mode": "simulation",
        "duration-s": wall_s,
        "virtual-s": virtual_s,
        "speedup": virtual_s / wall_s,
        "history-write-s": writing.as_secs_f64(),
        "step-count": stats.step_count,
        "steps-per-s": stats.step_count as f64 / wall_s,
        "cpu-s": usage.cpu_s,
        "peak-rss-mb": usage.peak_rss_mb,
        "event-queue-depth-max": test.event_queue_depth_max(),
    });
    let _ = std::io::stderr().flush();
    results::write(
        &test,
        &dir,
        nodes,
        malformed,
        workbench,
        outcome,
        &options.command_line,
    )
}
