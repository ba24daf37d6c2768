//! The test as one state machine: init, setup, the main phase under the
//! generator and nemesis, healing, recovery, final reads.

use std::collections::{BTreeMap, BTreeSet};

use lightcone_check::stats::OpCounts;
use lightcone_history::{History, Op, OpType, Process};
use lightcone_proto::{is_client_id, Body, Envelope, ErrorCode, Map, Value};
use lightcone_rng::Rng;
use lightcone_workload::{Invocation, Next, Workload, WorkloadOptions};
use serde_json::json;

use crate::events::{Event, EventKey, EventQueue};
use crate::nemesis::{ClockSkew, Fault, Nemesis};
use crate::network::{NetStats, Network};
use crate::services::{is_service, Services};
use crate::{ConfigError, TestConfig, NANOS_PER_SEC};

/// RNG streams: one per concern, so they do not shift each other.
const STREAM_NETWORK: u64 = 1;
const STREAM_GENERATOR: u64 = 2;
const STREAM_NEMESIS: u64 = 3;
const STREAM_SERVICES: u64 = 4;

/// What the core asks its driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Give this message to node number `node` (its stdin, in process mode).
    Deliver {
        node: usize,
        msg: Envelope,
        /// When it was meant to reach the node: when it entered the test
        /// (read off a node's pipe, or made by a client or service) plus
        /// the latency it was held for. A driver that delivers later than
        /// this measures its own lateness.
        due_ns: u64,
    },
    /// The op at this index of [`Test::history`] was just recorded:
    /// append it to the history file.
    Record(usize),
    /// A line for the test's log.
    Log(String),
    /// Kill node `node`: its memory is lost (its storage is not). Drop
    /// deliveries to it until `Restart`.
    Crash {
        node: usize,
    },
    /// Start node `node` again; the core sends it `init` right after.
    Restart {
        node: usize,
    },
    /// Stop scheduling node `node`; deliveries wait until `Resume`.
    Pause {
        node: usize,
    },
    Resume {
        node: usize,
    },
    /// From now on node `node`'s clock reads `skew.local(now)`.
    Clock {
        node: usize,
        skew: ClockSkew,
    },
}

/// Where the test is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Waiting for every node's `init_ok`.
    Init,
    /// Waiting for replies to the workload's setup requests.
    Setup,
    /// Clients run the workload; the nemesis acts.
    Main,
    /// Time is up; waiting for outstanding requests.
    Draining,
    /// Healed; waiting for the cluster to recover.
    Recovery,
    /// Final reads.
    Final,
    Done,
}

/// Why a test could not run to the end.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Failure {
    #[error("{} did not answer init with init_ok within {} s; a node must reply {{\"type\":\"init_ok\",\"in_reply_to\":<msg_id>}} to init", .nodes.join(", "), .timeout_s)]
    InitTimeout { nodes: Vec<String>, timeout_s: u64 },
    #[error("{} did not answer the {kind} request within {} s", .nodes.join(", "), .timeout_s)]
    SetupTimeout {
        kind: String,
        nodes: Vec<String>,
        timeout_s: u64,
    },
    #[error("node {node} answered {kind} with {reply}")]
    SetupRejected {
        node: String,
        kind: String,
        reply: String,
    },
}

/// A message the network refused, with why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{why}")]
pub struct Refused {
    pub why: RouteError,
    pub msg: Envelope,
}

/// Why a message from a node could not be routed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RouteError {
    #[error("it is addressed to {dest:?}, which is neither a node ({nodes}), a client, nor a service (lin-kv, seq-kv, lww-kv, lin-tso)")]
    UnknownDest { dest: String, nodes: String },
    #[error("its src is {src:?}, which is no node, client or service of this test (it came from node {node}); a node sends as its own id, or as a client whose request it forwards")]
    UnknownSrc { src: String, node: String },
}

/// A snapshot for the progress line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub phase: Phase,
    pub main_elapsed_ns: u64,
    /// Client completions so far.
    pub ops: OpCounts,
    pub msg_count: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Init(usize),
    Setup(usize),
    /// A flag flip sent to this node (`--flag-schedule`).
    Flag(usize),
    Worker(usize),
}

#[derive(Debug)]
struct Busy {
    op: Invocation,
    /// The request in flight (an operation may make several in turn).
    msg_id: u64,
    is_final: bool,
    /// Cancelled when the reply comes, so the queue holds only live
    /// timeouts; `None` between requests.
    timeout: Option<EventKey>,
}

/// Where a worker is in the final phase.
#[derive(Debug, Default)]
struct FinalProgress {
    /// Final operations begun so far.
    begun: usize,
    /// The next one, waiting for its stagger to pass.
    due: Option<Invocation>,
    done: bool,
}

#[derive(Debug)]
struct Worker {
    process: u64,
    client: String,
    node: usize,
    next_msg_id: u64,
    busy: Option<Busy>,
    finals: FinalProgress,
}

/// The test core. See the crate docs.
pub struct Test {
    config: TestConfig,
    nodes: Vec<String>,
    node_index: BTreeMap<String, usize>,
    workload: Box<dyn Workload>,
    network: Network,
    services: Services,
    gen_rng: Rng,
    nemesis: Nemesis,
    events: EventQueue,
    effects: Vec<Effect>,
    history: History,
    phase: Phase,
    now: u64,
    clients: BTreeMap<String, Role>,
    next_client: u64,
    /// Nodes whose init_ok (or setup reply) has not come yet.
    awaiting: BTreeSet<usize>,
    /// Nodes that have sent messages under another id.
    forwarders: BTreeSet<usize>,
    /// The fields of each node's init_ok beyond type and ids (e.g. "sdk").
    node_info: BTreeMap<String, Map>,
    workers: Vec<Worker>,
    /// An op is due but every worker is busy.
    op_waiting: bool,
    main_start: u64,
    main_end: u64,
    /// The workload's client timeout (lin-kv scales it with latency).
    client_timeout_ns: u64,
    /// No final operation begins after this (kafka's 10 s).
    final_deadline: Option<u64>,
    failure: Option<Failure>,
    /// Client completions so far.
    counts: OpCounts,
    malformed_reply_count: u64,
    /// The first [`MALFORMED_REPLY_SAMPLES_MAX`] malformed replies.
    malformed_replies: Vec<MalformedReply>,
    unexpected_replies: UnexpectedReplies,
    /// The runtime flags as last flipped (`--flag-schedule`), sent again to
    /// a node restarted after a kill.
    flags: BTreeMap<String, bool>,
}

/// Unexpected replies kept in results.json (all are counted).
pub const UNEXPECTED_REPLY_SAMPLES_MAX: usize = 20;

/// Replies to clients that answer no request in flight, which the clients
/// drop (as Maelstrom's do): counted by kind, the first few kept.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct UnexpectedReplies {
    /// Replies to a request the client had already had answered, or had
    /// given up on: a duplicate reply, or one after the client's timeout.
    pub late_count: u64,
    /// Replies whose `in_reply_to` names no request the client sent (or
    /// that have none): a node's bug.
    pub unknown_count: u64,
    /// Replies to a client that no longer exists (a worker's client after
    /// an indeterminate operation, an init or setup client once answered).
    pub closed_client_count: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<UnexpectedReply>,
}

/// One unexpected reply: its node, type, `in_reply_to`, and what made it
/// unexpected (`late`, `unknown`, `closed-client`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UnexpectedReply {
    pub node: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "in-reply-to")]
    pub in_reply_to: Option<u64>,
    pub why: &'static str,
}

impl UnexpectedReplies {
    pub fn count(&self) -> u64 {
        self.late_count + self.unknown_count + self.closed_client_count
    }

    fn add(&mut self, msg: &Envelope, why: &'static str) {
        match why {
            "late" => self.late_count += 1,
            "unknown" => self.unknown_count += 1,
            _ => self.closed_client_count += 1,
        }
        if self.samples.len() < UNEXPECTED_REPLY_SAMPLES_MAX {
            self.samples.push(UnexpectedReply {
                node: msg.src.clone(),
                kind: msg.body.kind.clone(),
                in_reply_to: msg.body.in_reply_to,
                why,
            });
        }
    }
}

/// Malformed replies kept in results.json (all are counted).
pub const MALFORMED_REPLY_SAMPLES_MAX: usize = 20;

/// A reply to a client that the workload could not read: which node sent
/// it, its type, and what was wrong.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MalformedReply {
    pub node: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub problem: String,
}

impl Test {
    pub fn new(config: TestConfig) -> Result<Test, ConfigError> {
        config.validate()?;
        let nodes = config.node_ids();
        let workload = lightcone_workload::build(
            &config.workload,
            &WorkloadOptions {
                nodes: nodes.clone(),
                topology: config.topology,
                key_count: config.key_count,
                max_writes_per_key: config.max_writes_per_key,
                max_txn_length: config.max_txn_length,
                consistency_models: config.consistency_models.clone(),
                concurrency: config.concurrency,
                rate: config.rate,
            },
        )?;
        workload
            .validate(config.concurrency, nodes.len())
            .map_err(|message| {
                ConfigError::Workload(lightcone_workload::WorkloadError::Invalid { message })
            })?;
        let client_timeout_ns =
            workload.client_timeout_ns(config.client_timeout_ns, config.latency_mean_ns());
        let seed = config.seed;
        let mut network = Network::new(
            config.latency_mean_ns(),
            config.latency_dist,
            Rng::new(seed, STREAM_NETWORK),
        );
        network.set_faults(config.loss, config.duplicate);
        network.log = lightcone_history::message_log::MessageLog::new(config.message_log_max);
        Ok(Test {
            network,
            services: Services::new(Rng::new(seed, STREAM_SERVICES)),
            gen_rng: Rng::new(seed, STREAM_GENERATOR),
            nemesis: Nemesis::new(config.nemesis.clone(), Rng::new(seed, STREAM_NEMESIS)),
            node_index: nodes
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, n)| (n, i))
                .collect(),
            nodes,
            workload,
            config,
            events: EventQueue::default(),
            effects: Vec::new(),
            history: History::default(),
            phase: Phase::Init,
            now: 0,
            clients: BTreeMap::new(),
            next_client: 0,
            awaiting: BTreeSet::new(),
            forwarders: BTreeSet::new(),
            node_info: BTreeMap::new(),
            workers: Vec::new(),
            op_waiting: false,
            main_start: 0,
            main_end: 0,
            client_timeout_ns,
            final_deadline: None,
            failure: None,
            counts: OpCounts::default(),
            malformed_reply_count: 0,
            unexpected_replies: UnexpectedReplies::default(),
            malformed_replies: Vec::new(),
            flags: BTreeMap::new(),
        })
    }

    pub fn config(&self) -> &TestConfig {
        &self.config
    }

    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done || self.failure.is_some()
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    pub fn net_stats(&self) -> &NetStats {
        &self.network.stats
    }

    pub fn node_info(&self) -> &BTreeMap<String, Map> {
        &self.node_info
    }

    pub fn workload(&self) -> &dyn Workload {
        self.workload.as_ref()
    }

    pub fn malformed_reply_count(&self) -> u64 {
        self.malformed_reply_count
    }

    /// Replies that answered no request in flight.
    pub fn unexpected_replies(&self) -> &UnexpectedReplies {
        &self.unexpected_replies
    }

    /// The first malformed replies (at most
    /// [`MALFORMED_REPLY_SAMPLES_MAX`]).
    pub fn malformed_replies(&self) -> &[MalformedReply] {
        &self.malformed_replies
    }

    /// Most events the core held at once (its one internal queue).
    pub fn event_queue_depth_max(&self) -> usize {
        self.events.depth_max
    }

    pub fn progress(&self) -> Progress {
        Progress {
            phase: self.phase,
            main_elapsed_ns: if self.phase >= Phase::Main {
                self.now.saturating_sub(self.main_start)
            } else {
                0
            },
            ops: self.counts,
            msg_count: self.network.stats.all.send_count,
        }
    }

    /// Effects produced since the last call, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// When `tick` next has work; `None` when nothing is scheduled.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.is_done() {
            None
        } else {
            self.events.next_time()
        }
    }

    fn log(&mut self, line: impl Into<String>) {
        self.effects.push(Effect::Log(line.into()));
    }

    fn new_client(&mut self, role: Role) -> String {
        let id = format!("c{}", self.next_client);
        self.next_client += 1;
        self.clients.insert(id.clone(), role);
        id
    }

    /// Starts the test at `now`: init goes to every node.
    pub fn start(&mut self, now: u64) {
        assert_eq!(self.phase, Phase::Init, "Test::start is called once");
        self.now = now;
        for i in 0..self.nodes.len() {
            self.awaiting.insert(i);
            self.send_init(i);
        }
        self.events
            .push(now + self.config.init_timeout_ns, Event::StartupTimeout);
    }

    /// Moves to the next phase; phases only go forward.
    fn enter(&mut self, phase: Phase) {
        debug_assert!(
            phase > self.phase,
            "phase {:?} after {:?}",
            phase,
            self.phase
        );
        self.phase = phase;
    }

    /// Sends node `node` its `init` from a fresh client (at the start, and
    /// after each restart).
    fn send_init(&mut self, node: usize) {
        let client = self.new_client(Role::Init(node));
        let mut body = Body::init(&self.nodes[node], &self.nodes);
        body.msg_id = Some(1);
        self.client_send(client, node, body);
    }

    /// Routes a message a client sends to node `node` (zero latency).
    fn client_send(&mut self, client: String, node: usize, body: Body) {
        let mut msg = Envelope::new(client, self.nodes[node].clone(), body);
        self.network.send(&mut msg);
        if self.config.log_net_send {
            self.log(format!("send {}", msg.to_line()));
        }
        self.network.arrive(&msg);
        if self.config.log_net_recv {
            self.log(format!("recv {}", msg.to_line()));
        }
        let due_ns = self.now;
        self.effects.push(Effect::Deliver { node, msg, due_ns });
    }

    /// A message node `from` wrote. Node-to-node messages travel with
    /// latency; replies to clients are handled at once.
    ///
    /// Its `src` may be any id the test knows, as in Maelstrom (whose
    /// network accepts a message from any registered node, client or
    /// service): a node forwarding a client's request unchanged sends it as
    /// the client, and the reply goes straight to that client. Such a
    /// message is routed by its ids, as Maelstrom routes it (a client at
    /// either end: no latency, no partition, no loss), and counted.
    ///
    /// `now` is when the message was sent, and may be earlier than the
    /// core's clock: process mode passes the time the line was read off the
    /// node's pipe, so that the time it waited for the main loop is part of
    /// its latency, not added to it. A message due before the core's clock
    /// arrives at the next `tick`.
    pub fn receive(
        &mut self,
        now: u64,
        from: usize,
        mut msg: Envelope,
    ) -> Result<(), Box<Refused>> {
        self.advance(now);
        if msg.src != self.nodes[from] {
            let known = self.node_index.contains_key(&msg.src)
                || is_service(&msg.src)
                || (is_client_id(&msg.src) && self.is_client_ever(&msg.src));
            if !known {
                let why = RouteError::UnknownSrc {
                    src: msg.src.clone(),
                    node: self.nodes[from].clone(),
                };
                return Err(Box::new(Refused { why, msg }));
            }
            self.network.stats.forwarded_count += 1;
            if self.forwarders.insert(from) {
                self.log(format!(
                    "node {} sends messages as {} (as when forwarding a client's request); \
                     routed as from {}, as Maelstrom does",
                    self.nodes[from], msg.src, msg.src
                ));
            }
        }
        let to_node = self.node_index.contains_key(&msg.dest);
        let to_client = is_client_id(&msg.dest) && self.is_client_ever(&msg.dest);
        if is_service(&msg.dest) {
            // Services are never partitioned, lose nothing, and take latency.
            let delay = self.network.send(&mut msg);
            if self.config.log_net_send {
                self.log(format!("send {}", msg.to_line()));
            }
            self.events
                .push((now + delay).max(self.now), Event::ServiceArrive(msg));
            return Ok(());
        }
        if !to_node && !to_client {
            let why = RouteError::UnknownDest {
                dest: msg.dest.clone(),
                nodes: self.nodes.join(", "),
            };
            return Err(Box::new(Refused { why, msg }));
        }
        if to_node && !is_client_id(&msg.src) {
            let delays = self.network.send_between_servers(&mut msg);
            if self.config.log_net_send {
                self.log(format!("send {}", msg.to_line()));
            }
            // A duplicated message is the one copy cloned; the common case
            // moves it.
            if let Some((last, copies)) = delays.split_last() {
                for delay in copies {
                    self.schedule_arrival(now + delay, msg.clone());
                }
                self.schedule_arrival(now + last, msg);
            }
        } else if to_node {
            // A client's message, sent on by a node: at once, like a client's.
            self.network.send(&mut msg);
            if self.config.log_net_send {
                self.log(format!("send {}", msg.to_line()));
            }
            self.schedule_arrival(now, msg);
        } else {
            self.network.send(&mut msg);
            if self.config.log_net_send {
                self.log(format!("send {}", msg.to_line()));
            }
            self.client_receive(msg);
        }
        Ok(())
    }

    /// Schedules `msg` to arrive at its node at `due_ns`, or at once when
    /// that has passed (a message `receive`d as of an earlier time).
    fn schedule_arrival(&mut self, due_ns: u64, msg: Envelope) {
        self.events
            .push(due_ns.max(self.now), Event::Arrive { msg, due_ns });
    }

    /// True for any client id this test has handed out, open or closed.
    fn is_client_ever(&self, id: &str) -> bool {
        id[1..].parse::<u64>().is_ok_and(|n| n < self.next_client)
    }

    fn advance(&mut self, now: u64) {
        self.now = self.now.max(now);
        self.network.now = self.now;
    }

    /// The messages recorded for the space-time diagram (at most
    /// `message_log_max`).
    pub fn message_log(&self) -> &lightcone_history::message_log::MessageLog {
        &self.network.log
    }

    /// Does everything due at or before `now`.
    pub fn tick(&mut self, now: u64) {
        self.advance(now);
        while !self.is_done() {
            let Some((_, event)) = self.events.pop_due(self.now) else {
                break;
            };
            self.handle_event(event);
        }
    }

    fn handle_event(&mut self, event: Event) {
        match event {
            Event::Arrive { msg, due_ns } => match self.node_index.get(&msg.dest) {
                Some(&node) => {
                    if self.network.arrive(&msg) {
                        if self.config.log_net_recv {
                            self.log(format!("recv {}", msg.to_line()));
                        }
                        self.effects.push(Effect::Deliver { node, msg, due_ns });
                    }
                }
                // A service's reply to a request a node sent as a client.
                None => self.client_receive(msg),
            },
            Event::ServiceArrive(msg) => {
                self.network.arrive(&msg);
                if self.config.log_net_recv {
                    self.log(format!("recv {}", msg.to_line()));
                }
                let body = self.services.handle(&msg.dest, &msg.src, &msg.body);
                let mut reply = Envelope::new(msg.dest, msg.src, body);
                let delay = self.network.send(&mut reply);
                if self.config.log_net_send {
                    self.log(format!("send {}", reply.to_line()));
                }
                self.schedule_arrival(self.now + delay, reply);
            }
            Event::ClientTimeout { worker, msg_id } => {
                let w = &self.workers[worker];
                if w.busy.as_ref().is_some_and(|b| b.msg_id == msg_id) {
                    self.complete_indefinite(worker, json!("net-timeout"));
                }
            }
            Event::Generate => self.maybe_generate(),
            Event::Nemesis => self.nemesis_step(),
            Event::Flag(i) => self.flip_flag(i),
            Event::StartupTimeout => self.startup_timeout(),
            Event::MainEnd => {
                if self.phase == Phase::Main {
                    self.enter(Phase::Draining);
                    self.log("Time limit reached; waiting for outstanding requests");
                    self.maybe_finish_draining();
                }
            }
            Event::RecoveryEnd => self.start_final(),
            Event::FinalOp { worker } => {
                if let Some(op) = self.workers[worker].finals.due.take() {
                    if self.final_time_left() {
                        self.invoke(worker, op, true);
                    } else {
                        self.workers[worker].finals.done = true;
                        self.maybe_finish_final();
                    }
                }
            }
        }
    }

    fn startup_timeout(&mut self) {
        if self.awaiting.is_empty() {
            return;
        }
        let nodes = self
            .awaiting
            .iter()
            .map(|i| self.nodes[*i].clone())
            .collect();
        let timeout_s = self.config.init_timeout_ns / NANOS_PER_SEC;
        self.failure = Some(match self.phase {
            Phase::Init => Failure::InitTimeout { nodes, timeout_s },
            _ => Failure::SetupTimeout {
                kind: self
                    .workload
                    .setup(&self.nodes[0])
                    .map(|b| b.kind)
                    .unwrap_or_default(),
                nodes,
                timeout_s,
            },
        });
    }

    fn client_receive(&mut self, msg: Envelope) {
        let Some(role) = self.clients.get(&msg.dest).copied() else {
            // A reply to a client that gave up and closed: dropped.
            self.unexpected_replies.add(&msg, "closed-client");
            return;
        };
        self.network.arrive(&msg);
        if self.config.log_net_recv {
            self.log(format!("recv {}", msg.to_line()));
        }
        match role {
            Role::Init(node) if self.phase != Phase::Init => {
                // A restarted node answering its new init.
                if msg.body.kind == "init_ok" {
                    self.clients.remove(&msg.dest);
                    self.log(format!("node {} is back (init_ok)", self.nodes[node]));
                }
            }
            Role::Init(node) => {
                if msg.body.in_reply_to == Some(1) {
                    if msg.body.kind == "init_ok" {
                        self.node_info
                            .insert(self.nodes[node].clone(), msg.body.fields.clone());
                        self.awaiting.remove(&node);
                        self.clients.remove(&msg.dest);
                        if self.awaiting.is_empty() {
                            self.start_setup();
                        }
                    } else {
                        self.log(format!(
                            "node {} answered init with {}; waiting for init_ok",
                            self.nodes[node],
                            msg.body.to_value()
                        ));
                    }
                }
            }
            Role::Setup(node) => {
                if self.phase == Phase::Setup && msg.body.in_reply_to == Some(1) {
                    if msg.body.is_error() {
                        self.failure = Some(Failure::SetupRejected {
                            node: self.nodes[node].clone(),
                            kind: self
                                .workload
                                .setup(&self.nodes[node])
                                .map(|b| b.kind)
                                .unwrap_or_default(),
                            reply: msg.body.to_value().to_string(),
                        });
                        return;
                    }
                    self.awaiting.remove(&node);
                    self.clients.remove(&msg.dest);
                    if self.awaiting.is_empty() {
                        self.start_main();
                    }
                }
            }
            Role::Flag(node) => {
                self.clients.remove(&msg.dest);
                let node = &self.nodes[node];
                if msg.body.kind == "flag_ok" {
                    return;
                }
                // A node without the flag (error 10, not-supported) or one
                // that refused it: logged; the run goes on.
                let why = if msg.body.error_code() == Some(ErrorCode::NotSupported.code()) {
                    "does not support it"
                } else {
                    "refused it"
                };
                self.log(format!(
                    "node {node} answered a flag flip with {}: it {why}; the run goes on",
                    msg.body.to_value()
                ));
            }
            Role::Worker(w) => self.worker_reply(w, msg),
        }
    }

    fn start_setup(&mut self) {
        self.enter(Phase::Setup);
        for i in 0..self.nodes.len() {
            if let Some(mut body) = self.workload.setup(&self.nodes[i]) {
                body.msg_id = Some(1);
                let client = self.new_client(Role::Setup(i));
                self.awaiting.insert(i);
                self.client_send(client, i, body);
            }
        }
        if self.awaiting.is_empty() {
            self.start_main();
        } else {
            self.events.push(
                self.now + self.config.init_timeout_ns,
                Event::StartupTimeout,
            );
        }
    }

    fn start_main(&mut self) {
        self.enter(Phase::Main);
        self.main_start = self.now;
        self.main_end = self.now + self.config.time_limit_ns;
        self.log(format!(
            "Running {} for {} s",
            self.workload.name(),
            self.config.time_limit_ns as f64 / NANOS_PER_SEC as f64
        ));
        for w in 0..self.config.concurrency {
            let client = self.new_client(Role::Worker(w));
            self.workers.push(Worker {
                process: w as u64,
                client,
                node: w % self.nodes.len(),
                next_msg_id: 1,
                busy: None,
                finals: FinalProgress::default(),
            });
        }
        self.events.push(self.main_end, Event::MainEnd);
        self.schedule_generate();
        if self.nemesis.is_enabled() {
            let delay = self.nemesis.next_delay();
            self.events.push(self.now + delay, Event::Nemesis);
        }
        for i in 0..self.config.nemesis.flags.len() {
            let at = self.main_start + self.config.nemesis.flags[i].at_ns;
            self.events.push(at, Event::Flag(i));
        }
    }

    /// Flips a runtime flag on every node (`--flag-schedule`), recorded as
    /// a pair of nemesis ops `flag` (the second with `[name, value]`).
    fn flip_flag(&mut self, i: usize) {
        if self.phase != Phase::Main {
            return;
        }
        let flip = self.config.nemesis.flags[i].clone();
        let value = json!([flip.name, flip.value]);
        self.record(Op::new(Process::Nemesis, OpType::Info, "flag", Value::Null));
        self.log(format!("nemesis flag {value}"));
        self.flags.insert(flip.name.clone(), flip.value);
        for node in 0..self.nodes.len() {
            self.send_flag(node, &flip.name, flip.value);
        }
        self.record(Op::new(Process::Nemesis, OpType::Info, "flag", value));
    }

    /// Sends node `node` a flag's value from a fresh client; the reply
    /// (`flag_ok`, or an error) is logged when it is not `flag_ok`.
    fn send_flag(&mut self, node: usize, name: &str, value: bool) {
        let client = self.new_client(Role::Flag(node));
        let mut body = Body::new("flag").with("name", name).with("value", value);
        body.msg_id = Some(1);
        self.client_send(client, node, body);
    }

    /// A uniform delay in [0, 2 x mean): Jepsen's `stagger`.
    fn stagger(&mut self, mean_ns: f64) -> u64 {
        (self.gen_rng.unit() * 2.0 * mean_ns) as u64
    }

    fn schedule_generate(&mut self) {
        if self.config.rate > 0.0 {
            let delay = self.stagger(NANOS_PER_SEC as f64 / self.config.rate);
            self.events.push(self.now + delay, Event::Generate);
        }
    }

    fn maybe_generate(&mut self) {
        if self.phase != Phase::Main {
            return;
        }
        let free: Vec<usize> = (0..self.workers.len())
            .filter(|w| self.workers[*w].busy.is_none())
            .collect();
        if free.is_empty() {
            self.op_waiting = true;
            return;
        }
        let worker = free[self.gen_rng.below(free.len() as u64) as usize];
        let id = self.worker_id(worker);
        let op = self.workload.next_op(&mut self.gen_rng, id);
        self.invoke(worker, op, false);
        self.schedule_generate();
    }

    fn worker_id(&self, worker: usize) -> lightcone_workload::Worker {
        lightcone_workload::Worker {
            index: worker,
            process: self.workers[worker].process,
        }
    }

    fn invoke(&mut self, worker: usize, op: Invocation, is_final: bool) {
        let w = &self.workers[worker];
        let mut record = Op::new(
            Process::Client(w.process),
            OpType::Invoke,
            op.f.clone(),
            op.value.clone(),
        );
        record.node = Some(self.nodes[w.node].as_str().into());
        record.is_final = is_final;
        self.record(record);
        let next = self.workload.begin(self.worker_id(worker), &op);
        self.workers[worker].busy = Some(Busy {
            op,
            msg_id: 0,
            is_final,
            timeout: None,
        });
        self.proceed(worker, next);
    }

    /// Carries on with the busy worker's operation: its next request, or
    /// its completion.
    fn proceed(&mut self, worker: usize, next: Next) {
        match next {
            Next::Request(mut body) => {
                let w = &mut self.workers[worker];
                let msg_id = w.next_msg_id;
                w.next_msg_id += 1;
                let (node, client) = (w.node, w.client.clone());
                body.msg_id = Some(msg_id);
                let timeout = self.events.push(
                    self.now + self.client_timeout_ns,
                    Event::ClientTimeout { worker, msg_id },
                );
                let busy = self.workers[worker].busy.as_mut().expect("worker is busy");
                busy.msg_id = msg_id;
                busy.timeout = Some(timeout);
                self.client_send(client, node, body);
            }
            Next::Ok(value) => self.complete(worker, OpType::Ok, Some(value), None),
            Next::OkAs { f, value } => {
                let busy = self.workers[worker].busy.as_mut().expect("worker is busy");
                busy.op.f = f.to_string();
                self.complete(worker, OpType::Ok, Some(value), None);
            }
            Next::Info => self.complete(worker, OpType::Info, None, None),
        }
    }

    fn record(&mut self, mut op: Op) {
        op.time = self.now;
        op.index = self.history.len() as u64;
        if op.is_client() {
            self.counts.add(op.kind);
        }
        self.effects.push(Effect::Record(self.history.ops.len()));
        self.history.ops.push(op);
    }

    fn worker_reply(&mut self, worker: usize, msg: Envelope) {
        let w = &self.workers[worker];
        let in_flight = w.busy.as_ref().map(|b| b.msg_id);
        if msg.body.in_reply_to.is_none() || msg.body.in_reply_to != in_flight {
            // A duplicate, a reply to a request this client gave up on, or
            // to none it sent: dropped, and counted.
            let why = match msg.body.in_reply_to {
                Some(id) if id >= 1 && id < w.next_msg_id => "late",
                _ => "unknown",
            };
            self.unexpected_replies.add(&msg, why);
            return;
        }
        let body = msg.body;
        let id = self.worker_id(worker);
        if body.is_error() {
            let code = ErrorCode::from_code(body.error_code().unwrap_or(-1));
            let busy = self.workers[worker].busy.as_ref().expect("checked above");
            if let Some(value) = self.workload.on_error(id, &busy.op, code) {
                self.complete(worker, OpType::Ok, Some(value), None);
                return;
            }
            let busy = self.workers[worker].busy.as_ref().expect("checked above");
            let error = json!([code.name(), body.get_str("text").unwrap_or("")]);
            let idempotent = self.workload.is_idempotent(&busy.op.f);
            if code.is_definite() || idempotent {
                self.complete(worker, OpType::Fail, None, Some(error));
            } else {
                self.complete_indefinite(worker, error);
            }
            return;
        }
        let kind = body.kind.clone();
        let busy = self.workers[worker].busy.as_mut().expect("checked above");
        if let Some(timeout) = busy.timeout.take() {
            self.events.cancel(timeout);
        }
        let busy = self.workers[worker].busy.as_ref().expect("checked above");
        match self.workload.complete(id, &busy.op, body) {
            Ok(next) => self.proceed(worker, next),
            Err(problem) => {
                self.malformed_reply_count += 1;
                let node = self.nodes[self.workers[worker].node].clone();
                self.log(format!(
                    "node {node} sent a malformed reply of type {kind:?}: {problem}"
                ));
                if self.malformed_replies.len() < MALFORMED_REPLY_SAMPLES_MAX {
                    self.malformed_replies.push(MalformedReply {
                        node,
                        kind,
                        problem: problem.clone(),
                    });
                }
                self.complete_indefinite(worker, json!(["malformed-reply", problem]));
            }
        }
    }

    /// An outcome that is unknown: `fail` for idempotent ops, else `info`,
    /// after which the process is crashed and the worker reopens as a new
    /// process with a new client.
    fn complete_indefinite(&mut self, worker: usize, error: Value) {
        let f = &self.workers[worker]
            .busy
            .as_ref()
            .expect("worker is busy")
            .op
            .f;
        if self.workload.is_idempotent(f) {
            self.complete(worker, OpType::Fail, None, Some(error));
        } else {
            self.complete(worker, OpType::Info, None, Some(error));
        }
    }

    fn complete(
        &mut self,
        worker: usize,
        kind: OpType,
        value: Option<Value>,
        error: Option<Value>,
    ) {
        let busy = self.workers[worker].busy.take().expect("worker is busy");
        if let Some(timeout) = busy.timeout {
            self.events.cancel(timeout);
        }
        let w = &self.workers[worker];
        let mut op = Op::new(
            Process::Client(w.process),
            kind,
            busy.op.f,
            value.unwrap_or(busy.op.value),
        );
        op.error = error.map(Box::new);
        op.node = Some(self.nodes[w.node].as_str().into());
        op.is_final = busy.is_final;
        self.record(op);
        if kind == OpType::Info {
            self.workload.crashed(self.worker_id(worker));
            let old = self.workers[worker].client.clone();
            self.clients.remove(&old);
            let client = self.new_client(Role::Worker(worker));
            let w = &mut self.workers[worker];
            w.process += self.config.concurrency as u64;
            w.client = client;
            w.next_msg_id = 1;
        }
        match self.phase {
            Phase::Main if self.op_waiting => {
                self.op_waiting = false;
                self.maybe_generate();
            }
            Phase::Draining => self.maybe_finish_draining(),
            Phase::Final => self.next_final(worker),
            _ => {}
        }
    }

    fn maybe_finish_draining(&mut self) {
        if self.workers.iter().any(|w| w.busy.is_some()) {
            return;
        }
        self.heal();
        if self.workload.has_final_phase() {
            self.enter(Phase::Recovery);
            self.log("Waiting for recovery...");
            self.events
                .push(self.now + self.config.recovery_ns, Event::RecoveryEnd);
        } else {
            self.enter(Phase::Done);
        }
    }

    fn start_final(&mut self) {
        self.enter(Phase::Final);
        self.final_deadline = self
            .workload
            .final_time_limit_ns()
            .map(|limit| self.now + limit);
        for w in 0..self.workers.len() {
            self.next_final(w);
        }
        self.maybe_finish_final();
    }

    fn final_time_left(&self) -> bool {
        self.final_deadline.is_none_or(|end| self.now < end)
    }

    /// Starts (or schedules, after its stagger) `worker`'s next final
    /// operation, or marks the worker done.
    fn next_final(&mut self, worker: usize) {
        let n = self.workers[worker].finals.begun;
        let next = if self.final_time_left() {
            self.workload.final_op(self.worker_id(worker), n)
        } else {
            None
        };
        let Some(next) = next else {
            self.workers[worker].finals.done = true;
            self.maybe_finish_final();
            return;
        };
        self.workers[worker].finals.begun += 1;
        if next.stagger_mean_ns == 0 {
            self.invoke(worker, next.op, true);
        } else {
            let delay = self.stagger(next.stagger_mean_ns as f64);
            self.workers[worker].finals.due = Some(next.op);
            self.events
                .push(self.now + delay, Event::FinalOp { worker });
        }
    }

    fn maybe_finish_final(&mut self) {
        if self.phase == Phase::Final
            && self
                .workers
                .iter()
                .all(|w| w.finals.done && w.busy.is_none())
        {
            self.enter(Phase::Done);
            self.log("Final reads done");
        }
    }

    fn nemesis_step(&mut self) {
        if self.phase != Phase::Main {
            return;
        }
        let fault = self.nemesis.step(&self.nodes, self.now);
        self.apply_fault(fault);
        let delay = self.nemesis.next_delay();
        self.events.push(self.now + delay, Event::Nemesis);
    }

    /// Undoes every fault before the final phase.
    fn heal(&mut self) {
        for fault in self.nemesis.heal_all() {
            self.apply_fault(fault);
        }
    }

    /// Records a fault as a pair of nemesis ops (Jepsen's shape: both
    /// `info`) and carries it out.
    fn apply_fault(&mut self, fault: Fault) {
        let f = fault.f();
        let value = fault.value(&self.nodes);
        self.record(Op::new(Process::Nemesis, OpType::Info, f, Value::Null));
        self.log(format!("nemesis {f} {value}"));
        match fault {
            Fault::Partition { grudge, .. } => self.network.set_grudge(grudge),
            Fault::Heal => self.network.heal(),
            Fault::Kill(nodes) => {
                for node in nodes {
                    self.effects.push(Effect::Crash { node });
                }
            }
            Fault::Restart(nodes) => {
                for node in nodes {
                    self.effects.push(Effect::Restart { node });
                    self.send_init(node);
                    // A restarted node starts with its options' flags: the
                    // flags as last flipped go to it again, after init.
                    let flags: Vec<(String, bool)> =
                        self.flags.iter().map(|(k, v)| (k.clone(), *v)).collect();
                    for (name, value) in flags {
                        self.send_flag(node, &name, value);
                    }
                }
            }
            Fault::Pause(nodes) => {
                for node in nodes {
                    self.effects.push(Effect::Pause { node });
                }
            }
            Fault::Resume(nodes) => {
                for node in nodes {
                    self.effects.push(Effect::Resume { node });
                }
            }
            Fault::Clock(skews) => {
                for (node, skew) in skews {
                    self.effects.push(Effect::Clock { node, skew });
                }
            }
            Fault::ResetClocks(nodes) => {
                for node in nodes {
                    self.effects.push(Effect::Clock {
                        node,
                        skew: ClockSkew::default(),
                    });
                }
            }
        }
        self.record(Op::new(Process::Nemesis, OpType::Info, f, value));
    }

    /// Counts of what is in flight, for debugging stalls.
    pub fn event_queue_len(&self) -> usize {
        self.events.len()
    }
}
