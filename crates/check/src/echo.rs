//! The echo workload's checker: every acknowledged echo returns what was sent.

use lightcone_history::{History, OpType, Process};
use serde::Serialize;
use serde_json::Value;

use crate::{plural, CheckResult, Validity};

/// How many mismatches the details list; the count covers all of them.
const ERRORS_SHOWN_MAX: usize = 20;

/// The echo checker's section of results.json.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Details {
    /// Echoes that came back different, all of them.
    pub error_count: usize,
    /// The first of them.
    pub errors: Vec<EchoError>,
}

/// An echo that came back different.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EchoError {
    pub process: Process,
    pub expected: Value,
    pub received: Value,
}

/// Checks that each `echo` invocation completed `ok` carries the value that
/// was sent. Fails and indeterminate completions say nothing about the echo,
/// so they are skipped; with no mismatch the history is valid, even if no
/// echo succeeded (availability is the availability checker's question).
pub fn check(history: &History) -> CheckResult<Details> {
    let mut errors = Vec::new();
    let mut error_count = 0usize;
    for (invoke, completion) in history.pairs() {
        let Some(done) = completion else { continue };
        if invoke.f != "echo" || done.kind != OpType::Ok || done.value == invoke.value {
            continue;
        }
        error_count += 1;
        if errors.len() < ERRORS_SHOWN_MAX {
            errors.push(EchoError {
                process: invoke.process,
                expected: invoke.value.clone(),
                received: done.value.clone(),
            });
        }
    }

    let mut problems = Vec::new();
    let valid = if error_count == 0 {
        Validity::Valid
    } else {
        let first = &errors[0];
        problems.push(format!(
            "{} did not return what was sent; the first: process {} sent {} and received {}",
            plural(error_count, "echo"),
            first.process,
            first.expected,
            first.received,
        ));
        Validity::Invalid
    };
    CheckResult::new(
        valid,
        problems,
        Details {
            error_count,
            errors,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{invoke, nemesis, ok, op};
    use serde_json::json;

    #[test]
    fn matching_echoes_are_valid() {
        let h: History = [
            invoke(0, "echo", json!("a"), 1),
            nemesis("start-partition", 2),
            ok(0, "echo", json!("a"), 3),
            invoke(0, "echo", json!({"nested": [1, 2]}), 4),
            ok(0, "echo", json!({"nested": [1, 2]}), 5),
        ]
        .into_iter()
        .collect();
        let r = check(&h);
        assert_eq!(r.valid, Validity::Valid);
        assert!(r.problems.is_empty());
        assert_eq!(r.details.error_count, 0);
        assert_eq!(r.valid, Validity::Valid);
    }

    #[test]
    fn mismatch_is_caught() {
        let h: History = [
            invoke(0, "echo", json!("a"), 1),
            invoke(1, "echo", json!("b"), 2),
            ok(1, "echo", json!("b"), 3),
            ok(0, "echo", json!("wrong"), 4),
        ]
        .into_iter()
        .collect();
        let r = check(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.details.error_count, 1);
        assert_eq!(
            crate::testing::to_json(&r.details.errors),
            json!([{"expected": "a", "received": "wrong", "process": 0}])
        );
        assert_eq!(r.problems.len(), 1);
        assert!(
            r.problems[0].contains("1 echo did not"),
            "{}",
            r.problems[0]
        );
        assert!(r.problems[0].contains("\"wrong\""), "{}", r.problems[0]);
    }

    #[test]
    fn failed_and_indeterminate_echoes_are_not_mismatches() {
        let h: History = [
            invoke(0, "echo", json!("a"), 1),
            op(0, OpType::Fail, "echo", Value::Null, 2),
            invoke(1, "echo", json!("b"), 3),
            op(1, OpType::Info, "echo", Value::Null, 4),
            invoke(2, "echo", json!("c"), 5),
        ]
        .into_iter()
        .collect();
        let r = check(&h);
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(check(&History::default()).valid, Validity::Valid);
    }

    #[test]
    fn errors_list_is_capped_but_counted() {
        let mut h = History::default();
        for i in 0..30u64 {
            h.push(invoke(i, "echo", json!(i), i * 10));
            h.push(ok(i, "echo", json!(i + 1), i * 10 + 5));
        }
        let r = check(&h);
        assert_eq!(r.details.error_count, 30);
        assert_eq!(r.details.errors.len(), 20);
    }
}
