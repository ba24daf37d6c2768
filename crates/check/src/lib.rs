//! Checkers: pure functions from an operation history to a verdict.
//!
//! Each checker module exposes one `check` function that reads a
//! [`History`](lightcone_history::History) and returns a [`CheckResult`]:
//! a three-valued [`Validity`], short sentences naming each problem, and
//! machine-readable details under the key names Maelstrom prints in its
//! results (kebab-case, always including `"valid"`). Checkers do no
//! I/O and look only at client operations; the nemesis's ops are ignored.
//!
//! | module | workload | Jepsen/Maelstrom original |
//! |---|---|---|
//! | [`echo`] | echo | Maelstrom's echo checker |
//! | [`unique_ids`] | unique-ids | `jepsen.checker/unique-ids` |
//! | [`set_full`] | broadcast, g-set | `jepsen.checker/set-full` |
//! | [`counter`] | g-counter, pn-counter | Maelstrom's counter checker |
//! | [`stats`] | all | `jepsen.checker/stats` |
//! | [`availability`] | all | Maelstrom's availability checker |
//!
//! The other families of checkers have crates of their own, built on these
//! types: `lightcone-linear` (linearizability, lin-kv) and `lightcone-kafka`
//! (Jepsen's kafka analysis). [`consistency`] holds Elle's model names.
//! Verdicts of several checkers combine with [`Validity::merge`].
//!
//! ```
//! use lightcone_check::{availability, echo, stats, Validity};
//! use lightcone_history::{History, Op, OpType, Process};
//! use serde_json::json;
//!
//! let mut h = History::default();
//! h.push(Op::new(Process::Client(0), OpType::Invoke, "echo", json!("hi")).at(1_000));
//! h.push(Op::new(Process::Client(0), OpType::Ok, "echo", json!("hi")).at(2_000));
//! h.push(Op::new(Process::Client(1), OpType::Invoke, "echo", json!("yo")).at(3_000));
//! h.push(Op::new(Process::Client(1), OpType::Ok, "echo", json!("oy")).at(4_000));
//!
//! let echoed = echo::check(&h);
//! assert_eq!(echoed.valid, Validity::Invalid);
//! assert_eq!(echoed.details["error-count"], json!(1));
//! assert!(echoed.problems[0].contains("\"oy\""));
//!
//! let overall = [
//!     echoed.valid,
//!     stats::check(&h).valid,
//!     availability::check(&h, Some(availability::Availability::Total)).valid,
//! ]
//! .into_iter()
//! .fold(Validity::Valid, Validity::merge);
//! assert_eq!(overall, Validity::Invalid);
//! assert_eq!(overall.exit_code(), 1);
//! ```

pub mod availability;
pub mod consistency;
pub mod counter;
pub mod echo;
pub mod set_full;
pub mod stats;
pub mod unique_ids;
mod validity;

pub use availability::Availability;
pub use validity::Validity;

use serde_json::{Map, Value};

/// What one checker found.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub valid: Validity,
    /// Short human sentences naming each problem found, e.g. "3 acknowledged
    /// messages were lost: 4, 17, 23". Empty when nothing is wrong.
    pub problems: Vec<String>,
    /// Machine-readable details in Maelstrom's kebab-case key names, always
    /// including "valid" (as [`Validity::to_json`]).
    pub details: Map<String, Value>,
    /// The verdict Maelstrom's own checker would give the same history.
    /// It differs from `valid` only where lightcone is deliberately stricter;
    /// those problems are listed in `beyond_maelstrom` as well.
    pub maelstrom_valid: Validity,
    /// The problems (also in `problems`) that Maelstrom's checker does not
    /// report, each saying so.
    pub beyond_maelstrom: Vec<String>,
}

impl CheckResult {
    /// Builds a result whose details hold `"valid"` as the verdict, in place
    /// of any `"valid"` the checker put in `rest`. (JSON objects are written
    /// with their keys sorted: see ARCHITECTURE.md.)
    pub fn new(valid: Validity, problems: Vec<String>, rest: Map<String, Value>) -> CheckResult {
        let mut details = rest;
        details.insert("valid".to_string(), valid.to_json());
        CheckResult {
            valid,
            problems,
            details,
            maelstrom_valid: valid,
            beyond_maelstrom: Vec::new(),
        }
    }

    /// Marks the result as stricter than Maelstrom's checker: `maelstrom`
    /// is the verdict Maelstrom would give, and `beyond` the problems
    /// (already in `problems`) it would not report. The details gain
    /// `maelstrom-valid` and `beyond-maelstrom` when there is any.
    pub fn beyond_maelstrom(mut self, maelstrom: Validity, beyond: Vec<String>) -> CheckResult {
        if beyond.is_empty() {
            return self;
        }
        self.details
            .insert("maelstrom-valid".to_string(), maelstrom.to_json());
        self.details.insert(
            "beyond-maelstrom".to_string(),
            Value::Array(beyond.iter().cloned().map(Value::String).collect()),
        );
        self.maelstrom_valid = maelstrom;
        self.beyond_maelstrom = beyond;
        self
    }
}

/// Joins the first `shown_max` items for a problem sentence, saying how many
/// were left out so a long list never floods the summary.
pub fn list_some<I: IntoIterator<Item = String>>(
    items: I,
    total: usize,
    shown_max: usize,
) -> String {
    let shown: Vec<String> = items.into_iter().take(shown_max).collect();
    let mut text = shown.join(", ");
    if total > shown.len() {
        text.push_str(&format!(" and {} more", total - shown.len()));
    }
    text
}

/// "1 element" / "3 elements".
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Builders for the histories the unit tests feed the checkers.
#[cfg(test)]
mod testing {
    pub use lightcone_history::build::{invoke, nemesis, ok, op};
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_verdict_overrides_a_valid_key_of_the_checker() {
        let mut rest = Map::new();
        rest.insert("count".to_string(), json!(3));
        rest.insert("valid".to_string(), json!(true));
        let r = CheckResult::new(Validity::Unknown, vec![], rest);
        assert_eq!(r.details.len(), 2);
        assert_eq!(r.details["count"], json!(3));
        assert_eq!(r.details["valid"], json!("unknown"));
    }

    #[test]
    fn list_some_says_how_many_were_left_out() {
        let items = (1..=5).map(|i| i.to_string());
        assert_eq!(list_some(items.clone(), 5, 3), "1, 2, 3 and 2 more");
        assert_eq!(list_some(items, 5, 10), "1, 2, 3, 4, 5");
        assert_eq!(plural(1, "read"), "1 read");
        assert_eq!(plural(2, "read"), "2 reads");
    }
}
