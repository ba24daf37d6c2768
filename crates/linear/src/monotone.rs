//! Monotone pruning ([`Model::may_become_legal`]), shared by the
//! depth-first and the breadth-first search.
//!
//! Every op not yet linearized is linearized after the current state, and
//! only ops called before a read returns can come before it. So when a
//! read `g` (an ok read-only op: a kv get, a set read) is not linearized
//! yet, and every unlinearized op that may come before it is monotone or
//! cannot revive it ([`Model::may_revive`]), a state from which `g` can
//! never become legal ([`Model::may_become_legal`] false) leads nowhere:
//! the search drops it at once, instead of finding out at `g`'s return
//! after trying every order of the ops in between (for a kv key under
//! appends, every order of the concurrent appends; the reads pin one).
//!
//! Each step the search names the reads to watch (those it could
//! linearize now, and a few called next) and the unlinearized non-monotone
//! ops that may come before them; [`Watcher::settle`] keeps the reads that
//! at most one of those may revive, and [`Watcher::viable`] tells whether
//! a new state, reached by linearizing a given op, keeps every watched
//! read possible.
//!
//! [`Model::may_become_legal`]: super::Model::may_become_legal
//! [`Model::may_revive`]: super::Model::may_revive

use super::indexed::{IndexedOps, INFO};
use super::intern::Interner;

/// How many reads called after the present a search watches, besides
/// those it could linearize now.
pub(crate) const READS_AHEAD: usize = 8;
/// How many unlinearized non-monotone ops a step looks at; past it, that
/// step is not pruned.
const REVIVERS_MAX: usize = 64;
const NONE: u32 = u32::MAX;

/// What the pruning looks up at every step of a search over one
/// partition's ops.
pub(crate) struct Pruning {
    /// Some state-changing op is monotone and some ok op is a read: the
    /// pruning may apply.
    pub enabled: bool,
    /// (call rank, ok op) of the read-only ok ops, by call.
    pub ok_reads: Vec<(u32, u32)>,
    /// (call rank, ok op) of the non-monotone ok ops, by call.
    pub ok_resets: Vec<(u32, u32)>,
    /// The non-monotone indeterminate ops, in call order.
    pub info_resets: Vec<u32>,
}

impl Pruning {
    pub fn new(ops: &IndexedOps, intern: &Interner) -> Pruning {
        let by_call = |keep: &dyn Fn(usize) -> bool| -> Vec<(u32, u32)> {
            (0..ops.ok_op.len())
                .filter(|&x| keep(x))
                .map(|x| (ops.ok_call_rank[x], x as u32))
                .collect()
        };
        let enabled = ops
            .ok_op
            .iter()
            .chain(&ops.info_op)
            .any(|&o| intern.is_monotone(o) && !intern.is_read_only(o))
            && ops.ok_read_only.iter().any(|&r| r);
        Pruning {
            enabled,
            ok_reads: by_call(&|x| ops.ok_read_only[x]),
            ok_resets: by_call(&|x| !ops.ok_monotone[x]),
            info_resets: (0..ops.info_op.len() as u32)
                .filter(|&j| !intern.is_monotone(ops.info_op[j as usize]))
                .collect(),
        }
    }
}

impl Pruning {
    /// Watches the next reads called from rank `now` on (the first
    /// [`READS_AHEAD`]).
    pub fn watch_reads_ahead(&self, ops: &IndexedOps, now: u32, w: &mut Watcher) {
        let after = self.ok_reads.partition_point(|&(rank, _)| rank < now);
        for &(_, y) in self.ok_reads[after..].iter().take(READS_AHEAD) {
            w.read(ops.ok_op[y as usize], y, ops.ok_ret_rank[y as usize]);
        }
    }

    /// Notes as revivers the non-monotone ops called before the watcher's
    /// horizon that no search step has reached yet: the ok ones called
    /// from rank `now` on, and the indeterminate ones not yet linearized
    /// (`linearized(class)`: how many of that class of equal ops are).
    /// Stops when the watcher is full.
    pub fn note_revivers(
        &self,
        ops: &IndexedOps,
        now: u32,
        w: &mut Watcher,
        linearized: impl Fn(u32) -> u32,
    ) {
        let horizon = w.horizon();
        let after = self.ok_resets.partition_point(|&(rank, _)| rank < now);
        for &(rank, x) in &self.ok_resets[after..] {
            if rank >= horizon || !w.reviver(rank, x, ops.ok_op[x as usize]) {
                break;
            }
        }
        for &j in &self.info_resets {
            let rank = ops.info_call_rank[j as usize];
            if rank >= horizon {
                return;
            }
            let class = ops.classes.of[j as usize];
            if ops.info_pos[j as usize] >= linearized(class)
                && !w.reviver(rank, INFO | j, ops.info_op[j as usize])
            {
                return;
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Watch {
    op: u32,
    /// The search's name for the read.
    id: u32,
    ret_rank: u32,
    /// Ops that may come before the read and may revive it (counting
    /// stops at 2: the read is then not watched)...
    revivers: u32,
    /// ...and the one, when there is one.
    reviver: u32,
}

#[derive(Default)]
pub(crate) struct Watcher {
    watch: Vec<Watch>,
    /// (call rank, the search's id for the op, interned op).
    revivers: Vec<(u32, u32, u32)>,
    horizon: u32,
    full: bool,
}

impl Watcher {
    pub fn clear(&mut self) {
        self.watch.clear();
        self.revivers.clear();
        self.horizon = 0;
        self.full = false;
    }

    /// Watches the unlinearized read `op` (`id` as the search names it),
    /// which returns at `ret_rank`.
    pub fn read(&mut self, op: u32, id: u32, ret_rank: u32) {
        self.horizon = self.horizon.max(ret_rank);
        self.watch.push(Watch {
            op,
            id,
            ret_rank,
            revivers: 0,
            reviver: NONE,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.watch.is_empty()
    }

    /// The latest return of a watched read: non-monotone ops called after
    /// it cannot come before any of them.
    pub fn horizon(&self) -> u32 {
        self.horizon
    }

    /// Notes an unlinearized non-monotone op (`id` as the search names
    /// it, `op` interned) called at `call_rank`; false once there are too
    /// many to look at.
    pub fn reviver(&mut self, call_rank: u32, id: u32, op: u32) -> bool {
        if self.revivers.len() >= REVIVERS_MAX {
            self.full = true;
            return false;
        }
        self.revivers.push((call_rank, id, op));
        true
    }

    /// Counts each watched read's revivers and keeps the reads that at
    /// most one op may revive.
    pub fn settle(&mut self, intern: &mut Interner) {
        if self.full {
            self.watch.clear();
            return;
        }
        for w in &mut self.watch {
            for &(rank, id, op) in &self.revivers {
                if rank < w.ret_rank && intern.may_revive(op, w.op) {
                    w.revivers += 1;
                    w.reviver = id;
                    if w.revivers > 1 {
                        break;
                    }
                }
            }
        }
        self.watch.retain(|w| w.revivers <= 1);
    }

    /// Whether `s2`, reached by linearizing the op the search calls `c`,
    /// keeps every watched read possible: those nothing but `c` may
    /// revive must still be able to become legal.
    #[inline]
    pub fn viable(&self, intern: &mut Interner, c: u32, s2: u32) -> bool {
        self.blocker(intern, c, s2).is_none()
    }

    /// The watched read (as the search names it) that `s2` makes
    /// impossible, if any (see [`Watcher::viable`]).
    #[inline]
    pub fn blocker(&self, intern: &mut Interner, c: u32, s2: u32) -> Option<u32> {
        self.watch
            .iter()
            .find(|w| !((w.revivers == 1 && w.reviver != c) || intern.may_become_legal(s2, w.op)))
            .map(|w| w.id)
    }
}
