//! The deterministic simulator: lightcone's SDK nodes run in-process, on
//! virtual time, against the sans-IO test core (`lightcone-core`), every
//! random choice drawn from one seed. The same seed writes the same history,
//! byte for byte.
//!
//! [`Simulation`] runs one test: it holds each node as a
//! `lightcone_sdk::NodeRuntime` built by a factory, jumps virtual time from
//! deadline to deadline, and carries out the core's effects (deliveries,
//! crashes and restarts with storage kept, pauses, clock skews). A single
//! simulation runs on one thread; [`sweep`] runs many seeds at once on
//! every core, and [`shrink`] makes a failing configuration smaller while it
//! still fails.

mod simulate;
mod sweep;

pub use simulate::{NodeFactory, SimStats, Simulation};
pub use sweep::{run_seed, shrink, sweep, sweep_each, SeedOutcome, SharedFactory};
