//! Consistency models below sequential consistency, decided on register
//! and key-value histories: the three causal models of Bouajjani, Enea,
//! Guerraoui and Hamza ("On verifying causal consistency", POPL 2017),
//! PRAM, and the four session guarantees of Terry et al. (PDIS 1994).
//!
//! The models ([`MODEL_NAMES`]):
//! - `causal-memory` (CM, Ahamad et al. 1995): each process sees one
//!   order of its causal past in which all its own reads are legal.
//! - `causal-convergence` (CCv): one arbitration order of all writes,
//!   extending causality, decides every read among its causal past (the
//!   causal consistency of geo-replicated stores with last-writer-wins).
//! - `causal` (CC, the weakest): each read alone is legal in some order
//!   of its causal past.
//! - `pram` (Lipton & Sandberg 1988): each process sees every process's
//!   writes in that process's order, its own ops in its own order.
//! - `read-your-writes`, `monotonic-reads`, `monotonic-writes`,
//!   `writes-follow-reads`: Terry's guarantees, each client process a
//!   session (formalisation in `session.rs`).
//!
//! The hierarchy, stronger first: linearizable > sequential >
//! {causal-memory, causal-convergence} > causal > writes-follow-reads, and
//! causal-memory > pram > {read-your-writes, monotonic-reads,
//! monotonic-writes}. Not every arrow of the textbook picture holds for
//! these definitions: Bouajjani's causal does not imply pram (nor
//! read-your-writes with monotonic-reads): it lets each read pick its own
//! order (`tests/ladder/cc-not-cm.jsonl`); causal-convergence does not
//! imply pram either, since a read there answers only to its causal past
//! (`tests/ladder/ccv-not-cm.jsonl`); and pram does not imply
//! writes-follow-reads (`tests/ladder/wfr-only.jsonl`). Monotonic-writes
//! alone is never violated by a history without a thin-air read (see
//! `session.rs`).
//!
//! How ops are read: each client invocation is paired with its process's
//! next completion. `ok` took effect; `fail` did not and is dropped; `info`
//! (or no completion) may or may not have: its write is kept if some read
//! observes its value, else dropped, and an indeterminate read tells
//! nothing. A `cas [from, to]` that is ok reads `from` and atomically
//! writes `to`. `read`/`get`, `write`/`put` and `cas` only: any other
//! function is unknown, never invalid. The nemesis is ignored. With
//! [`WeakOptions::keyed`], values are Jepsen independent tuples
//! `[key, v]`: each key a register, causality spanning keys.
//!
//! The checks are polynomial for *differentiated* histories (each value
//! written at most once per key, never the initial value): each read then
//! reads from one known write. Otherwise the reads of an ambiguous value
//! (written twice, or the initial value once written) are left out, as
//! if they read nothing, and indeterminate writes of such values are
//! dropped: every bad pattern found without them is made of certain
//! reads-from edges and writes that happened, so it holds whatever the
//! ambiguous reads read, and the verdict is invalid; finding none, the
//! verdict is unknown, with the key and value written twice. A read of a
//! value nothing writes (ThinAirRead) is invalid under every model.
//!
//! How each is decided, for n events and P client processes (cost and
//! bounds):
//! - The causal order `po ∪ wr` is sorted once (Kahn's algorithm; a
//!   cycle is CyclicCO) and summarised by vector clocks, n x P entries,
//!   past [`WeakOptions::clock_entries_max`] unknown.
//! - causal: for each read and each process writing its key, that
//!   process's last write of the key causally before the read (a binary
//!   search): WriteCOInitRead and WriteCORead. O(n P log n).
//! - causal-convergence: those last writes give at most P conflict edges
//!   per read; one more topological sort finds CyclicCF. O(n P log n).
//! - causal-memory and pram: per process, rounds of saturation (each write
//!   before a read of the process goes before the write the read reads),
//!   each round O(n P log n), at most
//!   [`WeakOptions::saturation_rounds_max`] rounds (unknown past it); the
//!   processes in parallel on rayon's pool, each busy thread holding its
//!   own clocks.
//! - The session guarantees: one pass per process, O(n log n).
//!
//! ```
//! use lightcone_history::History;
//! use lightcone_weak::{check, WeakOptions};
//! use lightcone_check::Validity;
//!
//! // Process 1 reads 2 then 1: it sees process 0's writes out of order.
//! let h = History::from_jsonl(concat!(
//!     r#"{"process":0,"type":"invoke","f":"write","value":1}"#, "\n",
//!     r#"{"process":0,"type":"ok","f":"write","value":1}"#, "\n",
//!     r#"{"process":0,"type":"invoke","f":"write","value":2}"#, "\n",
//!     r#"{"process":0,"type":"ok","f":"write","value":2}"#, "\n",
//!     r#"{"process":1,"type":"invoke","f":"read","value":null}"#, "\n",
//!     r#"{"process":1,"type":"ok","f":"read","value":2}"#, "\n",
//!     r#"{"process":1,"type":"invoke","f":"read","value":null}"#, "\n",
//!     r#"{"process":1,"type":"ok","f":"read","value":1}"#, "\n",
//! )).unwrap();
//! let r = check(&h, "causal", &WeakOptions::default()).unwrap();
//! assert_eq!(r.valid, Validity::Invalid);
//! assert_eq!(r.witness.unwrap().name, "WriteCORead");
//! let r = check(&h, "monotonic-reads", &WeakOptions::default()).unwrap();
//! assert_eq!(r.valid, Validity::Valid);
//! ```

#![forbid(unsafe_code)]

mod causal;
mod order;
mod prepare;
mod session;

use lightcone_check::Validity;
use lightcone_history::History;
use serde_json::Value;

use causal::{CausalOrder, Found};
use prepare::{Early, Prepared};

/// The models, by name.
pub const MODEL_NAMES: &[&str] = &[
    "causal",
    "causal-convergence",
    "causal-memory",
    "pram",
    "read-your-writes",
    "monotonic-reads",
    "monotonic-writes",
    "writes-follow-reads",
];

/// How to read a history, and the bounds of the checks.
#[derive(Debug, Clone, PartialEq)]
pub struct WeakOptions {
    /// Values are Jepsen independent tuples `[key, v]`.
    pub keyed: bool,
    /// The value of every key before any write.
    pub initial: Value,
    /// At most this many vector clock entries (events x processes, 4
    /// bytes each); past it the verdict of the causal models and PRAM is
    /// unknown.
    pub clock_entries_max: usize,
    /// At most this many rounds of the causal-memory and PRAM
    /// saturations per process; past it the verdict is unknown.
    pub saturation_rounds_max: usize,
}

impl Default for WeakOptions {
    fn default() -> WeakOptions {
        WeakOptions {
            keyed: false,
            initial: Value::Null,
            clock_entries_max: 1 << 26,
            saturation_rounds_max: 64,
        }
    }
}

impl WeakOptions {
    /// What is wrong with these options, if anything.
    pub fn validate(&self) -> Result<(), String> {
        if self.clock_entries_max == 0 {
            return Err("clock_entries_max is 0: no history with an op could be checked; give it a positive bound (the default is 2^26)".to_string());
        }
        if self.saturation_rounds_max == 0 {
            return Err("saturation_rounds_max is 0: causal-memory and pram could decide nothing; give it a positive bound (the default is 64)".to_string());
        }
        Ok(())
    }

    /// The options for a key-value history of `[key, v]` tuples.
    pub fn keyed() -> WeakOptions {
        WeakOptions {
            keyed: true,
            ..WeakOptions::default()
        }
    }
}

/// A violation: a bad pattern of the paper (or of the formalisation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPattern {
    /// The pattern's name, e.g. "WriteCORead".
    pub name: &'static str,
    /// History indices of the invocations involved, sorted.
    pub ops: Vec<u64>,
    /// What happened, in words.
    pub description: String,
}

/// The verdict of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct WeakResult {
    pub model: &'static str,
    pub valid: Validity,
    /// Why the verdict is unknown.
    pub reason: Option<String>,
    /// Why the verdict is invalid.
    pub witness: Option<BadPattern>,
    /// Client operations (invocations) in the history.
    pub op_count: usize,
}

fn model_name(model: &str) -> Result<&'static str, String> {
    MODEL_NAMES
        .iter()
        .copied()
        .find(|&m| m == model)
        .ok_or_else(|| {
            format!(
                "no weak consistency model is called `{model}`; the models are {}",
                MODEL_NAMES.join(", ")
            )
        })
}

/// Decides one model.
/// An unknown model name, or invalid options, is an error.
pub fn check(history: &History, model: &str, options: &WeakOptions) -> Result<WeakResult, String> {
    let model = model_name(model)?;
    options.validate()?;
    let mut shared = Shared::new(history, options);
    Ok(shared.check(model))
}

/// Decides every model of [`MODEL_NAMES`], reading the history and
/// building the causal order once. Options that do not
/// [`WeakOptions::validate`] give every model unknown, with the reason.
pub fn check_all(history: &History, options: &WeakOptions) -> Vec<WeakResult> {
    if let Err(reason) = options.validate() {
        let op_count = history
            .iter()
            .filter(|op| op.is_client() && op.is_invoke())
            .count();
        return MODEL_NAMES
            .iter()
            .map(|&model| WeakResult {
                model,
                valid: Validity::Unknown,
                reason: Some(reason.clone()),
                witness: None,
                op_count,
            })
            .collect();
    }
    let mut shared = Shared::new(history, options);
    MODEL_NAMES.iter().map(|m| shared.check(m)).collect()
}

/// What the models share: the prepared history and the causal order.
struct Shared<'a> {
    options: &'a WeakOptions,
    op_count: usize,
    prepared: Result<Prepared, Early>,
    /// Built on first use: the order, or what its building found.
    causal: Option<Result<CausalOrder, Found>>,
    /// CC's own verdict, shared by the stronger causal models.
    cc: Option<Found>,
}

impl<'a> Shared<'a> {
    fn new(history: &History, options: &'a WeakOptions) -> Shared<'a> {
        let op_count = history
            .iter()
            .filter(|op| op.is_client() && op.is_invoke())
            .count();
        Shared {
            options,
            op_count,
            prepared: prepare::prepare(history, options),
            causal: None,
            cc: None,
        }
    }

    fn check(&mut self, model: &'static str) -> WeakResult {
        let found = match &self.prepared {
            Err(Early::Invalid(bad)) => Found::Bad(bad.clone()),
            Err(Early::Unknown(reason)) => Found::Unknown(reason.clone()),
            Ok(prepared) => {
                let uncertain = prepared.uncertain.clone();
                match (self.decide(model), uncertain) {
                    // Found with the ambiguous reads left out: it holds
                    // whatever they read.
                    (Found::Nothing, Some(reason)) => Found::Unknown(reason),
                    (found, _) => found,
                }
            }
        };
        let (valid, reason, witness) = match found {
            Found::Nothing => (Validity::Valid, None, None),
            Found::Bad(bad) => (Validity::Invalid, None, Some(bad)),
            Found::Unknown(reason) => (Validity::Unknown, Some(reason), None),
        };
        WeakResult {
            model,
            valid,
            reason,
            witness,
            op_count: self.op_count,
        }
    }

    fn decide(&mut self, model: &'static str) -> Found {
        let prepared = self.prepared.as_ref().expect("decided only when prepared");
        let options = self.options;
        match model {
            "pram" => return causal::check_pram(prepared, options),
            "read-your-writes" => return session::check_read_your_writes(prepared),
            "monotonic-reads" => return session::check_monotonic_reads(prepared),
            "monotonic-writes" => return Found::Nothing,
            "writes-follow-reads" => return session::check_writes_follow_reads(prepared),
            _ => {}
        }
        let order = self
            .causal
            .get_or_insert_with(|| causal::causal_order(prepared, options));
        let order = match order {
            Ok(order) => order,
            Err(found) => return clone_found(found),
        };
        let cc = self
            .cc
            .get_or_insert_with(|| causal::check_cc(prepared, order));
        if !matches!(cc, Found::Nothing) {
            return clone_found(cc);
        }
        match model {
            "causal" => Found::Nothing,
            "causal-convergence" => causal::check_ccv(prepared, order),
            "causal-memory" => causal::check_cm(prepared, options, order),
            _ => unreachable!("every model name is handled"),
        }
    }
}

fn clone_found(found: &Found) -> Found {
    match found {
        Found::Nothing => Found::Nothing,
        Found::Bad(bad) => Found::Bad(bad.clone()),
        Found::Unknown(reason) => Found::Unknown(reason.clone()),
    }
}
