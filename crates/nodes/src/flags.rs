//! The reference nodes' command-line flags: one clap parser per node name,
//! which is what `lightcone node NAME --help` shows.
//!
//! Every node checks its values the same way: a time or a count is a
//! whole number from 1 up to a bound ([`MS_MAX`], [`COUNT_MAX`]), and
//! anything else is refused with the flag and the range it takes; nothing
//! is clamped. Several names run one of two nodes (`g-set` and
//! `--broadcast`, the counters and `--crdt` / `--seq-kv`, `lin-kv` and
//! `--proxy`); a flag of the node that does not run is refused with the
//! switch that would make it count, never ignored.

use std::sync::Arc;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Command, CommandFactory, FromArgMatches, Parser};

use crate::available_txn;
use crate::broadcast::{self, Overlay};
use crate::crdt_gossip::GossipOptions;
use crate::kind::Kind;
use crate::paxos_kv;
use crate::raft_kv::{self, Backup};
use crate::transactor;
use crate::unique_ids::Scheme;

/// The longest time a flag takes, in milliseconds: a day. Times become
/// nanoseconds in a `u64`, and this keeps every sum of them far from
/// overflowing.
pub const MS_MAX: u64 = 24 * 60 * 60 * 1000;
/// The largest count a flag takes (log lengths, snapshot intervals, ticks).
pub const COUNT_MAX: u64 = 1_000_000_000;

fn millis(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if (1..=MS_MAX).contains(&n) => Ok(n),
        _ => Err(format!(
            "give a whole number of milliseconds from 1 to {MS_MAX} (a day)"
        )),
    }
}

fn count(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if (1..=COUNT_MAX).contains(&n) => Ok(n),
        _ => Err(format!("give a whole number from 1 to {COUNT_MAX}")),
    }
}

fn count_usize(text: &str) -> Result<usize, String> {
    count(text).map(|n| n as usize)
}

/// Election timeouts must be longer than the heartbeat interval, or
/// followers would start elections while the leader is healthy.
fn election_ticks(text: &str) -> Result<u64, String> {
    let heartbeat = raft_kv::Options::default().heartbeat_ticks;
    match text.parse::<u64>() {
        Ok(n) if n > heartbeat && n <= COUNT_MAX => Ok(n),
        _ => Err(format!(
            "give a whole number of ticks from {} to {COUNT_MAX}: more than the \
             heartbeat interval of {heartbeat} ticks",
            heartbeat + 1
        )),
    }
}

/// `--restore FILE`: the file is read here, once, while the flags are
/// parsed.
fn backup_file(path: &str) -> Result<Backup, String> {
    raft_kv::read_backup(path)
}

/// The echo workload's node: answers `echo` with `echo_ok` carrying the
/// same value. It takes no options.
#[derive(Parser, Debug)]
struct EchoFlags {}

/// The unique-ids workload's node: ids from a hybrid logical clock kept
/// above a durable ceiling, unique across restarts.
#[derive(Parser, Debug)]
struct UniqueIdsFlags {
    /// Ids from an epoch bumped in durable storage at every start, and a
    /// counter (the earlier scheme).
    #[arg(long)]
    epoch: bool,
    /// Broken on purpose: the epoch scheme with its epoch in memory only, so
    /// a restarted node hands out the same ids again.
    #[arg(long, conflicts_with = "epoch")]
    volatile: bool,
}

/// The broadcast workload's node: batched gossip over a star (or the
/// workbench's topology), retried per peer until acknowledged.
#[derive(Parser, Debug)]
struct BroadcastFlags {
    /// Milliseconds between gossip rounds.
    #[arg(long, value_name = "MS", value_parser = millis,
          default_value_t = broadcast::Options::default().gossip_ms)]
    gossip_ms: u64,
    #[command(flatten)]
    delivery: DeliveryFlags,
}

/// How the broadcast node's gossip reaches its peers.
#[derive(Args, Debug)]
struct DeliveryFlags {
    /// Milliseconds before an unacknowledged batch is sent again.
    #[arg(long, value_name = "MS", value_parser = millis,
          default_value_t = broadcast::Options::default().retry_ms)]
    retry_ms: u64,
    /// Who gossips with whom.
    #[arg(long, value_enum, default_value_t = broadcast::Options::default().overlay)]
    overlay: Overlay,
    /// Broken on purpose: each gossip is sent once and forgotten, so
    /// messages sent into a partition are lost.
    #[arg(long)]
    unreliable: bool,
}

impl DeliveryFlags {
    fn options(&self, gossip_ms: u64) -> broadcast::Options {
        broadcast::Options {
            gossip_ms,
            retry_ms: self.retry_ms,
            overlay: self.overlay,
            unreliable: self.unreliable,
        }
    }
}

/// The delta-CRDT gossip's flags, but for `--gossip-ms`, which each node
/// declares with its own default.
#[derive(Args, Debug)]
struct CrdtFlags {
    /// Most delta-log entries kept; a peer that needs entries already
    /// dropped gets the full state.
    #[arg(long, value_name = "N", value_parser = count_usize,
          default_value_t = GossipOptions::default().log_len_max)]
    log_len_max: usize,
    /// Gossip the whole state every round instead of deltas (the baseline
    /// for comparison).
    #[arg(long)]
    full_state: bool,
    /// Send only this node's own updates, never relay what peers sent.
    #[arg(long)]
    direct: bool,
}

impl CrdtFlags {
    fn options(&self, gossip_ms: u64) -> GossipOptions {
        GossipOptions {
            gossip_ms,
            full_state: self.full_state,
            log_len_max: self.log_len_max,
            direct: self.direct,
        }
    }
}

/// The g-set workload's node: a grow-only set as a delta-state CRDT,
/// totally available; or, with --broadcast, the broadcast node's gossip.
#[derive(Parser, Debug)]
struct GSetFlags {
    /// Run the broadcast node's gossip (answering g-set's requests) instead
    /// of the delta CRDT.
    #[arg(long)]
    broadcast: bool,
    /// Milliseconds between gossip rounds (50 with --broadcast).
    #[arg(long, value_name = "MS", value_parser = millis,
          default_value_t = GossipOptions::default().gossip_ms,
          default_value_if("broadcast", "true", Some(BROADCAST_GOSSIP_MS)))]
    gossip_ms: u64,
    #[command(flatten, next_help_heading = "Delta-CRDT node (the default)")]
    crdt: CrdtFlags,
    #[command(flatten, next_help_heading = "Broadcast node (--broadcast)")]
    delivery: DeliveryFlags,
}

/// `g-set --broadcast`'s default `--gossip-ms`: the broadcast node's
/// (checked by a test; clap wants the text).
const BROADCAST_GOSSIP_MS: &str = "50";

/// A counter workload's node: the delta-state CRDT counter, totally
/// available, or the counter kept in the seq-kv service.
#[derive(Parser, Debug)]
struct CounterFlags {
    /// Run the delta-CRDT counter.
    #[arg(long, conflicts_with = "seq_kv")]
    crdt: bool,
    /// Run the counter kept in the seq-kv service.
    #[arg(long)]
    seq_kv: bool,
    /// Broken on purpose: a read sums only this node's own key.
    #[arg(long, help_heading = "Seq-kv counter")]
    own_only: bool,
    /// Milliseconds between gossip rounds.
    #[arg(long, value_name = "MS", value_parser = millis, help_heading = "Delta-CRDT counter",
          default_value_t = GossipOptions::default().gossip_ms)]
    gossip_ms: u64,
    #[command(flatten, next_help_heading = "Delta-CRDT counter")]
    crdt_flags: CrdtFlags,
}

/// The lin-kv workload's node: a linearizable key-value store replicated
/// with Raft; with --paxos, the same store replicated with Multi-Paxos; or,
/// with --proxy, a node that forwards to the lin-kv service.
#[derive(Parser, Debug)]
struct LinKvFlags {
    /// Run the earlier node that forwards every request to the lin-kv
    /// service, instead of the Raft store.
    #[arg(long, conflicts_with = "paxos")]
    proxy: bool,
    /// Run the key-value store on Multi-Paxos (lightcone-paxos) instead of
    /// Raft; it takes --tick-ms, --election-ticks, --request-ms and
    /// --log-applied (`paxos apply SLOT DIGEST`).
    #[arg(long)]
    paxos: bool,
    /// Test only, unsafe: a new Paxos leader ignores the values its
    /// promises report (Paxos Made Simple, 2.2) and puts its own commands
    /// in those slots.
    #[arg(long, help_heading = "Paxos store (--paxos)")]
    unsafe_ignore_promised_values: bool,
    /// Broken on purpose: answer reads from the values this node has seen.
    #[arg(long, help_heading = "Proxy (--proxy)")]
    cached_reads: bool,
    #[command(flatten, next_help_heading = "Raft store (the default)")]
    raft: RaftFlags,
}

/// The Raft store's flags.
#[derive(Args, Debug)]
struct RaftFlags {
    /// Milliseconds between Raft ticks.
    #[arg(long, value_name = "MS", value_parser = millis,
          default_value_t = raft_kv::Options::default().tick_ms)]
    tick_ms: u64,
    /// Election timeout in ticks, randomised in [N, 2N) (Raft paper, 5.2).
    #[arg(long, value_name = "N", value_parser = election_ticks,
          default_value_t = raft_kv::Options::default().election_ticks)]
    election_ticks: u64,
    /// Milliseconds a request may wait for its entry or its read.
    #[arg(long, value_name = "MS", value_parser = millis,
          default_value_t = raft_kv::Options::default().request_ms)]
    request_ms: u64,
    /// Applied entries between snapshots of the state machine.
    #[arg(long, value_name = "N", value_parser = count,
          default_value_t = raft_kv::Options::default().snapshot_every)]
    snapshot_every: u64,
    /// Log every applied entry (`raft apply INDEX TERM DIGEST`), for
    /// checking state machine safety.
    #[arg(long)]
    log_applied: bool,
    /// Start from this backup (a saved `backup_ok` reply) when the node has
    /// no state of its own.
    #[arg(long, value_name = "FILE", value_parser = backup_file)]
    restore: Option<Backup>,
    /// Start with the runtime flag `degraded-reads` on: a read that cannot be
    /// served linearizably (no leader reachable, ReadIndex not confirmed in
    /// time) is answered from this node's own state, possibly stale, with
    /// `"degraded": true`. Flipped at run time by the message
    /// {"type": "flag", "name": "degraded-reads", "value": true|false}.
    #[arg(long)]
    degraded_reads: bool,
    /// With degraded-reads on: milliseconds a read waits for the leader
    /// before the degraded answer.
    #[arg(long, value_name = "MS", value_parser = millis,
          default_value_t = raft_kv::Options::default().degraded_read_ms)]
    degraded_read_ms: u64,
    /// Test only, not linearizable: any node answers reads from its own
    /// state, without ReadIndex.
    #[arg(long)]
    unsafe_local_reads: bool,
    /// Test only, unsafe: commit an earlier term's entries by counting
    /// replicas (Raft paper, 5.4.2, Figure 8).
    #[arg(long)]
    unsafe_commit_previous_term: bool,
}

impl RaftFlags {
    fn options(self) -> raft_kv::Options {
        raft_kv::Options {
            tick_ms: self.tick_ms,
            election_ticks: self.election_ticks,
            request_ms: self.request_ms,
            snapshot_every: self.snapshot_every,
            log_applied: self.log_applied,
            restore: self.restore,
            degraded_reads: self.degraded_reads,
            degraded_read_ms: self.degraded_read_ms,
            unsafe_local_reads: self.unsafe_local_reads,
            unsafe_commit_previous_term: self.unsafe_commit_previous_term,
            ..raft_kv::Options::default()
        }
    }
}

/// The kafka workload's node: each key's log one lin-kv value, a message
/// appended and numbered in one compare-and-set.
#[derive(Parser, Debug)]
struct KafkaFlags {
    /// Broken on purpose: each node keeps the logs in its own memory, so two
    /// nodes hand out the same offset.
    #[arg(long)]
    local_offsets: bool,
}

/// The transactional workloads' node: a Datomic-style transactor, immutable
/// thunks in a key-value service behind one root pointer in lin-kv, moved
/// by compare-and-set.
#[derive(Parser, Debug)]
struct TransactorFlags {
    #[command(flatten)]
    transactor: TransactorArgs,
    /// Run the Raft key-value store instead, each transaction one log
    /// entry (strict-serializable).
    #[arg(long)]
    raft: bool,
    #[command(flatten, next_help_heading = "Raft store (--raft)")]
    raft_flags: RaftFlags,
}

impl TransactorFlags {
    fn kind(self) -> Kind {
        if self.raft {
            Kind::RaftKv(Arc::new(self.raft_flags.options()))
        } else {
            Kind::Transactor(self.transactor.options())
        }
    }
}

/// The transactor's flags.
#[derive(Args, Debug)]
struct TransactorArgs {
    /// The service that holds the thunks: lww-kv (read again until a thunk
    /// written elsewhere shows) or lin-kv.
    #[arg(long, default_value = "lww-kv", value_parser = ["lww-kv", "lin-kv"])]
    thunks: String,
    /// Runs of a transaction after it first loses the race for the root,
    /// before it fails with txn-conflict (30).
    #[arg(long, default_value_t = transactor::Options::default().conflict_retries)]
    conflict_retries: u32,
    /// Broken on purpose (the guide's first try at lww-kv): thunks in
    /// lww-kv without the cache, and a thunk not found yet read as empty.
    #[arg(long)]
    unsafe_lww_thunks: bool,
}

/// txn-rw-register's node: the transactor (strict-serializable), or with
/// --totally-available a node that answers every transaction itself and
/// replicates its writes in the background (read committed).
#[derive(Parser, Debug)]
struct RwRegisterFlags {
    #[command(flatten)]
    base: TransactorFlags,
    /// Run the totally-available node (fly.io 6a-6c) instead of the
    /// transactor: available under partitions, read committed.
    #[arg(long)]
    totally_available: bool,
    /// Totally-available node: milliseconds between replication rounds.
    #[arg(long, default_value_t = available_txn::Options::default().gossip_ms,
          value_parser = clap::value_parser!(u64).range(1..))]
    gossip_ms: u64,
    /// Totally-available node, broken on purpose: writes go out as they
    /// happen and some transactions abort after that (G1a, G1b).
    #[arg(long, requires = "totally_available")]
    unsafe_dirty_writes: bool,
}

impl TransactorArgs {
    fn options(self) -> transactor::Options {
        transactor::Options {
            thunks: self.thunks,
            conflict_retries: self.conflict_retries,
            unsafe_lww_thunks: self.unsafe_lww_thunks,
        }
    }
}

/// The parser of node `name` (one of [`crate::NAMES`]), named for
/// `lightcone node NAME`.
pub(crate) fn command(name: &'static str) -> Command {
    let command = match name {
        "echo" => EchoFlags::command(),
        "unique-ids" => UniqueIdsFlags::command(),
        "broadcast" => BroadcastFlags::command(),
        "g-set" => GSetFlags::command(),
        "g-counter" => CounterFlags::command().about(
            "The g-counter workload's node: the counter kept in the seq-kv service (the \
             default), or the delta-state CRDT counter with --crdt",
        ),
        "pn-counter" => CounterFlags::command().about(
            "The pn-counter workload's node: the delta-state CRDT counter, totally available \
             (the default), or the counter kept in the seq-kv service with --seq-kv",
        ),
        "lin-kv" => LinKvFlags::command(),
        "kafka" => KafkaFlags::command(),
        "txn-list-append" => TransactorFlags::command(),
        "txn-rw-register" => RwRegisterFlags::command(),
        other => unreachable!("{other} is not among NAMES"),
    };
    command
        .name(name)
        .bin_name(format!("lightcone node {name}"))
        .disable_version_flag(true)
        // `--tick-ms -5` reaches the value's check, which says what the
        // flag takes, rather than reading as an unknown flag `-5`.
        .mut_args(|arg| {
            let takes_values = arg.get_action().takes_values();
            arg.allow_negative_numbers(takes_values)
        })
}

/// The node that `matches` (parsed by [`command`]`(name)`) describes.
pub(crate) fn kind(name: &'static str, matches: &ArgMatches) -> Result<Kind, clap::Error> {
    Ok(match name {
        "echo" => {
            EchoFlags::from_arg_matches(matches)?;
            Kind::Echo
        }
        "unique-ids" => {
            let flags = UniqueIdsFlags::from_arg_matches(matches)?;
            Kind::UniqueIds(match (flags.epoch, flags.volatile) {
                (_, true) => Scheme::Volatile,
                (true, false) => Scheme::Epoch,
                (false, false) => Scheme::Hlc,
            })
        }
        "broadcast" => {
            let flags = BroadcastFlags::from_arg_matches(matches)?;
            Kind::Broadcast(
                flags.delivery.options(flags.gossip_ms),
                broadcast::Api::Broadcast,
            )
        }
        "g-set" => g_set(name, matches)?,
        "g-counter" | "pn-counter" => counter(name, matches)?,
        "lin-kv" => lin_kv(name, matches)?,
        "kafka" => Kind::Kafka {
            local_offsets: KafkaFlags::from_arg_matches(matches)?.local_offsets,
        },
        "txn-list-append" => TransactorFlags::from_arg_matches(matches)?.kind(),
        "txn-rw-register" => {
            let flags = RwRegisterFlags::from_arg_matches(matches)?;
            if flags.totally_available {
                Kind::AvailableTxn(available_txn::Options {
                    gossip_ms: flags.gossip_ms,
                    unsafe_dirty_writes: flags.unsafe_dirty_writes,
                })
            } else {
                flags.base.kind()
            }
        }
        other => unreachable!("{other} is not among NAMES"),
    })
}

fn g_set(name: &'static str, matches: &ArgMatches) -> Result<Kind, clap::Error> {
    let flags = GSetFlags::from_arg_matches(matches)?;
    let command = command(name);
    if flags.broadcast {
        if let Some(flag) = given_in(&command, matches, "CrdtFlags") {
            let owner = "the delta-CRDT node";
            return Err(misplaced(command, &flag, owner, Fix::Drop("--broadcast")));
        }
        let options = flags.delivery.options(flags.gossip_ms);
        return Ok(Kind::Broadcast(options, broadcast::Api::GSet));
    }
    if let Some(flag) = given_in(&command, matches, "DeliveryFlags") {
        let owner = "the broadcast node";
        return Err(misplaced(command, &flag, owner, Fix::Add("--broadcast")));
    }
    Ok(Kind::CrdtSet(flags.crdt.options(flags.gossip_ms)))
}

fn counter(name: &'static str, matches: &ArgMatches) -> Result<Kind, clap::Error> {
    let flags = CounterFlags::from_arg_matches(matches)?;
    let command = command(name);
    let crdt = flags.crdt || (!flags.seq_kv && crate::counter_default_is_crdt(name));
    if crdt {
        if flags.own_only {
            let fix = match flags.crdt {
                true => Fix::Drop("--crdt"),
                false => Fix::Add("--seq-kv"),
            };
            return Err(misplaced(command, "--own-only", "the seq-kv counter", fix));
        }
        let options = flags.crdt_flags.options(flags.gossip_ms);
        return Ok(match name {
            "g-counter" => Kind::CrdtGCounter(options),
            _ => Kind::CrdtPNCounter(options),
        });
    }
    let crdt_only = given_in(&command, matches, "CrdtFlags").or_else(|| {
        let given = matches.value_source("gossip_ms") == Some(ValueSource::CommandLine);
        given.then(|| "--gossip-ms".to_string())
    });
    if let Some(flag) = crdt_only {
        let fix = match flags.seq_kv {
            true => Fix::Drop("--seq-kv"),
            false => Fix::Add("--crdt"),
        };
        return Err(misplaced(command, &flag, "the delta-CRDT counter", fix));
    }
    Ok(Kind::SeqKvCounter {
        own_only: flags.own_only,
    })
}

fn lin_kv(name: &'static str, matches: &ArgMatches) -> Result<Kind, clap::Error> {
    let flags = LinKvFlags::from_arg_matches(matches)?;
    let command = command(name);
    if flags.paxos {
        let raft_only = [
            "snapshot_every",
            "restore",
            "unsafe_local_reads",
            "unsafe_commit_previous_term",
        ];
        let given = raft_only
            .iter()
            .find(|id| matches.value_source(id) == Some(ValueSource::CommandLine));
        if let Some(id) = given {
            let flag = format!("--{}", id.replace('_', "-"));
            return Err(misplaced(
                command,
                &flag,
                "the Raft store",
                Fix::Drop("--paxos"),
            ));
        }
        if flags.cached_reads {
            let owner = "the --proxy node";
            return Err(misplaced(
                command,
                "--cached-reads",
                owner,
                Fix::Drop("--paxos"),
            ));
        }
        let raft = flags.raft;
        return Ok(Kind::PaxosKv(Arc::new(paxos_kv::Options {
            tick_ms: raft.tick_ms,
            election_ticks: raft.election_ticks,
            request_ms: raft.request_ms,
            log_applied: raft.log_applied,
            unsafe_ignore_promised_values: flags.unsafe_ignore_promised_values,
            ..paxos_kv::Options::default()
        })));
    }
    if flags.unsafe_ignore_promised_values {
        return Err(misplaced(
            command,
            "--unsafe-ignore-promised-values",
            "the Paxos store",
            Fix::Add("--paxos"),
        ));
    }
    if flags.proxy {
        if let Some(flag) = given_in(&command, matches, "RaftFlags") {
            return Err(misplaced(
                command,
                &flag,
                "the Raft store",
                Fix::Drop("--proxy"),
            ));
        }
        return Ok(Kind::LinKvProxy {
            cached_reads: flags.cached_reads,
        });
    }
    if flags.cached_reads {
        let owner = "the --proxy node";
        return Err(misplaced(
            command,
            "--cached-reads",
            owner,
            Fix::Add("--proxy"),
        ));
    }
    Ok(Kind::RaftKv(Arc::new(flags.raft.options())))
}

/// The first flag of the flattened struct `group` (clap names the group
/// after the struct) given on the command line, as it is written.
fn given_in(command: &Command, matches: &ArgMatches, group: &str) -> Option<String> {
    let group = command
        .get_groups()
        .find(|g| g.get_id() == group)
        .unwrap_or_else(|| panic!("{} has no group {group}", command.get_name()));
    let id = group
        .get_args()
        .find(|id| matches.value_source(id.as_str()) == Some(ValueSource::CommandLine))?;
    let arg = command.get_arguments().find(|a| a.get_id() == id)?;
    Some(format!("--{}", arg.get_long()?))
}

/// How to make a flag of the node that does not run count.
enum Fix {
    /// Drop this switch, which chose the other node.
    Drop(&'static str),
    /// Add this switch, which chooses the flag's node.
    Add(&'static str),
}

/// `flag` belongs to `owner`, which these options do not run.
fn misplaced(mut command: Command, flag: &str, owner: &str, fix: Fix) -> clap::Error {
    let message = match fix {
        Fix::Drop(switch) => format!(
            "{flag} is an option of {owner}, which {switch} replaces; drop {flag} or {switch}"
        ),
        Fix::Add(switch) => {
            format!("{flag} is an option of {owner}; add {switch}, or drop {flag}")
        }
    };
    command.error(ErrorKind::ArgumentConflict, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NodeSpec, NAMES};
    use lightcone_sdk::{json, MemoryStorage};

    fn parse(name: &str, args: &[&str]) -> Result<Kind, String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        NodeSpec::parse(name, &args)
            .map(|spec| spec.kind)
            .map_err(|e| e.to_string())
    }

    /// A refusal names the node and every one of `words` (the flag, the
    /// fix).
    fn refused(name: &str, args: &[&str], words: &[&str]) {
        let error = parse(name, args).expect_err(&format!("{name} {args:?} is refused"));
        assert!(error.contains(&format!("node {name}")), "{error}");
        for word in words {
            assert!(
                error.contains(word),
                "{name} {args:?}: {error:?} lacks {word:?}"
            );
        }
    }

    #[test]
    fn every_parser_is_well_formed() {
        for name in NAMES {
            command(name).debug_assert();
        }
    }

    #[test]
    fn no_flags_give_each_node_its_defaults() {
        let raft = Kind::RaftKv(Arc::new(raft_kv::Options::default()));
        let broadcast = Kind::Broadcast(broadcast::Options::default(), broadcast::Api::Broadcast);
        let expected = [
            ("echo", Kind::Echo),
            ("unique-ids", Kind::UniqueIds(Scheme::Hlc)),
            ("broadcast", broadcast),
            ("g-set", Kind::CrdtSet(GossipOptions::default())),
            ("g-counter", Kind::SeqKvCounter { own_only: false }),
            ("pn-counter", Kind::CrdtPNCounter(GossipOptions::default())),
            ("lin-kv", raft),
            (
                "kafka",
                Kind::Kafka {
                    local_offsets: false,
                },
            ),
            (
                "txn-list-append",
                Kind::Transactor(transactor::Options::default()),
            ),
            (
                "txn-rw-register",
                Kind::Transactor(transactor::Options::default()),
            ),
        ];
        assert_eq!(expected.len(), NAMES.len());
        for (name, kind) in expected {
            assert_eq!(parse(name, &[]).unwrap(), kind, "{name}");
        }
    }

    #[test]
    fn an_unknown_node_lists_the_known_ones() {
        let error = NodeSpec::parse("lin_kv", &[]).unwrap_err().to_string();
        assert!(error.contains("\"lin_kv\""), "{error}");
        for name in NAMES {
            assert!(error.contains(name), "{error}");
        }
    }

    #[test]
    fn echo_takes_no_options() {
        refused("echo", &["--fast"], &["--fast"]);
    }

    #[test]
    fn unique_ids_options() {
        assert_eq!(
            parse("unique-ids", &["--epoch"]),
            Ok(Kind::UniqueIds(Scheme::Epoch))
        );
        let volatile = parse("unique-ids", &["--volatile"]);
        assert_eq!(volatile, Ok(Kind::UniqueIds(Scheme::Volatile)));
        refused(
            "unique-ids",
            &["--epoch", "--volatile"],
            &["--volatile", "--epoch"],
        );
        refused("unique-ids", &["--epoch=yes"], &["--epoch"]);
    }

    #[test]
    fn broadcast_options() {
        let args = [
            "--gossip-ms",
            "20",
            "--retry-ms",
            "300",
            "--overlay",
            "given",
        ];
        let expected = broadcast::Options {
            gossip_ms: 20,
            retry_ms: 300,
            overlay: Overlay::Given,
            unreliable: false,
        };
        let api = broadcast::Api::Broadcast;
        assert_eq!(
            parse("broadcast", &args),
            Ok(Kind::Broadcast(expected, api))
        );
        refused(
            "broadcast",
            &["--gossip-ms", "0"],
            &["--gossip-ms", "from 1 to"],
        );
        refused(
            "broadcast",
            &["--retry-ms", "-5"],
            &["--retry-ms", "from 1 to"],
        );
        refused(
            "broadcast",
            &["--overlay", "ring"],
            &["--overlay", "star", "given"],
        );
        refused("broadcast", &["--retry-ms"], &["--retry-ms"]);
        let too_long = (MS_MAX + 1).to_string();
        refused(
            "broadcast",
            &["--gossip-ms", &too_long],
            &["--gossip-ms", "a day"],
        );
    }

    #[test]
    fn g_set_options_and_its_broadcast_node() {
        let crdt = GossipOptions {
            gossip_ms: 30,
            log_len_max: 8,
            direct: true,
            ..GossipOptions::default()
        };
        let args = ["--direct", "--log-len-max", "8", "--gossip-ms", "30"];
        assert_eq!(parse("g-set", &args), Ok(Kind::CrdtSet(crdt)));
        // --broadcast keeps the broadcast node's own default interval.
        assert_eq!(
            BROADCAST_GOSSIP_MS,
            broadcast::Options::default().gossip_ms.to_string()
        );
        let gset = broadcast::Api::GSet;
        let defaults = Kind::Broadcast(broadcast::Options::default(), gset);
        assert_eq!(parse("g-set", &["--broadcast"]), Ok(defaults));
        let fast = broadcast::Options {
            gossip_ms: 20,
            unreliable: true,
            ..broadcast::Options::default()
        };
        let args = ["--unreliable", "--gossip-ms", "20", "--broadcast"];
        assert_eq!(parse("g-set", &args), Ok(Kind::Broadcast(fast, gset)));
        refused(
            "g-set",
            &["--broadcast", "--full-state"],
            &["drop --full-state or --broadcast"],
        );
        refused(
            "g-set",
            &["--retry-ms", "100"],
            &["add --broadcast, or drop --retry-ms"],
        );
        refused(
            "g-set",
            &["--log-len-max", "0"],
            &["--log-len-max", "from 1 to"],
        );
    }

    #[test]
    fn counter_options_and_their_two_nodes() {
        let own_only = Kind::SeqKvCounter { own_only: true };
        assert_eq!(parse("g-counter", &["--own-only"]), Ok(own_only.clone()));
        assert_eq!(
            parse("pn-counter", &["--seq-kv", "--own-only"]),
            Ok(own_only)
        );
        let crdt = GossipOptions {
            full_state: true,
            ..GossipOptions::default()
        };
        let args = ["--crdt", "--full-state"];
        assert_eq!(parse("g-counter", &args), Ok(Kind::CrdtGCounter(crdt)));
        let slow = GossipOptions {
            gossip_ms: 150,
            ..GossipOptions::default()
        };
        let args = ["--gossip-ms", "150"];
        assert_eq!(parse("pn-counter", &args), Ok(Kind::CrdtPNCounter(slow)));
        refused(
            "g-counter",
            &["--crdt", "--own-only"],
            &["drop --own-only or --crdt"],
        );
        refused(
            "g-counter",
            &["--gossip-ms", "10"],
            &["add --crdt, or drop --gossip-ms"],
        );
        refused(
            "g-counter",
            &["--crdt", "--seq-kv"],
            &["--crdt", "--seq-kv"],
        );
        refused(
            "pn-counter",
            &["--own-only"],
            &["add --seq-kv, or drop --own-only"],
        );
        refused(
            "pn-counter",
            &["--seq-kv", "--direct"],
            &["drop --direct or --seq-kv"],
        );
        refused(
            "pn-counter",
            &["--gossip-ms", "0"],
            &["--gossip-ms", "from 1 to"],
        );
    }

    #[test]
    fn lin_kv_options_refuse_zero_instead_of_clamping_it() {
        let Ok(Kind::RaftKv(options)) = parse("lin-kv", &["--tick-ms", "20", "--log-applied"])
        else {
            panic!("the Raft store");
        };
        assert_eq!((options.tick_ms, options.log_applied), (20, true));
        for flag in ["--tick-ms", "--request-ms", "--snapshot-every"] {
            refused("lin-kv", &[flag, "0"], &[flag, "from 1 to"]);
        }
        refused(
            "lin-kv",
            &["--election-ticks", "2"],
            &["--election-ticks", "heartbeat"],
        );
        refused("lin-kv", &["--tick-ms"], &["--tick-ms"]);
        refused(
            "lin-kv",
            &["--fast"],
            &["--fast", "lightcone node lin-kv --help"],
        );
    }

    #[test]
    fn lin_kv_proxy_options() {
        let proxy = parse("lin-kv", &["--cached-reads", "--proxy"]);
        assert_eq!(proxy, Ok(Kind::LinKvProxy { cached_reads: true }));
        refused(
            "lin-kv",
            &["--cached-reads"],
            &["add --proxy, or drop --cached-reads"],
        );
        refused(
            "lin-kv",
            &["--proxy", "--tick-ms", "5"],
            &["drop --tick-ms or --proxy"],
        );
    }

    #[test]
    fn lin_kv_paxos_options() {
        let Ok(Kind::PaxosKv(options)) = parse(
            "lin-kv",
            &[
                "--paxos",
                "--tick-ms",
                "20",
                "--unsafe-ignore-promised-values",
            ],
        ) else {
            panic!("the Paxos store");
        };
        assert_eq!(options.tick_ms, 20);
        assert!(options.unsafe_ignore_promised_values);
        refused(
            "lin-kv",
            &["--unsafe-ignore-promised-values"],
            &["add --paxos, or drop --unsafe-ignore-promised-values"],
        );
        refused(
            "lin-kv",
            &["--paxos", "--snapshot-every", "5"],
            &["drop --snapshot-every or --paxos"],
        );
        refused("lin-kv", &["--paxos", "--proxy"], &["--proxy"]);
    }

    #[test]
    fn restore_reads_its_file_once_at_parse() {
        let dir = std::env::temp_dir().join(format!("lightcone-flags-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("backup.json");
        let reply =
            json!({"type": "backup_ok", "backup": {"index": 7, "term": 2, "state": [[1, 10]]}});
        std::fs::write(&file, reply.to_string()).unwrap();
        let args = ["--restore".to_string(), file.display().to_string()];
        let spec = NodeSpec::parse("lin-kv", &args).unwrap();
        std::fs::remove_file(&file).unwrap();
        let Kind::RaftKv(options) = &spec.kind else {
            panic!("the Raft store");
        };
        assert_eq!(options.restore.as_ref().map(|b| b.index), Some(7));
        // Gone from disk, still there for every start.
        for seed in 0..2 {
            spec.build(seed, Box::new(MemoryStorage::new()));
        }
        let path = file.display().to_string();
        refused(
            "lin-kv",
            &["--restore", &path],
            &["--restore", "could not read the backup file"],
        );
        std::fs::write(&file, "[1, 2]").unwrap();
        refused("lin-kv", &["--restore", &path], &["--restore", "backup_ok"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn kafka_options() {
        let local = parse("kafka", &["--local-offsets"]);
        assert_eq!(
            local,
            Ok(Kind::Kafka {
                local_offsets: true
            })
        );
        refused("kafka", &["--local-offsets", "yes"], &["yes"]);
    }

    #[test]
    fn help_is_not_an_error_message() {
        let error = NodeSpec::parse("kafka", &["--help".to_string()]).unwrap_err();
        let clap = error.into_clap();
        assert_eq!(clap.kind(), ErrorKind::DisplayHelp);
        let help = clap.render().to_string();
        assert!(help.contains("Usage: lightcone node kafka"), "{help}");
        assert!(help.contains("--local-offsets"), "{help}");
    }
}
