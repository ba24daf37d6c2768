//! Linearizability (Herlihy & Wing 1990): is there a total order of the
//! history's operations, consistent with real time, that a sequential
//! [`Model`] accepts? What Knossos and Porcupine check, answered with
//! the same three verdicts and a [`Witness`] when the answer is no.
//!
//! How a history is read:
//! - Each client invocation is paired with its process's next completion.
//!   `ok`: the op took effect once within [invoke, complete]; the model
//!   sees the invocation's value as its input and the completion's as its
//!   output. `fail`: it did not happen, and is dropped. `info` or no
//!   completion: it may have taken effect at any time after its
//!   invocation, or never; only its input is known. The nemesis is
//!   ignored.
//! - Intervals are closed: an op that completes at t is concurrent with
//!   one invoked at t (calls sort before returns at equal times, then by
//!   history index). A history whose times are all 0 is ordered by index.
//! - A malformed history (an op the model cannot interpret, a completion
//!   before its invocation) gives `unknown` with the reason, never
//!   `invalid`.
//!
//! How it is decided, cheapest first, per partition (P-compositionality,
//! Horn & Kroening 2015: [`Model::partition`] splits e.g. by key; with
//! [`LinearOptions::split`] false the history is one partition whose state
//! maps every key to its state, `whole.rs`):
//! 1. For register models, two pre-passes (`register.rs`): a read of a
//!    value nothing writes, and a stale read (a read of a value certainly
//!    overwritten before it began) are not linearizable, with no search.
//! 2. For registers without cas whose written values are unique, the
//!    O(n log n) zone test (Gibbons & Korach 1997).
//! 3. Otherwise the Wing & Gong / Lowe depth-first backtracking search with
//!    compact configurations (`search.rs`), which finds a linearization of
//!    a linearizable history quickly. For models whose states only grow
//!    (a kv value under appends, a set), it drops a state as soon as a
//!    read that must still be linearized can never become legal from it
//!    ([`Model::may_become_legal`], `monotone.rs`), instead of trying
//!    every order of the concurrent appends before finding out.
//! 4. If that caches more than [`LinearOptions::depth_first_configs_max`]
//!    configurations (it is then exhausting a large space, usually because
//!    the history is not linearizable), Lowe's breadth-first just-in-time
//!    search takes over (`frontier.rs`): it holds only the configurations
//!    at the current point of the history, and its pruning of crashed ops
//!    does not depend on the order it finds configurations in.
//!
//! The partitions take turns (on rayon's pool when
//! [`LinearOptions::parallel`]): each round takes every undecided
//! partition a slice of search steps further, the slices growing fourfold
//! from round to round, and the first invalid partition cancels the rest
//! unless [`LinearOptions::all_witnesses`]. So an invalid partition that
//! is quick to decide is found however hard the others are (Porcupine runs
//! a goroutine per partition to the same end), and no search is repeated.
//!
//! Past `configs_max` configurations, or when the caller's stop flag is
//! set, the verdict is unknown, with the reason; the checker never reads a
//! clock and never runs out of memory on its own account.
//!
//! ```
//! use lightcone_linear::{model_by_name, LinearOptions};
//! use lightcone_check::Validity;
//! use lightcone_history::{History, Op, OpType, Process};
//! use serde_json::{json, Value};
//!
//! let op = |p, kind, f: &str, v, t| Op::new(Process::Client(p), kind, f, v).at(t);
//! let h: History = [
//!     op(0, OpType::Invoke, "write", json!(1), 10),
//!     op(0, OpType::Ok, "write", json!(1), 20),
//!     op(1, OpType::Invoke, "read", Value::Null, 30),
//!     op(1, OpType::Ok, "read", json!(2), 40),
//! ]
//! .into_iter()
//! .collect();
//! let model = model_by_name("cas-register", None).unwrap();
//! let result = lightcone_linear::check(&h, model.as_ref(), &LinearOptions::default());
//! assert_eq!(result.valid, Validity::Invalid);
//! let witness = result.witness().unwrap();
//! assert_eq!(witness.op.invoke_index, 2);
//! assert!(witness.timeline(model.as_ref()).contains("read 2"));
//! ```

mod frontier;
pub mod gen;
mod independent;
mod indexed;
mod infosets;
mod intern;
mod model;
mod models;
mod monotone;
mod prepare;
mod register;
mod result;
mod search;
mod sequential;
mod sequential_search;
mod table;
mod whole;
mod witness;
mod write_order;

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use lightcone_history::History;
use rayon::prelude::*;
use serde_json::Value;

pub use independent::Independent;
pub use model::{Model, ModelOp, Part, RegisterOp};
pub use models::{
    model_by_name, model_names, CasRegister, FifoQueue, Kv, Mutex, Register, Set, UnorderedQueue,
    MODEL_NAMES,
};
pub use result::{Details, LinearResult, Method, PartitionResult};
pub use sequential::{check_sequential, SequentialMethod, SequentialOptions, SequentialResult};
pub use witness::{LinearizedOp, Witness, WitnessOp};

use frontier::FrontierOutcome;
use intern::Interner;
use lightcone_check::Validity;
use prepare::{LinOp, PartitionOps};
use search::{Budget, Controls, Outcome, Search, Verdict, BUDGET_CHUNK};

/// How many configurations the depth-first search may cache for a
/// partition of `n` ops before the breadth-first search takes over. The
/// depth-first search decides most linearizable histories within about 10
/// per op; past that it is usually exhausting a large space, which the
/// breadth-first search does in less memory and with better pruning.
fn handoff_at(n: usize) -> usize {
    (20 * n).max(200_000)
}

/// Bounds and choices for [`check`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LinearOptions {
    /// The most configurations held at once; past it the verdict is
    /// unknown. The depth-first search's cache counts against it over all
    /// the partitions being checked at once: 20 bytes a configuration (8
    /// more per 64 concurrent ops past the first 64) in a table at most 70%
    /// full that doubles as it grows. The breadth-first search holds the
    /// configurations at one point of the history (its frontier and one
    /// return's closure), about 50 bytes each, and counts per partition.
    /// The default, 10 million, keeps either under about 600 MB.
    pub configs_max: usize,
    /// Set by the caller (a timer thread, Ctrl-C) to stop with unknown.
    /// The checker itself never reads a clock.
    pub stop: Option<Arc<AtomicBool>>,
    /// Check every partition to the end, for a witness of each invalid
    /// one, instead of stopping at the first.
    pub all_witnesses: bool,
    /// Check partitions on rayon's thread pool.
    pub parallel: bool,
    /// Skip the register pre-passes and the zone test: decide everything
    /// by search (for benchmarks and cross-checks).
    pub search_only: bool,
    /// Configurations the depth-first search may cache for a partition
    /// before the breadth-first search takes over; `None` for 20 per op
    /// (at least 200,000), `Some(0)` to go straight to breadth-first.
    pub depth_first_configs_max: Option<usize>,
    /// Use P-compositionality: check each of the model's partitions (each
    /// key of a kv or `independent-` model) on its own. When false, the
    /// history is checked as one partition whose state is the map from
    /// key to that key's state (much slower; for cross-checks and
    /// benchmarks, as Porcupine's `kvNoPartitionModel`).
    pub split: bool,
}

impl Default for LinearOptions {
    fn default() -> LinearOptions {
        LinearOptions {
            configs_max: 10_000_000,
            stop: None,
            all_witnesses: false,
            parallel: true,
            search_only: false,
            depth_first_configs_max: None,
            split: true,
        }
    }
}

impl LinearOptions {
    pub fn validate(&self) -> Result<(), String> {
        if self.configs_max == 0 {
            return Err("configs_max must be at least 1".to_string());
        }
        Ok(())
    }
}

/// Checks that `history` is linearizable with respect to `model`.
pub fn check(history: &History, model: &dyn Model, options: &LinearOptions) -> LinearResult {
    if let Err(e) = options.validate() {
        return LinearResult::malformed(model.name(), format!("bad options: {e}"));
    }
    let whole;
    let model: &dyn Model = if options.split {
        model
    } else {
        whole = whole::Whole::new(model);
        &whole
    };
    let parts = match prepare::prepare(history, model) {
        Ok(parts) => parts,
        Err(e) => return LinearResult::malformed(model.name(), e),
    };
    let budget = Budget {
        max: options.configs_max,
        used: AtomicUsize::new(0),
    };
    let cancel = AtomicBool::new(false);
    let controls = Controls {
        budget: &budget,
        stop: options.stop.as_deref(),
        cancel: &cancel,
    };
    // The partitions are checked in rounds, each taking every undecided
    // partition a slice of search steps further, the slices growing
    // geometrically: an invalid partition that is quick to decide is found
    // (and cancels the rest) however hard the others are, as with
    // Porcupine's goroutine per partition, and nothing is searched twice.
    // At most `live_max` searches are under way (paused between rounds)
    // at once, so that the configurations they hold stay well within the
    // budget; the others wait their turn.
    let mut tasks: Vec<Task> = parts.iter().map(Task::Start).collect();
    let mut round = Round {
        slice: FIRST_SLICE,
        live: AtomicUsize::new(0),
        live_max: (options.configs_max / (4 * BUDGET_CHUNK)).clamp(2, LIVE_MAX),
    };
    loop {
        run_round(&mut tasks, model, controls, options, &round);
        if tasks.iter().all(Task::is_done) {
            break;
        }
        round.slice = round.slice.saturating_mul(SLICE_GROWTH);
    }
    let results: Vec<PartitionResult> = tasks
        .into_iter()
        .map(|task| match task {
            Task::Done(r) => *r,
            _ => unreachable!("every task is done"),
        })
        .collect();
    // A million prepared ops take a tenth of a second to free: free each
    // partition's on its own thread.
    if options.parallel && parts.len() > 1 {
        parts.into_par_iter().for_each(drop);
    }
    LinearResult::from_partitions(model.name(), results)
}

/// Takes every task `slice` search steps further, in parallel if asked.
fn run_round<'p, 'a, 'm>(
    tasks: &mut [Task<'p, 'a, 'm>],
    model: &'m dyn Model,
    controls: Controls<'a>,
    options: &LinearOptions,
    round: &Round,
) {
    let round = |task: &mut Task<'p, 'a, 'm>| {
        task.advance(model, controls, options, round);
        if task.is_invalid() && !options.all_witnesses {
            controls.cancel.store(true, Ordering::Relaxed);
        }
    };
    if options.parallel && tasks.len() > 1 {
        tasks.par_iter_mut().for_each(round);
    } else {
        tasks.iter_mut().for_each(round);
    }
}

/// One round of the scheduler.
struct Round {
    /// Search steps each undecided partition is given.
    slice: u64,
    /// Searches under way...
    live: AtomicUsize,
    /// ...and how many may be.
    live_max: usize,
}

/// The most searches under way at once.
const LIVE_MAX: usize = 256;
/// Search steps each undecided partition is given in the first round.
const FIRST_SLICE: u64 = 1 << 10;
/// How much longer each round's slice is than the last.
const SLICE_GROWTH: u64 = 4;

/// A partition on its way to a verdict.
enum Task<'p, 'a, 'm> {
    Start(&'p PartitionOps),
    Searching(Box<Searching<'p, 'a, 'm>>),
    Done(Box<PartitionResult>),
}

/// A partition the pre-passes left to the depth-first search.
struct Searching<'p, 'a, 'm> {
    part: Undecided<'p>,
    search: Search<'a, 'm>,
}

/// A partition the pre-passes did not decide, and what its result needs.
struct Undecided<'p> {
    key: Option<Value>,
    op_count: usize,
    /// Its ops, less those the value screen found can never take effect.
    ops: Cow<'p, [LinOp]>,
    /// The model is a register for every op.
    registers: bool,
    init_id: u32,
    /// Why the zone test found it not linearizable, if it did (the search
    /// then runs for a witness).
    zone_conflict: Option<register::ZoneConflict>,
}

impl<'p, 'a, 'm> Task<'p, 'a, 'm> {
    fn is_done(&self) -> bool {
        matches!(self, Task::Done(_))
    }

    fn is_invalid(&self) -> bool {
        matches!(self, Task::Done(r) if r.valid == Validity::Invalid)
    }

    /// Takes the task up to a round's slice of search steps further.
    fn advance(
        &mut self,
        model: &'m dyn Model,
        controls: Controls<'a>,
        options: &LinearOptions,
        round: &Round,
    ) {
        let cancelled = || controls.cancel.load(Ordering::Relaxed);
        match self {
            Task::Done(_) => return,
            Task::Start(part) => {
                let part: &'p PartitionOps = part;
                if cancelled() {
                    *self = Task::Done(Box::new(not_checked(part.key.clone(), part.ops.len())));
                    return;
                }
                if round.live.fetch_add(1, Ordering::Relaxed) >= round.live_max {
                    round.live.fetch_sub(1, Ordering::Relaxed);
                    return; // its turn comes in a later round
                }
                *self = start_partition(part, model, controls, options);
            }
            Task::Searching(_) => {}
        }
        if let Task::Searching(s) = self {
            let verdict = s.search.resume(round.slice);
            if verdict.is_none() && !cancelled() {
                return;
            }
            let Task::Searching(s) =
                std::mem::replace(self, Task::Done(Box::new(not_checked(None, 0))))
            else {
                unreachable!("matched above")
            };
            *self = Task::Done(Box::new(finish_partition(*s, verdict, controls)));
        }
        round.live.fetch_sub(1, Ordering::Relaxed);
    }
}

fn not_checked(key: Option<Value>, op_count: usize) -> PartitionResult {
    let mut r = PartitionResult::new(key, op_count, Method::NotChecked);
    r.valid = Validity::Unknown;
    r.reason = Some("not checked: another partition is not linearizable".to_string());
    r
}

/// Runs the pre-passes on a partition; what they leave undecided becomes
/// a depth-first search, not started yet.
fn start_partition<'p, 'a, 'm>(
    part: &'p PartitionOps,
    model: &'m dyn Model,
    controls: Controls<'a>,
    options: &LinearOptions,
) -> Task<'p, 'a, 'm> {
    let done = |r: PartitionResult| Task::Done(Box::new(r));
    if part.ops.iter().all(LinOp::is_indeterminate) {
        return done(PartitionResult::new(
            part.key.clone(),
            part.ops.len(),
            Method::Trivial,
        ));
    }
    let init = model.init();
    let screen = register::screen(&part.ops, model, &init);
    let registers = screen.is_some();
    let (ops, zone_conflict) = match screen.filter(|_| !options.search_only) {
        Some(screen) => match register_pre_passes(part, model, &init, screen) {
            PrePassed::Decided(r) => return Task::Done(r),
            PrePassed::Undecided(ops, zone_conflict) => (ops, zone_conflict),
        },
        None => (Cow::Borrowed(part.ops.as_slice()), None),
    };
    let mut intern = Interner::new(model);
    let init_id = intern.state_id(init);
    let handoff = options
        .depth_first_configs_max
        .unwrap_or_else(|| handoff_at(ops.len()));
    let search = Search::new(&ops, intern, init_id, registers, handoff, controls);
    let part = Undecided {
        key: part.key.clone(),
        op_count: part.ops.len(),
        ops,
        registers,
        init_id,
        zone_conflict,
    };
    Task::Searching(Box::new(Searching { part, search }))
}

/// What the register pre-passes made of a partition.
enum PrePassed<'p> {
    Decided(Box<PartitionResult>),
    /// The search decides, over these ops (less those that can never take
    /// effect), after the zone test's conflict if it found one.
    Undecided(Cow<'p, [LinOp]>, Option<register::ZoneConflict>),
}

/// The register pre-passes, cheapest first: the value screen, the stale
/// read, and the zone test when the written values are unique.
fn register_pre_passes<'p>(
    part: &'p PartitionOps,
    model: &dyn Model,
    init: &Value,
    screen: register::Screen,
) -> PrePassed<'p> {
    let invalid = |method, witness| {
        let mut r = PartitionResult::new(part.key.clone(), part.ops.len(), method);
        r.valid = Validity::Invalid;
        r.witness = Some(witness);
        PrePassed::Decided(Box::new(r))
    };
    let key = part.key.as_ref();
    if let Some((i, cause)) = screen.impossible {
        let op = WitnessOp::new(&part.ops[i], model, key);
        return invalid(
            Method::ValueScreen,
            Witness::unsearched(op, cause, Vec::new()),
        );
    }
    let ops = without(&part.ops, &screen.dropped);
    if let Some(stale) = register::stale_read(&ops, model, &[]) {
        let op = WitnessOp::new(&ops[stale.read], model, key);
        let others = std::iter::once(stale.setter).chain(stale.producer);
        let others = others
            .map(|i| WitnessOp::new(&ops[i], model, key))
            .collect();
        let cause = stale.cause(&ops, model, key);
        return invalid(Method::StaleRead, Witness::unsearched(op, cause, others));
    }
    if !screen.unique {
        return PrePassed::Undecided(ops, None);
    }
    match register::zones(&ops, model, init, &[]) {
        Ok(()) => PrePassed::Decided(Box::new(PartitionResult::new(
            part.key.clone(),
            part.ops.len(),
            Method::RegisterZones,
        ))),
        Err(conflict) => PrePassed::Undecided(ops, Some(conflict)),
    }
}

/// `ops` less those at the positions in `dropped`.
fn without<'p>(ops: &'p [LinOp], dropped: &[usize]) -> Cow<'p, [LinOp]> {
    if dropped.is_empty() {
        return Cow::Borrowed(ops);
    }
    let mut drop = vec![false; ops.len()];
    for &i in dropped {
        drop[i] = true;
    }
    Cow::Owned(
        ops.iter()
            .zip(drop)
            .filter(|(_, d)| !d)
            .map(|(op, _)| op.clone())
            .collect(),
    )
}

/// The result of a partition's depth-first search, which gave `verdict`
/// (`None`: it was cancelled before it had one), after the breadth-first
/// search if it handed over.
fn finish_partition(s: Searching, verdict: Option<Verdict>, controls: Controls) -> PartitionResult {
    let cancelled = controls.cancel.load(Ordering::Relaxed);
    let verdict = match verdict {
        Some(Verdict::Unknown(_)) | None if cancelled => return cancelled_search(s),
        Some(v) => v,
        None => unreachable!("an unfinished search is either cancelled or resumed"),
    };
    let Searching { part, search } = s;
    let (outcome, mut intern) = search.finish(verdict);
    if outcome.verdict == Verdict::Exceeded {
        return hand_over(part, &outcome, &mut intern, controls);
    }
    search_result(part, &outcome, &mut intern)
}

/// A search cancelled because another partition is not linearizable: not
/// checked, with the work it did.
fn cancelled_search(s: Searching) -> PartitionResult {
    let mut r = not_checked(s.part.key, s.part.op_count);
    r.configs = s.search.configs();
    r.configs_held_max = s.search.configs();
    r.steps = s.search.steps();
    let _ = s.search.finish(Verdict::Unknown(String::new()));
    r
}

/// The breadth-first search over a partition, taking over from the
/// depth-first search, which gave `dfs`.
fn hand_over(
    part: Undecided,
    dfs: &Outcome,
    intern: &mut Interner,
    controls: Controls,
) -> PartitionResult {
    let max = controls.budget.max;
    let (ops, init_id, registers) = (&part.ops, part.init_id, part.registers);
    let f = frontier::run(ops, intern, init_id, registers, &controls, max);
    let r = frontier_result(part, dfs, f, intern);
    if r.valid == Validity::Unknown && controls.cancel.load(Ordering::Relaxed) {
        let mut cancelled = not_checked(r.key, r.op_count);
        cancelled.configs = r.configs;
        cancelled.configs_held_max = r.configs_held_max;
        cancelled.steps = r.steps;
        return cancelled;
    }
    r
}

/// The result of a depth-first search that did not hand over.
fn search_result(part: Undecided, outcome: &Outcome, intern: &mut Interner) -> PartitionResult {
    let Undecided {
        key,
        op_count,
        ops,
        zone_conflict,
        ..
    } = part;
    let ops: &[LinOp] = &ops;
    let method = if zone_conflict.is_some() {
        Method::RegisterZones
    } else {
        Method::Search
    };
    let mut r = PartitionResult::new(key, op_count, method);
    r.configs = outcome.configs;
    r.configs_held_max = outcome.configs;
    r.steps = outcome.steps;
    r.table_bytes = outcome.table_bytes;
    match (&outcome.verdict, zone_conflict) {
        (Verdict::Valid, conflict) => {
            debug_assert!(
                conflict.is_none(),
                "the zone test and the search disagree: {conflict:?}"
            );
            let order = outcome.linearization.iter();
            r.linearization = Some(order.map(|&i| ops[i].invoke_index).collect());
        }
        (Verdict::Invalid, conflict) => {
            r.valid = Validity::Invalid;
            r.witness = Some(search_witness(
                ops,
                r.key.as_ref(),
                outcome,
                intern,
                conflict,
            ));
        }
        (Verdict::Unknown(_), Some(conflict)) => {
            // The zone test decided; the search, run only to illustrate,
            // ran out of budget: the witness is the zone conflict itself.
            let (model, key) = (intern.model(), r.key.as_ref());
            let others = conflict.others.iter().filter(|&&i| i != conflict.op);
            let others = others
                .map(|&i| WitnessOp::new(&ops[i], model, key))
                .collect();
            let op = WitnessOp::new(&ops[conflict.op], model, key);
            r.valid = Validity::Invalid;
            r.witness = Some(Witness::unsearched(op, conflict.cause, others));
        }
        (Verdict::Unknown(reason), None) => {
            r.valid = Validity::Unknown;
            r.reason = Some(reason.clone());
        }
        (Verdict::Exceeded, _) => unreachable!("handed over before"),
    }
    r
}

/// The result of the breadth-first search that took over from `dfs`.
fn frontier_result(
    part: Undecided,
    dfs: &Outcome,
    f: FrontierOutcome,
    intern: &mut Interner,
) -> PartitionResult {
    let mut r = PartitionResult::new(part.key, part.op_count, Method::Frontier);
    r.configs = dfs.configs + f.configs;
    r.steps = dfs.steps + f.steps;
    r.table_bytes = dfs.table_bytes;
    r.configs_held_max = dfs.configs.max(f.configs_peak);
    match f.verdict {
        Verdict::Valid => {}
        Verdict::Invalid => {
            let stuck = f.stuck.expect("an invalid frontier search says where");
            let (ops, key) = (&part.ops, r.key.as_ref());
            let witness = frontier_witness(ops, key, dfs, &stuck, intern, part.zone_conflict);
            r.valid = Validity::Invalid;
            r.witness = Some(witness);
        }
        Verdict::Unknown(reason) => {
            r.valid = Validity::Unknown;
            r.reason = Some(reason);
        }
        Verdict::Exceeded => unreachable!("only the depth-first search hands over"),
    }
    r
}

/// The witness for a breadth-first search that got `stuck`, with the
/// depth-first search's deepest path if it got as far.
fn frontier_witness(
    ops: &[LinOp],
    key: Option<&Value>,
    dfs: &Outcome,
    stuck: &frontier::Stuck,
    intern: &mut Interner,
    zone_conflict: Option<register::ZoneConflict>,
) -> Witness {
    let model = intern.model();
    let states: Vec<Value> = stuck
        .states
        .iter()
        .map(|&s| intern.state(s).clone())
        .collect();
    let described: Vec<String> = states.iter().map(|s| model.describe_state(s)).collect();
    let mut cause = format!(
        "no order of the ops before it leaves the model in a state where it is legal \
         (reachable: {})",
        described.join(", ")
    );
    if let Some(conflict) = zone_conflict {
        cause.push_str(&format!("; the register zone test: {}", conflict.cause));
    }
    let prefix = match &dfs.deepest {
        Some(d) if d.stuck == stuck.op => linearized(ops, key, &d.prefix, intern),
        _ => Vec::new(),
    };
    Witness {
        op: WitnessOp::new(&ops[stuck.op], model, key),
        cause,
        prefix,
        concurrent: stuck
            .concurrent
            .iter()
            .map(|&i| WitnessOp::new(&ops[i], model, key))
            .collect(),
        states,
    }
}

/// A search's path as the witness shows it: each op and the state after it.
fn linearized(
    ops: &[LinOp],
    key: Option<&Value>,
    path: &[(usize, u32)],
    intern: &Interner,
) -> Vec<LinearizedOp> {
    path.iter()
        .map(|&(i, s)| LinearizedOp {
            op: WitnessOp::new(&ops[i], intern.model(), key),
            state: intern.state(s).clone(),
        })
        .collect()
}

/// The witness for a search that failed: where it got deepest.
fn search_witness(
    ops: &[LinOp],
    key: Option<&Value>,
    outcome: &Outcome,
    intern: &mut Interner,
    conflict: Option<register::ZoneConflict>,
) -> Witness {
    let model = intern.model();
    let deepest = outcome
        .deepest
        .as_ref()
        .expect("an invalid search reached some configuration");
    let states: Vec<Value> = deepest
        .states
        .iter()
        .map(|&s| intern.state(s).clone())
        .collect();
    let described: Vec<String> = states.iter().map(|s| model.describe_state(s)).collect();
    let mut cause = match deepest.blocker {
        // The monotone pruning stopped the search: say which read it was.
        Some(b) => format!(
            "no order of the ops before it leaves the model in a state where it is legal \
             and op {} (process {}) {}, which must come later, can still become legal \
             (reachable: {})",
            ops[b].invoke_index,
            ops[b].process,
            witness::describe(model, key, &ops[b].op),
            described.join(", ")
        ),
        None => format!(
            "no order of the ops before it leaves the model in a state where it is legal \
             (reachable: {})",
            described.join(", ")
        ),
    };
    if let Some(conflict) = conflict {
        cause.push_str(&format!("; the register zone test: {}", conflict.cause));
    }
    Witness {
        op: WitnessOp::new(&ops[deepest.stuck], model, key),
        cause,
        prefix: linearized(ops, key, &deepest.prefix, intern),
        concurrent: deepest
            .concurrent
            .iter()
            .map(|&i| WitnessOp::new(&ops[i], model, key))
            .collect(),
        states,
    }
}

#[cfg(test)]
mod tests;
