//! Lost update (elle/txn.clj `lost-update-cases`): two committed
//! transactions that both read a key at the same version and then wrote
//! it. Elle detects it directly, in one pass, because version-order
//! inference may miss the edges of the G2-item cycle it implies.

use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::anomaly::{Anomalies, Witness};
use crate::ops::{MopKind, Status, Txns, NIL};

/// A version as read: nothing, a list, or a register value.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Read<'a> {
    Nil,
    List(&'a [u32]),
    Value(u32),
}

/// Adds a lost-update case for every key and version that two or more ok
/// transactions read and then wrote (`write` is the model's writing
/// micro-op: append or w). As in Elle, only a transaction's first read of
/// a key counts, and it counts for the first write after it.
pub fn cases(txns: &Txns, write: MopKind, found: &mut Anomalies) {
    // (key, version) -> the transactions, in history order.
    let mut collided: FxHashMap<(u32, Read), Vec<u32>> = FxHashMap::default();
    let mut first_seen: Vec<(u32, Read)> = Vec::new();
    let mut reads: FxHashMap<u32, Read> = FxHashMap::default();
    let mut written: Vec<u32> = Vec::new();
    for t in 0..txns.len() as u32 {
        if txns.txn(t).status != Status::Ok {
            continue;
        }
        reads.clear();
        written.clear();
        for mop in txns.mops(t) {
            if mop.kind == write {
                if written.contains(&mop.key) {
                    continue;
                }
                // Elle only marks a key written once it was read first.
                if let Some(&version) = reads.get(&mop.key) {
                    written.push(mop.key);
                    let entry = collided.entry((mop.key, version)).or_default();
                    if entry.is_empty() {
                        first_seen.push((mop.key, version));
                    }
                    entry.push(t);
                }
            } else {
                let version = match (mop.value, txns.list_of(mop)) {
                    (NIL, _) => Read::Nil,
                    (_, Some(list)) if write == MopKind::Append => Read::List(list),
                    (v, _) => Read::Value(v),
                };
                reads.entry(mop.key).or_insert(version);
            }
        }
    }
    first_seen.sort_by_key(|&(key, _)| key);
    for (key, version) in first_seen {
        let txs = &collided[&(key, version)];
        if txs.len() < 2 {
            continue;
        }
        let value = match version {
            Read::Nil => Value::Null,
            Read::List(l) => Value::Array(l.iter().map(|&e| txns.value(e)).collect()),
            Read::Value(v) => txns.value(v),
        };
        found.add(
            "lost-update",
            Witness::LostUpdate {
                key: txns.key(key),
                value,
                txns: txs.iter().map(|&t| txns.op(t).clone()).collect(),
            },
        );
    }
}
