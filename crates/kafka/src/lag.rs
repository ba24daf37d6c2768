//! Jepsen's `realtime-lag`: how far behind the log each `ok` poll could
//! have been. Information only; it never decides a verdict.
//!
//! For each key, `expired[i]` is the earliest time offset `i - 1` was known
//! to no longer be the end of the log (some `ok` or `info` op showed an
//! offset at or after `i`); `expired[0]` is when the log was first known to
//! be non-empty. A poll invoked at time t whose process had read key k up
//! to offset o (its previous polls of k since it was assigned k, and this
//! one) lags by at least `t - expired[o + 1]`, or 0.

use std::collections::BTreeMap;

use lightcone_history::{OpType, Process};
use serde_json::{json, Value};

use super::ops::{Func, KOp, KeyId, Parsed};

/// Offsets past this are left out of the lag (the table is indexed by
/// offset); the log's anomalies are still checked in full.
const LAG_OFFSET_MAX: i64 = 1 << 24;

const NANOS_PER_SEC: f64 = lightcone_proto::NANOS_PER_SEC as f64;

/// Jepsen's `op->max-offsets` for an `ok` or `info` op: per key, the highest
/// offset it polled (-1 for a key polled with nothing) or sent.
fn max_offsets(op: &KOp) -> BTreeMap<KeyId, i64> {
    let mut offsets = BTreeMap::new();
    if !matches!(op.kind, OpType::Ok | OpType::Info) {
        return offsets;
    }
    if matches!(op.func, Func::Poll | Func::Txn) {
        for (key, polled) in &op.reads {
            let max = polled.iter().filter_map(|&(o, _)| o).max().unwrap_or(-1);
            let e = offsets.entry(*key).or_insert(max);
            *e = (*e).max(max);
        }
    }
    if matches!(op.func, Func::Send | Func::Txn) {
        for (key, sent) in &op.writes {
            for &(offset, _) in sent {
                if let Some(o) = offset {
                    let e = offsets.entry(*key).or_insert(0);
                    *e = (*e).max(o);
                }
            }
        }
    }
    offsets
}

/// The worst lag of any poll, as Jepsen reports it: `{time, process, key,
/// lag}` with times in seconds, or `{time: 0, lag: 0}` if no poll lagged.
pub(super) fn worst_realtime_lag(parsed: &Parsed) -> Value {
    let mut expired: BTreeMap<KeyId, Vec<Option<u64>>> = BTreeMap::new();
    for op in &parsed.ops {
        for (key, known) in max_offsets(op) {
            if !(0..LAG_OFFSET_MAX).contains(&known) {
                continue;
            }
            let slots = expired.entry(key).or_default();
            let known = known as usize;
            if slots.len() <= known {
                slots.resize(known + 1, None);
            }
            for slot in slots[..=known].iter_mut().rev() {
                if slot.is_some() {
                    break;
                }
                *slot = Some(op.time);
            }
        }
    }
    let mut positions: BTreeMap<Process, BTreeMap<KeyId, i64>> = BTreeMap::new();
    // (lag, time, process, key) of the worst so far.
    let mut worst: Option<(u64, u64, Process, KeyId)> = None;
    for op in parsed.ops.iter().filter(|op| op.kind == OpType::Ok) {
        match op.func {
            Func::Assign => {
                let before = positions.remove(&op.process).unwrap_or_default();
                let now = op
                    .keys
                    .iter()
                    .map(|k| (*k, before.get(k).copied().unwrap_or(-1)))
                    .collect();
                positions.insert(op.process, now);
            }
            Func::Subscribe => {
                positions.insert(op.process, BTreeMap::new());
            }
            Func::Poll | Func::Txn => {
                let mine = positions.entry(op.process).or_default();
                for (key, offset) in max_offsets(op) {
                    let e = mine.entry(key).or_insert(offset);
                    *e = (*e).max(offset);
                }
                for (key, offset) in mine.iter() {
                    let expired_at = usize::try_from(offset + 1)
                        .ok()
                        .and_then(|i| expired.get(key)?.get(i).copied().flatten());
                    let lag = expired_at.map_or(0, |at| op.invoke_time.saturating_sub(at));
                    if worst.is_none_or(|w| lag > w.0) {
                        worst = Some((lag, op.invoke_time, op.process, *key));
                    }
                }
            }
            _ => {}
        }
    }
    match worst {
        Some((lag, time, process, key)) => json!({
            "time": time as f64 / NANOS_PER_SEC,
            "process": process,
            "key": parsed.key_name(key),
            "lag": lag as f64 / NANOS_PER_SEC,
        }),
        None => json!({"time": 0, "lag": 0}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::parse;
    use lightcone_history::build::{invoke, op};
    use lightcone_history::History;

    /// Jepsen's own realtime-lag example (kafka_test.clj), times in seconds.
    #[test]
    fn the_worst_lag_is_jepsens() {
        let s = 1_000_000_000;
        let steps: Vec<(u64, OpType, &str, Value)> = vec![
            (0, OpType::Invoke, "assign", json!(["x"])),
            (0, OpType::Ok, "assign", json!(["x"])),
            (0, OpType::Invoke, "poll", json!([["poll"]])),
            (0, OpType::Ok, "poll", json!([["poll", {"x": []}]])),
            (0, OpType::Invoke, "send", json!([["send", "x", "a"]])),
            (0, OpType::Ok, "send", json!([["send", "x", [0, "a"]]])),
            (0, OpType::Invoke, "poll", json!([["poll"]])),
            (0, OpType::Ok, "poll", json!([["poll", {"x": []}]])),
            (
                1,
                OpType::Invoke,
                "send",
                json!([["send", "x", "c"], ["send", "x", "d"]]),
            ),
            (
                1,
                OpType::Ok,
                "send",
                json!([["send", "x", [2, "c"]], ["send", "x", [3, "d"]]]),
            ),
            (0, OpType::Invoke, "poll", json!([["poll"]])),
            (0, OpType::Ok, "poll", json!([["poll"]])),
            (0, OpType::Invoke, "poll", json!([["poll"]])),
            (
                0,
                OpType::Ok,
                "poll",
                json!([["poll", {"x": [[0, "a"], [1, "b"]]}]]),
            ),
            (0, OpType::Invoke, "assign", json!(["x", "y"])),
            (0, OpType::Ok, "assign", json!(["x", "y"])),
            (0, OpType::Invoke, "poll", json!([["poll"]])),
            (0, OpType::Ok, "poll", json!([["poll", {}]])),
            (0, OpType::Invoke, "assign", json!(["y"])),
            (0, OpType::Ok, "assign", json!(["y"])),
            (0, OpType::Invoke, "assign", json!(["x"])),
            (0, OpType::Ok, "assign", json!(["x"])),
            (0, OpType::Invoke, "poll", json!([["poll"]])),
            (0, OpType::Ok, "poll", json!([["poll", {}]])),
            (0, OpType::Invoke, "poll", json!([["poll"], ["poll"]])),
            (
                0,
                OpType::Ok,
                "poll",
                json!([["poll", {"x": [[0, "a"], [1, "b"]]}], ["poll", {"x": [[2, "c"], [3, "d"]]}]]),
            ),
            (1, OpType::Invoke, "send", json!([["send", "x", "b"]])),
            (1, OpType::Info, "send", json!([["send", "x", "b"]])),
        ];
        let mut h = History::default();
        for (t, (process, kind, f, value)) in steps.into_iter().enumerate() {
            let t = t as u64 * s;
            h.push(if kind == OpType::Invoke {
                invoke(process, f, value, t)
            } else {
                op(process, kind, f, value, t)
            });
        }
        assert_eq!(
            worst_realtime_lag(&parse(&h)),
            json!({"time": 22.0, "process": 0, "key": "x", "lag": 17.0})
        );
    }

    #[test]
    fn no_polls_no_lag() {
        assert_eq!(
            worst_realtime_lag(&parse(&History::default())),
            json!({"time": 0, "lag": 0})
        );
    }
}
