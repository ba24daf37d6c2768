//! Read-write register histories (elle/rw_register.clj). A blind write
//! destroys history, so the version order of a key is only partly known:
//! the initial nil precedes every value; with `wfr-keys`, a transaction's
//! external read precedes its own write; optionally, per-key sequential or
//! linearizable order (process or real-time order between transactions
//! that touched the key). Sources are added one at a time and one that
//! would make some key's version order cyclic is dropped, reported as
//! `cyclic-versions`. wr edges come straight from reads of a uniquely
//! written value; ww and rw from the version order.

use std::collections::BTreeSet;

use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::Value;

use crate::anomaly::{Anomalies, Step, Witness};
use crate::explain::edn;
use crate::graph::{sccs, Graph, GraphBuilder, Rels};
use crate::list_append::Precondition;
use crate::ops::{MopKind, Status, Txns, NIL};
use crate::TxnOptions;

/// A transaction's external reads and writes: per key, the value of its
/// first micro-op on the key if that is a read (Jepsen's `ext-reads`), and
/// the value of its last write (`ext-writes`), in order of first mention.
#[derive(Default, Clone)]
struct External {
    reads: Vec<(u32, u32)>,
    writes: Vec<(u32, u32)>,
}

impl External {
    fn of(txns: &Txns, t: u32) -> External {
        let mut ext = External::default();
        let mut seen: Vec<u32> = Vec::new();
        for mop in txns.mops(t) {
            match mop.kind {
                MopKind::Read if !seen.contains(&mop.key) => ext.reads.push((mop.key, mop.value)),
                MopKind::Write => match ext.writes.iter_mut().find(|(k, _)| *k == mop.key) {
                    Some(w) => w.1 = mop.value,
                    None => ext.writes.push((mop.key, mop.value)),
                },
                _ => {}
            }
            if !seen.contains(&mop.key) {
                seen.push(mop.key);
            }
        }
        ext
    }

    fn read(&self, key: u32) -> Option<u32> {
        self.reads.iter().find(|(k, _)| *k == key).map(|r| r.1)
    }

    fn write(&self, key: u32) -> Option<u32> {
        self.writes.iter().find(|(k, _)| *k == key).map(|w| w.1)
    }
}

/// What the analysis of a register history found.
pub struct RwRegister<'t, 'h> {
    txns: &'t Txns<'h>,
    ext: Vec<External>,
    /// key -> version graph edges (v1 -> v2), NIL being the initial state.
    versions: FxHashMap<u32, FxHashSet<(u32, u32)>>,
    /// (key, value) -> ok transactions that externally wrote / read it.
    ext_writers: FxHashMap<(u32, u32), Vec<u32>>,
    ext_readers: FxHashMap<(u32, u32), Vec<u32>>,
    cyclic: Vec<Witness>,
}

impl<'t, 'h> RwRegister<'t, 'h> {
    /// Indexes the history and infers version orders from the sources
    /// `options` asks for. `order` gives process or real-time edges when a
    /// source needs them.
    pub fn new(
        txns: &'t Txns<'h>,
        options: &TxnOptions,
        order: &dyn Fn(Rels) -> Graph,
    ) -> Result<RwRegister<'t, 'h>, Precondition> {
        let ext: Vec<External> = (0..txns.len() as u32)
            .map(|t| External::of(txns, t))
            .collect();
        let mut rr = RwRegister {
            txns,
            ext,
            versions: FxHashMap::default(),
            ext_writers: FxHashMap::default(),
            ext_readers: FxHashMap::default(),
            cyclic: Vec::new(),
        };
        rr.index();
        rr.unique_writers()?;
        let mut sources: Vec<&'static str> = Vec::new();
        rr.add_source(&mut sources, "initial-state", rr.initial_state());
        if options.wfr_keys {
            rr.add_source(&mut sources, "wfr-keys", rr.writes_follow_reads());
        }
        if options.sequential_keys {
            let g = order(Rels::PROCESS);
            rr.add_source(&mut sources, "sequential-keys", rr.versions_along(&g));
        }
        if options.linearizable_keys {
            let g = order(Rels::REALTIME);
            rr.add_source(&mut sources, "linearizable-keys", rr.versions_along(&g));
        }
        Ok(rr)
    }

    fn ok(&self, t: u32) -> bool {
        self.txns.txn(t).status == Status::Ok
    }

    fn index(&mut self) {
        for t in 0..self.txns.len() as u32 {
            if !self.ok(t) {
                continue;
            }
            for &(k, v) in &self.ext[t as usize].writes {
                self.ext_writers.entry((k, v)).or_default().push(t);
            }
            for &(k, v) in &self.ext[t as usize].reads {
                self.ext_readers.entry((k, v)).or_default().push(t);
            }
        }
    }

    /// Elle refuses a value written by two transactions that someone read:
    /// there would be several possible orders.
    fn unique_writers(&self) -> Result<(), Precondition> {
        let mut read: Vec<&(u32, u32)> = self.ext_readers.keys().collect();
        read.sort_unstable();
        for kv in read {
            if let Some(writers) = self.ext_writers.get(kv).filter(|w| w.len() > 1) {
                let ops: Vec<u64> = writers.iter().map(|&w| self.txns.op(w).index).collect();
                return Err(Precondition {
                    kind: "duplicate-writes",
                    message: format!(
                        "key {} had value {} written by more than one op (ops {ops:?}); \
                         rw-register needs every written value to be unique per key",
                        self.txns.key(kv.0),
                        self.txns.value(kv.1)
                    ),
                });
            }
        }
        Ok(())
    }

    /// Merges a source's version edges unless they make some key's order
    /// cyclic; then the source is dropped and the cycles reported.
    fn add_source(
        &mut self,
        sources: &mut Vec<&'static str>,
        name: &'static str,
        edges: FxHashMap<u32, FxHashSet<(u32, u32)>>,
    ) {
        let mut merged = self.versions.clone();
        for (k, es) in edges {
            merged.entry(k).or_default().extend(es);
        }
        let mut with: Vec<&'static str> = sources.clone();
        with.push(name);
        let cycles = self.cyclic_versions(&merged, &with);
        if cycles.is_empty() {
            self.versions = merged;
            *sources = with;
        } else {
            self.cyclic.extend(cycles);
        }
    }

    fn cyclic_versions(
        &self,
        graphs: &FxHashMap<u32, FxHashSet<(u32, u32)>>,
        sources: &[&'static str],
    ) -> Vec<Witness> {
        let mut keys: Vec<u32> = graphs.keys().copied().collect();
        keys.sort_unstable();
        let mut cases = Vec::new();
        for k in keys {
            for scc in version_sccs(&graphs[&k]) {
                cases.push(Witness::CyclicVersions {
                    key: self.txns.key(k),
                    scc: scc.iter().map(|&v| self.version(v)).collect(),
                    sources: sources.to_vec(),
                });
            }
        }
        cases
    }

    fn version(&self, v: u32) -> Value {
        if v == NIL {
            Value::Null
        } else {
            self.txns.value(v)
        }
    }

    /// nil precedes every value written or read (ok and indeterminate
    /// writes, ok reads).
    fn initial_state(&self) -> FxHashMap<u32, FxHashSet<(u32, u32)>> {
        let mut edges: FxHashMap<u32, FxHashSet<(u32, u32)>> = FxHashMap::default();
        for t in 0..self.txns.len() as u32 {
            let status = self.txns.txn(t).status;
            if status == Status::Fail {
                continue;
            }
            let ext = &self.ext[t as usize];
            let reads = if status == Status::Ok {
                &ext.reads[..]
            } else {
                &[]
            };
            for &(k, v) in ext.writes.iter().chain(reads) {
                if v != NIL {
                    edges.entry(k).or_default().insert((NIL, v));
                }
            }
        }
        edges
    }

    /// A committed transaction's external read precedes its own write.
    fn writes_follow_reads(&self) -> FxHashMap<u32, FxHashSet<(u32, u32)>> {
        let mut edges: FxHashMap<u32, FxHashSet<(u32, u32)>> = FxHashMap::default();
        for t in 0..self.txns.len() as u32 {
            if !self.ok(t) {
                continue;
            }
            let ext = &self.ext[t as usize];
            for &(k, v) in &ext.reads {
                if let Some(w) = ext.write(k).filter(|_| v != NIL) {
                    if w != v {
                        edges.entry(k).or_default().insert((v, w));
                    }
                }
            }
        }
        edges
    }

    /// The keys a transaction touched externally: ok reads and writes,
    /// indeterminate writes (Elle's `ext-keys`).
    fn ext_keys(&self, t: u32) -> Vec<u32> {
        let ext = &self.ext[t as usize];
        match self.txns.txn(t).status {
            Status::Ok => {
                let mut keys: Vec<u32> = ext.reads.iter().chain(&ext.writes).map(|e| e.0).collect();
                keys.sort_unstable();
                keys.dedup();
                keys
            }
            Status::Info => ext.writes.iter().map(|e| e.0).collect(),
            Status::Fail => Vec::new(),
        }
    }

    /// Version edges from an order between transactions (Elle's
    /// `transaction-graph->version-graphs`): the last value a transaction
    /// saw of a key precedes the first value seen by each next transaction,
    /// along the order, to touch the key.
    fn versions_along(&self, order: &Graph) -> FxHashMap<u32, FxHashSet<(u32, u32)>> {
        let mut edges: FxHashMap<u32, FxHashSet<(u32, u32)>> = FxHashMap::default();
        let n = self.txns.len() as u32;
        let keys: Vec<Vec<u32>> = (0..n).map(|t| self.ext_keys(t)).collect();
        // The transactions touching each key.
        let mut touching: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
        for t in 0..n {
            for &k in &keys[t as usize] {
                touching.entry(k).or_default().push(t);
            }
        }
        let mut sorted_keys: Vec<u32> = touching.keys().copied().collect();
        sorted_keys.sort_unstable();
        for k in sorted_keys {
            let next = first_touching(order, &touching[&k], &|t| {
                keys[t as usize].binary_search(&k).is_ok()
            });
            for (a, bs) in next {
                let Some(v1) = self.last_value(a, k) else {
                    continue;
                };
                for b in bs {
                    if let Some(v2) = self.first_value(b, k).filter(|&v2| v2 != v1) {
                        edges.entry(k).or_default().insert((v1, v2));
                    }
                }
            }
        }
        edges
    }

    /// The last version of `k` transaction `a` saw: its write, else its
    /// read (ok); its write (indeterminate).
    fn last_value(&self, a: u32, k: u32) -> Option<u32> {
        let ext = &self.ext[a as usize];
        match self.txns.txn(a).status {
            Status::Ok => Some(ext.write(k).or_else(|| ext.read(k)).unwrap_or(NIL)),
            Status::Info => ext.write(k),
            Status::Fail => None,
        }
    }

    /// The first version of `k` transaction `b` saw: its read, else its
    /// write (ok); its write (indeterminate).
    fn first_value(&self, b: u32, k: u32) -> Option<u32> {
        let ext = &self.ext[b as usize];
        match self.txns.txn(b).status {
            Status::Ok => match ext.read(k) {
                Some(v) if v != NIL => Some(v),
                _ => Some(ext.write(k).unwrap_or(NIL)),
            },
            Status::Info => ext.write(k),
            Status::Fail => None,
        }
    }

    /// wr edges from reads of a uniquely written value; ww and rw from the
    /// version order (Elle's `wr-graph` and `ww+rw-graph`).
    pub fn edges(&self, builder: &mut GraphBuilder) {
        let mut reads: Vec<(&(u32, u32), &Vec<u32>)> = self.ext_readers.iter().collect();
        reads.sort_unstable_by_key(|e| *e.0);
        for (kv, readers) in reads {
            if let Some(&[w]) = self.ext_writers.get(kv).map(Vec::as_slice) {
                for &r in readers {
                    builder.link(w, r, Rels::WR);
                }
            }
        }
        let empty: Vec<u32> = Vec::new();
        let mut keys: Vec<u32> = self.versions.keys().copied().collect();
        keys.sort_unstable();
        for k in keys {
            let mut es: Vec<&(u32, u32)> = self.versions[&k].iter().collect();
            es.sort_unstable();
            for &(v1, v2) in es {
                let v2_writes = self.ext_writers.get(&(k, v2)).unwrap_or(&empty);
                for &a in self.ext_writers.get(&(k, v1)).unwrap_or(&empty) {
                    for &b in v2_writes {
                        builder.link(a, b, Rels::WW);
                    }
                }
                for &a in self.ext_readers.get(&(k, v1)).unwrap_or(&empty) {
                    for &b in v2_writes {
                        builder.link(a, b, Rels::RW);
                    }
                }
            }
        }
    }

    /// Every anomaly found without the graph: cyclic-versions, G1a, G1b,
    /// internal, lost-update.
    pub fn anomalies(&self) -> Anomalies {
        let mut found = Anomalies::default();
        for w in &self.cyclic {
            found.add("cyclic-versions", w.clone());
        }
        self.aborted_and_intermediate_reads(&mut found);
        self.internal(&mut found);
        crate::lost_update::cases(self.txns, MopKind::Write, &mut found);
        found
    }

    fn aborted_and_intermediate_reads(&self, found: &mut Anomalies) {
        let txns = self.txns;
        let mut failed: FxHashMap<(u32, u32), u32> = FxHashMap::default();
        let mut intermediate: FxHashMap<(u32, u32), u32> = FxHashMap::default();
        for t in 0..txns.len() as u32 {
            let mut last: FxHashMap<u32, u32> = FxHashMap::default();
            for mop in txns.mops(t).iter().filter(|m| m.kind == MopKind::Write) {
                if txns.txn(t).status == Status::Fail {
                    failed.insert((mop.key, mop.value), t);
                }
                if let Some(prev) = last.insert(mop.key, mop.value) {
                    intermediate.insert((mop.key, prev), t);
                }
            }
        }
        for t in (0..txns.len() as u32).filter(|&t| self.ok(t)) {
            for (i, mop) in txns.mops(t).iter().enumerate() {
                if mop.kind != MopKind::Read {
                    continue;
                }
                let witness = |w: u32| Witness::Read {
                    op: txns.op(t).clone(),
                    mop: txns.mop_json(t, i).clone(),
                    writer: txns.op(w).clone(),
                    element: None,
                };
                if let Some(&w) = failed.get(&(mop.key, mop.value)) {
                    found.add("G1a", witness(w));
                }
                if let Some(&w) = intermediate.get(&(mop.key, mop.value)).filter(|&&w| w != t) {
                    found.add("G1b", witness(w));
                }
            }
        }
    }

    /// Elle's `op-internal-case` for registers: a read that disagrees with
    /// the transaction's own earlier read or write of the key.
    fn internal(&self, found: &mut Anomalies) {
        let txns = self.txns;
        for t in (0..txns.len() as u32).filter(|&t| self.ok(t)) {
            let mut state: FxHashMap<u32, u32> = FxHashMap::default();
            for (i, mop) in txns.mops(t).iter().enumerate() {
                if mop.kind == MopKind::Read {
                    if let Some(&s) = state.get(&mop.key).filter(|&&s| s != mop.value) {
                        found.add(
                            "internal",
                            Witness::Internal {
                                op: txns.op(t).clone(),
                                mop: txns.mop_json(t, i).clone(),
                                expected: self.version(s),
                            },
                        );
                        break;
                    }
                }
                state.insert(mop.key, mop.value);
            }
        }
    }

    /// Whether `v1 -> v2` is in key `k`'s version graph.
    fn precedes(&self, k: u32, v1: u32, v2: u32) -> bool {
        self.versions
            .get(&k)
            .is_some_and(|es| es.contains(&(v1, v2)))
    }

    fn explain_version(&self, kind: &'static str, a: u32, b: u32) -> Option<Step> {
        let (ea, eb) = (&self.ext[a as usize], &self.ext[b as usize]);
        let a_side = if kind == "ww" { &ea.writes } else { &ea.reads };
        for &(k, v) in a_side {
            let Some(v2) = eb.write(k) else { continue };
            if self.precedes(k, v, v2) {
                let a_kind = if kind == "ww" {
                    MopKind::Write
                } else {
                    MopKind::Read
                };
                return Some(Step::Data {
                    kind,
                    key: self.txns.key(k),
                    value: self.version(v),
                    value2: Some(self.version(v2)),
                    a_mop_index: self.mop_index(a, a_kind, k, v),
                    b_mop_index: self.mop_index(b, MopKind::Write, k, v2),
                });
            }
        }
        None
    }

    fn explain_wr(&self, a: u32, b: u32) -> Option<Step> {
        let (ea, eb) = (&self.ext[a as usize], &self.ext[b as usize]);
        ea.writes.iter().find_map(|&(k, v)| {
            (eb.read(k) == Some(v)).then(|| Step::Data {
                kind: "wr",
                key: self.txns.key(k),
                value: self.version(v),
                value2: None,
                a_mop_index: self.mop_index(a, MopKind::Write, k, v),
                b_mop_index: self.mop_index(b, MopKind::Read, k, v),
            })
        })
    }

    fn mop_index(&self, t: u32, kind: MopKind, k: u32, v: u32) -> Option<usize> {
        self.txns
            .mops(t)
            .iter()
            .position(|m| m.kind == kind && m.key == k && m.value == v)
    }
}

impl crate::explain::DataExplainer for RwRegister<'_, '_> {
    fn explain(&self, a: u32, b: u32, rel: Rels) -> Option<Step> {
        match rel {
            Rels::WR => self.explain_wr(a, b),
            Rels::WW => self.explain_version("ww", a, b),
            Rels::RW => self.explain_version("rw", a, b),
            _ => None,
        }
    }

    fn render(&self, step: &Step, a: &str, b: &str) -> String {
        let Step::Data {
            kind,
            key,
            value,
            value2,
            ..
        } = step
        else {
            unreachable!("registers explain data steps only")
        };
        let (key, value) = (edn(key), edn(value));
        let value2 = value2.as_ref().map(edn).unwrap_or_default();
        match *kind {
            "wr" => format!("{a} wrote {key} = {value}, which was read by {b}"),
            "ww" => format!(
                "{a} set key {key} to {value}, and {b} set it to {value2}, which came later in the version order"
            ),
            _ => format!(
                "{a} read key {key} = {value}, and {b} set it to {value2}, which came later in the version order"
            ),
        }
    }
}

/// The strongly connected components (more than one value) of a key's
/// version graph, each sorted, in order.
fn version_sccs(edges: &FxHashSet<(u32, u32)>) -> Vec<Vec<u32>> {
    let mut ids: FxHashMap<u32, u32> = FxHashMap::default();
    let mut values: Vec<u32> = Vec::new();
    let mut intern = |v: u32| -> u32 {
        *ids.entry(v).or_insert_with(|| {
            values.push(v);
            (values.len() - 1) as u32
        })
    };
    let mut sorted: Vec<&(u32, u32)> = edges.iter().collect();
    sorted.sort_unstable();
    let mut builder = GraphBuilder::default();
    for &&(a, b) in &sorted {
        let (a, b) = (intern(a), intern(b));
        builder.link(a, b, Rels::WW);
    }
    let g = builder.build(values.len());
    let all: Vec<u32> = (0..values.len() as u32).collect();
    sccs(&g, &all, &|_| true, &|_| true)
        .into_iter()
        .map(|c| {
            let set: BTreeSet<u32> = c.iter().map(|&i| values[i as usize]).collect();
            set.into_iter().collect()
        })
        .collect()
}

/// For each transaction in `touching` (those that touched a key), the
/// first transactions that touched it again along each path of `order`,
/// a DAG whose edges point forward in the history.
fn first_touching(
    order: &Graph,
    touching: &[u32],
    touches: &dyn Fn(u32) -> bool,
) -> Vec<(u32, Vec<u32>)> {
    let mut memo: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    touching
        .iter()
        .map(|&a| {
            let mut firsts: Vec<u32> = Vec::new();
            for (w, _) in order.out(a) {
                firsts.extend(downstream(order, w, touches, &mut memo));
            }
            firsts.sort_unstable();
            firsts.dedup();
            (a, firsts)
        })
        .collect()
}

/// `{v}` if `v` touched the key, else the first touching transactions
/// below `v`; memoised, iterative (histories can be long chains).
fn downstream(
    order: &Graph,
    v: u32,
    touches: &dyn Fn(u32) -> bool,
    memo: &mut FxHashMap<u32, Vec<u32>>,
) -> Vec<u32> {
    if touches(v) {
        return vec![v];
    }
    let mut stack: Vec<u32> = vec![v];
    while let Some(&x) = stack.last() {
        if memo.contains_key(&x) {
            stack.pop();
            continue;
        }
        let pending: Vec<u32> = order
            .out(x)
            .map(|(w, _)| w)
            .filter(|&w| !touches(w) && !memo.contains_key(&w))
            .collect();
        if !pending.is_empty() {
            stack.extend(pending);
            continue;
        }
        let mut set: Vec<u32> = Vec::new();
        for (w, _) in order.out(x) {
            if touches(w) {
                set.push(w);
            } else {
                set.extend(memo[&w].iter().copied());
            }
        }
        set.sort_unstable();
        set.dedup();
        memo.insert(x, set);
        stack.pop();
    }
    memo[&v].clone()
}
