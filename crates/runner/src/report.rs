//! What a run reports: workbench.json, the exit code, the summary screen,
//! and the inbound queue totals of a node across its processes.

use std::path::PathBuf;
use std::time::Duration;

use hdrhistogram::Histogram;
use lightcone_check::Validity;
use lightcone_core::{Ending, QueueStats, Results};
use serde::Serialize;

use crate::exit_code;
use crate::latency::quantiles_ms;
use crate::node::{InboundQueue, QueueDrain};

/// workbench.json: what depends on the wall clock and the machine, kept
/// out of results.json so that simulations of one seed compare byte for
/// byte.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Workbench {
    /// `process` or `simulation`.
    pub mode: &'static str,
    /// Wall time of the run.
    pub duration_s: f64,
    /// The workbench's own CPU time and peak memory (not its nodes').
    pub cpu_s: f64,
    pub peak_rss_mb: f64,
    /// Most events the test core held at once.
    pub event_queue_depth_max: usize,
    /// The node program (process mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bin: Option<PathBuf>,
    /// Wall seconds spent drawing and writing report.html.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_write_s: Option<f64>,
    /// Foreign nodes under the seed (`--sim --bin`): what waiting for
    /// them to go quiet cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seeded: Option<crate::seeded::SeededReport>,
    /// How fast a simulation ran (its keys sit beside the others).
    #[serde(flatten)]
    pub simulation: Option<SimulationSpeed>,
}

/// How fast a simulation ran.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SimulationSpeed {
    pub virtual_s: f64,
    /// Simulated seconds per wall second.
    pub speedup: f64,
    /// Wall time spent writing history.jsonl.
    pub history_write_s: f64,
    pub step_count: u64,
    pub steps_per_s: f64,
}

/// The result of one run.
#[derive(Debug)]
pub struct RunReport {
    pub dir: PathBuf,
    pub ending: Ending,
    /// What results.json holds.
    pub results: Results,
    /// What workbench.json holds.
    pub workbench: Workbench,
    /// One sentence per problem, prefixed by the section that found it.
    pub problems: Vec<String>,
    /// The problems (also in `problems`) Maelstrom's checkers do not report.
    pub beyond_maelstrom: Vec<String>,
    pub command_line: String,
}

impl RunReport {
    pub fn valid(&self) -> Validity {
        self.results.valid
    }

    pub fn exit_code(&self) -> i32 {
        match self.ending {
            Ending::Aborted(_) => exit_code::ABORTED,
            Ending::Interrupted => exit_code::INTERRUPTED,
            Ending::Completed => self.results.valid.exit_code(),
        }
    }

    /// The one-screen summary printed at the end of a run.
    pub fn summary(&self) -> String {
        let r = &self.results;
        let verdict = match &self.ending {
            Ending::Aborted(_) => "ABORTED".to_string(),
            Ending::Interrupted => format!("INTERRUPTED (what was recorded is {})", r.valid),
            Ending::Completed => r.valid.to_string().to_uppercase(),
        };
        let mut out = format!("\n{verdict}: {}\n", self.command_line);
        let aborted = matches!(self.ending, Ending::Aborted(_));
        if let Ending::Aborted(why) = &self.ending {
            out.push_str(&format!("  {why}\n"));
        }
        if let Some(maelstrom) = r.maelstrom_valid {
            out.push_str(&format!(
                "  Maelstrom's checkers would say {maelstrom}: lightcone is deliberately stricter \
                 here (the problems marked \"beyond Maelstrom\")\n"
            ));
        }
        let ops = &r.stats.details.all;
        out.push_str(&format!(
            "  ops: {} completed: {} ok, {} fail, {} info\n",
            ops.count, ops.ok_count, ops.fail_count, ops.info_count
        ));
        out.push_str(&format!("  {}\n", lightcone_core::net_summary(&r.net)));
        if aborted && ops.count == 0 {
            // Availability and the workload's verdict say nothing of a run
            // in which no client operation ran.
            out.push_str("  no client operation ran, so nothing was checked\n");
        } else {
            out.push_str(&self.checked_lines(aborted));
        }
        if r.malformed_lines.count > 0 {
            out.push_str(&format!(
                "  malformed lines from nodes: {} (see results.json)\n",
                r.malformed_lines.count
            ));
        }
        if r.malformed_reply_count > 0 {
            out.push_str(&format!(
                "  malformed replies to clients: {} (each such op is info, with what was wrong as \
                 its error; results.json lists the first ones with their node)\n",
                r.malformed_reply_count
            ));
        }
        let u = &r.unexpected_replies;
        if u.unknown_count + u.late_count > 0 {
            out.push_str(&format!(
                "  unexpected replies to clients, dropped: {} to no request sent, {} late or \
                 duplicate ({} to closed clients; results.json lists the first ones)\n",
                u.unknown_count, u.late_count, u.closed_client_count
            ));
        }
        for p in &self.problems {
            if self.beyond_maelstrom.contains(p) {
                out.push_str(&format!("  problem (beyond Maelstrom): {p}\n"));
            } else {
                out.push_str(&format!("  problem: {p}\n"));
            }
        }
        let report = if self.workbench.report_write_s.is_some() {
            "report.html, "
        } else {
            ""
        };
        out.push_str(&format!(
            "  results: {}/ ({report}results.json, history.jsonl, node-logs/); seed {}\n",
            self.dir.display(),
            r.seed
        ));
        out
    }

    /// The availability, workload and stable-latency lines. An aborted
    /// run's workload verdict is of what was recorded before the abort, and
    /// says so.
    fn checked_lines(&self, aborted: bool) -> String {
        let r = &self.results;
        let mut out = format!(
            "  availability: {:.2}% of requests ok",
            r.availability.details.ok_fraction * 100.0
        );
        // Degraded answers (lin-kv's read-degraded) are ok by the client's
        // count; the share without them is the strict availability.
        let ops = &r.stats.details.all;
        let degraded = r
            .stats
            .details
            .by_f
            .get("read-degraded")
            .map_or(0, |s| s.counts.ok_count);
        if degraded > 0 && ops.ok_count > 0 {
            let strict = ops.ok_count.saturating_sub(degraded) as f64 / ops.ok_count as f64;
            out.push_str(&format!(
                " ({:.2}% without the {degraded} degraded reads)",
                r.availability.details.ok_fraction * strict * 100.0
            ));
        }
        out.push('\n');
        let workload = serde_json::to_value(&r.workload.details).expect("details serialize");
        if aborted {
            out.push_str(&format!(
                "  workload (of what was recorded before the abort, which checks as {}): {}\n",
                r.workload.valid,
                scalars(&workload)
            ));
        } else {
            out.push_str(&format!(
                "  workload: {}, valid {}\n",
                scalars(&workload),
                r.workload.valid.to_json()
            ));
        }
        // A transactional check: Elle's anomaly types and the models ruled
        // out.
        for (key, label) in [
            ("anomaly-types", "anomaly types"),
            ("not", "not"),
            ("also-not", "also not"),
        ] {
            let names = names(workload.get(key));
            if !names.is_empty() {
                out.push_str(&format!("  {label}: {names}\n"));
            }
        }
        if let Some(latencies) = workload.get("stable-latencies").filter(|v| v.is_object()) {
            out.push_str(&format!(
                "  stable latencies (ms, quantile: value): {}\n",
                scalars(latencies)
            ));
        }
        out
    }
}

/// The strings of a JSON list, comma-separated (empty for anything else).
fn names(list: Option<&serde_json::Value>) -> String {
    list.and_then(serde_json::Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(serde_json::Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// `key value, key value` for the numbers and short values of a section.
fn scalars(section: &serde_json::Value) -> String {
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
    capacity_bytes: u64,
    enqueued_count: u64,
    pub dropped_count: u64,
    depth_max: usize,
    depth_bytes_max: u64,
    dequeued_count: u64,
    wait_us: Option<Histogram<u64>>,
}

impl QueueTotals {
    pub fn add(&mut self, queue: &InboundQueue, drain: Option<QueueDrain>) {
        self.capacity = queue.capacity;
        self.capacity_bytes = queue.capacity_bytes;
        self.enqueued_count += queue.enqueued_count;
        self.dropped_count += queue.dropped_count;
        self.depth_max = self.depth_max.max(queue.depth_max);
        self.depth_bytes_max = self.depth_bytes_max.max(queue.depth_bytes_max);
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

    pub fn stats(&self, run: Duration) -> QueueStats {
        let secs = run.as_secs_f64().max(1e-9);
        QueueStats {
            capacity: self.capacity,
            capacity_bytes: self.capacity_bytes,
            depth_max: self.depth_max,
            depth_bytes_max: self.depth_bytes_max,
            enqueued_count: self.enqueued_count,
            dropped_count: self.dropped_count,
            enqueue_rate: self.enqueued_count as f64 / secs,
            dequeued_count: self.dequeued_count,
            dequeue_rate: self.dequeued_count as f64 / secs,
            // Microseconds.
            time_in_queue_ms: self.wait_us.as_ref().map(|h| quantiles_ms(h, 1000.0)),
        }
    }
}
