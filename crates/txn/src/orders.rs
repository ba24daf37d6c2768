//! The order edges Elle adds to the data dependencies
//! (elle/core.clj `process-graph`, `realtime-graph`).

use lightcone_history::OpType;

use crate::graph::{GraphBuilder, Rels};
use crate::ops::{Status, Txns};

/// Process order: each process's consecutive ok transactions.
pub fn process_edges(txns: &Txns, builder: &mut GraphBuilder) {
    let mut last: rustc_hash::FxHashMap<u64, u32> = Default::default();
    let mut oks: Vec<u32> = (0..txns.len() as u32)
        .filter(|&t| txns.txn(t).status == Status::Ok)
        .collect();
    oks.sort_by_key(|&t| txns.txn(t).position());
    for t in oks {
        if let Some(prev) = last.insert(txns.txn(t).process, t) {
            builder.link(prev, t, Rels::PROCESS);
        }
    }
}

/// Real-time order, reduced as Elle reduces it: walking the history, every
/// ok completion is kept in a buffer and linked to each later invocation
/// (to that transaction's vertex), until an ok transaction completes that
/// was itself invoked after it (then that one covers it). About
/// transactions x concurrency edges instead of transactions squared.
///
/// Elle removes, when `t` completes, the buffer as it was when `t` was
/// invoked. Those are exactly the transactions still buffered that
/// completed before `t`'s invocation (nothing leaves the buffer and comes
/// back), so no snapshot of the buffer is kept.
pub fn realtime_edges(txns: &Txns, builder: &mut GraphBuilder) {
    let ops = &txns.history.ops;
    const NONE: u32 = u32::MAX;
    // The transaction of each op position (invocations and completions).
    let mut txn_at: Vec<u32> = vec![NONE; ops.len()];
    for t in 0..txns.len() as u32 {
        let txn = txns.txn(t);
        if let Some(c) = txn.complete {
            txn_at[txn.invoke] = t;
            txn_at[c] = t;
        }
    }
    // Ok transactions, with their completion's position.
    let mut buffer: Vec<(u32, usize)> = Vec::new();
    for (position, op) in ops.iter().enumerate() {
        let t = txn_at[position];
        if t == NONE {
            continue;
        }
        match op.kind {
            OpType::Invoke => {
                for &(b, _) in &buffer {
                    builder.link(b, t, Rels::REALTIME);
                }
            }
            OpType::Ok => {
                let invoked = txns.txn(t).invoke;
                buffer.retain(|&(_, completed)| completed > invoked);
                buffer.push((t, position));
            }
            OpType::Fail | OpType::Info => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{TxnModel, Txns};
    use lightcone_history::build::{invoke, ok, op};
    use lightcone_history::History;
    use serde_json::json;

    fn edges(h: &History, f: fn(&Txns, &mut GraphBuilder)) -> Vec<(u32, u32)> {
        let txns = Txns::parse(h, TxnModel::ListAppend).unwrap();
        let mut b = GraphBuilder::default();
        f(&txns, &mut b);
        let g = b.build(txns.len());
        (0..txns.len() as u32)
            .flat_map(|a| g.out(a).map(move |(c, _)| (a, c)).collect::<Vec<_>>())
            .collect()
    }

    fn t(p: u64, at: u64) -> [lightcone_history::Op; 2] {
        let v = json!([["r", 1, null]]);
        [invoke(p, "txn", v.clone(), at), ok(p, "txn", v, at + 1)]
    }

    #[test]
    fn realtime_is_a_transitive_reduction_of_completed_before_invoked() {
        // a: [0,1]; b: [2,3]; c: [2,5] (concurrent with b); d: [6,7].
        let [ai, ac] = t(0, 0);
        let [bi, bc] = t(1, 2);
        let [ci, _] = t(2, 2);
        let cc = ok(2, "txn", json!([["r", 1, null]]), 5);
        let [di, dc] = t(0, 6);
        let h: History = vec![ai, ac, bi, ci, bc, cc, di, dc].into_iter().collect();
        // a -> b, a -> c; b and c -> d; not a -> d (covered by b).
        assert_eq!(
            edges(&h, realtime_edges),
            vec![(0, 1), (0, 2), (1, 3), (2, 3)]
        );
    }

    #[test]
    fn failed_and_indeterminate_transactions_precede_nothing() {
        let v = json!([["r", 1, null]]);
        let h: History = vec![
            invoke(0, "txn", v.clone(), 0),
            op(0, OpType::Fail, "txn", v.clone(), 1),
            invoke(1, "txn", v.clone(), 2),
            op(1, OpType::Info, "txn", v.clone(), 3),
            invoke(2, "txn", v.clone(), 4),
            ok(2, "txn", v, 5),
        ]
        .into_iter()
        .collect();
        assert!(edges(&h, realtime_edges).is_empty());
        assert!(edges(&h, process_edges).is_empty());
    }

    #[test]
    fn process_order_links_consecutive_oks_of_one_process() {
        let [a0, a1] = t(0, 0);
        let [b0, b1] = t(1, 1);
        let [c0, c1] = t(0, 4);
        let h: History = vec![a0, b0, a1, b1, c0, c1].into_iter().collect();
        assert_eq!(edges(&h, process_edges), vec![(0, 2)]);
    }
}
