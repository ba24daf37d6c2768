//! What a run found: the checkers' verdicts ([`Checked`], from
//! [`Test::check`]) and results.json as a type ([`Results`]), the same in
//! process mode and in simulation.
//!
//! In simulation results.json holds only what follows from the seed and
//! the nodes' behaviour, so two simulations of one seed write identical
//! bytes; wall-clock facts go to workbench.json (the runner's). Process mode
//! adds one wall-clock section, `workbench` ([`WorkbenchCost`]): what the
//! workbench itself cost and how long messages spent inside it.

use std::collections::BTreeMap;

use lightcone_check::{availability, stats, Section, Validity};
use lightcone_proto::Map;
use lightcone_workload::WorkloadDetails;
use serde::Serialize;

use crate::network::NetSection;
use crate::Test;

/// The verdict of a run and the sections that come from the history and
/// the network.
#[derive(Debug, Clone)]
pub struct Checked {
    pub valid: Validity,
    /// The verdict Maelstrom's checkers would give; differs from `valid`
    /// only where lightcone is deliberately stricter.
    pub maelstrom_valid: Validity,
    /// One sentence per problem, prefixed by the section that found it.
    pub problems: Vec<String>,
    /// The problems (also in `problems`, prefixed the same way) that
    /// Maelstrom's checkers do not report.
    pub beyond_maelstrom: Vec<String>,
    pub stats: Section<stats::Details>,
    pub availability: Section<availability::Details>,
    pub workload: Section<WorkloadDetails>,
    pub net: NetSection,
}

impl Test {
    /// Runs every checker over the history recorded so far.
    pub fn check(&self) -> Checked {
        let history = self.history();
        let op_count = history
            .iter()
            .filter(|op| op.is_client() && op.is_invoke())
            .count() as u64;
        let stats = stats::check(history);
        let availability = availability::check(history, self.config().availability);
        let workload = self.workload().check(history);
        let verdicts = [
            ("stats", stats.valid, stats.maelstrom_valid),
            (
                "availability",
                availability.valid,
                availability.maelstrom_valid,
            ),
            ("workload", workload.valid, workload.maelstrom_valid),
        ];
        let mut problems = Vec::new();
        let mut beyond_maelstrom = Vec::new();
        for (name, found, beyond) in [
            ("stats", &stats.problems, &stats.beyond_maelstrom),
            (
                "availability",
                &availability.problems,
                &availability.beyond_maelstrom,
            ),
            ("workload", &workload.problems, &workload.beyond_maelstrom),
        ] {
            problems.extend(found.iter().map(|p| format!("{name}: {p}")));
            beyond_maelstrom.extend(beyond.iter().map(|p| format!("{name}: {p}")));
        }
        let merged = |pick: fn(&(&str, Validity, Validity)) -> Validity| {
            verdicts
                .iter()
                .map(pick)
                .fold(Validity::Valid, Validity::merge)
        };
        Checked {
            valid: merged(|v| v.1),
            maelstrom_valid: merged(|v| v.2),
            problems,
            beyond_maelstrom,
            stats: stats.into_section(),
            availability: availability.into_section(),
            workload: workload.into_section(),
            net: NetSection {
                message_log_truncated_count: self.message_log().truncated_count,
                ..self.net_stats().section(op_count)
            },
        }
    }
}

/// results.json: Maelstrom's sections (`stats`, `availability`,
/// `workload`, `net`, `valid`) with Maelstrom's key names, then lightcone's
/// own.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Results {
    pub stats: Section<stats::Details>,
    pub availability: Section<availability::Details>,
    pub workload: Section<WorkloadDetails>,
    pub net: NetSection,
    pub valid: Validity,
    /// The verdict Maelstrom's checkers would give, where it differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maelstrom_valid: Option<Validity>,
    /// Per node: what its processes did.
    pub nodes: BTreeMap<String, NodeFacts>,
    pub malformed_lines: MalformedLines,
    /// Replies to clients that the workload could not read.
    pub malformed_reply_count: u64,
    /// The first of them, each with its node and what was wrong; absent
    /// when there were none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub malformed_replies: Vec<crate::test::MalformedReply>,
    /// Replies to clients that answered no request in flight (duplicates,
    /// late, or naming no request), dropped by the clients and counted.
    pub unexpected_replies: crate::test::UnexpectedReplies,
    pub seed: u64,
    /// Stopped by Ctrl-C: what was recorded was checked.
    pub interrupted: bool,
    /// Why the run stopped early, because of a node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aborted: Option<String>,
    /// The workbench's own cost (process mode; absent in simulation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workbench: Option<WorkbenchCost>,
}

/// How a run ended, as results.json records it.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    Completed,
    /// Stopped early because of a node; why.
    Aborted(String),
    /// Stopped by Ctrl-C.
    Interrupted,
}

impl Results {
    /// results.json of `test`, whose history `checked` judged; `nodes` and
    /// `malformed_lines` are what the mode measured. An aborted run's
    /// verdict is unknown, whatever was recorded.
    pub fn new(
        test: &Test,
        checked: Checked,
        mut nodes: BTreeMap<String, NodeFacts>,
        malformed_lines: MalformedLines,
        ending: &Ending,
    ) -> Results {
        for (id, fields) in test.node_info() {
            if let Some(facts) = nodes.get_mut(id) {
                facts.init_ok = Some(fields.clone());
            }
        }
        let (valid, maelstrom_valid, aborted) = match ending {
            Ending::Aborted(why) => (Validity::Unknown, None, Some(why.clone())),
            _ => (
                checked.valid,
                (checked.maelstrom_valid != checked.valid).then_some(checked.maelstrom_valid),
                None,
            ),
        };
        Results {
            stats: checked.stats,
            availability: checked.availability,
            workload: checked.workload,
            net: checked.net,
            valid,
            maelstrom_valid,
            nodes,
            malformed_lines,
            malformed_reply_count: test.malformed_reply_count(),
            malformed_replies: test.malformed_replies().to_vec(),
            unexpected_replies: test.unexpected_replies().clone(),
            seed: test.config().seed,
            interrupted: *ending == Ending::Interrupted,
            aborted,
            workbench: None,
        }
    }
}

/// What one node's processes did.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct NodeFacts {
    /// The fields of its `init_ok` beyond type and ids (e.g. `sdk`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_ok: Option<Map>,
    /// Its inbound queue, over all its processes (process mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueStats>,
    /// Starts, the first included.
    pub start_count: u64,
    /// Lines of its stdout that were not valid messages (process mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub malformed_line_count: Option<u64>,
    /// Lines of its stdout that were not valid UTF-8, read with
    /// replacement characters (process mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_utf8_line_count: Option<u64>,
    /// Bytes of its stderr cut from its log, past `--node-log-bytes-max`
    /// (process mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_bytes_cut: Option<u64>,
    /// How its last process ended, when it exited on its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<String>,
}

/// A node's inbound queue, measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct QueueStats {
    pub capacity: usize,
    pub capacity_bytes: u64,
    pub depth_max: usize,
    pub depth_bytes_max: u64,
    pub enqueued_count: u64,
    pub dropped_count: u64,
    /// Per second of the run.
    pub enqueue_rate: f64,
    pub dequeued_count: u64,
    pub dequeue_rate: f64,
    /// From enqueue to the write into the node's stdin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_in_queue_ms: Option<Quantiles>,
}

/// Quantiles of a measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quantiles {
    #[serde(rename = "0.5")]
    pub median: f64,
    #[serde(rename = "0.95")]
    pub p95: f64,
    #[serde(rename = "0.99")]
    pub p99: f64,
    #[serde(rename = "1")]
    pub max: f64,
}

/// What the workbench itself cost in a process-mode run, measured by the
/// runner on the wall clock (its own CPU and memory, not its nodes').
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct WorkbenchCost {
    /// Wall time of the run.
    pub duration_s: f64,
    /// CPU time of the workbench's threads, user and system.
    pub cpu_s: f64,
    /// `cpu-s / duration-s`: the share of one core, over the whole run
    /// (whose end is the mostly idle recovery wait).
    pub cpu_share: f64,
    /// The share of one core over the main phase alone (the workload
    /// running); absent when the run never reached it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main_cpu_share: Option<f64>,
    pub peak_rss_bytes: u64,
    /// The queue of lines from the nodes' reader threads to the main
    /// loop: its bound (readers wait at it, and the nodes' pipes push
    /// back) and the most lines it held.
    pub reader_queue_capacity: usize,
    pub reader_queue_depth_max: usize,
    /// Messages routed per second of the run (`message-latency-ms.count`
    /// over `duration-s`).
    pub routed_per_s: f64,
    pub message_latency_ms: MessageLatency,
}

/// The time a message spends inside the workbench: from when its line is
/// read off the sender's stdout to when it is written into the
/// destination's stdin (or, for a reply to a client, handled), less the
/// network latency it was held for on purpose. Every message delivered to
/// a node (from a node, a client or a service; those the workbench makes
/// start when they are made) and every node's reply to a client is
/// counted; requests to services are not.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct MessageLatency {
    #[serde(flatten)]
    pub total: TimeQuantiles,
    /// Stages: from the read off a node's pipe until the main loop takes
    /// the line (each line a node printed).
    pub reader_queue: TimeQuantiles,
    /// The main loop's work on one line: routing it and carrying out what
    /// follows (each line).
    pub handling: TimeQuantiles,
    /// From when a delivery was due to when the main loop queued it for
    /// the node's stdin (each delivery).
    pub lateness: TimeQuantiles,
    /// From that queueing to the write into the node's stdin (each
    /// delivery written).
    pub writer_queue: TimeQuantiles,
}

/// Quantiles of a time in ms, with how many were measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeQuantiles {
    pub count: u64,
    #[serde(flatten)]
    pub ms: Quantiles,
}

/// Lines from nodes that were not valid messages.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MalformedLines {
    pub count: u64,
    /// The first few, each naming the node and line.
    pub samples: Vec<String>,
}

/// Formats a summary line of a `net` section.
pub fn net_summary(net: &NetSection) -> String {
    let per_op = |v: Option<f64>| v.map(|v| format!(", {v:.2} msgs/op")).unwrap_or_default();
    format!(
        "net: servers sent {} msgs{}; all sent {}{}{}",
        net.servers.msg_count,
        per_op(net.servers.msgs_per_op),
        net.all.msg_count,
        per_op(net.all.msgs_per_op),
        if net.forwarded_count > 0 {
            format!(
                "; {} sent by nodes as another id (forwarded client requests)",
                net.forwarded_count
            )
        } else {
            String::new()
        }
    )
}
