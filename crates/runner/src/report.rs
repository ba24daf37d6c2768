//! What a run reports: the outcome, the exit code, the summary screen.

use std::path::PathBuf;
use std::time::Duration;

use lightcone_check::Validity;
use serde_json::{json, Value};

use hdrhistogram::Histogram;

use crate::exit_code;
use crate::node::{InboundQueue, QueueDrain};

/// How the run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    Completed,
    /// Stopped early because of a node; the message says why.
    Aborted(String),
    /// Stopped by Ctrl-C; what was recorded was checked.
    Interrupted,
}

#[derive(Debug, Default)]
pub(crate) struct Malformed {
    pub count: u64,
    pub samples: Vec<String>,
}

/// The result of one run.
#[derive(Debug)]
pub struct RunReport {
    pub dir: PathBuf,
    pub valid: Validity,
    pub outcome: RunOutcome,
    pub problems: Vec<String>,
    /// The verdict Maelstrom's checkers would give; differs from `valid`
    /// only where lightcone is deliberately stricter.
    pub maelstrom_valid: Validity,
    /// The problems (also in `problems`) Maelstrom's checkers do not report.
    pub beyond_maelstrom: Vec<String>,
    /// What results.json holds.
    pub results: Value,
    /// What workbench.json holds (wall-clock facts).
    pub workbench: Value,
    pub command_line: String,
}

impl RunReport {
    pub fn exit_code(&self) -> i32 {
        match self.outcome {
            RunOutcome::Aborted(_) => exit_code::ABORTED,
            RunOutcome::Interrupted => exit_code::INTERRUPTED,
            RunOutcome::Completed => self.valid.exit_code(),
        }
    }

    /// The one-screen summary printed at the end of a run.
    pub fn summary(&self) -> String {
        let r = &self.results;
        let workload = &self.command_line;
        let verdict = match &self.outcome {
            RunOutcome::Aborted(_) => "ABORTED".to_string(),
            RunOutcome::Interrupted => format!("INTERRUPTED (what was recorded is {})", self.valid),
            RunOutcome::Completed => self.valid.to_string().to_uppercase(),
        };
        let mut out = String::new();
        out.push_str(&format!("\n{verdict}: {workload}\n"));
        let aborted = matches!(self.outcome, RunOutcome::Aborted(_));
        if let RunOutcome::Aborted(why) = &self.outcome {
            out.push_str(&format!("  {why}\n"));
        }
        if self.valid != self.maelstrom_valid {
            out.push_str(&format!(
                "  Maelstrom's checkers would say {}: lightcone is deliberately stricter here \
                 (the problems marked \"beyond Maelstrom\")\n",
                self.maelstrom_valid
            ));
        }
        let stats = &r["stats"];
        let op_count = stats["count"].as_u64().unwrap_or(0);
        out.push_str(&format!(
            "  ops: {} completed: {} ok, {} fail, {} info\n",
            stats["count"], stats["ok-count"], stats["fail-count"], stats["info-count"]
        ));
        out.push_str(&format!("  {}\n", lightcone_core::net_summary(&r["net"])));
        if aborted && op_count == 0 {
            // Availability and the workload's verdict say nothing of a run
            // in which no client operation ran.
            out.push_str("  no client operation ran, so nothing was checked\n");
        } else {
            out.push_str(&self.checked_lines(aborted));
        }
        if let Some(l) = r["workload"]
            .get("stable-latencies")
            .filter(|v| v.is_object())
        {
            out.push_str(&format!(
                "  stable latencies (ms, quantile: value): {}\n",
                scalars(l)
            ));
        }
        let malformed = r["malformed-lines"]["count"].as_u64().unwrap_or(0);
        if malformed > 0 {
            out.push_str(&format!(
                "  malformed lines from nodes: {malformed} (see results.json)\n"
            ));
        }
        for p in &self.problems {
            if self.beyond_maelstrom.contains(p) {
                out.push_str(&format!("  problem (beyond Maelstrom): {p}\n"));
            } else {
                out.push_str(&format!("  problem: {p}\n"));
            }
        }
        out.push_str(&format!(
            "  results: {}/ (results.json, history.jsonl, node-logs/); seed {}\n",
            self.dir.display(),
            r["seed"]
        ));
        out
    }
}

impl RunReport {
    /// The availability, workload and stable-latency lines. An aborted
    /// run's workload verdict is of what was recorded before the abort, and
    /// says so.
    fn checked_lines(&self, aborted: bool) -> String {
        let r = &self.results;
        let mut out = String::new();
        if let Some(f) = r["availability"]["ok-fraction"].as_f64() {
            out.push_str(&format!(
                "  availability: {:.2}% of requests ok\n",
                f * 100.0
            ));
        }
        if aborted {
            let mut workload = r["workload"].clone();
            let recorded = workload
                .as_object_mut()
                .and_then(|w| w.remove("valid"))
                .unwrap_or(Value::Null);
            out.push_str(&format!(
                "  workload (of what was recorded before the abort, which checks as {}): {}\n",
                Validity::from_json(&recorded).map_or("unknown".to_string(), |v| v.to_string()),
                scalars(&workload)
            ));
        } else {
            out.push_str(&format!("  workload: {}\n", scalars(&r["workload"])));
        }
        out
    }
}

/// `key value, key value` for the numbers and short values of a section.
fn scalars(section: &Value) -> String {
    let Some(map) = section.as_object() else {
        return String::new();
    };
    map.iter()
        .filter(|(_, v)| v.is_number() || v.is_boolean() || v.is_string())
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A node's inbound queue measured over all its processes (a restarted
/// node gets a fresh queue).
#[derive(Default)]
pub(crate) struct QueueTotals {
    capacity: usize,
    enqueued_count: u64,
    pub dropped_count: u64,
    depth_max: usize,
    dequeued_count: u64,
    wait_us: Option<Histogram<u64>>,
}

impl QueueTotals {
    pub fn add(&mut self, queue: &InboundQueue, drain: Option<QueueDrain>) {
        self.capacity = queue.capacity;
        self.enqueued_count += queue.enqueued_count;
        self.dropped_count += queue.dropped_count;
        self.depth_max = self.depth_max.max(queue.depth_max);
        if let Some(d) = drain {
            self.dequeued_count += d.dequeued_count;
            match &mut self.wait_us {
                Some(h) => {
                    let _ = h.add(&d.wait_us);
                }
                None => self.wait_us = Some(d.wait_us),
            }
        }
    }

    pub fn to_json(&self, run: Duration) -> Value {
        let secs = run.as_secs_f64().max(1e-9);
        let mut v = json!({
            "capacity": self.capacity,
            "depth-max": self.depth_max,
            "enqueued-count": self.enqueued_count,
            "dropped-count": self.dropped_count,
            "enqueue-rate": self.enqueued_count as f64 / secs,
            "dequeued-count": self.dequeued_count,
            "dequeue-rate": self.dequeued_count as f64 / secs,
        });
        if let Some(h) = &self.wait_us {
            let q = |p: f64| h.value_at_quantile(p) as f64 / 1000.0;
            v["time-in-queue-ms"] = json!({
                "0.5": q(0.5), "0.95": q(0.95), "0.99": q(0.99), "1": h.max() as f64 / 1000.0,
            });
        }
        v
    }
}
