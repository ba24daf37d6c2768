//! From a history to the ops of each partition: pairs invocations with
//! completions, drops what cannot matter, orders call and return events,
//! and splits by [`Model::partition`].

use std::collections::BTreeMap;

use lightcone_history::{History, Op, OpType, Process};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
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
    pub invoke_time: u64,
    /// The `ok` completion's history index and time, 0 when the op is
    /// indeterminate: read them with [`LinOp::complete_index`] and
    /// [`LinOp::complete_time`]. Not `Option`s, which would make each op 16
    /// bytes larger (a million-op history holds a million `LinOp`s).
    ok_index: u64,
    ok_time: u64,
    /// Position of the call among all call and return events of the
    /// history: invocations before completions at equal times, then by
    /// history index, so that intervals are closed.
    pub call_rank: u32,
    /// Position of the return, or [`NEVER`] when indeterminate.
    pub ret_rank: u32,
}

impl LinOp {
    /// `ok_index` and `ok_time` from the op's `ok` completion, if any;
    /// the op is indeterminate (its return [`NEVER`]) without one.
    pub fn new(
        op: ModelOp,
        process: Process,
        invoke_index: u64,
        invoke_time: u64,
        ok: Option<(u64, u64)>,
        call_rank: u32,
        ret_rank: u32,
    ) -> LinOp {
        debug_assert_eq!(
            ok.is_none(),
            ret_rank == NEVER,
            "an op has an ok completion exactly when its return is ranked"
        );
        let (ok_index, ok_time) = ok.unwrap_or((0, 0));
        LinOp {
            op,
            process,
            invoke_index,
            invoke_time,
            ok_index,
            ok_time,
            call_rank,
            ret_rank,
        }
    }

    pub fn is_indeterminate(&self) -> bool {
        self.ret_rank == NEVER
    }

    /// The history index of the `ok` completion; `None` when indeterminate
    /// (`info`, or no completion at all).
    pub fn complete_index(&self) -> Option<u64> {
        (!self.is_indeterminate()).then_some(self.ok_index)
    }

    /// The time of the `ok` completion; `None` when indeterminate.
    pub fn complete_time(&self) -> Option<u64> {
        (!self.is_indeterminate()).then_some(self.ok_time)
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
///
/// One pass over the history pairs the ops and ranks the call and return
/// events (sorting only events at equal times, unless the history's times
/// go backwards); then, on all threads, each op's values are copied into
/// the op its partition sees (a partition's key costs a hash lookup), and
/// each partition gathers its ops in call order.
pub(crate) fn prepare(history: &History, model: &dyn Model) -> Result<Vec<PartitionOps>, String> {
    prepare_in_pieces(history, model, PIECE)
}

/// Invocations whose ops one task partitions.
const PIECE: usize = 1 << 14;

/// [`prepare`], partitioning the ops of `piece` invocations at a time.
fn prepare_in_pieces(
    history: &History,
    model: &dyn Model,
    piece: usize,
) -> Result<Vec<PartitionOps>, String> {
    let all = &history.ops;
    let pairs = pair_and_rank(all)?;

    // Each op as its partition's model sees it, in pieces of consecutive
    // invocations, a piece for each thread at a time; then each partition
    // takes its ops from the pieces (the pieces' memory then serves the
    // next ones: fresh memory costs as much as partitioning).
    let mut gathered = Gathered::default();
    let wave = piece.saturating_mul(rayon::current_num_threads().max(1));
    let mut done = 0;
    for wave in pairs.chunks(wave) {
        let pieces = partition_wave(all, model, wave, piece)?;
        done += wave.len();
        gathered.take(pieces, done, pairs.len());
    }
    Ok(gathered.into_partitions())
}

/// The ops of `pairs`, partitioned `piece` invocations at a time on all
/// threads; or what is wrong with the first malformed one.
fn partition_wave(
    all: &[Op],
    model: &dyn Model,
    pairs: &[Pair],
    piece: usize,
) -> Result<Vec<Piece>, String> {
    let pieces: Vec<Result<Piece, (usize, String)>> = if pairs.len() <= piece {
        vec![partition_piece(all, model, pairs)]
    } else {
        pairs
            .par_chunks(piece)
            .map(|chunk| partition_piece(all, model, chunk))
            .collect()
    };
    // The first malformed op.
    if let Some(e) = pieces
        .iter()
        .filter_map(|piece| piece.as_ref().err())
        .min_by_key(|(i, _)| *i)
    {
        return Err(e.1.clone());
    }
    Ok(pieces
        .into_iter()
        .map(|piece| piece.expect("errors returned above"))
        .collect())
}

/// The partitions' ops gathered from the pieces so far.
#[derive(Default)]
struct Gathered {
    keys: PartitionKeys,
    unkeyed: Vec<LinOp>,
    /// By the key's slot in `keys`.
    keyed: Vec<Vec<LinOp>>,
}

impl Gathered {
    /// Appends each piece's ops to their partitions, in order; `done` of
    /// the history's `total` ops are then gathered.
    fn take(&mut self, pieces: Vec<Piece>, done: usize, total: usize) {
        // The pieces' ops of each partition, in order.
        let mut incoming: Vec<Vec<Vec<LinOp>>> = Vec::new();
        for mut piece in pieces {
            self.unkeyed.append(&mut piece.unkeyed);
            for (key, ops) in piece.keys.keys.into_iter().zip(piece.keyed) {
                let slot = self.keys.slot(key);
                if slot >= self.keyed.len() {
                    self.keyed.resize_with(slot + 1, Vec::new);
                }
                if slot >= incoming.len() {
                    incoming.resize_with(slot + 1, Vec::new);
                }
                incoming[slot].push(ops);
            }
        }
        let take = |(ops, pieces): (&mut Vec<LinOp>, Vec<Vec<LinOp>>)| {
            let n: usize = pieces.iter().map(Vec::len).sum();
            if ops.capacity() - ops.len() < n {
                // Room for all the partition's ops, as many as the share
                // of them so far suggests (and a little more).
                let expected = (ops.len() + n) as u128 * total as u128 / done as u128;
                ops.reserve_exact(
                    (expected as usize + expected as usize / 8).max(ops.len() + n) - ops.len(),
                );
            }
            for mut piece in pieces {
                ops.append(&mut piece);
            }
        };
        if incoming.len() > 1 {
            self.keyed.par_iter_mut().zip(incoming).for_each(take);
        } else {
            self.keyed.iter_mut().zip(incoming).for_each(take);
        }
    }

    /// The unkeyed partition, then the others in order of their keys'
    /// text, each sorted by call.
    fn into_partitions(self) -> Vec<PartitionOps> {
        let Gathered {
            keys,
            mut unkeyed,
            mut keyed,
        } = self;
        let sort = |ops: &mut Vec<LinOp>| {
            // Invocation order is call order unless times go backwards.
            if !ops.is_sorted_by_key(|op| op.call_rank) {
                ops.sort_by_key(|op| op.call_rank);
            }
        };
        sort(&mut unkeyed);
        keyed.par_iter_mut().for_each(sort);
        let mut partitions = Vec::with_capacity(keyed.len() + 1);
        if !unkeyed.is_empty() || keyed.is_empty() {
            partitions.push(PartitionOps {
                key: None,
                ops: unkeyed,
            });
        }
        for (slot, key) in keys.into_sorted() {
            partitions.push(PartitionOps {
                key: Some(key),
                ops: std::mem::take(&mut keyed[slot]),
            });
        }
        partitions
    }
}

/// One op that counts: an invocation and its ok completion, if any (their
/// positions in the history), with the ranks of its call and return.
struct Pair {
    invoke: usize,
    completion: Option<usize>,
    call_rank: u32,
    ret_rank: u32,
}

/// Pairs each client invocation with its process's next completion, drops
/// failed ones, and ranks the call and return events: by time (or, when
/// every time is 0, as in a history built by hand or read from a format
/// without times, by history index), calls before returns at equal times
/// (closed intervals), then by history index. A return is [`NEVER`]
/// without an ok completion. One pass over the history; only when its
/// times go backwards, a sort of all the events.
fn pair_and_rank(all: &[Op]) -> Result<Vec<Pair>, String> {
    let timeless = all.len() > 1 && all.iter().all(|op| op.time == 0);
    let time_of = |op: &Op| if timeless { op.index } else { op.time };
    let Paired {
        mut calls,
        kinds,
        in_order,
        backwards,
    } = pair(all, time_of);
    if let Some((call, pos)) = backwards {
        let (invoke, c) = (&all[calls[call].invoke], &all[pos]);
        return Err(format!(
            "op {} (process {}) completes at {} ns, before its invocation (op {}) at {} ns",
            c.index, c.process, c.time, invoke.index, invoke.time
        ));
    }

    // Failed ops did not happen: rank among the others' events.
    let failed = kinds.iter().filter(|&&k| k == OpType::Fail).count();
    let oks = kinds.iter().filter(|&&k| k == OpType::Ok).count();
    let events = (calls.len() - failed + oks) as u64;
    if events >= u64::from(NEVER) {
        return Err(format!(
            "{events} events are more than this checker can rank"
        ));
    }
    if !in_order {
        rank_by_sorting(all, &mut calls, &kinds, time_of);
    } else if failed > 0 {
        rank_without_failed(&mut calls, &kinds);
    }
    let mut kinds = kinds.iter();
    calls.retain(|_| kinds.next() != Some(&OpType::Fail));
    Ok(calls)
}

/// What one pass over a history finds.
struct Paired {
    /// Every invocation, in order, as a pair (with its ok completion).
    calls: Vec<Pair>,
    /// How each completed (`Invoke`: it did not).
    kinds: Vec<OpType>,
    /// The events came in time order, and `calls` has their ranks.
    in_order: bool,
    /// The first invocation (by position in `calls`) that completes ok
    /// before it is invoked, and the completion's position.
    backwards: Option<(usize, usize)>,
}

/// Pairs each client invocation with its process's next completion, and
/// ranks the events while they come in time order.
fn pair(all: &[Op], time_of: impl Fn(&Op) -> u64) -> Paired {
    let mut calls: Vec<Pair> = Vec::with_capacity(all.len() / 2 + 1);
    let mut kinds: Vec<OpType> = Vec::with_capacity(all.len() / 2 + 1);
    let mut open_calls = OpenCalls::new(all.len() as u64);
    let mut ranks = Ranks::default();
    let mut backwards: Option<(usize, usize)> = None;
    for (pos, op) in all.iter().enumerate() {
        let Process::Client(p) = op.process else {
            continue;
        };
        let open = open_calls.of(p);
        if op.kind == OpType::Invoke {
            *open = calls.len();
            ranks.event(time_of(op), false, op.index, calls.len(), &mut calls);
            calls.push(Pair {
                invoke: pos,
                completion: None,
                call_rank: 0,
                ret_rank: NEVER,
            });
            kinds.push(OpType::Invoke);
        } else if *open != OpenCalls::NONE {
            let call = std::mem::replace(open, OpenCalls::NONE);
            kinds[call] = op.kind;
            if op.kind == OpType::Ok {
                calls[call].completion = Some(pos);
                ranks.event(time_of(op), true, op.index, call, &mut calls);
                if time_of(op) < time_of(&all[calls[call].invoke])
                    && backwards.is_none_or(|(first, _)| call < first)
                {
                    backwards = Some((call, pos));
                }
            }
        }
    }
    ranks.flush(&mut calls);
    Paired {
        calls,
        kinds,
        in_order: ranks.in_order,
        backwards,
    }
}

/// The open invocation (a position in the calls) of each process: client
/// numbers below a bound in a vector, others in a map.
struct OpenCalls {
    dense: Vec<usize>,
    dense_max: u64,
    sparse: BTreeMap<u64, usize>,
}

impl OpenCalls {
    /// No open invocation.
    const NONE: usize = usize::MAX;

    /// Open invocations of clients numbered below `dense_max` are kept in
    /// a vector.
    fn new(dense_max: u64) -> OpenCalls {
        OpenCalls {
            dense: Vec::new(),
            dense_max,
            sparse: BTreeMap::new(),
        }
    }

    /// Client `p`'s open invocation, [`OpenCalls::NONE`] if it has none.
    #[inline]
    fn of(&mut self, p: u64) -> &mut usize {
        if p < self.dense_max {
            let p = p as usize;
            if p >= self.dense.len() {
                self.dense.resize(p + 1, Self::NONE);
            }
            &mut self.dense[p]
        } else {
            self.sparse.entry(p).or_insert(Self::NONE)
        }
    }
}

/// Ranks the events of the ops that did not fail among themselves, when
/// the ranks (given in time order) count the failed ops' calls: each
/// failed call came before the ranks after it.
fn rank_without_failed(calls: &mut [Pair], kinds: &[OpType]) {
    let mut failed: Vec<u32> = calls
        .iter()
        .zip(kinds)
        .filter(|(_, &k)| k == OpType::Fail)
        .map(|(call, _)| call.call_rank)
        .collect();
    failed.sort_unstable();
    let before = |rank: u32| rank - failed.partition_point(|&f| f < rank) as u32;
    for call in calls {
        call.call_rank = before(call.call_rank);
        if call.ret_rank != NEVER {
            call.ret_rank = before(call.ret_rank);
        }
    }
}

/// Ranks events as they come, while they come in time order (as they do
/// in a history written as it happened): the events at one time wait for
/// a later time, then are ranked calls first, by index, by call.
struct Ranks {
    in_order: bool,
    time: u64,
    /// (is a return, index, call).
    run: Vec<(bool, u64, usize)>,
    next: u64,
}

impl Default for Ranks {
    fn default() -> Ranks {
        Ranks {
            in_order: true,
            time: 0,
            run: Vec::new(),
            next: 0,
        }
    }
}

impl Ranks {
    fn event(&mut self, time: u64, is_return: bool, index: u64, call: usize, calls: &mut [Pair]) {
        if !self.in_order {
            return;
        }
        if time < self.time {
            self.in_order = false;
            return;
        }
        if time > self.time {
            self.flush(calls);
            self.time = time;
        }
        self.run.push((is_return, index, call));
    }

    fn flush(&mut self, calls: &mut [Pair]) {
        self.run.sort_unstable();
        for &(is_return, _, call) in &self.run {
            // Past u32, the count says so and the ranks are not used.
            let rank = self.next as u32;
            if is_return {
                calls[call].ret_rank = rank;
            } else {
                calls[call].call_rank = rank;
            }
            self.next += 1;
        }
        self.run.clear();
    }
}

/// Ranks all the events by sorting them, for a history whose times go
/// backwards.
fn rank_by_sorting(all: &[Op], calls: &mut [Pair], kinds: &[OpType], time_of: impl Fn(&Op) -> u64) {
    let mut events: Vec<(u64, bool, u64, u32)> = Vec::with_capacity(2 * calls.len());
    for (i, (call, &kind)) in calls.iter().zip(kinds).enumerate() {
        if kind == OpType::Fail {
            continue;
        }
        let (i, invoke) = (i as u32, &all[call.invoke]);
        events.push((time_of(invoke), false, invoke.index, i));
        if let Some(c) = call.completion.map(|c| &all[c]) {
            events.push((time_of(c), true, c.index, i));
        }
    }
    events.sort_unstable();
    for (rank, &(_, is_return, _, i)) in events.iter().enumerate() {
        let call = &mut calls[i as usize];
        if is_return {
            call.ret_rank = rank as u32;
        } else {
            call.call_rank = rank as u32;
        }
    }
}

/// The ops of some consecutive invocations, partitioned.
struct Piece {
    unkeyed: Vec<LinOp>,
    keys: PartitionKeys,
    /// By the key's number in `keys`.
    keyed: Vec<Vec<LinOp>>,
}

impl Piece {
    /// Adds `op` to its partition; `left` ops of the piece are still to
    /// come (for the room a new partition reserves).
    fn push(&mut self, key: Option<Value>, op: LinOp, left: usize) {
        let Some(key) = key else {
            self.unkeyed.push(op);
            return;
        };
        let slot = self.keys.slot(key);
        if slot == self.keyed.len() {
            // Room for a fair share of the ops left (the vectors would
            // otherwise grow by copying).
            let share = left / (slot + 1);
            self.keyed.push(Vec::with_capacity(share.clamp(4, 256)));
        }
        self.keyed[slot].push(op);
    }
}

/// Partitions the ops of `pairs`, or says what is wrong with the first
/// malformed one (and its position in the history).
fn partition_piece(
    all: &[Op],
    model: &dyn Model,
    pairs: &[Pair],
) -> Result<Piece, (usize, String)> {
    let mut piece = Piece {
        unkeyed: Vec::new(),
        keys: PartitionKeys::default(),
        keyed: Vec::new(),
    };
    let mut whole = ModelOp::new("", Value::Null, None);
    for (i, pair) in pairs.iter().enumerate() {
        // The values a few ops ahead are on their way from memory by the
        // time they are needed (each is a cache miss, and most of the cost).
        if let Some(ahead) = pairs.get(i + PREFETCH_AHEAD) {
            prefetch(&all[ahead.invoke].value);
            if let Some(c) = ahead.completion {
                prefetch(&all[c].value);
            }
        }
        let invoke = &all[pair.invoke];
        let completion = pair.completion.map(|c| &all[c]);
        // The op as the history has it, in a buffer reused from op to op:
        // the model's partition copies out what its partition sees.
        fill(&mut whole, invoke, completion.map(|c| &c.value));
        let error = |e: String| {
            let message = format!("op {} (process {}): {e}", invoke.index, invoke.process);
            (pair.invoke, message)
        };
        let (key, op) = match model.partition(&whole).map_err(error)? {
            Some(part) => (Some(part.key), part.op),
            None => (
                None,
                std::mem::replace(&mut whole, ModelOp::new("", Value::Null, None)),
            ),
        };
        model.validate(&op).map_err(error)?;
        if pair.completion.is_none() && model.is_read_only(&op) {
            continue;
        }
        debug_assert!(
            pair.call_rank < pair.ret_rank,
            "a call ranks before its return"
        );
        let lin = LinOp::new(
            op,
            invoke.process,
            invoke.index,
            invoke.time,
            completion.map(|c| (c.index, c.time)),
            pair.call_rank,
            pair.ret_rank,
        );
        piece.push(key, lin, pairs.len() - i);
    }
    Ok(piece)
}

/// Makes `whole` the op `invoke` calls, with `output` from its ok
/// completion, reusing its allocations.
fn fill(whole: &mut ModelOp, invoke: &Op, output: Option<&Value>) {
    if *whole.f != *invoke.f {
        whole.f = ModelOp::name(&invoke.f);
    }
    assign(&mut whole.input, &invoke.value);
    match (&mut whole.output, output) {
        (Some(out), Some(value)) => assign(out, value),
        (out, value) => *out = value.cloned(),
    }
}

/// How many ops ahead [`partition_piece`] asks for values.
const PREFETCH_AHEAD: usize = 8;

/// Asks for the heap memory of `value` (an array's first elements, a
/// string's first bytes) to be brought into the cache. Only a hint.
#[inline(always)]
fn prefetch(value: &Value) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let (ptr, len): (*const u8, usize) = match value {
            Value::Array(a) => (a.as_ptr().cast(), std::mem::size_of_val(a.as_slice())),
            Value::String(s) => (s.as_ptr(), s.len()),
            _ => return,
        };
        // Up to three cache lines: a `[key, value]` tuple of scalars.
        for offset in (0..len.min(192)).step_by(64) {
            // SAFETY: a prefetch is only a hint; it never faults, whatever
            // the address (this one is within the value's allocation).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(ptr.wrapping_add(offset).cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// The partition keys met so far, numbered in order of appearance and
/// identified by their JSON text (a non-negative integer, the commonest
/// key, by its value: no other key has the text of one).
#[derive(Default)]
struct PartitionKeys {
    uints: FxHashMap<u64, usize>,
    texts: FxHashMap<Box<[u8]>, usize>,
    keys: Vec<Value>,
    text: Vec<u8>,
}

impl PartitionKeys {
    fn slot(&mut self, key: Value) -> usize {
        let next = self.keys.len();
        let slot = match key.as_u64() {
            Some(n) => *self.uints.entry(n).or_insert(next),
            None => {
                self.text.clear();
                serde_json::to_writer(&mut self.text, &key)
                    .expect("a JSON value always serializes");
                match self.texts.get(self.text.as_slice()) {
                    Some(&slot) => slot,
                    None => {
                        self.texts.insert(self.text.as_slice().into(), next);
                        next
                    }
                }
            }
        };
        if slot == next {
            self.keys.push(key);
        }
        slot
    }

    /// The slots with their keys, in order of the keys' text.
    fn into_sorted(self) -> Vec<(usize, Value)> {
        let mut keys: Vec<(String, usize, Value)> = self
            .keys
            .into_iter()
            .enumerate()
            .map(|(slot, key)| (key.to_string(), slot, key))
            .collect();
        keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        keys.into_iter().map(|(_, slot, key)| (slot, key)).collect()
    }
}

/// `*dst = src.clone()`, keeping `dst`'s allocations where the two have
/// the same shape.
fn assign(dst: &mut Value, src: &Value) {
    match (dst, src) {
        (Value::Array(d), Value::Array(s)) => {
            d.truncate(s.len());
            for (d, s) in d.iter_mut().zip(s) {
                assign(d, s);
            }
            let n = d.len();
            d.extend_from_slice(&s[n..]);
        }
        (Value::String(d), Value::String(s)) => d.clone_from(s),
        (dst, src) => *dst = src.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::model_by_name;
    use lightcone_history::build::{invoke, ok, op};
    use lightcone_history::Op;
    use serde_json::json;
    use std::collections::BTreeMap;

    /// A million-op history prepares a million of them: no `Option`s for
    /// the completion's index and time.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_lin_op_is_144_bytes() {
        assert_eq!(std::mem::size_of::<LinOp>(), 144);
    }

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

    /// The first version of [`prepare`], simple and slow: the new one must
    /// give exactly what it gave.
    fn prepare_reference(
        history: &History,
        model: &dyn Model,
    ) -> Result<Vec<PartitionOps>, String> {
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
                op: ModelOp::new(ModelOp::name(&invoke.f), invoke.value.clone(), output),
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
            let lin = LinOp::new(
                op,
                raw.process,
                raw.invoke_index,
                raw.invoke_time,
                raw.complete_index.zip(raw.complete_time),
                call_rank[i],
                ret_rank[i],
            );
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

    /// Random ops for the differential tests.
    struct Gen(lightcone_rng::SplitMix64);

    impl Gen {
        fn below(&mut self, n: u64) -> u64 {
            self.0.below(n)
        }

        fn value(&mut self) -> Value {
            match self.below(8) {
                0 => Value::Null,
                1 => json!(self.below(4)),
                2 => json!(-(self.below(3) as i64)),
                3 => json!(["x", "y", "", "\"q\""][self.below(4) as usize]),
                4 => json!([self.below(3), self.below(3)]),
                5 => json!(0.5),
                6 => json!({"k": self.below(2)}),
                _ => json!(self.below(100)),
            }
        }

        /// A history of a few clients (and the nemesis), mostly well
        /// formed, with times in order, out of order, repeated or all 0.
        fn history(&mut self, keyed: bool) -> History {
            let clients = 1 + self.below(4);
            let len = self.below(24);
            let times = self.below(4);
            let mut time = 0u64;
            let mut open: Vec<Option<(String, Value, u64)>> = vec![None; clients as usize];
            let mut h = History::default();
            for _ in 0..len {
                time = match times {
                    0 => 0,
                    1 => time + self.below(3),
                    2 => self.below(50),
                    _ => time + 1 + self.below(10),
                };
                if self.below(12) == 0 {
                    h.push(Op::new(Process::Nemesis, OpType::Info, "kill", Value::Null).at(time));
                    continue;
                }
                let c = self.below(clients);
                let (kind, f, value) = match open[c as usize].take() {
                    None => {
                        let f = match self.below(40) {
                            0 => "add",
                            1..=8 => "cas",
                            9..=24 => "read",
                            _ => "write",
                        };
                        let mut v = match f {
                            "read" => Value::Null,
                            "cas" if self.below(8) != 0 => json!([self.value(), self.value()]),
                            _ => self.value(),
                        };
                        if keyed && self.below(30) != 0 {
                            v = json!([self.value(), v]);
                        }
                        open[c as usize] = Some((f.to_string(), v.clone(), time));
                        (OpType::Invoke, f.to_string(), v)
                    }
                    Some((f, v, called)) => {
                        if times == 2 && self.below(10) != 0 {
                            // Out of history order, but mostly not before
                            // the call.
                            time = called + self.below(10);
                        }
                        let kind = [OpType::Ok, OpType::Ok, OpType::Fail, OpType::Info]
                            [self.below(4) as usize];
                        let v = match (kind, &v) {
                            (OpType::Ok, Value::Array(t)) if t.len() == 2 && self.below(3) == 0 => {
                                json!([t[0].clone(), self.value()])
                            }
                            (OpType::Ok, _) if self.below(10) == 0 => self.value(),
                            _ => v,
                        };
                        (kind, f, v)
                    }
                };
                h.push(Op::new(Process::Client(c), kind, f, value).at(time));
            }
            h
        }
    }

    #[test]
    fn prepares_exactly_as_the_reference_does() {
        let models = [
            "register",
            "cas-register",
            "independent-register",
            "independent-cas-register",
            "set",
        ];
        let mut gen = Gen(lightcone_rng::SplitMix64(7));
        let (mut ok, mut errors) = (0, 0);
        for round in 0..20_000 {
            let name = models[round % models.len()];
            let model = model_by_name(name, None).unwrap();
            let h = gen.history(name.starts_with("independent"));
            let want = prepare_reference(&h, model.as_ref());
            for piece in [1, 3, PIECE] {
                let got = prepare_in_pieces(&h, model.as_ref(), piece);
                assert_eq!(
                    format!("{got:?}"),
                    format!("{want:?}"),
                    "{name}, pieces of {piece}: {}",
                    h.to_jsonl()
                );
            }
            match want {
                Ok(_) => ok += 1,
                Err(_) => errors += 1,
            }
        }
        assert!(
            ok > 5_000 && errors > 1_000,
            "{ok} prepared, {errors} refused"
        );
    }
}
