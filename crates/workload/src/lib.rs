//! Workloads: for each of Maelstrom's workloads, what a client asks of a
//! node ([`Workload::next_op`], [`Workload::request`]), how a reply becomes
//! a history event ([`Workload::complete`]), what is said to the nodes
//! before the test ([`Workload::setup`]), the final reads after healing,
//! and which checker decides.
//!
//! Sans-IO and deterministic: all randomness comes from the [`Rng`] passed
//! in.

mod broadcast;
mod counter;
mod echo;
mod g_set;
mod kafka;
mod lin_kv;
mod rng;
pub mod topology;
mod unique_ids;

use lightcone_check::CheckResult;
use lightcone_history::History;
use lightcone_proto::{Body, ErrorCode, Value};

pub use broadcast::Broadcast;
pub use counter::Counter;
pub use echo::Echo;
pub use g_set::GSet;
pub use kafka::Kafka;
pub use lin_kv::LinKv;
pub use rng::Rng;
pub use topology::Topology;
pub use unique_ids::UniqueIds;

/// An operation a client is about to invoke.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub f: String,
    pub value: Value,
}

impl Invocation {
    pub fn new(f: &str, value: Value) -> Invocation {
        Invocation {
            f: f.to_string(),
            value,
        }
    }
}

/// The client (Jepsen worker) an operation is for: its fixed index and
/// its current process (a new one after each crash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Worker {
    pub index: usize,
    pub process: u64,
}

/// One of Maelstrom's workloads.
pub trait Workload: Send {
    fn name(&self) -> &'static str;

    /// A request to send to `node` once before the test starts (broadcast
    /// sends its topology), or none.
    fn setup(&self, _node: &str) -> Option<Body> {
        None
    }

    /// Says why `concurrency` clients over `node_count` nodes cannot run
    /// this workload.
    fn validate(&self, _concurrency: usize, _node_count: usize) -> Result<(), String> {
        Ok(())
    }

    /// How long a client waits for a reply.
    fn client_timeout_ns(&self, default_ns: u64, _latency_mean_ns: u64) -> u64 {
        default_ns
    }

    /// The next operation for `worker`.
    fn next_op(&mut self, rng: &mut Rng, worker: Worker) -> Invocation;

    /// The request body that performs `op` (without msg_id).
    fn request(&self, op: &Invocation) -> Body;

    /// Turns a non-error reply into the ok value, or says what is wrong
    /// with the reply. Takes the reply by value so large results move, not
    /// copy.
    fn complete(&mut self, worker: Worker, op: &Invocation, reply: Body) -> Result<Value, String>;

    /// An error reply that is in fact a result (lin-kv: reading a missing
    /// key observes that it is absent): the ok value, or `None` to apply
    /// the usual definite/indefinite rules.
    fn on_error(&mut self, _worker: Worker, _op: &Invocation, _code: ErrorCode) -> Option<Value> {
        None
    }

    /// `worker`'s process crashed (its op is `info`); the worker goes on as
    /// a new process with a fresh client.
    fn crashed(&mut self, _worker: Worker) {}

    /// Operations that may be retried or safely counted as failed when their
    /// outcome is unknown (reads): a timeout makes them `fail`, not `info`.
    fn is_idempotent(&self, f: &str) -> bool;

    /// The operation every client performs once after healing, if the
    /// workload has final reads.
    fn final_op(&self, _worker: Worker) -> Option<Invocation> {
        None
    }

    /// The workload's own checker.
    fn check(&self, history: &History) -> CheckResult;
}

/// Maelstrom's `gen/mix` of an add-like op and a read, half and half:
/// broadcast, g-set and the counters.
pub(crate) fn add_or_read(rng: &mut Rng, add: impl FnOnce(&mut Rng) -> Invocation) -> Invocation {
    if rng.below(2) == 0 {
        add(rng)
    } else {
        Invocation::new("read", Value::Null)
    }
}

/// The `field` of a reply that must be of type `kind`, moved out.
pub(crate) fn take_field(reply: &mut Body, kind: &str, field: &str) -> Result<Value, String> {
    if reply.kind != kind {
        return Err(format!("expected {kind}, got {:?}", reply.kind));
    }
    reply
        .fields
        .remove(field)
        .ok_or_else(|| format!("{kind} has no `{field}` field"))
}

/// Why a workload could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkloadError {
    #[error("unknown workload {name:?}; lightcone runs {}", NAMES.join(", "))]
    Unknown { name: String },
    #[error("{message}")]
    Invalid { message: String },
}

/// The workloads lightcone runs.
pub const NAMES: &[&str] = &[
    "echo",
    "unique-ids",
    "broadcast",
    "g-set",
    "g-counter",
    "pn-counter",
    "lin-kv",
    "kafka",
];

/// Options some workloads take.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadOptions {
    pub nodes: Vec<String>,
    pub topology: Topology,
    /// Keys for kafka (`--key-count`).
    pub key_count: Option<u64>,
}

/// Builds a workload by its Maelstrom name.
pub fn build(name: &str, options: &WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError> {
    Ok(match name {
        "echo" => Box::new(Echo),
        "unique-ids" => Box::new(UniqueIds),
        "broadcast" => Box::new(Broadcast::new(options.topology.build(&options.nodes))),
        "g-set" => Box::new(GSet::default()),
        "g-counter" => Box::new(Counter::grow_only()),
        "pn-counter" => Box::new(Counter::positive_negative()),
        "lin-kv" => Box::new(LinKv::new(options.nodes.len())),
        "kafka" => Box::new(Kafka::new(options.key_count.unwrap_or(8) as usize)),
        _ => {
            return Err(WorkloadError::Unknown {
                name: name.to_string(),
            })
        }
    })
}
