//! Workloads: for each of Maelstrom's workloads, what a client asks of a
//! node ([`Workload::next_op`], [`Workload::request`]), how a reply becomes
//! a history event ([`Workload::complete`]), what is said to the nodes
//! before the test ([`Workload::setup`]), the final reads after healing,
//! and which checker decides.
//!
//! Sans-IO and deterministic: all randomness comes from the [`Rng`] passed
//! in.

mod broadcast;
mod echo;
mod rng;
pub mod topology;
mod unique_ids;

use lightcone_check::CheckResult;
use lightcone_history::History;
use lightcone_proto::{Body, Value};

pub use broadcast::Broadcast;
pub use echo::Echo;
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

/// One of Maelstrom's workloads.
pub trait Workload: Send {
    fn name(&self) -> &'static str;

    /// A request to send to `node` once before the test starts (broadcast
    /// sends its topology), or none.
    fn setup(&self, _node: &str) -> Option<Body> {
        None
    }

    /// The next operation for the generator to hand out.
    fn next_op(&mut self, rng: &mut Rng) -> Invocation;

    /// The request body that performs `op` (without msg_id).
    fn request(&self, op: &Invocation) -> Body;

    /// Turns a non-error reply into the ok value, or says what is wrong
    /// with the reply.
    /// Takes the reply by value so large results move, not copy.
    fn complete(&self, op: &Invocation, reply: Body) -> Result<Value, String>;

    /// Operations that may be retried or safely counted as failed when their
    /// outcome is unknown (reads): a timeout makes them `fail`, not `info`.
    fn is_idempotent(&self, f: &str) -> bool;

    /// The operation every client performs once after healing, if the
    /// workload has final reads.
    fn final_op(&self) -> Option<Invocation> {
        None
    }

    /// The workload's own checker.
    fn check(&self, history: &History) -> CheckResult;
}

/// Why a workload could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkloadError {
    #[error("unknown workload {name:?}; lightcone runs {}", NAMES.join(", "))]
    Unknown { name: String },
}

/// The workloads lightcone runs.
pub const NAMES: &[&str] = &["echo", "unique-ids", "broadcast"];

/// Options some workloads take.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadOptions {
    pub nodes: Vec<String>,
    pub topology: Topology,
}

/// Builds a workload by its Maelstrom name.
pub fn build(name: &str, options: &WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError> {
    Ok(match name {
        "echo" => Box::new(Echo),
        "unique-ids" => Box::new(UniqueIds),
        "broadcast" => Box::new(Broadcast::new(options.topology.build(&options.nodes))),
        _ => {
            return Err(WorkloadError::Unknown {
                name: name.to_string(),
            })
        }
    })
}
