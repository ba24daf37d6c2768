//! A second lin-kv node: the same linearizable key-value store as the Raft
//! node, replicated with `lightcone-paxos` (Multi-Paxos with a stable
//! leader) instead. `lightcone node lin-kv --paxos` runs it.
//!
//! * Every node runs a Paxos peer (`"n1"` is id 1, and so on, in the order
//!   of `init`'s `node_ids`) driven by a tick timer; Paxos messages travel
//!   as `{"type": "paxos", "msg": ...}`.
//! * Requests go to the leader: a follower that knows the leader forwards
//!   the request and relays the answer; one that knows none answers 11
//!   (temporarily-unavailable), a definite error.
//! * The leader proposes every request, reads included, as a command in the
//!   next slot, tagged with its name and a random id, and answers when the
//!   slot is chosen and applied: reads go through the log, so they are
//!   linearizable without leases or a ReadIndex. A refused proposal is a
//!   definite 11; one not applied within `--request-ms` may still be chosen
//!   (a later leader adopts accepted values), so it gets the indefinite
//!   error 0.
//! * The acceptor's durable state (promise, accepted and chosen values) is
//!   written to the SDK storage before each batch of messages (`durable.rs`),
//!   so `--nemesis kill` restarts a node with its promises; a restarted node
//!   replays its chosen values from slot 1 (there are no snapshots).
//!
//! Test-only switch that breaks the store: `--unsafe-ignore-promised-values`
//! (a new leader does not adopt the highest-ballot values its promises
//! report, and puts its own commands in those slots).

mod durable;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use lightcone_paxos::{persist_ready, Config, MemoryStorage, Message, NodeId, RawNode, Role, Slot};
use lightcone_sdk::{Body, Context, Envelope, ErrorCode, Node, NodeError, Value, NANOS_PER_MS};
use serde::{Deserialize, Serialize};

use crate::raft_kv::state::{parse_op, KvState, Op};
use crate::replicated_kv::{digest, error_body, forwarded_reply, forwarded_request, unavailable};

const TICK_TIMER: u64 = 1;
/// Drives Paxos once the messages at hand are handled, so the proposals
/// among them share one `Accept` per peer.
const DRIVE_TIMER: u64 = 2;

/// How the node runs: its command-line options (`lightcone node lin-kv
/// --help`, under "Paxos store").
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Milliseconds between ticks (`--tick-ms`).
    pub tick_ms: u64,
    /// Election (prepare) timeout in ticks, randomised in `[n, 2n)`.
    pub election_ticks: u64,
    /// Heartbeat interval in ticks.
    pub heartbeat_ticks: u64,
    /// How long a request may wait for its slot (`--request-ms`).
    pub request_ms: u64,
    /// Log every applied slot (`paxos apply SLOT DIGEST`), for invariant
    /// checks.
    pub log_applied: bool,
    /// Test only: a new leader ignores the values reported in phase 1.
    pub unsafe_ignore_promised_values: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            tick_ms: 100,
            election_ticks: 10,
            heartbeat_ticks: 2,
            request_ms: 2000,
            log_applied: false,
            unsafe_ignore_promised_values: false,
        }
    }
}

/// A slot's command: who proposed it (to answer it), its id (to apply it
/// once), and what it does.
#[derive(Serialize, Deserialize)]
struct Command(String, u64, Request);

#[derive(Serialize, Deserialize)]
enum Request {
    Read(Value),
    Update(Op),
}

/// A request waiting for its slot.
struct Pending {
    /// What to answer: the client's request or another node's `forward`.
    request: Envelope,
    deadline: u64,
}

/// The Multi-Paxos key-value node.
pub struct PaxosKv {
    options: Arc<Options>,
    paxos: Option<RawNode<MemoryStorage>>,
    state: KvState,
    applied: u64,
    /// Requests by command id, answered when their slot is applied.
    proposals: BTreeMap<u64, Pending>,
    drive_scheduled: bool,
}

impl PaxosKv {
    pub fn new(options: Options) -> PaxosKv {
        PaxosKv::with_shared(Arc::new(options))
    }

    pub fn with_shared(options: Arc<Options>) -> PaxosKv {
        PaxosKv {
            options,
            paxos: None,
            state: KvState::default(),
            applied: 0,
            proposals: BTreeMap::new(),
            drive_scheduled: false,
        }
    }

    fn name_of(ctx: &Context<Self>, id: NodeId) -> Option<String> {
        ctx.node_ids().get((id as usize).checked_sub(1)?).cloned()
    }

    /// Handles every `Ready`: persist, send, apply.
    fn drive(&mut self, ctx: &mut Context<Self>) {
        loop {
            let Some(paxos) = self.paxos.as_mut() else {
                return;
            };
            if !paxos.has_ready() {
                break;
            }
            let ready = paxos.ready();
            persist_ready(paxos.storage_mut(), &ready).expect("memory storage accepts a ready");
            durable::store(ctx.storage(), &ready);
            for msg in &ready.messages {
                if let Some(dest) = PaxosKv::name_of(ctx, msg.to) {
                    let text = serde_json::to_string(msg).expect("paxos messages serialize");
                    ctx.send(dest, Body::new("paxos").with("msg", text));
                }
            }
            if let Some(soft) = ready.soft_state {
                if soft.role == Role::Leader {
                    ctx.log(format!("paxos leader ballot {}", soft.ballot));
                }
            }
            for slot in &ready.committed {
                self.apply_slot(ctx, slot);
            }
            if let Some(paxos) = self.paxos.as_mut() {
                paxos.advance(ready);
            }
        }
    }

    /// Applies a chosen slot (once), and answers it when this node
    /// proposed it.
    fn apply_slot(&mut self, ctx: &mut Context<Self>, slot: &Slot) {
        if slot.slot <= self.applied {
            return;
        }
        self.applied = slot.slot;
        let data = slot.value.data();
        if self.options.log_applied {
            ctx.log(format!("paxos apply {} {}", slot.slot, digest(data)));
        }
        if slot.value.is_noop() {
            return;
        }
        let Command(origin, id, request) = match serde_json::from_slice(data) {
            Ok(c) => c,
            Err(e) => {
                ctx.log(format!("slot {} is not a command: {e}", slot.slot));
                return;
            }
        };
        if !self.state.remember(slot.slot, id) {
            // A duplicate of a command already applied (and answered).
            return;
        }
        let result = match &request {
            Request::Read(key) => self.state.read(key),
            Request::Update(op) => self.state.apply(op),
        };
        if origin != ctx.node_id() {
            return;
        }
        if let Some(pending) = self.proposals.remove(&id) {
            let body = result.unwrap_or_else(|e| error_body(&e));
            ctx.reply(&pending.request, body);
        }
    }

    /// A client request (or one forwarded): propose it here if this node
    /// leads, else pass it to the leader. `id` names the command (given by
    /// the forwarding node, so a duplicated forward is one command).
    fn request(
        &mut self,
        ctx: &mut Context<Self>,
        request: Envelope,
        body: &Body,
        id: Option<u64>,
    ) {
        let Some(paxos) = self.paxos.as_mut() else {
            ctx.reply(&request, error_body(&unavailable("not initialised yet")));
            return;
        };
        if paxos.role() != Role::Leader {
            self.forward(ctx, request, body);
            return;
        }
        let parsed = match body.kind.as_str() {
            "read" => body
                .get("key")
                .cloned()
                .map(Request::Read)
                .ok_or_else(|| NodeError::malformed("a read needs a `key`")),
            "backup" => Err(NodeError::not_supported("backup (the Raft node has it)")),
            _ => parse_op(body).map(Request::Update),
        };
        let request_op = match parsed {
            Ok(r) => r,
            Err(e) => {
                ctx.reply(&request, error_body(&e));
                return;
            }
        };
        let id = id.unwrap_or_else(|| ctx.rng().next_u64());
        let command = Command(ctx.node_id().to_string(), id, request_op);
        let data = serde_json::to_vec(&command).expect("commands serialize");
        match paxos.propose(data) {
            Ok(_) => {
                let deadline = ctx.now() + self.options.request_ms * NANOS_PER_MS;
                self.proposals.insert(id, Pending { request, deadline });
            }
            Err(e) => ctx.reply(&request, error_body(&unavailable(e.to_string()))),
        }
        if !self.drive_scheduled {
            self.drive_scheduled = true;
            ctx.set_timer(0, DRIVE_TIMER);
        }
    }

    fn forward(&mut self, ctx: &mut Context<Self>, request: Envelope, body: &Body) {
        let leader = self.paxos.as_ref().and_then(|p| p.leader_id());
        let leader = leader.and_then(|id| PaxosKv::name_of(ctx, id));
        let forwarded = request.body.kind == "forward";
        let Some(leader) = leader.filter(|l| l != ctx.node_id() && !forwarded) else {
            let e = unavailable("no leader is known here; retry after the election");
            ctx.reply(&request, error_body(&e));
            return;
        };
        let timeout = self.options.request_ms * NANOS_PER_MS;
        let is_read = body.kind == "read";
        let id: u64 = ctx.rng().next_u64();
        ctx.rpc(
            leader,
            Body::new("forward")
                .with("request", body.to_value())
                .with("id", id),
            timeout,
            move |_node: &mut PaxosKv, ctx, result| {
                ctx.reply(&request, forwarded_reply(result, is_read));
            },
        );
    }

    /// Times out requests whose slot was not applied in time: the value
    /// may still be chosen under a later ballot, so the error is
    /// indefinite (a read's is definite: it changes nothing).
    fn expire(&mut self, ctx: &mut Context<Self>) {
        let now = ctx.now();
        let expired: Vec<u64> = self
            .proposals
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            let Some(pending) = self.proposals.remove(&id) else {
                continue;
            };
            let e = if pending.request.body.kind == "read"
                || pending
                    .request
                    .body
                    .get("request")
                    .and_then(|r| r.get("type"))
                    == Some(&Value::from("read"))
            {
                unavailable("the read's slot was not chosen in time; retry")
            } else {
                NodeError::new(
                    ErrorCode::Timeout,
                    "the command's slot was not chosen in time; it may or may not take effect",
                )
            };
            ctx.reply(&pending.request, error_body(&e));
        }
    }
}

impl Node for PaxosKv {
    fn init(&mut self, ctx: &mut Context<Self>) {
        let Some(index) = ctx.node_ids().iter().position(|n| n == ctx.node_id()) else {
            ctx.log("this node is not among node_ids; it will not join the cluster");
            return;
        };
        let peers: Vec<NodeId> = (1..=ctx.node_ids().len() as NodeId).collect();
        let mut config = Config::new(index as NodeId + 1, peers);
        config.election_tick = self.options.election_ticks;
        config.heartbeat_tick = self.options.heartbeat_ticks;
        config.seed = ctx.rng().next_u64();
        config.unsafe_ignore_promised_values = self.options.unsafe_ignore_promised_values;
        let (storage, corrupt) = durable::recover(ctx.storage());
        if corrupt > 0 {
            ctx.log(format!(
                "{corrupt} stored paxos records did not parse; skipped"
            ));
        }
        match RawNode::new(config, storage) {
            Ok(paxos) => self.paxos = Some(paxos),
            Err(e) => ctx.log(format!("paxos could not start: {e}")),
        }
        ctx.set_timer(self.options.tick_ms * NANOS_PER_MS, TICK_TIMER);
        self.drive(ctx);
    }

    fn handle(&mut self, ctx: &mut Context<Self>, msg: Envelope) -> Result<(), NodeError> {
        match msg.body.kind.as_str() {
            "paxos" => {
                let text = msg.body.get_str("msg").ok_or_else(|| {
                    NodeError::malformed(
                        "a paxos message needs `msg`, a paxos::Message as JSON text",
                    )
                })?;
                let paxos_msg: Message = serde_json::from_str(text)
                    .map_err(|e| NodeError::malformed(format!("bad paxos message: {e}")))?;
                if let Some(paxos) = self.paxos.as_mut() {
                    paxos.step(paxos_msg);
                }
                self.drive(ctx);
                Ok(())
            }
            "read" | "write" | "cas" | "txn" | "backup" => {
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
        if let Some(paxos) = self.paxos.as_mut() {
            paxos.tick();
        }
        self.expire(ctx);
        self.drive(ctx);
        ctx.set_timer(self.options.tick_ms * NANOS_PER_MS, TICK_TIMER);
    }
}
