//! Checking a finished test: Maelstrom's results sections.

use lightcone_check::{availability, stats, Validity};
use serde_json::{Map, Value};

use crate::Test;

/// The verdict of a run and the sections of results.json that come from
/// the history and the network.
#[derive(Debug, Clone)]
pub struct Checked {
    pub valid: Validity,
    /// `stats`, `net`, `availability`, `workload`, `valid`, in Maelstrom's
    /// key names.
    pub sections: Map<String, Value>,
    /// One sentence per problem, prefixed by the section that found it.
    pub problems: Vec<String>,
    /// The verdict Maelstrom's checkers would give; differs from `valid`
    /// only where lightcone is deliberately stricter.
    pub maelstrom_valid: Validity,
    /// The problems (also in `problems`, prefixed the same way) that
    /// Maelstrom's checkers do not report.
    pub beyond_maelstrom: Vec<String>,
}

impl Test {
    /// Runs every checker over the history recorded so far.
    pub fn check(&self) -> Checked {
        let history = self.history();
        let op_count = history
            .iter()
            .filter(|op| op.is_client() && op.is_invoke())
            .count() as u64;
        let checks = [
            ("stats", stats::check(history)),
            (
                "availability",
                availability::check(history, self.config().availability),
            ),
            ("workload", self.workload().check(history)),
        ];
        let mut valid = Validity::Valid;
        let mut maelstrom_valid = Validity::Valid;
        let mut sections = Map::new();
        let mut problems = Vec::new();
        let mut beyond_maelstrom = Vec::new();
        for (name, result) in checks {
            valid = valid.merge(result.valid);
            maelstrom_valid = maelstrom_valid.merge(result.maelstrom_valid);
            problems.extend(result.problems.iter().map(|p| format!("{name}: {p}")));
            beyond_maelstrom.extend(
                result
                    .beyond_maelstrom
                    .iter()
                    .map(|p| format!("{name}: {p}")),
            );
            sections.insert(name.to_string(), Value::Object(result.details));
        }
        sections.insert("net".into(), self.net_stats().to_json(op_count));
        sections.insert("valid".into(), valid.to_json());
        if maelstrom_valid != valid {
            sections.insert("maelstrom-valid".into(), maelstrom_valid.to_json());
        }
        Checked {
            valid,
            sections,
            problems,
            maelstrom_valid,
            beyond_maelstrom,
        }
    }
}

/// Formats a summary line of a `net` section.
pub fn net_summary(net: &Value) -> String {
    let get = |class: &str, key: &str| net[class][key].clone();
    let per_op = |class: &str| {
        net[class]["msgs-per-op"]
            .as_f64()
            .map(|v| format!(", {v:.2} msgs/op"))
            .unwrap_or_default()
    };
    let forwarded = net["forwarded-count"].as_u64().unwrap_or(0);
    format!(
        "net: servers sent {} msgs{}; all sent {}{}{}",
        get("servers", "msg-count"),
        per_op("servers"),
        get("all", "msg-count"),
        per_op("all"),
        if forwarded > 0 {
            format!("; {forwarded} sent by nodes as another id (forwarded client requests)")
        } else {
            String::new()
        }
    )
}
