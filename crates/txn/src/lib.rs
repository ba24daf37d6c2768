//! The transactional checker: Elle's verdicts and Elle's names for
//! list-append and rw-register histories.
//!
//! A history's operations are transactions (`f` `txn`, a value that is a
//! list of micro-ops: `["append", k, v]`, `["r", k, [v...]]`, `["w", k, v]`,
//! `["r", k, v]`, in Maelstrom's shape or Jepsen's keywords). The checker
//! infers each key's version order as Elle does, derives the dependency
//! graph between transactions (ww, wr, rw, and process or real-time order),
//! finds the anomalies the requested consistency models forbid, and says
//! which models the history rules out (`not`, `also-not`).
//!
//! - `consistency.rs`: Elle's consistency-model lattice and anomaly
//!   implications (elle/consistency_model.clj).
//! - `gen.rs`: list-append and rw-register histories for tests and
//!   benchmarks, with an optional injected anomaly.

pub mod consistency;
pub mod gen;
