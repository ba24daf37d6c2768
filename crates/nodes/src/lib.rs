//! Reference nodes, one per workload, built on the SDK. They are what
//! `lightcone test` runs when no `--bin` is given (as `lightcone node NAME`),
//! and they are the worked examples for people writing their own.

pub mod broadcast;
pub mod counter;
pub mod crdt_counter;
pub mod crdt_gossip;
pub mod crdt_set;
pub mod echo;
pub mod kafka;
pub mod lin_kv;
pub mod raft_kv;
pub mod unique_ids;

use lightcone_sdk::{NodeRuntime, Runtime, Storage, NANOS_PER_MS};

/// How long a reference node waits for a service's answer to an RPC
/// (lin-kv, seq-kv) before it gives up on it. The RPC may still have taken
/// effect, so a node that gives up on a write answers with an indefinite
/// error. One value for every node that calls a service (`counter`,
/// `kafka`, `lin-kv --proxy`); the Raft store waits `--request-ms` and the
/// gossip nodes retry on their own schedules instead.
pub const RPC_TIMEOUT_NS: u64 = 1000 * NANOS_PER_MS;

/// The reference nodes by workload name.
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

/// Why a reference node could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("there is no reference node {name:?}; the reference nodes are {}", NAMES.join(", "))]
    UnknownNode { name: String },
    #[error("bad argument for node {name}: {message}")]
    BadArgument { name: String, message: String },
    #[error(transparent)]
    Stdio(#[from] lightcone_sdk::StdioError),
}

/// Builds the reference node `name` with its options `args` (for example
/// `--gossip-ms 50`), ready to run in a process or in the simulator.
pub fn runtime(
    name: &str,
    args: &[String],
    seed: u64,
    storage: Box<dyn Storage>,
) -> Result<Box<dyn NodeRuntime>, RunError> {
    let bad = |message: String| RunError::BadArgument {
        name: name.to_string(),
        message,
    };
    let no_options = || match args.first() {
        Some(arg) => Err(RunError::BadArgument {
            name: name.to_string(),
            message: format!("it takes no options, but was given {arg:?}"),
        }),
        None => Ok(()),
    };
    Ok(match name {
        "echo" => {
            no_options()?;
            Box::new(Runtime::with_storage(echo::Echo, seed, storage))
        }
        "unique-ids" => {
            let node =
                unique_ids::UniqueIds::parse(args).map_err(|message| RunError::BadArgument {
                    name: name.to_string(),
                    message,
                })?;
            Box::new(Runtime::with_storage(node, seed, storage))
        }
        "broadcast" => {
            let options =
                broadcast::Options::parse(args).map_err(|message| RunError::BadArgument {
                    name: name.to_string(),
                    message,
                })?;
            Box::new(Runtime::with_storage(
                broadcast::Broadcast::new(options),
                seed,
                storage,
            ))
        }
        // The delta-CRDT node; `--broadcast` for the broadcast gossip.
        "g-set" => match args.split_first() {
            Some((first, rest)) if first == "--broadcast" => {
                let options = broadcast::Options::parse(rest).map_err(bad)?;
                let node = broadcast::Broadcast::with_api(options, broadcast::Api::GSet);
                Box::new(Runtime::with_storage(node, seed, storage))
            }
            _ => {
                let node = crdt_set::CrdtSet::parse(args).map_err(bad)?;
                Box::new(Runtime::with_storage(node, seed, storage))
            }
        },
        // The seq-kv node (`--seq-kv`, `--own-only`) or the delta-CRDT node
        // (`--crdt`, then gossip options); see `counter_default_is_crdt`.
        "g-counter" | "pn-counter" => {
            let (crdt, rest) = match args.split_first() {
                Some((first, rest)) if first == "--crdt" => (true, rest),
                Some((first, rest)) if first == "--seq-kv" => (false, rest),
                _ => (counter_default_is_crdt(name), args),
            };
            match (crdt, name) {
                (false, _) => {
                    let node = counter::Counter::parse(rest).map_err(bad)?;
                    Box::new(Runtime::with_storage(node, seed, storage))
                }
                (true, "g-counter") => {
                    let node = crdt_counter::parse::<crdt_counter::GCounter>(rest).map_err(bad)?;
                    Box::new(Runtime::with_storage(node, seed, storage))
                }
                (true, _) => {
                    let node = crdt_counter::parse::<crdt_counter::PNCounter>(rest).map_err(bad)?;
                    Box::new(Runtime::with_storage(node, seed, storage))
                }
            }
        }
        // The Raft store by default; `--proxy` for the node that forwards
        // to the lin-kv service.
        "lin-kv" if args.first().is_some_and(|a| a == "--proxy") => {
            let node = lin_kv::LinKvProxy::parse(&args[1..]).map_err(bad)?;
            Box::new(Runtime::with_storage(node, seed, storage))
        }
        "lin-kv" => {
            let options = raft_kv::Options::parse(args).map_err(bad)?;
            let node = raft_kv::RaftKv::new(options);
            Box::new(Runtime::with_storage(node, seed, storage))
        }
        "kafka" => {
            let node = kafka::Kafka::parse(args).map_err(bad)?;
            Box::new(Runtime::with_storage(node, seed, storage))
        }
        _ => {
            return Err(RunError::UnknownNode {
                name: name.to_string(),
            })
        }
    })
}

/// Whether `g-counter` / `pn-counter` without `--crdt` or `--seq-kv` run the
/// delta-CRDT node: pn-counter does (totally available, convergent);
/// g-counter keeps the seq-kv node that fly.io's challenge asks for.
pub fn counter_default_is_crdt(name: &str) -> bool {
    name == "pn-counter"
}

/// Runs the reference node `name` on stdin/stdout until stdin closes.
pub fn run(name: &str, args: &[String]) -> Result<(), RunError> {
    let (seed, storage) = lightcone_sdk::process_seed_and_storage()?;
    let mut node = runtime(name, args, seed, storage)?;
    Ok(lightcone_sdk::run_stdio_runtime(node.as_mut())?)
}
