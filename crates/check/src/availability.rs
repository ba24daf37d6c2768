//! Maelstrom's availability checker: did enough operations succeed?

use lightcone_history::{History, OpType};
use serde::Serialize;

use crate::{CheckResult, Validity};

/// The availability a test demands (Maelstrom's `--availability`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Availability {
    /// Every operation must succeed.
    Total,
    /// At least this fraction (0 to 1) of operations must succeed.
    Fraction(f64),
}

/// The availability checker's section of results.json.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Details {
    /// Client invocations that completed `ok`, out of all of them (1 when
    /// nothing was invoked).
    pub ok_fraction: f64,
}

/// Computes the fraction of client invocations that completed `ok` (1.0 when
/// nothing was invoked) and compares it with `required`; with no requirement
/// the history is always valid and the fraction is only reported.
pub fn check(history: &History, required: Option<Availability>) -> CheckResult<Details> {
    let clients = history.iter().filter(|op| op.is_client());
    let (mut invoked, mut succeeded) = (0usize, 0usize);
    for op in clients {
        match op.kind {
            OpType::Invoke => invoked += 1,
            OpType::Ok => succeeded += 1,
            OpType::Fail | OpType::Info => {}
        }
    }
    let ok_fraction = if invoked == 0 {
        1.0
    } else {
        succeeded as f64 / invoked as f64
    };

    let (valid, problems) = match required {
        None => (Validity::Valid, vec![]),
        Some(Availability::Total) if ok_fraction < 1.0 => (
            Validity::Invalid,
            vec![format!(
                "only {} of operations succeeded; --availability total requires all",
                percent(ok_fraction)
            )],
        ),
        Some(Availability::Fraction(a)) if ok_fraction < a => (
            Validity::Invalid,
            vec![format!(
                "only {} of operations succeeded; --availability {a} requires at least {}",
                percent(ok_fraction),
                percent(a)
            )],
        ),
        Some(_) => (Validity::Valid, vec![]),
    };
    CheckResult::new(valid, problems, Details { ok_fraction })
}

/// Formats a fraction as a percentage with one decimal, rounding down so that
/// 99.96% never reads as a passing "100.0%".
fn percent(fraction: f64) -> String {
    // The epsilon keeps 0.973 (stored as 0.97299999...) at 97.3%.
    let tenths = (fraction * 1000.0 + 1e-9).floor() / 10.0;
    format!("{tenths:.1}%")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{invoke, nemesis, op};
    use serde_json::{json, Value};

    /// `n` invocations of which the first `oks` succeed and the rest fail,
    /// plus nemesis noise that must not count.
    fn history(n: u64, oks: u64) -> History {
        let mut h = History::default();
        h.push(nemesis("start-partition", 0));
        for i in 0..n {
            h.push(invoke(i, "read", Value::Null, i * 10 + 1));
            let kind = if i < oks { OpType::Ok } else { OpType::Fail };
            h.push(op(i, kind, "read", Value::Null, i * 10 + 2));
        }
        h.push(nemesis("stop-partition", n * 10 + 5));
        h
    }

    #[test]
    fn total_requires_every_invocation_to_succeed() {
        let all = check(&history(4, 4), Some(Availability::Total));
        assert_eq!(all.valid, Validity::Valid);
        assert_eq!(
            crate::testing::to_json(&all.details.ok_fraction),
            json!(1.0)
        );

        let most = check(&history(4, 3), Some(Availability::Total));
        assert_eq!(most.valid, Validity::Invalid);
        assert_eq!(
            crate::testing::to_json(&most.details.ok_fraction),
            json!(0.75)
        );
        assert_eq!(
            most.problems,
            ["only 75.0% of operations succeeded; --availability total requires all"]
        );
    }

    #[test]
    fn fraction_is_a_lower_bound() {
        let h = history(4, 3);
        assert_eq!(
            check(&h, Some(Availability::Fraction(0.75))).valid,
            Validity::Valid
        );
        assert_eq!(
            check(&h, Some(Availability::Fraction(0.5))).valid,
            Validity::Valid
        );
        let strict = check(&h, Some(Availability::Fraction(0.8)));
        assert_eq!(strict.valid, Validity::Invalid);
        assert!(
            strict.problems[0].contains("at least 80.0%"),
            "{}",
            strict.problems[0]
        );
    }

    #[test]
    fn no_requirement_is_valid_and_pending_invocations_count_against() {
        let mut h = history(2, 2);
        h.push(invoke(7, "read", Value::Null, 100));
        let r = check(&h, None);
        assert_eq!(r.valid, Validity::Valid);
        assert!(r.problems.is_empty());
        assert_eq!(r.details.ok_fraction, 2.0 / 3.0);
        assert_eq!(
            check(&h, Some(Availability::Total)).valid,
            Validity::Invalid
        );
    }

    #[test]
    fn nothing_invoked_is_fully_available() {
        let r = check(&History::default(), Some(Availability::Total));
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(crate::testing::to_json(&r.details.ok_fraction), json!(1.0));
    }

    #[test]
    fn percent_rounds_down() {
        assert_eq!(percent(0.9999), "99.9%");
        assert_eq!(percent(0.973), "97.3%");
        assert_eq!(percent(1.0), "100.0%");
    }
}
