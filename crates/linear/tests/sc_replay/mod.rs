//! Replays an order the sequential consistency checker returns, written
//! from the definition: it holds every op that completed ok once, no
//! failed op, keeps each process's program order (an indeterminate op
//! after its process's earlier ops), and the model accepts it.

use std::collections::{BTreeMap, BTreeSet};

use lightcone_history::{History, Op, OpType, Process};
use lightcone_linear::{Model, ModelOp, Part};
use serde_json::Value;

/// What is wrong with `order` (invocation indices) as a sequentially
/// consistent order of `history`, if anything.
pub fn replay(history: &History, model: &dyn Model, order: &[u64]) -> Result<(), String> {
    let mut open: BTreeMap<Process, &Op> = BTreeMap::new();
    // By invocation index: process, op, determinate.
    let mut ops: BTreeMap<u64, (Process, ModelOp, bool)> = BTreeMap::new();
    let mut failed: BTreeSet<u64> = BTreeSet::new();
    let mut add = |inv: &Op, completion: Option<&Op>| {
        let output = match completion.map(|c| c.kind) {
            Some(OpType::Fail) => {
                failed.insert(inv.index);
                return;
            }
            Some(OpType::Ok) => Some(completion.unwrap().value.clone()),
            _ => None,
        };
        let determinate = output.is_some();
        let op = ModelOp::new(inv.f.clone(), inv.value.clone(), output);
        ops.insert(inv.index, (inv.process, op, determinate));
    };
    for o in history.iter().filter(|o| o.process != Process::Nemesis) {
        if o.kind == OpType::Invoke {
            if let Some(prev) = open.insert(o.process, o) {
                add(prev, None);
            }
        } else if let Some(inv) = open.remove(&o.process) {
            add(inv, Some(o));
        }
    }
    for inv in open.into_values() {
        add(inv, None);
    }
    let position: BTreeMap<u64, usize> = order.iter().enumerate().map(|(k, &i)| (i, k)).collect();
    if position.len() != order.len() {
        return Err("an op is in the order twice".to_string());
    }
    for &i in order {
        if failed.contains(&i) || !ops.contains_key(&i) {
            return Err(format!("op {i} is in the order but did not happen"));
        }
    }
    for (&i, (process, _, determinate)) in &ops {
        if *determinate && !position.contains_key(&i) {
            return Err(format!("op {i} completed ok but is not in the order"));
        }
        // Every earlier determinate op of its process comes before it.
        if let Some(&at) = position.get(&i) {
            for (&j, (p, _, d)) in ops.range(..i) {
                if p == process && *d && position[&j] > at {
                    return Err(format!("op {j} of process {process} comes after op {i}"));
                }
            }
        }
    }
    let mut states: BTreeMap<String, Value> = BTreeMap::new();
    for &i in order {
        let whole = &ops[&i].1;
        let (key, op) = match model.partition(whole).map_err(|e| e.to_string())? {
            Some(Part { key, op }) => (key.to_string(), op),
            None => (String::new(), whole.clone()),
        };
        let now = states.get(&key).cloned().unwrap_or_else(|| model.init());
        let next = model
            .step(&now, &op)
            .ok_or_else(|| format!("op {i} is not legal in state {now}"))?;
        states.insert(key, next);
    }
    Ok(())
}
