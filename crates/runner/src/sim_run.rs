//! Simulation mode: the same results folder as process mode, from SDK
//! nodes run in-process on virtual time.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use lightcone_core::{Ending, MalformedLines, NodeFacts, Test, NANOS_PER_SEC};
use lightcone_sim::{NodeFactory, SimStats, Simulation};

use crate::error::RunnerError;
use crate::folder::{RunFacts, RunFolder, MALFORMED_SAMPLES_MAX};
use crate::report::{RunReport, SimulationSpeed, Workbench};
use crate::run::{own_usage, RunOptions};
use crate::seeded::SeededFactory;

/// Ops written between flushes of history.jsonl.
const FLUSH_EVERY_OPS: u64 = 1024;

/// Runs one seeded simulation and writes its results folder. With
/// `seeded`, the nodes are foreign processes made by that factory (whose
/// `factory` is `factory`), and workbench.json says what waiting for them
/// cost.
pub fn run_sim(
    options: &RunOptions,
    factory: &NodeFactory,
    seeded: Option<&SeededFactory>,
) -> Result<RunReport, RunnerError> {
    let test = Test::new(options.config.clone())?;
    let mut folder = RunFolder::create(
        &options.store_root,
        &options.config.workload,
        &options.command_line,
    )?;
    folder.set_report(options.report, options.replay.clone());
    folder.link_latest();
    let start = Instant::now();
    let Simulated {
        test,
        stats,
        logs,
        writing,
    } = simulate_recording(test, factory, &mut folder)?;
    let wall = start.elapsed();

    let nodes = write_logs(&mut folder, &test, &stats, &logs)?;
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
    let mut workbench = workbench(&test, &stats, wall, writing);
    workbench.seeded = seeded.map(SeededFactory::take_report);
    let run = RunFacts {
        nodes,
        malformed,
        ending,
        workbench,
        cost: None,
    };
    folder.finish(&test, run, &options.command_line)
}

/// A finished simulation: the test, its statistics, each node's log lines
/// and the wall time spent writing the history.
struct Simulated {
    test: Test,
    stats: SimStats,
    logs: Vec<Vec<String>>,
    writing: Duration,
}

/// Runs the simulation, streaming each op to history.jsonl as it is
/// recorded; says how much wall time the writing took, part of the run's
/// (for broadcast, whose reads return every message so far, most of it).
fn simulate_recording(
    test: Test,
    factory: &NodeFactory,
    folder: &mut RunFolder,
) -> Result<Simulated, RunnerError> {
    let mut write_error = None;
    let mut recorded = 0u64;
    let mut writing = Duration::ZERO;
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
    match write_error {
        Some(e) => Err(e),
        None => Ok(Simulated {
            test,
            stats,
            logs,
            writing,
        }),
    }
}

/// Writes lightcone.log and each node's log; returns the nodes' facts.
fn write_logs(
    folder: &mut RunFolder,
    test: &Test,
    stats: &SimStats,
    logs: &[Vec<String>],
) -> Result<BTreeMap<String, NodeFacts>, RunnerError> {
    let mut log = stats.log.join("\n");
    if stats.log_dropped > 0 {
        log.push_str(&format!(
            "\n({} more log lines were not kept)",
            stats.log_dropped
        ));
    }
    log.push('\n');
    folder.write_text("lightcone.log", &log)?;
    let mut nodes = BTreeMap::new();
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
    Ok(nodes)
}

/// The wall-clock facts of a simulation, its speed among them.
fn workbench(test: &Test, stats: &SimStats, wall: Duration, writing: Duration) -> Workbench {
    let usage = own_usage();
    let virtual_s = stats.virtual_ns as f64 / NANOS_PER_SEC as f64;
    let wall_s = wall.as_secs_f64().max(1e-9);
    Workbench {
        report_write_s: None,
        mode: "simulation",
        duration_s: wall_s,
        cpu_s: usage.cpu_s,
        peak_rss_mb: usage.peak_rss_bytes as f64 / (1024.0 * 1024.0),
        event_queue_depth_max: test.event_queue_depth_max(),
        bin: None,
        seeded: None,
        simulation: Some(SimulationSpeed {
            virtual_s,
            speedup: virtual_s / wall_s,
            history_write_s: writing.as_secs_f64(),
            step_count: stats.step_count,
            steps_per_s: stats.step_count as f64 / wall_s,
        }),
    }
}
