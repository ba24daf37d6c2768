//! The breadth-first linearizability search: Lowe's just-in-time graph
//! search (Lowe 2017, section 4; Knossos's `linear` analysis works the same
//! way). Events are processed in real-time order, keeping the frontier: every
//! configuration (which open ops are already linearized, model state, which
//! indeterminate ops were used) some linearization of the history so far can
//! be in. At an op's return, every configuration that has not linearized it
//! must now, after any sequence of the other open ops (the closure); those
//! that cannot die. An empty frontier means not linearizable, at that
//! return.
//!
//! It explores every reachable configuration, so the depth-first search
//! (`search.rs`) is tried first and is much faster on linearizable
//! histories. This one wins when the depth-first search would exhaust a
//! large space: it holds only the frontier (memory proportional to the
//! concurrency, not the history), and its dominance pruning does not depend
//! on the order of discovery. A configuration is dropped when another with
//! the same linearized ops and state used a subset of its indeterminate
//! ops; in the depth-first search, a configuration that used more
//! indeterminate ops is often explored first and cannot be pruned by the
//! cheaper one found later, so every subset of optional crashed ops gets
//! its own copy of the rest of the search.
//!
//! The pruning rules are the depth-first search's: legal read-only ops are
//! linearized at once, only the earliest-called unused indeterminate op of
//! each kind is a candidate, never one that leaves the state unchanged, and
//! for registers only one that makes an illegal candidate legal, and for
//! monotone models no state that a read still to come can never accept
//! (`monotone.rs`).

use rustc_hash::{FxHashMap, FxHashSet};

use super::indexed::{IndexedOps, INFO};
use super::infosets::InfoSets;
use super::intern::{Interner, Transition};
use super::monotone::{Pruning, Watcher};
use super::prepare::LinOp;
use super::search::{Controls, Verdict};

const NIL: u32 = u32::MAX;
/// Open ops are tracked in a 128-bit mask.
const SLOTS: u32 = 128;
/// Steps between looks at the stop and cancel flags.
const POLL_STEPS: u64 = 1 << 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Config {
    /// Bit per slot: the open op there is linearized.
    lin: u128,
    state: u32,
    info: u32,
}

/// The configurations a closure has seen; for those that used
/// indeterminate ops, also per (linearized ops, state) the sets used.
#[derive(Default)]
struct Visited {
    exact: FxHashSet<Config>,
    with_info: FxHashMap<(u128, u32), Vec<u32>>,
}

impl Visited {
    fn clear(&mut self) {
        self.exact.clear();
        self.with_info.clear();
    }

    fn len(&self) -> usize {
        self.exact.len()
    }

    /// Adds `c` unless it, or a configuration with the same linearized ops
    /// and state that used a subset of its indeterminate ops, was seen.
    fn admit(&mut self, c: Config, info_sets: &InfoSets) -> bool {
        if c.info == 0 {
            return self.exact.insert(c);
        }
        if self.exact.contains(&Config { info: 0, ..c }) {
            return false;
        }
        let seen = self.with_info.entry((c.lin, c.state)).or_default();
        if seen.iter().any(|&j| info_sets.is_subset(j, c.info)) {
            return false;
        }
        seen.push(c.info);
        self.exact.insert(c)
    }
}

/// Where the frontier died.
#[derive(Debug, Clone)]
pub(crate) struct Stuck {
    /// The op (index into the partition's ops) whose return no
    /// configuration could reach.
    pub op: usize,
    /// The states of the frontier just before that return.
    pub states: Vec<u32>,
    /// Ok ops open at that return, and indeterminate ops invoked before it.
    pub concurrent: Vec<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct FrontierOutcome {
    pub verdict: Verdict,
    pub stuck: Option<Stuck>,
    /// Configurations visited, over all events.
    pub configs: usize,
    /// The most configurations held at once (frontier and closure).
    pub configs_peak: usize,
    pub steps: u64,
}

enum Event {
    Call(u32),
    Return(u32),
    InfoCall,
}

struct Frontier<'a, 'm> {
    intern: &'a mut Interner<'m>,
    controls: &'a Controls<'a>,
    max: usize,
    registers: bool,
    ops: IndexedOps,
    /// First member of each class, as an info index.
    class_first: Vec<u32>,
    info_sets: InfoSets,
    /// Infos invoked so far (they are indexed in call order).
    info_called: u32,
    slot_of: Vec<u32>,
    slot_op: Vec<u32>,
    occupied: u128,
    steps: u64,
    configs: usize,
    configs_peak: usize,
    /// Scratch for one expansion's successors.
    next: Vec<Config>,

    // Monotone pruning (see `monotone.rs`).
    pruning: Pruning,
    /// The rank of the return being closed.
    now: u32,
    watcher: Watcher,
}

/// Runs the frontier search over `ops` (sorted by call) from `init`,
/// holding at most `max` configurations at once.
pub(crate) fn run(
    ops: &[LinOp],
    intern: &mut Interner,
    init: u32,
    registers: bool,
    controls: &Controls,
    max: usize,
) -> FrontierOutcome {
    let ops = IndexedOps::new(ops, intern);
    let pruning = Pruning::new(&ops, intern);
    let events = events(&ops);
    let mut f = Frontier {
        intern,
        controls,
        max,
        registers,
        class_first: ops.classes.members.iter().map(|m| m[0]).collect(),
        info_sets: InfoSets::new(),
        info_called: 0,
        slot_of: vec![NIL; ops.ok_src.len()],
        slot_op: vec![NIL; SLOTS as usize],
        occupied: 0,
        steps: 0,
        configs: 0,
        configs_peak: 0,
        next: Vec::new(),
        pruning,
        now: 0,
        watcher: Watcher::default(),
        ops,
    };
    f.run(&events, init)
}

/// The calls and returns of the ok ops and the calls of the indeterminate
/// ones, in rank order.
fn events(ops: &IndexedOps) -> Vec<(u32, Event)> {
    let k = ops.ok_src.len();
    let mut events: Vec<(u32, Event)> = Vec::with_capacity(2 * k + ops.info_src.len());
    for x in 0..k {
        events.push((ops.ok_call_rank[x], Event::Call(x as u32)));
        events.push((ops.ok_ret_rank[x], Event::Return(x as u32)));
    }
    for &rank in &ops.info_call_rank {
        events.push((rank, Event::InfoCall));
    }
    events.sort_unstable_by_key(|(rank, _)| *rank);
    events
}

impl Frontier<'_, '_> {
    fn outcome(&self, verdict: Verdict, stuck: Option<Stuck>) -> FrontierOutcome {
        FrontierOutcome {
            verdict,
            stuck,
            configs: self.configs,
            configs_peak: self.configs_peak,
            steps: self.steps,
        }
    }

    fn run(&mut self, events: &[(u32, Event)], init: u32) -> FrontierOutcome {
        let mut frontier = vec![Config {
            lin: 0,
            state: init,
            info: 0,
        }];
        let mut visited = Visited::default();
        for &(rank, ref event) in events {
            match *event {
                Event::InfoCall => self.info_called += 1,
                Event::Call(x) => {
                    let free = !self.occupied;
                    if free == 0 {
                        return self.outcome(
                            Verdict::Unknown(format!(
                                "more than {SLOTS} operations are open at once, more than \
                                 the breadth-first search tracks"
                            )),
                            None,
                        );
                    }
                    let slot = free.trailing_zeros();
                    self.occupied |= 1 << slot;
                    self.slot_of[x as usize] = slot;
                    self.slot_op[slot as usize] = x;
                }
                Event::Return(x) => {
                    debug_assert_eq!(
                        self.slot_op[self.slot_of[x as usize] as usize], x,
                        "an op returns from the slot it was called into"
                    );
                    self.now = rank;
                    let next = match self.close(&frontier, x, &mut visited) {
                        Ok(next) => next,
                        Err(reason) => return self.outcome(Verdict::Unknown(reason), None),
                    };
                    let slot = self.slot_of[x as usize];
                    if next.is_empty() {
                        let stuck = self.stuck(&frontier, x);
                        return self.outcome(Verdict::Invalid, Some(stuck));
                    }
                    self.occupied &= !(1 << slot);
                    self.slot_op[slot as usize] = NIL;
                    frontier = next;
                }
            }
        }
        self.outcome(Verdict::Valid, None)
    }

    /// The frontier after op `x` returns: every configuration with `x`
    /// linearized, reached by linearizing open ops (and indeterminate ones)
    /// until `x` is. The closure is explored in layers by how many
    /// indeterminate ops a configuration used, fewest first, so that a
    /// configuration is dropped when one with the same linearized ops and
    /// state and a subset of its indeterminate ops was seen: every subset
    /// is seen before its supersets.
    fn close(
        &mut self,
        frontier: &[Config],
        x: u32,
        visited: &mut Visited,
    ) -> Result<Vec<Config>, String> {
        let bit = 1u128 << self.slot_of[x as usize];
        let mut out: Vec<Config> = Vec::new();
        let mut layers: Vec<Vec<Config>> = Vec::new();
        visited.clear();
        for &c in frontier {
            if c.lin & bit != 0 {
                out.push(Config {
                    lin: c.lin & !bit,
                    ..c
                });
            } else {
                self.push(c, &mut layers, visited);
            }
        }
        let mut layer = 0;
        while layer < layers.len() {
            let Some(node) = layers[layer].pop() else {
                layer += 1;
                continue;
            };
            self.steps += 1;
            if self.steps % POLL_STEPS == 0 {
                if let Some(reason) = self.interrupted() {
                    return Err(reason);
                }
            }
            let held = visited.len() + out.len() + frontier.len();
            self.configs_peak = self.configs_peak.max(held);
            if held > self.max {
                return Err(format!(
                    "the breadth-first search held {held} configurations at one return, \
                     past configs_max ({}); this history has too many concurrent operations \
                     to decide within that budget",
                    self.max
                ));
            }
            let mut next = std::mem::take(&mut self.next);
            next.clear();
            self.expand(node, &mut next);
            for &n in &next {
                if n.lin & bit != 0 {
                    out.push(Config {
                        lin: n.lin & !bit,
                        ..n
                    });
                } else {
                    self.push(n, &mut layers, visited);
                }
            }
            self.next = next;
        }
        self.configs += visited.len();
        Ok(self.minimal(out))
    }

    /// Queues a configuration of the closure unless it, or one that used a
    /// subset of its indeterminate ops, was seen.
    fn push(&self, c: Config, layers: &mut Vec<Vec<Config>>, visited: &mut Visited) {
        if !visited.admit(c, &self.info_sets) {
            return;
        }
        let size = self.info_sets.size(c.info) as usize;
        if layers.len() <= size {
            layers.resize_with(size + 1, Vec::new);
        }
        layers[size].push(c);
    }

    /// The configurations one step from `node`: a legal read-only op alone
    /// if there is one, else every legal open op and every useful
    /// indeterminate op.
    fn expand(&mut self, node: Config, next: &mut Vec<Config>) {
        if let Some(read) = self.legal_read(node) {
            next.push(read);
            return;
        }
        if self.pruning.enabled {
            self.compute_watch(node);
        }
        self.expand_open(node, next);
        self.expand_indeterminate(node, next);
    }

    /// `node` with its first legal unlinearized open read linearized, if
    /// it has one (reads commit, as in the depth-first search).
    #[inline]
    fn legal_read(&mut self, node: Config) -> Option<Config> {
        let mut candidates = self.occupied & !node.lin;
        while candidates != 0 {
            let slot = candidates.trailing_zeros();
            candidates &= candidates - 1;
            let y = self.slot_op[slot as usize];
            if self.ops.ok_read_only[y as usize]
                && self.intern.step(node.state, self.ops.ok_op[y as usize]) != Transition::Illegal
            {
                return Some(Config {
                    lin: node.lin | (1 << slot),
                    ..node
                });
            }
        }
        None
    }

    /// The successors of `node` by each unlinearized open op that changes
    /// the state.
    #[inline]
    fn expand_open(&mut self, node: Config, next: &mut Vec<Config>) {
        let mut unlinearized = self.occupied & !node.lin;
        while unlinearized != 0 {
            let slot = unlinearized.trailing_zeros();
            unlinearized &= unlinearized - 1;
            let y = self.slot_op[slot as usize];
            if self.ops.ok_read_only[y as usize] {
                continue;
            }
            let t = self.intern.step(node.state, self.ops.ok_op[y as usize]);
            let mut succ = 0;
            while let Some(s2) = self.intern.successor(t, succ) {
                succ += 1;
                if !self.watcher.viable(self.intern, y, s2) {
                    continue;
                }
                next.push(Config {
                    lin: node.lin | (1 << slot),
                    state: s2,
                    info: node.info,
                });
            }
        }
    }

    /// The successors of `node` by the next unused indeterminate op of
    /// each class called so far, where it is useful.
    #[inline]
    fn expand_indeterminate(&mut self, node: Config, next: &mut Vec<Config>) {
        for class in 0..self.ops.classes.members.len() {
            if self.class_first[class] >= self.info_called {
                break;
            }
            let used = self.info_sets.count(node.info, class as u32);
            let Some(&j) = self.ops.classes.members[class].get(used as usize) else {
                continue;
            };
            if j >= self.info_called {
                continue;
            }
            let t = self.intern.step(node.state, self.ops.info_op[j as usize]);
            let mut succ = 0;
            while let Some(s2) = self.intern.successor(t, succ) {
                succ += 1;
                if s2 == node.state
                    || (self.registers && !self.observed(node, s2))
                    || !self.watcher.viable(self.intern, INFO | j, s2)
                {
                    continue;
                }
                let info = self.info_sets.add(node.info, class as u32);
                next.push(Config {
                    state: s2,
                    info,
                    ..node
                });
            }
        }
    }

    /// Sets the monotone pruning up for the successors of `node`: watches
    /// its unlinearized open reads and the next reads called, with the
    /// unlinearized non-monotone ops that may come before them.
    fn compute_watch(&mut self, node: Config) {
        let mut w = std::mem::take(&mut self.watcher);
        w.clear();
        let open = self.occupied & !node.lin;
        let mut slots = open;
        while slots != 0 {
            let slot = slots.trailing_zeros();
            slots &= slots - 1;
            let y = self.slot_op[slot as usize] as usize;
            if self.ops.ok_read_only[y] {
                w.read(self.ops.ok_op[y], y as u32, self.ops.ok_ret_rank[y]);
            }
        }
        self.pruning.watch_reads_ahead(&self.ops, self.now, &mut w);
        if !w.is_empty() {
            let mut slots = open;
            while slots != 0 {
                let slot = slots.trailing_zeros();
                slots &= slots - 1;
                let y = self.slot_op[slot as usize];
                if !self.ops.ok_monotone[y as usize] {
                    w.reviver(
                        self.ops.ok_call_rank[y as usize],
                        y,
                        self.ops.ok_op[y as usize],
                    );
                }
            }
            let info_sets = &self.info_sets;
            self.pruning
                .note_revivers(&self.ops, self.now, &mut w, |class| {
                    info_sets.count(node.info, class)
                });
            w.settle(self.intern);
        }
        self.watcher = w;
    }

    /// Whether some candidate of `node` is illegal now and legal in `s2`
    /// (registers only: a read or cas is legal in exactly one state).
    fn observed(&mut self, node: Config, s2: u32) -> bool {
        let enables = |intern: &mut Interner, op: u32| intern.required_state(op) == Some(s2);
        let mut unlinearized = self.occupied & !node.lin;
        while unlinearized != 0 {
            let slot = unlinearized.trailing_zeros();
            unlinearized &= unlinearized - 1;
            let y = self.slot_op[slot as usize];
            if enables(self.intern, self.ops.ok_op[y as usize]) {
                return true;
            }
        }
        for class in 0..self.ops.classes.members.len() {
            if self.class_first[class] >= self.info_called {
                break;
            }
            let used = self.info_sets.count(node.info, class as u32);
            if let Some(&j) = self.ops.classes.members[class].get(used as usize) {
                if j < self.info_called && enables(self.intern, self.ops.info_op[j as usize]) {
                    return true;
                }
            }
        }
        false
    }

    /// Drops duplicates, and configurations dominated by one with the same
    /// linearized ops and state that used a subset of their indeterminate
    /// ops.
    fn minimal(&self, out: Vec<Config>) -> Vec<Config> {
        let mut keyed: Vec<(u128, u32, u32, u32)> = out
            .iter()
            .map(|c| (c.lin, c.state, self.info_sets.size(c.info), c.info))
            .collect();
        keyed.sort_unstable();
        keyed.dedup();
        let mut kept: Vec<Config> = Vec::with_capacity(keyed.len());
        let mut group_start = 0;
        for (lin, state, _, info) in keyed {
            let c = Config { lin, state, info };
            if kept
                .get(group_start)
                .is_none_or(|g| g.lin != c.lin || g.state != c.state)
            {
                group_start = kept.len();
            }
            let dominated = kept[group_start..]
                .iter()
                .any(|k| self.info_sets.is_subset(k.info, c.info));
            if !dominated {
                kept.push(c);
            }
        }
        kept
    }

    fn interrupted(&self) -> Option<String> {
        self.controls.interrupted().map(|why| why.to_string())
    }

    fn stuck(&self, frontier: &[Config], x: u32) -> Stuck {
        let mut states: Vec<u32> = frontier.iter().map(|c| c.state).collect();
        states.sort_unstable();
        states.dedup();
        let mut concurrent: Vec<usize> = (0..SLOTS)
            .filter(|&slot| self.occupied & (1 << slot) != 0)
            .map(|slot| self.slot_op[slot as usize])
            .filter(|&y| y != x)
            .map(|y| self.ops.ok_src[y as usize])
            .collect();
        concurrent.extend(
            self.ops.info_src[..self.info_called as usize]
                .iter()
                .copied(),
        );
        concurrent.sort_unstable();
        Stuck {
            op: self.ops.ok_src[x as usize],
            states,
            concurrent,
        }
    }
}
