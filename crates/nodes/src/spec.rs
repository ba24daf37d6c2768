//! A reference node with its options parsed: a [`NodeSpec`] is made once
//! from a name and flags (by [`NodeSpec::parse`], or from what the command
//! line's parser matched) and then builds a fresh node for each start and
//! restart, without parsing or reading files again.

use std::sync::Arc;

use clap::{ArgMatches, Command};
use lightcone_sdk::{Node, NodeRuntime, Runtime, Storage};

use crate::available_txn::AvailableTxn;
use crate::broadcast::Broadcast;
use crate::counter::Counter;
use crate::crdt_counter::{counter_node, GCounter, PNCounter};
use crate::crdt_set::CrdtSet;
use crate::echo::Echo;
use crate::kafka::Kafka;
use crate::kind::Kind;
use crate::lin_kv::LinKvProxy;
use crate::paxos_kv::PaxosKv;
use crate::raft_kv::RaftKv;
use crate::transactor::Transactor;
use crate::unique_ids::UniqueIds;
use crate::{flags, NAMES};

/// A reference node and its parsed options, ready to build any number of
/// nodes for a process or the simulator.
///
/// ```
/// use lightcone_nodes::NodeSpec;
/// use lightcone_sdk::MemoryStorage;
///
/// let args = ["--tick-ms".to_string(), "20".to_string()];
/// let spec = NodeSpec::parse("lin-kv", &args).unwrap();
/// // One node per start: the flags are not parsed again.
/// let first = spec.build(7, Box::new(MemoryStorage::new()));
/// let restarted = spec.build(8, Box::new(MemoryStorage::new()));
///
/// let error = NodeSpec::parse("lin-kv", &["--tick-ms".into(), "0".into()]).unwrap_err();
/// assert!(error.to_string().contains("--tick-ms"), "{error}");
/// ```
#[derive(Debug, Clone)]
pub struct NodeSpec {
    name: &'static str,
    pub(crate) kind: Kind,
}

/// Why a reference node's name or options were refused.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("there is no reference node {name:?}; the reference nodes are {}", NAMES.join(", "))]
    UnknownNode { name: String },
    /// clap's error (or the node's `--help`), rendered for `name`.
    #[error("{}", condense(name, error))]
    Options {
        name: &'static str,
        error: Box<clap::Error>,
    },
}

impl SpecError {
    /// The error as clap reports it (with the node's usage), for a command
    /// line that parses the node's flags itself.
    pub fn into_clap(self) -> clap::Error {
        match self {
            SpecError::Options { error, .. } => *error,
            unknown @ SpecError::UnknownNode { .. } => clap::Error::raw(
                clap::error::ErrorKind::InvalidSubcommand,
                format!("{unknown}\n"),
            ),
        }
    }
}

/// clap's message on one line, naming the node and where its options are
/// listed; `--help` itself stays as it is.
fn condense(name: &str, error: &clap::Error) -> String {
    use clap::error::ErrorKind;
    let text = error.render().to_string();
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        return format!("the options of node {name}:\n{text}");
    }
    let message: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    format!(
        "bad options for node {name}: {message}; `lightcone node {name} --help` lists its options"
    )
}

/// `name` as it is spelt in [`NAMES`].
fn known(name: &str) -> Result<&'static str, SpecError> {
    NAMES
        .iter()
        .copied()
        .find(|n| *n == name)
        .ok_or_else(|| SpecError::UnknownNode {
            name: name.to_string(),
        })
}

impl NodeSpec {
    /// Parses node `name`'s flags `args` (for example `--gossip-ms 50`),
    /// reading any file they name (`--restore FILE`) now.
    pub fn parse(name: &str, args: &[String]) -> Result<NodeSpec, SpecError> {
        let name = known(name)?;
        let matches = flags::command(name)
            .no_binary_name(true)
            .try_get_matches_from(args)
            .map_err(|error| SpecError::Options {
                name,
                error: Box::new(error),
            })?;
        NodeSpec::from_matches(name, &matches)
    }

    /// The node `name` from what the parser of [`NodeSpec::command`]
    /// matched, for a command line that has the node parsers as its
    /// subcommands (`lightcone node NAME ...`).
    pub fn from_matches(name: &str, matches: &ArgMatches) -> Result<NodeSpec, SpecError> {
        let name = known(name)?;
        let kind = flags::kind(name, matches).map_err(|error| SpecError::Options {
            name,
            error: Box::new(error),
        })?;
        Ok(NodeSpec { name, kind })
    }

    /// The parser of node `name`'s flags, named `name` (its `--help` lists
    /// them), or `None` when there is no such node.
    pub fn command(name: &str) -> Option<Command> {
        known(name).ok().map(flags::command)
    }

    /// The parsers of every reference node, in the order of [`NAMES`].
    pub fn commands() -> impl Iterator<Item = Command> {
        NAMES.iter().map(|name| flags::command(name))
    }

    /// The node's name, one of [`NAMES`].
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// A new node, as at a fresh start or a restart on `storage`, with
    /// `seed` for its RNG.
    pub fn build(&self, seed: u64, storage: Box<dyn Storage>) -> Box<dyn NodeRuntime> {
        fn boxed<N: Node>(node: N, seed: u64, storage: Box<dyn Storage>) -> Box<dyn NodeRuntime> {
            Box::new(Runtime::with_storage(node, seed, storage))
        }
        match &self.kind {
            Kind::Echo => boxed(Echo, seed, storage),
            Kind::UniqueIds(scheme) => boxed(UniqueIds::with_scheme(*scheme), seed, storage),
            Kind::Broadcast(options, api) => {
                boxed(Broadcast::with_api(options.clone(), *api), seed, storage)
            }
            Kind::CrdtSet(options) => boxed(CrdtSet::with_options(options.clone()), seed, storage),
            Kind::SeqKvCounter { own_only } => boxed(Counter::new(*own_only), seed, storage),
            Kind::CrdtGCounter(options) => {
                boxed(counter_node::<GCounter>(options.clone()), seed, storage)
            }
            Kind::CrdtPNCounter(options) => {
                boxed(counter_node::<PNCounter>(options.clone()), seed, storage)
            }
            Kind::LinKvProxy { cached_reads } => {
                boxed(LinKvProxy::new(*cached_reads), seed, storage)
            }
            Kind::RaftKv(options) => boxed(RaftKv::with_shared(Arc::clone(options)), seed, storage),
            Kind::PaxosKv(options) => {
                boxed(PaxosKv::with_shared(Arc::clone(options)), seed, storage)
            }
            Kind::Kafka { local_offsets } => boxed(Kafka::new(*local_offsets), seed, storage),
            Kind::Transactor(options) => boxed(Transactor::new(options.clone()), seed, storage),
            Kind::AvailableTxn(options) => boxed(AvailableTxn::new(options.clone()), seed, storage),
        }
    }
}
