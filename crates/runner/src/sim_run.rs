//! Simulation mode: the same results folder as process mode, from SDK
//! nodes run in-process on virtual time.

use std::time::{Duration, Instant};

use lightcone_core::{Ending, MalformedLines, NodeFacts, Results, Test, NANOS_PER_SEC};
use lightcone_sim::{NodeFactory, Simulation};

use crate::error::RunnerError;
use crate::folder::RunFolder;
use crate::report::{RunReport, SimulationSpeed, Workbench};
use crate::run::{own_usage, RunOptions};

/// Ops written between flushes of history.jsonl.
const FLUSH_EVERY_OPS: u64 = 1024;
/// Refused messages kept in results.json.
const MALFORMED_SAMPLES_MAX: usize = 20;

/// Runs one seeded simulation and writes its results folder.
pub fn run_sim(options: &RunOptions, factory: &NodeFactory) -> Result<RunReport, RunnerError> {
    let test = Test::new(options.config.clone())?;
    let mut folder = RunFolder::create(
        &options.store_root,
        &options.config.workload,
        &options.command_line,
    )?;
    folder.link_latest();
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
        let written = folder.record(op).and_then(|()| {
            if recorded.is_multiple_of(FLUSH_EVERY_OPS) {
                folder.flush_history()
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
        return Err(e);
    }

    let mut log = stats.log.join("\n");
    if stats.log_dropped > 0 {
        log.push_str(&format!(
            "\n({} more log lines were not kept)",
            stats.log_dropped
        ));
    }
    log.push('\n');
    folder.write_text("lightcone.log", &log)?;
    let mut nodes = std::collections::BTreeMap::new();
    for (i, id) in test.nodes().iter().enumerate() {
        let mut text = logs[i].join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        folder.write_text(&format!("node-logs/{id}.log"), &text)?;
        let facts = NodeFacts {
            start_count: stats.start_counts[i],
            ..NodeFacts::default()
        };
        nodes.insert(id.clone(), facts);
    }
    let malformed = MalformedLines {
        count: stats.malformed.len() as u64,
        samples: stats
            .malformed
            .iter()
            .take(MALFORMED_SAMPLES_MAX)
            .cloned()
            .collect(),
    };
    let ending = match (test.failure(), &stats.livelock) {
        (Some(failure), _) => Ending::Aborted(failure.to_string()),
        (None, Some(why)) => Ending::Aborted(why.clone()),
        (None, None) => Ending::Completed,
    };
    let usage = own_usage();
    let virtual_s = stats.virtual_ns as f64 / NANOS_PER_SEC as f64;
    let wall_s = wall.as_secs_f64().max(1e-9);
    let workbench = Workbench {
        mode: "simulation",
        duration_s: wall_s,
        cpu_s: usage.cpu_s,
        peak_rss_mb: usage.peak_rss_mb,
        event_queue_depth_max: test.event_queue_depth_max(),
        bin: None,
        simulation: Some(SimulationSpeed {
            virtual_s,
            speedup: virtual_s / wall_s,
            history_write_s: writing.as_secs_f64(),
            step_count: stats.step_count,
            steps_per_s: stats.step_count as f64 / wall_s,
        }),
    };
    let checked = test.check();
    let (problems, beyond_maelstrom) = (checked.problems.clone(), checked.beyond_maelstrom.clone());
    let results = Results::new(&test, checked, nodes, malformed, &ending);
    folder.finish(&results, &workbench)?;
    Ok(RunReport {
        dir: folder.dir.clone(),
        ending,
        results,
        workbench,
        problems,
        beyond_maelstrom,
        command_line: options.command_line.clone(),
    })
}
