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
    let ids: Vec<[u32; 2]> = reg
        .iter()
        .map(|r| match r {
            RegisterOp::Read(None) => [NO_VALUE; 2],
            RegisterOp::Read(Some(v)) | RegisterOp::Write(v) => [values.id(v), NO_VALUE],
            RegisterOp::Cas(old, new) => [values.id(old), values.id(new)],
        })
        .collect();

    // Values the register can hold: the initial one, every write's, and
    // the new value of every cas whose old value it can hold (a fixpoint
    // over cas chains).
    let mut reachable = vec![false; values.len()];
    let mut cas_from: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    let mut work: Vec<u32> = vec![init_id];
    for (r, id) in reg.iter().zip(&ids) {
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

    let mut impossible = None;
    let mut dropped = Vec::new();
    for (i, ((r, id), op)) in reg.iter().zip(&ids).zip(ops).enumerate() {
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

    let is_dropped = flags(&dropped, ops.len());
    let mut written = vec![false; values.len()];
    written[init_id as usize] = true;
    let unique = reg
        .iter()
        .zip(&ids)
        .enumerate()
        .all(|(i, (r, id))| match r {
            RegisterOp::Cas(..) => is_dropped[i],
            RegisterOp::Write(_) => !std::mem::replace(&mut written[id[0] as usize], true),
            RegisterOp::Read(_) => true,
        });
    Some(Screen {
        impossible,
        dropped,
        unique,
    })
}

/// No value (a read whose result is unknown).
const NO_VALUE: u32 = u32::MAX;

/// A value's identity, as its JSON text, but without writing the text of
/// a scalar: two values have equal keys exactly when their texts are
/// equal. (A non-negative integer is always `Uint`, a negative one `Int`;
/// a float's text always has a `.` or an exponent, so it never equals an
/// integer's; a string's text is its quoted contents.)
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
                (None, None) => ValueKey::Text(v.to_string()),
            },
            Value::String(s) => ValueKey::Str(s),
            Value::Array(_) | Value::Object(_) => ValueKey::Text(v.to_string()),
        }
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
    pub cause: String,
}

/// Finds the first (by call) read whose value was certainly overwritten
/// before it began: an ok op w setting v != u returns before the read r of
/// u is called, and every op that could set u (write u, cas to u, ok or
/// indeterminate) called before r returns has returned before w is
/// called. In any linearization w precedes r, and every op setting u that
/// can precede r precedes w, so the register does not hold u at r.
/// `ops` must all be register ops (after [`screen`]).
pub(crate) fn stale_read(ops: &[LinOp], model: &dyn Model, skip: &[usize]) -> Option<StaleRead> {
    let skipped = flags(skip, ops.len());
    let mut values = Values::default();
    let mut id_of = |v| values.id(v);
    // What each op sets, if anything; and reads.
    let mut sets: Vec<Option<u32>> = vec![None; ops.len()];
    let mut reads: Vec<(usize, u32)> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        if skipped[i] {
            continue;
        }
        match model.register_op(&op.op) {
            Some(RegisterOp::Write(v)) | Some(RegisterOp::Cas(_, v)) => sets[i] = Some(id_of(v)),
            Some(RegisterOp::Read(Some(v))) if !op.is_indeterminate() => reads.push((i, id_of(v))),
            _ => {}
        }
    }
    // Producers of each value in call order (ops are sorted by call), with
    // the running maximum return (and which op has it): value v's are
    // `producers[starts[v]..starts[v + 1]]`.
    let mut starts = vec![0usize; values.len() + 1];
    for v in sets.iter().flatten() {
        starts[*v as usize + 1] += 1;
    }
    for v in 0..values.len() {
        starts[v + 1] += starts[v];
    }
    let mut producers: Vec<(u32, u32, usize)> = vec![(0, 0, 0); starts[values.len()]];
    let mut filled = starts.clone();
    for (i, set) in sets.iter().enumerate() {
        if let Some(v) = set {
            let (v, at) = (*v as usize, filled[*v as usize]);
            let (ret, who) = match producers[starts[v]..at].last() {
                Some(&(_, r, w)) if r >= ops[i].ret_rank => (r, w),
                _ => (ops[i].ret_rank, i),
            };
            producers[at] = (ops[i].call_rank, ret, who);
            filled[v] += 1;
        }
    }
    // Definite setters in return order, with the two latest-called of
    // distinct values among those returned so far.
    let mut setters: Vec<(u32, usize)> = (0..ops.len())
        .filter(|&i| sets[i].is_some() && !ops[i].is_indeterminate())
        .map(|i| (ops[i].ret_rank, i))
        .collect();
    setters.sort_unstable();
    type Best = Option<(u32, u32, usize)>; // (call, value, op)
    let mut best: Vec<(Best, Best)> = Vec::with_capacity(setters.len());
    let (mut b1, mut b2): (Best, Best) = (None, None);
    for &(_, i) in &setters {
        let cand = (ops[i].call_rank, sets[i].expect("a setter sets"), i);
        if b1.is_none_or(|b| cand.0 > b.0) {
            if b1.is_some_and(|b| b.1 != cand.1) {
                b2 = b1;
            }
            b1 = Some(cand);
        } else if cand.1 != b1.expect("set above").1 && b2.is_none_or(|b| cand.0 > b.0) {
            b2 = Some(cand);
        }
        best.push((b1, b2));
    }

    for &(r, u) in &reads {
        let at = setters.partition_point(|&(ret, _)| ret < ops[r].call_rank);
        if at == 0 {
            continue;
        }
        let w = match best[at - 1] {
            (Some(b), _) if b.1 != u => b,
            (_, Some(b)) => b,
            _ => continue,
        };
        let list = &producers[starts[u as usize]..starts[u as usize + 1]];
        let n = list.partition_point(|&(call, _, _)| call < ops[r].ret_rank);
        let producer = (n > 0).then(|| list[n - 1]);
        if producer.is_some_and(|(_, ret, _)| ret > w.0) {
            continue;
        }
        let (value, setter) = (&ops[r].op.output, w.2);
        let value = value.as_ref().expect("an ok read has a value");
        let cause = match producer {
            Some((_, _, p)) => format!(
                "op {} wrote {} after every op that could set {value} had completed (the \
                 last, op {}), and before this read began",
                ops[setter].invoke_index, ops[setter].op.input, ops[p].invoke_index
            ),
            None => format!(
                "op {} wrote {} before this read began, and nothing that could set \
                 {value} began before the read ended",
                ops[setter].invoke_index, ops[setter].op.input
            ),
        };
        return Some(StaleRead {
            read: r,
            setter,
            producer: producer.map(|(_, _, p)| p),
            cause,
        });
    }
    None
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

pub(crate) fn zones<'a>(
    ops: &'a [LinOp],
    model: &dyn Model,
    init: &'a Value,
    skip: &[usize],
) -> Result<(), ZoneConflict> {
    let skipped = flags(skip, ops.len());
    let reg: Vec<Option<RegisterOp>> = ops
        .iter()
        .zip(&skipped)
        .map(|(op, &skipped)| model.register_op(&op.op).filter(|_| !skipped))
        .collect();
    // Each cluster's write (cluster 0 is the initial value's), and each
    // value's cluster: values are numbered in order of appearance, so the
    // initial value is 0, and each write's value is one more than the last
    // distinct one.
    let mut writes: Vec<Option<usize>> = vec![None];
    let mut values = Values::default();
    let mut cluster_of: Vec<usize> = vec![0];
    values.id(init);
    for (i, r) in reg.iter().enumerate() {
        if let Some(RegisterOp::Write(v)) = r {
            let id = values.id(v) as usize;
            if id == cluster_of.len() {
                cluster_of.push(writes.len());
            } else {
                cluster_of[id] = writes.len();
            }
            writes.push(Some(i));
        }
    }
    // The reads, in order, with their clusters.
    let mut reads: Vec<(usize, usize)> = Vec::new();
    for (i, r) in reg.iter().enumerate() {
        if let Some(RegisterOp::Read(Some(v))) = r {
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

    // Zones in ranks shifted by one, so the initial value's write is at 0:
    // per cluster, the minimum return and the maximum call.
    let shift = |rank: u32| u64::from(rank) + 1;
    let mut bounds: Vec<(u64, u64)> = writes
        .iter()
        .map(|w| match w {
            Some(w) => (shift(ops[*w].ret_rank), shift(ops[*w].call_rank)),
            None => (0, 0),
        })
        .collect();
    let mut read_count = vec![0usize; writes.len()];
    for &(c, r) in &reads {
        read_count[c] += 1;
        let (f, s) = &mut bounds[c];
        *f = (*f).min(shift(ops[r].ret_rank));
        *s = (*s).max(shift(ops[r].call_rank));
    }
    let mut forward: Vec<(u64, u64, usize)> = Vec::new();
    let mut backward: Vec<(u64, u64, usize)> = Vec::new();
    for (c, (write, &(f, s))) in writes.iter().zip(&bounds).enumerate() {
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
    let reads_of = |c: usize| reads.iter().filter(move |r| r.0 == c).map(|r| r.1);
    let ops_of = |c: usize| -> Vec<usize> { writes[c].into_iter().chain(reads_of(c)).collect() };
    let value_of = |c: usize| -> String {
        match writes[c] {
            Some(w) => ops[w].op.input.to_string(),
            None => init.to_string(),
        }
    };
    // The read of a cluster that is called last: it ends the zone.
    let last_read = |c: usize| -> usize {
        reads_of(c)
            .max_by_key(|&r| ops[r].call_rank)
            .expect("a forward zone has reads")
    };
    for pair in forward.windows(2) {
        let ((_, s1, c1), (f2, _, c2)) = (pair[0], pair[1]);
        if f2 < s1 {
            let (a, b) = (value_of(c1), value_of(c2));
            return Err(ZoneConflict {
                op: last_read(c1),
                others: ops_of(c1).into_iter().chain(ops_of(c2)).collect(),
                cause: format!(
                    "an op with {a} completed before the last read of {b} began, and an op \
                     with {b} completed before the last read of {a} began, so neither value \
                     can follow the other"
                ),
            });
        }
    }
    for &(s, f, c) in &backward {
        let at = forward.partition_point(|&(start, _, _)| start < s);
        if at == 0 {
            continue;
        }
        let (zf, zs, zc) = forward[at - 1];
        if zf < s && f < zs {
            let (a, b) = (value_of(c), value_of(zc));
            return Err(ZoneConflict {
                op: last_read(zc),
                others: ops_of(zc).into_iter().chain(ops_of(c)).collect(),
                cause: format!(
                    "the write of {a} (and any read of it) must take effect while the \
                     register has to hold {b} throughout"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
        assert!(
            never.cause.contains("nothing that could set 2"),
            "{}",
            never.cause
        );
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

    // The first versions of `screen`, `stale_read` and `zones`, which
    // identified values by writing their JSON text: the new ones must
    // decide exactly as they did.
    struct Cluster {
        /// The write, or `None` for the initial value.
        write: Option<usize>,
        reads: Vec<usize>,
    }

    /// The pre-pass, or `None` when the model is not a register for every op.
    fn screen_reference(ops: &[LinOp], model: &dyn Model, init: &Value) -> Option<Screen> {
        let reg: Vec<RegisterOp> = ops
            .iter()
            .map(|op| model.register_op(&op.op))
            .collect::<Option<_>>()?;

        // Values the register can hold: the initial one, every write's, and
        // the new value of every cas whose old value it can hold (a fixpoint
        // over cas chains).
        let mut reachable: FxHashMap<String, ()> = FxHashMap::default();
        let mut cas_from: FxHashMap<String, Vec<String>> = FxHashMap::default();
        let mut work: Vec<String> = vec![init.to_string()];
        for r in &reg {
            match r {
                RegisterOp::Write(v) => work.push(v.to_string()),
                RegisterOp::Cas(old, new) => cas_from
                    .entry(old.to_string())
                    .or_default()
                    .push(new.to_string()),
                RegisterOp::Read(_) => {}
            }
        }
        while let Some(v) = work.pop() {
            if reachable.insert(v.clone(), ()).is_none() {
                if let Some(news) = cas_from.get(&v) {
                    work.extend(news.iter().cloned());
                }
            }
        }

        let mut impossible = None;
        let mut dropped = Vec::new();
        for (i, (r, op)) in reg.iter().zip(ops).enumerate() {
            let unheld = match r {
                RegisterOp::Read(Some(v)) => Some(("read", *v)),
                RegisterOp::Cas(old, _) => Some(("cas from", *old)),
                _ => None,
            }
            .filter(|(_, v)| !reachable.contains_key(&v.to_string()));
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

        let is_dropped = flags(&dropped, ops.len());
        let mut written: FxHashMap<String, ()> = FxHashMap::default();
        written.insert(init.to_string(), ());
        let unique = reg.iter().enumerate().all(|(i, r)| match r {
            RegisterOp::Cas(..) => is_dropped[i],
            RegisterOp::Write(v) => written.insert(v.to_string(), ()).is_none(),
            RegisterOp::Read(_) => true,
        });
        Some(Screen {
            impossible,
            dropped,
            unique,
        })
    }

    /// Finds the first (by call) read whose value was certainly overwritten
    /// before it began: an ok op w setting v != u returns before the read r of
    /// u is called, and every op that could set u (write u, cas to u, ok or
    /// indeterminate) called before r returns has returned before w is
    /// called. In any linearization w precedes r, and every op setting u that
    /// can precede r precedes w, so the register does not hold u at r.
    /// `ops` must all be register ops (after [`screen`]).
    fn stale_read_reference(ops: &[LinOp], model: &dyn Model, skip: &[usize]) -> Option<StaleRead> {
        let skipped = flags(skip, ops.len());
        let mut value_ids: FxHashMap<String, u32> = FxHashMap::default();
        let mut id_of = |v: &Value| {
            let next = value_ids.len() as u32;
            *value_ids.entry(v.to_string()).or_insert(next)
        };
        // What each op sets, if anything; and reads.
        let mut sets: Vec<Option<u32>> = vec![None; ops.len()];
        let mut reads: Vec<(usize, u32)> = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            if skipped[i] {
                continue;
            }
            match model.register_op(&op.op) {
                Some(RegisterOp::Write(v)) | Some(RegisterOp::Cas(_, v)) => {
                    sets[i] = Some(id_of(v))
                }
                Some(RegisterOp::Read(Some(v))) if !op.is_indeterminate() => {
                    reads.push((i, id_of(v)))
                }
                _ => {}
            }
        }
        // Producers of each value in call order (ops are sorted by call), with
        // the running maximum return (and which op has it).
        let mut producers: Vec<Vec<(u32, u32, usize)>> = vec![Vec::new(); value_ids.len()];
        for (i, set) in sets.iter().enumerate() {
            if let Some(v) = set {
                let list = &mut producers[*v as usize];
                let (ret, who) = match list.last() {
                    Some(&(_, r, w)) if r >= ops[i].ret_rank => (r, w),
                    _ => (ops[i].ret_rank, i),
                };
                list.push((ops[i].call_rank, ret, who));
            }
        }
        // Definite setters in return order, with the two latest-called of
        // distinct values among those returned so far.
        let mut setters: Vec<(u32, usize)> = (0..ops.len())
            .filter(|&i| sets[i].is_some() && !ops[i].is_indeterminate())
            .map(|i| (ops[i].ret_rank, i))
            .collect();
        setters.sort_unstable();
        type Best = Option<(u32, u32, usize)>; // (call, value, op)
        let mut best: Vec<(Best, Best)> = Vec::with_capacity(setters.len());
        let (mut b1, mut b2): (Best, Best) = (None, None);
        for &(_, i) in &setters {
            let cand = (ops[i].call_rank, sets[i].expect("a setter sets"), i);
            if b1.is_none_or(|b| cand.0 > b.0) {
                if b1.is_some_and(|b| b.1 != cand.1) {
                    b2 = b1;
                }
                b1 = Some(cand);
            } else if cand.1 != b1.expect("set above").1 && b2.is_none_or(|b| cand.0 > b.0) {
                b2 = Some(cand);
            }
            best.push((b1, b2));
        }

        for &(r, u) in &reads {
            let at = setters.partition_point(|&(ret, _)| ret < ops[r].call_rank);
            if at == 0 {
                continue;
            }
            let w = match best[at - 1] {
                (Some(b), _) if b.1 != u => b,
                (_, Some(b)) => b,
                _ => continue,
            };
            let list = &producers[u as usize];
            let n = list.partition_point(|&(call, _, _)| call < ops[r].ret_rank);
            let producer = (n > 0).then(|| list[n - 1]);
            if producer.is_some_and(|(_, ret, _)| ret > w.0) {
                continue;
            }
            let (value, setter) = (&ops[r].op.output, w.2);
            let value = value.as_ref().expect("an ok read has a value");
            let cause = match producer {
                Some((_, _, p)) => format!(
                    "op {} wrote {} after every op that could set {value} had completed (the \
                     last, op {}), and before this read began",
                    ops[setter].invoke_index, ops[setter].op.input, ops[p].invoke_index
                ),
                None => format!(
                    "op {} wrote {} before this read began, and nothing that could set \
                     {value} began before the read ended",
                    ops[setter].invoke_index, ops[setter].op.input
                ),
            };
            return Some(StaleRead {
                read: r,
                setter,
                producer: producer.map(|(_, _, p)| p),
                cause,
            });
        }
        None
    }

    /// The zone test over ops (indices into `ops`, all register reads and
    /// writes with distinct written values, `skip` excluded). `Ok(())` when
    /// linearizable.
    fn zones_reference(
        ops: &[LinOp],
        model: &dyn Model,
        init: &Value,
        skip: &[usize],
    ) -> Result<(), ZoneConflict> {
        let mut clusters: Vec<Cluster> = vec![Cluster {
            write: None,
            reads: Vec::new(),
        }];
        let skipped = flags(skip, ops.len());
        let mut by_value: FxHashMap<String, usize> = FxHashMap::default();
        by_value.insert(init.to_string(), 0);
        for (i, op) in ops.iter().enumerate() {
            if let Some(RegisterOp::Write(v)) = model.register_op(&op.op) {
                if !skipped[i] {
                    by_value.insert(v.to_string(), clusters.len());
                    clusters.push(Cluster {
                        write: Some(i),
                        reads: Vec::new(),
                    });
                }
            }
        }
        for (i, op) in ops.iter().enumerate() {
            if skipped[i] {
                continue;
            }
            if let Some(RegisterOp::Read(Some(v))) = model.register_op(&op.op) {
                let Some(&c) = by_value.get(&v.to_string()) else {
                    return Err(ZoneConflict {
                        op: i,
                        others: Vec::new(),
                        cause: format!("read {v}, but no op ever writes {v}"),
                    });
                };
                if let Some(w) = clusters[c].write {
                    if op.ret_rank < ops[w].call_rank {
                        return Err(ZoneConflict {
                            op: i,
                            others: vec![w],
                            cause: format!("read {v} returned before the only write of {v} began"),
                        });
                    }
                }
                clusters[c].reads.push(i);
            }
        }

        // Zones in ranks shifted by one, so the initial value's write is at 0.
        let shift = |rank: u32| u64::from(rank) + 1;
        let mut forward: Vec<(u64, u64, usize)> = Vec::new();
        let mut backward: Vec<(u64, u64, usize)> = Vec::new();
        for (c, cluster) in clusters.iter().enumerate() {
            let (mut f, mut s) = match cluster.write {
                Some(w) if cluster.reads.is_empty() && ops[w].ret_rank == NEVER => continue,
                Some(w) => (shift(ops[w].ret_rank), shift(ops[w].call_rank)),
                None if cluster.reads.is_empty() => continue,
                None => (0, 0),
            };
            for &r in &cluster.reads {
                f = f.min(shift(ops[r].ret_rank));
                s = s.max(shift(ops[r].call_rank));
            }
            if f < s {
                forward.push((f, s, c));
            } else {
                backward.push((s, f, c));
            }
        }
        forward.sort_unstable();
        let ops_of = |c: usize| -> Vec<usize> {
            let cluster = &clusters[c];
            cluster
                .write
                .into_iter()
                .chain(cluster.reads.iter().copied())
                .collect()
        };
        let value_of = |c: usize| -> String {
            match clusters[c].write {
                Some(w) => ops[w].op.input.to_string(),
                None => init.to_string(),
            }
        };
        // The read of a cluster that is called last: it ends the zone.
        let last_read = |c: usize| -> usize {
            *clusters[c]
                .reads
                .iter()
                .max_by_key(|&&r| ops[r].call_rank)
                .expect("a forward zone has reads")
        };
        for pair in forward.windows(2) {
            let ((_, s1, c1), (f2, _, c2)) = (pair[0], pair[1]);
            if f2 < s1 {
                let (a, b) = (value_of(c1), value_of(c2));
                return Err(ZoneConflict {
                    op: last_read(c1),
                    others: ops_of(c1).into_iter().chain(ops_of(c2)).collect(),
                    cause: format!(
                        "an op with {a} completed before the last read of {b} began, and an op \
                         with {b} completed before the last read of {a} began, so neither value \
                         can follow the other"
                    ),
                });
            }
        }
        for &(s, f, c) in &backward {
            let at = forward.partition_point(|&(start, _, _)| start < s);
            if at == 0 {
                continue;
            }
            let (zf, zs, zc) = forward[at - 1];
            if zf < s && f < zs {
                let (a, b) = (value_of(c), value_of(zc));
                return Err(ZoneConflict {
                    op: last_read(zc),
                    others: ops_of(zc).into_iter().chain(ops_of(c)).collect(),
                    cause: format!(
                        "the write of {a} (and any read of it) must take effect while the \
                         register has to hold {b} throughout"
                    ),
                });
            }
        }
        Ok(())
    }

    /// Random ops for the differential tests.
    struct Gen(lightcone_rng::SplitMix64);

    impl Gen {
        fn below(&mut self, n: u64) -> u64 {
            self.0.below(n)
        }

        /// Values whose texts are equal exactly when they are, and some
        /// that are equal as numbers but not as text.
        fn value(&mut self) -> Value {
            let values = [
                json!(null),
                json!(0),
                json!(1),
                json!(-1),
                json!(1.0),
                json!(0.0),
                json!(-0.0),
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
            ];
            values[self.below(values.len() as u64) as usize].clone()
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

    #[test]
    fn decides_exactly_as_the_reference_does() {
        let init_values = [Value::Null, json!(0), json!(0.0), json!("1")];
        let mut gen = Gen(lightcone_rng::SplitMix64(11));
        let mut seen = [0usize; 4];
        for round in 0..20_000 {
            let name = ["register", "cas-register"][round % 2];
            let model = model_by_name(name, None).unwrap();
            let init = &init_values[(round / 2) % init_values.len()];
            let h = gen.history(round % 3 == 0);
            let Ok(mut parts) = prepare(&h, model.as_ref()) else {
                continue;
            };
            let ops = parts.remove(0).ops;
            let text = h.to_jsonl();
            let (got, want) = (
                screen(&ops, model.as_ref(), init).unwrap(),
                screen_reference(&ops, model.as_ref(), init).unwrap(),
            );
            assert_eq!(got.impossible, want.impossible, "{text}");
            assert_eq!(got.dropped, want.dropped, "{text}");
            assert_eq!(got.unique, want.unique, "{text}");
            let stale = |r: Option<StaleRead>| r.map(|s| (s.read, s.setter, s.producer, s.cause));
            for skip in [&[][..], &got.dropped] {
                assert_eq!(
                    stale(stale_read(&ops, model.as_ref(), skip)),
                    stale(stale_read_reference(&ops, model.as_ref(), skip)),
                    "{text}"
                );
            }
            if got.unique {
                let zone = |r: Result<(), ZoneConflict>| r.map_err(|z| (z.op, z.others, z.cause));
                let verdict = zone(zones(&ops, model.as_ref(), init, &got.dropped));
                assert_eq!(
                    verdict,
                    zone(zones_reference(&ops, model.as_ref(), init, &got.dropped)),
                    "{text}"
                );
                seen[usize::from(verdict.is_ok())] += 1;
            }
            seen[2] += usize::from(got.impossible.is_some());
            seen[3] += usize::from(stale_read(&ops, model.as_ref(), &[]).is_some());
        }
        assert!(seen.iter().all(|&n| n > 200), "{seen:?}");
    }
}
