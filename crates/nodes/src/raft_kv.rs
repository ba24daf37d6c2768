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
//! * `backup` proposes a marker entry; the node answers with the state as of
//!   exactly that entry's index (the same on every replica), which
//!   [`Options::restore`] turns back into a cluster.
//!
//! Test-only switches that break the store, to show that checkers catch
//! them: `--unsafe-local-reads` (any node answers reads from its own state,
//! without ReadIndex) and `--unsafe-commit-previous-term` (Raft paper,
//! 5.4.2, Figure 8).

use std::collections::{BTreeMap, BTreeSet};

use lightcone_raft::{
    persist_ready, Config, Entry, HardState, MemoryStorage, Message, NodeId, RawNode, Ready, Role,
    Snapshot, SnapshotMetadata, Storage as _,
};
use lightcone_sdk::{
    Body, Context, Envelope, ErrorCode, Node, NodeError, RpcError, Value, NANOS_PER_MS,
};

use crate::raft_log::DurableLog;
use serde::{Deserialize, Serialize};

const TICK_TIMER: u64 = 1;
/// Drives Raft once the messages at hand are handled (group commit).
const DRIVE_TIMER: u64 = 2;
const KEY_HARD_STATE: &str = "raft/hard-state";
const KEY_SNAPSHOT: &str = "raft/snapshot";

/// How the node runs; parsed from its command-line options.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Milliseconds between Raft ticks (`--tick-ms`).
    pub tick_ms: u64,
    /// Election timeout in ticks (`--election-ticks`), randomised in
    /// `[n, 2n)` by the library.
    pub election_ticks: u64,
    /// Heartbeat interval in ticks.
    pub heartbeat_ticks: u64,
    /// How long a request may wait for its entry or read (`--request-ms`).
    pub request_ms: u64,
    /// Entries applied between snapshots (`--snapshot-every`).
    pub snapshot_every: u64,
    /// Log every applied entry (`--log-applied`), for invariant checks.
    pub log_applied: bool,
    /// Start from this backup when the node has no state of its own.
    pub restore: Option<Backup>,
    /// Test only: reads served from local state by any node.
    pub unsafe_local_reads: bool,
    /// Test only: commit earlier terms' entries by counting replicas.
    pub unsafe_commit_previous_term: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            tick_ms: 100,
            election_ticks: 10,
            heartbeat_ticks: 2,
            request_ms: 2000,
            snapshot_every: 1000,
            log_applied: false,
            restore: None,
            unsafe_local_reads: false,
            unsafe_commit_previous_term: false,
        }
    }
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut number = |name: &str| -> Result<u64, String> {
                let text = args
                    .next()
                    .ok_or_else(|| format!("{name} needs a number after it"))?;
                text.parse()
                    .map_err(|_| format!("{name} takes a whole number, not {text:?}"))
            };
            match arg.as_str() {
                "--tick-ms" => options.tick_ms = number("--tick-ms")?.max(1),
                "--election-ticks" => options.election_ticks = number("--election-ticks")?,
                "--request-ms" => options.request_ms = number("--request-ms")?.max(1),
                "--snapshot-every" => options.snapshot_every = number("--snapshot-every")?.max(1),
                "--log-applied" => options.log_applied = true,
                "--restore" => {
                    let path = args
                        .next()
                        .ok_or("--restore needs the path of a backup file after it")?;
                    options.restore = Some(read_backup(path)?);
                }
                "--unsafe-local-reads" => options.unsafe_local_reads = true,
                "--unsafe-commit-previous-term" => options.unsafe_commit_previous_term = true,
                other => {
                    return Err(format!(
                        "unknown option {other:?}; the options are --tick-ms N, \
                         --election-ticks N, --request-ms N, --snapshot-every N, \
                         --log-applied, --restore FILE, --unsafe-local-reads, \
                         --unsafe-commit-previous-term \
                         (and --proxy for the forwarding node)"
                    ))
                }
            }
        }
        if options.election_ticks <= options.heartbeat_ticks {
            return Err(format!(
                "--election-ticks must be more than the heartbeat's {} tick(s)",
                options.heartbeat_ticks
            ));
        }
        Ok(options)
    }
}

/// The store's state as of one log index: what `backup` returns and
/// [`Options::restore`] starts from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    pub index: u64,
    pub term: u64,
    /// `[key, value]` pairs in the order of the keys' JSON text.
    pub state: Vec<(Value, Value)>,
}

/// A client command as a log entry: who proposed it, to answer it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Command {
    origin: String,
    id: u64,
    op: Op,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "kebab-case")]
enum Op {
    Write {
        key: Value,
        value: Value,
    },
    Cas {
        key: Value,
        from: Value,
        to: Value,
        #[serde(default)]
        create: bool,
    },
    Backup,
}

/// A request waiting for its entry or its read.
struct Pending {
    /// What to answer: the client's request or another node's `forward`.
    request: Envelope,
    deadline: u64,
    /// A read's key (null for writes).
    key: Value,
}

/// How many recent command ids the state machine remembers to apply each
/// command once: a duplicated `forward` is proposed twice, and applying a
/// write again later would undo the writes between.
const APPLIED_IDS_MAX: usize = 1 << 16;

/// The replicated state machine: key (as JSON text) to key and value, and
/// the ids of the commands applied lately (by log index), which every
/// replica holds alike because they follow the log.
#[derive(Default)]
struct KvState {
    map: BTreeMap<String, (Value, Value)>,
    applied_ids: BTreeMap<u64, u64>,
    ids: BTreeSet<u64>,
}

/// What a snapshot holds.
#[derive(Serialize, Deserialize)]
struct SnapshotData {
    state: Vec<(Value, Value)>,
    /// `[index, command id]` of recently applied commands.
    applied_ids: Vec<(u64, u64)>,
}

impl KvState {
    fn from_pairs(pairs: Vec<(Value, Value)>) -> KvState {
        let map = pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), (k, v)))
            .collect();
        KvState {
            map,
            ..KvState::default()
        }
    }

    fn from_snapshot(data: SnapshotData) -> KvState {
        let mut state = KvState::from_pairs(data.state);
        for (index, id) in data.applied_ids {
            state.remember(index, id);
        }
        state
    }

    fn to_snapshot(&self) -> SnapshotData {
        SnapshotData {
            state: self.pairs(),
            applied_ids: self.applied_ids.iter().map(|(i, id)| (*i, *id)).collect(),
        }
    }

    /// Records that command `id` was applied at `index`; false if it had
    /// been applied before.
    fn remember(&mut self, index: u64, id: u64) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        self.applied_ids.insert(index, id);
        while self.applied_ids.len() > APPLIED_IDS_MAX {
            if let Some((_, old)) = self.applied_ids.pop_first() {
                self.ids.remove(&old);
            }
        }
        true
    }

    fn pairs(&self) -> Vec<(Value, Value)> {
        self.map.values().cloned().collect()
    }

    fn read(&self, key: &Value) -> Result<Body, NodeError> {
        match self.map.get(&key.to_string()) {
            Some((_, value)) => Ok(Body::new("read_ok").with("value", value.clone())),
            None => Err(NodeError::new(
                ErrorCode::KeyDoesNotExist,
                format!("key {key} does not exist"),
            )),
        }
    }

    /// Applies a write or cas; every replica computes the same answer.
    fn apply(&mut self, op: &Op) -> Result<Body, NodeError> {
        match op {
            Op::Write { key, value } => {
                self.map
                    .insert(key.to_string(), (key.clone(), value.clone()));
                Ok(Body::new("write_ok"))
            }
            Op::Cas {
                key,
                from,
                to,
                create,
            } => {
                let text = key.to_string();
                match self.map.get_mut(&text) {
                    Some((_, current)) if current == from => {
                        *current = to.clone();
                        Ok(Body::new("cas_ok"))
                    }
                    Some((_, current)) => Err(NodeError::new(
                        ErrorCode::PreconditionFailed,
                        format!("key {key} holds {current}, not {from}"),
                    )),
                    None if *create => {
                        self.map.insert(text, (key.clone(), to.clone()));
                        Ok(Body::new("cas_ok"))
                    }
                    None => Err(NodeError::new(
                        ErrorCode::KeyDoesNotExist,
                        format!("key {key} does not exist"),
                    )),
                }
            }
            Op::Backup => Ok(Body::new("backup_ok")),
        }
    }
}

fn error_body(e: &NodeError) -> Body {
    Body::new("error")
        .with("code", e.code.code())
        .with("text", e.text.clone())
}

fn unavailable(text: impl Into<String>) -> NodeError {
    NodeError::new(ErrorCode::TemporarilyUnavailable, text)
}

/// The Raft key-value node.
pub struct RaftKv {
    options: Options,
    raft: Option<RawNode<MemoryStorage>>,
    state: KvState,
    applied: u64,
    /// Writes and cas by command id, answered when applied.
    proposals: BTreeMap<u64, Pending>,
    /// Reads by ReadIndex context, until their read state arrives...
    reads: BTreeMap<u64, Pending>,
    /// ...and then by the index they wait to see applied.
    reads_ready: BTreeMap<(u64, u64), Pending>,
    /// The log as mirrored to durable storage.
    durable_log: DurableLog,
    /// A proposal is waiting for the drive after the messages at hand, so
    /// that the proposals among them share one durable write.
    drive_scheduled: bool,
    /// The term and vote last made durable.
    stored_term_vote: Option<(u64, u64)>,
    snapshot_index: u64,
    /// Where outgoing Raft messages are serialized, kept between messages
    /// so that each costs one allocation of its exact size.
    scratch: Vec<u8>,
}

impl RaftKv {
    pub fn new(options: Options) -> RaftKv {
        RaftKv {
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

    /// Rebuilds the Raft storage from the durable copy (empty on a first
    /// start, or the backup to restore from).
    fn recover(&mut self, ctx: &mut Context<Self>) -> MemoryStorage {
        let mut storage = MemoryStorage::new();
        let durable = ctx.storage();
        let mut snapshot: Option<Snapshot> = read_json(durable.get(KEY_SNAPSHOT));
        let mut hard_state: Option<HardState> = read_json(durable.get(KEY_HARD_STATE));
        let segments = self.durable_log.recover(durable);
        if snapshot.is_none() && hard_state.is_none() && segments.is_empty() {
            if let Some(backup) = &self.options.restore {
                // A restored cluster starts every node from the same
                // snapshot, as if the log up to the backup's index had been
                // compacted away on each of them.
                let data = SnapshotData {
                    state: backup.state.clone(),
                    applied_ids: Vec::new(),
                };
                let data = serde_json::to_vec(&data).expect("JSON values serialize");
                snapshot = Some(Snapshot {
                    metadata: SnapshotMetadata {
                        index: backup.index,
                        term: backup.term,
                    },
                    data,
                });
                hard_state = Some(HardState {
                    term: backup.term,
                    vote: 0,
                    commit: backup.index,
                });
                // Durable at once: a node killed before its first snapshot
                // must come back from the backup, not from an empty log.
                let durable = ctx.storage();
                if let Some(snapshot) = &snapshot {
                    let bytes = serde_json::to_vec(snapshot).expect("snapshots serialize");
                    durable.put(KEY_SNAPSHOT, &bytes);
                }
                if let Some(hard_state) = &hard_state {
                    let bytes = serde_json::to_vec(hard_state).expect("hard states serialize");
                    durable.put(KEY_HARD_STATE, &bytes);
                }
            }
        }
        if let Some(snapshot) = snapshot.filter(|s| !s.is_empty()) {
            self.restore_snapshot(ctx, &snapshot);
            storage
                .apply_snapshot(snapshot)
                .expect("a fresh storage takes any snapshot");
        }
        // In write order: a later segment replaces the suffix it overlaps.
        for segment in segments {
            let entries: Vec<Entry> = segment
                .into_iter()
                .filter(|e| e.index > self.snapshot_index)
                .collect();
            if let Err(e) = storage.append(&entries) {
                ctx.log(format!("the stored log has a gap, kept up to it: {e}"));
                break;
            }
        }
        if let Some(mut hard_state) = hard_state {
            // The stored commit index may lag (it is written only with a
            // new term or vote), but never behind the snapshot, which holds
            // only committed entries.
            hard_state.commit = hard_state.commit.max(self.snapshot_index);
            self.stored_term_vote = Some((hard_state.term, hard_state.vote));
            storage
                .set_hard_state(hard_state)
                .expect("memory storage takes a hard state");
        }
        storage
    }

    fn restore_snapshot(&mut self, ctx: &mut Context<Self>, snapshot: &Snapshot) {
        match serde_json::from_slice::<SnapshotData>(&snapshot.data) {
            Ok(data) => self.state = KvState::from_snapshot(data),
            Err(e) => ctx.log(format!(
                "snapshot at {} is corrupt: {e}",
                snapshot.metadata.index
            )),
        }
        self.applied = snapshot.metadata.index;
        self.snapshot_index = snapshot.metadata.index;
    }

    /// Writes what a `Ready` makes durable into the SDK storage, in the
    /// order recovery needs: snapshot, entries, then the hard state.
    fn store(&mut self, ctx: &mut Context<Self>, ready: &Ready) {
        if let Some(snapshot) = &ready.snapshot {
            let bytes = serde_json::to_vec(snapshot).expect("snapshots serialize");
            ctx.storage().put(KEY_SNAPSHOT, &bytes);
            self.durable_log.clear(ctx.storage());
        }
        self.durable_log.append(ctx.storage(), &ready.entries);
        // Term and vote must be durable before the messages go out (Raft
        // paper, Figure 2); the commit index need not be (a restarted node
        // relearns it from the leader), and skipping the write when only it
        // moved saves two fsyncs per commit in process mode.
        if let Some(hard_state) = ready.hard_state {
            let durable = (hard_state.term, hard_state.vote);
            if self.stored_term_vote != Some(durable) {
                let bytes = serde_json::to_vec(&hard_state).expect("hard states serialize");
                ctx.storage().put(KEY_HARD_STATE, &bytes);
                self.stored_term_vote = Some(durable);
            }
        }
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
            for read in &ready.read_states {
                let Some(id) = std::str::from_utf8(&read.ctx)
                    .ok()
                    .and_then(|text| text.parse::<u64>().ok())
                else {
                    continue;
                };
                if let Some(pending) = self.reads.remove(&id) {
                    self.reads_ready.insert((read.index, id), pending);
                }
            }
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
            // Reads not yet confirmed will never be: they did nothing, so
            // a definite error is true. Proposals may still commit under
            // the next leader: they wait for their entry or their timeout.
            let reads = std::mem::take(&mut self.reads);
            for (_, pending) in reads {
                let e = unavailable("lost leadership before the read was confirmed; retry");
                ctx.reply(&pending.request, error_body(&e));
            }
        }
    }

    fn apply_entry(&mut self, ctx: &mut Context<Self>, entry: &Entry) {
        if entry.index <= self.applied {
            return;
        }
        self.applied = entry.index;
        if self.options.log_applied {
            ctx.log(format!(
                "raft apply {} {} {}",
                entry.index,
                entry.term,
                digest(&entry.data)
            ));
        }
        if entry.is_noop() {
            return;
        }
        let command: Command = match serde_json::from_slice(&entry.data) {
            Ok(c) => c,
            Err(e) => {
                ctx.log(format!("entry {} is not a command: {e}", entry.index));
                return;
            }
        };
        if !self.state.remember(entry.index, command.id) {
            // A duplicate proposal of a command already applied (and
            // answered): it changes nothing.
            if command.origin == ctx.node_id() {
                self.proposals.remove(&command.id);
            }
            return;
        }
        let result = self.state.apply(&command.op);
        if command.origin != ctx.node_id() {
            return;
        }
        let Some(pending) = self.proposals.remove(&command.id) else {
            return;
        };
        let body = match (result, &command.op) {
            (Ok(_), Op::Backup) => {
                let backup = Backup {
                    index: entry.index,
                    term: entry.term,
                    state: self.state.pairs(),
                };
                Body::new("backup_ok").with(
                    "backup",
                    serde_json::to_value(backup).expect("backups serialize"),
                )
            }
            (Ok(body), _) => body,
            (Err(e), _) => error_body(&e),
        };
        ctx.reply(&pending.request, body);
    }

    /// Answers the confirmed reads whose index is applied.
    fn serve_reads(&mut self, ctx: &mut Context<Self>) {
        while let Some(entry) = self.reads_ready.first_entry() {
            if entry.key().0 > self.applied {
                break;
            }
            let pending = entry.remove();
            let body = self
                .state
                .read(&pending.key)
                .unwrap_or_else(|e| error_body(&e));
            ctx.reply(&pending.request, body);
        }
    }

    fn maybe_compact(&mut self, ctx: &mut Context<Self>) {
        if self.applied < self.snapshot_index + self.options.snapshot_every {
            return;
        }
        let Some(raft) = self.raft.as_mut() else {
            return;
        };
        let data = serde_json::to_vec(&self.state.to_snapshot()).expect("JSON values serialize");
        let index = self.applied;
        if raft.compact(index, data).is_err() {
            return;
        }
        let snapshot = raft.storage().snapshot();
        let bytes = serde_json::to_vec(&snapshot).expect("snapshots serialize");
        ctx.storage().put(KEY_SNAPSHOT, &bytes);
        self.durable_log.compact(ctx.storage(), index);
        self.snapshot_index = index;
    }

    /// Times out requests that waited too long.
    fn expire(&mut self, ctx: &mut Context<Self>) {
        let now = ctx.now();
        for pending in take_expired(&mut self.proposals, now) {
            // Appended but not known to be applied: it may still commit.
            let e = NodeError::new(
                ErrorCode::Timeout,
                "the entry was not applied in time; it may or may not take effect",
            );
            ctx.reply(&pending.request, error_body(&e));
        }
        for pending in take_expired(&mut self.reads, now) {
            let e = unavailable("the leader could not confirm the read in time; retry");
            ctx.reply(&pending.request, error_body(&e));
        }
    }

    /// A client request (or one forwarded by another node): serve it here
    /// if this node leads, else pass it to the leader.
    /// `id` names the command (given by the node that forwarded it, so that
    /// a duplicated forward is the same command); `None` draws one.
    fn request(
        &mut self,
        ctx: &mut Context<Self>,
        request: Envelope,
        body: &Body,
        id: Option<u64>,
    ) {
        let Some(raft) = self.raft.as_mut() else {
            ctx.reply(&request, error_body(&unavailable("not initialised yet")));
            return;
        };
        let kind = body.kind.as_str();
        let deadline = ctx.now() + self.options.request_ms * NANOS_PER_MS;
        if kind == "read" && self.options.unsafe_local_reads {
            let reply = match body.get("key") {
                Some(key) => self.state.read(key).unwrap_or_else(|e| error_body(&e)),
                None => error_body(&NodeError::malformed("a read needs a `key`")),
            };
            ctx.reply(&request, reply);
            return;
        }
        if raft.role() != Role::Leader {
            self.forward(ctx, request, body);
            return;
        }
        let id: u64 = id.unwrap_or_else(|| ctx.rng().next_u64());
        if kind == "read" {
            let Some(key) = body.get("key").cloned() else {
                let e = NodeError::malformed("a read needs a `key`");
                ctx.reply(&request, error_body(&e));
                return;
            };
            match raft.read_index(id.to_string().into_bytes()) {
                Ok(()) => {
                    let pending = Pending {
                        request,
                        deadline,
                        key,
                    };
                    self.reads.insert(id, pending);
                }
                Err(e) => ctx.reply(&request, error_body(&unavailable(e.to_string()))),
            }
            self.drive(ctx);
            return;
        }
        let op = match parse_op(body) {
            Ok(op) => op,
            Err(e) => {
                ctx.reply(&request, error_body(&e));
                return;
            }
        };
        let command = Command {
            origin: ctx.node_id().to_string(),
            id,
            op,
        };
        let data = serde_json::to_vec(&command).expect("commands serialize");
        match raft.propose(data) {
            Ok(_) => {
                let pending = Pending {
                    request,
                    deadline,
                    key: Value::Null,
                };
                self.proposals.insert(id, pending);
            }
            // Refused: it will never be in the log.
            Err(e) => ctx.reply(&request, error_body(&unavailable(e.to_string()))),
        }
        // Not at once: the runtime handles every message already received
        // before it fires a timer due now, so the proposals among them go
        // into one `Ready` and one write to storage (in process mode, one
        // fsync for many entries).
        if !self.drive_scheduled {
            self.drive_scheduled = true;
            ctx.set_timer(0, DRIVE_TIMER);
        }
    }

    fn forward(&mut self, ctx: &mut Context<Self>, request: Envelope, body: &Body) {
        let leader = self.raft.as_ref().and_then(|r| r.leader_id());
        let leader = leader.and_then(|id| RaftKv::name_of(ctx, id));
        let forwarded = request.body.kind == "forward";
        let Some(leader) = leader.filter(|l| l != ctx.node_id() && !forwarded) else {
            let e = unavailable("no leader is known here; retry after the election");
            ctx.reply(&request, error_body(&e));
            return;
        };
        let timeout = self.options.request_ms * NANOS_PER_MS;
        let is_read = body.kind == "read";
        let inner = body.to_value();
        let id: u64 = ctx.rng().next_u64();
        ctx.rpc(
            leader,
            Body::new("forward").with("request", inner).with("id", id),
            timeout,
            move |_node: &mut RaftKv, ctx, result| {
                let reply = match result {
                    Ok(mut body) => {
                        body.in_reply_to = None;
                        body.msg_id = None;
                        body
                    }
                    Err(RpcError::Error { code, text }) => error_body(&NodeError::new(code, text)),
                    // A read that got no answer did nothing; a write may
                    // have happened.
                    Err(RpcError::Timeout) if is_read => {
                        error_body(&unavailable("the leader did not answer; retry"))
                    }
                    Err(RpcError::Timeout) => error_body(&NodeError::new(
                        ErrorCode::Timeout,
                        "the leader did not answer in time; the request may have happened",
                    )),
                };
                ctx.reply(&request, reply);
            },
        );
    }
}

/// Removes and returns the requests whose deadline has passed.
fn take_expired(pending: &mut BTreeMap<u64, Pending>, now: u64) -> Vec<Pending> {
    let expired: Vec<u64> = pending
        .iter()
        .filter(|(_, p)| p.deadline <= now)
        .map(|(id, _)| *id)
        .collect();
    expired
        .into_iter()
        .filter_map(|id| pending.remove(&id))
        .collect()
}

fn parse_op(body: &Body) -> Result<Op, NodeError> {
    let field = |name: &str| {
        body.get(name)
            .cloned()
            .ok_or_else(|| NodeError::malformed(format!("a {} needs a `{name}`", body.kind)))
    };
    match body.kind.as_str() {
        "write" => Ok(Op::Write {
            key: field("key")?,
            value: field("value")?,
        }),
        "cas" => Ok(Op::Cas {
            key: field("key")?,
            from: field("from")?,
            to: field("to")?,
            create: body
                .get("create_if_not_exists")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }),
        "backup" => Ok(Op::Backup),
        other => Err(NodeError::not_supported(other)),
    }
}

/// Parses a durable record (absent or unreadable: none).
fn read_json<T: serde::de::DeserializeOwned>(bytes: Option<Vec<u8>>) -> Option<T> {
    bytes.and_then(|b| serde_json::from_slice(&b).ok())
}

/// A short fingerprint of an entry's data for the applied-entry log
/// (FNV-1a; stable across runs and platforms).
fn digest(data: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in data {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
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
            Ok(raft) => self.raft = Some(raft),
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
                self.drive(ctx);
                Ok(())
            }
            "read" | "write" | "cas" | "backup" => {
                let body = msg.body.clone();
                self.request(ctx, msg, &body, None);
                Ok(())
            }
            "forward" => {
                let inner = msg
                    .body
                    .get("request")
                    .cloned()
                    .ok_or_else(|| NodeError::malformed("a forward needs `request`"))?;
                let map = match inner {
                    Value::Object(map) => map,
                    other => {
                        return Err(NodeError::malformed(format!(
                            "a forwarded request is an object, not {other}"
                        )))
                    }
                };
                let body = Body::from_map(map)
                    .map_err(|e| NodeError::malformed(format!("bad forwarded request: {e}")))?;
                let id = msg.body.get_u64("id");
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

/// Reads a backup file: the `backup` field of a `backup_ok` reply, or the
/// whole reply body, as JSON. (Read once, when the options are parsed.)
fn read_backup(path: &str) -> Result<Backup, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("could not read the backup file {path}: {e}"))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| format!("the backup file {path} is not JSON: {e}"))?;
    let backup = value.get("backup").cloned().unwrap_or(value);
    serde_json::from_value(backup).map_err(|e| {
        format!(
            "the backup file {path} is not a backup ({e}); save the `backup` field of a \
             `backup_ok` reply: {{\"index\": N, \"term\": T, \"state\": [[key, value], ...]}}"
        )
    })
}

/// The state a backup reply carries, parsed (for tests and tools).
pub fn parse_backup(reply: &Body) -> Option<Backup> {
    serde_json::from_value(reply.get("backup")?.clone()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightcone_sdk::{json, MockCluster};

    const MS: u64 = NANOS_PER_MS;

    fn cluster(options: Options) -> MockCluster<RaftKv> {
        let mut cluster = MockCluster::new(3, |_| RaftKv::new(options.clone()));
        cluster.advance(3000 * MS, 10 * MS);
        cluster
    }

    fn leader(cluster: &MockCluster<RaftKv>) -> Option<&'static str> {
        ["n0", "n1", "n2"]
            .into_iter()
            .find(|id| cluster.node(id).raft.as_ref().map(|r| r.role()) == Some(Role::Leader))
    }

    fn call(cluster: &mut MockCluster<RaftKv>, node: &str, body: Body) -> Body {
        cluster
            .request("c1", node, body)
            .expect("every request gets an answer")
            .body
    }

    fn write(key: i64, value: i64) -> Body {
        Body::new("write").with("key", key).with("value", value)
    }

    fn read(key: i64) -> Body {
        Body::new("read").with("key", key)
    }

    #[test]
    fn a_leader_serves_writes_reads_and_cas_through_any_node() {
        let mut cluster = cluster(Options::default());
        let leader = leader(&cluster).expect("an election within 3 s (Raft paper, 5.2)");
        let follower = ["n0", "n1", "n2"]
            .into_iter()
            .find(|n| *n != leader)
            .unwrap();
        assert_eq!(call(&mut cluster, follower, write(1, 10)).kind, "write_ok");
        let got = call(&mut cluster, leader, read(1));
        assert_eq!(
            (got.kind.as_str(), got.get("value")),
            ("read_ok", Some(&json!(10)))
        );
        let got = call(&mut cluster, follower, read(1));
        assert_eq!(
            got.get("value"),
            Some(&json!(10)),
            "forwarded read: {got:?}"
        );
        let cas = |from: i64, to: i64| {
            Body::new("cas")
                .with("key", 1)
                .with("from", from)
                .with("to", to)
        };
        assert_eq!(call(&mut cluster, follower, cas(10, 11)).kind, "cas_ok");
        let refused = call(&mut cluster, leader, cas(10, 12));
        assert_eq!(refused.error_code(), Some(22), "{refused:?}");
        let missing = call(&mut cluster, follower, read(2));
        assert_eq!(missing.error_code(), Some(20), "{missing:?}");
        // Every replica applied the same entries.
        let states: Vec<Vec<(Value, Value)>> = ["n0", "n1", "n2"]
            .iter()
            .map(|n| cluster.node(n).state.pairs())
            .collect();
        assert!(states.iter().all(|s| *s == states[0]) || states.iter().any(|s| s.is_empty()));
    }

    #[test]
    fn without_a_leader_requests_fail_definitely() {
        let mut cluster = MockCluster::new(3, |_| RaftKv::new(Options::default()));
        let got = call(&mut cluster, "n0", write(1, 1));
        assert_eq!(got.error_code(), Some(11), "{got:?}");
    }

    #[test]
    fn a_minority_leader_cannot_serve_reads_or_writes() {
        let mut cluster = cluster(Options::default());
        let old = leader(&cluster).unwrap();
        assert_eq!(call(&mut cluster, old, write(1, 1)).kind, "write_ok");
        for other in ["n0", "n1", "n2"] {
            if other != old {
                cluster.cut(old, other);
            }
        }
        // The cut-off leader cannot confirm a read (ReadIndex, section 8)
        // or commit a write; within the request timeout they fail.
        cluster.client_send("c1", old, read(1));
        cluster.client_send("c1", old, write(1, 2));
        cluster.advance(3000 * MS, 10 * MS);
        let replies = cluster
            .request("c1", old, read(1))
            .map(|m| m.body.error_code());
        assert!(matches!(replies, Some(Some(11))), "{replies:?}");
    }

    #[test]
    fn a_backup_holds_exactly_the_state_at_its_index_and_restores_a_cluster() {
        let mut cluster = cluster(Options::default());
        let first = leader(&cluster).unwrap();
        for k in 0..5 {
            assert_eq!(call(&mut cluster, first, write(k, k * 10)).kind, "write_ok");
        }
        let reply = call(&mut cluster, "n0", Body::new("backup"));
        let backup = parse_backup(&reply).expect("backup_ok carries a backup");
        assert_eq!(call(&mut cluster, first, write(0, 99)).kind, "write_ok");
        let expected: Vec<(Value, Value)> = (0..5).map(|k| (json!(k), json!(k * 10))).collect();
        assert_eq!(
            backup.state, expected,
            "the write after the backup is not in it"
        );
        // The backup's index is the marker entry's: the 5 writes, the
        // leader's no-op and the marker.
        assert!(backup.index >= 7, "{backup:?}");

        let restored = Options {
            restore: Some(backup.clone()),
            ..Options::default()
        };
        let mut cluster = cluster_from(restored);
        let second = leader(&cluster).expect("the restored cluster elects a leader");
        let got = call(&mut cluster, second, read(0));
        assert_eq!(got.get("value"), Some(&json!(0)), "{got:?}");
        let cas = Body::new("cas")
            .with("key", 4)
            .with("from", 40)
            .with("to", 41);
        assert_eq!(call(&mut cluster, "n1", cas).kind, "cas_ok");
        assert_eq!(
            call(&mut cluster, "n2", read(4)).get("value"),
            Some(&json!(41))
        );
        let status = cluster.node(second).raft.as_ref().unwrap().status();
        assert!(
            status.last_index > backup.index,
            "the log continues after the backup"
        );
    }

    fn cluster_from(options: Options) -> MockCluster<RaftKv> {
        cluster(options)
    }

    #[test]
    fn compaction_and_install_snapshot_bring_a_lagging_follower_up_to_date() {
        let options = Options {
            snapshot_every: 4,
            ..Options::default()
        };
        let mut cluster = cluster(options);
        let leader = leader(&cluster).unwrap();
        let lagging = ["n0", "n1", "n2"]
            .into_iter()
            .find(|n| *n != leader)
            .unwrap();
        for other in ["n0", "n1", "n2"] {
            if other != lagging {
                cluster.cut(lagging, other);
            }
        }
        for k in 0..20 {
            assert_eq!(call(&mut cluster, leader, write(k, k)).kind, "write_ok");
        }
        assert!(
            cluster.node(leader).snapshot_index >= 16,
            "the leader compacted its log"
        );
        cluster.heal();
        cluster.advance(2000 * MS, 10 * MS);
        let caught_up = cluster.node(lagging).state.pairs();
        assert_eq!(
            caught_up.len(),
            20,
            "InstallSnapshot (Raft paper, 7) and the entries after it"
        );
        assert!(cluster.node(lagging).snapshot_index >= 16);
    }

    #[test]
    fn restore_reads_a_saved_backup_reply_and_names_a_bad_file() {
        let dir = std::env::temp_dir().join(format!("raft-kv-restore-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("backup.json");
        let reply =
            json!({"type": "backup_ok", "backup": {"index": 7, "term": 2, "state": [[1, 10]]}});
        std::fs::write(&good, reply.to_string()).unwrap();
        let args = vec!["--restore".to_string(), good.display().to_string()];
        let backup = Options::parse(&args).unwrap().restore.unwrap();
        assert_eq!((backup.index, backup.term), (7, 2));
        assert_eq!(backup.state, vec![(json!(1), json!(10))]);
        let bad = dir.join("bad.json");
        std::fs::write(&bad, "[1, 2]").unwrap();
        let error = Options::parse(&["--restore".to_string(), bad.display().to_string()]);
        assert!(error.unwrap_err().contains("backup_ok"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn options_parse_and_bad_ones_name_the_fix() {
        let args: Vec<String> = ["--tick-ms", "20", "--log-applied"]
            .map(String::from)
            .to_vec();
        let options = Options::parse(&args).unwrap();
        assert_eq!((options.tick_ms, options.log_applied), (20, true));
        let error = Options::parse(&["--tick-ms".to_string()]).unwrap_err();
        assert!(error.contains("needs a number"), "{error}");
        let error = Options::parse(&["--fast".to_string()]).unwrap_err();
        assert!(error.contains("--unsafe-local-reads"), "{error}");
    }
}
