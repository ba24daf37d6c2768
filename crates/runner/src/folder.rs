//! The results folder, `store/<workload>/<timestamp>/`, the same in
//! process mode and in simulation: the `command` file, history.jsonl
//! streamed as ops are recorded, `node-logs/`, lightcone.log, and at the
//! end results.json, report.html (unless turned off) and workbench.json; `store/latest` and
//! `store/<workload>/latest` point at the newest run that started.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use lightcone_core::{Ending, MalformedLines, NodeFacts, Results, Test, WorkbenchCost};
use lightcone_history::{HistoryWriter, Op};
use serde::Serialize;

use crate::error::{write_err, RunnerError};
use crate::history_file::WholeLines;
use crate::report::{RunReport, Workbench};

/// Refused messages kept in results.json.
pub const MALFORMED_SAMPLES_MAX: usize = 20;

/// What a run that ended knows beyond its test: its nodes, the lines they
/// wrote that were refused, how it ended, and the wall-clock facts.
pub struct RunFacts {
    pub nodes: BTreeMap<String, NodeFacts>,
    pub malformed: MalformedLines,
    pub ending: Ending,
    pub workbench: Workbench,
    /// Process mode's `workbench` section of results.json.
    pub cost: Option<WorkbenchCost>,
}

/// One run's folder, open for writing.
pub struct RunFolder {
    pub dir: PathBuf,
    root: PathBuf,
    workload: String,
    /// history.jsonl, which holds whole lines only, even after a failed
    /// write (a full disk).
    history: HistoryWriter<WholeLines<File>>,
    history_path: PathBuf,
    /// Whether `finish` writes report.html.
    report: bool,
    /// The replay command the report shows.
    replay: Option<String>,
    /// Node queue depths over time, for the report (process mode).
    queues: lightcone_report::QueueSeries,
}

/// Queue depth samples kept at most (at 100 ms, over half an hour); later
/// ones are not kept.
pub const QUEUE_SAMPLES_MAX: usize = 20_000;

impl RunFolder {
    /// Makes a fresh folder for `workload` under `root` (named by the UTC
    /// start time), with `node-logs/`, the `command` file and an empty
    /// history.jsonl.
    pub fn create(
        root: &Path,
        workload: &str,
        command_line: &str,
    ) -> Result<RunFolder, RunnerError> {
        let dir = fresh_dir(root, workload).map_err(write_err(root))?;
        let command_path = dir.join("command");
        fs::write(&command_path, format!("{command_line}\n")).map_err(write_err(&command_path))?;
        let history_path = dir.join("history.jsonl");
        let file = File::create(&history_path).map_err(write_err(&history_path))?;
        Ok(RunFolder {
            dir,
            root: root.to_path_buf(),
            workload: workload.to_string(),
            history: HistoryWriter::new(WholeLines::new(file, 0)),
            history_path,
            report: true,
            replay: None,
            queues: lightcone_report::QueueSeries::default(),
        })
    }

    /// Whether the run's end writes report.html (`--no-report` turns it
    /// off).
    pub fn set_report(&mut self, on: bool, replay: Option<String>) {
        self.report = on;
        self.replay = replay;
    }

    /// A file or folder of the run.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn node_log_path(&self, id: &str) -> PathBuf {
        self.dir.join("node-logs").join(format!("{id}.log"))
    }

    /// Points the `latest` links at this run; a failure only warns.
    pub fn link_latest(&self) {
        if let Err(e) = link_latest(&self.root, &self.workload, &self.dir) {
            eprintln!(
                "warning: could not update the `latest` links under {:?}: {e}",
                self.root
            );
        }
    }

    /// Appends an op to history.jsonl (buffered: the caller flushes as
    /// often as its mode needs, so a crash leaves a checkable prefix).
    pub fn record(&mut self, op: &Op) -> Result<(), RunnerError> {
        self.history
            .write(op)
            .map_err(write_err(&self.history_path))
    }

    pub fn flush_history(&mut self) -> Result<(), RunnerError> {
        self.history.flush().map_err(write_err(&self.history_path))
    }

    /// Records each node's queue depth at `now_ns` (at most
    /// [`QUEUE_SAMPLES_MAX`] samples).
    pub fn sample_queues(&mut self, now_ns: u64, nodes: &[String], depths: Vec<u64>) {
        if self.queues.nodes.is_empty() {
            self.queues.nodes = nodes.to_vec();
        }
        if self.queues.samples.len() < QUEUE_SAMPLES_MAX {
            self.queues.samples.push((now_ns, depths));
        }
    }

    /// Writes a text file of the run.
    pub fn write_text(&self, name: &str, text: &str) -> Result<(), RunnerError> {
        let path = self.path(name);
        fs::write(&path, text).map_err(write_err(&path))
    }

    /// The end of a run in either mode: runs the checkers on `test`, then
    /// flushes the history, writes results.json, report.html and
    /// workbench.json (with the report's writing time), and reports what
    /// was found.
    pub fn finish(
        &mut self,
        test: &Test,
        run: RunFacts,
        command_line: &str,
    ) -> Result<RunReport, RunnerError> {
        let checked = test.check();
        let (problems, beyond_maelstrom) =
            (checked.problems.clone(), checked.beyond_maelstrom.clone());
        let mut results = Results::new(test, checked, run.nodes, run.malformed, &run.ending);
        results.workbench = run.cost;
        self.flush_history()?;
        write_json(&self.path("results.json"), &results)?;
        let mut report = RunReport {
            dir: self.dir.clone(),
            ending: run.ending,
            results,
            workbench: run.workbench,
            problems,
            beyond_maelstrom,
            command_line: command_line.to_string(),
        };
        if self.report {
            let began = Instant::now();
            let log = test.message_log();
            let path = self.path("report.html");
            let mut file = io::BufWriter::with_capacity(
                1 << 16,
                File::create(&path).map_err(write_err(&path))?,
            );
            crate::page::write_run_page(
                &mut file,
                &report,
                test.history(),
                &test.config().workload,
                self.replay.clone(),
                (!log.messages.is_empty()).then_some(log),
                (!self.queues.samples.is_empty()).then_some(&self.queues),
            )
            .and_then(|()| file.flush())
            .map_err(write_err(&path))?;
            report.workbench.report_write_s = Some(began.elapsed().as_secs_f64());
        }
        write_json(&self.path("workbench.json"), &report.workbench)?;
        Ok(report)
    }

    /// Removes the folder of a run that never started.
    pub fn discard(self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), RunnerError> {
    let text = serde_json::to_string_pretty(value).expect("results serialize");
    let mut file = File::create(path).map_err(write_err(path))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .map_err(write_err(path))
}

/// A fresh folder for `workload` under `root`, with `node-logs/` inside.
fn fresh_dir(root: &Path, workload: &str) -> io::Result<PathBuf> {
    let stamp = humantime::format_rfc3339_millis(SystemTime::now())
        .to_string()
        .replace(['-', ':'], "");
    let base = root.join(workload);
    fs::create_dir_all(&base)?;
    // Two runs in the same millisecond get a suffix rather than a clash.
    let mut dir = base.join(&stamp);
    let mut n = 1;
    while dir.exists() {
        dir = base.join(format!("{stamp}-{n}"));
        n += 1;
    }
    fs::create_dir_all(dir.join("node-logs"))?;
    Ok(dir)
}

/// Points `store/latest` and `store/<workload>/latest` at `dir`.
fn link_latest(root: &Path, workload: &str, dir: &Path) -> io::Result<()> {
    let name = dir.file_name().expect("a run folder has a name");
    replace_link(&Path::new(workload).join(name), &root.join("latest"))?;
    replace_link(Path::new(name), &root.join(workload).join("latest"))
}

fn replace_link(target: &Path, link: &Path) -> io::Result<()> {
    let tmp = link.with_extension("tmp-link");
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    // rename(2) replaces the old link atomically.
    fs::rename(&tmp, link)
}
