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
//! types: `lightcone-linear` (linearizability, lin-kv), `lightcone-kafka`
//! (Jepsen's kafka analysis) and `lightcone-txn` (Elle's transactional
//! analysis, with its consistency models).
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
//! assert_eq!(echoed.details.error_count, 1);
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
pub mod counter;
pub mod echo;
pub mod set_full;
pub mod stats;
pub mod unique_ids;
mod validity;

pub use availability::Availability;
pub use validity::Validity;

use serde::Serialize;

/// What one checker found: the verdict, sentences for people, and the
/// checker's own details type (serialisable, with Maelstrom's kebab-case
/// key names), which becomes its section of results.json.
#[derive(Debug, Clone)]
pub struct CheckResult<D> {
    pub valid: Validity,
    /// Short human sentences naming each problem found, e.g. "3 acknowledged
    /// messages were lost: 4, 17, 23". Empty when nothing is wrong.
    pub problems: Vec<String>,
    pub details: D,
    /// The verdict Maelstrom's own checker would give the same history.
    /// It differs from `valid` only where lightcone is deliberately stricter;
    /// those problems are listed in `beyond_maelstrom` as well.
    pub maelstrom_valid: Validity,
    /// The problems (also in `problems`) that Maelstrom's checker does not
    /// report, each saying so.
    pub beyond_maelstrom: Vec<String>,
}

impl<D> CheckResult<D> {
    pub fn new(valid: Validity, problems: Vec<String>, details: D) -> CheckResult<D> {
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
    /// (already in `problems`) it would not report.
    pub fn beyond_maelstrom(mut self, maelstrom: Validity, beyond: Vec<String>) -> CheckResult<D> {
        if beyond.is_empty() {
            return self;
        }
        self.maelstrom_valid = maelstrom;
        self.beyond_maelstrom = beyond;
        self
    }

    /// The same result with its details turned into another type (a
    /// workload's enum of its checkers' details).
    pub fn map<E>(self, f: impl FnOnce(D) -> E) -> CheckResult<E> {
        CheckResult {
            valid: self.valid,
            problems: self.problems,
            details: f(self.details),
            maelstrom_valid: self.maelstrom_valid,
            beyond_maelstrom: self.beyond_maelstrom,
        }
    }

    /// The checker's section of results.json, owned.
    pub fn into_section(self) -> Section<D> {
        let maelstrom_valid = self.stricter().then_some(self.maelstrom_valid);
        Section {
            details: self.details,
            valid: self.valid,
            maelstrom_valid,
            beyond_maelstrom: self.beyond_maelstrom,
        }
    }

    /// Whether lightcone's verdict is stricter than Maelstrom's here.
    fn stricter(&self) -> bool {
        self.maelstrom_valid != self.valid || !self.beyond_maelstrom.is_empty()
    }

    /// The checker's section of results.json.
    pub fn section(&self) -> Section<&D> {
        Section {
            details: &self.details,
            valid: self.valid,
            maelstrom_valid: (self.maelstrom_valid != self.valid
                || !self.beyond_maelstrom.is_empty())
            .then_some(self.maelstrom_valid),
            beyond_maelstrom: self.beyond_maelstrom.clone(),
        }
    }
}

/// A checker's section of results.json: its details, then `valid`, and
/// where lightcone is stricter than Maelstrom, `maelstrom-valid` (the
/// verdict Maelstrom's checker would give) and `beyond-maelstrom` (the
/// problems it would not report).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Section<D> {
    #[serde(flatten)]
    pub details: D,
    pub valid: Validity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maelstrom_valid: Option<Validity>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub beyond_maelstrom: Vec<String>,
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

    /// A typed detail as JSON, to compare with what results.json shows.
    pub fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
        serde_json::to_value(value).expect("details serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Serialize)]
    #[serde(rename_all = "kebab-case")]
    struct Counted {
        op_count: usize,
    }

    #[test]
    fn a_section_is_the_details_then_the_verdict() {
        let r = CheckResult::new(Validity::Unknown, vec![], Counted { op_count: 3 });
        assert_eq!(
            serde_json::to_string(&r.section()).unwrap(),
            r#"{"op-count":3,"valid":"unknown"}"#
        );
        let stricter =
            CheckResult::new(Validity::Invalid, vec!["x".into()], Counted { op_count: 1 })
                .beyond_maelstrom(Validity::Valid, vec!["x".into()]);
        assert_eq!(
            serde_json::to_value(stricter.section()).unwrap(),
            json!({"op-count": 1, "valid": false, "maelstrom-valid": true, "beyond-maelstrom": ["x"]})
        );
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
