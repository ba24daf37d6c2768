//! The search for a sequentially consistent order (Lamport 1979): one
//! total order of the ops that the model accepts and that keeps each
//! process's ops in the order the process invoked them, with no real-time
//! constraint between processes.
//!
//! A configuration is how many of each process's ops the order has taken,
//! the set of passed-over indeterminate ops that may still be taken (see
//! below), and the model state (interned). The candidates at a
//! configuration are each process's next op. The search is depth-first
//! over configurations, never visiting one twice (the memo of Wing & Gong's
//! search as Lowe caches it, with program order in place of real time),
//! and bounded by a budget of configurations.
//!
//! Reductions keep it small:
//! - A read-only op (or, for registers, a cas from v to v) at the head of
//!   its process that is legal in the current state is taken at once, without trying alternatives: in any
//!   order that takes it later, moving it up to now keeps every op legal
//!   (it changes no state, and nothing of its own process lies between).
//! - An indeterminate op that is its process's last (Jepsen retires a
//!   process after `info`) is never explicitly skipped: the order is
//!   complete once every process has taken all its ops but such a last
//!   one, which then never happened.
//! - An indeterminate op that would leave the state as it is is never
//!   taken: dropping it from an order keeps the order legal.
//! - For registers, an indeterminate write or cas (of value v) is taken
//!   only when another candidate needs the register to hold v (a read of
//!   v, a cas from v). Proof: in a legal order, the op X right after it
//!   either needs v, or is a write (then the indeterminate op's effect is
//!   never seen and dropping it keeps the order legal); repeating the
//!   drop gives an order in which each taken indeterminate op is followed
//!   by an op needing its value, and X is then a candidate where the
//!   indeterminate op was taken (not of its process: the op is its
//!   process's last, or pending; when it is not its process's last, the
//!   search reaches the same order by passing over it and taking it from
//!   the pending ops once X is a candidate).
//! - For models whose states only grow (a kv value under appends), a
//!   configuration is dead when an op still to be taken can never become
//!   legal and no op still to be taken may revive it
//!   ([`Model::may_become_legal`](super::model::Model::may_become_legal)).
//! - For registers, a configuration is dead when some op still to be
//!   taken needs a value v the register does not hold and no op still to
//!   be taken writes v: every state from here on is the current one or
//!   one that a remaining op writes.
//!
//! An indeterminate op followed by other ops of its process (not Jepsen's
//! way, but a history may have it) may take effect at any point after its
//! process's previous ops, or never, as the linearizability checker reads
//! it (its return is at infinity): the search may pass over it, leaving it
//! pending, to be taken at any later point or never.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use lightcone_history::Process;
use rustc_hash::FxHashSet;

use super::intern::Interner;
use super::model::RegisterOp;
use super::prepare::LinOp;

/// Search steps between looks at the caller's stop flag.
const STOP_CHECK_STEPS: u64 = 1 << 10;

/// The bound and stop flag of a search.
pub(crate) struct SeqBudget<'a> {
    /// The most configurations it may visit; past them it is unknown.
    pub configs_max: usize,
    /// What the reason says the bound is (the check's whole budget).
    pub configs_max_said: usize,
    pub stop: Option<&'a AtomicBool>,
}

/// Where the search got deepest without completing an order: the
/// longest prefix it took (per-process counts), the ops that could not be
/// taken next there, and every state it reached with that prefix.
#[derive(Debug, Clone)]
pub(crate) struct Deepest {
    /// The ops taken, each with the state after it, in order.
    pub path: Vec<(usize, u32)>,
    /// Each process's next op there (positions in the partition's ops).
    pub blocked: Vec<usize>,
    /// Indeterminate ops passed over and still pending there.
    pub pending: Vec<usize>,
    /// Every state reached with that prefix's counts.
    pub states: Vec<u32>,
    /// For registers: values (as states) that some op still to be taken
    /// needs and no op still to be taken writes, other than the state
    /// there.
    pub unwritten: Vec<u32>,
    /// An op still to be taken that can never become legal there (the
    /// reason the configuration is dead), if the search knew one.
    pub doomed: Option<usize>,
}

#[derive(Debug, Clone)]
pub(crate) enum SeqVerdict {
    /// A sequentially consistent order (positions in the ops).
    Valid(Vec<usize>),
    Invalid(Box<Deepest>),
    Unknown(String),
}

#[derive(Debug, Clone)]
pub(crate) struct SeqOutcome {
    pub verdict: SeqVerdict,
    pub configs: usize,
    pub steps: u64,
}

/// Each process's ops in program order.
struct Programs {
    /// Positions in the ops, by invocation index.
    ops: Vec<Vec<usize>>,
    /// How many of each process's ops must be taken: up to its last
    /// determinate op (an indeterminate tail may never happen).
    required: Vec<u32>,
    /// Bits that hold a count of each process's ops.
    bits: Vec<u32>,
}

impl Programs {
    fn new(ops: &[LinOp]) -> Programs {
        let mut by_process: BTreeMap<Process, Vec<usize>> = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            by_process.entry(op.process).or_default().push(i);
        }
        let mut programs: Vec<Vec<usize>> = by_process.into_values().collect();
        for program in &mut programs {
            program.sort_by_key(|&i| ops[i].invoke_index);
        }
        let required = programs
            .iter()
            .map(|p| {
                p.iter()
                    .rposition(|&i| !ops[i].is_indeterminate())
                    .map_or(0, |last| last as u32 + 1)
            })
            .collect();
        let bits = programs
            .iter()
            .map(|p| 64 - (p.len() as u64).leading_zeros())
            .collect();
        Programs {
            ops: programs,
            required,
            bits,
        }
    }
}

/// How a move leaves a configuration, for undoing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Undo {
    /// Took process `p`'s next op.
    Took(u32),
    /// Passed over process `p`'s next op (indeterminate), leaving it
    /// pending.
    Passed(u32),
    /// Took a pending op.
    TookPending(usize),
}

/// One step of the current path: how it was made, the op, the state
/// after it.
#[derive(Debug, Clone, Copy)]
struct Step {
    undo: Undo,
    op: usize,
    state: u32,
}

/// A move not yet tried from a configuration.
#[derive(Debug, Clone, Copy)]
struct Move {
    undo: Undo,
    op: usize,
    state: u32,
}

/// A configuration on the current path and its untried moves.
struct Frame {
    /// Length of the path at this configuration.
    path_len: usize,
    state: u32,
    moves: Vec<Move>,
    next: usize,
}

/// The configurations seen, packed: each process's count in its bits,
/// then the state, then the pending ops. Two words or fewer are held
/// inline.
#[derive(Default)]
struct Visited {
    small: FxHashSet<u128>,
    large: FxHashSet<Box<[u64]>>,
    words: Vec<u64>,
}

impl Visited {
    /// Inserts a configuration; false if it was seen before.
    fn insert(
        &mut self,
        programs: &Programs,
        counts: &[u32],
        state: u32,
        pending: &[usize],
    ) -> bool {
        let words = &mut self.words;
        words.clear();
        let (mut word, mut used) = (0u64, 0u32);
        let mut push = |value: u64, bits: u32, words: &mut Vec<u64>| {
            if used + bits > 64 {
                words.push(word);
                (word, used) = (0, 0);
            }
            if bits > 0 {
                word |= value << used;
            }
            used += bits;
        };
        for (&count, &bits) in counts.iter().zip(&programs.bits) {
            push(u64::from(count), bits, words);
        }
        push(u64::from(state), 32, words);
        // Pending ops as position + 1, so that none is 0 (a zero word
        // would make a shorter list look like a longer one).
        for &op in pending {
            push(op as u64 + 1, 32, words);
        }
        words.push(word);
        match words.as_slice() {
            [a] => self.small.insert(u128::from(*a)),
            [a, b] => self.small.insert(u128::from(*a) | (u128::from(*b) << 64)),
            _ => self.large.insert(words.clone().into_boxed_slice()),
        }
    }

    fn len(&self) -> usize {
        self.small.len() + self.large.len()
    }
}

/// The search's whole state.
struct Search<'o, 'i, 'm, 'b> {
    ops: &'o [LinOp],
    /// Each op interned.
    op_ids: Vec<u32>,
    intern: &'i mut Interner<'m>,
    programs: Programs,
    counts: Vec<u32>,
    /// Passed-over indeterminate ops, sorted.
    pending: Vec<usize>,
    path: Vec<Step>,
    frames: Vec<Frame>,
    visited: Visited,
    budget: &'b SeqBudget<'b>,
    steps: u64,
    /// The deepest configuration left without an order, when the path
    /// backed out of it.
    deepest: Option<Deepest>,
    deepest_counts: Vec<u32>,
    deepest_len: usize,
    /// For register models, what each op needs and writes.
    values: Option<Values>,
    /// Determinate ops that leave the state as it is wherever they are
    /// legal (reads; for registers, a cas from v to v too).
    observes: Vec<bool>,
}

/// For register models: the value (as a state) each op needs and the
/// value it writes, and, over the ops not yet taken, how many determinate
/// ones need each value and how many write it.
struct Values {
    needs: Vec<Option<u32>>,
    writes: Vec<Option<u32>>,
    /// By state id (grown as states are interned).
    needed: Vec<u32>,
    written: Vec<u32>,
    /// Values needed and never written by the ops not yet taken.
    doomed: usize,
}

impl Values {
    fn new(ops: &[LinOp], op_ids: &[u32], intern: &mut Interner) -> Option<Values> {
        let model = intern.model();
        let mut needs = Vec::with_capacity(ops.len());
        let mut writes = Vec::with_capacity(ops.len());
        for (op, &id) in ops.iter().zip(op_ids) {
            let written = match model.register_op(&op.op)? {
                RegisterOp::Write(v) | RegisterOp::Cas(_, v) => Some(intern.state_id(v.clone())),
                RegisterOp::Read(_) => None,
            };
            needs.push(intern.required_state(id));
            writes.push(written);
        }
        let mut values = Values {
            needs,
            writes,
            needed: Vec::new(),
            written: Vec::new(),
            doomed: 0,
        };
        for (i, op) in ops.iter().enumerate() {
            values.count(i, !op.is_indeterminate(), 1);
        }
        Some(values)
    }

    fn is_doomed(&self, v: usize) -> bool {
        self.needed.get(v).is_some_and(|&n| n > 0) && self.written.get(v).is_none_or(|&w| w == 0)
    }

    /// Adds `delta` (1 or -1) to op `i`'s counts, keeping `doomed`.
    fn count(&mut self, i: usize, determinate: bool, delta: i32) {
        let update = |v: u32, need: bool, this: &mut Values| {
            let v = v as usize;
            if v >= this.needed.len() {
                this.needed.resize(v + 1, 0);
                this.written.resize(v + 1, 0);
            }
            let before = this.is_doomed(v);
            let slot = if need {
                &mut this.needed[v]
            } else {
                &mut this.written[v]
            };
            *slot = slot
                .checked_add_signed(delta)
                .expect("counts stay non-negative");
            match (before, this.is_doomed(v)) {
                (false, true) => this.doomed += 1,
                (true, false) => this.doomed -= 1,
                _ => {}
            }
        };
        if let (Some(v), true) = (self.needs[i], determinate) {
            update(v, true, self);
        }
        if let Some(v) = self.writes[i] {
            update(v, false, self);
        }
    }

    /// Some op not yet taken can never become legal from `state`.
    fn is_dead(&self, state: u32) -> bool {
        self.doomed > usize::from(self.is_doomed(state as usize))
    }
}

/// Searches `ops` for a sequentially consistent order from the state
/// `init` (interned in `intern`).
pub(crate) fn search(
    ops: &[LinOp],
    intern: &mut Interner,
    init: u32,
    budget: &SeqBudget,
) -> SeqOutcome {
    let op_ids: Vec<u32> = ops.iter().map(|op| intern.op_id(&op.op)).collect();
    let values = Values::new(ops, &op_ids, intern);
    let programs = Programs::new(ops);
    let observes = (0..ops.len())
        .map(|i| {
            let unchanged = values
                .as_ref()
                .is_some_and(|v| v.needs[i].is_some() && v.needs[i] == v.writes[i]);
            !ops[i].is_indeterminate() && (intern.is_read_only(op_ids[i]) || unchanged)
        })
        .collect();
    let mut s = Search {
        ops,
        op_ids,
        intern,
        counts: vec![0; programs.ops.len()],
        programs,
        pending: Vec::new(),
        path: Vec::new(),
        frames: Vec::new(),
        visited: Visited::default(),
        budget,
        steps: 0,
        deepest: None,
        deepest_counts: Vec::new(),
        deepest_len: 0,
        values,
        observes,
    };
    let verdict = s.run(init);
    SeqOutcome {
        verdict,
        configs: s.visited.len(),
        steps: s.steps,
    }
}

impl Search<'_, '_, '_, '_> {
    fn run(&mut self, init: u32) -> SeqVerdict {
        if self.stopped() {
            return SeqVerdict::Unknown("stopped by the caller".to_string());
        }
        if let Some(verdict) = self.enter(init) {
            return verdict;
        }
        loop {
            self.steps += 1;
            if self.steps % STOP_CHECK_STEPS == 0 && self.stopped() {
                return SeqVerdict::Unknown("stopped by the caller".to_string());
            }
            let Some(frame) = self.frames.last_mut() else {
                let deepest = self
                    .deepest
                    .take()
                    .expect("the search reached some configuration");
                return SeqVerdict::Invalid(Box::new(deepest));
            };
            if frame.next < frame.moves.len() {
                let m = frame.moves[frame.next];
                frame.next += 1;
                self.apply(m.undo, m.op, m.state);
                if let Some(verdict) = self.enter(m.state) {
                    return verdict;
                }
            } else {
                let frame = self.frames.pop().expect("a frame is on top");
                self.note_dead_end(frame.state);
                self.back_out();
            }
        }
    }

    fn stopped(&self) -> bool {
        self.budget.stop.is_some_and(|s| s.load(Ordering::Relaxed))
    }

    /// Backs out of the configuration at the end of the path, to the
    /// frame below.
    fn back_out(&mut self) {
        let back_to = self.frames.last().map_or(0, |f| f.path_len);
        self.undo_to(back_to);
    }

    /// Arrives at a configuration in `state`: takes every legal read-only
    /// op at the head of its process, then decides it is complete, seen
    /// before (backs out), over the budget, dead (backs out), or new
    /// (pushes its frame).
    fn enter(&mut self, state: u32) -> Option<SeqVerdict> {
        self.take_legal_reads(state);
        if self.is_complete() {
            let order = self
                .path
                .iter()
                .filter(|s| !matches!(s.undo, Undo::Passed(_)))
                .map(|s| s.op)
                .collect();
            return Some(SeqVerdict::Valid(order));
        }
        if !self
            .visited
            .insert(&self.programs, &self.counts, state, &self.pending)
        {
            self.back_out();
            return None;
        }
        if self.visited.len() > self.budget.configs_max {
            return Some(SeqVerdict::Unknown(format!(
                "more than {} configurations",
                self.budget.configs_max_said
            )));
        }
        let dead = match &self.values {
            Some(values) => values.is_dead(state),
            None => self.never_legal_again(state).is_some(),
        };
        if dead {
            self.note_dead_end(state);
            self.back_out();
            return None;
        }
        let moves = self.moves(state);
        self.frames.push(Frame {
            path_len: self.path.len(),
            state,
            moves,
            next: 0,
        });
        None
    }

    /// For models whose states only grow ([`Model::may_become_legal`],
    /// as the linearizability search's `monotone.rs` uses it): some
    /// determinate op still to be taken can never become legal from
    /// `state`, and no op still to be taken may revive it. Every state
    /// from here on is reached from `state` by ops still to be taken, so
    /// the op could never be taken.
    ///
    /// [`Model::may_become_legal`]: super::model::Model::may_become_legal
    fn never_legal_again(&mut self, state: u32) -> Option<usize> {
        let remaining = self.remaining();
        let revivers: Vec<u32> = remaining
            .iter()
            .map(|&i| self.op_ids[i])
            .filter(|&id| !self.intern.is_monotone(id))
            .collect();
        for &i in &remaining {
            let id = self.op_ids[i];
            if self.ops[i].is_indeterminate() || self.intern.may_become_legal(state, id) {
                continue;
            }
            if !revivers
                .iter()
                .any(|&y| y != id && self.intern.may_revive(y, id))
            {
                return Some(i);
            }
        }
        None
    }

    /// The ops still to be taken: each process's rest, and the pending.
    fn remaining(&self) -> Vec<usize> {
        (0..self.programs.ops.len())
            .flat_map(|p| {
                self.programs.ops[p][self.counts[p] as usize..]
                    .iter()
                    .copied()
            })
            .chain(self.pending.iter().copied())
            .collect()
    }

    /// A determinate op still to be taken that can never become legal
    /// from `state`, if there is one the pruning rules know of.
    fn doomed_op(&mut self, state: u32) -> Option<usize> {
        let Some(values) = &self.values else {
            return self.never_legal_again(state);
        };
        self.remaining().into_iter().find(|&i| {
            !self.ops[i].is_indeterminate()
                && values.needs[i].is_some_and(|v| v != state && values.is_doomed(v as usize))
        })
    }

    /// The state at the end of the path.
    fn state_now(&self, fallback: u32) -> u32 {
        self.path.last().map_or(fallback, |s| s.state)
    }

    /// Takes legal read-only ops at the heads of processes until none is
    /// left (see the module's doc for why no alternative is lost).
    fn take_legal_reads(&mut self, state: u32) {
        loop {
            let mut took = false;
            for p in 0..self.programs.ops.len() {
                while let Some(&i) = self.programs.ops[p].get(self.counts[p] as usize) {
                    let id = self.op_ids[i];
                    if !self.observes[i] {
                        break;
                    }
                    let now = self.state_now(state);
                    let t = self.intern.step(now, id);
                    if self.intern.successor(t, 0).is_none() {
                        break;
                    }
                    self.apply(Undo::Took(p as u32), i, now);
                    took = true;
                }
            }
            if !took {
                return;
            }
        }
    }

    fn is_complete(&self) -> bool {
        self.counts
            .iter()
            .zip(&self.programs.required)
            .all(|(c, r)| c >= r)
    }

    /// The moves from the current configuration: each process's next op
    /// (processes by the call of that op, earliest first, which tends to
    /// find an order for a history that is close to linearizable first),
    /// then the pending ops.
    fn moves(&mut self, state: u32) -> Vec<Move> {
        let mut heads: Vec<((bool, u32), usize, usize)> = (0..self.programs.ops.len())
            .filter_map(|p| {
                let i = *self.programs.ops[p].get(self.counts[p] as usize)?;
                Some((
                    (self.ops[i].is_indeterminate(), self.ops[i].call_rank),
                    p,
                    i,
                ))
            })
            .collect();
        heads.sort_unstable();
        // Values some candidate needs, for the rule on indeterminate
        // register writes.
        let needed: Vec<u32> = match &self.values {
            Some(values) => heads
                .iter()
                .map(|&(_, _, i)| i)
                .chain(self.pending.iter().copied())
                .filter_map(|i| values.needs[i])
                .collect(),
            None => Vec::new(),
        };
        let mut moves = Vec::new();
        for (_, p, i) in heads {
            self.push_takes(&mut moves, Undo::Took(p as u32), i, state, &needed);
            let is_last = self.counts[p] as usize + 1 == self.programs.ops[p].len();
            if self.ops[i].is_indeterminate() && !is_last {
                moves.push(Move {
                    undo: Undo::Passed(p as u32),
                    op: i,
                    state,
                });
            }
        }
        for k in 0..self.pending.len() {
            let i = self.pending[k];
            self.push_takes(&mut moves, Undo::TookPending(i), i, state, &needed);
        }
        moves
    }

    /// The moves that take op `i` from `state` (one per next state),
    /// less those an indeterminate op need not make (see the module's
    /// doc): leaving the state as it is, or, for registers, writing a
    /// value no other candidate needs.
    fn push_takes(
        &mut self,
        moves: &mut Vec<Move>,
        undo: Undo,
        i: usize,
        state: u32,
        needed: &[u32],
    ) {
        let t = self.intern.step(state, self.op_ids[i]);
        let optional = self.ops[i].is_indeterminate();
        let mut k = 0;
        while let Some(next) = self.intern.successor(t, k) {
            k += 1;
            if optional {
                if next == state {
                    continue;
                }
                // Another candidate needing `next` (`i` itself needs
                // `state`, which is not `next`).
                if self.values.is_some() && !needed.contains(&next) {
                    continue;
                }
            }
            moves.push(Move {
                undo,
                op: i,
                state: next,
            });
        }
    }

    fn apply(&mut self, undo: Undo, op: usize, state: u32) {
        if !matches!(undo, Undo::Passed(_)) {
            if let Some(values) = self.values.as_mut() {
                values.count(op, !self.ops[op].is_indeterminate(), -1);
            }
        }
        match undo {
            Undo::Took(p) => self.counts[p as usize] += 1,
            Undo::Passed(p) => {
                self.counts[p as usize] += 1;
                let at = self.pending.partition_point(|&q| q < op);
                self.pending.insert(at, op);
            }
            Undo::TookPending(_) => {
                let at = self.pending.binary_search(&op).expect("the op is pending");
                self.pending.remove(at);
            }
        }
        self.path.push(Step { undo, op, state });
    }

    /// Undoes the path back to `len` steps.
    fn undo_to(&mut self, len: usize) {
        while self.path.len() > len {
            let step = self.path.pop().expect("the path is longer than len");
            if !matches!(step.undo, Undo::Passed(_)) {
                if let Some(values) = self.values.as_mut() {
                    values.count(step.op, !self.ops[step.op].is_indeterminate(), 1);
                }
            }
            match step.undo {
                Undo::Took(p) => self.counts[p as usize] -= 1,
                Undo::Passed(p) => {
                    self.counts[p as usize] -= 1;
                    let at = self
                        .pending
                        .binary_search(&step.op)
                        .expect("passed op is pending");
                    self.pending.remove(at);
                }
                Undo::TookPending(op) => {
                    let at = self.pending.partition_point(|&q| q < op);
                    self.pending.insert(at, op);
                }
            }
        }
    }

    /// Notes a configuration the search backs out of for good: the
    /// deepest so far (by ops taken or passed) becomes the witness's
    /// prefix; another state at the deepest counts joins its states.
    fn note_dead_end(&mut self, state: u32) {
        let len = self.path.len();
        if let Some(d) = self.deepest.as_mut() {
            if len < self.deepest_len {
                return;
            }
            if len == self.deepest_len {
                if self.deepest_counts == self.counts && !d.states.contains(&state) {
                    d.states.push(state);
                }
                return;
            }
        }
        let blocked = (0..self.programs.ops.len())
            .filter_map(|p| self.programs.ops[p].get(self.counts[p] as usize).copied())
            .collect();
        let doomed = self.doomed_op(state);
        self.deepest = Some(Deepest {
            path: self
                .path
                .iter()
                .filter(|s| !matches!(s.undo, Undo::Passed(_)))
                .map(|s| (s.op, s.state))
                .collect(),
            blocked,
            pending: self.pending.clone(),
            states: vec![state],
            unwritten: self.values.as_ref().map_or_else(Vec::new, |v| {
                (0..v.needed.len())
                    .filter(|&x| x != state as usize && v.is_doomed(x))
                    .map(|x| x as u32)
                    .collect()
            }),
            doomed,
        });
        self.deepest_counts.clone_from(&self.counts);
        self.deepest_len = len;
    }
}
