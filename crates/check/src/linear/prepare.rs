//! From a history to the ops of each partition: pairs invocations with
//! completions, drops what cannot matter, orders call and return events,
//! and splits by [`Model::partition`].

use std::collections::BTreeMap;

use lightcone_history::{History, OpType, Process};
use serde_json::Value;

use super::model::{Model, ModelOp};

/// The return rank of an indeterminate op: after everything (its return is
/// at +infinity).
pub(crate) const NEVER: u32 = u32::MAX;

/// One op to linearize.
#[derive(Debug, Clone)]
pub(crate) struct LinOp {
    /// As the partition's model sees it.
    pub op: ModelOp,
    pub process: Process,
    pub invoke_index: u64,
    pub complete_index: Option<u64>,
    pub invoke_time: u64,
    /// `None` when indeterminate (`info`, or no completion at all).
    pub complete_time: Option<u64>,
    /// Position of the call among all call and return events of the
    /// history: invocations before completions at equal times, then by
    /// history index, so that intervals are closed.
    pub call_rank: u32,
    /// Position of the return, or [`NEVER`] when indeterminate.
    pub ret_rank: u32,
}

impl LinOp {
    pub fn is_indeterminate(&self) -> bool {
        self.ret_rank == NEVER
    }
}

/// The ops of one partition, sorted by call.
#[derive(Debug, Clone)]
pub(crate) struct PartitionOps {
    pub key: Option<Value>,
    pub ops: Vec<LinOp>,
}

/// Splits a history into partitions: the unkeyed partition first, then
/// by the key's JSON text. Failed ops (which did not happen) and
/// indeterminate read-only ops (which change nothing) are dropped. An error
/// names what is malformed.
pub(crate) fn prepare(history: &History, model: &dyn Model) -> Result<Vec<PartitionOps>, String> {
    let pairs = history.pairs();
    // Without timing information (every time 0, as in a history built by
    // hand or read from a format without times) the history's order is the
    // real-time order.
    let timeless = history.ops.len() > 1 && history.ops.iter().all(|op| op.time == 0);
    let time_of = |op: &lightcone_history::Op| if timeless { op.index } else { op.time };

    struct Raw {
        op: ModelOp,
        process: Process,
        invoke_index: u64,
        complete_index: Option<u64>,
        invoke_time: u64,
        complete_time: Option<u64>,
        ok: bool,
    }
    let mut raws: Vec<Raw> = Vec::with_capacity(pairs.len());
    for (invoke, completion) in pairs {
        let (ok, output) = match completion {
            Some(c) if c.kind == OpType::Fail => continue,
            Some(c) if c.kind == OpType::Ok => (true, Some(c.value.clone())),
            _ => (false, None),
        };
        if let Some(c) = completion.filter(|_| ok) {
            if time_of(c) < time_of(invoke) {
                return Err(format!(
                    "op {} (process {}) completes at {} ns, before its invocation (op {}) at {} ns",
                    c.index, c.process, c.time, invoke.index, invoke.time
                ));
            }
        }
        raws.push(Raw {
            op: ModelOp::new(invoke.f.clone(), invoke.value.clone(), output),
            process: invoke.process,
            invoke_index: invoke.index,
            complete_index: completion.filter(|_| ok).map(|c| c.index),
            invoke_time: invoke.time,
            complete_time: completion.filter(|_| ok).map(|c| c.time),
            ok,
        });
    }

    // Rank call and return events: by time, calls before returns at equal
    // times (closed intervals), then by history index.
    let mut events: Vec<(u64, u8, u64, usize)> = Vec::with_capacity(raws.len() * 2);
    for (i, raw) in raws.iter().enumerate() {
        let call_time = if timeless {
            raw.invoke_index
        } else {
            raw.invoke_time
        };
        events.push((call_time, 0, raw.invoke_index, i));
        if let (Some(index), Some(time)) = (raw.complete_index, raw.complete_time) {
            events.push((if timeless { index } else { time }, 1, index, i));
        }
    }
    events.sort_unstable();
    if events.len() >= NEVER as usize {
        return Err(format!(
            "{} events are more than this checker can rank",
            events.len()
        ));
    }
    let mut call_rank = vec![0u32; raws.len()];
    let mut ret_rank = vec![NEVER; raws.len()];
    for (rank, &(_, kind, _, i)) in events.iter().enumerate() {
        if kind == 0 {
            call_rank[i] = rank as u32;
        } else {
            ret_rank[i] = rank as u32;
        }
    }

    let mut unkeyed: Vec<LinOp> = Vec::new();
    let mut keyed: BTreeMap<String, (Value, Vec<LinOp>)> = BTreeMap::new();
    for (i, raw) in raws.into_iter().enumerate() {
        let (key, op) = match model.partition(&raw.op) {
            Ok(Some(part)) => (Some(part.key), part.op),
            Ok(None) => (None, raw.op),
            Err(e) => {
                return Err(format!(
                    "op {} (process {}): {e}",
                    raw.invoke_index, raw.process
                ))
            }
        };
        if let Err(e) = model.validate(&op) {
            return Err(format!(
                "op {} (process {}): {e}",
                raw.invoke_index, raw.process
            ));
        }
        if !raw.ok && model.is_read_only(&op) {
            continue;
        }
        let lin = LinOp {
            op,
            process: raw.process,
            invoke_index: raw.invoke_index,
            complete_index: raw.complete_index,
            invoke_time: raw.invoke_time,
            complete_time: raw.complete_time,
            call_rank: call_rank[i],
            ret_rank: ret_rank[i],
        };
        match key {
            None => unkeyed.push(lin),
            Some(key) => {
                let text = key.to_string();
                keyed
                    .entry(text)
                    .or_insert_with(|| (key, Vec::new()))
                    .1
                    .push(lin);
            }
        }
    }

    let mut partitions = Vec::with_capacity(keyed.len() + 1);
    if !unkeyed.is_empty() || keyed.is_empty() {
        partitions.push(PartitionOps {
            key: None,
            ops: unkeyed,
        });
    }
    for (_, (key, ops)) in keyed {
        partitions.push(PartitionOps {
            key: Some(key),
            ops,
        });
    }
    for p in &mut partitions {
        p.ops.sort_by_key(|op| op.call_rank);
    }
    Ok(partitions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear::model::model_by_name;
    use crate::testing::{invoke, ok, op};
    use serde_json::json;

    #[test]
    fn pairs_orders_and_drops_failures_and_indeterminate_reads() {
        let h: History = [
            invoke(0, "write", json!(1), 10),
            invoke(1, "read", Value::Null, 10),
            ok(0, "write", json!(1), 20),
            invoke(2, "write", json!(2), 20),
            op(1, OpType::Info, "read", Value::Null, 25),
            op(2, OpType::Fail, "write", json!(2), 30),
            invoke(3, "write", json!(3), 40),
        ]
        .into_iter()
        .collect();
        let model = model_by_name("register", None).unwrap();
        let parts = prepare(&h, model.as_ref()).unwrap();
        assert_eq!(parts.len(), 1);
        let ops = &parts[0].ops;
        assert_eq!(
            ops.len(),
            2,
            "the failed write and the info read are dropped"
        );
        assert_eq!(ops[0].op, ModelOp::new("write", json!(1), Some(json!(1))));
        assert!(!ops[0].is_indeterminate());
        assert!(ops[1].is_indeterminate(), "no completion: indeterminate");
        assert!(ops[0].call_rank < ops[0].ret_rank);
        assert!(ops[0].ret_rank < ops[1].call_rank);
    }

    #[test]
    fn calls_sort_before_returns_at_equal_times() {
        let h: History = [
            invoke(0, "write", json!(1), 10),
            ok(0, "write", json!(1), 20),
            invoke(1, "write", json!(2), 20),
            ok(1, "write", json!(2), 30),
        ]
        .into_iter()
        .collect();
        let model = model_by_name("register", None).unwrap();
        let ops = &prepare(&h, model.as_ref()).unwrap()[0].ops;
        assert!(
            ops[1].call_rank < ops[0].ret_rank,
            "closed intervals overlap"
        );
    }

    #[test]
    fn malformed_histories_are_errors() {
        let model = model_by_name("cas-register", None).unwrap();
        let backwards: History = [
            invoke(0, "write", json!(1), 20),
            ok(0, "write", json!(1), 10),
        ]
        .into_iter()
        .collect();
        assert!(prepare(&backwards, model.as_ref())
            .unwrap_err()
            .contains("before its invocation"));
        let bad_cas: History = [invoke(0, "cas", json!(1), 20)].into_iter().collect();
        assert!(prepare(&bad_cas, model.as_ref())
            .unwrap_err()
            .contains("op 0"));
    }

    #[test]
    fn independent_ops_split_by_key_in_key_order() {
        let h: History = [
            invoke(0, "write", json!(["b", 1]), 10),
            invoke(1, "write", json!(["a", 2]), 11),
            ok(0, "write", json!(["b", 1]), 12),
            ok(1, "write", json!(["a", 2]), 13),
        ]
        .into_iter()
        .collect();
        let model = model_by_name("independent-register", None).unwrap();
        let parts = prepare(&h, model.as_ref()).unwrap();
        let keys: Vec<_> = parts.iter().map(|p| p.key.clone()).collect();
        assert_eq!(keys, vec![Some(json!("a")), Some(json!("b"))]);
        assert_eq!(parts[0].ops[0].op.input, json!(2));
    }
}
