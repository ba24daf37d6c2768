//! Reference nodes, one per workload, built on the SDK. They are what
//! `lightcone test` runs when no `--bin` is given (as `lightcone node NAME`),
//! and they are the worked examples for people writing their own.
//!
//! A host parses a node's name and flags once into a [`NodeSpec`] and
//! builds a node from it at every start and restart
//! ([`NodeSpec::build`]); `lightcone node NAME --help` lists the flags.

pub mod available_txn;
pub mod broadcast;
pub mod counter;
pub mod crdt_counter;
pub mod crdt_gossip;
pub mod crdt_set;
pub mod echo;
mod flags;
pub mod kafka;
mod kind;
pub mod lin_kv;
pub mod paxos_kv;
pub mod raft_kv;
mod replicated_kv;
mod spec;
pub mod transactor;
pub mod unique_ids;

use lightcone_sdk::{NodeRuntime, StdioError, Storage, NANOS_PER_MS};

pub use spec::{NodeSpec, SpecError};

/// How long a reference node waits for a service's answer to an RPC
/// (lin-kv, seq-kv) before it gives up on it. The RPC may still have taken
/// effect, so a node that gives up on a write answers with an indefinite
/// error. One value for every node that calls a service (`counter`,
/// `kafka`, `lin-kv --proxy`); the Raft store waits `--request-ms` and the
/// gossip nodes retry on their own schedules instead.
pub const RPC_TIMEOUT_NS: u64 = 1000 * NANOS_PER_MS;

/// The reference nodes, by the name of the workload each serves (the one
/// list, `lightcone_proto::WORKLOAD_NAMES`), which the command line's help
/// and errors show.
pub const NAMES: &[&str] = lightcone_sdk::WORKLOAD_NAMES;

/// Parses and builds in one go: the reference node `name` with its flags
/// `args`. A host that starts the node more than once (the simulator
/// restarts nodes) should parse a [`NodeSpec`] once and build from it.
pub fn runtime(
    name: &str,
    args: &[String],
    seed: u64,
    storage: Box<dyn Storage>,
) -> Result<Box<dyn NodeRuntime>, SpecError> {
    Ok(NodeSpec::parse(name, args)?.build(seed, storage))
}

/// Whether `g-counter` / `pn-counter` without `--crdt` or `--seq-kv` run the
/// delta-CRDT node: pn-counter does (totally available, convergent);
/// g-counter keeps the seq-kv node that fly.io's challenge asks for.
pub fn counter_default_is_crdt(name: &str) -> bool {
    name == "pn-counter"
}

/// Runs the node `spec` describes on stdin/stdout until stdin closes, with
/// the seed and storage the workbench gives the process.
pub fn run(spec: &NodeSpec) -> Result<(), StdioError> {
    let (seed, storage) = lightcone_sdk::process_seed_and_storage()?;
    let mut node = spec.build(seed, storage);
    lightcone_sdk::run_stdio_runtime(node.as_mut())
}

/// An `add` request's integer `delta` (the counters' nodes).
pub(crate) fn add_delta(msg: &lightcone_sdk::Envelope) -> Result<i64, lightcone_sdk::NodeError> {
    msg.body
        .get_i64("delta")
        .ok_or_else(|| lightcone_sdk::NodeError::malformed("add needs an integer `delta`"))
}
