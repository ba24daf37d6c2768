//! Transactional histories for tests and benchmarks: list-append and
//! rw-register histories that are strict-serializable by construction.
//!
//! [`TxnGenerator`] simulates `processes` client processes against one
//! in-memory store, driven by an event queue on virtual time. Each process
//! invokes a transaction, the transaction takes effect atomically at an
//! instant strictly inside its interval (its *commit point*), and the
//! process then completes it, waits a little and invokes the next one.
//! Commit points are applied in time order, so the order in which the
//! transactions took effect is a serial order that respects real time:
//! the history is strict-serializable, and every weaker model holds too.
//!
//! Transactions are drawn as Elle's `wr-txns` draws them
//! (elle/txn.clj, `wr-txns`, `rand-key-i`, `fresh-key`; list-append's
//! `append-txns` turns its writes into appends): a length uniform in
//! `[min-txn-length, max-txn-length]`; each micro-op a read or a write with
//! probability 1/2; keys from an exponential distribution (base 2) over
//! `key-count` active keys; values 1, 2, 3, ... per key, assigned when the
//! transaction is drawn (at its invocation); a key that has had its share of
//! writes is retired and replaced by a fresh one. Values are unique per key,
//! so every read names the writes it saw.
//!
//! Shapes, Maelstrom's: an op's `f` is `txn` and its value a list of
//! micro-ops, `["append", k, v]` / `["w", k, v]` and `["r", k, null]` as
//! invoked; an `ok` completion fills in each read with what it saw, a list
//! (`[]` for a key never appended to; Maelstrom's nodes may answer `null`,
//! which Elle reads the same) or a register's value (`null` when never
//! written). `fail` and `info` completions keep the invocation's value.
//!
//! Faults, both optional: a `fail` transaction was refused and had no
//! effect (error `["txn-conflict", ...]`, Maelstrom's definite error 30); an
//! `info` transaction's outcome is unknown (error `"net-timeout"`, as the
//! workbench records a timeout). Whether an `info` transaction took effect
//! is drawn at random, and if it did, its commit point lies inside its
//! interval like any other's (a real system may apply it later; this is
//! one of the histories it may give). Its process is crashed and replaced by
//! a fresh process number (the old number plus `processes`, as Jepsen does).
//!
//! Deterministic: the same seed and options give the same history, byte
//! for byte. All randomness comes from [`lightcone_rng::Rng`], in three
//! streams (the transactions, the timing, the faults), so the sequence of
//! transactions drawn does not depend on the timing or the fault rates.
//!
//! ```
//! use lightcone_txn::gen::{self, GenOptions};
//!
//! let options = GenOptions { txns: 100, processes: 5, ..GenOptions::default() };
//! let history = gen::list_append_history(7, &options);
//! assert_eq!(history.len(), 200);
//! assert_eq!(history, gen::list_append_history(7, &options));
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use lightcone_history::{History, Op, OpType, Process};
use lightcone_rng::Rng;
use serde_json::{json, Value};

use crate::gadgets;

/// The `Rng` stream the transactions are drawn from.
const STREAM_TXNS: u64 = 1;
/// The `Rng` stream of the timing: start offsets, durations, commit points,
/// think times.
const STREAM_TIMING: u64 = 2;
/// The `Rng` stream of the faults: each transaction's outcome.
const STREAM_FAULTS: u64 = 3;

/// A transaction lasts `DURATION_NS_MIN..=DURATION_NS_MAX` from invocation
/// to completion (0.2 to 5 ms, a LAN round trip plus some work), and a
/// process waits `1..=THINK_NS_MAX` before invoking its next one, so each
/// process is busy about 85% of the time and about that share of the
/// processes overlap.
const DURATION_NS_MIN: u64 = 200_000;
const DURATION_NS_MAX: u64 = 5_000_000;
const THINK_NS_MAX: u64 = 1_000_000;

/// Elle's `key-dist-base`: with the exponential key distribution, key `i`
/// of the active keys is `2^i` times as likely as key 0.
const KEY_DIST_BASE: f64 = 2.0;

/// jepsen.random's `zipf-default-skew`: its zipf sampler has a singularity
/// at skew 1, so it uses a slightly larger one.
const ZIPF_SKEW: f64 = 1.0001;

/// Bounds on the options, so that a typo cannot ask for terabytes.
const PROCESSES_MAX: usize = 1_000_000;
const KEY_COUNT_MAX: usize = 1_000_000;
const TXN_LENGTH_MAX: usize = 100_000;

/// Which data model the transactions act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Workload {
    /// Lists of integers: `["append", k, v]` and `["r", k, [v1, v2, ...]]`
    /// (Maelstrom's txn-list-append, Elle's list-append).
    ListAppend,
    /// Integer registers: `["w", k, v]` and `["r", k, v]` (Maelstrom's
    /// txn-rw-register, Elle's rw-register).
    RwRegister,
}

impl Workload {
    /// The workload's name as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            Workload::ListAppend => "list-append",
            Workload::RwRegister => "rw-register",
        }
    }

    /// The `f` of a write micro-op.
    fn write_f(self) -> &'static str {
        match self {
            Workload::ListAppend => "append",
            Workload::RwRegister => "w",
        }
    }
}

/// What to generate. Option names in errors are the command line's flags,
/// which are Elle's option names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenOptions {
    /// Transactions in the history (each an invocation and a completion).
    pub txns: usize,
    /// Client processes running at once.
    pub processes: usize,
    /// Active keys at any time (Elle's `key-count`, default 10).
    pub key_count: usize,
    /// Micro-ops per transaction, at least (Elle's `min-txn-length`, 1).
    pub min_txn_length: usize,
    /// Micro-ops per transaction, at most (Elle's `max-txn-length`, 4).
    pub max_txn_length: usize,
    /// The cap on writes per key. As Elle does, each key draws its own
    /// limit, `1 + zipf(max-writes-per-key)` (jepsen.random's zipf, skew
    /// 1.0001, so limits in `1..=max` with small ones the most common),
    /// and is retired when it has had that many writes. The default is 16,
    /// Maelstrom's `--max-writes-per-key`, not Elle's own 256.
    pub max_writes_per_key: u64,
    /// Transactions per thousand that are refused: they complete `fail` and
    /// have no effect.
    pub fail_permille: u32,
    /// Transactions per thousand whose outcome is unknown: they complete
    /// `info`, take effect or not at random, and crash their process.
    pub info_permille: u32,
}

impl Default for GenOptions {
    fn default() -> GenOptions {
        GenOptions {
            txns: 1000,
            processes: 10,
            key_count: 10,
            min_txn_length: 1,
            max_txn_length: 4,
            max_writes_per_key: 16,
            fail_permille: 0,
            info_permille: 0,
        }
    }
}

impl GenOptions {
    /// Checks every option, naming the first bad one and its fix.
    pub fn validate(&self) -> Result<(), GenError> {
        let bad = |option: &'static str, value: &dyn ToString, need: String| {
            Err(GenError::Option {
                option,
                value: value.to_string(),
                need,
            })
        };
        if self.processes == 0 || self.processes > PROCESSES_MAX {
            return bad(
                "processes",
                &self.processes,
                format!("give between 1 and {PROCESSES_MAX}"),
            );
        }
        if self.key_count == 0 || self.key_count > KEY_COUNT_MAX {
            return bad(
                "key-count",
                &self.key_count,
                format!("give between 1 and {KEY_COUNT_MAX}"),
            );
        }
        if self.min_txn_length == 0 || self.min_txn_length > TXN_LENGTH_MAX {
            return bad(
                "min-txn-length",
                &self.min_txn_length,
                format!("give between 1 and {TXN_LENGTH_MAX}"),
            );
        }
        if self.max_txn_length < self.min_txn_length || self.max_txn_length > TXN_LENGTH_MAX {
            return bad(
                "max-txn-length",
                &self.max_txn_length,
                format!(
                    "give between --min-txn-length ({}) and {TXN_LENGTH_MAX}",
                    self.min_txn_length
                ),
            );
        }
        if self.max_writes_per_key == 0 {
            return bad("max-writes-per-key", &0, "give at least 1".to_string());
        }
        self.validate_faults()
    }

    fn validate_faults(&self) -> Result<(), GenError> {
        for (option, value) in [
            ("fail-permille", self.fail_permille),
            ("info-permille", self.info_permille),
        ] {
            if value > 1000 {
                return Err(GenError::Option {
                    option,
                    value: value.to_string(),
                    need: "a rate per thousand is between 0 and 1000".to_string(),
                });
            }
        }
        if self.fail_permille + self.info_permille > 1000 {
            return Err(GenError::Option {
                option: "info-permille",
                value: self.info_permille.to_string(),
                need: format!(
                    "with --fail-permille {} the two rates add up to more than 1000; lower one",
                    self.fail_permille
                ),
            });
        }
        Ok(())
    }
}

/// What went wrong generating a history.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenError {
    /// An option out of range; `option` is its command-line name.
    #[error("--{option} {value} is out of range: {need}")]
    Option {
        option: &'static str,
        value: String,
        need: String,
    },
    /// [`inject`] was asked for an anomaly the workload has no gadget for.
    #[error(
        "--inject {anomaly:?}: a {workload} history has no such anomaly to inject; \
         use one of {known}"
    )]
    UnknownAnomaly {
        anomaly: String,
        workload: &'static str,
        /// The names that can be injected, comma-separated.
        known: String,
    },
}

/// A generated history and the order its transactions took effect in.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub history: History,
    /// The index (in `history`) of the invocation of every transaction that
    /// took effect (each `ok` one and each `info` one that did), in the
    /// order they took effect: a serial order of the history that respects
    /// real time, for cross-checking a checker (Elle's white-box
    /// `:transaction-order`).
    pub commit_order: Vec<u64>,
}

/// A list-append history: `seed` and `options` decide it.
///
/// # Panics
/// If `options` are invalid ([`GenOptions::validate`]); use [`generate`]
/// to get the error instead.
pub fn list_append_history(seed: u64, options: &GenOptions) -> History {
    expect_valid(generate(Workload::ListAppend, seed, options)).history
}

/// An rw-register history: `seed` and `options` decide it.
///
/// # Panics
/// If `options` are invalid ([`GenOptions::validate`]); use [`generate`]
/// to get the error instead.
pub fn rw_register_history(seed: u64, options: &GenOptions) -> History {
    expect_valid(generate(Workload::RwRegister, seed, options)).history
}

fn expect_valid(generated: Result<Generated, GenError>) -> Generated {
    generated.unwrap_or_else(|e| panic!("invalid generator options: {e}"))
}

/// A `workload` history with the order its transactions took effect in.
pub fn generate(
    workload: Workload,
    seed: u64,
    options: &GenOptions,
) -> Result<Generated, GenError> {
    let mut generator = TxnGenerator::new(workload, seed, options)?.recording_commit_order();
    let mut history = History::default();
    history.ops.reserve_exact(2 * options.txns);
    history.ops.extend(&mut generator);
    Ok(Generated {
        history,
        commit_order: generator.take_commit_order(),
    })
}

/// Adds to `history` (generated for `workload`) the gadget of `anomaly`
/// (Elle's name in any case: `G0`, `G1a`, `G-single-item-realtime`, ...),
/// so that a checker must find it: the gadget's transactions go in as one
/// block at a place `seed` picks, on fresh keys and fresh processes
/// ([`gadgets::splice`] says why the host's verdict is otherwise kept).
/// The checker then reports what it reports for the gadget alone, which
/// `crates/txn/testdata/expected.json` records (a G1b gadget, for one, is
/// also a G-single-item).
///
/// An anomaly the workload has no gadget for (G0 in rw-register, or a name
/// that is not Elle's) is an error naming the ones it has, and leaves
/// `history` as it was.
pub fn inject(
    history: &mut History,
    workload: Workload,
    anomaly: &str,
    seed: u64,
) -> Result<(), GenError> {
    let model = workload.name();
    let Some(gadget) = gadgets::gadget(model, anomaly) else {
        return Err(GenError::UnknownAnomaly {
            anomaly: anomaly.to_string(),
            workload: model,
            known: gadgets::anomalies(model).join(", "),
        });
    };
    gadgets::splice(history, &gadget, seed);
    Ok(())
}

/// One micro-op as drawn: a read of `key`, or a write (append) of `write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mop {
    pub key: u64,
    pub write: Option<u64>,
}

impl Mop {
    /// The micro-op as a client invokes it, in Maelstrom's shape:
    /// `["append", k, v]` or `["w", k, v]`, and `["r", k, null]`.
    pub fn invocation(&self, workload: Workload) -> Value {
        mop_value(workload, self, Value::Null)
    }
}

/// Elle's `wr-txns` state (`elle.txn/wr-txns`, which Maelstrom's
/// txn-list-append and txn-rw-register generators use): the active keys,
/// each one's write limit, and the writes drawn so far of every key. The
/// randomness comes from the `Rng` passed in, so a workload can draw from
/// its run's stream.
#[derive(Debug, Clone)]
pub struct TxnPlanner {
    length_min: u64,
    length_max: u64,
    max_writes_per_key: u64,
    /// The active keys, in the order the key distribution weighs them.
    active: Vec<u64>,
    /// The write limit of each active key, by its position in `active`.
    limits: Vec<u64>,
    /// Writes drawn so far, by key; keys are 0, 1, 2, ... in the order they
    /// became active, so this is also the count of keys ever used.
    writes: Vec<u64>,
}

impl TxnPlanner {
    /// A planner for transactions of `options.min_txn_length ..=
    /// options.max_txn_length` micro-ops over `options.key_count` active
    /// keys, each written at most about `options.max_writes_per_key` times
    /// (a limit per key drawn from a zipf distribution, as Elle does).
    pub fn new(rng: &mut Rng, options: &GenOptions) -> TxnPlanner {
        let max = options.max_writes_per_key;
        let limits = (0..options.key_count).map(|_| 1 + zipf(rng, max)).collect();
        TxnPlanner {
            length_min: options.min_txn_length as u64,
            length_max: options.max_txn_length as u64,
            max_writes_per_key: max,
            active: (0..options.key_count as u64).collect(),
            limits,
            writes: vec![0; options.key_count],
        }
    }

    /// The next transaction (Elle's `wr-txns` loop): a write to a key whose
    /// limit is reached retires the key, and the micro-op is drawn again.
    pub fn plan(&mut self, rng: &mut Rng) -> Vec<Mop> {
        let length = rng.in_range(self.length_min, self.length_max + 1) as usize;
        let mut mops = Vec::with_capacity(length);
        while mops.len() < length {
            let write = rng.below(2) == 1;
            let slot = exponential_index(rng, self.active.len());
            let key = self.active[slot];
            if !write {
                mops.push(Mop { key, write: None });
                continue;
            }
            let value = self.writes[key as usize] + 1;
            if value > self.limits[slot] {
                self.retire(rng, slot);
                continue;
            }
            self.writes[key as usize] = value;
            mops.push(Mop {
                key,
                write: Some(value),
            });
        }
        mops
    }

    /// Elle's `fresh-key`: the key in `slot` gives way to a new key, one
    /// more than the largest so far, with a limit of its own.
    fn retire(&mut self, rng: &mut Rng, slot: usize) {
        self.active[slot] = self.writes.len() as u64;
        self.writes.push(0);
        self.limits[slot] = 1 + zipf(rng, self.max_writes_per_key);
    }

    /// Keys ever made active so far.
    pub fn key_count_used(&self) -> usize {
        self.writes.len()
    }
}

/// Elle's `rand-key-i` for the exponential distribution: an index in
/// `0..n` where index `i` is `base^i` times as likely as index 0. Elle
/// computes `floor(log_b(u * s + b) - 1)` with `s = b (b^n - 1) / (b - 1)`
/// and `u` uniform in [0, 1); `b^n` overflows for large `n`, so this takes
/// `n` out of the logarithm first: the same map from `u` to an index.
fn exponential_index(rng: &mut Rng, n: usize) -> usize {
    let b = KEY_DIST_BASE;
    let u = rng.unit();
    let shrink = b.powf(-(n as f64));
    let inner = u * b * (1.0 - shrink) / (b - 1.0) + b * shrink;
    let index = (n as f64 - 1.0 + inner.log(b)).floor();
    (index.max(0.0) as usize).min(n - 1)
}

/// jepsen.random's `zipf`: an integer in `0..n` where `k` has probability
/// proportional to `(k + 1)^-skew` (skew [`ZIPF_SKEW`]), by rejection
/// sampling. The bounding density is 1 on [0, 1) and `x^-skew` on [1, n),
/// drawn by inverting its integral; a draw `x` stands for rank
/// `floor(x) + 1` and is kept with probability `rank^-skew / bound(x)`, so
/// each rank's chance is the integral of its own density, `rank^-skew`.
fn zipf(rng: &mut Rng, n: u64) -> u64 {
    if n <= 1 {
        return 0;
    }
    let s = ZIPF_SKEW;
    // The integral of the bound over [1, x] is (x^(1-s) - 1) / (1-s).
    let total = 1.0 + ((n as f64).powf(1.0 - s) - 1.0) / (1.0 - s);
    loop {
        let mass = total * rng.unit();
        let x = if mass < 1.0 {
            mass
        } else {
            ((mass - 1.0) * (1.0 - s) + 1.0).powf(1.0 / (1.0 - s))
        };
        let rank = x.floor() + 1.0;
        let keep = if x < 1.0 { 1.0 } else { (x / rank).powf(s) };
        if rank <= n as f64 && rng.unit() < keep {
            return rank as u64 - 1;
        }
    }
}

/// The store the transactions act on: a list or a register per key,
/// indexed by key.
enum Store {
    Lists(Vec<Vec<u64>>),
    Registers(Vec<Option<u64>>),
}

impl Store {
    fn new(workload: Workload) -> Store {
        match workload {
            Workload::ListAppend => Store::Lists(Vec::new()),
            Workload::RwRegister => Store::Registers(Vec::new()),
        }
    }

    /// Applies a transaction's micro-ops in order and returns its value as
    /// completed: each read shows the key's state at that point of the
    /// transaction (its own earlier writes included).
    fn apply(&mut self, workload: Workload, mops: &[Mop]) -> Value {
        let mut done = Vec::with_capacity(mops.len());
        for mop in mops {
            let key = mop.key as usize;
            let read = match self {
                Store::Lists(lists) => {
                    if lists.len() <= key {
                        lists.resize_with(key + 1, Vec::new);
                    }
                    match mop.write {
                        Some(v) => {
                            lists[key].push(v);
                            Value::Null
                        }
                        None => Value::Array(lists[key].iter().map(|&v| Value::from(v)).collect()),
                    }
                }
                Store::Registers(registers) => {
                    if registers.len() <= key {
                        registers.resize(key + 1, None);
                    }
                    match mop.write {
                        Some(v) => {
                            registers[key] = Some(v);
                            Value::Null
                        }
                        None => registers[key].map_or(Value::Null, Value::from),
                    }
                }
            };
            done.push(mop_value(workload, mop, read));
        }
        Value::Array(done)
    }
}

/// A transaction's value as invoked: reads of `null`.
fn invocation_value(workload: Workload, mops: &[Mop]) -> Value {
    Value::Array(
        mops.iter()
            .map(|mop| mop_value(workload, mop, Value::Null))
            .collect(),
    )
}

/// One micro-op in Maelstrom's shape; `read` is what a read saw.
fn mop_value(workload: Workload, mop: &Mop, read: Value) -> Value {
    let (f, last) = match mop.write {
        Some(v) => (workload.write_f(), Value::from(v)),
        None => ("r", read),
    };
    Value::Array(vec![Value::from(f), Value::from(mop.key), last])
}

/// How a transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    /// Refused: no effect.
    Fail,
    /// Unknown to the client; `applied` says whether it took effect.
    Info {
        applied: bool,
    },
}

impl Outcome {
    fn applies(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Info { applied: true })
    }
}

/// What a process slot does at its next event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Invoke,
    Commit,
    Complete,
}

/// One client process slot: a sequence of processes (a new one after each
/// crash), one transaction at a time.
struct Slot {
    process: u64,
    next: Step,
    mops: Vec<Mop>,
    outcome: Outcome,
    invoke_index: u64,
    complete_ns: u64,
    /// An `ok` transaction's completed value, filled in at its commit.
    completed: Value,
}

/// Generates a transactional history op by op, in time order, with
/// `index` 0, 1, 2, ...: an iterator over [`Op`]s, so a large history can
/// be written as it is made (`lightcone gen list-append`). See the module
/// documentation for what it simulates.
pub struct TxnGenerator {
    workload: Workload,
    planner: TxnPlanner,
    /// The stream the planner draws from.
    draws: Rng,
    store: Store,
    timing: Rng,
    faults: Rng,
    fail_permille: u64,
    info_permille: u64,
    processes: u64,
    slots: Vec<Slot>,
    /// Each busy slot's next event: (time, sequence number, slot). The
    /// sequence number orders events at the same time by when they were
    /// scheduled. Holds at most one event per slot.
    events: BinaryHeap<Reverse<(u64, u64, usize)>>,
    scheduled: u64,
    /// Transactions not yet scheduled to be invoked.
    txns_unscheduled: usize,
    next_index: u64,
    commit_order: Option<Vec<u64>>,
}

impl TxnGenerator {
    /// A generator of `options.txns` transactions of `workload`.
    pub fn new(
        workload: Workload,
        seed: u64,
        options: &GenOptions,
    ) -> Result<TxnGenerator, GenError> {
        options.validate()?;
        let slots = (0..options.processes as u64)
            .map(|process| Slot {
                process,
                next: Step::Invoke,
                mops: Vec::new(),
                outcome: Outcome::Ok,
                invoke_index: 0,
                complete_ns: 0,
                completed: Value::Null,
            })
            .collect();
        let mut draws = Rng::new(seed, STREAM_TXNS);
        let mut generator = TxnGenerator {
            workload,
            planner: TxnPlanner::new(&mut draws, options),
            draws,
            store: Store::new(workload),
            timing: Rng::new(seed, STREAM_TIMING),
            faults: Rng::new(seed, STREAM_FAULTS),
            fail_permille: u64::from(options.fail_permille),
            info_permille: u64::from(options.info_permille),
            processes: options.processes as u64,
            slots,
            events: BinaryHeap::with_capacity(options.processes),
            scheduled: 0,
            txns_unscheduled: options.txns,
            next_index: 0,
            commit_order: None,
        };
        for slot in 0..options.processes {
            let start = generator.timing.below(THINK_NS_MAX + 1);
            generator.schedule_invoke(slot, start);
        }
        Ok(generator)
    }

    /// Also records the order transactions take effect in, for
    /// [`TxnGenerator::take_commit_order`] (8 bytes a transaction).
    pub fn recording_commit_order(mut self) -> TxnGenerator {
        self.commit_order = Some(Vec::new());
        self
    }

    /// The invocation index of every transaction that took effect so far,
    /// in the order they took effect (empty unless recording).
    pub fn take_commit_order(&mut self) -> Vec<u64> {
        self.commit_order
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn schedule(&mut self, slot: usize, time: u64, step: Step) {
        self.slots[slot].next = step;
        self.events.push(Reverse((time, self.scheduled, slot)));
        self.scheduled += 1;
    }

    /// Schedules the slot's next invocation, if transactions remain.
    fn schedule_invoke(&mut self, slot: usize, time: u64) {
        if self.txns_unscheduled > 0 {
            self.txns_unscheduled -= 1;
            self.schedule(slot, time, Step::Invoke);
        }
    }

    fn take_index(&mut self) -> u64 {
        self.next_index += 1;
        self.next_index - 1
    }

    fn draw_outcome(&mut self) -> Outcome {
        if self.fail_permille == 0 && self.info_permille == 0 {
            return Outcome::Ok;
        }
        let draw = self.faults.below(1000);
        if draw < self.fail_permille {
            Outcome::Fail
        } else if draw < self.fail_permille + self.info_permille {
            Outcome::Info {
                applied: self.faults.below(2) == 1,
            }
        } else {
            Outcome::Ok
        }
    }

    /// Draws the slot's next transaction, its outcome and its timing, and
    /// returns its invocation.
    fn invoke(&mut self, slot: usize, time: u64) -> Op {
        let mops = self.planner.plan(&mut self.draws);
        let outcome = self.draw_outcome();
        let duration_ns = self.timing.in_range(DURATION_NS_MIN, DURATION_NS_MAX + 1);
        let value = invocation_value(self.workload, &mops);
        let index = self.take_index();
        let s = &mut self.slots[slot];
        s.mops = mops;
        s.outcome = outcome;
        s.invoke_index = index;
        s.complete_ns = time + duration_ns;
        let process = s.process;
        if outcome.applies() {
            // Strictly inside the interval: after the invocation, before
            // the completion.
            let commit = time + self.timing.in_range(1, duration_ns);
            self.schedule(slot, commit, Step::Commit);
        } else {
            self.schedule(slot, time + duration_ns, Step::Complete);
        }
        txn_op(process, OpType::Invoke, value, time, index)
    }

    /// The slot's transaction takes effect, atomically, now.
    fn commit(&mut self, slot: usize) {
        let s = &mut self.slots[slot];
        s.completed = self.store.apply(self.workload, &s.mops);
        if let Some(order) = &mut self.commit_order {
            order.push(s.invoke_index);
        }
        let complete_ns = s.complete_ns;
        self.schedule(slot, complete_ns, Step::Complete);
    }

    /// The slot's transaction completes; the slot thinks, then invokes its
    /// next one (as a new process after an `info`).
    fn complete(&mut self, slot: usize, time: u64) -> Op {
        let index = self.take_index();
        let s = &mut self.slots[slot];
        let process = s.process;
        let (kind, value, error) = match s.outcome {
            Outcome::Ok => (OpType::Ok, std::mem::take(&mut s.completed), None),
            Outcome::Fail => (
                OpType::Fail,
                invocation_value(self.workload, &s.mops),
                Some(json!(["txn-conflict", "the transaction was aborted"])),
            ),
            Outcome::Info { .. } => {
                s.process += self.processes;
                s.completed = Value::Null;
                (
                    OpType::Info,
                    invocation_value(self.workload, &s.mops),
                    Some(json!("net-timeout")),
                )
            }
        };
        let mut op = txn_op(process, kind, value, time, index);
        op.error = error.map(Box::new);
        let think_ns = self.timing.in_range(1, THINK_NS_MAX + 1);
        self.schedule_invoke(slot, time + think_ns);
        op
    }
}

impl Iterator for TxnGenerator {
    type Item = Op;

    fn next(&mut self) -> Option<Op> {
        while let Some(Reverse((time, _, slot))) = self.events.pop() {
            match self.slots[slot].next {
                Step::Invoke => return Some(self.invoke(slot, time)),
                Step::Commit => self.commit(slot),
                Step::Complete => return Some(self.complete(slot, time)),
            }
        }
        None
    }
}

fn txn_op(process: u64, kind: OpType, value: Value, time: u64, index: u64) -> Op {
    let mut op = Op::new(Process::Client(process), kind, "txn", value).at(time);
    op.index = index;
    op
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_index_weighs_index_i_as_base_to_the_i() {
        let mut rng = Rng::new(1, 0);
        let n = 5;
        let draws = 310_000;
        let mut counts = vec![0u64; n];
        for _ in 0..draws {
            counts[exponential_index(&mut rng, n)] += 1;
        }
        // 2^i / (2^5 - 1) of the draws each: 10,000, 20,000, ... 160,000.
        for (i, &count) in counts.iter().enumerate() {
            let expected = 10_000.0 * 2f64.powi(i as i32);
            assert!(
                (count as f64 - expected).abs() < 0.05 * expected,
                "index {i}: {count} draws, expected about {expected}"
            );
        }
    }

    #[test]
    fn exponential_index_agrees_with_elles_formula_and_stays_in_range() {
        let elle = |u: f64, n: usize| {
            let b = KEY_DIST_BASE;
            let scale = (b.powi(n as i32) - 1.0) * b / (b - 1.0);
            ((u * scale + b).log(b) - 1.0).floor() as usize
        };
        let mut rng = Rng::new(2, 0);
        for n in [1, 2, 3, 10, 40] {
            for _ in 0..10_000 {
                let mut copy = rng.clone();
                let u = copy.unit();
                let ours = exponential_index(&mut rng, n);
                assert_eq!(ours, elle(u, n).min(n - 1), "n {n}, u {u}");
            }
        }
        for n in [1_000, 100_000] {
            for _ in 0..1000 {
                assert!(exponential_index(&mut rng, n) < n);
            }
        }
    }

    #[test]
    fn zipf_follows_its_law() {
        let mut rng = Rng::new(3, 0);
        let n = 16u64;
        let draws = 200_000;
        let mut counts = vec![0u64; n as usize];
        for _ in 0..draws {
            counts[zipf(&mut rng, n) as usize] += 1;
        }
        let weights: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-ZIPF_SKEW)).collect();
        let total: f64 = weights.iter().sum();
        for (k, (&count, w)) in counts.iter().zip(&weights).enumerate() {
            let expected = draws as f64 * w / total;
            assert!(
                (count as f64 - expected).abs() < 0.05 * expected + 100.0,
                "rank {k}: {count} draws, expected about {expected}"
            );
        }
        assert_eq!(zipf(&mut rng, 1), 0);
        assert_eq!(zipf(&mut rng, 0), 0);
    }

    #[test]
    fn options_are_refused_with_their_flag_and_the_fix() {
        let refused = |change: fn(&mut GenOptions)| {
            let mut o = GenOptions::default();
            change(&mut o);
            o.validate().unwrap_err().to_string()
        };
        assert!(GenOptions::default().validate().is_ok());
        let e = refused(|o| o.processes = 0);
        assert!(e.starts_with("--processes 0 is out of range"), "{e}");
        let e = refused(|o| o.max_txn_length = 0);
        assert!(e.contains("--max-txn-length 0") && e.contains("--min-txn-length (1)"));
        let e = refused(|o| o.key_count = 0);
        assert!(e.starts_with("--key-count 0"), "{e}");
        let e = refused(|o| o.max_writes_per_key = 0);
        assert!(e.starts_with("--max-writes-per-key 0"), "{e}");
        let e = refused(|o| o.fail_permille = 1001);
        assert!(e.starts_with("--fail-permille 1001"), "{e}");
        let e = refused(|o| {
            o.fail_permille = 600;
            o.info_permille = 600;
        });
        assert!(e.contains("add up to more than 1000"), "{e}");
    }

    #[test]
    fn inject_adds_the_gadget_or_names_the_anomalies_it_has() {
        let options = GenOptions {
            txns: 5,
            ..GenOptions::default()
        };
        let mut history = rw_register_history(1, &options);
        let before = history.clone();
        let e = inject(&mut history, Workload::RwRegister, "G0", 3).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("--inject \"G0\": a rw-register history has no such anomaly"),
            "{text}"
        );
        assert!(text.contains("G1a, G1b, G1c,"), "{text}");
        assert_eq!(history, before);

        let gadget = gadgets::gadget("rw-register", "g1c").unwrap();
        inject(&mut history, Workload::RwRegister, "g1c", 3).unwrap();
        assert_eq!(history.len(), before.len() + gadget.len());
    }
}
