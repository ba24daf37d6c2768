//! Delta-state CRDT nodes: the gossip they share.
//!
//! A [`CrdtNode`] holds one replica of a CRDT from `lightcone-crdt` and
//! answers clients from it at once, so it is totally available: a partition
//! never blocks a request. Replicas converge by gossip, following the
//! ack-based anti-entropy of Almeida, Shoker and Baquero 2018 ("Delta State
//! Replicated Data Types", Algorithm 2):
//!
//! * Every local update and every *new* part of a received delta is joined
//!   into the state and appended to a **delta log** under a sequence number
//!   (the paper's `D` and `c`). Only the new part is logged: Enes et al. 2019
//!   ("Efficient Synchronization of State-based CRDTs", section 4) call
//!   this *removing redundant state* (RR); [`Replica::difference`] computes
//!   it.
//! * Every `--gossip-ms` (100 ms) the node sends each peer the join of the
//!   log entries that peer has not acknowledged, as one `delta` message
//!   carrying the highest sequence number it covers. Entries that came from
//!   that very peer are left out (*avoiding back-propagation*, BP, ibid.).
//!   The peer merges, and answers `delta_ack` with the sequence number.
//! * The log is bounded ([`GossipOptions::log_len_max`]); entries every peer
//!   acknowledged are dropped. A peer that needs an entry that was dropped
//!   (it was cut off for long) gets the **full state** instead, as does a
//!   peer that restarted (see below).
//! * Messages may be lost, duplicated, delayed or reordered. Merges are
//!   idempotent and commutative, so duplicates and reordering are harmless;
//!   an unacknowledged group is sent again (with a backoff of up to
//!   [`RESEND_ROUNDS_MAX`] rounds while the peer stays silent) and grows to
//!   cover whatever was added meanwhile, so loss is repaired.
//! * **Crashes.** The state is written to durable storage before a local
//!   update is acknowledged, and after merges at the next gossip round. Each
//!   life of a node has a durable *incarnation* number that every gossip
//!   and ack carries. When a node sees a peer's incarnation grow, the peer
//!   may have forgotten merges it acknowledged, so it gets the full state;
//!   acks meant for an earlier life of this node are ignored.
//!
//! `--direct` sends only the node's own updates: no relaying, so in a full
//! mesh of n nodes an update costs n - 1 messages instead of about
//! (n - 1)^2, at the price of slower spreading across partial partitions.
//!
//! `--full-state` is the state-based baseline for the benchmark in
//! BENCH_NOTES.md: every round, send the whole state to every peer, with no
//! acks and no log.
//!
//! The node counts what it gossips (JSON bytes of the bodies of its `delta`,
//! `state` and `delta_ack` messages) and logs the totals as a
//! `gossip-stats {...}` line every [`STATS_LOG_ROUNDS`] rounds.

use std::collections::BTreeMap;

use lightcone_crdt::Crdt;
use lightcone_sdk::{
    json, Body, Context, Envelope, ErrorCode, Node, NodeError, Value, NANOS_PER_MS,
};

const TIMER_GOSSIP: u64 = 1;
/// A peer that has not acknowledged a group gets it again after 1, 2, 4 and
/// then every 8 rounds: a partitioned peer costs little, a peer that lost
/// one message gets it back a round later.
pub const RESEND_ROUNDS_MAX: u64 = 8;
/// How often (in rounds) the node logs its gossip counters.
pub const STATS_LOG_ROUNDS: u64 = 10;

/// A join-semilattice a node can gossip: a [`Crdt`] with a bottom
/// (`Default`), a difference, and a JSON form.
pub trait Replica: Crdt + Clone + Default + 'static {
    /// The part of `self` that `known` lacks: a state `d <= self` with
    /// `known ⊔ d == known ⊔ self`, as small as the type allows (Enes et
    /// al. 2019, the join decomposition Δ(self, known)).
    fn difference(&self, known: &Self) -> Self;
    /// Whether this is the bottom (empty) state.
    fn is_bottom(&self) -> bool;
    fn to_json(&self) -> Value;
    fn from_json(value: &Value) -> Option<Self>;
}

/// A workload's requests on top of the gossip: how a client request reads
/// or updates the replica.
pub trait Api: 'static {
    type State: Replica;
    /// The storage key prefix and log name, e.g. `"g-set"`.
    const NAME: &'static str;
    /// Answers a client request from `state`; for an update, also returns
    /// the delta it made (already joined into `state`).
    fn request(
        &self,
        node_id: &str,
        state: &mut Self::State,
        msg: &Envelope,
    ) -> Result<(Body, Option<Self::State>), NodeError>;
}

/// How a CRDT node gossips (`lightcone node g-set --help` lists the flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GossipOptions {
    /// Time between gossip rounds (`--gossip-ms`).
    pub gossip_ms: u64,
    /// Gossip the whole state every round instead of deltas (the baseline).
    pub full_state: bool,
    /// Most delta-log entries kept; past it the oldest are dropped and a
    /// peer that still needs them gets the full state.
    pub log_len_max: usize,
    /// Send only this node's own updates, never forward what peers sent
    /// (`--direct`). In a full mesh every update then crosses each link
    /// once instead of being relayed by every node that learns it, but an
    /// update reaches a node it cannot reach directly only after healing,
    /// and only while its origin lives.
    pub direct: bool,
}

impl Default for GossipOptions {
    fn default() -> Self {
        GossipOptions {
            gossip_ms: 100,
            full_state: false,
            log_len_max: 1024,
            direct: false,
        }
    }
}

/// What the node has gossiped, for the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GossipStats {
    pub round_count: u64,
    /// Local updates that changed the state (client adds).
    pub update_count: u64,
    pub delta_msg_count: u64,
    /// Full states sent: `--full-state` rounds, or the fallback.
    pub full_msg_count: u64,
    pub ack_msg_count: u64,
    /// JSON bytes of the bodies of `delta` and `state` messages sent.
    pub gossip_bytes: u64,
    /// JSON bytes of the bodies of `delta_ack` messages sent.
    pub ack_bytes: u64,
    /// Received gossip that held something new.
    pub novel_merge_count: u64,
    /// Log entries dropped at the bound before every peer had them.
    pub log_truncated_count: u64,
}

impl GossipStats {
    fn to_json(self) -> Value {
        json!({
            "rounds": self.round_count,
            "updates": self.update_count,
            "delta-msgs": self.delta_msg_count,
            "full-msgs": self.full_msg_count,
            "ack-msgs": self.ack_msg_count,
            "gossip-bytes": self.gossip_bytes,
            "ack-bytes": self.ack_bytes,
            "novel-merges": self.novel_merge_count,
            "log-truncations": self.log_truncated_count,
        })
    }
}

/// A delta-log entry: a delta, and the peer it came from (none for a local
/// update), so it is not sent back there.
struct Entry<S> {
    delta: S,
    origin: Option<String>,
}

/// What this node knows of one peer.
#[derive(Debug, Clone, Default)]
struct Peer {
    /// Highest sequence number of this node's current life the peer has
    /// acknowledged (the paper's `A[j]`).
    acked: u64,
    /// The peer's latest incarnation heard of.
    incarnation: Option<u64>,
    /// The peer may lack anything: send the full state until it acks one.
    needs_full: bool,
    /// The last group sent and not yet acknowledged: (seq, round sent).
    in_flight: Option<(u64, u64)>,
    /// Rounds to wait before sending an unacknowledged group again.
    backoff_rounds: u64,
}

/// The replica, its delta log and the peers' progress.
pub struct Gossip<S: Replica> {
    name: &'static str,
    options: GossipOptions,
    state: S,
    incarnation: u64,
    /// seq -> entry; seqs are consecutive from `log_start` to `next_seq - 1`.
    log: BTreeMap<u64, Entry<S>>,
    /// Everything in the state not in the log is from before this seq.
    log_start: u64,
    next_seq: u64,
    peers: BTreeMap<String, Peer>,
    /// `init` has loaded the persisted state.
    started: bool,
    /// Merged from peers since the state was last persisted.
    dirty: bool,
    stats: GossipStats,
}

impl<S: Replica> Gossip<S> {
    fn new(name: &'static str, options: GossipOptions) -> Gossip<S> {
        Gossip {
            name,
            options,
            state: S::default(),
            incarnation: 0,
            log: BTreeMap::new(),
            log_start: 1,
            next_seq: 1,
            peers: BTreeMap::new(),
            started: false,
            dirty: false,
            stats: GossipStats::default(),
        }
    }

    pub fn state(&self) -> &S {
        &self.state
    }

    pub fn stats(&self) -> GossipStats {
        self.stats
    }

    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// Delta-log entries held now.
    pub fn log_len(&self) -> usize {
        self.log.len()
    }

    fn state_key(&self) -> String {
        format!("{}/state", self.name)
    }

    /// Starts a life: a new durable incarnation, the persisted state.
    fn start<N: Node>(&mut self, ctx: &mut Context<N>) {
        let incarnation_key = format!("{}/incarnation", self.name);
        let storage = ctx.storage();
        let last = storage
            .get(&incarnation_key)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<u64>().ok());
        self.incarnation = last.map_or(0, |i| i + 1);
        storage.put(&incarnation_key, self.incarnation.to_string().as_bytes());
        let saved = storage
            .get(&self.state_key())
            .and_then(|b| serde_json_from_slice(&b))
            .and_then(|v| S::from_json(&v));
        if let Some(saved) = saved {
            if !saved.is_bottom() {
                // Peers may not have all of it: it goes out like an update.
                self.state = saved.clone();
                self.append(saved, None);
            }
        }
        self.peers = ctx.peers().map(|p| (p.clone(), Peer::default())).collect();
        for peer in self.peers.values_mut() {
            peer.backoff_rounds = 1;
        }
        self.started = true;
        ctx.set_timer(self.options.gossip_ms * NANOS_PER_MS, TIMER_GOSSIP);
    }

    fn persist<N: Node>(&mut self, ctx: &mut Context<N>) {
        let key = self.state_key();
        let text = self.state.to_json().to_string();
        ctx.storage().put(&key, text.as_bytes());
        self.dirty = false;
    }

    fn append(&mut self, delta: S, origin: Option<String>) {
        if self.options.full_state {
            return;
        }
        self.log.insert(self.next_seq, Entry { delta, origin });
        self.next_seq += 1;
        while self.log.len() > self.options.log_len_max {
            let (seq, _) = self.log.pop_first().expect("longer than the bound");
            self.log_start = seq + 1;
            self.stats.log_truncated_count += 1;
        }
    }

    /// A local update's delta: logged, and durable before the caller
    /// acknowledges it.
    fn update<N: Node>(&mut self, ctx: &mut Context<N>, delta: S) {
        if delta.is_bottom() {
            return;
        }
        self.stats.update_count += 1;
        self.append(delta, None);
        self.persist(ctx);
    }

    /// One gossip round.
    fn round<N: Node>(&mut self, ctx: &mut Context<N>) {
        self.stats.round_count += 1;
        if self.dirty {
            self.persist(ctx);
        }
        if self.options.full_state {
            self.send_full_states(ctx);
        } else {
            self.collect_garbage();
            let peers: Vec<String> = self.peers.keys().cloned().collect();
            for peer in peers {
                self.maybe_send_delta(ctx, &peer);
            }
        }
        if self.stats.round_count.is_multiple_of(STATS_LOG_ROUNDS) {
            ctx.log(format!("gossip-stats {}", self.stats.to_json()));
        }
    }

    fn send_full_states<N: Node>(&mut self, ctx: &mut Context<N>) {
        if self.state.is_bottom() {
            return;
        }
        let body = Body::new("state")
            .with("incarnation", self.incarnation)
            .with("state", self.state.to_json());
        let size = body_size(&body);
        for peer in self.peers.keys() {
            self.stats.full_msg_count += 1;
            self.stats.gossip_bytes += size;
            ctx.send(peer.clone(), body.clone());
        }
    }

    /// Drops the entries every peer has acknowledged (Algorithm 2's
    /// garbage collection of `D`).
    fn collect_garbage(&mut self) {
        let Some(floor) = self
            .peers
            .values()
            .map(|p| if p.needs_full { 0 } else { p.acked })
            .min()
        else {
            self.log.clear();
            self.log_start = self.next_seq;
            return;
        };
        while let Some((&seq, _)) = self.log.first_key_value() {
            if seq > floor {
                break;
            }
            self.log.pop_first();
            self.log_start = seq + 1;
        }
    }

    /// Sends `peer` what it has not acknowledged, if anything and if it is
    /// time to; says whether it sent.
    fn maybe_send_delta<N: Node>(&mut self, ctx: &mut Context<N>, name: &str) -> bool {
        let last = self.next_seq - 1;
        let round = self.stats.round_count;
        let peer = self.peers.get_mut(name).expect("a known peer");
        if peer.acked >= last && !peer.needs_full {
            peer.in_flight = None;
            return false;
        }
        if let Some((_, sent_round)) = peer.in_flight {
            if round - sent_round < peer.backoff_rounds {
                return false;
            }
            peer.backoff_rounds = (peer.backoff_rounds * 2).min(RESEND_ROUNDS_MAX);
        }
        let full = peer.needs_full || peer.acked + 1 < self.log_start;
        let payload = if full {
            Some(self.state.clone())
        } else {
            // The join of what the peer lacks, less what came from it (BP).
            let mut group: Option<S> = None;
            for (_, entry) in self.log.range(peer.acked + 1..) {
                if entry.origin.as_deref() == Some(name) {
                    continue;
                }
                match &mut group {
                    Some(g) => g.merge(&entry.delta),
                    None => group = Some(entry.delta.clone()),
                }
            }
            group
        };
        let Some(payload) = payload else {
            // Everything it lacks came from it: it has it already.
            peer.acked = last;
            peer.in_flight = None;
            return false;
        };
        peer.in_flight = Some((last, round));
        let body = Body::new("delta")
            .with("incarnation", self.incarnation)
            .with("seq", last)
            .with("full", full)
            .with("state", payload.to_json());
        let size = body_size(&body);
        self.stats.gossip_bytes += size;
        if full {
            self.stats.full_msg_count += 1;
        } else {
            self.stats.delta_msg_count += 1;
        }
        ctx.send(name.to_string(), body);
        true
    }

    /// Notes a peer's incarnation; a newer one means the peer restarted and
    /// may have lost what it acknowledged.
    fn observe_incarnation(&mut self, name: &str, incarnation: u64) {
        let Some(peer) = self.peers.get_mut(name) else {
            return;
        };
        match peer.incarnation {
            Some(known) if incarnation > known => {
                peer.needs_full = true;
                peer.acked = 0;
                peer.in_flight = None;
                peer.backoff_rounds = 1;
            }
            Some(_) => return,
            None => {}
        }
        peer.incarnation = Some(incarnation);
    }

    /// A `delta` or `state` from a peer: merge what is new; ack a `delta`.
    fn receive<N: Node>(&mut self, ctx: &mut Context<N>, msg: &Envelope) -> Result<(), NodeError> {
        let body = &msg.body;
        let incarnation = body
            .get_u64("incarnation")
            .ok_or_else(|| NodeError::malformed("gossip needs an `incarnation`"))?;
        let received = body
            .get("state")
            .and_then(S::from_json)
            .ok_or_else(|| NodeError::malformed("gossip needs a `state` of this CRDT"))?;
        self.observe_incarnation(&msg.src, incarnation);
        let novel = received.difference(&self.state);
        if !novel.is_bottom() {
            self.stats.novel_merge_count += 1;
            self.state.merge(&novel);
            self.dirty = true;
            if !self.options.direct {
                self.append(novel, Some(msg.src.clone()));
            }
        }
        if body.kind == "delta" {
            let seq = body
                .get_u64("seq")
                .ok_or_else(|| NodeError::malformed("delta needs a `seq`"))?;
            let ack = Body::new("delta_ack")
                .with("incarnation", incarnation)
                .with("seq", seq)
                .with(
                    "full",
                    body.get("full").and_then(Value::as_bool) == Some(true),
                )
                .with("from_incarnation", self.incarnation);
            self.stats.ack_msg_count += 1;
            self.stats.ack_bytes += body_size(&ack);
            ctx.send(msg.src.clone(), ack);
        }
        Ok(())
    }

    fn receive_ack(&mut self, msg: &Envelope) -> Result<(), NodeError> {
        let body = &msg.body;
        let (Some(incarnation), Some(seq), Some(from)) = (
            body.get_u64("incarnation"),
            body.get_u64("seq"),
            body.get_u64("from_incarnation"),
        ) else {
            return Err(NodeError::malformed(
                "delta_ack needs `incarnation`, `seq` and `from_incarnation`",
            ));
        };
        self.observe_incarnation(&msg.src, from);
        let Some(peer) = self.peers.get_mut(&msg.src) else {
            return Ok(());
        };
        if incarnation != self.incarnation || peer.incarnation != Some(from) {
            return Ok(()); // For an earlier life, of this node or the peer.
        }
        let full = body.get("full").and_then(Value::as_bool) == Some(true);
        if peer.needs_full && !full {
            return Ok(()); // A delta sent before the peer restarted.
        }
        peer.needs_full = false;
        if seq > peer.acked {
            peer.acked = seq;
            peer.backoff_rounds = 1;
        }
        if peer.in_flight.is_some_and(|(s, _)| s <= peer.acked) {
            peer.in_flight = None;
        }
        Ok(())
    }
}

fn serde_json_from_slice(bytes: &[u8]) -> Option<Value> {
    serde_json::from_slice(bytes).ok()
}

/// The JSON size of a message body, as it goes on the wire (without the
/// envelope and `msg_id`, which every message pays alike).
fn body_size(body: &Body) -> u64 {
    serde_json::to_string(body).map_or(0, |s| s.len() as u64)
}

/// A node serving the API `A` from a gossiped CRDT replica.
pub struct CrdtNode<A: Api> {
    api: A,
    gossip: Gossip<A::State>,
}

impl<A: Api> CrdtNode<A> {
    pub fn new(api: A, options: GossipOptions) -> CrdtNode<A> {
        CrdtNode {
            api,
            gossip: Gossip::new(A::NAME, options),
        }
    }

    pub fn gossip(&self) -> &Gossip<A::State> {
        &self.gossip
    }
}

impl<A: Api> Node for CrdtNode<A> {
    fn init(&mut self, ctx: &mut Context<Self>) {
        self.gossip.start(ctx);
    }

    fn handle(&mut self, ctx: &mut Context<Self>, msg: Envelope) -> Result<(), NodeError> {
        if !self.gossip.started {
            // A restarted node can be handed messages that were in flight
            // before its `init`. Touching the state now would persist it
            // over what an earlier life saved. Unacknowledged gossip is
            // sent again, so it is dropped without an answer.
            if matches!(msg.body.kind.as_str(), "delta" | "state" | "delta_ack") {
                return Ok(());
            }
            return Err(NodeError::new(
                ErrorCode::TemporarilyUnavailable,
                "this node has not been initialised yet",
            ));
        }
        match msg.body.kind.as_str() {
            "delta" | "state" => self.gossip.receive(ctx, &msg),
            "delta_ack" => self.gossip.receive_ack(&msg),
            _ => {
                let (reply, delta) =
                    self.api
                        .request(ctx.node_id(), &mut self.gossip.state, &msg)?;
                if let Some(delta) = delta {
                    self.gossip.update(ctx, delta);
                }
                ctx.reply(&msg, reply);
                Ok(())
            }
        }
    }

    fn timer(&mut self, ctx: &mut Context<Self>, token: u64) {
        if token == TIMER_GOSSIP {
            self.gossip.round(ctx);
            ctx.set_timer(self.gossip.options.gossip_ms * NANOS_PER_MS, TIMER_GOSSIP);
        }
    }
}
