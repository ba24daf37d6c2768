//! What can be decided about a register without searching.
//!
//! - A pre-pass over the values: a read of a value that nothing writes
//!   (and that is not the initial value) can never be linearized, nor a
//!   cas from such a value; an indeterminate cas from such a value never
//!   took effect and is dropped.
//! - A stale read: a read of u is impossible when some ok write or cas of
//!   another value completes before the read begins, and every op that
//!   could set u and begins before the read ends (crashed ones included)
//!   completes before that write begins. O(n log n), any values, cas
//!   included; it catches the commonest real violation without a search.
//! - When there is no cas and every write writes a distinct value (other
//!   than the initial one), linearizability is decided in O(n log n) by
//!   the cluster/zone test (Gibbons & Korach 1997, "Testing shared
//!   memories", read-mapping; zones as in Anderson et al. 2010, "What
//!   consistency does your key-value store actually provide?", and Golab,
//!   Li & Shah 2011, "Analyzing consistency properties for fun and
//!   profit"): cluster each write with the reads of its value; a read that
//!   returns before its write is called cannot be linearized; per cluster
//!   take the minimum return f and the maximum call s; f < s is a forward
//!   zone [f, s] (the value must hold over it), otherwise a backward zone
//!   [s, f]. The history is linearizable iff no two forward zones overlap
//!   and no backward zone lies inside a forward zone.

use rustc_hash::FxHashMap;
use serde_json::Value;

use super::model::{Model, RegisterOp};
use super::prepare::{LinOp, NEVER};

/// What the value pre-pass found.
pub(crate) struct Screen {
    /// An ok op that is illegal in every state the register can reach: the
    /// op and why.
    pub impossible: Option<(usize, String)>,
    /// Indeterminate ops that can never take effect.
    pub dropped: Vec<usize>,
    /// No cas remains and every write's value is distinct and not the
    /// initial value: the zone test applies.
    pub unique: bool,
}

/// The pre-pass, or `None` when the model is not a register for every op.
pub(crate) fn screen<'a>(ops: &'a [LinOp], model: &dyn Model, init: &'a Value) -> Option<Screen> {
    let reg: Vec<RegisterOp> = ops
        .iter()
        .map(|op| model.register_op(&op.op))
        .collect::<Option<_>>()?;
    // Every value as a number: the initial one is 0.
    let mut values = Values::default();
    let init_id = values.id(init);
    let ids = value_ids(&reg, &mut values);
    let reachable = reachable_values(&reg, &ids, init_id, values.len());
    let (impossible, dropped) = unheld_ops(ops, &reg, &ids, &reachable, init);
    let unique = writes_are_unique(&reg, &ids, &dropped, init_id, values.len());
    Some(Screen {
        impossible,
        dropped,
        unique,
    })
}

/// Each op's values as numbers: the value read or written, or a cas's old
/// value, then a cas's new value ([`NO_VALUE`] where there is none).
fn value_ids<'a>(reg: &[RegisterOp<'a>], values: &mut Values<'a>) -> Vec<[u32; 2]> {
    reg.iter()
        .map(|r| match *r {
            RegisterOp::Read(None) => [NO_VALUE; 2],
            RegisterOp::Read(Some(v)) | RegisterOp::Write(v) => [values.id(v), NO_VALUE],
            RegisterOp::Cas(old, new) => [values.id(old), values.id(new)],
        })
        .collect()
}

/// The values (by number) the register can hold: the initial one, every
/// write's, and the new value of every cas whose old value it can hold (a
/// fixpoint over cas chains).
fn reachable_values(
    reg: &[RegisterOp],
    ids: &[[u32; 2]],
    init_id: u32,
    value_count: usize,
) -> Vec<bool> {
    let mut reachable = vec![false; value_count];
    let mut cas_from: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    let mut work: Vec<u32> = vec![init_id];
    for (r, id) in reg.iter().zip(ids) {
        match r {
            RegisterOp::Write(_) => work.push(id[0]),
            RegisterOp::Cas(..) => cas_from.entry(id[0]).or_default().push(id[1]),
            RegisterOp::Read(_) => {}
        }
    }
    while let Some(v) = work.pop() {
        if !std::mem::replace(&mut reachable[v as usize], true) {
            if let Some(news) = cas_from.get(&v) {
                work.extend(news);
            }
        }
    }
    reachable
}

/// The ops that need a value the register can never hold (a read of it,
/// a cas from it): the first ok one, which is impossible, with why; and
/// the indeterminate ones, which never took effect.
fn unheld_ops(
    ops: &[LinOp],
    reg: &[RegisterOp],
    ids: &[[u32; 2]],
    reachable: &[bool],
    init: &Value,
) -> (Option<(usize, String)>, Vec<usize>) {
    let mut impossible = None;
    let mut dropped = Vec::new();
    for (i, ((r, id), op)) in reg.iter().zip(ids).zip(ops).enumerate() {
        let unheld = match r {
            RegisterOp::Read(Some(v)) => Some(("read", *v)),
            RegisterOp::Cas(old, _) => Some(("cas from", *old)),
            _ => None,
        }
        .filter(|_| !reachable[id[0] as usize]);
        if let Some((what, v)) = unheld {
            if op.is_indeterminate() {
                dropped.push(i);
            } else if impossible.is_none() {
                impossible = Some((
                    i,
                    format!(
                        "{what} {v}, but no op ever writes {v} and the initial value is {init}"
                    ),
                ));
            }
        }
    }
    (impossible, dropped)
}

/// Whether the zone test applies once `dropped` is: no cas remains, and
/// every write's value is distinct and not the initial one.
fn writes_are_unique(
    reg: &[RegisterOp],
    ids: &[[u32; 2]],
    dropped: &[usize],
    init_id: u32,
    value_count: usize,
) -> bool {
    let is_dropped = flags(dropped, reg.len());
    let mut written = vec![false; value_count];
    written[init_id as usize] = true;
    reg.iter().zip(ids).enumerate().all(|(i, (r, id))| match r {
        RegisterOp::Cas(..) => is_dropped[i],
        RegisterOp::Write(_) => !std::mem::replace(&mut written[id[0] as usize], true),
        RegisterOp::Read(_) => true,
    })
}

/// No value (a read whose result is unknown).
const NO_VALUE: u32 = u32::MAX;

/// A value's identity, as its JSON text, but without writing the text of
/// a scalar: two values have equal keys exactly when their texts are
/// equal once every -0.0 in them is written 0.0. (A non-negative integer is
/// always `Uint`, a negative one `Int`; a float's text always has a `.` or
/// an exponent, so it never equals an integer's; a string's text is its
/// quoted contents.) That is the register models' `==` on JSON values, for
/// which -0.0 and 0.0 are equal, and Knossos's: `Register` and
/// `CASRegister` in knossos/src/knossos/model.clj compare with Clojure's
/// `=`, which is `==` on doubles.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ValueKey<'a> {
    Null,
    Bool(bool),
    Uint(u64),
    Int(i64),
    Str(&'a str),
    Text(String),
}

impl<'a> ValueKey<'a> {
    fn of(v: &'a Value) -> ValueKey<'a> {
        match v {
            Value::Null => ValueKey::Null,
            Value::Bool(b) => ValueKey::Bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => ValueKey::Uint(u),
                (None, Some(i)) => ValueKey::Int(i),
                (None, None) => ValueKey::Text(equality_text(v)),
            },
            Value::String(s) => ValueKey::Str(s),
            Value::Array(_) | Value::Object(_) => ValueKey::Text(equality_text(v)),
        }
    }
}

/// The JSON text of `v` with every -0.0 in it written 0.0: two values are
/// `==` exactly when these texts are equal (serde_json writes each float
/// in one shortest form, and -0.0 is the one float `==` to another).
fn equality_text(v: &Value) -> String {
    let text = v.to_string();
    if text.contains("-0.0") {
        without_negative_zero(v).to_string()
    } else {
        text
    }
}

fn without_negative_zero(v: &Value) -> Value {
    match v {
        Value::Number(n) if n.as_f64() == Some(0.0) && n.is_f64() => Value::from(0.0),
        Value::Array(items) => items.iter().map(without_negative_zero).collect(),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), without_negative_zero(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Numbers for values, from 0 in order of appearance; equal values (by
/// JSON text) get equal numbers.
#[derive(Default)]
struct Values<'a> {
    ids: FxHashMap<ValueKey<'a>, u32>,
}

impl<'a> Values<'a> {
    fn id(&mut self, v: &'a Value) -> u32 {
        let next = self.ids.len() as u32;
        *self.ids.entry(ValueKey::of(v)).or_insert(next)
    }

    fn get(&self, v: &'a Value) -> Option<u32> {
        self.ids.get(&ValueKey::of(v)).copied()
    }

    fn len(&self) -> usize {
        self.ids.len()
    }
}

/// A read that cannot see its value (see [`stale_read`]).
#[derive(Debug, Clone)]
pub(crate) struct StaleRead {
    pub read: usize,
    /// The ok write or cas that overwrote the value.
    pub setter: usize,
    /// The last op that could have set the value before the setter began,
    /// if any.
    pub producer: Option<usize>,
}

impl StaleRead {
    /// Why the read cannot see its value, in the partition `key`, for the
    /// witness: "op 2 wrote 3 before this read began, ...", and, where the
    /// model names its partitions' keys (see [`Model::describe_keyed_op`]),
    /// "op 2 wrote 3 to key 0 ...".
    pub fn cause(&self, ops: &[LinOp], model: &dyn Model, key: Option<&Value>) -> String {
        let value = ops[self.read]
            .op
            .output
            .as_ref()
            .expect("an ok read has a value");
        let setter = &ops[self.setter];
        let key = key.filter(|key| model.describe_keyed_op(key, &setter.op).is_some());
        let wrote = match (key, model.register_op(&setter.op)) {
            (Some(key), Some(RegisterOp::Cas(_, new))) => {
                format!(
                    "wrote {new} to key {key} ({})",
                    model.describe_op(&setter.op)
                )
            }
            (Some(key), _) => format!("wrote {} to key {key}", setter.op.input),
            (None, _) => format!("wrote {}", setter.op.input),
        };
        let setter = setter.invoke_index;
        match self.producer {
            Some(p) => format!(
                "op {setter} {wrote} after every op that could set {value} had completed \
                 (the last, op {}), and before this read began",
                ops[p].invoke_index
            ),
            None => format!(
                "op {setter} {wrote} before this read began, and nothing that could set \
                 {value} began before the read ended"
            ),
        }
    }
}

/// Finds the first (by call) read whose value was certainly overwritten
/// before it began: an ok op w setting v != u returns before the read r of
/// u is called, and every op that could set u (write u, cas to u, ok or
/// indeterminate) called before r returns has returned before w is
/// called. In any linearization w precedes r, and every op setting u that
/// can precede r precedes w, so the register does not hold u at r.
/// `ops` must all be register ops (after [`screen`]).
pub(crate) fn stale_read(ops: &[LinOp], model: &dyn Model, skip: &[usize]) -> Option<StaleRead> {
    let (sets, reads, value_count) = sets_and_reads(ops, model, skip);
    let producers = Producers::new(ops, &sets, value_count);
    let setters = Setters::new(ops, &sets);
    reads.iter().find_map(|&(r, u)| {
        let (w_call, _, setter) = setters.latest_of_another_value(u, ops[r].call_rank)?;
        let producer = producers.last_called_before(u, ops[r].ret_rank);
        if producer.is_some_and(|(_, ret, _)| ret > w_call) {
            return None; // a producer of u may come after the setter
        }
        Some(StaleRead {
            read: r,
            setter,
            producer: producer.map(|(_, _, p)| p),
        })
    })
}

/// What each op not skipped sets (its value's number), the ok reads with
/// the value each read, and how many values there are.
fn sets_and_reads(
    ops: &[LinOp],
    model: &dyn Model,
    skip: &[usize],
) -> (Vec<Option<u32>>, Vec<(usize, u32)>, usize) {
    let skipped = flags(skip, ops.len());
    let mut values = Values::default();
    let mut sets: Vec<Option<u32>> = vec![None; ops.len()];
    let mut reads: Vec<(usize, u32)> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        if skipped[i] {
            continue;
        }
        match model.register_op(&op.op) {
            Some(RegisterOp::Write(v)) | Some(RegisterOp::Cas(_, v)) => {
                sets[i] = Some(values.id(v))
            }
            Some(RegisterOp::Read(Some(v))) if !op.is_indeterminate() => {
                reads.push((i, values.id(v)))
            }
            _ => {}
        }
    }
    (sets, reads, values.len())
}

/// The producers of each value (every op that could set it: ok or
/// indeterminate) in call order (ops are sorted by call), each as (call,
/// the running maximum return, the op that has it): value v's are
/// `list[starts[v]..starts[v + 1]]`.
struct Producers {
    starts: Vec<usize>,
    list: Vec<(u32, u32, usize)>,
}

impl Producers {
    fn new(ops: &[LinOp], sets: &[Option<u32>], value_count: usize) -> Producers {
        let mut starts = vec![0usize; value_count + 1];
        for v in sets.iter().flatten() {
            starts[*v as usize + 1] += 1;
        }
        for v in 0..value_count {
            starts[v + 1] += starts[v];
        }
        let mut list: Vec<(u32, u32, usize)> = vec![(0, 0, 0); starts[value_count]];
        let mut filled = starts.clone();
        for (i, set) in sets.iter().enumerate() {
            if let Some(v) = set {
                let (v, at) = (*v as usize, filled[*v as usize]);
                let (ret, who) = match list[starts[v]..at].last() {
                    Some(&(_, r, w)) if r >= ops[i].ret_rank => (r, w),
                    _ => (ops[i].ret_rank, i),
                };
                list[at] = (ops[i].call_rank, ret, who);
                filled[v] += 1;
            }
        }
        debug_assert!(
            filled[..value_count] == starts[1..],
            "every value's producers fill its range exactly"
        );
        Producers { starts, list }
    }

    /// The last producer of value `u` called before `rank`, if any.
    fn last_called_before(&self, u: u32, rank: u32) -> Option<(u32, u32, usize)> {
        let list = &self.list[self.starts[u as usize]..self.starts[u as usize + 1]];
        let n = list.partition_point(|&(call, _, _)| call < rank);
        (n > 0).then(|| list[n - 1])
    }
}

/// A definite setter as (call rank, value, op).
type Setter = (u32, u32, usize);

/// The definite (ok) setters in return order, with, after each, the two
/// latest-called setters of distinct values among those returned so far.
struct Setters {
    by_return: Vec<(u32, usize)>,
    latest: Vec<(Option<Setter>, Option<Setter>)>,
}

impl Setters {
    fn new(ops: &[LinOp], sets: &[Option<u32>]) -> Setters {
        let mut by_return: Vec<(u32, usize)> = (0..ops.len())
            .filter(|&i| sets[i].is_some() && !ops[i].is_indeterminate())
            .map(|i| (ops[i].ret_rank, i))
            .collect();
        by_return.sort_unstable();
        let mut latest = Vec::with_capacity(by_return.len());
        let (mut b1, mut b2): (Option<Setter>, Option<Setter>) = (None, None);
        for &(_, i) in &by_return {
            let cand = (ops[i].call_rank, sets[i].expect("a setter sets"), i);
            if b1.is_none_or(|b| cand.0 > b.0) {
                if b1.is_some_and(|b| b.1 != cand.1) {
                    b2 = b1;
                }
                b1 = Some(cand);
            } else if cand.1 != b1.expect("set above").1 && b2.is_none_or(|b| cand.0 > b.0) {
                b2 = Some(cand);
            }
            debug_assert!(b2.is_none_or(|b| b1.is_some_and(|a| a.1 != b.1 && a.0 >= b.0)));
            latest.push((b1, b2));
        }
        Setters { by_return, latest }
    }

    /// The latest-called ok setter of a value other than `u` among those
    /// that return before `rank`.
    fn latest_of_another_value(&self, u: u32, rank: u32) -> Option<Setter> {
        let at = self.by_return.partition_point(|&(ret, _)| ret < rank);
        match *self.latest.get(at.checked_sub(1)?)? {
            (Some(b), _) if b.1 != u => Some(b),
            (_, Some(b)) => Some(b),
            _ => None,
        }
    }
}

/// `indices` as a membership vector of length `n`.
fn flags(indices: &[usize], n: usize) -> Vec<bool> {
    let mut v = vec![false; n];
    for &i in indices {
        v[i] = true;
    }
    v
}

/// Why the zone test rejects a history: the ops involved and a sentence.
#[derive(Debug, Clone)]
pub(crate) struct ZoneConflict {
    /// The op that cannot be linearized (a read, or a write inside a
    /// zone).
    pub op: usize,
    /// Other ops involved.
    pub others: Vec<usize>,
    pub cause: String,
}

/// The zone test over `ops` (all register reads and writes, written values
/// distinct and not the initial one, `skip` left out): `Ok(())` when
/// linearizable, else the conflict that shows it is not.
pub(crate) fn zones<'a>(
    ops: &'a [LinOp],
    model: &dyn Model,
    init: &'a Value,
    skip: &[usize],
) -> Result<(), ZoneConflict> {
    let clusters = Clusters::new(ops, model, init, skip)?;
    let (forward, backward) = clusters.zones(ops);
    if let Some((c1, c2)) = overlapping(&forward) {
        return Err(clusters.neither_follows(ops, init, c1, c2));
    }
    if let Some((c, zc)) = backward_inside_forward(&forward, &backward) {
        return Err(clusters.write_inside_zone(ops, init, c, zc));
    }
    Ok(())
}

/// A zone as (start, end, cluster), in ranks shifted by one so that the
/// initial value's write is at 0.
type Zone = (u64, u64, usize);

/// Each write with the reads of its value. Cluster 0 is the initial
/// value's, with no write.
struct Clusters {
    /// Each cluster's write.
    writes: Vec<Option<usize>>,
    /// The reads, in order, as (cluster, op).
    reads: Vec<(usize, usize)>,
}

impl Clusters {
    /// The clusters of the ops not skipped, or the conflict of a read that
    /// no write explains: of a value nothing writes, or returning before
    /// the only write of its value is called.
    fn new<'a>(
        ops: &'a [LinOp],
        model: &dyn Model,
        init: &'a Value,
        skip: &[usize],
    ) -> Result<Clusters, ZoneConflict> {
        let skipped = flags(skip, ops.len());
        let reg: Vec<Option<RegisterOp>> = ops
            .iter()
            .zip(&skipped)
            .map(|(op, &skipped)| model.register_op(&op.op).filter(|_| !skipped))
            .collect();
        let mut values = Values::default();
        values.id(init);
        let (writes, cluster_of) = cluster_writes(&reg, &mut values);
        let reads = cluster_reads(ops, &reg, &values, &writes, &cluster_of)?;
        Ok(Clusters { writes, reads })
    }

    /// The forward zones (sorted) and the backward ones: per cluster, the
    /// minimum return f and the maximum call s; f < s is a forward zone
    /// [f, s], over which the value must hold, else a backward zone [s, f].
    /// An indeterminate write nothing reads, and the initial value when
    /// nothing reads it, have no zone: they need not take effect.
    fn zones(&self, ops: &[LinOp]) -> (Vec<Zone>, Vec<Zone>) {
        let shift = |rank: u32| u64::from(rank) + 1;
        let mut bounds: Vec<(u64, u64)> = self
            .writes
            .iter()
            .map(|w| match w {
                Some(w) => (shift(ops[*w].ret_rank), shift(ops[*w].call_rank)),
                None => (0, 0),
            })
            .collect();
        let mut read_count = vec![0usize; self.writes.len()];
        for &(c, r) in &self.reads {
            read_count[c] += 1;
            let (f, s) = &mut bounds[c];
            *f = (*f).min(shift(ops[r].ret_rank));
            *s = (*s).max(shift(ops[r].call_rank));
        }
        let mut forward: Vec<Zone> = Vec::new();
        let mut backward: Vec<Zone> = Vec::new();
        for (c, (write, &(f, s))) in self.writes.iter().zip(&bounds).enumerate() {
            let unread = read_count[c] == 0;
            match write {
                Some(w) if unread && ops[*w].ret_rank == NEVER => continue,
                None if unread => continue,
                _ => {}
            }
            if f < s {
                forward.push((f, s, c));
            } else {
                backward.push((s, f, c));
            }
        }
        forward.sort_unstable();
        (forward, backward)
    }

    fn reads_of(&self, c: usize) -> impl Iterator<Item = usize> + '_ {
        self.reads.iter().filter(move |r| r.0 == c).map(|r| r.1)
    }

    /// The cluster's write (if any) and reads.
    fn ops_of(&self, c: usize) -> impl Iterator<Item = usize> + '_ {
        self.writes[c].into_iter().chain(self.reads_of(c))
    }

    fn value_of(&self, ops: &[LinOp], init: &Value, c: usize) -> String {
        match self.writes[c] {
            Some(w) => ops[w].op.input.to_string(),
            None => init.to_string(),
        }
    }

    /// The read of a cluster that is called last: it ends the zone.
    fn last_read(&self, ops: &[LinOp], c: usize) -> usize {
        self.reads_of(c)
            .max_by_key(|&r| ops[r].call_rank)
            .expect("a forward zone has reads")
    }

    /// The conflict of overlapping forward zones `c1` and `c2` (`c1`
    /// starting first).
    fn neither_follows(&self, ops: &[LinOp], init: &Value, c1: usize, c2: usize) -> ZoneConflict {
        let (a, b) = (self.value_of(ops, init, c1), self.value_of(ops, init, c2));
        ZoneConflict {
            op: self.last_read(ops, c1),
            others: self.ops_of(c1).chain(self.ops_of(c2)).collect(),
            cause: format!(
                "an op with {a} completed before the last read of {b} began, and an op \
                 with {b} completed before the last read of {a} began, so neither value \
                 can follow the other"
            ),
        }
    }

    /// The conflict of backward zone `c` inside forward zone `zc`.
    fn write_inside_zone(&self, ops: &[LinOp], init: &Value, c: usize, zc: usize) -> ZoneConflict {
        let (a, b) = (self.value_of(ops, init, c), self.value_of(ops, init, zc));
        ZoneConflict {
            op: self.last_read(ops, zc),
            others: self.ops_of(zc).chain(self.ops_of(c)).collect(),
            cause: format!(
                "the write of {a} (and any read of it) must take effect while the \
                 register has to hold {b} throughout"
            ),
        }
    }
}

/// Each cluster's write (cluster 0, the initial value's, has none), and
/// each value's cluster. Values are numbered in order of appearance, so
/// the initial value is 0 and each write's value is one more than the
/// last distinct one.
fn cluster_writes<'a>(
    reg: &[Option<RegisterOp<'a>>],
    values: &mut Values<'a>,
) -> (Vec<Option<usize>>, Vec<usize>) {
    let mut writes: Vec<Option<usize>> = vec![None];
    let mut cluster_of: Vec<usize> = vec![0];
    for (i, r) in reg.iter().enumerate() {
        if let Some(RegisterOp::Write(v)) = *r {
            let id = values.id(v) as usize;
            debug_assert!(id <= cluster_of.len(), "values are numbered as they come");
            if id == cluster_of.len() {
                cluster_of.push(writes.len());
            } else {
                cluster_of[id] = writes.len();
            }
            writes.push(Some(i));
        }
    }
    (writes, cluster_of)
}

/// The reads, in order, with their clusters; or the conflict of the first
/// read of a value nothing writes, or that returns before the only write
/// of its value is called.
fn cluster_reads<'a>(
    ops: &[LinOp],
    reg: &[Option<RegisterOp<'a>>],
    values: &Values<'a>,
    writes: &[Option<usize>],
    cluster_of: &[usize],
) -> Result<Vec<(usize, usize)>, ZoneConflict> {
    let mut reads: Vec<(usize, usize)> = Vec::new();
    for (i, r) in reg.iter().enumerate() {
        if let Some(RegisterOp::Read(Some(v))) = *r {
            let Some(c) = values.get(v).map(|id| cluster_of[id as usize]) else {
                return Err(ZoneConflict {
                    op: i,
                    others: Vec::new(),
                    cause: format!("read {v}, but no op ever writes {v}"),
                });
            };
            if let Some(w) = writes[c] {
                if ops[i].ret_rank < ops[w].call_rank {
                    return Err(ZoneConflict {
                        op: i,
                        others: vec![w],
                        cause: format!("read {v} returned before the only write of {v} began"),
                    });
                }
            }
            reads.push((c, i));
        }
    }
    Ok(reads)
}

/// Two forward zones (sorted by start) that overlap: (the first's cluster,
/// the second's).
fn overlapping(forward: &[Zone]) -> Option<(usize, usize)> {
    forward
        .windows(2)
        .find(|pair| pair[1].0 < pair[0].1)
        .map(|pair| (pair[0].2, pair[1].2))
}

/// A backward zone inside a forward zone (sorted by start): (the backward
/// zone's cluster, the forward zone's).
fn backward_inside_forward(forward: &[Zone], backward: &[Zone]) -> Option<(usize, usize)> {
    backward.iter().find_map(|&(s, f, c)| {
        let at = forward.partition_point(|&(start, _, _)| start < s);
        let (zf, zs, zc) = forward[at.checked_sub(1)?];
        (zf < s && f < zs).then_some((c, zc))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::models::model_by_name;
    use crate::prepare::prepare;
    use lightcone_history::build::{invoke, ok, op};
    use lightcone_history::{History, OpType};
    use serde_json::json;

    fn run(h: &History) -> (Screen, Result<(), ZoneConflict>) {
        let model = model_by_name("register", None).unwrap();
        let ops = prepare(h, model.as_ref()).unwrap().remove(0).ops;
        let screen = screen(&ops, model.as_ref(), &Value::Null).unwrap();
        let verdict = zones(&ops, model.as_ref(), &Value::Null, &screen.dropped);
        (screen, verdict)
    }

    fn seq(events: &[(u64, &str, Value, bool)]) -> History {
        // (process, f, value, is_invoke) at times 10, 20, ...
        events
            .iter()
            .enumerate()
            .map(|(i, (p, f, v, inv))| {
                let t = 10 * (i as u64 + 1);
                if *inv {
                    invoke(*p, f, if *f == "read" { Value::Null } else { v.clone() }, t)
                } else {
                    ok(*p, f, v.clone(), t)
                }
            })
            .collect()
    }

    #[test]
    fn sequential_reads_and_writes_pass() {
        let h = seq(&[
            (0, "read", Value::Null, true),
            (0, "read", Value::Null, false),
            (0, "write", json!(1), true),
            (0, "write", json!(1), false),
            (1, "read", json!(1), true),
            (1, "read", json!(1), false),
        ]);
        let (screen, verdict) = run(&h);
        assert!(screen.unique && screen.impossible.is_none());
        assert!(verdict.is_ok());
    }

    #[test]
    fn a_stale_read_makes_overlapping_forward_zones() {
        // write 1; write 2; read 2; read 1 (all sequential): 1's zone spans
        // 2's.
        let h = seq(&[
            (0, "write", json!(1), true),
            (0, "write", json!(1), false),
            (0, "write", json!(2), true),
            (0, "write", json!(2), false),
            (1, "read", json!(2), true),
            (1, "read", json!(2), false),
            (1, "read", json!(1), true),
            (1, "read", json!(1), false),
        ]);
        let err = run(&h).1.unwrap_err();
        assert!(err.cause.contains("neither value"), "{}", err.cause);
    }

    #[test]
    fn a_write_inside_a_zone_is_a_conflict() {
        // write 1; write 2 (never read); read 1: 2 lies inside 1's zone.
        let h = seq(&[
            (0, "write", json!(1), true),
            (0, "write", json!(1), false),
            (0, "write", json!(2), true),
            (0, "write", json!(2), false),
            (1, "read", json!(1), true),
            (1, "read", json!(1), false),
        ]);
        let err = run(&h).1.unwrap_err();
        assert!(err.cause.contains("throughout"), "{}", err.cause);
    }

    #[test]
    fn reading_the_future_or_an_unwritten_value_is_caught() {
        let h = seq(&[
            (1, "read", json!(1), true),
            (1, "read", json!(1), false),
            (0, "write", json!(1), true),
            (0, "write", json!(1), false),
        ]);
        assert!(run(&h)
            .1
            .unwrap_err()
            .cause
            .contains("before the only write"));
        let h = seq(&[(1, "read", json!(9), true), (1, "read", json!(9), false)]);
        let (screen, _) = run(&h);
        assert!(screen.impossible.unwrap().1.contains("no op ever writes 9"));
    }

    #[test]
    fn indeterminate_writes_count_only_when_read() {
        // An info write of 1 that a later read sees: it happened.
        let mut h = seq(&[
            (0, "write", json!(1), true),
            (1, "read", json!(1), true),
            (1, "read", json!(1), false),
        ]);
        h.push(op(0, OpType::Info, "write", json!(1), 100));
        assert!(run(&h).1.is_ok());
        // An unread info write inside a zone: it may never have happened.
        let h = seq(&[
            (0, "write", json!(1), true),
            (0, "write", json!(1), false),
            (2, "write", json!(2), true),
            (1, "read", json!(1), true),
            (1, "read", json!(1), false),
        ]);
        assert!(run(&h).1.is_ok());
    }

    fn stale(h: &History) -> Option<StaleRead> {
        let model = model_by_name("cas-register", None).unwrap();
        let ops = prepare(h, model.as_ref()).unwrap().remove(0).ops;
        stale_read(&ops, model.as_ref(), &[])
    }

    /// What the witness of `h`'s stale read says.
    fn stale_cause(h: &History, found: &StaleRead) -> String {
        let model = model_by_name("cas-register", None).unwrap();
        let ops = prepare(h, model.as_ref()).unwrap().remove(0).ops;
        found.cause(&ops, model.as_ref(), None)
    }

    #[test]
    fn stale_reads_are_found_with_repeated_values_and_cas() {
        // write 1; cas 1 -> 2; read 1: stale, even though 1 is written
        // again later.
        let mut h = seq(&[
            (0, "write", json!(1), true),
            (0, "write", json!(1), false),
            (0, "cas", json!([1, 2]), true),
            (0, "cas", json!([1, 2]), false),
            (1, "read", json!(1), true),
            (1, "read", json!(1), false),
            (0, "write", json!(1), true),
            (0, "write", json!(1), false),
        ]);
        let found = stale(&h).expect("stale");
        assert_eq!((found.read, found.setter, found.producer), (2, 1, Some(0)));
        // A crashed write of 1 invoked before the read ends could explain it.
        h.ops
            .insert(4, op(5, OpType::Invoke, "write", json!(1), 49));
        let h: History = h.ops.into_iter().collect();
        assert!(stale(&h).is_none());
        // A write of 1 concurrent with the read explains it too.
        let h = seq(&[
            (0, "write", json!(1), true),
            (0, "write", json!(1), false),
            (0, "write", json!(2), true),
            (0, "write", json!(2), false),
            (1, "read", json!(1), true),
            (0, "write", json!(1), true),
            (1, "read", json!(1), false),
            (0, "write", json!(1), false),
        ]);
        assert!(stale(&h).is_none());
        // The overwriting op may itself write the read value's neighbour:
        // the latest setter of 1 does not count, the one before it does.
        let h = seq(&[
            (0, "write", json!(1), true),
            (0, "write", json!(1), false),
            (0, "write", json!(3), true),
            (0, "write", json!(3), false),
            (2, "write", json!(1), true),
            (2, "write", json!(1), false),
            (1, "read", json!(2), true),
            (1, "read", json!(2), false),
        ]);
        let never = stale(&h).expect("nothing could set 2");
        assert_eq!((never.setter, never.producer), (2, None));
        let cause = stale_cause(&h, &never);
        assert!(cause.contains("nothing that could set 2"), "{cause}");
        let h = seq(&[
            (0, "write", json!(2), true),
            (0, "write", json!(2), false),
            (0, "write", json!(3), true),
            (0, "write", json!(3), false),
            (2, "write", json!(1), true),
            (2, "write", json!(1), false),
            (1, "read", json!(2), true),
            (1, "read", json!(2), false),
        ]);
        assert_eq!(stale(&h).expect("stale").setter, 2, "the latest setter");
        let h = seq(&[
            (0, "write", json!(2), true),
            (0, "write", json!(2), false),
            (0, "write", json!(3), true),
            (0, "write", json!(3), false),
            (2, "write", json!(2), true),
            (2, "write", json!(2), false),
            (1, "read", json!(3), true),
            (1, "read", json!(3), false),
        ]);
        assert_eq!(
            stale(&h).expect("stale").setter,
            2,
            "the latest setter of another value"
        );
    }

    #[test]
    fn repeated_values_and_cas_disable_the_fast_path() {
        let h = seq(&[
            (0, "write", json!(1), true),
            (0, "write", json!(1), false),
            (0, "write", json!(1), true),
            (0, "write", json!(1), false),
        ]);
        assert!(!run(&h).0.unique);
        let h = seq(&[
            (0, "write", Value::Null, true),
            (0, "write", Value::Null, false),
        ]);
        assert!(!run(&h).0.unique, "writing the initial value repeats it");
        let model = model_by_name("cas-register", None).unwrap();
        let h: History = [
            invoke(0, "cas", json!([7, 1]), 10),
            op(0, OpType::Info, "cas", json!([7, 1]), 20),
            invoke(1, "cas", json!([null, 2]), 30),
            ok(1, "cas", json!([null, 2]), 40),
        ]
        .into_iter()
        .collect();
        let ops = prepare(&h, model.as_ref()).unwrap().remove(0).ops;
        let s = screen(&ops, model.as_ref(), &Value::Null).unwrap();
        assert_eq!(
            s.dropped,
            vec![0],
            "a cas from a value never held is dropped"
        );
        assert!(!s.unique, "the ok cas remains");
        assert!(s.impossible.is_none());
    }

    // ---- The oracle: linearizability by brute force. ----

    /// Is there an order of every ok op and some indeterminate ones of
    /// `ops` (those in `skip` left out), each after every op that returned
    /// before it was called, that `model` accepts from `init`? Written from
    /// the definition: an exhaustive search over orders that remembers the
    /// (ops placed, state) pairs that led nowhere. It shares nothing with
    /// the pre-passes and the zone test but the ops' ranks and the model's
    /// `step`, and knows nothing of values, clusters or zones.
    fn linearizable(ops: &[LinOp], skip: &[usize], model: &dyn Model, init: &Value) -> bool {
        let ops: Vec<&LinOp> = ops
            .iter()
            .enumerate()
            .filter(|(i, _)| !skip.contains(i))
            .map(|(_, op)| op)
            .collect();
        assert!(ops.len() <= 64, "brute force is for small histories");
        let bit = |i: usize| 1u64 << i;
        let before: Vec<u64> = ops
            .iter()
            .map(|b| {
                (0..ops.len())
                    .filter(|&a| ops[a].ret_rank < b.call_rank)
                    .fold(0, |m, a| m | bit(a))
            })
            .collect();
        let ok: u64 = (0..ops.len())
            .filter(|&i| !ops[i].is_indeterminate())
            .fold(0, |m, i| m | bit(i));
        struct Brute<'o> {
            ops: Vec<&'o LinOp>,
            before: Vec<u64>,
            ok: u64,
            failed: BTreeSet<(u64, String)>,
        }
        impl Brute<'_> {
            fn from(&mut self, placed: u64, state: &Value, model: &dyn Model) -> bool {
                if placed & self.ok == self.ok {
                    return true;
                }
                if self.failed.contains(&(placed, state.to_string())) {
                    return false;
                }
                for i in 0..self.ops.len() {
                    if placed & (1 << i) != 0 || self.before[i] & !placed != 0 {
                        continue;
                    }
                    if let Some(next) = model.step(state, &self.ops[i].op) {
                        if self.from(placed | (1 << i), &next, model) {
                            return true;
                        }
                    }
                }
                self.failed.insert((placed, state.to_string()));
                false
            }
        }
        let mut brute = Brute {
            ops,
            before,
            ok,
            failed: BTreeSet::new(),
        };
        brute.from(0, init, model)
    }

    /// Whether the zone test applies, from its definition: once `dropped`
    /// is left out, no cas remains, and the written values' JSON texts are
    /// distinct and differ from the initial value's.
    fn unique_writes(ops: &[LinOp], dropped: &[usize], init: &Value) -> bool {
        let mut written = vec![init];
        ops.iter()
            .enumerate()
            .filter(|(i, _)| !dropped.contains(i))
            .all(|(_, op)| match &*op.op.f {
                "cas" => false,
                "write" if written.contains(&&op.op.input) => false,
                "write" => {
                    written.push(&op.op.input);
                    true
                }
                _ => true,
            })
    }

    #[test]
    fn values_are_numbered_alike_exactly_when_they_are_equal() {
        // The pool and equal values built another way.
        let mut all = value_pool();
        for text in [
            "1",
            "-1",
            "1.0",
            "1e300",
            "-0.0",
            "0.0",
            "\"1\"",
            "[1.0]",
            "[-0.0]",
            "{\"a\":1}",
            "{\"a\":-0.0}",
        ] {
            all.push(serde_json::from_str(text).unwrap());
        }
        let mut numbers = Values::default();
        let ids: Vec<u32> = all.iter().map(|v| numbers.id(v)).collect();
        for (a, id_a) in all.iter().zip(&ids) {
            for (b, id_b) in all.iter().zip(&ids) {
                assert_eq!(id_a == id_b, a == b, "{a} and {b}");
            }
        }
        assert_eq!(ids[0], 0, "numbered from 0 in order of appearance");
    }

    /// Values, some equal as numbers but not as values (1 and 1.0), and
    /// -0.0, which is `==` to 0.0 though its text differs.
    fn value_pool() -> Vec<Value> {
        vec![
            json!(null),
            json!(0),
            json!(1),
            json!(-1),
            json!(1.0),
            json!(0.0),
            json!(-0.0),
            json!([-0.0]),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1e300),
            json!("1"),
            json!(""),
            json!("a\"b"),
            json!(true),
            json!(false),
            json!([1]),
            json!([1.0]),
            json!({"a": 1}),
        ]
    }

    /// Random register histories for the differential test: a generator
    /// and the values it draws from.
    struct Gen(lightcone_rng::SplitMix64, Vec<Value>);

    impl Gen {
        fn below(&mut self, n: u64) -> u64 {
            self.0.below(n)
        }

        fn value(&mut self) -> Value {
            let at = self.below(self.1.len() as u64) as usize;
            self.1[at].clone()
        }

        /// A register history with few distinct values, or (for the zone
        /// test) mostly distinct written values.
        fn history(&mut self, unique: bool) -> History {
            let clients = 1 + self.below(4);
            let len = self.below(30);
            let mut open: Vec<Option<(&'static str, Value)>> = vec![None; clients as usize];
            let mut fresh = 1000;
            let mut h = History::default();
            for t in 0..len {
                let c = self.below(clients);
                let (kind, f, value) = match open[c as usize].take() {
                    None => {
                        let (f, v) = match self.below(10) {
                            0..=3 => ("read", Value::Null),
                            4 if !unique => ("cas", json!([self.value(), self.value()])),
                            _ if unique && self.below(6) != 0 => {
                                fresh += 1;
                                ("write", json!(fresh))
                            }
                            _ => ("write", self.value()),
                        };
                        open[c as usize] = Some((f, v.clone()));
                        (OpType::Invoke, f, v)
                    }
                    Some((f, v)) => {
                        let kind = [OpType::Ok, OpType::Ok, OpType::Ok, OpType::Info]
                            [self.below(4) as usize];
                        let v = match f {
                            "read" if kind == OpType::Ok => match self.below(3) {
                                0 if unique => json!(1000 + self.below(fresh - 999)),
                                _ => self.value(),
                            },
                            _ => v,
                        };
                        (kind, f, v)
                    }
                };
                h.push(
                    lightcone_history::Op::new(
                        lightcone_history::Process::Client(c),
                        kind,
                        f,
                        value,
                    )
                    .at(10 * t),
                );
            }
            h
        }
    }

    /// The pre-passes and the zone test against the brute-force oracle on
    /// small random histories: what the value screen and the stale-read
    /// pass call impossible is not linearizable, the ops the screen drops
    /// change nothing, and the zone test, where it applies, decides exactly
    /// as the oracle does.
    #[test]
    fn the_pre_passes_and_the_zone_test_agree_with_brute_force() {
        let init_values = [Value::Null, json!(0), json!(0.0), json!("1")];
        let mut gen = Gen(lightcone_rng::SplitMix64(11), value_pool());
        // Zone test invalid and valid, value screen, stale reads.
        let mut seen = [0usize; 4];
        for round in 0..20_000 {
            let name = ["register", "cas-register"][round % 2];
            let model = model_by_name(name, None).unwrap();
            let model = model.as_ref();
            let init = &init_values[(round / 2) % init_values.len()];
            let h = gen.history(round % 3 == 0);
            let Ok(mut parts) = prepare(&h, model) else {
                continue;
            };
            let ops = parts.remove(0).ops;
            let text = h.to_jsonl();
            let valid = linearizable(&ops, &[], model, init);
            let s = screen(&ops, model, init).unwrap();
            if let Some((i, cause)) = &s.impossible {
                assert!(!valid, "op {i} is not impossible ({cause}): {text}");
                assert!(!ops[*i].is_indeterminate(), "{text}");
            }
            assert!(s.dropped.iter().all(|&i| ops[i].is_indeterminate()));
            assert_eq!(
                linearizable(&ops, &s.dropped, model, init),
                valid,
                "dropping {:?} changed the verdict: {text}",
                s.dropped
            );
            assert_eq!(s.unique, unique_writes(&ops, &s.dropped, init), "{text}");
            for skip in [&[][..], &s.dropped] {
                if let Some(stale) = stale_read(&ops, model, skip) {
                    let cause = stale.cause(&ops, model, None);
                    assert!(!valid, "{cause}: {text}");
                    let (r, w) = (&ops[stale.read], &ops[stale.setter]);
                    assert!(w.ret_rank < r.call_rank, "{cause}: {text}");
                }
            }
            if s.unique {
                let verdict = zones(&ops, model, init, &s.dropped);
                assert_eq!(verdict.is_ok(), valid, "{verdict:?}: {text}");
                if let Err(z) = &verdict {
                    let op = model.register_op(&ops[z.op].op);
                    assert!(matches!(op, Some(RegisterOp::Read(Some(_)))), "{text}");
                }
                seen[usize::from(verdict.is_ok())] += 1;
            }
            seen[2] += usize::from(s.impossible.is_some());
            seen[3] += usize::from(stale_read(&ops, model, &[]).is_some());
        }
        assert!(seen.iter().all(|&n| n > 200), "{seen:?}");
    }
}
