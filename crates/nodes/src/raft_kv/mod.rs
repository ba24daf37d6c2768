//! The lin-kv reference node: a linearizable key-value store replicated
//! with `lightcone-raft`.
//!
//! * Every node runs a Raft peer (`"n1"` is Raft id 1, and so on, in the
//!   order of `init`'s `node_ids`) driven by a tick timer. Raft messages
//!   travel as `{"type": "raft", "msg": ...}` between nodes.
//! * Requests go to the leader: a follower that knows the leader forwards
//!   the request (`forward`) and relays the answer; one that knows none
//!   answers 11 (temporarily-unavailable), a definite error.
//! * The leader proposes `write` and `cas` as log entries tagged with its
//!   name and a random id, and answers when the entry is applied. A proposal
//!   the leader refuses is a definite 11; one that was appended but not
//!   applied within the request timeout may still commit, so it gets the
//!   indefinite error 0 (timeout).
//! * Reads use ReadIndex (Raft paper, section 8): the leader confirms it is
//!   still leader with a heartbeat round and serves the read once it has
//!   applied the confirmed commit index. Nothing is written to the log.
//! * Durable state (term, vote, log, snapshot) is mirrored into the SDK's
//!   [`lightcone_sdk::Storage`] after every `Ready` and before its messages
//!   are sent, so `--nemesis kill` restarts a node with its state. The log
//!   is compacted into a snapshot every [`Options::snapshot_every`] entries.
//! * `txn` (txn-list-append, txn-rw-register with `--raft`) is proposed
//!   whole, reads included, as one log entry and run on the state machine
//!   when applied: every replica runs the transactions in log order, so
//!   the store is strict-serializable. Lists and registers share the map
//!   with lin-kv's keys.
//! * `backup` proposes a marker entry; the node answers with the state as of
//!   exactly that entry's index (the same on every replica), which
//!   [`Options::restore`] turns back into a cluster.
//!
//! Graceful degradation ("fractional availability"), behind the runtime
//! flag `degraded-reads` (off unless `--degraded-reads`; flipped by
//! `{"type": "flag", "name": "degraded-reads", "value": true}`, answered
//! `flag_ok`; an unknown flag is error 10, not-supported): while it is on,
//! a client's read that cannot be served linearizably (no leader known, the
//! leader silent, the ReadIndex not confirmed within
//! [`Options::degraded_read_ms`]) is answered from this node's own state,
//! possibly stale, as `read_ok` with `"degraded": true`. The flag is not
//! durable: a restarted node starts with `--degraded-reads` again; and it
//! serves no degraded read until it has applied the log it recovered, so
//! that a restart never takes its answers back to older values.
//!
//! Test-only switches that break the store, to show that checkers catch
//! them: `--unsafe-local-reads` (any node answers reads from its own state,
//! without ReadIndex) and `--unsafe-commit-previous-term` (Raft paper,
//! 5.4.2, Figure 8).
//!
//! The files: `options.rs` (how a node runs, backups), `requests.rs`
//! (serving, proposing, forwarding to the leader, timeouts), `reads.rs`
//! (ReadIndex), `state.rs` (the replicated state machine), `apply.rs`
//! (committed entries and their answers), `applied_ids.rs` (the window
//! of applied command ids), `durable.rs` and `raft_log.rs` (Raft's durable
//! state in the SDK storage), `decimal.rs` (numbers in those records);
//! here, the Ready loop.

mod applied_ids;
mod apply;
mod command_wire;
mod decimal;
mod durable;
mod options;
mod raft_log;
mod reads;
mod requests;
pub(crate) mod state;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use lightcone_raft::{persist_ready, Config, MemoryStorage, Message, NodeId, RawNode, Role};
use lightcone_sdk::{Body, Context, Envelope, Node, NodeError, NANOS_PER_MS};

use crate::replicated_kv::forwarded_request;

pub(crate) use options::read_backup;
pub use options::{parse_backup, Backup, Options};
use raft_log::DurableLog;
use requests::Pending;
use state::KvState;

const TICK_TIMER: u64 = 1;
/// Drives Raft once the messages at hand are handled (group commit).
const DRIVE_TIMER: u64 = 2;

/// The Raft key-value node.
pub struct RaftKv {
    /// Shared by every start of the node (a restart builds a new
    /// `RaftKv`), so a `--restore` backup is read and held once.
    options: Arc<Options>,
    raft: Option<RawNode<MemoryStorage>>,
    state: KvState,
    applied: u64,
    /// Writes and cas by command id, answered when applied.
    proposals: BTreeMap<u64, Pending>,
    /// Reads by ReadIndex context, until their read state arrives...
    reads: BTreeMap<u64, Pending>,
    /// ...and then by the index they wait to see applied.
    reads_ready: BTreeMap<(u64, u64), Pending>,
    /// The runtime flag `degraded-reads`.
    degraded_reads: bool,
    /// No degraded read is served before this index is applied: the last
    /// index of the log a restart recovered. A restarted node's state
    /// starts behind what it had applied before the crash (its stored
    /// commit index lags) and its log holds every entry it had applied, so
    /// once it has applied the recovered log its answers go forward again,
    /// never back to older values.
    degraded_floor: u64,
    /// The log as mirrored to durable storage.
    durable_log: DurableLog,
    /// A proposal is waiting for the drive after the messages at hand, so
    /// that the proposals among them share one durable write.
    drive_scheduled: bool,
    /// The term and vote last made durable.
    stored_term_vote: Option<(u64, u64)>,
    snapshot_index: u64,
    /// Where outgoing Raft messages and snapshots of the state are
    /// serialized, kept between uses so that each costs one allocation of
    /// its exact size.
    scratch: Vec<u8>,
}

impl RaftKv {
    pub fn new(options: Options) -> RaftKv {
        RaftKv::with_shared(Arc::new(options))
    }

    /// The node with options shared with its other starts.
    pub fn with_shared(options: Arc<Options>) -> RaftKv {
        RaftKv {
            degraded_reads: options.degraded_reads,
            degraded_floor: 0,
            options,
            raft: None,
            state: KvState::default(),
            applied: 0,
            proposals: BTreeMap::new(),
            reads: BTreeMap::new(),
            reads_ready: BTreeMap::new(),
            durable_log: DurableLog::default(),
            drive_scheduled: false,
            scratch: Vec::new(),
            stored_term_vote: None,
            snapshot_index: 0,
        }
    }

    fn raft_id(ctx: &Context<Self>, name: &str) -> Option<NodeId> {
        let i = ctx.node_ids().iter().position(|n| n == name)?;
        Some(i as NodeId + 1)
    }

    fn name_of(ctx: &Context<Self>, id: NodeId) -> Option<String> {
        ctx.node_ids().get((id as usize).checked_sub(1)?).cloned()
    }

    /// Takes and handles every `Ready` the Raft node has (the Ready loop of
    /// `lightcone-raft`'s docs).
    fn drive(&mut self, ctx: &mut Context<Self>) {
        loop {
            let Some(raft) = self.raft.as_mut() else {
                return;
            };
            if !raft.has_ready() {
                break;
            }
            let ready = raft.ready();
            persist_ready(raft.storage_mut(), &ready).expect("memory storage accepts a ready");
            self.store(ctx, &ready);
            for msg in &ready.messages {
                if let Some(dest) = RaftKv::name_of(ctx, msg.to) {
                    // As JSON text in a string: a tenth of the allocations
                    // of a JSON tree, which matters at simulation speed.
                    self.scratch.clear();
                    serde_json::to_writer(&mut self.scratch, msg).expect("raft messages serialize");
                    let text = std::str::from_utf8(&self.scratch).expect("serde_json writes UTF-8");
                    ctx.send(dest, Body::new("raft").with("msg", text));
                }
            }
            if let Some(soft) = ready.soft_state {
                self.on_role(ctx, soft.role);
            }
            if let Some(snapshot) = &ready.snapshot {
                self.restore_snapshot(ctx, snapshot);
            }
            for entry in &ready.committed_entries {
                self.apply_entry(ctx, entry);
            }
            self.confirm_reads(&ready.read_states);
            if let Some(raft) = self.raft.as_mut() {
                raft.advance(ready);
            }
            self.serve_reads(ctx);
            self.maybe_compact(ctx);
        }
    }

    fn on_role(&mut self, ctx: &mut Context<Self>, role: Role) {
        let term = self.raft.as_ref().map_or(0, |r| r.term());
        if role == Role::Leader {
            ctx.log(format!("raft leader term {term}"));
        } else {
            self.fail_unconfirmed_reads(ctx);
        }
    }
}

impl Node for RaftKv {
    fn init(&mut self, ctx: &mut Context<Self>) {
        let Some(id) = RaftKv::raft_id(ctx, ctx.node_id()) else {
            ctx.log("this node is not among node_ids; it will not join the cluster");
            return;
        };
        let voters: Vec<NodeId> = (1..=ctx.node_ids().len() as NodeId).collect();
        let mut config = Config::new(id, voters);
        config.election_tick = self.options.election_ticks;
        config.heartbeat_tick = self.options.heartbeat_ticks;
        config.seed = ctx.rng().next_u64();
        config.unsafe_local_reads = self.options.unsafe_local_reads;
        config.unsafe_commit_previous_term = self.options.unsafe_commit_previous_term;
        let storage = self.recover(ctx);
        match RawNode::new(config, storage) {
            Ok(raft) => {
                self.degraded_floor = raft.status().last_index;
                self.raft = Some(raft);
            }
            Err(e) => ctx.log(format!("raft could not start: {e}")),
        }
        ctx.set_timer(self.options.tick_ms * NANOS_PER_MS, TICK_TIMER);
        self.drive(ctx);
    }

    fn handle(&mut self, ctx: &mut Context<Self>, msg: Envelope) -> Result<(), NodeError> {
        match msg.body.kind.as_str() {
            "raft" => {
                let text = msg.body.get_str("msg").ok_or_else(|| {
                    NodeError::malformed("a raft message needs `msg`, a raft::Message as JSON text")
                })?;
                let raft_msg: Message = serde_json::from_str(text)
                    .map_err(|e| NodeError::malformed(format!("bad raft message: {e}")))?;
                if let Some(raft) = self.raft.as_mut() {
                    raft.step(raft_msg);
                }
                self.schedule_drive(ctx);
                Ok(())
            }
            "flag" => {
                let reply = self.flag(&msg.body)?;
                ctx.reply(&msg, reply);
                Ok(())
            }
            "read" | "write" | "cas" | "backup" | "txn" => {
                let body = msg.body.clone();
                self.request(ctx, msg, &body, None);
                Ok(())
            }
            "forward" => {
                let (body, id) = forwarded_request(&msg)?;
                self.request(ctx, msg, &body, id);
                Ok(())
            }
            other => Err(NodeError::not_supported(other)),
        }
    }

    fn timer(&mut self, ctx: &mut Context<Self>, token: u64) {
        if token == DRIVE_TIMER {
            self.drive_scheduled = false;
            self.drive(ctx);
            return;
        }
        if token != TICK_TIMER {
            return;
        }
        if let Some(raft) = self.raft.as_mut() {
            raft.tick();
        }
        self.expire(ctx);
        self.drive(ctx);
        ctx.set_timer(self.options.tick_ms * NANOS_PER_MS, TICK_TIMER);
    }
}
