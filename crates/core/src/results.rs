//! What a run found: the checkers' verdicts ([`Checked`], from
//! [`Test::check`]) and results.json as a type ([`Results`]), the same in
//! process mode and in simulation.
//!
//! results.json holds only what follows from the seed and the nodes'
//! behaviour, so two simulations of one seed write identical bytes;
//! wall-clock facts go to workbench.json (the runner's).

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
