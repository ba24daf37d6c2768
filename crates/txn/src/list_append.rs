//! List-append histories (elle/list_append.clj): every read returns a key's
//! whole list, so every read is a prefix of the key's version order. This
//! module checks Elle's preconditions, finds the anomalies visible without
//! a graph (G1a, G1b, internal, future-read, dirty-update,
//! duplicate-elements, incompatible-order, lost-update), infers each key's
//! version order from the longest read, and links transactions by ww, wr
//! and rw edges, keeping what it needs to explain each edge.

use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::anomaly::{Anomalies, Step, Witness};
use crate::explain::edn;
use crate::graph::{GraphBuilder, Rels};
use crate::ops::{Mop, MopKind, Status, Txns};

/// The initial, empty version of a key (Elle's `::init`).
pub const INIT: u32 = u32::MAX;

/// Why a list-append history cannot be analysed (Elle's result is then
/// unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Precondition {
    /// Elle's name: `duplicate-appends`, or lightcone's
    /// `read-of-unwritten-element`.
    pub kind: &'static str,
    pub message: String,
}

/// What the analysis of a list-append history found.
pub struct ListAppend<'t, 'h> {
    txns: &'t Txns<'h>,
    /// (key, element) -> the transaction that appended it (any outcome).
    writer: FxHashMap<(u32, u32), u32>,
    /// Each key's known version order (elements, oldest first).
    order: FxHashMap<u32, Vec<u32>>,
    /// (key, element) -> its place in the key's order.
    position: FxHashMap<(u32, u32), u32>,
    /// (key, last element read, or INIT) -> ok/info transactions that read
    /// exactly that version.
    readers: FxHashMap<(u32, u32), Vec<u32>>,
}

impl<'t, 'h> ListAppend<'t, 'h> {
    /// Checks Elle's preconditions and indexes the history.
    pub fn new(txns: &'t Txns<'h>) -> Result<ListAppend<'t, 'h>, Precondition> {
        let writer = unique_appends(txns)?;
        let mut la = ListAppend {
            txns,
            writer,
            order: FxHashMap::default(),
            position: FxHashMap::default(),
            readers: FxHashMap::default(),
        };
        la.index_reads();
        Ok(la)
    }

    fn possible(&self, t: u32) -> bool {
        self.txns.txn(t).status != Status::Fail
    }

    /// The ok or indeterminate transaction that appended `element` to `key`.
    fn possible_writer(&self, key: u32, element: u32) -> Option<u32> {
        self.writer
            .get(&(key, element))
            .copied()
            .filter(|&w| self.possible(w))
    }

    /// Reads of ok transactions, indexed by the version they saw; each
    /// key's version order from its longest read, or from its single
    /// append when it was never read.
    fn index_reads(&mut self) {
        let txns = self.txns;
        let mut longest: FxHashMap<u32, &[u32]> = FxHashMap::default();
        for t in 0..txns.len() as u32 {
            if !self.possible(t) {
                continue;
            }
            for mop in txns.mops(t).iter().filter(|m| m.kind == MopKind::Read) {
                // Indeterminate transactions' reads are nil: they say nothing.
                if txns.txn(t).status != Status::Ok {
                    continue;
                }
                let list = txns.list_of(mop).unwrap_or(&[]);
                let last = list.last().copied().unwrap_or(INIT);
                self.readers.entry((mop.key, last)).or_default().push(t);
                let best = longest.entry(mop.key).or_insert(list);
                if list.len() > best.len() {
                    *best = list;
                }
            }
        }
        for (key, list) in longest {
            if !list.is_empty() {
                self.order.insert(key, distinct(list));
            }
        }
        for (key, element) in single_appends(txns) {
            self.order.entry(key).or_insert_with(|| vec![element]);
        }
        for (&key, order) in &self.order {
            for (i, &e) in order.iter().enumerate() {
                self.position.insert((key, e), i as u32);
            }
        }
    }

    /// The element appended just before `element` to `key`: its predecessor
    /// in the order, or, if it was never read, the last element known
    /// (Elle's `previously-appended-element`). INIT for the first.
    fn previous(&self, key: u32, element: u32) -> u32 {
        match self.position.get(&(key, element)) {
            Some(&0) => INIT,
            Some(&i) => self.order[&key][i as usize - 1],
            None => self
                .order
                .get(&key)
                .and_then(|o| o.last().copied())
                .unwrap_or(INIT),
        }
    }

    /// The ww, wr and rw edges of every ok or indeterminate transaction.
    pub fn edges(&self, builder: &mut GraphBuilder) {
        let txns = self.txns;
        for t in 0..txns.len() as u32 {
            if !self.possible(t) {
                continue;
            }
            for mop in txns.mops(t) {
                match mop.kind {
                    MopKind::Append => {
                        let prev = self.previous(mop.key, mop.value);
                        if prev != INIT {
                            if let Some(w) = self.possible_writer(mop.key, prev) {
                                builder.link(w, t, Rels::WW);
                            }
                        }
                        for &r in self.readers_of(mop.key, prev) {
                            builder.link(r, t, Rels::RW);
                        }
                    }
                    MopKind::Read => {
                        let Some(&last) = txns.list_of(mop).and_then(|l| l.last()) else {
                            continue;
                        };
                        if let Some(w) = self.possible_writer(mop.key, last) {
                            builder.link(w, t, Rels::WR);
                        }
                    }
                    MopKind::Write => unreachable!("list-append histories have no writes"),
                }
            }
        }
    }

    fn readers_of(&self, key: u32, version: u32) -> &[u32] {
        self.readers
            .get(&(key, version))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Why `b` depends on `a` by `rel` (ww, wr or rw), as Elle explains it.
    pub fn explain(&self, a: u32, b: u32, rel: Rels) -> Option<Step> {
        let txns = self.txns;
        for (i, mop) in txns.mops(b).iter().enumerate() {
            let step = match (rel, mop.kind) {
                (Rels::WW, MopKind::Append) => self.explain_ww(a, b, i, mop),
                (Rels::WR, MopKind::Read) => self.explain_wr(a, b, i, mop),
                (Rels::RW, MopKind::Append) => self.explain_rw(a, b, i, mop),
                _ => None,
            };
            if step.is_some() {
                return step;
            }
        }
        None
    }

    fn explain_ww(&self, a: u32, _b: u32, i: usize, mop: &Mop) -> Option<Step> {
        let prev = self.previous(mop.key, mop.value);
        (prev != INIT && self.possible_writer(mop.key, prev) == Some(a)).then(|| Step::Data {
            kind: "ww",
            key: self.txns.key(mop.key),
            value: self.txns.value(prev),
            value2: Some(self.txns.value(mop.value)),
            a_mop_index: self.mop_index(a, MopKind::Append, mop.key, |m| m.value == prev),
            b_mop_index: Some(i),
        })
    }

    fn explain_wr(&self, a: u32, b: u32, i: usize, mop: &Mop) -> Option<Step> {
        let &last = self.txns.list_of(mop)?.last()?;
        (a != b && self.possible_writer(mop.key, last) == Some(a)).then(|| Step::Data {
            kind: "wr",
            key: self.txns.key(mop.key),
            value: self.txns.value(last),
            value2: None,
            a_mop_index: self.mop_index(a, MopKind::Append, mop.key, |m| m.value == last),
            b_mop_index: Some(i),
        })
    }

    fn explain_rw(&self, a: u32, b: u32, i: usize, mop: &Mop) -> Option<Step> {
        let prev = self.previous(mop.key, mop.value);
        if a == b || !self.readers_of(mop.key, prev).contains(&a) {
            return None;
        }
        let txns = self.txns;
        let read_prev = |m: &Mop| {
            let list = txns.list_of(m).unwrap_or(&[]);
            list.last().copied().unwrap_or(INIT) == prev
        };
        Some(Step::Data {
            kind: "rw",
            key: txns.key(mop.key),
            value: if prev == INIT {
                Value::String("init".into())
            } else {
                txns.value(prev)
            },
            value2: Some(txns.value(mop.value)),
            a_mop_index: self.mop_index(a, MopKind::Read, mop.key, read_prev),
            b_mop_index: Some(i),
        })
    }

    /// The index in `t`'s transaction of its first `kind` micro-op on `key`
    /// matching `pred`.
    fn mop_index(
        &self,
        t: u32,
        kind: MopKind,
        key: u32,
        pred: impl Fn(&Mop) -> bool,
    ) -> Option<usize> {
        self.txns
            .mops(t)
            .iter()
            .position(|m| m.kind == kind && m.key == key && pred(m))
    }

    /// Renders a data step as Elle's `<type>.txt` explanations do.
    pub fn render(step: &Step, a: &str, b: &str) -> String {
        let Step::Data {
            kind,
            key,
            value,
            value2,
            ..
        } = step
        else {
            unreachable!("list-append explains data steps only")
        };
        let value2 = value2.as_ref().map(edn).unwrap_or_default();
        match *kind {
            "ww" => format!(
                "{b} appended {value2} after {a} appended {} to {}",
                edn(value),
                edn(key)
            ),
            "wr" => format!(
                "{b} observed {a}'s append of {} to key {}",
                edn(value),
                edn(key)
            ),
            _ if value == &Value::String("init".into()) => format!(
                "{a} observed the initial (nil) state of {}, which {b} created by appending {value2}",
                edn(key)
            ),
            _ => format!(
                "{a} did not observe {b}'s append of {value2} to {}",
                edn(key)
            ),
        }
    }

    /// Every anomaly this module finds without the graph.
    pub fn anomalies(&self) -> Anomalies {
        let mut found = Anomalies::default();
        self.aborted_and_intermediate_reads(&mut found);
        self.internal_and_future_reads(&mut found);
        self.duplicates(&mut found);
        self.incompatible_orders(&mut found);
        self.dirty_updates(&mut found);
        crate::lost_update::cases(self.txns, MopKind::Append, &mut found);
        found
    }

    /// What lightcone finds beyond Elle: a key's version order that puts a
    /// transaction's own appends in another order than it made them (Elle
    /// drops self-edges, so it never sees this). Reported as `internal`:
    /// the transaction's own effects contradict themselves.
    pub fn beyond_elle(&self) -> Anomalies {
        let txns = self.txns;
        let mut found = Anomalies::default();
        for t in 0..txns.len() as u32 {
            if !self.possible(t) || !repeats_key(txns.mops(t)) {
                continue;
            }
            // key -> (position of the last of its appends seen, its mop).
            let mut last: FxHashMap<u32, u32> = FxHashMap::default();
            for (i, mop) in txns.mops(t).iter().enumerate() {
                if mop.kind != MopKind::Append {
                    continue;
                }
                let Some(&at) = self.position.get(&(mop.key, mop.value)) else {
                    continue;
                };
                match last.insert(mop.key, at) {
                    Some(before) if before > at => {
                        let own: Vec<Value> = txns
                            .mops(t)
                            .iter()
                            .filter(|m| m.kind == MopKind::Append && m.key == mop.key)
                            .map(|m| txns.value(m.value))
                            .collect();
                        found.add(
                            "internal",
                            Witness::Internal {
                                op: txns.op(t).clone(),
                                mop: txns.mop_json(t, i).clone(),
                                expected: Value::Array(
                                    std::iter::once(Value::String("...".into()))
                                        .chain(own)
                                        .collect(),
                                ),
                            },
                        );
                        break;
                    }
                    _ => {}
                }
            }
        }
        found
    }
}

/// Each append's writer, or Elle's `duplicate-appends` when one element was
/// appended to a key twice.
fn unique_appends(txns: &Txns) -> Result<FxHashMap<(u32, u32), u32>, Precondition> {
    let mut writer: FxHashMap<(u32, u32), u32> = FxHashMap::default();
    for t in 0..txns.len() as u32 {
        for mop in txns.mops(t).iter().filter(|m| m.kind == MopKind::Append) {
            if writer.insert((mop.key, mop.value), t).is_some() {
                return Err(Precondition {
                    kind: "duplicate-appends",
                    message: format!(
                        "value {} appended to key {} multiple times (op {}); list-append \
                         needs every appended value to be unique per key",
                        txns.value(mop.value),
                        txns.key(mop.key),
                        txns.invocation(t).index
                    ),
                });
            }
        }
    }
    Ok(writer)
}

/// Keys appended exactly once by ok or indeterminate transactions, with
/// that element (Elle's `values-from-single-appends`).
fn single_appends(txns: &Txns) -> Vec<(u32, u32)> {
    let mut appends: FxHashMap<u32, Option<u32>> = FxHashMap::default();
    for t in 0..txns.len() as u32 {
        if txns.txn(t).status == Status::Fail {
            continue;
        }
        for mop in txns.mops(t).iter().filter(|m| m.kind == MopKind::Append) {
            appends
                .entry(mop.key)
                .and_modify(|e| *e = None)
                .or_insert(Some(mop.value));
        }
    }
    let mut single: Vec<(u32, u32)> = appends
        .into_iter()
        .filter_map(|(k, e)| e.map(|e| (k, e)))
        .collect();
    single.sort_unstable();
    single
}

/// Whether two of `mops` have one key.
fn repeats_key(mops: &[Mop]) -> bool {
    match mops.len() {
        0 | 1 => false,
        2 => mops[0].key == mops[1].key,
        n if n <= 16 => (1..n).any(|i| mops[..i].iter().any(|m| m.key == mops[i].key)),
        _ => {
            let mut keys: Vec<u32> = mops.iter().map(|m| m.key).collect();
            keys.sort_unstable();
            keys.windows(2).any(|w| w[0] == w[1])
        }
    }
}

/// `list` without repeated elements, in order of first appearance.
fn distinct(list: &[u32]) -> Vec<u32> {
    let mut seen = rustc_hash::FxHashSet::default();
    list.iter().copied().filter(|e| seen.insert(*e)).collect()
}

impl ListAppend<'_, '_> {
    fn aborted_and_intermediate_reads(&self, found: &mut Anomalies) {
        let txns = self.txns;
        let intermediate = intermediate_appends(txns);
        for t in 0..txns.len() as u32 {
            if txns.txn(t).status != Status::Ok {
                continue;
            }
            for (i, mop) in txns.mops(t).iter().enumerate() {
                let Some(list) = txns.list_of(mop).filter(|_| mop.kind == MopKind::Read) else {
                    continue;
                };
                for &e in list {
                    if let Some(&w) = self.writer.get(&(mop.key, e)) {
                        if txns.txn(w).status == Status::Fail {
                            found.add("G1a", self.read_witness(t, i, w, e));
                        }
                    }
                }
                let Some(&last) = list.last() else { continue };
                if let Some(&w) = intermediate.get(&(mop.key, last)) {
                    if w != t {
                        found.add("G1b", self.read_witness(t, i, w, last));
                    }
                }
            }
        }
    }

    fn read_witness(&self, t: u32, i: usize, writer: u32, element: u32) -> Witness {
        Witness::Read {
            op: self.txns.op(t).clone(),
            mop: self.txns.mop_json(t, i).clone(),
            writer: self.txns.op(writer).clone(),
            element: Some(self.txns.value(element)),
        }
    }

    fn internal_and_future_reads(&self, found: &mut Anomalies) {
        let txns = self.txns;
        for t in 0..txns.len() as u32 {
            // Both need a key that the transaction touches twice.
            if txns.txn(t).status != Status::Ok || !repeats_key(txns.mops(t)) {
                continue;
            }
            if let Some(w) = internal_case(txns, t) {
                found.add("internal", w);
            }
            if let Some(w) = future_read_case(txns, t) {
                found.add("future-read", w);
            }
        }
    }

    fn duplicates(&self, found: &mut Anomalies) {
        let txns = self.txns;
        let mut seen: rustc_hash::FxHashSet<u32> = Default::default();
        for t in 0..txns.len() as u32 {
            if txns.txn(t).status == Status::Fail {
                continue;
            }
            for (i, mop) in txns.mops(t).iter().enumerate() {
                let Some(list) = txns.list_of(mop).filter(|_| mop.kind == MopKind::Read) else {
                    continue;
                };
                seen.clear();
                if list.iter().all(|&e| seen.insert(e)) {
                    continue;
                }
                let mut counts: FxHashMap<u32, usize> = FxHashMap::default();
                for &e in list {
                    *counts.entry(e).or_default() += 1;
                }
                let dups: Vec<(u32, usize)> = counts.into_iter().filter(|c| c.1 > 1).collect();
                if dups.is_empty() {
                    continue;
                }
                found.add(
                    "duplicate-elements",
                    Witness::Duplicates {
                        op: txns.op(t).clone(),
                        mop: txns.mop_json(t, i).clone(),
                        duplicates: dups
                            .into_iter()
                            .map(|(e, n)| (txns.value(e).to_string(), n))
                            .collect(),
                    },
                );
            }
        }
    }

    fn incompatible_orders(&self, found: &mut Anomalies) {
        let txns = self.txns;
        // Each key's distinct non-empty ok reads, in order of first sight.
        let mut reads: FxHashMap<u32, Vec<&[u32]>> = FxHashMap::default();
        let mut seen: rustc_hash::FxHashSet<(u32, &[u32])> = Default::default();
        for t in 0..txns.len() as u32 {
            if txns.txn(t).status != Status::Ok {
                continue;
            }
            for mop in txns.mops(t).iter().filter(|m| m.kind == MopKind::Read) {
                let Some(list) = txns.list_of(mop).filter(|l| !l.is_empty()) else {
                    continue;
                };
                if seen.insert((mop.key, list)) {
                    reads.entry(mop.key).or_default().push(list);
                }
            }
        }
        let mut keys: Vec<u32> = reads.keys().copied().collect();
        keys.sort_unstable();
        for key in keys {
            let mut lists = reads.remove(&key).unwrap_or_default();
            lists.sort_by_key(|l| l.len());
            if let Some(pair) = lists.windows(2).find(|w| !w[1].starts_with(w[0])) {
                let json = |l: &[u32]| Value::Array(l.iter().map(|&e| txns.value(e)).collect());
                found.add(
                    "incompatible-order",
                    Witness::IncompatibleOrder {
                        key: txns.key(key),
                        values: [json(pair[0]), json(pair[1])],
                    },
                );
            }
        }
    }

    /// Elle's `dirty-update-cases`: walking each read key's version order,
    /// a committed append directly after an aborted one.
    fn dirty_updates(&self, found: &mut Anomalies) {
        let txns = self.txns;
        let mut keys: Vec<u32> = self.order.keys().copied().collect();
        keys.sort_unstable();
        for key in keys {
            let order = &self.order[&key];
            // The initial state is committed.
            let mut last_status = Status::Ok;
            let mut last_txn: Option<u32> = None;
            let mut values: Vec<u32> = Vec::new();
            for &v in order {
                let Some(&t2) = self.writer.get(&(key, v)) else {
                    continue;
                };
                let s2 = txns.txn(t2).status;
                match (last_status, s2) {
                    (Status::Fail, Status::Ok) => {
                        values.push(v);
                        let t1 = last_txn.expect("a failed version has a writer");
                        found.add(
                            "dirty-update",
                            Witness::DirtyUpdate {
                                key: txns.key(key),
                                values: values.iter().map(|&e| txns.value(e)).collect(),
                                txns: [
                                    op_json(txns, t1),
                                    Value::String("...".into()),
                                    op_json(txns, t2),
                                ],
                            },
                        );
                        (last_status, last_txn, values) = (s2, Some(t2), vec![v]);
                    }
                    (_, Status::Info) => values.push(v),
                    (Status::Fail, Status::Fail) => values.push(v),
                    _ => (last_status, last_txn, values) = (s2, Some(t2), vec![v]),
                }
            }
        }
    }
}

/// Reads whose element no transaction appended: Elle's analysis stops on
/// them (its dirty-update pass asserts every read element has a writer).
pub fn unwritten_read(txns: &Txns, writer_of: impl Fn(u32, u32) -> bool) -> Option<Precondition> {
    for t in 0..txns.len() as u32 {
        for mop in txns.mops(t).iter().filter(|m| m.kind == MopKind::Read) {
            for &e in txns.list_of(mop).unwrap_or(&[]) {
                if !writer_of(mop.key, e) {
                    return Some(Precondition {
                        kind: "read-of-unwritten-element",
                        message: format!(
                            "op {} read element {} of key {}, which no transaction appended",
                            txns.op(t).index,
                            txns.value(e),
                            txns.key(mop.key)
                        ),
                    });
                }
            }
        }
    }
    None
}

impl ListAppend<'_, '_> {
    /// The precondition lightcone adds to Elle's: every element read was
    /// appended by some transaction.
    pub fn check_reads_written(&self) -> Result<(), Precondition> {
        match unwritten_read(self.txns, |k, e| self.writer.contains_key(&(k, e))) {
            Some(p) => Err(p),
            None => Ok(()),
        }
    }
}

fn op_json(txns: &Txns, t: u32) -> Value {
    serde_json::to_value(txns.op(t)).expect("an op serializes")
}

/// (key, element) -> the transaction that appended it and later appended
/// another element to the same key (Elle's `intermediate-write-indices`).
fn intermediate_appends(txns: &Txns) -> FxHashMap<(u32, u32), u32> {
    let mut im = FxHashMap::default();
    let mut last: FxHashMap<u32, u32> = FxHashMap::default();
    for t in 0..txns.len() as u32 {
        last.clear();
        for mop in txns.mops(t).iter().filter(|m| m.kind == MopKind::Append) {
            if let Some(prev) = last.insert(mop.key, mop.value) {
                im.insert((mop.key, prev), t);
            }
        }
    }
    im
}

/// What a transaction knows of a key so far (Elle's `op-int-case` state).
#[derive(Clone)]
enum Known {
    /// Read nothing (nil).
    Nil,
    /// The whole list.
    List(Vec<u32>),
    /// Only a suffix: the elements it appended, after an unknown prefix.
    Suffix(Vec<u32>),
}

/// Elle's `op-int-case`: the first read of an ok transaction that
/// contradicts its own earlier reads and appends of that key.
fn internal_case(txns: &Txns, t: u32) -> Option<Witness> {
    let mut state: FxHashMap<u32, Known> = FxHashMap::default();
    for (i, mop) in txns.mops(t).iter().enumerate() {
        match mop.kind {
            MopKind::Append => {
                let next = match state.remove(&mop.key) {
                    None => Known::Suffix(vec![mop.value]),
                    Some(Known::Nil) => Known::List(vec![mop.value]),
                    Some(Known::List(mut l)) => {
                        l.push(mop.value);
                        Known::List(l)
                    }
                    Some(Known::Suffix(mut s)) => {
                        s.push(mop.value);
                        Known::Suffix(s)
                    }
                };
                state.insert(mop.key, next);
            }
            _ => {
                let read = txns.list_of(mop);
                let contradicts = match (state.get(&mop.key), read) {
                    (None, _) => false,
                    (Some(Known::Nil), None) => false,
                    (Some(Known::Nil), Some(_)) | (Some(Known::List(_)), None) => true,
                    (Some(Known::List(l)), Some(r)) => l.as_slice() != r,
                    (Some(Known::Suffix(s)), r) => !r.unwrap_or(&[]).ends_with(s),
                };
                if contradicts {
                    let expected = match &state[&mop.key] {
                        Known::Nil => Value::Null,
                        Known::List(l) => Value::Array(l.iter().map(|&e| txns.value(e)).collect()),
                        Known::Suffix(s) => Value::Array(
                            std::iter::once(Value::String("...".into()))
                                .chain(s.iter().map(|&e| txns.value(e)))
                                .collect(),
                        ),
                    };
                    return Some(Witness::Internal {
                        op: txns.op(t).clone(),
                        mop: txns.mop_json(t, i).clone(),
                        expected,
                    });
                }
                let known = match read {
                    None => Known::Nil,
                    Some(r) => Known::List(r.to_vec()),
                };
                state.insert(mop.key, known);
            }
        }
    }
    None
}

/// Elle's `op-future-read-case`: an ok transaction that read an element it
/// appends later.
fn future_read_case(txns: &Txns, t: u32) -> Option<Witness> {
    // (key, element) -> the first read micro-op that saw it.
    let mut reads: FxHashMap<(u32, u32), usize> = FxHashMap::default();
    for (i, mop) in txns.mops(t).iter().enumerate() {
        match mop.kind {
            MopKind::Append => {
                if let Some(&r) = reads.get(&(mop.key, mop.value)) {
                    return Some(Witness::FutureRead {
                        op: txns.op(t).clone(),
                        mop: txns.mop_json(t, r).clone(),
                        element: txns.value(mop.value),
                    });
                }
            }
            _ => {
                for &e in txns.list_of(mop).unwrap_or(&[]) {
                    reads.entry((mop.key, e)).or_insert(i);
                }
            }
        }
    }
    None
}

impl crate::explain::DataExplainer for ListAppend<'_, '_> {
    fn explain(&self, a: u32, b: u32, rel: Rels) -> Option<Step> {
        ListAppend::explain(self, a, b, rel)
    }

    fn render(&self, step: &Step, a: &str, b: &str) -> String {
        ListAppend::render(step, a, b)
    }
}
