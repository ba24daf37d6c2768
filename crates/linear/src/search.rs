//! The general linearizability search for one partition.
//!
//! Wing & Gong's backtracking search (Wing & Gong 1993) over a doubly
//! linked list of call and return entries, with Lowe's cache of explored
//! configurations (Lowe 2017, "Testing for linearizability", section 3) and
//! the loop Porcupine runs: at a call whose step is legal and whose new
//! configuration is not cached, push it, lift its call and return out of
//! the list, and start again from the head; at the first return whose call
//! is not linearized, backtrack. What is new here:
//!
//! - **Compact, exact configurations.** Let R be the first return left in
//!   the list. Every op returning before R is linearized and no op called
//!   after R is, so the linearized set is exactly "everything that returns
//!   before R" plus a subset of the ops pending at R, of which there are
//!   at most as many as there are concurrent clients. A configuration is
//!   stored as (R, model state id, set of linearized indeterminate ops,
//!   bitmask over the ops pending at R): 20 bytes for up to 64 concurrent
//!   ops, whatever the history's length (Porcupine clones a bitset of the
//!   whole history per configuration).
//! - **Reads commit.** A legal read-only op (one whose every step leaves
//!   the state as it is) is linearized before anything else, and the
//!   search never tries alternatives to it: linearizing it now can only
//!   help, since moving a read earlier within its interval leaves every
//!   state the same (a dominance argument, as in partial-order
//!   reduction).
//! - **Indeterminate ops just in time.** An op whose completion is unknown
//!   returns at +infinity (Porcupine) and need never be linearized
//!   (Knossos), so the search tries one only after every determinate
//!   candidate: it is linearized only when something needs it (Lowe 2017,
//!   section 4, just-in-time linearization). Equal indeterminate ops are
//!   interchangeable, so only the earliest-called unlinearized one of each
//!   kind is a candidate (symmetry reduction); one that would leave the
//!   state unchanged is never a candidate; and a configuration is pruned
//!   when the same configuration with a subset of its indeterminate ops
//!   (one of the sets along the current path) was already explored, since
//!   an unused indeterminate op only adds options.
//! - **Indeterminate register ops only before an observer.** For register
//!   models (every op a read, write or cas), an indeterminate op is tried
//!   only when it makes some candidate legal that is illegal now: placed
//!   anywhere else it is either overwritten by a write (so it can be
//!   dropped) or can be moved later, next to the read or cas that sees its
//!   value, since a register read or cas is legal in exactly one state.
//! - **Monotone models: dead states are dropped.** For a kv value under
//!   appends or a set under adds, a state from which a read that must
//!   still be linearized can never become legal leads nowhere
//!   (`monotone.rs`); the search drops it at once.
//! - **Resumable.** [`Search::resume`] runs a slice of steps and keeps its
//!   place, so that partitions can take turns.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::indexed::{IndexedOps, INFO};
use super::infosets::InfoSets;
use super::intern::{Interner, Transition};
use super::monotone::{Pruning, Watcher};
use super::prepare::LinOp;
use super::table::ConfigTable;

const NIL: u32 = u32::MAX;
/// How many steps between looks at the stop and cancel flags.
const POLL_STEPS: u64 = 1 << 8;
/// How many of the info sets along the path (besides the empty set) a new
/// configuration is checked against for dominance.
const DOMINANCE_CHECKS_MAX: usize = 8;
/// How many states reached at the deepest point a witness keeps.
const WITNESS_STATES_MAX: usize = 16;
/// Configurations reserved from the shared budget at a time.
pub(crate) const BUDGET_CHUNK: usize = 4096;

/// The memory budget shared by the partitions checked at once: live cached
/// configurations across all of them.
pub(crate) struct Budget {
    pub max: usize,
    pub used: AtomicUsize,
}

/// What the search is told from outside.
#[derive(Clone, Copy)]
pub(crate) struct Controls<'a> {
    pub budget: &'a Budget,
    /// Set by the caller's timer: give up with "unknown".
    pub stop: Option<&'a AtomicBool>,
    /// Set when another partition was found invalid.
    pub cancel: &'a AtomicBool,
}

impl Controls<'_> {
    /// Whether the search should give up now, and why.
    pub fn interrupted(&self) -> Option<Interrupted> {
        if self.cancel.load(Ordering::Relaxed) {
            Some(Interrupted::Cancelled)
        } else if self.stop.is_some_and(|stop| stop.load(Ordering::Relaxed)) {
            Some(Interrupted::Stopped)
        } else {
            None
        }
    }
}

/// Why a search gave up before deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interrupted {
    /// Another partition was found invalid.
    Cancelled,
    /// The caller's stop flag (its time limit).
    Stopped,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Interrupted::Cancelled => "cancelled: another partition is not linearizable",
            Interrupted::Stopped => "stopped from outside (time limit)",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    Valid,
    Invalid,
    Unknown(String),
    /// The depth-first search cached more configurations than it was
    /// allowed before handing over to the breadth-first search.
    Exceeded,
}

/// The deepest point the search reached, in indices of the partition's
/// ops.
#[derive(Debug, Clone, Default)]
pub(crate) struct Deepest {
    /// The op whose return the search could not get past.
    pub stuck: usize,
    /// The linearization that got there, with the state after each op.
    pub prefix: Vec<(usize, u32)>,
    /// Model states the search reached there.
    pub states: Vec<u32>,
    /// Ops invoked before the stuck op returned that the prefix leaves
    /// unlinearized.
    pub concurrent: Vec<usize>,
    /// A read that must come later and that every way on from there makes
    /// impossible (monotone models).
    pub blocker: Option<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub verdict: Verdict,
    /// A complete linearization (indices of the partition's ops) when
    /// valid.
    pub linearization: Vec<usize>,
    /// Where the search got stuck, when not valid.
    pub deepest: Option<Deepest>,
    pub configs: usize,
    pub steps: u64,
    pub table_bytes: usize,
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    /// Ok op index, or `INFO | info index`.
    choice: u32,
    /// Which successor state of a nondeterministic step.
    succ: u32,
    state_before: u32,
    r_before: u32,
    info_before: u32,
    /// The parent configuration fails if this one does (reads commit).
    committed: bool,
}

#[derive(Debug, Clone, Copy)]
enum Cursor {
    Start,
    /// Continue at this call entry with this successor.
    Ok {
        entry: u32,
        succ: u32,
    },
    /// Continue at this class of indeterminate ops with this successor.
    Info {
        class: u32,
        succ: u32,
    },
}

enum Advance {
    Pushed,
    Exhausted,
}

/// The call and return entries of the ok ops in rank order, as a doubly
/// linked list with head and tail sentinels.
struct EntryList {
    /// Entry -> ok op << 1 | is_return.
    entry_of: Vec<u32>,
    call_entry: Vec<u32>,
    ret_entry: Vec<u32>,
    next: Vec<u32>,
    prev: Vec<u32>,
    head: u32,
    tail: u32,
}

impl EntryList {
    /// The list of the ok ops that call and return at these ranks.
    fn new(call_rank: &[u32], ret_rank: &[u32]) -> EntryList {
        let k = call_rank.len();
        let mut order: Vec<(u32, u32)> = Vec::with_capacity(2 * k);
        for (x, (&call, &ret)) in call_rank.iter().zip(ret_rank).enumerate() {
            order.push((call, (x as u32) << 1));
            order.push((ret, ((x as u32) << 1) | 1));
        }
        order.sort_unstable();
        let entry_of: Vec<u32> = order.iter().map(|&(_, e)| e).collect();
        let mut call_entry = vec![0u32; k];
        let mut ret_entry = vec![0u32; k];
        for (e, &code) in entry_of.iter().enumerate() {
            if code & 1 == 0 {
                call_entry[(code >> 1) as usize] = e as u32;
            } else {
                ret_entry[(code >> 1) as usize] = e as u32;
            }
        }
        let n = entry_of.len() as u32;
        let (head, tail) = (n, n + 1);
        let mut next = vec![NIL; n as usize + 2];
        let mut prev = vec![NIL; n as usize + 2];
        let mut last = head;
        for e in 0..n {
            next[last as usize] = e;
            prev[e as usize] = last;
            last = e;
        }
        next[last as usize] = tail;
        prev[tail as usize] = last;
        EntryList {
            entry_of,
            call_entry,
            ret_entry,
            next,
            prev,
            head,
            tail,
        }
    }

    /// The first return entry's op, or NIL when there is none.
    fn first_return(&self) -> u32 {
        self.entry_of
            .iter()
            .find(|&&c| c & 1 == 1)
            .map_or(NIL, |&c| c >> 1)
    }
}

/// For each of the `k` ok ops, the others pending at its return (called
/// before it, returning after), in CSR form, and the most at any return.
/// A sweep keeps the open ops in a vector with O(1) removal.
fn pending_lists(entry_of: &[u32], k: usize) -> (Vec<u32>, Vec<u32>, usize) {
    let mut pending_start = vec![0u32; k + 1];
    let mut pending = Vec::new();
    let mut open: Vec<u32> = Vec::new();
    let mut open_at = vec![NIL; k];
    let mut lists: Vec<(u32, Vec<u32>)> = Vec::with_capacity(k);
    let mut most = 1;
    for &code in entry_of {
        let x = code >> 1;
        if code & 1 == 0 {
            open_at[x as usize] = open.len() as u32;
            open.push(x);
        } else {
            let at = open_at[x as usize] as usize;
            let moved = *open.last().expect("an open op returns");
            open.swap_remove(at);
            if moved != x {
                open_at[moved as usize] = at as u32;
            }
            let mut list = open.clone();
            list.sort_unstable();
            most = most.max(list.len());
            lists.push((x, list));
        }
    }
    lists.sort_unstable_by_key(|(x, _)| *x);
    for (x, list) in lists {
        pending_start[x as usize] = pending.len() as u32;
        pending.extend(list);
    }
    pending_start[k] = pending.len() as u32;
    (pending_start, pending, most)
}

pub(crate) struct Search<'a, 'm> {
    intern: Interner<'m>,
    controls: Controls<'a>,
    ops: IndexedOps,
    list: EntryList,
    /// CSR: the other ok ops pending at each ok op's return.
    pending_start: Vec<u32>,
    pending: Vec<u32>,

    // Indeterminate ops, grouped in classes of equal ops.
    class_first_rank: Vec<u32>,
    /// Each class's members linearized on the current path.
    class_count: Vec<u32>,
    info_sets: InfoSets,
    info_chain: Vec<u32>,
    /// Try an indeterminate op only when it enables an illegal candidate.
    infos_need_observer: bool,
    /// Give up (`Exceeded`) past this many cached configurations.
    handoff_at: usize,

    // Monotone pruning (`Model::may_become_legal`).
    pruning: Pruning,
    /// The reads watched at the current step.
    watcher: Watcher,

    // The current configuration.
    lin: Vec<u64>,
    state: u32,
    info_set: u32,
    /// The ok op whose return is the first left in the list, or NIL.
    r: u32,
    stack: Vec<Frame>,
    /// Where the walk continues, and whether it has begun.
    cursor: Cursor,
    started: bool,
    table: ConfigTable,
    scratch: Vec<u32>,
    /// The mask of linearized ops pending at `r`, for the current step.
    base: Vec<u32>,
    steps: u64,
    reserved: usize,

    /// The deepest configuration seen, for the witness.
    best: Best,
}

/// The deepest configuration the search has seen, for the witness.
struct Best {
    /// The rank of its first return...
    rank: u32,
    /// ...which is this ok op's (NIL before the search starts).
    r: u32,
    /// The path that got there: (choice, state after it).
    stack: Vec<(u32, u32)>,
    /// How much of `stack` is still the current path's.
    common: usize,
    /// The states reached there.
    states: Vec<u32>,
    /// A read the monotone pruning found impossible there (ok op), or NIL.
    blocker: u32,
}

impl Best {
    fn new() -> Best {
        Best {
            rank: 0,
            r: NIL,
            stack: Vec::new(),
            common: 0,
            states: Vec::new(),
            blocker: NIL,
        }
    }
}

impl<'a, 'm> Search<'a, 'm> {
    /// Sets up the search over `ops` (sorted by call) from `init`.
    /// `infos_need_observer` when every op is a register op; the search
    /// stops with `Exceeded` past `handoff_at` cached configurations.
    pub fn new(
        ops: &[LinOp],
        mut intern: Interner<'m>,
        init: u32,
        infos_need_observer: bool,
        handoff_at: usize,
        controls: Controls<'a>,
    ) -> Search<'a, 'm> {
        let ops = IndexedOps::new(ops, &mut intern);
        let pruning = Pruning::new(&ops, &intern);
        let k = ops.ok_src.len();
        let list = EntryList::new(&ops.ok_call_rank, &ops.ok_ret_rank);
        let (pending_start, pending, mask_bits) = pending_lists(&list.entry_of, k);
        let width = 3 + 2 * mask_bits.div_ceil(64);
        let class_first_rank = (ops.classes.members.iter())
            .map(|m| ops.info_call_rank[m[0] as usize])
            .collect();
        Search {
            intern,
            controls,
            r: list.first_return(),
            list,
            pending_start,
            pending,
            class_first_rank,
            class_count: vec![0; ops.classes.members.len()],
            info_sets: InfoSets::new(),
            info_chain: vec![0],
            infos_need_observer,
            handoff_at,
            pruning,
            watcher: Watcher::default(),
            lin: vec![0; k.div_ceil(64)],
            state: init,
            info_set: 0,
            stack: Vec::new(),
            cursor: Cursor::Start,
            started: false,
            table: ConfigTable::new(width),
            scratch: vec![0; width],
            base: vec![0; width - 3],
            steps: 0,
            reserved: 0,
            best: Best::new(),
            ops,
        }
    }

    /// Search steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Configurations cached so far.
    pub fn configs(&self) -> usize {
        self.table.len()
    }

    /// The outcome for `verdict` (what [`Search::resume`] returned), and
    /// the interner back, returning the reserved budget.
    pub fn finish(self, verdict: Verdict) -> (Outcome, Interner<'m>) {
        let budget = self.controls.budget;
        let used = budget.used.fetch_sub(self.reserved, Ordering::Relaxed);
        debug_assert!(used >= self.reserved, "a search returns what it took");
        debug_assert!(
            verdict != Verdict::Valid || (0..self.ops.ok_src.len() as u32).all(|x| self.is_lin(x)),
            "a valid search linearized every ok op"
        );
        let linearization = if verdict == Verdict::Valid {
            self.stack
                .iter()
                .map(|f| self.source_of(f.choice))
                .collect()
        } else {
            Vec::new()
        };
        let deepest = (verdict != Verdict::Valid && self.best.r != NIL).then(|| self.deepest());
        let outcome = Outcome {
            verdict,
            linearization,
            deepest,
            configs: self.table.len(),
            steps: self.steps,
            table_bytes: self.table.bytes(),
        };
        (outcome, self.intern)
    }

    /// Searches for about `slice` more steps: the verdict, or `None` when
    /// it is not reached yet (call again to continue where it stopped).
    pub fn resume(&mut self, slice: u64) -> Option<Verdict> {
        if !self.started {
            self.started = true;
            if self.r == NIL {
                return Some(Verdict::Valid);
            }
            self.observe();
        }
        if let Some(reason) = self.interrupted() {
            return Some(Verdict::Unknown(reason));
        }
        let end = self.steps.saturating_add(slice);
        while self.steps < end {
            self.steps += 1;
            if self.steps % POLL_STEPS == 0 {
                if let Some(reason) = self.interrupted() {
                    return Some(Verdict::Unknown(reason));
                }
            }
            match self.advance(self.cursor) {
                Advance::Pushed => {
                    if self.r == NIL {
                        return Some(Verdict::Valid);
                    }
                    if let Some(reason) = self.over_budget() {
                        return Some(Verdict::Unknown(reason));
                    }
                    if self.table.len() > self.handoff_at {
                        return Some(Verdict::Exceeded);
                    }
                    self.observe();
                    self.cursor = Cursor::Start;
                }
                Advance::Exhausted => match self.backtrack() {
                    Some(c) => self.cursor = c,
                    None => return Some(Verdict::Invalid),
                },
            }
        }
        None
    }

    fn interrupted(&self) -> Option<String> {
        self.controls.interrupted().map(|why| match why {
            Interrupted::Cancelled => why.to_string(),
            Interrupted::Stopped => format!("{why} after {} configurations", self.table.len()),
        })
    }

    /// Takes configurations from the shared budget in chunks.
    fn over_budget(&mut self) -> Option<String> {
        if self.table.len() <= self.reserved {
            return None;
        }
        let budget = self.controls.budget;
        let before = budget.used.fetch_add(BUDGET_CHUNK, Ordering::Relaxed);
        self.reserved += BUDGET_CHUNK;
        if before + BUDGET_CHUNK > budget.max {
            return Some(format!(
                "the search cached {} configurations, reaching configs_max ({}); \
                 this history has too many concurrent operations to decide within that budget",
                self.table.len(),
                budget.max
            ));
        }
        None
    }

    // ---- The list of entries (dancing links: lift and unlift are LIFO). ----

    fn lift(&mut self, x: u32) {
        for e in [
            self.list.call_entry[x as usize],
            self.list.ret_entry[x as usize],
        ] {
            let (p, n) = (self.list.prev[e as usize], self.list.next[e as usize]);
            self.list.next[p as usize] = n;
            self.list.prev[n as usize] = p;
        }
    }

    fn unlift(&mut self, x: u32) {
        for e in [
            self.list.ret_entry[x as usize],
            self.list.call_entry[x as usize],
        ] {
            let (p, n) = (self.list.prev[e as usize], self.list.next[e as usize]);
            debug_assert!(
                self.list.next[p as usize] == n && self.list.prev[n as usize] == p,
                "entries are put back in the reverse order they were lifted"
            );
            self.list.next[p as usize] = e;
            self.list.prev[n as usize] = e;
        }
    }

    /// The first return entry after the return of `x`, as its op.
    fn next_return_after(&self, x: u32) -> u32 {
        let mut e = self.list.next[self.list.ret_entry[x as usize] as usize];
        while e != self.list.tail {
            let code = self.list.entry_of[e as usize];
            if code & 1 == 1 {
                return code >> 1;
            }
            e = self.list.next[e as usize];
        }
        NIL
    }

    #[inline]
    fn is_lin(&self, x: u32) -> bool {
        self.lin[(x >> 6) as usize] & (1 << (x & 63)) != 0
    }

    // ---- Configurations. ----

    fn pending_at(&self, x: u32) -> &[u32] {
        let (from, to) = (
            self.pending_start[x as usize] as usize,
            self.pending_start[x as usize + 1] as usize,
        );
        &self.pending[from..to]
    }

    /// Computes the mask of linearized ops pending at `r`, shared by the
    /// step's candidates.
    fn compute_base(&mut self) {
        let mut base = std::mem::take(&mut self.base);
        base.fill(0);
        for (bit, &y) in self.pending_at(self.r).iter().enumerate() {
            if self.is_lin(y) {
                base[bit / 32] |= 1 << (bit % 32);
            }
        }
        self.base = base;
    }

    /// Fills `rec` with the configuration (r2, state, info set, mask of
    /// linearized ops pending at r2), counting `extra` as linearized. When
    /// r2 is `r`, the mask is the step's base mask plus `extra`.
    fn record(&self, rec: &mut [u32], r2: u32, extra: u32, state: u32, info: u32) {
        rec[0] = r2;
        rec[1] = state;
        rec[2] = info;
        if r2 == self.r {
            rec[3..].copy_from_slice(&self.base);
            if extra != NIL {
                let bit = self
                    .pending_at(r2)
                    .iter()
                    .position(|&y| y == extra)
                    .expect("a candidate other than r is pending at r");
                rec[3 + bit / 32] |= 1 << (bit % 32);
            }
            return;
        }
        rec[3..].fill(0);
        for (bit, &y) in self.pending_at(r2).iter().enumerate() {
            if y == extra || self.is_lin(y) {
                rec[3 + bit / 32] |= 1 << (bit % 32);
            }
        }
    }

    /// Caches a new configuration unless it, or the same configuration
    /// with a smaller set of linearized indeterminate ops (one of the last
    /// `ancestors` sets on the path, or none), was explored already.
    fn admit(&mut self, rec: &mut [u32], ancestors: usize) -> bool {
        let info = rec[2];
        if info != 0 {
            let chain = &self.info_chain[..ancestors];
            let recent = chain.len().saturating_sub(DOMINANCE_CHECKS_MAX);
            let candidates = std::iter::once(0).chain(chain[recent.max(1)..].iter().copied());
            for j in candidates {
                if j == info {
                    continue;
                }
                rec[2] = j;
                let dominated = self.table.contains(rec);
                rec[2] = info;
                if dominated {
                    return false;
                }
            }
        }
        self.table.insert(rec)
    }

    // ---- The walk. ----

    fn advance(&mut self, cursor: Cursor) -> Advance {
        self.compute_base();
        if self.pruning.enabled {
            self.compute_watch();
        }
        let (mut entry, mut succ, mut class) = match cursor {
            Cursor::Start => {
                if let Some(a) = self.commit_read() {
                    return a;
                }
                (self.list.next[self.list.head as usize], 0, 0)
            }
            Cursor::Ok { entry, succ } => (entry, succ, 0),
            Cursor::Info { class, succ } => (NIL, succ, class),
        };
        let stop = self.list.ret_entry[self.r as usize];
        if entry != NIL {
            while entry != stop {
                let y = self.list.entry_of[entry as usize] >> 1;
                if !self.ops.ok_read_only[y as usize] {
                    let t = self.intern.step(self.state, self.ops.ok_op[y as usize]);
                    while let Some(s2) = self.intern.successor(t, succ) {
                        if self.viable(y, s2) && self.try_ok(y, succ, s2, false) {
                            return Advance::Pushed;
                        }
                        succ += 1;
                    }
                }
                succ = 0;
                entry = self.list.next[entry as usize];
            }
        }
        let r_rank = self.ops.ok_ret_rank[self.r as usize];
        while (class as usize) < self.ops.classes.members.len() {
            if self.class_first_rank[class as usize] > r_rank {
                break;
            }
            let members = &self.ops.classes.members[class as usize];
            if let Some(&j) = members.get(self.class_count[class as usize] as usize) {
                if self.ops.info_call_rank[j as usize] < r_rank {
                    let t = self.intern.step(self.state, self.ops.info_op[j as usize]);
                    while let Some(s2) = self.intern.successor(t, succ) {
                        if s2 != self.state
                            && (!self.infos_need_observer || self.observed(s2))
                            && self.viable(INFO | j, s2)
                            && self.try_info(j, succ, s2)
                        {
                            return Advance::Pushed;
                        }
                        succ += 1;
                    }
                }
            }
            succ = 0;
            class += 1;
        }
        Advance::Exhausted
    }

    /// Sets the monotone pruning up for this step: watches the read-only
    /// candidates and the next reads called, with the unlinearized
    /// non-monotone ops that may come before them.
    fn compute_watch(&mut self) {
        let mut w = std::mem::take(&mut self.watcher);
        w.clear();
        let r = self.r;
        let stop = self.list.ret_entry[r as usize];
        let mut entry = self.list.next[self.list.head as usize];
        while entry != stop {
            let y = self.list.entry_of[entry as usize] >> 1;
            if self.ops.ok_read_only[y as usize] {
                w.read(
                    self.ops.ok_op[y as usize],
                    y,
                    self.ops.ok_ret_rank[y as usize],
                );
            }
            entry = self.list.next[entry as usize];
        }
        let r_rank = self.ops.ok_ret_rank[r as usize];
        self.pruning.watch_reads_ahead(&self.ops, r_rank, &mut w);
        if w.is_empty() {
            self.watcher = w;
            return;
        }
        // The unlinearized ok ops called before r's return are r and those
        // pending at it; every op called after it is unlinearized.
        for &y in std::iter::once(&r).chain(self.pending_at(r)) {
            if !self.ops.ok_monotone[y as usize] && !self.is_lin(y) {
                w.reviver(
                    self.ops.ok_call_rank[y as usize],
                    y,
                    self.ops.ok_op[y as usize],
                );
            }
        }
        let class_count = &self.class_count;
        self.pruning
            .note_revivers(&self.ops, r_rank, &mut w, |class| {
                class_count[class as usize]
            });
        w.settle(&mut self.intern);
        self.watcher = w;
    }

    /// Whether state `s2`, reached by linearizing candidate `c` (an ok op
    /// or `INFO | info`), keeps every watched read possible. At the
    /// deepest point so far, notes the read it does not, for the witness.
    #[inline]
    fn viable(&mut self, c: u32, s2: u32) -> bool {
        match self.watcher.blocker(&mut self.intern, c, s2) {
            None => true,
            Some(read) => {
                if self.ops.ok_ret_rank[self.r as usize] >= self.best.rank {
                    self.best.blocker = read;
                }
                false
            }
        }
    }

    /// Whether some candidate (an ok call before `r`, or the next member of
    /// an indeterminate class called before `r`) is illegal now but legal
    /// in state `s2` (which differs from the current state).
    fn observed(&mut self, s2: u32) -> bool {
        // Register reads and cas are legal in exactly one state.
        let enables = |intern: &mut Interner, op: u32| intern.required_state(op) == Some(s2);
        let stop = self.list.ret_entry[self.r as usize];
        let mut entry = self.list.next[self.list.head as usize];
        while entry != stop {
            let y = self.list.entry_of[entry as usize] >> 1;
            if enables(&mut self.intern, self.ops.ok_op[y as usize]) {
                return true;
            }
            entry = self.list.next[entry as usize];
        }
        let r_rank = self.ops.ok_ret_rank[self.r as usize];
        for (class, members) in self.ops.classes.members.iter().enumerate() {
            if self.class_first_rank[class] > r_rank {
                break;
            }
            if let Some(&j) = members.get(self.class_count[class] as usize) {
                if self.ops.info_call_rank[j as usize] < r_rank
                    && enables(&mut self.intern, self.ops.info_op[j as usize])
                {
                    return true;
                }
            }
        }
        false
    }

    /// Linearizes the first legal read-only op among the candidates, with
    /// no alternatives. `Some(Exhausted)` when that read's configuration
    /// failed before, which means this one fails too.
    fn commit_read(&mut self) -> Option<Advance> {
        let stop = self.list.ret_entry[self.r as usize];
        let mut entry = self.list.next[self.list.head as usize];
        while entry != stop {
            let y = self.list.entry_of[entry as usize] >> 1;
            if self.ops.ok_read_only[y as usize] {
                let t = self.intern.step(self.state, self.ops.ok_op[y as usize]);
                if t != Transition::Illegal {
                    return Some(if self.try_ok(y, 0, self.state, true) {
                        Advance::Pushed
                    } else {
                        Advance::Exhausted
                    });
                }
            }
            entry = self.list.next[entry as usize];
        }
        None
    }

    fn try_ok(&mut self, y: u32, succ: u32, s2: u32, committed: bool) -> bool {
        debug_assert!(!self.is_lin(y), "an ok op is linearized once on a path");
        debug_assert_eq!(self.info_chain.last(), Some(&self.info_set));
        let r2 = if y == self.r {
            self.next_return_after(y)
        } else {
            self.r
        };
        if r2 != NIL {
            let mut rec = std::mem::take(&mut self.scratch);
            self.record(&mut rec, r2, y, s2, self.info_set);
            let admitted = self.admit(&mut rec, self.info_chain.len() - 1);
            self.scratch = rec;
            if !admitted {
                return false;
            }
        }
        self.stack.push(Frame {
            choice: y,
            succ,
            state_before: self.state,
            r_before: self.r,
            info_before: self.info_set,
            committed,
        });
        self.lin[(y >> 6) as usize] |= 1 << (y & 63);
        self.lift(y);
        self.state = s2;
        self.r = r2;
        true
    }

    fn try_info(&mut self, j: u32, succ: u32, s2: u32) -> bool {
        let class = self.ops.classes.of[j as usize];
        debug_assert_eq!(
            self.ops.classes.members[class as usize].get(self.class_count[class as usize] as usize),
            Some(&j),
            "the candidate of a class is its earliest-called unused member"
        );
        debug_assert_eq!(self.info_chain.last(), Some(&self.info_set));
        let info2 = self.info_sets.add(self.info_set, class);
        let mut rec = std::mem::take(&mut self.scratch);
        self.record(&mut rec, self.r, NIL, s2, info2);
        let admitted = self.admit(&mut rec, self.info_chain.len());
        self.scratch = rec;
        if !admitted {
            return false;
        }
        self.stack.push(Frame {
            choice: INFO | j,
            succ,
            state_before: self.state,
            r_before: self.r,
            info_before: self.info_set,
            committed: false,
        });
        self.class_count[class as usize] += 1;
        self.info_chain.push(info2);
        self.info_set = info2;
        self.state = s2;
        true
    }

    /// Pops frames back to the latest one with alternatives left, and says
    /// where to continue; `None` when the stack is empty.
    fn backtrack(&mut self) -> Option<Cursor> {
        loop {
            let f = self.stack.pop()?;
            let info_after = self.info_set;
            self.best.common = self.best.common.min(self.stack.len());
            self.state = f.state_before;
            self.r = f.r_before;
            self.info_set = f.info_before;
            let cursor = if f.choice & INFO != 0 {
                let j = f.choice & !INFO;
                let class = self.ops.classes.of[j as usize];
                self.class_count[class as usize] -= 1;
                let popped = self.info_chain.pop();
                debug_assert_eq!(popped, Some(info_after), "the info chain follows the stack");
                Cursor::Info {
                    class,
                    succ: f.succ + 1,
                }
            } else {
                let y = f.choice;
                debug_assert!(self.is_lin(y), "a popped ok op was linearized");
                self.lin[(y >> 6) as usize] &= !(1 << (y & 63));
                self.unlift(y);
                Cursor::Ok {
                    entry: self.list.call_entry[y as usize],
                    succ: f.succ + 1,
                }
            };
            if !f.committed {
                return Some(cursor);
            }
        }
    }

    // ---- The witness. ----

    /// Notes the current configuration if it is the deepest so far: the
    /// latest first return, keeping the path that got there (copied
    /// incrementally: only frames pushed since the last copy).
    fn observe(&mut self) {
        let rank = self.ops.ok_ret_rank[self.r as usize];
        if self.best.r == NIL || rank > self.best.rank {
            self.best.rank = rank;
            self.best.r = self.r;
            self.best.stack.truncate(self.best.common);
            for i in self.best.common..self.stack.len() {
                let after = match self.stack.get(i + 1) {
                    Some(f) => f.state_before,
                    None => self.state,
                };
                self.best.stack.push((self.stack[i].choice, after));
            }
            self.best.common = self.stack.len();
            self.best.states.clear();
            self.best.states.push(self.state);
            self.best.blocker = NIL;
        } else if rank == self.best.rank
            && self.best.states.len() < WITNESS_STATES_MAX
            && !self.best.states.contains(&self.state)
        {
            self.best.states.push(self.state);
        }
    }

    fn source_of(&self, choice: u32) -> usize {
        if choice & INFO != 0 {
            self.ops.info_src[(choice & !INFO) as usize]
        } else {
            self.ops.ok_src[choice as usize]
        }
    }

    fn deepest(&self) -> Deepest {
        let x = self.best.r;
        let mut in_prefix_ok = vec![false; self.ops.ok_src.len()];
        let mut in_prefix_info = vec![false; self.ops.info_src.len()];
        for &(choice, _) in &self.best.stack {
            if choice & INFO != 0 {
                in_prefix_info[(choice & !INFO) as usize] = true;
            } else {
                in_prefix_ok[choice as usize] = true;
            }
        }
        let (from, to) = (
            self.pending_start[x as usize] as usize,
            self.pending_start[x as usize + 1] as usize,
        );
        let mut concurrent: Vec<usize> = self.pending[from..to]
            .iter()
            .filter(|&&y| !in_prefix_ok[y as usize])
            .map(|&y| self.ops.ok_src[y as usize])
            .collect();
        let r_rank = self.ops.ok_ret_rank[x as usize];
        concurrent.extend(
            (0..self.ops.info_src.len())
                .filter(|&j| self.ops.info_call_rank[j] < r_rank && !in_prefix_info[j])
                .map(|j| self.ops.info_src[j]),
        );
        concurrent.sort_unstable();
        Deepest {
            stuck: self.ops.ok_src[x as usize],
            prefix: self
                .best
                .stack
                .iter()
                .map(|&(choice, after)| (self.source_of(choice), after))
                .collect(),
            states: self.best.states.clone(),
            concurrent,
            blocker: (self.best.blocker != NIL)
                .then(|| self.ops.ok_src[self.best.blocker as usize]),
        }
    }
}
