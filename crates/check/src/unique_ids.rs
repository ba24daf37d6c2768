//! The unique-ids workload's checker (Jepsen's `unique-ids`): no id is
//! handed out twice.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use lightcone_history::{History, OpType};
use serde::Serialize;
use serde_json::Value;

use crate::{list_some, plural, CheckResult, Validity};

/// How many duplicated ids the details list. Jepsen keeps 48; the count
/// covers all of them either way.
const DUPLICATED_SHOWN_MAX: usize = 32;
/// How many duplicated ids the problem sentence names.
const DUPLICATED_NAMED_MAX: usize = 8;

/// The unique-ids checker's section of results.json (Jepsen's keys).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Details {
    pub attempted_count: usize,
    pub acknowledged_count: usize,
    pub duplicated_count: usize,
    /// The most often returned duplicates (their JSON text -> times
    /// returned), the first 32.
    pub duplicated: BTreeMap<String, usize>,
    /// The lowest and highest acknowledged id.
    pub range: Option<(Value, Value)>,
}

/// Checks the `generate` operations: every id acknowledged (the `ok` value,
/// any JSON) must be distinct. Ids are compared by their JSON text, so `1`
/// and `"1"` are different ids.
pub fn check(history: &History) -> CheckResult<Details> {
    let mut attempted_count = 0usize;
    let mut acknowledged_count = 0usize;
    // JSON text -> (times returned, the id).
    let mut seen: BTreeMap<String, (usize, &Value)> = BTreeMap::new();
    let mut range: Option<(&Value, &Value)> = None;
    for op in history
        .iter()
        .filter(|op| op.is_client() && op.f == "generate")
    {
        match op.kind {
            OpType::Invoke => attempted_count += 1,
            OpType::Ok => {
                acknowledged_count += 1;
                let text = serde_json::to_string(&op.value).expect("a JSON value serializes");
                seen.entry(text).or_insert((0, &op.value)).0 += 1;
                range = Some(match range {
                    None => (&op.value, &op.value),
                    Some((low, high)) => (
                        if compare_ids(&op.value, low).is_lt() {
                            &op.value
                        } else {
                            low
                        },
                        if compare_ids(&op.value, high).is_gt() {
                            &op.value
                        } else {
                            high
                        },
                    ),
                });
            }
            OpType::Fail | OpType::Info => {}
        }
    }

    // Most frequent first; among equals, in id order, so output is stable.
    let mut duplicated: Vec<(&String, usize, &Value)> = seen
        .iter()
        .filter(|(_, (n, _))| *n > 1)
        .map(|(text, (n, id))| (text, *n, *id))
        .collect();
    duplicated.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| compare_ids(a.2, b.2)));

    let mut problems = Vec::new();
    let valid = if duplicated.is_empty() {
        Validity::Valid
    } else {
        let were = if duplicated.len() == 1 { "was" } else { "were" };
        problems.push(format!(
            "{} {were} returned more than once: {}",
            plural(duplicated.len(), "id"),
            list_some(
                duplicated
                    .iter()
                    .map(|(text, n, _)| format!("{text} ({n} times)")),
                duplicated.len(),
                DUPLICATED_NAMED_MAX,
            )
        ));
        Validity::Invalid
    };

    let details = Details {
        attempted_count,
        acknowledged_count,
        duplicated_count: duplicated.len(),
        duplicated: duplicated
            .iter()
            .take(DUPLICATED_SHOWN_MAX)
            .map(|(text, n, _)| ((*text).clone(), *n))
            .collect(),
        range: range.map(|(low, high)| (low.clone(), high.clone())),
    };
    CheckResult::new(valid, problems, details)
}

/// Orders ids for the range: numbers numerically and before anything else,
/// everything else by JSON text (Jepsen's `compare` has no order across
/// types; this one is total so mixed ids still yield a range).
fn compare_ids(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let exact = |n: &serde_json::Number| {
                n.as_i64()
                    .map(i128::from)
                    .or_else(|| n.as_u64().map(i128::from))
            };
            match (exact(x), exact(y)) {
                (Some(i), Some(j)) => i.cmp(&j),
                _ => {
                    let (f, g) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                    f.total_cmp(&g)
                        .then_with(|| x.to_string().cmp(&y.to_string()))
                }
            }
        }
        (Value::Number(_), _) => Ordering::Less,
        (_, Value::Number(_)) => Ordering::Greater,
        _ => a.to_string().cmp(&b.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{invoke, nemesis, ok, op};
    use serde_json::json;

    fn generated(ids: &[Value]) -> History {
        let mut h = History::default();
        for (i, id) in ids.iter().enumerate() {
            let t = i as u64 * 10;
            h.push(invoke(i as u64, "generate", Value::Null, t));
            h.push(ok(i as u64, "generate", id.clone(), t + 5));
        }
        h
    }

    #[test]
    fn distinct_ids_are_valid_with_range() {
        let mut h = generated(&[json!(10), json!(2), json!(-3), json!(7)]);
        h.push(invoke(9, "generate", Value::Null, 100));
        h.push(op(9, OpType::Fail, "generate", Value::Null, 101));
        h.push(invoke(10, "generate", Value::Null, 102));
        h.push(nemesis("generate", 103));
        let r = check(&h);
        assert_eq!(r.valid, Validity::Valid);
        assert!(r.problems.is_empty());
        assert_eq!(r.details.attempted_count, 6);
        assert_eq!(r.details.acknowledged_count, 4);
        assert_eq!(r.details.duplicated_count, 0);
        assert_eq!(crate::testing::to_json(&r.details.duplicated), json!({}));
        // Numeric, not textual: "10" < "2" as text.
        assert_eq!(crate::testing::to_json(&r.details.range), json!([-3, 10]));
    }

    #[test]
    fn duplicates_are_counted_and_named_most_frequent_first() {
        let h = generated(&[
            json!("a"),
            json!(1),
            json!("a"),
            json!(1),
            json!("1"),
            json!(1),
            json!("b"),
        ]);
        let r = check(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.details.acknowledged_count, 7);
        assert_eq!(r.details.duplicated_count, 2);
        assert_eq!(
            crate::testing::to_json(&r.details.duplicated),
            json!({"1": 3, "\"a\"": 2})
        );
        assert_eq!(crate::testing::to_json(&r.details.range), json!([1, "b"]));
        assert_eq!(r.problems.len(), 1);
        assert!(r.problems[0].starts_with("2 ids were returned more than once: 1 (3 times)"));
    }

    #[test]
    fn empty_history_has_null_range() {
        let r = check(&History::default());
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details.range, None);
        assert_eq!(r.details.attempted_count, 0);
    }

    #[test]
    fn duplicated_details_are_capped() {
        let ids: Vec<Value> = (0..50).flat_map(|i| [json!(i), json!(i)]).collect();
        let r = check(&generated(&ids));
        assert_eq!(r.details.duplicated_count, 50);
        assert_eq!(r.details.duplicated.len(), 32);
        assert!(r.problems[0].ends_with("and 42 more"), "{}", r.problems[0]);
    }

    #[test]
    fn ids_order_numbers_first_then_text() {
        assert!(compare_ids(&json!(2), &json!(10)).is_lt());
        assert!(compare_ids(&json!(1.5), &json!(2)).is_lt());
        assert!(compare_ids(&json!(u64::MAX), &json!(-1)).is_gt());
        assert!(compare_ids(&json!(99), &json!("0")).is_lt());
        assert!(compare_ids(&json!("a"), &json!("b")).is_lt());
    }
}
