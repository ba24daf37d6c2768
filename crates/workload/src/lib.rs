//! Workloads: for each of Maelstrom's workloads, what a client asks of a
//! node ([`Workload::next_op`], [`Workload::request`]), how a reply becomes
//! a history event ([`Workload::complete`]), what is said to the nodes
//! before the test ([`Workload::setup`]), the final reads after healing,
//! and which checker decides.
//!
//! Sans-IO and deterministic: all randomness comes from the [`Rng`](lightcone_rng::Rng) passed
//! in.

mod add_read;
mod broadcast;
mod counter;
mod echo;
mod g_set;
mod kafka;
pub mod ladder;
mod lin_kv;
pub mod topology;
mod txn;
mod unique_ids;

use lightcone_check::CheckResult;
use lightcone_history::History;
use lightcone_proto::{Body, ErrorCode, Value};
use lightcone_rng::Rng;
use serde::Serialize;

pub use add_read::{AddRead, Adds};
pub use broadcast::Broadcast;
pub use counter::Counter;
pub use echo::Echo;
pub use g_set::GSet;
pub use kafka::Kafka;
pub use lin_kv::{DegradedDetails, LinKv, LinKvCheck};
pub use topology::Topology;
pub use txn::{Txn, TxnWorkloadOptions};
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

/// What a client does next with the operation in hand.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Send this request (without msg_id) to the worker's node; the
    /// operation goes on when the reply comes.
    Request(Body),
    /// The operation completed `ok` with this value.
    Ok(Value),
    /// The operation completed `ok` with this value, recorded under
    /// another f (lin-kv's degraded reads: `read-degraded`, so that no
    /// checker takes them for linearizable reads).
    OkAs { f: &'static str, value: Value },
    /// The operation ended indefinitely without a request (Jepsen's client
    /// returning `:info`, as kafka's `crash` does); the worker goes on as a
    /// new process.
    Info,
}

/// What a reply comes to: what comes next for the operation, or what is
/// wrong with the reply.
pub type Completion = Result<Next, String>;

/// An operation of the final phase and how long to wait before it.
#[derive(Debug, Clone, PartialEq)]
pub struct FinalOp {
    pub op: Invocation,
    /// Jepsen's `stagger` before it: a delay drawn uniformly from
    /// [0, 2 x this); 0 for none.
    pub stagger_mean_ns: u64,
}

impl FinalOp {
    /// An operation invoked at once.
    pub fn now(op: Invocation) -> FinalOp {
        FinalOp {
            op,
            stagger_mean_ns: 0,
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

    /// How `worker` begins `op`: usually a request to its node.
    fn begin(&mut self, worker: Worker, op: &Invocation) -> Next;

    /// Turns a non-error reply into what comes next: the ok value, or
    /// another request of the same operation (kafka's poll commits what it
    /// polled before it completes); or says what is wrong with the reply.
    /// Takes the reply by value so large results move, not copy.
    fn complete(&mut self, worker: Worker, op: &Invocation, reply: Body) -> Completion;

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

    /// The `n`th operation (from 0) `worker` performs after healing and
    /// recovery, or `None` when it has no more. Most workloads with final
    /// reads have one per worker; kafka polls until it has caught up.
    fn final_op(&mut self, _worker: Worker, _n: usize) -> Option<FinalOp> {
        None
    }

    /// Whether the workload has a final phase at all (then the test heals,
    /// waits for recovery and runs [`Workload::final_op`]s).
    fn has_final_phase(&self) -> bool {
        false
    }

    /// How long the final phase may start operations (Maelstrom clips
    /// kafka's final polls to 10 s); `None` for no limit.
    fn final_time_limit_ns(&self) -> Option<u64> {
        None
    }

    /// The workload's own checker.
    fn check(&self, history: &History) -> CheckResult<WorkloadDetails>;
}

/// The details of a workload's checker: its section of results.json.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum WorkloadDetails {
    Echo(lightcone_check::echo::Details),
    UniqueIds(lightcone_check::unique_ids::Details),
    /// broadcast, g-set.
    SetFull(lightcone_check::set_full::Details),
    /// g-counter, pn-counter.
    Counter(lightcone_check::counter::Details),
    /// lin-kv.
    Linear(lightcone_linear::Details),
    /// lin-kv held to other models (`--consistency-models`).
    Ladder(ladder::LadderDetails),
    /// lin-kv with degraded reads: its check's details and their count.
    Degraded(lin_kv::DegradedDetails),
    Kafka(lightcone_kafka::Details),
    /// txn-list-append, txn-rw-register: Elle's result.
    Txn(lightcone_txn::Details),
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

/// The workloads lightcone runs (the one list, in `lightcone-proto`).
pub const NAMES: &[&str] = lightcone_proto::WORKLOAD_NAMES;

/// Clients when `--concurrency` is not given: Maelstrom's 1n (one per
/// node), except lin-kv, which needs a multiple of 2n (two kinds of client
/// per key and node), so that `lightcone test` with no flags is a valid test.
pub fn default_concurrency(workload: &str, node_count: usize) -> usize {
    match workload {
        "lin-kv" => 2 * node_count,
        _ => node_count,
    }
}

/// Options some workloads take.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadOptions {
    pub nodes: Vec<String>,
    pub topology: Topology,
    /// Keys in play at once for kafka (`--key-count`; Elle's default 10).
    pub key_count: Option<u64>,
    /// Writes to one key before it is retired (`--max-writes-per-key`;
    /// kafka sends, txn appends and writes).
    pub max_writes_per_key: u64,
    /// Micro-ops per transaction at most (`--max-txn-length`).
    pub max_txn_length: u64,
    /// The consistency models the history must satisfy
    /// (`--consistency-models`): Elle's names for the transactional
    /// workloads, [`ladder::REGISTER_MODELS`] for lin-kv; empty for the
    /// workload's default (strict-serializable, linearizable).
    pub consistency_models: Vec<String>,
    /// Client workers (kafka crashes each about every 30 s).
    pub concurrency: usize,
    /// Operations per second over all clients.
    pub rate: f64,
}

/// Builds a workload by its Maelstrom name.
pub fn build(name: &str, options: &WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError> {
    Ok(match name {
        "echo" => Box::new(Echo),
        "unique-ids" => Box::new(UniqueIds),
        "broadcast" => Box::new(AddRead(Broadcast::new(
            options.topology.build(&options.nodes),
        ))),
        "g-set" => Box::new(AddRead(GSet::default())),
        "g-counter" => Box::new(AddRead(Counter::grow_only())),
        "pn-counter" => Box::new(AddRead(Counter::positive_negative())),
        "lin-kv" => {
            let models = if options.consistency_models.is_empty() {
                vec!["linearizable"]
            } else {
                ladder::parse_register_models(&options.consistency_models.join(",")).map_err(
                    |e| WorkloadError::Invalid {
                        message: format!("--consistency-models: {e}"),
                    },
                )?
            };
            Box::new(LinKv::with_models(options.nodes.len(), models))
        }
        "kafka" => Box::new(Kafka::new(options)),
        "txn-list-append" | "txn-rw-register" => {
            let model = if name == "txn-list-append" {
                lightcone_txn::TxnModel::ListAppend
            } else {
                lightcone_txn::TxnModel::RwRegister
            };
            let txn_options = TxnWorkloadOptions {
                key_count: options.key_count,
                max_txn_length: options.max_txn_length,
                max_writes_per_key: options.max_writes_per_key,
                consistency_models: options.consistency_models.clone(),
            };
            Box::new(
                Txn::new(model, &txn_options)
                    .map_err(|message| WorkloadError::Invalid { message })?,
            )
        }
        _ => {
            return Err(WorkloadError::Unknown {
                name: name.to_string(),
            })
        }
    })
}
